//! A detected face as the model's input: a square crop framed the way FER2013's faces are,
//! grayscale, 48x48, converted exactly as the training data was.
//!
//! FER2013's crops are not the detector's boxes: they hold more of the head. The frame below
//! was measured by running the detector over FER2013 test faces enlarged 4x
//! ([`measure_crop_frame`](super::measure_crop_frame), checked by the full-data test
//! `faces_full`): on the faces it found, the whole 48x48 crop is [`CROP_SIDE_PER_BOX`] times
//! the box's side (median), and its centre lies [`CROP_CENTER_DX`] and [`CROP_CENTER_DY`] box
//! sides right of and below the box's centre (medians).

use image::{DynamicImage, GrayImage, Luma};

use super::face_box::FaceBox;
use crate::data::{face_from_image, Face};

/// A FER2013 crop's side over the detector's box side: 1.1163, the median over the 416 of 500
/// test faces (every 14th of test/, enlarged 4x) the detector found; a margin of 5.8% of the
/// box on each side (see the module docs).
pub const CROP_SIDE_PER_BOX: f32 = 1.116;
/// Horizontal offset of a FER2013 crop's centre from the box's centre, in box sides: -0.0027,
/// the median on the same faces (FER2013's crops are centred on the face).
pub const CROP_CENTER_DX: f32 = -0.003;
/// Vertical offset of a FER2013 crop's centre from the box's centre, in box sides (positive is
/// down): -0.0055, the median on the same faces.
pub const CROP_CENTER_DY: f32 = -0.005;

/// The square region of the photo, in pixels, that [`crop_face`] takes for `face`:
/// `(left, top, side)`, possibly reaching outside the photo.
pub fn crop_region(face: &FaceBox) -> (i64, i64, u32) {
    let box_side = face.width.max(face.height) as f32;
    let (cx, cy) = face.center();
    let side = (box_side * CROP_SIDE_PER_BOX).round().max(1.0);
    let cx = cx + CROP_CENTER_DX * box_side;
    let cy = cy + CROP_CENTER_DY * box_side;
    (
        (cx - side / 2.0).round() as i64,
        (cy - side / 2.0).round() as i64,
        side as u32,
    )
}

/// The face in `face`'s box as FER2013 frames its faces ([`crop_region`]), as a 48x48 grayscale
/// face made by [`face_from_image`] (the loader's own conversion). Where the frame reaches
/// past the photo's edge, the edge pixels are repeated.
pub fn crop_face(photo: &DynamicImage, face: &FaceBox) -> Face {
    match photo {
        DynamicImage::ImageLuma8(gray) => crop_face_gray(gray, face),
        other => crop_face_gray(&other.to_luma8(), face),
    }
}

/// [`crop_face`] of a grayscale photo (saves the conversion when cropping several faces).
pub fn crop_face_gray(photo: &GrayImage, face: &FaceBox) -> Face {
    let (left, top, side) = crop_region(face);
    let (w, h) = photo.dimensions();
    if w == 0 || h == 0 {
        return [0; crate::data::IMAGE_PIXELS];
    }
    let clamp = |v: i64, n: u32| v.clamp(0, i64::from(n) - 1) as u32;
    let square = GrayImage::from_fn(side, side, |x, y| {
        let px = clamp(left + i64::from(x), w);
        let py = clamp(top + i64::from(y), h);
        Luma([photo.get_pixel(px, py)[0]])
    });
    face_from_image(DynamicImage::ImageLuma8(square))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crop_is_centred_on_the_box_with_the_measured_frame() {
        let b = FaceBox {
            x: 100,
            y: 50,
            width: 80,
            height: 80,
            score: 5.0,
        };
        let (left, top, side) = crop_region(&b);
        assert_eq!(side, (80.0 * CROP_SIDE_PER_BOX).round() as u32);
        let centre_x = left as f32 + side as f32 / 2.0;
        let centre_y = top as f32 + side as f32 / 2.0;
        assert!((centre_x - (140.0 + CROP_CENTER_DX * 80.0)).abs() <= 1.0);
        assert!((centre_y - (90.0 + CROP_CENTER_DY * 80.0)).abs() <= 1.0);
    }

    /// A photo whose left half is black and right half white, cropped around its centre, gives
    /// a face dark on the left and light on the right; a crop past the edge repeats the edge.
    #[test]
    fn crops_keep_the_photo_and_repeat_its_edges() {
        let photo = GrayImage::from_fn(200, 200, |x, _| Luma([if x < 100 { 0 } else { 255 }]));
        let b = FaceBox {
            x: 60,
            y: 60,
            width: 80,
            height: 80,
            score: 5.0,
        };
        let face = crop_face(&DynamicImage::ImageLuma8(photo.clone()), &b);
        assert_eq!(face[24 * 48], 0);
        assert_eq!(face[24 * 48 + 47], 255);
        // A box in the top-left corner: the frame reaches outside, filled with the edge.
        let corner = FaceBox {
            x: 0,
            y: 0,
            width: 30,
            height: 30,
            score: 5.0,
        };
        let face = crop_face_gray(&photo, &corner);
        assert!(face.iter().all(|&v| v == 0), "all of it is the black half");
    }
}
