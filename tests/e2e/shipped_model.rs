//! The shipped checkpoint `data/models/fer-cnn/` on the full data set (`FER2013_DIR`): it
//! loads with today's code, and scoring it reproduces the PrivateTest figures that
//! `fer train cnn` recorded in its `metrics.json` when it was trained, so the weights cannot
//! drift from the code that reads them.

use std::path::PathBuf;

use serde_json::Value;

use crate::common::{fer, json_of, path_str, stderr};
use crate::data_full::{fer2013_dir, PRIVATE_TEST};

/// The shipped model folder, from the repository's top.
fn shipped_model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/models/fer-cnn")
}

#[test]
fn shipped_checkpoint_reproduces_its_recorded_private_test_accuracy() {
    let model = shipped_model();
    let metrics: Value = serde_json::from_str(
        &std::fs::read_to_string(model.join("metrics.json")).expect("metrics.json is shipped"),
    )
    .expect("metrics.json parses");
    let recorded = &metrics["private_test"];
    let data = fer2013_dir();
    let cache = tempfile::tempdir().unwrap();
    let out = fer(
        cache.path(),
        &[
            "evaluate",
            "--model",
            path_str(&model),
            "--data",
            path_str(&data),
            "--split",
            "private-test",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let scored = json_of(&out);
    // 3,589 PrivateTest faces (shared/fer2013/README.md).
    let n = PRIVATE_TEST.iter().sum::<usize>();
    assert_eq!(scored["n"], n);
    assert_eq!(recorded["samples"], n);
    // Inference is deterministic (fixed per-thread chunks, no parallel reductions across
    // chunks), so the same weights give the same number of correct faces, not just a close
    // accuracy.
    let correct = |v: &Value| (v["accuracy"].as_f64().unwrap() * n as f64).round() as usize;
    // 2,501 of 3,589 when it was trained (69.69%, data/models/fer-cnn/README.md).
    assert_eq!(
        correct(&scored),
        correct(recorded),
        "{scored} vs {recorded}"
    );
    assert_eq!(scored["per_class_recall"], recorded["per_class_recall"]);
    // The headline claims of the README hold for the shipped weights: far above the 38.6%
    // of logistic regression on raw pixels (README's results table).
    assert!(scored["accuracy"].as_f64().unwrap() > 0.55, "{scored}");
}
