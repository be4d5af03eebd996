//! Random crop with padding: the face is padded on every side and a 48x48 window is cut at a
//! random place, which shifts the face by up to `padding` pixels each way.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::data::IMAGE_SIDE;
use crate::error::{FerError, Result};

/// Largest accepted padding: a shift of half the image or more can move the whole face out.
pub const MAX_CROP_PADDING: usize = IMAGE_SIDE / 2 - 1;

/// Settings of the random crop with padding (a random translation).
///
/// The padding replicates the edge pixels (Keras's `fill_mode="nearest"`, torchvision's
/// `padding_mode="edge"`) rather than adding black bars, which never occur in real test faces.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RandomCrop {
    /// Chance that a sample is shifted at all, in [0, 1].
    pub probability: f32,
    /// Largest shift in pixels along each axis, at most [`MAX_CROP_PADDING`].
    pub padding: usize,
}

impl RandomCrop {
    /// Checks the settings, naming the faulty parameter as the pipeline builder spells it.
    pub(crate) fn validate(&self) -> Result<()> {
        super::validate::check_probability("crop_probability", self.probability)?;
        if self.padding > MAX_CROP_PADDING {
            return Err(FerError::invalid_parameter(
                "crop_padding",
                format!(
                    "{} pixels: the crop window would leave a {IMAGE_SIDE}x{IMAGE_SIDE} face; \
                     at most {MAX_CROP_PADDING}",
                    self.padding
                ),
            ));
        }
        Ok(())
    }

    /// Draws the shift (dx, dy), each uniform in [-padding, padding].
    pub(crate) fn sample_shift<R: Rng>(&self, rng: &mut R) -> (isize, isize) {
        let padding = self.padding as isize;
        (
            rng.gen_range(-padding..=padding),
            rng.gen_range(-padding..=padding),
        )
    }
}

/// Writes `src` shifted by (dx, dy) into `dst` (the content moves right by dx and down by dy),
/// filling the uncovered border with the nearest edge pixel.
///
/// Hand-written rather than imageproc's `translate`, which allocates a new image and works on
/// `u8`/`ImageBuffer`s, while this runs on the pipeline's f32 scratch buffers.
pub fn shift_replicate(src: &[f32], dst: &mut [f32], dx: isize, dy: isize) {
    let side = IMAGE_SIDE as isize;
    let clamp = |v: isize| v.clamp(0, side - 1) as usize;
    for (y, dst_row) in dst.chunks_exact_mut(IMAGE_SIDE).enumerate() {
        let src_row = &src[clamp(y as isize - dy) * IMAGE_SIDE..][..IMAGE_SIDE];
        for (x, value) in dst_row.iter_mut().enumerate() {
            *value = src_row[clamp(x as isize - dx)];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::IMAGE_PIXELS;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn shift_moves_content_and_replicates_the_edge() {
        let src: Vec<f32> = (0..IMAGE_PIXELS).map(|i| i as f32).collect();
        let mut dst = vec![0.0; IMAGE_PIXELS];
        shift_replicate(&src, &mut dst, 2, -1);
        // dst(x, y) = src(x - 2, y + 1): pixel (5, 3) comes from (3, 4) = 4 * 48 + 3.
        assert_eq!(dst[3 * IMAGE_SIDE + 5], (4 * IMAGE_SIDE + 3) as f32);
        // Column 0 and 1 repeat source column 0; the last row repeats the source's last row.
        assert_eq!(dst[3 * IMAGE_SIDE], (4 * IMAGE_SIDE) as f32);
        assert_eq!(dst[3 * IMAGE_SIDE + 1], (4 * IMAGE_SIDE) as f32);
        assert_eq!(dst[47 * IMAGE_SIDE + 10], (47 * IMAGE_SIDE + 8) as f32);
        shift_replicate(&src, &mut dst, 0, 0);
        assert_eq!(dst, src);
    }

    #[test]
    fn shifts_stay_within_the_padding_and_reach_both_ends() {
        let crop = RandomCrop {
            probability: 1.0,
            padding: 3,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let shifts: Vec<_> = (0..2000).map(|_| crop.sample_shift(&mut rng)).collect();
        assert!(shifts
            .iter()
            .all(|&(dx, dy)| dx.abs() <= 3 && dy.abs() <= 3));
        assert!(shifts.iter().any(|&(dx, _)| dx == -3));
        assert!(shifts.iter().any(|&(_, dy)| dy == 3));
    }

    #[test]
    fn padding_of_half_the_image_is_rejected_by_name() {
        let crop = RandomCrop {
            probability: 1.0,
            padding: 24,
        };
        let message = crop.validate().unwrap_err().to_string();
        assert!(message.contains("crop_padding"), "{message}");
    }
}
