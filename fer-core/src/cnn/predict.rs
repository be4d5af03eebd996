//! Inference on image files: a user's own photos, of any size and colour, through the same
//! preprocessing as the training data.
//!
//! Each file is decoded with [`load_face`](crate::data::load_face) (8-bit grayscale, resized to
//! 48x48 with a triangle filter: exactly what the loader does to FER2013's own files), then
//! standardised with the pixel statistics stored in the checkpoint, as training did. The model
//! expects a face crop, as FER2013's faces are: a whole photo with a small face in it gives
//! meaningless probabilities.
//!
//! ```no_run
//! use fer_core::cnn::{load_checkpoint, Tta};
//! use fer_core::cnn::predict::top_emotions;
//!
//! let model = load_checkpoint("data/models/fer-cnn".as_ref())?;
//! let probabilities = model.predict_image_files(&["face.jpg"], Tta::Flip)?;
//! for (emotion, p) in top_emotions(&probabilities[0], 3) {
//!     println!("{}: {p:.3}", emotion.name());
//! }
//! # Ok::<(), fer_core::FerError>(())
//! ```

use std::path::Path;

use super::model::CnnModel;
use super::tta::Tta;
use crate::data::{load_face, Face};
use crate::error::Result;
use crate::Emotion;

/// Class probabilities of one face, in [`Emotion`] label order (they sum to 1).
pub type EmotionProbabilities = [f32; Emotion::COUNT];

impl CnnModel {
    /// Class probabilities of each image file, in the order given, preprocessed exactly as
    /// training data (see the [module docs](self)), averaged over the views of `tta` (see
    /// [`Tta`]).
    ///
    /// Every file is decoded before any is classified, so a bad file fails the call early;
    /// errors ([`FerError::Io`](crate::FerError::Io), [`FerError::Image`](crate::FerError::Image),
    /// [`FerError::InvalidData`](crate::FerError::InvalidData) for an empty file) name the file.
    /// An empty list gives an empty result.
    pub fn predict_image_files<P: AsRef<Path>>(
        &self,
        paths: &[P],
        tta: Tta,
    ) -> Result<Vec<EmotionProbabilities>> {
        tta.check()?;
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let faces = paths
            .iter()
            .map(|path| load_face(path.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        self.predict_faces(&faces, tta)
    }

    /// Class probabilities of each 48x48 face, in order, averaged over the views of `tta`, one
    /// array per face. An empty list gives an empty result (the network refuses an empty
    /// batch).
    pub fn predict_faces(&self, faces: &[Face], tta: Tta) -> Result<Vec<EmotionProbabilities>> {
        if faces.is_empty() {
            return Ok(Vec::new());
        }
        let proba = self.predict_proba_tta(faces, tta)?;
        Ok(proba
            .rows()
            .into_iter()
            .map(|row| {
                let mut p = [0.0; Emotion::COUNT];
                p.iter_mut().zip(row).for_each(|(p, &q)| *p = q);
                p
            })
            .collect())
    }
}

/// The `k` most probable emotions, most probable first (ties in label order); `k` above 7 gives
/// all seven.
pub fn top_emotions(probabilities: &EmotionProbabilities, k: usize) -> Vec<(Emotion, f32)> {
    let mut ranked: Vec<(Emotion, f32)> = Emotion::ALL
        .iter()
        .map(|&e| (e, probabilities[e.index()]))
        .collect();
    // A stable sort keeps label order among equal probabilities.
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked.truncate(k);
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cnn::{Arch, ModelConfig};
    use crate::data::{face_from_image, Dataset, Origin, PixelStats, Usage, IMAGE_PIXELS};
    use crate::EmotionClassifier;
    use dfdx::tensor::Cpu;
    use image::{DynamicImage, Rgb, RgbImage};
    use ndarray::Array2;

    fn model() -> CnnModel {
        let mut faces = Dataset::new();
        for v in [10u8, 120, 240] {
            faces.push(
                &[v; IMAGE_PIXELS],
                Emotion::Happy,
                Usage::Training,
                Origin::CsvLine(2),
            );
        }
        let stats = PixelStats::fit(&faces).unwrap();
        CnnModel::new(ModelConfig::new(Arch::Seed), stats, &Cpu::default()).unwrap()
    }

    #[test]
    fn files_get_the_probabilities_of_their_preprocessed_faces() {
        let dir = tempfile::tempdir().unwrap();
        // A colour image of another size: predict_image_files must see the same 48x48 gray
        // face that face_from_image (the data pipeline) makes of it.
        let photo = RgbImage::from_fn(97, 61, |x, y| Rgb([(x * 2) as u8, (y * 4) as u8, 90]));
        let path = dir.path().join("photo.png");
        photo.save(&path).unwrap();
        let model = model();
        let from_files = model.predict_image_files(&[&path], Tta::None).unwrap();
        let mut expected = Dataset::new();
        expected.push(
            &face_from_image(DynamicImage::ImageRgb8(photo)),
            Emotion::Angry,
            Usage::Training,
            Origin::CsvLine(2),
        );
        let direct = model.predict_proba(expected.faces()).unwrap();
        assert_eq!(from_files.len(), 1);
        assert_eq!(from_files[0].to_vec(), direct.row(0).to_vec());
        assert!((from_files[0].iter().sum::<f32>() - 1.0).abs() < 1e-5);

        let with_tta = model.predict_image_files(&[&path], Tta::Flip).unwrap();
        let tta = model
            .predict_proba_tta(expected.faces(), Tta::Flip)
            .unwrap();
        assert_eq!(with_tta[0].to_vec(), tta.row(0).to_vec());
    }

    /// Crop TTA with a shift of 0 is the flip TTA exactly (its five positions coincide); no TTA
    /// is the plain prediction; with a shift, the views change the probabilities, which still
    /// sum to 1; too large a shift is refused.
    #[test]
    fn crop_tta_averages_its_views() {
        use crate::cnn::Tta;
        // Two calls on the same faces can differ in the last bit of a probability (seen here:
        // the convolution kernels' summation depends on how buffers fall in memory), so
        // "equal" means within 1e-6.
        let close =
            |a: &Array2<f32>, b: &Array2<f32>| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-6);
        let model = model();
        let mut faces = Dataset::new();
        for i in 0..3u8 {
            let mut face = [0u8; IMAGE_PIXELS];
            for (p, v) in face.iter_mut().enumerate() {
                *v = ((p % 48) * 5 + (p / 48) * i as usize) as u8;
            }
            faces.push(
                &face,
                Emotion::Sad,
                Usage::PrivateTest,
                Origin::CsvLine(i.into()),
            );
        }
        let none = model.predict_proba_tta(faces.faces(), Tta::None).unwrap();
        assert!(close(&none, &model.predict_proba(faces.faces()).unwrap()));
        assert!(close(
            &none,
            &model.predict_proba_tta(faces.faces(), Tta::None).unwrap()
        ));
        let flip = model.predict_proba_tta(faces.faces(), Tta::Flip).unwrap();
        assert!(close(
            &flip,
            &model.predict_proba_tta(faces.faces(), Tta::Flip).unwrap()
        ));
        assert!(!close(&flip, &none));
        let crops_0 = model
            .predict_proba_tta(faces.faces(), Tta::Crops { shift: 0 })
            .unwrap();
        assert!(close(&crops_0, &flip));
        let crops = model
            .predict_proba_tta(faces.faces(), Tta::Crops { shift: 3 })
            .unwrap();
        assert!(!close(&crops, &flip));
        for row in crops.rows() {
            assert!((row.sum() - 1.0).abs() < 1e-5);
        }
        let err = model
            .predict_proba_tta(faces.faces(), Tta::Crops { shift: 20 })
            .unwrap_err()
            .to_string();
        assert!(err.contains("20"), "{err}");
    }

    /// Several TTAs at once share their views yet give each TTA its own probabilities (to
    /// within the last bit, see above), and their accuracies are those probabilities'.
    #[test]
    fn ttas_scored_together_are_each_its_own() {
        use crate::cnn::tta::TTA_CANDIDATES;
        let model = model();
        let mut faces = Dataset::new();
        for i in 0..7u8 {
            let mut face = [0u8; IMAGE_PIXELS];
            for (p, v) in face.iter_mut().enumerate() {
                *v = ((p % 48) * (i as usize + 1) + (p / 48) * 3) as u8;
            }
            let label = Emotion::from_index(i.into()).unwrap();
            faces.push(&face, label, Usage::PublicTest, Origin::CsvLine(i.into()));
        }
        let together = model
            .predict_proba_ttas(faces.faces(), &TTA_CANDIDATES)
            .unwrap();
        assert_eq!(together.len(), TTA_CANDIDATES.len());
        for (tta, p) in TTA_CANDIDATES.iter().zip(&together) {
            let alone = model.predict_proba_tta(faces.faces(), *tta).unwrap();
            assert!(
                p.iter().zip(&alone).all(|(x, y)| (x - y).abs() <= 1e-6),
                "{tta:?}"
            );
        }
    }

    #[test]
    fn bad_files_are_errors_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.jpg");
        std::fs::write(&text, "not an image").unwrap();
        let model = model();
        let err = model
            .predict_image_files(&[&text], Tta::None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("notes.jpg"), "{err}");
        let missing = dir.path().join("missing.png");
        let err = model
            .predict_image_files(&[&missing], Tta::None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.png"), "{err}");
        assert!(model
            .predict_image_files::<&Path>(&[], Tta::None)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn top_emotions_are_ranked_with_ties_in_label_order() {
        let p = [0.1, 0.0, 0.2, 0.4, 0.1, 0.0, 0.2];
        let top = top_emotions(&p, 3);
        assert_eq!(
            top,
            vec![
                (Emotion::Happy, 0.4),
                (Emotion::Fear, 0.2),
                (Emotion::Neutral, 0.2)
            ]
        );
        assert_eq!(top_emotions(&p, 10).len(), 7);
    }
}
