//! The most confused pairs of emotions as a bar chart.

use plotly::common::{Marker, Orientation, Title};
use plotly::layout::Axis;
use plotly::{Bar, Layout, Plot};

use crate::eval::ConfusedPair;
use crate::plot::palette::series_colour;

/// Horizontal bars, one per pair (`"Fear → Sad"`), longest mistake on top, each labelled with
/// the share of the true emotion's faces it takes. Feed it
/// [`crate::eval::most_confused_pairs`].
///
/// ```
/// # use fer_core::{eval::{most_confused_pairs, ConfusionMatrix}, plot::confused_pairs_bars, Emotion::*};
/// let cm = ConfusionMatrix::new(&[Fear, Fear, Sad], &[Sad, Fear, Sad])?;
/// let plot = confused_pairs_bars(&most_confused_pairs(&cm, 10), "CNN");
/// # Ok::<(), fer_core::FerError>(())
/// ```
pub fn confused_pairs_bars(pairs: &[ConfusedPair], model: &str) -> Plot {
    // plotly draws the first category at the bottom: reverse so the largest is on top.
    let ordered: Vec<&ConfusedPair> = pairs.iter().rev().collect();
    let labels: Vec<String> = ordered
        .iter()
        .map(|p| format!("{} → {}", p.truth.title(), p.predicted.title()))
        .collect();
    let counts: Vec<u64> = ordered.iter().map(|p| p.count).collect();
    let shares: Vec<String> = ordered
        .iter()
        .map(|p| format!("{:.1}% of {}", 100.0 * p.share_of_truth, p.truth.name()))
        .collect();
    let bar = Bar::new(counts, labels)
        .orientation(Orientation::Horizontal)
        .name(model)
        .marker(Marker::new().color(series_colour(0)))
        .text_array(shares)
        .hover_template("%{y}: %{x} faces (%{text})<extra></extra>");
    let mut plot = Plot::new();
    plot.add_trace(bar);
    plot.set_layout(
        Layout::new()
            .title(Title::with_text(format!(
                "{model}: most confused pairs (true → predicted)"
            )))
            .x_axis(Axis::new().title("faces"))
            .y_axis(Axis::new().auto_margin(true))
            .height(120 + 28 * pairs.len().max(1)),
    );
    plot
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{most_confused_pairs, ConfusionMatrix};
    use crate::Emotion::*;
    use serde_json::Value;

    #[test]
    fn bars_hold_the_pairs_largest_on_top() {
        let truth = [Disgust, Disgust, Fear, Sad];
        let predicted = [Angry, Angry, Sad, Sad];
        let pairs = most_confused_pairs(&ConfusionMatrix::new(&truth, &predicted).unwrap(), 5);
        let json: Value =
            serde_json::from_str(&confused_pairs_bars(&pairs, "cnn").to_json()).unwrap();
        let trace = &json["data"][0];
        assert_eq!(trace["orientation"], "h");
        assert_eq!(trace["x"], serde_json::json!([1, 2]));
        assert_eq!(
            trace["y"],
            serde_json::json!(["Fear → Sad", "Disgust → Angry"])
        );
        assert_eq!(trace["text"][1], "100.0% of disgust");
    }
}
