//! Checkpoint folders: the weights (`model.safetensors`), `config.json` (the architecture),
//! `normalization.json` (the training pixel statistics) and `history.json` (the epochs so
//! far). Every file is written to a temporary name and renamed, so an interrupted save leaves
//! the previous checkpoint whole.

use std::path::{Path, PathBuf};

use dfdx::nn::{LoadFromSafetensors, SaveToSafetensors};
use dfdx::tensor::Cpu;

use super::config::ModelConfig;
use super::history::EpochRecord;
use super::model::{CnnModel, Network};
use crate::data::PixelStats;
use crate::error::{FerError, Result};

/// File name of the weights inside a checkpoint folder.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// File name of the [`ModelConfig`].
pub const CONFIG_FILE: &str = "config.json";
/// File name of the [`PixelStats`].
pub const NORMALIZATION_FILE: &str = "normalization.json";
/// File name of the training history (a JSON array of [`EpochRecord`]).
pub const HISTORY_FILE: &str = "history.json";

fn model_error(path: &Path, message: impl Into<String>) -> FerError {
    FerError::Model {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Writes `model` and `history` into `dir` (created if missing): the config and normalization
/// first, then the weights, then the history, each file atomically. So a folder that has
/// weights has the config and normalization they need and loads, even if the process was
/// killed during a save; a save killed between the weights and the history leaves the new
/// weights beside the previous history.
pub fn save_checkpoint(dir: &Path, model: &CnnModel, history: &[EpochRecord]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| FerError::io(dir, e))?;
    model.config.save(&dir.join(CONFIG_FILE))?;
    model.stats.save(&dir.join(NORMALIZATION_FILE))?;
    let weights = dir.join(WEIGHTS_FILE);
    // safetensors writes by path, so give it a temporary name in the same folder and rename.
    let temporary = dir.join(format!(".{WEIGHTS_FILE}.tmp"));
    let saved = match model.network() {
        Network::Seed(m) => m.save_safetensors(&temporary),
        Network::Best(m) => m.save_safetensors(&temporary),
    };
    if let Err(e) = saved {
        let _ = std::fs::remove_file(&temporary);
        return Err(model_error(
            &weights,
            format!(
                "writing the weights failed (the previous {WEIGHTS_FILE}, if any, is kept): {e:?}"
            ),
        ));
    }
    crate::fault_points::reached(|| format!("written {}", weights.display()));
    std::fs::rename(&temporary, &weights).map_err(|e| FerError::io(&weights, e))?;
    crate::fs::write_json_atomically(&dir.join(HISTORY_FILE), &history)
}

/// Reads the model of a checkpoint folder. A missing file, a config of another architecture
/// than the weights, or corrupt weights give [`FerError::Model`] naming the file.
pub fn load_checkpoint(dir: &Path) -> Result<CnnModel> {
    let config_path = dir.join(CONFIG_FILE);
    if !config_path.is_file() {
        return Err(model_error(
            dir,
            format!("not a checkpoint folder: no {CONFIG_FILE}"),
        ));
    }
    let config = ModelConfig::load(&config_path)?;
    let stats = PixelStats::load(&dir.join(NORMALIZATION_FILE))?;
    let mut model = CnnModel::new(config, stats, &Cpu::default())?;
    let weights: PathBuf = dir.join(WEIGHTS_FILE);
    if !weights.is_file() {
        return Err(model_error(&weights, "missing weights file"));
    }
    let loaded = match model.network_mut() {
        Network::Seed(m) => m.load_safetensors(&weights),
        Network::Best(m) => m.load_safetensors(&weights),
    };
    loaded.map_err(|e| {
        model_error(
            &weights,
            format!(
                "cannot load these weights as the `{}` architecture named in {CONFIG_FILE} \
                 (corrupt file, or weights of another architecture): {e:?}",
                config.arch.name()
            ),
        )
    })?;
    Ok(model)
}

/// Reads a checkpoint's history (empty if it has none yet).
pub fn load_history(dir: &Path) -> Result<Vec<EpochRecord>> {
    let path = dir.join(HISTORY_FILE);
    if !path.is_file() {
        return Ok(Vec::new());
    }
    crate::fs::read_json(&path)
}
