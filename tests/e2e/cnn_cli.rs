//! `fer train cnn` and `fer evaluate` on a small generated fixture: the checkpoint folder, the
//! JSON shapes, and a clear error for a folder that is not a checkpoint.

use std::path::Path;

use fer_core::Emotion;

use super::common::{fer, json_of, path_str, train_tiny_cnn, BandFixture};

/// The band fixture (see [`BandFixture`]): the emotion is the height of a bright band.
fn write_fixture(root: &Path, train_per_class: usize, test_per_class: usize) {
    BandFixture {
        train_per_class,
        test_per_class,
        without: &[],
        blank_every: None,
        noise: 50,
        seed: 7,
    }
    .write(root);
}

#[test]
fn train_cnn_writes_a_checkpoint_that_evaluate_scores() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, cache, ck) = (
        tmp.path().join("data"),
        tmp.path().join("cache"),
        tmp.path().join("ck"),
    );
    write_fixture(&data, 8, 3);
    let (data_arg, ck_arg) = (data.to_str().unwrap(), ck.to_str().unwrap());
    let summary = train_tiny_cnn(&data, &cache, &ck);
    assert_eq!(summary["train_samples"], 56);
    assert_eq!(summary["epochs_run"], 1);
    for file in [
        "model.safetensors",
        "config.json",
        "normalization.json",
        "history.json",
    ] {
        assert!(ck.join(file).is_file(), "{file}");
        assert!(ck.join("last").join(file).is_file(), "last/{file}");
    }
    assert!(ck.join("metrics.json").is_file());

    // `fer evaluate` of the checkpoint on the fixture, with more arguments.
    let evaluate = |more: &[&str]| {
        let mut args = vec!["evaluate", "--model", ck_arg, "--data", data_arg];
        args.extend(more);
        fer(&cache, &args)
    };
    let report = json_of(&evaluate(&["--split", "private-test", "--tta", "--json"]));
    // 3 PrivateTest faces per emotion.
    assert_eq!(report["n"], 21);
    let accuracy = report["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&accuracy));
    let recall = report["per_class_recall"].as_object().unwrap();
    assert_eq!(recall.len(), 7);
    for emotion in Emotion::ALL {
        assert!(recall.contains_key(emotion.name()), "{recall:?}");
    }
    // The private-test accuracy printed by train equals the one evaluate recomputes (no TTA).
    let again = json_of(&evaluate(&["--json"]));
    assert_eq!(again["accuracy"], summary["private_test_accuracy"]);

    // Crop TTA: reported as such; a shift out of range is an error naming it.
    let crops = json_of(&evaluate(&["--tta-crops", "--json"]));
    assert_eq!(crops["n"], 21);
    assert_eq!(crops["tta_mode"], "crops");
    assert_eq!(crops["tta_shift"], fer_core::cnn::DEFAULT_TTA_SHIFT);
    assert_eq!(report["tta_mode"], "flip");
    assert_eq!(again["tta_mode"], "none");
    let out = evaluate(&["--tta-crops", "9"]);
    super::common::assert_fails_with(&out, &["--tta-crops 9", "at most 8"]);
    // The help's "default N" is the shift used.
    for command in ["evaluate", "predict"] {
        let help = fer(&cache, &[command, "--help"]);
        let help = String::from_utf8_lossy(&help.stdout);
        let default = format!("(default {}", fer_core::cnn::DEFAULT_TTA_SHIFT);
        assert!(help.contains(&default), "{command}: {help}");
    }

    // --choose-tta: every candidate scored on PublicTest, PrivateTest reported with the most
    // accurate (the first of equals); the scores are what --split public-test gives.
    let chosen = json_of(&evaluate(&["--choose-tta", "--json"]));
    assert_eq!(chosen["n"], 21);
    let choice = chosen["tta_choice"].as_array().unwrap();
    let accuracies: Vec<f64> = choice
        .iter()
        .map(|c| c["public_test_accuracy"].as_f64().unwrap())
        .collect();
    assert_eq!(accuracies.len(), 5);
    let most = accuracies.iter().copied().fold(f64::MIN, f64::max);
    let first_best = &choice[accuracies.iter().position(|&a| a == most).unwrap()];
    assert_eq!(chosen["tta_mode"], first_best["tta_mode"]);
    assert_eq!(chosen["tta_shift"], first_best["tta_shift"]);
    let public = |tta: &[&str]| {
        let mut args = vec!["--split", "public-test", "--json"];
        args.extend(tta);
        json_of(&evaluate(&args))["accuracy"].clone()
    };
    assert_eq!(choice[0]["tta_mode"], "none");
    assert_eq!(choice[0]["public_test_accuracy"], public(&[]));
    assert_eq!(choice[3]["tta_shift"], 2);
    assert_eq!(
        choice[3]["public_test_accuracy"],
        public(&["--tta-crops", "2"])
    );
    let out = evaluate(&["--choose-tta", "--tta"]);
    super::common::assert_fails_with(&out, &["--choose-tta", "--tta"]);

    // A dropout rate that cannot work is refused before any data is read, naming the setting.
    let out = fer(
        &cache,
        &["train", "cnn", "--data", data_arg, "--head-dropout", "1"],
    );
    super::common::assert_fails_with(&out, &["dropout.head", "1 is not in [0, 1)"]);

    // A folder that is no checkpoint.
    let out = fer(
        &cache,
        &[
            "evaluate", "--model", data_arg, "--data", data_arg, "--json",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("config.json"), "{err}");
}

/// Ctrl-C (SIGINT) during `fer train cnn` saves a resumable checkpoint, says where and how to
/// continue, and exits with 130; `--resume`, given only the data and the folder, then completes
/// the run with the settings it was started with (4 epochs, not the default 40).
#[cfg(unix)]
#[test]
fn ctrl_c_saves_a_checkpoint_that_resume_completes() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let tmp = tempfile::tempdir().unwrap();
    let (data, cache, ck) = (
        tmp.path().join("data"),
        tmp.path().join("cache"),
        tmp.path().join("ck"),
    );
    // 16 training faces per emotion in batches of 16: 7 steps per epoch, so the signal sent
    // after epoch 1's line lands well before the 4 epochs end.
    write_fixture(&data, 16, 3);
    let args = [
        "train",
        "cnn",
        "--data",
        path_str(&data),
        "--epochs",
        "4",
        "--batch",
        "16",
        "--augment",
        "none",
        "--out",
        path_str(&ck),
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_fer"))
        .args(args)
        .env("FER_CACHE_DIR", &cache)
        .env_remove("FER2013_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fer starts");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = stderr.read_line(&mut line).unwrap();
        assert!(n > 0, "fer ended before its first epoch line: {seen}");
        seen.push_str(&line);
        if line.starts_with("epoch 1/4") {
            break;
        }
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    seen.push_str(&rest);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen}");
    assert!(!seen.contains("panicked"), "{seen}");
    let last = ck.join("last");
    assert!(
        seen.contains("interrupted at epoch ")
            && seen.contains(&format!("checkpoint in {}", last.display()))
            && seen.contains("continue with --resume"),
        "{seen}"
    );
    for file in [
        "model.safetensors",
        "optimizer.safetensors",
        "position.json",
        "history.json",
    ] {
        assert!(last.join(file).is_file(), "last/{file}");
    }

    let resume = [
        "train",
        "cnn",
        "--data",
        path_str(&data),
        "--out",
        path_str(&ck),
        "--resume",
        "--json",
    ];
    let summary = json_of(&fer(&cache, &resume));
    assert_eq!(summary["epochs_run"], 4, "{summary}");
    assert_eq!(summary["config"]["batch_size"], 16, "{summary}");
    assert_eq!(summary["config"]["augmentation"], "none", "{summary}");
    let history: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(last.join("history.json")).unwrap()).unwrap();
    let epochs: Vec<u64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(epochs, [1, 2, 3, 4]);
}
