//! `fer train`: fit a model on FER2013's training set and score it on Kaggle's test/ and the
//! challenge's PrivateTest split.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use serde::Serialize;

use fer_core::baseline::{
    BaselineModel, BaselineParams, BaselineValidParams, ClassBalance, FeatureCache, FeatureKind,
    HogSettings,
};
use fer_core::data;
use fer_core::eval::Evaluation;
use fer_core::{Emotion, EmotionClassifier, Usage};
use ndarray::Axis;

use crate::progress::Step;

/// Arguments of `fer train`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    model: Model,
}

/// The models `fer train` fits.
#[derive(Debug, Subcommand)]
enum Model {
    /// Multinomial logistic regression (linfa) on raw pixels or HOG features.
    Baseline(BaselineArgs),
    /// A convolutional network (dfdx): the seed's architecture or our best one.
    Cnn(CnnArgs),
}

/// Fits and scores the chosen model.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.model {
        Model::Baseline(args) => run_baseline(args),
        Model::Cnn(args) => run_cnn(args),
    }
}

/// Arguments of `fer train baseline`. Hyper-parameters left out take the library's documented
/// defaults (`fer_core::baseline::BaselineParams::new`).
#[derive(Debug, clap::Args)]
struct BaselineArgs {
    /// The data set: a folder in Kaggle's layout (train/ and test/), a fer2013.csv, or a folder
    /// holding one. Default: $FER2013_DIR, else data/fer2013.
    #[arg(long, value_name = "PATH")]
    data: Option<PathBuf>,

    /// What the regression sees: standardised raw pixels, or HOG descriptors.
    #[arg(long, value_enum)]
    features: Features,

    /// Reduce the standardised features to N whitened principal components.
    #[arg(long, value_name = "N")]
    pca: Option<usize>,

    /// HOG cell side in pixels (must divide 48). Default 6.
    #[arg(long, value_name = "PIXELS")]
    hog_cell_side: Option<usize>,

    /// L2 penalty (linfa's alpha, over the summed log-loss). Default 300.
    #[arg(long)]
    alpha: Option<f32>,

    /// Maximum L-BFGS iterations. Default 100.
    #[arg(long)]
    max_iterations: Option<u64>,

    /// Stop when the gradient norm falls below this. Default 1e-4.
    #[arg(long)]
    gradient_tolerance: Option<f32>,

    /// Class balancing of the training set.
    #[arg(long, value_enum, default_value_t = Balance::None)]
    balance: Balance,

    /// Seed for the oversampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,

    /// Folder to write model.json (the fitted model) and metrics.json (every metric) into.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// Print one JSON object instead of a summary.
    #[arg(long)]
    json: bool,

    /// Decode the images and extract the features even if cached copies exist; write none.
    #[arg(long)]
    no_cache: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Features {
    Raw,
    Hog,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Balance {
    /// The training set as it is.
    None,
    /// Top every class up to the size of the largest with copies of its faces.
    Oversample,
    /// Top every class up to the size of the largest with SMOTE samples.
    Smote,
}

/// What `fer train baseline` prints (`--json`) and saves beside the model.
#[derive(Debug, Serialize)]
struct Summary {
    model: String,
    features: String,
    feature_dim: usize,
    train_samples: usize,
    /// Accuracy on Kaggle's test/ (PublicTest + PrivateTest).
    test_accuracy: f64,
    /// Accuracy on the challenge's PrivateTest split, which papers report.
    private_test_accuracy: f64,
    /// Accuracy on PublicTest, the validation split hyper-parameters are chosen on (absent
    /// from a CSV without PublicTest rows).
    public_test_accuracy: Option<f64>,
    /// Macro-averaged F1 on test/.
    macro_f1: f64,
    /// Macro-averaged F1 on PrivateTest.
    private_test_macro_f1: f64,
    /// Recall of each emotion on test/.
    per_class_recall: std::collections::BTreeMap<Emotion, f64>,
    /// Seconds to fit the features and the regression (not loading or scoring).
    fit_seconds: f64,
    alpha: f32,
    max_iterations: u64,
    seed: u64,
    data: PathBuf,
    model_path: Option<PathBuf>,
}

/// Everything `fer train` writes to metrics.json: the printed summary and every metric of each
/// split.
#[derive(Debug, Serialize)]
struct MetricsFile<'a, S> {
    summary: &'a S,
    test: &'a Evaluation,
    private_test: &'a Evaluation,
    public_test: Option<&'a Evaluation>,
}

impl<S: Serialize> MetricsFile<'_, S> {
    /// Writes metrics.json into `out_dir` (when given, atomically), then prints the summary:
    /// one JSON object with `json`, else the text `print_text` writes.
    fn write_and_print(
        &self,
        out_dir: Option<&Path>,
        json: bool,
        print_text: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        if let Some(dir) = out_dir {
            fer_core::fs::write_json_atomically(&dir.join("metrics.json"), self)?;
        }
        let mut out = std::io::stdout().lock();
        if json {
            serde_json::to_writer(&mut out, self.summary)?;
            writeln!(out)?;
            Ok(())
        } else {
            print_text(&mut out)
        }
    }
}

fn run_baseline(args: BaselineArgs) -> anyhow::Result<()> {
    let kind = match args.features {
        Features::Raw => FeatureKind::Raw,
        Features::Hog => FeatureKind::Hog,
    };
    let mut params = BaselineParams::new(kind)
        .pca(args.pca)
        .seed(args.seed)
        .balance(match args.balance {
            Balance::None => ClassBalance::None,
            Balance::Oversample => ClassBalance::Oversample,
            Balance::Smote => ClassBalance::Smote,
        });
    if let Some(cell_side) = args.hog_cell_side {
        if kind != FeatureKind::Hog {
            anyhow::bail!("--hog-cell-side {cell_side} applies only to --features hog");
        }
        params = params.hog(HogSettings {
            cell_side,
            ..HogSettings::default()
        });
    }
    if let Some(alpha) = args.alpha {
        params = params.alpha(alpha);
    }
    if let Some(iterations) = args.max_iterations {
        params = params.max_iterations(iterations);
    }
    if let Some(tolerance) = args.gradient_tolerance {
        params = params.gradient_tolerance(tolerance);
    }
    // Reject bad parameters before spending seconds on loading.
    let params = params.check()?;

    let path = data::resolve_data_path(args.data.as_deref());
    let fer = if args.no_cache {
        data::load_uncached(&path)?
    } else {
        crate::load::load(&path)?
    };
    // Check before fitting that there is something to score (test/ holds PrivateTest faces).
    if !fer.kaggle_test.usages().contains(&Usage::PrivateTest) {
        anyhow::bail!(
            "{}: no PrivateTest faces in test/ to score the model on",
            path.display()
        );
    }

    let cache = if args.no_cache {
        None
    } else {
        FeatureCache::from_env()
    };
    let (model, fit_seconds) = fit_baseline(&params, &fer.train, cache.as_ref())?;

    // One pass over test/; PrivateTest and PublicTest are its rows of each usage.
    let test_proba = model
        .predict_proba_cached(fer.kaggle_test.faces(), cache.as_ref())
        .context("scoring test/")?;
    warn_cache(cache.as_ref());
    let evaluate = |usage: Option<Usage>| -> anyhow::Result<Option<Evaluation>> {
        let rows: Vec<usize> = (0..fer.kaggle_test.len())
            .filter(|&i| usage.is_none_or(|u| fer.kaggle_test.usages()[i] == u))
            .collect();
        if rows.is_empty() {
            return Ok(None);
        }
        let labels: Vec<Emotion> = rows.iter().map(|&i| fer.kaggle_test.labels()[i]).collect();
        let proba = test_proba.select(Axis(0), &rows);
        Ok(Some(Evaluation::new(&labels, proba.view())?))
    };
    let missing = || anyhow::anyhow!("{}: no PrivateTest faces to score", path.display());
    let test_eval = evaluate(None)?.ok_or_else(missing)?;
    let private_eval = evaluate(Some(Usage::PrivateTest))?.ok_or_else(missing)?;
    // PublicTest may be absent from a hand-made CSV; score it when present.
    let public_eval = evaluate(Some(Usage::PublicTest))?;

    let model_path = args.out.as_ref().map(|dir| dir.join("model.json"));
    let summary = Summary {
        model: model.name(),
        features: params.features().label(),
        feature_dim: model.feature_dim(),
        train_samples: fer.train.len(),
        test_accuracy: test_eval.accuracy,
        private_test_accuracy: private_eval.accuracy,
        public_test_accuracy: public_eval.as_ref().map(|e| e.accuracy),
        macro_f1: test_eval.report.macro_avg().f1,
        private_test_macro_f1: private_eval.report.macro_avg().f1,
        per_class_recall: test_eval.per_class_recall.clone(),
        fit_seconds,
        alpha: params.alpha(),
        max_iterations: params.max_iterations(),
        seed: params.seed(),
        data: path,
        model_path: model_path.clone(),
    };
    if let Some(model_path) = &model_path {
        model.save(model_path)?;
    }
    MetricsFile {
        summary: &summary,
        test: &test_eval,
        private_test: &private_eval,
        public_test: public_eval.as_ref(),
    }
    .write_and_print(args.out.as_deref(), args.json, |out| {
        write_summary(out, &summary, &test_eval)
    })
}

fn write_summary(out: &mut dyn Write, s: &Summary, test: &Evaluation) -> anyhow::Result<()> {
    writeln!(
        out,
        "{} on {} training faces ({} features): fitted in {:.1} s",
        s.model, s.train_samples, s.feature_dim, s.fit_seconds
    )?;
    let public = s
        .public_test_accuracy
        .map_or_else(|| "-".to_string(), |a| format!("{a:.4}"));
    writeln!(
        out,
        "accuracy: test/ {:.4}, PrivateTest {:.4}, PublicTest {public}; macro F1 on test/ {:.4}",
        s.test_accuracy, s.private_test_accuracy, s.macro_f1
    )?;
    writeln!(out, "{}", test.report)?;
    if let Some(path) = &s.model_path {
        writeln!(out, "model saved to {}", path.display())?;
    }
    Ok(())
}

/// Arguments of `fer train cnn`. Left-out settings take `fer_core::cnn::TrainConfig::new`'s
/// documented defaults. Protocol: the best epoch is chosen on PublicTest; PrivateTest and
/// Kaggle's test/ are reported at the end.
#[derive(Debug, clap::Args)]
struct CnnArgs {
    /// The data set (as for `fer train baseline`). Default: $FER2013_DIR, else data/fer2013.
    #[arg(long, value_name = "PATH")]
    data: Option<PathBuf>,
    /// The network. Default best.
    #[arg(long, value_enum)]
    arch: Option<CnnArch>,
    /// Passes over the training set. Default 40.
    #[arg(long)]
    epochs: Option<usize>,
    /// Faces per step. Default 64.
    #[arg(long)]
    batch: Option<usize>,
    /// Peak learning rate. Default 1e-3.
    #[arg(long)]
    lr: Option<f64>,
    /// Decoupled weight decay (each step shrinks the weights by lr x this). Default 0.05 for
    /// --arch best, 1e-4 for --arch seed.
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Use SGD with Nesterov momentum instead of AdamW.
    #[arg(long)]
    sgd: bool,
    /// Learning-rate schedule: warm-up + cosine decay to 0; one-cycle (cosine ramp from lr/25
    /// to lr over 30% of the steps, then down to lr/1e4); or warm-up, then lr halved after
    /// --plateau-patience epochs without a better PublicTest accuracy. Default cosine.
    #[arg(long, value_enum)]
    schedule: Option<CnnSchedule>,
    /// With --schedule plateau: epochs without improvement before the rate is halved. Default 3.
    #[arg(long, value_name = "EPOCHS")]
    plateau_patience: Option<usize>,
    /// Label smoothing. Default 0.1.
    #[arg(long)]
    label_smoothing: Option<f32>,
    /// Weight the loss by inverse class frequency.
    #[arg(long)]
    class_weighted: bool,
    /// Draw class-balanced epochs.
    #[arg(long)]
    balanced: bool,
    /// Augmentation of training batches: light is mirror, shift, rotation and zoom; default adds
    /// grey-level jitter, noise and erasing; strong makes every one larger. Default light for
    /// --arch best, default for --arch seed.
    #[arg(long, value_enum)]
    augment: Option<CnnAugment>,
    /// Dropout after each convolution block. Default 0.05 for --arch best, 0.25 for --arch seed.
    #[arg(long, value_name = "P")]
    block_dropout: Option<f32>,
    /// Dropout in the dense head (before the dense layer of --arch best, after each hidden
    /// dense layer of --arch seed). Default 0.2 for best, 0.25 for seed.
    #[arg(long, value_name = "P")]
    head_dropout: Option<f32>,
    /// Early-stopping patience in epochs. Default 10.
    #[arg(long)]
    patience: Option<usize>,
    /// Seed of weights, dropout, batch order and augmentation. Default 0.
    #[arg(long)]
    seed: Option<u64>,
    /// Train on at most N faces per class (the first ones), for quick runs.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Checkpoint folder (best epoch; the last one in last/). Default: no checkpoint.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Continue the run in --out from its last checkpoint (saved after every epoch, and on
    /// Ctrl-C between two steps), exactly where it stopped, with the settings it was started
    /// with. Other settings than the run's own are refused, except a new --epochs (the schedule
    /// then stretches to it) or --patience. Give the same --data and --limit again: a run is
    /// refused other training faces than it started with.
    #[arg(long)]
    resume: bool,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CnnArch {
    Seed,
    Best,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CnnSchedule {
    Cosine,
    OneCycle,
    Plateau,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CnnAugment {
    None,
    Light,
    Default,
    Strong,
}

/// What `fer train cnn` prints (`--json`) and writes to metrics.json.
#[derive(Debug, Serialize)]
struct CnnSummary {
    model: String,
    train_samples: usize,
    best_epoch: usize,
    epochs_run: usize,
    public_test_accuracy: f64,
    private_test_accuracy: f64,
    test_accuracy: f64,
    private_test_per_class_recall: std::collections::BTreeMap<Emotion, f64>,
    train_seconds: f64,
    config: fer_core::cnn::TrainConfig,
    data: PathBuf,
    checkpoint: Option<PathBuf>,
}

fn run_cnn(args: CnnArgs) -> anyhow::Result<()> {
    use fer_core::cnn::{Arch, Augmentation, DropoutRates, OptimizerKind, Schedule, TrainConfig};
    if args.resume && args.out.is_none() {
        anyhow::bail!("--resume needs --out DIR (the run to continue)");
    }
    // One run per folder: a second one with the same --out refuses, naming the first.
    let out_dir = (args.out.as_deref())
        .map(|out| crate::out_dir::OutputDir::create_locked(out, "--out"))
        .transpose()?;
    let arch = args.arch.map(|arch| match arch {
        CnnArch::Seed => Arch::Seed,
        CnnArch::Best => Arch::Best,
    });
    // A resumed run's left-out settings are its own, not today's defaults (which may have
    // changed since it started); settings given again are checked against them when training
    // resumes.
    let saved_config = args
        .out
        .as_ref()
        .filter(|_| args.resume)
        .map(|out| out.join(fer_core::cnn::train::TRAIN_CONFIG_FILE))
        .filter(|path| path.is_file());
    let defaults = match saved_config {
        Some(path) => fer_core::fs::read_json::<TrainConfig>(&path)?,
        None => TrainConfig::new(arch.unwrap_or(Arch::Best)),
    };
    let arch = arch.unwrap_or(defaults.arch);
    let default_dropout = defaults.dropout_rates();
    let dropout = DropoutRates {
        block: args.block_dropout.unwrap_or(default_dropout.block),
        head: args.head_dropout.unwrap_or(default_dropout.head),
    };
    let config = TrainConfig {
        arch,
        epochs: args.epochs.unwrap_or(defaults.epochs),
        batch_size: args.batch.unwrap_or(defaults.batch_size),
        learning_rate: args.lr.unwrap_or(defaults.learning_rate),
        weight_decay: args.weight_decay.unwrap_or(defaults.weight_decay),
        optimizer: if args.sgd {
            OptimizerKind::SgdNesterov
        } else {
            defaults.optimizer
        },
        schedule: match args.schedule {
            None => defaults.schedule,
            Some(CnnSchedule::Cosine) => Schedule::Cosine,
            Some(CnnSchedule::OneCycle) => Schedule::OneCycle,
            Some(CnnSchedule::Plateau) => Schedule::Plateau,
        },
        plateau_patience: args.plateau_patience.unwrap_or(defaults.plateau_patience),
        label_smoothing: args.label_smoothing.unwrap_or(defaults.label_smoothing),
        class_weighted: args.class_weighted || defaults.class_weighted,
        balanced_sampler: args.balanced || defaults.balanced_sampler,
        augmentation: match args.augment {
            None => defaults.augmentation,
            Some(CnnAugment::None) => Augmentation::None,
            Some(CnnAugment::Light) => Augmentation::Light,
            Some(CnnAugment::Default) => Augmentation::Default,
            Some(CnnAugment::Strong) => Augmentation::Strong,
        },
        dropout: Some(dropout),
        patience: args.patience.or(defaults.patience),
        seed: args.seed.unwrap_or(defaults.seed),
        ..defaults
    };
    config.check()?;
    if args.plateau_patience.is_some() && config.schedule != Schedule::Plateau {
        anyhow::bail!("--plateau-patience applies only to --schedule plateau");
    }
    if args.limit == Some(0) {
        anyhow::bail!("--limit must be at least 1");
    }
    let path = data::resolve_data_path(args.data.as_deref());
    let fer = crate::load::load(&path)?;
    let train = match args.limit {
        Some(limit) => first_per_class(&fer.train, limit),
        None => fer.train.clone(),
    };
    let (public, private) = validation_and_test(&fer, &path)?;
    let (outcome, train_seconds) = train_cnn(
        &train,
        &public,
        &config,
        args.out.clone(),
        args.resume,
        true,
    )?;
    let model = &outcome.best;
    let score = |set: &fer_core::Dataset| -> anyhow::Result<Evaluation> {
        Ok(Evaluation::new(
            set.labels(),
            model.predict_proba(set.faces())?.view(),
        )?)
    };
    let public_eval = score(&public)?;
    let private_eval = score(&private)?;
    let test_eval = score(&fer.kaggle_test)?;
    let summary = CnnSummary {
        model: model.name(),
        train_samples: train.len(),
        best_epoch: outcome.best_epoch,
        epochs_run: outcome.history.len(),
        public_test_accuracy: public_eval.accuracy,
        private_test_accuracy: private_eval.accuracy,
        test_accuracy: test_eval.accuracy,
        private_test_per_class_recall: private_eval.per_class_recall.clone(),
        train_seconds,
        config,
        data: path,
        checkpoint: args.out.clone(),
    };
    MetricsFile {
        summary: &summary,
        test: &test_eval,
        private_test: &private_eval,
        public_test: Some(&public_eval),
    }
    .write_and_print(args.out.as_deref(), args.json, |out| {
        writeln!(
            out,
            "{} on {} faces: best epoch {} of {} ({:.0} s); accuracy PublicTest {:.4}, \
             PrivateTest {:.4}, test/ {:.4}",
            summary.model,
            summary.train_samples,
            summary.best_epoch,
            summary.epochs_run,
            train_seconds,
            summary.public_test_accuracy,
            summary.private_test_accuracy,
            summary.test_accuracy
        )?;
        writeln!(out, "{}", private_eval.report)?;
        Ok(())
    })?;
    if let Some(dir) = out_dir {
        dir.keep();
    }
    Ok(())
}

/// Fits the baseline on `train` behind a progress spinner; returns the model and the seconds
/// the fit took (features and regression, not loading). Shared by `fer train baseline` and
/// `fer run`.
pub fn fit_baseline(
    params: &BaselineValidParams,
    train: &fer_core::Dataset,
    cache: Option<&FeatureCache>,
) -> anyhow::Result<(BaselineModel, f64)> {
    let step = Step::start(format!(
        "fitting the {} baseline on {} faces",
        params.features().label(),
        train.len()
    ));
    let model = params.fit_cached(train, cache)?;
    let seconds = step.finish();
    warn_cache(cache);
    Ok((model, seconds))
}

/// Says on stderr why HOG features could not be cached (the run goes on; the next one
/// extracts them again).
fn warn_cache(cache: Option<&FeatureCache>) {
    for warning in cache.map(FeatureCache::take_warnings).unwrap_or_default() {
        eprintln!("warning: HOG features not cached: {warning}");
    }
}

/// Trains a CNN on `train`, choosing the best epoch on `validation`, with a progress bar
/// (plain lines when stderr is not a terminal) and checkpoints in `out` if given; returns the
/// outcome and the seconds its epochs took, summed over the whole history (so a resumed run
/// also counts the epochs before it stopped). With `catch_ctrl_c`, Ctrl-C stops the run after the
/// current step and, with `out`, saves a resumable checkpoint first (the error then says where
/// and to use --resume); without it, Ctrl-C ends the process as usual (`fer run`, which has no
/// --resume). Shared by `fer train cnn` and `fer run`.
pub fn train_cnn(
    train: &fer_core::Dataset,
    validation: &fer_core::Dataset,
    config: &fer_core::cnn::TrainConfig,
    out: Option<PathBuf>,
    resume: bool,
    catch_ctrl_c: bool,
) -> anyhow::Result<(fer_core::cnn::TrainOutcome, f64)> {
    let outcome = fer_core::cnn::train(
        train,
        validation,
        config,
        &fer_core::cnn::CheckpointOptions {
            dir: out,
            resume,
            interrupt: if catch_ctrl_c { interrupt_flag() } else { None },
        },
        &mut crate::progress::Epochs::new(),
    )?;
    let seconds = outcome.history.iter().map(|epoch| epoch.seconds).sum();
    Ok((outcome, seconds))
}

/// The flag a Ctrl-C sets, installed once per process (ctrlc accepts one handler). The first
/// Ctrl-C asks the training loop to stop and save; a second one exits at once (the `last/`
/// checkpoint is replaced only by a rename, so it stays whole).
fn interrupt_flag() -> Option<Arc<AtomicBool>> {
    static FLAG: OnceLock<Option<Arc<AtomicBool>>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let seen = Arc::clone(&flag);
        let installed = ctrlc::set_handler(move || {
            if seen.swap(true, Ordering::SeqCst) {
                eprintln!("\nsecond Ctrl-C: exiting without waiting for the checkpoint");
                std::process::exit(INTERRUPTED_EXIT_CODE);
            }
            eprintln!(
                "\nCtrl-C: stopping after the current step and saving a checkpoint (Ctrl-C \
                 again to quit at once)"
            );
        });
        match installed {
            Ok(()) => Some(flag),
            Err(e) => {
                eprintln!("warning: Ctrl-C will not save a checkpoint: {e}");
                None
            }
        }
    })
    .clone()
}

/// Exit code of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
pub const INTERRUPTED_EXIT_CODE: i32 = 130;

/// The protocol's validation (PublicTest) and test (PrivateTest) faces of `fer`'s test/, or
/// an error naming `path` if either is missing.
pub fn validation_and_test(
    fer: &data::Fer2013,
    path: &Path,
) -> anyhow::Result<(fer_core::Dataset, fer_core::Dataset)> {
    let public = fer.kaggle_test.with_usage(Usage::PublicTest);
    let private = fer.kaggle_test.with_usage(Usage::PrivateTest);
    if public.is_empty() || private.is_empty() {
        anyhow::bail!(
            "{}: test/ needs PublicTest faces (validation) and PrivateTest faces (report)",
            path.display()
        );
    }
    Ok((public, private))
}

/// The faces of `set`, at most `limit` per class (the first ones, in data-set order), for
/// quick runs: every class keeps up to `limit` faces, so rare ones (disgust) are not lost.
pub fn first_per_class(set: &fer_core::Dataset, limit: usize) -> fer_core::Dataset {
    let mut taken = [0usize; Emotion::COUNT];
    let rows: Vec<usize> = (0..set.len())
        .filter(|&i| {
            let c = &mut taken[set.labels()[i].index()];
            *c += 1;
            *c <= limit
        })
        .collect();
    set.select(&rows)
}
