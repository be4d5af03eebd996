//! A photo with its faces drawn in: each face's box, its number and top emotion above it, and
//! bars of its three most probable emotions under it. The picture keeps the photo's size, so
//! `fer predict --annotate` writes it as it is; PNG, so a notebook and any viewer show it.

use std::io::Cursor;
use std::path::Path;

use font8x8::UnicodeFonts;
use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use imageproc::drawing::{draw_filled_rect_mut, draw_hollow_rect_mut};
use imageproc::rect::Rect;

use crate::error::{FerError, Result};
use crate::faces::ClassifiedFace;
use crate::fs::write_atomically;
use crate::plot::png;

/// Emotions drawn as bars under each face.
const BARS: usize = 3;
/// Box and bar colours, cycling over faces (plotly's first colours, which stand out on skin).
const COLOURS: [Rgb<u8>; 4] = [
    Rgb([31, 119, 180]),
    Rgb([255, 127, 14]),
    Rgb([44, 160, 44]),
    Rgb([214, 39, 40]),
];
const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const BLACK: Rgb<u8> = Rgb([0, 0, 0]);

/// A photo with its classified faces drawn in (see the [module docs](self)).
///
/// ```
/// use fer_core::faces::{ClassifiedFace, FaceBox};
/// use fer_core::plot::FacesPhoto;
/// let photo = image::DynamicImage::new_rgb8(320, 240);
/// let face = ClassifiedFace {
///     face_box: FaceBox { x: 100, y: 60, width: 80, height: 80, score: 5.0 },
///     probabilities: [0.1, 0.0, 0.1, 0.6, 0.1, 0.0, 0.1],
/// };
/// let drawn = FacesPhoto::new(&photo, &[face]);
/// assert_eq!(drawn.image().dimensions(), (320, 240));
/// let png = drawn.to_png()?;
/// assert_eq!(&png[1..4], b"PNG");
/// // In a notebook: drawn.evcxr_display();
/// # Ok::<(), fer_core::FerError>(())
/// ```
#[derive(Debug, Clone)]
pub struct FacesPhoto {
    image: RgbImage,
}

impl FacesPhoto {
    /// Draws `faces` (numbered from 1 in their order) over `photo`.
    pub fn new(photo: &DynamicImage, faces: &[ClassifiedFace]) -> Self {
        let mut image = photo.to_rgb8();
        // Text and lines grow with the photo, so they stay legible on a large one: one font
        // pixel per 400 photo pixels of the shorter side, at least 1.
        let scale = (image.width().min(image.height()) / 400).max(1);
        for (i, face) in faces.iter().enumerate() {
            draw_face(&mut image, i, face, scale);
        }
        FacesPhoto { image }
    }

    /// The picture reduced to at most `width` pixels across (aspect kept; a narrower one is
    /// left as it is): a page or a notebook shows a large photo at a few hundred kilobytes
    /// instead of megabytes. Boxes and labels were drawn at the photo's size, so they shrink
    /// with it.
    pub fn shrunk_to_width(self, width: u32) -> Self {
        let (w, h) = self.image.dimensions();
        if w <= width || width == 0 {
            return self;
        }
        let height = ((h as f32 * width as f32 / w as f32).round() as u32).max(1);
        FacesPhoto {
            image: image::imageops::resize(&self.image, width, height, FilterType::Triangle),
        }
    }

    /// The drawn picture, of the photo's size.
    pub fn image(&self) -> &RgbImage {
        &self.image
    }

    /// The picture as PNG bytes.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let mut bytes = Cursor::new(Vec::new());
        self.image
            .write_to(&mut bytes, ImageFormat::Png)
            .map_err(|e| FerError::invalid_data("<faces photo PNG>", e.to_string()))?;
        Ok(bytes.into_inner())
    }

    /// Writes the picture as a PNG file, atomically.
    pub fn save_png(&self, path: &Path) -> Result<()> {
        let png = self.to_png()?;
        write_atomically(path, |w| w.write_all(&png))
    }

    /// The picture as an `<img>` tag with the PNG inline, for HTML reports.
    pub fn to_html_img(&self, alt: &str) -> Result<String> {
        Ok(png::img_tag(&self.to_png()?, alt))
    }

    /// Shows the picture in an evcxr notebook (PNG, `EVCXR_BEGIN_CONTENT image/png`); prints
    /// an error line instead if encoding fails.
    pub fn evcxr_display(&self) {
        match self.to_png() {
            Ok(bytes) => png::evcxr_print(&bytes),
            Err(e) => println!("faces photo: {e}"),
        }
    }
}

/// Draws face `index`'s box, label and bars.
fn draw_face(image: &mut RgbImage, index: usize, face: &ClassifiedFace, scale: u32) {
    let colour = COLOURS[index % COLOURS.len()];
    let b = face.face_box;
    let thickness = (b.width.max(b.height) / 60).max(1) * scale.min(2);
    for t in 0..thickness {
        if b.width > 2 * t && b.height > 2 * t {
            let rect = Rect::at((b.x + t) as i32, (b.y + t) as i32)
                .of_size(b.width - 2 * t, b.height - 2 * t);
            draw_hollow_rect_mut(image, rect, colour);
        }
    }
    let top = face.top(BARS);
    let line = 8 * scale + 2;
    // The label above the box, or inside its top if the box touches the photo's top.
    let (emotion, p) = top[0];
    let label = format!("{} {} {:.0}%", index + 1, emotion.name(), 100.0 * p);
    let label_y = if b.y >= line { b.y - line } else { b.y };
    panel(
        image,
        b.x,
        label_y,
        text_width(&label, scale) + 2,
        line,
        colour,
    );
    draw_text(image, b.x + 1, label_y + 1, &label, scale, WHITE);
    // The bars under the box (inside its bottom if there is no room): one line per emotion,
    // its name and a bar as long as its probability over the panel's width.
    let name_width = text_width("surprise ", scale);
    let width = (b.width).max(name_width + 20 * scale);
    let height = BARS as u32 * line;
    let bars_y = if b.y + b.height + height <= image.height() {
        b.y + b.height
    } else {
        (b.y + b.height).saturating_sub(height)
    };
    panel(image, b.x, bars_y, width, height, WHITE);
    for (row, (emotion, p)) in top.iter().enumerate() {
        let y = bars_y + row as u32 * line;
        draw_text(image, b.x + 1, y + 1, emotion.name(), scale, BLACK);
        let room = width.saturating_sub(name_width + 2);
        let length = (room as f32 * p.clamp(0.0, 1.0)).round() as u32;
        if length > 0 {
            let rect =
                Rect::at((b.x + name_width) as i32, (y + 1) as i32).of_size(length, line - 2);
            draw_filled_rect_mut(image, rect, colour);
        }
    }
}

/// A filled rectangle clipped to the image (imageproc clips, but needs a non-empty size).
fn panel(image: &mut RgbImage, x: u32, y: u32, width: u32, height: u32, colour: Rgb<u8>) {
    if width > 0 && height > 0 && x < image.width() && y < image.height() {
        draw_filled_rect_mut(
            image,
            Rect::at(x as i32, y as i32).of_size(width, height),
            colour,
        );
    }
}

/// Width of `text` in the 8x8 font at `scale`.
fn text_width(text: &str, scale: u32) -> u32 {
    text.chars().count() as u32 * 8 * scale
}

/// Draws `text` in the 8x8 bitmap font (font8x8: no font file needed), each font pixel a
/// `scale` x `scale` square, top-left at (`left`, `top`), clipped to the image.
fn draw_text(image: &mut RgbImage, left: u32, top: u32, text: &str, scale: u32, colour: Rgb<u8>) {
    for (i, c) in text.chars().enumerate() {
        let glyph = font8x8::BASIC_FONTS
            .get(if c.is_ascii() { c } else { '?' })
            .unwrap_or([0; 8]);
        for (dy, bits) in glyph.iter().enumerate() {
            for dx in 0..8u32 {
                // font8x8: bit 0 is the leftmost pixel.
                if bits & (1 << dx) == 0 {
                    continue;
                }
                for (sx, sy) in (0..scale).flat_map(|sx| (0..scale).map(move |sy| (sx, sy))) {
                    let x = left + (i as u32 * 8 + dx) * scale + sx;
                    let y = top + dy as u32 * scale + sy;
                    if x < image.width() && y < image.height() {
                        image.put_pixel(x, y, colour);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faces::FaceBox;

    fn face(x: u32, y: u32, side: u32, happy: f32) -> ClassifiedFace {
        let rest = (1.0 - happy) / 6.0;
        let mut probabilities = [rest; 7];
        probabilities[3] = happy;
        ClassifiedFace {
            face_box: FaceBox {
                x,
                y,
                width: side,
                height: side,
                score: 4.0,
            },
            probabilities,
        }
    }

    #[test]
    fn a_wide_picture_shrinks_to_the_width_asked_and_a_narrow_one_stays() {
        let photo = DynamicImage::new_rgb8(1000, 500);
        let drawn = FacesPhoto::new(&photo, &[face(100, 100, 120, 0.9)]);
        assert_eq!(
            drawn.clone().shrunk_to_width(400).image().dimensions(),
            (400, 200)
        );
        assert_eq!(
            drawn.shrunk_to_width(2000).image().dimensions(),
            (1000, 500)
        );
    }

    #[test]
    fn boxes_labels_and_bars_are_drawn_in_a_picture_of_the_photo_size() {
        let photo = DynamicImage::ImageRgb8(RgbImage::from_pixel(300, 200, Rgb([128, 128, 128])));
        // One face in the middle, one at the bottom-right corner (its bars go inside its box).
        let faces = [face(100, 50, 60, 0.9), face(250, 160, 50, 0.5)];
        let drawn = FacesPhoto::new(&photo, &faces);
        let image = drawn.image();
        assert_eq!(image.dimensions(), (300, 200));
        // The first box's left edge, in the first colour, half-way down.
        assert_eq!(image.get_pixel(100, 80), &COLOURS[0]);
        // Its label panel sits above the box; its bar panel under it is white where no bar or
        // text is (its right end: the happy bar is 90% long, so the last pixels are white).
        assert_eq!(image.get_pixel(101, 50 - 9), &COLOURS[0]);
        assert_eq!(image.get_pixel(100 + 90, 111 + 25), &WHITE);
        // The happy bar (first row) is drawn in the face's colour after the names' column.
        let bar_x = 100 + text_width("surprise ", 1) + 2;
        assert_eq!(image.get_pixel(bar_x, 111 + 4), &COLOURS[0]);
        // The second face's box is in the second colour; the photo elsewhere is untouched.
        assert_eq!(image.get_pixel(250, 170), &COLOURS[1]);
        assert_eq!(image.get_pixel(20, 20), &Rgb([128, 128, 128]));
        let png = drawn.to_png().unwrap();
        let back = image::load_from_memory(&png).unwrap();
        assert_eq!((back.width(), back.height()), (300, 200));
    }
}
