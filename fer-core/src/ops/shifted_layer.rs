//! A training layer's 3x3 "same" convolution on [`PaddedMaps`]: NCHW in and out, as the other
//! plans, re-laid out to padded maps on the way in and back on the way out. Its products are
//! [`super::winograd_maps`]' Winograd products where they run and the layer has at least
//! [`WINOGRAD_MIN_CHANNELS`] input channels, [`super::shifted_conv`]'s in-place products
//! otherwise.
//!
//! The backward pass re-lays out the output gradient and takes the input gradient as the
//! forward convolution of the output gradient with the filters turned half a circle
//! ([`input_gradient_filters`]). The filter gradient is three products of the input's
//! overlapping view by the output gradient, or on planes below [`MAPS_FILTER_GRADIENT_MIN_SIDE`]
//! (and on the small planes of layers with [`MAPS_WIDE_FILTER_GRADIENT_MIN_OUT`] outputs)
//! [`super::winograd`]'s channels-first Winograd gradient.

use super::conv::ConvShape;
use super::padded_maps::PaddedMaps;
use super::shifted_conv::{
    conv3x3, conv3x3_filter_gradient, input_gradient_filters, ShiftedFilters,
};
use super::tuning::{
    MAPS_FILTER_GRADIENT_MIN_SIDE, MAPS_WIDE_FILTER_GRADIENT_MIN_OUT, SHIFTED_CHUNK_BYTES,
    SHIFTED_MIN_CHANNELS, SHIFTED_MIN_SIDE, WINOGRAD_MIN_CHANNELS,
};
use super::winograd;
use super::winograd_maps::{conv3x3_winograd, WinogradFilters};

/// Whether a convolution of `in_channels` to `out_channels` on planes of `side` runs as
/// Winograd products. Below [`WINOGRAD_MIN_CHANNELS`] the in-place products are faster in
/// training, whose re-layouts cost both the same: 32->64 at 24x24, batch 64, 8.6-9.6 ms forward
/// against 10.7-11.5 (three rounds, `fer bench train-step --arch best`, 2-core AVX-512 Xeon).
fn runs_winograd(in_channels: usize, out_channels: usize, side: usize) -> bool {
    in_channels >= WINOGRAD_MIN_CHANNELS && WinogradFilters::runs(in_channels, out_channels, side)
}

/// Whether a layer's filter gradient is [`winograd`]'s channels-first Winograd gradient over the
/// whole batch rather than in-place products chunk by chunk.
fn winograd_filter_gradient(out_channels: usize, side: usize) -> bool {
    side < MAPS_FILTER_GRADIENT_MIN_SIDE
        || (side < SHIFTED_MIN_SIDE && out_channels >= MAPS_WIDE_FILTER_GRADIENT_MIN_OUT)
}

/// A layer's filters for one convolution on padded maps.
enum MapFilters {
    Winograd(WinogradFilters),
    Shifted(ShiftedFilters),
}

impl MapFilters {
    /// From `O x C x 3 x 3` filters, for planes of `side`.
    fn new(weight: &[f32], in_channels: usize, out_channels: usize, side: usize) -> Self {
        let winograd = runs_winograd(in_channels, out_channels, side)
            .then(|| WinogradFilters::for_plane(weight, in_channels, out_channels, side))
            .flatten();
        match winograd {
            Some(filters) => Self::Winograd(filters),
            None => Self::Shifted(ShiftedFilters::new(weight, in_channels, out_channels)),
        }
    }

    fn convolve(&self, input: &PaddedMaps, bias: &[f32], relu: bool) -> PaddedMaps {
        match self {
            Self::Winograd(filters) => conv3x3_winograd(input, filters, bias, relu),
            Self::Shifted(filters) => conv3x3(input, filters, bias, relu),
        }
    }
}

/// Whether the layer can run this way: 3x3 windows, stride 1, padding 1, square planes.
pub(crate) fn supports(shape: &ConvShape) -> bool {
    let g = &shape.geometry;
    g.kernel == 3 && g.stride == 1 && g.padding == 1 && g.height == g.width
}

/// Whether a layer should run this way: supported, at least [`SHIFTED_MIN_CHANNELS`] input
/// channels, and planes of at least [`SHIFTED_MIN_SIDE`] or Winograd products.
pub(crate) fn pays_off(shape: &ConvShape) -> bool {
    let g = &shape.geometry;
    supports(shape)
        && g.channels >= SHIFTED_MIN_CHANNELS
        && (g.height >= SHIFTED_MIN_SIDE || runs_winograd(g.channels, shape.out_channels, g.height))
}

/// Images per chunk: the batch runs a few images at a time, so that its padded copies (input,
/// output and gradients) stay near [`SHIFTED_CHUNK_BYTES`] instead of growing with the batch.
fn chunk_images(shape: &ConvShape) -> usize {
    let g = &shape.geometry;
    let per_image = (g.height + 1) * (g.width + 1) * g.channels.max(shape.out_channels) * 4;
    (SHIFTED_CHUNK_BYTES / per_image.max(1)).clamp(1, shape.batch.max(1))
}

/// Forward pass: `input` `N x C x H x H`, `weight` `O x C x 3 x 3`; through ReLU when `relu`.
pub(crate) fn forward(
    input: &[f32],
    weight: &[f32],
    bias: &[f32],
    shape: &ConvShape,
    relu: bool,
) -> Vec<f32> {
    forward_chunked(input, weight, bias, shape, relu, chunk_images(shape))
}

/// [`forward`] `images` at a time.
fn forward_chunked(
    input: &[f32],
    weight: &[f32],
    bias: &[f32],
    shape: &ConvShape,
    relu: bool,
    images: usize,
) -> Vec<f32> {
    let g = &shape.geometry;
    let (c, o, side) = (g.channels, shape.out_channels, g.height);
    let filters = MapFilters::new(weight, c, o, side);
    let mut output = vec![0.0; shape.batch * o * side * side];
    for (out, x) in output
        .chunks_mut(images * o * side * side)
        .zip(input.chunks(images * c * side * side))
    {
        let x = PaddedMaps::from_nchw(x, x.len() / (c * side * side), c, side);
        filters.convolve(&x, bias, relu).copy_to_nchw(out);
    }
    output
}

/// Backward pass: adds the gradients of the weight, the bias and (when asked) the input. The
/// chunks add their filter gradients in batch order, so the bits do not depend on the threads.
pub(crate) fn backward(
    input: &[f32],
    weight: &[f32],
    grad_output: &[f32],
    shape: &ConvShape,
    grad_input: Option<&mut [f32]>,
    grad_weight: &mut [f32],
    grad_bias: &mut [f32],
) {
    let images = chunk_images(shape);
    backward_chunked(
        input,
        weight,
        grad_output,
        shape,
        grad_input,
        grad_weight,
        grad_bias,
        images,
    );
}

/// [`backward`] `images` at a time.
#[allow(clippy::too_many_arguments)]
fn backward_chunked(
    input: &[f32],
    weight: &[f32],
    grad_output: &[f32],
    shape: &ConvShape,
    mut grad_input: Option<&mut [f32]>,
    grad_weight: &mut [f32],
    grad_bias: &mut [f32],
    images: usize,
) {
    let (c, o, side) = (
        shape.geometry.channels,
        shape.out_channels,
        shape.geometry.height,
    );
    let (in_len, out_len) = (c * side * side, o * side * side);
    let turned = grad_input
        .is_some()
        .then(|| MapFilters::new(&input_gradient_filters(weight, c, o), o, c, side));
    let no_bias = vec![0.0; c];
    let filter_gradient_in_chunks = !winograd_filter_gradient(o, side);
    if !filter_gradient_in_chunks {
        winograd::backward(
            input,
            weight,
            grad_output,
            shape,
            None,
            grad_weight,
            grad_bias,
        );
        if turned.is_none() {
            return;
        }
    }
    for (chunk, (x, dy)) in input
        .chunks(images * in_len)
        .zip(grad_output.chunks(images * out_len))
        .enumerate()
    {
        let count = x.len() / in_len;
        let grad_out = PaddedMaps::from_nchw(dy, count, o, side);
        // The input gradient first, so that its maps are back in the pool before the input's
        // are taken: two padded chunks at a time, not three.
        if let (Some(grad_input), Some(turned)) = (grad_input.as_deref_mut(), &turned) {
            let dx = &mut grad_input[chunk * images * in_len..][..count * in_len];
            turned.convolve(&grad_out, &no_bias, false).add_to_nchw(dx);
        }
        if filter_gradient_in_chunks {
            let x = PaddedMaps::from_nchw(x, count, c, side);
            conv3x3_filter_gradient(&x, &grad_out, grad_weight, grad_bias);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::conv::{backward_planned, Plan};
    use crate::ops::WindowGeometry;

    fn values(len: usize, salt: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 7919 + salt * 104_729) % 2001) as f32 / 1000.0 - 1.0)
            .collect()
    }

    /// The layers that run Winograd products on padded maps (forward, input gradient, and on
    /// planes below 12 or with 512 outputs the channels-first filter gradient) against the
    /// im2col plan, whose own tests check it against the f64 reference and finite differences:
    /// F(2x2) on 6x6, F(4x4) on 4x4 and 12x12, input gradients with fewer and more channels
    /// than the input, and the best network's layers in batches of 64 (on 12x12 two chunks of
    /// [`chunk_images`], 48 and 16) and of 37 (an epoch's last batch of 28,709 faces). Worst
    /// differences measured: 8e-6 of the largest value (the input gradient of F(4x4) on 4x4;
    /// sums of hundreds of products of values in [-1, 1] reach 3-100); 5e-5 still catches a tile, a tap or an image misplaced, each off by a whole term
    /// (about 1e-2 of the largest).
    #[test]
    fn winograd_layers_match_im2col() {
        for (batch, c, o, side) in [
            (3, 64, 64, 6),
            (2, 128, 64, 6),
            (2, 64, 64, 4),
            (2, 64, 96, 12),
            (1, 64, 512, 12),
            (64, 64, 128, 12),
            (64, 128, 128, 12),
            (37, 128, 256, 6),
            (37, 256, 256, 6),
        ] {
            let shape = ConvShape {
                batch,
                out_channels: o,
                geometry: WindowGeometry::new(c, side, side, 3, 1, 1).unwrap(),
            };
            assert!(pays_off(&shape), "{c}->{o} at {side}");
            assert!(matches!(
                MapFilters::new(&values(o * c * 9, 2), c, o, side),
                MapFilters::Winograd(_)
            ));
            let (x, w, b) = (
                values(batch * c * side * side, 1),
                values(o * c * 9, 2),
                values(o, 3),
            );
            let dy = values(batch * o * side * side, 4);
            let im2col = Plan::Im2col(shape.im2col_plan(1 << 20));
            let expected_y = crate::ops::conv::forward_planned(&x, &w, &b, &shape, im2col, false);
            let (mut dx, mut dw, mut db) = (vec![0.0; x.len()], vec![0.0; w.len()], vec![0.0; o]);
            backward_planned(&x, &w, &dy, &shape, Some(&mut dx), &mut dw, &mut db, im2col);
            let y = forward(&x, &w, &b, &shape, false);
            let (mut gx, mut gw, mut gb) = (vec![0.0; x.len()], vec![0.0; w.len()], vec![0.0; o]);
            backward(&x, &w, &dy, &shape, Some(&mut gx), &mut gw, &mut gb);
            for (name, got, expected) in [
                ("y", &y, &expected_y),
                ("dx", &gx, &dx),
                ("dw", &gw, &dw),
                ("db", &gb, &db),
            ] {
                let scale = expected.iter().fold(1.0f32, |m, v| m.max(v.abs()));
                let worst = got
                    .iter()
                    .zip(expected.iter())
                    .fold(0.0f32, |m, (g, e)| m.max((g - e).abs()));
                assert!(
                    worst < 5e-5 * scale,
                    "{c}->{o} at {side} {name}: {worst} of {scale}"
                );
            }
        }
    }

    /// A batch of five run one, two and five images at a time: the same forward bits, and
    /// gradients equal to the whole batch's within f32 rounding of a different summation order
    /// (sums of 5 x 144 products of values in [-1, 1]: 1e-4 is hundreds of roundings; an image
    /// dropped or added twice would be off by whole terms).
    #[test]
    fn chunks_add_up_to_the_whole_batch() {
        let shape = ConvShape {
            batch: 5,
            out_channels: 6,
            geometry: WindowGeometry::new(8, 12, 12, 3, 1, 1).unwrap(),
        };
        let (x, w, b) = (values(5 * 8 * 144, 1), values(6 * 8 * 9, 2), values(6, 3));
        let dy = values(5 * 6 * 144, 4);
        let run = |images: usize| {
            let y = forward_chunked(&x, &w, &b, &shape, true, images);
            let (mut dx, mut dw, mut db) = (vec![0.0; x.len()], vec![0.0; w.len()], vec![0.0; 6]);
            backward_chunked(&x, &w, &dy, &shape, Some(&mut dx), &mut dw, &mut db, images);
            (y, [dx, dw, db])
        };
        let (whole_y, whole) = run(5);
        // The whole batch's gradients against the im2col plan (its own tests check it
        // against finite differences).
        let (mut dx, mut dw, mut db) = (vec![0.0; x.len()], vec![0.0; w.len()], vec![0.0; 6]);
        let im2col = Plan::Im2col(shape.im2col_plan(1 << 20));
        backward_planned(&x, &w, &dy, &shape, Some(&mut dx), &mut dw, &mut db, im2col);
        for images in [1, 2] {
            let (y, grads) = run(images);
            assert_eq!(y, whole_y, "{images} at a time");
            for (part, (whole, reference)) in grads.iter().zip(whole.iter().zip([&dx, &dw, &db])) {
                for ((a, w), r) in part.iter().zip(whole).zip(reference) {
                    assert!(
                        (a - w).abs() < 1e-4 && (w - r).abs() < 1e-4,
                        "{images}: {a} {w} {r}"
                    );
                }
            }
        }
    }
}
