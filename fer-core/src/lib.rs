//! # fer-core
//!
//! Facial emotion recognition on FER2013 (35,887 grayscale 48x48 faces, seven emotions), from
//! the files on disk to a trained model and its evaluation.
//!
//! Data flows one way:
//! files → [`data`] (loading, preprocessing, splits, augmentation, balancing) →
//! [`baseline`] (linfa logistic regression) or [`cnn`] (a dfdx CNN) → predictions →
//! [`eval`] (metrics, reports, error analysis) → [`plot`] (plotly figures).
//!
//! The `fer` command runs the same steps headless; the notebooks in `notebooks/` walk through
//! them one call at a time.

pub mod baseline;
pub mod classifier;
pub mod cnn;
pub mod course;
pub mod data;
pub mod emotion;
pub mod error;
pub mod eval;
mod fault_points;
pub mod fs;
#[cfg(test)]
mod fuzz;
pub mod plot;

pub use classifier::EmotionClassifier;
pub use data::{Dataset, Face, Origin, Usage, IMAGE_PIXELS, IMAGE_SIDE};
pub use emotion::Emotion;
pub use error::{FerError, Result};
