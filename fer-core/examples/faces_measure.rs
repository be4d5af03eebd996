//! The measurements behind `fer_core::faces` (issue 23), printed as JSON lines:
//!
//! ```sh
//! # FER2013's crop frame around the detector's box, the faces found, and the CNN's accuracy
//! # on detector crops against the original crops, on N test faces enlarged 4x
//! cargo run --release --example faces_measure -- frame DATA_DIR MODEL_DIR [N]
//! # faces found in photos, with the time of detection alone and of detection + classification
//! cargo run --release --example faces_measure -- photos MODEL_DIR IMAGE...
//! ```

use std::path::Path;
use std::time::Instant;

use fer_core::faces::{
    classify_crops, classify_photo, crop_face_gray, enlarge_face, load_photo, measure_crop_frame,
    DetectorOptions, FaceDetector,
};
use fer_core::{Emotion, Face};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("frame") if args.len() >= 3 => frame(&args[1], &args[2], args.get(3)),
        Some("photos") if args.len() >= 3 => photos(&args[1], &args[2..]),
        _ => Err(
            "usage: faces_measure frame DATA_DIR MODEL_DIR [N] | photos MODEL_DIR IMAGE...".into(),
        ),
    }
}

/// The detector options the measurements use: the defaults, with rotations from
/// `FER_ROTATIONS` (comma-separated degrees) and a threshold from `FER_SCORE` when set.
fn options() -> Result<DetectorOptions, Box<dyn std::error::Error>> {
    let mut options = DetectorOptions::default();
    if let Ok(r) = std::env::var("FER_ROTATIONS") {
        options.rotations = r.split(',').map(str::parse).collect::<Result<_, _>>()?;
    }
    if let Ok(s) = std::env::var("FER_SCORE") {
        options.score_threshold = s.parse()?;
    }
    if let Ok(s) = std::env::var("FER_MIN_FACE") {
        options.min_face = s.parse()?;
    }
    Ok(options)
}

fn frame(data: &str, model: &str, n: Option<&String>) -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = n.map(|s| s.parse()).transpose()?.unwrap_or(500);
    let test = fer_core::data::load(Path::new(data))?.kaggle_test;
    // Every k-th face of test/, so all emotions and both splits are represented.
    let step = (test.len() / n).max(1);
    let indices: Vec<usize> = (0..test.len()).step_by(step).take(n).collect();
    let faces: Vec<Face> = indices.iter().map(|&i| *test.face(i)).collect();
    let labels: Vec<Emotion> = indices.iter().map(|&i| test.labels()[i]).collect();
    let detector = FaceDetector::new(options()?)?;
    let started = Instant::now();
    let frame = measure_crop_frame(&faces, 4, &detector);
    let detect_s = started.elapsed().as_secs_f64();

    let model = fer_core::cnn::load_checkpoint(Path::new(model))?;
    let found: Vec<usize> = (0..faces.len())
        .filter(|&i| frame.boxes[i].is_some())
        .collect();
    let originals: Vec<Face> = found.iter().map(|&i| faces[i]).collect();
    let crops: Vec<Face> = found
        .iter()
        .map(|&i| crop_face_gray(&enlarge_face(&faces[i], 4), &frame.boxes[i].unwrap()))
        .collect();
    let correct = |faces: &[Face]| -> Result<usize, fer_core::FerError> {
        Ok(classify_crops(&model, faces, fer_core::cnn::Tta::None)?
            .iter()
            .zip(&found)
            .filter(|(p, &i)| {
                let best = (0..7).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
                best == labels[i].index()
            })
            .count())
    };
    let all_correct = classify_crops(&model, &faces, fer_core::cnn::Tta::None)?
        .iter()
        .zip(&labels)
        .filter(|(p, l)| (0..7).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap() == l.index())
        .count();
    println!(
        "{}",
        serde_json::json!({
            "faces": frame.faces,
            "found": frame.found(),
            "side_per_box": frame.side_per_box,
            "center_dx": frame.center_dx,
            "center_dy": frame.center_dy,
            "detect_seconds": detect_s,
            "rotations": detector.options().rotations,
            "accuracy_original_all": all_correct as f64 / faces.len() as f64,
            "accuracy_original_on_found": correct(&originals)? as f64 / found.len().max(1) as f64,
            "accuracy_detector_crops_on_found": correct(&crops)? as f64 / found.len().max(1) as f64,
        })
    );
    Ok(())
}

fn photos(model: &str, images: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let model = fer_core::cnn::load_checkpoint(Path::new(model))?;
    let detector = FaceDetector::new(options()?)?;
    for image in images {
        let photo = load_photo(Path::new(image))?;
        // One warm-up, then the median of 5 runs of each.
        let time = |f: &mut dyn FnMut()| {
            f();
            let mut ms: Vec<f64> = (0..5)
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            ms.sort_by(f64::total_cmp);
            ms[2]
        };
        let mut boxes = Vec::new();
        let detect_ms = time(&mut || boxes = detector.detect(&photo));
        let mut faces = Vec::new();
        let total_ms = time(&mut || {
            faces = classify_photo(&model, &detector, &photo, fer_core::cnn::Tta::None).unwrap()
        });
        println!(
            "{}",
            serde_json::json!({
                "file": image,
                "size": [photo.width(), photo.height()],
                "detect_ms": detect_ms,
                "detect_and_classify_ms": total_ms,
                "faces": faces.iter().map(|f| serde_json::json!({
                    "box": f.face_box,
                    "score": f.face_box.score,
                    "top": f.top(1)[0].0.name(),
                    "probability": f.top(1)[0].1,
                })).collect::<Vec<_>>(),
            })
        );
    }
    Ok(())
}
