//! Training curves: loss, accuracy and learning rate per epoch.

use plotly::common::{DashType, Line, Mode, Title};
use plotly::layout::{Axis, AxisType, GridPattern, LayoutGrid};
use plotly::{Layout, Plot, Scatter};
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;

use crate::cnn::EpochRecord;
use crate::plot::bitmap::{
    draw_curves, legend, padded_range, text, with_title, Canvas, Curve, DrawResult,
};
use crate::plot::figure::Figure;
use crate::plot::palette::{series_colour, series_rgb};

/// The panels' y-axis titles, top to bottom.
const PANELS: [&str; 3] = ["cross-entropy", "accuracy", "learning rate"];

/// Three stacked panels sharing the epoch axis: loss (train and validation), accuracy (train
/// and validation) and the learning rate (log scale). A validation loss that rises while the
/// training loss falls is over-fitting.
///
/// ```
/// # use fer_core::{cnn::EpochRecord, plot::training_curves};
/// let history = [EpochRecord { epoch: 1, train_loss: 1.8, train_accuracy: 0.25, val_loss: 1.7,
///     val_accuracy: 0.31, learning_rate: 1e-3, seconds: 60.0, images_per_s: 480.0 }];
/// let figure = training_curves(&history);
/// ```
pub fn training_curves(history: &[EpochRecord]) -> Figure {
    let epochs: Vec<usize> = history.iter().map(|r| r.epoch).collect();
    let column = |f: fn(&EpochRecord) -> f64| history.iter().map(f).collect::<Vec<f64>>();
    let series: [(&str, Vec<f64>, usize, &str, usize); 5] = [
        ("train loss", column(|r| r.train_loss), 0, "y", 0),
        ("validation loss", column(|r| r.val_loss), 1, "y", 0),
        ("train accuracy", column(|r| r.train_accuracy), 0, "y2", 1),
        (
            "validation accuracy",
            column(|r| r.val_accuracy),
            1,
            "y2",
            1,
        ),
        ("learning rate", column(|r| r.learning_rate), 2, "y3", 2),
    ];
    let mut plot = Plot::new();
    // Per panel, its lines, for the static copy.
    let mut panels: [Vec<Curve>; 3] = Default::default();
    for (name, values, colour, y_axis, panel) in series {
        let x_axis = if panel == 0 {
            "x".to_string()
        } else {
            format!("x{}", panel + 1)
        };
        let dash = if name.starts_with("train") {
            DashType::Dash
        } else {
            DashType::Solid
        };
        panels[panel].push(Curve {
            name: name.to_string(),
            colour: series_rgb(colour),
            dashed: name.starts_with("train"),
            markers: true,
            points: epochs
                .iter()
                .map(|&e| e as f64)
                .zip(values.iter().copied())
                .collect(),
        });
        plot.add_trace(
            Scatter::new(epochs.clone(), values)
                .name(name)
                .mode(Mode::LinesMarkers)
                .line(Line::new().color(series_colour(colour)).dash(dash))
                .x_axis(x_axis)
                .y_axis(y_axis),
        );
    }
    let best = history
        .iter()
        .max_by(|a, b| a.val_accuracy.total_cmp(&b.val_accuracy));
    let title = match best {
        Some(best) => format!(
            "Training curves — best validation accuracy {:.1}% at epoch {}",
            100.0 * best.val_accuracy,
            best.epoch
        ),
        None => "Training curves (no epochs yet)".to_string(),
    };
    let layout = Layout::new()
        .title(Title::with_text(&title))
        .grid(
            LayoutGrid::new()
                .rows(3)
                .columns(1)
                .pattern(GridPattern::Independent),
        )
        .y_axis(Axis::new().title(PANELS[0]))
        .y_axis2(Axis::new().title(PANELS[1]).tick_format(".0%"))
        .y_axis3(Axis::new().title(PANELS[2]).type_(AxisType::Log))
        .x_axis(Axis::new().matches("x3"))
        .x_axis2(Axis::new().matches("x3"))
        .x_axis3(Axis::new().title("epoch"))
        .height(820);
    plot.set_layout(layout);
    let x = padded_range(epochs.iter().map(|&e| e as f64), 0.0..1.0);
    Figure::new(plot, "training curves", (900, 820), move |root| {
        let area = with_title(root, &title);
        let areas = area.split_evenly((3, 1));
        let values = |p: usize| {
            panels[p]
                .iter()
                .flat_map(|c| c.points.iter().map(|pt| pt.1))
        };
        // Only the bottom panel names the shared epoch axis, as in plotly.
        panel(
            &areas[0],
            &panels[0],
            x.clone(),
            padded_range(values(0), 0.0..1.0),
            ("", PANELS[0]),
            SeriesLabelPosition::UpperRight,
            &|y| format!("{y:.2}"),
        )?;
        panel(
            &areas[1],
            &panels[1],
            x.clone(),
            padded_range(values(1), 0.0..1.0),
            ("", PANELS[1]),
            // Accuracy rises: the lower right is where the lines are not.
            SeriesLabelPosition::LowerRight,
            &|y| format!("{:.0}%", 100.0 * y),
        )?;
        // A log axis needs positive bounds: a fifth either side of the rates, in ratio.
        let rates = values(2).filter(|&r| r > 0.0);
        let low = rates.clone().fold(f64::INFINITY, f64::min);
        let high = rates.fold(0.0, f64::max);
        let (low, high) = if high > 0.0 {
            (low / 1.2, high * 1.2)
        } else {
            (1e-4, 1e-2)
        };
        panel(
            &areas[2],
            &panels[2],
            x.clone(),
            (low..high).log_scale(),
            ("epoch", PANELS[2]),
            SeriesLabelPosition::UpperRight,
            &|y| format!("{y:.0e}"),
        )
    })
}

/// One panel: `curves` over the epochs on `y`, with its axes' titles and its own legend at
/// `legend_at`.
fn panel<Y>(
    area: &Canvas,
    curves: &[Curve],
    x: std::ops::Range<f64>,
    y: Y,
    (x_title, y_title): (&str, &str),
    legend_at: SeriesLabelPosition,
    y_label: &dyn Fn(&f64) -> String,
) -> DrawResult
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(if x_title.is_empty() { 30 } else { 45 })
        .y_label_area_size(70)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .x_desc(x_title)
        .y_desc(y_title)
        // Whole epochs only.
        .x_label_formatter(&|e| {
            if e.fract() == 0.0 {
                format!("{e}")
            } else {
                String::new()
            }
        })
        .y_label_formatter(y_label)
        .label_style(text(12))
        .axis_desc_style(text(14))
        .draw()?;
    draw_curves(&mut chart, curves)?;
    legend(&mut chart, legend_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn record(epoch: usize, val_accuracy: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            train_loss: 2.0 / epoch as f64,
            train_accuracy: 0.2 * epoch as f64,
            val_loss: 1.9 / epoch as f64,
            val_accuracy,
            learning_rate: 1e-3 / epoch as f64,
            seconds: 10.0,
            images_per_s: 100.0,
        }
    }

    #[test]
    fn curves_hold_the_history_and_the_title_the_best_epoch() {
        let history = [record(1, 0.30), record(2, 0.45), record(3, 0.41)];
        let figure = training_curves(&history);
        crate::plot::figure::assert_drawn(&figure);
        assert_eq!(figure.png_size(), (900, 820));
        let json: Value = serde_json::from_str(&figure.plot().to_json()).unwrap();
        let data = json["data"].as_array().unwrap();
        assert_eq!(data.len(), 5);
        assert_eq!(data[0]["x"], serde_json::json!([1, 2, 3]));
        assert_eq!(data[3]["name"], "validation accuracy");
        assert_eq!(data[3]["y"], serde_json::json!([0.30, 0.45, 0.41]));
        assert_eq!(data[4]["y"][1], 5e-4);
        assert_eq!(data[4]["yaxis"], "y3");
        let title = json["layout"]["title"]["text"].as_str().unwrap();
        assert!(title.contains("45.0% at epoch 2"), "{title}");
        let empty = training_curves(&[]);
        assert!(empty.plot().to_json().contains("no epochs yet"));
        // No epochs still draws three empty panels.
        assert!(empty.png().is_ok());
    }

    #[test]
    fn the_static_copy_has_a_line_in_every_panel() {
        let history = [record(1, 0.30), record(2, 0.45), record(3, 0.41)];
        let image = crate::plot::figure::assert_drawn(&training_curves(&history));
        // Blue (train loss, train accuracy) and green (learning rate) marks fall in their
        // thirds: loss and accuracy top and middle, the rate at the bottom.
        let rows_with = |c: RGBColor| -> Vec<u32> {
            (0..image.height())
                .filter(|&y| (0..image.width()).any(|x| image.get_pixel(x, y).0 == [c.0, c.1, c.2]))
                .collect()
        };
        let third = image.height() / 3;
        let blue = rows_with(series_rgb(0));
        assert!(
            blue.iter().any(|&y| y < third)
                && blue.iter().any(|&y| (third..2 * third).contains(&y))
        );
        let green = rows_with(series_rgb(2));
        assert!(
            !green.is_empty() && green.iter().all(|&y| y >= 2 * third),
            "{green:?}"
        );
    }
}
