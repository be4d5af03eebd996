//! Error analysis on one model's predictions: the hardest faces (highest loss) and the faces
//! where two models disagree.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::data::{Dataset, Origin};
use crate::emotion::Emotion;
use crate::error::{FerError, Result};
use crate::eval::predictions::{check_probabilities, predicted_labels};
use crate::eval::scores::LOG_LOSS_EPSILON;

/// One face and how badly a model scored it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HardExample {
    /// Row of the face in the dataset.
    pub index: usize,
    /// Where the face came from (file or CSV line).
    pub origin: Origin,
    /// Its true emotion.
    pub truth: Emotion,
    /// The model's most probable emotion.
    pub predicted: Emotion,
    /// Probability of the predicted emotion.
    pub confidence: f32,
    /// Cross-entropy of the true emotion, `-ln p(truth)`, with probabilities clipped to
    /// [`LOG_LOSS_EPSILON`] as in the log-loss.
    pub loss: f64,
}

/// The `count` faces with the highest loss, highest first (ties by index, so the order is
/// reproducible). `probabilities` has one row per face of `dataset`.
pub fn hardest_examples(
    dataset: &Dataset,
    probabilities: ArrayView2<f32>,
    count: usize,
) -> Result<Vec<HardExample>> {
    check_probabilities(dataset.labels(), probabilities)?;
    let predicted = predicted_labels(probabilities)?;
    let mut examples: Vec<HardExample> = (0..dataset.len())
        .map(|i| {
            let truth = dataset.labels()[i];
            let p = f64::from(probabilities[[i, truth.index()]])
                .clamp(LOG_LOSS_EPSILON, 1.0 - LOG_LOSS_EPSILON);
            HardExample {
                index: i,
                origin: dataset.origins()[i].clone(),
                truth,
                predicted: predicted[i],
                confidence: probabilities[[i, predicted[i].index()]],
                loss: -p.ln(),
            }
        })
        .collect();
    examples.sort_by(|a, b| b.loss.total_cmp(&a.loss).then(a.index.cmp(&b.index)));
    examples.truncate(count);
    Ok(examples)
}

/// Rows where two models' most probable emotions differ, in row order.
pub fn disagreements(
    probabilities_a: ArrayView2<f32>,
    probabilities_b: ArrayView2<f32>,
) -> Result<Vec<usize>> {
    if probabilities_a.dim() != probabilities_b.dim() {
        return Err(FerError::ShapeMismatch(format!(
            "model A scored {:?} but model B {:?}",
            probabilities_a.dim(),
            probabilities_b.dim()
        )));
    }
    let a = predicted_labels(probabilities_a)?;
    let b = predicted_labels(probabilities_b)?;
    Ok((0..a.len()).filter(|&i| a[i] != b[i]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Usage, IMAGE_PIXELS};
    use ndarray::array;

    fn dataset(labels: &[Emotion]) -> Dataset {
        let mut d = Dataset::new();
        for (i, &l) in labels.iter().enumerate() {
            d.push(
                &[0; IMAGE_PIXELS],
                l,
                Usage::PrivateTest,
                Origin::CsvLine(i as u64 + 2),
            );
        }
        d
    }

    #[test]
    fn hardest_examples_are_sorted_by_loss() {
        use Emotion::*;
        let d = dataset(&[Angry, Happy, Sad, Happy]);
        // p(truth): 0.7, 0.1, 0.4, 0.1 -> losses 0.357, 2.303, 0.916, 2.303.
        let p = array![
            [0.7f32, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.1, 0.9, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 0.4, 0.0, 0.6],
            [0.0, 0.0, 0.0, 0.1, 0.0, 0.9, 0.0],
        ];
        let hard = hardest_examples(&d, p.view(), 3).unwrap();
        let order: Vec<usize> = hard.iter().map(|h| h.index).collect();
        // Rows 1 and 3 tie; the index breaks the tie.
        assert_eq!(order, vec![1, 3, 2]);
        assert!((hard[0].loss - (-(0.1f64).ln())).abs() < 1e-6);
        assert!((hard[2].loss - (-(0.4f64).ln())).abs() < 1e-6);
        assert_eq!(hard[0].predicted, Sad);
        assert_eq!(hard[1].predicted, Surprise);
        assert!((hard[0].confidence - 0.9).abs() < 1e-6);
        assert_eq!(hard[2].origin, Origin::CsvLine(4));
        assert!(hard.windows(2).all(|w| w[0].loss >= w[1].loss));
    }

    #[test]
    fn disagreements_are_rows_whose_predictions_differ() {
        let a = array![
            [0.9f32, 0.1, 0., 0., 0., 0., 0.],
            [0.2, 0.8, 0., 0., 0., 0., 0.]
        ];
        let b = array![
            [0.6f32, 0.4, 0., 0., 0., 0., 0.],
            [0.7, 0.3, 0., 0., 0., 0., 0.]
        ];
        assert_eq!(disagreements(a.view(), b.view()).unwrap(), vec![1]);
        assert!(disagreements(a.view(), b.slice(ndarray::s![..1, ..])).is_err());
    }
}
