//! The tail of a convolutional block in training mode, batch norm with a ReLU (before or after
//! it), 2x2 max pooling and dropout, as one fused, multi-threaded dfdx operation.
//!
//! Built from separate ops, this tail was about a quarter of the seed's training step: dfdx's
//! `relu` and `Dropout` are single-threaded passes (dropout draws one ChaCha random number per
//! element, twice: forward and backward), and every op copies its full-size input and writes a
//! full-size output and gradient. Here the forward pass is one statistics pass over the input
//! and one pass that normalises, pools and drops out, writing only the pooled output; the
//! backward pass is one reduction over the pooled gradient and one pass over the input.
//! [`conv_norm_pool_dropout_train`] also takes in the convolution before the tail, so its
//! full-size output never becomes a dfdx tensor. Measured with `fer bench train-step --batch
//! 64 --steps 20` (same sitting, load ~2-3, with the other changes of the same series: fused
//! stem ReLU, scratch buffers): seed 59 -> 72 images/s, best model 131-134 -> 152-158.
//!
//! Dropout decides each output element with a counter-based hash of (a seed drawn once per call
//! from the device's generator, the element's index), so the mask needs no storage, is the same
//! in the backward pass, and does not depend on how the work is split over threads: a given
//! device seed gives the same numbers. The stream differs from dfdx's `Dropout`, so a run's
//! dropout masks change, not their distribution.
//!
//! Evaluation is unchanged: the models' eval passes still use [`batch_norm2d_eval`] and
//! [`max_pool2d`](super::max_pool2d), which with dropout off compute the same function.
//!
//! [`batch_norm2d_eval`]: super::batch_norm2d_eval

use dfdx::nn::modules::BatchNorm2D;
use dfdx::shapes::{Const, Dim, HasShape};
use dfdx::tensor::{Cpu, OwnedTape, PutTape, RandomU64, SplitTape, Tape, Tensor, TensorFromVec};
use dfdx::tensor_ops::ReshapeTo;
use rayon::prelude::*;

use super::batch_norm::{
    affine_coefficients, batch_stats, check_batch, norm_forward, update_running_stats, Activation,
    ChannelMaps,
};
use super::conv::{backward_planned, forward_planned, put_grad, take_grad, ConvShape};
use super::conv_layer::Conv2d;
use super::im2col::WindowGeometry;
use super::scratch::Scratch;
use crate::error::{FerError, Result};

/// Adds the per-channel sums of `dz * x_hat` and of `dz` to the gradients of the norm's scale
/// and shift (a macro: dfdx's ghost tensor type cannot be named outside dfdx).
macro_rules! add_norm_grads {
    ($grads:expr, $scale:expr, $bias:expr, $sums:expr) => {{
        let grad_scale = $grads.get_or_alloc_mut($scale)?;
        for (g, s) in grad_scale.iter_mut().zip($sums) {
            *g += s.1 as f32;
        }
        let grad_bias = $grads.get_or_alloc_mut($bias)?;
        for (g, s) in grad_bias.iter_mut().zip($sums) {
            *g += s.0 as f32;
        }
        Ok(())
    }};
}

/// Where the ReLU sits relative to batch norm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReluPlacement {
    /// `BN(max(0, x))`: Keras' `Conv2D(activation="relu")` then `BatchNormalization`, the seed.
    BeforeNorm,
    /// `max(0, BN(x))`: conv, batch norm, ReLU, our best model.
    AfterNorm,
}

/// Whether dropout keeps output element `index` for the call seeded with `seed`: splitmix64 of
/// the pair, kept when its top 32 bits reach `threshold` (`p * 2^32`).
fn keeps(seed: u64, index: usize, threshold: u64) -> bool {
    let mut z = seed.wrapping_add((index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 32) >= threshold
}

/// The dropout mask of one call: drop probability, the threshold [`keeps`] compares with, the
/// scale of kept values and the call's seed.
#[derive(Debug, Clone, Copy)]
struct Dropout {
    threshold: u64,
    scale: f32,
    seed: u64,
}

impl Dropout {
    fn new(p: f32, seed: u64) -> Result<Self> {
        if !(0.0..1.0).contains(&p) {
            return Err(FerError::invalid_parameter(
                "dropout",
                "must be in [0, 1): the probability of zeroing an element",
            ));
        }
        Ok(Self {
            threshold: (f64::from(p) * 4_294_967_296.0) as u64,
            scale: 1.0 / (1.0 - p),
            seed,
        })
    }

    /// The factor output element `index` is multiplied by: 0 or `1 / (1 - p)`.
    fn factor(&self, index: usize) -> f32 {
        if self.threshold == 0 || keeps(self.seed, index, self.threshold) {
            self.scale
        } else {
            0.0
        }
    }
}

/// The output side of 2x2, stride-2 pooling over planes `width` wide.
#[derive(Debug, Clone, Copy)]
struct Pooled {
    width: usize,
    oh: usize,
    ow: usize,
}

impl Pooled {
    /// Outputs per plane.
    fn plane(&self) -> usize {
        self.oh * self.ow
    }

    /// Calls `f(o, at)` for every output `o` of a plane, `at` being the input it took by
    /// `arg[o]` (0..4 in row-major window order: bit 1 the row, bit 0 the column).
    fn for_each_output(&self, arg: &[u8], mut f: impl FnMut(usize, usize)) {
        for oy in 0..self.oh {
            for ox in 0..self.ow {
                let o = oy * self.ow + ox;
                let k = usize::from(arg[o]);
                f(o, (2 * oy + (k >> 1)) * self.width + 2 * ox + (k & 1));
            }
        }
    }
}

/// Normalises (`a * v + b`, with `max(0, v)` first when `BEFORE`, `max(0, .)` after
/// otherwise), pools and drops out one plane: `dst[o] = max of its window * factor(o)`, and
/// `arg[o]` the window position taken. The comparisons are selects rather than branches
/// (random data makes branches mispredict half the time); strict `>` makes the first maximum
/// in row-major order win ties, as [`max_pool2d`](super::max_pool2d) does.
fn pool_plane<const BEFORE: bool>(
    src: &[f32],
    dst: &mut [f32],
    arg: &mut [u8],
    a: f32,
    b: f32,
    g: &Pooled,
    factor: impl Fn(usize) -> f32,
) {
    let act = |v: f32| {
        if BEFORE {
            a * v.max(0.0) + b
        } else {
            (a * v + b).max(0.0)
        }
    };
    for oy in 0..g.oh {
        let top = &src[2 * oy * g.width..][..2 * g.ow];
        let bottom = &src[(2 * oy + 1) * g.width..][..2 * g.ow];
        let dst = &mut dst[oy * g.ow..][..g.ow];
        let arg = &mut arg[oy * g.ow..][..g.ow];
        for ox in 0..g.ow {
            let (z0, z1) = (act(top[2 * ox]), act(top[2 * ox + 1]));
            let (z2, z3) = (act(bottom[2 * ox]), act(bottom[2 * ox + 1]));
            let (m01, k01) = if z1 > z0 { (z1, 1) } else { (z0, 0) };
            let (m23, k23) = if z3 > z2 { (z3, 3) } else { (z2, 2) };
            let (m, k) = if m23 > m01 { (m23, k23) } else { (m01, k01) };
            dst[ox] = m * factor(oy * g.ow + ox);
            arg[ox] = k;
        }
    }
}

/// Training-mode batch norm (batch statistics; updates `norm`'s running statistics) with a
/// ReLU placed as `relu` says, then 2x2 max pooling with stride 2 (odd trailing rows and columns
/// are dropped, as Keras and PyTorch do), then dropout with probability `dropout` (kept values
/// scaled by `1 / (1 - dropout)`), as one dfdx operation. The result carries `x`'s tape and
/// `backward()` fills the gradients of `x`, `norm.scale` and `norm.bias`. Max pooling ties go to
/// the first maximum in row-major window order, as in [`max_pool2d`](super::max_pool2d).
///
/// Errors when a channel has fewer than two values, a side is below 2, or `dropout` is not in
/// `[0, 1)`.
pub fn norm_pool_dropout_train<B: Dim, const C: usize, H: Dim, W: Dim, T: Tape<f32, Cpu>>(
    x: ChannelMaps<B, C, H, W, T>,
    norm: &mut BatchNorm2D<C, f32, Cpu>,
    relu: ReluPlacement,
    dropout: f32,
) -> Result<ChannelMaps<B, C, usize, usize, T>> {
    let seed = x.device().random_u64();
    norm_pool_dropout_seeded(x, norm, relu, dropout, seed)
}

/// [`norm_pool_dropout_train`] with the dropout seed given, so tests can rebuild the mask.
fn norm_pool_dropout_seeded<B: Dim, const C: usize, H: Dim, W: Dim, T: Tape<f32, Cpu>>(
    x: ChannelMaps<B, C, H, W, T>,
    norm: &mut BatchNorm2D<C, f32, Cpu>,
    relu: ReluPlacement,
    dropout: f32,
    seed: u64,
) -> Result<ChannelMaps<B, C, usize, usize, T>> {
    let (batch, _, h, w) = *x.shape();
    let tail = Tail::new(batch.size(), C, h.size(), w.size(), relu, dropout, seed)?;
    let (x, mut tape) = x.try_contiguous()?.split_tape();
    let mut x_data = Scratch::take(tail.count * C);
    x.copy_into(&mut x_data);
    let (out, state) = tail.forward(&x_data, norm);
    let out_shape = (batch, Const::<C>, tail.pooled.oh, tail.pooled.ow);
    let out = x.device().try_tensor_from_vec(out, out_shape)?;

    let (x_ghost, out_ghost) = (x.ghost(), out.ghost());
    let (scale_ghost, bias_ghost) = (norm.scale.ghost(), norm.bias.ghost());
    drop(x);
    tape.add_backward_op(move |grads| {
        let grad_out = take_grad!(grads, &out_ghost);
        let mut grad_x = take_grad!(grads, &x_ghost);
        let sums = tail.backward(&state, &x_data, &grad_out, &mut grad_x, true);
        put_grad!(grads, &x_ghost, grad_x);
        put_grad!(grads, &out_ghost, grad_out);
        add_norm_grads!(grads, &scale_ghost, &bias_ghost, &sums)
    });
    Ok(out.put_tape(tape))
}

/// The sizes and settings of one block tail, and its forward and backward kernels on plain
/// slices (`[N, C, H, W]` input, `[N, C, H/2, W/2]` output), shared by the tail op and the
/// convolution + tail op.
#[derive(Debug, Clone, Copy)]
struct Tail {
    channels: usize,
    plane: usize,
    /// Values per channel, `N * H * W`.
    count: usize,
    pooled: Pooled,
    before: bool,
    mask: Dropout,
}

/// What the forward pass leaves for the backward pass.
struct TailState {
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    gamma: Vec<f32>,
    a: Vec<f32>,
    b: Vec<f32>,
    /// Which of its four inputs each output took (its gradient's destination).
    argmax: Vec<u8>,
}

impl Tail {
    /// Checks the sizes and the dropout probability.
    fn new(
        batch: usize,
        channels: usize,
        height: usize,
        width: usize,
        relu: ReluPlacement,
        dropout: f32,
        seed: u64,
    ) -> Result<Self> {
        let mask = Dropout::new(dropout, seed)?;
        if height < 2 || width < 2 {
            return Err(FerError::ShapeMismatch(format!(
                "2x2 max pooling needs maps of at least 2x2, got {height}x{width}"
            )));
        }
        let count = batch * height * width;
        check_batch(count)?;
        Ok(Self {
            channels,
            plane: height * width,
            count,
            pooled: Pooled {
                width,
                oh: height / 2,
                ow: width / 2,
            },
            before: relu == ReluPlacement::BeforeNorm,
            mask,
        })
    }

    /// Batch statistics (updating `norm`'s running ones), then the pooled, dropped-out output.
    fn forward<const C: usize>(
        &self,
        x: &[f32],
        norm: &mut BatchNorm2D<C, f32, Cpu>,
    ) -> (Vec<f32>, TailState) {
        let (plane, plane_out, before, mask) =
            (self.plane, self.pooled.plane(), self.before, self.mask);
        let stats = batch_stats(x, C, plane, norm.epsilon, before);
        update_running_stats(norm, &stats, self.count);
        let (gamma, a, b) = affine_coefficients(norm, &stats);
        let mut out = vec![0.0f32; x.len() / plane * plane_out];
        let mut argmax = vec![0u8; out.len()];
        out.par_chunks_mut(plane_out)
            .zip(argmax.par_chunks_mut(plane_out))
            .zip(x.par_chunks(plane))
            .enumerate()
            .for_each(|(index, ((dst, arg), src))| {
                let (a, b) = (a[index % C], b[index % C]);
                let factors = |o: usize| mask.factor(index * plane_out + o);
                if before {
                    pool_plane::<true>(src, dst, arg, a, b, &self.pooled, factors);
                } else {
                    pool_plane::<false>(src, dst, arg, a, b, &self.pooled, factors);
                }
            });
        let state = TailState {
            mean: stats.mean,
            inv_std: stats.inv_std,
            gamma,
            a,
            b,
            argmax,
        };
        (out, state)
    }

    /// The input gradient from the output gradient `grad_out`: added to `grad_x` when
    /// `accumulate`, written over it (every element) otherwise. Returns the per-channel sums
    /// of `dz` and `dz * x_hat` (the shift's and scale's gradients).
    fn backward(
        &self,
        state: &TailState,
        x: &[f32],
        grad_out: &[f32],
        grad_x: &mut [f32],
        accumulate: bool,
    ) -> Vec<(f64, f64)> {
        let (channels, plane, plane_out) = (self.channels, self.plane, self.pooled.plane());
        let (before, after, mask, geometry) = (self.before, !self.before, self.mask, &self.pooled);
        let TailState {
            mean,
            inv_std,
            gamma,
            a,
            b,
            argmax,
        } = state;
        // Per plane: the gradient reaching BN's output at each pooled position (zero where
        // dropout or the ReLU after the norm stopped it), and its sum and its sum times x_hat.
        let mut dz = Scratch::take(grad_out.len());
        let mut plane_sums = vec![(0.0f32, 0.0f32); grad_out.len() / plane_out];
        dz.par_chunks_mut(plane_out)
            .zip(plane_sums.par_iter_mut())
            .zip(grad_out.par_chunks(plane_out))
            .zip(argmax.par_chunks(plane_out))
            .zip(x.par_chunks(plane))
            .enumerate()
            .for_each(|(index, ((((dz, sums), dy), arg), src))| {
                let c = index % channels;
                let (a, b, mean, inv_std) = (a[c], b[c], mean[c], inv_std[c]);
                let mut lanes = [0.0f32; 2];
                geometry.for_each_output(arg, |o, at| {
                    let v = if before { src[at].max(0.0) } else { src[at] };
                    let open = !after || a * v + b > 0.0;
                    let d = if open {
                        dy[o] * mask.factor(index * plane_out + o)
                    } else {
                        0.0
                    };
                    dz[o] = d;
                    lanes[0] += d;
                    lanes[1] += d * (v - mean) * inv_std;
                });
                *sums = (lanes[0], lanes[1]);
            });
        // [C] totals over the batch, in f64.
        let mut sums = vec![(0.0f64, 0.0f64); channels];
        for (index, &(s, q)) in plane_sums.iter().enumerate() {
            sums[index % channels].0 += f64::from(s);
            sums[index % channels].1 += f64::from(q);
        }
        let n = self.count as f32;
        grad_x
            .par_chunks_mut(plane)
            .zip(x.par_chunks(plane))
            .zip(dz.par_chunks(plane_out))
            .zip(argmax.par_chunks(plane_out))
            .enumerate()
            .for_each(|(index, (((dst, src), dz), arg))| {
                let c = index % channels;
                let (sum_dz, sum_dz_xhat) = (sums[c].0 as f32, sums[c].1 as f32);
                let (mean, inv_std) = (mean[c], inv_std[c]);
                let k = gamma[c] * inv_std / n;
                // Every input gets the statistics' share, -k * (sum_dz + x_hat * sum_dz_xhat),
                // written as c0 + c1 * x; the ReLU before the norm passes it only where its
                // input was positive (where x_hat is that of x itself). Branch-free so it
                // vectorises: the sign of x is a coin flip to the branch predictor.
                let c1 = -k * inv_std * sum_dz_xhat;
                let c0 = -k * sum_dz - c1 * mean;
                if accumulate {
                    for (d, &v) in dst.iter_mut().zip(src) {
                        let open = if before && v <= 0.0 { 0.0 } else { 1.0 };
                        *d += open * (c0 + c1 * v);
                    }
                } else {
                    for (d, &v) in dst.iter_mut().zip(src) {
                        let open = if before && v <= 0.0 { 0.0 } else { 1.0 };
                        *d = open * (c0 + c1 * v);
                    }
                }
                // The pooled inputs also get their own gradient.
                geometry.for_each_output(arg, |o, at| {
                    if !before || src[at] > 0.0 {
                        dst[at] += k * n * dz[o];
                    }
                });
            });
        sums
    }
}

/// A batch of feature maps recording onto a training tape.
pub type TracedMaps<B, C, H, W> = Tensor<(B, C, H, W), f32, Cpu, OwnedTape<f32, Cpu>>;

/// The shape of a fused op's convolution on `batch` maps of `channels x h x w`, refusing
/// inputs whose channel count is not the layer's.
fn fused_conv_shape<
    const I: usize,
    const O: usize,
    const K: usize,
    const S: usize,
    const P: usize,
>(
    batch: usize,
    channels: usize,
    h: usize,
    w: usize,
) -> Result<ConvShape> {
    if channels != I {
        return Err(FerError::ShapeMismatch(format!(
            "conv2d: input has {channels} channels but the weight expects {I}"
        )));
    }
    Ok(ConvShape {
        batch,
        out_channels: O,
        geometry: WindowGeometry::new(I, h, w, K, S, P)?,
    })
}

/// Convolution (stride `S`, padding `P`, no activation) followed by the block tail of
/// [`norm_pool_dropout_train`], as one dfdx operation. The convolution's output never becomes
/// a dfdx tensor: the tail reads it where the convolution wrote it, and its gradient goes
/// straight into the convolution's backward pass, which saves a full-size copy, a zero-filled
/// gradient buffer and a read-modify-write pass per block. `backward()` fills the gradients of
/// `x`, the convolution's weight and bias and the norm's scale and shift.
///
/// Errors as [`conv2d`](super::conv2d) and [`norm_pool_dropout_train`] do.
#[allow(clippy::too_many_arguments)]
pub fn conv_norm_pool_dropout_train<
    B: Dim,
    Ch: Dim,
    H: Dim,
    W: Dim,
    const I: usize,
    const O: usize,
    const K: usize,
    const S: usize,
    const P: usize,
>(
    x: TracedMaps<B, Ch, H, W>,
    conv: &Conv2d<I, O, K, S, P>,
    norm: &mut BatchNorm2D<O, f32, Cpu>,
    relu: ReluPlacement,
    dropout: f32,
) -> Result<ChannelMaps<B, O, usize, usize, OwnedTape<f32, Cpu>>> {
    let (batch, channels, h, w) = *x.shape();
    let shape =
        fused_conv_shape::<I, O, K, S, P>(batch.size(), channels.size(), h.size(), w.size())?;
    let geometry = shape.geometry;
    let seed = x.device().random_u64();
    let (oh, ow) = (geometry.out_height, geometry.out_width);
    let tail = Tail::new(batch.size(), O, oh, ow, relu, dropout, seed)?;

    let (x, mut tape) = x.try_contiguous()?.split_tape();
    let mut x_data = Scratch::take(batch.size() * geometry.image_len());
    x.copy_into(&mut x_data);
    let w_data = Scratch::copy_of(&conv.weight.as_vec());
    let b_data = conv.bias.as_vec();
    let conv_out = forward_planned(
        &x_data,
        &w_data,
        &b_data,
        &shape,
        shape.forward_plan(),
        false,
    );
    let (out, state) = tail.forward(&conv_out, norm);
    let out_shape = (batch, Const::<O>, tail.pooled.oh, tail.pooled.ow);
    let out = x.device().try_tensor_from_vec(out, out_shape)?;

    let (x_ghost, out_ghost) = (x.ghost(), out.ghost());
    let (w_ghost, b_ghost) = (conv.weight.ghost(), conv.bias.ghost());
    let (scale_ghost, bias_ghost) = (norm.scale.ghost(), norm.bias.ghost());
    drop(x);
    tape.add_backward_op(move |grads| {
        let grad_out = take_grad!(grads, &out_ghost);
        let mut grad_conv = Scratch::take(conv_out.len());
        let sums = tail.backward(&state, &conv_out, &grad_out, &mut grad_conv, false);
        drop(conv_out);
        put_grad!(grads, &out_ghost, grad_out);
        let mut grad_x = take_grad!(grads, &x_ghost);
        let mut grad_w = take_grad!(grads, &w_ghost);
        let mut grad_b = take_grad!(grads, &b_ghost);
        backward_planned(
            &x_data,
            &w_data,
            &grad_conv,
            &shape,
            Some(&mut grad_x[..]),
            &mut grad_w,
            &mut grad_b,
            shape.plan(),
        );
        put_grad!(grads, &x_ghost, grad_x);
        put_grad!(grads, &w_ghost, grad_w);
        put_grad!(grads, &b_ghost, grad_b);
        add_norm_grads!(grads, &scale_ghost, &bias_ghost, &sums)
    });
    Ok(out.put_tape(tape))
}

/// Convolution (stride `S`, padding `P`) followed by training-mode batch norm and
/// `activation` ([`batch_norm2d_train`](super::batch_norm2d_train)), as one dfdx operation: as
/// in [`conv_norm_pool_dropout_train`], the convolution's output never becomes a dfdx tensor.
/// With `input_gradient: false` (a network's first layer) `x` gets no gradient.
pub fn conv_norm_train<
    B: Dim,
    Ch: Dim,
    H: Dim,
    W: Dim,
    const I: usize,
    const O: usize,
    const K: usize,
    const S: usize,
    const P: usize,
>(
    x: TracedMaps<B, Ch, H, W>,
    conv: &Conv2d<I, O, K, S, P>,
    norm: &mut BatchNorm2D<O, f32, Cpu>,
    activation: Activation,
    input_gradient: bool,
) -> Result<ChannelMaps<B, O, usize, usize, OwnedTape<f32, Cpu>>> {
    let (batch, channels, h, w) = *x.shape();
    let shape =
        fused_conv_shape::<I, O, K, S, P>(batch.size(), channels.size(), h.size(), w.size())?;
    let geometry = shape.geometry;
    let plane = geometry.out_plane();
    check_batch(batch.size() * plane)?;

    let (x, mut tape) = x.try_contiguous()?.split_tape();
    let mut x_data = Scratch::take(batch.size() * geometry.image_len());
    x.copy_into(&mut x_data);
    let w_data = Scratch::copy_of(&conv.weight.as_vec());
    let b_data = conv.bias.as_vec();
    let conv_out = forward_planned(
        &x_data,
        &w_data,
        &b_data,
        &shape,
        shape.forward_plan(),
        false,
    );
    let (out, state) = norm_forward(&conv_out, plane, norm, activation);
    let out_shape = (batch, Const::<O>, geometry.out_height, geometry.out_width);
    let out = x.device().try_tensor_from_vec(out, out_shape)?;

    let (x_ghost, out_ghost) = (x.ghost(), out.ghost());
    let (w_ghost, b_ghost) = (conv.weight.ghost(), conv.bias.ghost());
    let (scale_ghost, bias_ghost) = (norm.scale.ghost(), norm.bias.ghost());
    drop(x);
    tape.add_backward_op(move |grads| {
        let grad_out = take_grad!(grads, &out_ghost);
        let mut grad_conv = Scratch::take(conv_out.len());
        let sums = state.backward(&conv_out, &grad_out, &mut grad_conv, false);
        drop(conv_out);
        put_grad!(grads, &out_ghost, grad_out);
        let mut grad_x = if input_gradient {
            take_grad!(grads, &x_ghost)
        } else {
            Vec::new()
        };
        let mut grad_w = take_grad!(grads, &w_ghost);
        let mut grad_b = take_grad!(grads, &b_ghost);
        backward_planned(
            &x_data,
            &w_data,
            &grad_conv,
            &shape,
            input_gradient.then_some(&mut grad_x[..]),
            &mut grad_w,
            &mut grad_b,
            shape.plan(),
        );
        if input_gradient {
            put_grad!(grads, &x_ghost, grad_x);
        }
        put_grad!(grads, &w_ghost, grad_w);
        put_grad!(grads, &b_ghost, grad_b);
        add_norm_grads!(grads, &scale_ghost, &bias_ghost, &sums)
    });
    Ok(out.put_tape(tape))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{batch_norm2d_train, max_pool2d};
    use dfdx::nn::DeviceBuildExt;
    use dfdx::prelude::{Backward, SampleTensor, SumTo, Trace};
    use dfdx::tensor::TensorFromVec;

    type Maps = Tensor<(usize, Const<3>, usize, usize), f32, Cpu>;

    fn max_difference(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    /// The fused op against the composition it replaces (dfdx's `relu`, our batch norm and max
    /// pooling, then the same dropout mask applied as a product): outputs, running statistics
    /// and the gradients of the input, scale and shift agree to 1e-4, for both ReLU placements,
    /// with and without dropout, on even (6x8) and odd (5x7) maps.
    #[test]
    fn matches_the_unfused_ops() {
        let dev = Cpu::seed_from_u64(11);
        for relu in [ReluPlacement::BeforeNorm, ReluPlacement::AfterNorm] {
            for (h, w) in [(6, 8), (5, 7)] {
                for p in [0.0, 0.3] {
                    let mut ours: BatchNorm2D<3, f32, Cpu> =
                        dev.build_module::<dfdx::nn::builders::BatchNorm2D<3>, f32>();
                    ours.scale = dev.sample_normal();
                    ours.bias = dev.sample_normal();
                    ours.momentum = 0.3;
                    let mut theirs = ours.clone();
                    let x: Maps = dev.sample_normal_like(&(4, Const, h, w));
                    let x = x * 2.0 + 0.3;
                    let (oh, ow) = (h / 2, w / 2);
                    let weights: Maps = dev.sample_normal_like(&(4, Const, oh, ow));
                    let seed = 99;

                    let y = norm_pool_dropout_seeded(x.leaky_trace(), &mut ours, relu, p, seed)
                        .unwrap();
                    let y_ours = y.as_vec();
                    let g_ours = (y * weights.clone()).sum().backward();

                    let dropout = Dropout::new(p, seed).unwrap();
                    let mask: Vec<f32> = (0..4 * 3 * oh * ow).map(|i| dropout.factor(i)).collect();
                    let mask = dev.tensor_from_vec(mask, (4usize, Const::<3>, oh, ow));
                    let y = match relu {
                        ReluPlacement::BeforeNorm => batch_norm2d_train(
                            x.leaky_trace().relu(),
                            &mut theirs,
                            Activation::Identity,
                        ),
                        ReluPlacement::AfterNorm => {
                            batch_norm2d_train(x.leaky_trace(), &mut theirs, Activation::Relu)
                        }
                    }
                    .unwrap();
                    let y = max_pool2d(y, 2, 2).unwrap() * mask;
                    let y_theirs = y.as_vec();
                    let g_theirs = (y * weights.clone()).sum().backward();

                    let case = format!("{relu:?} {h}x{w} p={p}");
                    assert!(max_difference(&y_ours, &y_theirs) < 1e-4, "{case}");
                    let pairs: [(Vec<f32>, Vec<f32>); 5] = [
                        (ours.running_mean.as_vec(), theirs.running_mean.as_vec()),
                        (ours.running_var.as_vec(), theirs.running_var.as_vec()),
                        (g_ours.get(&x).as_vec(), g_theirs.get(&x).as_vec()),
                        (
                            g_ours.get(&ours.scale).as_vec(),
                            g_theirs.get(&theirs.scale).as_vec(),
                        ),
                        (
                            g_ours.get(&ours.bias).as_vec(),
                            g_theirs.get(&theirs.bias).as_vec(),
                        ),
                    ];
                    for (i, (a, b)) in pairs.iter().enumerate() {
                        assert!(
                            max_difference(a, b) < 1e-4,
                            "{case} pair {i}: {a:?} vs {b:?}"
                        );
                    }
                }
            }
        }
    }

    /// The convolution + tail op against `conv2d` then the tail op, on devices with the same
    /// seed (so the same dropout mask): outputs, running statistics and the gradients of the
    /// input, the filters, the conv bias and the norm's scale and shift agree to 1e-4, for both
    /// ReLU placements, on odd-sized maps (7x5).
    #[test]
    fn conv_then_tail_matches_the_two_ops() {
        let build = Cpu::seed_from_u64(21);
        let conv: Conv2d<3, 4, 3, 1, 1> = dfdx::nn::BuildModule::build(&build);
        for relu in [ReluPlacement::BeforeNorm, ReluPlacement::AfterNorm] {
            let mut ours: BatchNorm2D<4, f32, Cpu> =
                build.build_module::<dfdx::nn::builders::BatchNorm2D<4>, f32>();
            ours.scale = build.sample_normal();
            ours.bias = build.sample_normal();
            let mut theirs = ours.clone();
            let x: Tensor<(usize, Const<3>, usize, usize), f32, Cpu> =
                build.sample_normal_like(&(3, Const, 7, 5));
            let weights: Tensor<(usize, Const<4>, usize, usize), f32, Cpu> =
                build.sample_normal_like(&(3, Const, 3, 2));

            let dev = Cpu::seed_from_u64(5);
            let x_ours = dev.tensor_from_vec(x.as_vec(), *x.shape());
            let y = conv_norm_pool_dropout_train(x_ours.leaky_trace(), &conv, &mut ours, relu, 0.3)
                .unwrap();
            let y_ours = y.as_vec();
            let g_ours = (y * weights.clone()).sum().backward();

            let dev = Cpu::seed_from_u64(5);
            let x_theirs = dev.tensor_from_vec(x.as_vec(), *x.shape());
            let y = conv.try_conv(x_theirs.leaky_trace()).unwrap();
            let y = norm_pool_dropout_train(y, &mut theirs, relu, 0.3).unwrap();
            let y_theirs = y.as_vec();
            let g_theirs = (y * weights.clone()).sum().backward();

            assert!(max_difference(&y_ours, &y_theirs) < 1e-4, "{relu:?}");
            assert!(y_ours.contains(&0.0), "{relu:?}: no dropout seen");
            let pairs: [(Vec<f32>, Vec<f32>); 7] = [
                (ours.running_mean.as_vec(), theirs.running_mean.as_vec()),
                (ours.running_var.as_vec(), theirs.running_var.as_vec()),
                (
                    g_ours.get(&x_ours).as_vec(),
                    g_theirs.get(&x_theirs).as_vec(),
                ),
                (
                    g_ours.get(&conv.weight).as_vec(),
                    g_theirs.get(&conv.weight).as_vec(),
                ),
                (
                    g_ours.get(&conv.bias).as_vec(),
                    g_theirs.get(&conv.bias).as_vec(),
                ),
                (
                    g_ours.get(&ours.scale).as_vec(),
                    g_theirs.get(&theirs.scale).as_vec(),
                ),
                (
                    g_ours.get(&ours.bias).as_vec(),
                    g_theirs.get(&theirs.bias).as_vec(),
                ),
            ];
            for (i, (a, b)) in pairs.iter().enumerate() {
                assert!(
                    max_difference(a, b) < 1e-4,
                    "{relu:?} pair {i}: {a:?} vs {b:?}"
                );
            }
        }
    }

    /// The convolution + batch norm op against `conv2d` then `batch_norm2d_train`: outputs,
    /// running statistics and every gradient agree to 1e-4, for both activations; without the
    /// input gradient the input gets none and the rest is unchanged.
    #[test]
    fn conv_then_norm_matches_the_two_ops() {
        let dev = Cpu::seed_from_u64(23);
        let conv: Conv2d<3, 4, 3, 1, 1> = dfdx::nn::BuildModule::build(&dev);
        for activation in [Activation::Identity, Activation::Relu] {
            for input_gradient in [true, false] {
                let mut ours: BatchNorm2D<4, f32, Cpu> =
                    dev.build_module::<dfdx::nn::builders::BatchNorm2D<4>, f32>();
                ours.scale = dev.sample_normal();
                ours.bias = dev.sample_normal();
                let mut theirs = ours.clone();
                let x: Tensor<(usize, Const<3>, usize, usize), f32, Cpu> =
                    dev.sample_normal_like(&(3, Const, 7, 5));
                let weights: Tensor<(usize, Const<4>, usize, usize), f32, Cpu> =
                    dev.sample_normal_like(&(3, Const, 7, 5));

                let y = conv_norm_train(
                    x.leaky_trace(),
                    &conv,
                    &mut ours,
                    activation,
                    input_gradient,
                )
                .unwrap();
                let y_ours = y.as_vec();
                let g_ours = (y * weights.clone()).sum().backward();
                let y = conv.try_conv(x.leaky_trace()).unwrap();
                let y = batch_norm2d_train(y, &mut theirs, activation).unwrap();
                let y_theirs = y.as_vec();
                let g_theirs = (y * weights.clone()).sum().backward();

                let case = format!("{activation:?} input gradient {input_gradient}");
                assert!(max_difference(&y_ours, &y_theirs) < 1e-4, "{case}");
                let pairs: [(Vec<f32>, Vec<f32>); 6] = [
                    (ours.running_mean.as_vec(), theirs.running_mean.as_vec()),
                    (ours.running_var.as_vec(), theirs.running_var.as_vec()),
                    (
                        g_ours.get(&conv.weight).as_vec(),
                        g_theirs.get(&conv.weight).as_vec(),
                    ),
                    (
                        g_ours.get(&conv.bias).as_vec(),
                        g_theirs.get(&conv.bias).as_vec(),
                    ),
                    (
                        g_ours.get(&ours.scale).as_vec(),
                        g_theirs.get(&theirs.scale).as_vec(),
                    ),
                    (
                        g_ours.get(&ours.bias).as_vec(),
                        g_theirs.get(&theirs.bias).as_vec(),
                    ),
                ];
                for (i, (a, b)) in pairs.iter().enumerate() {
                    assert!(
                        max_difference(a, b) < 1e-4,
                        "{case} pair {i}: {a:?} vs {b:?}"
                    );
                }
                if input_gradient {
                    let (a, b) = (g_ours.get(&x).as_vec(), g_theirs.get(&x).as_vec());
                    assert!(max_difference(&a, &b) < 1e-4, "{case}");
                } else {
                    let gx = std::panic::catch_unwind(|| g_ours.get(&x).as_vec());
                    assert!(gx.is_err(), "{case}: an input gradient was made");
                }
            }
        }
    }

    /// The same device seed gives the same output; another gives another mask; about `p` of
    /// the outputs are dropped, and kept ones are scaled by `1 / (1 - p)`.
    #[test]
    fn dropout_is_seeded_and_has_the_right_rate() {
        let run = |seed: u64, p: f32| {
            let dev = Cpu::seed_from_u64(seed);
            let mut norm: BatchNorm2D<3, f32, Cpu> =
                dev.build_module::<dfdx::nn::builders::BatchNorm2D<3>, f32>();
            // Inputs in [1, 2): positive after the norm's shift, so no output is a ReLU zero.
            let x: Maps = dev.sample_uniform_like(&(8, Const, 40, 40));
            let x = x + 1.0;
            norm.bias = dev.sample_uniform() + 5.0;
            norm_pool_dropout_train(x, &mut norm, ReluPlacement::AfterNorm, p)
                .unwrap()
                .as_vec()
        };
        assert_eq!(run(1, 0.25), run(1, 0.25));
        assert_ne!(run(1, 0.25), run(2, 0.25));
        let kept = run(3, 0.0);
        assert!(kept.iter().all(|&v| v > 0.0));
        for p in [0.1f32, 0.25, 0.5] {
            let dropped = run(3, p);
            let zeros = dropped.iter().filter(|&&v| v == 0.0).count();
            let rate = zeros as f32 / dropped.len() as f32;
            // 9,600 outputs: the binomial standard deviation is at most 0.005.
            assert!((rate - p).abs() < 0.03, "p {p}: dropped {rate}");
            for (&d, &k) in dropped.iter().zip(&kept) {
                assert!(d == 0.0 || (d - k / (1.0 - p)).abs() < 1e-4 * k.abs().max(1.0));
            }
        }
    }

    #[test]
    fn rejects_bad_dropout_and_tiny_maps() {
        let dev = Cpu::seed_from_u64(0);
        let mut norm: BatchNorm2D<3, f32, Cpu> =
            dev.build_module::<dfdx::nn::builders::BatchNorm2D<3>, f32>();
        let x: Maps = dev.sample_normal_like(&(2, Const, 4, 4));
        let err = norm_pool_dropout_train(x.clone(), &mut norm, ReluPlacement::AfterNorm, 1.0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("dropout"), "{err}");
        let x: Maps = dev.sample_normal_like(&(2, Const, 1, 4));
        let err = norm_pool_dropout_train(x, &mut norm, ReluPlacement::AfterNorm, 0.1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("1x4"), "{err}");
    }
}
