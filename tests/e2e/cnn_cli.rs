//! `fer train cnn` and `fer evaluate` on a small generated fixture: the checkpoint folder, the
//! JSON shapes, and a clear error for a folder that is not a checkpoint.

use std::path::Path;

use fer_core::Emotion;

use super::common::{fer, json_of, train_tiny_cnn, BandFixture};

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

    let report = json_of(&fer(
        &cache,
        &[
            "evaluate",
            "--model",
            ck_arg,
            "--data",
            data_arg,
            "--split",
            "private-test",
            "--tta",
            "--json",
        ],
    ));
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
    let again = json_of(&fer(
        &cache,
        &["evaluate", "--model", ck_arg, "--data", data_arg, "--json"],
    ));
    assert_eq!(again["accuracy"], summary["private_test_accuracy"]);

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
