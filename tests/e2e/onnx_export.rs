//! `fer export` and `fer_core::export`: the exported ONNX file, run by tract (an engine
//! independent of fer's own kernels), gives fer's probabilities on real faces of each split, for
//! both networks trained and untrained; bad input gets clear errors and leaves nothing behind.
//! (ONNX Runtime checks the shipped model's export on all of PrivateTest: tests/onnx_check.sh.)

use std::path::{Path, PathBuf};

use dfdx::tensor::{Cpu, TensorFrom};
use fer_core::cnn::{load_checkpoint, Arch, CnnModel, ModelConfig, Network};
use fer_core::data::{self, PixelStats};
use fer_core::export::{
    write_onnx, ExportMetadata, EMOTIONS_KEY, IR_VERSION, OPSET_VERSION, PRIVATE_TEST_ACCURACY_KEY,
};
use fer_core::{Dataset, Emotion, Usage, IMAGE_PIXELS};
use prost::Message;
use serde_json::Value;
use tract_onnx::pb::ModelProto;
use tract_onnx::prelude::*;

use crate::common::{assert_fails_with, entries, fer, json_of, path_str, stderr};
use crate::data_full::fer2013_dir;

/// The shipped model folder, from the repository's top.
fn shipped_model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/models/fer-cnn")
}

/// Faces compared per split (the figure).
const FACES_PER_SPLIT: usize = 200;

/// 200 faces spread evenly over each split (the folders are read class by class, so the first
/// 200 would all be angry), in the order Training, PublicTest, PrivateTest.
fn faces_of_each_split() -> Vec<(Usage, Dataset)> {
    let loaded = data::load_uncached(&fer2013_dir()).expect("FER2013 loads");
    let mut all = loaded.train.clone();
    all.extend(loaded.kaggle_test.clone());
    [Usage::Training, Usage::PublicTest, Usage::PrivateTest]
        .into_iter()
        .map(|usage| {
            let split = all.with_usage(usage);
            let step = split.len() / FACES_PER_SPLIT;
            let picked: Vec<usize> = (0..FACES_PER_SPLIT).map(|i| i * step).collect();
            (usage, split.select(&picked))
        })
        .collect()
}

/// fer's own inference: probabilities and logits (`[n * 7]` each) of `faces`, standardised with
/// the model's statistics. Every call into `CnnModel` of this file goes through here.
fn fer_outputs(model: &CnnModel, faces: &Dataset) -> (Vec<f32>, Vec<f32>) {
    let mut x = vec![0.0f32; faces.len() * IMAGE_PIXELS];
    for (i, row) in x.chunks_exact_mut(IMAGE_PIXELS).enumerate() {
        model.stats.standardize(faces.face(i), row);
    }
    let device = Cpu::default();
    let probabilities = model.probabilities(&device, x.clone()).unwrap();
    let logits = model.logits(&device, x).unwrap();
    (probabilities, logits)
}

/// tract's probabilities and logits of `faces` (grey levels 0-255) from the ONNX file at `path`,
/// loaded as a consumer would: the batch dimension left free.
fn tract_outputs(path: &Path, faces: &Dataset) -> (Vec<f32>, Vec<f32>) {
    let model = tract_onnx::onnx()
        .model_for_path(path)
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let pixels: Vec<f32> = faces.pixels().iter().map(|&p| f32::from(p)).collect();
    let input = tract_ndarray::Array4::from_shape_vec((faces.len(), 1, 48, 48), pixels).unwrap();
    let outputs = model.run(tvec!(Tensor::from(input).into())).unwrap();
    let flat = |t: &TValue| t.as_slice::<f32>().unwrap().to_vec();
    (flat(&outputs[0]), flat(&outputs[1]))
}

fn argmax(row: &[f32]) -> usize {
    (0..row.len())
        .max_by(|&a, &b| row[a].total_cmp(&row[b]))
        .unwrap()
}

/// Exports `model`, runs each split's faces through tract and fer, and checks the issue's
/// bounds: probabilities within 1e-5 and the same argmax on every face. Returns the largest
/// probability difference.
fn assert_tract_agrees(name: &str, model: &CnnModel, splits: &[(Usage, Dataset)]) -> f32 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{name}.onnx"));
    let meta = ExportMetadata {
        private_test_accuracy: None,
    };
    write_onnx(model, &meta, &path).unwrap();
    let mut worst = 0.0f32;
    for (usage, faces) in splits {
        let (fer_p, fer_logits) = fer_outputs(model, faces);
        let (tract_p, tract_logits) = tract_outputs(&path, faces);
        assert_eq!(tract_p.len(), faces.len() * Emotion::COUNT);
        let diff = |a: &[f32], b: &[f32]| {
            a.iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max)
        };
        let p_diff = diff(&fer_p, &tract_p);
        assert!(
            p_diff <= 1e-5,
            "{name}, {usage:?}: probabilities differ by {p_diff}"
        );
        // Logits are unbounded; relative to their scale, as loose as the probabilities.
        let scale = fer_logits.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let l_diff = diff(&fer_logits, &tract_logits);
        assert!(
            l_diff <= 1e-5 * scale,
            "{name}, {usage:?}: logits differ by {l_diff}"
        );
        for (i, (a, b)) in fer_p
            .chunks_exact(Emotion::COUNT)
            .zip(tract_p.chunks_exact(Emotion::COUNT))
            .enumerate()
        {
            assert_eq!(
                argmax(a),
                argmax(b),
                "{name}, {usage:?}, face {i}: {a:?} vs {b:?}"
            );
        }
        worst = worst.max(p_diff);
    }
    eprintln!("{name}: largest probability difference fer vs tract {worst:e}");
    worst
}

/// An untrained model of `arch` seeded with 0, with the shipped model's pixel statistics.
fn untrained(arch: Arch, stats: &PixelStats) -> CnnModel {
    CnnModel::new(
        ModelConfig::new(arch),
        stats.clone(),
        &Cpu::seed_from_u64(0),
    )
    .unwrap()
}

/// Gives every batch norm of the seed random running statistics, scale and shift, so the
/// comparison would see mean and variance swapped, or the norm put before the ReLU: an
/// untrained model's norms are the identity (mean 0, variance 1, scale 1, shift 0).
fn perturb_seed_norms(model: &mut CnnModel) {
    let Network::Seed(m) = model.network_mut() else {
        panic!("a seed model");
    };
    let dev = Cpu::seed_from_u64(1);
    macro_rules! perturb {
        ($norm:expr) => {{
            let n = $norm.scale.as_vec().len();
            let u = |lo: f32, hi: f32, k: usize| -> Vec<f32> {
                (0..n)
                    .map(|i| lo + (hi - lo) * (((i * 7919 + k * 104_729) % 1000) as f32 / 1000.0))
                    .collect()
            };
            $norm.scale = dev.tensor(u(0.5, 1.5, 1));
            $norm.bias = dev.tensor(u(-0.3, 0.3, 2));
            $norm.running_mean = dev.tensor(u(0.0, 0.2, 3));
            $norm.running_var = dev.tensor(u(0.05, 0.5, 4));
        }};
    }
    perturb!(m.blocks.0.norm);
    perturb!(m.blocks.1.norm);
    perturb!(m.blocks.2.norm);
    perturb!(m.blocks.3.norm);
    perturb!(m.dense1.norm);
    perturb!(m.dense2.norm);
}

#[test]
fn tract_runs_exports_of_both_networks_as_fer_does() {
    let splits = faces_of_each_split();
    let shipped = load_checkpoint(&shipped_model()).unwrap();
    assert_eq!(shipped.config.arch, Arch::Best);
    assert_tract_agrees("shipped-best", &shipped, &splits);
    assert_tract_agrees(
        "untrained-best",
        &untrained(Arch::Best, &shipped.stats),
        &splits,
    );
    assert_tract_agrees(
        "untrained-seed",
        &untrained(Arch::Seed, &shipped.stats),
        &splits,
    );
    let mut seed = untrained(Arch::Seed, &shipped.stats);
    perturb_seed_norms(&mut seed);
    assert_tract_agrees("seed-with-statistics", &seed, &splits);
}

#[test]
fn fer_export_writes_a_documented_file_and_refuses_bad_paths() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fer-cnn.onnx");
    let model = shipped_model();
    let run = fer(
        cache.path(),
        &[
            "export",
            "--model",
            path_str(&model),
            "--onnx",
            path_str(&out),
            "--json",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let report = json_of(&run);
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(report["bytes"], bytes.len());
    assert_eq!(report["arch"], "best");

    let proto = ModelProto::decode(bytes.as_slice()).unwrap();
    assert_eq!(proto.ir_version, IR_VERSION);
    assert_eq!(proto.opset_import[0].version, OPSET_VERSION);
    let graph = proto.graph.as_ref().unwrap();
    let names = |v: &[tract_onnx::pb::ValueInfoProto]| -> Vec<String> {
        v.iter().map(|i| i.name.clone()).collect()
    };
    assert_eq!(names(&graph.input), ["pixels"]);
    assert_eq!(names(&graph.output), ["probabilities", "logits"]);
    let meta = |key: &str| {
        proto
            .metadata_props
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.value.clone())
    };
    let labels: Vec<String> = serde_json::from_str(&meta(EMOTIONS_KEY).unwrap()).unwrap();
    let expected: Vec<&str> = Emotion::ALL.iter().map(|e| e.name()).collect();
    assert_eq!(labels, expected);
    // The accuracy `fer train cnn` recorded in the shipped metrics.json (69.69%).
    let metrics: Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("metrics.json")).unwrap())
            .unwrap();
    let recorded = metrics["summary"]["private_test_accuracy"]
        .as_f64()
        .unwrap();
    let exported: f64 = meta(PRIVATE_TEST_ACCURACY_KEY).unwrap().parse().unwrap();
    assert_eq!(exported, recorded);

    // A folder that is not a checkpoint: the error `fer predict` gives for it.
    let face = dir.path().join("face.png");
    image::GrayImage::new(48, 48).save(&face).unwrap();
    let not_a_model = dir.path().join("not-a-model");
    std::fs::create_dir(&not_a_model).unwrap();
    let predicted = fer(
        cache.path(),
        &[
            "predict",
            "--model",
            path_str(&not_a_model),
            path_str(&face),
        ],
    );
    assert_fails_with(&predicted, &["not a checkpoint folder", "not-a-model"]);
    let second = dir.path().join("second.onnx");
    let exported = fer(
        cache.path(),
        &[
            "export",
            "--model",
            path_str(&not_a_model),
            "--onnx",
            path_str(&second),
        ],
    );
    assert_fails_with(&exported, &["not a checkpoint folder", "not-a-model"]);
    assert!(!second.exists());

    // An output folder that does not exist is named, and not created.
    let missing = dir.path().join("no-such-folder").join("model.onnx");
    let exported = fer(
        cache.path(),
        &[
            "export",
            "--model",
            path_str(&model),
            "--onnx",
            path_str(&missing),
        ],
    );
    assert_fails_with(&exported, &["no-such-folder", "no such folder"]);
    assert!(!dir.path().join("no-such-folder").exists());

    // A failed export over an existing file leaves it whole, and no temporary file behind.
    let exported = fer(
        cache.path(),
        &[
            "export",
            "--model",
            path_str(&not_a_model),
            "--onnx",
            path_str(&out),
        ],
    );
    assert!(!exported.status.success());
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
    assert_eq!(
        entries(dir.path()),
        ["face.png", "fer-cnn.onnx", "not-a-model"]
    );
}
