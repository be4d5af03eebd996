//! 2-D pooling as dfdx tensor operations: max and average over square windows (any kernel and
//! stride, no padding, the output size rounded down as Keras' and PyTorch's defaults do), and
//! global average pooling. Written on dfdx's stable public API because dfdx 0.13's pooling is
//! behind its broken `nightly` feature.
//!
//! Max pooling ties: when several inputs of a window share the maximum, the whole gradient goes
//! to the first of them in row-major window order (top row first, left to right), as PyTorch's
//! CPU kernel does; a NaN counts as the maximum so it propagates.

use dfdx::shapes::{Dim, HasShape};
use dfdx::tensor::{Cpu, PutTape, SplitTape, Tape, Tensor, TensorFromVec};
use dfdx::tensor_ops::ReshapeTo;
use rayon::prelude::*;

use super::conv::{put_grad, take_grad, FeatureMaps};
use super::im2col::WindowGeometry;
use crate::error::Result;

/// Max pooling over `window` (channels = 1: planes are pooled independently) for every plane of
/// `input`; returns the output and, per output, the flat index in its plane of the input that
/// was chosen (the gradient's destination).
fn max_pool_forward(input: &[f32], g: &WindowGeometry) -> (Vec<f32>, Vec<u32>) {
    let (plane_in, plane_out) = (g.height * g.width, g.out_plane());
    let planes = input.len() / plane_in;
    let mut out = vec![0.0f32; planes * plane_out];
    let mut argmax = vec![0u32; planes * plane_out];
    out.par_chunks_mut(plane_out)
        .zip(argmax.par_chunks_mut(plane_out))
        .zip(input.par_chunks(plane_in))
        .for_each(|((out, arg), plane)| {
            for oy in 0..g.out_height {
                for ox in 0..g.out_width {
                    let (mut best, mut best_at) = (f32::NEG_INFINITY, usize::MAX);
                    for ky in 0..g.kernel {
                        let row = (oy * g.stride + ky) * g.width;
                        for kx in 0..g.kernel {
                            let at = row + ox * g.stride + kx;
                            let v = plane[at];
                            // Strictly greater: the first maximum wins ties; the first NaN
                            // wins over everything.
                            if best_at == usize::MAX || (!best.is_nan() && (v > best || v.is_nan()))
                            {
                                best = v;
                                best_at = at;
                            }
                        }
                    }
                    out[oy * g.out_width + ox] = best;
                    arg[oy * g.out_width + ox] = best_at as u32;
                }
            }
        });
    (out, argmax)
}

/// Average pooling of every plane of `input` (the divisor is always `kernel * kernel`: there is
/// no padding to exclude).
fn avg_pool_forward(input: &[f32], g: &WindowGeometry) -> Vec<f32> {
    let (plane_in, plane_out) = (g.height * g.width, g.out_plane());
    let scale = 1.0 / (g.kernel * g.kernel) as f32;
    let mut out = vec![0.0f32; input.len() / plane_in * plane_out];
    out.par_chunks_mut(plane_out)
        .zip(input.par_chunks(plane_in))
        .for_each(|(out, plane)| {
            for oy in 0..g.out_height {
                for ox in 0..g.out_width {
                    let mut sum = 0.0;
                    for ky in 0..g.kernel {
                        let row = (oy * g.stride + ky) * g.width + ox * g.stride;
                        sum += plane[row..row + g.kernel].iter().sum::<f32>();
                    }
                    out[oy * g.out_width + ox] = sum * scale;
                }
            }
        });
    out
}

/// The pooling kinds, as the shared driver below needs them.
#[derive(Clone, Copy, Debug)]
enum PoolKind {
    Max,
    Average,
}

/// Shared driver: pools `x` with `kind` and registers the backward pass.
fn pool2d<B: Dim, C: Dim, H: Dim, W: Dim, T: Tape<f32, Cpu>>(
    x: Tensor<(B, C, H, W), f32, Cpu, T>,
    kind: PoolKind,
    kernel: usize,
    stride: usize,
) -> Result<FeatureMaps<B, C, T>> {
    let (b, c, h, w) = *x.shape();
    // Planes are pooled independently, so the geometry is that of one 1-channel plane.
    let g = WindowGeometry::new(1, h.size(), w.size(), kernel, stride, 0)?;
    let (x, mut tape) = x.try_contiguous()?.split_tape();
    let mut x_data = vec![0.0; b.size() * c.size() * g.image_len()];
    x.copy_into(&mut x_data);
    let out_shape = (b, c, g.out_height, g.out_width);
    let (plane_in, plane_out) = (g.image_len(), g.out_plane());
    let x_ghost = x.ghost();
    match kind {
        PoolKind::Max => {
            let (out_data, argmax) = max_pool_forward(&x_data, &g);
            drop(x_data);
            let out = x.device().try_tensor_from_vec(out_data, out_shape)?;
            let out_ghost = out.ghost();
            tape.add_backward_op(move |grads| {
                let grad_out = take_grad!(grads, &out_ghost);
                let mut grad_x = take_grad!(grads, &x_ghost);
                grad_x
                    .par_chunks_mut(plane_in)
                    .zip(grad_out.par_chunks(plane_out))
                    .zip(argmax.par_chunks(plane_out))
                    .for_each(|((gx, gy), arg)| {
                        for (v, &at) in gy.iter().zip(arg) {
                            gx[at as usize] += v;
                        }
                    });
                put_grad!(grads, &out_ghost, grad_out);
                put_grad!(grads, &x_ghost, grad_x);
                Ok(())
            });
            Ok(out.put_tape(tape))
        }
        PoolKind::Average => {
            let out_data = avg_pool_forward(&x_data, &g);
            drop(x_data);
            let out = x.device().try_tensor_from_vec(out_data, out_shape)?;
            let out_ghost = out.ghost();
            let scale = 1.0 / (kernel * kernel) as f32;
            tape.add_backward_op(move |grads| {
                let grad_out = take_grad!(grads, &out_ghost);
                let mut grad_x = take_grad!(grads, &x_ghost);
                grad_x
                    .par_chunks_mut(plane_in)
                    .zip(grad_out.par_chunks(plane_out))
                    .for_each(|(gx, gy)| {
                        for oy in 0..g.out_height {
                            for ox in 0..g.out_width {
                                let v = gy[oy * g.out_width + ox] * scale;
                                for ky in 0..g.kernel {
                                    let row = (oy * g.stride + ky) * g.width + ox * g.stride;
                                    for d in &mut gx[row..row + g.kernel] {
                                        *d += v;
                                    }
                                }
                            }
                        }
                    });
                put_grad!(grads, &out_ghost, grad_out);
                put_grad!(grads, &x_ghost, grad_x);
                Ok(())
            });
            Ok(out.put_tape(tape))
        }
    }
}

/// Max pooling of an `N x C x H x W` batch over `kernel x kernel` windows taken every `stride`
/// pixels (no padding; `H' = (H - kernel) / stride + 1`). The gradient of each output goes to
/// the input that was its maximum; ties go to the first in row-major window order.
/// Errors when the window is larger than the image or kernel/stride is 0.
pub fn max_pool2d<B: Dim, C: Dim, H: Dim, W: Dim, T: Tape<f32, Cpu>>(
    x: Tensor<(B, C, H, W), f32, Cpu, T>,
    kernel: usize,
    stride: usize,
) -> Result<FeatureMaps<B, C, T>> {
    pool2d(x, PoolKind::Max, kernel, stride)
}

/// Average pooling of an `N x C x H x W` batch over `kernel x kernel` windows taken every
/// `stride` pixels (no padding). Errors as [`max_pool2d`].
pub fn avg_pool2d<B: Dim, C: Dim, H: Dim, W: Dim, T: Tape<f32, Cpu>>(
    x: Tensor<(B, C, H, W), f32, Cpu, T>,
    kernel: usize,
    stride: usize,
) -> Result<FeatureMaps<B, C, T>> {
    pool2d(x, PoolKind::Average, kernel, stride)
}

/// Global average pooling: the mean of each `H x W` plane, `N x C x H x W -> N x C`.
/// dfdx's own `mean` reduction does exactly this on the stable API, with its backward pass.
pub fn global_avg_pool2d<B: Dim, C: Dim, H: Dim, W: Dim, T: Tape<f32, Cpu>>(
    x: Tensor<(B, C, H, W), f32, Cpu, T>,
) -> Result<Tensor<(B, C), f32, Cpu, T>> {
    use dfdx::shapes::Axes2;
    use dfdx::tensor_ops::MeanTo;
    Ok(x.try_mean::<(B, C), Axes2<2, 3>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::prelude::*;

    fn dev() -> Cpu {
        Cpu::default()
    }

    /// Distinct values in an order unrelated to position (a multiplicative hash mod a prime).
    fn scrambled(len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 7919 + 13) % 1009) as f32 / 100.0)
            .collect()
    }

    /// Plain-loop reference pooling of one plane (max or mean).
    fn reference(plane: &[f32], h: usize, w: usize, k: usize, s: usize, max: bool) -> Vec<f32> {
        let (oh, ow) = ((h - k) / s + 1, (w - k) / s + 1);
        let mut out = Vec::new();
        for oy in 0..oh {
            for ox in 0..ow {
                let vals: Vec<f32> = (0..k * k)
                    .map(|t| plane[(oy * s + t / k) * w + ox * s + t % k])
                    .collect();
                out.push(if max {
                    vals.iter().cloned().fold(f32::NEG_INFINITY, f32::max)
                } else {
                    vals.iter().sum::<f32>() / (k * k) as f32
                });
            }
        }
        out
    }

    #[test]
    fn forward_matches_reference_for_several_windows() {
        for &(h, w, k, s) in &[
            (6, 6, 2, 2),
            (7, 5, 2, 2),
            (9, 7, 3, 2),
            (5, 5, 3, 1),
            (4, 6, 1, 1),
        ] {
            let data = scrambled(2 * 3 * h * w);
            let x = dev().tensor_from_vec(data.clone(), (2usize, 3usize, h, w));
            let max = max_pool2d(x.clone(), k, s).unwrap().as_vec();
            let avg = avg_pool2d(x, k, s).unwrap().as_vec();
            let (mut want_max, mut want_avg) = (Vec::new(), Vec::new());
            for plane in data.chunks(h * w) {
                want_max.extend(reference(plane, h, w, k, s, true));
                want_avg.extend(reference(plane, h, w, k, s, false));
            }
            assert_eq!(max, want_max, "max {h}x{w} k{k} s{s}");
            for (a, b) in avg.iter().zip(&want_avg) {
                assert!((a - b).abs() < 1e-5, "avg {h}x{w} k{k} s{s}: {a} vs {b}");
            }
        }
    }

    /// With distinct values, each output's gradient lands exactly on its window's maximum.
    #[test]
    fn max_pool_sends_the_gradient_to_the_maximum() {
        let (h, w) = (5, 7);
        let data = scrambled(2 * h * w);
        let x = dev().tensor_from_vec(data.clone(), (1usize, 2usize, h, w));
        let y = max_pool2d(x.leaky_trace(), 2, 2).unwrap();
        let (oh, ow) = (2, 3);
        let r: Vec<f32> = (0..2 * oh * ow).map(|i| i as f32 + 1.0).collect();
        let rt = dev().tensor_from_vec(r.clone(), *y.shape());
        let grad = (y * rt).sum().backward().get(&x).as_vec();
        let mut want = vec![0.0; data.len()];
        for c in 0..2 {
            for oy in 0..oh {
                for ox in 0..ow {
                    let at = (0..4)
                        .map(|t| c * h * w + (2 * oy + t / 2) * w + 2 * ox + t % 2)
                        .max_by(|&a, &b| data[a].total_cmp(&data[b]))
                        .unwrap();
                    want[at] += r[(c * oh + oy) * ow + ox];
                }
            }
        }
        assert_eq!(grad, want);
    }

    /// Ties: the gradient goes to the first maximum in row-major window order only.
    #[test]
    fn max_pool_ties_go_to_the_first_maximum() {
        #[rustfmt::skip]
        let data = vec![
            1.0, 1.0,   0.0, 2.0,
            1.0, 1.0,   2.0, 2.0,
        ];
        let x = dev().tensor_from_vec(data, (1usize, 1usize, 2usize, 4usize));
        let y = max_pool2d(x.leaky_trace(), 2, 2).unwrap();
        assert_eq!(y.as_vec(), [1.0, 2.0]);
        let grad = y.sum().backward().get(&x).as_vec();
        assert_eq!(grad, [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
    }

    /// Average pooling's gradient against central finite differences (the loss is linear in
    /// the input, so the differences are exact up to f32 rounding of sums of 9 terms).
    #[test]
    fn avg_pool_gradient_matches_finite_differences() {
        let (h, w, k, s) = (7, 6, 3, 2);
        let data = scrambled(2 * h * w);
        let r = scrambled(2 * 3 * 2)
            .iter()
            .map(|v| v - 5.0)
            .collect::<Vec<_>>();
        let loss = |d: &[f32]| -> f32 {
            let x = dev().tensor_from_vec(d.to_vec(), (1usize, 2usize, h, w));
            let y = avg_pool2d(x, k, s).unwrap().as_vec();
            y.iter().zip(&r).map(|(a, b)| a * b).sum()
        };
        let x = dev().tensor_from_vec(data.clone(), (1usize, 2usize, h, w));
        let y = avg_pool2d(x.leaky_trace(), k, s).unwrap();
        let rt = dev().tensor_from_vec(r.clone(), *y.shape());
        let grad = (y * rt).sum().backward().get(&x).as_vec();
        let eps = 1e-2;
        for j in 0..data.len() {
            let mut d = data.clone();
            d[j] += eps;
            let up = loss(&d);
            d[j] -= 2.0 * eps;
            let down = loss(&d);
            let numeric = (up - down) / (2.0 * eps);
            assert!(
                (grad[j] - numeric).abs() < 1e-3,
                "[{j}] {} vs {numeric}",
                grad[j]
            );
        }
    }

    /// Global average pooling gives each plane's mean and spreads 1 / (H * W) back.
    #[test]
    fn global_average_pool_is_the_plane_mean() {
        let x = dev().tensor_from_vec(
            (0..12).map(|v| v as f32).collect(),
            (1usize, 2usize, 2usize, 3usize),
        );
        let y = global_avg_pool2d(x.leaky_trace()).unwrap();
        assert_eq!(y.as_vec(), [2.5, 8.5]);
        let grad = y.sum().backward().get(&x).as_vec();
        assert!(
            grad.iter().all(|&g| (g - 1.0 / 6.0).abs() < 1e-7),
            "{grad:?}"
        );
    }

    #[test]
    fn a_window_larger_than_the_image_is_an_error() {
        let x = dev().zeros_like(&(1usize, 1usize, 3usize, 3usize));
        let err = max_pool2d(x, 4, 2).unwrap_err().to_string();
        assert!(err.contains("4x4") && err.contains("3x3"), "{err}");
    }
}
