//! `fer predict --crop`: the top three emotions of face crops of any size and colour, the same
//! probabilities as the library computes, and clear errors for bad images and bad model
//! folders.

use std::path::Path;

use fer_core::cnn::{load_checkpoint, Tta, DEFAULT_TTA_SHIFT};
use fer_core::Emotion;
use image::{Rgb, RgbImage};

use super::common::{assert_fails_with, fer, json_of, path_str, train_tiny_cnn, BandFixture};

/// The band fixture (see [`BandFixture`]) with 8 training faces per emotion: enough for a
/// one-epoch checkpoint; the test is about the plumbing, not accuracy.
fn setup(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (data, cache, ck) = (root.join("data"), root.join("cache"), root.join("ck"));
    BandFixture {
        train_per_class: 8,
        test_per_class: 3,
        without: &[],
        blank_every: None,
        noise: 50,
        seed: 7,
    }
    .write(&data);
    train_tiny_cnn(&data, &cache, &ck);
    (data, ck)
}

#[test]
fn predict_ranks_emotions_of_any_image_as_the_library_does() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, ck) = setup(tmp.path());
    let cache = tmp.path().join("cache");
    // A fixture face as it is (48x48 gray PNG), and a colour JPEG of another size and aspect
    // ratio, which must go through the same grayscale conversion and resize as training data.
    let gray = data.join("test/happy/PrivateTest_0.png");
    let photo = tmp.path().join("photo.jpg");
    RgbImage::from_fn(120, 90, |x, y| {
        Rgb([(x * 2) as u8, if y / 11 == 3 { 200 } else { 40 }, 90])
    })
    .save(&photo)
    .unwrap();
    let (ck_arg, gray_arg, photo_arg) = (path_str(&ck), path_str(&gray), path_str(&photo));

    let model = load_checkpoint(&ck).unwrap();
    for (tta, flag) in [
        (Tta::None, None),
        (Tta::Flip, Some("--tta")),
        (
            Tta::Crops {
                shift: DEFAULT_TTA_SHIFT,
            },
            Some("--tta-crops"),
        ),
    ] {
        let mut args = vec![
            "predict", "--model", ck_arg, "--crop", gray_arg, photo_arg, "--json",
        ];
        args.extend(flag);
        let json = json_of(&fer(&cache, &args));
        let list = json.as_array().expect("a JSON list");
        assert_eq!(list.len(), 2);
        let expected = model.predict_image_files(&[&gray, &photo], tta).unwrap();
        for (item, (file, p)) in list
            .iter()
            .zip([(gray_arg, &expected[0]), (photo_arg, &expected[1])])
        {
            assert_eq!(item["file"], file);
            let top = item["top"].as_array().unwrap();
            assert_eq!(top.len(), 3);
            let mut previous = f64::INFINITY;
            for entry in top {
                let name = entry["emotion"].as_str().unwrap();
                let emotion = Emotion::ALL
                    .into_iter()
                    .find(|e| e.name() == name)
                    .unwrap_or_else(|| panic!("unknown emotion {name}"));
                let probability = entry["probability"].as_f64().unwrap();
                // The printed probability is the library's, serialised as f32.
                assert!(
                    (probability - f64::from(p[emotion.index()])).abs() < 1e-6,
                    "{name}: {probability} vs {}",
                    p[emotion.index()]
                );
                assert!(probability <= previous, "not ranked: {top:?}");
                previous = probability;
            }
            // The top one is the library's most probable emotion.
            let best = (0..7).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
            assert_eq!(top[0]["emotion"], Emotion::ALL[best].name());
        }
    }

    let text = fer(&cache, &["predict", "--model", ck_arg, "--crop", gray_arg]);
    assert!(text.status.success());
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with(&format!("{gray_arg}: ")), "{stdout}");
    assert_eq!(stdout.matches('%').count(), 3, "{stdout}");
}

#[test]
fn bad_images_and_bad_model_folders_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, ck) = setup(tmp.path());
    let cache = tmp.path().join("cache");
    let face = data.join("test/sad/PrivateTest_1.png");
    let (ck_arg, face_arg) = (path_str(&ck), path_str(&face));

    // A text file named like an image, among good ones: nothing is printed for any.
    let notes = tmp.path().join("notes.jpg");
    std::fs::write(&notes, "not an image").unwrap();
    let out = fer(
        &cache,
        &["predict", "--model", ck_arg, face_arg, path_str(&notes)],
    );
    assert_fails_with(&out, &["notes.jpg", "not a readable image"]);
    // An empty file, a missing one, and an unreadable one (a folder).
    let empty = tmp.path().join("empty.png");
    std::fs::write(&empty, "").unwrap();
    assert_fails_with(
        &fer(&cache, &["predict", "--model", ck_arg, path_str(&empty)]),
        &["empty.png", "empty file"],
    );
    let missing = tmp.path().join("missing.png");
    assert_fails_with(
        &fer(&cache, &["predict", "--model", ck_arg, path_str(&missing)]),
        &["missing.png"],
    );
    assert_fails_with(
        &fer(
            &cache,
            &["predict", "--model", ck_arg, path_str(tmp.path())],
        ),
        &[path_str(tmp.path())],
    );

    // No image at all, an unknown flag: clap's usage errors.
    assert_fails_with(&fer(&cache, &["predict", "--model", ck_arg]), &["IMAGE"]);
    assert_fails_with(
        &fer(&cache, &["predict", "--model", ck_arg, "--bogus", face_arg]),
        &["--bogus"],
    );

    // A folder that is not a checkpoint, a missing one.
    assert_fails_with(
        &fer(&cache, &["predict", "--model", path_str(&data), face_arg]),
        &["config.json", "--model"],
    );
    assert_fails_with(
        &fer(&cache, &["predict", "--model", "/nonexistent/ck", face_arg]),
        &["/nonexistent/ck"],
    );

    // The checkpoint's config claims the other architecture than its weights.
    let other = tmp.path().join("other_arch");
    copy_dir(&ck, &other);
    let config = std::fs::read_to_string(other.join("config.json")).unwrap();
    assert!(config.contains("\"best\""), "{config}");
    std::fs::write(
        other.join("config.json"),
        config.replace("\"best\"", "\"seed\""),
    )
    .unwrap();
    assert_fails_with(
        &fer(&cache, &["predict", "--model", path_str(&other), face_arg]),
        &["model.safetensors", "`seed` architecture"],
    );

    // Corrupt weights: the file cut in half.
    let corrupt = tmp.path().join("corrupt");
    copy_dir(&ck, &corrupt);
    let weights = std::fs::read(corrupt.join("model.safetensors")).unwrap();
    std::fs::write(
        corrupt.join("model.safetensors"),
        &weights[..weights.len() / 2],
    )
    .unwrap();
    assert_fails_with(
        &fer(
            &cache,
            &["predict", "--model", path_str(&corrupt), face_arg],
        ),
        &["model.safetensors"],
    );
    // Corrupt normalisation statistics.
    let stats = tmp.path().join("stats");
    copy_dir(&ck, &stats);
    std::fs::write(stats.join("normalization.json"), "{\"mean\": [").unwrap();
    assert_fails_with(
        &fer(&cache, &["predict", "--model", path_str(&stats), face_arg]),
        &["normalization.json"],
    );
}

/// Copies the files of a checkpoint folder (not its last/ sub-folder).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn help_says_the_model_expects_a_face_crop() {
    let tmp = tempfile::tempdir().unwrap();
    let out = fer(tmp.path(), &["predict", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("face crop"), "{help}");
}
