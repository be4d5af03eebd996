//! Ready-made face grids: sample faces per emotion, the mean face of each emotion, and a
//! model's most confident mistakes.

use ndarray::ArrayView2;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::{Dataset, IMAGE_PIXELS};
use crate::emotion::Emotion;
use crate::error::{FerError, Result};
use crate::eval::{check_probabilities, predicted_labels};
use crate::plot::face_grid::FaceGrid;

/// `per_emotion` faces of each emotion drawn at random (seeded, so the same seed shows the
/// same faces), one row per emotion in label order. An emotion with fewer faces shows all it
/// has.
pub fn sample_faces(dataset: &Dataset, per_emotion: usize, seed: u64) -> Result<FaceGrid> {
    if per_emotion == 0 {
        return Err(FerError::invalid_parameter(
            "per_emotion",
            "0 faces per emotion: need at least 1",
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut grid = FaceGrid::new(per_emotion)?.with_title(format!(
        "{per_emotion} random faces per emotion (seed {seed})"
    ));
    for emotion in Emotion::ALL {
        let of_emotion: Vec<usize> = (0..dataset.len())
            .filter(|&i| dataset.labels()[i] == emotion)
            .collect();
        let mut chosen: Vec<usize> = of_emotion
            .choose_multiple(&mut rng, per_emotion)
            .copied()
            .collect();
        chosen.sort_unstable();
        for &i in &chosen {
            grid.push(dataset.face(i), emotion.name());
        }
        // Keep one row per emotion even when an emotion has too few faces.
        for _ in chosen.len()..per_emotion {
            grid.push(&[255; IMAGE_PIXELS], "");
        }
    }
    Ok(grid)
}

/// The pixel-wise mean face of each emotion (its "average expression", from
/// [`crate::data::mean_faces`]), captioned with the number of faces averaged. Emotions with no
/// face are left out.
pub fn mean_faces(dataset: &Dataset) -> Result<FaceGrid> {
    if dataset.is_empty() {
        return Err(FerError::EmptyDataset("no faces to average".into()));
    }
    let means = crate::data::mean_faces(dataset);
    let counts = dataset.class_counts();
    // Scale 3 leaves room for "surprise 3171".
    let mut grid = FaceGrid::new(Emotion::COUNT)?
        .with_scale(3)?
        .with_title("Mean face per emotion");
    for emotion in Emotion::ALL {
        if let Some(levels) = &means[emotion.index()] {
            let n = counts[emotion.index()];
            grid.push_levels(levels, format!("{} {n}", emotion.name()))?;
        }
    }
    Ok(grid)
}

/// The `count` wrong predictions made with the highest confidence, most confident first,
/// each captioned `true>predicted NN%`. `probabilities` has one row per face of `dataset`.
/// These are the faces to look at first: often mislabelled data or truly ambiguous faces.
pub fn confident_mistakes(
    dataset: &Dataset,
    probabilities: ArrayView2<f32>,
    count: usize,
) -> Result<FaceGrid> {
    check_probabilities(dataset.labels(), probabilities)?;
    let predicted = predicted_labels(probabilities)?;
    let mut mistakes: Vec<(usize, f32)> = predicted
        .iter()
        .zip(dataset.labels())
        .enumerate()
        .filter(|(_, (p, t))| p != t)
        .map(|(i, (p, _))| (i, probabilities[[i, p.index()]]))
        .collect();
    // Highest confidence first; the index breaks ties so the order is reproducible.
    mistakes.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    mistakes.truncate(count);
    let mut grid = FaceGrid::new(8)?.with_title(format!(
        "{} most confident mistakes (true>predicted confidence)",
        mistakes.len()
    ));
    for (i, confidence) in mistakes {
        let caption = format!(
            "{}>{} {:.0}%",
            short_name(dataset.labels()[i]),
            short_name(predicted[i]),
            100.0 * confidence
        );
        grid.push(dataset.face(i), caption);
    }
    Ok(grid)
}

/// Three-letter names, so "true>predicted NN%" fits a tile at scale 2 (12 characters).
fn short_name(emotion: Emotion) -> &'static str {
    match emotion {
        Emotion::Angry => "ang",
        Emotion::Disgust => "dis",
        Emotion::Fear => "fea",
        Emotion::Happy => "hap",
        Emotion::Sad => "sad",
        Emotion::Surprise => "sur",
        Emotion::Neutral => "neu",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Origin, Usage};
    use ndarray::Array2;
    use Emotion::*;

    /// Faces of uniform grey `level`, labelled in turn.
    fn dataset(faces: &[(u8, Emotion)]) -> Dataset {
        let mut d = Dataset::new();
        for (i, &(level, label)) in faces.iter().enumerate() {
            d.push(
                &[level; IMAGE_PIXELS],
                label,
                Usage::Training,
                Origin::CsvLine(i as u64 + 2),
            );
        }
        d
    }

    #[test]
    fn mean_face_averages_each_emotion() {
        let d = dataset(&[(10, Happy), (20, Happy), (200, Sad)]);
        let grid = mean_faces(&d).unwrap();
        assert_eq!(grid.captions().collect::<Vec<_>>(), ["happy 2", "sad 1"]);
        let image = grid.render();
        // First tile (happy): mean of 10 and 20 = 15.
        assert_eq!(image.get_pixel(10, 40)[0], 15);
        assert!(mean_faces(&Dataset::new()).is_err());
    }

    #[test]
    fn samples_are_seeded_and_one_row_per_emotion() {
        let faces: Vec<(u8, Emotion)> = (0..40).map(|i| (i as u8, Emotion::ALL[i % 7])).collect();
        let d = dataset(&faces);
        let a = sample_faces(&d, 3, 7).unwrap();
        assert_eq!(a.len(), 21);
        assert_eq!(a.render(), sample_faces(&d, 3, 7).unwrap().render());
        assert_ne!(a.render(), sample_faces(&d, 3, 8).unwrap().render());
        let captions: Vec<&str> = a.captions().collect();
        assert_eq!(&captions[..4], ["angry", "angry", "angry", "disgust"]);
        assert!(sample_faces(&d, 0, 7).is_err());
    }

    #[test]
    fn mistakes_are_wrong_and_sorted_by_confidence() {
        let d = dataset(&[(1, Happy), (2, Sad), (3, Fear), (4, Angry)]);
        let mut p = Array2::<f32>::zeros((4, 7));
        p[[0, Happy.index()]] = 1.0; // right
        p[[1, Happy.index()]] = 0.6; // sad taken for happy, 60%
        p[[1, Sad.index()]] = 0.4;
        p[[2, Surprise.index()]] = 0.9; // fear taken for surprise, 90%
        p[[2, Fear.index()]] = 0.1;
        p[[3, Neutral.index()]] = 0.7; // angry taken for neutral, 70%
        p[[3, Angry.index()]] = 0.3;
        let grid = confident_mistakes(&d, p.view(), 2).unwrap();
        assert_eq!(
            grid.captions().collect::<Vec<_>>(),
            ["fea>sur 90%", "ang>neu 70%"]
        );
        assert!(confident_mistakes(&d, p.slice(ndarray::s![..3, ..]), 2).is_err());
    }
}
