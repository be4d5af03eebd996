//! `fer evaluate`: score a saved CNN checkpoint on one split of FER2013.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::ValueEnum;
use serde::Serialize;

use fer_core::data;
use fer_core::eval::Evaluation;
use fer_core::{Emotion, EmotionClassifier, Usage};

/// Arguments of `fer evaluate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A checkpoint folder written by `fer train cnn --out DIR`.
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// The data set. Default: $FER2013_DIR, else data/fer2013.
    #[arg(long, value_name = "PATH")]
    data: Option<PathBuf>,
    /// The split to score.
    #[arg(long, value_enum, default_value_t = Split::PrivateTest)]
    split: Split,
    /// Test-time augmentation: average each face's probabilities with its mirror image's.
    #[arg(long)]
    tta: bool,
    /// Print one JSON object instead of a report.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Split {
    /// The challenge's final test split (the one papers report).
    PrivateTest,
    /// The validation split.
    PublicTest,
    /// Kaggle's test/ folder (PublicTest + PrivateTest).
    Test,
}

/// What `fer evaluate --json` prints.
#[derive(Debug, Serialize)]
struct Report {
    accuracy: f64,
    per_class_recall: std::collections::BTreeMap<Emotion, f64>,
    n: usize,
    macro_f1: f64,
    model: String,
    split: String,
    tta: bool,
}

/// Loads the checkpoint and the data, scores the split and prints the result.
pub fn run(args: Args) -> anyhow::Result<()> {
    let model = fer_core::cnn::load_checkpoint(&args.model)
        .with_context(|| format!("loading --model {}", args.model.display()))?;
    let path = data::resolve_data_path(args.data.as_deref());
    let fer = data::load(&path)?;
    let (faces, split) = match args.split {
        Split::PrivateTest => (fer.test.with_usage(Usage::PrivateTest), "private-test"),
        Split::PublicTest => (fer.test.with_usage(Usage::PublicTest), "public-test"),
        Split::Test => (fer.test.clone(), "test"),
    };
    if faces.is_empty() {
        anyhow::bail!("{}: no faces in the {split} split", path.display());
    }
    let proba = model.predict_proba_tta(&faces, args.tta)?;
    let evaluation = Evaluation::new(faces.labels(), proba.view())?;
    let report = Report {
        accuracy: evaluation.accuracy,
        per_class_recall: evaluation.per_class_recall.clone(),
        n: faces.len(),
        macro_f1: evaluation.report.macro_avg().f1,
        model: model.name(),
        split: split.to_string(),
        tta: args.tta,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{} on {split} ({} faces{}): accuracy {:.4}",
            report.model,
            report.n,
            if args.tta { ", flip TTA" } else { "" },
            report.accuracy
        )?;
        writeln!(out, "{}", evaluation.report)?;
    }
    Ok(())
}
