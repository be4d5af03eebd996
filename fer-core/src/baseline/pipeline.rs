//! The fitted feature pipeline: extraction, standardisation and optional PCA, with the
//! statistics learnt on the training set.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::cache::FeatureCache;
use super::features::{extract, FeatureSettings};
use super::pca::PcaProjection;
use super::standardize::Standardizer;
use crate::data::{Dataset, Face};
use crate::error::Result;

/// Feature settings plus the normalisation (and PCA) fitted on a training set; applies the same
/// transformation to any later face.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedFeatures {
    settings: FeatureSettings,
    standardizer: Standardizer,
    pca: Option<PcaProjection>,
}

impl FittedFeatures {
    /// Fits the pipeline on `train` and returns it with the training set's transformed features
    /// (so they need not be extracted twice). Descriptors come from `cache` when it holds them.
    pub fn fit(
        settings: FeatureSettings,
        train: &Dataset,
        cache: Option<&FeatureCache>,
    ) -> Result<(FittedFeatures, Array2<f32>)> {
        settings.output_length()?;
        let mut x = descriptors(train.faces(), &settings, cache)?;
        let standardizer = Standardizer::fit(&x)?;
        standardizer.transform_inplace(&mut x)?;
        let pca = match settings.pca_components {
            Some(k) => {
                let pca = PcaProjection::fit(&x, k)?;
                x = pca.transform(&x)?;
                Some(pca)
            }
            None => None,
        };
        let fitted = FittedFeatures {
            settings,
            standardizer,
            pca,
        };
        Ok((fitted, x))
    }

    /// The settings it was fitted with.
    pub fn settings(&self) -> &FeatureSettings {
        &self.settings
    }

    /// The PCA projection, if the settings ask for one.
    pub fn pca(&self) -> Option<&PcaProjection> {
        self.pca.as_ref()
    }

    /// Length of the output vectors.
    pub fn output_dim(&self) -> usize {
        match &self.pca {
            Some(pca) => pca.components(),
            None => self.standardizer.dim(),
        }
    }

    /// The features of `faces`, one row per face.
    pub fn transform(&self, faces: &[Face]) -> Result<Array2<f32>> {
        self.transform_cached(faces, None)
    }

    /// [`FittedFeatures::transform`], taking the descriptors from `cache` when it holds them.
    pub fn transform_cached(
        &self,
        faces: &[Face],
        cache: Option<&FeatureCache>,
    ) -> Result<Array2<f32>> {
        let mut x = descriptors(faces, &self.settings, cache)?;
        self.standardizer.transform_inplace(&mut x)?;
        match &self.pca {
            Some(pca) => pca.transform(&x),
            None => Ok(x),
        }
    }

    /// Checks that the parts of a deserialised pipeline fit together: the standardiser's width
    /// is the descriptor length of the settings, and the PCA (present exactly when asked for)
    /// maps that width to the requested number of components.
    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        let descriptor = self
            .settings
            .descriptor_length()
            .map_err(|e| e.to_string())?;
        self.standardizer.validate()?;
        if self.standardizer.dim() != descriptor {
            return Err(format!(
                "feature dimension mismatch: {} features give {descriptor} values per face, \
                 but the standardiser was fitted on {}",
                self.settings.label(),
                self.standardizer.dim()
            ));
        }
        match (&self.pca, self.settings.pca_components) {
            (None, None) => Ok(()),
            (Some(pca), Some(k)) => {
                pca.validate()?;
                if pca.input_dim() != descriptor || pca.components() != k {
                    return Err(format!(
                        "feature dimension mismatch: PCA maps {} to {} features, settings ask \
                         {descriptor} to {k}",
                        pca.input_dim(),
                        pca.components()
                    ));
                }
                Ok(())
            }
            (pca, k) => Err(format!(
                "settings ask for PCA {k:?} but the file {} one",
                if pca.is_some() { "holds" } else { "lacks" }
            )),
        }
    }
}

/// Raw descriptors of `faces`, through `cache` if given (a cache that cannot be written only
/// costs the time to extract again next run, so its status is not an error).
fn descriptors(
    faces: &[Face],
    settings: &FeatureSettings,
    cache: Option<&FeatureCache>,
) -> Result<Array2<f32>> {
    match cache {
        Some(cache) => Ok(cache.extract(faces, settings.kind, &settings.hog)?.0),
        None => extract(faces, settings.kind, &settings.hog),
    }
}
