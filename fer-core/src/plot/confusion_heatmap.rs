//! The confusion matrix as a heatmap with counts and row percentages in every cell.

use plotly::common::{ColorBar, ColorScale, ColorScalePalette, Font, Title};
use plotly::layout::{Annotation, Axis};
use plotly::{HeatMap, Layout, Plot};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::emotion::Emotion;
use crate::eval::ConfusionMatrix;
use crate::plot::bitmap::{category, text, with_title, Canvas, DrawResult};
use crate::plot::figure::Figure;

const AXES: (&str, &str) = ("predicted emotion", "true emotion");
const SCALE_TITLE: &str = "share of row";
/// plotly.js's "Blues" colour scale (stops and colours), which runs dark to light.
const BLUES: [(f64, [u8; 3]); 6] = [
    (0.0, [5, 10, 172]),
    (0.35, [40, 60, 190]),
    (0.5, [70, 100, 245]),
    (0.6, [90, 120, 245]),
    (0.7, [106, 137, 247]),
    (1.0, [220, 220, 220]),
];
/// Shares above this get white text: the cell behind is dark.
const DARK_CELL: f64 = 0.5;

/// A heatmap of `confusion`: rows are true emotions (angry at the top), columns predicted
/// ones. Cell colour is the row share (the diagonal is each emotion's recall), so the rare
/// disgust row is as readable as happy's; every cell is labelled with its count and share.
///
/// ```
/// # use fer_core::{eval::ConfusionMatrix, plot::confusion_heatmap, Emotion::*};
/// let cm = ConfusionMatrix::new(&[Happy, Sad, Sad], &[Happy, Sad, Happy])?;
/// let figure = confusion_heatmap(&cm, "CNN on PrivateTest");
/// // In a notebook: figure.evcxr_display();
/// # Ok::<(), fer_core::FerError>(())
/// ```
pub fn confusion_heatmap(confusion: &ConfusionMatrix, title: &str) -> Figure {
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
        .color_bar(ColorBar::new().tick_format(".0%").title(SCALE_TITLE));

    let mut annotations = Vec::with_capacity(Emotion::COUNT * Emotion::COUNT);
    for (t, truth) in Emotion::ALL.iter().enumerate() {
        for (p, predicted) in Emotion::ALL.iter().enumerate() {
            let share = shares[t][p];
            // Dark cells get white text.
            let colour = if share > DARK_CELL { "white" } else { "black" };
            let (count, percent) = cell_text(confusion.counts[t][p], share);
            annotations.push(
                Annotation::new()
                    .x(predicted.title())
                    .y(truth.title())
                    .text(format!("{count}<br>{percent}"))
                    .show_arrow(false)
                    .font(Font::new().color(colour).size(11)),
            );
        }
    }
    let title = format!(
        "{title} — accuracy {:.1}% on {} faces",
        100.0 * confusion.accuracy(),
        confusion.total()
    );
    let layout = Layout::new()
        .title(Title::with_text(&title))
        .x_axis(Axis::new().title(AXES.0))
        .y_axis(
            Axis::new()
                .title(AXES.1)
                // Categories are drawn bottom-up; reverse so angry is on top, like a table.
                .range(vec![Emotion::COUNT as f64 - 0.5, -0.5]),
        )
        .annotations(annotations)
        .width(720)
        .height(640);
    let mut plot = Plot::new();
    plot.add_trace(heatmap);
    plot.set_layout(layout);
    let counts = confusion.counts;
    Figure::new(plot, "confusion matrix", (720, 640), move |root| {
        let area = with_title(root, &title);
        let (cells, scale) = area.split_horizontally(area.dim_in_pixel().0 as i32 - 110);
        heatmap_cells(&cells, &counts, &shares)?;
        colour_scale(&scale)
    })
}

/// A cell's two lines of text, as plotly shows them and the static copy draws them: its count
/// and its share of the row, `("412", "65.0%")`.
fn cell_text(count: u64, share: f64) -> (String, String) {
    (count.to_string(), format!("{:.1}%", 100.0 * share))
}

/// The colour of `share` (0 to 1) on the heatmap's scale: plotly.js's Blues reversed (as the
/// plotly trace sets it), so 0 is light grey and 1 dark blue.
fn scale_colour(share: f64) -> RGBColor {
    let t = 1.0 - share.clamp(0.0, 1.0);
    let upper = BLUES
        .iter()
        .position(|&(stop, _)| stop >= t)
        .unwrap_or(BLUES.len() - 1)
        .max(1);
    let ((s0, c0), (s1, c1)) = (BLUES[upper - 1], BLUES[upper]);
    let w = if s1 > s0 { (t - s0) / (s1 - s0) } else { 0.0 };
    let mix = |a: u8, b: u8| (f64::from(a) + w * (f64::from(b) - f64::from(a))).round() as u8;
    RGBColor(mix(c0[0], c1[0]), mix(c0[1], c1[1]), mix(c0[2], c1[2]))
}

/// The grid of cells, angry's row on top as in plotly, each coloured by its row share and
/// labelled with its count and share.
fn heatmap_cells(
    area: &Canvas,
    counts: &[[u64; Emotion::COUNT]; Emotion::COUNT],
    shares: &[[f64; Emotion::COUNT]; Emotion::COUNT],
) -> DrawResult {
    let n = Emotion::COUNT;
    let names: Vec<String> = Emotion::ALL.iter().map(|e| e.title().to_string()).collect();
    // plotters' y grows upwards: row t sits at y = n - 1 - t, so its labels are reversed.
    let rows: Vec<String> = names.iter().rev().cloned().collect();
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(45)
        .y_label_area_size(90)
        .build_cartesian_2d(-0.5..n as f64 - 0.5, -0.5..n as f64 - 0.5)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(n)
        .y_labels(n)
        .x_desc(AXES.0)
        .y_desc(AXES.1)
        .x_label_formatter(&|x| category(&names, *x))
        .y_label_formatter(&|y| category(&rows, *y))
        .label_style(text(12))
        .axis_desc_style(text(14))
        .draw()?;
    for t in 0..n {
        let y = (n - 1 - t) as f64;
        for p in 0..n {
            let x = p as f64;
            let share = shares[t][p];
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                scale_colour(share).filled(),
            )))?;
            let colour = if share > DARK_CELL { WHITE } else { BLACK };
            let (count, percent) = cell_text(counts[t][p], share);
            let style = |v| text(11).color(&colour).pos(Pos::new(HPos::Center, v));
            chart.draw_series([
                // A little apart, so the two lines do not touch.
                Text::new(count, (x, y + 0.03), style(VPos::Bottom)),
                Text::new(percent, (x, y - 0.03), style(VPos::Top)),
            ])?;
        }
    }
    Ok(())
}

/// The colour bar right of the grid: the scale from 0% (bottom) to 100%, ticked every 20%.
fn colour_scale(area: &Canvas) -> DrawResult {
    let mut chart = ChartBuilder::on(area)
        .margin_top(10)
        .margin_bottom(55)
        .margin_right(10)
        .y_label_area_size(0)
        .right_y_label_area_size(45)
        .caption(SCALE_TITLE, text(12))
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(6)
        .y_label_formatter(&|y: &f64| format!("{:.0}%", 100.0 * y))
        .label_style(text(11))
        .draw()?;
    let steps = 100;
    chart.draw_series((0..steps).map(|i| {
        let (low, high) = (i as f64 / steps as f64, (i + 1) as f64 / steps as f64);
        Rectangle::new([(0.0, low), (1.0, high)], scale_colour(low).filled())
    }))?;
    Ok(())
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
        let figure = confusion_heatmap(&cm, "test");
        crate::plot::figure::assert_drawn(&figure);
        assert_eq!(figure.png_size(), (720, 640));
        let json: Value = serde_json::from_str(&figure.plot().to_json()).unwrap();
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

    #[test]
    fn cell_text_is_the_count_and_the_row_share() {
        // The matrix above: row happy holds 2 happy and 1 sad, row disgust 1 angry.
        let truth = [Happy, Happy, Happy, Sad, Disgust];
        let predicted = [Happy, Happy, Sad, Sad, Angry];
        let cm = ConfusionMatrix::new(&truth, &predicted).unwrap();
        let shares = cm.row_normalised();
        let cell = |t: Emotion, p: Emotion| {
            cell_text(
                cm.counts[t.index()][p.index()],
                shares[t.index()][p.index()],
            )
        };
        assert_eq!(cell(Happy, Happy), ("2".to_string(), "66.7%".to_string()));
        assert_eq!(cell(Happy, Sad), ("1".to_string(), "33.3%".to_string()));
        assert_eq!(
            cell(Disgust, Angry),
            ("1".to_string(), "100.0%".to_string())
        );
        assert_eq!(cell(Fear, Fear), ("0".to_string(), "0.0%".to_string()));
        assert_eq!(
            cell_text(412, 0.65),
            ("412".to_string(), "65.0%".to_string())
        );
    }

    #[test]
    fn the_static_scale_is_plotlys_reversed_blues() {
        assert_eq!(scale_colour(0.0), RGBColor(220, 220, 220));
        assert_eq!(scale_colour(1.0), RGBColor(5, 10, 172));
        // Share 0.5 is the reversed scale's stop 0.5, rgb(70,100,245).
        assert_eq!(scale_colour(0.5), RGBColor(70, 100, 245));
        // Halfway between the stops 0.7 and 1.0 (share 0.15), give or take float rounding.
        let RGBColor(r, g, b) = scale_colour(0.15);
        let near = |a: u8, b: u8| a.abs_diff(b) <= 1;
        assert!(near(r, 163) && near(g, 178) && near(b, 234), "{r} {g} {b}");
    }

    #[test]
    fn the_static_heatmap_shows_the_matrix() {
        let all_right = ConfusionMatrix::new(&[Happy, Sad], &[Happy, Sad]).unwrap();
        let all_wrong = ConfusionMatrix::new(&[Happy, Sad], &[Sad, Happy]).unwrap();
        let right = crate::plot::figure::assert_drawn(&confusion_heatmap(&all_right, "m"));
        let wrong = crate::plot::figure::assert_drawn(&confusion_heatmap(&all_wrong, "m"));
        assert_ne!(right, wrong);
        // The darkest blue fills the full cells only: two 100% cells in each.
        let dark = |image: &image::RgbImage| image.pixels().filter(|p| p.0 == [5, 10, 172]).count();
        assert!(dark(&right) > 1000, "{}", dark(&right));
        // Same number of full cells, in other places: about as many dark pixels.
        let (a, b) = (dark(&right) as f64, dark(&wrong) as f64);
        assert!((a / b - 1.0).abs() < 0.1, "{a} vs {b}");
    }
}
