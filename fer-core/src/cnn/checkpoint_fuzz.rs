//! Fuzzing a checkpoint folder's files: `config.json`, `normalization.json`, `history.json`,
//! `train_config.json` and `model.safetensors`, random or mutated, load or give an error,
//! never a panic. Bound: 64 MiB (a model's weights, built before its file is read) + 64 bytes
//! per input byte.

use super::checkpoint::{load_checkpoint, load_history, save_checkpoint};
use super::config::{Arch, ModelConfig};
use super::model::CnnModel;
use super::train_config::TrainConfig;
use crate::data::PixelStats;
use crate::fuzz::harness::{fuzz, inputs, Outcome};

#[test]
fn random_and_mutated_checkpoint_files_load_or_give_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let stats = PixelStats {
        mean: vec![120.0; crate::data::IMAGE_PIXELS],
        std: vec![60.0; crate::data::IMAGE_PIXELS],
        count: 10,
    };
    let model = CnnModel::new(ModelConfig::new(Arch::Best), stats, &Default::default()).unwrap();
    save_checkpoint(dir.path(), &model, &[]).unwrap();
    let train_config = dir.path().join("train_config.json");
    crate::fs::write_json_atomically(&train_config, &TrainConfig::new(Arch::Best)).unwrap();
    let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
    let history = br#"[{"epoch":1,"train_loss":1.5,"train_accuracy":0.25,"val_loss":1.7,"val_accuracy":0.3,"learning_rate":0.001,"seconds":2.0,"images_per_s":50.0}]"#.to_vec();
    for (name, seed, cases) in [
        ("config.json", read("config.json"), 400),
        ("normalization.json", read("normalization.json"), 400),
        ("history.json", history, 400),
        ("train_config.json", read("train_config.json"), 400),
    ] {
        let path = dir.path().join(name);
        let original = std::fs::read(&path).ok();
        fuzz(name, cases, inputs(vec![seed], 256), 1 << 20, 64, |bytes| {
            std::fs::write(&path, bytes).map_err(|e| e.to_string())?;
            Ok(match name {
                "config.json" => Outcome::of(&ModelConfig::load(&path)),
                "normalization.json" => Outcome::of(&PixelStats::load(&path)),
                "history.json" => Outcome::of(&load_history(dir.path())),
                _ => Outcome::of(
                    &crate::fs::read_json::<TrainConfig>(&path).and_then(|config| config.check()),
                ),
            })
        });
        if let Some(original) = original {
            std::fs::write(&path, original).unwrap();
        }
    }
    // The weights: the header and the start of the data, mutated (a model is built per case).
    let weights = dir.path().join("model.safetensors");
    let valid = read("model.safetensors");
    fuzz(
        "model.safetensors",
        40,
        inputs(vec![valid], 64),
        64 << 20,
        64,
        |bytes| {
            std::fs::write(&weights, bytes).map_err(|e| e.to_string())?;
            Ok(Outcome::of(&load_checkpoint(dir.path())))
        },
    );
}
