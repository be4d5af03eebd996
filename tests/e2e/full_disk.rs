//! A full disk while saving: `fer` runs under a file-size limit (`ulimit -f`, with SIGXFSZ
//! ignored so that a write past the limit fails with EFBIG, as on a full disk, instead of
//! killing the process). A checkpoint save, a report and the decoded-data and HOG caches then
//! fail with an error (or, for the caches, a warning) naming the file, and every file written
//! before is left byte for byte as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::common::{fer, path_str, stderr, BandFixture};

/// Runs `fer args` with files limited to `kib` KiB (SIGXFSZ ignored: bash's `trap ''` sets it
/// to SIG_IGN, which `exec` keeps).
fn fer_limited(cache: &Path, kib: u64, args: &[&str]) -> Output {
    Command::new("bash")
        .arg("-c")
        .arg(format!("trap '' XFSZ; ulimit -f {kib}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_fer"))
        .args(args)
        .env("FER_CACHE_DIR", cache)
        .env_remove("FER2013_DIR")
        .output()
        .expect("bash runs")
}

/// Every file under `dir` with a BLAKE3 hash of its bytes, but the `--out` lock file (it names
/// the latest process to hold the folder, and is no output).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file() && e.file_name() != ".fer.lock")
        .map(|e| {
            let bytes = std::fs::read(e.path()).unwrap();
            (
                e.path().to_path_buf(),
                blake3::hash(&bytes).to_hex().to_string(),
            )
        })
        .collect()
}

/// Asserts no panic and that `err` names a file under `dir` (its path appears in the message).
fn assert_names_a_file_in(err: &str, dir: &Path) {
    assert!(!err.contains("panicked"), "a panic: {err}");
    assert!(
        err.contains(path_str(dir)),
        "no file under {} named in: {err}",
        dir.display()
    );
}

#[cfg(unix)]
#[test]
fn a_full_disk_fails_saves_naming_the_file_and_keeps_the_previous_files_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, cache, ck) = (
        tmp.path().join("data"),
        tmp.path().join("cache"),
        tmp.path().join("ck"),
    );
    BandFixture {
        train_per_class: 12,
        test_per_class: 3,
        without: &[],
        blank_every: Some(3),
        noise: 50,
        seed: 5,
    }
    .write(&data);
    let train = |epochs: &str, resume: bool| {
        let mut args = vec![
            "train",
            "cnn",
            "--data",
            path_str(&data),
            "--epochs",
            epochs,
            "--batch",
            "16",
            "--augment",
            "none",
            "--out",
            path_str(&ck),
        ];
        if resume {
            args.push("--resume");
        }
        args.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let ok = fer(
        &cache,
        &train("1", false)
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
    );
    assert!(ok.status.success(), "{}", stderr(&ok));

    // 1. A checkpoint save: the weights (megabytes) cannot be written under a 256 KiB limit;
    // the data comes from the cache the first run wrote (a hit: no write).
    let before = snapshot(&ck);
    assert!(before.len() > 5, "{before:?}");
    let resumed = train("2", true);
    let out = fer_limited(
        &cache,
        256,
        &resumed.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    );
    let err = stderr(&out);
    assert!(!out.status.success(), "saved under the limit: {err}");
    assert_names_a_file_in(&err, &ck);
    // The resumed run first records its new settings (2 epochs) in train_config.json, a
    // small file written whole (atomically) before the limit bites; every other file is the
    // previous checkpoint's, byte for byte.
    let mut after = snapshot(&ck);
    let mut before = before;
    let config = ck.join("train_config.json");
    before.remove(&config);
    after.remove(&config);
    serde_json::from_slice::<serde_json::Value>(&std::fs::read(&config).unwrap()).unwrap();
    assert_eq!(after, before, "the previous checkpoint changed");

    // 2. The decoded-data cache: a load under a 64 KiB limit warns naming the cache file and
    // still succeeds; the cache file of the earlier load is unchanged.
    let cache_before = snapshot(&cache);
    assert!(!cache_before.is_empty());
    let copy = tmp.path().join("data2");
    BandFixture {
        train_per_class: 12,
        test_per_class: 3,
        without: &[],
        blank_every: None,
        noise: 40,
        seed: 6,
    }
    .write(&copy);
    let out = fer_limited(&cache, 64, &["stats", "--data", path_str(&copy)]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_names_a_file_in(&err, &cache);
    assert_eq!(snapshot(&cache), cache_before, "a cache file changed");

    // 3. A report and the HOG cache: a baseline fitted without limit, then a report written
    // over an earlier one under a 16 KiB limit (its figures and page are larger).
    let baseline = tmp.path().join("baseline");
    let fit = fer(
        &cache,
        &[
            "train",
            "baseline",
            "--data",
            path_str(&data),
            "--features",
            "raw",
            "--max-iterations",
            "5",
            "--out",
            path_str(&baseline),
        ],
    );
    assert!(fit.status.success(), "{}", stderr(&fit));
    let model_json = baseline.join("model.json");
    let report = tmp.path().join("report");
    let args = [
        "report",
        "--data",
        path_str(&data),
        "--baseline",
        path_str(&model_json),
        "--out",
        path_str(&report),
    ];
    let first = fer(&cache, &args);
    assert!(first.status.success(), "{}", stderr(&first));
    let report_before = snapshot(&report);
    let out = fer_limited(&cache, 16, &args);
    let err = stderr(&out);
    assert!(!out.status.success(), "a report under 16 KiB: {err}");
    assert_names_a_file_in(&err, &report);
    assert_eq!(
        snapshot(&report),
        report_before,
        "the previous report changed"
    );

    // The HOG feature cache: a fit without limit caches the features of `data`; a fit on other
    // faces under a 64 KiB limit cannot write theirs (nor its model.json, which it names), and
    // leaves the cache folder as it was: no new or half-written file.
    let hog = |data: &Path, out: &Path, kib: Option<u64>| {
        let args = [
            "train",
            "baseline",
            "--data",
            path_str(data),
            "--features",
            "hog",
            "--max-iterations",
            "5",
            "--out",
            path_str(out),
        ];
        match kib {
            Some(kib) => fer_limited(&cache, kib, &args),
            None => fer(&cache, &args),
        }
    };
    let first = hog(&data, &tmp.path().join("hog1"), None);
    assert!(first.status.success(), "{}", stderr(&first));
    let cache_before = snapshot(&cache);
    assert!(
        cache_before
            .keys()
            .any(|p| p.starts_with(cache.join("features"))),
        "no HOG cache file: {cache_before:?}"
    );
    let hog_out = tmp.path().join("hog2");
    let out = hog(&copy, &hog_out, Some(64));
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert_names_a_file_in(&err, &hog_out);
    assert_eq!(snapshot(&cache), cache_before, "the cache folder changed");
}
