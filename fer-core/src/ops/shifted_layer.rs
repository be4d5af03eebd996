//! A training layer's 3x3 "same" convolution through [`super::shifted_conv`]'s in-place
//! products: NCHW in and out, as the other plans, re-laid out to [`PaddedMaps`] on the way in
//! and back on the way out.
//!
//! The backward pass re-lays out the input and the output gradient, then takes the filter
//! gradient as three products of the input's overlapping view by the output gradient, and the
//! input gradient as the forward convolution of the output gradient with the filters turned
//! half a circle ([`ShiftedFilters::for_input_gradient`]).

use super::conv::ConvShape;
use super::padded_maps::PaddedMaps;
use super::shifted_conv::{conv3x3, conv3x3_filter_gradient, ShiftedFilters};
use super::tuning::{SHIFTED_CHUNK_BYTES, SHIFTED_MIN_CHANNELS, SHIFTED_MIN_SIDE};

/// Whether the layer can run this way: 3x3 windows, stride 1, padding 1, square planes.
pub(crate) fn supports(shape: &ConvShape) -> bool {
    let g = &shape.geometry;
    g.kernel == 3 && g.stride == 1 && g.padding == 1 && g.height == g.width
}

/// Whether a layer should run this way: supported, at least [`SHIFTED_MIN_CHANNELS`] input
/// channels and planes of at least [`SHIFTED_MIN_SIDE`].
pub(crate) fn pays_off(shape: &ConvShape) -> bool {
    supports(shape)
        && shape.geometry.channels >= SHIFTED_MIN_CHANNELS
        && shape.geometry.height >= SHIFTED_MIN_SIDE
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
    let filters = ShiftedFilters::new(weight, c, o);
    let mut output = vec![0.0; shape.batch * o * side * side];
    for (out, x) in output
        .chunks_mut(images * o * side * side)
        .zip(input.chunks(images * c * side * side))
    {
        let x = PaddedMaps::from_nchw(x, x.len() / (c * side * side), c, side);
        conv3x3(&x, &filters, bias, relu).copy_to_nchw(out);
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
        .then(|| ShiftedFilters::for_input_gradient(weight, c, o));
    let no_bias = vec![0.0; c];
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
            conv3x3(&grad_out, turned, &no_bias, false).add_to_nchw(dx);
        }
        let x = PaddedMaps::from_nchw(x, count, c, side);
        conv3x3_filter_gradient(&x, &grad_out, grad_weight, grad_bias);
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
