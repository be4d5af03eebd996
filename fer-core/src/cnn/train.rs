//! The training loop: seeded mini-batches (shuffled or class-balanced), augmentation,
//! AdamW or Nesterov SGD under a warm-up + cosine schedule, label smoothing and optional class
//! weights, a validation pass per epoch, early stopping, and checkpoints of the best and the
//! last epoch.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use dfdx::losses::cross_entropy_with_logits_loss;
use dfdx::optim::{Adam, AdamConfig, Momentum, Optimizer, Sgd, SgdConfig, WeightDecay};
use dfdx::shapes::Const;
use dfdx::tensor::{AsArray, Cpu, Gradients, TensorFromVec, Trace};
use dfdx::tensor_ops::Backward;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::best_model::BestModel;
use super::checkpoint::{load_checkpoint, load_history, save_checkpoint};
use super::config::ModelConfig;
use super::model::{CnnModel, Network};
use super::seed_model::SeedModel;
use super::train_config::{Augmentation, OptimizerKind, TrainConfig};
use crate::data::augment::AugmentPipeline;
use crate::data::balance::{inverse_frequency_weights, WeightedSampler};
use crate::data::{Dataset, PixelStats, IMAGE_PIXELS};
use crate::error::{FerError, Result};
use crate::eval::EpochRecord;
use crate::Emotion;

/// Sub-folder of the output folder holding the last epoch's checkpoint (for `--resume`); the
/// output folder itself holds the best epoch's (highest validation accuracy).
pub const LAST_DIR: &str = "last";

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
    /// Continue from `dir/last` and its history instead of starting afresh.
    pub resume: bool,
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

/// The optimiser state, typed by the network it updates.
pub(crate) enum OptimizerState {
    SeedAdam(Adam<SeedModel, f32, Cpu>),
    BestAdam(Adam<BestModel, f32, Cpu>),
    SeedSgd(Sgd<SeedModel, f32, Cpu>),
    BestSgd(Sgd<BestModel, f32, Cpu>),
}

impl OptimizerState {
    pub(crate) fn new(network: &Network, config: &TrainConfig) -> Self {
        let decay =
            (config.weight_decay > 0.0).then_some(WeightDecay::Decoupled(config.weight_decay));
        let adam = AdamConfig {
            lr: config.learning_rate,
            weight_decay: decay,
            ..AdamConfig::default()
        };
        let sgd = SgdConfig {
            lr: config.learning_rate,
            momentum: Some(Momentum::Nesterov(0.9)),
            weight_decay: decay,
        };
        match (network, config.optimizer) {
            (Network::Seed(m), OptimizerKind::Adam) => Self::SeedAdam(Adam::new(m.as_ref(), adam)),
            (Network::Best(m), OptimizerKind::Adam) => Self::BestAdam(Adam::new(m.as_ref(), adam)),
            (Network::Seed(m), OptimizerKind::SgdNesterov) => {
                Self::SeedSgd(Sgd::new(m.as_ref(), sgd))
            }
            (Network::Best(m), OptimizerKind::SgdNesterov) => {
                Self::BestSgd(Sgd::new(m.as_ref(), sgd))
            }
        }
    }

    pub(crate) fn step(
        &mut self,
        network: &mut Network,
        grads: &Gradients<f32, Cpu>,
        lr: f64,
    ) -> Result<()> {
        let result = match (self, network) {
            (Self::SeedAdam(o), Network::Seed(m)) => {
                o.cfg.lr = lr;
                o.update(m.as_mut(), grads)
            }
            (Self::BestAdam(o), Network::Best(m)) => {
                o.cfg.lr = lr;
                o.update(m.as_mut(), grads)
            }
            (Self::SeedSgd(o), Network::Seed(m)) => {
                o.cfg.lr = lr;
                o.update(m.as_mut(), grads)
            }
            (Self::BestSgd(o), Network::Best(m)) => {
                o.cfg.lr = lr;
                o.update(m.as_mut(), grads)
            }
            _ => return Err(FerError::Fit("optimiser built for another network".into())),
        };
        result.map_err(|e| FerError::Fit(format!("optimiser update: {e}")))
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

/// Trains a model of `config.arch` on `train`, choosing the best epoch on `validation`
/// (PublicTest in the protocol: never the split that is reported).
///
/// With `checkpoints.dir`, the best epoch's checkpoint is written there and the last epoch's
/// in `last/` after every epoch; with `resume`, the run continues from `last/` (weights and
/// history; the optimiser's moments restart from zero, as dfdx cannot save them). A NaN or
/// infinite loss stops the run with an error naming the epoch and step; the checkpoints of
/// the epochs before it stay.
pub fn train(
    train: &Dataset,
    validation: &Dataset,
    config: &TrainConfig,
    checkpoints: &CheckpointOptions,
    progress: Progress,
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
    let (mut model, mut history) = match (&checkpoints.dir, checkpoints.resume) {
        (Some(dir), true) => {
            let last = dir.join(LAST_DIR);
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
            (model, load_history(&dir.join(LAST_DIR))?)
        }
        _ => (
            CnnModel::new(
                ModelConfig::new(config.arch),
                PixelStats::fit(train)?,
                &device,
            )?,
            Vec::new(),
        ),
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
    let class_weights = if config.class_weighted {
        inverse_frequency_weights(&train.class_counts())?
    } else {
        [1.0; Emotion::COUNT]
    };
    let steps_per_epoch = train.len() / config.batch_size;
    let total_steps = steps_per_epoch * config.epochs;
    let warmup_steps = (config.warmup_epochs * steps_per_epoch as f64).round() as usize;
    let mut optimizer = OptimizerState::new(&model.network, config);
    let mut grads = model.network.alloc_grads()?;
    let reporter = Reporter::new(progress, steps_per_epoch);
    let batch = config.batch_size;
    let mut pixels = vec![0.0f32; batch * IMAGE_PIXELS];

    for epoch in history.len()..config.epochs {
        let started = Instant::now();
        let order = epoch_order(train, config, epoch)?;
        let mut loss_sum = 0.0;
        let mut correct = 0usize;
        let mut seen = 0usize;
        let mut learning_rate = 0.0;
        reporter.start_epoch(epoch + 1, config.epochs);
        // The last partial batch is dropped: a batch of one breaks batch norm.
        for (step, indices) in order.chunks_exact(batch).enumerate() {
            let global_step = epoch * steps_per_epoch + step;
            let batch_seed = ChaCha8Rng::seed_from_u64(config.seed ^ global_step as u64).gen();
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
            let x = device.try_tensor_from_vec(
                pixels.clone(),
                (batch, Const::<1>, Const::<48>, Const::<48>),
            )?;
            let y = device.try_tensor_from_vec(targets, (batch, Const::<7>))?;
            let logits = model.network.forward_train(x.traced(grads))?;
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
            learning_rate = config.learning_rate_at(global_step, warmup_steps, total_steps);
            optimizer.step(&mut model.network, &grads, learning_rate)?;
            model.network.zero_grads(&mut grads)?;
            loss_sum += f64::from(loss_value);
            for (row, &i) in logit_values.chunks_exact(Emotion::COUNT).zip(indices) {
                let predicted = (0..Emotion::COUNT)
                    .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                    .unwrap_or(0);
                correct += usize::from(predicted == train.labels()[i].index());
            }
            seen += indices.len();
            reporter.step(loss_sum / (step + 1) as f64, correct as f64 / seen as f64);
        }
        let train_seconds = started.elapsed().as_secs_f64();
        let (val_loss, val_accuracy) = evaluate_loss_accuracy(&model, validation)?;
        let record = EpochRecord {
            epoch: epoch + 1,
            train_loss: loss_sum / steps_per_epoch.max(1) as f64,
            train_accuracy: correct as f64 / seen.max(1) as f64,
            val_loss,
            val_accuracy,
            learning_rate,
            seconds: started.elapsed().as_secs_f64(),
            images_per_s: seen as f64 / train_seconds,
        };
        history.push(record);
        reporter.end_epoch(&record, config.epochs);
        if val_accuracy > best_accuracy {
            best_accuracy = val_accuracy;
            best_epoch = epoch + 1;
            best = model.clone();
            if let Some(dir) = &checkpoints.dir {
                save_checkpoint(dir, &best, &history)?;
            }
        }
        if let Some(dir) = &checkpoints.dir {
            save_checkpoint(&dir.join(LAST_DIR), &model, &history)?;
        }
        if config
            .patience
            .is_some_and(|patience| epoch + 1 >= best_epoch + patience)
        {
            break;
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

    fn start_epoch(&self, epoch: usize, epochs: usize) {
        if let Some(bar) = &self.bar {
            bar.reset();
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

    /// Same seed, same history; a checkpoint reloads to identical predictions; a corrupt or
    /// mismatched checkpoint is refused naming the file.
    #[test]
    fn seeded_runs_repeat_and_checkpoints_round_trip() {
        let (train_set, val_set) = (squares(4, 3), squares(2, 4));
        let dir = tempfile::tempdir().unwrap();
        let options = CheckpointOptions {
            dir: Some(dir.path().to_path_buf()),
            resume: false,
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

        // Resume runs the epochs still missing (one more here).
        let resumed = train(
            &train_set,
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
        .unwrap();
        assert_eq!(resumed.history.len(), 2);
        assert_eq!(resumed.history[0].train_loss, first.history[0].train_loss);

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
}
