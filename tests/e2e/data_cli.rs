//! `fer stats` on generated fixtures: every image format the loader promises, files that are not
//! data, and each bad input of the data pipeline (a clear `error:` naming the path or line, a
//! non-zero exit, never a panic).

use std::io::Cursor;
use std::path::Path;
use std::process::Command;

use fer_core::{Emotion, IMAGE_PIXELS};
use image::{DynamicImage, ImageBuffer, ImageFormat, Luma, Rgb, Rgba};
use serde_json::{json, Value};

use super::common::{fer, path_str};

fn stats_json(cache: &Path, data: &Path) -> Value {
    let out = fer(cache, &["stats", "--data", path_str(data), "--json"]);
    assert!(
        out.status.success(),
        "fer stats failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

/// Runs `fer stats` on a bad input and returns its stderr, checking that it failed cleanly:
/// exit code 1 (not clap's 2, not a panic's 101), one `error:` line, no panic message.
fn stats_error(cache: &Path, data: &Path) -> String {
    let out = fer(cache, &["stats", "--data", path_str(data)]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.stdout.is_empty());
    stderr
}

fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), format)
        .expect("encoding a fixture image");
    bytes
}

fn gray_jpeg() -> Vec<u8> {
    let gradient = ImageBuffer::from_fn(48, 48, |x, y| Luma([(x * 4 + y) as u8]));
    encode(DynamicImage::ImageLuma8(gradient), ImageFormat::Jpeg)
}

/// A valid Kaggle-layout tree: in each part, one image per emotion, cycling through the formats
/// and shapes users have (48x48 gray JPEG, 64x64 RGB PNG, 30x40 RGBA PNG, 16-bit gray PNG, BMP);
/// train/ names carry the `Training_` prefix, test/ alternates `PublicTest_`, `PrivateTest_` and
/// no prefix (which counts as PrivateTest). Returns how many junk files were added (3).
fn write_valid_tree(root: &Path) -> usize {
    for (p, part) in ["train", "test"].iter().enumerate() {
        for emotion in Emotion::ALL {
            let dir = root.join(part).join(emotion.name().to_uppercase());
            std::fs::create_dir_all(&dir).unwrap();
            let i = emotion.index();
            let (bytes, extension) = match i % 5 {
                0 => (gray_jpeg(), "jpg"),
                1 => (
                    encode(
                        DynamicImage::ImageRgb8(ImageBuffer::from_pixel(64, 64, Rgb([9, 99, 199]))),
                        ImageFormat::Png,
                    ),
                    "PNG",
                ),
                2 => (
                    encode(
                        DynamicImage::ImageRgba8(ImageBuffer::from_pixel(
                            30,
                            40,
                            Rgba([10, 20, 30, 128]),
                        )),
                        ImageFormat::Png,
                    ),
                    "png",
                ),
                3 => (
                    encode(
                        DynamicImage::ImageLuma16(ImageBuffer::from_pixel(48, 48, Luma([40000]))),
                        ImageFormat::Png,
                    ),
                    "png",
                ),
                _ => (
                    encode(
                        DynamicImage::ImageRgb8(ImageBuffer::from_pixel(50, 50, Rgb([1, 2, 3]))),
                        ImageFormat::Bmp,
                    ),
                    "bmp",
                ),
            };
            let prefix = match (p, i % 3) {
                (0, _) => "Training_",
                (_, 0) => "PublicTest_",
                (_, 1) => "PrivateTest_",
                _ => "",
            };
            std::fs::write(dir.join(format!("{prefix}{i}.{extension}")), bytes).unwrap();
        }
    }
    std::fs::write(root.join("train/.DS_Store"), b"\0\0\0\x01Bud1").unwrap();
    std::fs::write(root.join("train/HAPPY/Thumbs.db"), b"junk").unwrap();
    std::fs::write(root.join("test/SAD/notes.txt"), b"taken on Monday").unwrap();
    3
}

#[test]
fn stats_counts_every_format_and_skips_files_that_are_not_data() {
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let junk = write_valid_tree(data.path());
    let one_each = json!({"angry": 1, "disgust": 1, "fear": 1, "happy": 1, "sad": 1,
        "surprise": 1, "neutral": 1});
    // Test usages by emotion index mod 3: 0 Public, 1 Private, 2 none (Private):
    // indices 0, 3, 6 are PublicTest; 1, 2, 4, 5 PrivateTest.
    let expected = json!({
        "train": {"total": 7, "per_class": one_each},
        "test": {"total": 7, "per_class": one_each},
        "usage": {"Training": 7, "PublicTest": 3, "PrivateTest": 4},
        "skipped_files": junk
    });
    assert_eq!(stats_json(cache.path(), data.path()), expected);
    // The second run reads the cache file written by the first and prints the same.
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 1);
    assert_eq!(stats_json(cache.path(), data.path()), expected);

    // The table names the data set and the totals.
    let out = fer(cache.path(), &["stats", "--data", path_str(data.path())]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains(path_str(data.path())), "{table}");
    assert!(table.contains("skipped files (not data): 3"), "{table}");
}

#[test]
fn stats_reads_a_csv_and_a_folder_holding_fer2013_csv() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let pixels = vec!["128"; IMAGE_PIXELS].join(" ");
    let csv = format!(
        "emotion,pixels,Usage\n0,{pixels},Training\n3,{pixels},Training\n\
         3,{pixels},PublicTest\n6,{pixels},PrivateTest\n1,{pixels},PrivateTest\n"
    );
    let path = dir.path().join("fer2013.csv");
    std::fs::write(&path, csv).unwrap();
    let expected = json!({
        "train": {"total": 2, "per_class": {"angry": 1, "disgust": 0, "fear": 0, "happy": 1,
            "sad": 0, "surprise": 0, "neutral": 0}},
        "test": {"total": 3, "per_class": {"angry": 0, "disgust": 1, "fear": 0, "happy": 1,
            "sad": 0, "surprise": 0, "neutral": 1}},
        "usage": {"Training": 2, "PublicTest": 1, "PrivateTest": 2},
        "skipped_files": 0
    });
    assert_eq!(stats_json(cache.path(), &path), expected);
    assert_eq!(stats_json(cache.path(), dir.path()), expected);
}

#[test]
fn data_path_falls_back_to_fer2013_dir() {
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write_valid_tree(data.path());
    let out = Command::new(env!("CARGO_BIN_EXE_fer"))
        .args(["stats", "--json"])
        .env("FER_CACHE_DIR", cache.path())
        .env("FER2013_DIR", data.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["train"]["total"], 7);
}

#[test]
fn a_missing_root_or_part_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let err = stats_error(cache.path(), &missing);
    assert!(
        err.contains("nowhere") && err.contains("no such folder"),
        "{err}"
    );

    let root = dir.path().join("no_test");
    write_valid_tree(&root);
    std::fs::remove_dir_all(root.join("test")).unwrap();
    let err = stats_error(cache.path(), &root);
    assert!(err.contains("no_test/test: missing folder"), "{err}");

    let root = dir.path().join("no_train");
    write_valid_tree(&root);
    std::fs::remove_dir_all(root.join("train")).unwrap();
    let err = stats_error(cache.path(), &root);
    assert!(err.contains("no_train/train: missing folder"), "{err}");

    let other = dir.path().join("faces.zip");
    std::fs::write(&other, b"PK").unwrap();
    let err = stats_error(cache.path(), &other);
    assert!(err.contains("faces.zip: not a .csv file"), "{err}");
}

#[test]
fn a_folder_that_is_not_an_emotion_is_an_error_naming_it() {
    let root = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write_valid_tree(root.path());
    let contempt = root.path().join("train/contempt");
    std::fs::create_dir(&contempt).unwrap();
    std::fs::write(contempt.join("Training_1.jpg"), gray_jpeg()).unwrap();
    let err = stats_error(cache.path(), root.path());
    assert!(
        err.contains("train/contempt") && err.contains("not an emotion folder"),
        "{err}"
    );
    assert!(
        err.contains("angry, disgust, fear, happy, sad, surprise, neutral"),
        "{err}"
    );
}

#[test]
fn an_image_that_does_not_decode_is_an_error_naming_the_file() {
    let jpeg = gray_jpeg();
    let mut corrupt = jpeg.clone();
    // Keep the JPEG signature, scramble the headers and entropy-coded data after it.
    for (i, byte) in corrupt.iter_mut().enumerate().skip(3) {
        *byte = (i * 37 % 251) as u8;
    }
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("Training_zero.jpg", Vec::new(), "0 bytes"),
        (
            "Training_half.jpg",
            jpeg[..jpeg.len() / 2].to_vec(),
            "not a readable image",
        ),
        ("Training_corrupt.jpg", corrupt, "not a readable image"),
        (
            "Training_text.jpg",
            b"<html>404 Not Found</html>\n".to_vec(),
            "not a readable image",
        ),
    ];
    for (name, bytes, expected) in cases {
        let root = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        write_valid_tree(root.path());
        std::fs::write(root.path().join("train/FEAR").join(name), bytes).unwrap();
        let err = stats_error(cache.path(), root.path());
        assert!(err.contains(&format!("train/FEAR/{name}")), "{err}");
        assert!(err.contains(expected), "{name}: {err}");
        // A failed load writes no cache.
        assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0);
    }
}

#[test]
fn bad_csv_rows_are_errors_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let pixels = vec!["7"; IMAGE_PIXELS].join(" ");
    let good = format!("0,{pixels},Training\n5,{pixels},PublicTest\n");
    let cases = [
        (
            format!("3,{},Training\n", vec!["7"; 2000].join(" ")),
            "2000 pixel values; expected 2304",
        ),
        (
            format!("3,256 {},Training\n", vec!["7"; IMAGE_PIXELS - 1].join(" ")),
            "pixel 1 is \"256\"; expected 0-255",
        ),
        (
            format!("7,{pixels},Training\n"),
            "emotion \"7\"; expected a label 0-6",
        ),
        (
            format!("3,{pixels},Validation\n"),
            "Usage \"Validation\"; expected Training, PublicTest or PrivateTest",
        ),
    ];
    for (bad, expected) in cases {
        let path = dir.path().join("fer2013.csv");
        // Header (line 1), two good rows (lines 2-3), the bad row on line 4.
        std::fs::write(&path, format!("emotion,pixels,Usage\n{good}{bad}")).unwrap();
        let err = stats_error(cache.path(), &path);
        assert!(err.contains("fer2013.csv, line 4: "), "{err}");
        assert!(err.contains(expected), "{err} lacks {expected}");
    }
}

#[test]
fn an_empty_data_set_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    // Emotion folders holding only junk.
    let root = dir.path().join("empty");
    for part in ["train", "test"] {
        std::fs::create_dir_all(root.join(part).join("happy")).unwrap();
    }
    std::fs::write(root.join("train/happy/Thumbs.db"), b"junk").unwrap();
    let err = stats_error(cache.path(), &root);
    assert!(
        err.contains("empty data set") && err.contains("no images"),
        "{err}"
    );

    let csv = dir.path().join("header_only.csv");
    std::fs::write(&csv, "emotion,pixels,Usage\n").unwrap();
    let err = stats_error(cache.path(), &csv);
    assert!(
        err.contains("empty data set") && err.contains("header_only.csv: no rows"),
        "{err}"
    );
}
