//! SMOTE (Chawla et al. 2002) for the baseline's feature vectors: synthetic samples of a rare
//! class on the segments between a sample and one of its nearest same-class neighbours.

use std::collections::HashMap;

use linfa_nn::distance::L2Dist;
use linfa_nn::{CommonNearestNeighbour, NearestNeighbour};
use ndarray::{Array2, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::emotion::Emotion;
use crate::error::{FerError, Result};

/// Neighbours per sample unless told otherwise: 5, as in the paper and imbalanced-learn.
pub const DEFAULT_SMOTE_NEIGHBOURS: usize = 5;

/// Below this many features a k-d tree beats a linear scan; above it (raw pixels, HOG) k-d trees
/// degrade to visiting most points anyway.
const KD_TREE_MAX_DIMENSIONS: usize = 16;

/// SMOTE oversampling with `k_neighbours` nearest neighbours (Euclidean, from linfa-nn).
///
/// A synthetic sample of class c is `x + u · (n - x)`: x a random sample of class c, n one of
/// its k nearest class-c neighbours at random, u uniform in [0, 1). Features should be scaled
/// (standardised) first, since distances mix them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smote {
    k_neighbours: usize,
}

impl Default for Smote {
    /// [`DEFAULT_SMOTE_NEIGHBOURS`] neighbours.
    fn default() -> Self {
        Smote {
            k_neighbours: DEFAULT_SMOTE_NEIGHBOURS,
        }
    }
}

impl Smote {
    /// SMOTE with `k_neighbours` neighbours; errors naming `k_neighbours` when it is 0. A class
    /// with m <= k samples uses its m - 1 other samples.
    pub fn new(k_neighbours: usize) -> Result<Self> {
        if k_neighbours == 0 {
            return Err(FerError::invalid_parameter(
                "k_neighbours",
                "0: SMOTE needs at least one neighbour to interpolate towards",
            ));
        }
        Ok(Smote { k_neighbours })
    }

    /// The input followed by synthetic samples that bring every class present up to the count
    /// of the largest class. Classes absent from `labels` stay absent.
    ///
    /// Errors as [`Smote::synthesize`].
    pub fn oversample(
        &self,
        features: &Array2<f32>,
        labels: &[Emotion],
        seed: u64,
    ) -> Result<(Array2<f32>, Vec<Emotion>)> {
        let counts = class_counts(labels);
        let largest = counts.iter().copied().max().unwrap_or(0);
        let targets = counts.map(|n| if n == 0 { 0 } else { largest });
        let (synthetic, synthetic_labels) = self.synthesize(features, labels, targets, seed)?;
        let all = ndarray::concatenate(Axis(0), &[features.view(), synthetic.view()])
            .map_err(|e| FerError::ShapeMismatch(format!("SMOTE: {e}")))?;
        let mut all_labels = labels.to_vec();
        all_labels.extend(synthetic_labels);
        Ok((all, all_labels))
    }

    /// Only the synthetic samples: `target_counts[c] - n_c` of each class c whose count is
    /// below its target (indexed by [`Emotion::index`]), class by class. Seeded: the same
    /// seed gives the same samples.
    ///
    /// Errors: `features` rows and `labels` of different lengths; a non-finite feature (named
    /// by row and column); a class to oversample with fewer than 2 samples (`target_counts`).
    pub fn synthesize(
        &self,
        features: &Array2<f32>,
        labels: &[Emotion],
        target_counts: [usize; Emotion::COUNT],
        seed: u64,
    ) -> Result<(Array2<f32>, Vec<Emotion>)> {
        if features.nrows() != labels.len() {
            return Err(FerError::ShapeMismatch(format!(
                "SMOTE: {} feature rows but {} labels",
                features.nrows(),
                labels.len()
            )));
        }
        if let Some(((row, column), value)) = features.indexed_iter().find(|(_, v)| !v.is_finite())
        {
            return Err(FerError::invalid_parameter(
                "features",
                format!("row {row}, column {column} is {value}: SMOTE needs finite features"),
            ));
        }
        let counts = class_counts(labels);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut rows: Vec<f32> = Vec::new();
        let mut synthetic_labels = Vec::new();
        for emotion in Emotion::ALL {
            let c = emotion.index();
            let needed = target_counts[c].saturating_sub(counts[c]);
            if needed == 0 {
                continue;
            }
            if counts[c] < 2 {
                return Err(FerError::invalid_parameter(
                    "target_counts",
                    format!(
                        "{} needs {needed} synthetic samples but has {} real ones; SMOTE \
                         interpolates between at least 2",
                        emotion.name(),
                        counts[c]
                    ),
                ));
            }
            let members: Vec<usize> = (0..labels.len())
                .filter(|&i| labels[i] == emotion)
                .collect();
            let class_features = features.select(Axis(0), &members);
            rows.extend(self.synthesize_class(class_features.view(), needed, &mut rng)?);
            synthetic_labels.extend(std::iter::repeat_n(emotion, needed));
        }
        let synthetic = Array2::from_shape_vec((synthetic_labels.len(), features.ncols()), rows)
            .map_err(|e| FerError::ShapeMismatch(format!("SMOTE: {e}")))?;
        Ok((synthetic, synthetic_labels))
    }

    /// `needed` synthetic rows (flattened) from the rows of one class (at least 2).
    fn synthesize_class<R: Rng>(
        &self,
        class: ArrayView2<'_, f32>,
        needed: usize,
        rng: &mut R,
    ) -> Result<Vec<f32>> {
        let m = class.nrows();
        let k = self.k_neighbours.min(m - 1);
        // Draw every (base, neighbour rank, gap) first, so the neighbour searches (the costly
        // part) run once per distinct base and in parallel, without touching the generator.
        let draws: Vec<(usize, usize, f32)> = (0..needed)
            .map(|_| (rng.gen_range(0..m), rng.gen_range(0..k), rng.gen::<f32>()))
            .collect();
        let mut bases: Vec<usize> = draws.iter().map(|&(base, _, _)| base).collect();
        bases.sort_unstable();
        bases.dedup();

        let neighbours = nearest_neighbours(class, &bases, k)?;

        let mut rows = Vec::with_capacity(needed * class.ncols());
        for (base, rank, gap) in draws {
            let near = &neighbours[&base];
            let neighbour = near[rank.min(near.len() - 1)];
            let (x, n) = (class.row(base), class.row(neighbour));
            rows.extend(x.iter().zip(n.iter()).map(|(&a, &b)| a + gap * (b - a)));
        }
        Ok(rows)
    }
}

/// The `k` nearest other rows of `class` for each row index in `bases` (Euclidean).
///
/// Up to [`KD_TREE_MAX_DIMENSIONS`] features this is linfa-nn's k-d tree. Above, it is an exact
/// brute force written as a matrix product, `|b - x|² = |b|² + |x|² - 2 b·x` with ndarray's
/// `dot`: linfa-nn's linear scan computes one distance at a time and took 206 s to SMOTE
/// FER2013-sized raw pixels (28,709 x 2,304) here, against the ~40 s of the logistic fit itself.
fn nearest_neighbours(
    class: ArrayView2<'_, f32>,
    bases: &[usize],
    k: usize,
) -> Result<HashMap<usize, Vec<usize>>> {
    if class.ncols() <= KD_TREE_MAX_DIMENSIONS {
        let index = CommonNearestNeighbour::KdTree
            .from_batch(&class, L2Dist)
            .map_err(|e| FerError::invalid_parameter("features", format!("SMOTE: {e}")))?;
        return bases
            .par_iter()
            .map(|&base| {
                let found = index
                    .k_nearest(class.row(base), k + 1)
                    .map_err(|e| FerError::ShapeMismatch(format!("SMOTE: {e}")))?;
                // The base itself comes back at distance 0; an exact duplicate may come first.
                let mut others: Vec<usize> = found
                    .into_iter()
                    .map(|(_, i)| i)
                    .filter(|&i| i != base)
                    .collect();
                others.truncate(k);
                Ok((base, others))
            })
            .collect();
    }

    let squared_norms: Vec<f32> = class.rows().into_iter().map(|r| r.dot(&r)).collect();
    // Blocks of bases keep the distance matrix small (256 x class size) and feed rayon.
    const BLOCK: usize = 256;
    let found: Vec<Vec<(usize, Vec<usize>)>> = bases
        .par_chunks(BLOCK)
        .map(|block| {
            let queries = class.select(Axis(0), block);
            let products = queries.dot(&class.t()); // [block, m]
            block
                .iter()
                .zip(products.rows())
                .map(|(&base, row)| {
                    let mut candidates: Vec<(f32, usize)> = row
                        .iter()
                        .enumerate()
                        .filter(|&(i, _)| i != base)
                        .map(|(i, &product)| {
                            (squared_norms[base] + squared_norms[i] - 2.0 * product, i)
                        })
                        .collect();
                    let k = k.min(candidates.len());
                    if k < candidates.len() {
                        candidates.select_nth_unstable_by(k, |a, b| a.0.total_cmp(&b.0));
                        candidates.truncate(k);
                    }
                    candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
                    (base, candidates.into_iter().map(|(_, i)| i).collect())
                })
                .collect()
        })
        .collect();
    Ok(found.into_iter().flatten().collect())
}

fn class_counts(labels: &[Emotion]) -> [usize; Emotion::COUNT] {
    let mut counts = [0; Emotion::COUNT];
    for label in labels {
        counts[label.index()] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array1};

    /// 2-D points: 40 happy ones on a wide grid, and a rare class (8 sad ones) in a separate
    /// irregular cluster, so that segments of the wrong class or to far points are detectable.
    fn data() -> (Array2<f32>, Vec<Emotion>) {
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for i in 0..40 {
            rows.extend([(i % 8) as f32, (i / 8) as f32]);
            labels.push(Emotion::Happy);
        }
        let sad = [
            [20.0, 0.0],
            [21.0, 0.5],
            [20.5, 2.0],
            [23.0, 1.0],
            [26.0, 4.0],
            [27.0, 3.0],
            [22.0, 6.0],
            [30.0, 0.0],
        ];
        for point in sad {
            rows.extend(point);
            labels.push(Emotion::Sad);
        }
        (Array2::from_shape_vec((48, 2), rows).unwrap(), labels)
    }

    /// The k nearest same-class points of `base`, by brute force.
    fn brute_neighbours(points: &[Array1<f32>], base: usize, k: usize) -> Vec<usize> {
        let mut others: Vec<usize> = (0..points.len()).filter(|&i| i != base).collect();
        let dist = |i: usize| (&points[i] - &points[base]).mapv(|v| v * v).sum();
        others.sort_by(|&a, &b| dist(a).total_cmp(&dist(b)));
        others.truncate(k);
        others
    }

    #[test]
    fn synthetic_samples_lie_on_segments_to_same_class_neighbours() {
        let (features, labels) = data();
        let k = 3;
        let (all, all_labels) = Smote::new(k)
            .unwrap()
            .oversample(&features, &labels, 7)
            .unwrap();
        // Sad goes from 8 to the majority's 40: 32 synthetic rows, appended after the input.
        assert_eq!(all.nrows(), 48 + 32);
        assert_eq!(all.slice(ndarray::s![..48, ..]), features);
        assert!(all_labels[48..].iter().all(|&l| l == Emotion::Sad));

        let sad: Vec<Array1<f32>> = (40..48).map(|i| features.row(i).to_owned()).collect();
        for row in all.rows().into_iter().skip(48) {
            // Some sad point a and one of its 3 nearest sad neighbours b with
            // |s - a| + |s - b| = |a - b|: s lies on the segment [a, b].
            let on_segment = (0..sad.len()).any(|a| {
                brute_neighbours(&sad, a, k).into_iter().any(|b| {
                    let norm = |v: Array1<f32>| v.mapv(|x| x * x).sum().sqrt();
                    let detour =
                        norm(&row - &sad[a]) + norm(&row - &sad[b]) - norm(&sad[b] - &sad[a]);
                    detour.abs() < 1e-4
                })
            });
            assert!(on_segment, "{row} is on no segment between sad neighbours");
        }
    }

    #[test]
    fn synthesize_hits_the_targets_and_is_seeded() {
        let (features, labels) = data();
        let smote = Smote::default();
        let mut targets = [0; 7];
        targets[Emotion::Sad.index()] = 20;
        targets[Emotion::Happy.index()] = 10; // already above: nothing to add
        let (a, la) = smote.synthesize(&features, &labels, targets, 1).unwrap();
        assert_eq!((a.nrows(), la.len()), (12, 12));
        let (b, _) = smote.synthesize(&features, &labels, targets, 1).unwrap();
        assert_eq!(a, b);
        let (c, _) = smote.synthesize(&features, &labels, targets, 2).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn high_dimensional_features_stay_between_neighbours() {
        // 3 points in 100 dimensions, class of 3: each synthetic row is between two of them,
        // so every coordinate lies within the class's per-coordinate range.
        let features = Array2::from_shape_fn((3, 100), |(i, j)| (i * 100 + j) as f32 / 300.0);
        let labels = vec![Emotion::Fear; 3];
        let mut targets = [0; 7];
        targets[Emotion::Fear.index()] = 10;
        let (synthetic, _) = Smote::new(2)
            .unwrap()
            .synthesize(&features, &labels, targets, 0)
            .unwrap();
        assert_eq!(synthetic.nrows(), 7);
        for row in synthetic.rows() {
            for (j, &v) in row.iter().enumerate() {
                let (low, high) = (j as f32 / 300.0, (200 + j) as f32 / 300.0);
                assert!((low - 1e-6..=high + 1e-6).contains(&v));
            }
        }
    }

    #[test]
    fn matrix_product_neighbours_match_linfa_linear_search() {
        // 300 random points in 40 dimensions (above the k-d tree threshold).
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let class = Array2::from_shape_fn((300, 40), |_| rng.gen::<f32>());
        let bases: Vec<usize> = (0..300).step_by(7).collect();
        let ours = nearest_neighbours(class.view(), &bases, 5).unwrap();
        let index = CommonNearestNeighbour::LinearSearch
            .from_batch(&class, L2Dist)
            .unwrap();
        for &base in &bases {
            let expected: Vec<usize> = index
                .k_nearest(class.row(base), 6)
                .unwrap()
                .into_iter()
                .map(|(_, i)| i)
                .filter(|&i| i != base)
                .take(5)
                .collect();
            assert_eq!(ours[&base], expected, "base {base}");
        }
    }

    #[test]
    fn bad_inputs_are_errors_naming_the_culprit() {
        assert!(Smote::new(0)
            .unwrap_err()
            .to_string()
            .contains("k_neighbours"));
        let features = array![[0.0f32, 1.0], [f32::NAN, 2.0], [3.0, 4.0]];
        let labels = [Emotion::Sad, Emotion::Sad, Emotion::Happy];
        let message = Smote::default()
            .oversample(&features, &labels, 0)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("features") && message.contains("row 1"),
            "{message}"
        );

        let features = array![[0.0f32, 1.0], [1.0, 2.0], [3.0, 4.0]];
        let message = Smote::default()
            .oversample(&features, &labels, 0)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("target_counts") && message.contains("happy"),
            "{message}"
        );

        let err = Smote::default()
            .oversample(&features, &labels[..2], 0)
            .unwrap_err();
        assert!(matches!(err, FerError::ShapeMismatch(_)));
    }
}
