//! Fuzzing the baseline's saved `model.json`: random and mutated files load or give an error,
//! never a panic. Bound: 1 MiB + 64 bytes per input byte held at once (serde_json's `Value`
//! of the file, then the model).

use super::test_faces::banded_faces;
use super::{BaselineModel, BaselineParams, FeatureKind, HogSettings};
use crate::fuzz::harness::{fuzz, inputs, Outcome};

#[test]
fn random_and_mutated_model_files_load_or_give_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    // Coarse HOG (one block of 2x2 cells of 24 pixels: 36 features), with and without PCA, so
    // that a seed is a few kilobytes and mutations often hit its structure.
    let hog = HogSettings {
        cell_side: 24,
        block_side: 2,
        block_stride: 1,
        ..HogSettings::default()
    };
    let mut seeds = Vec::new();
    for pca in [None, Some(3)] {
        BaselineParams::new(FeatureKind::Hog)
            .hog(hog)
            .pca(pca)
            .max_iterations(5)
            .fit(&banded_faces(3, 1))
            .unwrap()
            .save(&path)
            .unwrap();
        BaselineModel::load(&path).unwrap();
        seeds.push(std::fs::read(&path).unwrap());
    }
    fuzz(
        "model.json",
        300,
        inputs(seeds, 256),
        1 << 20,
        64,
        |bytes| {
            std::fs::write(&path, bytes).map_err(|e| e.to_string())?;
            match BaselineModel::load(&path) {
                Ok(_) => Ok(Outcome::Value),
                Err(e) if e.to_string().contains("model.json") => Ok(Outcome::Error),
                Err(e) => Err(format!("an error that does not name the file: {e}")),
            }
        },
    );
}
