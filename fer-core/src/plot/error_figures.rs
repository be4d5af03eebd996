//! Error-analysis figures: confidence distributions per class, two models' disagreements,
//! and an augmentation preview.

use ndarray::ArrayView2;
use plotly::layout::{Axis, BoxMode, CategoryOrder, Layout};
use plotly::{BoxPlot, Plot};

use crate::data::augment::AugmentPipeline;
use crate::data::{Dataset, Face};
use crate::emotion::Emotion;
use crate::error::Result;
use crate::eval::{check_probabilities, disagreements, predicted_labels, spread_disagreements};
use crate::plot::face_grid::FaceGrid;

/// Box plots of the model's confidence (probability of its predicted emotion) for each true
/// emotion, right and wrong predictions side by side: a well-behaved model is confident when
/// right and hesitant when wrong.
pub fn confidence_distribution(
    truth: &[Emotion],
    probabilities: ArrayView2<f32>,
    model: &str,
) -> Result<Plot> {
    check_probabilities(truth, probabilities)?;
    let predicted = predicted_labels(probabilities)?;
    let mut plot = Plot::new();
    for (label, want_right) in [("right", true), ("wrong", false)] {
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for (i, (&t, &p)) in truth.iter().zip(&predicted).enumerate() {
            if (t == p) == want_right {
                xs.push(t.name().to_string());
                ys.push(f64::from(probabilities[[i, p.index()]]));
            }
        }
        plot.add_trace(BoxPlot::new_xy(xs, ys).name(label));
    }
    plot.set_layout(
        Layout::new()
            .title(format!("{model}: confidence per true emotion, right vs wrong").as_str())
            .box_mode(BoxMode::Group)
            .x_axis(
                Axis::new()
                    .title("true emotion")
                    // Label order, not the order the data happens to list them.
                    .category_order(CategoryOrder::Array)
                    .category_array(Emotion::ALL.iter().map(|e| e.name()).collect()),
            )
            .y_axis(Axis::new().title("confidence").range(vec![0.0, 1.0])),
    );
    Ok(plot)
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
        let plot = confidence_distribution(&[Angry, Disgust, Disgust], p.view(), "m").unwrap();
        let json = plot.to_json();
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
