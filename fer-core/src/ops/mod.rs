//! Numerical kernels on dfdx's tape: convolution (im2col + GEMM, or Winograd), pooling, batch
//! norm, the fused conv/norm/pool/dropout tails, and the optimisers. They know nothing of faces,
//! emotions or files; the `cnn` module builds its networks and its training loop from them.
//!
//! dfdx 0.13 compiles its convolution and pooling only with its `nightly` feature, which no
//! longer builds; [`conv2d`], [`max_pool2d`], [`avg_pool2d`] and [`global_avg_pool2d`] are those
//! operations on dfdx's stable API (each registers its backward pass on the tape), and
//! [`Conv2d`], [`MaxPool2d`], [`AvgPool2d`] and [`GlobalAvgPool`] the layers that compose with
//! dfdx's own.

mod allocator;
mod batch_norm;
mod block_tail;
mod conv;
mod conv_layer;
mod im2col;
mod matmul;
mod optimizer;
mod padded_maps;
mod pool;
mod pool_layer;
mod scratch;
mod shifted_conv;
mod shifted_layer;
mod small_plane_conv;
pub mod tuning;
mod winograd;
mod winograd_maps;

pub use allocator::retain_freed_memory;
pub use batch_norm::{batch_norm2d_eval, batch_norm2d_train, eval_coefficients, Activation};
pub use block_tail::{
    conv_norm_pool_dropout_train, conv_norm_train, norm_pool_dropout_train, ReluPlacement,
};
pub use conv::{conv2d, conv2d_backward, conv2d_forward, conv2d_with, ConvOptions, ConvShape};
pub use conv_layer::Conv2d;
pub use im2col::WindowGeometry;
pub use matmul::{matmul, MatMut, MatRef};
pub use optimizer::{Optimizer, OptimizerKind, StateError, ADAM_BETAS, ADAM_EPS, SGD_MOMENTUM};
pub use padded_maps::PaddedMaps;
pub use pool::{avg_pool2d, global_avg_pool2d, max_pool2d};
pub use pool_layer::{AvgPool2d, GlobalAvgPool, MaxPool2d};
pub use shifted_conv::{conv3x3, ShiftedFilters};
pub use winograd_maps::{conv3x3_winograd, WinogradFilters};
