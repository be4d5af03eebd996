//! `TrainConfig`: every setting of a training run, checked once before training and saved as
//! `train_config.json` beside the checkpoint so a run can be resumed and reproduced.

use serde::{Deserialize, Serialize};

use super::config::Arch;
use crate::error::{FerError, Result};

/// The optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerKind {
    /// AdamW: Adam (betas 0.9, 0.999) with decoupled weight decay.
    Adam,
    /// SGD with Nesterov momentum 0.9 and decoupled weight decay.
    SgdNesterov,
}

/// Which augmentation pipeline the training batches go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Augmentation {
    /// The faces as they are.
    None,
    /// [`AugmentPipeline::default`](crate::data::augment::AugmentPipeline).
    Default,
    /// [`AugmentPipeline::strong`](crate::data::augment::AugmentPipeline::strong).
    Strong,
}

/// Settings of a training run. Defaults (from [`TrainConfig::new`]) are stated per field.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The network. Default [`Arch::Best`].
    pub arch: Arch,
    /// Passes over the training set. Default 30.
    pub epochs: usize,
    /// Faces per step. Default 64.
    pub batch_size: usize,
    /// Peak learning rate. Default 1e-3 (Adam).
    pub learning_rate: f64,
    /// Decoupled weight decay. Default 1e-4.
    pub weight_decay: f64,
    /// Epochs of linear warm-up before the cosine decay to 0. Default 1.
    pub warmup_epochs: f64,
    /// The optimiser. Default Adam.
    pub optimizer: OptimizerKind,
    /// Label smoothing ε: targets `(1 - ε) one_hot + ε / 7`. Default 0.1.
    pub label_smoothing: f32,
    /// Weight the loss of each face by its class's inverse frequency. Default false.
    pub class_weighted: bool,
    /// Draw each epoch's faces with [`WeightedSampler::balanced`](crate::data::balance::WeightedSampler)
    /// instead of a shuffle. Default false.
    pub balanced_sampler: bool,
    /// Augmentation of the training batches. Default [`Augmentation::Default`].
    pub augmentation: Augmentation,
    /// Stop after this many epochs without a better validation accuracy. Default 10.
    pub patience: Option<usize>,
    /// Seed of the weights, dropout, batch order and augmentation. Default 0.
    pub seed: u64,
}

impl TrainConfig {
    /// The defaults for `arch`.
    pub fn new(arch: Arch) -> Self {
        TrainConfig {
            arch,
            epochs: 30,
            batch_size: 64,
            learning_rate: 1e-3,
            weight_decay: 1e-4,
            warmup_epochs: 1.0,
            optimizer: OptimizerKind::Adam,
            label_smoothing: 0.1,
            class_weighted: false,
            balanced_sampler: false,
            augmentation: Augmentation::Default,
            patience: Some(10),
            seed: 0,
        }
    }

    /// Refuses settings that cannot work, naming the parameter.
    pub fn check(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(FerError::invalid_parameter("epochs", "must be at least 1"));
        }
        // Batch norm needs at least two faces for a batch variance.
        if self.batch_size < 2 {
            return Err(FerError::invalid_parameter(
                "batch_size",
                format!(
                    "{} is too small: batch norm needs at least 2",
                    self.batch_size
                ),
            ));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(FerError::invalid_parameter(
                "learning_rate",
                format!("{} is not a positive number", self.learning_rate),
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(FerError::invalid_parameter(
                "weight_decay",
                format!("{} is not a number >= 0", self.weight_decay),
            ));
        }
        if !(self.warmup_epochs.is_finite() && self.warmup_epochs >= 0.0) {
            return Err(FerError::invalid_parameter(
                "warmup_epochs",
                format!("{} is not a number >= 0", self.warmup_epochs),
            ));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return Err(FerError::invalid_parameter(
                "label_smoothing",
                format!("{} is not in [0, 1)", self.label_smoothing),
            ));
        }
        if self.patience == Some(0) {
            return Err(FerError::invalid_parameter(
                "patience",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// Learning rate at `step` of `total_steps`: linear warm-up over `warmup_steps`, then a
    /// cosine decay from the peak to 0 (Loshchilov & Hutter's SGDR without restarts).
    pub fn learning_rate_at(&self, step: usize, warmup_steps: usize, total_steps: usize) -> f64 {
        if step < warmup_steps {
            return self.learning_rate * (step + 1) as f64 / warmup_steps as f64;
        }
        let decay_steps = total_steps.saturating_sub(warmup_steps).max(1);
        let progress = ((step - warmup_steps) as f64 / decay_steps as f64).min(1.0);
        0.5 * self.learning_rate * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays_to_zero() {
        let config = TrainConfig::new(Arch::Best);
        // 10 warm-up steps of 110: step 4 is at 5/10 of the peak, step 10 at the peak, the
        // middle of the decay (step 60) at half of it, the end near 0.
        assert!((config.learning_rate_at(4, 10, 110) - 5e-4).abs() < 1e-12);
        assert!((config.learning_rate_at(10, 10, 110) - 1e-3).abs() < 1e-12);
        assert!((config.learning_rate_at(60, 10, 110) - 5e-4).abs() < 1e-12);
        assert!(config.learning_rate_at(109, 10, 110) < 1e-5);
    }

    #[test]
    fn refuses_settings_that_cannot_work() {
        let mut config = TrainConfig::new(Arch::Best);
        config.batch_size = 1;
        assert!(config
            .check()
            .unwrap_err()
            .to_string()
            .contains("batch_size"));
        let mut config = TrainConfig::new(Arch::Best);
        config.learning_rate = f64::NAN;
        assert!(config
            .check()
            .unwrap_err()
            .to_string()
            .contains("learning_rate"));
        assert!(TrainConfig::new(Arch::Seed).check().is_ok());
    }
}
