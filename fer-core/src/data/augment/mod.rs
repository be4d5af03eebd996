//! Data augmentation for 48x48 grayscale faces: a seeded, parallel pipeline of flip, random
//! crop with padding, rotation + scaling, brightness/contrast/gamma jitter, Gaussian noise and
//! random erasing that writes batches straight into the CNN's f32 NCHW layout; batch-level
//! mixup and cutmix; previews for the notebooks.

mod affine;
mod crop;
mod erasing;
mod flip;
mod mix;
mod noise;
mod photometric;
mod pipeline;
mod preview;
mod validate;

pub use affine::{rotate_and_scale, RandomAffine, MAX_ROTATION_DEGREES};
pub use crop::{shift_replicate, RandomCrop, MAX_CROP_PADDING};
pub use erasing::{erase, ErasingFill, RandomErasing, Rect};
pub use flip::flip_horizontal;
pub use mix::{BatchMix, MixMode};
pub use noise::{add_gaussian_noise, GaussianNoise};
pub use photometric::{identity_lut, jitter_lut, Lut, PhotometricJitter};
pub use pipeline::{AugmentPipeline, AugmentPipelineBuilder};
