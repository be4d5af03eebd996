//! Hyper-parameters of the logistic baseline: a builder with documented defaults, checked once
//! before fitting (linfa's `ParamGuard` pattern).

use serde::{Deserialize, Serialize};

use super::features::{FeatureKind, FeatureSettings, HogSettings};
use crate::error::{FerError, Result};

/// How to counter FER2013's class imbalance (happy 25% of training faces, disgust 1.5%).
///
/// linfa-logistic 0.8 has no sample weights (its loss sums every sample alike), so balancing
/// works on the training set itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClassBalance {
    /// Fit on the training set as it is.
    None,
    /// Bring every class up to the size of the largest one with seeded copies of its own
    /// faces, so each class weighs the same in the loss.
    Oversample,
    /// Bring every class up to the size of the largest one with SMOTE samples
    /// ([`crate::data::balance::Smote`], 5 neighbours) interpolated between standardised
    /// feature vectors of the class.
    Smote,
}

/// Unchecked hyper-parameters; build with [`BaselineParams::new`] and the setters, then
/// [`BaselineParams::check`] (fitting checks them too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineParams {
    features: FeatureSettings,
    alpha: f32,
    max_iterations: u64,
    gradient_tolerance: f32,
    balance: ClassBalance,
    seed: u64,
}

/// Hyper-parameters that passed [`BaselineParams::check`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineValidParams(BaselineParams);

impl BaselineParams {
    /// Defaults for `kind` features: default HOG settings, no PCA, `alpha` 300,
    /// 100 iterations, gradient tolerance 1e-4, no class balancing, seed 0.
    pub fn new(kind: FeatureKind) -> Self {
        BaselineParams {
            features: FeatureSettings::new(kind),
            alpha: 300.0,
            max_iterations: 100,
            gradient_tolerance: 1e-4,
            balance: ClassBalance::None,
            seed: 0,
        }
    }

    /// HOG descriptor settings (used with HOG features). Default [`HogSettings::default`].
    pub fn hog(mut self, hog: HogSettings) -> Self {
        self.features.hog = hog;
        self
    }

    /// Reduce the standardised features to `components` whitened principal components, or
    /// `None` to keep them all. Default `None`.
    pub fn pca(mut self, components: Option<usize>) -> Self {
        self.features.pca_components = components;
        self
    }

    /// Strength of the L2 penalty `alpha/2 · ‖W‖²`. linfa sums (not averages) the log-loss over
    /// samples, so this is relative to the training-set size: 300 over FER2013's 28,709 faces
    /// is moderate regularisation (scikit-learn's `C` = 1/300). Default 300, chosen on
    /// PublicTest among 1, 10, 100, 300 and 1000 (HOG: 46.2%, 46.4%, 46.7%, 46.9%, 46.3%; raw
    /// pixels at 10, 100, 300: 36.8%, 37.4%, 37.9%). A clearly positive `alpha` also keeps
    /// L-BFGS' line search away from the failure of linfa #334, reported with `alpha` near 0.
    pub fn alpha(mut self, alpha: f32) -> Self {
        self.alpha = alpha;
        self
    }

    /// Maximum L-BFGS iterations (each a full pass over the training set). Default 100.
    pub fn max_iterations(mut self, max_iterations: u64) -> Self {
        self.max_iterations = max_iterations;
        self
    }

    /// Stop once the gradient's norm falls below this. Default 1e-4 (linfa's default).
    pub fn gradient_tolerance(mut self, gradient_tolerance: f32) -> Self {
        self.gradient_tolerance = gradient_tolerance;
        self
    }

    /// Class balancing. Default [`ClassBalance::None`].
    pub fn balance(mut self, balance: ClassBalance) -> Self {
        self.balance = balance;
        self
    }

    /// Seed for everything random in fitting (oversampling, SMOTE). Default 0.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks every parameter, naming the first bad one.
    pub fn check(&self) -> Result<BaselineValidParams> {
        self.features.output_length()?;
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return Err(FerError::invalid_parameter(
                "alpha",
                format!("{}: must be a finite number >= 0", self.alpha),
            ));
        }
        if self.max_iterations == 0 {
            return Err(FerError::invalid_parameter(
                "max_iterations",
                "0: must be at least 1",
            ));
        }
        if !(self.gradient_tolerance.is_finite() && self.gradient_tolerance > 0.0) {
            return Err(FerError::invalid_parameter(
                "gradient_tolerance",
                format!("{}: must be a finite number > 0", self.gradient_tolerance),
            ));
        }
        Ok(BaselineValidParams(self.clone()))
    }
}

impl BaselineValidParams {
    /// Feature extraction settings.
    pub fn features(&self) -> &FeatureSettings {
        &self.0.features
    }

    /// L2 penalty strength.
    pub fn alpha(&self) -> f32 {
        self.0.alpha
    }

    /// Maximum L-BFGS iterations.
    pub fn max_iterations(&self) -> u64 {
        self.0.max_iterations
    }

    /// Gradient-norm stopping tolerance.
    pub fn gradient_tolerance(&self) -> f32 {
        self.0.gradient_tolerance
    }

    /// Class balancing.
    pub fn balance(&self) -> ClassBalance {
        self.0.balance
    }

    /// Seed.
    pub fn seed(&self) -> u64 {
        self.0.seed
    }

    /// Runs the checks again (on parameters read back from a file, which bypassed the builder).
    pub(crate) fn revalidate(&self) -> Result<()> {
        self.0.check().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names_the_bad_parameter() {
        let cases = [
            (BaselineParams::new(FeatureKind::Raw).alpha(-1.0), "alpha"),
            (
                BaselineParams::new(FeatureKind::Raw).alpha(f32::NAN),
                "alpha",
            ),
            (
                BaselineParams::new(FeatureKind::Raw).max_iterations(0),
                "max_iterations",
            ),
            (
                BaselineParams::new(FeatureKind::Raw).gradient_tolerance(0.0),
                "gradient_tolerance",
            ),
            (BaselineParams::new(FeatureKind::Raw).pca(Some(0)), "pca"),
            (BaselineParams::new(FeatureKind::Raw).pca(Some(5000)), "pca"),
        ];
        for (params, name) in cases {
            let err = params.check().unwrap_err();
            assert!(err.to_string().contains(&format!("`{name}`")), "{err}");
        }
        let valid = BaselineParams::new(FeatureKind::Hog)
            .pca(Some(64))
            .check()
            .unwrap();
        assert_eq!(valid.features().pca_components, Some(64));
        assert_eq!(valid.max_iterations(), 100);
    }
}
