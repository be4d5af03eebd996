//! `fer run`: the whole workflow in one command. Fits the HOG baseline and trains the CNN with
//! the default settings of `fer train` (or scores a pretrained checkpoint instead of training),
//! scores both on PrivateTest, writes the report of `fer report`, and prints a results table.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;

use fer_core::baseline::{BaselineParams, FeatureCache, FeatureKind};
use fer_core::cnn::EpochRecord;
use fer_core::cnn::{Arch, TrainConfig};
use fer_core::data;
use fer_core::eval::format_p_value;
use fer_core::quick;
use fer_core::report::{Report, REPORT_SPLIT};
use fer_core::EmotionClassifier;

use crate::out_dir::OutputDir;
use crate::progress::Step;
use crate::report::{self, ReportModel, REPORT_HTML, REPORT_METRICS};
use crate::train;
/// File name of the run's summary in the output folder.
pub const RUN_SUMMARY: &str = "run.json";
/// Sub-folder of the output folder for the CNN's checkpoint.
pub const CNN_DIR: &str = "cnn";
/// Sub-folder of the output folder for the baseline's model.json.
pub const BASELINE_DIR: &str = "baseline";

/// Arguments of `fer run`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Writes into the output folder: report.html (every metric and figure), \
    metrics.json (the report's numbers), run.json (the summary printed), baseline/model.json and \
    cnn/ (the CNN's checkpoint, unless --pretrained). Protocol: both models train on Training, \
    the CNN's best epoch is chosen on PublicTest, and every number is on PrivateTest. \
    Without --quick the CNN trains with the shipped model's recipe (`fer train cnn`'s \
    defaults, 40 epochs): about two hours on a laptop-class CPU."
)]
pub struct Args {
    /// The data set: a folder in Kaggle's layout (train/ and test/), a fer2013.csv, or a folder
    /// holding one. Default: $FER2013_DIR, else data/fer2013.
    #[arg(long, value_name = "PATH")]
    data: Option<PathBuf>,
    /// Output folder (created if missing). Default: runs/full, or runs/quick with --quick.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// A smoke test of the whole workflow in a few minutes, the notebooks' quick mode: a
    /// stratified 5% of every emotion in every split, 2 CNN epochs, 30 L-BFGS iterations for
    /// the baseline. Its numbers are not results.
    #[arg(long)]
    quick: bool,
    /// Score this CNN checkpoint folder (for example data/models/fer-cnn) instead of training
    /// one.
    #[arg(long, value_name = "DIR")]
    pretrained: Option<PathBuf>,
    /// Print the run's summary as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// One model's row of the results.
#[derive(Debug, Serialize)]
struct ModelRow {
    /// The name in the report (`cnn`, `baseline`).
    name: String,
    /// What the model is (`cnn (best)`, `logistic (hog)`).
    model: String,
    /// Accuracy on the scored PrivateTest faces.
    accuracy: f64,
    /// Macro-averaged F1 on the same faces.
    macro_f1: f64,
    /// Seconds spent fitting (0 for a pretrained model).
    fit_seconds: f64,
    /// Where the model was saved, or the pretrained folder it came from.
    path: PathBuf,
    /// Whether it was loaded rather than trained.
    pretrained: bool,
}

/// What `fer run` writes to run.json and prints with `--json`.
#[derive(Debug, Serialize)]
struct RunSummary {
    /// True for `--quick`: the numbers are a smoke test, not results.
    quick: bool,
    /// Present with `--quick`: says so in words.
    note: Option<String>,
    data: PathBuf,
    training_faces: usize,
    /// The split scored: PrivateTest.
    split: String,
    scored_faces: u64,
    models: Vec<ModelRow>,
    /// McNemar's p-value for the two models' errors on the same faces.
    mcnemar_p: Option<f64>,
    /// The CNN's training settings (absent with `--pretrained`).
    cnn_config: Option<TrainConfig>,
    /// Wall time of the whole command.
    seconds: f64,
    /// The command line that produced these numbers.
    command: String,
    report: PathBuf,
    metrics: PathBuf,
}

/// Runs the workflow and prints the results.
pub fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let out_path = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(if args.quick {
            "runs/quick"
        } else {
            "runs/full"
        })
    });
    let out = OutputDir::create_locked(&out_path, "--out")?;
    // A wrong --pretrained should fail before minutes of loading and fitting.
    let pretrained = match &args.pretrained {
        Some(dir) => Some((dir.clone(), report::load_cnn(dir, "--pretrained")?)),
        None => None,
    };
    let baseline_params = BaselineParams::new(FeatureKind::Hog);
    let baseline_params = if args.quick {
        quick::baseline_params(baseline_params)
    } else {
        baseline_params
    }
    .check()?;
    let cnn_config = cnn_config(args.quick);
    cnn_config.check()?;

    let path = data::resolve_data_path(args.data.as_deref());
    let step = Step::start(format!("loading {}", path.display()));
    let fer = crate::load::load(&path)?;
    step.finish();
    let fer = if args.quick {
        quick::subset(&fer)?
    } else {
        fer
    };
    let (public, private) = train::validation_and_test(&fer, &path)?;
    let training = fer.train;
    if args.quick {
        eprintln!(
            "{}: {} training faces, {} PublicTest, {} PrivateTest",
            quick::description(),
            training.len(),
            public.len(),
            private.len()
        );
    }

    let cache = FeatureCache::from_env();
    let (baseline, baseline_seconds) =
        train::fit_baseline(&baseline_params, &training, cache.as_ref())?;
    let baseline_path = out.path().join(BASELINE_DIR).join("model.json");
    baseline.save(&baseline_path)?;

    let cnn_dir = out.path().join(CNN_DIR);
    let (cnn, history, cnn_seconds, cnn_path) = match pretrained {
        Some((dir, (model, history))) => (model, history, 0.0, dir),
        None => {
            let (outcome, seconds) = train::train_cnn(
                &training,
                &public,
                &cnn_config,
                Some(cnn_dir.clone()),
                false,
                false,
            )
            .context("training the CNN")?;
            (outcome.best, outcome.history, seconds, cnn_dir)
        }
    };

    // The report's data section shows PublicTest and PrivateTest: the faces actually used.
    let mut test = public;
    test.extend(private);
    // The report page names its data; a quick run's says it is a subset, so a page opened
    // later is not mistaken for results.
    let source = if args.quick {
        format!("{} ({})", path.display(), quick::description())
    } else {
        path.display().to_string()
    };
    let report = report::write_report(
        &source,
        &training,
        &test,
        &[
            ReportModel {
                name: "cnn",
                model: &cnn,
                history: &history,
            },
            ReportModel {
                name: "baseline",
                model: &baseline,
                history: &[] as &[EpochRecord],
            },
        ],
        out.path(),
    )?;

    let summary = RunSummary {
        quick: args.quick,
        note: args.quick.then(quick::description),
        data: path,
        training_faces: training.len(),
        split: REPORT_SPLIT.name().to_string(),
        scored_faces: report.metrics.samples,
        models: rows(
            &report,
            &[
                (cnn.name(), cnn_seconds, cnn_path, args.pretrained.is_some()),
                (baseline.name(), baseline_seconds, baseline_path, false),
            ],
        ),
        mcnemar_p: report
            .metrics
            .comparison
            .as_ref()
            .map(|c| c.mcnemar.p_value),
        cnn_config: args.pretrained.is_none().then_some(cnn_config),
        seconds: started.elapsed().as_secs_f64(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        report: out.path().join(REPORT_HTML),
        metrics: out.path().join(REPORT_METRICS),
    };
    fer_core::fs::write_json_atomically(&out.path().join(RUN_SUMMARY), &summary)?;
    out.keep();

    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut stdout, &summary)?;
        writeln!(stdout)?;
    } else {
        print_table(&mut stdout, &summary)?;
    }
    Ok(())
}

/// The CNN's settings: `fer train cnn`'s defaults (the best architecture, seed 0: the shipped
/// model's recipe), shortened for `--quick` ([`quick::train_config`]).
fn cnn_config(is_quick: bool) -> TrainConfig {
    let defaults = TrainConfig::new(Arch::Best);
    if is_quick {
        quick::train_config(defaults)
    } else {
        defaults
    }
}

/// The results rows, in the report's model order, joined with what only `run` knows
/// (description, fit time, path, pretrained or not).
fn rows(report: &Report, extra: &[(String, f64, PathBuf, bool)]) -> Vec<ModelRow> {
    report
        .metrics
        .models
        .iter()
        .zip(extra)
        .map(|(m, (model, seconds, path, pretrained))| ModelRow {
            name: m.name.clone(),
            model: model.clone(),
            accuracy: m.evaluation.accuracy,
            macro_f1: m.evaluation.report.macro_avg().f1,
            fit_seconds: *seconds,
            path: path.clone(),
            pretrained: *pretrained,
        })
        .collect()
}

fn print_table(out: &mut dyn Write, s: &RunSummary) -> anyhow::Result<()> {
    if let Some(note) = &s.note {
        writeln!(out, "*** {} ***", note.to_uppercase())?;
    }
    writeln!(
        out,
        "{} faces of {}, after training on {} faces:",
        s.scored_faces, s.split, s.training_faces
    )?;
    writeln!(
        out,
        "{:<10} {:<18} {:>9} {:>9} {:>10}  saved in",
        "name", "model", "accuracy", "macro-F1", "fit"
    )?;
    for m in &s.models {
        let fit = if m.pretrained {
            "pretrained".to_string()
        } else {
            format!("{:.0} s", m.fit_seconds)
        };
        writeln!(
            out,
            "{:<10} {:<18} {:>9.4} {:>9.4} {:>10}  {}",
            m.name,
            m.model,
            m.accuracy,
            m.macro_f1,
            fit,
            m.path.display()
        )?;
    }
    if let Some(p) = s.mcnemar_p {
        writeln!(
            out,
            "McNemar's test of the two models' errors: {}",
            format_p_value(p)
        )?;
    }
    writeln!(
        out,
        "report: {} (numbers: {}); {:.0} s in all",
        s.report.display(),
        s.metrics.display(),
        s.seconds
    )?;
    writeln!(out, "command: {}", s.command)?;
    if s.quick {
        writeln!(
            out,
            "(quick run: not results; `fer run` without --quick gives the real numbers)"
        )?;
    }
    Ok(())
}
