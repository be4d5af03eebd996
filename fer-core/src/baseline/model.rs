//! The fitted baseline: a feature pipeline and linfa's multinomial logistic regression.

use linfa::traits::Fit;
use linfa::DatasetBase;
use linfa_logistic::MultiLogisticRegression;
use ndarray::{Array1, Array2, Axis};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::cache::FeatureCache;
use super::hyperparams::{BaselineParams, BaselineValidParams, ClassBalance};
use super::pipeline::FittedFeatures;
use crate::classifier::EmotionClassifier;
use crate::data::balance::Smote;
use crate::data::{Dataset, Face};
use crate::emotion::Emotion;
use crate::error::{FerError, Result};

/// A fitted logistic-regression baseline.
///
/// ```
/// use fer_core::baseline::{BaselineParams, FeatureKind};
/// use fer_core::{Dataset, Emotion, EmotionClassifier, Origin, Usage, IMAGE_PIXELS};
///
/// // Seven faces per emotion; each emotion brightens its own band of rows.
/// let mut train = Dataset::new();
/// for i in 0..49 {
///     let emotion = Emotion::ALL[i % 7];
///     let face = std::array::from_fn::<u8, IMAGE_PIXELS, _>(|p| {
///         let band = p / 48 / 6 == emotion.index();
///         if band { 200 } else { 40 + (p * 7 + i * 13) as u8 % 40 }
///     });
///     train.push(&face, emotion, Usage::Training, Origin::CsvLine(i as u64 + 2));
/// }
/// let model = BaselineParams::new(FeatureKind::Raw).max_iterations(30).fit(&train)?;
/// let proba = model.predict_proba(train.faces())?; // 49 x 7, rows sum to 1
/// assert_eq!(proba.dim(), (49, 7));
/// assert_eq!(model.predict(train.faces())?, train.labels());
/// # Ok::<(), fer_core::FerError>(())
/// ```
///
/// The weights are kept as plain arrays rather than linfa's `MultiFittedLogisticRegression`,
/// which can be neither rebuilt from its parts nor serialised without linfa's `serde` feature;
/// prediction is one matrix product and a softmax.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineModel {
    pub(crate) params: BaselineValidParams,
    pub(crate) features: FittedFeatures,
    /// `feature_dim x 7`, row-major; column `c` scores [`Emotion::from_index`]`(c)`.
    pub(crate) weights: Vec<f32>,
    /// One bias per class.
    pub(crate) intercept: Vec<f32>,
}

impl BaselineParams {
    /// Checks the parameters, then fits on `train` (all of it; select the `Training` usage
    /// first if `train` holds more).
    pub fn fit(&self, train: &Dataset) -> Result<BaselineModel> {
        self.check()?.fit(train)
    }
}

impl BaselineValidParams {
    /// Fits the feature pipeline and the logistic regression on `train`.
    ///
    /// Errors: an empty training set, an emotion with no training face (the model could never
    /// predict it), and linfa's optimiser failing (its L-BFGS line search, linfa #334) as
    /// [`FerError::Fit`].
    pub fn fit(&self, train: &Dataset) -> Result<BaselineModel> {
        self.fit_cached(train, None)
    }

    /// [`BaselineValidParams::fit`], taking the training descriptors from `cache` when it holds
    /// them (and saving them there otherwise).
    pub fn fit_cached(
        &self,
        train: &Dataset,
        cache: Option<&FeatureCache>,
    ) -> Result<BaselineModel> {
        if train.is_empty() {
            return Err(FerError::EmptyDataset(
                "the baseline needs training faces".into(),
            ));
        }
        let counts = train.class_counts();
        let missing: Vec<&str> = Emotion::ALL
            .iter()
            .filter(|e| counts[e.index()] == 0)
            .map(|e| e.name())
            .collect();
        if !missing.is_empty() {
            return Err(FerError::EmptyDataset(format!(
                "no training faces for {}: every emotion needs at least one",
                missing.join(", ")
            )));
        }

        let (features, x) = FittedFeatures::fit(*self.features(), train, cache)?;
        let labels: Vec<usize> = train.labels().iter().map(|e| e.index()).collect();
        let (x, labels) = match self.balance() {
            ClassBalance::None => (x, labels),
            ClassBalance::Oversample => {
                let rows = oversampled_rows(&labels, self.seed());
                let x = x.select(Axis(0), &rows);
                let labels = rows.iter().map(|&r| labels[r]).collect();
                (x, labels)
            }
            ClassBalance::Smote => {
                let (x, emotions) = Smote::default().oversample(&x, train.labels(), self.seed())?;
                (x, emotions.iter().map(|e| e.index()).collect())
            }
        };

        // linfa is run in f64: in f32 its L-BFGS stalls on FER2013 (measured: every line search
        // on standardised raw pixels failed to lower the summed loss, and linfa silently
        // returned the all-zero initial weights).
        let dataset = DatasetBase::new(x.mapv(f64::from), Array1::from_vec(labels));
        drop(x);
        let fitted = MultiLogisticRegression::default()
            .with_intercept(true)
            .alpha(f64::from(self.alpha()))
            .max_iterations(self.max_iterations())
            .gradient_tolerance(f64::from(self.gradient_tolerance()))
            .fit(&dataset)
            .map_err(|e| {
                FerError::Fit(format!(
                    "linfa-logistic ({} features, alpha {}, {} iterations): {e}; a larger \
                     alpha or fewer iterations usually avoids L-BFGS line-search failures",
                    self.features().label(),
                    self.alpha(),
                    self.max_iterations()
                ))
            })?;
        // Every class is present (checked above), so linfa's sorted class list is 0..7 and its
        // columns are in label order.
        debug_assert_eq!(fitted.classes(), &[0, 1, 2, 3, 4, 5, 6]);
        // linfa returns its starting point (all zeros) when no L-BFGS step lowered the loss,
        // instead of an error; a model that predicts 1/7 everywhere is not a fit.
        if fitted
            .params()
            .iter()
            .chain(fitted.intercept())
            .all(|&w| w == 0.0)
        {
            return Err(FerError::Fit(format!(
                "linfa-logistic made no progress from its zero start ({} features, alpha {}): \
                 the line search never lowered the loss",
                self.features().label(),
                self.alpha()
            )));
        }
        Ok(BaselineModel {
            params: self.clone(),
            features,
            weights: fitted.params().iter().map(|&w| w as f32).collect(),
            intercept: fitted.intercept().iter().map(|&b| b as f32).collect(),
        })
    }
}

/// Row indices that give every class as many rows as the largest one: each class's rows once,
/// plus a seeded random draw (with replacement) of the shortfall. Written here because
/// `data::balance::WeightedSampler` draws whole epochs with replacement, which for a full-batch
/// fit would leave about a third of each class's faces out.
fn oversampled_rows(labels: &[usize], seed: u64) -> Vec<usize> {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); Emotion::COUNT];
    for (row, &label) in labels.iter().enumerate() {
        by_class[label].push(row);
    }
    let target = by_class.iter().map(Vec::len).max().unwrap_or(0);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows = Vec::with_capacity(target * Emotion::COUNT);
    for class_rows in &by_class {
        rows.extend_from_slice(class_rows);
        for _ in class_rows.len()..target {
            rows.push(*class_rows.choose(&mut rng).expect("every class has rows"));
        }
    }
    rows
}

impl BaselineModel {
    /// The hyper-parameters it was fitted with.
    pub fn params(&self) -> &BaselineValidParams {
        &self.params
    }

    /// The fitted feature pipeline.
    pub fn features(&self) -> &FittedFeatures {
        &self.features
    }

    /// Length of the feature vectors the regression takes.
    pub fn feature_dim(&self) -> usize {
        self.features.output_dim()
    }

    /// Class probabilities for already-extracted features (rows from [`FittedFeatures::transform`]).
    pub fn predict_proba_features(&self, x: &Array2<f32>) -> Result<Array2<f32>> {
        if x.ncols() != self.feature_dim() {
            return Err(FerError::ShapeMismatch(format!(
                "the baseline ({}) takes {} features per face, given {}",
                self.features.settings().label(),
                self.feature_dim(),
                x.ncols()
            )));
        }
        let weights =
            Array2::from_shape_vec((self.feature_dim(), Emotion::COUNT), self.weights.clone())
                .map_err(|e| FerError::ShapeMismatch(format!("baseline weights: {e}")))?;
        let mut logits = x.dot(&weights) + &Array1::from_vec(self.intercept.clone());
        for mut row in logits.rows_mut() {
            let max = row.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            row.mapv_inplace(|v| (v - max).exp());
            let sum = row.sum();
            row /= sum;
        }
        Ok(logits)
    }

    /// [`EmotionClassifier::predict_proba`], taking the descriptors from `cache` when it holds
    /// them.
    pub fn predict_proba_cached(
        &self,
        faces: &[Face],
        cache: Option<&FeatureCache>,
    ) -> Result<Array2<f32>> {
        let x = self.features.transform_cached(faces, cache)?;
        self.predict_proba_features(&x)
    }

    /// The most probable emotion of each face.
    pub fn predict(&self, faces: &[Face]) -> Result<Vec<Emotion>> {
        let proba = self.predict_proba(faces)?;
        Ok(proba
            .rows()
            .into_iter()
            .map(|row| {
                let best = row
                    .iter()
                    .enumerate()
                    .fold((0, f32::NEG_INFINITY), |best, (i, &p)| {
                        if p > best.1 {
                            (i, p)
                        } else {
                            best
                        }
                    })
                    .0;
                Emotion::from_index(best).expect("7 columns, one per emotion")
            })
            .collect())
    }
}

impl EmotionClassifier for BaselineModel {
    fn name(&self) -> String {
        format!("logistic ({})", self.features.settings().label())
    }

    fn predict_proba(&self, faces: &[Face]) -> Result<Array2<f32>> {
        let x = self.features.transform(faces)?;
        self.predict_proba_features(&x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::test_faces::banded_faces;
    use crate::baseline::FeatureKind;

    #[test]
    fn learns_separable_faces_and_gives_probabilities() {
        let train = banded_faces(12, 1);
        let test = banded_faces(5, 2);
        for kind in [FeatureKind::Raw, FeatureKind::Hog] {
            let model = BaselineParams::new(kind)
                .max_iterations(50)
                .fit(&train)
                .unwrap();
            let proba = model.predict_proba(test.faces()).unwrap();
            assert_eq!(proba.dim(), (test.len(), 7));
            for row in proba.rows() {
                assert!((row.sum() - 1.0).abs() < 1e-4, "{row}");
            }
            let predicted = model.predict(test.faces()).unwrap();
            let correct = predicted
                .iter()
                .zip(test.labels())
                .filter(|(p, l)| p == l)
                .count();
            // Bands 6 pixels high and 120 grey levels apart: a linear model separates them all;
            // allow one miss in 35 for HOG, whose cells straddle band edges.
            assert!(
                correct >= test.len() - 1,
                "{kind}: {correct}/{}",
                test.len()
            );
        }
    }

    #[test]
    fn a_class_without_faces_is_an_error_naming_it() {
        let train = banded_faces(3, 1);
        let keep: Vec<usize> = (0..train.len())
            .filter(|&i| train.labels()[i] != Emotion::Disgust)
            .collect();
        let err = BaselineParams::new(FeatureKind::Raw)
            .fit(&train.select(&keep))
            .unwrap_err();
        assert!(err.to_string().contains("disgust"), "{err}");
        assert!(BaselineParams::new(FeatureKind::Raw)
            .fit(&Dataset::new())
            .is_err());
    }

    #[test]
    fn balanced_fits_learn_an_imbalanced_set_with_a_rare_class() {
        // 12 faces per class except disgust with 3: both balancing methods must still fit a
        // model that recognises the rare class on fresh faces.
        let all = banded_faces(12, 4);
        let mut disgust_seen = 0;
        let keep: Vec<usize> = (0..all.len())
            .filter(|&i| {
                let rare = all.labels()[i] == Emotion::Disgust;
                disgust_seen += usize::from(rare);
                !rare || disgust_seen <= 3
            })
            .collect();
        let train = all.select(&keep);
        assert_eq!(train.class_counts()[Emotion::Disgust.index()], 3);
        let test = banded_faces(4, 5);
        for balance in [ClassBalance::Oversample, ClassBalance::Smote] {
            let model = BaselineParams::new(FeatureKind::Raw)
                .balance(balance)
                .max_iterations(30)
                .fit(&train)
                .unwrap();
            let predicted = model.predict(test.faces()).unwrap();
            let disgust_hits = predicted
                .iter()
                .zip(test.labels())
                .filter(|(p, t)| **t == Emotion::Disgust && p == t)
                .count();
            assert_eq!(disgust_hits, 4, "{balance:?}");
        }
    }

    #[test]
    fn oversampling_equalises_classes_reproducibly() {
        let labels = [0, 0, 0, 0, 1, 2, 2, 3, 4, 5, 6];
        let rows = oversampled_rows(&labels, 3);
        let mut counts = [0; 7];
        for &r in &rows {
            counts[labels[r]] += 1;
        }
        assert_eq!(counts, [4; 7]);
        assert_eq!(rows, oversampled_rows(&labels, 3));
    }

    #[test]
    fn wrong_feature_width_is_a_shape_error() {
        let model = BaselineParams::new(FeatureKind::Raw)
            .max_iterations(5)
            .fit(&banded_faces(2, 1))
            .unwrap();
        let err = model
            .predict_proba_features(&Array2::zeros((1, 100)))
            .unwrap_err();
        assert!(matches!(err, FerError::ShapeMismatch(_)), "{err}");
        assert!(err.to_string().contains("2304"), "{err}");
    }
}
