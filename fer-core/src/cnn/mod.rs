//! The convolutional network: the two architectures (built from [`crate::ops`]' kernels and
//! dfdx's layers), training, checkpoints and inference.

pub mod bench;
pub mod best_model;
pub mod checkpoint;
#[cfg(test)]
mod checkpoint_fuzz;
pub mod config;
pub mod folded;
pub mod history;
pub mod model;
pub mod observer;
mod optimizer_state;
pub mod predict;
mod schedule;
pub mod seed_model;
pub mod train;
pub mod train_config;
pub mod tta;

pub use best_model::BestModel;
pub use checkpoint::{load_checkpoint, save_checkpoint};
pub use config::{Arch, DropoutRates, ModelConfig};
pub use folded::FoldedBest;
pub use history::EpochRecord;
pub use model::{CnnModel, Network};
pub use observer::{EachEpoch, Records, Silent, TrainObserver};
pub use optimizer_state::OPTIMIZER_FILE;
pub use schedule::{PlateauState, Schedule};
pub use seed_model::SeedModel;
pub use train::{train, CheckpointOptions, TrainOutcome};
pub use train_config::{Augmentation, TrainConfig};
pub use tta::{Tta, DEFAULT_TTA_SHIFT, MAX_TTA_SHIFT};

pub use crate::ops::OptimizerKind;
