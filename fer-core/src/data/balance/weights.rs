//! Per-class loss weights: inverse frequency, and the "effective number of samples" of Cui et al.
//! (CVPR 2019, "Class-Balanced Loss Based on Effective Number of Samples").

use serde::{Deserialize, Serialize};

use crate::emotion::Emotion;
use crate::error::{FerError, Result};

/// How the classes of a training set are weighted in the loss.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum ClassWeighting {
    /// Every class weighs 1.
    Uniform,
    /// See [`inverse_frequency_weights`].
    InverseFrequency,
    /// See [`effective_number_weights`]; `beta` in [0, 1), Cui et al. use 0.9-0.9999.
    EffectiveNumber {
        /// The β of the effective number (1 - β^n) / (1 - β).
        beta: f64,
    },
}

impl ClassWeighting {
    /// The weight of each emotion (indexed by [`Emotion::index`]) for a training set with these
    /// class counts.
    pub fn weights(&self, counts: &[usize; Emotion::COUNT]) -> Result<[f32; Emotion::COUNT]> {
        match *self {
            ClassWeighting::Uniform => Ok([1.0; Emotion::COUNT]),
            ClassWeighting::InverseFrequency => inverse_frequency_weights(counts),
            ClassWeighting::EffectiveNumber { beta } => effective_number_weights(counts, beta),
        }
    }
}

/// Inverse-frequency weights `w_c = N / (K · n_c)` (scikit-learn's `class_weight="balanced"`),
/// with N the number of samples and K the number of classes present. A class with no samples
/// gets weight 0. The mean weight per sample is then 1: Σ n_c · w_c = N.
///
/// Errors (naming `counts`) when every count is 0.
pub fn inverse_frequency_weights(
    counts: &[usize; Emotion::COUNT],
) -> Result<[f32; Emotion::COUNT]> {
    let (total, present) = totals(counts)?;
    Ok(counts.map(|n| {
        if n == 0 {
            0.0
        } else {
            (total as f64 / (present as f64 * n as f64)) as f32
        }
    }))
}

/// Class-balanced weights of Cui et al. 2019: the effective number of samples of a class is
/// `E_c = (1 - β^n_c) / (1 - β)` and `w_c ∝ 1 / E_c`, normalised (as in the paper's code) so
/// the weights of the K classes present sum to K. β = 0 gives every class weight 1; β → 1
/// tends to inverse frequency. A class with no samples gets weight 0.
///
/// Errors naming `beta` when β is not in [0, 1), and naming `counts` when every count is 0.
pub fn effective_number_weights(
    counts: &[usize; Emotion::COUNT],
    beta: f64,
) -> Result<[f32; Emotion::COUNT]> {
    if !(0.0..1.0).contains(&beta) {
        return Err(FerError::invalid_parameter(
            "beta",
            format!("{beta}: expected a value in [0, 1)"),
        ));
    }
    let (_, present) = totals(counts)?;
    // ln β as ln_1p(β - 1), and 1 - β^n as -exp_m1(n ln β): precise for β close to 1.
    let ln_beta = (beta - 1.0).ln_1p();
    let inverse_effective = counts.map(|n| {
        if n == 0 {
            0.0
        } else {
            let effective = -(n as f64 * ln_beta).exp_m1() / (1.0 - beta);
            1.0 / effective
        }
    });
    let sum: f64 = inverse_effective.iter().sum();
    Ok(inverse_effective.map(|w| (w * present as f64 / sum) as f32))
}

/// (N, K): the number of samples and of classes with at least one.
fn totals(counts: &[usize; Emotion::COUNT]) -> Result<(usize, usize)> {
    let total: usize = counts.iter().sum();
    if total == 0 {
        return Err(FerError::invalid_parameter(
            "counts",
            "every class count is 0: there is nothing to weight",
        ));
    }
    Ok((total, counts.iter().filter(|&&n| n > 0).count()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_close(got: &[f32], expected: &[f32], tolerance: f32) {
        for (g, e) in got.iter().zip(expected) {
            assert!((g - e).abs() <= tolerance, "{got:?} vs {expected:?}");
        }
    }

    /// angry 10, disgust 100, fear 1000, the rest absent: N = 1110, K = 3.
    const SMALL: [usize; 7] = [10, 100, 1000, 0, 0, 0, 0];

    #[test]
    fn inverse_frequency_on_a_small_table() {
        // w = 1110 / (3 · n): 1110/30 = 37, 1110/300 = 3.7, 1110/3000 = 0.37; absent classes 0.
        let weights = inverse_frequency_weights(&SMALL).unwrap();
        assert_close(&weights, &[37.0, 3.7, 0.37, 0.0, 0.0, 0.0, 0.0], 1e-5);
    }

    #[test]
    fn inverse_frequency_on_fer2013_training_counts() {
        // FER2013 Training (data README): 3995, 436, 4097, 7215, 4830, 3171, 4965; N = 28709.
        // w = 28709 / (7 n): disgust 28709 / 3052 = 9.40662, happy 28709 / 50505 = 0.56844.
        let counts = [3995, 436, 4097, 7215, 4830, 3171, 4965];
        let weights = inverse_frequency_weights(&counts).unwrap();
        assert_close(
            &weights,
            &[
                1.02660, 9.40662, 1.00105, 0.56844, 0.84913, 1.29337, 0.82604,
            ],
            1e-4,
        );
        // The mean weight per sample is 1.
        let weighted: f64 = counts
            .iter()
            .zip(weights)
            .map(|(&n, w)| n as f64 * f64::from(w))
            .sum();
        assert!((weighted - 28709.0).abs() < 0.1, "{weighted}");
    }

    #[test]
    fn effective_number_on_a_small_table() {
        // β = 0.99: E_10 = (1 - 0.99^10) / 0.01 = 9.5618, E_100 = 63.3968, E_1000 = 99.9957.
        // 1/E = 0.104582, 0.0157737, 0.0100004, sum 0.130356; times 3/sum:
        // 2.40684, 0.36301, 0.23015.
        let weights = effective_number_weights(&SMALL, 0.99).unwrap();
        assert_close(
            &weights,
            &[2.40684, 0.36301, 0.23015, 0.0, 0.0, 0.0, 0.0],
            1e-4,
        );
    }

    #[test]
    fn effective_number_limits() {
        // β = 0: E = 1 for every class, so all present classes weigh 1.
        let weights = effective_number_weights(&SMALL, 0.0).unwrap();
        assert_close(&weights, &[1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0], 1e-6);
        // β → 1: proportional to inverse frequency, 1/10 : 1/100 : 1/1000 normalised to sum 3
        // = 2.7027, 0.27027, 0.027027.
        let weights = effective_number_weights(&SMALL, 1.0 - 1e-9).unwrap();
        assert_close(
            &weights,
            &[2.7027, 0.27027, 0.027027, 0.0, 0.0, 0.0, 0.0],
            1e-3,
        );
    }

    #[test]
    fn bad_inputs_are_named() {
        for beta in [1.0, -0.1, f64::NAN] {
            let message = effective_number_weights(&SMALL, beta)
                .unwrap_err()
                .to_string();
            assert!(message.contains("`beta`"), "{message}");
        }
        let message = inverse_frequency_weights(&[0; 7]).unwrap_err().to_string();
        assert!(message.contains("`counts`"), "{message}");
        assert_eq!(
            ClassWeighting::Uniform.weights(&SMALL).unwrap(),
            [1.0; Emotion::COUNT]
        );
    }
}
