//! `fer report`: one self-contained HTML report and a metrics JSON for a CNN checkpoint and/or
//! the logistic baseline, scored on PrivateTest.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use fer_core::baseline::BaselineModel;
use fer_core::cnn::checkpoint::load_history;
use fer_core::cnn::{load_checkpoint, CnnModel};
use fer_core::data;
use fer_core::eval::{build_report, write_report, EpochRecord, REPORT_SPLIT};
use fer_core::EmotionClassifier;

/// Arguments of `fer report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The data set: a folder in Kaggle's layout (train/ and test/), a fer2013.csv, or a folder
    /// holding one. Default: $FER2013_DIR, else data/fer2013.
    #[arg(long, value_name = "PATH")]
    data: Option<PathBuf>,
    /// A CNN checkpoint folder written by `fer train cnn --out DIR`.
    #[arg(long, value_name = "DIR")]
    model: Option<PathBuf>,
    /// A baseline model.json written by `fer train baseline --out DIR`.
    #[arg(long, value_name = "PATH")]
    baseline: Option<PathBuf>,
    /// Folder for report.html and metrics.json (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// Loads the models and the data, builds the report and writes it.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.model.is_none() && args.baseline.is_none() {
        anyhow::bail!("no model to report on: give --model DIR, --baseline PATH, or both");
    }
    check_writable(&args.out)?;
    // Models first: a wrong path should fail before seconds of data loading.
    let cnn: Option<(CnnModel, Vec<EpochRecord>)> = match &args.model {
        Some(dir) => Some((
            load_checkpoint(dir).with_context(|| format!("loading --model {}", dir.display()))?,
            load_history(dir)
                .with_context(|| format!("loading the history in {}", dir.display()))?,
        )),
        None => None,
    };
    let baseline = match &args.baseline {
        Some(path) => Some(
            BaselineModel::load(path)
                .with_context(|| format!("loading --baseline {}", path.display()))?,
        ),
        None => None,
    };

    let path = data::resolve_data_path(args.data.as_deref());
    let fer = data::load(&path)?;
    let started = Instant::now();
    let mut models: Vec<(&str, &dyn EmotionClassifier)> = Vec::new();
    let mut histories: Vec<(&str, &[EpochRecord])> = Vec::new();
    if let Some((model, history)) = &cnn {
        models.push(("cnn", model));
        histories.push(("cnn", history));
    }
    if let Some(model) = &baseline {
        models.push(("baseline", model));
    }
    let report = build_report(
        &path.display().to_string(),
        &fer.train,
        &fer.test,
        &models,
        &histories,
    )?;
    write_report(&report, &args.out)?;
    for m in &report.metrics.models {
        println!(
            "{}: accuracy {:.4} on {} {} faces",
            m.name,
            m.evaluation.accuracy,
            report.metrics.samples,
            REPORT_SPLIT.name()
        );
    }
    if let Some(c) = &report.metrics.comparison {
        println!("McNemar p = {:.4}", c.mcnemar.p_value);
    }
    println!(
        "wrote {} and {} in {:.1} s",
        args.out.join("report.html").display(),
        args.out.join("metrics.json").display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Fails early, before any scoring, if `out` cannot hold the report.
fn check_writable(out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("--out {}: cannot create the folder", out.display()))?;
    tempfile::NamedTempFile::new_in(out)
        .with_context(|| format!("--out {}: cannot write in this folder", out.display()))?;
    Ok(())
}
