//! What convolution and pooling do to a face, with the very operations the CNN uses.

use dfdx::tensor::{Cpu, TensorFromVec};

use crate::data::{Face, IMAGE_PIXELS, IMAGE_SIDE};
use crate::error::Result;
use crate::ops::{conv2d_forward, ConvShape};
use crate::ops::{max_pool2d, WindowGeometry};
use crate::plot::FaceGrid;

/// A hand-made 3x3 filter of the demo: its caption, a short name for the pooled row, and its
/// weights (row-major).
pub type DemoFilter = (&'static str, &'static str, [f32; 9]);

/// The filters of the demo: two Sobel edge detectors and a box blur. A trained network's first
/// layer learns filters much like these.
pub const DEMO_FILTERS: [DemoFilter; 3] = [
    (
        "vertical",
        "vert",
        [-1.0, 0.0, 1.0, -2.0, 0.0, 2.0, -1.0, 0.0, 1.0],
    ),
    (
        "horizontal",
        "horiz",
        [-1.0, -2.0, -1.0, 0.0, 0.0, 0.0, 1.0, 2.0, 1.0],
    ),
    ("blur", "blur", [1.0 / 9.0; 9]),
];

/// Two rows of tiles. First row: `face`, then its convolution with each of [`DEMO_FILTERS`]
/// (3x3, stride 1, "same" padding, through ReLU, as the network's first layer computes them).
/// Second row: the same images after 2x2 max pooling (24x24, shown enlarged): half the
/// resolution, and each strong response survives if it was anywhere in its 2x2 window.
/// Each feature map is scaled so its 99th-percentile response is white (a few very strong
/// edges would otherwise leave the rest of the map black).
pub fn convolution_demo(face: &Face) -> Result<FaceGrid> {
    let side = IMAGE_SIDE;
    let input: Vec<f32> = face.iter().map(|&p| f32::from(p) / 255.0).collect();
    let filters = DEMO_FILTERS.len();
    let weights: Vec<f32> = DEMO_FILTERS.iter().flat_map(|(_, _, w)| *w).collect();
    let shape = ConvShape {
        batch: 1,
        out_channels: filters,
        geometry: WindowGeometry::new(1, side, side, 3, 1, 1)?,
    };
    // [1, 3, 48, 48] feature maps, then ReLU as in every block of the network.
    let mut maps = conv2d_forward(&input, &weights, &vec![0.0; filters], &shape);
    maps.iter_mut().for_each(|v| *v = v.max(0.0));

    // The input and the maps pooled together: [1, 4, 48, 48] -> [1, 4, 24, 24].
    let mut planes = input.clone();
    planes.extend_from_slice(&maps);
    let device = Cpu::default();
    let x = device.try_tensor_from_vec(planes, (1usize, filters + 1, side, side))?;
    let pooled = max_pool2d(x, 2, 2)?.as_vec();

    let mut grid =
        FaceGrid::new(filters + 1)?.with_title("Row 1: 3x3 conv + ReLU; row 2: 2x2 max pool");
    grid.push(face, "face 48x48");
    for (i, (name, _, _)) in DEMO_FILTERS.iter().enumerate() {
        grid.push_levels(
            &to_levels(&maps[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS]),
            *name,
        )?;
    }
    let half = side / 2;
    for (i, plane) in pooled.chunks_exact(half * half).enumerate() {
        let short = if i == 0 {
            "face"
        } else {
            DEMO_FILTERS[i - 1].1
        };
        let caption = format!("{short} pooled");
        grid.push_levels(&to_levels(&enlarge(plane, half)), caption)?;
    }
    Ok(grid)
}

/// Scales non-negative values so the 99th percentile becomes 255, clipping above it (an
/// all-zero map stays black).
fn to_levels(values: &[f32]) -> Vec<f32> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f32::total_cmp);
    let Some(&high) = sorted.get(sorted.len() * 99 / 100) else {
        return Vec::new();
    };
    let scale = if high > 0.0 { 255.0 / high } else { 0.0 };
    values
        .iter()
        .map(|&v| (v * scale).clamp(0.0, 255.0))
        .collect()
}

/// A `side` x `side` plane enlarged twice (nearest neighbour) to fill a face tile.
fn enlarge(plane: &[f32], side: usize) -> Vec<f32> {
    let big = 2 * side;
    (0..big * big)
        .map(|i| plane[(i / big / 2) * side + (i % big) / 2])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edge_lights_up_the_vertical_filter_only() {
        // Dark left half, bright right half: one vertical edge in the middle.
        let face: Face = std::array::from_fn(|p| if p % 48 < 24 { 20 } else { 220 });
        let grid = convolution_demo(&face).unwrap();
        assert_eq!(grid.len(), 8);
        let captions: Vec<&str> = grid.captions().collect();
        assert_eq!(captions[1], "vertical");
        assert_eq!(captions[6], "horiz pooled");
        assert_eq!(enlarge(&[1.0, 2.0, 3.0, 4.0], 2)[..4], [1.0, 1.0, 2.0, 2.0]);
        assert_eq!(to_levels(&[0.0, 2.0, 1.0]), [0.0, 255.0, 127.5]);
        assert_eq!(to_levels(&[0.0; 4]), [0.0; 4]);
    }
}
