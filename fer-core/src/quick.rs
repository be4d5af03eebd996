//! The quick run: one definition of "small and short", shared by `fer run --quick` and the
//! notebooks' quick mode (`FER_QUICK=1`). It keeps a stratified 5% of every (emotion,
//! challenge split) group and trains briefly, so the whole workflow runs in minutes; its numbers
//! show that the code works, not how good the models are.

use crate::baseline::BaselineParams;
use crate::cnn::TrainConfig;
use crate::data::{stratified_subset, Fer2013};
use crate::error::Result;

/// Share of each (emotion, split) group kept: 5% of Training (1,435 faces) and of PublicTest
/// and PrivateTest (about 180 each), so a CNN epoch takes seconds.
pub const QUICK_FRACTION: f64 = 0.05;

/// Faces kept per (emotion, split) group at least (or the whole group, if smaller), so disgust
/// (1.5% of the data) is still there to be scored, and a small fixture of 12 training faces per
/// class still fills a batch of [`QUICK_BATCH`] (7 x 5 = 35).
pub const QUICK_MIN_PER_GROUP: usize = 5;

/// Seed of the subset.
pub const QUICK_SEED: u64 = 0;

/// CNN epochs.
pub const QUICK_EPOCHS: usize = 2;

/// CNN batch size: smaller than the default 64, so the short run takes more steps.
pub const QUICK_BATCH: usize = 32;

/// L-BFGS iterations of the logistic baseline (the library's default is 100).
pub const QUICK_BASELINE_ITERATIONS: u64 = 30;

/// The quick subset of `fer`: [`QUICK_FRACTION`] of each (emotion, split) group of both of
/// its parts, at least [`QUICK_MIN_PER_GROUP`], chosen with [`QUICK_SEED`].
pub fn subset(fer: &Fer2013) -> Result<Fer2013> {
    let part = |data| stratified_subset(data, QUICK_FRACTION, QUICK_MIN_PER_GROUP, QUICK_SEED);
    Ok(Fer2013 {
        train: part(&fer.train)?,
        kaggle_test: part(&fer.kaggle_test)?,
        skipped_files: fer.skipped_files,
        cache_warning: fer.cache_warning.clone(),
    })
}

/// `config` shortened to a quick run: [`QUICK_EPOCHS`] epochs of batches of [`QUICK_BATCH`],
/// warm-up over half the first epoch (a whole epoch of it would leave a two-epoch run almost no
/// time at the peak rate), no early stopping.
pub fn train_config(config: TrainConfig) -> TrainConfig {
    TrainConfig {
        epochs: QUICK_EPOCHS,
        batch_size: QUICK_BATCH,
        warmup_epochs: 0.5,
        patience: None,
        ..config
    }
}

/// `params` shortened to a quick run: [`QUICK_BASELINE_ITERATIONS`] L-BFGS iterations.
pub fn baseline_params(params: BaselineParams) -> BaselineParams {
    params.max_iterations(QUICK_BASELINE_ITERATIONS)
}

/// What a quick run is, in one clause, for reports and notebook output.
pub fn description() -> String {
    format!(
        "a quick run ({:.0}% stratified subset, {QUICK_EPOCHS} CNN epochs): its numbers show the \
         code runs, not how good the models are",
        100.0 * QUICK_FRACTION
    )
}
