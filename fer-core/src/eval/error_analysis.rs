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

/// Up to `count` rows where models A and B predict different emotions, chosen to cover the
/// true emotions: the share goes round-robin over the emotions (an emotion with too few
/// disagreements passes its turn on), and within an emotion the faces where the two models'
/// probabilities differ most come first. Returned grouped by true emotion in label order,
/// most different first; ties go to the lower row, so the choice is reproducible.
///
/// Why not the first `count` of [`disagreements`]: FER2013 files are sorted by emotion, so
/// those would all be angry faces. "Differ most" is the total variation distance, half the
/// summed absolute differences of the two rows: it is largest when both models are confident
/// in different emotions, the disagreements worth looking at, whereas comparing only the two
/// top confidences would rank two confident, opposite answers as no difference at all.
pub fn spread_disagreements(
    truth: &[Emotion],
    probabilities_a: ArrayView2<f32>,
    probabilities_b: ArrayView2<f32>,
    count: usize,
) -> Result<Vec<usize>> {
    check_probabilities(truth, probabilities_a)?;
    check_probabilities(truth, probabilities_b)?;
    let mut by_emotion: Vec<Vec<(usize, f64)>> = vec![Vec::new(); Emotion::COUNT];
    for i in disagreements(probabilities_a, probabilities_b)? {
        let distance: f64 = probabilities_a
            .row(i)
            .iter()
            .zip(probabilities_b.row(i))
            .map(|(&a, &b)| f64::from((a - b).abs()))
            .sum::<f64>()
            / 2.0;
        by_emotion[truth[i].index()].push((i, distance));
    }
    for rows in &mut by_emotion {
        rows.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    }
    // Round-robin: each pass gives every emotion with faces left one more slot.
    let mut taken = [0usize; Emotion::COUNT];
    let mut picked = 0;
    while picked < count {
        let before = picked;
        for (slots, rows) in taken.iter_mut().zip(&by_emotion) {
            if picked < count && *slots < rows.len() {
                *slots += 1;
                picked += 1;
            }
        }
        if picked == before {
            break; // every disagreement is already taken
        }
    }
    Ok(by_emotion
        .iter()
        .zip(taken)
        .flat_map(|(rows, slots)| rows[..slots].iter().map(|&(i, _)| i))
        .collect())
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

    /// A row putting `p` on emotion `first` and the rest on `second`.
    fn row(first: Emotion, p: f32, second: Emotion) -> [f32; Emotion::COUNT] {
        let mut r = [0.0; Emotion::COUNT];
        r[first.index()] = p;
        r[second.index()] += 1.0 - p;
        r
    }

    fn matrix(rows: &[[f32; Emotion::COUNT]]) -> ndarray::Array2<f32> {
        ndarray::Array2::from_shape_fn((rows.len(), Emotion::COUNT), |(i, j)| rows[i][j])
    }

    #[test]
    fn spread_disagreements_cover_the_classes_most_different_first() {
        use Emotion::*;
        // Sorted by class as FER2013 is: four angry faces, then two happy, one sad.
        let truth = [Angry, Angry, Angry, Angry, Happy, Happy, Sad];
        // A says happy (0.9, the rest angry) on every face; B says sad with confidence s[i],
        // the rest happy, except on row 3, where it agrees with A.
        let s = [0.6, 0.9, 0.7, 0.0, 0.55, 0.95, 0.8];
        let a = matrix(&[row(Happy, 0.9, Angry); 7]);
        let mut b: Vec<_> = s.iter().map(|&s| row(Sad, s, Happy)).collect();
        b[3] = row(Happy, 1.0, Happy);
        let b = matrix(&b);
        // Total variation distance on a disagreeing row: (|0.9 - (1 - s)| + 0.1 + s) / 2 = s,
        // so the rows rank by B's confidence in its contrary answer.
        let picked = spread_disagreements(&truth, a.view(), b.view(), 4).unwrap();
        // Round-robin gives angry, happy, sad one face each, then a second angry one; within
        // angry, row 1 (A at 0.9) before row 2 (0.7) before row 0 (0.6); within happy, row 5.
        assert_eq!(picked, vec![1, 2, 5, 6]);
        // Sad has one disagreement only: its turn passes to the others.
        let all = spread_disagreements(&truth, a.view(), b.view(), 100).unwrap();
        assert_eq!(all, vec![1, 2, 0, 5, 4, 6]);
        assert!(spread_disagreements(&truth, a.view(), b.view(), 0)
            .unwrap()
            .is_empty());
        // B scored a different number of faces.
        assert!(spread_disagreements(&truth, a.view(), b.slice(ndarray::s![..3, ..]), 4).is_err());
    }

    #[test]
    fn equal_distances_go_to_the_lower_row() {
        use Emotion::*;
        let truth = [Fear, Fear, Fear];
        let a = matrix(&[row(Fear, 0.8, Sad); 3]);
        let b = matrix(&[row(Sad, 0.8, Fear); 3]);
        let picked = spread_disagreements(&truth, a.view(), b.view(), 2).unwrap();
        assert_eq!(picked, vec![0, 1]);
    }
}
