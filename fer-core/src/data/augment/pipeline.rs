//! The augmentation pipeline: its builder (every default stated), and the parallel, seeded batch
//! augmentation straight into the CNN's f32 NCHW layout.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::affine::{rotate_and_scale, RandomAffine};
use super::crop::{shift_replicate, RandomCrop};
use super::erasing::{erase, ErasingFill, RandomErasing};
use super::flip::flip_horizontal;
use super::noise::{add_gaussian_noise, GaussianNoise};
use super::photometric::{identity_lut, PhotometricJitter};
use crate::data::{Dataset, Face, IMAGE_PIXELS};
use crate::error::{FerError, Result};

/// A validated chain of random augmentations for 48x48 grayscale faces.
///
/// Per face, in this order, each step applied with its own probability: brightness/contrast/gamma
/// jitter (as a lookup table while converting the 8-bit face to [0, 1]), horizontal flip, random
/// crop with padding, rotation + scaling, Gaussian noise, random erasing. Outputs keep the 48x48
/// shape and stay in [0, 1]; per-pixel standardisation is left to the caller.
///
/// Build one with [`AugmentPipeline::builder`] (starts from the defaults), or take
/// [`AugmentPipeline::default`], [`AugmentPipeline::strong`] or [`AugmentPipeline::none`].
/// It serialises to JSON (to sit beside a checkpoint) and is validated again when read back.
///
/// ```
/// use fer_core::data::augment::AugmentPipeline;
/// use fer_core::data::{Face, IMAGE_PIXELS};
///
/// let pipeline = AugmentPipeline::builder().max_rotation_degrees(10.0).build()?;
/// let faces: Vec<Face> = vec![[128u8; IMAGE_PIXELS]; 4];
/// let refs: Vec<&Face> = faces.iter().collect();
/// let mut batch = vec![0.0f32; 4 * IMAGE_PIXELS]; // [4, 1, 48, 48]
/// pipeline.augment_batch(&refs, 7, &mut batch)?;
/// assert!(batch.iter().all(|v| (0.0..=1.0).contains(v)));
/// # Ok::<(), fer_core::FerError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "AugmentPipelineBuilder")]
pub struct AugmentPipeline {
    flip_probability: f32,
    crop: RandomCrop,
    affine: RandomAffine,
    photometric: PhotometricJitter,
    noise: GaussianNoise,
    erasing: RandomErasing,
}

/// Builder of an [`AugmentPipeline`]; [`build`](Self::build) checks every parameter and names the
/// first bad one.
///
/// Defaults (those of [`AugmentPipeline::default`]), chosen to match the augmentation of the
/// usual Keras FER2013 CNNs (flip, ~10% shift, 10-15° rotation, 10% zoom) plus light
/// photometric jitter, noise and erasing:
///
/// | parameter | default | meaning |
/// | --- | --- | --- |
/// | `flip_probability` | 0.5 | mirror left-right |
/// | `crop_probability` | 1.0 | shift the face ... |
/// | `crop_padding` | 4 | ... by up to 4 px (8% of 48) each way, edges replicated |
/// | `affine_probability` | 0.5 | rotate and scale ... |
/// | `max_rotation_degrees` | 15 | ... by an angle uniform in [-15°, 15°] ... |
/// | `scale_range` | (0.9, 1.1) | ... and a zoom uniform in [0.9, 1.1], bilinear |
/// | `photometric_probability` | 0.5 | jitter the grey levels: |
/// | `brightness` | 0.1 | additive shift uniform in [-0.1, 0.1] |
/// | `contrast` | 0.2 | contrast factor uniform in [0.8, 1.2] about the face's mean |
/// | `gamma_range` | (0.8, 1.25) | gamma uniform in [0.8, 1.25] |
/// | `noise_probability` | 0.2 | add Gaussian noise ... |
/// | `noise_std_dev` | 0.02 | ... of std 0.02 (about 5 grey levels), clipped to [0, 1] |
/// | `erasing_probability` | 0.25 | erase one rectangle ... |
/// | `erasing_area_range` | (0.02, 0.2) | ... covering 2-20% of the face ... |
/// | `erasing_aspect_range` | (0.3, 3.3) | ... with height/width log-uniform in [0.3, 3.3] ... |
/// | `erasing_fill` | [`ErasingFill::Noise`] | ... filled with uniform noise |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AugmentPipelineBuilder {
    flip_probability: f32,
    crop: RandomCrop,
    affine: RandomAffine,
    photometric: PhotometricJitter,
    noise: GaussianNoise,
    erasing: RandomErasing,
}

impl Default for AugmentPipelineBuilder {
    fn default() -> Self {
        AugmentPipelineBuilder {
            flip_probability: 0.5,
            crop: RandomCrop {
                probability: 1.0,
                padding: 4,
            },
            affine: RandomAffine {
                probability: 0.5,
                max_rotation_degrees: 15.0,
                scale_range: (0.9, 1.1),
            },
            photometric: PhotometricJitter {
                probability: 0.5,
                brightness: 0.1,
                contrast: 0.2,
                gamma_range: (0.8, 1.25),
            },
            noise: GaussianNoise {
                probability: 0.2,
                std_dev: 0.02,
            },
            erasing: RandomErasing {
                probability: 0.25,
                area_range: (0.02, 0.2),
                aspect_range: (0.3, 3.3),
                fill: ErasingFill::Noise,
            },
        }
    }
}

impl AugmentPipelineBuilder {
    /// Starts from the strong preset (see [`AugmentPipeline::strong`]) instead of the defaults.
    pub fn strong() -> Self {
        AugmentPipelineBuilder {
            flip_probability: 0.5,
            crop: RandomCrop {
                probability: 1.0,
                padding: 6,
            },
            affine: RandomAffine {
                probability: 0.8,
                max_rotation_degrees: 20.0,
                scale_range: (0.85, 1.15),
            },
            photometric: PhotometricJitter {
                probability: 0.8,
                brightness: 0.2,
                contrast: 0.4,
                gamma_range: (0.7, 1.4),
            },
            noise: GaussianNoise {
                probability: 0.3,
                std_dev: 0.04,
            },
            erasing: RandomErasing {
                probability: 0.5,
                area_range: (0.02, 0.33),
                aspect_range: (0.3, 3.3),
                fill: ErasingFill::Noise,
            },
        }
    }

    /// Chance of a left-right mirror, in [0, 1]. Default 0.5.
    pub fn flip_probability(mut self, probability: f32) -> Self {
        self.flip_probability = probability;
        self
    }

    /// Chance of a random shift, in [0, 1]. Default 1.0.
    pub fn crop_probability(mut self, probability: f32) -> Self {
        self.crop.probability = probability;
        self
    }

    /// Largest shift in pixels along each axis, at most 23. Default 4.
    pub fn crop_padding(mut self, pixels: usize) -> Self {
        self.crop.padding = pixels;
        self
    }

    /// Chance of a rotation + scaling, in [0, 1]. Default 0.5.
    pub fn affine_probability(mut self, probability: f32) -> Self {
        self.affine.probability = probability;
        self
    }

    /// Largest rotation either way, in degrees, in [0, 90]. Default 15.
    pub fn max_rotation_degrees(mut self, degrees: f32) -> Self {
        self.affine.max_rotation_degrees = degrees;
        self
    }

    /// Range of the zoom factor, positive, min <= max. Default (0.9, 1.1).
    pub fn scale_range(mut self, min: f32, max: f32) -> Self {
        self.affine.scale_range = (min, max);
        self
    }

    /// Chance of the brightness/contrast/gamma jitter, in [0, 1]. Default 0.5.
    pub fn photometric_probability(mut self, probability: f32) -> Self {
        self.photometric.probability = probability;
        self
    }

    /// Largest additive brightness shift, in [0, 1] of full scale. Default 0.1.
    pub fn brightness(mut self, max_shift: f32) -> Self {
        self.photometric.brightness = max_shift;
        self
    }

    /// Largest relative contrast change, in [0, 1]. Default 0.2.
    pub fn contrast(mut self, max_change: f32) -> Self {
        self.photometric.contrast = max_change;
        self
    }

    /// Range of the gamma exponent, positive, min <= max. Default (0.8, 1.25).
    pub fn gamma_range(mut self, min: f32, max: f32) -> Self {
        self.photometric.gamma_range = (min, max);
        self
    }

    /// Chance of Gaussian noise, in [0, 1]. Default 0.2.
    pub fn noise_probability(mut self, probability: f32) -> Self {
        self.noise.probability = probability;
        self
    }

    /// Standard deviation of the noise, in [0, 1] of full scale. Default 0.02.
    pub fn noise_std_dev(mut self, std_dev: f32) -> Self {
        self.noise.std_dev = std_dev;
        self
    }

    /// Chance of random erasing, in [0, 1]. Default 0.25.
    pub fn erasing_probability(mut self, probability: f32) -> Self {
        self.erasing.probability = probability;
        self
    }

    /// Range of the erased fraction of the face, in (0, 1], min <= max. Default (0.02, 0.2).
    pub fn erasing_area_range(mut self, min: f32, max: f32) -> Self {
        self.erasing.area_range = (min, max);
        self
    }

    /// Range of the erased rectangle's height / width, positive, min <= max. Default (0.3, 3.3).
    pub fn erasing_aspect_range(mut self, min: f32, max: f32) -> Self {
        self.erasing.aspect_range = (min, max);
        self
    }

    /// What erased pixels become. Default [`ErasingFill::Noise`].
    pub fn erasing_fill(mut self, fill: ErasingFill) -> Self {
        self.erasing.fill = fill;
        self
    }

    /// Checks every parameter; the error names the first bad one as its setter spells it.
    pub fn build(self) -> Result<AugmentPipeline> {
        super::validate::check_probability("flip_probability", self.flip_probability)?;
        self.crop.validate()?;
        self.affine.validate()?;
        self.photometric.validate()?;
        self.noise.validate()?;
        self.erasing.validate()?;
        Ok(AugmentPipeline {
            flip_probability: self.flip_probability,
            crop: self.crop,
            affine: self.affine,
            photometric: self.photometric,
            noise: self.noise,
            erasing: self.erasing,
        })
    }
}

impl TryFrom<AugmentPipelineBuilder> for AugmentPipeline {
    type Error = FerError;

    fn try_from(builder: AugmentPipelineBuilder) -> Result<Self> {
        builder.build()
    }
}

impl Default for AugmentPipeline {
    /// The defaults listed on [`AugmentPipelineBuilder`].
    fn default() -> Self {
        AugmentPipeline::from_valid(AugmentPipelineBuilder::default())
    }
}

impl AugmentPipeline {
    /// A builder starting from the defaults listed on [`AugmentPipelineBuilder`].
    pub fn builder() -> AugmentPipelineBuilder {
        AugmentPipelineBuilder::default()
    }

    /// No augmentation: every probability is 0, so a batch is the faces scaled to [0, 1].
    pub fn none() -> Self {
        AugmentPipeline::from_valid(
            AugmentPipelineBuilder::default()
                .flip_probability(0.0)
                .crop_probability(0.0)
                .affine_probability(0.0)
                .photometric_probability(0.0)
                .noise_probability(0.0)
                .erasing_probability(0.0),
        )
    }

    /// Geometry only: the default flip, shift, rotation and zoom, without the grey-level jitter,
    /// noise and erasing (the seed's Keras recipe is of this kind). The shipped CNN trains with
    /// it: under the defaults it underfitted, its training accuracy under augmentation barely
    /// above validation (data/models/fer-cnn/README.md).
    pub fn light() -> Self {
        AugmentPipeline::from_valid(
            AugmentPipelineBuilder::default()
                .photometric_probability(0.0)
                .noise_probability(0.0)
                .erasing_probability(0.0),
        )
    }

    /// Stronger augmentation, one of the remedies tried against overfitting: shifts up to 6 px,
    /// 80% of faces rotated up to 20° and zoomed 0.85-1.15, 80% jittered (brightness 0.2,
    /// contrast 0.4, gamma 0.7-1.4), 30% with noise of std 0.04, and half with 2-33% erased.
    pub fn strong() -> Self {
        AugmentPipeline::from_valid(AugmentPipelineBuilder::strong())
    }

    /// The settings as a builder, to change a few and build again.
    pub fn to_builder(&self) -> AugmentPipelineBuilder {
        AugmentPipelineBuilder {
            flip_probability: self.flip_probability,
            crop: self.crop,
            affine: self.affine,
            photometric: self.photometric,
            noise: self.noise,
            erasing: self.erasing,
        }
    }

    /// Builds a preset whose values are fixed in this file and checked by the tests.
    fn from_valid(builder: AugmentPipelineBuilder) -> Self {
        builder
            .build()
            .expect("the presets are valid (checked by presets_are_valid)")
    }

    /// Augments `faces` into `out`, laid out as NCHW `[faces.len(), 1, 48, 48]` f32 in [0, 1].
    ///
    /// Each face gets its own ChaCha8 generator, seeded with `seed` and streamed by the face's
    /// index in the batch, so the result depends only on (`seed`, faces) and not on how rayon
    /// schedules the work. Pass a different seed for every batch of a training run.
    ///
    /// The only error is an `out` whose length is not `faces.len() * 2304`.
    pub fn augment_batch(&self, faces: &[&Face], seed: u64, out: &mut [f32]) -> Result<()> {
        if out.len() != faces.len() * IMAGE_PIXELS {
            return Err(FerError::ShapeMismatch(format!(
                "augment_batch: {} faces need an output of {} floats, got {}",
                faces.len(),
                faces.len() * IMAGE_PIXELS,
                out.len()
            )));
        }
        out.par_chunks_exact_mut(IMAGE_PIXELS)
            .zip(faces.par_iter())
            .enumerate()
            .for_each(|(index, (image, face))| {
                let mut rng = sample_rng(seed, index);
                self.augment_into(face, &mut rng, image);
            });
        Ok(())
    }

    /// Augments the faces of `dataset` at `indices` (a mini-batch) into `out`, as
    /// [`augment_batch`](Self::augment_batch) does.
    ///
    /// Errors on an index beyond the data set, or an `out` of the wrong length.
    pub fn augment_indices(
        &self,
        dataset: &Dataset,
        indices: &[usize],
        seed: u64,
        out: &mut [f32],
    ) -> Result<()> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= dataset.len()) {
            return Err(FerError::invalid_parameter(
                "indices",
                format!(
                    "index {bad} is beyond the data set's {} faces",
                    dataset.len()
                ),
            ));
        }
        let faces: Vec<&Face> = indices.iter().map(|&i| dataset.face(i)).collect();
        self.augment_batch(&faces, seed, out)
    }

    /// Augments one face into `out` (2,304 floats) with the given generator.
    pub fn augment_into<R: Rng>(&self, face: &Face, rng: &mut R, out: &mut [f32]) {
        let lut = if rng.gen::<f32>() < self.photometric.probability {
            self.photometric.sample_lut(rng, face)
        } else {
            identity_lut()
        };
        for (value, &pixel) in out.iter_mut().zip(face.iter()) {
            *value = lut[usize::from(pixel)];
        }

        if rng.gen::<f32>() < self.flip_probability {
            flip_horizontal(out);
        }

        let mut scratch = [0.0f32; IMAGE_PIXELS];
        if rng.gen::<f32>() < self.crop.probability {
            let (dx, dy) = self.crop.sample_shift(rng);
            scratch.copy_from_slice(out);
            shift_replicate(&scratch, out, dx, dy);
        }

        if rng.gen::<f32>() < self.affine.probability {
            let (angle, scale) = self.affine.sample(rng);
            scratch.copy_from_slice(out);
            rotate_and_scale(&scratch, out, angle, scale);
        }

        if rng.gen::<f32>() < self.noise.probability {
            add_gaussian_noise(out, self.noise.std_dev, rng);
        }

        if rng.gen::<f32>() < self.erasing.probability {
            if let Some(rect) = self.erasing.sample_rect(rng) {
                erase(out, rect, self.erasing.fill, rng);
            }
        }
    }
}

/// The generator of the face at `index` of a batch augmented with `seed`.
pub(crate) fn sample_rng(seed: u64, index: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index as u64);
    rng
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 16 faces with varied content: gradients, a bright block, and a pseudo-random texture, so
    /// that every transform changes something visible.
    fn test_faces() -> Vec<Face> {
        (0..16u32)
            .map(|k| {
                std::array::from_fn(|i| {
                    let (x, y) = ((i % 48) as u32, (i / 48) as u32);
                    let texture = (x * 31 + y * 17 + k * 7).wrapping_mul(2_654_435_761) >> 27;
                    let block = if (10..20).contains(&x) && (30..40).contains(&y) {
                        80
                    } else {
                        0
                    };
                    ((x * 3 + y * 2 + k * 5 + texture + block) % 256) as u8
                })
            })
            .collect()
    }

    fn run(pipeline: &AugmentPipeline, faces: &[Face], seed: u64) -> Vec<f32> {
        let refs: Vec<&Face> = faces.iter().collect();
        let mut out = vec![f32::NAN; faces.len() * IMAGE_PIXELS];
        pipeline.augment_batch(&refs, seed, &mut out).unwrap();
        out
    }

    fn scaled(faces: &[Face]) -> Vec<f32> {
        faces
            .iter()
            .flatten()
            .map(|&p| f32::from(p) / 255.0)
            .collect()
    }

    #[test]
    fn presets_are_valid() {
        for builder in [
            AugmentPipelineBuilder::default(),
            AugmentPipelineBuilder::strong(),
        ] {
            builder.build().unwrap();
        }
        assert_eq!(AugmentPipeline::none().to_builder().flip_probability, 0.0);
        let light = AugmentPipeline::light().to_builder();
        assert_eq!(light.erasing.probability, 0.0);
        assert_eq!(light.crop, AugmentPipelineBuilder::default().crop);
    }

    #[test]
    fn every_probability_zero_is_identity_even_with_strong_magnitudes() {
        let faces = test_faces();
        let pipeline = AugmentPipelineBuilder::strong()
            .flip_probability(0.0)
            .crop_probability(0.0)
            .affine_probability(0.0)
            .photometric_probability(0.0)
            .noise_probability(0.0)
            .erasing_probability(0.0)
            .build()
            .unwrap();
        assert_eq!(run(&pipeline, &faces, 1), scaled(&faces));
        assert_eq!(run(&AugmentPipeline::none(), &faces, 2), scaled(&faces));
    }

    #[test]
    fn outputs_keep_shape_and_range_and_change_the_faces() {
        let faces = test_faces();
        for pipeline in [
            AugmentPipeline::light(),
            AugmentPipeline::default(),
            AugmentPipeline::strong(),
        ] {
            let out = run(&pipeline, &faces, 3);
            assert_eq!(out.len(), faces.len() * IMAGE_PIXELS);
            assert!(out.iter().all(|v| (0.0..=1.0).contains(v)), "{pipeline:?}");
            // With crop probability 1 and padding >= 4, almost every face moves; allow the rare
            // draw of a zero shift with nothing else applied.
            let identity = scaled(&faces);
            let changed = out
                .chunks_exact(IMAGE_PIXELS)
                .zip(identity.chunks_exact(IMAGE_PIXELS))
                .filter(|(a, b)| a != b)
                .count();
            assert!(changed >= 14, "only {changed} of 16 faces changed");
        }
    }

    #[test]
    fn same_seed_same_batch_other_seed_other_batch() {
        let faces = test_faces();
        let pipeline = AugmentPipeline::strong();
        let first = run(&pipeline, &faces, 42);
        assert_eq!(first, run(&pipeline, &faces, 42));
        // Reproducible regardless of the thread count: a 1-thread pool gives the same batch.
        let single = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| run(&pipeline, &faces, 42));
        assert_eq!(first, single);
        let other = run(&pipeline, &faces, 43);
        assert_ne!(first, other);
    }

    #[test]
    fn faces_of_one_batch_get_different_draws() {
        // The same face 16 times: per-face streams must not repeat the same augmentation.
        let faces = vec![test_faces()[0]; 16];
        let out = run(&AugmentPipeline::strong(), &faces, 9);
        let images: Vec<&[f32]> = out.chunks_exact(IMAGE_PIXELS).collect();
        for i in 1..images.len() {
            assert_ne!(images[0], images[i], "face {i} equals face 0");
        }
    }

    #[test]
    fn single_transforms_do_what_they_say() {
        let faces = test_faces();
        // Flip only, probability 1: each output is the mirrored face.
        let flip = AugmentPipeline::none()
            .to_builder()
            .flip_probability(1.0)
            .build()
            .unwrap();
        let mut expected = scaled(&faces);
        for image in expected.chunks_exact_mut(IMAGE_PIXELS) {
            flip_horizontal(image);
        }
        assert_eq!(run(&flip, &faces, 0), expected);

        // Erasing only with mean fill: the pixels that changed all hold one value per face.
        let erasing = AugmentPipeline::none()
            .to_builder()
            .erasing_probability(1.0)
            .erasing_fill(ErasingFill::Mean)
            .build()
            .unwrap();
        let out = run(&erasing, &faces, 0);
        let identity = scaled(&faces);
        for (a, b) in out
            .chunks_exact(IMAGE_PIXELS)
            .zip(identity.chunks_exact(IMAGE_PIXELS))
        {
            let changed: Vec<f32> = a
                .iter()
                .zip(b)
                .filter(|(x, y)| x != y)
                .map(|(x, _)| *x)
                .collect();
            assert!(!changed.is_empty());
            assert!(changed.iter().all(|&v| v == changed[0]));
        }
    }

    #[test]
    fn every_bad_parameter_is_named() {
        let b = AugmentPipeline::builder;
        let cases = [
            (b().flip_probability(1.1), "flip_probability"),
            (b().crop_probability(f32::NAN), "crop_probability"),
            (b().crop_padding(48), "crop_padding"),
            (b().affine_probability(-1.0), "affine_probability"),
            (b().max_rotation_degrees(-5.0), "max_rotation_degrees"),
            (b().scale_range(1.2, 0.8), "scale_range"),
            (b().photometric_probability(2.0), "photometric_probability"),
            (b().brightness(1.5), "brightness"),
            (b().contrast(-0.1), "contrast"),
            (b().gamma_range(-1.0, 1.0), "gamma_range"),
            (b().noise_probability(1.01), "noise_probability"),
            (b().noise_std_dev(f32::INFINITY), "noise_std_dev"),
            (b().erasing_probability(-0.5), "erasing_probability"),
            (b().erasing_area_range(0.5, 0.1), "erasing_area_range"),
            (b().erasing_aspect_range(0.0, 1.0), "erasing_aspect_range"),
        ];
        for (builder, name) in cases {
            match builder.build() {
                Err(FerError::InvalidParameter { name: got, .. }) => assert_eq!(got, name),
                other => panic!("{name}: expected an InvalidParameter error, got {other:?}"),
            }
        }
    }

    #[test]
    fn wrong_output_length_is_an_error_not_a_panic() {
        let faces = test_faces();
        let refs: Vec<&Face> = faces.iter().collect();
        let mut out = vec![0.0; 3];
        let err = AugmentPipeline::default()
            .augment_batch(&refs, 0, &mut out)
            .unwrap_err();
        assert!(matches!(err, FerError::ShapeMismatch(_)), "{err}");
    }

    #[test]
    fn json_round_trip_keeps_settings_and_revalidates() {
        let strong = AugmentPipeline::strong();
        let json = serde_json::to_string(&strong).unwrap();
        let back: AugmentPipeline = serde_json::from_str(&json).unwrap();
        assert_eq!(back, strong);
        let bad = json.replace("\"flip_probability\":0.5", "\"flip_probability\":3.0");
        let err = serde_json::from_str::<AugmentPipeline>(&bad).unwrap_err();
        assert!(err.to_string().contains("flip_probability"), "{err}");
    }
}
