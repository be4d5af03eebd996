//! The shipped checkpoint `data/models/fer-cnn/` on the full data set (`FER2013_DIR`): it
//! loads with today's code, and scoring it reproduces the figures of its row in the README's
//! results table and its TTA headline, as `metrics.json` records them (`fer train cnn` wrote
//! the plain figures when it was trained, `fer evaluate --choose-tta --record` the TTA ones),
//! so the weights cannot drift from the code that reads them. A second test checks that the
//! README and the model card state the figures `metrics.json` records.

use std::path::PathBuf;

use serde_json::Value;

use crate::common::{fer, json_of, path_str};
use crate::data_full::{fer2013_dir, PRIVATE_TEST};

/// The shipped model folder, from the repository's top.
fn shipped_model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/models/fer-cnn")
}

/// The shipped `metrics.json`.
fn shipped_metrics() -> Value {
    let text = std::fs::read_to_string(shipped_model().join("metrics.json"))
        .expect("metrics.json is shipped");
    serde_json::from_str(&text).expect("metrics.json parses")
}

/// PrivateTest faces whose predicted emotion may differ from the recorded one on another x86-64
/// machine: those whose two most probable emotions are closer than 1e-4. On the recording
/// machine (AVX-512 Intel, 2 cores) the probabilities are the same bits on 1 and 2 rayon
/// threads and from one call to the next (`RAYON_NUM_THREADS=1` and `=2`, PrivateTest, no TTA
/// and crops shift 3: 2,501 and 2,545 correct each time), so on one machine the counts are
/// exact. Another CPU can add in another order: the `gemm` crate picks its kernel when the
/// program starts (FMA, or scalar without FMA; its AVX-512 kernels are off, no `x86-v4`
/// feature) and sizes its blocks from the CPU's caches (the inner dimension is split above
/// 512; this network's products have at most 288 or 256), and a different order moves a
/// probability by about 1e-7. Faces with a margin under 1e-4, a thousandfold more, measured
/// with the shipped weights on PrivateTest: 2 without TTA (none under 1e-5), 0 with crops
/// shifted 3. So 2 is allowed per count on PrivateTest.
const MAY_FLIP: usize = 2;

/// The same for Kaggle's test/ (PublicTest and PrivateTest): PublicTest's margins were not
/// measured, so it is allowed as many as PrivateTest.
const MAY_FLIP_TEST: usize = 2 * MAY_FLIP;

/// How far macro-F1 on test/ can move per face that changes its predicted emotion: that face
/// changes the F1 of two emotions by at most about 2 / (2 TP + FP + FN) each; the smallest
/// denominator is disgust's (61 of its 111 faces right, 23 false positives, 50 misses in
/// metrics.json's confusion matrix: 195), so each F1 by at most 0.0103 and macro-F1, their
/// mean over 7, by 2 x 0.0103 / 7 < 0.003.
const MACRO_F1_PER_FLIP: f64 = 0.003;

/// Runs `fer evaluate` on the shipped model and `split` with `more` arguments.
fn evaluate(split: &str, more: &[&str]) -> Value {
    let model = shipped_model();
    let data = fer2013_dir();
    let cache = tempfile::tempdir().unwrap();
    let mut args = vec![
        "evaluate",
        "--model",
        path_str(&model),
        "--data",
        path_str(&data),
        "--split",
        split,
        "--json",
    ];
    args.extend(more);
    json_of(&fer(cache.path(), &args))
}

/// Correct faces of an accuracy over `n` faces.
fn correct(accuracy: &Value, n: usize) -> usize {
    (accuracy.as_f64().unwrap() * n as f64).round() as usize
}

/// Asserts `scored` is within `may_flip` faces of `recorded` (accuracies over `n` faces).
fn assert_close_counts(what: &str, scored: &Value, recorded: &Value, n: usize, may_flip: usize) {
    let (scored, recorded) = (correct(scored, n), correct(recorded, n));
    assert!(
        scored.abs_diff(recorded) <= may_flip,
        "{what}: {scored} of {n} correct, {recorded} recorded"
    );
}

#[test]
fn shipped_checkpoint_reproduces_its_recorded_figures() {
    let metrics = shipped_metrics();
    // 3,589 PrivateTest faces and 7,178 in test/ (shared/fer2013/README.md).
    let n_private = PRIVATE_TEST.iter().sum::<usize>();
    let n_test = 2 * n_private;
    assert_eq!(metrics["private_test"]["samples"], n_private);
    assert_eq!(metrics["test"]["samples"], n_test);

    // The README's row: test/ accuracy and macro-F1, PrivateTest accuracy (no TTA).
    let test = evaluate("test", &[]);
    assert_eq!(test["n"], n_test);
    assert_close_counts(
        "test/",
        &test["accuracy"],
        &metrics["test"]["accuracy"],
        n_test,
        MAY_FLIP_TEST,
    );
    let recorded_f1 = metrics["test"]["report"]["macro_avg"]["f1"]
        .as_f64()
        .unwrap();
    let f1 = test["macro_f1"].as_f64().unwrap();
    assert!(
        (f1 - recorded_f1).abs() <= MACRO_F1_PER_FLIP * MAY_FLIP_TEST as f64 + 1e-12,
        "test/ macro-F1 {f1}, {recorded_f1} recorded"
    );
    let private = evaluate("private-test", &[]);
    assert_eq!(private["n"], n_private);
    // 2,501 of 3,589 when it was trained (69.69%, data/models/fer-cnn/README.md).
    let recorded = &metrics["private_test"];
    assert_close_counts(
        "PrivateTest",
        &private["accuracy"],
        &recorded["accuracy"],
        n_private,
        MAY_FLIP,
    );
    for (emotion, recall) in recorded["per_class_recall"].as_object().unwrap() {
        let support = recorded["report"]["classes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| &c["emotion"] == emotion)
            .unwrap()["support"]
            .as_u64()
            .unwrap() as usize;
        let scored = &private["per_class_recall"][emotion];
        assert_close_counts(emotion, scored, recall, support, MAY_FLIP);
    }

    // The headline: PrivateTest with the TTA that PublicTest chose (crops shifted 3 pixels,
    // 10 views: 2,545 of 3,589 when recorded).
    let record = &metrics["tta"];
    let tta_args: Vec<String> = match (record["tta_mode"].as_str(), &record["tta_shift"]) {
        (Some("none"), _) => vec![],
        (Some("flip"), _) => vec!["--tta".into()],
        (Some("crops"), shift) => vec!["--tta-crops".into(), shift.to_string()],
        other => panic!("metrics.json: tta {other:?} is no TTA fer evaluate knows"),
    };
    let chosen = chosen_candidate(record);
    let with_tta = evaluate(
        "private-test",
        &tta_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(with_tta["tta_mode"], record["tta_mode"]);
    assert_close_counts(
        "PrivateTest with TTA",
        &with_tta["accuracy"],
        &chosen["private_test"]["accuracy"],
        n_private,
        MAY_FLIP,
    );
}

/// The candidate of `record` (metrics.json's "tta") that it names as chosen.
fn chosen_candidate(record: &Value) -> &Value {
    record["candidates"]
        .as_array()
        .expect("metrics.json has the TTA record of `fer evaluate --choose-tta --record`")
        .iter()
        .find(|c| c["tta_mode"] == record["tta_mode"] && c["tta_shift"] == record["tta_shift"])
        .expect("the chosen TTA is among the candidates")
}

/// `n` as the docs write counts: 2,545.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// A share as the docs write it, in percent with `decimals` decimals: "70.91%".
fn percent(share: &Value, decimals: usize) -> String {
    format!("{:.*}%", decimals, share.as_f64().unwrap() * 100.0)
}

/// A doc's text with every run of white space made one space and no bold markers, so a figure
/// is found however the paragraph is wrapped.
fn doc_text(path: &str) -> String {
    let text = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    text.replace("**", "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Asserts `doc` states `figure`.
fn assert_states(doc: &str, name: &str, figure: &str) {
    assert!(doc.contains(figure), "{name} does not state {figure:?}");
}

/// The README and the model card state what metrics.json records (no inference: the other test
/// checks that the weights still give the recorded figures).
#[test]
fn readme_and_model_card_state_the_recorded_figures() {
    let metrics = shipped_metrics();
    let readme = doc_text("../README.md");
    let card = doc_text("../data/models/fer-cnn/README.md");
    let record = &metrics["tta"];
    let chosen = chosen_candidate(record);
    let candidates = record["candidates"].as_array().unwrap();

    // The README's row of the shipped CNN: PrivateTest, test/, macro-F1 on test/, fit time.
    let summary = &metrics["summary"];
    let row = format!(
        "| {} | {} | {:.3} | {:.0} min |",
        percent(&metrics["private_test"]["accuracy"], 1),
        percent(&metrics["test"]["accuracy"], 1),
        metrics["test"]["report"]["macro_avg"]["f1"]
            .as_f64()
            .unwrap(),
        summary["train_seconds"].as_f64().unwrap() / 60.0
    );
    assert_states(&readme, "README.md", &row);
    // The TTA headline, in both docs.
    let correct = |split: &Value| thousands(split["correct"].as_u64().unwrap());
    let headline = format!(
        "{} on `PrivateTest` ({} of {} faces) and {} on `test/`",
        percent(&chosen["private_test"]["accuracy"], 2),
        correct(&chosen["private_test"]),
        thousands(chosen["private_test"]["samples"].as_u64().unwrap()),
        percent(&chosen["test"]["accuracy"], 2),
    );
    assert_states(&readme, "README.md", &headline);
    let card_headline = format!(
        "the headline is {} on `PrivateTest` ({} of {};",
        percent(&chosen["private_test"]["accuracy"], 2),
        correct(&chosen["private_test"]),
        thousands(chosen["private_test"]["samples"].as_u64().unwrap()),
    );
    assert_states(&card, "the model card", &card_headline);

    // The model card: the epoch kept, the candidates' PublicTest counts, and the results table
    // (no TTA, flip, crops shifted 1, 2 and 3, macro-F1 without TTA) for each split.
    let epoch = format!(
        "epoch {} of {}, {}",
        summary["best_epoch"],
        summary["epochs_run"],
        percent(&metrics["public_test"]["accuracy"], 2)
    );
    assert_states(&card, "the model card", &epoch);
    let public: Vec<String> = candidates
        .iter()
        .map(|c| correct(&c["public_test"]))
        .collect();
    let counts = format!(
        "none {}, flip {}, crops with shift 1: {}, 2: {}, 3: {}",
        public[0], public[1], public[2], public[3], public[4]
    );
    assert_states(&card, "the model card", &counts);
    for split in ["private_test", "test", "public_test"] {
        let mut cells = vec![thousands(candidates[0][split]["samples"].as_u64().unwrap())];
        cells.extend(candidates.iter().map(|c| percent(&c[split]["accuracy"], 2)));
        cells.push(format!(
            "{:.3}",
            candidates[0][split]["macro_f1"].as_f64().unwrap()
        ));
        assert_states(
            &card,
            "the model card",
            &format!("| {} |", cells.join(" | ")),
        );
    }
    // The comparison with the earlier recipes: this one's row.
    let tta_name = match &record["tta_shift"] {
        Value::Null => record["tta_mode"].as_str().unwrap().to_string(),
        shift => format!("{}, shift {shift}", record["tta_mode"].as_str().unwrap()),
    };
    let this_one = format!(
        "{} / {} faces ({tta_name}) | {} / {} | {:.3} |",
        percent(&metrics["public_test"]["accuracy"], 2),
        correct(&chosen["public_test"]),
        percent(&metrics["private_test"]["accuracy"], 2),
        percent(&chosen["private_test"]["accuracy"], 2),
        metrics["private_test"]["report"]["macro_avg"]["f1"]
            .as_f64()
            .unwrap(),
    );
    assert_states(&card, "the model card", &this_one);
    // Per emotion on PrivateTest, no TTA.
    for class in metrics["private_test"]["report"]["classes"]
        .as_array()
        .unwrap()
    {
        let row = format!(
            "| {} | {:.3} | {:.3} | {:.3} | {} |",
            class["emotion"].as_str().unwrap(),
            class["precision"].as_f64().unwrap(),
            class["recall"].as_f64().unwrap(),
            class["f1"].as_f64().unwrap(),
            class["support"]
        );
        assert_states(&card, "the model card", &row);
    }
}
