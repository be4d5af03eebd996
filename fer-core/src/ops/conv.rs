//! 2-D convolution as a dfdx tensor operation: forward pass and a backward pass registered on
//! the tape, both as im2col + GEMM, for 3x3 and 5x5 "same" layers as Winograd products
//! ([`super::winograd`]), or for 3x3 "same" layers on square planes as shifted products on
//! padded maps ([`super::shifted_layer`]), as [`ConvShape`]'s plan chooses.
//!
//! dfdx 0.13 has a convolution only behind its `nightly` feature, which no longer builds, so
//! this op is written on dfdx's stable public API (`split_tape`, `Tape::add_backward_op`,
//! `Gradients::get_or_alloc_mut`, `put_tape`).
//!
//! The batch is split into chunks of whole images. For layers with small weight matrices the
//! chunks run in parallel: each task builds its chunk's column matrix (`C*K*K x images*H'*W'`,
//! sized for the L2 cache), multiplies it by the weights with a single-threaded GEMM and writes
//! its images' NCHW output, so no thread waits for another mid-layer. Layers with large weight
//! matrices (512 filters) run larger chunks one after the other, each GEMM on all threads, so
//! the weights are packed once per chunk rather than once per small task. Measured on the
//! seed's layers (same sitting), the split cut the CPU time of the benchmark by about 9%.
//!
//! The backward pass rebuilds the column matrix instead of keeping it (it is `K*K` times the
//! input), then computes `dW += dY * cols^T`, `db += rowsum(dY)` and `dcols = W^T * dY`, and
//! folds `dcols` back with col2im.

use dfdx::shapes::{Dim, HasShape};
use dfdx::tensor::{Cpu, Merge, PutTape, SplitTape, Tape, Tensor, TensorFromVec};
use dfdx::tensor_ops::ReshapeTo;
use rayon::prelude::*;

use super::im2col::{col2im_add, im2col, WindowGeometry};
use super::matmul::{matmul, MatMut, MatRef};
use super::scratch::Scratch;
use super::shifted_layer;
use super::tuning::{
    PARALLEL_CHUNK_BYTES, PARALLEL_MAX_WEIGHT_BYTES, SERIAL_CHUNK_BYTES, SERIAL_FORWARD_CHUNK_BYTES,
};
use super::winograd;
use crate::error::{FerError, Result};

/// How a layer's batch is split into im2col + GEMM tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Im2colPlan {
    /// Images per task.
    chunk: usize,
    /// Tasks run in parallel (single-threaded GEMMs) rather than in turn (parallel GEMMs).
    parallel: bool,
}

/// The algorithm a layer runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// im2col + GEMM, any geometry.
    Im2col(Im2colPlan),
    /// Winograd F(2x2, 3x3) or F(2x2, 5x5): 3x3 or 5x5 kernels, stride 1, "same" padding (see
    /// [`super::winograd`]).
    Winograd,
    /// Three products of the padded input read in place: 3x3 kernels, stride 1, "same"
    /// padding, square planes (see [`super::shifted_layer`]).
    Shifted,
}

/// Everything about one convolution call that is not data: batch size, window geometry and
/// output channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    /// Images in the batch.
    pub batch: usize,
    /// Output channels (filters).
    pub out_channels: usize,
    /// The window over one input image.
    pub geometry: WindowGeometry,
}

impl ConvShape {
    /// Multiply-adds times two of the forward pass: `2 * N * O * H' * W' * C * K * K`.
    /// The backward pass costs twice that (weight and input gradients).
    pub fn forward_flops(&self) -> f64 {
        2.0 * (self.batch * self.out_channels * self.geometry.out_plane()) as f64
            * self.geometry.col_rows() as f64
    }

    fn input_len(&self) -> usize {
        self.batch * self.geometry.image_len()
    }

    fn output_len(&self) -> usize {
        self.batch * self.out_channels * self.geometry.out_plane()
    }

    fn weight_len(&self) -> usize {
        self.out_channels * self.geometry.col_rows()
    }

    /// Chooses the algorithm: Winograd where it pays off (3x3 and 5x5 "same" layers with at
    /// least a few input channels), otherwise im2col with the task split of [`PARALLEL_MAX_WEIGHT_BYTES`].
    pub(crate) fn plan(&self) -> Plan {
        self.plan_with(SERIAL_CHUNK_BYTES)
    }

    /// The forward pass's plan: as [`Self::plan`] but with [`SERIAL_FORWARD_CHUNK_BYTES`].
    pub(crate) fn forward_plan(&self) -> Plan {
        self.plan_with(SERIAL_FORWARD_CHUNK_BYTES)
    }

    fn plan_with(&self, serial_chunk_bytes: usize) -> Plan {
        if shifted_layer::pays_off(self) {
            Plan::Shifted
        } else if winograd::pays_off(self) {
            Plan::Winograd
        } else {
            Plan::Im2col(self.im2col_plan(serial_chunk_bytes))
        }
    }

    pub(crate) fn im2col_plan(&self, serial_chunk_bytes: usize) -> Im2colPlan {
        let per_image = (self.geometry.col_rows() * self.geometry.out_plane() * 4).max(1);
        let threads = rayon::current_num_threads();
        let parallel =
            threads > 1 && self.batch > 1 && self.weight_len() * 4 <= PARALLEL_MAX_WEIGHT_BYTES;
        let chunk = if parallel {
            (PARALLEL_CHUNK_BYTES / per_image).min(self.batch.div_ceil(threads))
        } else {
            serial_chunk_bytes / per_image
        };
        Im2colPlan {
            chunk: chunk.clamp(1, self.batch.max(1)),
            parallel,
        }
    }
}

/// Builds the column matrix of `images` (consecutive `C x H x W` images) into `col`
/// (`col_rows x images * out_plane`).
fn build_columns(images: &[f32], g: &WindowGeometry, col: &mut [f32]) {
    let width = images.len() / g.image_len() * g.out_plane();
    for (i, image) in images.chunks_exact(g.image_len()).enumerate() {
        im2col(image, g, col, width, i * g.out_plane());
    }
}

/// Forward pass on plain slices: `input` is `N x C x H x W`, `weight` is `O x C x K x K`,
/// `bias` has `O` entries; returns the `N x O x H' x W'` output.
pub fn conv2d_forward(input: &[f32], weight: &[f32], bias: &[f32], shape: &ConvShape) -> Vec<f32> {
    forward_planned(input, weight, bias, shape, shape.forward_plan(), false)
}

/// GEMM threads per task: one when tasks run in parallel (nesting would also let a thread
/// wait on a lock it holds), all of them otherwise.
fn gemm_threads(plan: Im2colPlan) -> usize {
    if plan.parallel {
        1
    } else {
        rayon::current_num_threads()
    }
}

/// [`conv2d_forward`] with an explicit plan. In parallel plans no thread ever waits for
/// another mid-layer, which matters on a machine shared with other processes.
/// With `relu`, the output is `max(0, .)` (applied as each task writes its images).
pub(crate) fn forward_planned(
    input: &[f32],
    weight: &[f32],
    bias: &[f32],
    shape: &ConvShape,
    plan: Plan,
    relu: bool,
) -> Vec<f32> {
    assert_eq!(input.len(), shape.input_len());
    assert_eq!(weight.len(), shape.weight_len());
    assert_eq!(bias.len(), shape.out_channels);
    let plan = match plan {
        Plan::Winograd => return winograd::forward(input, weight, bias, shape, relu),
        Plan::Shifted => return shifted_layer::forward(input, weight, bias, shape, relu),
        Plan::Im2col(plan) => plan,
    };
    let g = &shape.geometry;
    let (rows, plane, outc) = (g.col_rows(), g.out_plane(), shape.out_channels);
    let threads = gemm_threads(plan);
    let chunk = plan.chunk;
    let mut output = vec![0.0f32; shape.output_len()];
    let task = |(out, images): (&mut [f32], &[f32])| {
        let count = images.len() / g.image_len();
        let width = count * plane;
        let mut col = Scratch::take(rows * width);
        build_columns(images, g, &mut col);
        let col = MatRef::row_major(&col, rows, width);
        let weight = MatRef::row_major(weight, outc, rows);
        if count == 1 {
            // One image: [O, H'W'] is already its NCHW layout; start from the bias.
            for (o, dst) in out.chunks_exact_mut(plane).enumerate() {
                dst.fill(bias[o]);
            }
            matmul(
                MatMut::row_major(out, outc, width),
                weight,
                col,
                true,
                threads,
            );
            if relu {
                out.iter_mut().for_each(|v| *v = v.max(0.0));
            }
            return;
        }
        // [O, count * H'W'] = [O, C*K*K] x [C*K*K, count * H'W'], then to NCHW + bias.
        let mut out_mat = Scratch::take(outc * width);
        matmul(
            MatMut::row_major(&mut out_mat, outc, width),
            weight,
            col,
            false,
            threads,
        );
        for (i, image) in out.chunks_exact_mut(outc * plane).enumerate() {
            for (o, dst) in image.chunks_exact_mut(plane).enumerate() {
                let src = &out_mat[o * width + i * plane..o * width + (i + 1) * plane];
                let b = bias[o];
                if relu {
                    dst.iter_mut()
                        .zip(src)
                        .for_each(|(d, s)| *d = (s + b).max(0.0));
                } else {
                    dst.iter_mut().zip(src).for_each(|(d, s)| *d = s + b);
                }
            }
        }
    };
    let (out_len, in_len) = (chunk * outc * plane, chunk * g.image_len());
    if plan.parallel {
        output
            .par_chunks_mut(out_len)
            .zip(input.par_chunks(in_len))
            .for_each(task);
    } else {
        output
            .chunks_mut(out_len)
            .zip(input.chunks(in_len))
            .for_each(task);
    }
    output
}

/// Backward pass on plain slices: given the forward inputs and the output gradient, adds the
/// input gradient to `grad_input`, the weight gradient to `grad_weight` and the bias gradient
/// to `grad_bias` (dfdx accumulates gradients, so nothing is overwritten).
#[allow(clippy::too_many_arguments)]
pub fn conv2d_backward(
    input: &[f32],
    weight: &[f32],
    grad_output: &[f32],
    shape: &ConvShape,
    grad_input: &mut [f32],
    grad_weight: &mut [f32],
    grad_bias: &mut [f32],
) {
    backward_planned(
        input,
        weight,
        grad_output,
        shape,
        Some(grad_input),
        grad_weight,
        grad_bias,
        shape.plan(),
    );
}

/// One backward task's input: its images' input gradient (if wanted) and images.
type BackwardChunk<'a> = (Option<&'a mut [f32]>, &'a [f32]);

/// [`conv2d_backward`] with an explicit plan; without `grad_input` the input gradient (a third
/// of the backward FLOPs and the col2im pass) is skipped. Chunk `i` goes to lane `i % lanes`;
/// each lane sums its chunks' weight and bias gradients, in chunk order, into its own
/// accumulator, and the accumulators are added in lane order at the end: the summation order is
/// fixed by the plan, never by scheduling, so the same seed trains to the same weights.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward_planned(
    input: &[f32],
    weight: &[f32],
    grad_output: &[f32],
    shape: &ConvShape,
    grad_input: Option<&mut [f32]>,
    grad_weight: &mut [f32],
    grad_bias: &mut [f32],
    plan: Plan,
) {
    assert_eq!(input.len(), shape.input_len());
    if let Some(grad_input) = &grad_input {
        assert_eq!(grad_input.len(), shape.input_len());
    }
    assert_eq!(weight.len(), shape.weight_len());
    assert_eq!(grad_weight.len(), shape.weight_len());
    assert_eq!(grad_output.len(), shape.output_len());
    assert_eq!(grad_bias.len(), shape.out_channels);
    let plan = match plan {
        Plan::Winograd => {
            return winograd::backward(
                input,
                weight,
                grad_output,
                shape,
                grad_input,
                grad_weight,
                grad_bias,
            )
        }
        Plan::Shifted => {
            return shifted_layer::backward(
                input,
                weight,
                grad_output,
                shape,
                grad_input,
                grad_weight,
                grad_bias,
            )
        }
        Plan::Im2col(plan) => plan,
    };
    let g = &shape.geometry;
    let (rows, plane, outc) = (g.col_rows(), g.out_plane(), shape.out_channels);
    let threads = gemm_threads(plan);
    let chunk = plan.chunk;
    let task = |((grad_images, images), grad_out): (BackwardChunk<'_>, &[f32]),
                accumulator: &mut (Vec<f32>, Vec<f32>)| {
        let count = images.len() / g.image_len();
        let width = count * plane;
        // The chunk's output gradient as [O, count * H'W'] (one image already is).
        let gathered;
        let dy: &[f32] = if count == 1 {
            grad_out
        } else {
            let mut rows_major = Scratch::take(outc * width);
            for (i, image) in grad_out.chunks_exact(outc * plane).enumerate() {
                for (o, src) in image.chunks_exact(plane).enumerate() {
                    rows_major[o * width + i * plane..o * width + (i + 1) * plane]
                        .copy_from_slice(src);
                }
            }
            gathered = rows_major;
            &gathered
        };
        let mut col = Scratch::take(rows * width);
        build_columns(images, g, &mut col);
        {
            let (acc_w, acc_b) = accumulator;
            if acc_w.is_empty() {
                *acc_w = vec![0.0; outc * rows];
                *acc_b = vec![0.0; outc];
            }
            for (b, row) in acc_b.iter_mut().zip(dy.chunks_exact(width)) {
                *b += row.iter().sum::<f32>();
            }
            // dW [O, C*K*K] += dY [O, width] x cols^T [width, C*K*K]
            matmul(
                MatMut::row_major(acc_w, outc, rows),
                MatRef::row_major(dy, outc, width),
                MatRef::row_major(&col, rows, width).t(),
                true,
                threads,
            );
        }
        let Some(grad_images) = grad_images else {
            return;
        };
        // dcols [C*K*K, width] = W^T [C*K*K, O] x dY [O, width], folded back by col2im.
        matmul(
            MatMut::row_major(&mut col, rows, width),
            MatRef::row_major(weight, outc, rows).t(),
            MatRef::row_major(dy, outc, width),
            false,
            threads,
        );
        for (i, image_grad) in grad_images.chunks_exact_mut(g.image_len()).enumerate() {
            col2im_add(&col, g, width, i * plane, image_grad);
        }
    };
    let (in_len, out_len) = (chunk * g.image_len(), chunk * outc * plane);
    let grad_chunks: Vec<Option<&mut [f32]>> = match grad_input {
        Some(grad_input) => grad_input.chunks_mut(in_len).map(Some).collect(),
        None => input.chunks(in_len).map(|_| None).collect(),
    };
    let lanes = if plan.parallel {
        rayon::current_num_threads()
    } else {
        1
    };
    let mut lane_chunks: Vec<Vec<_>> = (0..lanes).map(|_| Vec::new()).collect();
    let chunks = grad_chunks
        .into_iter()
        .zip(input.chunks(in_len))
        .zip(grad_output.chunks(out_len));
    for (i, chunk) in chunks.enumerate() {
        lane_chunks[i % lanes].push(chunk);
    }
    let run_lane = |chunks: Vec<_>| {
        let mut accumulator = (Vec::new(), Vec::new());
        for chunk in chunks {
            task(chunk, &mut accumulator);
        }
        accumulator
    };
    let accumulators: Vec<(Vec<f32>, Vec<f32>)> = if plan.parallel {
        lane_chunks.into_par_iter().map(run_lane).collect()
    } else {
        lane_chunks.into_iter().map(run_lane).collect()
    };
    for (acc_w, acc_b) in accumulators {
        if acc_w.is_empty() {
            continue;
        }
        grad_weight
            .par_iter_mut()
            .zip(acc_w.par_iter())
            .for_each(|(d, s)| *d += s);
        for (d, s) in grad_bias.iter_mut().zip(&acc_b) {
            *d += s;
        }
    }
}

/// A batch of feature maps with dynamic spatial size: `[batch, channels, height, width]`.
pub type FeatureMaps<B, C, T> = Tensor<(B, C, usize, usize), f32, Cpu, T>;

/// Moves a gradient buffer out of `grads` (allocating it as zeros if absent), so several can be
/// borrowed at once without copying; [`put_grad!`] moves it back.
macro_rules! take_grad {
    ($grads:expr, $tensor:expr) => {
        std::mem::take(&mut **$grads.get_or_alloc_mut($tensor)?)
    };
}

/// Moves a buffer taken with [`take_grad!`] back into `grads`.
macro_rules! put_grad {
    ($grads:expr, $tensor:expr, $buffer:expr) => {
        **$grads.get_or_alloc_mut($tensor)? = $buffer
    };
}
pub(crate) use {put_grad, take_grad};

/// What a convolution does besides convolving: see [`conv2d_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvOptions {
    /// Apply ReLU to the output (as the output is written; the backward pass passes the
    /// gradient where the output is positive), instead of a separate single-threaded dfdx
    /// `relu` pass with its own output and gradient buffers.
    pub relu: bool,
    /// Compute the input's gradient. `false` for a network's first layer, whose input is the
    /// images: the input gradient is then left as it was (zero), saving its GEMM and col2im.
    pub input_gradient: bool,
}

impl Default for ConvOptions {
    /// A plain convolution: no ReLU, input gradient computed.
    fn default() -> Self {
        Self {
            relu: false,
            input_gradient: true,
        }
    }
}

/// 2-D convolution of an `N x C x H x W` batch with `O x C x K x K` filters and a bias, with
/// zero padding `padding` on every side and step `stride`, as a dfdx operation: the result
/// carries `x`'s tape (merged with the weight's and bias's), and `backward()` fills the
/// gradients of all three.
///
/// Works for any tape on `x` and any dimension types (`usize` or `Const`); the output's
/// channel dimension has the weight's first dimension type. Errors when the shapes do not fit
/// (channels differ, the kernel is not square, or the window does not fit the padded image).
pub fn conv2d<B, C, H, W, O, C2, K1, K2, T, TW, TB>(
    x: Tensor<(B, C, H, W), f32, Cpu, T>,
    weight: Tensor<(O, C2, K1, K2), f32, Cpu, TW>,
    bias: Tensor<(O,), f32, Cpu, TB>,
    stride: usize,
    padding: usize,
) -> Result<FeatureMaps<B, O, T>>
where
    B: Dim,
    C: Dim,
    H: Dim,
    W: Dim,
    O: Dim,
    C2: Dim,
    K1: Dim,
    K2: Dim,
    T: Tape<f32, Cpu> + Merge<TW> + Merge<TB>,
    TW: Tape<f32, Cpu>,
    TB: Tape<f32, Cpu>,
{
    conv2d_with(x, weight, bias, stride, padding, ConvOptions::default())
}

/// [`conv2d`] with a fused ReLU and/or without the input gradient, as `options` says.
pub fn conv2d_with<B, C, H, W, O, C2, K1, K2, T, TW, TB>(
    x: Tensor<(B, C, H, W), f32, Cpu, T>,
    weight: Tensor<(O, C2, K1, K2), f32, Cpu, TW>,
    bias: Tensor<(O,), f32, Cpu, TB>,
    stride: usize,
    padding: usize,
    options: ConvOptions,
) -> Result<FeatureMaps<B, O, T>>
where
    B: Dim,
    C: Dim,
    H: Dim,
    W: Dim,
    O: Dim,
    C2: Dim,
    K1: Dim,
    K2: Dim,
    T: Tape<f32, Cpu> + Merge<TW> + Merge<TB>,
    TW: Tape<f32, Cpu>,
    TB: Tape<f32, Cpu>,
{
    let (b, c, h, w) = *x.shape();
    let (o, c2, k1, k2) = *weight.shape();
    if c.size() != c2.size() {
        return Err(FerError::ShapeMismatch(format!(
            "conv2d: input has {} channels but the weight expects {}",
            c.size(),
            c2.size()
        )));
    }
    if k1.size() != k2.size() {
        return Err(FerError::ShapeMismatch(format!(
            "conv2d: kernel must be square, got {}x{}",
            k1.size(),
            k2.size()
        )));
    }
    if bias.shape().0.size() != o.size() {
        return Err(FerError::ShapeMismatch(format!(
            "conv2d: bias has {} entries for {} filters",
            bias.shape().0.size(),
            o.size()
        )));
    }
    let geometry = WindowGeometry::new(c.size(), h.size(), w.size(), k1.size(), stride, padding)?;
    let shape = ConvShape {
        batch: b.size(),
        out_channels: o.size(),
        geometry,
    };
    // dfdx tensors may be strided views (broadcasts, permutes); the kernels need dense data.
    let (x, x_tape) = x.try_contiguous()?.split_tape();
    let (weight, w_tape) = weight.try_contiguous()?.split_tape();
    let (bias, b_tape) = bias.try_contiguous()?.split_tape();
    let mut tape = x_tape.merge(w_tape).merge(b_tape);

    let mut x_data = Scratch::take(shape.input_len());
    x.copy_into(&mut x_data);
    let mut w_data = Scratch::take(shape.weight_len());
    weight.copy_into(&mut w_data);
    let mut b_data = vec![0.0; shape.out_channels];
    bias.copy_into(&mut b_data);

    let out_data = forward_planned(
        &x_data,
        &w_data,
        &b_data,
        &shape,
        shape.forward_plan(),
        options.relu,
    );
    // Where the ReLU let the gradient through (its output is positive).
    let open: Vec<bool> = if options.relu {
        out_data.par_iter().map(|&v| v > 0.0).collect()
    } else {
        Vec::new()
    };
    let out_shape = (b, o, geometry.out_height, geometry.out_width);
    let out = x.device().try_tensor_from_vec(out_data, out_shape)?;

    let (x_ghost, w_ghost, b_ghost, out_ghost) =
        (x.ghost(), weight.ghost(), bias.ghost(), out.ghost());
    drop((x, weight, bias));
    tape.add_backward_op(move |grads| {
        let grad_out = take_grad!(grads, &out_ghost);
        let masked = options.relu.then(|| {
            let mut dy = Scratch::take(grad_out.len());
            dy.par_iter_mut()
                .zip(grad_out.par_iter())
                .zip(open.par_iter())
                .for_each(|((d, &g), &open)| *d = if open { g } else { 0.0 });
            dy
        });
        let dy: &[f32] = masked.as_deref().unwrap_or(&grad_out);
        let mut grad_x = if options.input_gradient {
            take_grad!(grads, &x_ghost)
        } else {
            Vec::new()
        };
        let mut grad_w = take_grad!(grads, &w_ghost);
        let mut grad_b = take_grad!(grads, &b_ghost);
        backward_planned(
            &x_data,
            &w_data,
            dy,
            &shape,
            options.input_gradient.then_some(&mut grad_x[..]),
            &mut grad_w,
            &mut grad_b,
            shape.plan(),
        );
        put_grad!(grads, &out_ghost, grad_out);
        if options.input_gradient {
            put_grad!(grads, &x_ghost, grad_x);
        }
        put_grad!(grads, &w_ghost, grad_w);
        put_grad!(grads, &b_ghost, grad_b);
        Ok(())
    });
    Ok(out.put_tape(tape))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::prelude::*;

    /// Deterministic pseudo-random values in [-1, 1) (a fixed hash, so the tests need no RNG).
    fn values(len: usize, salt: u64) -> Vec<f32> {
        (0..len as u64)
            .map(|i| {
                let h = (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    ^ salt.wrapping_mul(0xD1B5_4A32_D192_ED03);
                let h = h ^ (h >> 29);
                (h % 20_001) as f32 / 10_000.0 - 1.0
            })
            .collect()
    }

    /// The textbook definition, in f64, with explicit loops and bounds checks for padding.
    fn reference_conv(x: &[f64], w: &[f64], b: &[f64], s: &ConvShape) -> Vec<f64> {
        let g = &s.geometry;
        let (k, c_in) = (g.kernel, g.channels);
        let mut out = vec![0.0; s.output_len()];
        for n in 0..s.batch {
            for o in 0..s.out_channels {
                for oy in 0..g.out_height {
                    for ox in 0..g.out_width {
                        let mut acc = b[o];
                        for c in 0..c_in {
                            for ky in 0..k {
                                for kx in 0..k {
                                    let iy = (oy * g.stride + ky) as isize - g.padding as isize;
                                    let ix = (ox * g.stride + kx) as isize - g.padding as isize;
                                    if iy < 0
                                        || ix < 0
                                        || iy >= g.height as isize
                                        || ix >= g.width as isize
                                    {
                                        continue;
                                    }
                                    let xi = ((n * c_in + c) * g.height + iy as usize) * g.width
                                        + ix as usize;
                                    let wi = ((o * c_in + c) * k + ky) * k + kx;
                                    acc += x[xi] * w[wi];
                                }
                            }
                        }
                        out[((n * s.out_channels + o) * g.out_height + oy) * g.out_width + ox] =
                            acc;
                    }
                }
            }
        }
        out
    }

    /// (batch, channels, height, width, filters, kernel, stride, padding): odd and even sizes,
    /// kernels 1/3/5, strides 1/2, paddings 0/1/2, batches 1, 3 and 7.
    type Case = (usize, usize, usize, usize, usize, usize, usize, usize);
    const CASES: [Case; 14] = [
        (1, 1, 5, 5, 2, 1, 1, 0),
        // 3x3 and 5x5 "same" with enough channels that the layer itself picks Winograd; odd
        // height, odd width.
        (1, 64, 3, 4, 2, 3, 1, 1),
        (1, 64, 4, 5, 2, 5, 1, 2),
        (7, 2, 7, 5, 3, 3, 1, 1),
        (1, 3, 9, 7, 2, 5, 2, 2),
        (7, 2, 6, 7, 3, 3, 2, 0),
        (1, 2, 5, 5, 2, 3, 1, 2),
        (7, 1, 8, 8, 2, 5, 1, 2),
        (7, 2, 7, 7, 4, 1, 2, 1),
        (7, 3, 5, 6, 2, 5, 1, 0),
        // 3x3 "same" on a 6x6 plane: Winograd F(2x2, 3x3) (larger planes take F(4x4, 3x3)).
        (3, 2, 6, 6, 3, 3, 1, 1),
        // 3x3 "same" on square planes, which the shifted plan supports: one channel (windows
        // copied) and 8 (products in place) on small planes, and a layer that picks it itself.
        (3, 1, 6, 6, 4, 3, 1, 1),
        (2, 8, 5, 5, 3, 3, 1, 1),
        (1, 8, 24, 24, 2, 3, 1, 1),
    ];

    fn shape_of(case: Case) -> ConvShape {
        let (n, c, h, w, o, k, s, p) = case;
        ConvShape {
            batch: n,
            out_channels: o,
            geometry: WindowGeometry::new(c, h, w, k, s, p).unwrap(),
        }
    }

    /// Every way of running the layer the kernels support: im2col in serial and parallel
    /// tasks of 1, 3 and all images, Winograd where the geometry allows it (whatever the
    /// channel count), and the plans the layer would choose.
    fn plans(s: &ConvShape) -> Vec<Plan> {
        let mut plans = vec![s.plan(), s.forward_plan()];
        for chunk in [1, 3, s.batch] {
            for parallel in [false, true] {
                plans.push(Plan::Im2col(Im2colPlan { chunk, parallel }));
            }
        }
        if winograd::supports(&s.geometry) {
            plans.push(Plan::Winograd);
        }
        if shifted_layer::supports(s) {
            plans.push(Plan::Shifted);
        }
        plans
    }

    fn to_f64(v: &[f32]) -> Vec<f64> {
        v.iter().map(|&x| x as f64).collect()
    }

    /// A forward output against the f64 reference: within 1e-4, relative above 1. Winograd
    /// F(4x4, 5x5) rounds at about 3e-5 of the output on 64 channels of 5x5 (1.3e-4 at -5.2 here,
    /// against 6e-6 for im2col); any indexing mistake is off by the size of a term (~0.3).
    fn close(got: f32, expected: f64) -> bool {
        (got as f64 - expected).abs() < 1e-4 * expected.abs().max(1.0)
    }

    #[test]
    fn forward_matches_nested_loop_reference_in_every_chunking() {
        for (i, &case) in CASES.iter().enumerate() {
            let s = shape_of(case);
            let x = values(s.input_len(), 3 * i as u64);
            let w = values(s.weight_len(), 3 * i as u64 + 1);
            let b = values(s.out_channels, 3 * i as u64 + 2);
            let expected = reference_conv(&to_f64(&x), &to_f64(&w), &to_f64(&b), &s);
            for plan in plans(&s) {
                let got = forward_planned(&x, &w, &b, &s, plan, false);
                for (j, (g, e)) in got.iter().zip(&expected).enumerate() {
                    assert!(close(*g, *e), "case {case:?} {plan:?} [{j}]: {g} vs {e}");
                }
            }
        }
    }

    /// Gradients of `loss = sum(conv(x, w, b) * r)` from the dfdx op against central finite
    /// differences of the f64 reference. The loss is linear in each of x, w and b, so the f64
    /// differences are exact up to rounding (~1e-12); the 1e-4 tolerance covers the f32
    /// arithmetic of the op (sums of up to 1,600 products of values in [-1, 1], 64 channels of
    /// 5x5, each rounded at 6e-8 relative, plus Winograd's transforms).
    #[test]
    fn gradients_match_finite_differences() {
        let dev: Cpu = Default::default();
        for (i, &case) in CASES.iter().enumerate() {
            let s = shape_of(case);
            if case == CASES[1] || case == CASES[2] {
                assert_eq!(
                    s.plan(),
                    Plan::Winograd,
                    "the op's own choice is checked here"
                );
            }
            if case == CASES[13] {
                assert_eq!(
                    s.plan(),
                    Plan::Shifted,
                    "the op's own choice is checked here"
                );
            }
            let g = s.geometry;
            let (x, w, b) = (
                values(s.input_len(), 7 * i as u64),
                values(s.weight_len(), 7 * i as u64 + 1),
                values(s.out_channels, 7 * i as u64 + 2),
            );
            let r = values(s.output_len(), 7 * i as u64 + 3);
            let xt = dev.tensor_from_vec(x.clone(), (s.batch, g.channels, g.height, g.width));
            let wt =
                dev.tensor_from_vec(w.clone(), (s.out_channels, g.channels, g.kernel, g.kernel));
            let bt = dev.tensor_from_vec(b.clone(), (s.out_channels,));
            let y = conv2d(
                xt.leaky_trace(),
                wt.clone(),
                bt.clone(),
                g.stride,
                g.padding,
            )
            .unwrap();
            let rt = dev.tensor_from_vec(r.clone(), *y.shape());
            let grads = (y * rt).sum().backward();

            let (x64, w64, b64, r64) = (to_f64(&x), to_f64(&w), to_f64(&b), to_f64(&r));
            let loss = |x: &[f64], w: &[f64], b: &[f64]| -> f64 {
                reference_conv(x, w, b, &s)
                    .iter()
                    .zip(&r64)
                    .map(|(a, b)| a * b)
                    .sum()
            };
            let eps = 1e-3;
            let check = |name: &str, analytic: Vec<f32>, which: usize| {
                let mut params = [x64.clone(), w64.clone(), b64.clone()];
                for j in 0..analytic.len() {
                    let orig = params[which][j];
                    params[which][j] = orig + eps;
                    let up = loss(&params[0], &params[1], &params[2]);
                    params[which][j] = orig - eps;
                    let down = loss(&params[0], &params[1], &params[2]);
                    params[which][j] = orig;
                    let numeric = (up - down) / (2.0 * eps);
                    let a = analytic[j] as f64;
                    assert!(
                        (a - numeric).abs() < 1e-4 * (1.0 + numeric.abs()),
                        "case {case:?} d{name}[{j}]: op {a} vs finite difference {numeric}"
                    );
                }
            };
            check("x", grads.get(&xt).as_vec(), 0);
            check("w", grads.get(&wt).as_vec(), 1);
            check("b", grads.get(&bt).as_vec(), 2);
        }
    }

    /// Scratch buffers come back with stale contents; with every pooled buffer full of NaN
    /// the forward and backward passes still match the plans run on clean buffers, so no
    /// kernel reads a temporary before writing it.
    #[test]
    fn stale_scratch_contents_are_never_read() {
        for (i, &case) in CASES.iter().enumerate() {
            let s = shape_of(case);
            let x = values(s.input_len(), 5 * i as u64);
            let w = values(s.weight_len(), 5 * i as u64 + 1);
            let b = values(s.out_channels, 5 * i as u64 + 2);
            let dy = values(s.output_len(), 5 * i as u64 + 3);
            let expected = reference_conv(&to_f64(&x), &to_f64(&w), &to_f64(&b), &s);
            for plan in plans(&s) {
                crate::ops::scratch::poison_all_threads();
                let got = forward_planned(&x, &w, &b, &s, plan, false);
                for (g, e) in got.iter().zip(&expected) {
                    assert!(close(*g, *e), "case {case:?} {plan:?}");
                }
                crate::ops::scratch::poison_all_threads();
                let (mut gx, mut gw, mut gb) = (
                    vec![0.0; s.input_len()],
                    vec![0.0; s.weight_len()],
                    vec![0.0; s.out_channels],
                );
                backward_planned(&x, &w, &dy, &s, Some(&mut gx), &mut gw, &mut gb, plan);
                assert!(
                    gx.iter().chain(&gw).chain(&gb).all(|v| v.is_finite()),
                    "case {case:?} {plan:?}: NaN from a stale buffer"
                );
            }
        }
    }

    /// The backward pass gives the same gradients however the batch is chunked.
    #[test]
    fn backward_is_independent_of_chunking() {
        let s = shape_of(CASES[3]);
        let x = values(s.input_len(), 11);
        let w = values(s.weight_len(), 12);
        let dy = values(s.output_len(), 13);
        let run = |plan| {
            let (mut gx, mut gw, mut gb) = (
                vec![0.0; s.input_len()],
                vec![0.0; s.weight_len()],
                vec![0.0; s.out_channels],
            );
            backward_planned(&x, &w, &dy, &s, Some(&mut gx), &mut gw, &mut gb, plan);
            (gx, gw, gb)
        };
        let whole = run(Plan::Im2col(Im2colPlan {
            chunk: 7,
            parallel: false,
        }));
        for plan in plans(&s) {
            let part = run(plan);
            for (a, b) in whole
                .0
                .iter()
                .chain(&whole.1)
                .chain(&whole.2)
                .zip(part.0.iter().chain(&part.1).chain(&part.2))
            {
                assert!((a - b).abs() < 1e-4, "{plan:?}: {a} vs {b}");
            }
        }
    }

    /// Winograd in chunks of 1 and 2 images (the last chunk short) equals the whole batch at
    /// once, for 3x3 and 5x5: outputs, and input, weight and bias gradients, the weight gradient
    /// summed over chunks (both paths are f32 sums of the same terms in different orders: 1e-4).
    #[test]
    fn winograd_chunks_add_up_to_the_whole_batch() {
        for case in [(5, 8, 6, 5, 4, 3, 1, 1), (5, 8, 6, 5, 4, 5, 1, 2)] {
            let s = shape_of(case);
            let x = values(s.input_len(), 21);
            let w = values(s.weight_len(), 22);
            let b = values(s.out_channels, 23);
            let dy = values(s.output_len(), 24);
            let run = |chunk| {
                let y = winograd::forward_chunked(&x, &w, &b, &s, false, Some(chunk));
                let (mut gx, mut gw, mut gb) = (
                    vec![0.0; s.input_len()],
                    vec![0.0; s.weight_len()],
                    vec![0.0; s.out_channels],
                );
                winograd::backward_chunked(
                    &x,
                    &w,
                    &dy,
                    &s,
                    Some(&mut gx),
                    &mut gw,
                    &mut gb,
                    Some(chunk),
                );
                [y, gx, gw, gb].concat()
            };
            let whole = run(s.batch);
            for chunk in [1, 2] {
                for (a, b) in whole.iter().zip(run(chunk)) {
                    assert!((a - b).abs() < 1e-4, "{case:?} chunk {chunk}: {a} vs {b}");
                }
            }
        }
    }

    /// The fused ReLU gives dfdx's `conv2d(..).relu()` exactly, forward and in the weight and
    /// bias gradients; without the input gradient the input gets none, and the weight and bias
    /// gradients are unchanged.
    #[test]
    fn fused_relu_and_skipped_input_gradient_match_the_plain_op() {
        let dev: Cpu = Default::default();
        for (i, &case) in CASES.iter().enumerate() {
            let s = shape_of(case);
            let g = s.geometry;
            let x = dev.tensor_from_vec(
                values(s.input_len(), 9 * i as u64),
                (s.batch, g.channels, g.height, g.width),
            );
            let w = dev.tensor_from_vec(
                values(s.weight_len(), 9 * i as u64 + 1),
                (s.out_channels, g.channels, g.kernel, g.kernel),
            );
            let b =
                dev.tensor_from_vec(values(s.out_channels, 9 * i as u64 + 2), (s.out_channels,));
            let plain = conv2d(x.leaky_trace(), w.clone(), b.clone(), g.stride, g.padding)
                .unwrap()
                .relu();
            let r = dev.tensor_from_vec(values(s.output_len(), 9 * i as u64 + 3), *plain.shape());
            let plain_out = plain.as_vec();
            let want = (plain * r.clone()).sum().backward();
            for input_gradient in [true, false] {
                let options = ConvOptions {
                    relu: true,
                    input_gradient,
                };
                let fused = conv2d_with(
                    x.leaky_trace(),
                    w.clone(),
                    b.clone(),
                    g.stride,
                    g.padding,
                    options,
                )
                .unwrap();
                assert_eq!(fused.as_vec(), plain_out, "case {case:?}");
                let got = (fused * r.clone()).sum().backward();
                for (a, b) in [
                    (got.get(&w).as_vec(), want.get(&w).as_vec()),
                    (got.get(&b).as_vec(), want.get(&b).as_vec()),
                ] {
                    assert!(
                        a.iter().zip(&b).all(|(a, b)| (a - b).abs() < 1e-5),
                        "case {case:?} {options:?}"
                    );
                }
                if input_gradient {
                    assert_eq!(got.get(&x).as_vec(), want.get(&x).as_vec());
                } else {
                    let gx = std::panic::catch_unwind(|| got.get(&x).as_vec());
                    assert!(gx.is_err(), "case {case:?}: an input gradient was made");
                }
            }
        }
    }

    /// dfdx accumulates: an input used by two convolutions gets the sum of both gradients.
    #[test]
    fn gradients_accumulate_across_uses() {
        let dev: Cpu = Default::default();
        let x = dev.tensor_from_vec(values(2 * 9, 1), (1usize, 2usize, 3usize, 3usize));
        let w = dev.tensor_from_vec(values(2 * 2 * 9, 2), (2usize, 2usize, 3usize, 3usize));
        let b = dev.tensor_from_vec(vec![0.0, 0.0], (2usize,));
        let once = conv2d(x.leaky_trace(), w.clone(), b.clone(), 1, 1)
            .unwrap()
            .sum()
            .backward();
        let traced = x.leaky_trace();
        let y1 = conv2d(traced.with_empty_tape(), w.clone(), b.clone(), 1, 1).unwrap();
        let y2 = conv2d(traced, w.clone(), b.clone(), 1, 1).unwrap();
        let twice = (y1.sum() + y2.sum()).backward();
        for (a, b) in once.get(&x).as_vec().iter().zip(twice.get(&x).as_vec()) {
            assert!((2.0 * a - b).abs() < 1e-5, "{a} * 2 vs {b}");
        }
    }

    #[test]
    fn mismatched_shapes_are_errors_not_panics() {
        let dev: Cpu = Default::default();
        let x = dev.zeros_like(&(1usize, 3usize, 5usize, 5usize));
        let w = dev.zeros_like(&(2usize, 2usize, 3usize, 3usize));
        let b = dev.zeros_like(&(2usize,));
        let err = conv2d(x.clone(), w, b.clone(), 1, 0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("3 channels") && err.contains("expects 2"),
            "{err}"
        );
        let w = dev.zeros_like(&(2usize, 3usize, 7usize, 7usize));
        let err = conv2d(x, w, b, 1, 0).unwrap_err().to_string();
        assert!(err.contains("7x7"), "{err}");
    }
}
