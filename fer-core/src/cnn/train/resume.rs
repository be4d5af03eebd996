//! Resuming a run: the `last/` checkpoint read back and checked against the run's settings and
//! training faces, so a resumed run is the interrupted one continued, or an error saying why
//! not.

use std::path::{Path, PathBuf};

use super::checkpointing::{LAST_DIR, POSITION_FILE, PREVIOUS_DIR, TRAIN_CONFIG_FILE};
use super::position::Position;
use crate::cnn::checkpoint::{load_checkpoint, load_history};
use crate::cnn::history::EpochRecord;
use crate::cnn::model::CnnModel;
use crate::cnn::optimizer_state::{OptimizerState, OPTIMIZER_FILE};
use crate::cnn::schedule::PlateauState;
use crate::cnn::train_config::TrainConfig;
use crate::error::{FerError, Result};
use crate::Emotion;

/// The `last/` checkpoint a resumed run continues from.
pub(super) struct Resumed {
    pub(super) model: CnnModel,
    pub(super) history: Vec<EpochRecord>,
    pub(super) optimizer: OptimizerState,
    pub(super) position: Position,
}

/// The folder to resume from: `last/`, or the previous one if a save was cut off between its
/// two renames.
fn resume_folder(dir: &Path) -> Result<PathBuf> {
    let last = dir.join(LAST_DIR);
    if last.is_dir() {
        return Ok(last);
    }
    let previous = dir.join(PREVIOUS_DIR);
    if previous.is_dir() {
        return Ok(previous);
    }
    Err(FerError::Model {
        path: last,
        message: "no checkpoint to resume from (the run saved none: it had neither finished an \
                  epoch nor been interrupted)"
            .into(),
    })
}

/// Settings a resumed run may change: it may run more epochs (the warm-up + cosine and
/// one-cycle schedules then stretch over the new total from the next step) or stop earlier.
const RESUMABLE_CHANGES: [&str; 2] = ["epochs", "patience"];

/// Refuses to resume with other settings than the run's own (its `train_config.json`) apart
/// from [`RESUMABLE_CHANGES`], naming the fields that differ: the optimiser, sampling and
/// augmentation of a resumed run continue the interrupted one's, so a changed setting would
/// silently give a run that is neither.
pub(super) fn check_same_settings(dir: &Path, config: &TrainConfig) -> Result<()> {
    let path = dir.join(TRAIN_CONFIG_FILE);
    if !path.is_file() {
        return Ok(());
    }
    let saved: TrainConfig = crate::fs::read_json(&path)?;
    // Compared as the rates training uses: a file that leaves them out (the network's
    // standard) equals one that names the same rates, and differs from one naming others.
    let as_json = |config: &TrainConfig| {
        let config = TrainConfig {
            dropout: Some(config.dropout_rates()),
            ..*config
        };
        serde_json::to_value(config).map_err(|source| FerError::Json {
            path: path.clone(),
            source,
        })
    };
    let (saved, asked) = (as_json(&saved)?, as_json(config)?);
    let (Some(saved), Some(asked)) = (saved.as_object(), asked.as_object()) else {
        return Ok(());
    };
    let differences: Vec<String> = saved
        .iter()
        .filter(|(field, value)| {
            !RESUMABLE_CHANGES.contains(&field.as_str()) && asked.get(*field) != Some(value)
        })
        .map(|(field, value)| {
            let asked = asked.get(field).unwrap_or(&serde_json::Value::Null);
            format!("{field} {value} (now {asked})")
        })
        .collect();
    if differences.is_empty() {
        return Ok(());
    }
    Err(FerError::Model {
        path,
        message: format!(
            "the run was started with {}: resume with the same settings",
            differences.join(", ")
        ),
    })
}

/// `counts` (faces per class) as "N faces (angry n, disgust n, ...)".
fn describe_counts(counts: &[usize; Emotion::COUNT]) -> String {
    let per_class: Vec<String> = Emotion::ALL
        .iter()
        .zip(counts)
        .map(|(emotion, n)| format!("{emotion} {n}"))
        .collect();
    format!(
        "{} faces ({})",
        counts.iter().sum::<usize>(),
        per_class.join(", ")
    )
}

/// The `last/` checkpoint of the run in `dir`, refusing other settings than `config` (see
/// [`check_same_settings`]), another architecture or other training faces.
pub(super) fn load_resumed(
    dir: &Path,
    config: &TrainConfig,
    train_class_counts: [usize; Emotion::COUNT],
) -> Result<Resumed> {
    check_same_settings(dir, config)?;
    let last = resume_folder(dir)?;
    let model = load_checkpoint(&last)?;
    if model.config.arch != config.arch {
        return Err(FerError::Model {
            path: last,
            message: format!(
                "holds a `{}` model, the run asks for `{}`",
                model.config.arch.name(),
                config.arch.name()
            ),
        });
    }
    let history = load_history(&last)?;
    let position_path = last.join(POSITION_FILE);
    let (optimizer, position) = if position_path.is_file() {
        let mut position: Position = crate::fs::read_json(&position_path)?;
        // Another training set would give other epoch orders and batches: neither the run
        // that stopped nor a new one.
        if let Some(saved) = position.train_class_counts {
            if saved != train_class_counts {
                return Err(FerError::Model {
                    path: position_path,
                    message: format!(
                        "the run trained on {}; this training set has {}: resume on the same \
                         faces (the same data set and face limit)",
                        describe_counts(&saved),
                        describe_counts(&train_class_counts)
                    ),
                });
            }
        }
        position.train_class_counts = Some(train_class_counts);
        if position.epoch != history.len() {
            return Err(FerError::Model {
                path: position_path,
                message: format!(
                    "says epoch {} is next but the history holds {} epochs",
                    position.epoch + 1,
                    history.len()
                ),
            });
        }
        let optimizer = OptimizerState::load(&last.join(OPTIMIZER_FILE), model.network(), config)?;
        (optimizer, position)
    } else {
        // A checkpoint saved before optimiser state was kept: continue after its last epoch
        // with fresh moments, as --resume then did; the plateau state is replayed.
        let mut plateau = PlateauState::default();
        for record in &history {
            plateau.observe(record.val_accuracy, config.plateau_patience);
        }
        (
            OptimizerState::new(model.network(), config),
            Position::start_of(history.len(), plateau, train_class_counts),
        )
    };
    Ok(Resumed {
        model,
        history,
        optimizer,
        position,
    })
}
