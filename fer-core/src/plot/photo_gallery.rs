//! A gallery of photos with their faces found and classified, for the HTML report: each photo
//! drawn by [`FacesPhoto`] (boxes and emotion bars), reduced to a page's width, with a caption.

use std::fmt::Write;
use std::path::PathBuf;

use image::imageops::FilterType;
use image::DynamicImage;

use super::faces_photo::FacesPhoto;
use super::html::escape_html;
use crate::cnn::{CnnModel, Tta};
use crate::error::Result;
use crate::faces::{classify_photo, load_photo, FaceDetector};

/// Photos shown at most: a report is one page, and each photo adds a few hundred kilobytes.
pub const GALLERY_PHOTOS: usize = 6;
/// The widest a photo is shown, in pixels (half the report's 1300-pixel column).
const SHOWN_WIDTH: u32 = 640;

/// An HTML section (`<h2 id="photos">` and one `<figure>` per photo) showing the first
/// [`GALLERY_PHOTOS`] of `photos` with every face `detector` finds, classified by `model` with
/// `tta`. Errors name a photo that cannot be read.
pub fn photo_gallery(
    model: &CnnModel,
    detector: &FaceDetector,
    photos: &[PathBuf],
    tta: Tta,
) -> Result<String> {
    let mut html = String::from(
        "<h2 id=\"photos\">Faces in photos</h2><p>Each face the detector found, cropped as \
         FER2013's faces are and classified: its box, number and most probable emotion, and \
         bars of its three most probable emotions.</p>",
    );
    for path in photos.iter().take(GALLERY_PHOTOS) {
        let photo = load_photo(path)?;
        let faces = classify_photo(model, detector, &photo, tta)?;
        let drawn = FacesPhoto::new(&photo, &faces);
        let mut shown = DynamicImage::ImageRgb8(drawn.image().clone());
        if shown.width() > SHOWN_WIDTH {
            let height = (shown.height() as f32 * SHOWN_WIDTH as f32 / shown.width() as f32)
                .round()
                .max(1.0) as u32;
            shown = shown.resize_exact(SHOWN_WIDTH, height, FilterType::Triangle);
        }
        let name = path.display().to_string();
        let caption = match faces.len() {
            0 => format!("{name}: no face found"),
            1 => format!("{name}: 1 face"),
            n => format!("{name}: {n} faces"),
        };
        let img = FacesPhoto::from_image(shown.to_rgb8()).to_html_img(&caption)?;
        let _ = write!(
            html,
            "<figure>{img}<figcaption>{}</figcaption></figure>",
            escape_html(&caption)
        );
    }
    Ok(html)
}
