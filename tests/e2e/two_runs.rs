//! Two runs at once: a second `fer train cnn` with the `--out` of a running one refuses,
//! naming the folder and the other process; two processes filling the decoded-data cache at
//! once leave one valid cache, and both loads succeed.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::common::{fer, json_of, path_str, stderr, BandFixture};

#[cfg(unix)]
#[test]
fn a_second_run_on_the_same_out_refuses_naming_the_folder_and_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, cache, ck) = (
        tmp.path().join("data"),
        tmp.path().join("cache"),
        tmp.path().join("ck"),
    );
    let trace = tmp.path().join("trace");
    BandFixture {
        train_per_class: 8,
        test_per_class: 2,
        without: &[],
        blank_every: None,
        noise: 50,
        seed: 3,
    }
    .write(&data);
    let args = [
        "train",
        "cnn",
        "--data",
        path_str(&data),
        "--epochs",
        "1",
        "--batch",
        "16",
        "--augment",
        "none",
        "--out",
        path_str(&ck),
    ];
    // The first run pauses 2 s at each fault point, so it is surely still running (and holding
    // its folder) when the second starts.
    let mut first = Command::new(env!("CARGO_BIN_EXE_fer"))
        .args(args)
        .env("FER_CACHE_DIR", &cache)
        .env_remove("FER2013_DIR")
        .env("FER_FAULT_TRACE", &trace)
        .env("FER_FAULT_PAUSE_MS", "2000")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::fs::read_to_string(&trace)
        .unwrap_or_default()
        .is_empty()
    {
        assert!(started.elapsed() < Duration::from_secs(120), "no step");
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = fer(&cache, &args);
    let err = stderr(&second);
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(!second.status.success(), "the second run started: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains(path_str(&ck)),
        "the folder is not named: {err}"
    );
    assert!(
        err.contains(&format!("pid {}", first.id())),
        "the other process is not named: {err}"
    );
}

#[cfg(unix)]
#[test]
fn two_processes_filling_the_data_cache_at_once_leave_one_valid_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, cache) = (tmp.path().join("data"), tmp.path().join("cache"));
    BandFixture {
        train_per_class: 30,
        test_per_class: 5,
        without: &[],
        blank_every: None,
        noise: 50,
        seed: 4,
    }
    .write(&data);
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_fer"))
            .args(["stats", "--data", path_str(&data), "--json"])
            .env("FER_CACHE_DIR", &cache)
            .env_remove("FER2013_DIR")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let (a, b) = (json_of(&a), json_of(&b));
    assert_eq!(a, b);
    // One cache file, no temporary left, and a third load reads it (a hit) with the same data.
    let files: Vec<String> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let third = fer(&cache, &["stats", "--data", path_str(&data), "--json"]);
    assert_eq!(json_of(&third), a);
    let data = fer_core::data::load_with_cache(&data, Some(&fer_core::data::Cache::new(&cache)));
    let (_, status) = data.unwrap();
    assert!(
        matches!(status, fer_core::data::CacheStatus::Hit(_)),
        "{status:?}"
    );
}
