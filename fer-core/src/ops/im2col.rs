//! Window geometry and the im2col / col2im transforms that turn a convolution into one matrix
//! product.
//!
//! `im2col` lays every receptive field of an image out as one column of a matrix with
//! `channels * kernel * kernel` rows, so the convolution becomes `weight (out x rows) * columns`.
//! Written by hand because no maintained crate offers it for plain `f32` slices; the loops copy
//! whole contiguous row segments where the stride is 1, which is what keeps them memory-bound
//! rather than index-bound.

use crate::error::{FerError, Result};

/// The shape of a square sliding window (kernel, stride, zero padding) over one `C x H x W`
/// image, and the output size it yields: `out = (in + 2 * padding - kernel) / stride + 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowGeometry {
    /// Input channels.
    pub channels: usize,
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// Side of the square window.
    pub kernel: usize,
    /// Step between windows, in both directions.
    pub stride: usize,
    /// Zero padding added on every side.
    pub padding: usize,
    /// Output height.
    pub out_height: usize,
    /// Output width.
    pub out_width: usize,
}

impl WindowGeometry {
    /// Checks the parameters and computes the output size. Errors name the parameter when the
    /// kernel or stride is 0, or the window does not fit in the padded image.
    pub fn new(
        channels: usize,
        height: usize,
        width: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Result<Self> {
        if kernel == 0 {
            return Err(FerError::invalid_parameter("kernel", "must be at least 1"));
        }
        if stride == 0 {
            return Err(FerError::invalid_parameter("stride", "must be at least 1"));
        }
        if height + 2 * padding < kernel || width + 2 * padding < kernel {
            return Err(FerError::ShapeMismatch(format!(
                "a {kernel}x{kernel} window does not fit a {height}x{width} input with padding {padding}"
            )));
        }
        Ok(Self {
            channels,
            height,
            width,
            kernel,
            stride,
            padding,
            out_height: (height + 2 * padding - kernel) / stride + 1,
            out_width: (width + 2 * padding - kernel) / stride + 1,
        })
    }

    /// Elements of one input image (`C * H * W`).
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Pixels of one output plane (`out_height * out_width`).
    pub fn out_plane(&self) -> usize {
        self.out_height * self.out_width
    }

    /// Rows of the column matrix: one per (channel, kernel row, kernel column).
    pub fn col_rows(&self) -> usize {
        self.channels * self.kernel * self.kernel
    }

    /// The output columns `ox` whose input column `ox * stride + kx - padding` lies inside the
    /// image, as a half-open range.
    fn valid_out_range(&self, k: usize, out_len: usize, in_len: usize) -> (usize, usize) {
        // ox * s + k >= p  <=>  ox >= ceil((p - k) / s)
        let lo = if self.padding > k {
            (self.padding - k).div_ceil(self.stride)
        } else {
            0
        };
        // ox * s + k - p <= in - 1  <=>  ox <= (in - 1 + p - k) / s
        let hi = if in_len + self.padding > k {
            ((in_len - 1 + self.padding - k) / self.stride + 1).min(out_len)
        } else {
            0
        };
        (lo.min(hi), hi)
    }
}

/// Writes the column matrix of one image into `col`, a row-major matrix with `col_rows` rows
/// and `row_stride` columns, at columns `col_offset .. col_offset + out_plane` (so several
/// images can share one wide matrix). Padding reads as zero.
pub fn im2col(
    image: &[f32],
    g: &WindowGeometry,
    col: &mut [f32],
    row_stride: usize,
    col_offset: usize,
) {
    debug_assert_eq!(image.len(), g.image_len());
    let plane_len = g.height * g.width;
    let slab_len = g.kernel * g.kernel * row_stride;
    for (plane, slab) in image.chunks_exact(plane_len).zip(col.chunks_mut(slab_len)) {
        im2col_channel(plane, g, slab, row_stride, col_offset);
    }
}

/// [`im2col`] for one channel: `plane` is that channel's `H x W` pixels and `slab` the
/// `kernel * kernel` rows of the column matrix that belong to it.
fn im2col_channel(
    plane: &[f32],
    g: &WindowGeometry,
    slab: &mut [f32],
    row_stride: usize,
    col_offset: usize,
) {
    let (k, s) = (g.kernel, g.stride);
    let (oh, ow) = (g.out_height, g.out_width);
    for ky in 0..k {
        let (y_lo, y_hi) = g.valid_out_range(ky, oh, g.height);
        for kx in 0..k {
            let row = ky * k + kx;
            let start = row * row_stride + col_offset;
            let dst = &mut slab[start..start + oh * ow];
            let (x_lo, x_hi) = g.valid_out_range(kx, ow, g.width);
            for (oy, out_row) in dst.chunks_exact_mut(ow).enumerate() {
                if oy < y_lo || oy >= y_hi {
                    out_row.fill(0.0);
                    continue;
                }
                let iy = oy * s + ky - g.padding;
                let src = &plane[iy * g.width..(iy + 1) * g.width];
                out_row[..x_lo].fill(0.0);
                out_row[x_hi..].fill(0.0);
                if x_lo < x_hi {
                    let ix0 = x_lo * s + kx - g.padding;
                    if s == 1 {
                        out_row[x_lo..x_hi].copy_from_slice(&src[ix0..ix0 + (x_hi - x_lo)]);
                    } else {
                        for (o, ix) in out_row[x_lo..x_hi].iter_mut().zip((ix0..).step_by(s)) {
                            *o = src[ix];
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: adds every column entry (columns `col_offset ..` of a matrix
/// with `row_stride` columns) back onto the input pixel it was read from
/// (`image_grad += col2im(col)`); entries that came from padding are dropped.
pub fn col2im_add(
    col: &[f32],
    g: &WindowGeometry,
    row_stride: usize,
    col_offset: usize,
    image_grad: &mut [f32],
) {
    debug_assert_eq!(image_grad.len(), g.image_len());
    let (k, s) = (g.kernel, g.stride);
    let (oh, ow) = (g.out_height, g.out_width);
    let plane_len = g.height * g.width;
    for (c, plane) in image_grad.chunks_exact_mut(plane_len).enumerate() {
        for ky in 0..k {
            let (y_lo, y_hi) = g.valid_out_range(ky, oh, g.height);
            for kx in 0..k {
                let row = (c * k + ky) * k + kx;
                let start = row * row_stride + col_offset;
                let src = &col[start..start + oh * ow];
                let (x_lo, x_hi) = g.valid_out_range(kx, ow, g.width);
                if x_lo >= x_hi {
                    continue;
                }
                let ix0 = x_lo * s + kx - g.padding;
                for oy in y_lo..y_hi {
                    let iy = oy * s + ky - g.padding;
                    let dst = &mut plane[iy * g.width..(iy + 1) * g.width];
                    let from = &src[oy * ow + x_lo..oy * ow + x_hi];
                    if s == 1 {
                        for (d, v) in dst[ix0..ix0 + from.len()].iter_mut().zip(from) {
                            *d += v;
                        }
                    } else {
                        for (v, ix) in from.iter().zip((ix0..).step_by(s)) {
                            dst[ix] += v;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The column matrix of a 1x3x3 image with a 2x2 kernel, stride 1, padding 0, written out by
    /// hand: each column is one window read row by row.
    #[test]
    fn im2col_matches_hand_worked_example() {
        let image: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        let g = WindowGeometry::new(1, 3, 3, 2, 1, 0).unwrap();
        let mut col = vec![f32::NAN; 4 * 4];
        im2col(&image, &g, &mut col, 4, 0);
        #[rustfmt::skip]
        let expected = [
            1., 2., 4., 5.,
            2., 3., 5., 6.,
            4., 5., 7., 8.,
            5., 6., 8., 9.,
        ];
        assert_eq!(col, expected);
    }

    /// With padding, out-of-image reads are zero; with stride 2 every other window is taken.
    #[test]
    fn im2col_pads_with_zeros_and_strides() {
        let image: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        let g = WindowGeometry::new(1, 3, 3, 3, 2, 1).unwrap();
        assert_eq!((g.out_height, g.out_width), (2, 2));
        let mut col = vec![f32::NAN; 9 * 4];
        im2col(&image, &g, &mut col, 4, 0);
        // Centre tap (ky = kx = 1) reads pixels (0,0), (0,2), (2,0), (2,2).
        assert_eq!(&col[4 * 4..5 * 4], &[1., 3., 7., 9.]);
        // Top-left tap reads (-1,-1) (padding), (-1,1), (1,-1), (1,1).
        assert_eq!(&col[0..4], &[0., 0., 0., 5.]);
    }

    /// col2im is the adjoint of im2col: <im2col(x), y> == <x, col2im(y)> for any x, y.
    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        for &(h, w, k, s, p) in &[
            (5, 4, 3, 1, 1),
            (7, 5, 3, 2, 2),
            (4, 6, 1, 2, 0),
            (5, 5, 5, 1, 2),
        ] {
            let g = WindowGeometry::new(2, h, w, k, s, p).unwrap();
            let x: Vec<f32> = (0..g.image_len())
                .map(|i| (i as f32 * 0.37).sin())
                .collect();
            let cols = g.col_rows() * g.out_plane();
            let y: Vec<f32> = (0..cols).map(|i| (i as f32 * 0.11).cos()).collect();
            let mut col = vec![0.0; cols];
            im2col(&x, &g, &mut col, g.out_plane(), 0);
            let mut back = vec![0.0; g.image_len()];
            col2im_add(&y, &g, g.out_plane(), 0, &mut back);
            let lhs: f64 = col.iter().zip(&y).map(|(a, b)| (a * b) as f64).sum();
            let rhs: f64 = x.iter().zip(&back).map(|(a, b)| (a * b) as f64).sum();
            assert!(
                (lhs - rhs).abs() < 1e-4,
                "{h}x{w} k{k} s{s} p{p}: {lhs} vs {rhs}"
            );
        }
    }

    #[test]
    fn bad_geometry_is_an_error_naming_the_parameter() {
        let err = WindowGeometry::new(1, 4, 4, 0, 1, 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("kernel"), "{err}");
        let err = WindowGeometry::new(1, 4, 4, 3, 0, 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("stride"), "{err}");
        let err = WindowGeometry::new(1, 2, 2, 5, 1, 1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("5x5"), "{err}");
    }
}
