//! Single-number scores of a model's predictions: accuracy, balanced accuracy, top-k accuracy
//! and log-loss, each matching its scikit-learn namesake.

use ndarray::ArrayView2;

use crate::emotion::Emotion;
use crate::error::{FerError, Result};
use crate::eval::confusion::ConfusionMatrix;
use crate::eval::predictions::{check_labels, check_probabilities};

/// Probabilities are clipped to `[LOG_LOSS_EPSILON, 1 - LOG_LOSS_EPSILON]` before the
/// logarithm, so a confident mistake costs a large but finite loss. `f32::EPSILON`, as
/// scikit-learn's `log_loss` uses the machine epsilon of the probabilities' type.
pub const LOG_LOSS_EPSILON: f64 = f32::EPSILON as f64;

/// Share of faces whose predicted emotion is the true one (`accuracy_score`).
pub fn accuracy(truth: &[Emotion], predicted: &[Emotion]) -> Result<f64> {
    check_labels(truth, predicted)?;
    let correct = truth.iter().zip(predicted).filter(|(t, p)| t == p).count();
    Ok(correct as f64 / truth.len() as f64)
}

/// Mean per-class recall over the emotions present in `truth` (`balanced_accuracy_score`).
/// Unlike accuracy, a model that always says "happy" scores 1/7 here, not 25%.
pub fn balanced_accuracy(truth: &[Emotion], predicted: &[Emotion]) -> Result<f64> {
    Ok(ConfusionMatrix::new(truth, predicted)?.balanced_accuracy())
}

/// Share of faces whose true emotion is among the `k` most probable
/// (`top_k_accuracy_score(..., labels=range(7))`). Ties are broken as scikit-learn does (a
/// reversed stable sort): among equal probabilities the higher label ranks first.
/// `k` must be in `1..=7`.
pub fn top_k_accuracy(truth: &[Emotion], probabilities: ArrayView2<f32>, k: usize) -> Result<f64> {
    if !(1..=Emotion::COUNT).contains(&k) {
        return Err(FerError::invalid_parameter(
            "k",
            format!("{k} is not in 1..={}", Emotion::COUNT),
        ));
    }
    check_probabilities(truth, probabilities)?;
    let hits = truth
        .iter()
        .zip(probabilities.outer_iter())
        .filter(|(t, row)| {
            let true_index = t.index();
            let p_true = row[true_index];
            // Position of the true class in scikit-learn's ranking.
            let rank = row
                .iter()
                .enumerate()
                .filter(|&(j, &p)| p > p_true || (p == p_true && j > true_index))
                .count();
            rank < k
        })
        .count();
    Ok(hits as f64 / truth.len() as f64)
}

/// Mean negative natural log of the probability given to the true emotion (`log_loss`, also
/// the cross-entropy a classifier minimises). Probabilities are clipped to
/// [`LOG_LOSS_EPSILON`]. A model guessing uniformly scores ln 7 ≈ 1.946.
pub fn log_loss(truth: &[Emotion], probabilities: ArrayView2<f32>) -> Result<f64> {
    check_probabilities(truth, probabilities)?;
    let total: f64 = truth
        .iter()
        .zip(probabilities.outer_iter())
        .map(|(t, row)| {
            -f64::from(row[t.index()])
                .clamp(LOG_LOSS_EPSILON, 1.0 - LOG_LOSS_EPSILON)
                .ln()
        })
        .sum();
    Ok(total / truth.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};
    use Emotion::*;

    #[test]
    fn uniform_guessing_scores_ln_7_and_ties_rank_higher_labels_first() {
        let truth = [Angry, Neutral];
        let uniform = Array2::from_elem((2, 7), 1.0f32 / 7.0);
        let loss = log_loss(&truth, uniform.view()).unwrap();
        assert!((loss - 7f64.ln()).abs() < 1e-6, "{loss}");
        // All tied: scikit-learn ranks neutral (label 6) first and angry (label 0) last.
        assert_eq!(top_k_accuracy(&truth, uniform.view(), 1).unwrap(), 0.5);
        assert_eq!(top_k_accuracy(&truth, uniform.view(), 6).unwrap(), 0.5);
        assert_eq!(top_k_accuracy(&truth, uniform.view(), 7).unwrap(), 1.0);
    }

    #[test]
    fn a_zero_probability_for_the_truth_costs_a_finite_loss() {
        let p = array![[0.0f32, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]];
        let loss = log_loss(&[Angry], p.view()).unwrap();
        assert!((loss - (-LOG_LOSS_EPSILON.ln())).abs() < 1e-9, "{loss}");
    }

    #[test]
    fn top_2_counts_the_runner_up() {
        let p = array![
            [0.5f32, 0.0, 0.0, 0.3, 0.0, 0.0, 0.2],
            [0.5, 0.0, 0.0, 0.3, 0.0, 0.0, 0.2],
        ];
        assert_eq!(top_k_accuracy(&[Happy, Neutral], p.view(), 2).unwrap(), 0.5);
        assert!(top_k_accuracy(&[Happy, Neutral], p.view(), 0).is_err());
        assert!(top_k_accuracy(&[Happy, Neutral], p.view(), 8).is_err());
    }

    #[test]
    fn accuracy_and_balanced_accuracy_differ_under_imbalance() {
        // Always "happy": right on the 3 happy faces, wrong on the one sad face.
        let truth = [Happy, Happy, Happy, Sad];
        let predicted = [Happy; 4];
        assert_eq!(accuracy(&truth, &predicted).unwrap(), 0.75);
        assert_eq!(balanced_accuracy(&truth, &predicted).unwrap(), 0.5);
        assert!(accuracy(&truth, &predicted[..3]).is_err());
    }
}
