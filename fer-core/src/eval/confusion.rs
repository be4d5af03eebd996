//! The confusion matrix: how often each true emotion was predicted as each emotion.

use serde::{Deserialize, Serialize};

use crate::emotion::Emotion;
use crate::error::Result;
use crate::eval::predictions::check_labels;

/// Counts of (true, predicted) pairs: `counts[t][p]` is the number of faces of true emotion
/// `t` predicted as `p`, rows and columns in [`Emotion`] label order (scikit-learn's
/// `confusion_matrix(y_true, y_pred, labels=range(7))`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    /// Rows are true emotions, columns predicted emotions.
    pub counts: [[u64; Emotion::COUNT]; Emotion::COUNT],
}

impl ConfusionMatrix {
    /// Counts the pairs of `truth` and `predicted`; errors if they are empty or of different
    /// lengths.
    pub fn new(truth: &[Emotion], predicted: &[Emotion]) -> Result<Self> {
        check_labels(truth, predicted)?;
        let mut counts = [[0; Emotion::COUNT]; Emotion::COUNT];
        for (t, p) in truth.iter().zip(predicted) {
            counts[t.index()][p.index()] += 1;
        }
        Ok(ConfusionMatrix { counts })
    }

    /// Faces of true emotion `truth` predicted as `predicted`.
    pub fn count(&self, truth: Emotion, predicted: Emotion) -> u64 {
        self.counts[truth.index()][predicted.index()]
    }

    /// All faces counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    /// Faces correctly classified (the diagonal).
    pub fn correct(&self) -> u64 {
        (0..Emotion::COUNT).map(|i| self.counts[i][i]).sum()
    }

    /// Faces whose true emotion is `emotion` (the row sum, scikit-learn's "support").
    pub fn support(&self, emotion: Emotion) -> u64 {
        self.counts[emotion.index()].iter().sum()
    }

    /// Faces predicted as `emotion` (the column sum).
    pub fn predicted_count(&self, emotion: Emotion) -> u64 {
        self.counts.iter().map(|row| row[emotion.index()]).sum()
    }

    /// Each row divided by its sum, so `[t][p]` is the share of true-`t` faces predicted as
    /// `p` and the diagonal is per-class recall. A row with no faces is all zeros, as
    /// scikit-learn's `confusion_matrix(..., normalize="true")`.
    pub fn row_normalised(&self) -> [[f64; Emotion::COUNT]; Emotion::COUNT] {
        let mut shares = [[0.0; Emotion::COUNT]; Emotion::COUNT];
        for (share_row, count_row) in shares.iter_mut().zip(&self.counts) {
            let support: u64 = count_row.iter().sum();
            if support > 0 {
                for (share, &count) in share_row.iter_mut().zip(count_row) {
                    *share = count as f64 / support as f64;
                }
            }
        }
        shares
    }

    /// Share of faces correctly classified; 0 for an empty matrix.
    pub fn accuracy(&self) -> f64 {
        ratio_or_zero(self.correct(), self.total())
    }

    /// Mean recall over the emotions present in the true labels (scikit-learn's
    /// `balanced_accuracy_score`: classes with no true face are left out, not counted as 0).
    pub fn balanced_accuracy(&self) -> f64 {
        let recalls: Vec<f64> = Emotion::ALL
            .iter()
            .filter(|&&e| self.support(e) > 0)
            .map(|&e| ratio_or_zero(self.count(e, e), self.support(e)))
            .collect();
        if recalls.is_empty() {
            0.0
        } else {
            recalls.iter().sum::<f64>() / recalls.len() as f64
        }
    }
}

/// `numerator / denominator`, or 0 when the denominator is 0 (scikit-learn's
/// `zero_division=0`).
pub(crate) fn ratio_or_zero(numerator: u64, denominator: u64) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Emotion::*;

    #[test]
    fn counts_rows_as_truth_and_columns_as_prediction() {
        let truth = [Happy, Happy, Happy, Sad, Fear];
        let predicted = [Happy, Happy, Sad, Sad, Happy];
        let cm = ConfusionMatrix::new(&truth, &predicted).unwrap();
        assert_eq!(cm.count(Happy, Happy), 2);
        assert_eq!(cm.count(Happy, Sad), 1);
        assert_eq!(cm.count(Fear, Happy), 1);
        assert_eq!((cm.total(), cm.correct()), (5, 3));
        assert_eq!((cm.support(Happy), cm.predicted_count(Happy)), (3, 3));
        assert!((cm.accuracy() - 0.6).abs() < 1e-12);
        // Recalls: happy 2/3, sad 1, fear 0 -> mean over the 3 classes present.
        assert!((cm.balanced_accuracy() - (2.0 / 3.0 + 1.0) / 3.0).abs() < 1e-12);
        let shares = cm.row_normalised();
        assert!((shares[Happy.index()][Sad.index()] - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(shares[Angry.index()], [0.0; 7]);
    }

    #[test]
    fn mismatched_labels_are_an_error() {
        assert!(ConfusionMatrix::new(&[Happy], &[Happy, Sad]).is_err());
    }
}
