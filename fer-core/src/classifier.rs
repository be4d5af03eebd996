//! The interface every model (the CNN, the logistic baseline) offers, so metrics and plots treat
//! them alike.

use ndarray::Array2;

use crate::data::Dataset;
use crate::error::Result;

/// A trained model that scores faces.
pub trait EmotionClassifier {
    /// A short name for reports and plots (`"cnn"`, `"logistic (hog)"`).
    fn name(&self) -> String;

    /// Class probabilities, one row per face of `faces`, columns in [`crate::Emotion`] label
    /// order; each row sums to 1.
    fn predict_proba(&self, faces: &Dataset) -> Result<Array2<f32>>;
}
