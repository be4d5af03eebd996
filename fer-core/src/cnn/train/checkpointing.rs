//! A run's checkpoints on disk: the best epoch's in the output folder, the last epoch's in
//! `last/` with everything a resume needs, written so that a crash at any moment leaves one
//! whole checkpoint to resume from.

use std::path::{Path, PathBuf};

use super::position::Position;
use crate::cnn::checkpoint::save_checkpoint;
use crate::cnn::history::EpochRecord;
use crate::cnn::model::CnnModel;
use crate::cnn::optimizer_state::{OptimizerState, OPTIMIZER_FILE};
use crate::error::{FerError, Result};

/// Sub-folder of the output folder holding the last epoch's checkpoint (for `--resume`); the
/// output folder itself holds the best epoch's (highest validation accuracy).
pub const LAST_DIR: &str = "last";

/// File name of the run's [position](Position) inside `last/`.
pub const POSITION_FILE: &str = "position.json";

/// Where `last/` is assembled before it replaces the previous one.
pub(super) const STAGING_DIR: &str = ".last.new";
/// Where the previous `last/` waits while the new one is renamed into place; a crash between
/// the two renames leaves it as the checkpoint to resume from.
pub(super) const PREVIOUS_DIR: &str = ".last.old";

/// File name of the [`TrainConfig`] in the output folder.
pub const TRAIN_CONFIG_FILE: &str = "train_config.json";

pub(super) fn remove_folder(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(FerError::io(path, e)),
        _ => Ok(()),
    }
}

/// Writes the resumable checkpoint: assembled in a staging folder, then renamed over `last/`,
/// so `last/` is always one consistent save (weights, optimiser, history, position), never a
/// mix of two.
pub(super) fn save_last(
    dir: &Path,
    model: &CnnModel,
    history: &[EpochRecord],
    optimizer: &OptimizerState,
    position: &Position,
) -> Result<PathBuf> {
    let (staging, last, previous) = (
        dir.join(STAGING_DIR),
        dir.join(LAST_DIR),
        dir.join(PREVIOUS_DIR),
    );
    remove_folder(&staging)?;
    save_checkpoint(&staging, model, history)?;
    optimizer.save(&staging.join(OPTIMIZER_FILE))?;
    crate::fs::write_json_atomically(&staging.join(POSITION_FILE), position)?;
    if last.is_dir() {
        remove_folder(&previous)?;
        std::fs::rename(&last, &previous).map_err(|e| FerError::io(&last, e))?;
        crate::fault_points::reached(|| format!("moved {}", previous.display()));
    }
    std::fs::rename(&staging, &last).map_err(|e| FerError::io(&last, e))?;
    crate::fault_points::reached(|| format!("moved {}", last.display()));
    remove_folder(&previous)?;
    Ok(last)
}

/// The best checkpoint's folder and its `last/` sibling, for callers that report paths.
pub fn checkpoint_paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.to_path_buf(), dir.join(LAST_DIR))
}
