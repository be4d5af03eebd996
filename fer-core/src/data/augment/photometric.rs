//! Brightness, contrast and gamma jitter, applied as one lookup table on the 8-bit source pixels.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::data::Face;
use crate::error::{FerError, Result};

/// One lookup entry per 8-bit grey level.
pub type Lut = [f32; 256];

/// Settings of the brightness, contrast and gamma jitter.
///
/// With `v` a pixel in [0, 1], `m` the face's mean, and b, c, g drawn uniformly:
/// `v' = clamp(m + c * (v - m) + b, 0, 1) ^ g`. All three are point-wise, so the pipeline builds
/// a 256-entry table once per face (256 `powf` instead of 2,304) and applies it while converting
/// the 8-bit face to f32, before the geometric transforms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PhotometricJitter {
    /// Chance that a sample is jittered at all, in [0, 1].
    pub probability: f32,
    /// b is uniform in [-brightness, brightness], in units of full scale; in [0, 1].
    pub brightness: f32,
    /// c is uniform in [1 - contrast, 1 + contrast]; in [0, 1].
    pub contrast: f32,
    /// g is uniform in [min, max]; both positive, 1 leaves the face unchanged.
    pub gamma_range: (f32, f32),
}

impl PhotometricJitter {
    /// Checks the settings, naming the faulty parameter as the pipeline builder spells it.
    pub(crate) fn validate(&self) -> Result<()> {
        super::validate::check_probability("photometric_probability", self.probability)?;
        super::validate::check_unit("brightness", self.brightness)?;
        super::validate::check_unit("contrast", self.contrast)?;
        let (low, high) = self.gamma_range;
        super::validate::check_range("gamma_range", low, high)?;
        if low <= 0.0 {
            return Err(FerError::invalid_parameter(
                "gamma_range",
                format!("({low}, {high}): gamma must be positive"),
            ));
        }
        Ok(())
    }

    /// Draws the jitter for `face` and returns its lookup table from 8-bit level to [0, 1].
    pub(crate) fn sample_lut<R: Rng>(&self, rng: &mut R, face: &Face) -> Lut {
        let brightness = rng.gen_range(-self.brightness..=self.brightness);
        let contrast = rng.gen_range(1.0 - self.contrast..=1.0 + self.contrast);
        let (low, high) = self.gamma_range;
        let gamma = rng.gen_range(low..=high);
        let mean =
            face.iter().map(|&p| u32::from(p)).sum::<u32>() as f32 / (face.len() as f32 * 255.0);
        jitter_lut(brightness, contrast, gamma, mean)
    }
}

/// The table mapping an 8-bit level to `clamp(mean + contrast * (v - mean) + brightness)^gamma`.
pub fn jitter_lut(brightness: f32, contrast: f32, gamma: f32, mean: f32) -> Lut {
    let mut lut = [0.0; 256];
    for (level, entry) in lut.iter_mut().enumerate() {
        let v = level as f32 / 255.0;
        let adjusted = (mean + contrast * (v - mean) + brightness).clamp(0.0, 1.0);
        *entry = adjusted.powf(gamma);
    }
    lut
}

/// The table that only rescales 8-bit levels to [0, 1].
pub fn identity_lut() -> Lut {
    std::array::from_fn(|level| level as f32 / 255.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutral_jitter_is_the_identity_table() {
        // Equal up to f32 rounding of `mean + 1 * (v - mean)`.
        let lut = jitter_lut(0.0, 1.0, 1.0, 0.4);
        for (a, b) in lut.iter().zip(identity_lut()) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn each_knob_moves_levels_as_documented() {
        // Brightness +0.1: level 0 becomes 0.1, the top level stays clipped at 1.
        let lut = jitter_lut(0.1, 1.0, 1.0, 0.5);
        assert!((lut[0] - 0.1).abs() < 1e-6 && lut[255] == 1.0);
        // Contrast 0.5 about mean 0.4: 1.0 -> 0.4 + 0.5 * 0.6 = 0.7, 0 -> 0.2.
        let lut = jitter_lut(0.0, 0.5, 1.0, 0.4);
        assert!((lut[255] - 0.7).abs() < 1e-6 && (lut[0] - 0.2).abs() < 1e-6);
        // Gamma 2: level 51 (0.2) -> 0.04.
        let lut = jitter_lut(0.0, 1.0, 2.0, 0.4);
        assert!((lut[51] - 0.04).abs() < 1e-6);
    }

    #[test]
    fn bad_settings_are_rejected_by_name() {
        let good = PhotometricJitter {
            probability: 0.5,
            brightness: 0.1,
            contrast: 0.2,
            gamma_range: (0.8, 1.25),
        };
        assert!(good.validate().is_ok());
        let cases = [
            (
                PhotometricJitter {
                    brightness: -0.1,
                    ..good
                },
                "brightness",
            ),
            (
                PhotometricJitter {
                    contrast: 1.5,
                    ..good
                },
                "contrast",
            ),
            (
                PhotometricJitter {
                    gamma_range: (0.0, 1.0),
                    ..good
                },
                "gamma_range",
            ),
            (
                PhotometricJitter {
                    gamma_range: (1.2, 0.8),
                    ..good
                },
                "gamma_range",
            ),
        ];
        for (settings, name) in cases {
            let message = settings.validate().unwrap_err().to_string();
            assert!(message.contains(name), "{message}");
        }
    }
}
