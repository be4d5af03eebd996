//! A kill at any moment loses nothing: `fer train cnn` on a small fixture is SIGKILLed
//! [`KILLS`] times at seeded pseudo-random moments (at the start, during a training step,
//! during validation, and inside checkpoint saves), resumed after each kill, and its final
//! checkpoints are compared bit for bit with an uninterrupted run's. After every kill each
//! checkpoint folder that has weights must load, and once a resumable checkpoint exists one
//! must always exist.
//!
//! The moments come from the library's fault points (`FER_FAULT_TRACE`, `FER_FAULT_PAUSE_MS`):
//! the process appends the name of each point it reaches (`step E.S`, `validate E`, `written
//! FILE` just before a file's rename, `moved DIR` after a folder's rename) to a trace file and
//! pauses [`PAUSE_MS`] there; the test waits for a chosen line, sleeps a seeded 0-1.5 pauses
//! (so the kill lands at the point or in the work right after it) and sends SIGKILL.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::common::{path_str, BandFixture};

/// Kills sent (the issue asks for at least 20).
const KILLS: usize = 24;
/// Epochs of the run: enough that the kills which let an epoch finish first (every fifth)
/// never complete the run before the last kill.
const EPOCHS: usize = 6;
/// Milliseconds the process stands at each fault point.
const PAUSE_MS: u64 = 30;

/// Where a kill is aimed.
#[derive(Debug, Clone, Copy)]
enum Aim {
    /// A seeded delay after the start: loading the data, building or loading the model.
    Start(u64),
    /// The start of step `.1` of epoch `.0` (1-based).
    Step(usize, usize),
    /// The validation pass of an epoch.
    Validate(usize),
    /// The `.1`-th file or folder rename (0-based) of the checkpoint saves after an epoch's
    /// validation.
    Save(usize, usize),
}

fn train_args<'a>(data: &'a Path, out: &'a Path, resume: bool) -> Vec<&'a str> {
    let mut args = vec![
        "train",
        "cnn",
        "--data",
        path_str(data),
        "--epochs",
        "6",
        "--batch",
        "16",
        "--augment",
        "none",
        "--out",
        path_str(out),
        "--json",
    ];
    if resume {
        args.push("--resume");
    }
    args
}

fn start(cache: &Path, args: &[&str], trace: &Path, pause_ms: u64) -> Child {
    let _ = std::fs::remove_file(trace);
    Command::new(env!("CARGO_BIN_EXE_fer"))
        .args(args)
        .env("FER_CACHE_DIR", cache)
        .env_remove("FER2013_DIR")
        // The same thread count in every run: the parallel sums' order depends on it.
        .env("RAYON_NUM_THREADS", "2")
        .env("FER_FAULT_TRACE", trace)
        .env("FER_FAULT_PAUSE_MS", pause_ms.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fer starts")
}

fn trace_lines(trace: &Path) -> Vec<String> {
    std::fs::read_to_string(trace)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn is_save(line: &str) -> bool {
    line.starts_with("written ") || line.starts_with("moved ")
}

/// Saves (renames) after each epoch's validation, in the uninterrupted run's trace.
fn saves_per_epoch(lines: &[String]) -> Vec<usize> {
    let mut counts = vec![0; EPOCHS + 1];
    let mut epoch = 0;
    for line in lines {
        if let Some(e) = line.strip_prefix("validate ") {
            epoch = e.parse().unwrap();
        } else if epoch > 0 && is_save(line) && !line.ends_with("metrics.json") {
            counts[epoch] += 1;
        }
    }
    counts
}

/// Whether the trace has reached `aim`.
fn reached(lines: &[String], aim: Aim) -> bool {
    match aim {
        Aim::Start(_) => true,
        Aim::Step(e, s) => lines.iter().any(|l| *l == format!("step {e}.{s}")),
        Aim::Validate(e) => lines.iter().any(|l| *l == format!("validate {e}")),
        Aim::Save(e, n) => {
            let validate = format!("validate {e}");
            lines
                .iter()
                .skip_while(|l| **l != validate)
                .filter(|l| is_save(l))
                .nth(n)
                .is_some()
        }
    }
}

/// The epochs the resumable checkpoint has finished, if there is one (`last/`, or `.last.old`
/// while a save is between its two renames, as the library resumes).
fn resumable_epochs(ck: &Path) -> Option<usize> {
    ["last", ".last.old"].iter().find_map(|name| {
        let text = std::fs::read_to_string(ck.join(name).join("position.json")).ok()?;
        let position: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!("{name}/position.json is not whole JSON after a kill: {e}: {text}")
        });
        Some(position["epoch"].as_u64().unwrap() as usize)
    })
}

/// Every checkpoint folder with weights loads, with its history.
fn assert_loadable(ck: &Path, after: &str) {
    for dir in [ck.to_path_buf(), ck.join("last"), ck.join(".last.old")] {
        if dir.join("model.safetensors").is_file() {
            fer_core::cnn::load_checkpoint(&dir)
                .unwrap_or_else(|e| panic!("{} after {after}: {e}", dir.display()));
            fer_core::cnn::checkpoint::load_history(&dir)
                .unwrap_or_else(|e| panic!("{} after {after}: {e}", dir.display()));
        }
    }
}

/// A file's JSON without the fields that measure time (they differ between any two runs).
fn json_without_timings(path: &Path) -> Value {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                for key in ["seconds", "images_per_s"] {
                    map.remove(key);
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut value: Value = serde_json::from_str(&text).unwrap();
    strip(&mut value);
    value
}

/// A safetensors file's metadata and tensors (name, dtype, shape, bytes), in name order: what
/// it holds, bit for bit. (Not its bytes: the header's metadata map is written in hash order,
/// which differs between any two processes.)
type Tensors = (
    BTreeMap<String, String>,
    BTreeMap<String, (String, Vec<usize>, Vec<u8>)>,
);

fn tensors_of(path: &Path) -> Tensors {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let metadata = header.metadata().clone().unwrap_or_default();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let tensors = tensors
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let value = (
                format!("{:?}", view.dtype()),
                view.shape().to_vec(),
                view.data().to_vec(),
            );
            (name, value)
        })
        .collect();
    (metadata.into_iter().collect(), tensors)
}

/// Waits for `child` to reach `aim` (polling its trace), then kills it after `delay_ms`.
/// Returns the trace line it last reached, or `None` if it ended first.
fn kill_at(child: &mut Child, trace: &Path, aim: Aim, delay_ms: u64) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(300);
    if let Aim::Start(ms) = aim {
        std::thread::sleep(Duration::from_millis(ms));
    }
    while !reached(&trace_lines(trace), aim) {
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        assert!(Instant::now() < deadline, "no {aim:?} within 300 s");
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(delay_ms));
    child.kill().unwrap();
    let status = child.wait().unwrap();
    if status.code().is_some() {
        // It ended on its own just before the signal.
        return None;
    }
    Some(
        trace_lines(trace)
            .pop()
            .unwrap_or_else(|| "(nothing yet)".into()),
    )
}

#[cfg(unix)]
#[test]
fn sigkill_at_any_moment_resumes_to_the_same_checkpoint_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, cache, reference, ck) = (
        tmp.path().join("data"),
        tmp.path().join("cache"),
        tmp.path().join("reference"),
        tmp.path().join("ck"),
    );
    let trace = tmp.path().join("trace");
    // 16 training faces per emotion in batches of 16: 7 steps per epoch.
    BandFixture {
        train_per_class: 16,
        test_per_class: 3,
        without: &[],
        blank_every: None,
        noise: 50,
        seed: 7,
    }
    .write(&data);

    // The uninterrupted run, traced without pauses: the saves each epoch makes.
    let out = start(&cache, &train_args(&data, &reference, false), &trace, 0)
        .wait_with_output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let saves = saves_per_epoch(&trace_lines(&trace));
    assert!(saves[1..].iter().all(|&n| n >= 5), "{saves:?}");

    let mut rng = ChaCha8Rng::seed_from_u64(26);
    let mut moments: Vec<String> = Vec::new();
    let mut had_resumable = false;
    let mut kills = 0;
    let mut left_by_kills = 0;
    while kills < KILLS {
        let done = resumable_epochs(&ck);
        assert!(
            done.is_some() || !had_resumable,
            "the resumable checkpoint vanished after kill {kills}"
        );
        had_resumable |= done.is_some();
        let done = done.unwrap_or(0);
        assert!(done < EPOCHS, "the run finished after {kills} kills");
        // Every fifth kill lets an epoch finish first, so the run moves on.
        let epoch = done + 1 + usize::from(kills % 5 == 4 && done + 1 < EPOCHS);
        let aim = match kills % 4 {
            _ if kills == 0 => Aim::Start(rng.gen_range(0..300)),
            1 => Aim::Step(epoch, rng.gen_range(1..=7)),
            2 => Aim::Validate(epoch),
            _ => Aim::Save(epoch, rng.gen_range(0..saves[epoch])),
        };
        let delay = rng.gen_range(0..PAUSE_MS * 3 / 2);
        let mut child = start(
            &cache,
            &train_args(&data, &ck, done > 0 || had_resumable),
            &trace,
            PAUSE_MS,
        );
        let Some(last_point) = kill_at(&mut child, &trace, aim, delay) else {
            panic!("fer ended before kill {} aimed at {aim:?}", kills + 1);
        };
        kills += 1;
        let moment = format!(
            "kill {kills}: aimed at {aim:?} + {delay} ms, stopped at {:?} (epochs saved before: {done})",
            last_point.replace(path_str(tmp.path()), "")
        );
        assert_loadable(&ck, &moment);
        left_by_kills += temporaries(&ck).len();
        moments.push(moment);
    }
    // Resume to the end without a kill.
    let out = start(&cache, &train_args(&data, &ck, true), &trace, 0)
        .wait_with_output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The moments, for the record (`cargo test ... -- --nocapture` shows them).
    println!("{}", moments.join("\n"));

    for file in [
        "model.safetensors",
        "last/model.safetensors",
        "last/optimizer.safetensors",
    ] {
        assert!(
            tensors_of(&reference.join(file)) == tensors_of(&ck.join(file)),
            "{file} differs from the uninterrupted run's"
        );
    }
    for file in ["history.json", "last/history.json", "last/position.json"] {
        assert_eq!(
            json_without_timings(&reference.join(file)),
            json_without_timings(&ck.join(file)),
            "{file}"
        );
    }
    // A kill inside a save leaves its temporary file; each resume's first write into the
    // folder (train_config.json, then the staging folder's) removes it.
    println!("temporary files seen after the kills: {left_by_kills}");
    let leftovers = temporaries(&ck);
    assert!(
        leftovers.is_empty(),
        "left after the resumes: {leftovers:?}"
    );
}

/// The atomic writes' temporary files (`.fer-*.tmp`) anywhere under `dir`.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy();
            name.starts_with(".fer-") && name.ends_with(".tmp")
        })
        .map(|e| e.into_path())
        .collect()
}
