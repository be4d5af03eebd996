//! The reliability diagram: accuracy against confidence, bin by bin.

use plotly::common::{DashType, Line, Marker, Mode, Title};
use plotly::layout::{Axis, BarMode};
use plotly::{Bar, Layout, Plot, Scatter};
use plotters::prelude::*;

use crate::eval::Calibration;
use crate::plot::bitmap::{draw_curves, legend, text, with_title, Canvas, Curve, DrawResult};
use crate::plot::figure::Figure;
use crate::plot::palette::{series_colour, series_rgb};

const TITLE: &str = "Reliability diagram";
const DIAGONAL: &str = "perfect calibration";
/// The diagonal's colour, plotly's "#999999".
const DIAGONAL_GREY: RGBColor = RGBColor(0x99, 0x99, 0x99);
const X_TITLE: &str = "confidence (highest probability)";

/// Accuracy against mean confidence in each non-empty bin, one line per model, above the
/// diagonal of perfect calibration; points below the diagonal are over-confident. A lower
/// panel shows how many faces fall in each bin. The legend gives each model's ECE.
///
/// ```
/// # use fer_core::{eval::{Calibration, DEFAULT_CALIBRATION_BINS}, plot::reliability_diagram, Emotion::*};
/// # use ndarray::array;
/// let p = array![[0.0f32, 0.0, 0.0, 0.8, 0.2, 0.0, 0.0]];
/// let calibration = Calibration::new(&[Happy], p.view(), DEFAULT_CALIBRATION_BINS)?;
/// let figure = reliability_diagram(&[("cnn", &calibration)]);
/// # Ok::<(), fer_core::FerError>(())
/// ```
pub fn reliability_diagram(models: &[(&str, &Calibration)]) -> Figure {
    let mut plot = Plot::new();
    // The static copy's lines (diagonal first, as the traces) and, per model, its bins as
    // (lower, upper, count).
    let mut curves = vec![Curve {
        name: DIAGONAL.to_string(),
        colour: DIAGONAL_GREY,
        dashed: true,
        markers: false,
        points: vec![(0.0, 0.0), (1.0, 1.0)],
    }];
    let mut bins: Vec<Vec<(f64, f64, u64)>> = Vec::with_capacity(models.len());
    plot.add_trace(
        Scatter::new(vec![0.0, 1.0], vec![0.0, 1.0])
            .mode(Mode::Lines)
            .name(DIAGONAL)
            .line(Line::new().color("#999999").dash(DashType::Dash)),
    );
    for (m, (model, calibration)) in models.iter().enumerate() {
        let filled: Vec<_> = calibration.bins.iter().filter(|b| b.count > 0).collect();
        let confidence: Vec<f64> = filled.iter().filter_map(|b| b.mean_confidence).collect();
        let accuracy: Vec<f64> = filled.iter().filter_map(|b| b.accuracy).collect();
        let hover: Vec<String> = filled
            .iter()
            .map(|b| format!("bin ({:.2}, {:.2}]: {} faces", b.lower, b.upper, b.count))
            .collect();
        let colour = series_colour(m);
        let name = format!(
            "{model} (ECE {:.3})",
            calibration.expected_calibration_error
        );
        curves.push(Curve {
            name: name.clone(),
            colour: series_rgb(m),
            dashed: false,
            markers: true,
            points: confidence
                .iter()
                .copied()
                .zip(accuracy.iter().copied())
                .collect(),
        });
        bins.push(
            calibration
                .bins
                .iter()
                .map(|b| (b.lower, b.upper, b.count))
                .collect(),
        );
        plot.add_trace(
            Scatter::new(confidence, accuracy)
                .mode(Mode::LinesMarkers)
                .name(name)
                .legend_group(*model)
                .line(Line::new().color(colour))
                .marker(Marker::new().color(colour).size(8))
                .hover_text_array(hover)
                .hover_template(format!(
                    "{model}<br>confidence %{{x:.3}}<br>accuracy %{{y:.3}}<br>%{{hovertext}}<extra></extra>"
                )),
        );
        let centres: Vec<f64> = calibration
            .bins
            .iter()
            .map(|b| (b.lower + b.upper) / 2.0)
            .collect();
        let counts: Vec<u64> = calibration.bins.iter().map(|b| b.count).collect();
        plot.add_trace(
            Bar::new(centres, counts)
                .name(format!("{model}: faces per bin"))
                .legend_group(*model)
                .show_legend(false)
                .marker(Marker::new().color(colour))
                .x_axis("x2")
                .y_axis("y2"),
        );
    }
    let layout = Layout::new()
        .title(Title::with_text(TITLE))
        .x_axis(
            Axis::new()
                .range(vec![0.0, 1.0])
                .anchor("y")
                .matches("x2")
                .show_tick_labels(false),
        )
        .y_axis(
            Axis::new()
                .title("accuracy")
                .range(vec![0.0, 1.0])
                .domain(&[0.32, 1.0]),
        )
        .x_axis2(
            Axis::new()
                .title(X_TITLE)
                .range(vec![0.0, 1.0])
                .anchor("y2"),
        )
        .y_axis2(Axis::new().title("faces").domain(&[0.0, 0.24]).anchor("x2"))
        .bar_mode(BarMode::Group)
        .width(640)
        .height(720);
    plot.set_layout(layout);
    Figure::new(plot, "reliability diagram", (640, 720), move |root| {
        let area = with_title(root, TITLE);
        // The plotly panels' domains: accuracy on the top two thirds, faces below.
        let height = area.dim_in_pixel().1 as i32;
        let (top, bottom) = area.split_vertically(height * 7 / 10);
        accuracy_panel(&top, &curves)?;
        faces_panel(&bottom, &bins)
    })
}

/// Accuracy against confidence: the diagonal and the models' lines, on the unit square.
fn accuracy_panel(area: &Canvas, curves: &[Curve]) -> DrawResult {
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        // The x axis is shared with the panel below, which labels it.
        .x_label_area_size(10)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
    chart
        .configure_mesh()
        .y_desc("accuracy")
        .x_label_formatter(&|_| String::new())
        .label_style(text(12))
        .axis_desc_style(text(14))
        .draw()?;
    draw_curves(&mut chart, curves)?;
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

/// Faces per bin, the models' bars side by side within each bin.
fn faces_panel(area: &Canvas, bins: &[Vec<(f64, f64, u64)>]) -> DrawResult {
    let top = bins
        .iter()
        .flatten()
        .map(|&(_, _, count)| count)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..1.0, 0.0..top * 1.05)?;
    chart
        .configure_mesh()
        .x_desc(X_TITLE)
        .y_desc("faces")
        .y_labels(4)
        .y_label_formatter(&|y: &f64| format!("{}", y.round()))
        .label_style(text(12))
        .axis_desc_style(text(14))
        .draw()?;
    let models = bins.len().max(1) as f64;
    for (m, model_bins) in bins.iter().enumerate() {
        let colour = series_rgb(m);
        chart.draw_series(model_bins.iter().map(|&(lower, upper, count)| {
            // plotly's grouped bars: 80% of the bin, shared by the models.
            let slot = 0.8 * (upper - lower) / models;
            let left = lower + 0.1 * (upper - lower) + m as f64 * slot;
            Rectangle::new([(left, 0.0), (left + slot, count as f64)], colour.filled())
        }))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emotion::Emotion::*;
    use ndarray::array;
    use serde_json::Value;

    #[test]
    fn points_are_the_non_empty_bins() {
        let p = array![
            [0.9f32, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0],
            [0.9, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.5, 0.5, 0.0, 0.0],
        ];
        let calibration = Calibration::new(&[Angry, Fear, Happy], p.view(), 10).unwrap();
        let figure = reliability_diagram(&[("cnn", &calibration)]);
        crate::plot::figure::assert_drawn(&figure);
        assert_eq!(figure.png_size(), (640, 720));
        let json: Value = serde_json::from_str(&figure.plot().to_json()).unwrap();
        let data = json["data"].as_array().unwrap();
        assert_eq!(data.len(), 3); // diagonal, points, counts
        let x: Vec<f64> = serde_json::from_value(data[1]["x"].clone()).unwrap();
        let y: Vec<f64> = serde_json::from_value(data[1]["y"].clone()).unwrap();
        assert_eq!(y, [1.0, 0.5]); // bins (0.4, 0.5] and (0.8, 0.9]
        assert!(
            (x[0] - 0.5).abs() < 1e-6 && (x[1] - 0.9).abs() < 1e-6,
            "{x:?}"
        );
        let counts: Vec<u64> = serde_json::from_value(data[2]["y"].clone()).unwrap();
        assert_eq!(counts, [0, 0, 0, 0, 1, 0, 0, 0, 2, 0]);
        assert!(data[1]["name"].as_str().unwrap().contains("ECE 0.433"));
    }

    #[test]
    fn the_static_copy_draws_the_diagonal_and_the_models_points() {
        let p = array![[0.9f32, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0]];
        let calibration = Calibration::new(&[Angry], p.view(), 10).unwrap();
        let one = reliability_diagram(&[("cnn", &calibration)]);
        let two = reliability_diagram(&[("cnn", &calibration), ("base", &calibration)]);
        let count = |image: &image::RgbImage, c: RGBColor| {
            image.pixels().filter(|p| p.0 == [c.0, c.1, c.2]).count()
        };
        let (one, two) = (
            crate::plot::figure::assert_drawn(&one),
            crate::plot::figure::assert_drawn(&two),
        );
        assert!(count(&one, DIAGONAL_GREY) > 200, "no diagonal");
        // The second model's colour only when there is a second model.
        assert_eq!(count(&one, series_rgb(1)), 0);
        assert!(count(&two, series_rgb(1)) > 50);
    }
}
