//! The three ways to split FER2013: Kaggle's (train/ vs test/), the papers' (Training,
//! PublicTest as validation, PrivateTest as test), and a seeded, stratified validation split
//! carved out of training.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::dataset::{Dataset, Usage};
use crate::data::load::Fer2013;
use crate::emotion::Emotion;
use crate::error::{FerError, Result};

/// Train, validation and test faces. Choose models on `validation`, report `test`.
#[derive(Debug, Clone, PartialEq)]
pub struct Splits {
    /// Faces to fit on.
    pub train: Dataset,
    /// Faces to choose checkpoints and hyper-parameters on.
    pub validation: Dataset,
    /// Faces to report, touched once.
    pub test: Dataset,
}

impl Fer2013 {
    /// Kaggle's split: `train/` and `test/` (PublicTest and PrivateTest merged), as the seed
    /// notebook uses it. It has no validation set: a number chosen on `test/` is not a result.
    pub fn kaggle_split(&self) -> (&Dataset, &Dataset) {
        (&self.train, &self.kaggle_test)
    }

    /// The papers' protocol: train on `Training`, validate on `PublicTest`, report
    /// `PrivateTest`. From folders whose file names carry no usage prefix, every test/ face is
    /// `PrivateTest` and `validation` is empty: use [`Fer2013::holdout_split`] then.
    pub fn paper_split(&self) -> Splits {
        Splits {
            train: self.train.with_usage(Usage::Training),
            validation: self.kaggle_test.with_usage(Usage::PublicTest),
            test: self.kaggle_test.with_usage(Usage::PrivateTest),
        }
    }

    /// A validation set carved out of `train`: `validation_fraction` of each class (rounded to
    /// the nearest face), chosen at random with a ChaCha8 generator seeded by `seed`, so the
    /// same seed gives the same split on every platform. `test` is all of `test/`. Faces keep
    /// their original order within each split.
    ///
    /// Fails if `validation_fraction` is not strictly between 0 and 1, or if either part would
    /// be empty.
    pub fn holdout_split(&self, validation_fraction: f64, seed: u64) -> Result<Splits> {
        if !(validation_fraction > 0.0 && validation_fraction < 1.0) {
            return Err(FerError::invalid_parameter(
                "validation_fraction",
                format!("{validation_fraction}; expected a fraction strictly between 0 and 1"),
            ));
        }
        let (train_indices, validation_indices) =
            stratified_indices(self.train.labels(), validation_fraction, seed);
        if train_indices.is_empty() || validation_indices.is_empty() {
            return Err(FerError::EmptyDataset(format!(
                "a validation fraction of {validation_fraction} of {} training faces leaves {} \
                 to train on and {} to validate on",
                self.train.len(),
                train_indices.len(),
                validation_indices.len()
            )));
        }
        Ok(Splits {
            train: self.train.select(&train_indices),
            validation: self.train.select(&validation_indices),
            test: self.kaggle_test.clone(),
        })
    }
}

/// Indices (train, validation), each sorted, with `fraction` of every class in validation.
fn stratified_indices(labels: &[Emotion], fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut train = Vec::new();
    let mut validation = Vec::new();
    for emotion in Emotion::ALL {
        let mut members: Vec<usize> = (0..labels.len())
            .filter(|&i| labels[i] == emotion)
            .collect();
        members.shuffle(&mut rng);
        let take = (members.len() as f64 * fraction).round() as usize;
        validation.extend_from_slice(&members[..take]);
        train.extend_from_slice(&members[take..]);
    }
    train.sort_unstable();
    validation.sort_unstable();
    (train, validation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::{Origin, IMAGE_PIXELS};

    /// `per_class[c]` training faces of class c (pixel value = index mod 256), plus two test
    /// faces, one per test usage.
    fn data(per_class: [usize; 7]) -> Fer2013 {
        let mut train = Dataset::new();
        for (c, &n) in per_class.iter().enumerate() {
            for _ in 0..n {
                let i = train.len();
                train.push(
                    &[(i % 256) as u8; IMAGE_PIXELS],
                    Emotion::ALL[c],
                    Usage::Training,
                    Origin::CsvLine(i as u64 + 2),
                );
            }
        }
        let mut test = Dataset::new();
        test.push(
            &[1; IMAGE_PIXELS],
            Emotion::Sad,
            Usage::PublicTest,
            Origin::CsvLine(1),
        );
        test.push(
            &[2; IMAGE_PIXELS],
            Emotion::Fear,
            Usage::PrivateTest,
            Origin::CsvLine(2),
        );
        Fer2013 {
            train,
            kaggle_test: test,
            skipped_files: 0,
            cache_warning: None,
        }
    }

    #[test]
    fn holdout_is_stratified_disjoint_and_reproducible() {
        let fer = data([100, 10, 50, 0, 40, 20, 30]);
        let splits = fer.holdout_split(0.1, 7).unwrap();
        // 10% of each class, rounded: 100 -> 10, 10 -> 1, 50 -> 5, 40 -> 4, 20 -> 2, 30 -> 3.
        assert_eq!(splits.validation.class_counts(), [10, 1, 5, 0, 4, 2, 3]);
        assert_eq!(splits.train.class_counts(), [90, 9, 45, 0, 36, 18, 27]);
        // Disjoint and complete: every origin (a unique line) is in exactly one part.
        let mut lines: Vec<_> = splits
            .train
            .origins()
            .iter()
            .chain(splits.validation.origins())
            .map(|o| match o {
                Origin::CsvLine(line) => *line,
                Origin::File(_) => unreachable!(),
            })
            .collect();
        lines.sort_unstable();
        assert_eq!(lines, (2..252).collect::<Vec<u64>>());
        assert_eq!(splits.test, fer.kaggle_test);

        assert_eq!(fer.holdout_split(0.1, 7).unwrap(), splits);
        assert_ne!(
            fer.holdout_split(0.1, 8).unwrap().validation,
            splits.validation
        );
    }

    #[test]
    fn holdout_rejects_bad_fractions_and_empty_parts() {
        let fer = data([3, 0, 0, 0, 0, 0, 0]);
        for bad in [0.0, 1.0, -0.5, f64::NAN] {
            let err = fer.holdout_split(bad, 0).unwrap_err().to_string();
            assert!(err.contains("validation_fraction"), "{err}");
        }
        // 3 * 0.1 rounds to 0 validation faces.
        let err = fer.holdout_split(0.1, 0).unwrap_err().to_string();
        assert!(err.contains("0 to validate on"), "{err}");
    }

    #[test]
    fn paper_split_follows_the_usage() {
        let fer = data([2, 0, 0, 0, 0, 0, 0]);
        let splits = fer.paper_split();
        assert_eq!(splits.train.len(), 2);
        assert_eq!(splits.validation.labels(), &[Emotion::Sad]);
        assert_eq!(splits.test.labels(), &[Emotion::Fear]);
        let (train, test) = fer.kaggle_split();
        assert_eq!((train.len(), test.len()), (2, 2));
    }
}
