//! The evaluation report: every metric, figure and error analysis of one or more models on
//! PrivateTest, as one self-contained HTML page (plotly.js inlined, face grids as PNG data
//! URIs) and a metrics JSON.

use std::fmt::Write as _;
use std::path::Path;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::page::Page;
use crate::classifier::EmotionClassifier;
use crate::cnn::EpochRecord;
use crate::data::{Dataset, Usage};
use crate::error::{FerError, Result};
use crate::eval::{
    format_p_value, hardest_examples, most_confused_pairs, Evaluation, HardExample, ModelComparison,
};
use crate::fs::{write_atomically, write_json_atomically};
use crate::plot::{
    augmentation_preview, class_distribution, class_metrics_bars, confidence_distribution,
    confident_mistakes, confused_pairs_bars, confusion_heatmap, disagreement_gallery, escape_html,
    mean_faces, reliability_diagram, sample_faces, training_curves, SaliencyGrid,
};

/// The split every report scores: the protocol's held-out test split (PublicTest is for
/// choosing checkpoints, so a number on it would not be a result).
pub const REPORT_SPLIT: Usage = Usage::PrivateTest;
/// Rows of the hardest-examples table (and faces in the saliency grid: the first 8).
const HARDEST_SHOWN: usize = 12;
const SALIENCY_FACES: usize = 8;
/// Occlusion patch side and stride in pixels: an 8-pixel patch hides about an eye or a
/// mouth corner; stride 4 gives 11x11 = 121 occluded copies per face.
const OCCLUSION_PATCH: usize = 8;
const OCCLUSION_STRIDE: usize = 4;
const GALLERY_FACES: usize = 24;
const SEED: u64 = 7;

/// One model's numbers in the metrics JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMetrics {
    /// The model's name as given to [`build_report`].
    pub name: String,
    /// Every metric on [`REPORT_SPLIT`].
    pub evaluation: Evaluation,
    /// The faces with the highest loss, highest first.
    pub hardest_examples: Vec<HardExample>,
}

/// The metrics JSON of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportMetrics {
    /// The split scored (`"PrivateTest"`).
    pub split: String,
    /// Faces scored.
    pub samples: u64,
    /// One entry per model, in the order given.
    pub models: Vec<ModelMetrics>,
    /// The first two models compared on the same faces, with McNemar's test.
    pub comparison: Option<ModelComparison>,
}

/// A built report, not yet written.
#[derive(Debug, Clone)]
pub struct Report {
    /// The self-contained HTML page.
    pub html: String,
    /// The metrics JSON.
    pub metrics: ReportMetrics,
}

impl Report {
    /// Adds an HTML section at the end of the page (the photo gallery of
    /// [`photo_gallery`](crate::plot::photo_gallery), say).
    pub fn append_section(&mut self, html: &str) {
        let at = self.html.rfind("</body>").unwrap_or(self.html.len());
        self.html.insert_str(at, html);
    }
}

/// Scores each model on the [`REPORT_SPLIT`] faces of `test` and lays out the report:
/// the data (class distribution of `train` and `test`, sample and mean faces, augmentation
/// preview), a summary table, training curves for models with a history, and per model the
/// classification report, confusion heatmap, most confused pairs, confidence distribution,
/// confident mistakes, hardest examples and occlusion saliency; then both models' per-class
/// bars and reliability diagram, and with two or more models McNemar's test and a gallery
/// of disagreements. `source` names the data in the page. Errors if no model is given or
/// `test` has no PrivateTest face.
pub fn build_report(
    source: &str,
    train: &Dataset,
    test: &Dataset,
    models: &[(&str, &dyn EmotionClassifier)],
    histories: &[(&str, &[EpochRecord])],
) -> Result<Report> {
    if models.is_empty() {
        return Err(FerError::invalid_parameter(
            "models",
            "no model to report on: give at least one",
        ));
    }
    let scored = test.with_usage(REPORT_SPLIT);
    if scored.is_empty() {
        return Err(FerError::EmptyDataset(format!(
            "{source}: no {} faces to score",
            REPORT_SPLIT.name()
        )));
    }
    let truth = scored.labels();
    let mut probabilities: Vec<Array2<f32>> = Vec::with_capacity(models.len());
    let mut metrics = Vec::with_capacity(models.len());
    for (name, model) in models {
        let p = model.predict_proba(scored.faces())?;
        metrics.push(ModelMetrics {
            name: name.to_string(),
            evaluation: Evaluation::new(truth, p.view())?,
            hardest_examples: hardest_examples(&scored, p.view(), HARDEST_SHOWN)?,
        });
        probabilities.push(p);
    }
    let comparison = if models.len() >= 2 {
        Some(ModelComparison::new(
            models[0].0,
            models[1].0,
            truth,
            probabilities[0].view(),
            probabilities[1].view(),
        )?)
    } else {
        None
    };

    let mut page = Page::default();
    page.heading(1, "FER2013 evaluation report");
    page.raw(&format!(
        "<p id=\"protocol\">Data: <code>{}</code>. Every metric and figure below is computed on \
         the <b>{}</b> split ({} faces), never used for training or model selection.</p>",
        escape_html(source),
        REPORT_SPLIT.name(),
        scored.len()
    ));

    page.section("summary", "Summary");
    let mut table = String::from(
        "<table><tr><th>model</th><th>accuracy</th><th>balanced accuracy</th>\
         <th>top-2 accuracy</th><th>log-loss</th><th>ECE</th><th>macro F1</th></tr>",
    );
    for m in &metrics {
        let e = &m.evaluation;
        let _ = write!(
            table,
            "<tr><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td>\
             <td>{:.4}</td><td>{:.4}</td></tr>",
            escape_html(&m.name),
            e.accuracy,
            e.balanced_accuracy,
            e.top2_accuracy,
            e.log_loss,
            e.calibration.expected_calibration_error,
            e.report.macro_avg().f1
        );
    }
    table.push_str("</table>");
    page.raw(&table);

    page.section("data", "The data");
    let splits = [
        ("Training", train.with_usage(Usage::Training).class_counts()),
        (
            "PublicTest",
            test.with_usage(Usage::PublicTest).class_counts(),
        ),
        ("PrivateTest", scored.class_counts()),
    ];
    page.plot(class_distribution(&splits).plot());
    let faces = if train.is_empty() { &scored } else { train };
    page.grid(&sample_faces(faces, 8, SEED)?.to_html_img()?);
    page.grid(&mean_faces(faces)?.to_html_img()?);
    page.grid(&augmentation_preview(faces.face(0), 7, SEED)?.to_html_img()?);

    let with_history: Vec<_> = histories.iter().filter(|(_, h)| !h.is_empty()).collect();
    if !with_history.is_empty() {
        page.section("training", "Training curves");
        for (name, history) in with_history {
            page.heading(3, name);
            page.plot_tall(training_curves(history).plot(), 900);
        }
    }

    for (k, (((name, model), m), p)) in models.iter().zip(&metrics).zip(&probabilities).enumerate()
    {
        page.section(&format!("model-{k}"), &format!("Model: {name}"));
        page.raw(&format!(
            "<pre class=\"classification-report\">{}</pre>",
            escape_html(&m.evaluation.report.to_string())
        ));
        let cm = &m.evaluation.confusion_matrix;
        page.plot_tall(
            confusion_heatmap(cm, &format!("{name}: confusion matrix")).plot(),
            700,
        );
        page.plot(confused_pairs_bars(&most_confused_pairs(cm, 10), name).plot());
        page.plot(confidence_distribution(truth, p.view(), name)?.plot());
        page.grid(&confident_mistakes(&scored, p.view(), GALLERY_FACES)?.to_html_img()?);
        page.heading(3, "Hardest examples (highest loss)");
        let mut rows = String::from(
            "<table class=\"hardest\"><tr><th>row</th><th>origin</th><th>true</th>\
             <th>predicted</th><th>confidence</th><th>loss</th></tr>",
        );
        for h in &m.hardest_examples {
            let _ = write!(
                rows,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td>\
                 <td>{:.3}</td></tr>",
                h.index,
                escape_html(&h.origin.to_string()),
                h.truth.name(),
                h.predicted.name(),
                h.confidence,
                h.loss
            );
        }
        rows.push_str("</table>");
        page.raw(&rows);
        page.heading(
            3,
            &format!(
                "Occlusion saliency on the {SALIENCY_FACES} hardest faces: red = hiding this \
                 region lowers the true emotion's probability"
            ),
        );
        let hardest: Vec<usize> = m
            .hardest_examples
            .iter()
            .take(SALIENCY_FACES)
            .map(|h| h.index)
            .collect();
        let saliency =
            SaliencyGrid::occlusion(*model, &scored, &hardest, OCCLUSION_PATCH, OCCLUSION_STRIDE)?;
        page.grid(&saliency.to_html_img(&format!("{name}: occlusion saliency"))?);
    }

    page.section("comparison", "Models side by side");
    let reports: Vec<(&str, &_)> = metrics
        .iter()
        .map(|m| (m.name.as_str(), &m.evaluation.report))
        .collect();
    page.plot_tall(class_metrics_bars(&reports).plot(), 900);
    let calibrations: Vec<(&str, &_)> = metrics
        .iter()
        .map(|m| (m.name.as_str(), &m.evaluation.calibration))
        .collect();
    page.plot_tall(reliability_diagram(&calibrations).plot(), 800);
    if let Some(c) = &comparison {
        page.raw(&mcnemar_paragraph(c));
        page.grid(
            &disagreement_gallery(
                &scored,
                probabilities[0].view(),
                probabilities[1].view(),
                (models[0].0, models[1].0),
                GALLERY_FACES,
            )?
            .to_html_img()?,
        );
    }

    Ok(Report {
        html: page.finish(),
        metrics: ReportMetrics {
            split: REPORT_SPLIT.name().to_string(),
            samples: scored.len() as u64,
            models: metrics,
            comparison,
        },
    })
}

/// Writes `report.html` and `metrics.json` into `out_dir` (created if missing), each
/// atomically, so a failure leaves no half-written file.
pub fn write_report(report: &Report, out_dir: &Path) -> Result<()> {
    std::fs::create_dir_all(out_dir).map_err(|e| FerError::io(out_dir, e))?;
    write_json_atomically(&out_dir.join("metrics.json"), &report.metrics)?;
    write_atomically(&out_dir.join("report.html"), |w| {
        w.write_all(report.html.as_bytes())
    })
}

/// The sentence on the two models' paired comparison, with McNemar's p-value written by
/// [`format_p_value`] (escaped: an underflowed one reads `p < 1e-300`).
fn mcnemar_paragraph(c: &ModelComparison) -> String {
    format!(
        "<p id=\"mcnemar\">{a} vs {b} on the same {n} faces: both right {both}, both wrong \
         {neither}, only {a} right {only_a}, only {b} right {only_b}. McNemar's test \
         ({method:?}): statistic {stat:.3}, {p}.</p>",
        a = escape_html(&c.model_a),
        b = escape_html(&c.model_b),
        n = c.samples,
        both = c.both_correct,
        neither = c.both_wrong,
        only_a = c.mcnemar.only_a_correct,
        only_b = c.mcnemar.only_b_correct,
        method = c.mcnemar.method,
        stat = c.mcnemar.statistic,
        p = escape_html(&format_p_value(c.mcnemar.p_value))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emotion::Emotion;

    /// A comparison of `n` faces, all angry, where A is right on the first `a_right` and B on
    /// the last `b_right`.
    fn comparison(n: usize, a_right: usize, b_right: usize) -> ModelComparison {
        let truth = vec![Emotion::Angry; n];
        let guess = |right: bool| if right { Emotion::Angry } else { Emotion::Sad };
        let a: Vec<_> = (0..n).map(|i| guess(i < a_right)).collect();
        let b: Vec<_> = (0..n).map(|i| guess(i >= n - b_right)).collect();
        ModelComparison::from_predictions("cnn", "base<line>", &truth, &a, &b).unwrap()
    }

    #[test]
    fn the_mcnemar_sentence_keeps_tiny_p_values_readable_and_valid_html() {
        // 20 faces only A gets right, none only B: exact p = 2 / 2^20 = 1.9e-6, which four
        // decimals printed as 0.0000.
        let text = mcnemar_paragraph(&comparison(20, 20, 0));
        assert!(text.contains("p = 1.9e-6."), "{text}");
        assert!(text.contains("base&lt;line&gt;"), "{text}");
        // 4,000 to 0: the p-value underflows to 0 and its "<" is escaped.
        let text = mcnemar_paragraph(&comparison(4000, 4000, 0));
        assert!(text.contains("p &lt; 1e-300."), "{text}");
    }
}
