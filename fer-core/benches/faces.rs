//! Speed of finding and classifying the faces of a photo with the shipped CNN. Issue 23's goal:
//! a 1280x886 colour photo, detection plus classification of every face, under 150 ms on 2
//! cores; detection alone is timed at 640x480 too.
//!
//! `FER_BENCH_PHOTO=astronaut.png cargo bench -p fer-core --bench faces`
//!
//! Any photo with a face will do; the measurements in the notes use scikit-image's
//! `skimage/data/astronaut.png` (in its wheel on PyPI), which the PyPI `fer` package's peer
//! (`../shared/peers/pypi_fer_eval.py photos`) times too. The photo is resized to each size.

use std::path::{Path, PathBuf};

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use fer_core::cnn::{load_checkpoint, Tta};
use fer_core::faces::{classify_photo, load_photo, FaceDetector};
use image::imageops::FilterType;

fn photo_path() -> PathBuf {
    match std::env::var_os("FER_BENCH_PHOTO") {
        Some(path) => PathBuf::from(path),
        None => {
            eprintln!("error: set FER_BENCH_PHOTO to a photo with a face (see the bench's doc)");
            std::process::exit(1);
        }
    }
}

fn bench_faces(c: &mut Criterion) {
    let path = photo_path();
    let photo = load_photo(&path).unwrap_or_else(|e| panic!("{e}"));
    let model_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/models/fer-cnn");
    let model = load_checkpoint(&model_dir).unwrap_or_else(|e| panic!("{e}"));
    let detector = FaceDetector::new(Default::default()).unwrap_or_else(|e| panic!("{e}"));

    let small = photo.resize_exact(640, 480, FilterType::Triangle);
    let large = photo.resize_exact(1280, 886, FilterType::Triangle);
    for (name, picture) in [("640x480", &small), ("1280x886", &large)] {
        let found = classify_photo(&model, &detector, picture, Tta::None).unwrap();
        eprintln!("{} at {name}: {} face(s)", path.display(), found.len());
    }
    c.bench_function("detect_640x480", |b| {
        b.iter(|| detector.detect(black_box(&small)))
    });
    c.bench_function("detect_and_classify_1280x886", |b| {
        b.iter(|| classify_photo(&model, &detector, black_box(&large), Tta::None).unwrap())
    });
}

criterion_group!(benches, bench_faces);
criterion_main!(benches);
