//! Every face of a photo, found, cropped and classified: the one place `faces` calls the CNN.

use image::DynamicImage;

use super::crop::crop_face_gray;
use super::detector::FaceDetector;
use super::face_box::FaceBox;
use crate::cnn::predict::{top_emotions, EmotionProbabilities};
use crate::cnn::{CnnModel, Tta};
use crate::data::Face;
use crate::error::Result;
use crate::Emotion;

/// A face found in a photo with the model's class probabilities for it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifiedFace {
    /// Where the face is in the photo.
    pub face_box: FaceBox,
    /// The model's probabilities for the face's crop, in [`Emotion`] label order.
    pub probabilities: EmotionProbabilities,
}

impl ClassifiedFace {
    /// The `k` most probable emotions, most probable first.
    pub fn top(&self, k: usize) -> Vec<(Emotion, f32)> {
        top_emotions(&self.probabilities, k)
    }
}

/// Class probabilities of each 48x48 face, in order, averaged over the views of `tta`: the
/// single call from `faces` (and `fer predict`) into the CNN's inference. An empty list gives
/// an empty result (the model refuses an empty batch).
pub fn classify_crops(
    model: &CnnModel,
    crops: &[Face],
    tta: Tta,
) -> Result<Vec<EmotionProbabilities>> {
    model.predict_faces(crops, tta)
}

/// Every face `detector` finds in `photo`, left to right, each cropped as FER2013's faces are
/// ([`crop_face`](super::crop_face)) and classified by `model` with `tta`. A photo without a
/// face gives an empty list, and the model is not called.
///
/// ```no_run
/// use fer_core::faces::{classify_photo, FaceDetector};
/// let model = fer_core::cnn::load_checkpoint("data/models/fer-cnn".as_ref())?;
/// let detector = FaceDetector::new(Default::default())?;
/// let photo = fer_core::faces::load_photo("class.jpg".as_ref())?;
/// for face in classify_photo(&model, &detector, &photo, false)? {
///     let (emotion, p) = face.top(1)[0];
///     println!("{:?}: {} {p:.2}", face.face_box, emotion.name());
/// }
/// # Ok::<(), fer_core::FerError>(())
/// ```
pub fn classify_photo(
    model: &CnnModel,
    detector: &FaceDetector,
    photo: &DynamicImage,
    tta: Tta,
) -> Result<Vec<ClassifiedFace>> {
    let gray = photo.to_luma8();
    let boxes = detector.detect_gray(&gray);
    let crops: Vec<Face> = boxes.iter().map(|b| crop_face_gray(&gray, b)).collect();
    let probabilities = classify_crops(model, &crops, tta)?;
    Ok(boxes
        .into_iter()
        .zip(probabilities)
        .map(|(face_box, probabilities)| ClassifiedFace {
            face_box,
            probabilities,
        })
        .collect())
}
