//! A gallery of photos with their faces found and classified, for the HTML report: each photo
//! drawn by [`FacesPhoto`] (boxes and emotion bars), reduced to a page's width, with a caption.

use std::fmt::Write;
use std::path::PathBuf;

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
        let shown = FacesPhoto::new(&photo, &faces).shrunk_to_width(SHOWN_WIDTH);
        let name = path.display().to_string();
        let caption = match faces.len() {
            0 => format!("{name}: no face found"),
            1 => format!("{name}: 1 face"),
            n => format!("{name}: {n} faces"),
        };
        let img = shown.to_html_img(&caption)?;
        let _ = write!(
            html,
            "<figure>{img}<figcaption>{}</figcaption></figure>",
            escape_html(&caption)
        );
    }
    Ok(html)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cnn::{Arch, ModelConfig};
    use crate::data::{Dataset, Origin, PixelStats, Usage, IMAGE_PIXELS};
    use crate::Emotion;

    /// A photo without a face is shown with a caption saying so; a gallery stops at
    /// GALLERY_PHOTOS photos; an unreadable photo is an error naming it.
    #[test]
    fn photos_are_shown_with_their_captions_up_to_the_limit() {
        let mut faces = Dataset::new();
        for v in [10u8, 240] {
            faces.push(
                &[v; IMAGE_PIXELS],
                Emotion::Happy,
                Usage::Training,
                Origin::CsvLine(2),
            );
        }
        let stats = PixelStats::fit(&faces).unwrap();
        let model = CnnModel::new(
            ModelConfig::new(Arch::Seed),
            stats,
            &dfdx::tensor::Cpu::default(),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let blank = dir.path().join("blank.png");
        image::RgbImage::new(900, 300).save(&blank).unwrap();
        let detector = FaceDetector::new(Default::default()).unwrap();
        let photos = vec![blank.clone(); GALLERY_PHOTOS + 2];
        let html = photo_gallery(&model, &detector, &photos, Tta::None).unwrap();
        assert_eq!(html.matches("<figure>").count(), GALLERY_PHOTOS);
        assert!(html.contains("blank.png: no face found"), "{html}");
        let err = photo_gallery(&model, &detector, &[dir.path().join("gone.png")], Tta::None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("gone.png"), "{err}");
    }
}
