//! Per-class precision, recall, F1 and support, with their macro and weighted averages.

use serde::{Deserialize, Serialize};

use crate::emotion::Emotion;
use crate::eval::confusion::{ratio_or_zero, ConfusionMatrix};

/// Precision, recall, F1 and support of one emotion.
///
/// Zero-division convention: scikit-learn's default (`zero_division="warn"`, which returns 0):
/// precision is 0 for an emotion never predicted, recall is 0 for an emotion absent from the
/// true labels, and F1 = 2·tp / (2·tp + fp + fn) is 0 when that denominator is 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// The emotion.
    pub emotion: Emotion,
    /// Of the faces predicted as this emotion, the share that truly are.
    pub precision: f64,
    /// Of the faces truly of this emotion, the share predicted as it.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Faces truly of this emotion.
    pub support: u64,
}

/// Precision, recall and F1 averaged over the seven emotions, and the total support.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AveragedMetrics {
    /// Averaged precision.
    pub precision: f64,
    /// Averaged recall.
    pub recall: f64,
    /// Averaged F1 (the average of per-class F1s, not the F1 of the averages).
    pub f1: f64,
    /// All faces.
    pub support: u64,
}

/// Per-class metrics of all seven emotions (scikit-learn's
/// `precision_recall_fscore_support(..., labels=range(7), zero_division=0)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerClassMetrics {
    /// One entry per emotion, in label order.
    pub classes: Vec<ClassMetrics>,
    /// Unweighted mean over the seven emotions: every emotion counts the same, so rare
    /// classes (disgust) weigh as much as happy.
    pub macro_avg: AveragedMetrics,
    /// Mean weighted by support: dominated by the common classes.
    pub weighted_avg: AveragedMetrics,
}

impl PerClassMetrics {
    /// Computes every emotion's metrics from a confusion matrix.
    pub fn from_confusion(confusion: &ConfusionMatrix) -> Self {
        let classes: Vec<ClassMetrics> = Emotion::ALL
            .iter()
            .map(|&emotion| {
                let true_positives = confusion.count(emotion, emotion);
                let predicted = confusion.predicted_count(emotion);
                let support = confusion.support(emotion);
                ClassMetrics {
                    emotion,
                    precision: ratio_or_zero(true_positives, predicted),
                    recall: ratio_or_zero(true_positives, support),
                    // 2tp + fp + fn = predicted + support.
                    f1: ratio_or_zero(2 * true_positives, predicted + support),
                    support,
                }
            })
            .collect();
        let total = confusion.total();
        let average = |weight: &dyn Fn(&ClassMetrics) -> f64| {
            let weights: f64 = classes.iter().map(weight).sum();
            let mean = |value: fn(&ClassMetrics) -> f64| {
                if weights == 0.0 {
                    0.0
                } else {
                    classes.iter().map(|c| weight(c) * value(c)).sum::<f64>() / weights
                }
            };
            AveragedMetrics {
                precision: mean(|c| c.precision),
                recall: mean(|c| c.recall),
                f1: mean(|c| c.f1),
                support: total,
            }
        };
        let macro_avg = average(&|_| 1.0);
        let weighted_avg = average(&|c| c.support as f64);
        PerClassMetrics {
            classes,
            macro_avg,
            weighted_avg,
        }
    }

    /// The metrics of `emotion`.
    pub fn get(&self, emotion: Emotion) -> &ClassMetrics {
        &self.classes[emotion.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Emotion::*;

    #[test]
    fn hand_computed_example_and_zero_division() {
        // happy: tp 2, fp 1 (the fear face), fn 1 -> P 2/3, R 2/3, F1 2/3.
        // sad: tp 1, fp 1, fn 0 -> P 1/2, R 1, F1 2/3.  fear: never predicted -> P 0, R 0, F1 0.
        let truth = [Happy, Happy, Happy, Sad, Fear];
        let predicted = [Happy, Happy, Sad, Sad, Happy];
        let m = PerClassMetrics::from_confusion(&ConfusionMatrix::new(&truth, &predicted).unwrap());
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        let happy = m.get(Happy);
        assert!(close(happy.precision, 2.0 / 3.0) && close(happy.recall, 2.0 / 3.0));
        assert!(close(happy.f1, 2.0 / 3.0) && happy.support == 3);
        let sad = m.get(Sad);
        assert!(close(sad.precision, 0.5) && close(sad.recall, 1.0) && close(sad.f1, 2.0 / 3.0));
        let fear = m.get(Fear);
        assert_eq!((fear.precision, fear.recall, fear.f1), (0.0, 0.0, 0.0));
        // Absent classes (angry, disgust, surprise, neutral) count as zeros in the macro mean.
        assert!(close(m.macro_avg.f1, (2.0 / 3.0 + 2.0 / 3.0) / 7.0));
        assert!(close(m.weighted_avg.recall, (3.0 * 2.0 / 3.0 + 1.0) / 5.0));
        assert_eq!(m.weighted_avg.support, 5);
    }
}
