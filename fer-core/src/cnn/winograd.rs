//! Winograd F(2x2, 3x3) convolution for 3x3 kernels with stride 1 and padding 1 (the "same"
//! 3x3 layers of both models, used where they have at least [`MIN_CHANNELS`] input channels),
//! forward and backward.
//!
//! Each 2x2 block of outputs comes from the 4x4 input tile around it with 16 products per
//! (input channel, filter) pair instead of 36 (Lavin & Gray, "Fast Algorithms for Convolutional
//! Neural Networks", CVPR 2016). With the tile transforms `V = Bᵀ d B` (input) and `U = G g Gᵀ`
//! (filter), a block of outputs is `Aᵀ (U ⊙ V) A`; summed over input channels, each of the 16
//! tile positions `ξ` becomes one matrix product `M[ξ] (O x tiles) = U[ξ] (O x C) · V[ξ] (C x
//! tiles)`. The backward pass uses the same identity twice:
//! - input gradient: a 3x3 "same" convolution of the output gradient with the filters rotated
//!   by 180 degrees and transposed; reversing `G`'s columns swaps its first and last rows, so
//!   that convolution's filter transform is `U` at the position with rows and columns 0 and 3
//!   swapped ([`rotated_position`]), transposed: it needs no transform of its own;
//! - weight gradient: `dg = Gᵀ [Σ_tiles (A dy Aᵀ) ⊙ V] G`, where the sum over tiles is again 16
//!   matrix products, `Z[ξ] (O x C) = Y[ξ] (O x tiles) · V[ξ]ᵀ`.
//!
//! So all three products of a layer do 2.25x fewer multiply-adds than im2col's, for transforms
//! that stream over the data once. The entries of the F(2x2, 3x3) matrices are 0, ±1 and ±1/2,
//! so rounding stays within a few ulps of im2col's. Written by hand: no maintained crate
//! offers Winograd convolution on plain `f32` slices.
//!
//! The batch runs in chunks of whole images sized so that a chunk's transformed tiles fit in
//! the L3 cache; within a chunk the transforms run in parallel over channels and the 16 products
//! in parallel over `ξ`, each single-threaded, so the order of every sum is fixed by the shapes
//! and the same inputs give the same bits on any number of threads.

use rayon::prelude::*;

use super::conv_op::ConvShape;
use super::im2col::WindowGeometry;
use super::matmul::{matmul, MatMut, MatRef};
use super::scratch::Scratch;

/// Tile positions: a 4x4 input tile per 2x2 block of outputs.
const POSITIONS: usize = 16;

/// Fewest input channels for which Winograd beats im2col. The products' inner dimension is the
/// input channels, and the transformed tiles are `16 / 4` times the activations, so with few
/// channels Winograd trades cheap multiply-adds for memory traffic. Measured on the seed's layers
/// at batch 64 (forward + backward, `fer bench train-step`): 128->512 at 12x12 226 -> 151 ms,
/// 512->512 at 6x6 253 -> 135 ms, but 32->64 at 48x48 125 -> 203 ms.
const MIN_CHANNELS: usize = 64;

/// Target bytes of one chunk's transformed tiles (inputs, outputs and, backward, gradients):
/// a little under the 32 MiB L3, so each product reads tiles the transform just wrote.
const CHUNK_BYTES: usize = 24 << 20;

/// Whether [`forward`] and [`backward`] compute this geometry: 3x3 kernel, stride 1, padding 1.
pub(crate) fn supports(g: &WindowGeometry) -> bool {
    g.kernel == 3 && g.stride == 1 && g.padding == 1
}

/// Whether a layer should use Winograd: supported, and at least [`MIN_CHANNELS`] input channels.
pub(crate) fn pays_off(shape: &ConvShape) -> bool {
    supports(&shape.geometry) && shape.geometry.channels >= MIN_CHANNELS
}

/// How an `height x width` plane splits into 2x2 output blocks (the last row or column of
/// blocks overhangs odd sizes; its outside outputs are never written).
#[derive(Clone, Copy, Debug)]
struct Tiling {
    height: usize,
    width: usize,
    rows: usize,
    cols: usize,
}

impl Tiling {
    fn of(g: &WindowGeometry) -> Self {
        Self {
            height: g.height,
            width: g.width,
            rows: g.height.div_ceil(2),
            cols: g.width.div_ceil(2),
        }
    }

    fn per_image(&self) -> usize {
        self.rows * self.cols
    }

    fn plane(&self) -> usize {
        self.height * self.width
    }

    /// Images per chunk when each image's tiles take `floats_per_tile` floats in all buffers.
    fn chunk(&self, batch: usize, floats_per_tile: usize) -> usize {
        let per_image = (self.per_image() * floats_per_tile * 4).max(1);
        (CHUNK_BYTES / per_image).clamp(1, batch.max(1))
    }

    /// Calls `f(tile index, top, left)` for every block of one image, in tile order; `top`
    /// and `left` are the block's first output pixel.
    fn for_each_block(&self, mut f: impl FnMut(usize, usize, usize)) {
        for ty in 0..self.rows {
            for tx in 0..self.cols {
                f(ty * self.cols + tx, 2 * ty, 2 * tx);
            }
        }
    }
}

/// `L x Lᵀ` for the linear map `l(v) = L v`: `l` on every column of `x`, then on every row.
#[inline(always)]
fn sandwich<const I: usize, const J: usize>(
    x: [[f32; I]; I],
    l: impl Fn([f32; I]) -> [f32; J],
) -> [[f32; J]; J] {
    // columns[j] = L * (column j of x), i.e. column j of L x.
    let columns: [[f32; J]; I] = std::array::from_fn(|j| l(std::array::from_fn(|i| x[i][j])));
    std::array::from_fn(|r| l(std::array::from_fn(|j| columns[j][r])))
}

/// `Bᵀ v`, the input transform: `Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]`.
#[inline(always)]
fn bt_times(v: [f32; 4]) -> [f32; 4] {
    [v[0] - v[2], v[1] + v[2], v[2] - v[1], v[1] - v[3]]
}

/// `G v`, the filter transform: `G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1]`.
#[inline(always)]
fn g_times(v: [f32; 3]) -> [f32; 4] {
    let (even, odd) = (0.5 * (v[0] + v[2]), 0.5 * v[1]);
    [v[0], even + odd, even - odd, v[2]]
}

/// `Aᵀ v`, the output transform: `Aᵀ = [1 1 1 0; 0 1 -1 -1]`.
#[inline(always)]
fn at_times(v: [f32; 4]) -> [f32; 2] {
    [v[0] + v[1] + v[2], v[1] - v[2] - v[3]]
}

/// `A v`, the output gradient's transform for the weight gradient.
#[inline(always)]
fn a_times(v: [f32; 2]) -> [f32; 4] {
    [v[0], v[0] + v[1], v[0] - v[1], -v[1]]
}

/// `Gᵀ v`, back from tile positions to the 3x3 weight gradient.
#[inline(always)]
fn gt_times(v: [f32; 4]) -> [f32; 3] {
    let (sum, difference) = (0.5 * (v[1] + v[2]), 0.5 * (v[1] - v[2]));
    [v[0] + sum, difference, sum + v[3]]
}

/// The `N x N` window of `plane` whose top-left pixel is (`top`, `left`) (either may be -1, and
/// the window may overhang the far edges); zeros outside the plane.
#[inline(always)]
fn window<const N: usize>(plane: &[f32], t: &Tiling, top: isize, left: isize) -> [[f32; N]; N] {
    let (height, width) = (t.height as isize, t.width as isize);
    if top >= 0 && left >= 0 && top + N as isize <= height && left + N as isize <= width {
        let (top, left) = (top as usize, left as usize);
        return std::array::from_fn(|r| {
            let start = (top + r) * t.width + left;
            std::array::from_fn(|c| plane[start + c])
        });
    }
    std::array::from_fn(|r| {
        let y = top + r as isize;
        std::array::from_fn(|c| {
            let x = left + c as isize;
            if (0..height).contains(&y) && (0..width).contains(&x) {
                plane[y as usize * t.width + x as usize]
            } else {
                0.0
            }
        })
    })
}

/// Writes a 2x2 block at (`top`, `left`) of `plane` through `store(pixel, value)`, skipping the
/// pixels an odd-sized plane does not have.
#[inline(always)]
fn store_block(
    t: &Tiling,
    top: usize,
    left: usize,
    block: [[f32; 2]; 2],
    mut store: impl FnMut(usize, f32),
) {
    for (r, row) in block.iter().enumerate() {
        if top + r >= t.height {
            break;
        }
        for (c, &value) in row.iter().enumerate() {
            if left + c < t.width {
                store((top + r) * t.width + left + c, value);
            }
        }
    }
}

/// The filter transform, laid out `[O][ξ][C]`: row `ξ` of filter `o`'s block is `G g Gᵀ`
/// at position `ξ` for each input channel.
fn filter_tiles(weight: &[f32], out_channels: usize, channels: usize) -> Scratch {
    let mut u = Scratch::take(out_channels * POSITIONS * channels);
    u.par_chunks_mut(POSITIONS * channels)
        .zip(weight.par_chunks(channels * 9))
        .for_each(|(u, filters)| {
            for (c, f) in filters.chunks_exact(9).enumerate() {
                let k: [[f32; 3]; 3] =
                    std::array::from_fn(|r| std::array::from_fn(|s| f[3 * r + s]));
                for (xi, value) in sandwich(k, g_times).iter().flatten().enumerate() {
                    u[xi * channels + c] = *value;
                }
            }
        });
    u
}

/// The tile position of `G rot180(g) Gᵀ` that holds `G g Gᵀ`'s position `xi`: `G` with its
/// columns reversed is `G` with rows 0 and 3 swapped.
fn rotated_position(xi: usize) -> usize {
    let swap = |i: usize| if i == 0 || i == 3 { 3 - i } else { i };
    4 * swap(xi / 4) + swap(xi % 4)
}

/// `U[ξ]` (`O x C`) as a view of [`filter_tiles`]' layout.
fn filter_matrix(u: &[f32], xi: usize, out_channels: usize, channels: usize) -> MatRef<'_> {
    MatRef::strided(
        &u[xi * channels..],
        out_channels,
        channels,
        POSITIONS * channels,
        1,
    )
}

/// Position `ξ` of per-channel tiles laid out `[channel][ξ][tile]`, as a `channels x tiles`
/// matrix.
fn position_matrix(v: &[f32], xi: usize, channels: usize, tiles: usize) -> MatRef<'_> {
    MatRef::strided(&v[xi * tiles..], channels, tiles, POSITIONS * tiles, 1)
}

/// Transforms every `N x N` window of a chunk of `planes_per_image`-channel images into
/// `out`, laid out `[channel][ξ][tile]`, in parallel over channels. Block `(top, left)`'s window
/// starts at `(top - pad, left - pad)`, zeros outside the plane; `transform` maps it to 4x4.
fn chunk_tiles<const N: usize>(
    images: &[f32],
    planes_per_image: usize,
    t: &Tiling,
    pad: isize,
    transform: impl Fn([[f32; N]; N]) -> [[f32; 4]; 4] + Sync,
    out: &mut [f32],
) {
    let count = images.len() / (planes_per_image * t.plane());
    let tiles = count * t.per_image();
    out.par_chunks_mut(POSITIONS * tiles)
        .enumerate()
        .for_each(|(channel, out)| {
            for i in 0..count {
                let plane = &images[(i * planes_per_image + channel) * t.plane()..][..t.plane()];
                t.for_each_block(|tile, top, left| {
                    let d = window::<N>(plane, t, top as isize - pad, left as isize - pad);
                    let p = i * t.per_image() + tile;
                    for (xi, value) in transform(d).iter().flatten().enumerate() {
                        out[xi * tiles + p] = *value;
                    }
                });
            }
        });
}

/// The input tiles `Bᵀ d B` of a chunk of images, padded by one.
fn input_tiles(images: &[f32], planes_per_image: usize, t: &Tiling, out: &mut [f32]) {
    chunk_tiles(
        images,
        planes_per_image,
        t,
        1,
        |d| sandwich(d, bt_times),
        out,
    );
}

/// For each `ξ` in parallel, `products[ξ] = lhs(ξ) · rhs(ξ)` (`rows x tiles`, single-threaded
/// products), laid out `[ξ][row][tile]`.
fn products<'a>(
    products: &mut [f32],
    rows: usize,
    tiles: usize,
    lhs: impl Fn(usize) -> MatRef<'a> + Sync,
    rhs: impl Fn(usize) -> MatRef<'a> + Sync,
) {
    products
        .par_chunks_mut(rows * tiles)
        .enumerate()
        .for_each(|(xi, m)| {
            matmul(
                MatMut::row_major(m, rows, tiles),
                lhs(xi),
                rhs(xi),
                false,
                1,
            );
        });
}

/// Applies `Aᵀ m A` to the `[ξ][channel][tile]` products `m` of a chunk and hands each output
/// pixel of `out` (the chunk's `N x planes_per_image x H x W` output) to
/// `store(channel, pixel, value)`.
fn output_blocks(
    m: &[f32],
    t: &Tiling,
    planes_per_image: usize,
    out: &mut [f32],
    store: impl Fn(usize, &mut f32, f32) + Sync,
) {
    let count = out.len() / (planes_per_image * t.plane());
    let tiles = count * t.per_image();
    let stride = planes_per_image * tiles;
    out.par_chunks_mut(t.plane())
        .enumerate()
        .for_each(|(index, plane)| {
            let (i, channel) = (index / planes_per_image, index % planes_per_image);
            let base = channel * tiles + i * t.per_image();
            t.for_each_block(|tile, top, left| {
                let p = base + tile;
                let tile_values: [[f32; 4]; 4] =
                    std::array::from_fn(|r| std::array::from_fn(|s| m[(4 * r + s) * stride + p]));
                store_block(
                    t,
                    top,
                    left,
                    sandwich(tile_values, at_times),
                    |pixel, value| store(channel, &mut plane[pixel], value),
                );
            });
        });
}

/// Forward pass: `input` is `N x C x H x W`, `weight` `O x C x 3 x 3`, `bias` `O`; returns the
/// `N x O x H x W` output, with ReLU applied when `relu`.
pub(crate) fn forward(
    input: &[f32],
    weight: &[f32],
    bias: &[f32],
    shape: &ConvShape,
    relu: bool,
) -> Vec<f32> {
    let g = &shape.geometry;
    debug_assert!(supports(g));
    let per_tile = POSITIONS * (g.channels + shape.out_channels);
    let chunk = Tiling::of(g).chunk(shape.batch, per_tile);
    forward_chunked(input, weight, bias, shape, relu, chunk)
}

/// [`forward`] in chunks of `chunk` images.
pub(crate) fn forward_chunked(
    input: &[f32],
    weight: &[f32],
    bias: &[f32],
    shape: &ConvShape,
    relu: bool,
    chunk: usize,
) -> Vec<f32> {
    let g = &shape.geometry;
    let (channels, outc) = (g.channels, shape.out_channels);
    let t = Tiling::of(g);
    let u = filter_tiles(weight, outc, channels);
    let mut output = vec![0.0f32; shape.batch * outc * t.plane()];
    for (images, out) in input
        .chunks(chunk * g.image_len())
        .zip(output.chunks_mut(chunk * outc * t.plane()))
    {
        let tiles = images.len() / g.image_len() * t.per_image();
        let mut v = Scratch::take(channels * POSITIONS * tiles);
        input_tiles(images, channels, &t, &mut v);
        let mut m = Scratch::take(POSITIONS * outc * tiles);
        products(
            &mut m,
            outc,
            tiles,
            |xi| filter_matrix(&u, xi, outc, channels),
            |xi| position_matrix(&v, xi, channels, tiles),
        );
        // The products' layout is [ξ][O][tile], i.e. position-major with O planes.
        output_blocks(&m, &t, outc, out, |o, pixel, value| {
            let value = value + bias[o];
            *pixel = if relu { value.max(0.0) } else { value };
        });
    }
    output
}

/// Backward pass: adds the input gradient to `grad_input` (when given), the weight gradient to
/// `grad_weight` and the bias gradient to `grad_bias`, as
/// [`conv2d_backward`](super::conv_op::conv2d_backward) does.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward(
    input: &[f32],
    weight: &[f32],
    grad_output: &[f32],
    shape: &ConvShape,
    grad_input: Option<&mut [f32]>,
    grad_weight: &mut [f32],
    grad_bias: &mut [f32],
) {
    let g = &shape.geometry;
    debug_assert!(supports(g));
    let per_tile = POSITIONS * (2 * g.channels + shape.out_channels);
    let chunk = Tiling::of(g).chunk(shape.batch, per_tile);
    backward_chunked(
        input,
        weight,
        grad_output,
        shape,
        grad_input,
        grad_weight,
        grad_bias,
        chunk,
    );
}

/// [`backward`] in chunks of `chunk` images; the weight gradient is summed over the chunks in
/// order.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward_chunked(
    input: &[f32],
    weight: &[f32],
    grad_output: &[f32],
    shape: &ConvShape,
    mut grad_input: Option<&mut [f32]>,
    grad_weight: &mut [f32],
    grad_bias: &mut [f32],
    chunk: usize,
) {
    let g = &shape.geometry;
    let (channels, outc) = (g.channels, shape.out_channels);
    let t = Tiling::of(g);
    let out_image = outc * t.plane();
    let u = grad_input
        .is_some()
        .then(|| filter_tiles(weight, outc, channels));
    let mut z = vec![0.0f32; POSITIONS * outc * channels];
    for (index, images) in input.chunks(chunk * g.image_len()).enumerate() {
        let count = images.len() / g.image_len();
        let first = index * chunk;
        let grad_out = &grad_output[first * out_image..(first + count) * out_image];
        let tiles = count * t.per_image();
        let mut v = Scratch::take(channels * POSITIONS * tiles);
        input_tiles(images, channels, &t, &mut v);

        // Y = A dy Aᵀ per 2x2 block of the output gradient, laid out [O][ξ][tile].
        let mut dy_tiles = Scratch::take(outc * POSITIONS * tiles);
        chunk_tiles(
            grad_out,
            outc,
            &t,
            0,
            |e| sandwich(e, a_times),
            &mut dy_tiles,
        );
        // Z[ξ] (O x C) += Y[ξ] (O x tiles) · V[ξ]ᵀ (tiles x C), in chunk order.
        z.par_chunks_mut(outc * channels)
            .enumerate()
            .for_each(|(xi, z)| {
                matmul(
                    MatMut::row_major(z, outc, channels),
                    position_matrix(&dy_tiles, xi, outc, tiles),
                    position_matrix(&v, xi, channels, tiles).t(),
                    true,
                    1,
                );
            });

        let (Some(grad_images), Some(u)) = (grad_input.as_deref_mut(), &u) else {
            continue;
        };
        // The input gradient: the output gradient's tiles Bᵀ dy B (padded by one), reusing the
        // buffer, times the rotated filters' transform, then Aᵀ m A added into the gradient.
        input_tiles(grad_out, outc, &t, &mut dy_tiles);
        let mut m = Scratch::take(POSITIONS * channels * tiles);
        products(
            &mut m,
            channels,
            tiles,
            |xi| filter_matrix(u, rotated_position(xi), outc, channels).t(),
            |xi| position_matrix(&dy_tiles, xi, outc, tiles),
        );
        let grad_chunk = &mut grad_images[first * g.image_len()..(first + count) * g.image_len()];
        output_blocks(&m, &t, channels, grad_chunk, |_, pixel, value| {
            *pixel += value
        });
    }

    // dW[o][c] += Gᵀ Z[·][o][c] G.
    grad_weight
        .par_chunks_mut(channels * 9)
        .enumerate()
        .for_each(|(o, filters)| {
            for (c, f) in filters.chunks_exact_mut(9).enumerate() {
                let tile: [[f32; 4]; 4] = std::array::from_fn(|r| {
                    std::array::from_fn(|s| z[((4 * r + s) * outc + o) * channels + c])
                });
                for (d, value) in f.iter_mut().zip(sandwich(tile, gt_times).iter().flatten()) {
                    *d += value;
                }
            }
        });
    grad_bias.par_iter_mut().enumerate().for_each(|(o, b)| {
        *b += (0..shape.batch)
            .map(|i| {
                grad_output[(i * outc + o) * t.plane()..][..t.plane()]
                    .iter()
                    .sum::<f32>()
            })
            .sum::<f32>();
    });
}
