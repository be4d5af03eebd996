//! Faces in photos: detection ([`detect_faces`]), the crop shaped like FER2013's faces
//! ([`crop_face`]), and the classification of every face of a photo ([`classify_photo`]).
//!
//! FER2013's faces are square grayscale crops around a face, 48x48; the model only knows
//! faces framed that way. A photo goes through the same steps: the detector finds each face,
//! the crop widens its box into the frame FER2013's crops have (measured on FER2013's faces,
//! see [`measure_crop_frame`]), and the crop is converted exactly as training data was.

mod classify;
mod crop;
mod crop_frame;
mod detector;
mod face_box;
mod photo_files;

pub use crate::data::{decode_photo, load_photo, MAX_PHOTO_PIXELS};
pub use classify::{classify_photo, ClassifiedFace};
pub use crop::{
    crop_face, crop_face_gray, crop_region, CROP_CENTER_DX, CROP_CENTER_DY, CROP_SIDE_PER_BOX,
};
pub use crop_frame::{enlarge_face, measure_crop_frame, CropFrame};
pub use detector::{
    detect_faces, search_scale, DetectorOptions, FaceDetector, DEFAULT_MIN_FACE,
    DEFAULT_SCORE_THRESHOLD, DETECTOR_WINDOW, MAX_SEARCH_PIXELS, MAX_UPSCALE, MIN_MIN_FACE,
};
pub use face_box::FaceBox;
pub use photo_files::photo_files;
