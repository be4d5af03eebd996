//! Calibration: does a model that says "80% sure" turn out right 80% of the time?

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::emotion::Emotion;
use crate::error::{FerError, Result};
use crate::eval::predictions::{check_probabilities, predicted_labels};

/// Default number of equal-width confidence bins: 15, as in Guo et al. 2017, "On Calibration
/// of Modern Neural Networks", which introduced ECE for deep classifiers.
pub const DEFAULT_CALIBRATION_BINS: usize = 15;

/// One confidence bin of a reliability diagram: the faces whose confidence (highest
/// probability) lies in `(lower, upper]` (the first bin also takes a confidence of exactly 0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Lower edge (exclusive).
    pub lower: f64,
    /// Upper edge (inclusive).
    pub upper: f64,
    /// Faces in the bin.
    pub count: u64,
    /// Mean confidence of those faces; `None` for an empty bin.
    pub mean_confidence: Option<f64>,
    /// Share of those faces predicted correctly; `None` for an empty bin.
    pub accuracy: Option<f64>,
}

/// Reliability bins and the calibration errors they give.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Equal-width bins over `[0, 1]`, in increasing confidence.
    pub bins: Vec<ReliabilityBin>,
    /// Expected calibration error: Σ (bin count / n) · |accuracy − mean confidence|. 0 for a
    /// perfectly calibrated model; an over-confident network typically scores 0.05–0.2.
    pub expected_calibration_error: f64,
    /// Maximum calibration error: the largest |accuracy − mean confidence| of a non-empty bin.
    pub maximum_calibration_error: f64,
}

impl Calibration {
    /// Bins the faces by confidence (the highest probability, whose class is the prediction)
    /// into `bins` equal-width bins. Errors if `bins` is 0 or the probabilities are invalid
    /// (see [`check_probabilities`]).
    pub fn new(
        truth: &[Emotion],
        probabilities: ArrayView2<f32>,
        bins: usize,
    ) -> Result<Calibration> {
        if bins == 0 {
            return Err(FerError::invalid_parameter(
                "bins",
                "0 calibration bins: need at least 1",
            ));
        }
        check_probabilities(truth, probabilities)?;
        let predicted = predicted_labels(probabilities)?;
        let mut counts = vec![0u64; bins];
        let mut confidence_sums = vec![0.0f64; bins];
        let mut correct = vec![0u64; bins];
        for ((row, t), p) in probabilities.outer_iter().zip(truth).zip(&predicted) {
            let confidence = f64::from(row[p.index()]);
            // Bin i holds (i/B, (i+1)/B]; a confidence of 0 joins bin 0.
            let bin = ((confidence * bins as f64).ceil() as usize).clamp(1, bins) - 1;
            counts[bin] += 1;
            confidence_sums[bin] += confidence;
            correct[bin] += u64::from(t == p);
        }
        let n = truth.len() as f64;
        let mut expected_calibration_error = 0.0;
        let mut maximum_calibration_error = 0.0f64;
        let bins = (0..bins)
            .map(|i| {
                let (mean_confidence, accuracy) = if counts[i] == 0 {
                    (None, None)
                } else {
                    let count = counts[i] as f64;
                    let mean_confidence = confidence_sums[i] / count;
                    let accuracy = correct[i] as f64 / count;
                    let gap = (accuracy - mean_confidence).abs();
                    expected_calibration_error += count / n * gap;
                    maximum_calibration_error = maximum_calibration_error.max(gap);
                    (Some(mean_confidence), Some(accuracy))
                };
                ReliabilityBin {
                    lower: i as f64 / bins as f64,
                    upper: (i + 1) as f64 / bins as f64,
                    count: counts[i],
                    mean_confidence,
                    accuracy,
                }
            })
            .collect();
        Ok(Calibration {
            bins,
            expected_calibration_error,
            maximum_calibration_error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use Emotion::*;

    #[test]
    fn hand_computed_bins_and_errors() {
        // Two faces at confidence 0.9 (one right), one at 0.5 (right); 10 bins.
        let p = array![
            [0.9f32, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0],
            [0.9, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.5, 0.5, 0.0, 0.0],
        ];
        let c = Calibration::new(&[Angry, Fear, Happy], p.view(), 10).unwrap();
        assert_eq!(c.bins.len(), 10);
        // 0.9 as f32 is 0.899999976: it belongs to (0.8, 0.9].
        let high = &c.bins[8];
        assert_eq!(high.count, 2);
        assert!((high.mean_confidence.unwrap() - 0.9).abs() < 1e-6);
        assert_eq!(high.accuracy, Some(0.5));
        assert_eq!((c.bins[4].count, c.bins[4].accuracy), (1, Some(1.0)));
        assert_eq!(c.bins[0].mean_confidence, None);
        // ECE = 2/3 * |0.5 - 0.9| + 1/3 * |1 - 0.5| = 0.4333; MCE = 0.5.
        assert!((c.expected_calibration_error - 0.433_333_3).abs() < 1e-6);
        assert!((c.maximum_calibration_error - 0.5).abs() < 1e-6);
        assert!(Calibration::new(&[Angry, Fear, Happy], p.view(), 0).is_err());
    }
}
