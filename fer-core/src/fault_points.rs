//! Named points on the training and saving paths, where a test can watch a `fer` process and
//! kill it at a known moment.
//!
//! Off unless the environment asks (one `std::env::var_os` per process, then a cached check):
//! with `FER_FAULT_TRACE=FILE`, each point reached appends its name and a newline to `FILE`;
//! with `FER_FAULT_PAUSE_MS=N` as well, the process then sleeps N ms, so that a kill sent on
//! seeing a point lands while the process stands there (between two renames of a checkpoint
//! save, say) rather than wherever it got to meanwhile. The kill test
//! (`tests/e2e/kill_resume.rs`) uses them to SIGKILL `fer train cnn` during steps, validation
//! and checkpoint writes.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// The environment variable naming the trace file.
pub const TRACE_ENV: &str = "FER_FAULT_TRACE";
/// The environment variable giving the pause at each point, in milliseconds.
pub const PAUSE_ENV: &str = "FER_FAULT_PAUSE_MS";

struct Trace {
    file: Mutex<File>,
    pause: Duration,
}

fn trace() -> Option<&'static Trace> {
    static TRACE: OnceLock<Option<Trace>> = OnceLock::new();
    TRACE
        .get_or_init(|| {
            let path = std::env::var_os(TRACE_ENV).filter(|p| !p.is_empty())?;
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .ok()?;
            let pause = std::env::var(PAUSE_ENV)
                .ok()
                .and_then(|ms| ms.parse().ok())
                .map_or(Duration::ZERO, Duration::from_millis);
            Some(Trace {
                file: Mutex::new(file),
                pause,
            })
        })
        .as_ref()
}

/// Marks the point `name()` (built only when tracing is on): appends it to the trace file and
/// pauses, if the environment asks for either; otherwise does nothing.
pub(crate) fn reached(name: impl FnOnce() -> String) {
    let Some(trace) = trace() else {
        return;
    };
    let line = name() + "\n";
    if let Ok(mut file) = trace.file.lock() {
        // One write of the whole line, to a file opened for appending: a reader never sees
        // half a name. A failed write only loses a trace line.
        let _ = file.write_all(line.as_bytes());
    }
    std::thread::sleep(trace.pause);
}
