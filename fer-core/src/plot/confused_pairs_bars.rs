//! The most confused pairs of emotions as a bar chart.

use plotly::common::{Marker, Orientation, Title};
use plotly::layout::Axis;
use plotly::{Bar, Layout, Plot};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::eval::ConfusedPair;
use crate::plot::bitmap::{category, text, with_title, Canvas, DrawResult};
use crate::plot::figure::Figure;
use crate::plot::palette::{series_colour, series_rgb};

const X_TITLE: &str = "faces";

/// Horizontal bars, one per pair (`"Fear → Sad"`), longest mistake on top, each labelled with
/// the share of the true emotion's faces it takes. Feed it
/// [`crate::eval::most_confused_pairs`].
///
/// ```
/// # use fer_core::{eval::{most_confused_pairs, ConfusionMatrix}, plot::confused_pairs_bars, Emotion::*};
/// let cm = ConfusionMatrix::new(&[Fear, Fear, Sad], &[Sad, Fear, Sad])?;
/// let figure = confused_pairs_bars(&most_confused_pairs(&cm, 10), "CNN");
/// # Ok::<(), fer_core::FerError>(())
/// ```
pub fn confused_pairs_bars(pairs: &[ConfusedPair], model: &str) -> Figure {
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
    let bar = Bar::new(counts.clone(), labels.clone())
        .orientation(Orientation::Horizontal)
        .name(model)
        .marker(Marker::new().color(series_colour(0)))
        .text_array(shares.clone())
        .hover_template("%{y}: %{x} faces (%{text})<extra></extra>");
    let title = format!("{model}: most confused pairs (true → predicted)");
    let height = 120 + 28 * pairs.len().max(1);
    let mut plot = Plot::new();
    plot.add_trace(bar);
    plot.set_layout(
        Layout::new()
            .title(Title::with_text(&title))
            .x_axis(Axis::new().title(X_TITLE))
            .y_axis(Axis::new().auto_margin(true))
            .height(height),
    );
    Figure::new(plot, "confused pairs", (900, height as u32), move |root| {
        let area = with_title(root, &title);
        horizontal_bars(&area, &labels, &counts, &shares)
    })
}

/// One horizontal bar per label, bottom-up in the given order as plotly draws them, each
/// labelled at its end.
fn horizontal_bars(
    area: &Canvas,
    labels: &[String],
    counts: &[u64],
    shares: &[String],
) -> DrawResult {
    // At least one slot, so a chart of no pairs still has an axis.
    let n = labels.len().max(1);
    let top = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(45)
        .y_label_area_size(130)
        // Room right of the longest bar for its "x% of emotion" label.
        .build_cartesian_2d(0.0..top * 1.3, -0.5..n as f64 - 0.5)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .x_desc(X_TITLE)
        .y_label_formatter(&|y| category(labels, *y))
        .x_label_formatter(&|x: &f64| format!("{}", (x * 1000.0).round() / 1000.0))
        .label_style(text(12))
        .axis_desc_style(text(14))
        .draw()?;
    let colour = series_rgb(0);
    chart.draw_series(counts.iter().enumerate().map(|(i, &c)| {
        let i = i as f64;
        Rectangle::new([(0.0, i - 0.4), (c as f64, i + 0.4)], colour.filled())
    }))?;
    chart.draw_series(
        counts
            .iter()
            .zip(shares)
            .enumerate()
            .map(|(i, (&c, share))| {
                Text::new(
                    format!(" {share}"),
                    (c as f64, i as f64),
                    text(11).pos(Pos::new(HPos::Left, VPos::Center)),
                )
            }),
    )?;
    Ok(())
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
        let figure = confused_pairs_bars(&pairs, "cnn");
        let json: Value = serde_json::from_str(&figure.plot().to_json()).unwrap();
        let trace = &json["data"][0];
        assert_eq!(trace["orientation"], "h");
        assert_eq!(trace["x"], serde_json::json!([1, 2]));
        assert_eq!(
            trace["y"],
            serde_json::json!(["Fear → Sad", "Disgust → Angry"])
        );
        assert_eq!(trace["text"][1], "100.0% of disgust");
        // Two pairs: 120 + 2 x 28 pixels high, as the plotly layout.
        assert_eq!(figure.png_size(), (900, 176));
        assert_eq!(json["layout"]["height"], 176);
    }

    #[test]
    fn the_static_bars_grow_with_the_counts() {
        // Rows of one blue bar each, longest on top: the top bar covers more blue pixels.
        let truth = [Disgust, Disgust, Disgust, Disgust, Fear];
        let predicted = [Angry, Angry, Angry, Angry, Sad];
        let pairs = most_confused_pairs(&ConfusionMatrix::new(&truth, &predicted).unwrap(), 5);
        let image = crate::plot::figure::assert_drawn(&confused_pairs_bars(&pairs, "cnn"));
        let blue = series_rgb(0);
        let blue_in_row = |y: u32| {
            (0..image.width())
                .filter(|&x| image.get_pixel(x, y).0 == [blue.0, blue.1, blue.2])
                .count()
        };
        let rows: Vec<u32> = (0..image.height())
            .filter(|&y| blue_in_row(y) > 0)
            .collect();
        // The topmost blue row is in the upper bar, the lowest in the lower one.
        let (top, bottom) = (blue_in_row(rows[0]), blue_in_row(*rows.last().unwrap()));
        // 4 faces against 1: the bar on top is about four times as long.
        assert!(top > 3 * bottom && bottom > 0, "{top} vs {bottom}");
    }
}
