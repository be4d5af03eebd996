//! A learning curve: how a model's accuracy grows with the number of training faces.

use plotly::common::{Line, Mode, Title};
use plotly::layout::{Axis, AxisType};
use plotly::{Layout, Plot, Scatter};
use plotters::prelude::*;

use crate::plot::bitmap::{draw_curves, legend, padded_range, text, with_title, Curve};
use crate::plot::figure::Figure;
use crate::plot::palette::{series_colour, series_rgb};

const AXES: (&str, &str) = ("training faces", "accuracy");

/// One line per named series of `(training faces, accuracy)` points, on a logarithmic faces
/// axis: a curve still rising at the right edge says more data would help.
///
/// ```
/// # use fer_core::plot::learning_curve;
/// let figure = learning_curve("HOG baseline", &[("validation", &[(2870, 0.41), (28709, 0.47)])]);
/// ```
pub fn learning_curve(model: &str, series: &[(&str, &[(usize, f64)])]) -> Figure {
    let mut plot = Plot::new();
    let mut curves = Vec::with_capacity(series.len());
    for (i, (name, points)) in series.iter().enumerate() {
        let (faces, accuracy): (Vec<usize>, Vec<f64>) = points.iter().copied().unzip();
        curves.push(Curve {
            name: name.to_string(),
            colour: series_rgb(i),
            dashed: false,
            markers: true,
            points: points.iter().map(|&(f, a)| (f as f64, a)).collect(),
        });
        plot.add_trace(
            Scatter::new(faces, accuracy)
                .name(*name)
                .mode(Mode::LinesMarkers)
                .line(Line::new().color(series_colour(i))),
        );
    }
    let title = format!("{model}: accuracy against training-set size");
    plot.set_layout(
        Layout::new()
            .title(Title::with_text(&title))
            .x_axis(Axis::new().title(AXES.0).type_(AxisType::Log))
            .y_axis(Axis::new().title(AXES.1).tick_format(".0%")),
    );
    // plotly's default figure height.
    Figure::new(plot, "learning curve", (900, 450), move |root| {
        let area = with_title(root, &title);
        let points = || curves.iter().flat_map(|c| c.points.iter());
        // A log axis needs positive bounds: a tenth either side of the points, in ratio.
        let faces = points().map(|p| p.0).filter(|&f| f > 0.0);
        let low = faces.clone().fold(f64::INFINITY, f64::min);
        let high = faces.fold(0.0, f64::max);
        let (low, high) = if high > 0.0 {
            (low / 1.25, high * 1.25)
        } else {
            (1.0, 10.0)
        };
        let y = padded_range(points().map(|p| p.1), 0.0..1.0);
        let mut chart = ChartBuilder::on(&area)
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d((low..high).log_scale(), y)?;
        chart
            .configure_mesh()
            .x_desc(AXES.0)
            .y_desc(AXES.1)
            .x_label_formatter(&|x: &f64| format!("{}", x.round()))
            // plotly's ".0%".
            .y_label_formatter(&|y: &f64| format!("{:.0}%", 100.0 * y))
            .label_style(text(12))
            .axis_desc_style(text(14))
            .draw()?;
        draw_curves(&mut chart, &curves)?;
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carries_every_point() {
        let figure = learning_curve("m", &[("validation", &[(100, 0.3), (1000, 0.4)])]);
        let json = figure.plot().to_json();
        assert!(
            json.contains("[100,1000]") && json.contains("[0.3,0.4]"),
            "{json}"
        );
        assert!(json.contains("\"log\""), "{json}");
        crate::plot::figure::assert_drawn(&figure);
        assert_eq!(figure.png_size(), (900, 450));
    }

    #[test]
    fn the_static_line_rises_with_the_accuracy() {
        // The line's leftmost pixels (fewest faces) sit lower when accuracy grows, higher when
        // it falls.
        let blue = series_rgb(0);
        let left_end_row = |points: &[(usize, f64)]| {
            let figure = learning_curve("m", &[("validation", points)]);
            let image = crate::plot::figure::assert_drawn(&figure);
            let is_blue = |x: u32, y: u32| image.get_pixel(x, y).0 == [blue.0, blue.1, blue.2];
            // Left of the legend, which sits lower right.
            let x = (0..image.width() / 2)
                .find(|&x| (0..image.height()).any(|y| is_blue(x, y)))
                .unwrap();
            (0..image.height()).find(|&y| is_blue(x, y)).unwrap()
        };
        let rising = left_end_row(&[(100, 0.2), (10_000, 0.8)]);
        let falling = left_end_row(&[(100, 0.8), (10_000, 0.2)]);
        assert!(rising > falling + 100, "{rising} vs {falling}");
    }
}
