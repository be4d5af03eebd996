//! `fer evaluate --choose-tta --record` on a small generated fixture: the TTA choice and every
//! candidate's scores land in the checkpoint's `metrics.json` under `"tta"`, the rest of the
//! file is kept byte for byte, and bad input changes nothing.

use serde_json::Value;

use super::common::{assert_fails_with, fer, json_of, path_str, train_tiny_cnn, BandFixture};

#[test]
fn record_writes_the_choice_and_every_candidate_into_metrics_json() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, cache, ck) = (
        tmp.path().join("data"),
        tmp.path().join("cache"),
        tmp.path().join("ck"),
    );
    // 3 PublicTest and 3 PrivateTest faces per emotion: 21 of each.
    BandFixture {
        train_per_class: 8,
        test_per_class: 3,
        without: &[],
        blank_every: None,
        noise: 50,
        seed: 11,
    }
    .write(&data);
    train_tiny_cnn(&data, &cache, &ck);
    let metrics = ck.join("metrics.json");
    let before = std::fs::read_to_string(&metrics).unwrap();
    let evaluate = |more: &[&str]| {
        let mut args = vec![
            "evaluate",
            "--model",
            path_str(&ck),
            "--data",
            path_str(&data),
        ];
        args.extend(more);
        fer(&cache, &args)
    };

    let printed = json_of(&evaluate(&["--choose-tta", "--record", "--json"]));
    let after = std::fs::read_to_string(&metrics).unwrap();
    // What `fer train cnn` wrote is still there, as it was: the record is one more entry at
    // the end of the object.
    let kept = before.trim_end().strip_suffix('}').unwrap().trim_end();
    assert!(after.starts_with(kept), "{after}");
    let (before, after): (Value, Value) = (
        serde_json::from_str(&before).unwrap(),
        serde_json::from_str(&after).unwrap(),
    );
    for (key, value) in before.as_object().unwrap() {
        assert_eq!(&after[key], value, "{key}");
    }
    let record = &after["tta"];
    assert_eq!(record["chosen_on"], "public_test");
    assert_eq!(record["tta_mode"], printed["tta_mode"]);
    assert_eq!(record["tta_shift"], printed["tta_shift"]);
    // The candidates' PublicTest accuracies are the ones the choice printed, and the chosen
    // one's PrivateTest accuracy is the one reported (--split defaults to private-test).
    let candidates = record["candidates"].as_array().unwrap();
    let choice = printed["tta_choice"].as_array().unwrap();
    assert_eq!(candidates.len(), 5);
    assert_eq!(choice.len(), 5);
    for (candidate, printed_choice) in candidates.iter().zip(choice) {
        assert_eq!(candidate["tta_mode"], printed_choice["tta_mode"]);
        assert_eq!(candidate["tta_shift"], printed_choice["tta_shift"]);
        assert_eq!(
            candidate["public_test"]["accuracy"],
            printed_choice["public_test_accuracy"]
        );
        let (public, private, test) = (
            &candidate["public_test"],
            &candidate["private_test"],
            &candidate["test"],
        );
        assert_eq!(public["samples"], 21);
        assert_eq!(private["samples"], 21);
        assert_eq!(test["samples"], 42);
        // test/ is the two splits together.
        let correct = |split: &Value| split["correct"].as_u64().unwrap();
        assert_eq!(correct(test), correct(public) + correct(private));
        assert_eq!(
            public["accuracy"].as_f64().unwrap(),
            correct(public) as f64 / 21.0
        );
    }
    let chosen = candidates
        .iter()
        .find(|c| c["tta_mode"] == record["tta_mode"] && c["tta_shift"] == record["tta_shift"])
        .unwrap();
    assert_eq!(chosen["private_test"]["accuracy"], printed["accuracy"]);
    assert_eq!(chosen["private_test"]["macro_f1"], printed["macro_f1"]);
    // The same record on test/ reports the chosen TTA's test/ figures.
    let on_test = json_of(&evaluate(&[
        "--choose-tta",
        "--record",
        "--split",
        "test",
        "--json",
    ]));
    assert_eq!(on_test["n"], 42);
    assert_eq!(on_test["accuracy"], chosen["test"]["accuracy"]);
    let again: Value = serde_json::from_str(&std::fs::read_to_string(&metrics).unwrap()).unwrap();
    assert_eq!(
        again.as_object().unwrap().len(),
        before.as_object().unwrap().len() + 1
    );
    assert_eq!(again["tta"]["candidates"], record["candidates"]);

    // --record needs --choose-tta.
    assert_fails_with(&evaluate(&["--record"]), &["--choose-tta"]);
    // A metrics.json that is not a JSON object is named, and left as it was.
    std::fs::write(&metrics, "[1, 2]").unwrap();
    assert_fails_with(&evaluate(&["--choose-tta", "--record"]), &["metrics.json"]);
    assert_eq!(std::fs::read_to_string(&metrics).unwrap(), "[1, 2]");
}
