//! `fer predict`: the faces in photos, each with its box and three most probable emotions, from
//! a CNN checkpoint; `--crop` classifies images that are face crops already.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use fer_core::cnn::predict::top_emotions;
use fer_core::cnn::Tta;
use fer_core::data::face_from_image;
use fer_core::faces::{
    classify_crops, classify_photo, load_photo, photo_files, DetectorOptions, FaceBox,
    FaceDetector, DEFAULT_MIN_FACE, MIN_MIN_FACE,
};
use fer_core::plot::FacesPhoto;
use fer_core::Emotion;

/// Emotions shown per face.
const TOP: usize = 3;

/// Arguments of `fer predict`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "By default each image is a photo: the faces in it are found (SeetaFace's \
    frontal detector), each is cropped as FER2013's faces are (a square around the face, \
    grayscale, 48x48) and classified. A photo with no face found says so and is given no \
    emotions. With --crop each image is taken as a face crop, as FER2013's faces are: a face \
    filling the picture, roughly frontal, any size and colour (converted to grayscale and \
    resized to 48x48 exactly as the training data was); a whole photo with a small face in it \
    then gives meaningless probabilities."
)]
pub struct Args {
    /// A CNN checkpoint folder (written by `fer train cnn --out DIR` or `fer run`, or the
    /// shipped data/models/fer-cnn).
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// Images (JPEG, PNG or BMP; the format is read from the content, not the name), or folders
    /// whose images (by extension, recursively) are classified.
    #[arg(value_name = "IMAGE", required = true)]
    images: Vec<PathBuf>,
    /// Each image is a face crop (the whole image is the face): no detection.
    #[arg(long, conflicts_with_all = ["annotate", "min_face"])]
    crop: bool,
    /// Write each image with its faces' boxes and emotions drawn into DIR (PNG, the image's
    /// name with the extension .png; created if missing).
    #[arg(long, value_name = "DIR")]
    annotate: Option<PathBuf>,
    /// The smallest face to find, in the photo's pixels (at least 12; smaller faces make the
    /// search slower, larger ones faster).
    #[arg(long, value_name = "PIXELS", default_value_t = DEFAULT_MIN_FACE)]
    min_face: u32,
    /// Test-time augmentation: average each face's probabilities with its mirror image's.
    #[arg(long)]
    tta: bool,
    /// Crop test-time augmentation: average over the face shifted by PIXELS (default 3) towards
    /// each diagonal and unshifted, each with its mirror image (10 views; includes the flip).
    #[arg(long, value_name = "PIXELS", num_args = 0..=1)]
    tta_crops: Option<Option<usize>>,
    /// Print one JSON list: `[{"file": ..., "faces": [{"box": {"x": .., "y": .., "width": ..,
    /// "height": ..}, "score": .., "top": [{"emotion": .., "probability": ..}]}]}]`; with
    /// --crop `[{"file": ..., "top": [...]}]`.
    #[arg(long)]
    json: bool,
}

/// One face crop's entry of `--crop --json` output.
#[derive(Debug, Serialize)]
struct CropPrediction {
    file: PathBuf,
    top: Vec<Ranked>,
}

/// One photo's entry of `--json` output.
#[derive(Debug, Serialize)]
struct PhotoPrediction {
    file: PathBuf,
    faces: Vec<FacePrediction>,
}

#[derive(Debug, Serialize)]
struct FacePrediction {
    #[serde(rename = "box")]
    face_box: FaceBox,
    score: f32,
    top: Vec<Ranked>,
}

#[derive(Debug, Serialize)]
struct Ranked {
    emotion: Emotion,
    probability: f32,
}

fn ranked(p: &fer_core::cnn::predict::EmotionProbabilities) -> Vec<Ranked> {
    top_emotions(p, TOP)
        .into_iter()
        .map(|(emotion, probability)| Ranked {
            emotion,
            probability,
        })
        .collect()
}

/// Loads the checkpoint, classifies every image (or every face of every photo) and prints the
/// result. Nothing is printed unless every image could be read.
pub fn run(args: Args) -> anyhow::Result<()> {
    let tta = crate::evaluate::tta_from_args(args.tta, args.tta_crops)?;
    if args.min_face < MIN_MIN_FACE {
        anyhow::bail!(
            "--min-face {}: the smallest face must be at least {MIN_MIN_FACE} pixels",
            args.min_face
        );
    }
    let model = fer_core::cnn::load_checkpoint(&args.model)
        .with_context(|| format!("loading --model {}", args.model.display()))?;
    let files = photo_files(&args.images)?;
    let mut out = std::io::stdout().lock();
    if args.crop {
        return print_crops(&model, &files, tta, args.json, &mut out);
    }
    let annotated = match &args.annotate {
        Some(dir) => Some(annotation_paths(dir, &files)?),
        None => None,
    };
    let detector = FaceDetector::new(DetectorOptions {
        min_face: args.min_face,
        ..DetectorOptions::default()
    })?;
    let mut predictions = Vec::with_capacity(files.len());
    for (i, file) in files.iter().enumerate() {
        let photo = load_photo(file)?;
        let faces = classify_photo(&model, &detector, &photo, tta)?;
        if let Some(paths) = &annotated {
            FacesPhoto::new(&photo, &faces).save_png(&paths[i])?;
        }
        predictions.push(PhotoPrediction {
            file: file.clone(),
            faces: faces
                .iter()
                .map(|f| FacePrediction {
                    face_box: f.face_box,
                    score: f.face_box.score,
                    top: ranked(&f.probabilities),
                })
                .collect(),
        });
    }
    if args.json {
        serde_json::to_writer(&mut out, &predictions)?;
        writeln!(out)?;
        return Ok(());
    }
    for p in &predictions {
        match p.faces.len() {
            0 => writeln!(out, "{}: no face found", p.file.display())?,
            1 => writeln!(out, "{}: 1 face", p.file.display())?,
            n => writeln!(out, "{}: {n} faces", p.file.display())?,
        }
        for (i, face) in p.faces.iter().enumerate() {
            let b = face.face_box;
            writeln!(
                out,
                "  face {} at x={} y={} {}x{}: {}",
                i + 1,
                b.x,
                b.y,
                b.width,
                b.height,
                text(&face.top)
            )?;
        }
    }
    Ok(())
}

/// `--crop`: every image is one face; all are decoded before any is classified.
fn print_crops(
    model: &fer_core::cnn::CnnModel,
    files: &[PathBuf],
    tta: Tta,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let faces = files
        .iter()
        .map(|f| load_photo(f).map(face_from_image))
        .collect::<fer_core::Result<Vec<_>>>()?;
    let probabilities = classify_crops(model, &faces, tta)?;
    let predictions: Vec<CropPrediction> = files
        .iter()
        .zip(&probabilities)
        .map(|(file, p)| CropPrediction {
            file: file.clone(),
            top: ranked(p),
        })
        .collect();
    if json {
        serde_json::to_writer(&mut *out, &predictions)?;
        writeln!(out)?;
        return Ok(());
    }
    for p in &predictions {
        writeln!(out, "{}: {}", p.file.display(), text(&p.top))?;
    }
    Ok(())
}

/// "happy 87.0%, neutral 5.1%, sad 3.2%".
fn text(top: &[Ranked]) -> String {
    top.iter()
        .map(|r| format!("{} {:.1}%", r.emotion.name(), 100.0 * r.probability))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The PNG each of `files` is drawn into under `dir`: its name with the extension `.png`.
/// Two inputs that would write the same file are refused before anything is written.
fn annotation_paths(dir: &Path, files: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut seen: HashMap<PathBuf, &Path> = HashMap::new();
    let mut paths = Vec::with_capacity(files.len());
    for file in files {
        let name = file
            .file_name()
            .with_context(|| format!("{}: not a file name", file.display()))?;
        let path = dir.join(Path::new(name).with_extension("png"));
        if let Some(other) = seen.insert(path.clone(), file) {
            anyhow::bail!(
                "--annotate {}: {} and {} would both be drawn into {}",
                dir.display(),
                other.display(),
                file.display(),
                path.display()
            );
        }
        paths.push(path);
    }
    Ok(paths)
}
