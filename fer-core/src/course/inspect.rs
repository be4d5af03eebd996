//! Tables and selections the notebooks show: class weights, a model's summary, the hardest
//! examples, and one telling face per emotion.

use dfdx::nn::NumParams;
use ndarray::ArrayView2;

use crate::cnn::{CnnModel, Network, TrainConfig};
use crate::course::scored::percent;
use crate::course::table::Table;
use crate::data::balance::{effective_number_weights, inverse_frequency_weights};
use crate::data::{Dataset, Origin};
use crate::emotion::Emotion;
use crate::error::Result;
use crate::eval::{check_probabilities, predicted_labels, HardExample};

/// β of the effective-number weights shown next to inverse frequency (Cui et al. use
/// 0.9-0.9999; at 0.999 classes of a few thousand faces are no longer "few").
pub const EFFECTIVE_NUMBER_BETA: f64 = 0.999;

/// Per emotion of `train`: faces, share, the inverse-frequency loss weight (what
/// `class_weighted` training uses) and the effective-number weight (β =
/// [`EFFECTIVE_NUMBER_BETA`]).
pub fn class_weight_table(train: &Dataset) -> Result<Table> {
    let counts = train.class_counts();
    let inverse = inverse_frequency_weights(&counts)?;
    let effective = effective_number_weights(&counts, EFFECTIVE_NUMBER_BETA)?;
    let mut table = Table::new([
        "emotion",
        "faces",
        "share",
        "inverse-frequency weight",
        "effective-number weight",
    ]);
    for e in Emotion::ALL {
        let i = e.index();
        table.row([
            e.name().to_string(),
            counts[i].to_string(),
            percent(counts[i] as f64 / train.len().max(1) as f64),
            format!("{:.2}", inverse[i]),
            format!("{:.2}", effective[i]),
        ]);
    }
    Ok(table)
}

/// Trainable parameters of a CNN (weights and biases, batch-norm scales and shifts; not the
/// batch norms' running statistics).
pub fn parameter_count(model: &CnnModel) -> usize {
    match model.network() {
        Network::Seed(m) => m.as_ref().num_trainable_params(),
        Network::Best(m) => m.as_ref().num_trainable_params(),
    }
}

/// A CNN at a glance: architecture, parameters, input and output, and the pixel statistics it
/// standardises with.
pub fn model_table(model: &CnnModel) -> Table {
    let mut table = Table::new(["", ""]);
    let rows = [
        ("architecture", model.config.arch.name().to_string()),
        (
            "trainable parameters",
            format_thousands(parameter_count(model)),
        ),
        (
            "input",
            format!(
                "[batch, 1, {0}, {0}] standardised gray levels",
                model.config.input_side
            ),
        ),
        (
            "output",
            format!("[batch, {}] logits, one per emotion", model.config.classes),
        ),
        (
            "pixel statistics from",
            format!("{} training faces", model.stats.count),
        ),
    ];
    for (name, value) in rows {
        table.row([name.to_string(), value]);
    }
    table
}

/// Every setting of a training run, one row each (`None`: a checkpoint saved without its
/// `train_config.json`, said in one row).
pub fn train_config_table(config: Option<&TrainConfig>) -> Table {
    let mut table = Table::new(["setting", "value"]);
    let fields = config
        .and_then(|c| serde_json::to_value(c).ok())
        .and_then(|v| v.as_object().cloned());
    match fields {
        Some(fields) => {
            for (name, value) in fields {
                add_setting_rows(&mut table, name, value);
            }
        }
        None => table.row(["(unknown)", "the checkpoint has no train_config.json"]),
    }
    table
}

/// One row per setting; a group of settings (`dropout`) gives one row per member
/// (`dropout.block`), as `TrainConfig::check` names them.
fn add_setting_rows(table: &mut Table, name: String, value: serde_json::Value) {
    let value = match value {
        serde_json::Value::Object(members) => {
            for (member, value) in members {
                add_setting_rows(table, format!("{name}.{member}"), value);
            }
            return;
        }
        serde_json::Value::String(s) => s,
        // f32 settings widened to f64 in JSON (0.10000000149011612): print them at f32
        // precision.
        serde_json::Value::Number(n) if n.is_f64() => {
            format!("{}", n.as_f64().unwrap_or(f64::NAN) as f32)
        }
        other => other.to_string(),
    };
    table.row([name, value]);
}

/// A face's origin without the data set's location: the last three parts of a file path
/// (`test/sad/PrivateTest_123.jpg`), or the CSV line.
fn short_origin(origin: &Origin) -> String {
    match origin {
        Origin::File(path) => {
            let parts: Vec<String> = path
                .components()
                .rev()
                .take(3)
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            parts.into_iter().rev().collect::<Vec<_>>().join("/")
        }
        Origin::CsvLine(_) => origin.to_string(),
    }
}

/// `1234567` as `"1,234,567"`.
fn format_thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The hardest examples as a table: rank, where the face came from, truth, prediction, the
/// prediction's confidence and the loss of the true emotion.
pub fn hardest_table(examples: &[HardExample]) -> Table {
    let mut table = Table::new(["rank", "face", "true", "predicted", "confidence", "loss"]);
    for (rank, e) in examples.iter().enumerate() {
        table.row([
            (rank + 1).to_string(),
            short_origin(&e.origin),
            e.truth.name().to_string(),
            e.predicted.name().to_string(),
            percent(f64::from(e.confidence)),
            format!("{:.2}", e.loss),
        ]);
    }
    table
}

/// For each emotion with a correctly predicted face, the row of the one predicted with the
/// highest confidence (in label order): faces the model is sure about, where its saliency is
/// easiest to read.
pub fn confident_correct_per_emotion(
    faces: &Dataset,
    probabilities: ArrayView2<f32>,
) -> Result<Vec<usize>> {
    check_probabilities(faces.labels(), probabilities)?;
    let predicted = predicted_labels(probabilities)?;
    let mut best: [Option<(usize, f32)>; Emotion::COUNT] = [None; Emotion::COUNT];
    for (i, (&p, &t)) in predicted.iter().zip(faces.labels()).enumerate() {
        if p != t {
            continue;
        }
        let confidence = probabilities[[i, p.index()]];
        let slot = &mut best[t.index()];
        if slot.is_none_or(|(_, c)| confidence > c) {
            *slot = Some((i, confidence));
        }
    }
    Ok(best.iter().flatten().map(|&(i, _)| i).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Origin, Usage, IMAGE_PIXELS};
    use ndarray::array;

    #[test]
    fn weights_counts_and_selections() {
        let mut faces = Dataset::new();
        for (i, e) in [Emotion::Happy, Emotion::Happy, Emotion::Sad, Emotion::Angry]
            .into_iter()
            .enumerate()
        {
            faces.push(
                &[0; IMAGE_PIXELS],
                e,
                Usage::Training,
                Origin::CsvLine(i as u64),
            );
        }
        let table = class_weight_table(&faces).unwrap();
        // 4 faces, 3 classes present: happy 4 / (3 * 2) = 0.67, sad 4 / 3 = 1.33.
        assert_eq!(table.rows()[3][..4], ["happy", "2", "50.0%", "0.67"]);
        assert_eq!(table.rows()[4][..4], ["sad", "1", "25.0%", "1.33"]);
        assert_eq!(table.rows()[1][3], "0.00", "an absent class weighs nothing");
        let p = array![
            [0.0f32, 0.0, 0.0, 0.6, 0.4, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.9, 0.1, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.7, 0.3, 0.0, 0.0],
            [0.8, 0.0, 0.0, 0.2, 0.0, 0.0, 0.0],
        ];
        assert_eq!(
            confident_correct_per_emotion(&faces, p.view()).unwrap(),
            [3, 1]
        );
        assert_eq!(format_thousands(1175399), "1,175,399");
        let config = TrainConfig::new(crate::cnn::Arch::Best);
        let settings = train_config_table(Some(&config));
        assert!(settings
            .rows()
            .contains(&vec!["augmentation".to_string(), "light".to_string()]));
        assert!(settings
            .rows()
            .contains(&vec!["label_smoothing".to_string(), "0.1".to_string()]));
        assert!(settings
            .rows()
            .contains(&vec!["dropout.head".to_string(), "0.2".to_string()]));
        assert_eq!(train_config_table(None).rows().len(), 1);
        let file = Origin::File("/data/fer/test/sad/PrivateTest_1.jpg".into());
        assert_eq!(short_origin(&file), "test/sad/PrivateTest_1.jpg");
        assert_eq!(short_origin(&Origin::CsvLine(7)), "line 7");
        assert_eq!(format_thousands(999), "999");
    }
}
