//! Inference for [`BestModel`] with each batch norm folded into the convolution before it.
//!
//! In eval mode a batch norm is one affine map per channel, `y = a x + b`
//! ([`eval_coefficients`]), so `norm(conv(x))` is a convolution with filters `a W` and bias
//! `a bias + b`. Folded, each block is a convolution with its ReLU applied as the output is
//! written, then a convolution whose output goes through ReLU and 2x2 max pooling in one pass.
//! The maps stay in the padded channels-last layout of [`PaddedMaps`] from the first layer to
//! the last, where each convolution reads its input in place (no im2col copy): as Winograd
//! tiles ([`conv3x3_winograd`]) on the planes and channel counts where that pays, elsewhere as
//! products over each window ([`conv3x3`]). Per block three passes over the activations
//! instead of the dfdx path's five plus its copies, and no pooling indices, which only the
//! backward pass needs.
//!
//! Winograd took the shipped model from about 760 to about 1190 faces/s in batches of 256
//! (`fer bench infer --arch best`, 2-core AVX-512 AMD EPYC; the layers in
//! [`crate::ops::tuning::WINOGRAD_MAPS_MIN_IN_CHANNELS`]), with the same 2,501 PrivateTest,
//! 2,476 PublicTest faces right.
//!
//! Measured on the shipped model (2-core AVX-512 host, same sitting): `fer evaluate --split
//! private-test` 14.9 -> 5.8 s and peak memory 501 -> 154 MB, the same 2,501 of 3,589 faces
//! right. The logits equal [`BestModel::forward_eval`]'s up to float rounding (`(a W) x` rounds
//! differently from `a (W x)`, and the sums run in another order), tested below.

use std::time::Instant;

use dfdx::nn::modules::BatchNorm2D;
use dfdx::tensor::{AsArray, Cpu};

use super::best_model::{BestModel, VggBlock};
use crate::ops::{conv3x3, conv3x3_winograd, eval_coefficients, Conv2d, PaddedMaps};
use crate::ops::{matmul, MatMut, MatRef};
use crate::ops::{ShiftedFilters, WinogradFilters};

/// Side of the network's input images.
const INPUT_SIDE: usize = 48;

/// Images that go through the network together. Measured on batches of 256 (`fer bench
/// infer`, six alternating runs): 32 at a time ran as fast as all 256 at once (median 655
/// against 649 faces/s) with a quarter of the peak memory (47 against 198 MiB): a 48x48 map
/// of 32 images and 32 channels is about 10 MB, which the L3 cache holds.
const SUB_BATCH: usize = 32;

/// A layer's filters in the form its convolution runs in.
#[derive(Debug, Clone)]
enum Filters {
    /// Winograd tiles, where they run on the layer's planes ([`WinogradFilters::for_plane`]).
    Winograd(WinogradFilters),
    /// In-place products everywhere else.
    Shifted(ShiftedFilters),
}

/// One 3x3 "same" convolution with its batch norm folded in.
#[derive(Debug, Clone)]
struct FoldedConv {
    /// The filters, each scaled by its channel's `a`.
    filters: Filters,
    /// `a * bias + b`.
    bias: Vec<f32>,
}

impl FoldedConv {
    fn new<const I: usize, const O: usize>(
        conv: &Conv2d<I, O, 3, 1, 1>,
        norm: &BatchNorm2D<O, f32, Cpu>,
        side: usize,
    ) -> Self {
        let (a, b) = eval_coefficients(norm);
        let mut weight = conv.weight.as_vec();
        for (filter, &scale) in weight.chunks_exact_mut(I * 9).zip(&a) {
            filter.iter_mut().for_each(|w| *w *= scale);
        }
        let bias = conv.bias.array();
        let filters = match WinogradFilters::for_plane(&weight, I, O, side) {
            Some(winograd) => Filters::Winograd(winograd),
            None => Filters::Shifted(ShiftedFilters::new(&weight, I, O)),
        };
        FoldedConv {
            filters,
            bias: (0..O).map(|o| a[o] * bias[o] + b[o]).collect(),
        }
    }

    fn apply(&self, x: &PaddedMaps, relu: bool) -> PaddedMaps {
        match &self.filters {
            Filters::Winograd(filters) => conv3x3_winograd(x, filters, &self.bias, relu),
            Filters::Shifted(filters) => conv3x3(x, filters, &self.bias, relu),
        }
    }
}

/// A [`BestModel`] folded for inference; build it once per set of weights
/// ([`FoldedBest::new`]) and classify any number of batches with it.
#[derive(Debug, Clone)]
pub struct FoldedBest {
    /// Each block's two convolutions, in order.
    blocks: Vec<[FoldedConv; 2]>,
    /// Dense layer, `7 x 256`.
    head_weight: Vec<f32>,
    head_bias: Vec<f32>,
}

fn fold_block<const I: usize, const O: usize>(
    block: &VggBlock<I, O>,
    side: usize,
) -> [FoldedConv; 2] {
    [
        FoldedConv::new(&block.conv1, &block.norm1, side),
        FoldedConv::new(&block.conv2, &block.norm2, side),
    ]
}

impl FoldedBest {
    /// Folds `model`'s running statistics into its convolutions.
    pub fn new(model: &BestModel) -> Self {
        let (b0, b1, b2, b3) = &model.blocks;
        FoldedBest {
            blocks: vec![
                fold_block(b0, INPUT_SIDE),
                fold_block(b1, INPUT_SIDE / 2),
                fold_block(b2, INPUT_SIDE / 4),
                fold_block(b3, INPUT_SIDE / 8),
            ],
            head_weight: model.head.weight.as_vec(),
            head_bias: model.head.bias.as_vec(),
        }
    }

    /// Logits, row-major `[n, 7]`, of `n` standardised 48x48 images (`[n * 2304]`).
    pub fn logits(&self, images: &[f32]) -> Vec<f32> {
        images
            .chunks(SUB_BATCH * INPUT_SIDE * INPUT_SIDE)
            .flat_map(|part| self.logits_timed(part, |_, _| {}))
            .collect()
    }

    /// [`Self::logits`], calling `lap(step, seconds)` after each step (a convolution and its
    /// output shape; "input" for the re-layout of the images, "head" for global pooling and
    /// the dense layer): where an inference batch spends its time.
    pub fn logits_timed(&self, images: &[f32], mut lap: impl FnMut(&str, f64)) -> Vec<f32> {
        let n = images.len() / (INPUT_SIDE * INPUT_SIDE);
        let mut clock = Instant::now();
        let mut lap = |step: String| {
            lap(&step, clock.elapsed().as_secs_f64());
            clock = Instant::now();
        };
        let mut x = PaddedMaps::from_nchw(images, n, 1, INPUT_SIDE);
        lap("input".to_string());
        for (block, [first, second]) in self.blocks.iter().enumerate() {
            let side = x.side;
            let channels = first.bias.len();
            let y = first.apply(&x, true);
            lap(format!("block{block}.conv1 {channels}x{side}x{side}"));
            x = second.apply(&y, false).relu_max_pool_2x2();
            lap(format!("block{block}.conv2+pool {channels}x{side}x{side}"));
        }
        let pooled = x.global_average(); // [n, 256]
        let classes = self.head_bias.len();
        let features = self.head_weight.len() / classes;
        let mut logits: Vec<f32> = (0..n)
            .flat_map(|_| self.head_bias.iter().copied())
            .collect();
        matmul(
            MatMut::row_major(&mut logits, n, classes),
            MatRef::row_major(&pooled, n, features),
            MatRef::row_major(&self.head_weight, classes, features).t(),
            true,
            1,
        );
        lap("head".to_string());
        logits
    }

    /// Class probabilities, row-major `[n, 7]`: the softmax of [`Self::logits`].
    pub fn probabilities(&self, images: &[f32]) -> Vec<f32> {
        let mut values = self.logits(images);
        for row in values.chunks_exact_mut(self.head_bias.len()) {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            row.iter_mut().for_each(|v| *v = (*v - max).exp());
            let sum: f32 = row.iter().sum();
            row.iter_mut().for_each(|v| *v /= sum);
        }
        values
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::prelude::{Const, Rank1, SampleTensor, Tensor};

    /// Folded logits against the dfdx path's on random faces, with batch norms whose running
    /// statistics and affine parameters are far from the identity (as a trained model's are):
    /// equal to 1e-4 of the logits' spread, for one face and for a batch large enough to take
    /// the Winograd and parallel im2col plans.
    #[test]
    fn folded_logits_match_the_dfdx_forward_pass() {
        let dev = Cpu::seed_from_u64(3);
        let mut model = BestModel::build(&dev).unwrap();
        fn perturb<const C: usize>(norm: &mut BatchNorm2D<C, f32, Cpu>, dev: &Cpu) {
            norm.scale = dev.sample_normal::<Rank1<C>>() * 0.5 + 1.0;
            norm.bias = dev.sample_normal::<Rank1<C>>() * 0.3;
            norm.running_mean = dev.sample_normal::<Rank1<C>>() * 0.2;
            norm.running_var = dev.sample_uniform::<Rank1<C>>() + 0.25;
        }
        let (b0, b1, b2, b3) = &mut model.blocks;
        perturb(&mut b0.norm1, &dev);
        perturb(&mut b0.norm2, &dev);
        perturb(&mut b1.norm1, &dev);
        perturb(&mut b1.norm2, &dev);
        perturb(&mut b2.norm1, &dev);
        perturb(&mut b2.norm2, &dev);
        perturb(&mut b3.norm1, &dev);
        perturb(&mut b3.norm2, &dev);
        let folded = FoldedBest::new(&model);
        for n in [1usize, 9] {
            let x: Tensor<(usize, Const<1>, Const<48>, Const<48>), f32, Cpu> =
                dev.sample_normal_like(&(n, Const, Const, Const));
            let ours = folded.logits(&x.as_vec());
            let theirs = model.forward_eval(x).unwrap().as_vec();
            let spread = theirs.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let worst = ours
                .iter()
                .zip(&theirs)
                .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(spread > 0.1, "degenerate logits {theirs:?}");
            assert!(worst <= 1e-4 * spread, "n={n}: {worst} of {spread}");
        }
    }
}
