//! The seed's CNN (the Keras model in `shared/peers/keras_seed.py`), built from this crate's
//! convolution and pooling layers and dfdx's batch norm, dropout and linear layers. In training
//! each pooled block runs as one fused op,
//! [`conv_norm_pool_dropout_train`](super::conv_norm_pool_dropout_train), and the stem's ReLU is
//! fused into its convolution; the eval pass uses the separate ops.
//!
//! ```text
//! input                                   [N, 1, 48, 48]
//! conv 3x3, 32, ReLU                      [N, 32, 48, 48]
//! block(64, 3x3)                          [N, 64, 24, 24]
//! block(128, 5x5)                         [N, 128, 12, 12]
//! block(512, 3x3)                         [N, 512, 6, 6]
//! block(512, 3x3)                         [N, 512, 3, 3]
//! flatten                                 [N, 4608]
//! dense 256, ReLU, batch norm, dropout    [N, 256]
//! dense 512, ReLU, batch norm, dropout    [N, 512]
//! dense 7 (logits)                        [N, 7]
//! ```
//! where a block is conv ("same" padding) + ReLU, batch norm, 2x2 max pooling, dropout 0.25,
//! in Keras' order. 4,496,903 parameters as Keras counts them; dfdx's `num_params` gives
//! 4,492,935 because it leaves out the batch norms' running statistics (3,968 numbers).
//!
//! Batch norm uses Keras' defaults (epsilon 1e-3, running statistics momentum 0.99, i.e. dfdx
//! momentum 0.01). Weights are initialised as PyTorch does (dfdx's `Linear` and [`Conv2d`]),
//! not with Keras' Glorot, and the last layer emits logits: softmax belongs to the loss.

use dfdx::nn::modules::{BatchNorm1D, BatchNorm2D, Dropout, Linear};
use dfdx::nn::{BuildModule, Module, ModuleMut, ModuleVisitor, TensorCollection};

use dfdx::shapes::{Const, Dtype};
use dfdx::tensor::{Cpu, NoneTape, OwnedTape, Storage, Tensor};
use dfdx::tensor_ops::{Device, ReshapeTo};

use super::config::{Arch, DropoutRates};
use crate::error::{FerError, Result};
use crate::ops::max_pool2d;
use crate::ops::Conv2d;
use crate::ops::ConvOptions;
use crate::ops::{batch_norm2d_eval, Activation};
use crate::ops::{conv_norm_pool_dropout_train, ReluPlacement};

/// Standard dropout after every block and dense layer, as in the seed
/// ([`Arch::dropout`](super::Arch::dropout)).
pub const SEED_DROPOUT: f32 = 0.25;

/// Side of the square grayscale input the seed expects.
pub const SEED_INPUT_SIDE: usize = 48;

/// Output classes (the seven emotions).
pub const SEED_CLASSES: usize = 7;

/// The batch the seed takes: `[N, 1, 48, 48]`.
pub type SeedInput<T> = Tensor<(usize, Const<1>, Const<48>, Const<48>), f32, Cpu, T>;

/// The seed's logits: `[N, 7]`.
pub type SeedLogits<T> = Tensor<(usize, Const<7>), f32, Cpu, T>;

/// Convolution (stride 1, padding `P`) + ReLU, batch norm, 2x2 max pooling, dropout.
#[derive(Debug, Clone)]
pub struct ConvBlock<
    const I: usize,
    const O: usize,
    const K: usize,
    const P: usize,
    E: Dtype = f32,
    D: Storage<E> = Cpu,
> {
    /// The convolution.
    pub conv: Conv2d<I, O, K, 1, P, E, D>,
    /// Batch norm after the ReLU.
    pub norm: BatchNorm2D<O, E, D>,
}

/// Linear + ReLU, batch norm, dropout.
#[derive(Debug, Clone)]
pub struct DenseBlock<const I: usize, const O: usize, E: Dtype = f32, D: Storage<E> = Cpu> {
    /// The fully connected layer.
    pub linear: Linear<I, O, E, D>,
    /// Batch norm after the ReLU.
    pub norm: BatchNorm1D<O, E, D>,
}

/// The seed's CNN; see the module docs for the layer table. Build it with
/// [`SeedModel::build`] (seeded through the device: `Cpu::seed_from_u64`).
#[derive(Debug, Clone)]
pub struct SeedModel<E: Dtype = f32, D: Storage<E> = Cpu> {
    /// First convolution, 1 -> 32 channels, no pooling.
    pub stem: Conv2d<1, 32, 3, 1, 1, E, D>,
    /// The four pooled blocks.
    #[allow(clippy::type_complexity)]
    pub blocks: (
        ConvBlock<32, 64, 3, 1, E, D>,
        ConvBlock<64, 128, 5, 2, E, D>,
        ConvBlock<128, 512, 3, 1, E, D>,
        ConvBlock<512, 512, 3, 1, E, D>,
    ),
    /// Dense 4608 -> 256.
    pub dense1: DenseBlock<4608, 256, E, D>,
    /// Dense 256 -> 512.
    pub dense2: DenseBlock<256, 512, E, D>,
    /// Output layer, 512 -> 7 logits.
    pub head: Linear<512, 7, E, D>,
}

impl<const I: usize, const O: usize, const K: usize, const P: usize, D: Device<f32>>
    TensorCollection<f32, D> for ConvBlock<I, O, K, P, f32, D>
{
    type To<E2: Dtype, D2: Device<E2>> = ConvBlock<I, O, K, P, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, f32, D>>(
        visitor: &mut V,
    ) -> std::result::Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::module("conv", |s| &s.conv, |s| &mut s.conv),
                Self::module("norm", |s| &s.norm, |s| &mut s.norm),
            ),
            |(conv, norm)| ConvBlock { conv, norm },
        )
    }
}

impl<const I: usize, const O: usize, D: Device<f32>> TensorCollection<f32, D>
    for DenseBlock<I, O, f32, D>
{
    type To<E2: Dtype, D2: Device<E2>> = DenseBlock<I, O, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, f32, D>>(
        visitor: &mut V,
    ) -> std::result::Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::module("linear", |s| &s.linear, |s| &mut s.linear),
                Self::module("norm", |s| &s.norm, |s| &mut s.norm),
            ),
            |(linear, norm)| DenseBlock { linear, norm },
        )
    }
}

impl<D: Device<f32>> TensorCollection<f32, D> for SeedModel<f32, D> {
    type To<E2: Dtype, D2: Device<E2>> = SeedModel<E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, f32, D>>(
        visitor: &mut V,
    ) -> std::result::Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::module("stem", |s| &s.stem, |s| &mut s.stem),
                Self::module("blocks", |s| &s.blocks, |s| &mut s.blocks),
                Self::module("dense1", |s| &s.dense1, |s| &mut s.dense1),
                Self::module("dense2", |s| &s.dense2, |s| &mut s.dense2),
                Self::module("head", |s| &s.head, |s| &mut s.head),
            ),
            |(stem, blocks, dense1, dense2, head)| SeedModel {
                stem,
                blocks,
                dense1,
                dense2,
                head,
            },
        )
    }
}

/// Sets Keras' batch-norm defaults on a dfdx batch norm.
macro_rules! keras_batch_norm {
    ($norm:expr) => {{
        $norm.epsilon = 1e-3;
        $norm.momentum = 0.01;
    }};
}

type Map<const C: usize, T> = Tensor<(usize, Const<C>, usize, usize), f32, Cpu, T>;

impl<const I: usize, const O: usize, const K: usize, const P: usize> ConvBlock<I, O, K, P> {
    fn forward_train(
        &mut self,
        x: Map<I, OwnedTape<f32, Cpu>>,
        dropout: f32,
    ) -> Result<Map<O, OwnedTape<f32, Cpu>>> {
        conv_norm_pool_dropout_train(
            x,
            &self.conv,
            &mut self.norm,
            ReluPlacement::BeforeNorm,
            dropout,
        )
    }

    fn forward_eval(&self, x: Map<I, NoneTape>) -> Result<Map<O, NoneTape>> {
        let y = self.conv.try_conv(x)?.try_relu()?;
        let y = batch_norm2d_eval(y, &self.norm, Activation::Identity)?;
        max_pool2d(y, 2, 2)
    }
}

type Flat<const C: usize, T> = Tensor<(usize, Const<C>), f32, Cpu, T>;

impl<const I: usize, const O: usize> DenseBlock<I, O> {
    fn forward_train(
        &mut self,
        x: Flat<I, OwnedTape<f32, Cpu>>,
        dropout: f32,
    ) -> Result<Flat<O, OwnedTape<f32, Cpu>>> {
        let y = self.linear.try_forward(x)?.try_relu()?;
        let y = self.norm.try_forward_mut(y)?;
        Ok(Dropout { p: dropout }.try_forward_mut(y)?)
    }

    fn forward_eval(&self, x: Flat<I, NoneTape>) -> Result<Flat<O, NoneTape>> {
        let y = self.linear.try_forward(x)?.try_relu()?;
        Ok(self.norm.try_forward(y)?)
    }
}

/// Flattens the last block's `[N, 512, 3, 3]` maps to `[N, 4608]` rows, channel-major as
/// PyTorch does (Keras flattens channels-last; the order is immaterial to a trained model).
fn flatten<T: dfdx::tensor::Tape<f32, Cpu>>(x: Map<512, T>) -> Result<Flat<4608, T>> {
    let (n, _, h, w) = *x.shape();
    if (h, w) != (3, 3) {
        return Err(FerError::ShapeMismatch(format!(
            "seed model: the last block gives {h}x{w} maps, expected 3x3"
        )));
    }
    Ok(x.try_reshape_like(&(n, Const::<4608>))?)
}

use dfdx::shapes::HasShape;

impl SeedModel {
    /// A freshly initialised model on `device` (PyTorch-style initialisation from the device's
    /// generator) with Keras' batch-norm settings. Also calls
    /// [`retain_freed_memory`](crate::ops::retain_freed_memory), which makes training much faster.
    pub fn build(device: &Cpu) -> Result<Self> {
        crate::ops::retain_freed_memory();
        let mut model = <Self as BuildModule<Cpu, f32>>::try_build(device)?;
        keras_batch_norm!(model.blocks.0.norm);
        keras_batch_norm!(model.blocks.1.norm);
        keras_batch_norm!(model.blocks.2.norm);
        keras_batch_norm!(model.blocks.3.norm);
        keras_batch_norm!(model.dense1.norm);
        keras_batch_norm!(model.dense2.norm);
        Ok(model)
    }

    /// Training forward pass: batch statistics (and running-statistics updates) in batch norm,
    /// `dropout` active, gradients recorded on `x`'s tape for the parameters (not for `x`: the
    /// first convolution skips its input gradient).
    pub fn forward_train(
        &mut self,
        x: SeedInput<OwnedTape<f32, Cpu>>,
        dropout: DropoutRates,
    ) -> Result<SeedLogits<OwnedTape<f32, Cpu>>> {
        // ReLU fused into the convolution; the images need no gradient.
        let stem = ConvOptions {
            relu: true,
            input_gradient: false,
        };
        let x = self.stem.try_conv_with(x, stem)?; // [N, 32, 48, 48]
        let x = self.blocks.0.forward_train(x, dropout.block)?; // [N, 64, 24, 24]
        let x = self.blocks.1.forward_train(x, dropout.block)?; // [N, 128, 12, 12]
        let x = self.blocks.2.forward_train(x, dropout.block)?; // [N, 512, 6, 6]
        let x = self.blocks.3.forward_train(x, dropout.block)?; // [N, 512, 3, 3]
        let x = self.dense1.forward_train(flatten(x)?, dropout.head)?; // [N, 256]
        let x = self.dense2.forward_train(x, dropout.head)?; // [N, 512]
        Ok(self.head.try_forward(x)?) // [N, 7]
    }

    /// Inference forward pass: running statistics in batch norm, no dropout, no tape.
    pub fn forward_eval(&self, x: SeedInput<NoneTape>) -> Result<SeedLogits<NoneTape>> {
        let x = self.stem.try_conv(x)?.try_relu()?;
        let x = self.blocks.0.forward_eval(x)?;
        let x = self.blocks.1.forward_eval(x)?;
        let x = self.blocks.2.forward_eval(x)?;
        let x = self.blocks.3.forward_eval(x)?;
        let x = self.dense1.forward_eval(flatten(x)?)?;
        let x = self.dense2.forward_eval(x)?;
        Ok(self.head.try_forward(x)?)
    }
}

impl Module<SeedInput<NoneTape>> for SeedModel {
    type Output = SeedLogits<NoneTape>;
    type Error = FerError;

    fn try_forward(&self, x: SeedInput<NoneTape>) -> Result<Self::Output> {
        self.forward_eval(x)
    }
}

impl ModuleMut<SeedInput<OwnedTape<f32, Cpu>>> for SeedModel {
    type Output = SeedLogits<OwnedTape<f32, Cpu>>;
    type Error = FerError;

    fn try_forward_mut(&mut self, x: SeedInput<OwnedTape<f32, Cpu>>) -> Result<Self::Output> {
        self.forward_train(x, Arch::Seed.dropout())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::prelude::RealizeTo;
    use dfdx::shapes::Dim;

    /// Checks a batch of any dimension types is `[N, 1, 48, 48]` and gives it the seed's type.
    fn to_seed_input<B: Dim, C: Dim, H: Dim, W: Dim, T: dfdx::tensor::Tape<f32, Cpu>>(
        x: Tensor<(B, C, H, W), f32, Cpu, T>,
    ) -> Result<SeedInput<T>> {
        let (_, c, h, w) = *x.shape();
        x.try_realize::<(usize, Const<1>, Const<48>, Const<48>)>()
            .map_err(|_| {
                FerError::ShapeMismatch(format!(
                    "the seed model takes [N, 1, 48, 48] batches, got [N, {}, {}, {}]",
                    c.size(),
                    h.size(),
                    w.size()
                ))
            })
    }
    use dfdx::nn::{NumParams, ZeroGrads};
    use dfdx::optim::{Adam, AdamConfig, Optimizer};
    use dfdx::prelude::*;

    /// The count the module docs derive from Keras' 4,496,903 minus the running statistics.
    #[test]
    fn parameter_count_matches_the_seed() {
        let model = SeedModel::build(&Cpu::seed_from_u64(0)).unwrap();
        assert_eq!(model.num_trainable_params(), 4_492_935);
        assert_eq!(model.blocks.0.norm.epsilon, 1e-3);
    }

    /// One training step through every layer: Adam's update fails if any parameter got no
    /// gradient, and the parameters it updates change.
    #[test]
    fn training_step_reaches_every_parameter() {
        let dev = Cpu::seed_from_u64(0);
        let mut model = SeedModel::build(&dev).unwrap();
        let before = model.stem.weight.as_vec();
        let mut grads = model.alloc_grads();
        let mut opt = Adam::new(&model, AdamConfig::default());
        let x: SeedInput<NoneTape> = dev.sample_normal_like(&(2, Const, Const, Const));
        let logits = model
            .forward_train(x.traced(grads), Arch::Seed.dropout())
            .unwrap();
        assert_eq!(logits.shape().0, 2);
        let y = dev.tensor_from_vec(
            vec![
                1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0,
            ],
            (2usize, Const::<7>),
        );
        grads = cross_entropy_with_logits_loss(logits, y).backward();
        opt.update(&mut model, &grads)
            .expect("every parameter has a gradient");
        model.zero_grads(&mut grads);
        assert_ne!(model.stem.weight.as_vec(), before);
    }

    #[test]
    fn eval_forward_gives_seven_logits_and_rejects_other_sizes() {
        let dev = Cpu::seed_from_u64(0);
        let model = SeedModel::build(&dev).unwrap();
        let x = dev.sample_normal_like(&(3usize, 1usize, 48usize, 48usize));
        let logits = model.forward_eval(to_seed_input(x).unwrap()).unwrap();
        assert_eq!(*logits.shape(), (3, Const::<7>));
        assert!(logits.as_vec().iter().all(|v| v.is_finite()));
        let err = to_seed_input(dev.zeros_like(&(3usize, 1usize, 32usize, 48usize)))
            .unwrap_err()
            .to_string();
        assert!(err.contains("32"), "{err}");
    }
}
