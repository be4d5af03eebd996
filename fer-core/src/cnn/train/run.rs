//! The training loop: epochs until the last one or early stopping, a validation pass after
//! each, the best epoch kept, checkpoints saved, and a stop on request that saves first.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use dfdx::tensor::Cpu;

use super::checkpointing::{save_last, TRAIN_CONFIG_FILE};
use super::epoch::{evaluate_loss_accuracy, EpochEnd, Epochs};
use super::position::Position;
use super::resume::{load_resumed, Resumed};
use crate::cnn::checkpoint::{load_checkpoint, save_checkpoint};
use crate::cnn::config::ModelConfig;
use crate::cnn::history::EpochRecord;
use crate::cnn::model::CnnModel;
use crate::cnn::observer::TrainObserver;
use crate::cnn::optimizer_state::OptimizerState;
use crate::cnn::schedule::{PlateauState, Schedule};
use crate::cnn::train_config::TrainConfig;
use crate::data::{Dataset, PixelStats};
use crate::error::{FerError, Result};

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
    observer: &mut dyn TrainObserver,
) -> Result<TrainOutcome> {
    let outcome = run(train, validation, config, checkpoints, observer, None);
    observer.finished();
    outcome
}

/// [`train`], stopping as if interrupted before global step `stop_before` (tests).
fn run(
    train: &Dataset,
    validation: &Dataset,
    config: &TrainConfig,
    checkpoints: &CheckpointOptions,
    observer: &mut dyn TrainObserver,
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
            let optimizer = OptimizerState::new(model.network(), config);
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

    let mut epochs = Epochs::new(train, config, &train_class_counts, &model)?;
    let steps_per_epoch = epochs.steps_per_epoch;
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
        let stop = |step| interrupted() || stop_before == Some(step);
        if let EpochEnd::Stopped { step } =
            epochs.run(&mut model, &mut optimizer, &mut position, observer, stop)?
        {
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
        observer.epoch_ended(&record, config.epochs);
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
    Ok(TrainOutcome {
        best,
        best_epoch,
        history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cnn::checkpoint::load_history;
    use crate::cnn::config::Arch;
    use crate::cnn::observer::{Records, Silent};
    use crate::cnn::optimizer_state::OPTIMIZER_FILE;
    use crate::cnn::train::checkpointing::{LAST_DIR, POSITION_FILE, PREVIOUS_DIR, STAGING_DIR};
    use crate::cnn::train::resume::check_same_settings;
    use crate::cnn::train_config::Augmentation;
    use crate::data::IMAGE_PIXELS;
    use crate::data::{Origin, Usage};
    use crate::ops::OptimizerKind;
    use crate::Emotion;
    use crate::EmotionClassifier;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::path::Path;

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
    /// fresh faces is far above the 1/7 = 14% of chance. The observer hears of every epoch.
    #[test]
    fn the_loop_learns() {
        let (train_set, val_set) = (squares(24, 1), squares(8, 2));
        let mut records = Records::default();
        let outcome = train(
            &train_set,
            &val_set,
            &small_config(6),
            &CheckpointOptions::default(),
            &mut records,
        )
        .unwrap();
        let h = &outcome.history;
        assert_eq!(&records.0, h);
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
        for file in [crate::cnn::checkpoint::WEIGHTS_FILE, OPTIMIZER_FILE] {
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
                &mut Silent,
            )
            .unwrap();
            let err = run(
                &train_set,
                &val_set,
                &config,
                &options(parts.path(), false),
                &mut Silent,
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
                &mut Silent,
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
                &mut Silent,
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
            &mut Silent,
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
        let first = train(&train_set, &val_set, &config, &options, &mut Silent).unwrap();
        let second = train(
            &train_set,
            &val_set,
            &config,
            &CheckpointOptions::default(),
            &mut Silent,
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
            reloaded.predict_proba(val_set.faces()).unwrap(),
            first.best.predict_proba(val_set.faces()).unwrap()
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
                &mut Silent,
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
            &mut Silent,
        )
        .unwrap();
        assert_same_run(
            whole.path(),
            dir.path(),
            &uninterrupted.history,
            &resumed.history,
        );

        // Weights of the other architecture.
        let config_path = dir.path().join(crate::cnn::checkpoint::CONFIG_FILE);
        ModelConfig::new(Arch::Seed).save(&config_path).unwrap();
        let err = load_checkpoint(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("model.safetensors") && err.contains("`seed`"),
            "{err}"
        );
        ModelConfig::new(Arch::Best).save(&config_path).unwrap();
        // A truncated weights file.
        let weights = dir.path().join(crate::cnn::checkpoint::WEIGHTS_FILE);
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
