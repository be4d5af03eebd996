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
//! thread count, never by scheduling). That holds on one machine and thread count: a different
//! thread count, or a CPU that gets another `gemm` kernel or block sizes, may change the last
//! bits.

mod checkpointing;
mod epoch;
mod position;
mod resume;
mod run;

pub use checkpointing::{checkpoint_paths, LAST_DIR, POSITION_FILE, TRAIN_CONFIG_FILE};
pub use epoch::evaluate_loss_accuracy;
pub use position::Position;
pub use run::{train, CheckpointOptions, TrainOutcome};
