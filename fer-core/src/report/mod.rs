//! The offline report: every metric, figure and error analysis of one or more models on
//! PrivateTest, as one self-contained HTML page and a metrics JSON. An application layer: it
//! uses [`crate::eval`] and [`crate::plot`], and only the command line uses it.

mod build;
mod page;

pub use build::{build_report, write_report, ModelMetrics, Report, ReportMetrics, REPORT_SPLIT};
