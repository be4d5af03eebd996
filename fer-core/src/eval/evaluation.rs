//! Every metric of one model's predictions, in one call and one serialisable value.

use std::collections::BTreeMap;

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::emotion::Emotion;
use crate::error::Result;
use crate::eval::calibration::{Calibration, DEFAULT_CALIBRATION_BINS};
use crate::eval::confusion::ConfusionMatrix;
use crate::eval::predictions::{check_probabilities, predicted_labels};
use crate::eval::report::ClassificationReport;
use crate::eval::scores::{log_loss, top_k_accuracy};

/// All metrics of a model's class probabilities against the true labels; serialises to the
/// metrics JSON of reports.
///
/// ```
/// use fer_core::{eval::Evaluation, Emotion};
/// use ndarray::array;
///
/// let truth = [Emotion::Happy, Emotion::Sad];
/// let probabilities = array![
///     [0.0f32, 0.0, 0.0, 0.9, 0.1, 0.0, 0.0], // happy, right
///     [0.0, 0.0, 0.0, 0.6, 0.4, 0.0, 0.0],    // happy, wrong (sad is second)
/// ];
/// let eval = Evaluation::new(&truth, probabilities.view())?;
/// assert_eq!(eval.accuracy, 0.5);
/// assert_eq!(eval.top2_accuracy, 1.0);
/// assert_eq!(eval.per_class_recall[&Emotion::Sad], 0.0);
/// println!("{}", eval.report); // scikit-learn's classification_report layout
/// # Ok::<(), fer_core::FerError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Faces evaluated.
    pub samples: u64,
    /// Share predicted correctly (the predicted emotion is the most probable one).
    pub accuracy: f64,
    /// Mean per-class recall over the emotions present.
    pub balanced_accuracy: f64,
    /// Share whose true emotion is among the two most probable.
    pub top2_accuracy: f64,
    /// Mean negative log-probability of the true emotion.
    pub log_loss: f64,
    /// Recall of each emotion, keyed by its name in the JSON (`"angry"`, ...).
    pub per_class_recall: BTreeMap<Emotion, f64>,
    /// Counts, rows = true emotion, columns = predicted.
    pub confusion_matrix: ConfusionMatrix,
    /// The confusion matrix with each row divided by its sum.
    pub confusion_matrix_normalised: [[f64; Emotion::COUNT]; Emotion::COUNT],
    /// Per-class precision, recall, F1, support and their averages.
    pub report: ClassificationReport,
    /// Reliability bins ([`DEFAULT_CALIBRATION_BINS`] of them) and calibration errors.
    pub calibration: Calibration,
}

impl Evaluation {
    /// Computes every metric. `probabilities` is `truth.len() x 7`, columns in [`Emotion`]
    /// label order, as [`crate::EmotionClassifier::predict_proba`] returns. Errors (never
    /// panics) on empty input, mismatched lengths, a wrong shape, or values that are not
    /// probabilities.
    pub fn new(truth: &[Emotion], probabilities: ArrayView2<f32>) -> Result<Evaluation> {
        check_probabilities(truth, probabilities)?;
        let predicted = predicted_labels(probabilities)?;
        let confusion_matrix = ConfusionMatrix::new(truth, &predicted)?;
        let report = ClassificationReport::new(&confusion_matrix);
        let per_class_recall = report
            .classes()
            .iter()
            .map(|c| (c.emotion, c.recall))
            .collect();
        Ok(Evaluation {
            samples: truth.len() as u64,
            accuracy: confusion_matrix.accuracy(),
            balanced_accuracy: confusion_matrix.balanced_accuracy(),
            top2_accuracy: top_k_accuracy(truth, probabilities, 2)?,
            log_loss: log_loss(truth, probabilities)?,
            per_class_recall,
            confusion_matrix_normalised: confusion_matrix.row_normalised(),
            confusion_matrix,
            report,
            calibration: Calibration::new(truth, probabilities, DEFAULT_CALIBRATION_BINS)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn serialises_recall_keyed_by_name_and_round_trips() {
        let truth = [Emotion::Angry, Emotion::Neutral];
        let probabilities = Array2::from_elem((2, 7), 1.0f32 / 7.0);
        let eval = Evaluation::new(&truth, probabilities.view()).unwrap();
        let json = serde_json::to_value(&eval).unwrap();
        // All tied: the first maximum (angry) is predicted for both faces.
        assert_eq!(json["per_class_recall"]["angry"], 1.0);
        assert_eq!(json["per_class_recall"]["neutral"], 0.0);
        assert_eq!(json["report"]["classes"][0]["emotion"], "angry");
        let back: Evaluation = serde_json::from_value(json).unwrap();
        assert_eq!(back, eval);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let truth = [Emotion::Angry];
        assert!(Evaluation::new(&truth, Array2::zeros((2, 7)).view()).is_err());
        assert!(Evaluation::new(&[], Array2::zeros((0, 7)).view()).is_err());
        let mut p = Array2::from_elem((1, 7), 1.0f32 / 7.0);
        p[[0, 6]] = f32::INFINITY;
        let err = Evaluation::new(&truth, p.view()).unwrap_err();
        assert!(err.to_string().contains("inf"), "{err}");
    }
}
