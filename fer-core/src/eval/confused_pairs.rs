//! The most confused pairs of emotions: the largest off-diagonal cells of a confusion matrix.

use serde::{Deserialize, Serialize};

use crate::emotion::Emotion;
use crate::eval::confusion::{ratio_or_zero, ConfusionMatrix};

/// One off-diagonal cell: faces of `truth` predicted as `predicted`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConfusedPair {
    /// The true emotion.
    pub truth: Emotion,
    /// The emotion predicted instead.
    pub predicted: Emotion,
    /// Faces so mistaken.
    pub count: u64,
    /// Share of all `truth` faces so mistaken (the row-normalised cell).
    pub share_of_truth: f64,
}

/// The `k` mistakes made most often, by count, largest first; ties keep label order (true,
/// then predicted), so the list is reproducible. Pairs that never happen are left out.
pub fn most_confused_pairs(confusion: &ConfusionMatrix, k: usize) -> Vec<ConfusedPair> {
    let mut pairs: Vec<ConfusedPair> = Emotion::ALL
        .iter()
        .flat_map(|&truth| {
            Emotion::ALL
                .iter()
                .map(move |&predicted| (truth, predicted))
        })
        .filter(|(truth, predicted)| truth != predicted)
        .map(|(truth, predicted)| ConfusedPair {
            truth,
            predicted,
            count: confusion.count(truth, predicted),
            share_of_truth: ratio_or_zero(
                confusion.count(truth, predicted),
                confusion.support(truth),
            ),
        })
        .filter(|pair| pair.count > 0)
        .collect();
    // Stable sort: equal counts stay in label order.
    pairs.sort_by_key(|pair| std::cmp::Reverse(pair.count));
    pairs.truncate(k);
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use Emotion::*;

    #[test]
    fn largest_off_diagonal_cells_first_with_ties_in_label_order() {
        let truth = [Disgust, Disgust, Disgust, Fear, Fear, Sad, Happy, Happy];
        let predicted = [Angry, Angry, Disgust, Sad, Surprise, Fear, Happy, Happy];
        let cm = ConfusionMatrix::new(&truth, &predicted).unwrap();
        let pairs = most_confused_pairs(&cm, 3);
        let cells: Vec<(Emotion, Emotion, u64)> = pairs
            .iter()
            .map(|p| (p.truth, p.predicted, p.count))
            .collect();
        assert_eq!(
            cells,
            [(Disgust, Angry, 2), (Fear, Sad, 1), (Fear, Surprise, 1)]
        );
        assert!((pairs[0].share_of_truth - 2.0 / 3.0).abs() < 1e-12);
        // Only 4 mistakes exist: asking for 10 gives 4.
        assert_eq!(most_confused_pairs(&cm, 10).len(), 4);
    }
}
