//! One epoch of training: its seeded order, then one step per batch (augmentation,
//! standardisation, forward pass with dropout, label-smoothed and optionally class-weighted
//! cross-entropy, backward pass, optimiser update under the schedule), and the loss and
//! accuracy on a split after it.

use std::time::Instant;

use dfdx::losses::cross_entropy_with_logits_loss;
use dfdx::shapes::Const;
use dfdx::tensor::{AsArray, Cpu, Gradients, TensorFromVec, Trace};
use dfdx::tensor_ops::Backward;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::position::Position;
use crate::cnn::config::DropoutRates;
use crate::cnn::model::CnnModel;
use crate::cnn::observer::TrainObserver;
use crate::cnn::optimizer_state::OptimizerState;
use crate::cnn::train_config::{Augmentation, TrainConfig};
use crate::data::augment::AugmentPipeline;
use crate::data::balance::{inverse_frequency_weights, WeightedSampler};
use crate::data::{Dataset, IMAGE_PIXELS};
use crate::error::{FerError, Result};
use crate::Emotion;

/// How an epoch's steps ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EpochEnd {
    /// Every step ran.
    Done,
    /// Asked to stop before 0-based step `step` of the epoch, which did not run.
    Stopped {
        /// The first step not run.
        step: usize,
    },
}

/// What every epoch of a run shares: its data and settings, derived once, and the buffers each
/// step reuses.
pub(super) struct Epochs<'a> {
    train: &'a Dataset,
    config: &'a TrainConfig,
    augment: AugmentPipeline,
    dropout: DropoutRates,
    class_weights: [f32; Emotion::COUNT],
    /// Full batches per epoch: the last partial batch is dropped (a batch of one breaks batch
    /// norm).
    pub(super) steps_per_epoch: usize,
    warmup_steps: usize,
    total_steps: usize,
    pixels: Vec<f32>,
    grads: Gradients<f32, Cpu>,
}

impl<'a> Epochs<'a> {
    /// The epochs of a run of `config` on `train` (`train_class_counts` faces per class) that
    /// trains `model`.
    pub(super) fn new(
        train: &'a Dataset,
        config: &'a TrainConfig,
        train_class_counts: &[usize; Emotion::COUNT],
        model: &CnnModel,
    ) -> Result<Self> {
        let steps_per_epoch = train.len() / config.batch_size;
        Ok(Epochs {
            train,
            config,
            augment: pipeline(config.augmentation),
            dropout: config.dropout_rates(),
            class_weights: if config.class_weighted {
                inverse_frequency_weights(train_class_counts)?
            } else {
                [1.0; Emotion::COUNT]
            },
            steps_per_epoch,
            warmup_steps: (config.warmup_epochs * steps_per_epoch as f64).round() as usize,
            total_steps: steps_per_epoch * config.epochs,
            pixels: vec![0.0f32; config.batch_size * IMAGE_PIXELS],
            grads: model.network().alloc_grads()?,
        })
    }

    /// Runs the steps of epoch `position.epoch` from `position.step` on, updating `model`,
    /// `optimizer` and `position` after each; stops before any global step for which `stop`
    /// is true. A NaN or infinite loss is an error naming the epoch and step.
    pub(super) fn run(
        &mut self,
        model: &mut CnnModel,
        optimizer: &mut OptimizerState,
        position: &mut Position,
        observer: &mut dyn TrainObserver,
        stop: impl Fn(usize) -> bool,
    ) -> Result<EpochEnd> {
        let (train, config) = (self.train, self.config);
        let (epoch, batch) = (position.epoch, config.batch_size);
        let order = epoch_order(train, config, epoch)?;
        observer.epoch_started(
            epoch + 1,
            config.epochs,
            self.steps_per_epoch,
            position.step,
        );
        for (step, indices) in order.chunks_exact(batch).enumerate().skip(position.step) {
            let global_step = epoch * self.steps_per_epoch + step;
            if stop(global_step) {
                return Ok(EpochEnd::Stopped { step });
            }
            crate::fault_points::reached(|| format!("step {}.{}", epoch + 1, step + 1));
            let started = Instant::now();
            let (batch_seed, device_seed) = step_seeds(config.seed, global_step);
            let step_device = Cpu::seed_from_u64(device_seed);
            self.augment
                .augment_indices(train, indices, batch_seed, &mut self.pixels)?;
            model.standardize_unit(&mut self.pixels);
            let mut targets = vec![0.0f32; batch * Emotion::COUNT];
            let smooth = config.label_smoothing / Emotion::COUNT as f32;
            for (row, &i) in targets.chunks_exact_mut(Emotion::COUNT).zip(indices) {
                let label = train.labels()[i].index();
                let weight = self.class_weights[label];
                row.iter_mut().for_each(|t| *t = smooth * weight);
                row[label] += (1.0 - config.label_smoothing) * weight;
            }
            let x = step_device.try_tensor_from_vec(
                self.pixels.clone(),
                (batch, Const::<1>, Const::<48>, Const::<48>),
            )?;
            let y = step_device.try_tensor_from_vec(targets, (batch, Const::<7>))?;
            let grads = std::mem::replace(&mut self.grads, Gradients::leaky());
            let logits = model
                .network_mut()
                .forward_train(x.traced(grads), self.dropout)?;
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
            self.grads = loss.try_backward()?;
            let learning_rate = config.scheduled_learning_rate(
                global_step,
                self.warmup_steps,
                self.total_steps,
                &position.plateau,
            );
            optimizer.step(model.network_mut(), &mut self.grads, learning_rate)?;
            model.network().zero_grads(&mut self.grads)?;
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
            observer.step_ended(
                position.loss_sum / position.step as f64,
                position.correct as f64 / position.seen as f64,
            );
        }
        Ok(EpochEnd::Done)
    }
}

/// Loss and accuracy of `model` on `data` (eval mode, no augmentation).
pub fn evaluate_loss_accuracy(model: &CnnModel, data: &Dataset) -> Result<(f64, f64)> {
    use crate::EmotionClassifier;
    let proba = model.predict_proba(data.faces())?;
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

/// The augmentation pipeline of a setting.
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
