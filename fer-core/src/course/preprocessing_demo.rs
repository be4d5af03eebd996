//! What standardisation does to a face: the per-pixel statistics of the training split, and a
//! face before and after.

use crate::data::{Face, PixelStats, IMAGE_PIXELS};
use crate::error::Result;
use crate::plot::FaceGrid;

/// Four tiles: the training split's mean face and per-pixel standard deviation (scaled so the
/// largest is white), `face`, and `face` standardised, `(face - mean) / std`, shown with -3
/// as black and +3 as white. Standardised, the background and the average face shape fade to
/// grey and what is unusual about this face stands out: that is what the network sees.
pub fn preprocessing_demo(stats: &PixelStats, face: &Face) -> Result<FaceGrid> {
    let max_std = stats.std.iter().copied().fold(0.0f32, f32::max).max(1e-6);
    let std_levels: Vec<f32> = stats.std.iter().map(|s| 255.0 * s / max_std).collect();
    let mut standardized = vec![0.0f32; IMAGE_PIXELS];
    stats.standardize(face, &mut standardized);
    let shown: Vec<f32> = standardized
        .iter()
        .map(|z| (255.0 * (z + 3.0) / 6.0).clamp(0.0, 255.0))
        .collect();
    let mut grid = FaceGrid::new(4)?.with_scale(3)?.with_title(format!(
        "Per-pixel statistics of {} training faces, and one face standardised",
        stats.count
    ));
    grid.push_levels(&stats.mean, "mean face")?;
    grid.push_levels(&std_levels, "std per pixel")?;
    grid.push(face, "face");
    grid.push_levels(&shown, "standardised")?;
    Ok(grid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Dataset, Origin, Usage};
    use crate::Emotion;

    #[test]
    fn shows_four_tiles_from_the_training_statistics() {
        let mut train = Dataset::new();
        for i in 0..4u8 {
            train.push(
                &[40 * i; IMAGE_PIXELS],
                Emotion::Happy,
                Usage::Training,
                Origin::CsvLine(u64::from(i)),
            );
        }
        let stats = PixelStats::fit(&train).unwrap();
        let grid = preprocessing_demo(&stats, train.face(3)).unwrap();
        let captions: Vec<&str> = grid.captions().collect();
        assert_eq!(
            captions,
            ["mean face", "std per pixel", "face", "standardised"]
        );
    }
}
