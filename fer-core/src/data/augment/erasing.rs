//! Random erasing (Zhong et al. 2020): a random rectangle of the face is hidden, so the network
//! cannot rely on one region (the mouth, say) alone.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::data::IMAGE_SIDE;
use crate::error::{FerError, Result};

/// What an erased rectangle is filled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErasingFill {
    /// Independent uniform values in [0, 1] (torchvision's `value="random"`).
    Noise,
    /// The face's own mean value, which hides the region without adding edges of a new colour.
    Mean,
}

/// Settings of random erasing. The rectangle is drawn as torchvision's `RandomErasing` does: an
/// area fraction uniform in `area_range`, a log-uniform aspect ratio (height / width) in
/// `aspect_range`, up to 10 attempts to fit it inside the face, and no erasing if none fits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RandomErasing {
    /// Chance that a sample has a rectangle erased, in [0, 1].
    pub probability: f32,
    /// Fraction of the face's area to erase: 0 < min <= max <= 1.
    pub area_range: (f32, f32),
    /// Height / width of the rectangle: 0 < min <= max.
    pub aspect_range: (f32, f32),
    /// What the rectangle is filled with.
    pub fill: ErasingFill,
}

/// A rectangle of the face: top-left corner and size, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left column.
    pub x: usize,
    /// Top row.
    pub y: usize,
    /// Width.
    pub width: usize,
    /// Height.
    pub height: usize,
}

impl RandomErasing {
    /// Checks the settings, naming the faulty parameter as the pipeline builder spells it.
    pub(crate) fn validate(&self) -> Result<()> {
        super::validate::check_probability("erasing_probability", self.probability)?;
        let (low, high) = self.area_range;
        super::validate::check_range("erasing_area_range", low, high)?;
        if low <= 0.0 || high > 1.0 {
            return Err(FerError::invalid_parameter(
                "erasing_area_range",
                format!("({low}, {high}): area fractions must lie in (0, 1]"),
            ));
        }
        let (low, high) = self.aspect_range;
        super::validate::check_range("erasing_aspect_range", low, high)?;
        if low <= 0.0 {
            return Err(FerError::invalid_parameter(
                "erasing_aspect_range",
                format!("({low}, {high}): aspect ratios must be positive"),
            ));
        }
        Ok(())
    }

    /// Draws the rectangle to erase, or `None` when 10 attempts found none that fits.
    pub(crate) fn sample_rect<R: Rng>(&self, rng: &mut R) -> Option<Rect> {
        let side = IMAGE_SIDE as f32;
        let (area_low, area_high) = self.area_range;
        let (aspect_low, aspect_high) = (self.aspect_range.0.ln(), self.aspect_range.1.ln());
        for _ in 0..10 {
            let area = side * side * rng.gen_range(area_low..=area_high);
            let aspect = rng.gen_range(aspect_low..=aspect_high).exp();
            let height = (area * aspect).sqrt().round() as usize;
            let width = (area / aspect).sqrt().round() as usize;
            if height == 0 || width == 0 || height >= IMAGE_SIDE || width >= IMAGE_SIDE {
                continue;
            }
            return Some(Rect {
                x: rng.gen_range(0..=IMAGE_SIDE - width),
                y: rng.gen_range(0..=IMAGE_SIDE - height),
                width,
                height,
            });
        }
        None
    }
}

/// Fills `rect` of the 48x48 `image` as `fill` says.
pub fn erase<R: Rng>(image: &mut [f32], rect: Rect, fill: ErasingFill, rng: &mut R) {
    let mean = match fill {
        ErasingFill::Mean => image.iter().sum::<f32>() / image.len() as f32,
        ErasingFill::Noise => 0.0,
    };
    for row in image
        .chunks_exact_mut(IMAGE_SIDE)
        .skip(rect.y)
        .take(rect.height)
    {
        for value in &mut row[rect.x..rect.x + rect.width] {
            *value = match fill {
                ErasingFill::Noise => rng.gen_range(0.0..=1.0),
                ErasingFill::Mean => mean,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::IMAGE_PIXELS;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn settings() -> RandomErasing {
        RandomErasing {
            probability: 1.0,
            area_range: (0.02, 0.33),
            aspect_range: (0.3, 3.3),
            fill: ErasingFill::Mean,
        }
    }

    #[test]
    fn rectangles_fit_and_respect_the_area_range() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let erasing = settings();
        for _ in 0..1000 {
            let rect = erasing
                .sample_rect(&mut rng)
                .expect("0.33 of the face always fits");
            assert!(rect.x + rect.width <= IMAGE_SIDE && rect.y + rect.height <= IMAGE_SIDE);
            let fraction = (rect.width * rect.height) as f32 / IMAGE_PIXELS as f32;
            // Rounding each side to whole pixels moves the area a little beyond the range.
            assert!((0.01..=0.4).contains(&fraction), "{fraction}");
        }
    }

    #[test]
    fn mean_fill_sets_exactly_the_rectangle_to_the_mean() {
        let mut image: Vec<f32> = (0..IMAGE_PIXELS).map(|i| (i % 2) as f32).collect();
        let rect = Rect {
            x: 10,
            y: 20,
            width: 5,
            height: 3,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        erase(&mut image, rect, ErasingFill::Mean, &mut rng);
        let changed: Vec<usize> = (0..IMAGE_PIXELS)
            .filter(|&i| image[i] != (i % 2) as f32)
            .collect();
        // The alternating 0/1 image has mean 0.5, so every erased pixel changed: 5 x 3 = 15.
        assert_eq!(changed.len(), 15);
        assert!(changed.iter().all(|&i| image[i] == 0.5));
        assert_eq!(changed[0], 20 * IMAGE_SIDE + 10);
    }

    #[test]
    fn bad_settings_are_rejected_by_name() {
        for (settings, name) in [
            (
                RandomErasing {
                    area_range: (0.0, 0.3),
                    ..settings()
                },
                "erasing_area_range",
            ),
            (
                RandomErasing {
                    area_range: (0.3, 1.2),
                    ..settings()
                },
                "erasing_area_range",
            ),
            (
                RandomErasing {
                    aspect_range: (3.0, 0.3),
                    ..settings()
                },
                "erasing_aspect_range",
            ),
            (
                RandomErasing {
                    probability: -0.1,
                    ..settings()
                },
                "erasing_probability",
            ),
        ] {
            let message = settings.validate().unwrap_err().to_string();
            assert!(message.contains(name), "{message}");
        }
    }
}
