//! The classification report: per-class metrics, accuracy and averages as one table.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::eval::confusion::ConfusionMatrix;
use crate::eval::per_class::{AveragedMetrics, ClassMetrics, PerClassMetrics};

/// Decimal places of the report's figures, as `classification_report(digits=4)`.
pub const REPORT_DIGITS: usize = 4;

/// Per-class precision, recall, F1 and support, accuracy, and the macro and weighted averages.
///
/// `Display` lays it out exactly as scikit-learn's
/// `classification_report(y_true, y_pred, labels=range(7), target_names=names, digits=4)`:
///
/// ```text
///               precision    recall  f1-score   support
///
///        angry     0.7097    0.6377    0.6718        69
///          ...
///     accuracy                         0.6860       500
///    macro avg     0.6429    0.6339    0.6346       500
/// weighted avg     0.6924    0.6860    0.6853       500
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    /// Per-class metrics and their averages.
    #[serde(flatten)]
    pub metrics: PerClassMetrics,
    /// Share of faces correctly classified.
    pub accuracy: f64,
}

impl ClassificationReport {
    /// The report of a confusion matrix.
    pub fn new(confusion: &ConfusionMatrix) -> Self {
        ClassificationReport {
            metrics: PerClassMetrics::from_confusion(confusion),
            accuracy: confusion.accuracy(),
        }
    }

    /// The per-class rows, in label order.
    pub fn classes(&self) -> &[ClassMetrics] {
        &self.metrics.classes
    }

    /// The macro average (every emotion weighs the same).
    pub fn macro_avg(&self) -> &AveragedMetrics {
        &self.metrics.macro_avg
    }

    /// The support-weighted average.
    pub fn weighted_avg(&self) -> &AveragedMetrics {
        &self.metrics.weighted_avg
    }
}

impl fmt::Display for ClassificationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // scikit-learn: width = max(longest class name, len("weighted avg"), digits).
        let width = self
            .classes()
            .iter()
            .map(|c| c.emotion.name().len())
            .chain([("weighted avg").len(), REPORT_DIGITS])
            .max()
            .unwrap_or(0);
        let d = REPORT_DIGITS;
        writeln!(
            f,
            "{:>width$}  {:>9} {:>9} {:>9} {:>9}\n",
            "", "precision", "recall", "f1-score", "support"
        )?;
        let row = |f: &mut fmt::Formatter<'_>, name: &str, p: f64, r: f64, f1: f64, s: u64| {
            writeln!(f, "{name:>width$}  {p:>9.d$} {r:>9.d$} {f1:>9.d$} {s:>9}")
        };
        for c in self.classes() {
            row(f, c.emotion.name(), c.precision, c.recall, c.f1, c.support)?;
        }
        writeln!(f)?;
        let total = self.macro_avg().support;
        writeln!(
            f,
            "{:>width$}  {:>9} {:>9} {:>9.d$} {:>9}",
            "accuracy", "", "", self.accuracy, total
        )?;
        for (name, avg) in [
            ("macro avg", self.macro_avg()),
            ("weighted avg", self.weighted_avg()),
        ] {
            row(f, name, avg.precision, avg.recall, avg.f1, avg.support)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Emotion::*;

    #[test]
    fn layout_has_the_header_rows_and_averages_aligned() {
        let truth = [Happy, Happy, Sad, Fear];
        let predicted = [Happy, Sad, Sad, Fear];
        let report = ClassificationReport::new(&ConfusionMatrix::new(&truth, &predicted).unwrap());
        let text = report.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "              precision    recall  f1-score   support"
        );
        assert_eq!(lines[1], "");
        assert_eq!(
            lines[5],
            "       happy     1.0000    0.5000    0.6667         2"
        );
        assert_eq!(
            lines[10],
            "    accuracy                         0.7500         4"
        );
        assert!(
            lines[12].starts_with("weighted avg     0.8750"),
            "{}",
            lines[12]
        );
        assert!(text.ends_with('\n'));
    }
}
