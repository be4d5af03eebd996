//! What a training run tells its caller while it works. The library never prints: the caller
//! decides how progress looks (the `fer` command draws a bar on a terminal, a notebook prints a
//! line per epoch, a test collects the records).

use super::history::EpochRecord;

/// Receives a training run's progress. Every method does nothing by default, so an observer
/// implements only what it shows.
pub trait TrainObserver {
    /// Epoch `epoch` (1-based) of `epochs` starts; it has `steps` steps, of which `done` are
    /// already done (a run resumed mid-epoch).
    fn epoch_started(&mut self, epoch: usize, epochs: usize, steps: usize, done: usize) {
        let _ = (epoch, epochs, steps, done);
    }

    /// A training step ended; `loss` and `accuracy` are the epoch's running means so far.
    fn step_ended(&mut self, loss: f64, accuracy: f64) {
        let _ = (loss, accuracy);
    }

    /// An epoch ended, its validation pass included.
    fn epoch_ended(&mut self, record: &EpochRecord, epochs: usize) {
        let _ = (record, epochs);
    }

    /// The run stopped: finished, stopped early, interrupted or failed.
    fn finished(&mut self) {}
}

/// Observes nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl TrainObserver for Silent {}

/// Calls a closure with each epoch's record:
/// `train(.., &mut EachEpoch(|record| println!("{record}")))`.
#[derive(Debug, Clone, Copy)]
pub struct EachEpoch<F>(pub F);

impl<F: FnMut(&EpochRecord)> TrainObserver for EachEpoch<F> {
    fn epoch_ended(&mut self, record: &EpochRecord, _epochs: usize) {
        (self.0)(record);
    }
}

/// Keeps every epoch's record (tests, and callers that show them afterwards).
#[derive(Debug, Clone, Default)]
pub struct Records(pub Vec<EpochRecord>);

impl TrainObserver for Records {
    fn epoch_ended(&mut self, record: &EpochRecord, _epochs: usize) {
        self.0.push(*record);
    }
}
