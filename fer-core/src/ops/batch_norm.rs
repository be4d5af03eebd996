//! Batch normalisation over `[N, C, H, W]` feature maps, optionally followed by ReLU, as one
//! fused, multi-threaded dfdx operation that uses the parameters of dfdx's own
//! [`BatchNorm2D`] (so checkpoints, optimisers and `num_params` see no difference).
//!
//! dfdx's `BatchNorm2D` builds its training pass from about ten generic tensor operations
//! (mean, subtract, square, broadcasts of scale and shift, ...), each a single-threaded pass
//! that allocates a full-size tensor, forward and backward. On our VGG network at batch 64
//! this was the largest cost of the step after the convolutions. Here the forward pass is one
//! statistics pass and one `y = a * x + b` pass (ReLU folded in), and the backward pass one
//! reduction and one elementwise pass, each parallel over channels or planes. The arithmetic is
//! dfdx's: biased batch variance for normalising, the unbiased one (`n / (n - 1)`) in the
//! running variance, `running = (1 - momentum) * running + momentum * batch`; the tests compare
//! values and gradients with dfdx's own module.

use dfdx::nn::modules::BatchNorm2D;
use dfdx::shapes::{Const, Dim, HasShape, Shape};
use dfdx::tensor::{Cpu, NoneTape, PutTape, SplitTape, Tape, Tensor, TensorFromVec};
use dfdx::tensor_ops::ReshapeTo;
use rayon::prelude::*;

use super::conv::{put_grad, take_grad};
use super::scratch::Scratch;
use crate::error::{FerError, Result};

/// Feature maps with `C` channels and any batch, height and width types.
pub type ChannelMaps<B, const C: usize, H, W, T> = Tensor<(B, Const<C>, H, W), f32, Cpu, T>;

/// What follows the normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Nothing: `y = BN(x)`.
    Identity,
    /// `y = max(0, BN(x))`.
    Relu,
}

/// Sum and sum of squares of one plane in one pass, over eight independent f32 lanes
/// (vectorisable; the lanes also keep the rounding error of a 2,304-value plane small), returned
/// as f64 for accumulation across planes. With `RELU`, of `max(0, x)` instead of `x`, so a ReLU
/// before the norm needs no pass of its own.
fn plane_moments<const RELU: bool>(plane: &[f32]) -> (f64, f64) {
    let pre = |v: f32| if RELU { v.max(0.0) } else { v };
    let (mut sums, mut squares) = ([0.0f32; 8], [0.0f32; 8]);
    let mut chunks = plane.chunks_exact(8);
    for chunk in &mut chunks {
        for (lane, &v) in chunk.iter().enumerate() {
            let v = pre(v);
            sums[lane] += v;
            squares[lane] += v * v;
        }
    }
    let tail = chunks.remainder();
    let sum = tail.iter().map(|&v| f64::from(pre(v))).sum::<f64>()
        + sums.iter().map(|&l| f64::from(l)).sum::<f64>();
    let square = tail
        .iter()
        .map(|&v| f64::from(pre(v) * pre(v)))
        .sum::<f64>()
        + squares.iter().map(|&l| f64::from(l)).sum::<f64>();
    (sum, square)
}

/// Per-channel batch statistics of `[N, C, plane]` data, in parallel over channels: the mean,
/// the biased variance (what normalises) and `1 / sqrt(variance + epsilon)`. Sums run in f64
/// across planes. With `relu`, the statistics of `max(0, x)`.
pub(crate) struct BatchStats {
    pub(crate) mean: Vec<f32>,
    pub(crate) variance: Vec<f32>,
    pub(crate) inv_std: Vec<f32>,
}

pub(crate) fn batch_stats(
    x: &[f32],
    channels: usize,
    plane: usize,
    epsilon: f64,
    relu: bool,
) -> BatchStats {
    let count = x.len() / channels;
    let moments: Vec<(f32, f32)> = (0..channels)
        .into_par_iter()
        .map(|c| {
            let (mut sum, mut squares) = (0.0f64, 0.0f64);
            for p in x.chunks_exact(plane).skip(c).step_by(channels) {
                let (s, q) = if relu {
                    plane_moments::<true>(p)
                } else {
                    plane_moments::<false>(p)
                };
                sum += s;
                squares += q;
            }
            let mean = sum / count as f64;
            let variance = (squares / count as f64 - mean * mean).max(0.0);
            (mean as f32, variance as f32)
        })
        .collect();
    let mean: Vec<f32> = moments.iter().map(|m| m.0).collect();
    let variance: Vec<f32> = moments.iter().map(|m| m.1).collect();
    let inv_std = variance
        .iter()
        .map(|&v| 1.0 / (f64::from(v) + epsilon).sqrt() as f32)
        .collect();
    BatchStats {
        mean,
        variance,
        inv_std,
    }
}

/// Batch norm with batch statistics as one affine map per channel, `y = a[c] x + b[c]`:
/// `a = scale / std`, `b = shift - a * mean`; returned with the scale, which backward needs.
pub(crate) fn affine_coefficients<const C: usize>(
    norm: &BatchNorm2D<C, f32, Cpu>,
    stats: &BatchStats,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (gamma, beta) = (norm.scale.as_vec(), norm.bias.as_vec());
    let a: Vec<f32> = gamma
        .iter()
        .zip(&stats.inv_std)
        .map(|(g, s)| g * s)
        .collect();
    let b = (0..C).map(|c| beta[c] - a[c] * stats.mean[c]).collect();
    (gamma, a, b)
}

/// Moves `norm`'s running statistics towards the batch's as dfdx does: `running = (1 -
/// momentum) * running + momentum * batch`, with the unbiased variance (`count / (count - 1)`,
/// `count` values per channel).
pub(crate) fn update_running_stats<const C: usize>(
    norm: &mut BatchNorm2D<C, f32, Cpu>,
    stats: &BatchStats,
    count: usize,
) {
    let momentum = norm.momentum as f32;
    let unbiased = count as f32 / (count - 1) as f32;
    let running_mean: Vec<f32> = norm
        .running_mean
        .as_vec()
        .iter()
        .zip(&stats.mean)
        .map(|(&r, &m)| (1.0 - momentum) * r + momentum * m)
        .collect();
    let running_var: Vec<f32> = norm
        .running_var
        .as_vec()
        .iter()
        .zip(&stats.variance)
        .map(|(&r, &v)| (1.0 - momentum) * r + momentum * unbiased * v)
        .collect();
    norm.running_mean.copy_from(&running_mean);
    norm.running_var.copy_from(&running_var);
}

/// Sums over one plane of `dz` (the output gradient `dy`, zeroed where the ReLU was closed when
/// `RELU`) and of `dz * x_hat`, in eight f32 lanes without branches so the loop vectorises (the
/// ReLU's state is a coin flip to a branch predictor).
fn plane_grad_sums<const RELU: bool>(
    dy: &[f32],
    x: &[f32],
    a: f32,
    b: f32,
    mean: f32,
    inv_std: f32,
) -> (f32, f32) {
    let (mut sums, mut products) = ([0.0f32; 8], [0.0f32; 8]);
    let term = |g: f32, v: f32| {
        let d = if !RELU || a * v + b > 0.0 { g } else { 0.0 };
        (d, d * (v - mean) * inv_std)
    };
    let (dy_chunks, x_chunks) = (dy.chunks_exact(8), x.chunks_exact(8));
    let (dy_tail, x_tail) = (dy_chunks.remainder(), x_chunks.remainder());
    for (gs, vs) in dy_chunks.zip(x_chunks) {
        for lane in 0..8 {
            let (d, p) = term(gs[lane], vs[lane]);
            sums[lane] += d;
            products[lane] += p;
        }
    }
    let (mut sum, mut product) = (sums.iter().sum::<f32>(), products.iter().sum::<f32>());
    for (&g, &v) in dy_tail.iter().zip(x_tail) {
        let (d, p) = term(g, v);
        sum += d;
        product += p;
    }
    (sum, product)
}

/// `y = act(a[c] * x + b[c])` for every plane of `x` (`[N, C, plane]`), in parallel.
fn affine(x: &[f32], plane: usize, a: &[f32], b: &[f32], activation: Activation) -> Vec<f32> {
    let channels = a.len();
    let mut y = vec![0.0f32; x.len()];
    y.par_chunks_mut(plane)
        .zip(x.par_chunks(plane))
        .enumerate()
        .for_each(|(index, (dst, src))| {
            let (a, b) = (a[index % channels], b[index % channels]);
            match activation {
                Activation::Identity => {
                    dst.iter_mut().zip(src).for_each(|(d, &s)| *d = a * s + b);
                }
                Activation::Relu => {
                    dst.iter_mut()
                        .zip(src)
                        .for_each(|(d, &s)| *d = (a * s + b).max(0.0));
                }
            }
        });
    y
}

pub(crate) fn check_batch(count: usize) -> Result<()> {
    if count < 2 {
        return Err(FerError::ShapeMismatch(format!(
            "batch norm in training mode needs at least two values per channel, got {count}"
        )));
    }
    Ok(())
}

/// Training-mode batch norm (batch statistics; updates `norm`'s running statistics), followed
/// by `activation`, as a dfdx operation: the result carries `x`'s tape, and `backward()` fills
/// the gradients of `x`, `norm.scale` and `norm.bias`.
pub fn batch_norm2d_train<B: Dim, const C: usize, H: Dim, W: Dim, T: Tape<f32, Cpu>>(
    x: ChannelMaps<B, C, H, W, T>,
    norm: &mut BatchNorm2D<C, f32, Cpu>,
    activation: Activation,
) -> Result<ChannelMaps<B, C, H, W, T>> {
    let shape = *x.shape();
    let plane = shape.2.size() * shape.3.size();
    let count = shape.0.size() * plane;
    check_batch(count)?;
    let (x, mut tape) = x.try_contiguous()?.split_tape();
    let mut x_data = Scratch::take(x.shape().num_elements());
    x.copy_into(&mut x_data);
    let (out, state) = norm_forward(&x_data, plane, norm, activation);
    let out = x.device().try_tensor_from_vec(out, shape)?;

    let (x_ghost, out_ghost) = (x.ghost(), out.ghost());
    let (scale_ghost, bias_ghost) = (norm.scale.ghost(), norm.bias.ghost());
    drop(x);
    tape.add_backward_op(move |grads| {
        let grad_out = take_grad!(grads, &out_ghost);
        let mut grad_x = take_grad!(grads, &x_ghost);
        let sums = state.backward(&x_data, &grad_out, &mut grad_x, true);
        put_grad!(grads, &x_ghost, grad_x);
        put_grad!(grads, &out_ghost, grad_out);
        let grad_scale = grads.get_or_alloc_mut(&scale_ghost)?;
        for (g, s) in grad_scale.iter_mut().zip(&sums) {
            *g += s.1 as f32;
        }
        let grad_bias = grads.get_or_alloc_mut(&bias_ghost)?;
        for (g, s) in grad_bias.iter_mut().zip(&sums) {
            *g += s.0 as f32;
        }
        Ok(())
    });
    Ok(out.put_tape(tape))
}

/// What the training forward pass leaves for the backward pass.
pub(crate) struct NormState {
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    gamma: Vec<f32>,
    a: Vec<f32>,
    b: Vec<f32>,
    relu: bool,
    plane: usize,
}

/// Training-mode forward pass on `[N, C, plane]` data: batch statistics (updating `norm`'s
/// running ones), then `act(a * x + b)`.
pub(crate) fn norm_forward<const C: usize>(
    x: &[f32],
    plane: usize,
    norm: &mut BatchNorm2D<C, f32, Cpu>,
    activation: Activation,
) -> (Vec<f32>, NormState) {
    let stats = batch_stats(x, C, plane, norm.epsilon, false);
    update_running_stats(norm, &stats, x.len() / C);
    let (gamma, a, b) = affine_coefficients(norm, &stats);
    let out = affine(x, plane, &a, &b, activation);
    let state = NormState {
        mean: stats.mean,
        inv_std: stats.inv_std,
        gamma,
        a,
        b,
        relu: activation == Activation::Relu,
        plane,
    };
    (out, state)
}

impl NormState {
    /// The input gradient from the output gradient `grad_out`: added to `grad_x` when
    /// `accumulate`, written over it (every element) otherwise. Returns the per-channel sums
    /// of `dz` and `dz * x_hat` (the shift's and scale's gradients).
    pub(crate) fn backward(
        &self,
        x: &[f32],
        grad_out: &[f32],
        grad_x: &mut [f32],
        accumulate: bool,
    ) -> Vec<(f64, f64)> {
        let Self {
            mean,
            inv_std,
            gamma,
            a,
            b,
            relu,
            plane,
        } = self;
        let (relu, plane, channels) = (*relu, *plane, mean.len());
        // Per plane: the sums of dz (the gradient before the activation) and of dz * x_hat;
        // then per channel over the batch, in f64.
        let mut plane_sums = vec![(0.0f32, 0.0f32); grad_out.len() / plane];
        plane_sums
            .par_iter_mut()
            .zip(grad_out.par_chunks(plane))
            .zip(x.par_chunks(plane))
            .enumerate()
            .for_each(|(index, ((sums, dy), src))| {
                let c = index % channels;
                *sums = if relu {
                    plane_grad_sums::<true>(dy, src, a[c], b[c], mean[c], inv_std[c])
                } else {
                    plane_grad_sums::<false>(dy, src, a[c], b[c], mean[c], inv_std[c])
                };
            });
        let mut sums = vec![(0.0f64, 0.0f64); channels];
        for (index, &(s, q)) in plane_sums.iter().enumerate() {
            sums[index % channels].0 += f64::from(s);
            sums[index % channels].1 += f64::from(q);
        }
        let n = (x.len() / channels) as f32;
        grad_x
            .par_chunks_mut(plane)
            .zip(grad_out.par_chunks(plane))
            .zip(x.par_chunks(plane))
            .enumerate()
            .for_each(|(index, ((dst, dy), src))| {
                let c = index % channels;
                let (sum_dz, sum_dz_xhat) = (sums[c].0 as f32, sums[c].1 as f32);
                let k = gamma[c] * inv_std[c] / n;
                // k * (n * dz - sum_dz - x_hat * sum_dz_xhat), with the last two terms as
                // c0 + c1 * x.
                let c1 = -k * inv_std[c] * sum_dz_xhat;
                let c0 = -k * sum_dz - c1 * mean[c];
                let kn = k * n;
                let (a, b) = (a[c], b[c]);
                let grad = |g: f32, v: f32| {
                    let open = if !relu || a * v + b > 0.0 { 1.0 } else { 0.0 };
                    kn * open * g + c0 + c1 * v
                };
                if accumulate {
                    for ((d, &g), &v) in dst.iter_mut().zip(dy).zip(src) {
                        *d += grad(g, v);
                    }
                } else {
                    for ((d, &g), &v) in dst.iter_mut().zip(dy).zip(src) {
                        *d = grad(g, v);
                    }
                }
            });
        sums
    }
}

/// Inference-mode batch norm as one affine map per channel, `y = a[c] x + b[c]`, from the
/// running statistics: `a = scale / sqrt(running_var + epsilon)`, `b = shift - a * running_mean`.
pub fn eval_coefficients<const C: usize>(norm: &BatchNorm2D<C, f32, Cpu>) -> (Vec<f32>, Vec<f32>) {
    let (gamma, beta) = (norm.scale.as_vec(), norm.bias.as_vec());
    let (mean, variance) = (norm.running_mean.as_vec(), norm.running_var.as_vec());
    let a: Vec<f32> = (0..C)
        .map(|c| gamma[c] / (f64::from(variance[c]) + norm.epsilon).sqrt() as f32)
        .collect();
    let b = (0..C).map(|c| beta[c] - a[c] * mean[c]).collect();
    (a, b)
}

/// Inference-mode batch norm (running statistics), followed by `activation`.
pub fn batch_norm2d_eval<B: Dim, const C: usize, H: Dim, W: Dim>(
    x: ChannelMaps<B, C, H, W, NoneTape>,
    norm: &BatchNorm2D<C, f32, Cpu>,
    activation: Activation,
) -> Result<ChannelMaps<B, C, H, W, NoneTape>> {
    let shape = *x.shape();
    let plane = shape.2.size() * shape.3.size();
    let x = x.try_contiguous()?;
    let mut x_data = Scratch::take(x.shape().num_elements());
    x.copy_into(&mut x_data);
    let (a, b) = eval_coefficients(norm);
    Ok(x.device()
        .try_tensor_from_vec(affine(&x_data, plane, &a, &b, activation), shape)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::nn::{DeviceBuildExt, Module, ModuleMut};
    use dfdx::prelude::{Backward, SampleTensor, SumTo, Trace, ZerosTensor};

    fn max_difference(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    /// Our fused op against dfdx's own `BatchNorm2D` (+ ReLU) on the same random batch, with
    /// non-trivial scale and shift: outputs, running statistics and the gradients of the
    /// input, scale and shift agree to float rounding (1e-4), in both activation modes, on an
    /// odd plane size (5x7) and in eval mode.
    #[test]
    fn matches_dfdx_batch_norm() {
        let dev = Cpu::seed_from_u64(7);
        for activation in [Activation::Identity, Activation::Relu] {
            let mut ours: BatchNorm2D<3, f32, Cpu> =
                dev.build_module::<dfdx::nn::builders::BatchNorm2D<3>, f32>();
            ours.scale = dev.sample_normal();
            ours.bias = dev.sample_normal();
            let mut theirs = ours.clone();
            let x: Tensor<(usize, Const<3>, usize, usize), f32, Cpu> =
                dev.sample_normal_like(&(4, Const, 5, 7));
            let x = x * 2.0 + 0.5;
            let weights: Tensor<(usize, Const<3>, usize, usize), f32, Cpu> =
                dev.sample_normal_like(&(4, Const, 5, 7));

            let y = batch_norm2d_train(x.clone().leaky_traced(), &mut ours, activation).unwrap();
            let y_ours = y.as_vec();
            let g_ours = (y * weights.clone()).sum().backward();

            let y = theirs.forward_mut(x.clone().leaky_traced());
            let y = match activation {
                Activation::Identity => y,
                Activation::Relu => y.relu(),
            };
            let y_theirs = y.as_vec();
            let g_theirs = (y * weights.clone()).sum().backward();

            assert!(max_difference(&y_ours, &y_theirs) < 1e-4, "{activation:?}");
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
            for (a, b) in pairs {
                assert!(
                    max_difference(&a, &b) < 1e-4,
                    "{activation:?}: {a:?} vs {b:?}"
                );
            }

            let eval_ours = batch_norm2d_eval(x.clone(), &ours, activation).unwrap();
            let eval_theirs = theirs.forward(x.clone());
            let eval_theirs = match activation {
                Activation::Identity => eval_theirs,
                Activation::Relu => eval_theirs.relu(),
            };
            assert!(max_difference(&eval_ours.as_vec(), &eval_theirs.as_vec()) < 1e-4);
        }
    }

    /// A batch of one 1x1 map has no spread to normalise by: refused, not NaN.
    #[test]
    fn refuses_a_single_value_per_channel() {
        let dev = Cpu::default();
        let mut norm: BatchNorm2D<2, f32, Cpu> =
            dev.build_module::<dfdx::nn::builders::BatchNorm2D<2>, f32>();
        let x: Tensor<(usize, Const<2>, usize, usize), f32, Cpu> =
            dev.zeros_like(&(1, Const, 1, 1));
        let err = batch_norm2d_train(x, &mut norm, Activation::Relu).unwrap_err();
        assert!(err.to_string().contains("at least two"), "{err}");
    }
}
