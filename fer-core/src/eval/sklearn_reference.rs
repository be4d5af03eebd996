//! Checks every metric against scikit-learn (and statsmodels for McNemar) on the same
//! predictions. The expected numbers come from `fixtures/sklearn_reference.json`, written once
//! by `fixtures/make_sklearn_reference.py` (scikit-learn 1.9.1, statsmodels 0.15.0; versions
//! are recorded in the file): 500 faces drawn with FER2013's test-set class imbalance, a
//! CNN-like noisy predictor (~69% accurate) and a weaker baseline that never predicts disgust
//! (which exercises zero division). To regenerate:
//!
//! ```text
//! python3 -m venv /tmp/skl && /tmp/skl/bin/pip install scikit-learn scipy statsmodels
//! cd fer-core/src/eval/fixtures && /tmp/skl/bin/python make_sklearn_reference.py
//! ```

use ndarray::Array2;
use serde::Deserialize;

use crate::emotion::Emotion;
use crate::eval::{Evaluation, McNemarMethod, McNemarTest, ModelComparison};

const FIXTURE: &str = include_str!("fixtures/sklearn_reference.json");
const TOLERANCE: f64 = 1e-6;

#[derive(Deserialize)]
struct Fixture {
    denominator: u32,
    truth: Vec<usize>,
    cnn_numerators: Vec<Vec<u32>>,
    baseline_numerators: Vec<Vec<u32>>,
    cnn: Expected,
    baseline: Expected,
    mcnemar: ExpectedMcNemar,
    mcnemar_small: ExpectedMcNemar,
    ties: ExpectedTies,
}

#[derive(Deserialize)]
struct ExpectedTies {
    truth: Vec<usize>,
    numerators: Vec<Vec<u32>>,
    /// `top_k_accuracy_score` for k = 1..=7.
    top_k_accuracy: Vec<f64>,
}

#[derive(Deserialize)]
struct Expected {
    predicted: Vec<usize>,
    accuracy: f64,
    balanced_accuracy: f64,
    top2_accuracy: f64,
    log_loss: f64,
    confusion_matrix: Vec<Vec<u64>>,
    confusion_matrix_normalised: Vec<Vec<f64>>,
    precision: Vec<f64>,
    recall: Vec<f64>,
    f1: Vec<f64>,
    support: Vec<u64>,
    macro_avg: [f64; 3],
    weighted_avg: [f64; 3],
    report: String,
    ece_15_bins: f64,
}

#[derive(Deserialize)]
struct ExpectedMcNemar {
    /// statsmodels' table: [[both right, only A right], [only B right, both wrong]].
    table: [[u64; 2]; 2],
    exact_statistic: f64,
    exact_p_value: f64,
    chi2_statistic: f64,
    chi2_p_value: f64,
}

fn fixture() -> Fixture {
    serde_json::from_str(FIXTURE).expect("the committed fixture parses")
}

fn emotions(labels: &[usize]) -> Vec<Emotion> {
    labels
        .iter()
        .map(|&i| Emotion::from_index(i).expect("fixture labels are 0..=6"))
        .collect()
}

/// Numerators / denominator: exact in f32, as in the f64 arrays scikit-learn was given.
fn probabilities(numerators: &[Vec<u32>], denominator: u32) -> Array2<f32> {
    Array2::from_shape_fn((numerators.len(), 7), |(i, j)| {
        numerators[i][j] as f32 / denominator as f32
    })
}

fn assert_close(what: &str, actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() <= TOLERANCE,
        "{what}: fer-core {actual} vs scikit-learn {expected}"
    );
}

fn check_model(name: &str, numerators: &[Vec<u32>], expected: &Expected) {
    let fixture = fixture();
    let truth = emotions(&fixture.truth);
    let proba = probabilities(numerators, fixture.denominator);
    let eval = Evaluation::new(&truth, proba.view()).unwrap();

    let predicted = crate::eval::predicted_labels(proba.view()).unwrap();
    assert_eq!(predicted, emotions(&expected.predicted), "{name}: argmax");
    assert_close("accuracy", eval.accuracy, expected.accuracy);
    assert_close(
        "balanced_accuracy",
        eval.balanced_accuracy,
        expected.balanced_accuracy,
    );
    assert_close("top2_accuracy", eval.top2_accuracy, expected.top2_accuracy);
    assert_close("log_loss", eval.log_loss, expected.log_loss);

    let counts: Vec<Vec<u64>> = eval
        .confusion_matrix
        .counts
        .iter()
        .map(|r| r.to_vec())
        .collect();
    assert_eq!(
        counts, expected.confusion_matrix,
        "{name}: confusion matrix"
    );
    for (row, expected_row) in eval
        .confusion_matrix_normalised
        .iter()
        .zip(&expected.confusion_matrix_normalised)
    {
        for (&a, &e) in row.iter().zip(expected_row) {
            assert_close("normalised confusion", a, e);
        }
    }
    for (i, class) in eval.report.classes().iter().enumerate() {
        assert_close("precision", class.precision, expected.precision[i]);
        assert_close("recall", class.recall, expected.recall[i]);
        assert_close("f1", class.f1, expected.f1[i]);
        assert_eq!(class.support, expected.support[i]);
        assert_close(
            "per_class_recall",
            eval.per_class_recall[&class.emotion],
            expected.recall[i],
        );
    }
    for (avg, exp) in [
        (eval.report.macro_avg(), expected.macro_avg),
        (eval.report.weighted_avg(), expected.weighted_avg),
    ] {
        assert_close("avg precision", avg.precision, exp[0]);
        assert_close("avg recall", avg.recall, exp[1]);
        assert_close("avg f1", avg.f1, exp[2]);
    }
    assert_eq!(
        eval.report.to_string(),
        expected.report,
        "{name}: report text"
    );
    // ECE from the script's independent numpy implementation, 15 bins.
    assert_eq!(eval.calibration.bins.len(), 15);
    assert_close(
        "ece",
        eval.calibration.expected_calibration_error,
        expected.ece_15_bins,
    );
    let binned: u64 = eval.calibration.bins.iter().map(|b| b.count).sum();
    assert_eq!(binned, truth.len() as u64);
}

#[test]
fn cnn_like_predictions_match_scikit_learn() {
    let f = fixture();
    check_model("cnn", &f.cnn_numerators, &f.cnn);
}

#[test]
fn baseline_that_never_predicts_disgust_matches_scikit_learn() {
    let f = fixture();
    // The zero-division case must really be in the data.
    let predicted = emotions(&f.baseline.predicted);
    assert!(!predicted.contains(&Emotion::Disgust));
    check_model("baseline", &f.baseline_numerators, &f.baseline);
}

#[test]
fn top_k_breaks_ties_as_scikit_learn() {
    let f = fixture();
    let truth = emotions(&f.ties.truth);
    let proba = probabilities(&f.ties.numerators, f.denominator);
    for (k, &expected) in (1..=7).zip(&f.ties.top_k_accuracy) {
        let actual = crate::eval::top_k_accuracy(&truth, proba.view(), k).unwrap();
        assert_close(&format!("top-{k} accuracy with ties"), actual, expected);
    }
}

fn check_mcnemar(expected: &ExpectedMcNemar) {
    let [[_, b], [c, _]] = expected.table;
    let exact = McNemarTest::with_method(b, c, McNemarMethod::ExactBinomial);
    let chi2 = McNemarTest::with_method(b, c, McNemarMethod::ChiSquareCorrected);
    assert_close("exact statistic", exact.statistic, expected.exact_statistic);
    assert_close("chi2 statistic", chi2.statistic, expected.chi2_statistic);
    // p-values can be ~1e-14: compare relatively.
    for (what, actual, wanted) in [
        ("exact p", exact.p_value, expected.exact_p_value),
        ("chi2 p", chi2.p_value, expected.chi2_p_value),
    ] {
        assert!(
            ((actual - wanted) / wanted).abs() < 1e-9,
            "{what}: fer-core {actual} vs statsmodels {wanted}"
        );
    }
}

#[test]
fn mcnemar_matches_statsmodels_on_large_and_small_tables() {
    let f = fixture();
    check_mcnemar(&f.mcnemar);
    check_mcnemar(&f.mcnemar_small);
    // The automatic choice: 12 discordant faces -> exact; 248 -> chi-square.
    let [[_, b], [c, _]] = f.mcnemar_small.table;
    assert_eq!(McNemarTest::new(b, c).method, McNemarMethod::ExactBinomial);

    let truth = emotions(&f.truth);
    let cnn = probabilities(&f.cnn_numerators, f.denominator);
    let baseline = probabilities(&f.baseline_numerators, f.denominator);
    let comparison =
        ModelComparison::new("cnn", "baseline", &truth, cnn.view(), baseline.view()).unwrap();
    let [[both_right, only_cnn], [only_baseline, both_wrong]] = f.mcnemar.table;
    assert_eq!(comparison.both_correct, both_right);
    assert_eq!(comparison.both_wrong, both_wrong);
    assert_eq!(comparison.mcnemar.only_a_correct, only_cnn);
    assert_eq!(comparison.mcnemar.only_b_correct, only_baseline);
    assert_eq!(comparison.mcnemar.method, McNemarMethod::ChiSquareCorrected);
    assert_close("accuracy a", comparison.accuracy_a, f.cnn.accuracy);
    assert_close("accuracy b", comparison.accuracy_b, f.baseline.accuracy);
}
