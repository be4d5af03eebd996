//! `TrainConfig`: every setting of a training run, checked once before training and saved as
//! `train_config.json` beside the checkpoint so a run can be resumed and reproduced.

use serde::{Deserialize, Serialize};

use super::config::{Arch, DropoutRates};
use super::schedule::Schedule;
use crate::error::{FerError, Result};
use crate::ops::OptimizerKind;

fn default_plateau_patience() -> usize {
    3
}

/// Which augmentation pipeline the training batches go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Augmentation {
    /// The faces as they are.
    None,
    /// [`AugmentPipeline::light`](crate::data::augment::AugmentPipeline::light).
    Light,
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
    /// Passes over the training set. Default 40.
    pub epochs: usize,
    /// Faces per step. Default 64.
    pub batch_size: usize,
    /// Peak learning rate. Default 1e-3 (Adam).
    pub learning_rate: f64,
    /// Decoupled weight decay: each step shrinks the weights by `learning rate x weight_decay`.
    /// Default 0.05 for [`Arch::Best`], 1e-4 for [`Arch::Seed`].
    pub weight_decay: f64,
    /// Epochs of linear warm-up before the cosine decay (or the plateau schedule's constant
    /// rate). Default 1.
    pub warmup_epochs: f64,
    /// The learning-rate schedule. Default [`Schedule::Cosine`] (also for `train_config.json`
    /// files written before the field existed).
    #[serde(default)]
    pub schedule: Schedule,
    /// [`Schedule::Plateau`]: epochs without a better validation accuracy before the rate is
    /// halved. Default 3.
    #[serde(default = "default_plateau_patience")]
    pub plateau_patience: usize,
    /// The optimiser. Default Adam.
    pub optimizer: OptimizerKind,
    /// Label smoothing ε: targets `(1 - ε) one_hot + ε / 7`. Default 0.1.
    pub label_smoothing: f32,
    /// Weight the loss of each face by its class's inverse frequency. Default false.
    pub class_weighted: bool,
    /// Draw each epoch's faces with [`WeightedSampler::balanced`](crate::data::balance::WeightedSampler)
    /// instead of a shuffle. Default false.
    pub balanced_sampler: bool,
    /// Augmentation of the training batches. Default [`Augmentation::Light`] for
    /// [`Arch::Best`], [`Augmentation::Default`] for [`Arch::Seed`].
    pub augmentation: Augmentation,
    /// Dropout in training; `None` is the network's standard ([`Arch::dropout`]), which
    /// `train_config.json` files written before the field existed used. Default 0.05 per block
    /// and 0.2 in the head for [`Arch::Best`] (half its standard: the shipped model's recipe),
    /// `None` for [`Arch::Seed`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropout: Option<DropoutRates>,
    /// Stop after this many epochs without a better validation accuracy. Default 10.
    pub patience: Option<usize>,
    /// Seed of the weights, dropout, batch order and augmentation. Default 0.
    pub seed: u64,
}

impl TrainConfig {
    /// The defaults for `arch`: for [`Arch::Best`], the recipe of the shipped model
    /// (data/models/fer-cnn/README.md). The seed's network keeps the augmentation, weight decay
    /// and dropout of its reported run; the light augmentation, the stronger decay and the
    /// halved dropout were chosen on PublicTest for ours.
    pub fn new(arch: Arch) -> Self {
        let (augmentation, weight_decay, dropout) = match arch {
            Arch::Best => (
                Augmentation::Light,
                0.05,
                Some(DropoutRates {
                    block: 0.05,
                    head: 0.2,
                }),
            ),
            Arch::Seed => (Augmentation::Default, 1e-4, None),
        };
        TrainConfig {
            arch,
            epochs: 40,
            batch_size: 64,
            learning_rate: 1e-3,
            weight_decay,
            warmup_epochs: 1.0,
            schedule: Schedule::Cosine,
            plateau_patience: default_plateau_patience(),
            optimizer: OptimizerKind::Adam,
            label_smoothing: 0.1,
            class_weighted: false,
            balanced_sampler: false,
            augmentation,
            dropout,
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
        let dropout = self.dropout_rates();
        for (name, rate) in [
            ("dropout.block", dropout.block),
            ("dropout.head", dropout.head),
        ] {
            if !(0.0..1.0).contains(&rate) {
                return Err(FerError::invalid_parameter(
                    name,
                    format!("{rate} is not in [0, 1)"),
                ));
            }
        }
        if self.plateau_patience == 0 {
            return Err(FerError::invalid_parameter(
                "plateau_patience",
                "must be at least 1",
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

    /// The dropout training uses: [`dropout`](Self::dropout), else the network's standard.
    pub fn dropout_rates(&self) -> DropoutRates {
        self.dropout.unwrap_or(self.arch.dropout())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    /// A train_config.json written before schedules and dropout settings existed (the model
    /// shipped until session 4 had this one) still loads, with the default schedule and the
    /// standard dropout; a config round-trips through JSON.
    #[test]
    fn train_config_json_is_backward_compatible() {
        let before_schedules = r#"{"arch": "best", "epochs": 16, "batch_size": 64,
            "learning_rate": 0.001, "weight_decay": 0.0001, "warmup_epochs": 1.0,
            "optimizer": "adam", "label_smoothing": 0.1, "class_weighted": false,
            "balanced_sampler": false, "augmentation": "default", "patience": 10, "seed": 0}"#;
        let config: TrainConfig = serde_json::from_str(before_schedules).unwrap();
        assert_eq!(config.schedule, Schedule::Cosine);
        assert_eq!(config.plateau_patience, 3);
        assert_eq!(config.epochs, 16);
        // Before dropout was a setting, runs trained with the network's standard rates.
        assert_eq!(config.dropout, None);
        assert_eq!(
            config.dropout_rates(),
            DropoutRates {
                block: 0.1,
                head: 0.4
            }
        );
        assert!(!serde_json::to_string(&config).unwrap().contains("dropout"));
        let plateau = TrainConfig {
            schedule: Schedule::Plateau,
            dropout: Some(DropoutRates {
                block: 0.05,
                head: 0.2,
            }),
            ..config
        };
        let json = serde_json::to_string(&plateau).unwrap();
        assert!(json.contains("\"schedule\":\"plateau\""), "{json}");
        assert!(
            json.contains("\"dropout\":{\"block\":0.05,\"head\":0.2}"),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<TrainConfig>(&json).unwrap(), plateau);
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
        let mut config = TrainConfig::new(Arch::Best);
        config.plateau_patience = 0;
        assert!(config
            .check()
            .unwrap_err()
            .to_string()
            .contains("plateau_patience"));
        let mut config = TrainConfig::new(Arch::Best);
        config.dropout = Some(DropoutRates {
            block: 0.1,
            head: 1.0,
        });
        let err = config.check().unwrap_err().to_string();
        assert!(
            err.contains("dropout.head") && err.contains("[0, 1)"),
            "{err}"
        );
        assert!(TrainConfig::new(Arch::Seed).check().is_ok());
    }
}
