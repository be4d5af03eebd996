//! Inference's 3x3 "same" convolution as Winograd products on [`PaddedMaps`]: F(4x4, 3x3) on
//! planes whose side is a multiple of 4, F(2x2, 3x3) on the other even ones, with
//! [`super::winograd`]'s transforms (the module docs there give the algebra).
//!
//! The maps are channels-last, so each tile position of a tile is a vector of channels: the
//! transforms are a few scaled sums of whole rows of channels, which vectorize, rather than
//! the scalar tile sandwiches of the training path's channels-first planes. The padded layout
//! already holds the zeros around each plane, so every input tile is read in place, edges
//! included. Per chunk of images: the input tiles `[tile][ξ][C]` (in parallel over rows of
//! blocks), one product per `ξ` (`tiles x C` by `C x O`, in parallel over `ξ`, each on one
//! thread), then the output blocks `Aᵀ M A` plus the bias, through ReLU, written in place (in
//! parallel over rows of blocks). Every sum runs in an order fixed by the shapes, so the bits
//! do not depend on the threads.
//!
//! Against the in-place products of [`super::shifted_conv`]: 4 (F(4x4)) or 2.25 (F(2x2))
//! times fewer multiply-adds, no products on padding, for two passes over tiles 2.25 or 4
//! times the size of the activations, which stay in the L3 cache (a chunk's tiles are sized
//! for it).

use rayon::prelude::*;

use super::matmul::{matmul, MatMut, MatRef};
use super::padded_maps::PaddedMaps;
use super::scratch::Scratch;
use super::tuning::WINOGRAD_MAPS_MIN_OUT_CHANNELS;
use super::tuning::{WINOGRAD_MAPS_CHUNK_BYTES as CHUNK_BYTES, WINOGRAD_MAPS_MIN_IN_CHANNELS};
use super::winograd::{filter_matrix, filter_tiles, kernel, F2x3, F4x3, Transforms};

/// 3x3 filters transformed for [`conv3x3_winograd`] on planes of one side.
#[derive(Debug, Clone, PartialEq)]
pub struct WinogradFilters {
    /// `U = G g Gᵀ` of every filter, laid out `[c][ξ][o]`.
    tiles: Vec<f32>,
    in_channels: usize,
    out_channels: usize,
    /// Output block side: 4 for F(4x4, 3x3), 2 for F(2x2, 3x3).
    block: usize,
}

impl WinogradFilters {
    /// Whether Winograd runs on this layer: an even side, at least
    /// [`WINOGRAD_MAPS_MIN_IN_CHANNELS`] input and [`WINOGRAD_MAPS_MIN_OUT_CHANNELS`] output
    /// channels.
    pub(crate) fn runs(in_channels: usize, out_channels: usize, side: usize) -> bool {
        in_channels >= WINOGRAD_MAPS_MIN_IN_CHANNELS
            && out_channels >= WINOGRAD_MAPS_MIN_OUT_CHANNELS
            && side > 0
            && side % 2 == 0
    }

    /// From `O x C x 3 x 3` filters (dfdx's layout), for planes of `side`; `None` where
    /// Winograd does not run ([`Self::runs`]).
    pub fn for_plane(
        weight: &[f32],
        in_channels: usize,
        out_channels: usize,
        side: usize,
    ) -> Option<Self> {
        assert_eq!(
            weight.len(),
            out_channels * in_channels * 9,
            "3x3 filter length"
        );
        if !Self::runs(in_channels, out_channels, side) {
            return None;
        }
        let filter = |c: usize, o: usize| kernel::<3>(weight, in_channels, o, c);
        let (tiles, block) = if side % 4 == 0 {
            let u = filter_tiles::<F4x3, 4, 3, 6>(in_channels, out_channels, filter);
            (u.to_vec(), 4)
        } else {
            let u = filter_tiles::<F2x3, 2, 3, 4>(in_channels, out_channels, filter);
            (u.to_vec(), 2)
        };
        Some(WinogradFilters {
            tiles,
            in_channels,
            out_channels,
            block,
        })
    }
}

/// The "same" 3x3 convolution of `input` with `filters` and `bias`, through ReLU when `relu`.
pub fn conv3x3_winograd(
    input: &PaddedMaps,
    filters: &WinogradFilters,
    bias: &[f32],
    relu: bool,
) -> PaddedMaps {
    assert_eq!(input.channels, filters.in_channels, "input channels");
    assert_eq!(bias.len(), filters.out_channels, "bias length");
    assert_eq!(input.side % filters.block, 0, "plane side");
    match filters.block {
        4 => convolve::<F4x3, 4, 6>(input, filters, bias, relu),
        _ => convolve::<F2x3, 2, 4>(input, filters, bias, relu),
    }
}

/// The matrix of the linear map `f` from `K` to `N` values, `[row][column]`: `f` applied to
/// each unit vector gives a column.
fn matrix_of<const K: usize, const N: usize>(f: impl Fn([f32; K]) -> [f32; N]) -> [[f32; K]; N] {
    let columns: [[f32; N]; K] =
        std::array::from_fn(|k| f(std::array::from_fn(|i| if i == k { 1.0 } else { 0.0 })));
    std::array::from_fn(|n| std::array::from_fn(|k| columns[k][n]))
}

/// `output = Σ_k row[k] · inputs[k]`, value by value over rows of channels; zero terms
/// skipped (the transforms' matrices are about a third zeros).
#[inline(always)]
fn combine<const K: usize>(row: &[f32; K], inputs: &[&[f32]; K], output: &mut [f32]) {
    let mut written = false;
    for (&a, input) in row.iter().zip(inputs) {
        if a == 0.0 {
            continue;
        }
        let input = &input[..output.len()];
        if written {
            output.iter_mut().zip(input).for_each(|(o, &v)| *o += a * v);
        } else {
            output.iter_mut().zip(input).for_each(|(o, &v)| *o = a * v);
            written = true;
        }
    }
    if !written {
        output.fill(0.0);
    }
}

/// [`conv3x3_winograd`] with F(`M` x `M`, 3x3), whose tiles are `A x A`.
fn convolve<W: Transforms<M, 3, A>, const M: usize, const A: usize>(
    input: &PaddedMaps,
    filters: &WinogradFilters,
    bias: &[f32],
    relu: bool,
) -> PaddedMaps {
    let (c, o, side, images) = (input.channels, bias.len(), input.side, input.images);
    let width = input.row_width();
    let mut out = PaddedMaps::unfilled(images, side, o);
    let image_len = (side + 1) * width * o;
    let (top, rest) = out.data.split_at_mut(width * o);
    top.fill(0.0);
    let (images_out, spare) = rest.split_at_mut(images * image_len);
    spare.fill(0.0);
    if images == 0 {
        return out;
    }
    let input_matrix = matrix_of(W::input);
    let output_matrix = matrix_of(W::output);
    let blocks_per_row = side / M;
    let tiles_per_image = blocks_per_row * blocks_per_row;
    let positions = A * A;
    let bytes_per_image = tiles_per_image * positions * (c + o) * std::mem::size_of::<f32>();
    let chunk_images = (CHUNK_BYTES / bytes_per_image).clamp(1, images);
    for (chunk, chunk_out) in images_out.chunks_mut(chunk_images * image_len).enumerate() {
        let first_image = chunk * chunk_images;
        let count = chunk_out.len() / image_len;
        let tiles = count * tiles_per_image;
        // Input tiles `[tile][ξ][C]`, a row of blocks per task.
        let mut v = Scratch::take(tiles * positions * c);
        v.par_chunks_mut(blocks_per_row * positions * c)
            .enumerate()
            .for_each(|(block_row, dst)| {
                let n = first_image + block_row / blocks_per_row;
                let by = block_row % blocks_per_row;
                let mut columns = Scratch::take(positions * c); // `[j][i][C]`: Bᵀ d
                for (bx, tile) in dst.chunks_exact_mut(positions * c).enumerate() {
                    // Window row `i` starts one row above and one column left of the block.
                    let corner = input.position(n, by * M, bx * M) - width - 1;
                    let at = |i: usize, j: usize| &input.data[(corner + i * width + j) * c..][..c];
                    for (j, column) in columns.chunks_exact_mut(A * c).enumerate() {
                        let window: [&[f32]; A] = std::array::from_fn(|i| at(i, j));
                        for (row, value) in input_matrix.iter().zip(column.chunks_exact_mut(c)) {
                            combine(row, &window, value);
                        }
                    }
                    for (i, tile_row) in tile.chunks_exact_mut(A * c).enumerate() {
                        let row: [&[f32]; A] =
                            std::array::from_fn(|j| &columns[(j * A + i) * c..][..c]);
                        for (coefficients, value) in
                            input_matrix.iter().zip(tile_row.chunks_exact_mut(c))
                        {
                            combine(coefficients, &row, value);
                        }
                    }
                }
            });
        // `M[ξ] = V[ξ] U[ξ]`, `[ξ][tile][O]`.
        let mut m = Scratch::take(positions * tiles * o);
        m.par_chunks_mut(tiles * o)
            .enumerate()
            .for_each(|(xi, product)| {
                matmul(
                    MatMut::row_major(product, tiles, o),
                    MatRef::strided(&v[xi * c..], tiles, c, positions * c, 1),
                    filter_matrix(&filters.tiles, xi, c, o, positions),
                    false,
                    1,
                );
            });
        drop(v);
        // Output blocks, bias and ReLU, a row of blocks per task; the zero column of each
        // row and the zero row below each image.
        let m = &m;
        chunk_out
            .par_chunks_mut(image_len)
            .enumerate()
            .flat_map(|(image, image_out)| {
                let (rows, below) = image_out.split_at_mut(side * width * o);
                below.fill(0.0);
                rows.par_chunks_mut(M * width * o)
                    .enumerate()
                    .map(move |(by, block_rows)| (image, by, block_rows))
            })
            .for_each(|(image, by, block_rows)| {
                let mut columns = Scratch::take(A * M * o); // `[j][r][O]`: Aᵀ M
                for row in block_rows.chunks_exact_mut(width * o) {
                    row[..o].fill(0.0);
                }
                for bx in 0..blocks_per_row {
                    let tile = (image * blocks_per_row + by) * blocks_per_row + bx;
                    let at = |xi: usize| &m[(xi * tiles + tile) * o..][..o];
                    for (j, column) in columns.chunks_exact_mut(M * o).enumerate() {
                        let products: [&[f32]; A] = std::array::from_fn(|i| at(i * A + j));
                        for (row, value) in output_matrix.iter().zip(column.chunks_exact_mut(o)) {
                            combine(row, &products, value);
                        }
                    }
                    for (r, row) in block_rows.chunks_exact_mut(width * o).enumerate() {
                        let sums: [&[f32]; A] =
                            std::array::from_fn(|j| &columns[(j * M + r) * o..][..o]);
                        let pixels = &mut row[(1 + bx * M) * o..][..M * o];
                        for (coefficients, value) in
                            output_matrix.iter().zip(pixels.chunks_exact_mut(o))
                        {
                            combine(coefficients, &sums, value);
                            for (v, b) in value.iter_mut().zip(bias) {
                                *v = if relu { (*v + b).max(0.0) } else { *v + b };
                            }
                        }
                    }
                }
            });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::shifted_conv::tests::{assert_matches_reference, reference, values};
    use super::*;

    /// F(4x4) (sides 4, 12, 24) and F(2x2) (sides 2, 6) against the f64 reference, for one
    /// image and for batches split into several chunks (8 MiB: 24x24 planes of 64 -> 64 channels
    /// take 12 images a chunk), with and without ReLU: within 1e-5 of the output's scale, as
    /// the in-place products; every padding position stays zero.
    #[test]
    fn matches_the_f64_reference_and_keeps_padding_zero() {
        for &(images, c_count, o_count, side) in &[
            (1, 32, 64, 4),
            (3, 32, 72, 2),
            (2, 48, 64, 6),
            (1, 64, 64, 12),
            (5, 40, 80, 12),
            (15, 64, 64, 24),
        ] {
            let x = values(images * c_count * side * side, 1);
            let w = values(o_count * c_count * 9, 2);
            let b = values(o_count, 3);
            let filters = WinogradFilters::for_plane(&w, c_count, o_count, side).unwrap();
            assert_eq!(filters.block, if side % 4 == 0 { 4 } else { 2 });
            for relu in [false, true] {
                let expected = reference(&x, &w, &b, (images, c_count, o_count, side), relu);
                let input = PaddedMaps::from_nchw(&x, images, c_count, side);
                // Stale pooled buffers are NaN: every output position must be written.
                super::super::scratch::poison_this_thread();
                let out = conv3x3_winograd(&input, &filters, &b, relu);
                assert_matches_reference(&out, &expected, (images, c_count, o_count, side));
            }
        }
    }

    /// No Winograd form where it does not run: odd sides, few input or output channels.
    #[test]
    fn declines_odd_planes_and_few_channels() {
        for (c_count, o_count, side) in [(64, 64, 13), (16, 64, 12), (64, 32, 12)] {
            let w = values(o_count * c_count * 9, 2);
            let filters = WinogradFilters::for_plane(&w, c_count, o_count, side);
            assert!(filters.is_none(), "{c_count}->{o_count} at {side}");
        }
        assert!(WinogradFilters::for_plane(&values(64 * 64 * 9, 2), 64, 64, 12).is_some());
    }
}
