//! Per-feature standardisation (zero mean, unit variance), learnt on the training set.
//!
//! L-BFGS on unscaled features converges slowly and is where linfa's line search fails
//! (linfa #334), so every feature is standardised before the logistic regression sees it.

use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

use crate::error::{FerError, Result};

/// Standard deviations below this are treated as constant features: they are centred but not
/// scaled, so a pixel that never changes (or a HOG bin that is always empty) cannot blow up.
const MIN_STD: f32 = 1e-6;

/// Means and scales of each feature column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    mean: Vec<f32>,
    scale: Vec<f32>,
}

impl Standardizer {
    /// Learns each column's mean and standard deviation from `x` (rows = samples).
    pub fn fit(x: &Array2<f32>) -> Result<Standardizer> {
        if x.nrows() == 0 {
            return Err(FerError::EmptyDataset(
                "standardisation needs at least one training sample".into(),
            ));
        }
        // Accumulate in f64: 28,709 squared f32 values lose digits otherwise.
        let x64 = x.mapv(f64::from);
        let mean = x64.mean_axis(Axis(0)).expect("at least one row");
        let std = x64.std_axis(Axis(0), 0.0);
        let scale = std.mapv(|s| if (s as f32) < MIN_STD { 1.0 } else { s as f32 });
        Ok(Standardizer {
            mean: mean.iter().map(|&m| m as f32).collect(),
            scale: scale.to_vec(),
        })
    }

    /// Number of features it was fitted on.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Standardises `x` in place; its columns must match the fitted features.
    pub fn transform_inplace(&self, x: &mut Array2<f32>) -> Result<()> {
        if x.ncols() != self.dim() {
            return Err(FerError::ShapeMismatch(format!(
                "standardiser fitted on {} features, given {}",
                self.dim(),
                x.ncols()
            )));
        }
        let mean = Array1::from_vec(self.mean.clone());
        let inv_scale = Array1::from_iter(self.scale.iter().map(|s| 1.0 / s));
        *x -= &mean;
        *x *= &inv_scale;
        Ok(())
    }

    /// Checks a deserialised standardiser: equal lengths, finite values, positive scales.
    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        if self.mean.len() != self.scale.len() {
            return Err(format!(
                "standardiser has {} means but {} scales",
                self.mean.len(),
                self.scale.len()
            ));
        }
        if self.mean.iter().any(|m| !m.is_finite())
            || self.scale.iter().any(|s| !s.is_finite() || *s <= 0.0)
        {
            return Err("standardiser holds a non-finite mean or a non-positive scale".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn columns_get_zero_mean_and_unit_variance_and_constants_stay_finite() {
        // Column 0: 1, 2, 3 (mean 2, population std sqrt(2/3)); column 1 constant.
        let x = array![[1.0f32, 5.0], [2.0, 5.0], [3.0, 5.0]];
        let s = Standardizer::fit(&x).unwrap();
        let mut y = x.clone();
        s.transform_inplace(&mut y).unwrap();
        let std0 = (2.0f32 / 3.0).sqrt();
        assert!((y[[0, 0]] + 1.0 / std0).abs() < 1e-5, "{y}");
        assert!((y[[2, 0]] - 1.0 / std0).abs() < 1e-5, "{y}");
        assert_eq!(y.column(1).to_vec(), vec![0.0; 3]);
    }

    #[test]
    fn a_wrong_width_or_no_rows_is_an_error() {
        let s = Standardizer::fit(&Array2::ones((2, 3))).unwrap();
        let err = s.transform_inplace(&mut Array2::ones((2, 4))).unwrap_err();
        assert!(matches!(err, FerError::ShapeMismatch(_)), "{err}");
        assert!(Standardizer::fit(&Array2::zeros((0, 3))).is_err());
    }
}
