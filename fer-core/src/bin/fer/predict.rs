//! `fer predict`: the three most probable emotions of each face image, from a CNN checkpoint.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use serde::Serialize;

use fer_core::cnn::predict::top_emotions;
use fer_core::Emotion;

/// Emotions shown per image.
const TOP: usize = 3;

/// Arguments of `fer predict`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The model expects a face crop, as FER2013's faces are: a face filling \
    the picture, roughly frontal. Any size and colour is fine: images are converted to \
    grayscale and resized to 48x48 exactly as the training data was. A whole photo with a small \
    face in it gives meaningless probabilities."
)]
pub struct Args {
    /// A CNN checkpoint folder (written by `fer train cnn --out DIR` or `fer run`, or the
    /// shipped data/models/fer-cnn).
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// Face images (JPEG, PNG or BMP; the format is read from the content, not the name).
    #[arg(value_name = "IMAGE", required = true)]
    images: Vec<PathBuf>,
    /// Test-time augmentation: average each face's probabilities with its mirror image's.
    #[arg(long)]
    tta: bool,
    /// Crop test-time augmentation: average over the face shifted by PIXELS (default 3) towards
    /// each diagonal and unshifted, each with its mirror image (10 views; includes the flip).
    #[arg(long, value_name = "PIXELS", num_args = 0..=1)]
    tta_crops: Option<Option<usize>>,
    /// Print one JSON list `[{"file": ..., "top": [{"emotion": ..., "probability": ...}]}]`.
    #[arg(long)]
    json: bool,
}

/// One image's line of `--json` output.
#[derive(Debug, Serialize)]
struct Prediction {
    file: PathBuf,
    top: Vec<Ranked>,
}

#[derive(Debug, Serialize)]
struct Ranked {
    emotion: Emotion,
    probability: f32,
}

/// Loads the checkpoint, classifies every image and prints the result.
pub fn run(args: Args) -> anyhow::Result<()> {
    let tta = crate::evaluate::tta_from_args(args.tta, args.tta_crops)?;
    let model = fer_core::cnn::load_checkpoint(&args.model)
        .with_context(|| format!("loading --model {}", args.model.display()))?;
    let probabilities = model.predict_image_files(&args.images, tta)?;
    let predictions: Vec<Prediction> = args
        .images
        .iter()
        .zip(&probabilities)
        .map(|(file, p)| Prediction {
            file: file.clone(),
            top: top_emotions(p, TOP)
                .into_iter()
                .map(|(emotion, probability)| Ranked {
                    emotion,
                    probability,
                })
                .collect(),
        })
        .collect();
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &predictions)?;
        writeln!(out)?;
        return Ok(());
    }
    for p in &predictions {
        let ranked: Vec<String> = p
            .top
            .iter()
            .map(|r| format!("{} {:.1}%", r.emotion.name(), 100.0 * r.probability))
            .collect();
        writeln!(out, "{}: {}", p.file.display(), ranked.join(", "))?;
    }
    Ok(())
}
