//! Face detection in photos with SeetaFace's frontal detector (the `rustface` crate).
//!
//! The weights are `model/seeta_fd_frontal_v1.0.bin` from the `rustface` crate's package on
//! crates.io (`build.rs` finds the file through `cargo metadata`; nothing is downloaded). The
//! model was trained and released by the VIPL group of the Institute of Computing Technology,
//! Chinese Academy of Sciences, with SeetaFace Detection under the BSD 2-Clause licence
//! (Copyright (c) 2016 VIPL group, ICT, CAS), which rustface, a port, keeps.
//!
//! SeetaFace slides a 40-pixel window over an image pyramid that only shrinks the image, so on
//! its own it finds faces of 40 pixels and more. [`DetectorOptions::min_face`] rescales the
//! photo before detection so that its smallest face becomes 40 pixels: up for smaller faces
//! (more work), down for larger ones (much less work: a photo whose faces are at least 80
//! pixels is searched at half size). Boxes are mapped back to the photo's pixels.

use std::sync::OnceLock;

use image::{imageops::FilterType, DynamicImage, GrayImage, Luma};
use imageproc::geometric_transformations::{rotate_about_center, Border, Interpolation};

use super::face_box::FaceBox;
use crate::error::{FerError, Result};

/// SeetaFace's frontal model, embedded from the rustface package (see the module docs for where
/// it comes from and its licence).
static SEETA_MODEL: &[u8] = include_bytes!(env!("FER_SEETA_MODEL_PATH"));

/// The side of SeetaFace's detection window: the smallest face it finds at a photo's own scale.
pub const DETECTOR_WINDOW: u32 = 40;

/// The default smallest face, in the photo's pixels: the detector's window, so a photo is
/// searched at its own resolution. FER2013's faces are 48 pixels; a face much smaller than that
/// has lost the detail the classifier was trained on.
pub const DEFAULT_MIN_FACE: u32 = DETECTOR_WINDOW;

/// The smallest `min_face` accepted: below it a face has too few pixels to classify, and the
/// photo would be enlarged more than [`MAX_UPSCALE`] allows anyway.
pub const MIN_MIN_FACE: u32 = 12;

/// The largest enlargement of a photo for small faces (`DETECTOR_WINDOW / min_face`).
pub const MAX_UPSCALE: f32 = 4.0;

/// The most pixels an image is searched at (after rescaling for `min_face`): bounds the
/// detector's memory and time. A larger photo is searched at a smaller scale, so its smallest
/// faces grow past `min_face`.
pub const MAX_SEARCH_PIXELS: u64 = 16_000_000;

/// The default score threshold: SeetaFace's own example uses 2.0 (rustface's default is 3.85,
/// which here missed one of the two faces of scikit-image's photos; see [`DetectorOptions`]).
pub const DEFAULT_SCORE_THRESHOLD: f32 = 2.0;

/// Boxes of the upright and rotated searches overlapping more than this (intersection over
/// union) are one face; the higher score is kept.
const MERGE_IOU: f32 = 0.3;

/// How the detector searches a photo. Each default is stated on its field.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorOptions {
    /// Smallest face side to find, in the photo's pixels; default [`DEFAULT_MIN_FACE`]; at
    /// least [`MIN_MIN_FACE`].
    pub min_face: u32,
    /// Boxes scoring under this are dropped; default [`DEFAULT_SCORE_THRESHOLD`]; positive.
    /// Lower finds more faces and more false ones.
    pub score_threshold: f32,
    /// Ratio between sizes of the image pyramid, in (0.1, 0.99); default 0.8 (SeetaFace's).
    pub pyramid_step: f32,
    /// Pixels the window moves at each step of the slide, 1..=16; default 4 (SeetaFace's).
    pub window_step: u32,
    /// Extra searches of the photo rotated by these angles (degrees, clockwise), for tilted
    /// heads; default none (each angle costs one more full search).
    pub rotations: Vec<f32>,
}

impl Default for DetectorOptions {
    fn default() -> Self {
        DetectorOptions {
            min_face: DEFAULT_MIN_FACE,
            score_threshold: DEFAULT_SCORE_THRESHOLD,
            pyramid_step: 0.8,
            window_step: 4,
            rotations: Vec::new(),
        }
    }
}

impl DetectorOptions {
    /// Checks every option (rustface panics on values outside its ranges, so they are refused
    /// here first).
    pub fn check(&self) -> Result<()> {
        if self.min_face < MIN_MIN_FACE {
            return Err(FerError::invalid_parameter(
                "min_face",
                format!(
                    "{} pixels is under the smallest face {MIN_MIN_FACE} pixels",
                    self.min_face
                ),
            ));
        }
        if !(self.score_threshold > 0.0 && self.score_threshold.is_finite()) {
            return Err(FerError::invalid_parameter(
                "score_threshold",
                format!("{} is not a positive number", self.score_threshold),
            ));
        }
        if !(self.pyramid_step > 0.1 && self.pyramid_step < 0.99) {
            return Err(FerError::invalid_parameter(
                "pyramid_step",
                format!("{} is not in (0.1, 0.99)", self.pyramid_step),
            ));
        }
        if !(1..=16).contains(&self.window_step) {
            return Err(FerError::invalid_parameter(
                "window_step",
                format!("{} is not in 1..=16", self.window_step),
            ));
        }
        if let Some(a) = self.rotations.iter().find(|a| a.is_nan() || a.abs() > 90.0) {
            return Err(FerError::invalid_parameter(
                "rotations",
                format!("{a} degrees is not in [-90, 90]"),
            ));
        }
        Ok(())
    }
}

/// The parsed model, read once per process from the embedded bytes.
fn model() -> Result<rustface::Model> {
    static MODEL: OnceLock<std::result::Result<rustface::Model, String>> = OnceLock::new();
    MODEL
        .get_or_init(|| rustface::read_model(SEETA_MODEL).map_err(|e| e.to_string()))
        .clone()
        .map_err(|message| FerError::Model {
            path: env!("FER_SEETA_MODEL_PATH").into(),
            message: format!("the embedded face detector model does not parse: {message}"),
        })
}

/// A face detector with its options, reusable across photos.
///
/// A search runs in two parts at once (rayon tasks), which together cover the scales
/// SeetaFace's own pyramid would: the image at full size alone, and the rest of the pyramid
/// from one step down (a single search is one thread through levels of 1, 0.64, 0.41...
/// times the pixels, so its first level is over a third of its work).
///
/// ```
/// use fer_core::faces::{DetectorOptions, FaceDetector};
/// let detector = FaceDetector::new(DetectorOptions::default())?;
/// // A uniform grey photo holds no face.
/// let photo = image::DynamicImage::new_luma8(320, 240);
/// assert!(detector.detect(&photo).is_empty());
/// # Ok::<(), fer_core::FerError>(())
/// ```
#[derive(Clone)]
pub struct FaceDetector {
    options: DetectorOptions,
    model: rustface::Model,
}

impl std::fmt::Debug for FaceDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaceDetector")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl FaceDetector {
    /// A detector searching with `options`, which are checked first.
    pub fn new(options: DetectorOptions) -> Result<Self> {
        options.check()?;
        Ok(FaceDetector {
            options,
            model: model()?,
        })
    }

    /// The options the detector searches with.
    pub fn options(&self) -> &DetectorOptions {
        &self.options
    }

    /// The faces in `photo` (any colour; searched in grayscale), left to right.
    pub fn detect(&self, photo: &DynamicImage) -> Vec<FaceBox> {
        match photo {
            DynamicImage::ImageLuma8(gray) => self.detect_gray(gray),
            other => self.detect_gray(&other.to_luma8()),
        }
    }

    /// The faces in a grayscale photo, left to right (then top to bottom).
    pub fn detect_gray(&self, photo: &GrayImage) -> Vec<FaceBox> {
        let (width, height) = photo.dimensions();
        if width == 0 || height == 0 {
            return Vec::new();
        }
        let scale = search_scale(width, height, self.options.min_face);
        let search = resized(photo, scale);
        let mut boxes = Vec::new();
        let angles = std::iter::once(0.0).chain(self.options.rotations.iter().copied());
        for angle in angles {
            let turned;
            let image = if angle == 0.0 {
                &search
            } else {
                turned = rotate_about_center(
                    &search,
                    angle.to_radians(),
                    Interpolation::Bilinear,
                    Border::Constant(Luma([0])),
                );
                &turned
            };
            for b in self.search(image, angle, scale, (width, height)) {
                merge(&mut boxes, b);
            }
        }
        let min_face = self.options.min_face;
        boxes.retain(|b| b.width.max(b.height) >= min_face);
        boxes.sort_by_key(|b| (b.x, b.y));
        boxes
    }

    /// One search of `image` (the photo scaled by `scale`, then rotated by `angle` degrees
    /// clockwise about its centre) in two parts at once (see the type's docs), with the
    /// boxes mapped back into the photo's `size`.
    fn search(&self, image: &GrayImage, angle: f32, scale: f32, size: (u32, u32)) -> Vec<FaceBox> {
        let step = self.options.pyramid_step;
        let (first, rest) = rayon::join(
            || self.search_levels(image, 1.0, true),
            || self.search_levels(&resized(image, step), step, false),
        );
        let (w, h) = image.dimensions();
        let (sin, cos) = angle.to_radians().sin_cos();
        let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
        let mut boxes = Vec::new();
        for (x, y, side, score) in first.into_iter().chain(rest) {
            // The box's centre in the rotated image, turned back by -angle about the centre
            // (the rotation maps q to c + R(angle)(q - c)), then unscaled.
            let (bx, by) = (x + side / 2.0 - cx, y + side / 2.0 - cy);
            let (ux, uy) = (cx + cos * bx + sin * by, cy - sin * bx + cos * by);
            if let Some(b) = clip_square(ux / scale, uy / scale, side / scale, size, score) {
                merge(&mut boxes, b);
            }
        }
        boxes
    }

    /// SeetaFace on `image`, which is the searched image resized by `factor`: only the image's
    /// own scale if `single_level`, else its whole pyramid. Boxes are `(x, y, side, score)` in
    /// the searched image's pixels.
    fn search_levels(
        &self,
        image: &GrayImage,
        factor: f32,
        single_level: bool,
    ) -> Vec<(f32, f32, f32, f32)> {
        let (w, h) = image.dimensions();
        if w < DETECTOR_WINDOW || h < DETECTOR_WINDOW {
            return Vec::new();
        }
        let mut detector = rustface::create_detector_with_model(self.model.clone());
        detector.set_score_thresh(f64::from(self.options.score_threshold));
        detector.set_pyramid_scale_factor(self.options.pyramid_step);
        detector.set_slide_window_step(self.options.window_step, self.options.window_step);
        if single_level {
            // The pyramid stops at scale window / max_face: just above one step down, so only
            // the image's own scale is searched.
            let max_face = (DETECTOR_WINDOW as f32 / self.options.pyramid_step.sqrt()) as u32;
            detector.set_max_face_size(max_face);
        }
        let data = rustface::ImageData::new(image.as_raw(), w, h);
        detector
            .detect(&data)
            .into_iter()
            .map(|face| {
                let r = face.bbox();
                (
                    r.x() as f32 / factor,
                    r.y() as f32 / factor,
                    r.width() as f32 / factor,
                    face.score() as f32,
                )
            })
            .collect()
    }
}

/// Adds `b` to `boxes` unless it is a face already there (overlap above [`MERGE_IOU`]), in
/// which case the higher-scoring of the two is kept.
fn merge(boxes: &mut Vec<FaceBox>, b: FaceBox) {
    match boxes.iter_mut().find(|kept| kept.iou(&b) > MERGE_IOU) {
        Some(kept) if kept.score < b.score => *kept = b,
        Some(_) => {}
        None => boxes.push(b),
    }
}

/// `image` resized by `factor` (a triangle filter; the image itself for 1).
fn resized(image: &GrayImage, factor: f32) -> GrayImage {
    if factor == 1.0 {
        return image.clone();
    }
    let (width, height) = image.dimensions();
    let w = ((width as f32 * factor).round() as u32).max(1);
    let h = ((height as f32 * factor).round() as u32).max(1);
    image::imageops::resize(image, w, h, FilterType::Triangle)
}

/// The factor a `width` x `height` photo is resized by before the search, so that a face of
/// `min_face` pixels fills the detector's window: at most [`MAX_UPSCALE`], and small enough
/// that the searched image has at most [`MAX_SEARCH_PIXELS`].
pub fn search_scale(width: u32, height: u32, min_face: u32) -> f32 {
    let wanted = (DETECTOR_WINDOW as f32 / min_face.max(1) as f32).min(MAX_UPSCALE);
    let pixels = width as f64 * height as f64;
    let cap = (MAX_SEARCH_PIXELS as f64 / pixels).sqrt() as f32;
    wanted.min(cap)
}

/// The square of side `side` centred on (`cx`, `cy`), clipped to an image of `size`; `None`
/// if nothing of it is inside.
fn clip_square(cx: f32, cy: f32, side: f32, size: (u32, u32), score: f32) -> Option<FaceBox> {
    let left = (cx - side / 2.0).round().max(0.0);
    let top = (cy - side / 2.0).round().max(0.0);
    let right = (cx + side / 2.0).round().min(size.0 as f32);
    let bottom = (cy + side / 2.0).round().min(size.1 as f32);
    if right - left < 1.0 || bottom - top < 1.0 {
        return None;
    }
    Some(FaceBox {
        x: left as u32,
        y: top as u32,
        width: (right - left) as u32,
        height: (bottom - top) as u32,
        score,
    })
}

/// The faces in `photo` with the [default options](DetectorOptions::default), left to right.
///
/// # Panics
///
/// Only if the embedded model failed to parse, which the crate's tests rule out.
pub fn detect_faces(photo: &DynamicImage) -> Vec<FaceBox> {
    FaceDetector::new(DetectorOptions::default())
        .expect("the embedded SeetaFace model parses and the default options are valid")
        .detect(photo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn the_embedded_model_parses_and_bad_options_are_refused() {
        assert!(model().is_ok());
        for (options, name) in [
            (
                DetectorOptions {
                    min_face: 5,
                    ..Default::default()
                },
                "min_face",
            ),
            (
                DetectorOptions {
                    score_threshold: 0.0,
                    ..Default::default()
                },
                "score_threshold",
            ),
            (
                DetectorOptions {
                    pyramid_step: 1.0,
                    ..Default::default()
                },
                "pyramid_step",
            ),
            (
                DetectorOptions {
                    window_step: 0,
                    ..Default::default()
                },
                "window_step",
            ),
            (
                DetectorOptions {
                    rotations: vec![f32::NAN],
                    ..Default::default()
                },
                "rotations",
            ),
        ] {
            let err = FaceDetector::new(options).unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
    }

    /// Blank and noise images hold no face; tiny and empty ones are searched without a panic
    /// (rustface panics on a 0-pixel image).
    #[test]
    fn no_face_in_blank_noise_or_tiny_images() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let noise = GrayImage::from_fn(400, 300, |_, _| Luma([rng.gen()]));
        let detector = FaceDetector::new(DetectorOptions {
            rotations: vec![-20.0, 20.0],
            ..Default::default()
        })
        .unwrap();
        assert!(detector.detect_gray(&noise).is_empty());
        assert!(detector
            .detect_gray(&GrayImage::from_pixel(400, 300, Luma([200])))
            .is_empty());
        assert!(detector.detect_gray(&GrayImage::new(0, 0)).is_empty());
        assert!(detector.detect_gray(&GrayImage::new(7, 3)).is_empty());
    }

    #[test]
    fn the_search_scale_follows_min_face_within_its_bounds() {
        assert_eq!(search_scale(640, 480, 40), 1.0);
        assert_eq!(search_scale(640, 480, 80), 0.5);
        assert_eq!(search_scale(640, 480, 20), 2.0);
        // Enlargement is capped, and so are the searched pixels.
        assert_eq!(search_scale(640, 480, 1), MAX_UPSCALE);
        let s = search_scale(8000, 8000, 40);
        assert!(
            (8000.0 * s).powi(2) <= MAX_SEARCH_PIXELS as f32 * 1.001,
            "{s}"
        );
    }

    #[test]
    fn boxes_are_clipped_to_the_photo() {
        let b = clip_square(5.0, 50.0, 20.0, (100, 100), 3.0).unwrap();
        assert_eq!((b.x, b.y, b.width, b.height), (0, 40, 15, 20));
        assert!(clip_square(-30.0, 50.0, 20.0, (100, 100), 3.0).is_none());
    }
}
