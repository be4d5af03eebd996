//! Saving and loading a fitted baseline: one JSON file holding the hyper-parameters, the feature
//! settings, the normalisation (and PCA) and the weights, written atomically.
//!
//! JSON rather than a binary format: the largest model (raw pixels, no PCA) is 2,304 x 7 weights
//! plus 2 x 2,304 normalisation values, well under a megabyte, and a learner can open the file.
//! f32 values round-trip exactly through serde_json's shortest representation.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::model::BaselineModel;
use crate::emotion::Emotion;
use crate::error::{FerError, Result};
use crate::fs::write_json_atomically;

/// The `format` field of a baseline model file.
pub const MODEL_FORMAT: &str = "fer-baseline-logistic";
/// The file layout this build writes and reads; bumped whenever a field changes meaning.
pub const MODEL_FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct SavedModelRef<'a> {
    format: &'static str,
    format_version: u32,
    fer_core_version: &'static str,
    model: &'a BaselineModel,
}

#[derive(Deserialize)]
struct SavedModel {
    model: BaselineModel,
}

impl BaselineModel {
    /// Writes the model to `path` (JSON, atomically: an existing file is replaced only once the
    /// new one is complete).
    pub fn save(&self, path: &Path) -> Result<()> {
        write_json_atomically(
            path,
            &SavedModelRef {
                format: MODEL_FORMAT,
                format_version: MODEL_FORMAT_VERSION,
                fer_core_version: env!("CARGO_PKG_VERSION"),
                model: self,
            },
        )
    }

    /// Reads a model written by [`BaselineModel::save`].
    ///
    /// Errors, each naming the file: unreadable, not JSON, not a baseline model, another format
    /// version, missing or malformed fields, and parts whose dimensions do not fit together
    /// (weights for another feature dimension than the settings and normalisation produce).
    pub fn load(path: &Path) -> Result<BaselineModel> {
        let bytes = std::fs::read(path).map_err(|e| FerError::io(path, e))?;
        let bad = |message: String| FerError::Model {
            path: path.to_path_buf(),
            message,
        };
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("not a readable model file (corrupt JSON: {e})")))?;
        match value.get("format").and_then(|f| f.as_str()) {
            Some(MODEL_FORMAT) => {}
            Some(other) => {
                return Err(bad(format!(
                    "a {other:?} file, not a baseline model ({MODEL_FORMAT:?})"
                )))
            }
            None => {
                return Err(bad(format!(
                    "not a baseline model: no \"format\": {MODEL_FORMAT:?} field"
                )))
            }
        }
        match value.get("format_version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(MODEL_FORMAT_VERSION) => {}
            Some(v) => {
                return Err(bad(format!(
                    "model format version {v}, but this build of fer reads version \
                     {MODEL_FORMAT_VERSION}: refit the model with this version"
                )))
            }
            None => return Err(bad("no \"format_version\" field".into())),
        }
        let saved: SavedModel = serde_json::from_value(value)
            .map_err(|e| bad(format!("corrupt baseline model: {e}")))?;
        saved.model.validate().map_err(bad)?;
        Ok(saved.model)
    }

    /// Checks that a deserialised model's parts fit together and hold finite numbers.
    fn validate(&self) -> std::result::Result<(), String> {
        self.params
            .revalidate()
            .map_err(|e| format!("bad hyper-parameters: {e}"))?;
        if self.params.features() != self.features.settings() {
            return Err(
                "the feature settings of the hyper-parameters and the pipeline differ".into(),
            );
        }
        self.features.validate()?;
        let dim = self.features.output_dim();
        if self.weights.len() != dim * Emotion::COUNT {
            return Err(format!(
                "feature dimension mismatch: the pipeline gives {dim} features, so {} weights \
                 are needed ({dim} x {}), but the file holds {}",
                dim * Emotion::COUNT,
                Emotion::COUNT,
                self.weights.len()
            ));
        }
        if self.intercept.len() != Emotion::COUNT {
            return Err(format!(
                "{} intercepts, expected one per emotion ({})",
                self.intercept.len(),
                Emotion::COUNT
            ));
        }
        if self
            .weights
            .iter()
            .chain(&self.intercept)
            .any(|w| !w.is_finite())
        {
            return Err("the weights hold a non-finite value".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::test_faces::banded_faces;
    use crate::baseline::{BaselineParams, FeatureKind};
    use crate::EmotionClassifier;

    fn small_model(kind: FeatureKind, pca: Option<usize>) -> BaselineModel {
        BaselineParams::new(kind)
            .pca(pca)
            .max_iterations(20)
            .fit(&banded_faces(6, 1))
            .unwrap()
    }

    /// Saves `model`, lets `edit` change the JSON, writes it back and loads it.
    fn load_edited(
        model: &BaselineModel,
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> Result<BaselineModel> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.json");
        model.save(&path).unwrap();
        let mut json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        edit(&mut json);
        std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
        BaselineModel::load(&path)
    }

    #[test]
    fn a_saved_model_loads_back_identical_and_predicts_the_same() {
        let faces = banded_faces(2, 9);
        for (kind, pca) in [(FeatureKind::Raw, None), (FeatureKind::Hog, Some(10))] {
            let model = small_model(kind, pca);
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("sub/model.json");
            model.save(&path).unwrap();
            let loaded = BaselineModel::load(&path).unwrap();
            assert_eq!(loaded, model);
            assert_eq!(
                loaded.predict_proba(faces.faces()).unwrap(),
                model.predict_proba(faces.faces()).unwrap()
            );
        }
    }

    #[test]
    fn another_version_or_format_is_a_model_error_saying_so() {
        let model = small_model(FeatureKind::Raw, None);
        let err = load_edited(&model, |j| j["format_version"] = 2.into()).unwrap_err();
        assert!(matches!(err, FerError::Model { .. }), "{err}");
        assert!(err.to_string().contains("format version 2"), "{err}");
        let err = load_edited(&model, |j| j["format"] = "fer-cnn".into()).unwrap_err();
        assert!(err.to_string().contains("not a baseline model"), "{err}");
    }

    #[test]
    fn a_feature_dimension_mismatch_is_caught_on_load() {
        let model = small_model(FeatureKind::Raw, None);
        // Weights for 100 features while raw pixels give 2,304.
        let err = load_edited(&model, |j| {
            let w = j["model"]["weights"].as_array_mut().unwrap();
            w.truncate(100 * 7);
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("feature dimension mismatch"),
            "{err}"
        );
        assert!(err.to_string().contains("model.json"), "{err}");
        // HOG settings whose descriptor no longer matches the stored normalisation.
        let hog = small_model(FeatureKind::Hog, None);
        let err = load_edited(&hog, |j| {
            j["model"]["features"]["settings"]["hog"]["cell_side"] = 8.into();
            j["model"]["params"]["features"]["hog"]["cell_side"] = 8.into();
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("feature dimension mismatch"),
            "{err}"
        );
    }

    #[test]
    fn corrupt_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.json");
        small_model(FeatureKind::Raw, None).save(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let err = BaselineModel::load(&path).unwrap_err();
        assert!(err.to_string().contains("corrupt JSON"), "{err}");
        assert!(err.to_string().contains("model.json"), "{err}");

        let model = small_model(FeatureKind::Raw, None);
        let err = load_edited(&model, |j| j["model"]["intercept"] = "x".into()).unwrap_err();
        assert!(err.to_string().contains("corrupt baseline model"), "{err}");
        let err =
            load_edited(&model, |j| j["model"]["params"]["alpha"] = (-1.0).into()).unwrap_err();
        assert!(err.to_string().contains("alpha"), "{err}");
        let missing = BaselineModel::load(&dir.path().join("absent.json")).unwrap_err();
        assert!(matches!(missing, FerError::Io { .. }), "{missing}");
    }
}
