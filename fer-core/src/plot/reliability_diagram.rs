//! The reliability diagram: accuracy against confidence, bin by bin.

use plotly::common::{DashType, Line, Marker, Mode, Title};
use plotly::layout::{Axis, BarMode};
use plotly::{Bar, Layout, Plot, Scatter};

use crate::eval::Calibration;
use crate::plot::palette::series_colour;

/// Accuracy against mean confidence in each non-empty bin, one line per model, above the
/// diagonal of perfect calibration; points below the diagonal are over-confident. A lower
/// panel shows how many faces fall in each bin. The legend gives each model's ECE.
///
/// ```
/// # use fer_core::{eval::{Calibration, DEFAULT_CALIBRATION_BINS}, plot::reliability_diagram, Emotion::*};
/// # use ndarray::array;
/// let p = array![[0.0f32, 0.0, 0.0, 0.8, 0.2, 0.0, 0.0]];
/// let calibration = Calibration::new(&[Happy], p.view(), DEFAULT_CALIBRATION_BINS)?;
/// let plot = reliability_diagram(&[("cnn", &calibration)]);
/// # Ok::<(), fer_core::FerError>(())
/// ```
pub fn reliability_diagram(models: &[(&str, &Calibration)]) -> Plot {
    let mut plot = Plot::new();
    plot.add_trace(
        Scatter::new(vec![0.0, 1.0], vec![0.0, 1.0])
            .mode(Mode::Lines)
            .name("perfect calibration")
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
        plot.add_trace(
            Scatter::new(confidence, accuracy)
                .mode(Mode::LinesMarkers)
                .name(format!(
                    "{model} (ECE {:.3})",
                    calibration.expected_calibration_error
                ))
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
        .title(Title::with_text("Reliability diagram"))
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
                .title("confidence (highest probability)")
                .range(vec![0.0, 1.0])
                .anchor("y2"),
        )
        .y_axis2(Axis::new().title("faces").domain(&[0.0, 0.24]).anchor("x2"))
        .bar_mode(BarMode::Group)
        .width(640)
        .height(720);
    plot.set_layout(layout);
    plot
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
        let plot = reliability_diagram(&[("cnn", &calibration)]);
        let json: Value = serde_json::from_str(&plot.to_json()).unwrap();
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
}
