//! `Conv2d`: a convolution layer that owns its filters and bias, usable wherever dfdx expects a
//! module (optimisers, `zero_grads`, `num_params`, safetensors).

use dfdx::nn::{ModuleVisitor, NonMutableModule, TensorCollection, TensorOptions};
use dfdx::prelude::Module;
use dfdx::shapes::{Const, Dim, Dtype, Rank1, Rank4};
use dfdx::tensor::{Cpu, Storage, Tape, Tensor};
use dfdx::tensor_ops::Device;
use rand_distr::Uniform;

use super::conv_op::conv2d;
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
    ) -> Result<Tensor<(B, Const<O>, usize, usize), f32, Cpu, T>> {
        conv2d(
            x,
            self.weight.retaped::<T>(),
            self.bias.retaped::<T>(),
            S,
            P,
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
