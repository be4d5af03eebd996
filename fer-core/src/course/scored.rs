//! A model's probabilities on a set of faces together with every metric of them, and the
//! tables that compare models.

use ndarray::Array2;

use crate::classifier::EmotionClassifier;
use crate::course::table::Table;
use crate::data::Dataset;
use crate::emotion::Emotion;
use crate::error::Result;
use crate::eval::{Evaluation, ModelComparison};

/// One model scored on one set of faces.
#[derive(Debug, Clone)]
pub struct Scored {
    /// The model's name in tables and plots.
    pub name: String,
    /// Class probabilities, one row per face, columns in [`Emotion`] order.
    pub probabilities: Array2<f32>,
    /// Every metric of `probabilities` against the faces' labels.
    pub evaluation: Evaluation,
}

impl Scored {
    /// Scores `model` on `faces`.
    pub fn new(name: &str, model: &dyn EmotionClassifier, faces: &Dataset) -> Result<Scored> {
        let probabilities = model.predict_proba(faces.faces())?;
        let evaluation = Evaluation::new(faces.labels(), probabilities.view())?;
        Ok(Scored {
            name: name.to_string(),
            probabilities,
            evaluation,
        })
    }

    /// The paired comparison of this model (A) and `other` (B) on the same faces, with
    /// McNemar's test.
    pub fn compare(&self, other: &Scored, faces: &Dataset) -> Result<ModelComparison> {
        ModelComparison::new(
            self.name.as_str(),
            other.name.as_str(),
            faces.labels(),
            self.probabilities.view(),
            other.probabilities.view(),
        )
    }
}

/// Formats a share as a percentage with one decimal.
pub fn percent(share: f64) -> String {
    format!("{:.1}%", 100.0 * share)
}

/// One row per model: accuracy, balanced accuracy, macro F1, top-2 accuracy, log-loss and
/// expected calibration error, with the number of faces scored.
pub fn metrics_table(models: &[&Scored]) -> Table {
    let mut table = Table::new([
        "model",
        "faces",
        "accuracy",
        "balanced accuracy",
        "macro F1",
        "top-2 accuracy",
        "log-loss",
        "ECE",
    ]);
    for m in models {
        let e = &m.evaluation;
        table.row([
            m.name.clone(),
            e.samples.to_string(),
            percent(e.accuracy),
            percent(e.balanced_accuracy),
            format!("{:.3}", e.report.macro_avg().f1),
            percent(e.top2_accuracy),
            format!("{:.3}", e.log_loss),
            format!("{:.3}", e.calibration.expected_calibration_error),
        ]);
    }
    table
}

/// Recall of each emotion (rows) for each model (columns): who finds the rare classes.
pub fn recall_table(models: &[&Scored]) -> Table {
    let mut table = Table::new(
        std::iter::once("emotion".to_string()).chain(models.iter().map(|m| m.name.clone())),
    );
    for emotion in Emotion::ALL {
        table.row(
            std::iter::once(emotion.name().to_string()).chain(
                models
                    .iter()
                    .map(|m| percent(m.evaluation.per_class_recall[&emotion])),
            ),
        );
    }
    table
}

/// McNemar's test laid out: the four cells of the paired table, the statistic and the p-value.
pub fn comparison_table(comparison: &ModelComparison) -> Table {
    let c = comparison;
    let mut table = Table::new(["", "value"]).with_caption(format!(
        "{} vs {} on the same {} faces",
        c.model_a, c.model_b, c.samples
    ));
    let rows = [
        (format!("{} accuracy", c.model_a), percent(c.accuracy_a)),
        (format!("{} accuracy", c.model_b), percent(c.accuracy_b)),
        ("both right".to_string(), c.both_correct.to_string()),
        ("both wrong".to_string(), c.both_wrong.to_string()),
        (
            format!("only {} right", c.model_a),
            c.mcnemar.only_a_correct.to_string(),
        ),
        (
            format!("only {} right", c.model_b),
            c.mcnemar.only_b_correct.to_string(),
        ),
        (
            format!("McNemar statistic ({:?})", c.mcnemar.method),
            format!("{:.2}", c.mcnemar.statistic),
        ),
        (
            "p-value".to_string(),
            crate::eval::format_p_value(c.mcnemar.p_value),
        ),
    ];
    for (name, value) in rows {
        table.row([name, value]);
    }
    table
}

/// Faces per emotion in each named set, with each emotion's share of the set, and the
/// largest-to-smallest class ratio in the last row.
pub fn class_count_table(sets: &[(&str, &Dataset)]) -> Table {
    let mut table = Table::new(
        std::iter::once("emotion".to_string()).chain(sets.iter().map(|(n, _)| n.to_string())),
    );
    let counts: Vec<[usize; Emotion::COUNT]> = sets.iter().map(|(_, d)| d.class_counts()).collect();
    for emotion in Emotion::ALL {
        table.row(
            std::iter::once(emotion.name().to_string()).chain(sets.iter().zip(&counts).map(
                |((_, d), c)| {
                    let n = c[emotion.index()];
                    format!("{n} ({})", percent(n as f64 / d.len().max(1) as f64))
                },
            )),
        );
    }
    table.row(
        std::iter::once("total".to_string()).chain(sets.iter().map(|(_, d)| d.len().to_string())),
    );
    table.row(
        std::iter::once("largest / smallest".to_string()).chain(counts.iter().map(|c| {
            crate::data::ClassCounts(*c)
                .imbalance_ratio()
                .map_or_else(|| "-".to_string(), |r| format!("{r:.1}"))
        })),
    );
    table
}

/// The challenge split of a data set's faces, for captions: `"PrivateTest"` when every face
/// has that usage, else `"mixed"`.
pub fn usage_name(faces: &Dataset) -> &'static str {
    match faces.usages().first() {
        Some(&u) if faces.usages().iter().all(|&v| v == u) => u.name(),
        _ => "mixed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Face, Origin, Usage, IMAGE_PIXELS};
    use ndarray::array;

    struct Fixed(Array2<f32>);
    impl EmotionClassifier for Fixed {
        fn name(&self) -> String {
            "fixed".into()
        }
        fn predict_proba(&self, _: &[Face]) -> Result<Array2<f32>> {
            Ok(self.0.clone())
        }
    }

    #[test]
    fn tables_show_the_metrics_of_each_model() {
        let mut faces = Dataset::new();
        for (i, e) in [Emotion::Happy, Emotion::Sad].into_iter().enumerate() {
            faces.push(
                &[0; IMAGE_PIXELS],
                e,
                Usage::PrivateTest,
                Origin::CsvLine(i as u64),
            );
        }
        let right = Fixed(array![
            [0.0, 0.0, 0.0, 0.9, 0.1, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.2, 0.8, 0.0, 0.0]
        ]);
        let happy = Fixed(array![
            [0.0, 0.0, 0.0, 0.9, 0.1, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.6, 0.4, 0.0, 0.0]
        ]);
        let a = Scored::new("a", &right, &faces).unwrap();
        let b = Scored::new("b", &happy, &faces).unwrap();
        let metrics = metrics_table(&[&a, &b]);
        assert_eq!(metrics.rows()[0][..3], ["a", "2", "100.0%"]);
        assert_eq!(metrics.rows()[1][..3], ["b", "2", "50.0%"]);
        let recall = recall_table(&[&a, &b]);
        assert_eq!(
            recall.rows()[Emotion::Sad.index()],
            ["sad", "100.0%", "0.0%"]
        );
        let comparison = comparison_table(&a.compare(&b, &faces).unwrap());
        assert!(comparison
            .rows()
            .contains(&vec!["only a right".to_string(), "1".to_string()]));
        let counts = class_count_table(&[("test", &faces)]);
        assert_eq!(
            counts.rows()[Emotion::Happy.index()],
            ["happy", "1 (50.0%)"]
        );
        assert_eq!(counts.rows()[7], ["total", "2"]);
        assert_eq!(usage_name(&faces), "PrivateTest");
    }
}
