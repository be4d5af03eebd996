//! Fuzzing the decoded-data cache reader: random and mutated cache files (truncated, another
//! header, wrong counts and lengths) read or miss, never a panic. Bound: 1 MiB + 64 bytes per
//! input byte held at once (a count claiming more faces than the file holds must not be
//! allocated).

use std::path::Path;

use proptest::collection::vec;
use proptest::prelude::*;

use super::cache::{read_file, write_to, SourceKey};
use super::dataset::{Dataset, Origin, Usage, IMAGE_PIXELS};
use super::load::Fer2013;
use crate::emotion::Emotion;
use crate::fuzz::harness::{fuzz, inputs, Outcome};

/// A cache of `faces` faces per part, with both kinds of origin.
fn cache_file(source: &Path, key: &SourceKey, faces: usize) -> Vec<u8> {
    let part = |usage: Usage| {
        let origins = (0..faces)
            .map(|i| {
                if i % 2 == 0 {
                    Origin::CsvLine(i as u64 + 2)
                } else {
                    Origin::File(source.join(format!("train/happy/{i}.png")))
                }
            })
            .collect();
        Dataset::from_parts(
            (0..faces * IMAGE_PIXELS).map(|i| (i % 251) as u8).collect(),
            vec![Emotion::Happy; faces],
            vec![usage; faces],
            origins,
        )
        .unwrap()
    };
    let data = Fer2013 {
        train: part(Usage::Training),
        kaggle_test: part(Usage::PublicTest),
        skipped_files: 3,
        cache_warning: None,
    };
    let mut bytes = Vec::new();
    write_to(&mut bytes, source, key, &data).unwrap();
    bytes
}

#[test]
fn random_and_mutated_data_cache_files_read_or_miss() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("fer2013.csv");
    std::fs::write(&source, "emotion,pixels,Usage\n").unwrap();
    let key = SourceKey::of_file(&source).unwrap();
    let file = dir.path().join("cache.bin");
    // Empty parts (the counts and trailer are most of the file) and two faces per part.
    let empty = cache_file(&source, &key, 0);
    let two = cache_file(&source, &key, 2);
    std::fs::write(&file, &two).unwrap();
    assert_eq!(read_file(&file, &source, &key).unwrap().train.len(), 2);
    // The header (magic, version, key) intact and any payload after it, so that the counts
    // and lengths are read rather than the header refused.
    let header = two[..44].to_vec();
    let after_header =
        vec(any::<u8>(), 0..256).prop_map(move |payload| [&header[..], &payload].concat());
    let strategy = prop_oneof![3 => inputs(vec![empty, two], 256), 1 => after_header];
    fuzz("data cache", 400, strategy, 1 << 20, 64, |bytes| {
        std::fs::write(&file, bytes).map_err(|e| e.to_string())?;
        Ok(Outcome::of(&read_file(&file, &source, &key)))
    });
}
