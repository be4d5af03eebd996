//! `fer evaluate`: score a saved CNN checkpoint on one split of FER2013.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::ValueEnum;
use serde::Serialize;

use fer_core::cnn::tta::{choose_tta, TTA_CANDIDATES};
use fer_core::cnn::{CnnModel, Tta};
use fer_core::data;
use fer_core::eval::Evaluation;
use fer_core::{Emotion, EmotionClassifier, Usage};

use crate::tta_record::{self, ScoredCandidates};

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
    /// Crop test-time augmentation: average over the face shifted by PIXELS (default 3; edges
    /// repeated) towards each of the four diagonals and unshifted, each with its mirror image
    /// (10 views, five times --tta's work; includes the flip).
    #[arg(long, value_name = "PIXELS", num_args = 0..=1)]
    tta_crops: Option<Option<usize>>,
    /// Choose the TTA as the protocol does: score none, the flip and crops shifted 1, 2 and 3
    /// pixels on PublicTest, then report --split with the most accurate (of equals, the
    /// cheapest). Classifies PublicTest in 26 views: minutes on a laptop.
    #[arg(long, conflicts_with_all = ["tta", "tta_crops"])]
    choose_tta: bool,
    /// With --choose-tta: also score every candidate on PrivateTest and write the choice and
    /// all the scores into the checkpoint's metrics.json, field "tta" (the rest of the file is
    /// kept; the file is replaced atomically). Twice --choose-tta's work.
    #[arg(long, requires = "choose_tta")]
    record: bool,
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
    /// Whether mirror images were averaged in (flip or crop TTA).
    tta: bool,
    /// "none", "flip" or "crops".
    tta_mode: &'static str,
    /// The crop TTA's shift in pixels (null otherwise).
    tta_shift: Option<usize>,
    /// With --choose-tta: every candidate's PublicTest accuracy, in the order scored.
    #[serde(skip_serializing_if = "Option::is_none")]
    tta_choice: Option<Vec<TtaScore>>,
}

/// One candidate TTA's accuracy on PublicTest (`fer evaluate --choose-tta --json`).
#[derive(Debug, Serialize)]
struct TtaScore {
    tta_mode: &'static str,
    tta_shift: Option<usize>,
    public_test_accuracy: f64,
}

/// `tta` as the JSON reports name it: "none", "flip" or "crops", and the crops' shift.
pub fn tta_fields(tta: Tta) -> (&'static str, Option<usize>) {
    match tta {
        Tta::None => ("none", None),
        Tta::Flip => ("flip", None),
        Tta::Crops { shift } => ("crops", Some(shift)),
    }
}

/// The TTA that `--tta` and `--tta-crops [PIXELS]` ask for (crops include the flip), or an
/// error naming a shift out of range. Shared by `fer evaluate` and `fer predict`.
pub fn tta_from_args(flip: bool, crops: Option<Option<usize>>) -> anyhow::Result<Tta> {
    let tta = match crops {
        Some(shift) => Tta::Crops {
            shift: shift.unwrap_or(fer_core::cnn::DEFAULT_TTA_SHIFT),
        },
        None if flip => Tta::Flip,
        None => Tta::None,
    };
    if let Tta::Crops { shift } = tta {
        if shift > fer_core::cnn::MAX_TTA_SHIFT {
            anyhow::bail!(
                "--tta-crops {shift}: the shift must be at most {} pixels",
                fer_core::cnn::MAX_TTA_SHIFT
            );
        }
    }
    Ok(tta)
}

/// Loads the checkpoint and the data, scores the split and prints the result.
pub fn run(args: Args) -> anyhow::Result<()> {
    let asked_tta = tta_from_args(args.tta, args.tta_crops)?;
    let model = fer_core::cnn::load_checkpoint(&args.model)
        .with_context(|| format!("loading --model {}", args.model.display()))?;
    let path = data::resolve_data_path(args.data.as_deref());
    let fer = crate::load::load(&path)?;
    let (faces, split) = match args.split {
        Split::PrivateTest => (
            fer.kaggle_test.with_usage(Usage::PrivateTest),
            "private-test",
        ),
        Split::PublicTest => (fer.kaggle_test.with_usage(Usage::PublicTest), "public-test"),
        Split::Test => (fer.kaggle_test.clone(), "test"),
    };
    if faces.is_empty() {
        anyhow::bail!("{}: no faces in the {split} split", path.display());
    }
    if args.record {
        let usages: &[Usage] = match args.split {
            Split::PrivateTest => &[Usage::PrivateTest],
            Split::PublicTest => &[Usage::PublicTest],
            Split::Test => &[Usage::PublicTest, Usage::PrivateTest],
        };
        let scored = ScoredCandidates::score(&model, &fer.kaggle_test, &path)?;
        let metrics = args.model.join("metrics.json");
        tta_record::write_record(&metrics, &scored.record())?;
        let evaluation = scored
            .chosen_evaluation(usages)
            .context("the chosen TTA was scored")?;
        return print_report(
            &model,
            split,
            scored.chosen(),
            Some(scored.public_test_accuracies()),
            evaluation,
            args.json,
        );
    }
    let (tta, choice) = if args.choose_tta {
        let public = fer.kaggle_test.with_usage(Usage::PublicTest);
        if public.is_empty() {
            anyhow::bail!(
                "{}: --choose-tta needs the PublicTest faces of test/",
                path.display()
            );
        }
        let scores = fer_core::eval::score_ttas(&model, &public, &TTA_CANDIDATES)?;
        let chosen = choose_tta(&scores).unwrap_or_default();
        (chosen, Some(scores))
    } else {
        (asked_tta, None)
    };
    let proba = model.predict_proba_tta(faces.faces(), tta)?;
    let evaluation = Evaluation::new(faces.labels(), proba.view())?;
    print_report(&model, split, tta, choice, &evaluation, args.json)
}

/// Prints `evaluation` of `split` under `tta` (with the PublicTest scores of the candidates
/// when the TTA was chosen): one JSON object with `json`, else a report.
fn print_report(
    model: &CnnModel,
    split: &str,
    tta: Tta,
    choice: Option<Vec<(Tta, f64)>>,
    evaluation: &Evaluation,
    json: bool,
) -> anyhow::Result<()> {
    let (tta_mode, tta_shift) = tta_fields(tta);
    let report = Report {
        accuracy: evaluation.accuracy,
        per_class_recall: evaluation.per_class_recall.clone(),
        n: evaluation.samples as usize,
        macro_f1: evaluation.report.macro_avg().f1,
        model: model.name(),
        split: split.to_string(),
        tta: tta != Tta::None,
        tta_mode,
        tta_shift,
        tta_choice: choice.as_ref().map(|scores| {
            scores
                .iter()
                .map(|&(candidate, accuracy)| {
                    let (tta_mode, tta_shift) = tta_fields(candidate);
                    TtaScore {
                        tta_mode,
                        tta_shift,
                        public_test_accuracy: accuracy,
                    }
                })
                .collect()
        }),
    };
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
    } else {
        if let Some(scores) = &choice {
            let listed: Vec<String> = scores
                .iter()
                .map(|&(candidate, accuracy)| {
                    let mark = if candidate == tta { " (chosen)" } else { "" };
                    format!("{} {accuracy:.4}{mark}", candidate.describe())
                })
                .collect();
            writeln!(out, "TTA on PublicTest: {}", listed.join(", "))?;
        }
        writeln!(
            out,
            "{} on {split} ({} faces{}): accuracy {:.4}",
            report.model,
            report.n,
            match tta {
                Tta::None => String::new(),
                other => format!(", {} TTA", other.describe()),
            },
            report.accuracy
        )?;
        writeln!(out, "{}", evaluation.report)?;
    }
    Ok(())
}
