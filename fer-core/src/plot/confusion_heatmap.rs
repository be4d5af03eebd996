//! The confusion matrix as a heatmap with counts and row percentages in every cell.

use plotly::common::{ColorBar, ColorScale, ColorScalePalette, Font, Title};
use plotly::layout::{Annotation, Axis};
use plotly::{HeatMap, Layout, Plot};

use crate::emotion::Emotion;
use crate::eval::ConfusionMatrix;

/// A heatmap of `confusion`: rows are true emotions (angry at the top), columns predicted
/// ones. Cell colour is the row share (the diagonal is each emotion's recall), so the rare
/// disgust row is as readable as happy's; every cell is labelled with its count and share.
///
/// ```
/// # use fer_core::{eval::ConfusionMatrix, plot::confusion_heatmap, Emotion::*};
/// let cm = ConfusionMatrix::new(&[Happy, Sad, Sad], &[Happy, Sad, Happy])?;
/// let plot = confusion_heatmap(&cm, "CNN on PrivateTest");
/// // In a notebook: plot.evcxr_display();
/// # Ok::<(), fer_core::FerError>(())
/// ```
pub fn confusion_heatmap(confusion: &ConfusionMatrix, title: &str) -> Plot {
    let names: Vec<&str> = Emotion::ALL.iter().map(|e| e.title()).collect();
    let shares = confusion.row_normalised();
    let z: Vec<Vec<f64>> = shares.iter().map(|row| row.to_vec()).collect();
    let counts: Vec<Vec<String>> = confusion
        .counts
        .iter()
        .map(|row| row.iter().map(u64::to_string).collect())
        .collect();
    let heatmap = HeatMap::new(names.clone(), names.clone(), z)
        .text_matrix(counts)
        .hover_template(
            "true %{y}<br>predicted %{x}<br>%{text} faces (%{z:.1%} of the row)<extra></extra>",
        )
        .color_scale(ColorScale::Palette(ColorScalePalette::Blues))
        // plotly.js's Blues runs dark to light; reversed, an empty cell is near white.
        .reverse_scale(true)
        .zmin(0.0)
        .zmax(1.0)
        .color_bar(ColorBar::new().tick_format(".0%").title("share of row"));

    let mut annotations = Vec::with_capacity(Emotion::COUNT * Emotion::COUNT);
    for (t, truth) in Emotion::ALL.iter().enumerate() {
        for (p, predicted) in Emotion::ALL.iter().enumerate() {
            let share = shares[t][p];
            // Dark cells get white text.
            let colour = if share > 0.5 { "white" } else { "black" };
            annotations.push(
                Annotation::new()
                    .x(predicted.title())
                    .y(truth.title())
                    .text(format!(
                        "{}<br>{:.1}%",
                        confusion.counts[t][p],
                        100.0 * share
                    ))
                    .show_arrow(false)
                    .font(Font::new().color(colour).size(11)),
            );
        }
    }
    let layout = Layout::new()
        .title(Title::with_text(format!(
            "{title} — accuracy {:.1}% on {} faces",
            100.0 * confusion.accuracy(),
            confusion.total()
        )))
        .x_axis(Axis::new().title("predicted emotion"))
        .y_axis(
            Axis::new()
                .title("true emotion")
                // Categories are drawn bottom-up; reverse so angry is on top, like a table.
                .range(vec![Emotion::COUNT as f64 - 0.5, -0.5]),
        )
        .annotations(annotations)
        .width(720)
        .height(640);
    let mut plot = Plot::new();
    plot.add_trace(heatmap);
    plot.set_layout(layout);
    plot
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use Emotion::*;

    #[test]
    fn cells_hold_the_row_shares_counts_and_labels() {
        let truth = [Happy, Happy, Happy, Sad, Disgust];
        let predicted = [Happy, Happy, Sad, Sad, Angry];
        let cm = ConfusionMatrix::new(&truth, &predicted).unwrap();
        let plot = confusion_heatmap(&cm, "test");
        let json: Value = serde_json::from_str(&plot.to_json()).unwrap();
        let trace = &json["data"][0];
        assert_eq!(trace["type"], "heatmap");
        let z: Vec<Vec<f64>> = serde_json::from_value(trace["z"].clone()).unwrap();
        let expected: Vec<Vec<f64>> = cm.row_normalised().iter().map(|r| r.to_vec()).collect();
        assert_eq!(z, expected);
        assert_eq!(trace["text"][Happy.index()][Happy.index()], "2");
        assert_eq!(trace["y"][0], "Angry");
        let annotations = json["layout"]["annotations"].as_array().unwrap();
        assert_eq!(annotations.len(), 49);
        // Row happy (3), column sad (4): 1 of 3 happy faces.
        let cell = &annotations[3 * 7 + 4];
        assert_eq!(
            (cell["x"].as_str(), cell["y"].as_str()),
            (Some("Sad"), Some("Happy"))
        );
        assert_eq!(cell["text"], "1<br>33.3%");
        assert!(json["layout"]["title"]["text"]
            .as_str()
            .unwrap()
            .contains("accuracy 60.0% on 5 faces"));
    }
}
