//! Our CPU-sized network: a VGG-style stack of four blocks of two 3x3 convolutions with batch
//! norm, then global average pooling, dropout and one dense layer.
//!
//! ```text
//! input                                        [N, 1, 48, 48]
//! block(32)   2x (conv 3x3, BN, ReLU), pool    [N, 32, 24, 24]
//! block(64)                                    [N, 64, 12, 12]
//! block(128)                                   [N, 128, 6, 6]
//! block(256)                                   [N, 256, 3, 3]
//! global average pooling                       [N, 256]
//! dropout 0.4, dense 7 (logits)                [N, 7]
//! ```
//! Each block ends with 2x2 max pooling and dropout 0.1. These are the network's standard
//! rates; the shipped model trained with half of them (0.05 and 0.2, `TrainConfig`'s default
//! for this network), which fit the training faces better. 1,175,399 trainable parameters
//! (a quarter of the seed's 4.5M) and about 0.235 GFLOP per image forward (multiply-adds x 2,
//! summed over the eight convolutions: 1.3 + 42.5 + 21.2 + 42.5 + 21.2 + 42.5 + 21.2 + 42.5
//! MFLOP), against the seed's 0.66 GFLOP: the budget goes to depth at full resolution, which
//! is what the VGG results on FER2013 reward, and global pooling replaces the seed's 1.2M-weight
//! dense layer, which mostly overfits.

use dfdx::nn::modules::{BatchNorm2D, Dropout, Linear};
use dfdx::nn::{BuildModule, Module, ModuleMut, ModuleVisitor, TensorCollection};
use dfdx::shapes::{Const, Dim, Dtype};
use dfdx::tensor::{Cpu, NoneTape, OwnedTape, Storage, Tensor};
use dfdx::tensor_ops::Device;

use super::config::DropoutRates;
use super::seed_model::{SeedInput, SeedLogits};
use crate::error::Result;
use crate::ops::Conv2d;
use crate::ops::{batch_norm2d_eval, Activation};
use crate::ops::{conv_norm_pool_dropout_train, conv_norm_train, ReluPlacement};
use crate::ops::{global_avg_pool2d, max_pool2d};

/// Standard dropout after each block's pooling ([`Arch::dropout`](super::Arch::dropout)).
pub const BLOCK_DROPOUT: f32 = 0.1;

/// Standard dropout before the dense layer.
pub const HEAD_DROPOUT: f32 = 0.4;

/// Two 3x3 convolutions ("same" padding), each followed by batch norm and ReLU.
#[derive(Debug, Clone)]
pub struct VggBlock<const I: usize, const O: usize, E: Dtype = f32, D: Storage<E> = Cpu> {
    /// First convolution, `I -> O` channels.
    pub conv1: Conv2d<I, O, 3, 1, 1, E, D>,
    /// Batch norm after the first convolution.
    pub norm1: BatchNorm2D<O, E, D>,
    /// Second convolution, `O -> O` channels.
    pub conv2: Conv2d<O, O, 3, 1, 1, E, D>,
    /// Batch norm after the second convolution.
    pub norm2: BatchNorm2D<O, E, D>,
}

/// The network; see the module docs. Build it with [`BestModel::build`].
#[derive(Debug, Clone)]
pub struct BestModel<E: Dtype = f32, D: Storage<E> = Cpu> {
    /// The four blocks, 1 -> 32 -> 64 -> 128 -> 256 channels.
    #[allow(clippy::type_complexity)]
    pub blocks: (
        VggBlock<1, 32, E, D>,
        VggBlock<32, 64, E, D>,
        VggBlock<64, 128, E, D>,
        VggBlock<128, 256, E, D>,
    ),
    /// Dense 256 -> 7 logits.
    pub head: Linear<256, 7, E, D>,
}

impl<const I: usize, const O: usize, D: Device<f32>> TensorCollection<f32, D>
    for VggBlock<I, O, f32, D>
{
    type To<E2: Dtype, D2: Device<E2>> = VggBlock<I, O, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, f32, D>>(
        visitor: &mut V,
    ) -> std::result::Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::module("conv1", |s| &s.conv1, |s| &mut s.conv1),
                Self::module("norm1", |s| &s.norm1, |s| &mut s.norm1),
                Self::module("conv2", |s| &s.conv2, |s| &mut s.conv2),
                Self::module("norm2", |s| &s.norm2, |s| &mut s.norm2),
            ),
            |(conv1, norm1, conv2, norm2)| VggBlock {
                conv1,
                norm1,
                conv2,
                norm2,
            },
        )
    }
}

impl<D: Device<f32>> TensorCollection<f32, D> for BestModel<f32, D> {
    type To<E2: Dtype, D2: Device<E2>> = BestModel<E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, f32, D>>(
        visitor: &mut V,
    ) -> std::result::Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::module("blocks", |s| &s.blocks, |s| &mut s.blocks),
                Self::module("head", |s| &s.head, |s| &mut s.head),
            ),
            |(blocks, head)| BestModel { blocks, head },
        )
    }
}

type Map<const C: usize, T> = Tensor<(usize, Const<C>, usize, usize), f32, Cpu, T>;

/// Feature maps of any height and width type (the input's sides are `Const<48>`).
type AnyMap<const C: usize, H, W, T> = Tensor<(usize, Const<C>, H, W), f32, Cpu, T>;

impl<const I: usize, const O: usize> VggBlock<I, O> {
    /// `input_gradient: false` for the first block, whose input is the images.
    fn forward_train<H: Dim, W: Dim>(
        &mut self,
        x: AnyMap<I, H, W, OwnedTape<f32, Cpu>>,
        input_gradient: bool,
        dropout: f32,
    ) -> Result<Map<O, OwnedTape<f32, Cpu>>> {
        // Convolution, batch norm and ReLU in one op: [N, O, H, W].
        let y = conv_norm_train(
            x,
            &self.conv1,
            &mut self.norm1,
            Activation::Relu,
            input_gradient,
        )?;
        // The second convolution, batch norm, ReLU, pooling and dropout in one op:
        // [N, O, H/2, W/2].
        conv_norm_pool_dropout_train(
            y,
            &self.conv2,
            &mut self.norm2,
            ReluPlacement::AfterNorm,
            dropout,
        )
    }

    /// Inference forward pass of the block: running statistics in batch norm, no tape. `[N, I,
    /// H, W]` in, `[N, O, H/2, W/2]` out (what the course prints, block by block).
    pub fn forward_eval<H: Dim, W: Dim>(
        &self,
        x: AnyMap<I, H, W, NoneTape>,
    ) -> Result<Map<O, NoneTape>> {
        let y = self.conv1.try_conv(x)?;
        let y = batch_norm2d_eval(y, &self.norm1, Activation::Relu)?;
        let y = self.conv2.try_conv(y)?;
        let y = batch_norm2d_eval(y, &self.norm2, Activation::Relu)?;
        max_pool2d(y, 2, 2)
    }
}

impl BestModel {
    /// A freshly initialised model (PyTorch-style initialisation from the device's generator:
    /// `Cpu::seed_from_u64` makes it reproducible). Also calls
    /// [`retain_freed_memory`](crate::ops::retain_freed_memory), which makes training much faster.
    pub fn build(device: &Cpu) -> Result<Self> {
        crate::ops::retain_freed_memory();
        Ok(<Self as BuildModule<Cpu, f32>>::try_build(device)?)
    }

    /// Training forward pass: batch statistics in batch norm, `dropout` on, gradients on the
    /// tape for the parameters (not for `x`: the first convolution skips its input gradient).
    pub fn forward_train(
        &mut self,
        x: SeedInput<OwnedTape<f32, Cpu>>,
        dropout: DropoutRates,
    ) -> Result<SeedLogits<OwnedTape<f32, Cpu>>> {
        let block = dropout.block;
        let x = self.blocks.0.forward_train(x, false, block)?; // [N, 32, 24, 24]
        let x = self.blocks.1.forward_train(x, true, block)?; // [N, 64, 12, 12]
        let x = self.blocks.2.forward_train(x, true, block)?; // [N, 128, 6, 6]
        let x = self.blocks.3.forward_train(x, true, block)?; // [N, 256, 3, 3]
        let x = global_avg_pool2d(x)?; // [N, 256]
        let x = Dropout { p: dropout.head }.try_forward_mut(x)?;
        Ok(self.head.try_forward(x)?) // [N, 7]
    }

    /// Inference forward pass: running statistics, no dropout, no tape.
    pub fn forward_eval(&self, x: SeedInput<NoneTape>) -> Result<SeedLogits<NoneTape>> {
        let x = self.blocks.0.forward_eval(x)?; // [N, 32, 24, 24]
        let x = self.blocks.1.forward_eval(x)?; // [N, 64, 12, 12]
        let x = self.blocks.2.forward_eval(x)?; // [N, 128, 6, 6]
        let x = self.blocks.3.forward_eval(x)?; // [N, 256, 3, 3]
        let x = global_avg_pool2d(x)?; // [N, 256]
        Ok(self.head.try_forward(x)?) // [N, 7]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cnn::Arch;
    use dfdx::nn::{NumParams, ZeroGrads};
    use dfdx::optim::{Adam, AdamConfig, Optimizer};
    use dfdx::prelude::*;

    /// Parameters as the module docs count them: per block 9*I*O + O + 9*O*O + O for the
    /// convolutions and 2*O (scale, shift) per batch norm, twice; plus 256*7 + 7 for the head.
    #[test]
    fn parameter_count_matches_the_docs() {
        let model = BestModel::build(&Cpu::seed_from_u64(0)).unwrap();
        let block = |i: usize, o: usize| 9 * i * o + o + 9 * o * o + o + 4 * o;
        let expected =
            block(1, 32) + block(32, 64) + block(64, 128) + block(128, 256) + 256 * 7 + 7;
        assert_eq!(model.num_trainable_params(), expected);
        assert_eq!(expected, 1_175_399);
    }

    /// A training step gives every parameter a gradient (Adam refuses otherwise) and eval
    /// gives finite logits of the right shape.
    #[test]
    fn trains_and_evaluates() {
        let dev = Cpu::seed_from_u64(0);
        let mut model = BestModel::build(&dev).unwrap();
        let mut grads = model.alloc_grads();
        let mut opt = Adam::new(&model, AdamConfig::default());
        let x: SeedInput<NoneTape> = dev.sample_normal_like(&(2, Const, Const, Const));
        let logits = model
            .forward_train(x.clone().traced(grads), Arch::Best.dropout())
            .unwrap();
        let y = dev.tensor_from_vec(vec![1.0 / 7.0; 14], (2usize, Const::<7>));
        grads = cross_entropy_with_logits_loss(logits, y).backward();
        opt.update(&mut model, &grads).expect("every parameter");
        model.zero_grads(&mut grads);
        let logits = model.forward_eval(x).unwrap();
        assert_eq!(*logits.shape(), (2, Const::<7>));
        assert!(logits.as_vec().iter().all(|v| v.is_finite()));
    }

    /// The rates given reach the layers: with no dropout the training logits do not depend on
    /// the device's random stream; dropout in the blocks only, or in the head only, makes them.
    #[test]
    fn dropout_rates_reach_blocks_and_head() {
        let mut model = BestModel::build(&Cpu::seed_from_u64(0)).unwrap();
        let x: SeedInput<NoneTape> =
            Cpu::seed_from_u64(0).sample_normal_like(&(4, Const, Const, Const));
        let pixels = x.as_vec();
        let mut logits = |device_seed: u64, block: f32, head: f32| {
            let dev = Cpu::seed_from_u64(device_seed);
            let x = dev.tensor_from_vec(pixels.clone(), (4usize, Const, Const, Const));
            let grads = model.alloc_grads();
            model
                .forward_train(x.traced(grads), DropoutRates { block, head })
                .unwrap()
                .as_vec()
        };
        assert_eq!(logits(1, 0.0, 0.0), logits(2, 0.0, 0.0));
        assert_ne!(logits(1, 0.5, 0.0), logits(2, 0.5, 0.0));
        assert_ne!(logits(1, 0.0, 0.5), logits(2, 0.0, 0.5));
    }
}
