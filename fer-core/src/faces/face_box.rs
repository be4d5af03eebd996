//! A face found in a photo: its square box in the photo's pixels and the detector's score.

use serde::Serialize;

/// A face's box in a photo (pixels; `x`, `y` the top-left corner), clipped to the photo, with
/// the detector's confidence. SeetaFace's boxes are square before clipping; a face at the edge
/// of the photo gets a narrower or shorter box.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FaceBox {
    /// Left edge, in pixels from the photo's left.
    pub x: u32,
    /// Top edge, in pixels from the photo's top.
    pub y: u32,
    /// Width in pixels (at least 1).
    pub width: u32,
    /// Height in pixels (at least 1).
    pub height: u32,
    /// The detector's score (SeetaFace's funnel cascade: higher is surer; boxes under the
    /// detector's threshold are never returned).
    #[serde(skip)]
    pub score: f32,
}

impl FaceBox {
    /// The box's centre, in pixels.
    pub fn center(&self) -> (f32, f32) {
        (
            self.x as f32 + self.width as f32 / 2.0,
            self.y as f32 + self.height as f32 / 2.0,
        )
    }

    /// Intersection over union with `other`: 1 for the same box, 0 for disjoint ones.
    pub fn iou(&self, other: &FaceBox) -> f32 {
        let left = self.x.max(other.x);
        let top = self.y.max(other.y);
        let right = (self.x + self.width).min(other.x + other.width);
        let bottom = (self.y + self.height).min(other.y + other.height);
        if right <= left || bottom <= top {
            return 0.0;
        }
        let inter = f64::from(right - left) * f64::from(bottom - top);
        let area = |b: &FaceBox| f64::from(b.width) * f64::from(b.height);
        (inter / (area(self) + area(other) - inter)) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x: u32, y: u32, side: u32) -> FaceBox {
        FaceBox {
            x,
            y,
            width: side,
            height: side,
            score: 1.0,
        }
    }

    #[test]
    fn iou_of_equal_shifted_and_disjoint_boxes() {
        assert_eq!(b(10, 10, 20).iou(&b(10, 10, 20)), 1.0);
        // Shifted by half a side: overlap 10x20 = 200 of a union of 600.
        assert!((b(10, 10, 20).iou(&b(20, 10, 20)) - 200.0 / 600.0).abs() < 1e-6);
        assert_eq!(b(0, 0, 10).iou(&b(10, 0, 10)), 0.0);
        assert_eq!(b(10, 10, 20).center(), (20.0, 20.0));
    }
}
