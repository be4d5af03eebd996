//! The convolutional network on dfdx: convolution and pooling ops, layers, models, training and
//! checkpoints.
//!
//! dfdx 0.13 compiles its convolution and pooling only with its `nightly` feature, which no
//! longer builds; [`conv2d`], [`max_pool2d`], [`avg_pool2d`] and [`global_avg_pool2d`] are those
//! operations on dfdx's stable API (im2col or Winograd, and the `gemm` crate), and [`Conv2d`], [`MaxPool2d`],
//! [`AvgPool2d`] and [`GlobalAvgPool`] the layers that compose with dfdx's own.

pub mod allocator;
pub mod batch_norm_op;
pub mod bench;
pub mod block_tail_op;
pub mod conv_layer;
pub mod conv_op;
pub mod im2col;
pub mod matmul;
pub mod pool_layer;
pub mod pool_op;
pub mod scratch;
pub mod seed_model;
mod winograd;

#[cfg(test)]
mod checkpoint_fuzz;

pub use allocator::retain_freed_memory;
pub use batch_norm_op::{batch_norm2d_eval, batch_norm2d_train, Activation};
pub use block_tail_op::{
    conv_norm_pool_dropout_train, conv_norm_train, norm_pool_dropout_train, ReluPlacement,
};
pub use conv_layer::Conv2d;
pub use conv_op::{conv2d, conv2d_with, ConvOptions, ConvShape};
pub use im2col::WindowGeometry;
pub use pool_layer::{AvgPool2d, GlobalAvgPool, MaxPool2d};
pub use pool_op::{avg_pool2d, global_avg_pool2d, max_pool2d};
pub use seed_model::SeedModel;
pub mod best_model;
pub mod checkpoint;
pub mod config;
pub mod model;
pub mod optimizer;
pub use best_model::BestModel;
pub use checkpoint::{load_checkpoint, save_checkpoint};
pub use config::{Arch, DropoutRates, ModelConfig};
pub use model::{CnnModel, Network};
pub mod train;
pub mod train_config;
pub use optimizer::Optimizer;
pub use train::{train, CheckpointOptions, Progress, TrainOutcome};
pub use train_config::{Augmentation, OptimizerKind, PlateauState, Schedule, TrainConfig};
pub mod predict;
pub mod tta;
pub use tta::{Tta, DEFAULT_TTA_SHIFT, MAX_TTA_SHIFT};
