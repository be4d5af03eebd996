//! `fer report`: the report of baselines fitted on a small generated fixture holds every
//! section and figure, its metrics.json matches `Evaluation`, and bad input fails cleanly.

use std::path::{Path, PathBuf};

use fer_core::baseline::BaselineModel;
use fer_core::data;
use fer_core::eval::Evaluation;
use fer_core::report::{build_report, ReportMetrics};
use fer_core::{EmotionClassifier, Usage};

use super::common::{fer, path_str, stderr, BandFixture};

/// The band fixture (see [`BandFixture`]), 10 Training and 4 each of PublicTest/PrivateTest
/// faces per emotion, with the band missing on a third of the faces (pure noise) so the models
/// make mistakes to analyse.
fn write_fixture(root: &Path) {
    BandFixture {
        train_per_class: 10,
        test_per_class: 4,
        without: &[],
        blank_every: Some(3),
        noise: 60,
        seed: 11,
    }
    .write(root);
}

/// Fits a baseline on the fixture with `features` and returns its model.json.
fn fit_baseline(data: &Path, cache: &Path, features: &str, out: &Path) -> PathBuf {
    let run = fer(
        cache,
        &[
            "train",
            "baseline",
            "--data",
            path_str(data),
            "--features",
            features,
            "--max-iterations",
            "20",
            "--out",
            path_str(out),
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    out.join("model.json")
}

#[test]
fn the_report_holds_every_section_and_its_metrics_match_evaluation() {
    let tmp = tempfile::tempdir().unwrap();
    let (data_dir, cache) = (tmp.path().join("fer"), tmp.path().join("cache"));
    write_fixture(&data_dir);
    let model_json = fit_baseline(&data_dir, &cache, "raw", &tmp.path().join("raw"));
    let out = tmp.path().join("report");
    let run = fer(
        &cache,
        &[
            "report",
            "--data",
            path_str(&data_dir),
            "--baseline",
            path_str(&model_json),
            "--out",
            path_str(&out),
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    for section in [
        "id=\"protocol\"",
        "id=\"summary\"",
        "id=\"data\"",
        "id=\"model-0\"",
        "id=\"comparison\"",
    ] {
        assert!(html.contains(section), "missing {section}");
    }
    assert!(html.contains("<b>PrivateTest</b> split (28 faces)"));
    // Figures: class distribution, confusion heatmap, confused pairs, confidence boxes, class
    // bars, reliability diagram = 6 plotly figures for one model.
    assert_eq!(html.matches("Plotly.newPlot(\"figure-").count(), 6);
    for trace in [
        "\"type\":\"heatmap\"",
        "\"type\":\"box\"",
        "\"type\":\"bar\"",
    ] {
        assert!(html.contains(trace), "no {trace} figure");
    }
    // PNG grids: sample faces, mean faces, augmentation preview, confident mistakes, saliency.
    assert_eq!(html.matches("src=\"data:image/png;base64,").count(), 5);
    assert!(html.contains("class=\"hardest\""));
    assert!(html.contains("macro avg"), "classification report missing");
    // Offline: plotly.js is inlined, nothing loads from the network.
    assert!(!html.contains("<script src="));
    assert!(
        !html.contains("id=\"mcnemar\""),
        "one model has no comparison"
    );

    // metrics.json equals the Evaluation of the saved model on the PrivateTest faces.
    let metrics: ReportMetrics =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    let model = BaselineModel::load(&model_json).unwrap();
    let private = data::load_uncached(&data_dir)
        .unwrap()
        .kaggle_test
        .with_usage(Usage::PrivateTest);
    let expected = Evaluation::new(
        private.labels(),
        model.predict_proba(private.faces()).unwrap().view(),
    )
    .unwrap();
    assert_eq!(metrics.split, "PrivateTest");
    assert_eq!(metrics.samples, 28);
    assert_eq!(metrics.models.len(), 1);
    // Both sides go through serde_json once: its float parsing is not bit-exact round-trip
    // (last-digit differences in bin edges), so compare what the JSON holds.
    let expected: Evaluation =
        serde_json::from_str(&serde_json::to_string(&expected).unwrap()).unwrap();
    assert_eq!(metrics.models[0].evaluation, expected);
    assert!(expected.accuracy < 1.0, "the fixture should cause mistakes");
    let losses: Vec<f64> = metrics.models[0]
        .hardest_examples
        .iter()
        .map(|h| h.loss)
        .collect();
    assert!(losses.windows(2).all(|w| w[0] >= w[1]), "{losses:?}");
    assert!(metrics.comparison.is_none());
}

#[test]
fn two_models_get_a_mcnemar_comparison_and_a_disagreement_gallery() {
    let tmp = tempfile::tempdir().unwrap();
    let (data_dir, cache) = (tmp.path().join("fer"), tmp.path().join("cache"));
    write_fixture(&data_dir);
    let raw = BaselineModel::load(&fit_baseline(
        &data_dir,
        &cache,
        "raw",
        &tmp.path().join("a"),
    ))
    .unwrap();
    let hog = BaselineModel::load(&fit_baseline(
        &data_dir,
        &cache,
        "hog",
        &tmp.path().join("b"),
    ))
    .unwrap();
    let fer2013 = data::load_uncached(&data_dir).unwrap();
    let models: Vec<(&str, &dyn EmotionClassifier)> = vec![("raw", &raw), ("hog", &hog)];
    let report = build_report(
        "fixture",
        &fer2013.train,
        &fer2013.kaggle_test,
        &models,
        &[],
    )
    .unwrap();
    let comparison = report
        .metrics
        .comparison
        .as_ref()
        .expect("two models are compared");
    assert_eq!(comparison.samples, 28);
    assert_eq!(
        comparison.both_correct
            + comparison.both_wrong
            + comparison.mcnemar.only_a_correct
            + comparison.mcnemar.only_b_correct,
        28
    );
    assert!(report.html.contains("id=\"mcnemar\""));
    assert!(report.html.contains("id=\"model-1\""));
    // Two models: 6 figures each for the per-model parts plus the shared ones: class
    // distribution 1 + 3 per model x 2 + bars + reliability = 9.
    assert_eq!(report.html.matches("Plotly.newPlot(\"figure-").count(), 9);
    // 3 data grids + 2 per model + the disagreement gallery.
    assert_eq!(
        report.html.matches("src=\"data:image/png;base64,").count(),
        8
    );
}

#[test]
fn bad_input_fails_with_a_clear_error_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (data_dir, cache) = (tmp.path().join("fer"), tmp.path().join("cache"));
    write_fixture(&data_dir);
    let out = tmp.path().join("out");

    let none = fer(
        &cache,
        &[
            "report",
            "--data",
            path_str(&data_dir),
            "--out",
            path_str(&out),
        ],
    );
    assert!(!none.status.success());
    assert!(
        stderr(&none).contains("no model to report on"),
        "{}",
        stderr(&none)
    );

    let missing = tmp.path().join("nope/model.json");
    let run = fer(
        &cache,
        &[
            "report",
            "--data",
            path_str(&data_dir),
            "--baseline",
            path_str(&missing),
            "--out",
            path_str(&out),
        ],
    );
    assert!(!run.status.success());
    assert!(stderr(&run).contains("nope/model.json"), "{}", stderr(&run));
    assert!(!out.join("report.html").exists() && !out.join("metrics.json").exists());

    let run = fer(
        &cache,
        &[
            "report",
            "--data",
            path_str(&data_dir),
            "--model",
            path_str(&tmp.path().join("nocnn")),
            "--out",
            path_str(&out),
        ],
    );
    assert!(!run.status.success());
    assert!(stderr(&run).contains("nocnn"), "{}", stderr(&run));

    // --out under a regular file cannot be created.
    let file = tmp.path().join("a_file");
    std::fs::write(&file, "x").unwrap();
    let model_json = fit_baseline(&data_dir, &cache, "raw", &tmp.path().join("raw"));
    let run = fer(
        &cache,
        &[
            "report",
            "--data",
            path_str(&data_dir),
            "--baseline",
            path_str(&model_json),
            "--out",
            path_str(&file.join("sub")),
        ],
    );
    assert!(!run.status.success());
    assert!(stderr(&run).contains("--out"), "{}", stderr(&run));
}
