//! The small experiments of the notebooks: CNN class balancing, baseline oversampling and a
//! learning curve. Each is scored on PublicTest (the validation split): they compare choices,
//! and choices are never made on the split that is reported.

use std::time::Instant;

use crate::baseline::{ClassBalance, FeatureKind};
use crate::cnn::{TrainConfig, TrainObserver};
use crate::course::course::{Course, COURSE_SEED};
use crate::course::mode::Mode;
use crate::course::scored::{percent, Scored};
use crate::course::table::Table;
use crate::data::stratified_subset;
use crate::error::Result;

/// Share of Training the full-mode CNN balancing experiment trains on (three short runs on
/// all of it would take an hour on two cores).
pub const FULL_BALANCING_FRACTION: f64 = 0.2;

/// Training-set fractions of the learning curve.
pub const LEARNING_CURVE_FRACTIONS: [f64; 4] = [0.1, 0.25, 0.5, 1.0];

/// Accuracy of a model fitted on a given number of training faces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePoint {
    /// Training faces.
    pub train_faces: usize,
    /// Accuracy on the validation split.
    pub accuracy: f64,
    /// Macro-averaged F1 on the validation split.
    pub macro_f1: f64,
    /// Seconds to fit.
    pub seconds: f64,
}

/// A learning curve of one model.
#[derive(Debug, Clone, PartialEq)]
pub struct LearningCurve {
    /// The model's name.
    pub model: String,
    /// One point per training-set size, smallest first.
    pub points: Vec<CurvePoint>,
}

impl LearningCurve {
    /// The points as a table.
    pub fn table(&self) -> Table {
        let mut table = Table::new([
            "training faces",
            "validation accuracy",
            "macro F1",
            "fit seconds",
        ]);
        for p in &self.points {
            table.row([
                p.train_faces.to_string(),
                percent(p.accuracy),
                format!("{:.3}", p.macro_f1),
                format!("{:.1}", p.seconds),
            ]);
        }
        table
    }

    /// The curve as a figure (a plotly chart with a static PNG copy).
    pub fn plot(&self) -> crate::plot::Figure {
        let points: Vec<(usize, f64)> = self
            .points
            .iter()
            .map(|p| (p.train_faces, p.accuracy))
            .collect();
        crate::plot::learning_curve(&self.model, &[("validation (PublicTest)", &points)])
    }
}

impl Course {
    /// Three short CNN runs that differ only in how they treat the class imbalance: none,
    /// loss weighted by inverse class frequency, and class-balanced batches (oversampling),
    /// each scored on PublicTest. Quick mode trains one epoch on its subset; full mode
    /// [`crate::quick::QUICK_EPOCHS`] on a stratified [`FULL_BALANCING_FRACTION`] of
    /// Training. `observer` hears of every run's epochs.
    pub fn cnn_balancing_experiment(
        &self,
        observer: &mut dyn TrainObserver,
    ) -> Result<Vec<Scored>> {
        let train = match self.mode {
            Mode::Quick => self.splits.train.clone(),
            Mode::Full => stratified_subset(
                &self.splits.train,
                FULL_BALANCING_FRACTION,
                crate::quick::QUICK_MIN_PER_GROUP,
                COURSE_SEED,
            )?,
        };
        let base = TrainConfig {
            // One epoch in quick mode: three runs must fit the test command's time budget.
            epochs: if self.mode.is_quick() {
                1
            } else {
                crate::quick::QUICK_EPOCHS
            },
            ..self.short_cnn_config()
        };
        let runs: [(&str, TrainConfig); 3] = [
            ("no balancing", base),
            (
                "class-weighted loss",
                TrainConfig {
                    class_weighted: true,
                    ..base
                },
            ),
            (
                "balanced batches",
                TrainConfig {
                    balanced_sampler: true,
                    ..base
                },
            ),
        ];
        let mut scored = Vec::with_capacity(runs.len());
        for (name, config) in runs {
            let outcome = crate::cnn::train(
                &train,
                &self.splits.validation,
                &config,
                &crate::cnn::CheckpointOptions::default(),
                &mut *observer,
            )?;
            scored.push(Scored::new(name, &outcome.best, &self.splits.validation)?);
        }
        Ok(scored)
    }

    /// The `kind` baseline as [`Course::baseline`] gives it (no balancing), then fitted with
    /// the rare classes oversampled by copies and by SMOTE, each scored on PublicTest.
    pub fn baseline_balancing_experiment(&self, kind: FeatureKind) -> Result<Vec<Scored>> {
        let unbalanced = self.baseline(kind)?.model;
        let mut scored = vec![Scored::new(
            "no balancing",
            &unbalanced,
            &self.splits.validation,
        )?];
        for (name, balance) in [
            ("oversampled (copies)", ClassBalance::Oversample),
            ("SMOTE", ClassBalance::Smote),
        ] {
            let model = self
                .baseline_params(kind)
                .balance(balance)
                .fit(&self.splits.train)?;
            scored.push(Scored::new(name, &model, &self.splits.validation)?);
        }
        Ok(scored)
    }

    /// The `kind` baseline fitted on stratified fractions ([`LEARNING_CURVE_FRACTIONS`]) of
    /// Training, each scored on PublicTest.
    pub fn baseline_learning_curve(&self, kind: FeatureKind) -> Result<LearningCurve> {
        let mut points = Vec::new();
        for fraction in LEARNING_CURVE_FRACTIONS {
            let train = if fraction < 1.0 {
                stratified_subset(
                    &self.splits.train,
                    fraction,
                    crate::quick::QUICK_MIN_PER_GROUP,
                    COURSE_SEED,
                )?
            } else {
                self.splits.train.clone()
            };
            let started = Instant::now();
            let model = self.baseline_params(kind).fit(&train)?;
            let seconds = started.elapsed().as_secs_f64();
            let scored = Scored::new(kind.name(), &model, &self.splits.validation)?;
            points.push(CurvePoint {
                train_faces: train.len(),
                accuracy: scored.evaluation.accuracy,
                macro_f1: scored.evaluation.report.macro_avg().f1,
                seconds,
            });
        }
        Ok(LearningCurve {
            model: format!("logistic regression ({kind})"),
            points,
        })
    }
}
