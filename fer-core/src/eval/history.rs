//! One line of a training history, as the training loop records it and the training-curve plot
//! reads it.

use serde::{Deserialize, Serialize};

/// What happened in one training epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean cross-entropy over the epoch's training batches.
    pub train_loss: f64,
    /// Accuracy on the training batches during the epoch (with augmentation and dropout on).
    pub train_accuracy: f64,
    /// Cross-entropy on the validation split after the epoch.
    pub val_loss: f64,
    /// Accuracy on the validation split after the epoch.
    pub val_accuracy: f64,
    /// Learning rate used in the epoch (the last one, if it changed within the epoch).
    pub learning_rate: f64,
    /// Wall-clock seconds the epoch took, validation included.
    pub seconds: f64,
    /// Training throughput: training images per second.
    pub images_per_s: f64,
}
