//! `Course`: the data set and the models as the notebooks use them, in quick or full mode.

use std::path::PathBuf;
use std::time::Instant;

use crate::baseline::{BaselineModel, BaselineParams, FeatureKind};
use crate::cnn::{load_checkpoint, Arch, CheckpointOptions, CnnModel, Progress, TrainConfig};
use crate::course::mode::Mode;
use crate::course::paths::{data_path, model_dir};
use crate::course::subset::stratified_subset;
use crate::data::{self, Fer2013, Splits};
use crate::error::{FerError, Result};
use crate::eval::EpochRecord;

/// Share of each (emotion, split) group kept in quick mode: 5% of Training (1,435 faces) and
/// of PublicTest and PrivateTest (about 180 each), so a CNN epoch takes seconds.
pub const QUICK_FRACTION: f64 = 0.05;

/// Faces kept per (emotion, split) group in quick mode at least, so disgust (1.5% of the data)
/// is still there to be scored.
pub const QUICK_MIN_PER_GROUP: usize = 3;

/// Seed of the quick subset and of every model the notebooks fit.
pub const COURSE_SEED: u64 = 0;

/// Epochs of the short CNN runs: the training notebook's in quick mode, and any notebook's when
/// the shipped checkpoint is missing.
pub const SHORT_CNN_EPOCHS: usize = 2;

/// L-BFGS iterations of the baseline in quick mode (full mode: the library's default, 100).
pub const QUICK_BASELINE_ITERATIONS: u64 = 30;

/// The data set, split by the papers' protocol, and the mode that sized it.
#[derive(Debug, Clone)]
pub struct Course {
    /// Quick or full.
    pub mode: Mode,
    /// Where the data came from.
    pub data_path: PathBuf,
    /// The data as loaded (in quick mode, the stratified subset).
    pub fer: Fer2013,
    /// Training, PublicTest (validation) and PrivateTest (test) faces of `fer`.
    pub splits: Splits,
}

/// A CNN and how the notebook got it.
#[derive(Debug, Clone)]
pub struct CnnRun {
    /// The model (the best epoch on the validation split).
    pub model: CnnModel,
    /// Its training history, one record per epoch.
    pub history: Vec<EpochRecord>,
    /// The settings it was trained with (from the checkpoint's `train_config.json`; `None`
    /// for a checkpoint without one).
    pub train_config: Option<TrainConfig>,
    /// The checkpoint folder it was loaded from, or `None` if it was trained just now.
    pub checkpoint: Option<PathBuf>,
    /// Seconds spent loading or training it.
    pub seconds: f64,
}

impl CnnRun {
    /// Hours of training behind the model: the sum of its epochs' wall-clock times.
    pub fn training_hours(&self) -> f64 {
        self.history.iter().map(|r| r.seconds).sum::<f64>() / 3600.0
    }
}

impl Course {
    /// Loads FER2013 from `$FER2013_DIR` (else `data/fer2013` in the repository) in the mode
    /// `FER_QUICK` selects, and prints what it loaded.
    pub fn load() -> Result<Course> {
        let path = data_path();
        let fer = data::load(&path).inspect_err(|_| {
            eprintln!(
                "hint: put FER2013 in data/fer2013 or set FER2013_DIR before starting Jupyter \
                 (see data/README.md)"
            )
        })?;
        let course = Course::from_data(fer, path, Mode::from_env())?;
        println!("{}", course.summary());
        Ok(course)
    }

    /// A course on already loaded data: in [`Mode::Quick`], the stratified subset of it.
    pub fn from_data(fer: Fer2013, data_path: PathBuf, mode: Mode) -> Result<Course> {
        let fer = match mode {
            Mode::Full => fer,
            Mode::Quick => Fer2013 {
                train: stratified_subset(
                    &fer.train,
                    QUICK_FRACTION,
                    QUICK_MIN_PER_GROUP,
                    COURSE_SEED,
                )?,
                test: stratified_subset(
                    &fer.test,
                    QUICK_FRACTION,
                    QUICK_MIN_PER_GROUP,
                    COURSE_SEED,
                )?,
                skipped_files: fer.skipped_files,
            },
        };
        let splits = fer.paper_split();
        for (name, part) in [
            ("Training", &splits.train),
            ("PublicTest", &splits.validation),
            ("PrivateTest", &splits.test),
        ] {
            if part.is_empty() {
                return Err(FerError::EmptyDataset(format!(
                    "{}: no {name} faces (the notebooks follow the papers' protocol and need \
                     all three challenge splits)",
                    data_path.display()
                )));
            }
        }
        Ok(Course {
            mode,
            data_path,
            fer,
            splits,
        })
    }

    /// One line: the mode, the source and the size of each split.
    pub fn summary(&self) -> String {
        let note = match self.mode {
            Mode::Quick => format!(
                " ({:.0}% stratified subset, short training: numbers show the code runs, \
                 not how good the models are)",
                100.0 * QUICK_FRACTION
            ),
            Mode::Full => String::new(),
        };
        format!(
            "{} mode{note}: {} Training, {} PublicTest (validation), {} PrivateTest (test) faces \
             from {}",
            self.mode.name(),
            self.splits.train.len(),
            self.splits.validation.len(),
            self.splits.test.len(),
            self.data_path.display()
        )
    }

    /// The baseline's hyper-parameters for `kind`: the library's defaults, with fewer L-BFGS
    /// iterations in quick mode.
    pub fn baseline_params(&self, kind: FeatureKind) -> BaselineParams {
        let params = BaselineParams::new(kind).seed(COURSE_SEED);
        match self.mode {
            Mode::Quick => params.max_iterations(QUICK_BASELINE_ITERATIONS),
            Mode::Full => params,
        }
    }

    /// Fits the logistic baseline on `kind` features of the Training split and prints how
    /// long it took.
    pub fn fit_baseline(&self, kind: FeatureKind) -> Result<BaselineModel> {
        let started = Instant::now();
        let model = self.baseline_params(kind).fit(&self.splits.train)?;
        println!(
            "logistic regression on {} features ({} values per face) of {} faces: fitted in \
             {:.1} s",
            kind,
            model.feature_dim(),
            self.splits.train.len(),
            started.elapsed().as_secs_f64()
        );
        Ok(model)
    }

    /// Settings of the short CNN runs: [`TrainConfig::new`]'s defaults for our architecture
    /// with [`SHORT_CNN_EPOCHS`] epochs, batches of 32 and no early stopping.
    pub fn short_cnn_config(&self) -> TrainConfig {
        TrainConfig {
            epochs: SHORT_CNN_EPOCHS,
            batch_size: 32,
            patience: None,
            seed: COURSE_SEED,
            ..TrainConfig::new(Arch::Best)
        }
    }

    /// Trains a CNN with `config` on the Training split, choosing the best epoch on PublicTest,
    /// printing one line per epoch (a notebook shows no progress bar).
    pub fn train_cnn(&self, config: &TrainConfig) -> Result<CnnRun> {
        let started = Instant::now();
        let outcome = crate::cnn::train(
            &self.splits.train,
            &self.splits.validation,
            config,
            &CheckpointOptions::default(),
            Progress::Lines,
        )?;
        Ok(CnnRun {
            model: outcome.best,
            history: outcome.history,
            train_config: Some(*config),
            checkpoint: None,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// The shipped CNN checkpoint (`data/models/fer-cnn`, or `$FER_CNN_MODEL`) with its
    /// history and training settings, or `None` if the folder holds no checkpoint.
    pub fn shipped_cnn(&self) -> Result<Option<CnnRun>> {
        let dir = model_dir();
        if !dir.join(crate::cnn::checkpoint::CONFIG_FILE).is_file() {
            return Ok(None);
        }
        let started = Instant::now();
        let model = load_checkpoint(&dir)?;
        let history = crate::cnn::checkpoint::load_history(&dir)?;
        let config_path = dir.join(crate::cnn::train::TRAIN_CONFIG_FILE);
        let train_config = if config_path.is_file() {
            Some(crate::fs::read_json(&config_path)?)
        } else {
            None
        };
        println!(
            "loaded the shipped CNN ({}, {} epochs of history) from {}",
            crate::EmotionClassifier::name(&model),
            history.len(),
            dir.display()
        );
        Ok(Some(CnnRun {
            model,
            history,
            train_config,
            checkpoint: Some(dir),
            seconds: started.elapsed().as_secs_f64(),
        }))
    }

    /// The CNN to evaluate: the shipped checkpoint ([`Course::shipped_cnn`]) in either mode,
    /// since loading it takes a second. Without one, says how to get it and trains a short
    /// model ([`Course::short_cnn_config`]) so the notebook still runs.
    pub fn cnn(&self) -> Result<CnnRun> {
        if let Some(run) = self.shipped_cnn()? {
            return Ok(run);
        }
        println!(
            "no CNN checkpoint at {}: it is shipped in data/models/fer-cnn (or train it with \
             `cargo run --release --bin fer -- train cnn --out data/models/fer-cnn`, hours on a \
             2-core CPU). Training a {SHORT_CNN_EPOCHS}-epoch model on {} faces instead: its \
             numbers are far below the real model's.",
            model_dir().display(),
            self.splits.train.len()
        );
        self.train_cnn(&self.short_cnn_config())
    }

    /// The CNN of the training notebook: in quick mode a short model trained now, so the
    /// notebook shows training at work; in full mode [`Course::cnn`] (the shipped checkpoint,
    /// whose history shows the real run).
    pub fn train_or_load_cnn(&self) -> Result<CnnRun> {
        match self.mode {
            Mode::Quick => {
                println!(
                    "quick mode: training a {SHORT_CNN_EPOCHS}-epoch CNN on {} faces",
                    self.splits.train.len()
                );
                self.train_cnn(&self.short_cnn_config())
            }
            Mode::Full => self.cnn(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Dataset, Origin, Usage, IMAGE_PIXELS};
    use crate::Emotion;

    fn fer(per_group: usize) -> Fer2013 {
        let mut train = Dataset::new();
        let mut test = Dataset::new();
        for (i, emotion) in Emotion::ALL.iter().cycle().take(7 * per_group).enumerate() {
            let face = [i as u8; IMAGE_PIXELS];
            train.push(&face, *emotion, Usage::Training, Origin::CsvLine(i as u64));
            test.push(
                &face,
                *emotion,
                Usage::PublicTest,
                Origin::CsvLine(i as u64),
            );
            test.push(
                &face,
                *emotion,
                Usage::PrivateTest,
                Origin::CsvLine(i as u64),
            );
        }
        Fer2013 {
            train,
            test,
            skipped_files: 0,
        }
    }

    #[test]
    fn quick_mode_keeps_a_stratified_subset_of_each_split() {
        let course = Course::from_data(fer(100), PathBuf::from("x"), Mode::Quick).unwrap();
        assert_eq!(course.splits.train.class_counts(), [5; 7]);
        assert_eq!(course.splits.validation.class_counts(), [5; 7]);
        assert_eq!(course.splits.test.class_counts(), [5; 7]);
        assert!(
            course.summary().starts_with("quick mode"),
            "{}",
            course.summary()
        );
        let full = Course::from_data(fer(100), PathBuf::from("x"), Mode::Full).unwrap();
        assert_eq!(full.splits.train.len(), 700);
        assert_eq!(
            course
                .baseline_params(FeatureKind::Raw)
                .check()
                .unwrap()
                .max_iterations(),
            QUICK_BASELINE_ITERATIONS
        );
    }

    #[test]
    fn a_missing_split_is_refused_by_name() {
        let mut data = fer(2);
        data.test = data.test.with_usage(Usage::PrivateTest);
        let err = Course::from_data(data, PathBuf::from("x"), Mode::Full).unwrap_err();
        assert!(err.to_string().contains("PublicTest"), "{err}");
    }
}
