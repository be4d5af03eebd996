//! `fer train baseline`: a small fitted run on a generated fixture, each bad input, and the
//! accuracy claims on the full FER2013 data set.

use std::path::{Path, PathBuf};

use fer_core::baseline::BaselineModel;
use fer_core::data;
use fer_core::{Emotion, EmotionClassifier};
use serde_json::Value;

use super::common::{entries, fer, fer_with_env, json_of, path_str, stderr, BandFixture};

/// The band fixture (see [`BandFixture`]): separable, so a working fit must score ~100%.
fn write_fixture(
    root: &Path,
    train_per_class: usize,
    test_per_class: usize,
    without: &'static [Emotion],
) {
    BandFixture {
        train_per_class,
        test_per_class,
        without,
        blank_every: None,
        noise: 50,
        seed: 42,
    }
    .write(root);
}

#[test]
fn a_small_fit_scores_the_separable_fixture_and_saves_a_model_that_reloads() {
    let tmp = tempfile::tempdir().unwrap();
    let (data_dir, cache) = (tmp.path().join("fer"), tmp.path().join("cache"));
    write_fixture(&data_dir, 12, 3, &[]);
    let out_dir = tmp.path().join("run");
    let run = |features: &str, extra: &[&str], out: &Path| {
        let mut args = vec![
            "train",
            "baseline",
            "--data",
            path_str(&data_dir),
            "--features",
            features,
            "--max-iterations",
            "30",
            "--out",
            path_str(out),
            "--json",
        ];
        args.extend_from_slice(extra);
        json_of(&fer(&cache, &args))
    };

    let summary = run("raw", &[], &out_dir);
    // The bands are 120 grey levels apart over 50 levels of noise: separable, so 100% expected
    // (42 test faces, 21 per split); allow one miss.
    for (key, faces) in [
        ("test_accuracy", 42.0),
        ("private_test_accuracy", 21.0),
        ("public_test_accuracy", 21.0),
    ] {
        let accuracy = summary[key].as_f64().unwrap();
        assert!(accuracy >= (faces - 1.0) / faces - 1e-9, "{key}: {summary}");
    }
    assert!(summary["macro_f1"].as_f64().unwrap() > 0.95, "{summary}");
    assert!(summary["fit_seconds"].as_f64().unwrap() > 0.0, "{summary}");
    assert_eq!(summary["train_samples"], 84);
    assert_eq!(summary["feature_dim"], 2304);
    let recall = summary["per_class_recall"].as_object().unwrap();
    assert_eq!(recall.len(), 7, "{summary}");

    // The saved model reloads and reproduces the reported test accuracy.
    let model = BaselineModel::load(&out_dir.join("model.json")).unwrap();
    let fer2013 = data::load_uncached(&data_dir).unwrap();
    let predicted = model.predict(fer2013.kaggle_test.faces()).unwrap();
    let correct = predicted
        .iter()
        .zip(fer2013.kaggle_test.labels())
        .filter(|(p, t)| p == t)
        .count();
    let reported = summary["test_accuracy"].as_f64().unwrap();
    assert!((correct as f64 / fer2013.kaggle_test.len() as f64 - reported).abs() < 1e-12);
    let metrics: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(
        metrics["summary"]["test_accuracy"],
        summary["test_accuracy"]
    );
    assert_eq!(metrics["private_test"]["samples"], 21);

    // Same command, same seed: byte-identical model file.
    let again = tmp.path().join("again");
    run("raw", &[], &again);
    assert_eq!(
        std::fs::read(out_dir.join("model.json")).unwrap(),
        std::fs::read(again.join("model.json")).unwrap()
    );

    // HOG with PCA and SMOTE runs end to end too, and reports the reduced dimension.
    let hog_dir = tmp.path().join("hog");
    let summary = run("hog", &["--pca", "20", "--balance", "smote"], &hog_dir);
    assert_eq!(summary["feature_dim"], 20, "{summary}");
    assert_eq!(summary["features"], "hog+pca20", "{summary}");
    assert!(
        summary["test_accuracy"].as_f64().unwrap() > 0.9,
        "{summary}"
    );
    let hog = BaselineModel::load(&hog_dir.join("model.json")).unwrap();
    assert_eq!(hog.name(), "logistic (hog+pca20)");

    // The HOG descriptors were cached (train/ and test/, in FER_CACHE_DIR/features); a second
    // run reads them back and fits the byte-identical model.
    let cached: Vec<_> = std::fs::read_dir(cache.join("features")).unwrap().collect();
    assert_eq!(cached.len(), 2, "{cached:?}");
    let hog_again = tmp.path().join("hog-again");
    run("hog", &["--pca", "20", "--balance", "smote"], &hog_again);
    assert_eq!(
        std::fs::read(hog_dir.join("model.json")).unwrap(),
        std::fs::read(hog_again.join("model.json")).unwrap()
    );
}

#[test]
fn bad_inputs_fail_with_a_message_naming_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let data_dir = tmp.path().join("fer");
    write_fixture(&data_dir, 2, 1, &[]);
    let no_disgust = tmp.path().join("no-disgust");
    write_fixture(&no_disgust, 2, 1, &[Emotion::Disgust]);
    let no_private = tmp.path().join("no-private");
    write_fixture(&no_private, 2, 1, &[]);
    for emotion in Emotion::ALL {
        std::fs::remove_file(
            no_private
                .join("test")
                .join(emotion.name())
                .join("PrivateTest_0.png"),
        )
        .unwrap();
    }
    let missing = tmp.path().join("nowhere");
    let a_file = tmp.path().join("a-file");
    std::fs::write(&a_file, b"not a folder").unwrap();
    let out_in_file = a_file.join("run");

    let args = |data: &Path, features: &str, extra: &[&str]| -> Vec<String> {
        let mut args = vec![
            "train",
            "baseline",
            "--data",
            path_str(data),
            "--features",
            features,
        ];
        args.extend_from_slice(extra);
        args.into_iter().map(String::from).collect()
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (args(&missing, "raw", &[]), "nowhere"),
        (
            args(&no_disgust, "raw", &[]),
            "no training faces for disgust",
        ),
        (args(&no_private, "raw", &[]), "no PrivateTest faces"),
        (args(&data_dir, "raw", &["--pca", "0"]), "`pca`"),
        (args(&data_dir, "raw", &["--pca", "5000"]), "`pca`"),
        (args(&data_dir, "raw", &["--alpha=-1"]), "`alpha`"),
        (
            args(&data_dir, "raw", &["--max-iterations", "0"]),
            "`max_iterations`",
        ),
        (
            args(&data_dir, "hog", &["--hog-cell-side", "5"]),
            "hog.cell_side",
        ),
        (
            args(&data_dir, "raw", &["--hog-cell-side", "8"]),
            "only to --features hog",
        ),
        (
            args(
                &data_dir,
                "raw",
                &["--max-iterations", "3", "--out", path_str(&out_in_file)],
            ),
            "a-file",
        ),
        (args(&data_dir, "sift", &[]), "sift"),
    ];
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = fer(&cache, &args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let message = stderr(&out);
        assert!(message.contains(expected), "{args:?}: {message}");
        assert!(!message.contains("panicked"), "{args:?}: {message}");
    }
}

/// The data set for full-data checks, from `FER2013_DIR`; fails (rather than passing silently)
/// when it is not set.
fn full_data() -> PathBuf {
    let dir = std::env::var_os("FER2013_DIR")
        .expect("FER2013_DIR must name the FER2013 data set for the full-data tests");
    PathBuf::from(dir)
}

#[test]
fn hog_baseline_on_full_fer2013_reaches_the_documented_accuracy() {
    let data_dir = full_data();
    // Every file the run writes goes under its own temporary folder: the decoded faces and the
    // HOG descriptors into FER_CACHE_DIR, and HOME (where the platform's cache folder would be)
    // points at an empty folder that must stay empty.
    let tmp = tempfile::tempdir().unwrap();
    let (cache, home) = (tmp.path().join("cache"), tmp.path().join("home"));
    std::fs::create_dir(&home).unwrap();
    let out = fer_with_env(
        &cache,
        &[
            "train",
            "baseline",
            "--data",
            path_str(&data_dir),
            "--features",
            "hog",
            "--json",
        ],
        &[("HOME", Some(path_str(&home))), ("XDG_CACHE_HOME", None)],
    );
    let summary = json_of(&out);
    // The HOG descriptors of train/ and test/ were cached in the test's own folder.
    assert_eq!(entries(&cache.join("features")).len(), 2, "{cache:?}");
    assert_eq!(entries(&home), Vec::<String>::new());
    // Measured with the defaults (HOG with 6-pixel cells, alpha 300, 100 iterations): 47.5% on
    // test/ and 48.0% on PrivateTest; issue 6 asks for at least 45%. The fit is deterministic,
    // so only floating-point differences across platforms can move these numbers.
    for key in ["test_accuracy", "private_test_accuracy"] {
        assert!(summary[key].as_f64().unwrap() >= 0.45, "{key}: {summary}");
    }
    // Disgust (1.5% of training faces) is the class a careless fit never predicts: 20.7%
    // recall on test/ was measured.
    assert!(
        summary["per_class_recall"]["disgust"].as_f64().unwrap() > 0.1,
        "{summary}"
    );
    assert_eq!(summary["train_samples"], 28709);
}

/// A HOG cache that cannot be written (a regular file where its `features/` folder goes; a
/// read-only folder would not do, as root writes into it anyway) costs only the cache: the
/// fit says why on stderr, naming the file, and saves its model.
#[test]
fn an_unwritable_hog_cache_warns_naming_the_file_and_the_fit_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let (data_dir, cache) = (tmp.path().join("fer"), tmp.path().join("cache"));
    write_fixture(&data_dir, 4, 1, &[]);
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join("features"), "not a folder").unwrap();
    let out_dir = tmp.path().join("run");
    let out = fer(
        &cache,
        &[
            "train",
            "baseline",
            "--data",
            path_str(&data_dir),
            "--features",
            "hog",
            "--max-iterations",
            "5",
            "--out",
            path_str(&out_dir),
        ],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let warning = err
        .lines()
        .find(|l| l.starts_with("warning: HOG features not cached"))
        .unwrap_or_else(|| panic!("no warning: {err}"));
    let file = cache.join("features").join("hog-");
    assert!(warning.contains(path_str(&file)), "{warning}");
    assert!(BaselineModel::load(&out_dir.join("model.json")).is_ok());
}
