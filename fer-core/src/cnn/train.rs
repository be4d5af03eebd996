//! The training loop: seeded mini-batches (shuffled or class-balanced), augmentation,
//! AdamW or Nesterov SGD (our own, [`super::optimizer`]) under a warm-up + cosine, one-cycle or
//! reduce-on-plateau schedule, label smoothing and optional class weights, a validation pass per
//! epoch, early stopping, and checkpoints of the best and the last epoch.
//!
//! A run can be stopped between any two steps (Ctrl-C in `fer train cnn`, through
//! [`CheckpointOptions::interrupt`]) and resumed exactly: everything random in a step derives
//! from (seed, epoch, step) alone (the epoch's order, the batch's augmentation, and dropout,
//! which draws from a device seeded per step), and the `last/` checkpoint holds the weights,
//! the optimiser's moments, the history and the position inside the epoch. A resumed run ends
//! with the same weights and metrics as an uninterrupted one, bit for bit (a test checks it on
//! two rayon threads: every parallel sum in the convolutions runs in an order fixed by the
//! thread count, never by scheduling). A different thread count may change the last bits.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use dfdx::losses::cross_entropy_with_logits_loss;
use dfdx::shapes::Const;
use dfdx::tensor::{AsArray, Cpu, Gradients, TensorFromVec, Trace};
use dfdx::tensor_ops::Backward;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::checkpoint::{load_checkpoint, load_history, save_checkpoint};
use super::config::ModelConfig;
use super::model::{CnnModel, Network};
use super::optimizer::{Optimizer, OPTIMIZER_FILE};
use super::train_config::{Augmentation, PlateauState, Schedule, TrainConfig};
use crate::data::augment::AugmentPipeline;
use crate::data::balance::{inverse_frequency_weights, WeightedSampler};
use crate::data::{Dataset, PixelStats, IMAGE_PIXELS};
use crate::error::{FerError, Result};
use crate::eval::EpochRecord;
use crate::Emotion;

/// Sub-folder of the output folder holding the last epoch's checkpoint (for `--resume`); the
/// output folder itself holds the best epoch's (highest validation accuracy).
pub const LAST_DIR: &str = "last";

/// File name of the run's [position](Position) inside `last/`.
pub const POSITION_FILE: &str = "position.json";

/// Where `last/` is assembled before it replaces the previous one.
const STAGING_DIR: &str = ".last.new";
/// Where the previous `last/` waits while the new one is renamed into place; a crash between
/// the two renames leaves it as the checkpoint to resume from.
const PREVIOUS_DIR: &str = ".last.old";

/// File name of the [`TrainConfig`] in the output folder.
pub const TRAIN_CONFIG_FILE: &str = "train_config.json";

/// How the loop reports progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A progress bar on a terminal, one line per epoch on stderr otherwise.
    Auto,
    /// One line per epoch on stderr (notebooks: evcxr shows no progress bars).
    Lines,
    /// Nothing.
    Quiet,
}

/// Where and how a run keeps its checkpoints.
#[derive(Debug, Clone, Default)]
pub struct CheckpointOptions {
    /// Output folder (best epoch's checkpoint; the last epoch's in `last/`). None: keep nothing.
    pub dir: Option<PathBuf>,
    /// Continue from `dir/last` (weights, optimiser state, history and position) instead of
    /// starting afresh.
    pub resume: bool,
    /// When this becomes true (a Ctrl-C handler sets it), the run stops before its next step,
    /// saves a resumable checkpoint in `dir/last` (if `dir` is set) and returns
    /// [`FerError::Interrupted`].
    pub interrupt: Option<Arc<AtomicBool>>,
}

/// What a run returns.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// The model of the epoch with the best validation accuracy.
    pub best: CnnModel,
    /// 1-based epoch of `best`.
    pub best_epoch: usize,
    /// One record per epoch run (including resumed ones).
    pub history: Vec<EpochRecord>,
}

/// The optimiser, for the network being trained.
#[derive(Debug, Clone)]
pub(crate) struct OptimizerState(Optimizer);

impl OptimizerState {
    /// A fresh optimiser of `config.optimizer` (zero moments).
    pub(crate) fn new(_network: &Network, config: &TrainConfig) -> Self {
        OptimizerState(Optimizer::new(config.optimizer, config.weight_decay))
    }

    /// The state saved at `path` for `network`.
    fn load(path: &Path, network: &Network, config: &TrainConfig) -> Result<Self> {
        let (kind, decay) = (config.optimizer, config.weight_decay);
        Ok(OptimizerState(match network {
            Network::Seed(m) => Optimizer::load(path, kind, decay, m.as_ref())?,
            Network::Best(m) => Optimizer::load(path, kind, decay, m.as_ref())?,
        }))
    }

    /// One update of `network` with learning rate `lr` (`grads` is read in place, unchanged).
    pub(crate) fn step(
        &mut self,
        network: &mut Network,
        grads: &mut Gradients<f32, Cpu>,
        lr: f64,
    ) -> Result<()> {
        match network {
            Network::Seed(m) => self.0.update(m.as_mut(), grads, lr),
            Network::Best(m) => self.0.update(m.as_mut(), grads, lr),
        }
    }
}

/// Where a run stands: saved in `last/` beside the weights and the optimiser state after every
/// epoch and on interruption.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// 0-based epoch in progress (or the next to run, when `step` is 0).
    pub epoch: usize,
    /// Steps of `epoch` already done.
    pub step: usize,
    /// Sum of the training losses of those steps.
    pub loss_sum: f64,
    /// Training faces those steps classified correctly.
    pub correct: usize,
    /// Training faces those steps saw.
    pub seen: usize,
    /// Training seconds those steps took.
    pub seconds: f64,
    /// The learning rate of the last step.
    pub learning_rate: f64,
    /// The reduce-on-plateau schedule's state after the epochs done.
    pub plateau: PlateauState,
    /// The run's training faces per class, in [`Emotion`] order: a run resumes only on the
    /// faces it started with. `None` in checkpoints saved before it was kept.
    #[serde(default)]
    pub train_class_counts: Option<[usize; Emotion::COUNT]>,
}

impl Position {
    /// The start of 0-based `epoch` of a run on `train_class_counts` faces per class.
    fn start_of(
        epoch: usize,
        plateau: PlateauState,
        train_class_counts: [usize; Emotion::COUNT],
    ) -> Self {
        Position {
            epoch,
            step: 0,
            loss_sum: 0.0,
            correct: 0,
            seen: 0,
            seconds: 0.0,
            learning_rate: 0.0,
            plateau,
            train_class_counts: Some(train_class_counts),
        }
    }
}

/// Loss and accuracy of `model` on `data` (eval mode, no augmentation).
pub fn evaluate_loss_accuracy(model: &CnnModel, data: &Dataset) -> Result<(f64, f64)> {
    use crate::EmotionClassifier;
    let proba = model.predict_proba(data)?;
    let mut loss = 0.0;
    let mut correct = 0usize;
    for (row, label) in proba.rows().into_iter().zip(data.labels()) {
        let truth = label.index();
        loss -= f64::from(row[truth].max(1e-12)).ln();
        let predicted = (0..Emotion::COUNT)
            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
            .unwrap_or(0);
        correct += usize::from(predicted == truth);
    }
    let n = data.len() as f64;
    Ok((loss / n, correct as f64 / n))
}

fn pipeline(augmentation: Augmentation) -> AugmentPipeline {
    match augmentation {
        Augmentation::None => AugmentPipeline::none(),
        Augmentation::Light => AugmentPipeline::light(),
        Augmentation::Default => AugmentPipeline::default(),
        Augmentation::Strong => AugmentPipeline::strong(),
    }
}

/// The faces of epoch `epoch` (0-based), from the run's seed and the epoch alone, so a resumed
/// run draws what an uninterrupted one would have.
fn epoch_order(train: &Dataset, config: &TrainConfig, epoch: usize) -> Result<Vec<usize>> {
    let seed = config.seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    if config.balanced_sampler {
        return WeightedSampler::balanced(train.labels()).map(|s| s.epoch(train.len(), seed));
    }
    let mut order: Vec<usize> = (0..train.len()).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    Ok(order)
}

/// The seeds of global step `step`: the batch's augmentation, and the device its tensors live
/// on, from whose generator dfdx's dropout draws its masks. A device per step (rather than one
/// for the run) makes the masks a function of (seed, step), so a run resumed mid-epoch draws
/// the masks an uninterrupted one would.
fn step_seeds(seed: u64, step: usize) -> (u64, u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ step as u64);
    (rng.gen(), rng.gen())
}

/// The `last/` checkpoint a resumed run continues from.
struct Resumed {
    model: CnnModel,
    history: Vec<EpochRecord>,
    optimizer: OptimizerState,
    position: Position,
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
fn check_same_settings(dir: &Path, config: &TrainConfig) -> Result<()> {
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

fn load_resumed(
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
        let optimizer = OptimizerState::load(&last.join(OPTIMIZER_FILE), &model.network, config)?;
        (optimizer, position)
    } else {
        // A checkpoint saved before optimiser state was kept: continue after its last epoch
        // with fresh moments, as --resume then did; the plateau state is replayed.
        let mut plateau = PlateauState::default();
        for record in &history {
            plateau.observe(record.val_accuracy, config.plateau_patience);
        }
        (
            OptimizerState::new(&model.network, config),
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

fn remove_folder(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(FerError::io(path, e)),
        _ => Ok(()),
    }
}

/// Writes the resumable checkpoint: assembled in a staging folder, then renamed over `last/`,
/// so `last/` is always one consistent save (weights, optimiser, history, position), never a
/// mix of two.
fn save_last(
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
    optimizer.0.save(&staging.join(OPTIMIZER_FILE))?;
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

/// Trains a model of `config.arch` on `train`, choosing the best epoch on `validation`
/// (PublicTest in the protocol: never the split that is reported).
///
/// With `checkpoints.dir`, the best epoch's checkpoint is written there and a resumable one in
/// `last/` after every epoch (see the [module docs](self)); with `resume`, the run continues
/// from `last/` exactly where it stopped, even mid-epoch. A NaN or infinite loss stops the run
/// with an error naming the epoch and step; the checkpoints of the epochs before it stay. An
/// interrupt (see [`CheckpointOptions::interrupt`]) gives [`FerError::Interrupted`] after
/// saving.
pub fn train(
    train: &Dataset,
    validation: &Dataset,
    config: &TrainConfig,
    checkpoints: &CheckpointOptions,
    progress: Progress,
) -> Result<TrainOutcome> {
    run(train, validation, config, checkpoints, progress, None)
}

/// [`train`], stopping as if interrupted before global step `stop_before` (tests).
fn run(
    train: &Dataset,
    validation: &Dataset,
    config: &TrainConfig,
    checkpoints: &CheckpointOptions,
    progress: Progress,
    stop_before: Option<usize>,
) -> Result<TrainOutcome> {
    config.check()?;
    if train.len() < config.batch_size {
        return Err(FerError::invalid_parameter(
            "batch_size",
            format!(
                "{} is larger than the {} training faces",
                config.batch_size,
                train.len()
            ),
        ));
    }
    if validation.is_empty() {
        return Err(FerError::EmptyDataset("the validation split".into()));
    }
    let device = Cpu::seed_from_u64(config.seed);
    let train_class_counts = train.class_counts();
    let resumed = match (&checkpoints.dir, checkpoints.resume) {
        (Some(dir), true) => Some(load_resumed(dir, config, train_class_counts)?),
        _ => None,
    };
    let Resumed {
        mut model,
        mut history,
        mut optimizer,
        mut position,
    } = match resumed {
        Some(resumed) => resumed,
        None => {
            let model = CnnModel::new(
                ModelConfig::new(config.arch),
                PixelStats::fit(train)?,
                &device,
            )?;
            let optimizer = OptimizerState::new(&model.network, config);
            Resumed {
                model,
                history: Vec::new(),
                optimizer,
                position: Position::start_of(0, PlateauState::default(), train_class_counts),
            }
        }
    };
    if let Some(dir) = &checkpoints.dir {
        std::fs::create_dir_all(dir).map_err(|e| FerError::io(dir, e))?;
        crate::fs::write_json_atomically(&dir.join(TRAIN_CONFIG_FILE), config)?;
    }
    let mut best_epoch = history
        .iter()
        .max_by(|a, b| a.val_accuracy.total_cmp(&b.val_accuracy))
        .map_or(0, |r| r.epoch);
    let mut best_accuracy = history
        .iter()
        .map(|r| r.val_accuracy)
        .fold(f64::NEG_INFINITY, f64::max);
    let mut best = match (&checkpoints.dir, best_epoch) {
        (Some(dir), e) if e > 0 => load_checkpoint(dir)?,
        _ => model.clone(),
    };

    let augment = pipeline(config.augmentation);
    let dropout = config.dropout_rates();
    let class_weights = if config.class_weighted {
        inverse_frequency_weights(&train_class_counts)?
    } else {
        [1.0; Emotion::COUNT]
    };
    let steps_per_epoch = train.len() / config.batch_size;
    let total_steps = steps_per_epoch * config.epochs;
    let warmup_steps = (config.warmup_epochs * steps_per_epoch as f64).round() as usize;
    let mut grads = model.network.alloc_grads()?;
    let reporter = Reporter::new(progress, steps_per_epoch);
    let batch = config.batch_size;
    let mut pixels = vec![0.0f32; batch * IMAGE_PIXELS];
    let interrupted = || {
        checkpoints
            .interrupt
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::SeqCst))
    };

    while position.epoch < config.epochs {
        // Early stopping, checked before an epoch starts so a resumed run that had stopped
        // stays stopped.
        if position.step == 0
            && config
                .patience
                .is_some_and(|patience| position.epoch >= best_epoch + patience)
        {
            break;
        }
        let epoch = position.epoch;
        let order = epoch_order(train, config, epoch)?;
        reporter.start_epoch(epoch + 1, config.epochs, position.step);
        // The last partial batch is dropped: a batch of one breaks batch norm.
        for (step, indices) in order.chunks_exact(batch).enumerate().skip(position.step) {
            let global_step = epoch * steps_per_epoch + step;
            if interrupted() || stop_before == Some(global_step) {
                reporter.finish();
                let checkpoint = match &checkpoints.dir {
                    Some(dir) => Some(save_last(dir, &model, &history, &optimizer, &position)?),
                    None => None,
                };
                return Err(FerError::Interrupted {
                    epoch: epoch + 1,
                    step,
                    checkpoint,
                });
            }
            crate::fault_points::reached(|| format!("step {}.{}", epoch + 1, step + 1));
            let started = Instant::now();
            let (batch_seed, device_seed) = step_seeds(config.seed, global_step);
            let step_device = Cpu::seed_from_u64(device_seed);
            augment.augment_indices(train, indices, batch_seed, &mut pixels)?;
            model.standardize_unit(&mut pixels);
            let mut targets = vec![0.0f32; batch * Emotion::COUNT];
            let smooth = config.label_smoothing / Emotion::COUNT as f32;
            for (row, &i) in targets.chunks_exact_mut(Emotion::COUNT).zip(indices) {
                let label = train.labels()[i].index();
                let weight = class_weights[label];
                row.iter_mut().for_each(|t| *t = smooth * weight);
                row[label] += (1.0 - config.label_smoothing) * weight;
            }
            let x = step_device.try_tensor_from_vec(
                pixels.clone(),
                (batch, Const::<1>, Const::<48>, Const::<48>),
            )?;
            let y = step_device.try_tensor_from_vec(targets, (batch, Const::<7>))?;
            let logits = model.network.forward_train(x.traced(grads), dropout)?;
            let logit_values = logits.as_vec();
            let loss = cross_entropy_with_logits_loss(logits, y);
            let loss_value = loss.array();
            if !loss_value.is_finite() {
                return Err(FerError::Fit(format!(
                    "the loss became {loss_value} at epoch {}, step {} (lower the learning \
                     rate); the checkpoints of earlier epochs are kept",
                    epoch + 1,
                    step + 1
                )));
            }
            grads = loss.try_backward()?;
            let learning_rate = config.scheduled_learning_rate(
                global_step,
                warmup_steps,
                total_steps,
                &position.plateau,
            );
            optimizer.step(&mut model.network, &mut grads, learning_rate)?;
            model.network.zero_grads(&mut grads)?;
            position.step = step + 1;
            position.learning_rate = learning_rate;
            position.loss_sum += f64::from(loss_value);
            for (row, &i) in logit_values.chunks_exact(Emotion::COUNT).zip(indices) {
                let predicted = (0..Emotion::COUNT)
                    .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                    .unwrap_or(0);
                position.correct += usize::from(predicted == train.labels()[i].index());
            }
            position.seen += indices.len();
            position.seconds += started.elapsed().as_secs_f64();
            reporter.step(
                position.loss_sum / position.step as f64,
                position.correct as f64 / position.seen as f64,
            );
        }
        crate::fault_points::reached(|| format!("validate {}", epoch + 1));
        let validating = Instant::now();
        let (val_loss, val_accuracy) = evaluate_loss_accuracy(&model, validation)?;
        let record = EpochRecord {
            epoch: epoch + 1,
            train_loss: position.loss_sum / steps_per_epoch.max(1) as f64,
            train_accuracy: position.correct as f64 / position.seen.max(1) as f64,
            val_loss,
            val_accuracy,
            learning_rate: position.learning_rate,
            seconds: position.seconds + validating.elapsed().as_secs_f64(),
            images_per_s: position.seen as f64 / position.seconds.max(1e-9),
        };
        history.push(record);
        reporter.end_epoch(&record, config.epochs);
        let mut plateau = position.plateau;
        if config.schedule == Schedule::Plateau {
            plateau.observe(val_accuracy, config.plateau_patience);
        }
        position = Position::start_of(epoch + 1, plateau, train_class_counts);
        if val_accuracy > best_accuracy {
            best_accuracy = val_accuracy;
            best_epoch = epoch + 1;
            best = model.clone();
            if let Some(dir) = &checkpoints.dir {
                save_checkpoint(dir, &best, &history)?;
            }
        }
        if let Some(dir) = &checkpoints.dir {
            save_last(dir, &model, &history, &optimizer, &position)?;
        }
    }
    reporter.finish();
    Ok(TrainOutcome {
        best,
        best_epoch,
        history,
    })
}

/// Writes a progress bar or plain lines.
struct Reporter {
    bar: Option<indicatif::ProgressBar>,
    lines: bool,
}

impl Reporter {
    fn new(progress: Progress, steps: usize) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let bar = (progress == Progress::Auto && terminal).then(|| {
            let bar = indicatif::ProgressBar::new(steps as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Reporter {
            lines: progress == Progress::Lines || (progress == Progress::Auto && !terminal),
            bar,
        }
    }

    /// Starts epoch `epoch` (1-based) at step `done` (0 unless resumed mid-epoch).
    fn start_epoch(&self, epoch: usize, epochs: usize, done: usize) {
        if let Some(bar) = &self.bar {
            bar.reset();
            bar.set_position(done as u64);
            bar.set_prefix(format!("epoch {epoch}/{epochs}"));
        }
    }

    fn step(&self, loss: f64, accuracy: f64) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(format!("loss {loss:.4} acc {accuracy:.4}"));
        }
    }

    fn end_epoch(&self, r: &EpochRecord, epochs: usize) {
        let line = format!(
            "epoch {}/{epochs}: train loss {:.4} acc {:.4} | val loss {:.4} acc {:.4} | lr {:.2e} | {:.1} s, {:.0} img/s",
            r.epoch, r.train_loss, r.train_accuracy, r.val_loss, r.val_accuracy, r.learning_rate,
            r.seconds, r.images_per_s
        );
        if let Some(bar) = &self.bar {
            bar.println(line);
        } else if self.lines {
            eprintln!("{line}");
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The best checkpoint's folder and its `last/` sibling, for callers that report paths.
pub fn checkpoint_paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.to_path_buf(), dir.join(LAST_DIR))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cnn::config::Arch;
    use crate::cnn::train_config::OptimizerKind;
    use crate::data::{Origin, Usage};
    use crate::EmotionClassifier;

    /// Faces whose class is a bright 12x12 square at one of 7 positions on a noisy background:
    /// learnable in a few epochs, and no class is guessable from the mean gray level.
    fn squares(per_class: usize, seed: u64) -> Dataset {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut data = Dataset::new();
        for i in 0..per_class * Emotion::COUNT {
            let class = i % Emotion::COUNT;
            let mut face = [0u8; IMAGE_PIXELS];
            face.iter_mut().for_each(|p| *p = rng.gen_range(0..120));
            let (top, left) = (6 * (class % 2) + 8, 4 * class + 4);
            for r in top..top + 12 {
                for c in left..left + 12 {
                    face[r * 48 + c] = rng.gen_range(180..=255);
                }
            }
            let label = Emotion::from_index(class).unwrap();
            data.push(&face, label, Usage::Training, Origin::CsvLine(i as u64));
        }
        data
    }

    fn small_config(epochs: usize) -> TrainConfig {
        TrainConfig {
            epochs,
            batch_size: 16,
            learning_rate: 3e-3,
            augmentation: Augmentation::None,
            patience: None,
            ..TrainConfig::new(Arch::Best)
        }
    }

    /// 168 training faces, 6 epochs of 10 steps: the loss falls and validation accuracy on
    /// fresh faces is far above the 1/7 = 14% of chance.
    #[test]
    fn the_loop_learns() {
        let (train_set, val_set) = (squares(24, 1), squares(8, 2));
        let outcome = train(
            &train_set,
            &val_set,
            &small_config(6),
            &CheckpointOptions::default(),
            Progress::Quiet,
        )
        .unwrap();
        let h = &outcome.history;
        assert_eq!(h.len(), 6);
        assert!(h[5].train_loss < 0.7 * h[0].train_loss, "{h:?}");
        let best = h.iter().map(|r| r.val_accuracy).fold(0.0, f64::max);
        assert!(best >= 0.6, "{h:?}");
        assert_eq!(h[outcome.best_epoch - 1].val_accuracy, best);
    }

    /// Runs `f` on a two-thread rayon pool, as on the 2-core machines this project is measured
    /// on: the convolutions then split batches across threads, whose weight-gradient partial
    /// sums must still be added in a fixed order for runs to be bit-reproducible.
    fn on_two_threads<T: Send>(f: impl FnOnce() -> T + Send) -> T {
        rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap()
            .install(f)
    }

    /// The named tensors of a safetensors file, sorted by name, as raw bytes.
    fn tensors_of(path: &Path) -> Vec<(String, Vec<u8>)> {
        let bytes = std::fs::read(path).unwrap();
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut all: Vec<(String, Vec<u8>)> = file
            .tensors()
            .into_iter()
            .map(|(name, view)| (name, view.data().to_vec()))
            .collect();
        all.sort();
        all
    }

    /// Asserts that two runs ended in the same place: the same `last/` weights (batch-norm
    /// statistics included) and optimiser moments, bit for bit, and the same history (the
    /// validation loss to 1e-6: the eval-mode convolutions reduce across threads).
    fn assert_same_run(a: &Path, b: &Path, ha: &[EpochRecord], hb: &[EpochRecord]) {
        for file in [super::super::checkpoint::WEIGHTS_FILE, OPTIMIZER_FILE] {
            let (ta, tb) = (
                tensors_of(&a.join(LAST_DIR).join(file)),
                tensors_of(&b.join(LAST_DIR).join(file)),
            );
            assert!(!ta.is_empty());
            assert_eq!(
                ta.iter().map(|t| &t.0).collect::<Vec<_>>(),
                tb.iter().map(|t| &t.0).collect::<Vec<_>>()
            );
            for ((name, x), (_, y)) in ta.iter().zip(&tb) {
                assert!(x == y, "{file}: `{name}` differs");
            }
        }
        assert_eq!(ha.len(), hb.len());
        for (x, y) in ha.iter().zip(hb) {
            assert_eq!(
                (x.epoch, x.train_loss, x.train_accuracy, x.val_accuracy),
                (y.epoch, y.train_loss, y.train_accuracy, y.val_accuracy)
            );
            assert_eq!(x.learning_rate, y.learning_rate);
            assert!((x.val_loss - y.val_loss).abs() < 1e-6 * x.val_loss.max(1.0));
        }
    }

    /// A run stopped between two steps (mid-epoch, or at an epoch's start) and resumed ends
    /// with the weights, optimiser state and metrics of an uninterrupted run: with augmentation
    /// and dropout on, for AdamW under reduce-on-plateau and SGD under one-cycle.
    #[test]
    fn interrupted_runs_resume_exactly() {
        on_two_threads(interrupted_runs_resume_exactly_on_two_threads);
    }

    fn interrupted_runs_resume_exactly_on_two_threads() {
        let (train_set, val_set) = (squares(8, 5), squares(2, 6));
        // 56 faces in batches of 8: 7 steps per epoch, 3 epochs.
        let cases = [
            (OptimizerKind::Adam, Schedule::Plateau, 10),
            (OptimizerKind::SgdNesterov, Schedule::OneCycle, 7),
        ];
        for (optimizer, schedule, stop) in cases {
            let config = TrainConfig {
                epochs: 3,
                batch_size: 8,
                optimizer,
                schedule,
                plateau_patience: 1,
                augmentation: Augmentation::Default,
                learning_rate: if optimizer == OptimizerKind::Adam {
                    3e-3
                } else {
                    3e-2
                },
                ..small_config(3)
            };
            let (whole, parts) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let options = |dir: &Path, resume| CheckpointOptions {
                dir: Some(dir.to_path_buf()),
                resume,
                interrupt: None,
            };
            let uninterrupted = train(
                &train_set,
                &val_set,
                &config,
                &options(whole.path(), false),
                Progress::Quiet,
            )
            .unwrap();
            let err = run(
                &train_set,
                &val_set,
                &config,
                &options(parts.path(), false),
                Progress::Quiet,
                Some(stop),
            )
            .unwrap_err();
            let (epoch, step) = (stop / 7 + 1, stop % 7);
            let message = err.to_string();
            assert!(
                matches!(err, FerError::Interrupted { epoch: e, step: s, .. } if (e, s) == (epoch, step)),
                "{message}"
            );
            assert!(
                message.contains(&format!("interrupted at epoch {epoch} step {step}"))
                    && message.contains("--resume")
                    && message.contains(LAST_DIR),
                "{message}"
            );
            let position: Position =
                crate::fs::read_json(&parts.path().join(LAST_DIR).join(POSITION_FILE)).unwrap();
            assert_eq!((position.epoch, position.step), (epoch - 1, step));
            // Other settings are refused, naming each changed field (more epochs are allowed);
            // the exact resume below shows the refusal left the checkpoint as it was.
            let changed = TrainConfig {
                epochs: 4,
                label_smoothing: 0.2,
                seed: 9,
                ..config
            };
            let refusal = train(
                &train_set,
                &val_set,
                &changed,
                &options(parts.path(), true),
                Progress::Quiet,
            )
            .unwrap_err()
            .to_string();
            assert!(
                refusal.contains("label_smoothing 0.1")
                    && refusal.contains("seed 0 (now 9)")
                    && !refusal.contains("epochs")
                    && refusal.contains(TRAIN_CONFIG_FILE),
                "{refusal}"
            );
            let resumed = train(
                &train_set,
                &val_set,
                &config,
                &options(parts.path(), true),
                Progress::Quiet,
            )
            .unwrap();
            assert_same_run(
                whole.path(),
                parts.path(),
                &uninterrupted.history,
                &resumed.history,
            );
            assert_eq!(uninterrupted.best_epoch, resumed.best_epoch);
            assert!(!parts.path().join(STAGING_DIR).exists());
            assert!(!parts.path().join(PREVIOUS_DIR).exists());
        }
    }

    /// The interrupt flag stops a run before its next step; without an output folder there is
    /// nothing to resume, and the message says so.
    #[test]
    fn the_interrupt_flag_stops_the_run() {
        let (train_set, val_set) = (squares(4, 3), squares(2, 4));
        let flag = Arc::new(AtomicBool::new(true));
        let err = train(
            &train_set,
            &val_set,
            &small_config(2),
            &CheckpointOptions {
                interrupt: Some(flag),
                ..CheckpointOptions::default()
            },
            Progress::Quiet,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("interrupted at epoch 1 step 0") && err.contains("no checkpoint"),
            "{err}"
        );
    }

    /// Same seed, same history; a checkpoint reloads to identical predictions; a corrupt or
    /// mismatched checkpoint is refused naming the file.
    #[test]
    fn seeded_runs_repeat_and_checkpoints_round_trip() {
        on_two_threads(seeded_runs_repeat_on_two_threads);
    }

    fn seeded_runs_repeat_on_two_threads() {
        let (train_set, val_set) = (squares(4, 3), squares(2, 4));
        let dir = tempfile::tempdir().unwrap();
        let options = CheckpointOptions {
            dir: Some(dir.path().to_path_buf()),
            resume: false,
            interrupt: None,
        };
        let config = small_config(1);
        let first = train(&train_set, &val_set, &config, &options, Progress::Quiet).unwrap();
        let second = train(
            &train_set,
            &val_set,
            &config,
            &CheckpointOptions::default(),
            Progress::Quiet,
        )
        .unwrap();
        // Training is bit-identical; the evaluation pass may differ in the 8th digit of the
        // loss (seen once: a multi-threaded reduction in the eval-mode convolutions).
        let (a, b) = (&first.history[0], &second.history[0]);
        assert_eq!(
            (a.train_loss, a.train_accuracy),
            (b.train_loss, b.train_accuracy)
        );
        assert_eq!(a.val_accuracy, b.val_accuracy);
        assert!(
            (a.val_loss - b.val_loss).abs() < 1e-6 * a.val_loss,
            "{a:?} {b:?}"
        );

        let reloaded = load_checkpoint(dir.path()).unwrap();
        assert_eq!(
            reloaded.predict_proba(&val_set).unwrap(),
            first.best.predict_proba(&val_set).unwrap()
        );
        // serde_json parses floats to within one ulp (exactly only with `float_roundtrip`).
        let saved = load_history(dir.path()).unwrap();
        assert_eq!(saved.len(), 1);
        assert!((saved[0].val_loss - first.history[0].val_loss).abs() < 1e-12);

        let resume_on = |faces: &Dataset| {
            train(
                faces,
                &val_set,
                &TrainConfig {
                    epochs: 2,
                    ..config
                },
                &CheckpointOptions {
                    resume: true,
                    ..options.clone()
                },
                Progress::Quiet,
            )
        };
        // Resume is refused on other training faces (a different limit or data set), naming
        // both sets; the refusal leaves the checkpoint as it was (the resume below uses it).
        let err = resume_on(&squares(5, 3)).unwrap_err().to_string();
        assert!(
            err.contains("trained on 28 faces (angry 4,") && err.contains("has 35 faces"),
            "{err}"
        );

        // Resume runs the epochs still missing (one more here).
        let resumed = resume_on(&train_set).unwrap();
        assert_eq!(resumed.history.len(), 2);
        // ... and ends where an uninterrupted two-epoch run does.
        let whole = tempfile::tempdir().unwrap();
        let uninterrupted = train(
            &train_set,
            &val_set,
            &TrainConfig {
                epochs: 2,
                ..config
            },
            &CheckpointOptions {
                dir: Some(whole.path().to_path_buf()),
                ..options.clone()
            },
            Progress::Quiet,
        )
        .unwrap();
        assert_same_run(
            whole.path(),
            dir.path(),
            &uninterrupted.history,
            &resumed.history,
        );

        // Weights of the other architecture.
        let config_path = dir.path().join(super::super::checkpoint::CONFIG_FILE);
        ModelConfig::new(Arch::Seed).save(&config_path).unwrap();
        let err = load_checkpoint(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("model.safetensors") && err.contains("`seed`"),
            "{err}"
        );
        ModelConfig::new(Arch::Best).save(&config_path).unwrap();
        // A truncated weights file.
        let weights = dir.path().join(super::super::checkpoint::WEIGHTS_FILE);
        let bytes = std::fs::read(&weights).unwrap();
        std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
        let err = load_checkpoint(dir.path()).unwrap_err().to_string();
        assert!(err.contains("model.safetensors"), "{err}");
    }

    /// Resuming compares the dropout training uses: a run saved without rates (the standard)
    /// resumes with the standard rates named, and is refused other rates, naming the setting.
    #[test]
    fn resuming_compares_the_dropout_training_uses() {
        let dir = tempfile::tempdir().unwrap();
        let standard = TrainConfig {
            dropout: None,
            ..TrainConfig::new(Arch::Best)
        };
        crate::fs::write_json_atomically(&dir.path().join(TRAIN_CONFIG_FILE), &standard).unwrap();
        let named = TrainConfig {
            dropout: Some(Arch::Best.dropout()),
            ..standard
        };
        assert!(check_same_settings(dir.path(), &named).is_ok());
        let halved = TrainConfig::new(Arch::Best);
        let err = check_same_settings(dir.path(), &halved)
            .unwrap_err()
            .to_string();
        assert!(err.contains("dropout"), "{err}");
    }
}
