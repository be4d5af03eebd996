//! One face and N augmented versions of it, for the notebooks' galleries.

use super::pipeline::{sample_rng, AugmentPipeline};
use crate::data::{Face, IMAGE_PIXELS};

impl AugmentPipeline {
    /// Returns `face` itself followed by `n` augmented versions (n + 1 faces), back in 8-bit
    /// grey levels for display. Version `i` is what face `i` of a batch augmented with `seed`
    /// would look like, so the same seed always shows the same gallery.
    pub fn preview(&self, face: &Face, n: usize, seed: u64) -> Vec<Face> {
        let mut faces = Vec::with_capacity(n + 1);
        faces.push(*face);
        let mut image = [0.0f32; IMAGE_PIXELS];
        for index in 0..n {
            self.augment_into(face, &mut sample_rng(seed, index), &mut image);
            faces.push(std::array::from_fn(|i| {
                (image[i] * 255.0).round().clamp(0.0, 255.0) as u8
            }));
        }
        faces
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_starts_with_the_original_and_matches_the_batch() {
        let face: Face = std::array::from_fn(|i| ((i * 7) % 256) as u8);
        let pipeline = AugmentPipeline::strong();
        let gallery = pipeline.preview(&face, 5, 11);
        assert_eq!(gallery.len(), 6);
        assert_eq!(gallery[0], face);
        assert!(gallery[1..].iter().all(|g| *g != face));

        // Version 3 equals face 3 of a batch of copies augmented with the same seed.
        let refs = vec![&face; 5];
        let mut batch = vec![0.0; 5 * IMAGE_PIXELS];
        pipeline.augment_batch(&refs, 11, &mut batch).unwrap();
        let expected: Vec<u8> = batch[3 * IMAGE_PIXELS..4 * IMAGE_PIXELS]
            .iter()
            .map(|v| (v * 255.0).round() as u8)
            .collect();
        assert_eq!(gallery[4].to_vec(), expected);
        assert_eq!(pipeline.preview(&face, 5, 11), gallery);
    }

    #[test]
    fn preview_of_the_identity_pipeline_is_the_face_repeated() {
        let face: Face = std::array::from_fn(|i| (i % 256) as u8);
        let gallery = AugmentPipeline::none().preview(&face, 3, 0);
        assert!(gallery.iter().all(|g| *g == face));
    }
}
