//! Principal-component projection of standardised features, fitted with linfa-reduction.

use linfa::traits::Fit;
use linfa::DatasetBase;
use linfa_reduction::Pca;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::error::{FerError, Result};

/// A whitened PCA projection: `(x - mean) · componentsᵀ`, each output with unit variance on the
/// training set (whitening keeps the logistic regression's inputs on one scale, which L-BFGS
/// needs).
///
/// linfa's fitted `Pca` is only serialisable with its `serde` feature and cannot be rebuilt from
/// its parts, so the projection keeps its own copy of the mean and the (whitened) components,
/// in f32 like the rest of the pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PcaProjection {
    input_dim: usize,
    components: usize,
    mean: Vec<f32>,
    /// `components x input_dim`, row-major.
    embedding: Vec<f32>,
    /// Share of the training variance each kept component explains, largest first.
    explained_variance_ratio: Vec<f32>,
}

impl PcaProjection {
    /// Fits `components` whitened principal components of `x` (rows = samples).
    pub fn fit(x: &Array2<f32>, components: usize) -> Result<PcaProjection> {
        if components == 0 || components > x.ncols() {
            return Err(FerError::invalid_parameter(
                "pca",
                format!(
                    "{components}: must be between 1 and the feature count {}",
                    x.ncols()
                ),
            ));
        }
        if x.nrows() <= components {
            return Err(FerError::invalid_parameter(
                "pca",
                format!(
                    "{components} components need more than {components} training samples, got {}",
                    x.nrows()
                ),
            ));
        }
        let records = x.mapv(f64::from);
        let dataset = DatasetBase::from(records);
        let pca = Pca::params(components)
            .whiten(true)
            .fit(&dataset)
            .map_err(|e| FerError::Fit(format!("PCA to {components} components: {e}")))?;
        let ratio = explained_ratio(pca.singular_values(), x);
        Ok(PcaProjection {
            input_dim: x.ncols(),
            components,
            mean: pca.mean().iter().map(|&v| v as f32).collect(),
            embedding: pca.components().iter().map(|&v| v as f32).collect(),
            explained_variance_ratio: ratio,
        })
    }

    /// Number of input features.
    pub fn input_dim(&self) -> usize {
        self.input_dim
    }

    /// Number of output components.
    pub fn components(&self) -> usize {
        self.components
    }

    /// Share of the total training variance each component explains, largest first.
    pub fn explained_variance_ratio(&self) -> &[f32] {
        &self.explained_variance_ratio
    }

    /// Projects `x` (rows = samples) onto the components.
    pub fn transform(&self, x: &Array2<f32>) -> Result<Array2<f32>> {
        if x.ncols() != self.input_dim {
            return Err(FerError::ShapeMismatch(format!(
                "PCA fitted on {} features, given {}",
                self.input_dim,
                x.ncols()
            )));
        }
        let embedding = self.embedding_matrix();
        let mean = Array1::from_vec(self.mean.clone());
        Ok((x - &mean).dot(&embedding.t()))
    }

    fn embedding_matrix(&self) -> Array2<f32> {
        Array2::from_shape_vec((self.components, self.input_dim), self.embedding.clone())
            .expect("validated: embedding holds components x input_dim values")
    }

    /// Checks a deserialised projection's sizes and values.
    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        if self.mean.len() != self.input_dim
            || self.embedding.len() != self.components * self.input_dim
        {
            return Err(format!(
                "PCA of {} components over {} features holds {} means and {} weights",
                self.components,
                self.input_dim,
                self.mean.len(),
                self.embedding.len()
            ));
        }
        if self
            .mean
            .iter()
            .chain(&self.embedding)
            .any(|v| !v.is_finite())
        {
            return Err("PCA holds a non-finite value".into());
        }
        Ok(())
    }
}

/// linfa's `explained_variance_ratio` divides by the kept components only (so it always sums to
/// 1); the share of the *total* variance is what tells a user how much a cut loses.
fn explained_ratio(singular_values: &Array1<f64>, x: &Array2<f32>) -> Vec<f32> {
    let n = x.nrows() as f64;
    let total: f64 = x
        .mapv(f64::from)
        .var_axis(ndarray::Axis(0), 1.0)
        .iter()
        .sum();
    singular_values
        .iter()
        .map(|s| (s * s / (n - 1.0) / total) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn finds_the_one_direction_that_carries_the_variance_and_whitens_it() {
        // Points along (1, 1, 0) with spread 10, plus noise of spread 0.1: one component must
        // explain almost all the variance, and its whitened outputs have unit variance.
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut x = Array2::<f32>::zeros((400, 3));
        for mut row in x.rows_mut() {
            let t: f32 = rng.gen_range(-10.0..10.0);
            row[0] = t + rng.gen_range(-0.1..0.1);
            row[1] = t + rng.gen_range(-0.1..0.1);
            row[2] = rng.gen_range(-0.1..0.1);
        }
        let pca = PcaProjection::fit(&x, 1).unwrap();
        assert!(
            pca.explained_variance_ratio()[0] > 0.99,
            "{:?}",
            pca.explained_variance_ratio()
        );
        let y = pca.transform(&x).unwrap();
        let var = y.column(0).var(1.0);
        assert!((var - 1.0).abs() < 1e-3, "{var}");
        let err = pca.transform(&Array2::zeros((1, 4))).unwrap_err();
        assert!(matches!(err, FerError::ShapeMismatch(_)), "{err}");
    }

    #[test]
    fn impossible_sizes_are_parameter_errors() {
        let x = Array2::<f32>::ones((5, 3));
        assert!(PcaProjection::fit(&x, 0).is_err());
        assert!(PcaProjection::fit(&x, 4).is_err());
        assert!(PcaProjection::fit(&Array2::ones((2, 3)), 2).is_err());
    }
}
