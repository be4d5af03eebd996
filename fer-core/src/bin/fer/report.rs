//! `fer report`: one self-contained HTML report and a metrics JSON for a CNN checkpoint and/or
//! the logistic baseline, scored on PrivateTest.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use fer_core::baseline::BaselineModel;
use fer_core::cnn::checkpoint::load_history;
use fer_core::cnn::EpochRecord;
use fer_core::cnn::{load_checkpoint, CnnModel};
use fer_core::data;
use fer_core::eval::format_p_value;
use fer_core::report::{self, build_report, Report, REPORT_SPLIT};
use fer_core::{Dataset, EmotionClassifier};

use crate::out_dir::OutputDir;
use crate::progress::Step;

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
    /// Photos (or folders of them) whose faces the CNN classifies in a gallery at the end of
    /// the report (the first 6).
    #[arg(long, value_name = "IMAGE", num_args = 1.., requires = "model")]
    photos: Vec<PathBuf>,
}

/// Loads the models and the data, builds the report and writes it.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.model.is_none() && args.baseline.is_none() {
        anyhow::bail!("no model to report on: give --model DIR, --baseline PATH, or both");
    }
    let out = OutputDir::create(&args.out, "--out")?;
    // Models first: a wrong path should fail before seconds of data loading.
    let cnn: Option<(CnnModel, Vec<EpochRecord>)> = match &args.model {
        Some(dir) => Some(load_cnn(dir, "--model")?),
        None => None,
    };
    let baseline = match &args.baseline {
        Some(path) => Some(
            BaselineModel::load(path)
                .with_context(|| format!("loading --baseline {}", path.display()))?,
        ),
        None => None,
    };

    // Photos are listed before the data loads too (a missing one fails early).
    let photos = fer_core::faces::photo_files(&args.photos)?;
    let path = data::resolve_data_path(args.data.as_deref());
    let fer = crate::load::load(&path)?;
    let started = Instant::now();
    let mut models: Vec<ReportModel> = Vec::new();
    if let Some((model, history)) = &cnn {
        models.push(ReportModel {
            name: "cnn",
            model,
            history,
        });
    }
    if let Some(model) = &baseline {
        models.push(ReportModel {
            name: "baseline",
            model,
            history: &[],
        });
    }
    let mut report = write_report(
        &path.display().to_string(),
        &fer.train,
        &fer.kaggle_test,
        &models,
        out.path(),
    )?;
    if let (Some((model, _)), false) = (&cnn, args.photos.is_empty()) {
        let detector = fer_core::faces::FaceDetector::new(Default::default())?;
        let tta = fer_core::cnn::Tta::None;
        report.append_section(&fer_core::plot::photo_gallery(
            model, &detector, &photos, tta,
        )?);
        report::write_report(&report, out.path())?;
    }
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
        println!("McNemar {}", format_p_value(c.mcnemar.p_value));
    }
    println!(
        "wrote {} and {} in {:.1} s",
        args.out.join(REPORT_HTML).display(),
        args.out.join(REPORT_METRICS).display(),
        started.elapsed().as_secs_f64()
    );
    out.keep();
    Ok(())
}

/// File names [`write_report`] writes (fixed by `fer_core::report::write_report`).
pub const REPORT_HTML: &str = "report.html";
/// See [`REPORT_HTML`].
pub const REPORT_METRICS: &str = "metrics.json";

/// One model of a report: its name in the page, the model, and its training history (empty
/// for models without one, such as the baseline).
pub struct ReportModel<'a> {
    pub name: &'a str,
    pub model: &'a dyn EmotionClassifier,
    pub history: &'a [EpochRecord],
}

/// Loads a CNN checkpoint folder and its history; errors name `flag` and the folder.
pub fn load_cnn(dir: &Path, flag: &str) -> anyhow::Result<(CnnModel, Vec<EpochRecord>)> {
    Ok((
        load_checkpoint(dir).with_context(|| format!("loading {flag} {}", dir.display()))?,
        load_history(dir).with_context(|| format!("loading the history in {}", dir.display()))?,
    ))
}

/// Scores `models` on the PrivateTest faces of `test`, builds the HTML report and the metrics
/// JSON (`fer_core::report::build_report`) and writes both into `out` atomically, showing
/// progress meanwhile. Shared by `fer report` and `fer run`.
pub fn write_report(
    source: &str,
    train: &Dataset,
    test: &Dataset,
    models: &[ReportModel],
    out: &Path,
) -> anyhow::Result<Report> {
    let step = Step::start(format!(
        "scoring {} model(s) on {} and building the report",
        models.len(),
        REPORT_SPLIT.name()
    ));
    let classifiers: Vec<(&str, &dyn EmotionClassifier)> =
        models.iter().map(|m| (m.name, m.model)).collect();
    let histories: Vec<(&str, &[EpochRecord])> =
        models.iter().map(|m| (m.name, m.history)).collect();
    let report = build_report(source, train, test, &classifiers, &histories)?;
    report::write_report(&report, out)?;
    step.finish();
    Ok(report)
}
