//! Error-analysis figures: confidence distributions per class, two models' disagreements,
//! and an augmentation preview.

use ndarray::ArrayView2;
use plotly::layout::{Axis, BoxMode, CategoryOrder, Layout};
use plotly::{BoxPlot, Plot};
use plotters::prelude::*;

use crate::data::augment::AugmentPipeline;
use crate::data::{Dataset, Face};
use crate::emotion::Emotion;
use crate::error::Result;
use crate::eval::{check_probabilities, disagreements, predicted_labels, spread_disagreements};
use crate::plot::bitmap::{category, legend, text, with_title, Canvas, DrawResult};
use crate::plot::face_grid::FaceGrid;
use crate::plot::figure::Figure;
use crate::plot::palette::series_rgb;

const CONFIDENCE_AXES: (&str, &str) = ("true emotion", "confidence");

/// Box plots of the model's confidence (probability of its predicted emotion) for each true
/// emotion, right and wrong predictions side by side: a well-behaved model is confident when
/// right and hesitant when wrong.
///
/// ```
/// # use fer_core::{plot::confidence_distribution, Emotion::*};
/// # use ndarray::array;
/// let p = array![[0.8f32, 0.2, 0., 0., 0., 0., 0.], [0.6, 0.4, 0., 0., 0., 0., 0.]];
/// let figure = confidence_distribution(&[Angry, Disgust], p.view(), "cnn")?;
/// # Ok::<(), fer_core::FerError>(())
/// ```
pub fn confidence_distribution(
    truth: &[Emotion],
    probabilities: ArrayView2<f32>,
    model: &str,
) -> Result<Figure> {
    check_probabilities(truth, probabilities)?;
    let predicted = predicted_labels(probabilities)?;
    let mut plot = Plot::new();
    // Per group (right, wrong), per true emotion: the confidences, for the static copy.
    let mut groups: Vec<(&str, Vec<Vec<f64>>)> = Vec::new();
    for (label, want_right) in [("right", true), ("wrong", false)] {
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        let mut per_emotion = vec![Vec::new(); Emotion::COUNT];
        for (i, (&t, &p)) in truth.iter().zip(&predicted).enumerate() {
            if (t == p) == want_right {
                let confidence = f64::from(probabilities[[i, p.index()]]);
                xs.push(t.name().to_string());
                ys.push(confidence);
                per_emotion[t.index()].push(confidence);
            }
        }
        plot.add_trace(BoxPlot::new_xy(xs, ys).name(label));
        groups.push((label, per_emotion));
    }
    let title = format!("{model}: confidence per true emotion, right vs wrong");
    plot.set_layout(
        Layout::new()
            .title(title.as_str())
            .box_mode(BoxMode::Group)
            .x_axis(
                Axis::new()
                    .title(CONFIDENCE_AXES.0)
                    // Label order, not the order the data happens to list them.
                    .category_order(CategoryOrder::Array)
                    .category_array(Emotion::ALL.iter().map(|e| e.name()).collect()),
            )
            .y_axis(Axis::new().title(CONFIDENCE_AXES.1).range(vec![0.0, 1.0])),
    );
    // plotly's default figure height.
    Ok(Figure::new(
        plot,
        "confidence distribution",
        (900, 450),
        move |root| {
            let area = with_title(root, &title);
            box_groups(&area, &groups)
        },
    ))
}

/// What a box plot draws of some values: quartiles (linear interpolation between ranks),
/// whiskers to the furthest values within 1.5 interquartile ranges of the box, and the values
/// beyond them, as plotly's defaults draw them.
#[derive(Debug, Clone, PartialEq)]
struct BoxStats {
    low_whisker: f64,
    q1: f64,
    median: f64,
    q3: f64,
    high_whisker: f64,
    outliers: Vec<f64>,
}

/// The box of `values`, or `None` without values (plotly draws no box then).
fn box_stats(values: &[f64]) -> Option<BoxStats> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let last = sorted.len().checked_sub(1)?;
    let quantile = |q: f64| {
        let rank = q * last as f64;
        let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
        sorted[low] + (rank - low as f64) * (sorted[high] - sorted[low])
    };
    let (q1, median, q3) = (quantile(0.25), quantile(0.5), quantile(0.75));
    let fence = 1.5 * (q3 - q1);
    let inside = |v: &&f64| **v >= q1 - fence && **v <= q3 + fence;
    let low_whisker = *sorted.iter().find(inside).unwrap_or(&q1);
    let high_whisker = *sorted.iter().rev().find(inside).unwrap_or(&q3);
    let outliers = sorted.iter().copied().filter(|v| !inside(&v)).collect();
    Some(BoxStats {
        low_whisker,
        q1,
        median,
        q3,
        high_whisker,
        outliers,
    })
}

/// Grouped box plots over the emotions: per group (legend name, values per emotion), one box
/// per emotion, the groups side by side in the palette's series colours.
fn box_groups(area: &Canvas, groups: &[(&str, Vec<Vec<f64>>)]) -> DrawResult {
    let n = Emotion::COUNT;
    let names: Vec<String> = Emotion::ALL.iter().map(|e| e.name().to_string()).collect();
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5..n as f64 - 0.5, 0.0..1.0)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_desc(CONFIDENCE_AXES.0)
        .y_desc(CONFIDENCE_AXES.1)
        .x_label_formatter(&|x| category(&names, *x))
        .y_label_formatter(&|y: &f64| format!("{}", (y * 1000.0).round() / 1000.0))
        .label_style(text(12))
        .axis_desc_style(text(14))
        .draw()?;
    let slot = 0.8 / groups.len().max(1) as f64;
    for (g, (name, per_emotion)) in groups.iter().enumerate() {
        let colour = series_rgb(g);
        let boxes: Vec<(f64, BoxStats)> = per_emotion
            .iter()
            .enumerate()
            .filter_map(|(i, values)| {
                let centre = i as f64 - 0.4 + (g as f64 + 0.5) * slot;
                box_stats(values).map(|stats| (centre, stats))
            })
            .collect();
        let half = slot * 0.4;
        let outline = colour.stroke_width(2);
        chart
            .draw_series(boxes.iter().map(|(x, b)| {
                Rectangle::new(
                    [(x - half, b.q1), (x + half, b.q3)],
                    colour.mix(0.3).filled(),
                )
            }))?
            .label(name.to_string())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
        chart.draw_series(
            boxes
                .iter()
                .map(|(x, b)| Rectangle::new([(x - half, b.q1), (x + half, b.q3)], outline)),
        )?;
        for (x, b) in &boxes {
            let line = |points: Vec<(f64, f64)>| PathElement::new(points, outline);
            chart.draw_series([
                line(vec![(x - half, b.median), (x + half, b.median)]),
                line(vec![(*x, b.q3), (*x, b.high_whisker)]),
                line(vec![(*x, b.q1), (*x, b.low_whisker)]),
                line(vec![
                    (x - half / 2.0, b.high_whisker),
                    (x + half / 2.0, b.high_whisker),
                ]),
                line(vec![
                    (x - half / 2.0, b.low_whisker),
                    (x + half / 2.0, b.low_whisker),
                ]),
            ])?;
            chart.draw_series(
                b.outliers
                    .iter()
                    .map(|&v| Circle::new((*x, v), 2, colour.filled())),
            )?;
        }
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight)
}

/// Up to `count` faces where models A and B predict different emotions, each captioned
/// `true:A/B` with three-letter names. The faces are spread over the true emotions and, within
/// one, the ones where the models differ most come first (see [`spread_disagreements`]), so
/// the gallery shows the range of disagreements rather than the first rows of a file sorted by
/// emotion.
pub fn disagreement_gallery(
    dataset: &Dataset,
    probabilities_a: ArrayView2<f32>,
    probabilities_b: ArrayView2<f32>,
    names: (&str, &str),
    count: usize,
) -> Result<FaceGrid> {
    let shown = spread_disagreements(dataset.labels(), probabilities_a, probabilities_b, count)?;
    let total = disagreements(probabilities_a, probabilities_b)?.len();
    let a = predicted_labels(probabilities_a)?;
    let b = predicted_labels(probabilities_b)?;
    let mut grid = FaceGrid::new(8)?.with_title(format!(
        "{} of {} faces where {} and {} disagree, by true emotion, most different first \
         (true:{}/{})",
        shown.len(),
        total,
        names.0,
        names.1,
        names.0,
        names.1
    ));
    for &i in &shown {
        grid.push(
            dataset.face(i),
            format!(
                "{}:{}/{}",
                short(dataset.labels()[i]),
                short(a[i]),
                short(b[i])
            ),
        );
    }
    Ok(grid)
}

/// `face` and `n` augmented versions of it under the default pipeline (first row) and the
/// strong one (second row); the same seed shows the same versions.
pub fn augmentation_preview(face: &Face, n: usize, seed: u64) -> Result<FaceGrid> {
    let mut grid = FaceGrid::new(n + 1)?.with_title(format!(
        "Augmentation preview (seed {seed}): default row 1, strong row 2"
    ));
    for (name, pipeline) in [
        ("default", AugmentPipeline::default()),
        ("strong", AugmentPipeline::strong()),
    ] {
        for (i, version) in pipeline.preview(face, n, seed).iter().enumerate() {
            let caption = if i == 0 {
                "original".to_string()
            } else {
                format!("{name} {i}")
            };
            grid.push(version, caption);
        }
    }
    Ok(grid)
}

fn short(emotion: Emotion) -> &'static str {
    &emotion.name()[..3]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Origin, Usage, IMAGE_PIXELS};
    use ndarray::{array, Array2};

    #[test]
    fn confidence_boxes_split_right_from_wrong() {
        use Emotion::*;
        let p = array![
            [0.8f32, 0.2, 0., 0., 0., 0., 0.],
            [0.3, 0.7, 0., 0., 0., 0., 0.],
            [0.6, 0.4, 0., 0., 0., 0., 0.],
        ];
        let figure = confidence_distribution(&[Angry, Disgust, Disgust], p.view(), "m").unwrap();
        crate::plot::figure::assert_drawn(&figure);
        assert_eq!(figure.png_size(), (900, 450));
        let json = figure.plot().to_json();
        assert_eq!(json.matches("\"type\":\"box\"").count(), 2, "{json}");
        // Right: 0.8 (angry) and 0.7 (disgust); wrong: 0.6 (a disgust face called angry); the
        // f32 values widened to f64.
        assert!(
            json.contains("[0.800000011920929,0.699999988079071]"),
            "{json}"
        );
        assert!(json.contains("[0.6000000238418579]"), "{json}");
    }

    #[test]
    fn box_stats_are_quartiles_whiskers_and_outliers() {
        assert_eq!(box_stats(&[]), None);
        let one = box_stats(&[0.4]).unwrap();
        assert_eq!((one.q1, one.median, one.q3), (0.4, 0.4, 0.4));
        // 1..=8 and a far value: quartiles 3, 5, 7 (ranks 2, 4, 6 of 0..=8), fences 1.5 x 4
        // beyond the box, so 100 is an outlier and the top whisker stops at 8.
        let b = box_stats(&[100.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0]).unwrap();
        assert_eq!((b.q1, b.median, b.q3), (3.0, 5.0, 7.0));
        assert_eq!((b.low_whisker, b.high_whisker), (1.0, 8.0));
        assert_eq!(b.outliers, vec![100.0]);
        // Interpolated between ranks: 4 values, the median halfway between the middle two.
        assert_eq!(box_stats(&[0.0, 1.0, 2.0, 3.0]).unwrap().median, 1.5);
    }

    #[test]
    fn the_static_boxes_follow_the_confidences() {
        use Emotion::*;
        // All right, confidences high versus low: the blue boxes sit higher in the first.
        let high = array![
            [0.9f32, 0.1, 0., 0., 0., 0., 0.],
            [0.95, 0.05, 0., 0., 0., 0., 0.]
        ];
        let low = array![
            [0.38f32, 0.3, 0.32, 0., 0., 0., 0.],
            [0.4, 0.3, 0.3, 0., 0., 0., 0.]
        ];
        let top_of_blue = |p: &Array2<f32>| {
            let figure = confidence_distribution(&[Angry, Angry], p.view(), "m").unwrap();
            let image = crate::plot::figure::assert_drawn(&figure);
            let blue = series_rgb(0);
            // The box outline is drawn in the pure series colour (the legend mark sits low).
            (0..image.height())
                .find(|&y| {
                    (0..image.width() / 2)
                        .any(|x| image.get_pixel(x, y).0 == [blue.0, blue.1, blue.2])
                })
                .unwrap()
        };
        assert!(top_of_blue(&high) + 100 < top_of_blue(&low));
    }

    #[test]
    fn the_gallery_shows_only_disagreements() {
        let mut d = Dataset::new();
        for i in 0..3 {
            d.push(
                &[i as u8; IMAGE_PIXELS],
                Emotion::Angry,
                Usage::PrivateTest,
                Origin::CsvLine(i),
            );
        }
        let a = array![
            [0.9f32, 0.1, 0., 0., 0., 0., 0.],
            [0.2, 0.8, 0., 0., 0., 0., 0.],
            [0.2, 0.8, 0., 0., 0., 0., 0.]
        ];
        let b = array![
            [0.9f32, 0.1, 0., 0., 0., 0., 0.],
            [0.9, 0.1, 0., 0., 0., 0., 0.],
            [0.2, 0.8, 0., 0., 0., 0., 0.]
        ];
        let grid = disagreement_gallery(&d, a.view(), b.view(), ("cnn", "base"), 10).unwrap();
        assert_eq!(grid.captions().collect::<Vec<_>>(), vec!["ang:dis/ang"]);
    }

    #[test]
    fn a_gallery_of_class_sorted_faces_shows_every_class_that_has_disagreements() {
        use Emotion::*;
        // Sorted by class like FER2013: 10 angry, 10 happy, 10 sad faces, every one called
        // happy by A and sad by B.
        let mut d = Dataset::new();
        for (i, &truth) in [Angry, Happy, Sad].iter().enumerate() {
            for j in 0..10 {
                d.push(
                    &[(10 * i + j) as u8; IMAGE_PIXELS],
                    truth,
                    Usage::PrivateTest,
                    Origin::CsvLine((10 * i + j) as u64),
                );
            }
        }
        let a = Array2::from_shape_fn((30, 7), |(_, j)| if j == 3 { 0.8f32 } else { 0.2 / 6.0 });
        let b = Array2::from_shape_fn((30, 7), |(_, j)| if j == 4 { 0.8f32 } else { 0.2 / 6.0 });
        let grid = disagreement_gallery(&d, a.view(), b.view(), ("cnn", "base"), 6).unwrap();
        let captions: Vec<&str> = grid.captions().collect();
        // Two of each class, grouped in label order; equal distances keep the first rows.
        assert_eq!(
            captions,
            vec![
                "ang:hap/sad",
                "ang:hap/sad",
                "hap:hap/sad",
                "hap:hap/sad",
                "sad:hap/sad",
                "sad:hap/sad"
            ]
        );
    }

    #[test]
    fn augmentation_preview_has_two_rows_starting_with_the_original() {
        let face = [100u8; IMAGE_PIXELS];
        let grid = augmentation_preview(&face, 4, 7).unwrap();
        let captions: Vec<&str> = grid.captions().collect();
        assert_eq!(captions.len(), 10);
        assert_eq!(captions[0], "original");
        assert_eq!(captions[5], "original");
        assert_eq!(captions[9], "strong 4");
    }
}
