//! # fer-core
//!
//! Facial emotion recognition on FER2013 (35,887 grayscale 48x48 faces, seven emotions), from
//! the files on disk to a trained model and its evaluation.
//!
//! Data flows one way, and each module uses only the ones before it:
//! files → [`data`] (loading, preprocessing, splits, augmentation, balancing) →
//! [`baseline`] (linfa logistic regression) or [`cnn`] (a dfdx CNN, built on the numerical
//! kernels of [`ops`]) → predictions → [`eval`] (metrics, reports, error analysis) → [`plot`]
//! (plotly figures and PNG grids) → [`report`] (the offline HTML report) and [`course`] (the
//! notebooks' helpers). [`quick`] defines the quick run both the command and the notebooks use.
//!
//! The library never prints: loading returns what it skipped, training reports progress
//! through a [`cnn::TrainObserver`] the caller supplies. The `fer` command (the default `cli`
//! feature) runs the same steps headless; the notebooks in `notebooks/` link the library alone
//! (`default-features = false`) and walk through them one call at a time.

pub mod baseline;
pub mod classifier;
pub mod cnn;
pub mod course;
pub mod data;
pub mod emotion;
pub mod error;
pub mod eval;
#[cfg(feature = "onnx")]
pub mod export;
pub mod faces;
mod fault_points;
pub mod fs;
#[cfg(test)]
mod fuzz;
pub mod ops;
pub mod plot;
pub mod quick;
pub mod report;

pub use classifier::EmotionClassifier;
pub use data::{Dataset, Face, Origin, Usage, IMAGE_PIXELS, IMAGE_SIDE};
pub use emotion::Emotion;
pub use error::{FerError, Result};

// The libraries the course is about, re-exported so a notebook that depends on fer-core alone
// uses the very versions fer-core was built with (`use fer_core::dfdx::prelude::*;`).
/// dfdx, the tensors and layers of the CNN.
pub use dfdx;
/// image, the decoding of photos and face files.
pub use image;
/// linfa, the baseline's learning framework.
pub use linfa;
/// linfa's logistic regression, the baseline's classifier.
pub use linfa_logistic;
/// ndarray, the arrays of preprocessing, features and probabilities.
pub use ndarray;
