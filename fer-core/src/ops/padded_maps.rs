//! Feature maps laid out for [`super::shifted_conv`]'s inference convolution: channels
//! innermost, each row of a plane preceded by one zero column, one zero row before each image,
//! after the last and one spare zero row at the end.
//!
//! ```text
//! row 0            0 0 0 0 0     (zeros: the first image's top padding)
//! rows 1..=H       0 x x x x     (image 0: a zero, then its W pixels)
//! row H+1          0 0 0 0 0     (image 0's bottom padding = image 1's top padding)
//! rows H+2..       0 x x x x     (image 1) ...
//! ```
//!
//! Rows are `W + 1` positions wide, so a pixel's right neighbour past the edge is the next
//! row's zero column; rows and columns of zeros are shared between neighbours. Then the 3x3
//! window of every pixel of every image is a fixed offset from the pixel's position (window
//! row `ky` starts `ky` rows below the top-left position), which lets a convolution read its
//! input in place, without an im2col copy. Each position holds `channels` values.

use rayon::prelude::*;

use super::scratch::Scratch;

/// A batch of square feature maps in the padded channels-last layout of the module docs.
#[derive(Debug)]
pub struct PaddedMaps {
    /// `positions() * channels` values, channel fastest (a pooled buffer: the maps of one
    /// layer are the same size for every batch).
    pub(crate) data: Scratch,
    /// Images in the batch.
    pub(crate) images: usize,
    /// Height and width of each image.
    pub(crate) side: usize,
    /// Values per position.
    pub(crate) channels: usize,
}

impl PaddedMaps {
    /// All zeros.
    pub(crate) fn zeros(images: usize, side: usize, channels: usize) -> Self {
        let mut maps = Self::unfilled(images, side, channels);
        maps.data.fill(0.0);
        maps
    }

    /// Maps whose values are unspecified (stale floats from an earlier buffer): for an op that
    /// writes every position, padding included.
    pub(crate) fn unfilled(images: usize, side: usize, channels: usize) -> Self {
        let positions = (images * (side + 1) + 2) * (side + 1);
        PaddedMaps {
            data: Scratch::take(positions * channels),
            images,
            side,
            channels,
        }
    }

    /// `images` consecutive `channels x side x side` images (NCHW), re-laid out: per image
    /// (in parallel) one transposition of its `channels x side²` matrix, whose rows of pixels
    /// are then copied between the padding. A scalar loop writing each value to its padded
    /// place took about 1.5 ns per value, several times the memory traffic's share.
    pub fn from_nchw(nchw: &[f32], images: usize, channels: usize, side: usize) -> Self {
        assert_eq!(nchw.len(), images * channels * side * side, "NCHW length");
        let mut maps = Self::unfilled(images, side, channels);
        let (plane, row_len) = (side * side, maps.row_width() * channels);
        let (pixels, rest) = maps.data.split_at_mut(images * (side + 1) * row_len);
        rest.fill(0.0);
        if pixels.is_empty() {
            return maps;
        }
        pixels
            .par_chunks_mut((side + 1) * row_len)
            .zip(nchw.par_chunks(channels * plane))
            .for_each(|(rows, image)| {
                let mut channels_last = Scratch::take(image.len());
                transpose::transpose(image, &mut channels_last, plane, channels);
                let (top, rows) = rows.split_at_mut(row_len);
                top.fill(0.0);
                for (row, src) in rows
                    .chunks_exact_mut(row_len)
                    .zip(channels_last.chunks_exact(side * channels))
                {
                    row[..channels].fill(0.0);
                    row[channels..].copy_from_slice(src);
                }
            });
        maps
    }

    /// Adds the pixels (not the padding) to `nchw`, `images x channels x side x side`: the
    /// way back from this layout, for gradients that accumulate.
    pub(crate) fn add_to_nchw(&self, nchw: &mut [f32]) {
        self.write_nchw(nchw, true);
    }

    /// Writes the pixels over `nchw`, `images x channels x side x side`.
    pub(crate) fn copy_to_nchw(&self, nchw: &mut [f32]) {
        self.write_nchw(nchw, false);
    }

    /// Writes (or adds, when `add`) the pixels to `nchw`: per image (in parallel) its rows of
    /// pixels gathered, then one transposition.
    fn write_nchw(&self, nchw: &mut [f32], add: bool) {
        let (side, channels) = (self.side, self.channels);
        let plane = side * side;
        assert_eq!(nchw.len(), self.images * channels * plane, "NCHW length");
        if plane == 0 || channels == 0 {
            return;
        }
        nchw.par_chunks_mut(channels * plane)
            .enumerate()
            .for_each(|(n, image)| {
                let mut channels_last = Scratch::take(image.len());
                for (y, dst) in channels_last.chunks_exact_mut(side * channels).enumerate() {
                    dst.copy_from_slice(
                        &self.data[self.position(n, y, 0) * channels..][..dst.len()],
                    );
                }
                if add {
                    let mut transposed = Scratch::take(image.len());
                    transpose::transpose(&channels_last, &mut transposed, channels, plane);
                    image
                        .iter_mut()
                        .zip(transposed.iter())
                        .for_each(|(d, v)| *d += v);
                } else {
                    transpose::transpose(&channels_last, image, channels, plane);
                }
            });
    }

    /// The rows of the buffer in parallel, each with its image and pixel row (`None` for a
    /// row of padding).
    fn rows_mut(
        &mut self,
    ) -> impl IndexedParallelIterator<Item = (Option<(usize, usize)>, &mut [f32])> {
        let (images, side) = (self.images, self.side);
        let row_len = self.row_width() * self.channels;
        self.data
            .par_chunks_mut(row_len.max(1))
            .enumerate()
            // Rows of a few thousand values per task: one face's rows are too little work to
            // hand to another thread one by one.
            .with_min_len(4096usize.div_ceil(row_len.max(1)))
            .map(move |(row, dst)| {
                let (n, y) = (row / (side + 1), row % (side + 1));
                let pixel_row = (y > 0 && n < images).then(|| (n, y - 1));
                (pixel_row, dst)
            })
    }

    /// Positions of a row: the zero column and the `side` pixels.
    pub(crate) fn row_width(&self) -> usize {
        self.side + 1
    }

    /// Positions in all: `images * (side + 1) + 2` rows.
    #[cfg(test)]
    pub(crate) fn positions(&self) -> usize {
        (self.images * (self.side + 1) + 2) * self.row_width()
    }

    /// Position of pixel (`y`, `x`) of image `n`.
    pub(crate) fn position(&self, n: usize, y: usize, x: usize) -> usize {
        (n * (self.side + 1) + 1 + y) * self.row_width() + 1 + x
    }

    /// Whether `position` is padding (a zero column or a zero row), not a pixel.
    #[cfg(test)]
    pub(crate) fn is_padding(&self, position: usize) -> bool {
        let (row, column) = (position / self.row_width(), position % self.row_width());
        column == 0 || row % (self.side + 1) == 0 || row > self.images * (self.side + 1)
    }

    /// The values of pixel (`y`, `x`) of image `n`, one per channel.
    pub(crate) fn pixel(&self, n: usize, y: usize, x: usize) -> &[f32] {
        &self.data[self.position(n, y, x) * self.channels..][..self.channels]
    }

    /// `max(0, max of the window)` over 2x2 windows every 2 pixels (an odd last row and
    /// column are dropped): ReLU then max pooling in one pass, for inference. ReLU commutes
    /// with the maximum, so this is `max_pool(relu(x))` exactly (a NaN counts as 0, as in the
    /// convolutions' fused ReLU).
    pub fn relu_max_pool_2x2(&self) -> PaddedMaps {
        let mut out = Self::unfilled(self.images, self.side / 2, self.channels);
        let channels = self.channels;
        let out_side = out.side;
        out.rows_mut().for_each(|(pixel_row, dst)| {
            let Some((n, y)) = pixel_row else {
                dst.fill(0.0);
                return;
            };
            dst[..channels].fill(0.0);
            let top = self.position(n, 2 * y, 0) * channels;
            let bottom = self.position(n, 2 * y + 1, 0) * channels;
            for x in 0..out_side {
                let out_px = &mut dst[(1 + x) * channels..][..channels];
                let (l, r) = (2 * x * channels, (2 * x + 1) * channels);
                let rows = [
                    &self.data[top + l..][..channels],
                    &self.data[top + r..][..channels],
                    &self.data[bottom + l..][..channels],
                    &self.data[bottom + r..][..channels],
                ];
                for (c, o) in out_px.iter_mut().enumerate() {
                    *o = rows[0][c]
                        .max(rows[1][c])
                        .max(rows[2][c].max(rows[3][c]))
                        .max(0.0);
                }
            }
        });
        out
    }

    /// The mean of each image's pixels, channel by channel: `[images, channels]`.
    pub fn global_average(&self) -> Vec<f32> {
        let scale = 1.0 / (self.side * self.side) as f32;
        let mut out = vec![0.0f32; self.images * self.channels];
        for (n, sums) in out.chunks_exact_mut(self.channels).enumerate() {
            for y in 0..self.side {
                for x in 0..self.side {
                    sums.iter_mut()
                        .zip(self.pixel(n, y, x))
                        .for_each(|(s, v)| *s += v);
                }
            }
            sums.iter_mut().for_each(|s| *s *= scale);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two 2-channel 3x3 images: every pixel lands where `position` says, every other
    /// position is zero padding, the layout's sizes are those of the module docs, and the
    /// pixels go back to NCHW unchanged.
    #[test]
    fn pixels_land_between_zero_rows_and_columns() {
        let (images, channels, side) = (2, 2, 3);
        let nchw: Vec<f32> = (1..=images * channels * side * side)
            .map(|v| v as f32)
            .collect();
        let maps = PaddedMaps::from_nchw(&nchw, images, channels, side);
        assert_eq!(maps.positions(), (2 * 4 + 2) * 4);
        for n in 0..images {
            for y in 0..side {
                for x in 0..side {
                    let expected: Vec<f32> = (0..channels)
                        .map(|c| nchw[((n * channels + c) * side + y) * side + x])
                        .collect();
                    assert_eq!(maps.pixel(n, y, x), expected);
                    assert!(!maps.is_padding(maps.position(n, y, x)));
                }
            }
        }
        let pixels = (0..maps.positions())
            .filter(|&p| !maps.is_padding(p))
            .count();
        assert_eq!(pixels, images * side * side);
        let mut back = vec![f32::NAN; nchw.len()];
        maps.copy_to_nchw(&mut back);
        assert_eq!(back, nchw, "and back");
        let mut doubled = nchw.clone();
        maps.add_to_nchw(&mut doubled);
        assert!(doubled.iter().zip(&nchw).all(|(d, v)| *d == 2.0 * v));
        for p in (0..maps.positions()).filter(|&p| maps.is_padding(p)) {
            assert_eq!(
                &maps.data[p * channels..][..channels],
                &[0.0, 0.0],
                "position {p}"
            );
        }
    }

    /// Pooling and global averages against direct computations on the NCHW values (5x5
    /// planes: the odd last row and column are dropped), values of both signs.
    #[test]
    fn pooling_and_global_average_match_direct_loops() {
        let (images, channels, side) = (2, 3, 5);
        let nchw: Vec<f32> = (0..images * channels * side * side)
            .map(|i| ((i * 7919 + 13) % 1009) as f32 / 100.0 - 5.0)
            .collect();
        let at = |n: usize, c: usize, y: usize, x: usize| {
            nchw[((n * channels + c) * side + y) * side + x]
        };
        let maps = PaddedMaps::from_nchw(&nchw, images, channels, side);
        // Stale pooled buffers are NaN: the pooling must write every position it returns.
        drop(PaddedMaps::unfilled(images, 2, channels));
        super::super::scratch::poison_this_thread();
        let pooled = maps.relu_max_pool_2x2();
        assert_eq!(pooled.side, 2);
        let averages = maps.global_average();
        for n in 0..images {
            for c in 0..channels {
                for y in 0..2 {
                    for x in 0..2 {
                        let expected = [(0, 0), (0, 1), (1, 0), (1, 1)]
                            .iter()
                            .map(|&(dy, dx)| at(n, c, 2 * y + dy, 2 * x + dx))
                            .fold(0.0f32, f32::max);
                        assert_eq!(pooled.pixel(n, y, x)[c], expected);
                    }
                }
                let mean: f64 = (0..side * side)
                    .map(|i| f64::from(at(n, c, i / side, i % side)))
                    .sum::<f64>()
                    / (side * side) as f64;
                assert!((f64::from(averages[n * channels + c]) - mean).abs() < 1e-5);
            }
        }
        let padding = (0..pooled.positions()).filter(|&p| pooled.is_padding(p));
        for p in padding {
            assert!(pooled.data[p * channels..][..channels]
                .iter()
                .all(|&v| v == 0.0));
        }
    }
}
