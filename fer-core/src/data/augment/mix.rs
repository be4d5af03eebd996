//! Batch-level mixup (Zhang et al. 2018) and cutmix (Yun et al. 2019) for the training loop:
//! they blend pairs of faces of a batch and return soft label targets to match.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution};
use serde::{Deserialize, Serialize};

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};
use crate::emotion::Emotion;
use crate::error::{FerError, Result};

/// How two faces are blended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MixMode {
    /// Pixel-wise `λ·a + (1-λ)·b`, targets mixed with the same λ.
    Mixup,
    /// A rectangle of `b` pasted into `a`; λ is the share of `a`'s pixels left.
    CutMix,
}

/// Batch-level mixing: with probability `probability` a batch is mixed with a random
/// permutation of itself, λ drawn from Beta(alpha, alpha).
///
/// Usual settings: mixup alpha 0.2-0.4, cutmix alpha 1.0, probability 1.0 (both papers mix
/// every batch).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BatchMix {
    mode: MixMode,
    alpha: f32,
    probability: f32,
}

impl BatchMix {
    /// Mixup with Beta(`alpha`, `alpha`) weights, applied to a batch with `probability`.
    /// Errors name `mix_alpha` (must be finite and > 0) or `mix_probability` (in [0, 1]).
    pub fn mixup(alpha: f32, probability: f32) -> Result<Self> {
        BatchMix::new(MixMode::Mixup, alpha, probability)
    }

    /// Cutmix with Beta(`alpha`, `alpha`) area shares, applied to a batch with `probability`.
    /// Errors as [`BatchMix::mixup`].
    pub fn cutmix(alpha: f32, probability: f32) -> Result<Self> {
        BatchMix::new(MixMode::CutMix, alpha, probability)
    }

    /// Either mode, checked as [`BatchMix::mixup`].
    pub fn new(mode: MixMode, alpha: f32, probability: f32) -> Result<Self> {
        if !(alpha.is_finite() && alpha > 0.0) {
            return Err(FerError::invalid_parameter(
                "mix_alpha",
                format!("{alpha}: the Beta distribution needs a finite alpha > 0"),
            ));
        }
        super::validate::check_probability("mix_probability", probability)?;
        Ok(BatchMix {
            mode,
            alpha,
            probability,
        })
    }

    /// The blending mode.
    pub fn mode(&self) -> MixMode {
        self.mode
    }

    /// Mixes `batch` (NCHW `[labels.len(), 1, 48, 48]`, values in [0, 1]) in place and returns
    /// the soft targets, row-major `[labels.len(), 7]`, each row summing to 1. A batch left
    /// unmixed (probability) gets one-hot targets. The same seed gives the same result.
    ///
    /// Errors on a batch whose length is not `labels.len() * 2304`.
    pub fn apply(&self, batch: &mut [f32], labels: &[Emotion], seed: u64) -> Result<Vec<f32>> {
        let n = labels.len();
        if batch.len() != n * IMAGE_PIXELS {
            return Err(FerError::ShapeMismatch(format!(
                "BatchMix::apply: {n} labels need a batch of {} floats, got {}",
                n * IMAGE_PIXELS,
                batch.len()
            )));
        }
        let mut targets = vec![0.0f32; n * Emotion::COUNT];
        for (row, label) in targets.chunks_exact_mut(Emotion::COUNT).zip(labels) {
            row[label.index()] = 1.0;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        if n < 2 || rng.gen::<f32>() >= self.probability {
            return Ok(targets);
        }
        let beta = Beta::new(self.alpha, self.alpha)
            .map_err(|e| FerError::invalid_parameter("mix_alpha", e.to_string()))?;
        let lambda: f32 = beta.sample(&mut rng);
        let mut partner: Vec<usize> = (0..n).collect();
        partner.shuffle(&mut rng);
        let source = batch.to_vec();

        let kept = match self.mode {
            MixMode::Mixup => {
                for (i, image) in batch.chunks_exact_mut(IMAGE_PIXELS).enumerate() {
                    let other = &source[partner[i] * IMAGE_PIXELS..][..IMAGE_PIXELS];
                    for (a, &b) in image.iter_mut().zip(other) {
                        *a = lambda * *a + (1.0 - lambda) * b;
                    }
                }
                lambda
            }
            MixMode::CutMix => {
                let (x0, x1, y0, y1) = cut_box(lambda, &mut rng);
                for (i, image) in batch.chunks_exact_mut(IMAGE_PIXELS).enumerate() {
                    let other = &source[partner[i] * IMAGE_PIXELS..][..IMAGE_PIXELS];
                    for y in y0..y1 {
                        let row = y * IMAGE_SIDE;
                        image[row + x0..row + x1].copy_from_slice(&other[row + x0..row + x1]);
                    }
                }
                // The box is clipped at the border, so λ is recomputed from the pasted area.
                1.0 - ((x1 - x0) * (y1 - y0)) as f32 / IMAGE_PIXELS as f32
            }
        };

        for (i, row) in targets.chunks_exact_mut(Emotion::COUNT).enumerate() {
            row.fill(0.0);
            row[labels[i].index()] += kept;
            row[labels[partner[i]].index()] += 1.0 - kept;
        }
        Ok(targets)
    }
}

/// The cutmix box for share `lambda` kept: sides `48·sqrt(1-λ)` centred at a uniform point,
/// clipped to the face; returns (x0, x1, y0, y1), ends exclusive.
fn cut_box<R: Rng>(lambda: f32, rng: &mut R) -> (usize, usize, usize, usize) {
    let side = IMAGE_SIDE as f32;
    let cut = (side * (1.0 - lambda).max(0.0).sqrt()).round() as isize;
    let cx = rng.gen_range(0..IMAGE_SIDE) as isize;
    let cy = rng.gen_range(0..IMAGE_SIDE) as isize;
    let clip = |v: isize| v.clamp(0, IMAGE_SIDE as isize) as usize;
    (
        clip(cx - cut / 2),
        clip(cx + cut - cut / 2),
        clip(cy - cut / 2),
        clip(cy + cut - cut / 2),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seven constant faces, face k of value (k + 1) / 10 labelled with emotion k: the mean of a
    /// mixed face then tells how much of each source it holds.
    fn batch() -> (Vec<f32>, Vec<Emotion>) {
        let pixels = (0..7)
            .flat_map(|k| std::iter::repeat_n((k + 1) as f32 / 10.0, IMAGE_PIXELS))
            .collect();
        (pixels, Emotion::ALL.to_vec())
    }

    fn check_mixed_faces_match_their_targets(mix: BatchMix) {
        for seed in 0..20 {
            let (mut pixels, labels) = batch();
            let targets = mix.apply(&mut pixels, &labels, seed).unwrap();
            for (image, row) in pixels
                .chunks_exact(IMAGE_PIXELS)
                .zip(targets.chunks_exact(Emotion::COUNT))
            {
                assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
                assert!(row.iter().all(|&w| (0.0..=1.0).contains(&w)));
                assert!(image.iter().all(|v| (0.0..=1.0).contains(v)));
                // mean(face) = Σ_k target_k · value_k, for mixup (pixel-wise blend) and cutmix
                // (area shares) alike.
                let mean = image.iter().map(|&v| f64::from(v)).sum::<f64>() / IMAGE_PIXELS as f64;
                let expected: f64 = row
                    .iter()
                    .enumerate()
                    .map(|(k, &w)| f64::from(w) * (k + 1) as f64 / 10.0)
                    .sum();
                assert!(
                    (mean - expected).abs() < 1e-5,
                    "seed {seed}: {mean} vs {expected}"
                );
            }
        }
    }

    #[test]
    fn mixup_faces_match_their_soft_targets() {
        check_mixed_faces_match_their_targets(BatchMix::mixup(0.4, 1.0).unwrap());
    }

    #[test]
    fn cutmix_faces_match_their_soft_targets() {
        check_mixed_faces_match_their_targets(BatchMix::cutmix(1.0, 1.0).unwrap());
    }

    #[test]
    fn mixing_changes_the_batch_and_is_seeded() {
        for mix in [BatchMix::mixup(1.0, 1.0), BatchMix::cutmix(1.0, 1.0)] {
            let mix = mix.unwrap();
            let (original, labels) = batch();
            let (mut a, mut b, mut c) = (original.clone(), original.clone(), original.clone());
            let ta = mix.apply(&mut a, &labels, 5).unwrap();
            assert_eq!(ta, mix.apply(&mut b, &labels, 5).unwrap());
            assert_eq!(a, b);
            assert_ne!(a, original);
            mix.apply(&mut c, &labels, 6).unwrap();
            assert_ne!(a, c);
        }
    }

    #[test]
    fn probability_zero_leaves_the_batch_and_gives_one_hot_targets() {
        let (original, labels) = batch();
        let mut pixels = original.clone();
        let targets = BatchMix::mixup(0.2, 0.0)
            .unwrap()
            .apply(&mut pixels, &labels, 1)
            .unwrap();
        assert_eq!(pixels, original);
        for (k, row) in targets.chunks_exact(Emotion::COUNT).enumerate() {
            assert_eq!(row[k], 1.0);
            assert_eq!(row.iter().sum::<f32>(), 1.0);
        }
    }

    #[test]
    fn bad_parameters_and_shapes_are_errors() {
        for (result, name) in [
            (BatchMix::mixup(0.0, 1.0), "mix_alpha"),
            (BatchMix::cutmix(f32::NAN, 1.0), "mix_alpha"),
            (BatchMix::mixup(0.2, 1.5), "mix_probability"),
        ] {
            let message = result.unwrap_err().to_string();
            assert!(message.contains(name), "{message}");
        }
        let mut short = vec![0.0; 10];
        let err = BatchMix::mixup(0.2, 1.0)
            .unwrap()
            .apply(&mut short, &[Emotion::Happy], 0)
            .unwrap_err();
        assert!(matches!(err, FerError::ShapeMismatch(_)));
    }
}
