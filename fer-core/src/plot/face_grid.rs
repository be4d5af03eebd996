//! A grid of 48x48 faces with captions, rendered to PNG so it shows everywhere (notebook
//! viewers that drop plotly.js, GitHub, image viewers).

use std::io::Cursor;
use std::path::Path;

use font8x8::UnicodeFonts;
use image::{GrayImage, ImageFormat, Luma, Rgb, RgbImage};

use crate::data::{Face, IMAGE_PIXELS, IMAGE_SIDE};
use crate::error::{FerError, Result};
use crate::fs::write_atomically;
use crate::plot::png;

/// Pixels between tiles and around the grid.
const GAP: u32 = 4;
/// Side of a glyph of the 8x8 bitmap font.
const GLYPH: u32 = 8;
/// Height of a caption strip: one line of text with a pixel above and below. Shared with the
/// saliency grid, whose captions are drawn the same way.
pub(super) const CAPTION_HEIGHT: u32 = GLYPH + 2;
const BACKGROUND: Rgb<u8> = Rgb([255, 255, 255]);
const TEXT: Rgb<u8> = Rgb([0, 0, 0]);

/// Faces laid out in rows of `columns` tiles, each face enlarged `scale` times (nearest
/// neighbour, so pixels stay visible) with a one-line caption under it and an optional title
/// above the grid. Captions longer than the tile are cut with `~`; text is ASCII (other
/// characters print as `?`).
///
/// ```
/// # use fer_core::plot::FaceGrid;
/// let mut grid = FaceGrid::new(4)?;
/// grid.push(&[128u8; 48 * 48], "grey");
/// let png = grid.to_png()?;
/// assert_eq!(&png[1..4], b"PNG");
/// // In a notebook: grid.evcxr_display();
/// # Ok::<(), fer_core::FerError>(())
/// ```
#[derive(Debug, Clone)]
pub struct FaceGrid {
    columns: usize,
    scale: u32,
    title: Option<String>,
    tiles: Vec<(Box<Face>, String)>,
}

impl FaceGrid {
    /// An empty grid `columns` tiles wide, at the default scale 2 (96x96 pixels per face,
    /// room for 12 caption characters). Errors if `columns` is 0.
    pub fn new(columns: usize) -> Result<Self> {
        if columns == 0 {
            return Err(FerError::invalid_parameter(
                "columns",
                "0 columns: a face grid needs at least 1",
            ));
        }
        Ok(FaceGrid {
            columns,
            scale: 2,
            title: None,
            tiles: Vec::new(),
        })
    }

    /// Sets the enlargement of each face, 1..=8 (1 leaves 6 caption characters per tile).
    pub fn with_scale(mut self, scale: u32) -> Result<Self> {
        if !(1..=8).contains(&scale) {
            return Err(FerError::invalid_parameter(
                "scale",
                format!("{scale} is not in 1..=8"),
            ));
        }
        self.scale = scale;
        Ok(self)
    }

    /// Sets a title line drawn above the grid.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Appends a face with its caption.
    pub fn push(&mut self, face: &Face, caption: impl Into<String>) {
        self.tiles.push((Box::new(*face), caption.into()));
    }

    /// Appends a face given as 2304 grey levels in `[0, 255]` (a mean face, say), rounded to
    /// the nearest level. Errors if the length is wrong or a value is outside that range.
    pub fn push_levels(&mut self, levels: &[f32], caption: impl Into<String>) -> Result<()> {
        if levels.len() != IMAGE_PIXELS {
            return Err(FerError::ShapeMismatch(format!(
                "a face has {IMAGE_PIXELS} pixels, got {}",
                levels.len()
            )));
        }
        let mut face = [0u8; IMAGE_PIXELS];
        for (i, (out, &level)) in face.iter_mut().zip(levels).enumerate() {
            if !(0.0..=255.0).contains(&level) {
                return Err(FerError::invalid_parameter(
                    "levels",
                    format!("pixel {i} is {level}, outside [0, 255]"),
                ));
            }
            *out = level.round() as u8;
        }
        self.push(&face, caption);
        Ok(())
    }

    /// Number of faces in the grid.
    pub fn len(&self) -> usize {
        self.tiles.len()
    }

    /// Whether the grid has no faces.
    pub fn is_empty(&self) -> bool {
        self.tiles.is_empty()
    }

    /// The captions, in order.
    pub fn captions(&self) -> impl Iterator<Item = &str> {
        self.tiles.iter().map(|(_, caption)| caption.as_str())
    }

    /// Draws the grid.
    pub fn render(&self) -> RgbImage {
        let side = IMAGE_SIDE as u32 * self.scale;
        let columns = self.columns.min(self.tiles.len().max(1)) as u32;
        let rows = self.tiles.len().div_ceil(self.columns) as u32;
        let title_height = if self.title.is_some() {
            CAPTION_HEIGHT + GAP
        } else {
            0
        };
        let width = GAP + columns * (side + GAP);
        let height = GAP + title_height + rows * (side + CAPTION_HEIGHT + GAP);
        let mut image = RgbImage::from_pixel(width, height, BACKGROUND);
        if let Some(title) = &self.title {
            draw_text(&mut image, GAP, GAP + 1, title, width - 2 * GAP);
        }
        for (index, (face, caption)) in self.tiles.iter().enumerate() {
            let column = index as u32 % columns;
            let row = index as u32 / columns;
            let left = GAP + column * (side + GAP);
            let top = GAP + title_height + row * (side + CAPTION_HEIGHT + GAP);
            for y in 0..side {
                for x in 0..side {
                    let source = (y / self.scale) as usize * IMAGE_SIDE + (x / self.scale) as usize;
                    let level = face[source];
                    image.put_pixel(left + x, top + y, Rgb([level, level, level]));
                }
            }
            draw_text(&mut image, left, top + side + 1, caption, side);
        }
        image
    }

    /// The grid as PNG bytes: 8-bit grey when every pixel is grey (faces, black captions and
    /// a white background are), a third of the raw pixels of RGB; RGB otherwise.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let image = self.render();
        let mut bytes = Cursor::new(Vec::new());
        let written = match grey_levels(&image) {
            Some(grey) => grey.write_to(&mut bytes, ImageFormat::Png),
            None => image.write_to(&mut bytes, ImageFormat::Png),
        };
        written.map_err(|e| FerError::invalid_data("<face grid PNG>", e.to_string()))?;
        Ok(bytes.into_inner())
    }

    /// Writes the grid as a PNG file, atomically.
    pub fn save_png(&self, path: &Path) -> Result<()> {
        let png = self.to_png()?;
        write_atomically(path, |w| w.write_all(&png))
    }

    /// The grid as an `<img>` tag with the PNG inline, for HTML reports.
    pub fn to_html_img(&self) -> Result<String> {
        let alt = self.title.as_deref().unwrap_or("faces");
        Ok(png::img_tag(&self.to_png()?, alt))
    }

    /// Shows the grid in an evcxr notebook: prints the PNG with evcxr's
    /// `EVCXR_BEGIN_CONTENT image/png` protocol. Prints an error line instead if encoding
    /// fails.
    pub fn evcxr_display(&self) {
        match self.to_png() {
            Ok(bytes) => png::evcxr_print(&bytes),
            Err(e) => println!("face grid: {e}"),
        }
    }
}

/// `image` as grey levels if every pixel is grey (r = g = b), else `None` (a colour would be
/// lost).
fn grey_levels(image: &RgbImage) -> Option<GrayImage> {
    if !image.pixels().all(|Rgb([r, g, b])| r == g && g == b) {
        return None;
    }
    Some(GrayImage::from_fn(image.width(), image.height(), |x, y| {
        Luma([image.get_pixel(x, y).0[0]])
    }))
}

/// Draws `text` with its top-left corner at (`left`, `top`), cut to `max_width` pixels.
/// An 8x8 bitmap font (font8x8) keeps this free of font files; imageproc's text drawing would
/// need a TrueType font shipped with the crate. Also used for the saliency grid's captions.
pub(super) fn draw_text(image: &mut RgbImage, left: u32, top: u32, text: &str, max_width: u32) {
    let fits = (max_width / GLYPH) as usize;
    let count = text.chars().count();
    let shown: Vec<char> = if count > fits {
        text.chars()
            .take(fits.saturating_sub(1))
            .chain(std::iter::once('~'))
            .collect()
    } else {
        text.chars().collect()
    };
    for (i, c) in shown.into_iter().enumerate() {
        let glyph = font8x8::BASIC_FONTS
            .get(if c.is_ascii() { c } else { '?' })
            .unwrap_or([0; 8]);
        for (dy, bits) in glyph.iter().enumerate() {
            for dx in 0..GLYPH {
                // font8x8: bit 0 is the leftmost pixel.
                if bits & (1 << dx) != 0 {
                    let (x, y) = (left + i as u32 * GLYPH + dx, top + dy as u32);
                    if x < image.width() && y < image.height() {
                        image.put_pixel(x, y, TEXT);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_hold_the_enlarged_faces_and_captions_are_drawn() {
        let mut grid = FaceGrid::new(2).unwrap().with_title("test grid");
        let mut gradient = [0u8; IMAGE_PIXELS];
        for (i, p) in gradient.iter_mut().enumerate() {
            *p = (i % IMAGE_SIDE * 5) as u8;
        }
        grid.push(&gradient, "left");
        grid.push(&[200; IMAGE_PIXELS], "a caption far too long to fit");
        grid.push(&[0; IMAGE_PIXELS], "");
        let image = grid.render();
        let side = 96;
        let title = CAPTION_HEIGHT + GAP;
        // 2 columns, 2 rows.
        assert_eq!(image.width(), GAP + 2 * (side + GAP));
        assert_eq!(
            image.height(),
            GAP + title + 2 * (side + CAPTION_HEIGHT + GAP)
        );
        // First tile: pixel (x, y) of the image is face pixel (x/2, y/2).
        let (left, top) = (GAP, GAP + title);
        assert_eq!(image.get_pixel(left + 21, top + 40), &Rgb([50, 50, 50]));
        // Second tile is uniform 200; the third (next row) uniform 0.
        assert_eq!(
            image.get_pixel(left + side + GAP + 50, top + 3),
            &Rgb([200; 3])
        );
        let third_top = top + side + CAPTION_HEIGHT + GAP;
        assert_eq!(image.get_pixel(left + 5, third_top + 5), &Rgb([0; 3]));
        // Captions put black pixels in the strip under the first tile.
        let strip_has_text = (0..side).any(|x| {
            (0..CAPTION_HEIGHT).any(|y| image.get_pixel(left + x, top + side + y) == &TEXT)
        });
        assert!(strip_has_text);
        // The long caption is cut inside its tile: the gap after it stays white.
        let right_edge = left + 2 * side + GAP;
        for y in 0..CAPTION_HEIGHT {
            assert_eq!(image.get_pixel(right_edge + 1, top + side + y), &BACKGROUND);
        }
        let png = grid.to_png().unwrap();
        let decoded = image::load_from_memory(&png).unwrap();
        // Faces and black captions on white: stored as 8-bit grey, with no level lost.
        assert_eq!(decoded.color(), image::ColorType::L8);
        assert_eq!(decoded.to_rgb8(), image);
    }

    #[test]
    fn grey_grids_are_smaller_as_grey_pngs_and_colour_stays_rgb() {
        let mut grid = FaceGrid::new(4).unwrap().with_title("noise");
        let mut level = 7u32;
        for _ in 0..8 {
            let mut face = [0u8; IMAGE_PIXELS];
            for p in face.iter_mut() {
                // A cheap pseudo-random texture, hard to compress like a real face.
                level = level.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                *p = (level >> 16) as u8;
            }
            grid.push(&face, "face");
        }
        let grey = grid.to_png().unwrap();
        let mut rgb = Cursor::new(Vec::new());
        grid.render().write_to(&mut rgb, ImageFormat::Png).unwrap();
        assert!(
            grey.len() < rgb.get_ref().len(),
            "{} vs {}",
            grey.len(),
            rgb.get_ref().len()
        );

        // One red pixel: the grid is no longer grey and keeps its colour.
        let mut image = grid.render();
        image.put_pixel(0, 0, Rgb([255, 0, 0]));
        assert!(grey_levels(&image).is_none());
        assert!(grey_levels(&grid.render()).is_some());
    }

    #[test]
    fn bad_parameters_are_errors() {
        assert!(FaceGrid::new(0).is_err());
        assert!(FaceGrid::new(3).unwrap().with_scale(0).is_err());
        let mut grid = FaceGrid::new(3).unwrap();
        assert!(grid.push_levels(&[0.0; 10], "short").is_err());
        let mut levels = vec![10.0f32; IMAGE_PIXELS];
        levels[7] = f32::NAN;
        let err = grid.push_levels(&levels, "nan").unwrap_err();
        assert!(err.to_string().contains("pixel 7"), "{err}");
        levels[7] = 99.6;
        grid.push_levels(&levels, "ok").unwrap();
        assert_eq!(grid.len(), 1);
    }
}
