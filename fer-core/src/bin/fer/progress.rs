//! Progress on stderr for work that takes seconds or more: a spinner or a bar on a terminal,
//! plain lines otherwise (logs, CI, pipes), so stdout stays free for results and `--json`.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

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
