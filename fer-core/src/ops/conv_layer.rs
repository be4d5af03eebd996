//! `Conv2d`: a convolution layer that owns its filters and bias, usable wherever dfdx expects a
//! module (optimisers, `zero_grads`, `num_params`, safetensors).

use dfdx::nn::{ModuleVisitor, NonMutableModule, TensorCollection, TensorOptions};
use dfdx::prelude::Module;
use dfdx::shapes::{Const, Dim, Dtype, Rank1, Rank4};
use dfdx::tensor::{Cpu, Storage, Tape, Tensor};
use dfdx::tensor_ops::Device;
use rand_distr::Uniform;

use super::conv::{conv2d_with, ConvOptions, FeatureMaps};
use crate::error::{FerError, Result};

/// A 2-D convolution with `I` input channels, `O` filters of `K x K`, stride `S` and zero
/// padding `P` on every side, plus one bias per filter: `N x I x H x W -> N x O x H' x W'` with
/// `H' = (H + 2P - K) / S + 1`.
///
/// Built with dfdx's `BuildModule::build(&device)` (or `reset_params`), it is initialised as
/// PyTorch's `nn.Conv2d` is: filters from Kaiming-uniform with `a = sqrt(5)`, which is
/// `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` with `fan_in = I * K * K`, and the bias from the same
/// range. The random numbers come from the device's generator, so `Cpu::seed_from_u64` makes
/// them reproducible.
#[derive(Debug, Clone)]
pub struct Conv2d<
    const I: usize,
    const O: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    E: Dtype = f32,
    D: Storage<E> = Cpu,
> {
    /// Filters, `O x I x K x K`.
    pub weight: Tensor<Rank4<O, I, K, K>, E, D>,
    /// One bias per filter.
    pub bias: Tensor<Rank1<O>, E, D>,
}

/// `1 / sqrt(fan_in)`: the bound PyTorch's default initialisation gives both tensors.
fn init_bound(fan_in: usize) -> f32 {
    1.0 / (fan_in as f32).sqrt()
}

// Implemented for f32 only, the one dtype the ops support.
impl<const I: usize, const O: usize, const K: usize, const S: usize, const P: usize, D>
    TensorCollection<f32, D> for Conv2d<I, O, K, S, P, f32, D>
where
    D: Device<f32>,
{
    type To<E2: Dtype, D2: Device<E2>> = Conv2d<I, O, K, S, P, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, f32, D>>(
        visitor: &mut V,
    ) -> std::result::Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::tensor(
                    "weight",
                    |s| &s.weight,
                    |s| &mut s.weight,
                    TensorOptions::reset_with(|t| {
                        let b = init_bound(I * K * K);
                        t.try_fill_with_distr(Uniform::new(-b, b))
                    }),
                ),
                Self::tensor(
                    "bias",
                    |s| &s.bias,
                    |s| &mut s.bias,
                    TensorOptions::reset_with(|t| {
                        let b = init_bound(I * K * K);
                        t.try_fill_with_distr(Uniform::new(-b, b))
                    }),
                ),
            ),
            |(weight, bias)| Conv2d { weight, bias },
        )
    }
}

impl<const I: usize, const O: usize, const K: usize, const S: usize, const P: usize>
    Conv2d<I, O, K, S, P, f32, Cpu>
{
    /// The forward pass with the error spelled out: the output has the filter count as a
    /// compile-time channel dimension, so dfdx's `BatchNorm2D<O>` takes it directly. Errors
    /// when the input's channel count is not `I` or the window does not fit the padded image.
    pub fn try_conv<B: Dim, C: Dim, H: Dim, W: Dim, T: Tape<f32, Cpu>>(
        &self,
        x: Tensor<(B, C, H, W), f32, Cpu, T>,
    ) -> Result<FeatureMaps<B, Const<O>, T>> {
        self.try_conv_with(x, ConvOptions::default())
    }

    /// [`Self::try_conv`] with a fused ReLU and/or without the input gradient; see
    /// [`ConvOptions`].
    pub fn try_conv_with<B: Dim, C: Dim, H: Dim, W: Dim, T: Tape<f32, Cpu>>(
        &self,
        x: Tensor<(B, C, H, W), f32, Cpu, T>,
        options: ConvOptions,
    ) -> Result<FeatureMaps<B, Const<O>, T>> {
        conv2d_with(
            x,
            self.weight.retaped::<T>(),
            self.bias.retaped::<T>(),
            S,
            P,
            options,
        )
    }
}

impl<
        const I: usize,
        const O: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        B,
        C,
        H,
        W,
        T,
    > Module<Tensor<(B, C, H, W), f32, Cpu, T>> for Conv2d<I, O, K, S, P, f32, Cpu>
where
    B: Dim,
    C: Dim,
    H: Dim,
    W: Dim,
    T: Tape<f32, Cpu>,
{
    type Output = Tensor<(B, Const<O>, usize, usize), f32, Cpu, T>;
    type Error = FerError;

    fn try_forward(&self, x: Tensor<(B, C, H, W), f32, Cpu, T>) -> Result<Self::Output> {
        self.try_conv(x)
    }
}

impl<const I: usize, const O: usize, const K: usize, const S: usize, const P: usize, E, D>
    NonMutableModule for Conv2d<I, O, K, S, P, E, D>
where
    E: Dtype,
    D: Storage<E>,
{
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::MaxPool2d;
    use dfdx::nn::modules::{BatchNorm2D, Linear};
    use dfdx::optim::{Adam, AdamConfig, Optimizer};
    use dfdx::prelude::*;

    type Small = Conv2d<3, 8, 3, 1, 1>;

    /// PyTorch's bound for fan_in = 3 * 3 * 3: 1 / sqrt(27) = 0.19245.
    #[test]
    fn initialisation_is_pytorch_default_uniform() {
        let dev = Cpu::seed_from_u64(0);
        let conv: Small = BuildModule::build(&dev);
        let bound = 1.0 / 27f32.sqrt();
        for values in [conv.weight.as_vec(), conv.bias.as_vec()] {
            assert!(values.iter().all(|v| v.abs() <= bound), "outside ±{bound}");
        }
        // 216 uniform draws: the largest magnitude is near the bound, the mean near zero.
        let w = conv.weight.as_vec();
        let largest = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(largest > 0.9 * bound, "largest {largest}");
        assert!((w.iter().sum::<f32>() / w.len() as f32).abs() < 0.03);
        assert_eq!(conv.num_trainable_params(), 8 * 3 * 9 + 8);
    }

    #[test]
    fn same_seed_same_weights() {
        let a: Small = BuildModule::build(&Cpu::seed_from_u64(7));
        let b: Small = BuildModule::build(&Cpu::seed_from_u64(7));
        let c: Small = BuildModule::build(&Cpu::seed_from_u64(8));
        assert_eq!(a.weight.as_vec(), b.weight.as_vec());
        assert_ne!(a.weight.as_vec(), c.weight.as_vec());
    }

    #[test]
    fn forward_gives_compile_time_channels_and_checks_the_input() {
        let dev = Cpu::seed_from_u64(0);
        let conv: Conv2d<3, 8, 3, 2, 1> = BuildModule::build(&dev);
        let x = dev.sample_normal_like(&(2usize, 3usize, 7usize, 6usize));
        let y: Tensor<(usize, Const<8>, usize, usize), f32, Cpu> = conv.forward(x);
        assert_eq!(*y.shape(), (2, Const::<8>, 4, 3));
        let wrong = dev.sample_normal_like(&(2usize, 4usize, 7usize, 6usize));
        let err = conv.try_forward(wrong).unwrap_err().to_string();
        assert!(err.contains("4 channels"), "{err}");
    }

    #[test]
    fn safetensors_round_trip() {
        let dev = Cpu::seed_from_u64(1);
        let saved: Small = BuildModule::build(&dev);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conv.safetensors");
        saved.save_safetensors(&path).unwrap();
        let mut loaded: Small = BuildModule::build(&Cpu::seed_from_u64(2));
        assert_ne!(loaded.weight.as_vec(), saved.weight.as_vec());
        loaded.load_safetensors(&path).unwrap();
        assert_eq!(loaded.weight.as_vec(), saved.weight.as_vec());
        assert_eq!(loaded.bias.as_vec(), saved.bias.as_vec());
    }

    /// Conv2d + BatchNorm2D + ReLU + max pool + Linear, trained with dfdx's Adam on one fixed
    /// batch: every parameter gets a gradient (Adam rejects unused ones) and the loss falls.
    #[test]
    fn a_small_cnn_learns_with_adam() {
        let dev = Cpu::seed_from_u64(3);
        type Net = (
            Conv2d<1, 4, 3, 1, 1>,
            BatchNorm2D<4, f32, Cpu>,
            Linear<64, 3, f32, Cpu>,
        );
        let mut net: Net = BuildModule::build(&dev);
        let mut grads = net.alloc_grads();
        let mut opt = Adam::new(
            &net,
            AdamConfig {
                lr: 1e-2,
                ..Default::default()
            },
        );
        let x: Tensor<(usize, Const<1>, Const<8>, Const<8>), f32, Cpu> =
            dev.sample_normal_like(&(6, Const, Const, Const));
        let labels = [0usize, 1, 2, 0, 1, 2];
        let mut one_hot = vec![0.0f32; 18];
        for (i, &l) in labels.iter().enumerate() {
            one_hot[i * 3 + l] = 1.0;
        }
        let y = dev.tensor_from_vec(one_hot, (6usize, Const::<3>));
        let mut losses = Vec::new();
        for _ in 0..15 {
            let h = net.0.try_conv(x.clone().traced(grads)).unwrap();
            let h = net.1.forward_mut(h).relu();
            let h = MaxPool2d::<2, 2>.try_forward(h).unwrap(); // [6, 4, 4, 4]
            let h = h.reshape_like(&(6usize, Const::<64>));
            let loss = cross_entropy_with_logits_loss(net.2.forward(h), y.clone());
            losses.push(loss.array());
            grads = loss.backward();
            opt.update(&mut net, &grads).unwrap();
            net.zero_grads(&mut grads);
        }
        assert!(
            losses[14] < 0.5 * losses[0],
            "loss went from {} to {}",
            losses[0],
            losses[14]
        );
    }
}
