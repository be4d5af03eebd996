//! Per-class precision, recall and F1 of several models side by side.

use plotly::common::{Marker, Title};
use plotly::layout::{Annotation, Axis, BarMode, GridPattern, LayoutGrid};
use plotly::{Bar, Layout, Plot};

use crate::emotion::Emotion;
use crate::eval::{ClassMetrics, ClassificationReport};
use crate::plot::bitmap::{bar_groups, grouped_bars, with_title, SeriesBars};
use crate::plot::figure::Figure;
use crate::plot::palette::series_colour;

const TITLE: &str = "Per-class precision, recall and F1";

/// Three stacked bar charts (precision, recall, F1), one bar per model and emotion, so
/// `[("cnn", &cnn), ("baseline", &baseline)]` shows where the CNN gains most. The legend
/// gives each model's macro F1.
///
/// ```
/// # use fer_core::{eval::{ClassificationReport, ConfusionMatrix}, plot::class_metrics_bars, Emotion::*};
/// let cnn = ClassificationReport::new(&ConfusionMatrix::new(&[Happy, Sad], &[Happy, Sad])?);
/// let baseline = ClassificationReport::new(&ConfusionMatrix::new(&[Happy, Sad], &[Happy, Happy])?);
/// let figure = class_metrics_bars(&[("cnn", &cnn), ("baseline", &baseline)]);
/// # Ok::<(), fer_core::FerError>(())
/// ```
pub fn class_metrics_bars(models: &[(&str, &ClassificationReport)]) -> Figure {
    let names: Vec<&str> = Emotion::ALL.iter().map(|e| e.title()).collect();
    let panels: [(&str, MetricOf); 3] = [
        ("precision", |c| c.precision),
        ("recall", |c| c.recall),
        ("F1", |c| c.f1),
    ];
    let mut plot = Plot::new();
    // Per panel, per model: (legend name, values, labels), for the static copy.
    let mut static_panels: Vec<(String, Vec<SeriesBars>)> = Vec::new();
    for (panel, (metric, value)) in panels.iter().enumerate() {
        let mut groups = Vec::with_capacity(models.len());
        for (m, (model, report)) in models.iter().enumerate() {
            let values: Vec<f64> = report.classes().iter().map(value).collect();
            let labels: Vec<String> = values.iter().map(|v| format!("{v:.2}")).collect();
            groups.push((
                format!("{model} (macro F1 {:.3})", report.macro_avg().f1),
                values.clone(),
                labels.clone(),
            ));
            let support: Vec<String> = report
                .classes()
                .iter()
                .map(|c| format!("{} faces", c.support))
                .collect();
            let bar = Bar::new(names.clone(), values)
                .name(format!("{model} (macro F1 {:.3})", report.macro_avg().f1))
                .legend_group(*model)
                .show_legend(panel == 0)
                .marker(Marker::new().color(series_colour(m)))
                .text_array(labels)
                .hover_text_array(support)
                .hover_template(format!(
                    "{model}<br>%{{x}} {metric} %{{y:.3}}<br>%{{hovertext}}<extra></extra>"
                ))
                .x_axis(axis_ref("x", panel))
                .y_axis(axis_ref("y", panel));
            plot.add_trace(bar);
        }
        static_panels.push((metric.to_string(), groups));
    }
    let metric_axis = |title: &str| Axis::new().title(title).range(vec![0.0, 1.05]);
    let annotations = vec![Annotation::new()
        .text("bars: score per emotion; hover for the number of true faces")
        .x_ref("paper")
        .y_ref("paper")
        .x(0.0)
        .y(-0.08)
        .show_arrow(false)];
    let layout = Layout::new()
        .title(Title::with_text(TITLE))
        .grid(
            LayoutGrid::new()
                .rows(3)
                .columns(1)
                .pattern(GridPattern::Independent),
        )
        .bar_mode(BarMode::Group)
        .y_axis(metric_axis("precision"))
        .y_axis2(metric_axis("recall"))
        .y_axis3(metric_axis("F1"))
        .annotations(annotations)
        .height(820);
    plot.set_layout(layout);
    Figure::new(plot, "per-class metrics", (900, 820), move |root| {
        let area = with_title(root, TITLE);
        for (panel, (area, (metric, groups))) in area
            .split_evenly((static_panels.len(), 1))
            .iter()
            .zip(&static_panels)
            .enumerate()
        {
            let bars = bar_groups(groups);
            // Headroom above 1.0 for the bars' labels, as the plotly axes' 1.05.
            grouped_bars(area, &names, &bars, ("", metric), 0.0..1.12, panel == 0)?;
        }
        Ok(())
    })
}

/// Reads one metric of a class.
type MetricOf = fn(&ClassMetrics) -> f64;

/// `"x"`, `"x2"`, `"x3"`: plotly's names of the first, second and third axes.
fn axis_ref(prefix: &str, panel: usize) -> String {
    if panel == 0 {
        prefix.to_string()
    } else {
        format!("{prefix}{}", panel + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::ConfusionMatrix;
    use serde_json::Value;
    use Emotion::*;

    #[test]
    fn one_trace_per_model_and_metric_with_the_reports_values() {
        let truth = [Happy, Happy, Sad, Fear];
        let cnn = ClassificationReport::new(
            &ConfusionMatrix::new(&truth, &[Happy, Sad, Sad, Fear]).unwrap(),
        );
        let baseline = ClassificationReport::new(
            &ConfusionMatrix::new(&truth, &[Happy, Happy, Happy, Happy]).unwrap(),
        );
        let figure = class_metrics_bars(&[("cnn", &cnn), ("baseline", &baseline)]);
        crate::plot::figure::assert_drawn(&figure);
        let json: Value = serde_json::from_str(&figure.plot().to_json()).unwrap();
        let data = json["data"].as_array().unwrap();
        assert_eq!(data.len(), 6);
        // Trace order: precision (cnn, baseline), recall (cnn, baseline), F1 (cnn, baseline).
        let y = |i: usize| -> Vec<f64> { serde_json::from_value(data[i]["y"].clone()).unwrap() };
        let field =
            |r: &ClassificationReport, f: MetricOf| r.classes().iter().map(f).collect::<Vec<f64>>();
        assert_eq!(y(0), field(&cnn, |c| c.precision));
        assert_eq!(y(3), field(&baseline, |c| c.recall));
        assert_eq!(y(4), field(&cnn, |c| c.f1));
        assert_eq!(data[2]["yaxis"], "y2");
        assert_eq!(data[5]["xaxis"], "x3");
        assert_eq!(data[0]["x"][3], "Happy");
        assert!(data[1]["name"].as_str().unwrap().starts_with("baseline"));
        assert_eq!(data[2]["showlegend"], false);
    }
}
