//! Winograd convolutions for "same" layers with stride 1 (the 3x3 layers of both models and the
//! seed's 5x5 layer, used where they have at least [`MIN_CHANNELS`] input channels), forward
//! and backward: F(2x2, 3x3), F(4x4, 3x3) and F(4x4, 5x5).
//!
//! F(m x m, r x r) computes each `m x m` block of outputs from the `a x a` input tile around it
//! (`a = m + r - 1`) with `a²` products per (input channel, filter) pair instead of `m² r²`
//! (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016). With the
//! tile transforms `V = Bᵀ d B` (input) and `U = G g Gᵀ` (filter), a block of outputs is
//! `Aᵀ (U ⊙ V) A`; summed over input channels, each of the `a²` tile positions `ξ` becomes one
//! matrix product `M[ξ] (O x tiles) = U[ξ] (O x C) · V[ξ] (C x tiles)`. The backward pass uses
//! the same identity twice:
//! - input gradient: a "same" convolution of the output gradient with the filters rotated by
//!   180 degrees and transposed, so `U` of those filters times the output gradient's tiles;
//! - weight gradient: `dg = Gᵀ [Σ_tiles (A dy Aᵀ) ⊙ V] G`, where the sum over tiles is again `a²`
//!   matrix products, `Z[ξ] (O x C) = Y[ξ] (O x tiles) · V[ξ]ᵀ`.
//!
//! Multiply-adds against im2col's: 2.25x fewer for F(2x2, 3x3), 4x for F(4x4, 3x3) and 6.25x
//! for F(4x4, 5x5), for transforms that stream over the data once; the transformed tiles are
//! `a² / m²` times the activations (4, 2.25 and 4). F(4x4, 3x3) runs where its blocks fit the
//! plane ([`wide_blocks`]), F(2x2, 3x3) on small planes. The matrices come from the Toom-Cook
//! construction on the points 0, ±1, ±2, ±½ (as many as needed) and infinity, checked exactly
//! in rational arithmetic when they were derived and in f32 by the tests. The larger
//! transforms round more: against an f64 reference, F(4x4, 5x5) is off by about 3e-5 of the
//! output on 64 channels of 5x5, im2col by about 1e-6.
//! Written by hand: no maintained crate offers Winograd convolution on plain `f32` slices.
//!
//! The batch runs in chunks of whole images sized so that a chunk's transformed tiles fit in
//! the L3 cache; within a chunk the transforms run in parallel over channels and the `a²`
//! products in parallel over `ξ`, each single-threaded, so the order of every sum is fixed by
//! the shapes and the same inputs give the same bits on any number of threads, on one machine
//! (another CPU may get another `gemm` kernel or block sizes, so other last bits).

use rayon::prelude::*;

use super::conv::ConvShape;
use super::im2col::WindowGeometry;
use super::matmul::{matmul, MatMut, MatRef};
use super::scratch::Scratch;
use super::tuning::{WINOGRAD_CHUNK_BYTES as CHUNK_BYTES, WINOGRAD_MIN_CHANNELS as MIN_CHANNELS};

/// Whether [`forward`] and [`backward`] compute this geometry: a 3x3 or 5x5 kernel, stride 1
/// and "same" padding (1 or 2).
pub(crate) fn supports(g: &WindowGeometry) -> bool {
    matches!(g.kernel, 3 | 5) && g.stride == 1 && 2 * g.padding + 1 == g.kernel
}

/// Whether a layer should use Winograd: supported, and at least [`MIN_CHANNELS`] input channels.
pub(crate) fn pays_off(shape: &ConvShape) -> bool {
    supports(&shape.geometry) && shape.geometry.channels >= MIN_CHANNELS
}

/// The one-dimensional transforms of F(M, R), with `A = M + R - 1` points; the two-dimensional
/// ones apply them to the columns and then the rows of a tile ([`sandwich`]).
pub(super) trait Transforms<const M: usize, const R: usize, const A: usize> {
    /// `Bᵀ v`: an input window to tile positions.
    fn input(v: [f32; A]) -> [f32; A];
    /// `G v`: a filter row to tile positions.
    fn filter(v: [f32; R]) -> [f32; A];
    /// `Aᵀ v`: tile positions to `M` outputs.
    fn output(v: [f32; A]) -> [f32; M];
    /// `A v`, the transpose of [`Self::output`]: `M` output gradients to tile positions.
    fn output_gradient(v: [f32; M]) -> [f32; A];
    /// `Gᵀ v`, the transpose of [`Self::filter`]: tile positions to a filter row's gradient.
    fn filter_gradient(v: [f32; A]) -> [f32; R];
}

/// F(2, 3): points 0, 1, -1 and infinity.
pub(super) struct F2x3;

impl Transforms<2, 3, 4> for F2x3 {
    /// `Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]`.
    #[inline(always)]
    fn input(v: [f32; 4]) -> [f32; 4] {
        [v[0] - v[2], v[1] + v[2], v[2] - v[1], v[1] - v[3]]
    }

    /// `G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1]`.
    #[inline(always)]
    fn filter(v: [f32; 3]) -> [f32; 4] {
        let (even, odd) = (0.5 * (v[0] + v[2]), 0.5 * v[1]);
        [v[0], even + odd, even - odd, v[2]]
    }

    /// `Aᵀ = [1 1 1 0; 0 1 -1 -1]`.
    #[inline(always)]
    fn output(v: [f32; 4]) -> [f32; 2] {
        [v[0] + v[1] + v[2], v[1] - v[2] - v[3]]
    }

    #[inline(always)]
    fn output_gradient(v: [f32; 2]) -> [f32; 4] {
        [v[0], v[0] + v[1], v[0] - v[1], -v[1]]
    }

    #[inline(always)]
    fn filter_gradient(v: [f32; 4]) -> [f32; 3] {
        let (sum, difference) = (0.5 * (v[1] + v[2]), 0.5 * (v[1] - v[2]));
        [v[0] + sum, difference, sum + v[3]]
    }
}

/// F(4, 3): points 0, 1, -1, 2, -2 and infinity; the matrices written out term by term.
pub(super) struct F4x3;

impl Transforms<4, 3, 6> for F4x3 {
    #[inline(always)]
    fn input(v: [f32; 6]) -> [f32; 6] {
        [
            4.0 * v[0] - 5.0 * v[2] + v[4],
            4.0 * v[1] + 4.0 * v[2] - v[3] - v[4],
            -4.0 * v[1] + 4.0 * v[2] + v[3] - v[4],
            -2.0 * v[1] - v[2] + 2.0 * v[3] + v[4],
            2.0 * v[1] - v[2] - 2.0 * v[3] + v[4],
            4.0 * v[1] - 5.0 * v[3] + v[5],
        ]
    }

    #[inline(always)]
    fn filter(v: [f32; 3]) -> [f32; 6] {
        [
            (1.0 / 4.0) * v[0],
            (1.0 / 6.0) * v[0] + (1.0 / 6.0) * v[1] + (1.0 / 6.0) * v[2],
            (1.0 / 6.0) * v[0] - (1.0 / 6.0) * v[1] + (1.0 / 6.0) * v[2],
            (1.0 / 24.0) * v[0] + (1.0 / 12.0) * v[1] + (1.0 / 6.0) * v[2],
            (1.0 / 24.0) * v[0] - (1.0 / 12.0) * v[1] + (1.0 / 6.0) * v[2],
            v[2],
        ]
    }

    #[inline(always)]
    fn output(v: [f32; 6]) -> [f32; 4] {
        [
            v[0] + v[1] + v[2] + v[3] + v[4],
            v[1] - v[2] + 2.0 * v[3] - 2.0 * v[4],
            v[1] + v[2] + 4.0 * v[3] + 4.0 * v[4],
            v[1] - v[2] + 8.0 * v[3] - 8.0 * v[4] + v[5],
        ]
    }

    #[inline(always)]
    fn output_gradient(v: [f32; 4]) -> [f32; 6] {
        [
            v[0],
            v[0] + v[1] + v[2] + v[3],
            v[0] - v[1] + v[2] - v[3],
            v[0] + 2.0 * v[1] + 4.0 * v[2] + 8.0 * v[3],
            v[0] - 2.0 * v[1] + 4.0 * v[2] - 8.0 * v[3],
            v[3],
        ]
    }

    #[inline(always)]
    fn filter_gradient(v: [f32; 6]) -> [f32; 3] {
        [
            (1.0 / 4.0) * v[0]
                + (1.0 / 6.0) * v[1]
                + (1.0 / 6.0) * v[2]
                + (1.0 / 24.0) * v[3]
                + (1.0 / 24.0) * v[4],
            (1.0 / 6.0) * v[1] - (1.0 / 6.0) * v[2] + (1.0 / 12.0) * v[3] - (1.0 / 12.0) * v[4],
            (1.0 / 6.0) * v[1]
                + (1.0 / 6.0) * v[2]
                + (1.0 / 6.0) * v[3]
                + (1.0 / 6.0) * v[4]
                + v[5],
        ]
    }
}

/// F(4, 5): points 0, 1, -1, 2, -2, ½, -½ and infinity; the matrices written out term by
/// term, with rows 5 and 6 of `Bᵀ` scaled by 1/16 and those of `G` by 16 (exact), which keeps
/// `Bᵀ`'s entries at most 21.
struct F4x5;

impl Transforms<4, 5, 8> for F4x5 {
    #[inline(always)]
    fn input(v: [f32; 8]) -> [f32; 8] {
        [
            4.0 * v[0] - 21.0 * v[2] + 21.0 * v[4] - 4.0 * v[6],
            -4.0 * v[1] - 4.0 * v[2] + 17.0 * v[3] + 17.0 * v[4] - 4.0 * v[5] - 4.0 * v[6],
            4.0 * v[1] - 4.0 * v[2] - 17.0 * v[3] + 17.0 * v[4] + 4.0 * v[5] - 4.0 * v[6],
            2.0 * v[1] + v[2] - 10.0 * v[3] - 5.0 * v[4] + 8.0 * v[5] + 4.0 * v[6],
            -2.0 * v[1] + v[2] + 10.0 * v[3] - 5.0 * v[4] - 8.0 * v[5] + 4.0 * v[6],
            4.0 * v[1] + 8.0 * v[2] - 5.0 * v[3] - 10.0 * v[4] + v[5] + 2.0 * v[6],
            -4.0 * v[1] + 8.0 * v[2] + 5.0 * v[3] - 10.0 * v[4] - v[5] + 2.0 * v[6],
            -4.0 * v[1] + 21.0 * v[3] - 21.0 * v[5] + 4.0 * v[7],
        ]
    }

    #[inline(always)]
    fn filter(v: [f32; 5]) -> [f32; 8] {
        [
            (1.0 / 4.0) * v[0],
            (1.0 / 18.0) * v[0]
                + (1.0 / 18.0) * v[1]
                + (1.0 / 18.0) * v[2]
                + (1.0 / 18.0) * v[3]
                + (1.0 / 18.0) * v[4],
            (1.0 / 18.0) * v[0] - (1.0 / 18.0) * v[1] + (1.0 / 18.0) * v[2] - (1.0 / 18.0) * v[3]
                + (1.0 / 18.0) * v[4],
            (1.0 / 360.0) * v[0]
                + (1.0 / 180.0) * v[1]
                + (1.0 / 90.0) * v[2]
                + (1.0 / 45.0) * v[3]
                + (2.0 / 45.0) * v[4],
            (1.0 / 360.0) * v[0] - (1.0 / 180.0) * v[1] + (1.0 / 90.0) * v[2] - (1.0 / 45.0) * v[3]
                + (2.0 / 45.0) * v[4],
            (16.0 / 45.0) * v[0]
                + (8.0 / 45.0) * v[1]
                + (4.0 / 45.0) * v[2]
                + (2.0 / 45.0) * v[3]
                + (1.0 / 45.0) * v[4],
            (16.0 / 45.0) * v[0] - (8.0 / 45.0) * v[1] + (4.0 / 45.0) * v[2] - (2.0 / 45.0) * v[3]
                + (1.0 / 45.0) * v[4],
            (1.0 / 4.0) * v[4],
        ]
    }

    #[inline(always)]
    fn output(v: [f32; 8]) -> [f32; 4] {
        [
            v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6],
            v[1] - v[2] + 2.0 * v[3] - 2.0 * v[4] + (1.0 / 2.0) * v[5] - (1.0 / 2.0) * v[6],
            v[1] + v[2] + 4.0 * v[3] + 4.0 * v[4] + (1.0 / 4.0) * v[5] + (1.0 / 4.0) * v[6],
            v[1] - v[2] + 8.0 * v[3] - 8.0 * v[4] + (1.0 / 8.0) * v[5] - (1.0 / 8.0) * v[6] + v[7],
        ]
    }

    #[inline(always)]
    fn output_gradient(v: [f32; 4]) -> [f32; 8] {
        [
            v[0],
            v[0] + v[1] + v[2] + v[3],
            v[0] - v[1] + v[2] - v[3],
            v[0] + 2.0 * v[1] + 4.0 * v[2] + 8.0 * v[3],
            v[0] - 2.0 * v[1] + 4.0 * v[2] - 8.0 * v[3],
            v[0] + (1.0 / 2.0) * v[1] + (1.0 / 4.0) * v[2] + (1.0 / 8.0) * v[3],
            v[0] - (1.0 / 2.0) * v[1] + (1.0 / 4.0) * v[2] - (1.0 / 8.0) * v[3],
            v[3],
        ]
    }

    #[inline(always)]
    fn filter_gradient(v: [f32; 8]) -> [f32; 5] {
        [
            (1.0 / 4.0) * v[0]
                + (1.0 / 18.0) * v[1]
                + (1.0 / 18.0) * v[2]
                + (1.0 / 360.0) * v[3]
                + (1.0 / 360.0) * v[4]
                + (16.0 / 45.0) * v[5]
                + (16.0 / 45.0) * v[6],
            (1.0 / 18.0) * v[1] - (1.0 / 18.0) * v[2] + (1.0 / 180.0) * v[3] - (1.0 / 180.0) * v[4]
                + (8.0 / 45.0) * v[5]
                - (8.0 / 45.0) * v[6],
            (1.0 / 18.0) * v[1]
                + (1.0 / 18.0) * v[2]
                + (1.0 / 90.0) * v[3]
                + (1.0 / 90.0) * v[4]
                + (4.0 / 45.0) * v[5]
                + (4.0 / 45.0) * v[6],
            (1.0 / 18.0) * v[1] - (1.0 / 18.0) * v[2] + (1.0 / 45.0) * v[3] - (1.0 / 45.0) * v[4]
                + (2.0 / 45.0) * v[5]
                - (2.0 / 45.0) * v[6],
            (1.0 / 18.0) * v[1]
                + (1.0 / 18.0) * v[2]
                + (2.0 / 45.0) * v[3]
                + (2.0 / 45.0) * v[4]
                + (1.0 / 45.0) * v[5]
                + (1.0 / 45.0) * v[6]
                + (1.0 / 4.0) * v[7],
        ]
    }
}

/// How an `height x width` plane splits into `block x block` output blocks (the last row or
/// column of blocks overhangs sizes that are not a multiple; its outside outputs are never
/// written).
#[derive(Clone, Copy, Debug)]
struct Tiling {
    block: usize,
    height: usize,
    width: usize,
    rows: usize,
    cols: usize,
}

impl Tiling {
    fn of(g: &WindowGeometry, block: usize) -> Self {
        Self {
            block,
            height: g.height,
            width: g.width,
            rows: g.height.div_ceil(block),
            cols: g.width.div_ceil(block),
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
                f(ty * self.cols + tx, self.block * ty, self.block * tx);
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

/// The `N x N` window of `plane` whose top-left pixel is (`top`, `left`) (either may be
/// negative, and the window may overhang the far edges); zeros outside the plane.
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

/// Writes an `M x M` block at (`top`, `left`) of `plane` through `store(pixel, value)`, skipping the
/// pixels an odd-sized plane does not have.
#[inline(always)]
fn store_block<const M: usize>(
    t: &Tiling,
    top: usize,
    left: usize,
    block: [[f32; M]; M],
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

/// The filter transforms `G g Gᵀ` of a `rows x cols` grid of `R x R` filters (`filter(row, col)`),
/// laid out `[row][ξ][col]`.
pub(super) fn filter_tiles<
    W: Transforms<M, R, A>,
    const M: usize,
    const R: usize,
    const A: usize,
>(
    rows: usize,
    cols: usize,
    filter: impl Fn(usize, usize) -> [[f32; R]; R] + Sync,
) -> Scratch {
    let mut u = Scratch::take(rows * A * A * cols);
    u.par_chunks_mut(A * A * cols)
        .enumerate()
        .for_each(|(row, u)| {
            for col in 0..cols {
                let tile = sandwich(filter(row, col), W::filter);
                for (xi, value) in tile.iter().flatten().enumerate() {
                    u[xi * cols + col] = *value;
                }
            }
        });
    u
}

/// Filter `(o, c)` of an `O x C x R x R` weight.
#[inline(always)]
pub(super) fn kernel<const R: usize>(
    weight: &[f32],
    channels: usize,
    o: usize,
    c: usize,
) -> [[f32; R]; R] {
    let f = &weight[(o * channels + c) * R * R..][..R * R];
    std::array::from_fn(|r| std::array::from_fn(|s| f[R * r + s]))
}

/// `U[ξ]` (`rows x cols`) as a view of [`filter_tiles`]' layout.
pub(super) fn filter_matrix(
    u: &[f32],
    xi: usize,
    rows: usize,
    cols: usize,
    positions: usize,
) -> MatRef<'_> {
    MatRef::strided(&u[xi * cols..], rows, cols, positions * cols, 1)
}

/// Position `ξ` of per-channel tiles laid out `[channel][ξ][tile]`, as a `channels x tiles`
/// matrix.
fn position_matrix(
    v: &[f32],
    xi: usize,
    channels: usize,
    tiles: usize,
    positions: usize,
) -> MatRef<'_> {
    MatRef::strided(&v[xi * tiles..], channels, tiles, positions * tiles, 1)
}

/// Transforms every `N x N` window of a chunk of `planes_per_image`-channel images into `A x A`
/// tiles in `out`, laid out `[channel][ξ][tile]`, in parallel over channels. Block
/// `(top, left)`'s window starts at `(top - pad, left - pad)`, zeros outside the plane.
fn chunk_tiles<const N: usize, const A: usize>(
    images: &[f32],
    planes_per_image: usize,
    t: &Tiling,
    pad: isize,
    transform: impl Fn([[f32; N]; N]) -> [[f32; A]; A] + Sync,
    out: &mut [f32],
) {
    let count = images.len() / (planes_per_image * t.plane());
    let tiles = count * t.per_image();
    out.par_chunks_mut(A * A * tiles)
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

/// The input tiles `Bᵀ d B` of a chunk of images, with "same" padding `(R - 1) / 2`.
fn input_tiles<W: Transforms<M, R, A>, const M: usize, const R: usize, const A: usize>(
    images: &[f32],
    planes_per_image: usize,
    t: &Tiling,
    out: &mut [f32],
) {
    let pad = (R as isize - 1) / 2;
    chunk_tiles::<A, A>(
        images,
        planes_per_image,
        t,
        pad,
        |d| sandwich(d, W::input),
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
fn output_blocks<W: Transforms<M, R, A>, const M: usize, const R: usize, const A: usize>(
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
                let tile_values: [[f32; A]; A] =
                    std::array::from_fn(|r| std::array::from_fn(|s| m[(A * r + s) * stride + p]));
                store_block(
                    t,
                    top,
                    left,
                    sandwich(tile_values, W::output),
                    |pixel, value| store(channel, &mut plane[pixel], value),
                );
            });
        });
}

/// Forward pass: `input` is `N x C x H x W`, `weight` `O x C x R x R`, `bias` `O`; returns the
/// `N x O x H x W` output, with ReLU applied when `relu`.
pub(crate) fn forward(
    input: &[f32],
    weight: &[f32],
    bias: &[f32],
    shape: &ConvShape,
    relu: bool,
) -> Vec<f32> {
    forward_chunked(input, weight, bias, shape, relu, None)
}

/// [`forward`] in chunks of `chunk` images (default: sized for [`CHUNK_BYTES`]).
pub(crate) fn forward_chunked(
    input: &[f32],
    weight: &[f32],
    bias: &[f32],
    shape: &ConvShape,
    relu: bool,
    chunk: Option<usize>,
) -> Vec<f32> {
    debug_assert!(supports(&shape.geometry));
    match (shape.geometry.kernel, wide_blocks(&shape.geometry)) {
        (3, false) => forward_with::<F2x3, 2, 3, 4>(input, weight, bias, shape, relu, chunk),
        (3, true) => forward_with::<F4x3, 4, 3, 6>(input, weight, bias, shape, relu, chunk),
        _ => forward_with::<F4x5, 4, 5, 8>(input, weight, bias, shape, relu, chunk),
    }
}

/// Whether a 3x3 layer runs F(4x4, 3x3) rather than F(2x2, 3x3): where the 4x4 blocks covering
/// the plane need fewer products (36 each) than the 2x2 ones (16 each). Not on a 6x6 plane
/// (4 x 36 = 9 x 16 = 144): there F(4x4) measured 236-255 ms against 127-137 for the seed's
/// 512->512 layer, its larger tiles costing more to transform. 5x5 layers always run
/// F(4x4, 5x5).
fn wide_blocks(g: &WindowGeometry) -> bool {
    let products = |block: usize, positions: usize| {
        g.height.div_ceil(block) * g.width.div_ceil(block) * positions
    };
    products(4, 36) < products(2, 16)
}

/// [`forward_chunked`] for F(M, R).
fn forward_with<W: Transforms<M, R, A>, const M: usize, const R: usize, const A: usize>(
    input: &[f32],
    weight: &[f32],
    bias: &[f32],
    shape: &ConvShape,
    relu: bool,
    chunk: Option<usize>,
) -> Vec<f32> {
    let g = &shape.geometry;
    let (channels, outc, positions) = (g.channels, shape.out_channels, A * A);
    let t = Tiling::of(g, M);
    let chunk = chunk.unwrap_or_else(|| t.chunk(shape.batch, positions * (channels + outc)));
    let u = filter_tiles::<W, M, R, A>(outc, channels, |o, c| kernel(weight, channels, o, c));
    let mut output = vec![0.0f32; shape.batch * outc * t.plane()];
    for (images, out) in input
        .chunks(chunk * g.image_len())
        .zip(output.chunks_mut(chunk * outc * t.plane()))
    {
        let tiles = images.len() / g.image_len() * t.per_image();
        let mut v = Scratch::take(channels * positions * tiles);
        input_tiles::<W, M, R, A>(images, channels, &t, &mut v);
        let mut m = Scratch::take(positions * outc * tiles);
        products(
            &mut m,
            outc,
            tiles,
            |xi| filter_matrix(&u, xi, outc, channels, positions),
            |xi| position_matrix(&v, xi, channels, tiles, positions),
        );
        // The products' layout is [ξ][O][tile], i.e. position-major with O planes.
        output_blocks::<W, M, R, A>(&m, &t, outc, out, |o, pixel, value| {
            let value = value + bias[o];
            *pixel = if relu { value.max(0.0) } else { value };
        });
    }
    output
}

/// Backward pass: adds the input gradient to `grad_input` (when given), the weight gradient to
/// `grad_weight` and the bias gradient to `grad_bias`, as
/// [`conv2d_backward`](super::conv::conv2d_backward) does.
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
    backward_chunked(
        input,
        weight,
        grad_output,
        shape,
        grad_input,
        grad_weight,
        grad_bias,
        None,
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
    grad_input: Option<&mut [f32]>,
    grad_weight: &mut [f32],
    grad_bias: &mut [f32],
    chunk: Option<usize>,
) {
    debug_assert!(supports(&shape.geometry));
    let weights = (weight, grad_weight);
    let (dy, dx) = (grad_output, grad_input);
    match (shape.geometry.kernel, wide_blocks(&shape.geometry)) {
        (3, false) => backward_with::<F2x3, 2, 3, 4>(input, weights, dy, shape, dx, chunk),
        (3, true) => backward_with::<F4x3, 4, 3, 6>(input, weights, dy, shape, dx, chunk),
        _ => backward_with::<F4x5, 4, 5, 8>(input, weights, dy, shape, dx, chunk),
    }
    let (outc, plane) = (
        shape.out_channels,
        shape.geometry.height * shape.geometry.width,
    );
    grad_bias.par_iter_mut().enumerate().for_each(|(o, b)| {
        *b += (0..shape.batch)
            .map(|i| {
                grad_output[(i * outc + o) * plane..][..plane]
                    .iter()
                    .sum::<f32>()
            })
            .sum::<f32>();
    });
}

/// [`backward_chunked`] without the bias gradient, for F(M, R); `weights` are the weights and
/// their gradient.
fn backward_with<W: Transforms<M, R, A>, const M: usize, const R: usize, const A: usize>(
    input: &[f32],
    (weight, grad_weight): (&[f32], &mut [f32]),
    grad_output: &[f32],
    shape: &ConvShape,
    mut grad_input: Option<&mut [f32]>,
    chunk: Option<usize>,
) {
    let g = &shape.geometry;
    let (channels, outc, positions) = (g.channels, shape.out_channels, A * A);
    let t = Tiling::of(g, M);
    let chunk = chunk.unwrap_or_else(|| t.chunk(shape.batch, positions * (2 * channels + outc)));
    let out_image = outc * t.plane();
    // The input gradient is a "same" convolution of the output gradient with the filters
    // rotated by 180 degrees, input and output channels swapped: their transform, [C][ξ][O].
    let rotated = grad_input.is_some().then(|| {
        filter_tiles::<W, M, R, A>(channels, outc, |c, o| {
            let k = kernel::<R>(weight, channels, o, c);
            std::array::from_fn(|r| std::array::from_fn(|s| k[R - 1 - r][R - 1 - s]))
        })
    });
    let mut z = vec![0.0f32; positions * outc * channels];
    for (index, images) in input.chunks(chunk * g.image_len()).enumerate() {
        let count = images.len() / g.image_len();
        let first = index * chunk;
        let grad_out = &grad_output[first * out_image..(first + count) * out_image];
        let tiles = count * t.per_image();
        let mut v = Scratch::take(channels * positions * tiles);
        input_tiles::<W, M, R, A>(images, channels, &t, &mut v);

        // Y = A dy Aᵀ per M x M block of the output gradient, laid out [O][ξ][tile].
        let mut dy_tiles = Scratch::take(outc * positions * tiles);
        chunk_tiles::<M, A>(
            grad_out,
            outc,
            &t,
            0,
            |e| sandwich(e, W::output_gradient),
            &mut dy_tiles,
        );
        // Z[ξ] (O x C) += Y[ξ] (O x tiles) · V[ξ]ᵀ (tiles x C), in chunk order.
        z.par_chunks_mut(outc * channels)
            .enumerate()
            .for_each(|(xi, z)| {
                matmul(
                    MatMut::row_major(z, outc, channels),
                    position_matrix(&dy_tiles, xi, outc, tiles, positions),
                    position_matrix(&v, xi, channels, tiles, positions).t(),
                    true,
                    1,
                );
            });

        let (Some(grad_images), Some(rotated)) = (grad_input.as_deref_mut(), &rotated) else {
            continue;
        };
        // The input gradient: the output gradient's tiles Bᵀ dy B (reusing the buffer) times
        // the rotated filters' transform, then Aᵀ m A added into the gradient.
        input_tiles::<W, M, R, A>(grad_out, outc, &t, &mut dy_tiles);
        let mut m = Scratch::take(positions * channels * tiles);
        products(
            &mut m,
            channels,
            tiles,
            |xi| filter_matrix(rotated, xi, channels, outc, positions),
            |xi| position_matrix(&dy_tiles, xi, outc, tiles, positions),
        );
        let grad_chunk = &mut grad_images[first * g.image_len()..(first + count) * g.image_len()];
        output_blocks::<W, M, R, A>(&m, &t, channels, grad_chunk, |_, pixel, value| {
            *pixel += value
        });
    }

    // dW[o][c] += Gᵀ Z[·][o][c] G.
    grad_weight
        .par_chunks_mut(channels * R * R)
        .enumerate()
        .for_each(|(o, filters)| {
            for (c, f) in filters.chunks_exact_mut(R * R).enumerate() {
                let tile: [[f32; A]; A] = std::array::from_fn(|r| {
                    std::array::from_fn(|s| z[((A * r + s) * outc + o) * channels + c])
                });
                let gradient = sandwich(tile, W::filter_gradient);
                for (d, value) in f.iter_mut().zip(gradient.iter().flatten()) {
                    *d += value;
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [-1, 1).
    fn values<const N: usize>(salt: u64) -> [f64; N] {
        std::array::from_fn(|i| {
            let h = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt;
            ((h >> 11) % 2001) as f64 / 1000.0 - 1.0
        })
    }

    fn dot<const N: usize>(a: [f32; N], b: [f64; N]) -> f64 {
        a.iter().zip(b).map(|(&x, y)| x as f64 * y).sum()
    }

    /// The one-dimensional identity behind every product: `Aᵀ [(G g) ⊙ (Bᵀ d)]` is the
    /// correlation `y[i] = Σ_k g[k] d[i + k]`; and `A`, `Gᵀ` are the transposes of `Aᵀ`, `G`
    /// (`<Aᵀ v, w> = <v, A w>`). f32 transforms against f64 sums: 1e-5 bounds a few roundings
    /// of values below 100.
    fn check<W: Transforms<M, R, A>, const M: usize, const R: usize, const A: usize>() {
        for salt in 0..20 {
            let (g, d) = (values::<R>(salt), values::<A>(salt + 100));
            let (gt, dt) = (
                W::filter(g.map(|x| x as f32)),
                W::input(d.map(|x| x as f32)),
            );
            let y = W::output(std::array::from_fn(|j| gt[j] * dt[j]));
            for (i, &got) in y.iter().enumerate() {
                let expected: f64 = (0..R).map(|k| g[k] * d[i + k]).sum();
                assert!(
                    (got as f64 - expected).abs() < 1e-5,
                    "F(2,{R}) y[{i}]: {got} vs {expected}"
                );
            }
            let (v, w) = (values::<A>(salt + 200), values::<M>(salt + 300));
            let lhs = dot(W::output(v.map(|x| x as f32)), w);
            let rhs = dot(W::output_gradient(w.map(|x| x as f32)), v);
            assert!((lhs - rhs).abs() < 1e-5, "F(2,{R}) A: {lhs} vs {rhs}");
            let lhs = dot(W::filter(g.map(|x| x as f32)), v);
            let rhs = dot(W::filter_gradient(v.map(|x| x as f32)), g);
            assert!((lhs - rhs).abs() < 1e-5, "F(2,{R}) G: {lhs} vs {rhs}");
        }
    }

    #[test]
    fn transforms_compute_a_correlation_and_their_transposes() {
        check::<F2x3, 2, 3, 4>();
        check::<F4x3, 4, 3, 6>();
        check::<F4x5, 4, 5, 8>();
    }
}
