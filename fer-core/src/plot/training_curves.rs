//! Training curves: loss, accuracy and learning rate per epoch.

use plotly::common::{DashType, Line, Mode, Title};
use plotly::layout::{Axis, AxisType, GridPattern, LayoutGrid};
use plotly::{Layout, Plot, Scatter};

use crate::cnn::EpochRecord;
use crate::plot::palette::series_colour;

/// Three stacked panels sharing the epoch axis: loss (train and validation), accuracy (train
/// and validation) and the learning rate (log scale). A validation loss that rises while the
/// training loss falls is over-fitting.
///
/// ```
/// # use fer_core::{cnn::EpochRecord, plot::training_curves};
/// let history = [EpochRecord { epoch: 1, train_loss: 1.8, train_accuracy: 0.25, val_loss: 1.7,
///     val_accuracy: 0.31, learning_rate: 1e-3, seconds: 60.0, images_per_s: 480.0 }];
/// let plot = training_curves(&history);
/// ```
pub fn training_curves(history: &[EpochRecord]) -> Plot {
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
        .title(Title::with_text(title))
        .grid(
            LayoutGrid::new()
                .rows(3)
                .columns(1)
                .pattern(GridPattern::Independent),
        )
        .y_axis(Axis::new().title("cross-entropy"))
        .y_axis2(Axis::new().title("accuracy").tick_format(".0%"))
        .y_axis3(Axis::new().title("learning rate").type_(AxisType::Log))
        .x_axis(Axis::new().matches("x3"))
        .x_axis2(Axis::new().matches("x3"))
        .x_axis3(Axis::new().title("epoch"))
        .height(820);
    plot.set_layout(layout);
    plot
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
        let plot = training_curves(&history);
        let json: Value = serde_json::from_str(&plot.to_json()).unwrap();
        let data = json["data"].as_array().unwrap();
        assert_eq!(data.len(), 5);
        assert_eq!(data[0]["x"], serde_json::json!([1, 2, 3]));
        assert_eq!(data[3]["name"], "validation accuracy");
        assert_eq!(data[3]["y"], serde_json::json!([0.30, 0.45, 0.41]));
        assert_eq!(data[4]["y"][1], 5e-4);
        assert_eq!(data[4]["yaxis"], "y3");
        let title = json["layout"]["title"]["text"].as_str().unwrap();
        assert!(title.contains("45.0% at epoch 2"), "{title}");
        assert!(training_curves(&[]).to_json().contains("no epochs yet"));
    }
}
