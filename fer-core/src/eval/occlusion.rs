//! Occlusion sensitivity (Zeiler & Fergus 2014): which parts of a face a model relies on,
//! for any model behind [`EmotionClassifier`], without gradients.

use crate::classifier::EmotionClassifier;
use crate::data::{Face, IMAGE_PIXELS, IMAGE_SIDE};
use crate::emotion::Emotion;
use crate::error::{FerError, Result};

/// Grey level of the occluding patch: mid-grey, close to FER2013's mean pixel (~129).
pub const OCCLUSION_GREY: u8 = 128;

/// Slides a `patch` x `patch` grey square over `face` in steps of `stride` pixels and records,
/// for every pixel, the mean drop of the probability of `target` over the patches that cover
/// it (positive: hiding this region lowers the model's belief in `target`). All occluded
/// copies go to the model in one call, so `predict_proba` runs once per face. Returns
/// 48x48 values, row-major.
pub fn occlusion_sensitivity(
    model: &dyn EmotionClassifier,
    face: &Face,
    target: Emotion,
    patch: usize,
    stride: usize,
) -> Result<Vec<f32>> {
    if patch == 0 || patch > IMAGE_SIDE {
        return Err(FerError::invalid_parameter(
            "patch",
            format!("{patch} is not in 1..={IMAGE_SIDE}"),
        ));
    }
    if stride == 0 {
        return Err(FerError::invalid_parameter("stride", "0: need at least 1"));
    }
    // Patch corners; the last one is moved flush with the edge so every pixel is covered.
    let mut corners: Vec<usize> = (0..=IMAGE_SIDE - patch).step_by(stride).collect();
    if corners.last() != Some(&(IMAGE_SIDE - patch)) {
        corners.push(IMAGE_SIDE - patch);
    }
    let mut batch: Vec<Face> = Vec::with_capacity(1 + corners.len() * corners.len());
    batch.push(*face);
    for &top in &corners {
        for &left in &corners {
            let mut occluded = *face;
            for y in top..top + patch {
                occluded[y * IMAGE_SIDE + left..y * IMAGE_SIDE + left + patch].fill(OCCLUSION_GREY);
            }
            batch.push(occluded);
        }
    }
    let probabilities = model.predict_proba(&batch)?;
    if probabilities.nrows() != batch.len() || probabilities.ncols() != Emotion::COUNT {
        return Err(FerError::ShapeMismatch(format!(
            "{} scored {} faces as {:?}",
            model.name(),
            batch.len(),
            probabilities.dim()
        )));
    }
    let base = probabilities[[0, target.index()]];
    let mut sum = vec![0.0f32; IMAGE_PIXELS];
    let mut covered = vec![0u32; IMAGE_PIXELS];
    let mut row = 1;
    for &top in &corners {
        for &left in &corners {
            let drop = base - probabilities[[row, target.index()]];
            row += 1;
            for y in top..top + patch {
                for x in left..left + patch {
                    sum[y * IMAGE_SIDE + x] += drop;
                    covered[y * IMAGE_SIDE + x] += 1;
                }
            }
        }
    }
    Ok(sum
        .iter()
        .zip(&covered)
        .map(|(&s, &n)| s / n as f32)
        .collect())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ndarray::Array2;

    /// A toy model that looks only at the mean brightness of the 12x12 square at rows and
    /// columns 24..36: bright there means happy, dark means sad.
    pub(crate) struct RegionModel;

    impl EmotionClassifier for RegionModel {
        fn name(&self) -> String {
            "region".into()
        }
        fn predict_proba(&self, faces: &[Face]) -> Result<Array2<f32>> {
            let mut p = Array2::zeros((faces.len(), Emotion::COUNT));
            for (i, face) in faces.iter().enumerate() {
                let mut total = 0.0f32;
                for y in 24..36 {
                    for x in 24..36 {
                        total += f32::from(face[y * IMAGE_SIDE + x]);
                    }
                }
                let happy = total / (144.0 * 255.0);
                p[[i, Emotion::Happy.index()]] = happy;
                p[[i, Emotion::Sad.index()]] = 1.0 - happy;
            }
            Ok(p)
        }
    }

    #[test]
    fn only_the_region_the_model_reads_lights_up() {
        let face = [255u8; IMAGE_PIXELS];
        let map = occlusion_sensitivity(&RegionModel, &face, Emotion::Happy, 8, 4).unwrap();
        for y in 0..IMAGE_SIDE {
            for x in 0..IMAGE_SIDE {
                let v = map[y * IMAGE_SIDE + x];
                // A patch starting at s in 17..36 overlaps the region, so it covers pixels 17..43;
                // pixels outside that band keep exactly zero drop.
                let near = (17..43).contains(&y) && (17..43).contains(&x);
                if !near {
                    assert_eq!(v, 0.0, "pixel ({x}, {y})");
                }
                if (24..36).contains(&y) && (24..36).contains(&x) {
                    assert!(v > 0.05, "pixel ({x}, {y}) inside the region: {v}");
                }
            }
        }
        // The strongest drop is inside the region.
        let (argmax, _) = map
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap();
        let (y, x) = (argmax / IMAGE_SIDE, argmax % IMAGE_SIDE);
        assert!((24..36).contains(&y) && (24..36).contains(&x), "({x}, {y})");
    }

    #[test]
    fn bad_patch_or_stride_is_an_error() {
        let face = [0u8; IMAGE_PIXELS];
        assert!(occlusion_sensitivity(&RegionModel, &face, Emotion::Sad, 0, 4).is_err());
        assert!(occlusion_sensitivity(&RegionModel, &face, Emotion::Sad, 49, 4).is_err());
        assert!(occlusion_sensitivity(&RegionModel, &face, Emotion::Sad, 8, 0).is_err());
    }
}
