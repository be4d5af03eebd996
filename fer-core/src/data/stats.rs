//! What a data set holds: faces per class and split, the class imbalance, and each class's
//! mean face.

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::data::dataset::{Dataset, Usage, IMAGE_PIXELS};
use crate::data::load::Fer2013;
use crate::emotion::Emotion;

/// Counts of a loaded data set. Serialises as the JSON `fer stats --json` prints:
/// `{"train": {"total": N, "per_class": {"angry": N, ...}}, "test": {...},
/// "usage": {"Training": N, "PublicTest": N, "PrivateTest": N}, "skipped_files": N}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DatasetStats {
    /// Kaggle's `train/` (or the CSV's Training rows).
    pub train: PartStats,
    /// Kaggle's `test/` (or the CSV's PublicTest and PrivateTest rows).
    pub test: PartStats,
    /// Faces per challenge split, over both parts.
    pub usage: UsageCounts,
    /// Files skipped as not data.
    pub skipped_files: usize,
}

/// Faces in one part, in total and per class.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PartStats {
    /// All faces.
    pub total: usize,
    /// Faces per class.
    pub per_class: ClassCounts,
}

/// Faces per class, indexed by [`Emotion::index`]; serialises as a map from the lower-case
/// emotion name to the count, in label order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassCounts(pub [usize; Emotion::COUNT]);

impl ClassCounts {
    /// The count of one class.
    pub fn get(&self, emotion: Emotion) -> usize {
        self.0[emotion.index()]
    }

    /// Largest class over smallest class; `None` if a class has no faces.
    pub fn imbalance_ratio(&self) -> Option<f64> {
        let max = self.0.iter().copied().max()?;
        let min = self.0.iter().copied().min()?;
        (min > 0).then(|| max as f64 / min as f64)
    }
}

impl Serialize for ClassCounts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(Emotion::COUNT))?;
        for emotion in Emotion::ALL {
            map.serialize_entry(emotion.name(), &self.get(emotion))?;
        }
        map.end()
    }
}

/// Faces per challenge split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct UsageCounts {
    /// `Training` faces.
    #[serde(rename = "Training")]
    pub training: usize,
    /// `PublicTest` faces (the papers' validation set).
    #[serde(rename = "PublicTest")]
    pub public_test: usize,
    /// `PrivateTest` faces (the papers' test set).
    #[serde(rename = "PrivateTest")]
    pub private_test: usize,
}

impl PartStats {
    /// Counts of one data set.
    pub fn of(data: &Dataset) -> PartStats {
        PartStats {
            total: data.len(),
            per_class: ClassCounts(data.class_counts()),
        }
    }
}

/// Counts per class, part and challenge split of a loaded data set.
pub fn stats(data: &Fer2013) -> DatasetStats {
    let count = |usage: Usage| {
        [&data.train, &data.kaggle_test]
            .iter()
            .map(|part| part.usages().iter().filter(|&&u| u == usage).count())
            .sum()
    };
    DatasetStats {
        train: PartStats::of(&data.train),
        test: PartStats::of(&data.kaggle_test),
        usage: UsageCounts {
            training: count(Usage::Training),
            public_test: count(Usage::PublicTest),
            private_test: count(Usage::PrivateTest),
        },
        skipped_files: data.skipped_files,
    }
}

/// Each class's mean face (2,304 gray levels 0-255, row-major), `None` for a class with no
/// faces. Indexed by [`Emotion::index`].
pub fn mean_faces(data: &Dataset) -> [Option<Vec<f32>>; Emotion::COUNT] {
    let mut sums = vec![[0u64; IMAGE_PIXELS]; Emotion::COUNT];
    for i in 0..data.len() {
        let sum = &mut sums[data.labels()[i].index()];
        for (s, &p) in sum.iter_mut().zip(data.face(i)) {
            *s += u64::from(p);
        }
    }
    let counts = data.class_counts();
    std::array::from_fn(|c| {
        (counts[c] > 0).then(|| {
            sums[c]
                .iter()
                .map(|&s| (s as f64 / counts[c] as f64) as f32)
                .collect()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::Origin;

    #[test]
    fn counts_serialise_in_the_documented_shape() {
        let mut train = Dataset::new();
        for (label, value) in [
            (Emotion::Happy, 10),
            (Emotion::Happy, 30),
            (Emotion::Sad, 5),
        ] {
            train.push(
                &[value; IMAGE_PIXELS],
                label,
                Usage::Training,
                Origin::CsvLine(2),
            );
        }
        let mut test = Dataset::new();
        test.push(
            &[0; IMAGE_PIXELS],
            Emotion::Angry,
            Usage::PublicTest,
            Origin::CsvLine(3),
        );
        let data = Fer2013 {
            train: train.clone(),
            kaggle_test: test,
            skipped_files: 4,
            cache_warning: None,
        };
        let json = serde_json::to_value(stats(&data)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "train": {"total": 3, "per_class": {"angry": 0, "disgust": 0, "fear": 0,
                    "happy": 2, "sad": 1, "surprise": 0, "neutral": 0}},
                "test": {"total": 1, "per_class": {"angry": 1, "disgust": 0, "fear": 0,
                    "happy": 0, "sad": 0, "surprise": 0, "neutral": 0}},
                "usage": {"Training": 3, "PublicTest": 1, "PrivateTest": 0},
                "skipped_files": 4
            })
        );
        // Label order in the text, as a reader expects it.
        let text = serde_json::to_string(&stats(&data)).unwrap();
        assert!(text.find("angry").unwrap() < text.find("neutral").unwrap());

        let means = mean_faces(&train);
        assert_eq!(means[Emotion::Happy.index()].as_ref().unwrap()[7], 20.0);
        assert_eq!(means[Emotion::Sad.index()].as_ref().unwrap()[0], 5.0);
        assert!(means[Emotion::Angry.index()].is_none());
    }

    #[test]
    fn imbalance_is_largest_over_smallest() {
        // FER2013's train/ counts (../shared/fer2013/README.md): happy 7,215 over disgust 436.
        let counts = ClassCounts([3995, 436, 4097, 7215, 4830, 3171, 4965]);
        let ratio = counts.imbalance_ratio().unwrap();
        assert!((ratio - 7215.0 / 436.0).abs() < 1e-12);
        assert_eq!(ClassCounts([1, 0, 1, 1, 1, 1, 1]).imbalance_ratio(), None);
    }
}
