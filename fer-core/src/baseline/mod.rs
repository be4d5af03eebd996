//! The classical baseline: features (raw pixels, HOG, PCA) and linfa's logistic regression.

mod cache;
mod features;
mod hyperparams;
mod model;
mod pca;
mod persist;
#[cfg(test)]
mod persist_fuzz;
mod pipeline;
mod standardize;
#[cfg(test)]
mod test_faces;

pub use cache::{FeatureCache, FeatureCacheStatus};
pub use features::{extract, FeatureKind, FeatureSettings, HogSettings};
pub use hyperparams::{BaselineParams, BaselineValidParams, ClassBalance};
pub use model::BaselineModel;
pub use pca::PcaProjection;
pub use persist::{MODEL_FORMAT, MODEL_FORMAT_VERSION};
pub use pipeline::FittedFeatures;
pub use standardize::Standardizer;
