//! `fer run`: the whole workflow on a small generated fixture (quick mode), the pretrained
//! path reproducing the trained model's numbers, and bad input leaving no output folder.

use std::path::Path;

use fer_core::report::ReportMetrics;

use super::common::{assert_fails_with, fer, json_of, path_str, stderr, BandFixture};

/// The band fixture (see [`BandFixture`]): 12 training faces and 4 each of PublicTest and
/// PrivateTest per emotion, the band missing from every third face so models make mistakes.
/// `--quick` keeps 5 training faces per class of these 12 (`fer_core::quick`: 5% rounded up to
/// its minimum of 5): 35, enough for its batches of 32.
fn write_fixture(root: &Path) {
    BandFixture {
        train_per_class: 12,
        test_per_class: 4,
        without: &[],
        blank_every: Some(3),
        noise: 60,
        seed: 5,
    }
    .write(root);
}

#[test]
fn quick_run_trains_both_models_writes_the_report_and_pretrained_reproduces_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, cache, out) = (
        tmp.path().join("fer"),
        tmp.path().join("cache"),
        tmp.path().join("runs/quick"),
    );
    write_fixture(&data);
    let summary = json_of(&fer(
        &cache,
        &[
            "run",
            "--quick",
            "--data",
            path_str(&data),
            "--out",
            path_str(&out),
            "--json",
        ],
    ));
    assert_eq!(summary["quick"], true);
    assert!(summary["note"]
        .as_str()
        .unwrap()
        .contains("not how good the models are"));
    // Quick mode (fer_core::quick) keeps 5% of each group but at least 5 faces: 5 of the 12
    // training faces per class, and all 4 x 7 PrivateTest faces (a group smaller than 5 is kept
    // whole).
    assert_eq!(summary["training_faces"], 35);
    assert_eq!(summary["scored_faces"], 28);
    assert_eq!(summary["split"], "PrivateTest");
    assert_eq!(summary["cnn_config"]["epochs"], 2);
    let models = summary["models"].as_array().unwrap();
    let names: Vec<&str> = models.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["cnn", "baseline"]);
    for file in [
        "report.html",
        "metrics.json",
        "run.json",
        "baseline/model.json",
        "cnn/model.safetensors",
        "cnn/config.json",
        "cnn/history.json",
    ] {
        assert!(out.join(file).is_file(), "missing {file}");
    }
    // The table's numbers are the report's.
    let metrics: ReportMetrics =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    for (row, m) in models.iter().zip(&metrics.models) {
        assert_eq!(row["name"], m.name.as_str());
        assert_eq!(row["accuracy"].as_f64().unwrap(), m.evaluation.accuracy);
        assert_eq!(
            row["macro_f1"].as_f64().unwrap(),
            m.evaluation.report.macro_avg().f1
        );
    }
    // The band is the whole signal and the HOG baseline sees it: far above chance (1/7) on
    // the faces that have it. A third have no band, so 1.0 would mean the test is broken.
    let baseline = models[1]["accuracy"].as_f64().unwrap();
    assert!(
        (0.4..1.0).contains(&baseline),
        "baseline accuracy {baseline}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("id=\"mcnemar\""), "two models are compared");
    assert!(
        html.contains("id=\"training\""),
        "the CNN's training curves"
    );
    assert!(
        html.contains("not how good the models are"),
        "the page says it is a quick run"
    );

    // The saved checkpoint is usable by predict.
    let face = data.join("test/fear/PrivateTest_1.png");
    let predicted = json_of(&fer(
        &cache,
        &[
            "predict",
            "--model",
            path_str(&out.join("cnn")),
            "--crop",
            path_str(&face),
            "--json",
        ],
    ));
    assert_eq!(predicted[0]["top"].as_array().unwrap().len(), 3);

    // --pretrained scores that checkpoint instead of training: same faces, same weights, so
    // the same accuracy; the text output says the numbers are not results.
    let again = tmp.path().join("again");
    let run = fer(
        &cache,
        &[
            "run",
            "--quick",
            "--data",
            path_str(&data),
            "--out",
            path_str(&again),
            "--pretrained",
            path_str(&out.join("cnn")),
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let table = String::from_utf8_lossy(&run.stdout);
    assert!(table.contains("NOT RESULTS"), "{table}");
    assert!(table.contains("pretrained"), "{table}");
    let rerun: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(again.join("run.json")).unwrap()).unwrap();
    assert_eq!(rerun["models"][0]["accuracy"], models[0]["accuracy"]);
    assert_eq!(rerun["models"][0]["pretrained"], true);
    assert!(rerun["cnn_config"].is_null());
    assert!(
        !again.join("cnn").exists(),
        "nothing trained, nothing saved"
    );
    // Training progress went to stderr as plain lines (not a terminal), not to stdout.
    assert!(stderr(&run).contains("fitting the"), "{}", stderr(&run));
}

#[test]
fn bad_input_fails_clearly_and_leaves_no_output_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, cache) = (tmp.path().join("fer"), tmp.path().join("cache"));
    write_fixture(&data);
    let out = tmp.path().join("new/run");

    // A pretrained folder that is not a checkpoint: refused before any work.
    let run = fer(
        &cache,
        &[
            "run",
            "--quick",
            "--data",
            path_str(&data),
            "--out",
            path_str(&out),
            "--pretrained",
            path_str(&data),
        ],
    );
    assert_fails_with(&run, &["--pretrained", "config.json"]);
    assert!(
        !tmp.path().join("new").exists(),
        "an empty output folder was left"
    );

    // Missing data.
    let missing = tmp.path().join("no_such_data");
    let run = fer(
        &cache,
        &[
            "run",
            "--quick",
            "--data",
            path_str(&missing),
            "--out",
            path_str(&out),
        ],
    );
    assert_fails_with(&run, &["no_such_data"]);
    assert!(!tmp.path().join("new").exists());

    // An output path below a regular file.
    let file = tmp.path().join("a_file");
    std::fs::write(&file, "x").unwrap();
    let run = fer(
        &cache,
        &[
            "run",
            "--quick",
            "--data",
            path_str(&data),
            "--out",
            path_str(&file.join("sub")),
        ],
    );
    assert_fails_with(&run, &["--out"]);

    // Unknown flag.
    assert_fails_with(&fer(&cache, &["run", "--quick", "--fast"]), &["--fast"]);

    // fer report too removes the output folder it created when it fails.
    let report_out = tmp.path().join("report/new");
    let run = fer(
        &cache,
        &[
            "report",
            "--data",
            path_str(&data),
            "--baseline",
            path_str(&tmp.path().join("nope.json")),
            "--out",
            path_str(&report_out),
        ],
    );
    assert_fails_with(&run, &["nope.json"]);
    assert!(!tmp.path().join("report").exists());
}

#[test]
fn quick_run_on_full_fer2013_runs_the_workflow_and_the_baseline_beats_chance() {
    let data = std::path::PathBuf::from(
        std::env::var_os("FER2013_DIR")
            .expect("FER2013_DIR must name the FER2013 data set for the full-data tests"),
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("quick");
    let summary = json_of(&fer(
        &tmp.path().join("cache"),
        &[
            "run",
            "--quick",
            "--data",
            path_str(&data),
            "--out",
            path_str(&out),
            "--json",
        ],
    ));
    // `fer run --quick` and the notebooks' quick mode are one definition (fer_core::quick).
    let subset = fer_core::quick::subset(&fer_core::data::load_uncached(&data).unwrap()).unwrap();
    let private = subset.kaggle_test.with_usage(fer_core::Usage::PrivateTest);
    assert_eq!(summary["training_faces"], subset.train.len());
    assert_eq!(summary["scored_faces"], private.len());
    // The HOG baseline on 700 faces (the old quick subset) scored 0.329 (deterministic fit;
    // chance is 1/7); the quick subset (fer_core::quick) is twice as large.
    let baseline = summary["models"][1]["accuracy"].as_f64().unwrap();
    assert!(baseline > 0.25, "baseline accuracy {baseline}");
    // Two short epochs teach the CNN little (0.15-0.16 measured): only check it was scored.
    let cnn = summary["models"][0]["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&cnn));
    assert!(out.join("report.html").is_file() && out.join("cnn/model.safetensors").is_file());
}
