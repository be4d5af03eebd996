//! Faces in photos: the detector on a synthetic photo (a FER2013 face pasted at a known place
//! and scale), no face on blank and noise images, and `fer predict`'s photo mode (`--json`,
//! `--annotate`, `--crop`, folders, bad files) with the shipped model. Reads one FER2013 face
//! from `FER2013_DIR`; photos are made here, none is committed.

use std::path::{Path, PathBuf};

use fer_core::cnn::load_checkpoint;
use fer_core::data::load_face;
use fer_core::faces::{
    crop_region, detect_faces, FaceBox, CROP_CENTER_DX, CROP_CENTER_DY, CROP_SIDE_PER_BOX,
};
use image::{imageops::FilterType, DynamicImage, GrayImage, Luma, Rgb, RgbImage};
use rand::{Rng, SeedableRng};

use super::common::{assert_fails_with, fer, json_of, path_str};
use super::data_full::fer2013_dir;

/// A FER2013 test face the detector finds when enlarged 4x (chosen among the first of
/// test/happy/ by `examples/faces_measure.rs frame`, which found 85% of 500 test faces).
const FACE: &str = "test/happy/PrivateTest_10077120.jpg";

/// Where and how large the face is pasted into the synthetic photo.
const PASTE_AT: (u32, u32) = (230, 110);
const PASTE_SIDE: u32 = 160;

/// A 640x480 colour photo: a smooth background with the FER2013 face [`FACE`] enlarged to
/// [`PASTE_SIDE`] pixels at [`PASTE_AT`].
fn synthetic_photo() -> RgbImage {
    let face = load_face(&fer2013_dir().join(FACE)).unwrap();
    let face = GrayImage::from_raw(48, 48, face.to_vec()).unwrap();
    let big = image::imageops::resize(&face, PASTE_SIDE, PASTE_SIDE, FilterType::Triangle);
    let mut photo = RgbImage::from_fn(640, 480, |x, y| {
        Rgb([(60 + x / 8) as u8, (90 + y / 8) as u8, 120])
    });
    for (x, y, p) in big.enumerate_pixels() {
        let v = p[0];
        photo.put_pixel(PASTE_AT.0 + x, PASTE_AT.1 + y, Rgb([v, v, v]));
    }
    photo
}

/// The box the detector should give for the pasted face: the pasted square is a whole FER2013
/// crop, so the box is the crop's frame undone (side / CROP_SIDE_PER_BOX, centre moved back by
/// the measured offsets).
fn expected_box() -> FaceBox {
    let side = PASTE_SIDE as f32 / CROP_SIDE_PER_BOX;
    let cx = PASTE_AT.0 as f32 + PASTE_SIDE as f32 / 2.0 - CROP_CENTER_DX * side;
    let cy = PASTE_AT.1 as f32 + PASTE_SIDE as f32 / 2.0 - CROP_CENTER_DY * side;
    FaceBox {
        x: (cx - side / 2.0).round() as u32,
        y: (cy - side / 2.0).round() as u32,
        width: side.round() as u32,
        height: side.round() as u32,
        score: 0.0,
    }
}

#[test]
fn the_pasted_face_is_found_where_it_was_pasted_and_nothing_else() {
    let photo = DynamicImage::ImageRgb8(synthetic_photo());
    let boxes = detect_faces(&photo);
    assert_eq!(boxes.len(), 1, "{boxes:?}");
    // Tolerance: an intersection over union of at least 0.7 with the expected box. The frame's
    // constants are medians over 500 faces, whose boxes spread around them (one face's box
    // differs from the median frame by several percent of its side).
    let iou = boxes[0].iou(&expected_box());
    assert!(
        iou >= 0.7,
        "IoU {iou}: {:?} vs {:?}",
        boxes[0],
        expected_box()
    );
    // The crop around the box covers the pasted square to within the same tolerance.
    let (left, top, side) = crop_region(&boxes[0]);
    let crop = FaceBox {
        x: left.max(0) as u32,
        y: top.max(0) as u32,
        width: side,
        height: side,
        score: 0.0,
    };
    let pasted = FaceBox {
        x: PASTE_AT.0,
        y: PASTE_AT.1,
        width: PASTE_SIDE,
        height: PASTE_SIDE,
        score: 0.0,
    };
    assert!(crop.iou(&pasted) >= 0.7, "{crop:?} vs {pasted:?}");
}

#[test]
fn blank_and_noise_photos_hold_no_face() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let noise = GrayImage::from_fn(640, 480, |_, _| Luma([rng.gen()]));
    assert!(detect_faces(&DynamicImage::ImageLuma8(noise)).is_empty());
    let blank = RgbImage::from_pixel(640, 480, Rgb([250, 250, 250]));
    assert!(detect_faces(&DynamicImage::ImageRgb8(blank)).is_empty());
}

fn shipped_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/models/fer-cnn")
}

#[test]
fn predict_finds_and_classifies_the_faces_of_photos() {
    let tmp = tempfile::tempdir().unwrap();
    let photos = tmp.path().join("photos");
    std::fs::create_dir_all(photos.join("more")).unwrap();
    let face_photo = photos.join("face.jpg");
    synthetic_photo().save(&face_photo).unwrap();
    let blank = photos.join("more/blank.png");
    RgbImage::from_pixel(320, 200, Rgb([30, 30, 30]))
        .save(&blank)
        .unwrap();
    std::fs::write(
        photos.join("notes.txt"),
        "not an image: skipped in a folder",
    )
    .unwrap();
    let (model, cache) = (shipped_model(), tmp.path().join("cache"));
    let annotate = tmp.path().join("drawn");

    // A folder: its images, recursively and sorted, the text file skipped.
    let out = fer(
        &cache,
        &[
            "predict",
            "--model",
            path_str(&model),
            path_str(&photos),
            "--json",
            "--annotate",
            path_str(&annotate),
        ],
    );
    let json = json_of(&out);
    let list = json.as_array().expect("a JSON list");
    assert_eq!(list.len(), 2, "{json}");
    assert_eq!(list[0]["file"], path_str(&face_photo));
    assert_eq!(list[1]["file"], path_str(&blank));
    // The blank photo: an empty list of faces, no emotions.
    assert_eq!(list[1]["faces"], serde_json::json!([]));
    // The face: its box (the detector's, as the library gives it), score and top three.
    let faces = list[0]["faces"].as_array().unwrap();
    assert_eq!(faces.len(), 1, "{json}");
    let face = &faces[0];
    let b = &face["box"];
    let library = detect_faces(&image::open(&face_photo).unwrap());
    assert_eq!(library.len(), 1);
    assert_eq!(b["x"], library[0].x);
    assert_eq!(b["y"], library[0].y);
    assert_eq!(b["width"], library[0].width);
    assert_eq!(b["height"], library[0].height);
    assert_eq!(b.as_object().unwrap().len(), 4, "{b}");
    assert!(face["score"].as_f64().unwrap() > 0.0);
    let top = face["top"].as_array().unwrap();
    assert_eq!(top.len(), 3);
    let mut sum = 0.0;
    for entry in top {
        assert!(entry["emotion"].is_string());
        sum += entry["probability"].as_f64().unwrap();
    }
    assert!(sum > 0.0 && sum <= 1.0 + 1e-6, "{top:?}");

    // --annotate: a PNG of each input's size, named after it.
    for (input, size) in [(&face_photo, (640, 480)), (&blank, (320, 200))] {
        let name = input.with_extension("png");
        let drawn = annotate.join(name.file_name().unwrap());
        let png = image::open(&drawn).unwrap_or_else(|e| panic!("{}: {e}", drawn.display()));
        assert_eq!((png.width(), png.height()), size);
    }

    // The text output: the face with its box and three emotions; the blank photo says so.
    let out = fer(
        &cache,
        &[
            "predict",
            "--model",
            path_str(&model),
            path_str(&face_photo),
            path_str(&blank),
        ],
    );
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("{}: 1 face", path_str(&face_photo))),
        "{text}"
    );
    assert!(
        text.contains(&format!("x={} y={}", library[0].x, library[0].y)),
        "{text}"
    );
    assert!(
        text.contains(&format!("{}: no face found", path_str(&blank))),
        "{text}"
    );
    assert_eq!(text.matches('%').count(), 3, "{text}");
}

#[test]
fn crop_mode_is_the_face_crop_classification_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let face = fer2013_dir().join(FACE);
    let photo = tmp.path().join("photo.png");
    synthetic_photo().save(&photo).unwrap();
    let model = load_checkpoint(&shipped_model()).unwrap();
    let out = fer(
        &tmp.path().join("cache"),
        &[
            "predict",
            "--model",
            path_str(&shipped_model()),
            "--crop",
            "--tta",
            path_str(&face),
            path_str(&photo),
            "--json",
        ],
    );
    let json = json_of(&out);
    let expected = model
        .predict_image_files(&[&face, &photo], fer_core::cnn::Tta::Flip)
        .unwrap();
    for (item, p) in json.as_array().unwrap().iter().zip(&expected) {
        for entry in item["top"].as_array().unwrap() {
            let name = entry["emotion"].as_str().unwrap();
            let e = fer_core::Emotion::ALL
                .into_iter()
                .find(|e| e.name() == name)
                .unwrap();
            // Serialised as f32 and read back as f64: equal exactly when the bits are.
            assert_eq!(entry["probability"].as_f64().unwrap() as f32, p[e.index()]);
        }
    }
}

#[test]
fn undecodable_and_missing_photos_fail_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let model = shipped_model();
    let bad = tmp.path().join("broken.jpg");
    std::fs::write(&bad, "not a JPEG").unwrap();
    assert_fails_with(
        &fer(
            &cache,
            &["predict", "--model", path_str(&model), path_str(&bad)],
        ),
        &["broken.jpg", "not a readable image"],
    );
    let missing = tmp.path().join("missing.png");
    assert_fails_with(
        &fer(
            &cache,
            &["predict", "--model", path_str(&model), path_str(&missing)],
        ),
        &["missing.png"],
    );
    assert_fails_with(
        &fer(
            &cache,
            &[
                "predict",
                "--model",
                path_str(&model),
                "--min-face",
                "4",
                path_str(&bad),
            ],
        ),
        &["--min-face 4"],
    );
}

/// The crop frame `crop_face` uses is FER2013's, measured as `examples/faces_measure.rs frame`
/// measures it (500 test faces, every 14th of test/, enlarged 4x): the constants are the
/// medians printed there (1.1163, -0.0027, -0.0055 with 416 faces found), rounded to 3
/// decimals, so a change to the detector that moves the frame fails here.
#[test]
fn the_crop_frame_is_the_one_measured_on_fer2013_faces() {
    let test = fer_core::data::load_uncached(&fer2013_dir())
        .unwrap()
        .kaggle_test;
    let step = test.len() / 500;
    let faces: Vec<fer_core::Face> = (0..test.len())
        .step_by(step)
        .take(500)
        .map(|i| *test.face(i))
        .collect();
    let detector = fer_core::faces::FaceDetector::new(Default::default()).unwrap();
    let frame = fer_core::faces::measure_crop_frame(&faces, 4, &detector);
    assert_eq!(frame.found(), 416, "faces found of 500");
    assert!(
        (frame.side_per_box - CROP_SIDE_PER_BOX).abs() < 0.001,
        "{frame:?}"
    );
    assert!(
        (frame.center_dx - CROP_CENTER_DX).abs() < 0.001,
        "{frame:?}"
    );
    assert!(
        (frame.center_dy - CROP_CENTER_DY).abs() < 0.001,
        "{frame:?}"
    );
}
