//! The data pipeline on the full FER2013 data set (`FER2013_DIR`): counts, splits, the cache and
//! a CSV round trip. Expected numbers are those of `../shared/fer2013/README.md` (Kaggle's
//! msambare/fer2013 copy).

use std::path::{Path, PathBuf};
use std::process::Command;

use fer_core::data::{self, Cache, CacheStatus};
use fer_core::{Emotion, Usage};
use serde_json::{json, Value};

/// Per class, in label order: train/, PublicTest, PrivateTest (README.md's table).
const TRAIN: [usize; 7] = [3995, 436, 4097, 7215, 4830, 3171, 4965];
const PUBLIC_TEST: [usize; 7] = [467, 56, 496, 895, 653, 415, 607];
pub const PRIVATE_TEST: [usize; 7] = [491, 55, 528, 879, 594, 416, 626];

/// The data set for full-data checks, from `FER2013_DIR`. Fails (rather than passing silently)
/// when the variable is unset or does not name a Kaggle-layout folder.
pub fn fer2013_dir() -> PathBuf {
    let dir = std::env::var_os("FER2013_DIR")
        .map(PathBuf::from)
        .expect("FER2013_DIR must name the FER2013 data set (see data/README.md)");
    assert!(
        dir.join("train").is_dir() && dir.join("test").is_dir(),
        "FER2013_DIR={} has no train/ and test/ folders",
        dir.display()
    );
    dir
}

fn per_class(counts: [usize; 7]) -> Value {
    Value::Object(
        Emotion::ALL
            .iter()
            .map(|e| (e.name().to_string(), json!(counts[e.index()])))
            .collect(),
    )
}

#[test]
fn fer_stats_on_full_fer2013_prints_the_documented_counts() {
    let cache = tempfile::tempdir().unwrap();
    let dir = fer2013_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_fer"))
        .args(["stats", "--json", "--data"])
        .arg(&dir)
        .env("FER_CACHE_DIR", cache.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
    let test: [usize; 7] = std::array::from_fn(|c| PUBLIC_TEST[c] + PRIVATE_TEST[c]);
    assert_eq!(
        stats,
        json!({
            "train": {"total": 28709, "per_class": per_class(TRAIN)},
            "test": {"total": 7178, "per_class": per_class(test)},
            "usage": {"Training": 28709, "PublicTest": 3589, "PrivateTest": 3589},
            // The copy holds only .jpg files under train/ and test/ (its README.md is beside
            // them, not inside).
            "skipped_files": 0
        })
    );
}

#[test]
fn full_fer2013_splits_cache_and_csv_round_trip() {
    let dir = fer2013_dir();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(cache_dir.path());
    let (fer, status) = data::load_with_cache(&dir, Some(&cache)).unwrap();
    assert!(matches!(status, CacheStatus::Written(_)), "{status:?}");

    // The papers' split follows each file's name prefix.
    let splits = fer.paper_split();
    assert_eq!(splits.train.class_counts(), TRAIN);
    assert_eq!(splits.validation.class_counts(), PUBLIC_TEST);
    assert_eq!(splits.test.class_counts(), PRIVATE_TEST);
    assert!(splits
        .validation
        .usages()
        .iter()
        .all(|&u| u == Usage::PublicTest));

    // A 10% stratified hold-out keeps each class's share (to within one face of rounding).
    let holdout = fer.holdout_split(0.1, 1).unwrap();
    for (c, &n) in TRAIN.iter().enumerate() {
        let expected = (n as f64 * 0.1).round() as usize;
        assert_eq!(holdout.validation.class_counts()[c], expected);
    }
    assert_eq!(holdout.train.len() + holdout.validation.len(), 28709);
    assert_eq!(holdout.test.len(), 7178);

    // The second load comes from the cache and is identical.
    let (cached, status) = data::load_with_cache(&dir, Some(&cache)).unwrap();
    assert!(matches!(status, CacheStatus::Hit(_)), "{status:?}");
    assert_eq!(cached, fer);

    // The folders written out as fer2013.csv load back to the same pixels, labels and usages.
    let out = tempfile::tempdir().unwrap();
    let csv = out.path().join("fer2013.csv");
    data::write_csv(&csv, &[&fer.train, &fer.kaggle_test]).unwrap();
    let from_csv = data::load_uncached(&csv).unwrap();
    for (a, b) in [
        (&fer.train, &from_csv.train),
        (&fer.kaggle_test, &from_csv.kaggle_test),
    ] {
        assert_eq!(a.len(), b.len());
        assert!(
            a.pixels() == b.pixels(),
            "pixels differ after the CSV round trip"
        );
        assert_eq!(a.labels(), b.labels());
        assert_eq!(a.usages(), b.usages());
    }
    // The first test row is on line 2 + 28,709 (the header is line 1).
    assert_eq!(
        from_csv.kaggle_test.origins()[0],
        fer_core::Origin::CsvLine(2 + 28709)
    );
    check_decoded_pixels_match_libjpeg(&dir, &fer);
}

/// Our decoding (the `image` crate's JPEG decoder) against an independent one: libjpeg-turbo's
/// `djpeg -pnm` (Debian 12's libjpeg-turbo-progs) gives a mean gray level of 129.4733 over all
/// 28,709 training faces, and a pixel sum of 244,225 for train/angry/Training_10118481.jpg,
/// first pixels 0x32 0x20 0x0f 0x0b. Decoders may round the inverse DCT differently, hence the
/// small tolerances.
fn check_decoded_pixels_match_libjpeg(dir: &Path, fer: &data::Fer2013) {
    let pixels = fer.train.pixels();
    let mean = pixels.iter().map(|&p| p as f64).sum::<f64>() / pixels.len() as f64;
    assert!((mean - 129.4733).abs() < 0.05, "mean gray level {mean}");

    let first = dir.join("train/angry/Training_10118481.jpg");
    let i = fer
        .train
        .origins()
        .iter()
        .position(|o| *o == fer_core::Origin::File(first.clone()))
        .expect("Training_10118481.jpg is loaded");
    let face = fer.train.face(i);
    let sum: i64 = face.iter().map(|&p| p as i64).sum();
    assert!((sum - 244_225).abs() <= 2304 / 2, "pixel sum {sum}");
    for (ours, theirs) in face.iter().zip([0x32u8, 0x20, 0x0f, 0x0b]) {
        assert!(ours.abs_diff(theirs) <= 2, "{:?}", &face[..4]);
    }
}
