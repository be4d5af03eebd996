//! 3x3 "same" convolution on small planes, for [`super::shifted_conv::conv3x3`]: the pixels'
//! windows copied out, then one product by all nine taps.
//!
//! The in-place products compute an output for every position of the padded layout, padding
//! included: a 6x6 plane takes 7x7 positions, so 36% of the work lands on padding and is thrown
//! away. Copying each pixel's window (three runs of `3C` values) costs one pass over `9C`
//! values per pixel, which on small planes with many channels is cheaper than the wasted
//! products; the limit, [`SMALL_PLANE_MAX_SIDE`](super::tuning::SMALL_PLANE_MAX_SIDE), says
//! what was measured. Every output is one dot product over the same `9C` taps in the same
//! order as on any other split, so the bits do not depend on the threads.

use rayon::prelude::*;

use super::matmul::{matmul, MatMut, MatRef};
use super::padded_maps::PaddedMaps;
use super::scratch::Scratch;

/// Target bytes of one task's copied windows: well within the L2 cache, so the product reads
/// what the copy just wrote (three images of the best network's 256-channel 6x6 layer).
const TASK_WINDOW_BYTES: usize = 1 << 20;

/// Fewest output channels of a block when one task's product is split by output channel (one
/// face): narrower products waste the GEMM kernel's width.
const MIN_BLOCK_COLUMNS: usize = 64;

/// Most output-channel blocks one task is split into: enough to keep two cores evenly busy.
const MAX_BLOCKS: usize = 4;

/// The "same" 3x3 convolution of `input` with `taps`, the `9C x O` matrix with rows
/// `(ky, kx, c)`, plus `bias`, through ReLU when `relu`.
pub(super) fn conv3x3_gathered(
    input: &PaddedMaps,
    taps: &[f32],
    bias: &[f32],
    relu: bool,
) -> PaddedMaps {
    let (c, o, side) = (input.channels, bias.len(), input.side);
    assert_eq!(taps.len(), 9 * c * o, "taps length");
    let width = input.row_width();
    let mut out = PaddedMaps::unfilled(input.images, side, o);
    // Per image: its rows of pixels and the zero row below them; before the first image lies
    // one zero row, after the last one spare zero row.
    let image_len = (side + 1) * width * o;
    let (top, rest) = out.data.split_at_mut(width * o);
    top.fill(0.0);
    let (images_out, spare) = rest.split_at_mut(input.images * image_len);
    spare.fill(0.0);
    if images_out.is_empty() {
        return out;
    }
    let window_bytes = side * side * 9 * c * std::mem::size_of::<f32>();
    let images_per_task = (TASK_WINDOW_BYTES / window_bytes.max(1)).max(1);
    let blocks = if input.images <= images_per_task {
        (o / MIN_BLOCK_COLUMNS).clamp(1, MAX_BLOCKS)
    } else {
        1
    };
    let columns = o.div_ceil(blocks);
    images_out
        .par_chunks_mut(images_per_task * image_len)
        .enumerate()
        .for_each(|(task, dst)| {
            let first_image = task * images_per_task;
            let pixels = dst.len() / image_len * side * side;
            let mut windows = Scratch::take(pixels * 9 * c);
            let mut window_rows = windows.chunks_exact_mut(9 * c);
            for n in first_image..first_image + dst.len() / image_len {
                for y in 0..side {
                    for x in 0..side {
                        let anchor = input.position(n, y, x) - width - 1;
                        let window = window_rows.next().expect("one window per pixel");
                        for (ky, run) in window.chunks_exact_mut(3 * c).enumerate() {
                            run.copy_from_slice(&input.data[(anchor + ky * width) * c..][..3 * c]);
                        }
                    }
                }
            }
            // The products block by block, each block's `pixels x columns` matrix contiguous.
            let mut products = Scratch::take(pixels * o);
            products
                .par_chunks_mut(pixels * columns)
                .enumerate()
                .for_each(|(block, part)| {
                    let part_columns = part.len() / pixels;
                    matmul(
                        MatMut::row_major(part, pixels, part_columns),
                        MatRef::row_major(&windows, pixels, 9 * c),
                        MatRef::strided(&taps[block * columns..], 9 * c, part_columns, o, 1),
                        false,
                        1,
                    );
                });
            // Bias, ReLU and the zero column of each row; the zero row below each image.
            for (image, image_dst) in dst.chunks_exact_mut(image_len).enumerate() {
                let (rows, below) = image_dst.split_at_mut(side * width * o);
                below.fill(0.0);
                for (y, row) in rows.chunks_exact_mut(width * o).enumerate() {
                    row[..o].fill(0.0);
                    for (x, value) in row[o..].chunks_exact_mut(o).enumerate() {
                        let pixel = (image * side + y) * side + x;
                        for (block, part) in products.chunks(pixels * columns).enumerate() {
                            let part_columns = part.len() / pixels;
                            let first_column = block * columns;
                            let sums = &part[pixel * part_columns..][..part_columns];
                            let targets = &mut value[first_column..][..part_columns];
                            let biases = &bias[first_column..][..part_columns];
                            for ((v, s), b) in targets.iter_mut().zip(sums).zip(biases) {
                                *v = if relu { (s + b).max(0.0) } else { s + b };
                            }
                        }
                    }
                }
            }
        });
    out
}
