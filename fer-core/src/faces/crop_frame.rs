//! How FER2013 frames its faces relative to the detector's box, measured on FER2013's own faces:
//! where [`crop_face`](super::crop_face)'s constants come from.
//!
//! Each 48x48 face is enlarged (4x: 192 pixels, so a face fills more than the detector's
//! 40-pixel window and the box is not quantised by the tiny image), the detector searches it,
//! and the whole crop is compared with the best-scoring box: its side over the box's side, and
//! its centre's offset from the box's centre in box sides. Medians over the faces found resist
//! the odd box on a hand or a second face.

use image::{imageops::FilterType, GrayImage};

use super::detector::FaceDetector;
use super::face_box::FaceBox;
use crate::data::{Face, IMAGE_SIDE};

/// What [`measure_crop_frame`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct CropFrame {
    /// The faces searched.
    pub faces: usize,
    /// The best box found in each enlarged face (`None`: no face found), in the enlarged
    /// image's pixels.
    pub boxes: Vec<Option<FaceBox>>,
    /// Median of crop side / box side over the faces found (`NaN` if none was).
    pub side_per_box: f32,
    /// Median horizontal offset of the crop's centre from the box's centre, in box sides.
    pub center_dx: f32,
    /// Median vertical offset (positive: the crop's centre is below the box's).
    pub center_dy: f32,
}

impl CropFrame {
    /// How many faces the detector found.
    pub fn found(&self) -> usize {
        self.boxes.iter().filter(|b| b.is_some()).count()
    }
}

/// A 48x48 face enlarged `upscale` times with a triangle filter, as [`measure_crop_frame`]
/// searches it.
pub fn enlarge_face(face: &Face, upscale: u32) -> GrayImage {
    let side = IMAGE_SIDE as u32;
    let gray = GrayImage::from_raw(side, side, face.to_vec()).expect("a face has 48x48 pixels");
    let big = side * upscale.max(1);
    image::imageops::resize(&gray, big, big, FilterType::Triangle)
}

/// Runs `detector` over each of `faces` enlarged `upscale` times and measures the crop's frame
/// around the best box (see the [module docs](self)).
pub fn measure_crop_frame(faces: &[Face], upscale: u32, detector: &FaceDetector) -> CropFrame {
    let crop_side = (IMAGE_SIDE as u32 * upscale.max(1)) as f32;
    let boxes: Vec<Option<FaceBox>> = faces
        .iter()
        .map(|face| {
            detector
                .detect_gray(&enlarge_face(face, upscale))
                .into_iter()
                .max_by(|a, b| a.score.total_cmp(&b.score))
        })
        .collect();
    let found: Vec<&FaceBox> = boxes.iter().flatten().collect();
    let side = |b: &FaceBox| b.width.max(b.height) as f32;
    let mut ratios: Vec<f32> = found.iter().map(|b| crop_side / side(b)).collect();
    let mut dx: Vec<f32> = found
        .iter()
        .map(|b| (crop_side / 2.0 - b.center().0) / side(b))
        .collect();
    let mut dy: Vec<f32> = found
        .iter()
        .map(|b| (crop_side / 2.0 - b.center().1) / side(b))
        .collect();
    CropFrame {
        faces: faces.len(),
        side_per_box: median(&mut ratios),
        center_dx: median(&mut dx),
        center_dy: median(&mut dy),
        boxes,
    }
}

/// The median of `values` (the mean of the middle two for an even count); `NaN` if empty.
fn median(values: &mut [f32]) -> f32 {
    if values.is_empty() {
        return f32::NAN;
    }
    values.sort_by(f32::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_even_and_empty_lists() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }

    #[test]
    fn blank_faces_give_no_box_and_no_frame() {
        let detector = FaceDetector::new(Default::default()).unwrap();
        let frame = measure_crop_frame(&[[128u8; 48 * 48]; 2], 4, &detector);
        assert_eq!((frame.faces, frame.found()), (2, 0));
        assert!(frame.side_per_box.is_nan());
        assert_eq!(enlarge_face(&[7u8; 48 * 48], 4).dimensions(), (192, 192));
    }
}
