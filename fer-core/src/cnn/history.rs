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

impl EpochRecord {
    /// The epoch's figures on one line, without its number: `train loss 1.2345 acc 0.5000 | val
    /// loss ... | lr 1.00e-3 | 12.3 s, 456 img/s`.
    pub fn figures(&self) -> String {
        format!(
            "train loss {:.4} acc {:.4} | val loss {:.4} acc {:.4} | lr {:.2e} | {:.1} s, {:.0} img/s",
            self.train_loss,
            self.train_accuracy,
            self.val_loss,
            self.val_accuracy,
            self.learning_rate,
            self.seconds,
            self.images_per_s
        )
    }
}

impl std::fmt::Display for EpochRecord {
    /// `epoch 3: ` and [`EpochRecord::figures`].
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "epoch {}: {}", self.epoch, self.figures())
    }
}
