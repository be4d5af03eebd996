//! Pooling layers: parameter-free unit structs implementing dfdx's `Module`, so they sit in a
//! model next to dfdx's own layers.

use dfdx::nn::{NonMutableModule, ZeroSizedModule};
use dfdx::prelude::Module;
use dfdx::shapes::Dim;
use dfdx::tensor::{Cpu, Tape, Tensor};

use super::pool::{avg_pool2d, global_avg_pool2d, max_pool2d};
use crate::error::{FerError, Result};

/// Max pooling over `K x K` windows every `S` pixels (`MaxPool2d<2, 2>` halves each side, as
/// Keras' `MaxPooling2D()`). See [`max_pool2d`] for ties.
#[derive(Debug, Default, Clone, Copy)]
pub struct MaxPool2d<const K: usize, const S: usize>;

/// Average pooling over `K x K` windows every `S` pixels.
#[derive(Debug, Default, Clone, Copy)]
pub struct AvgPool2d<const K: usize, const S: usize>;

/// Global average pooling, `N x C x H x W -> N x C`.
#[derive(Debug, Default, Clone, Copy)]
pub struct GlobalAvgPool;

impl<const K: usize, const S: usize> ZeroSizedModule for MaxPool2d<K, S> {}
impl<const K: usize, const S: usize> NonMutableModule for MaxPool2d<K, S> {}
impl<const K: usize, const S: usize> ZeroSizedModule for AvgPool2d<K, S> {}
impl<const K: usize, const S: usize> NonMutableModule for AvgPool2d<K, S> {}
impl ZeroSizedModule for GlobalAvgPool {}
impl NonMutableModule for GlobalAvgPool {}

impl<const K: usize, const S: usize, B: Dim, C: Dim, H: Dim, W: Dim, T: Tape<f32, Cpu>>
    Module<Tensor<(B, C, H, W), f32, Cpu, T>> for MaxPool2d<K, S>
{
    type Output = Tensor<(B, C, usize, usize), f32, Cpu, T>;
    type Error = FerError;

    fn try_forward(&self, x: Tensor<(B, C, H, W), f32, Cpu, T>) -> Result<Self::Output> {
        max_pool2d(x, K, S)
    }
}

impl<const K: usize, const S: usize, B: Dim, C: Dim, H: Dim, W: Dim, T: Tape<f32, Cpu>>
    Module<Tensor<(B, C, H, W), f32, Cpu, T>> for AvgPool2d<K, S>
{
    type Output = Tensor<(B, C, usize, usize), f32, Cpu, T>;
    type Error = FerError;

    fn try_forward(&self, x: Tensor<(B, C, H, W), f32, Cpu, T>) -> Result<Self::Output> {
        avg_pool2d(x, K, S)
    }
}

impl<B: Dim, C: Dim, H: Dim, W: Dim, T: Tape<f32, Cpu>> Module<Tensor<(B, C, H, W), f32, Cpu, T>>
    for GlobalAvgPool
{
    type Output = Tensor<(B, C), f32, Cpu, T>;
    type Error = FerError;

    fn try_forward(&self, x: Tensor<(B, C, H, W), f32, Cpu, T>) -> Result<Self::Output> {
        global_avg_pool2d(x)
    }
}
