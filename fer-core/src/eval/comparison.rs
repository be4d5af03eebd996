//! Two models scored on the same faces: where they agree, where they differ, and whether the
//! difference in accuracy is more than chance.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::emotion::Emotion;
use crate::error::{FerError, Result};
use crate::eval::mcnemar::McNemarTest;
use crate::eval::predictions::{check_labels, check_probabilities, predicted_labels};

/// A paired comparison of model A (say the CNN) and model B (say the baseline) on the same
/// faces, with McNemar's test on the faces exactly one of them gets right.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelComparison {
    /// Name of model A.
    pub model_a: String,
    /// Name of model B.
    pub model_b: String,
    /// Faces compared.
    pub samples: u64,
    /// Accuracy of model A.
    pub accuracy_a: f64,
    /// Accuracy of model B.
    pub accuracy_b: f64,
    /// Faces both models got right.
    pub both_correct: u64,
    /// Faces both models got wrong.
    pub both_wrong: u64,
    /// McNemar's test; it holds the discordant counts (only A right, only B right).
    pub mcnemar: McNemarTest,
}

impl ModelComparison {
    /// Compares two models' class probabilities (`n x 7` each, rows aligned with `truth`).
    pub fn new(
        model_a: impl Into<String>,
        model_b: impl Into<String>,
        truth: &[Emotion],
        probabilities_a: ArrayView2<f32>,
        probabilities_b: ArrayView2<f32>,
    ) -> Result<Self> {
        check_probabilities(truth, probabilities_a)?;
        check_probabilities(truth, probabilities_b)?;
        let predicted_a = predicted_labels(probabilities_a)?;
        let predicted_b = predicted_labels(probabilities_b)?;
        Self::from_predictions(model_a, model_b, truth, &predicted_a, &predicted_b)
    }

    /// Compares two models' predicted labels (rows aligned with `truth`).
    pub fn from_predictions(
        model_a: impl Into<String>,
        model_b: impl Into<String>,
        truth: &[Emotion],
        predicted_a: &[Emotion],
        predicted_b: &[Emotion],
    ) -> Result<Self> {
        check_labels(truth, predicted_a)?;
        if predicted_b.len() != truth.len() {
            return Err(FerError::ShapeMismatch(format!(
                "{} true labels but {} predictions from model B",
                truth.len(),
                predicted_b.len()
            )));
        }
        // table[a right][b right]
        let mut table = [[0u64; 2]; 2];
        for ((t, a), b) in truth.iter().zip(predicted_a).zip(predicted_b) {
            table[usize::from(a == t)][usize::from(b == t)] += 1;
        }
        let samples = truth.len() as u64;
        let n = samples as f64;
        Ok(ModelComparison {
            model_a: model_a.into(),
            model_b: model_b.into(),
            samples,
            accuracy_a: (table[1][0] + table[1][1]) as f64 / n,
            accuracy_b: (table[0][1] + table[1][1]) as f64 / n,
            both_correct: table[1][1],
            both_wrong: table[0][0],
            mcnemar: McNemarTest::new(table[1][0], table[0][1]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::mcnemar::McNemarMethod;
    use Emotion::*;

    #[test]
    fn counts_the_four_cells_and_tests_the_discordant_ones() {
        let truth = [Happy, Happy, Sad, Fear, Angry];
        let a = [Happy, Happy, Sad, Happy, Sad]; // right on 0, 1, 2
        let b = [Happy, Sad, Happy, Fear, Sad]; // right on 0, 3
        let c = ModelComparison::from_predictions("cnn", "baseline", &truth, &a, &b).unwrap();
        assert_eq!((c.both_correct, c.both_wrong), (1, 1));
        assert_eq!((c.mcnemar.only_a_correct, c.mcnemar.only_b_correct), (2, 1));
        assert_eq!((c.accuracy_a, c.accuracy_b), (0.6, 0.4));
        assert_eq!(c.mcnemar.method, McNemarMethod::ExactBinomial);
        assert!(ModelComparison::from_predictions("a", "b", &truth, &a, &b[..4]).is_err());
    }
}
