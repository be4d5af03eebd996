//! How many faces of each emotion each split holds.

use plotly::common::{Marker, Title};
use plotly::layout::{Axis, BarMode};
use plotly::{Bar, Layout, Plot};

use crate::emotion::Emotion;
use crate::plot::bitmap::{bar_groups, grouped_bars, with_title, SeriesBars};
use crate::plot::figure::Figure;
use crate::plot::palette::series_colour;

const TITLE: &str = "Faces per emotion and split";
const AXES: (&str, &str) = ("emotion", "faces");

/// Grouped bars of the faces per emotion, one colour per split (`("Training", counts)`, ...),
/// with each bar's share of its split on hover and as its label. Counts are in [`Emotion`]
/// label order, as [`crate::Dataset::class_counts`] returns them. Shows at a glance that disgust is rare and happy dominant in every split.
///
/// ```
/// # use fer_core::plot::class_distribution;
/// let figure = class_distribution(&[("train", [3995, 436, 4097, 7215, 4830, 3171, 4965])]);
/// ```
pub fn class_distribution(splits: &[(&str, [usize; Emotion::COUNT])]) -> Figure {
    let names: Vec<&str> = Emotion::ALL.iter().map(|e| e.title()).collect();
    let mut plot = Plot::new();
    // (legend name, counts, labels) per split, for the static copy.
    let mut groups: Vec<SeriesBars> = Vec::new();
    for (s, (split, counts)) in splits.iter().enumerate() {
        let total: usize = counts.iter().sum();
        let shares: Vec<String> = counts
            .iter()
            .map(|&c| {
                let share = if total == 0 {
                    0.0
                } else {
                    100.0 * c as f64 / total as f64
                };
                format!("{share:.1}%")
            })
            .collect();
        let name = format!("{split} ({total} faces)");
        groups.push((
            name.clone(),
            counts.iter().map(|&c| c as f64).collect(),
            shares.clone(),
        ));
        plot.add_trace(
            Bar::new(names.clone(), counts.to_vec())
                .name(name)
                .marker(Marker::new().color(series_colour(s)))
                .text_array(shares)
                .hover_template(format!(
                    "{split}<br>%{{x}}: %{{y}} faces (%{{text}})<extra></extra>"
                )),
        );
    }
    let layout = Layout::new()
        .title(Title::with_text(TITLE))
        .bar_mode(BarMode::Group)
        .x_axis(Axis::new().title(AXES.0))
        .y_axis(Axis::new().title(AXES.1))
        .height(480);
    plot.set_layout(layout);
    let top = groups
        .iter()
        .flat_map(|(_, values, _)| values.iter().copied())
        .fold(1.0, f64::max);
    Figure::new(plot, "class distribution", (900, 480), move |root| {
        let bars = bar_groups(&groups);
        // Headroom above the tallest bar for its label and the legend.
        let area = with_title(root, TITLE);
        grouped_bars(&area, &names, &bars, AXES, 0.0..top * 1.15, true)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn one_trace_per_split_with_counts_and_shares() {
        // Kaggle's train/ and test/ counts (../shared/fer2013/README.md).
        let train = [3995, 436, 4097, 7215, 4830, 3171, 4965];
        let test = [958, 111, 1024, 1774, 1247, 831, 1233];
        let figure = class_distribution(&[("train", train), ("test", test)]);
        crate::plot::figure::assert_drawn(&figure);
        let json: Value = serde_json::from_str(&figure.plot().to_json()).unwrap();
        let data = json["data"].as_array().unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(data[0]["y"], serde_json::json!(train));
        assert_eq!(data[1]["name"], "test (7178 faces)");
        assert_eq!(data[0]["text"][1], "1.5%"); // disgust: 436 / 28709
        assert_eq!(data[0]["x"][6], "Neutral");
    }
}
