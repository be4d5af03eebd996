//! Synthetic faces for the baseline's unit tests.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data::{Dataset, Origin, Usage, IMAGE_PIXELS, IMAGE_SIDE};
use crate::Emotion;

/// `per_class` faces of each emotion, whose class is drawn as a bright horizontal band at a
/// class-specific height (rows 6c..6c+6) over seeded noise: linearly separable in pixel space,
/// so a working fit must score near 100%.
pub(crate) fn banded_faces(per_class: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut data = Dataset::new();
    for i in 0..per_class * Emotion::COUNT {
        let emotion = Emotion::ALL[i % Emotion::COUNT];
        let mut face = [0u8; IMAGE_PIXELS];
        for (p, px) in face.iter_mut().enumerate() {
            let band = (p / IMAGE_SIDE) / 6 == emotion.index();
            *px = if band { 160 } else { 40 } + rng.gen_range(0..60);
        }
        data.push(
            &face,
            emotion,
            Usage::Training,
            Origin::CsvLine(i as u64 + 2),
        );
    }
    data
}
