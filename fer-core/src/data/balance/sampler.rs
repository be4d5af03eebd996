//! A seeded weighted random sampler that draws training indices so that classes appear in
//! chosen proportions (uniform by default), oversampling rare classes.

use rand::distributions::{Distribution, WeightedIndex};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::emotion::Emotion;
use crate::error::{FerError, Result};

/// Draws sample indices with replacement: first a class with the target proportions (rand's
/// `WeightedIndex` over the 7 classes), then a sample of that class uniformly. The two-stage
/// draw hits the proportions exactly in expectation and costs O(1) per draw, whatever the
/// data set's size.
#[derive(Debug, Clone)]
pub struct WeightedSampler {
    members: Vec<Vec<usize>>,
    proportions: [f64; Emotion::COUNT],
    classes: WeightedIndex<f64>,
}

impl WeightedSampler {
    /// Every emotion drawn equally often (1/7 each). Errors if a class has no sample.
    pub fn balanced(labels: &[Emotion]) -> Result<Self> {
        WeightedSampler::with_class_proportions(labels, [1.0; Emotion::COUNT])
    }

    /// Classes drawn in proportion to `proportions` (indexed by [`Emotion::index`], normalised
    /// by their sum; a 0 leaves the class out).
    ///
    /// Errors naming `labels` when there are none, and `class_proportions` for a negative or
    /// non-finite entry, all entries 0, or a positive entry for a class with no samples.
    pub fn with_class_proportions(
        labels: &[Emotion],
        proportions: [f64; Emotion::COUNT],
    ) -> Result<Self> {
        check_weights("class_proportions", &proportions)?;
        let members = members_by_class(labels)?;
        for emotion in Emotion::ALL {
            let target = proportions[emotion.index()];
            if target > 0.0 && members[emotion.index()].is_empty() {
                return Err(FerError::invalid_parameter(
                    "class_proportions",
                    format!(
                        "{} has target {target} but no samples among the {} labels",
                        emotion.name(),
                        labels.len()
                    ),
                ));
            }
        }
        WeightedSampler::from_members(members, proportions)
    }

    /// Each sample drawn with the weight of its class (indexed by [`Emotion::index`]): class c
    /// then makes up a share `w_c · n_c / Σ_k w_k · n_k` of the draws. Inverse-frequency
    /// weights (see [`super::inverse_frequency_weights`]) give balanced classes.
    ///
    /// Errors naming `labels` when there are none, and `class_weights` for a negative or
    /// non-finite weight, or when no class with samples has a positive weight.
    pub fn with_class_weights(labels: &[Emotion], weights: [f64; Emotion::COUNT]) -> Result<Self> {
        check_weights("class_weights", &weights)?;
        let members = members_by_class(labels)?;
        let proportions: [f64; Emotion::COUNT] =
            std::array::from_fn(|c| weights[c] * members[c].len() as f64);
        if proportions.iter().all(|&p| p == 0.0) {
            return Err(FerError::invalid_parameter(
                "class_weights",
                "no class with samples has a positive weight",
            ));
        }
        WeightedSampler::from_members(members, proportions)
    }

    fn from_members(members: Vec<Vec<usize>>, proportions: [f64; Emotion::COUNT]) -> Result<Self> {
        let total: f64 = proportions.iter().sum();
        let proportions = proportions.map(|p| p / total);
        let classes = WeightedIndex::new(proportions)
            .map_err(|e| FerError::invalid_parameter("class_proportions", e.to_string()))?;
        Ok(WeightedSampler {
            members,
            proportions,
            classes,
        })
    }

    /// The share of draws each class gets (sums to 1), indexed by [`Emotion::index`].
    pub fn proportions(&self) -> [f64; Emotion::COUNT] {
        self.proportions
    }

    /// Draws one sample index (into the labels the sampler was built from).
    pub fn sample<R: Rng>(&self, rng: &mut R) -> usize {
        let members = &self.members[self.classes.sample(rng)];
        // Never empty: a class with samples is the only kind with a positive proportion.
        members[rng.gen_range(0..members.len())]
    }

    /// `n` indices for one epoch, drawn with replacement from a ChaCha8 generator seeded with
    /// `seed`: the same seed gives the same epoch.
    pub fn epoch(&self, n: usize, seed: u64) -> Vec<usize> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| self.sample(&mut rng)).collect()
    }
}

/// The sample indices of each class.
fn members_by_class(labels: &[Emotion]) -> Result<Vec<Vec<usize>>> {
    if labels.is_empty() {
        return Err(FerError::invalid_parameter(
            "labels",
            "no labels: a sampler needs at least one sample",
        ));
    }
    let mut members = vec![Vec::new(); Emotion::COUNT];
    for (i, label) in labels.iter().enumerate() {
        members[label.index()].push(i);
    }
    Ok(members)
}

fn check_weights(name: &'static str, weights: &[f64; Emotion::COUNT]) -> Result<()> {
    for emotion in Emotion::ALL {
        let w = weights[emotion.index()];
        if !w.is_finite() || w < 0.0 {
            return Err(FerError::invalid_parameter(
                name,
                format!("{} has {w}: expected a finite value >= 0", emotion.name()),
            ));
        }
    }
    if weights.iter().all(|&w| w == 0.0) {
        return Err(FerError::invalid_parameter(name, "every entry is 0"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Labels with FER2013's Training counts (data README): 3995, 436, 4097, 7215, 4830, 3171,
    /// 4965 — disgust is 1.5%, happy 25%.
    fn fer2013_labels() -> Vec<Emotion> {
        let counts = [3995, 436, 4097, 7215, 4830, 3171, 4965];
        Emotion::ALL
            .iter()
            .zip(counts)
            .flat_map(|(&e, n)| std::iter::repeat_n(e, n))
            .collect()
    }

    /// Class frequencies over 100,000 draws.
    fn frequencies(sampler: &WeightedSampler, labels: &[Emotion]) -> [f64; Emotion::COUNT] {
        let mut counts = [0usize; Emotion::COUNT];
        for i in sampler.epoch(100_000, 17) {
            counts[labels[i].index()] += 1;
        }
        counts.map(|n| n as f64 / 100_000.0)
    }

    fn assert_within_one_point(got: [f64; 7], target: [f64; 7]) {
        // The binomial std of a share near 1/7 over 100,000 draws is 0.11 points, so a 1-point
        // miss would mean a wrong sampler, not bad luck.
        for c in 0..7 {
            assert!((got[c] - target[c]).abs() < 0.01, "{got:?} vs {target:?}");
        }
    }

    #[test]
    fn balanced_sampler_draws_each_class_a_seventh_of_the_time() {
        let labels = fer2013_labels();
        let sampler = WeightedSampler::balanced(&labels).unwrap();
        assert_within_one_point(frequencies(&sampler, &labels), [1.0 / 7.0; 7]);
    }

    #[test]
    fn custom_proportions_and_class_weights_are_reached() {
        let labels = fer2013_labels();
        let target = [0.1, 0.3, 0.1, 0.1, 0.1, 0.0, 0.3];
        let sampler = WeightedSampler::with_class_proportions(&labels, target).unwrap();
        assert_within_one_point(frequencies(&sampler, &labels), target);

        // Weight 2 for disgust, 1 elsewhere: disgust's share is 2·436 / (28709 + 436) = 2.99%.
        let mut weights = [1.0; 7];
        weights[Emotion::Disgust.index()] = 2.0;
        let sampler = WeightedSampler::with_class_weights(&labels, weights).unwrap();
        let shares = frequencies(&sampler, &labels);
        assert!((shares[1] - 872.0 / 29145.0).abs() < 0.01, "{shares:?}");
        assert!((sampler.proportions()[1] - 872.0 / 29145.0).abs() < 1e-12);
    }

    #[test]
    fn only_indices_of_the_right_class_and_seeded() {
        let labels = fer2013_labels();
        let sampler =
            WeightedSampler::with_class_proportions(&labels, [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
                .unwrap();
        let epoch = sampler.epoch(1000, 3);
        assert!(epoch.iter().all(|&i| labels[i] == Emotion::Disgust));
        assert_eq!(epoch, sampler.epoch(1000, 3));
        assert_ne!(epoch, sampler.epoch(1000, 4));
        // 1000 draws from 436 disgust faces reach most of them: rare faces are oversampled.
        let distinct: std::collections::HashSet<_> = epoch.iter().collect();
        assert!(distinct.len() > 300, "{}", distinct.len());
    }

    #[test]
    fn bad_inputs_are_rejected_at_build_time_by_name() {
        let labels = vec![Emotion::Happy, Emotion::Sad, Emotion::Happy];
        let expect = |result: Result<WeightedSampler>, name: &str, detail: &str| {
            let message = result.unwrap_err().to_string();
            assert!(
                message.contains(name) && message.contains(detail),
                "{message}"
            );
        };
        expect(
            WeightedSampler::balanced(&labels),
            "class_proportions",
            "angry",
        );
        expect(WeightedSampler::balanced(&[]), "labels", "no labels");
        let mut bad = [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0];
        bad[4] = -1.0;
        expect(
            WeightedSampler::with_class_proportions(&labels, bad),
            "class_proportions",
            "sad",
        );
        expect(
            WeightedSampler::with_class_proportions(&labels, [0.0; 7]),
            "class_proportions",
            "0",
        );
        let mut nan = [1.0; 7];
        nan[0] = f64::NAN;
        expect(
            WeightedSampler::with_class_weights(&labels, nan),
            "class_weights",
            "angry",
        );
        let mut absent_only = [0.0; 7];
        absent_only[Emotion::Fear.index()] = 1.0;
        expect(
            WeightedSampler::with_class_weights(&labels, absent_only),
            "class_weights",
            "positive weight",
        );
        // Absent classes with target 0 are fine.
        WeightedSampler::with_class_proportions(&labels, [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0])
            .unwrap();
    }
}
