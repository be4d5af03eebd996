//! Where a run stands inside its epochs: saved beside the `last/` checkpoint, so a resumed run
//! continues at the very step it stopped.

use serde::{Deserialize, Serialize};

use crate::cnn::schedule::PlateauState;
use crate::Emotion;

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
    pub(super) fn start_of(
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
