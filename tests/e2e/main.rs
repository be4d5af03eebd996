//! End-to-end tests: the `fer` command line and checks on the full FER2013 data set.
//!
//! Full-data tests read the data set from `FER2013_DIR` (`.ci/run` sets it to
//! `../shared/fer2013`); without it they fail with a message saying so, rather than pass
//! silently.

mod baseline_cli;
mod cli;
mod cnn_cli;
mod common;
mod data_cli;
mod data_full;
mod faces_cli;
mod fetch_cli;
mod full_disk;
mod kill_resume;
mod lean_library;
#[cfg(feature = "onnx")]
mod onnx_export;
mod predict_cli;
mod report_cli;
mod run_cli;
mod shipped_model;
mod tta_record_cli;
mod two_runs;
