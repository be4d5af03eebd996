//! Occlusion-sensitivity maps drawn over faces as a PNG: each face next to its heat overlay,
//! captioned with its true and predicted emotion.

use std::io::Cursor;

use image::{ImageFormat, Rgb, RgbImage};

use crate::classifier::EmotionClassifier;
use crate::data::{Dataset, Face, IMAGE_SIDE};
use crate::error::{FerError, Result};
use crate::eval::{occlusion_sensitivity, predicted_labels};
use crate::plot::face_grid::{draw_text, CAPTION_HEIGHT};
use crate::plot::png;

/// Enlargement of each face.
const SCALE: u32 = 2;
/// Pixels between tiles.
const GAP: u32 = 4;

/// Faces with their occlusion-sensitivity maps, one pair (face, overlay) per tile pair, `pairs_per_row`
/// pairs per row. Red marks regions whose occlusion lowers the target's probability (the
/// model relies on them), blue regions whose occlusion raises it; the strength is scaled to
/// the largest absolute drop over the whole grid so tiles compare. Under each pair a caption
/// `true>predicted` (e.g. `sad>fear`: a sad face the model called fearful) tells a mistake
/// from a hit; the map is always for the true emotion.
#[derive(Debug, Clone)]
pub struct SaliencyGrid {
    pairs_per_row: usize,
    tiles: Vec<Tile>,
}

/// One face, its occlusion map and its caption.
#[derive(Debug, Clone)]
struct Tile {
    face: Box<Face>,
    map: Vec<f32>,
    caption: String,
}

impl SaliencyGrid {
    /// Computes the map of each face `indices` names in `dataset` for its true emotion with
    /// [`occlusion_sensitivity`] (one `predict_proba` call per face, and one more for all
    /// the faces unoccluded, to caption each with the model's prediction).
    pub fn occlusion(
        model: &dyn EmotionClassifier,
        dataset: &Dataset,
        indices: &[usize],
        patch: usize,
        stride: usize,
    ) -> Result<Self> {
        if let Some(&i) = indices.iter().find(|&&i| i >= dataset.len()) {
            return Err(FerError::invalid_parameter(
                "indices",
                format!("face {i} is past the {} faces", dataset.len()),
            ));
        }
        let chosen = dataset.select(indices);
        let probabilities = model.predict_proba(chosen.faces())?;
        if probabilities.nrows() != chosen.len() {
            return Err(FerError::ShapeMismatch(format!(
                "{} scored {} faces as {:?}",
                model.name(),
                chosen.len(),
                probabilities.dim()
            )));
        }
        let predicted = predicted_labels(probabilities.view())?;
        let mut tiles = Vec::with_capacity(indices.len());
        for (n, &truth) in chosen.labels().iter().enumerate() {
            let face = chosen.face(n);
            tiles.push(Tile {
                face: Box::new(*face),
                map: occlusion_sensitivity(model, face, truth, patch, stride)?,
                caption: format!("{}>{}", truth.name(), predicted[n].name()),
            });
        }
        Ok(SaliencyGrid {
            pairs_per_row: 4,
            tiles,
        })
    }

    /// Number of faces.
    pub fn len(&self) -> usize {
        self.tiles.len()
    }

    /// Whether the grid has no faces.
    pub fn is_empty(&self) -> bool {
        self.tiles.is_empty()
    }

    /// The captions (`true>predicted`), in order.
    pub fn captions(&self) -> impl Iterator<Item = &str> {
        self.tiles.iter().map(|tile| tile.caption.as_str())
    }

    /// Draws the grid.
    pub fn render(&self) -> RgbImage {
        let side = IMAGE_SIDE as u32 * SCALE;
        let columns = 2 * self.pairs_per_row.min(self.tiles.len().max(1)) as u32;
        let rows = self.tiles.len().div_ceil(self.pairs_per_row).max(1) as u32;
        let row_height = side + CAPTION_HEIGHT + GAP;
        let mut image = RgbImage::from_pixel(
            GAP + columns * (side + GAP),
            GAP + rows * row_height,
            Rgb([255, 255, 255]),
        );
        let largest = self
            .tiles
            .iter()
            .flat_map(|tile| tile.map.iter().map(|v| v.abs()))
            .fold(0.0f32, f32::max);
        for (n, Tile { face, map, caption }) in self.tiles.iter().enumerate() {
            let row = (n / self.pairs_per_row) as u32;
            let column = 2 * (n % self.pairs_per_row) as u32;
            let top = GAP + row * row_height;
            for (tile, overlay) in [(column, false), (column + 1, true)] {
                let left = GAP + tile * (side + GAP);
                for y in 0..side {
                    for x in 0..side {
                        let i = (y / SCALE) as usize * IMAGE_SIDE + (x / SCALE) as usize;
                        let grey = face[i];
                        let pixel = if overlay && largest > 0.0 {
                            heat(grey, map[i] / largest)
                        } else {
                            Rgb([grey; 3])
                        };
                        image.put_pixel(left + x, top + y, pixel);
                    }
                }
            }
            // One caption per pair, as wide as both tiles: they show the same face.
            let left = GAP + column * (side + GAP);
            draw_text(&mut image, left, top + side + 1, caption, 2 * side + GAP);
        }
        image
    }

    /// The grid as PNG bytes.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let mut bytes = Cursor::new(Vec::new());
        self.render()
            .write_to(&mut bytes, ImageFormat::Png)
            .map_err(|e| FerError::invalid_data("<saliency PNG>", e.to_string()))?;
        Ok(bytes.into_inner())
    }

    /// The grid as an `<img>` tag with the PNG inline, for HTML reports.
    pub fn to_html_img(&self, alt: &str) -> Result<String> {
        Ok(png::img_tag(&self.to_png()?, alt))
    }

    /// Shows the grid in an evcxr notebook as `image/png`.
    pub fn evcxr_display(&self) {
        match self.to_png() {
            Ok(bytes) => png::evcxr_print(&bytes),
            Err(e) => println!("saliency grid: {e}"),
        }
    }
}

/// Blends a grey level with red (`strength` > 0) or blue (< 0), opacity up to 70% by
/// |strength| in [0, 1]. Written by hand: a two-colour diverging blend is a few lines, and
/// colour-map crates (colorous, colorgrad) would add a dependency for one function.
fn heat(grey: u8, strength: f32) -> Rgb<u8> {
    let alpha = 0.7 * strength.abs().min(1.0);
    let colour = if strength >= 0.0 {
        [255.0, 0.0, 0.0]
    } else {
        [0.0, 64.0, 255.0]
    };
    let g = f32::from(grey);
    Rgb(colour.map(|c| (g + alpha * (c - g)).round() as u8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Origin, Usage, IMAGE_PIXELS};
    use crate::emotion::Emotion;
    use crate::eval::RegionModel;

    #[test]
    fn the_overlay_is_red_over_the_region_and_grey_elsewhere() {
        let mut d = Dataset::new();
        d.push(
            &[255; IMAGE_PIXELS],
            Emotion::Happy,
            Usage::PrivateTest,
            Origin::CsvLine(2),
        );
        let grid = SaliencyGrid::occlusion(&RegionModel, &d, &[0], 8, 4).unwrap();
        let image = grid.render();
        let side = IMAGE_SIDE as u32 * SCALE;
        let overlay_left = GAP + side + GAP;
        // Face pixel (30, 30) is inside the region the model reads: red.
        let inside = image.get_pixel(overlay_left + 60, GAP + 60);
        assert!(inside[0] == 255 && inside[1] < 200, "{inside:?}");
        // Face pixel (2, 2) is far from it: the grey face untouched.
        assert_eq!(image.get_pixel(overlay_left + 4, GAP + 4), &Rgb([255; 3]));
        // The left tile is the face itself.
        assert_eq!(image.get_pixel(GAP + 60, GAP + 60), &Rgb([255; 3]));
        assert!(SaliencyGrid::occlusion(&RegionModel, &d, &[1], 8, 4).is_err());
    }

    #[test]
    fn each_pair_is_captioned_with_true_and_predicted_emotion() {
        let mut d = Dataset::new();
        // Bright in the region the model reads: happy, rightly. Dark: sad, but labelled fear.
        d.push(
            &[255; IMAGE_PIXELS],
            Emotion::Happy,
            Usage::PrivateTest,
            Origin::CsvLine(2),
        );
        d.push(
            &[0; IMAGE_PIXELS],
            Emotion::Fear,
            Usage::PrivateTest,
            Origin::CsvLine(3),
        );
        let grid = SaliencyGrid::occlusion(&RegionModel, &d, &[1, 0], 8, 4).unwrap();
        assert_eq!(
            grid.captions().collect::<Vec<_>>(),
            vec!["fear>sad", "happy>happy"]
        );
        let image = grid.render();
        let side = IMAGE_SIDE as u32 * SCALE;
        // One row of two pairs, with a caption strip under the faces.
        assert_eq!(image.height(), GAP + side + CAPTION_HEIGHT + GAP);
        let strip_has_text = |left: u32| {
            (left..left + 2 * side + GAP).any(|x| {
                (0..CAPTION_HEIGHT).any(|y| image.get_pixel(x, GAP + side + y) == &Rgb([0; 3]))
            })
        };
        let second_pair = GAP + 2 * (side + GAP);
        assert!(strip_has_text(GAP));
        assert!(strip_has_text(second_pair));
        // The longer caption is written further right: "happy>happy" has 11 characters,
        // "fear>sad" 8, so only the second pair has ink past 8 glyphs.
        let ink_past = |left: u32| {
            (left + 8 * 8..left + 2 * side).any(|x| {
                (0..CAPTION_HEIGHT).any(|y| image.get_pixel(x, GAP + side + y) == &Rgb([0; 3]))
            })
        };
        assert!(!ink_past(GAP));
        assert!(ink_past(second_pair));
    }
}
