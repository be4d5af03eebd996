//! Stratified subsets: a fraction of every (class, challenge split) group, so a small subset
//! keeps FER2013's class imbalance and its PublicTest/PrivateTest division.

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::{Dataset, Usage};
use crate::emotion::Emotion;
use crate::error::{FerError, Result};

/// `fraction` of the faces of each (emotion, usage) group of `data`, rounded to the nearest
/// face but at least `min_per_group` (or the whole group if it is smaller), chosen at random
/// with a ChaCha8 generator seeded by `seed`. Faces keep their original order.
///
/// ```
/// use fer_core::data::stratified_subset;
/// use fer_core::{Dataset, Emotion, Origin, Usage, IMAGE_PIXELS};
/// let mut data = Dataset::new();
/// for i in 0..100 {
///     let emotion = if i < 90 { Emotion::Happy } else { Emotion::Disgust };
///     data.push(&[0; IMAGE_PIXELS], emotion, Usage::Training, Origin::CsvLine(i));
/// }
/// let subset = stratified_subset(&data, 0.1, 2, 0)?;
/// assert_eq!(subset.class_counts()[Emotion::Happy.index()], 9);
/// assert_eq!(subset.class_counts()[Emotion::Disgust.index()], 2); // 1 rounded up to the minimum
/// # Ok::<(), fer_core::FerError>(())
/// ```
///
/// Errors if `fraction` is not in (0, 1].
pub fn stratified_subset(
    data: &Dataset,
    fraction: f64,
    min_per_group: usize,
    seed: u64,
) -> Result<Dataset> {
    if !(fraction > 0.0 && fraction <= 1.0) {
        return Err(FerError::invalid_parameter(
            "fraction",
            format!("{fraction}; expected a fraction in (0, 1]"),
        ));
    }
    let mut groups: BTreeMap<(Usage, Emotion), Vec<usize>> = BTreeMap::new();
    for (i, (&usage, &label)) in data.usages().iter().zip(data.labels()).enumerate() {
        groups.entry((usage, label)).or_default().push(i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chosen = Vec::new();
    for members in groups.values_mut() {
        members.shuffle(&mut rng);
        let take = ((members.len() as f64 * fraction).round() as usize)
            .max(min_per_group)
            .min(members.len());
        chosen.extend_from_slice(&members[..take]);
    }
    chosen.sort_unstable();
    Ok(data.select(&chosen))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Origin, IMAGE_PIXELS};

    #[test]
    fn keeps_every_group_and_is_reproducible() {
        let mut data = Dataset::new();
        for i in 0..400u64 {
            let usage = if i % 2 == 0 {
                Usage::PublicTest
            } else {
                Usage::PrivateTest
            };
            let emotion = Emotion::ALL[(i % 7) as usize];
            data.push(&[i as u8; IMAGE_PIXELS], emotion, usage, Origin::CsvLine(i));
        }
        let a = stratified_subset(&data, 0.25, 1, 3).unwrap();
        assert_eq!(a, stratified_subset(&data, 0.25, 1, 3).unwrap());
        assert_ne!(a, stratified_subset(&data, 0.25, 1, 4).unwrap());
        // Each (usage, emotion) group holds 28 or 29 faces; a quarter rounds to 7.
        for usage in [Usage::PublicTest, Usage::PrivateTest] {
            assert_eq!(a.with_usage(usage).class_counts(), [7; 7]);
        }
        assert!(stratified_subset(&data, 0.0, 1, 0).is_err());
        assert_eq!(stratified_subset(&data, 1.0, 1, 0).unwrap(), data);
    }
}
