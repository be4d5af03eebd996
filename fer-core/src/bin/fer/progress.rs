//! Progress on stderr for work that takes seconds or more: a spinner or a bar on a terminal,
//! plain lines otherwise (logs, CI, pipes), so stdout stays free for results and `--json`.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use fer_core::cnn::{EpochRecord, TrainObserver};
use indicatif::{ProgressBar, ProgressStyle};

/// One named piece of work: a live spinner with the elapsed time on a terminal, else a line
/// when it starts and one when it ends.
pub struct Step {
    label: String,
    bar: Option<ProgressBar>,
    started: Instant,
}

impl Step {
    /// Starts showing `label` ("fitting the HOG baseline").
    pub fn start(label: impl Into<String>) -> Step {
        let label = label.into();
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message(label.clone());
            bar.enable_steady_tick(Duration::from_millis(120));
            Some(bar)
        } else {
            eprintln!("{label} ...");
            None
        };
        Step {
            label,
            bar,
            started: Instant::now(),
        }
    }

    /// Ends the step with a line saying how long it took, and returns the seconds.
    pub fn finish(self) -> f64 {
        let seconds = self.started.elapsed().as_secs_f64();
        let line = format!("{}: done in {seconds:.1} s", self.label);
        match &self.bar {
            Some(bar) => {
                bar.finish_and_clear();
                eprintln!("{line}");
            }
            None => eprintln!("{line}"),
        }
        seconds
    }
}

impl Drop for Step {
    /// A step abandoned by an error clears its spinner, so the error message starts on a clean
    /// line.
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A byte counter for downloads: a bar (or a spinner if the size is unknown) on a terminal;
/// otherwise nothing until [`Bytes::finish`] prints the total.
pub struct Bytes {
    bar: Option<ProgressBar>,
    done: u64,
}

impl Bytes {
    /// Starts a counter for `total` bytes, if known.
    pub fn start(total: Option<u64>) -> Bytes {
        let bar = std::io::stderr().is_terminal().then(|| {
            let (bar, template) = match total {
                Some(n) => (
                    ProgressBar::new(n),
                    "[{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                ),
                None => (
                    ProgressBar::new_spinner(),
                    "{spinner} {bytes} {bytes_per_sec}",
                ),
            };
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        Bytes { bar, done: 0 }
    }

    /// Counts `n` more bytes.
    pub fn add(&mut self, n: u64) {
        self.done += n;
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Clears the bar and returns the bytes counted.
    pub fn finish(self) -> u64 {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        self.done
    }
}

/// A training run's progress: a bar per epoch on a terminal, one line per epoch on stderr
/// otherwise.
pub struct Epochs {
    bar: Option<ProgressBar>,
}

impl Epochs {
    /// A bar if stderr is a terminal, else lines.
    pub fn new() -> Epochs {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        Epochs { bar }
    }
}

impl TrainObserver for Epochs {
    fn epoch_started(&mut self, epoch: usize, epochs: usize, steps: usize, done: usize) {
        if let Some(bar) = &self.bar {
            bar.reset();
            bar.set_length(steps as u64);
            bar.set_position(done as u64);
            bar.set_prefix(format!("epoch {epoch}/{epochs}"));
        }
    }

    fn step_ended(&mut self, loss: f64, accuracy: f64) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(format!("loss {loss:.4} acc {accuracy:.4}"));
        }
    }

    fn epoch_ended(&mut self, record: &EpochRecord, epochs: usize) {
        let line = format!("epoch {}/{epochs}: {}", record.epoch, record.figures());
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    fn finished(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
