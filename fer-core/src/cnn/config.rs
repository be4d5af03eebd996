//! `ModelConfig`: which architecture a checkpoint holds, saved as `config.json` beside its
//! weights so a checkpoint is never loaded into the wrong network.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{FerError, Result};

/// The architectures [`CnnModel`](super::CnnModel) can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    /// The seed's Keras CNN ([`SeedModel`](super::SeedModel), 4.5M parameters).
    Seed,
    /// Our CPU-sized VGG-style network ([`BestModel`](super::BestModel)).
    #[default]
    Best,
}

impl Arch {
    /// The name used in configs and on the command line (`"seed"`, `"best"`).
    pub fn name(self) -> &'static str {
        match self {
            Arch::Seed => "seed",
            Arch::Best => "best",
        }
    }

    /// The network's standard dropout: 0.25 everywhere for the seed (as in its Keras code),
    /// 0.1 per block and 0.4 before the dense layer for ours.
    pub fn dropout(self) -> DropoutRates {
        match self {
            Arch::Seed => DropoutRates {
                block: super::seed_model::SEED_DROPOUT,
                head: super::seed_model::SEED_DROPOUT,
            },
            Arch::Best => DropoutRates {
                block: super::best_model::BLOCK_DROPOUT,
                head: super::best_model::HEAD_DROPOUT,
            },
        }
    }
}

/// Dropout probabilities of a network in training (inference never drops).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DropoutRates {
    /// After each convolution block's pooling.
    pub block: f32,
    /// In the dense head: before our network's dense layer; after each of the seed's two
    /// hidden dense layers.
    pub head: f32,
}

/// What a checkpoint's weights are: the architecture and the input and output sizes it was
/// built for. Every model of this crate takes `[N, 1, 48, 48]` and gives 7 logits; the fields
/// are stored so a checkpoint from a future variant is refused rather than misread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// The network.
    pub arch: Arch,
    /// Side of the square grayscale input, 48.
    pub input_side: usize,
    /// Number of classes, 7.
    pub classes: usize,
}

impl ModelConfig {
    /// The config of `arch` on FER2013's 48x48 faces and 7 emotions.
    pub fn new(arch: Arch) -> Self {
        ModelConfig {
            arch,
            input_side: crate::data::IMAGE_SIDE,
            classes: crate::Emotion::COUNT,
        }
    }

    /// Reads and checks a `config.json`.
    pub fn load(path: &Path) -> Result<Self> {
        let config: ModelConfig = crate::fs::read_json(path)?;
        let expected = ModelConfig::new(config.arch);
        if config != expected {
            return Err(FerError::Model {
                path: path.to_path_buf(),
                message: format!(
                    "config for {}x{} inputs and {} classes; this build supports {}x{} and {}",
                    config.input_side,
                    config.input_side,
                    config.classes,
                    expected.input_side,
                    expected.input_side,
                    expected.classes
                ),
            });
        }
        Ok(config)
    }

    /// Writes it as JSON, atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::fs::write_json_atomically(path, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json_and_refuses_other_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let config = ModelConfig::new(Arch::Seed);
        config.save(&path).unwrap();
        assert_eq!(ModelConfig::load(&path).unwrap(), config);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"seed\""), "{text}");
        std::fs::write(&path, r#"{"arch":"best","input_side":64,"classes":7}"#).unwrap();
        let err = ModelConfig::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("config.json") && err.contains("64x64"),
            "{err}"
        );
    }
}
