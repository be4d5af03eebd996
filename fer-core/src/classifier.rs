//! The interface every model (the CNN, the logistic baseline) offers, so metrics and plots treat
//! them alike.

use ndarray::Array2;

use crate::data::Face;
use crate::error::Result;

/// A trained model that classifies faces. It needs no labels: a labelled
/// [`Dataset`](crate::Dataset) is only needed to score it (`model.predict_proba(data.faces())`).
pub trait EmotionClassifier {
    /// A short name for reports and plots (`"cnn"`, `"logistic (hog)"`).
    fn name(&self) -> String;

    /// Class probabilities, one row per face, columns in [`crate::Emotion`] label order; each
    /// row sums to 1.
    fn predict_proba(&self, faces: &[Face]) -> Result<Array2<f32>>;
}
