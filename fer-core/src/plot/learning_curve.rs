//! A learning curve: how a model's accuracy grows with the number of training faces.

use plotly::common::{Line, Mode, Title};
use plotly::layout::{Axis, AxisType};
use plotly::{Layout, Plot, Scatter};

use crate::plot::palette::series_colour;

/// One line per named series of `(training faces, accuracy)` points, on a logarithmic faces
/// axis: a curve still rising at the right edge says more data would help.
///
/// ```
/// # use fer_core::plot::learning_curve;
/// let plot = learning_curve("HOG baseline", &[("validation", &[(2870, 0.41), (28709, 0.47)])]);
/// ```
pub fn learning_curve(model: &str, series: &[(&str, &[(usize, f64)])]) -> Plot {
    let mut plot = Plot::new();
    for (i, (name, points)) in series.iter().enumerate() {
        let (faces, accuracy): (Vec<usize>, Vec<f64>) = points.iter().copied().unzip();
        plot.add_trace(
            Scatter::new(faces, accuracy)
                .name(*name)
                .mode(Mode::LinesMarkers)
                .line(Line::new().color(series_colour(i))),
        );
    }
    plot.set_layout(
        Layout::new()
            .title(Title::with_text(format!(
                "{model}: accuracy against training-set size"
            )))
            .x_axis(Axis::new().title("training faces").type_(AxisType::Log))
            .y_axis(Axis::new().title("accuracy").tick_format(".0%")),
    );
    plot
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carries_every_point() {
        let json = learning_curve("m", &[("validation", &[(100, 0.3), (1000, 0.4)])]).to_json();
        assert!(
            json.contains("[100,1000]") && json.contains("[0.3,0.4]"),
            "{json}"
        );
        assert!(json.contains("\"log\""), "{json}");
    }
}
