//! 3x3 "same" convolution on [`PaddedMaps`], as three matrix products that read the input
//! where it lies, and its filter gradient the same way: inference runs it directly, training
//! layers through [`super::shifted_layer`].
//!
//! In the padded layout the window of the pixel at position `p` starts at the anchor
//! `q = p - row_width - 1`, and its row `ky` is the `3C` consecutive values from position
//! `q + ky * row_width`. So for every anchor at once,
//!
//! ```text
//! out[q + row_width + 1, o] = bias[o] + Σ_ky Σ_{j < 3C} in[(q + ky * row_width) * C + j] · F_ky[j, o]
//! ```
//!
//! with `F_ky[(kx, c), o] = W[o, c, ky, kx]`: per `ky` one product of a strided view of the
//! input (row `q` starts `C` values after row `q - 1`: the rows overlap) by a `3C x O` matrix.
//! im2col would first copy the input nine times over. Forward passes of the best network's
//! seven 3x3 layers with 32-256 input channels at batch 256 (2-core AVX-512 host; the two
//! measured half an hour apart, so roughly): im2col + product took 1.5-2.9 times as long as
//! these products (32->32 at 48x48: 141 ms against 53 with the pooling pass included; 256->256
//! at 6x6: 148 against 51, where Winograd F(2x2) took 76). Anchors whose window straddles an
//! image's edge compute values that land on padding positions, which are set back to zero.
//!
//! The anchors run in chunks whose size depends on the layer's shape only, so the same input
//! gives the same bits on any number of threads; chunks run in parallel (split by output
//! channel too when a layer has few of them: one face), each product single-threaded, and
//! each chunk's bias, ReLU and padding are applied while its output is in cache. With fewer
//! than [`MIN_PRODUCT_CHANNELS`] input channels (the network's first layer has one) the three
//! products' inner dimension would be tiny: the windows are copied out (nine values per pixel
//! and channel) and multiplied by all nine taps in one product. So are the pixels' windows on
//! planes of [`SMALL_PLANE_MAX_SIDE`] and smaller ([`super::small_plane_conv`]), where the
//! products would spend a third of their work on padding.

use rayon::prelude::*;

use super::matmul::{matmul, MatMut, MatRef};
use super::padded_maps::PaddedMaps;
use super::scratch::Scratch;
use super::small_plane_conv::conv3x3_gathered;
use super::tuning::SMALL_PLANE_MAX_SIDE;

/// Fewest input channels for which the products read the input in place.
const MIN_PRODUCT_CHANNELS: usize = 8;

/// 3x3 filters re-laid out for [`conv3x3`]: for each `ky`, a `3C x O` matrix with rows
/// `(kx, c)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ShiftedFilters {
    weight: Vec<f32>,
    in_channels: usize,
    out_channels: usize,
}

impl ShiftedFilters {
    /// From `O x C x 3 x 3` filters (dfdx's and PyTorch's layout).
    pub fn new(weight: &[f32], in_channels: usize, out_channels: usize) -> Self {
        assert_eq!(
            weight.len(),
            out_channels * in_channels * 9,
            "3x3 filter length"
        );
        let (c_count, o_count) = (in_channels, out_channels);
        let mut shifted = vec![0.0f32; weight.len()];
        for o in 0..o_count {
            for c in 0..c_count {
                for ky in 0..3 {
                    for kx in 0..3 {
                        let row = ky * 3 * c_count + kx * c_count + c;
                        shifted[row * o_count + o] = weight[((o * c_count + c) * 3 + ky) * 3 + kx];
                    }
                }
            }
        }
        ShiftedFilters {
            weight: shifted,
            in_channels,
            out_channels,
        }
    }

    /// The `3C x O` matrix of window row `ky`.
    fn row(&self, ky: usize) -> &[f32] {
        let len = 3 * self.in_channels * self.out_channels;
        &self.weight[ky * len..][..len]
    }
}

/// The filters of the input gradient, `C x O x 3 x 3` from `O x C x 3 x 3` `weight`: the "same"
/// convolution of the output gradient with these (`O` input channels, `C` output channels)
/// gives the input gradient, as
/// `dX[p, c] = Σ dY[p + (ky - 1, kx - 1), o] · W[o, c, 2 - ky, 2 - kx]`
/// (the filters turned half a circle, inputs and outputs swapped).
pub(crate) fn input_gradient_filters(
    weight: &[f32],
    in_channels: usize,
    out_channels: usize,
) -> Vec<f32> {
    let (c_count, o_count) = (in_channels, out_channels);
    let mut turned = vec![0.0f32; weight.len()];
    for o in 0..o_count {
        for c in 0..c_count {
            for tap in 0..9 {
                turned[(c * o_count + o) * 9 + 8 - tap] = weight[(o * c_count + c) * 9 + tap];
            }
        }
    }
    turned
}

/// Tasks a layer's products are split into when it is large enough: enough to keep two
/// cores evenly busy.
const TASKS: usize = 8;

/// Fewest output channels a task computes: narrower products waste the GEMM kernel's width.
const MIN_TASK_COLUMNS: usize = 64;

/// Anchors per chunk: about an eighth of the layer (so one face still spreads over the
/// threads), between 64 and 2048 (a chunk's output then stays within the L2 cache).
fn chunk_anchors(anchors: usize) -> usize {
    anchors.div_ceil(TASKS).clamp(64, 2048)
}

/// Output channels per task: all of them, unless the layer has fewer than [`TASKS`] chunks
/// (one face's 12x12 and 6x6 layers have 3 and 1), whose products are then split by output
/// channel too, so both threads work (one face of the best network, six alternating runs on
/// a 2-core AVX-512 host: median 2.02 -> 1.78 ms). Depends on the shape only, like the chunks.
fn task_columns(chunks: usize, out_channels: usize) -> usize {
    let blocks = TASKS
        .div_ceil(chunks)
        .next_power_of_two()
        .min(out_channels / MIN_TASK_COLUMNS)
        .max(1);
    out_channels.div_ceil(blocks)
}

/// The "same" 3x3 convolution of `input` with `filters` and `bias`, through ReLU when `relu`.
pub fn conv3x3(
    input: &PaddedMaps,
    filters: &ShiftedFilters,
    bias: &[f32],
    relu: bool,
) -> PaddedMaps {
    assert_eq!(input.channels, filters.in_channels, "input channels");
    assert_eq!(bias.len(), filters.out_channels, "bias length");
    let (c, o) = (filters.in_channels, filters.out_channels);
    if input.images == 0 || input.side == 0 {
        return PaddedMaps::zeros(input.images, input.side, o);
    }
    if c >= MIN_PRODUCT_CHANNELS && input.side <= SMALL_PLANE_MAX_SIDE {
        return conv3x3_gathered(input, &filters.weight, bias, relu);
    }
    let mut out = PaddedMaps::unfilled(input.images, input.side, o);
    let width = input.row_width();
    let last_pixel = input.position(input.images - 1, input.side - 1, input.side - 1);
    let anchors = last_pixel - width;
    let chunk = chunk_anchors(anchors);
    let columns = task_columns(anchors.div_ceil(chunk), o);
    // The products write every position from the first pixel to the last; before and after
    // them lie only zero rows.
    let first_output = (width + 1) * o;
    out.data[..first_output].fill(0.0);
    out.data[first_output + anchors * o..].fill(0.0);
    out.data[first_output..][..anchors * o]
        .par_chunks_mut(chunk * o)
        .enumerate()
        .for_each(|(index, dst)| {
            let first = index * chunk;
            let rows = dst.len() / o;
            // Output channels `first_column..` of the chunk's anchors, as three products.
            let products = |dst: &mut [f32], first_column: usize| {
                let width_columns = dst.len() / rows;
                for ky in 0..3 {
                    matmul(
                        MatMut::row_major(dst, rows, width_columns),
                        MatRef::strided(&input.data[(first + ky * width) * c..], rows, 3 * c, c, 1),
                        MatRef::strided(
                            &filters.row(ky)[first_column..],
                            3 * c,
                            width_columns,
                            o,
                            1,
                        ),
                        ky > 0,
                        1,
                    );
                }
            };
            if c >= MIN_PRODUCT_CHANNELS && columns == o {
                products(dst, 0);
            } else if c >= MIN_PRODUCT_CHANNELS {
                // Each block of output channels into its own buffer, then copied into place.
                let parts: Vec<Scratch> = (0..o.div_ceil(columns))
                    .into_par_iter()
                    .map(|block| {
                        let first_column = block * columns;
                        let mut part = Scratch::take(rows * columns.min(o - first_column));
                        products(&mut part, first_column);
                        part
                    })
                    .collect();
                for (block, part) in parts.iter().enumerate() {
                    let part_columns = part.len() / rows;
                    for (values, part_values) in
                        dst.chunks_exact_mut(o).zip(part.chunks_exact(part_columns))
                    {
                        values[block * columns..][..part_columns].copy_from_slice(part_values);
                    }
                }
            } else {
                // The windows copied out (9C values per anchor: little, with few channels),
                // then one product with all nine taps.
                let mut windows = Scratch::take(rows * 9 * c);
                for (row, window) in windows.chunks_exact_mut(9 * c).enumerate() {
                    for (ky, part) in window.chunks_exact_mut(3 * c).enumerate() {
                        part.copy_from_slice(
                            &input.data[(first + row + ky * width) * c..][..3 * c],
                        );
                    }
                }
                matmul(
                    MatMut::row_major(dst, rows, o),
                    MatRef::row_major(&windows, rows, 9 * c),
                    MatRef::row_major(&filters.weight, 9 * c, o),
                    false,
                    1,
                );
            }
            // Bias, ReLU and padding, walking the positions row by row (no division per
            // position: it cost as much as a small layer's products).
            let mut position = first + width + 1;
            let mut values = dst.chunks_exact_mut(o);
            while values.len() > 0 {
                let (row, column) = (position / width, position % width);
                let (padding, pixels) = if row % (input.side + 1) == 0 {
                    (width - column, 0) // a zero row
                } else if column == 0 {
                    (1, width - 1) // a zero column, then a row of pixels
                } else {
                    (0, width - column) // the rest of a row of pixels
                };
                for value in values.by_ref().take(padding) {
                    value.fill(0.0);
                }
                for value in values.by_ref().take(pixels) {
                    if relu {
                        value
                            .iter_mut()
                            .zip(bias)
                            .for_each(|(v, b)| *v = (*v + b).max(0.0));
                    } else {
                        value.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
                    }
                }
                position += padding + pixels;
            }
        });
    out
}

/// Anchor ranges the filter gradient sums separately before adding them in order: a fixed
/// number, so the bits do not depend on the threads, and enough to keep two cores busy.
const FILTER_GRADIENT_PARTS: usize = 8;

/// The filter gradient of [`conv3x3`], added to `grad_weight` (`O x C x 3 x 3`), and the bias
/// gradient, added to `grad_bias`: `grad_output` is the gradient of its output, laid out like
/// it, with zero on every padding position (so the anchors whose window straddles an edge
/// contribute nothing), and `input` the forward input. Per window row `ky`,
///
/// ```text
/// dF_ky[(kx, c), o] = Σ_q in[(q + ky * row_width) * C + (kx, c)] · dY[q + row_width + 1, o]
/// ```
///
/// is one product of the transposed overlapping view the forward pass reads by the output
/// gradient: no im2col copy here either.
pub(crate) fn conv3x3_filter_gradient(
    input: &PaddedMaps,
    grad_output: &PaddedMaps,
    grad_weight: &mut [f32],
    grad_bias: &mut [f32],
) {
    let (c, o) = (input.channels, grad_output.channels);
    assert_eq!(
        (input.images, input.side),
        (grad_output.images, grad_output.side)
    );
    assert_eq!(grad_weight.len(), o * c * 9, "filter gradient length");
    assert_eq!(grad_bias.len(), o, "bias gradient length");
    if input.images == 0 || input.side == 0 {
        return;
    }
    let width = input.row_width();
    let anchors = input.position(input.images - 1, input.side - 1, input.side - 1) - width;
    let part = anchors.div_ceil(FILTER_GRADIENT_PARTS);
    let dy = &grad_output.data[(width + 1) * o..][..anchors * o];
    // Each part: [dF_0, dF_1, dF_2, db], then the parts added in order.
    let parts: Vec<Vec<f32>> = dy
        .par_chunks(part * o)
        .enumerate()
        .map(|(index, dy)| {
            let (first, rows) = (index * part, dy.len() / o);
            let mut sums = vec![0.0f32; 9 * c * o + o];
            let (filters, bias) = sums.split_at_mut(9 * c * o);
            for (ky, filter_row) in filters.chunks_exact_mut(3 * c * o).enumerate() {
                matmul(
                    MatMut::row_major(filter_row, 3 * c, o),
                    MatRef::strided(&input.data[(first + ky * width) * c..], rows, 3 * c, c, 1).t(),
                    MatRef::row_major(dy, rows, o),
                    false,
                    1,
                );
            }
            for values in dy.chunks_exact(o) {
                bias.iter_mut().zip(values).for_each(|(b, v)| *b += v);
            }
            sums
        })
        .collect();
    let mut total = vec![0.0f32; 9 * c * o + o];
    for sums in &parts {
        total.iter_mut().zip(sums).for_each(|(t, s)| *t += s);
    }
    let (filters, bias) = total.split_at(9 * c * o);
    for (ky, filter_row) in filters.chunks_exact(3 * c * o).enumerate() {
        for (row, values) in filter_row.chunks_exact(o).enumerate() {
            let (kx, channel) = (row / c, row % c);
            for (out, &v) in values.iter().enumerate() {
                grad_weight[((out * c + channel) * 3 + ky) * 3 + kx] += v;
            }
        }
    }
    grad_bias.iter_mut().zip(bias).for_each(|(g, b)| *g += b);
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// f64 nested-loop reference: "same" 3x3 convolution of NCHW images, then the bias and
    /// optionally ReLU.
    pub(in crate::ops) fn reference(
        x: &[f32],
        w: &[f32],
        b: &[f32],
        (images, c_count, o_count, side): (usize, usize, usize, usize),
        relu: bool,
    ) -> Vec<f64> {
        let mut out = vec![0.0f64; images * o_count * side * side];
        for n in 0..images {
            for o in 0..o_count {
                for y in 0..side {
                    for xx in 0..side {
                        let mut sum = f64::from(b[o]);
                        for c in 0..c_count {
                            for ky in 0..3 {
                                for kx in 0..3 {
                                    let (iy, ix) = (y + ky, xx + kx);
                                    if iy < 1 || ix < 1 || iy > side || ix > side {
                                        continue;
                                    }
                                    let v = x[((n * c_count + c) * side + iy - 1) * side + ix - 1];
                                    let f = w[((o * c_count + c) * 3 + ky) * 3 + kx];
                                    sum += f64::from(v) * f64::from(f);
                                }
                            }
                        }
                        out[((n * o_count + o) * side + y) * side + xx] =
                            if relu { sum.max(0.0) } else { sum };
                    }
                }
            }
        }
        out
    }

    /// `out` against the f64 `reference` within 1e-5 of the output's scale, and every padding
    /// position of `out` zero.
    pub(in crate::ops) fn assert_matches_reference(
        out: &PaddedMaps,
        expected: &[f64],
        (images, c_count, o_count, side): (usize, usize, usize, usize),
    ) {
        let scale = expected.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for n in 0..images {
            for y in 0..side {
                for xx in 0..side {
                    for (o, &got) in out.pixel(n, y, xx).iter().enumerate() {
                        let want = expected[((n * o_count + o) * side + y) * side + xx];
                        assert!(
                            (f64::from(got) - want).abs() <= 1e-5 * scale,
                            "{images}x{c_count}->{o_count} at {side}: {got} vs {want}"
                        );
                    }
                }
            }
        }
        for p in (0..out.positions()).filter(|&p| out.is_padding(p)) {
            assert!(out.data[p * o_count..][..o_count].iter().all(|&v| v == 0.0));
        }
    }

    pub(in crate::ops) fn values(len: usize, salt: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 7919 + salt * 104_729) % 2001) as f32 / 1000.0 - 1.0)
            .collect()
    }

    /// Every strategy (copied windows for 1 and 3 input channels and for planes of 6x6 and
    /// smaller, in-place products for 8 and 32 channels, split by output channel for one
    /// small face) against the f64 reference, on batches of one and several images, planes
    /// from 1x1 to 13x13 (odd, even, smaller than the window), with and without ReLU: within 1e-5 of the output's scale; every padding
    /// position stays zero.
    #[test]
    fn matches_the_f64_reference_and_keeps_padding_zero() {
        for &(images, c_count, o_count, side) in &[
            (1, 1, 32, 48),
            (3, 1, 5, 7),
            (2, 3, 4, 6),
            (1, 8, 16, 12),
            (5, 32, 24, 13),
            (2, 16, 8, 1),
            (4, 8, 3, 2),
            // Small planes, their windows copied: one face split by output channel, evenly
            // and not; batches in one task and (64 channels: 12 images a task) in four.
            (1, 8, 128, 6),
            (1, 8, 200, 5),
            (9, 16, 70, 6),
            (17, 8, 16, 3),
            (40, 64, 8, 6),
            // One face's 12x12 plane: in-place products split by output channel.
            (1, 8, 128, 12),
        ] {
            let x = values(images * c_count * side * side, 1);
            let w = values(o_count * c_count * 9, 2);
            let b = values(o_count, 3);
            for relu in [false, true] {
                let expected = reference(&x, &w, &b, (images, c_count, o_count, side), relu);
                let input = PaddedMaps::from_nchw(&x, images, c_count, side);
                // Stale pooled buffers are NaN: every output position must be written.
                super::super::scratch::poison_this_thread();
                let out = conv3x3(&input, &ShiftedFilters::new(&w, c_count, o_count), &b, relu);
                assert_matches_reference(&out, &expected, (images, c_count, o_count, side));
            }
        }
    }
}
