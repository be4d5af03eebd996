//! `Course`: the data set and the models as the notebooks use them, in quick or full mode.

use std::path::PathBuf;
use std::time::Instant;

use crate::baseline::{BaselineModel, BaselineParams, FeatureKind};
use crate::cnn::{
    load_checkpoint, Arch, CheckpointOptions, CnnModel, EpochRecord, TrainConfig, TrainObserver,
};
use crate::course::mode::Mode;
use crate::course::paths::{data_path, model_dir, shown_path};
use crate::data::{self, Cache, Fer2013, Splits};
use crate::error::{FerError, Result};
use crate::quick;

/// Seed of every model the notebooks fit.
pub const COURSE_SEED: u64 = 0;

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

/// A baseline and how the notebook got it.
#[derive(Debug, Clone)]
pub struct BaselineRun {
    /// The fitted model.
    pub model: BaselineModel,
    /// Where it is saved for the next notebook (`None`: the platform has no cache folder).
    pub saved: Option<PathBuf>,
    /// True if it was fitted just now, false if a saved fit was loaded.
    pub fitted_now: bool,
    /// Seconds spent fitting or loading it.
    pub seconds: f64,
    /// Training faces it was fitted on.
    pub train_faces: usize,
}

impl BaselineRun {
    /// One line: what was fitted on what, and whether it was fitted now or loaded.
    pub fn summary(&self) -> String {
        let what = format!(
            "logistic regression on {} features ({} values per face) of {} faces",
            self.model.params().features().kind,
            self.model.feature_dim(),
            self.train_faces
        );
        let saved = self
            .saved
            .as_deref()
            .and_then(|path| path.file_name())
            .map(|name| {
                format!(
                    " (saved in fer's cache folder as baselines/{})",
                    name.to_string_lossy()
                )
            })
            .unwrap_or_default();
        if self.fitted_now {
            format!("{what}: fitted in {:.1} s{saved}", self.seconds)
        } else {
            format!(
                "{what}: loaded the fit an earlier notebook saved, in {:.1} s{saved}",
                self.seconds
            )
        }
    }
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

    /// One line: where the model came from and what is behind it.
    pub fn summary(&self) -> String {
        let name = crate::EmotionClassifier::name(&self.model);
        match &self.checkpoint {
            Some(dir) => format!(
                "loaded the {name} from {} in {:.1} s: {} epochs of history, {:.1} hours of \
                 training",
                shown_path(dir),
                self.seconds,
                self.history.len(),
                self.training_hours()
            ),
            None => format!(
                "trained the {name} now: {} epochs in {:.0} s (no checkpoint was loaded)",
                self.history.len(),
                self.seconds
            ),
        }
    }
}

impl Course {
    /// Loads FER2013 from `$FER2013_DIR` (else `data/fer2013` in the repository) in the mode
    /// `FER_QUICK` selects. If it is not there, put it in data/fer2013 or set FER2013_DIR
    /// before starting Jupyter (see data/README.md).
    pub fn load() -> Result<Course> {
        let path = data_path();
        let fer = data::load(&path)?;
        Course::from_data(fer, path, Mode::from_env())
    }

    /// A course on already loaded data: in [`Mode::Quick`], the quick subset of it
    /// ([`quick::subset`]).
    pub fn from_data(fer: Fer2013, data_path: PathBuf, mode: Mode) -> Result<Course> {
        let fer = match mode {
            Mode::Full => fer,
            Mode::Quick => quick::subset(&fer)?,
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

    /// One line: the mode, the source (as [`shown_path`] prints it) and the size of each split.
    pub fn summary(&self) -> String {
        let note = match self.mode {
            Mode::Quick => format!(" ({})", quick::description()),
            Mode::Full => String::new(),
        };
        format!(
            "{} mode{note}: {} Training, {} PublicTest (validation), {} PrivateTest (test) faces \
             from {}",
            self.mode.name(),
            self.splits.train.len(),
            self.splits.validation.len(),
            self.splits.test.len(),
            shown_path(&self.data_path)
        )
    }

    /// The baseline's hyper-parameters for `kind`: the library's defaults, shortened in quick
    /// mode ([`quick::baseline_params`]).
    pub fn baseline_params(&self, kind: FeatureKind) -> BaselineParams {
        let params = BaselineParams::new(kind).seed(COURSE_SEED);
        match self.mode {
            Mode::Quick => quick::baseline_params(params),
            Mode::Full => params,
        }
    }

    /// Fits the logistic baseline on `kind` features of the Training split.
    pub fn fit_baseline(&self, kind: FeatureKind) -> Result<BaselineModel> {
        self.baseline_params(kind).fit(&self.splits.train)
    }

    /// The baseline on `kind` features with [`Course::baseline_params`]: loaded if an earlier
    /// notebook saved a fit of the same parameters on the same training faces (in
    /// `baselines/` of the cache folder, [`Cache::from_env`]), else fitted and saved there. So
    /// notebook 2 fits the HOG model once and notebooks 4 and 5 reuse it. A saved file that
    /// cannot be read is fitted again and replaced.
    pub fn baseline(&self, kind: FeatureKind) -> Result<BaselineRun> {
        self.baseline_saved_in(kind, Cache::from_env())
    }

    /// [`Course::baseline`] with the cache folder given.
    fn baseline_saved_in(&self, kind: FeatureKind, cache: Option<Cache>) -> Result<BaselineRun> {
        let started = Instant::now();
        let params = self.baseline_params(kind);
        let saved = cache.map(|cache| {
            cache.dir().join("baselines").join(saved_baseline_name(
                kind,
                &params,
                &self.splits.train,
            ))
        });
        let loaded = saved
            .as_deref()
            .filter(|path| path.is_file())
            .and_then(|path| BaselineModel::load(path).ok());
        let (model, fitted_now) = match loaded {
            Some(model) => (model, false),
            None => {
                let model = params.fit(&self.splits.train)?;
                if let Some(path) = &saved {
                    model.save(path)?;
                }
                (model, true)
            }
        };
        Ok(BaselineRun {
            model,
            saved,
            fitted_now,
            seconds: started.elapsed().as_secs_f64(),
            train_faces: self.splits.train.len(),
        })
    }

    /// Settings of the short CNN runs (the training notebook's in quick mode, and any
    /// notebook's when the shipped checkpoint is missing): [`TrainConfig::new`]'s defaults for
    /// our architecture, shortened as [`quick::train_config`] says.
    pub fn short_cnn_config(&self) -> TrainConfig {
        quick::train_config(TrainConfig {
            seed: COURSE_SEED,
            ..TrainConfig::new(Arch::Best)
        })
    }

    /// Trains a CNN with `config` on the Training split, choosing the best epoch on PublicTest;
    /// `observer` hears of every epoch (in a notebook: `&mut EachEpoch(|r| println!("{r}"))`).
    pub fn train_cnn(
        &self,
        config: &TrainConfig,
        observer: &mut dyn TrainObserver,
    ) -> Result<CnnRun> {
        let started = Instant::now();
        let outcome = crate::cnn::train(
            &self.splits.train,
            &self.splits.validation,
            config,
            &CheckpointOptions::default(),
            observer,
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
        Ok(Some(CnnRun {
            model,
            history,
            train_config,
            checkpoint: Some(dir),
            seconds: started.elapsed().as_secs_f64(),
        }))
    }

    /// The CNN to evaluate: the shipped checkpoint ([`Course::shipped_cnn`]) in either mode,
    /// since loading it takes a second. Without one (it is shipped in data/models/fer-cnn, or
    /// `fer train cnn --out data/models/fer-cnn` trains it in hours), a short model
    /// ([`Course::short_cnn_config`]) is trained so the notebook still runs: its numbers are far
    /// below the real model's, and [`CnnRun::summary`] says it was trained now.
    pub fn cnn(&self, observer: &mut dyn TrainObserver) -> Result<CnnRun> {
        match self.shipped_cnn()? {
            Some(run) => Ok(run),
            None => self.train_cnn(&self.short_cnn_config(), observer),
        }
    }

    /// The CNN of the training notebook: in quick mode a short model trained now, so the
    /// notebook shows training at work; in full mode [`Course::cnn`] (the shipped checkpoint,
    /// whose history shows the real run).
    pub fn train_or_load_cnn(&self, observer: &mut dyn TrainObserver) -> Result<CnnRun> {
        match self.mode {
            Mode::Quick => self.train_cnn(&self.short_cnn_config(), observer),
            Mode::Full => self.cnn(observer),
        }
    }
}

/// The saved baseline's file name: a hash of the parameters and the training faces and labels,
/// so a change of either is a new file, never a stale model.
fn saved_baseline_name(
    kind: FeatureKind,
    params: &BaselineParams,
    train: &data::Dataset,
) -> String {
    let mut hasher = blake3::Hasher::new();
    // Parameters serialise to JSON without fail (plain numbers and enums).
    hasher.update(serde_json::to_string(params).unwrap_or_default().as_bytes());
    hasher.update(train.pixels());
    for label in train.labels() {
        hasher.update(&[label.index() as u8]);
    }
    format!(
        "{}-{}.json",
        kind.name(),
        &hasher.finalize().to_hex().as_str()[..32]
    )
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
            kaggle_test: test,
            skipped_files: 0,
            cache_warning: None,
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
            crate::quick::QUICK_BASELINE_ITERATIONS
        );
    }

    /// The second notebook loads the first one's fit; a corrupt file is fitted again.
    #[test]
    fn the_baseline_is_fitted_once_and_reused() {
        let course = Course::from_data(fer(2), PathBuf::from("x"), Mode::Full).unwrap();
        let cache = tempfile::tempdir().unwrap();
        let run = |c: &Course| {
            c.baseline_saved_in(FeatureKind::Raw, Some(Cache::new(cache.path())))
                .unwrap()
        };
        let first = run(&course);
        assert!(first.fitted_now, "{}", first.summary());
        let second = run(&course);
        assert!(!second.fitted_now, "{}", second.summary());
        assert_eq!(first.model, second.model);
        assert_eq!(first.saved, second.saved);
        let saved = first.saved.unwrap();
        std::fs::write(&saved, b"{").unwrap();
        assert!(run(&course).fitted_now);
        assert!(!run(&course).fitted_now);
        // Other training faces: another file, fitted now.
        let mut other = course.clone();
        other.splits.train = other
            .splits
            .train
            .select(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        let third = run(&other);
        assert!(third.fitted_now);
        assert_ne!(third.saved.unwrap(), saved);
    }

    #[test]
    fn a_missing_split_is_refused_by_name() {
        let mut data = fer(2);
        data.kaggle_test = data.kaggle_test.with_usage(Usage::PrivateTest);
        let err = Course::from_data(data, PathBuf::from("x"), Mode::Full).unwrap_err();
        assert!(err.to_string().contains("PublicTest"), "{err}");
    }
}
