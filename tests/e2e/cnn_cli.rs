//! `fer train cnn` and `fer evaluate` on a small generated fixture: the checkpoint folder, the
//! JSON shapes, and a clear error for a folder that is not a checkpoint.

use std::path::Path;
use std::process::{Command, Output};

use fer_core::data::IMAGE_SIDE;
use fer_core::{Emotion, Usage};
use image::GrayImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

/// A Kaggle-layout fixture: `train_per_class` Training faces and `test_per_class` each of
/// PublicTest and PrivateTest per emotion; the emotion is the height of a bright band.
fn write_fixture(root: &Path, train_per_class: usize, test_per_class: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for emotion in Emotion::ALL {
        for (part, usages, n) in [
            ("train", &[Usage::Training][..], train_per_class),
            (
                "test",
                &[Usage::PublicTest, Usage::PrivateTest][..],
                test_per_class,
            ),
        ] {
            let dir = root.join(part).join(emotion.name());
            std::fs::create_dir_all(&dir).unwrap();
            for usage in usages {
                for i in 0..n {
                    let face = GrayImage::from_fn(IMAGE_SIDE as u32, IMAGE_SIDE as u32, |_, y| {
                        let band = y as usize / 6 == emotion.index();
                        image::Luma([if band { 170 } else { 50 } + rng.gen_range(0..50u8)])
                    });
                    face.save(dir.join(format!("{}_{i}.png", usage.name())))
                        .unwrap();
                }
            }
        }
    }
}

fn fer(cache: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fer"))
        .args(args)
        .env("FER_CACHE_DIR", cache)
        .env_remove("FER2013_DIR")
        .output()
        .expect("the fer binary runs")
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
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
    let summary = json(&fer(
        &cache,
        &[
            "train",
            "cnn",
            "--data",
            data_arg,
            "--epochs",
            "1",
            "--batch",
            "16",
            "--augment",
            "none",
            "--out",
            ck_arg,
            "--json",
        ],
    ));
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

    let report = json(&fer(
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
    let again = json(&fer(
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
