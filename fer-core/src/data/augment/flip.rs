//! Horizontal flip: a face mirrored left-right is still the same emotion.

use crate::data::IMAGE_SIDE;

/// Mirrors a row-major 48x48 image left-right, in place.
///
/// `image` holds whole rows of [`IMAGE_SIDE`] pixels; applying it twice gives the image back.
pub fn flip_horizontal<T>(image: &mut [T]) {
    for row in image.chunks_exact_mut(IMAGE_SIDE) {
        row.reverse();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::IMAGE_PIXELS;

    #[test]
    fn flip_moves_the_left_column_to_the_right_and_twice_is_identity() {
        let original: Vec<f32> = (0..IMAGE_PIXELS).map(|i| i as f32).collect();
        let mut image = original.clone();
        flip_horizontal(&mut image);
        // Row 0 held 0..47, so its first pixel is now 47 and its last 0.
        assert_eq!(image[0], 47.0);
        assert_eq!(image[IMAGE_SIDE - 1], 0.0);
        assert_ne!(image, original);
        flip_horizontal(&mut image);
        assert_eq!(image, original);
    }
}
