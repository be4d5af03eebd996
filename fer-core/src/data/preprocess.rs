//! From u8 faces to model inputs: scaling to [0, 1], per-pixel standardisation fitted on the
//! training split only (and saved for inference), index and one-hot labels.

use std::path::Path;

use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::dataset::{Dataset, Face, IMAGE_PIXELS};
use crate::emotion::Emotion;
use crate::error::{FerError, Result};

/// Lower bound on a pixel's standard deviation (in gray levels), so that a pixel constant over
/// the training set (possible in small subsets) maps to 0 instead of dividing by zero.
pub const MIN_PIXEL_STD: f32 = 1.0;

/// Writes `face` scaled to [0, 1] (pixel / 255) into `out`.
///
/// Panics if `out` is not [`IMAGE_PIXELS`] long (a programming error, not bad data).
pub fn to_unit(face: &Face, out: &mut [f32]) {
    assert_eq!(out.len(), IMAGE_PIXELS, "output buffer length");
    for (o, &p) in out.iter_mut().zip(face) {
        *o = f32::from(p) / 255.0;
    }
}

/// Every face of `data` scaled to [0, 1]: `[len, 2304]`.
pub fn to_unit_matrix(data: &Dataset) -> Array2<f32> {
    face_matrix(data, to_unit)
}

/// `[len, 2304]` with row i = `convert(face i)`, rows filled in parallel.
fn face_matrix(data: &Dataset, convert: impl Fn(&Face, &mut [f32]) + Sync) -> Array2<f32> {
    let mut values = vec![0.0f32; data.len() * IMAGE_PIXELS];
    values
        .par_chunks_mut(IMAGE_PIXELS)
        .enumerate()
        .for_each(|(i, row)| convert(data.face(i), row));
    Array2::from_shape_vec((data.len(), IMAGE_PIXELS), values)
        .expect("len * IMAGE_PIXELS values fill a [len, IMAGE_PIXELS] matrix")
}

/// Per-pixel mean and standard deviation (population, in gray levels 0-255), fitted on the
/// training split only and saved beside a model so inference standardises the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PixelStats {
    /// Mean of each of the 2,304 pixels.
    pub mean: Vec<f32>,
    /// Standard deviation of each pixel, at least [`MIN_PIXEL_STD`].
    pub std: Vec<f32>,
    /// Faces the statistics were fitted on.
    pub count: usize,
}

impl PixelStats {
    /// Fits on `train` (pass the training split only: statistics from validation or test faces
    /// leak them into the model). Fails on an empty data set.
    pub fn fit(train: &Dataset) -> Result<PixelStats> {
        if train.is_empty() {
            return Err(FerError::EmptyDataset(
                "cannot fit pixel statistics on no faces".to_string(),
            ));
        }
        // Integer sums are exact (28,709 * 255^2 fits easily in u64), so the result does not
        // depend on how rayon splits the work.
        let zero = || (vec![0u64; IMAGE_PIXELS], vec![0u64; IMAGE_PIXELS]);
        let (sum, sum_sq) = train
            .pixels()
            .par_chunks(IMAGE_PIXELS)
            .fold(zero, |(mut sum, mut sum_sq), face| {
                for ((s, q), &p) in sum.iter_mut().zip(sum_sq.iter_mut()).zip(face) {
                    let p = u64::from(p);
                    *s += p;
                    *q += p * p;
                }
                (sum, sum_sq)
            })
            .reduce(zero, |(mut a, mut aq), (b, bq)| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                aq.iter_mut().zip(&bq).for_each(|(a, b)| *a += b);
                (a, aq)
            });
        let n = train.len() as f64;
        let mean: Vec<f64> = sum.iter().map(|&s| s as f64 / n).collect();
        let std = sum_sq
            .iter()
            .zip(&mean)
            .map(|(&q, &m)| {
                let variance = (q as f64 / n - m * m).max(0.0);
                (variance.sqrt() as f32).max(MIN_PIXEL_STD)
            })
            .collect();
        Ok(PixelStats {
            mean: mean.into_iter().map(|m| m as f32).collect(),
            std,
            count: train.len(),
        })
    }

    /// Writes `(face - mean) / std`, pixel by pixel, into `out`.
    ///
    /// Panics if `out` is not [`IMAGE_PIXELS`] long (a programming error, not bad data).
    pub fn standardize(&self, face: &Face, out: &mut [f32]) {
        assert_eq!(out.len(), IMAGE_PIXELS, "output buffer length");
        for (((o, &p), &m), &s) in out.iter_mut().zip(face).zip(&self.mean).zip(&self.std) {
            *o = (f32::from(p) - m) / s;
        }
    }

    /// Every face of `data` standardised: `[len, 2304]`.
    pub fn standardize_matrix(&self, data: &Dataset) -> Array2<f32> {
        face_matrix(data, |face, row| self.standardize(face, row))
    }

    /// Saves as JSON, atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::fs::write_json_atomically(path, self)
    }

    /// Loads statistics saved by [`PixelStats::save`], checking that they fit 48x48 faces.
    pub fn load(path: &Path) -> Result<PixelStats> {
        let stats: PixelStats = crate::fs::read_json(path)?;
        let sound = stats.mean.len() == IMAGE_PIXELS
            && stats.std.len() == IMAGE_PIXELS
            && stats.mean.iter().all(|m| m.is_finite())
            && stats
                .std
                .iter()
                .all(|s| s.is_finite() && *s >= MIN_PIXEL_STD);
        if !sound {
            return Err(FerError::invalid_data(
                path,
                format!(
                    "pixel statistics with {} means and {} standard deviations; expected \
                     {IMAGE_PIXELS} finite means and {IMAGE_PIXELS} deviations of at least \
                     {MIN_PIXEL_STD}",
                    stats.mean.len(),
                    stats.std.len()
                ),
            ));
        }
        Ok(stats)
    }
}

/// Labels as class indices 0..=6.
pub fn label_indices(labels: &[Emotion]) -> Vec<usize> {
    labels.iter().map(|l| l.index()).collect()
}

/// Labels one-hot encoded: `[len, 7]`, a 1 in each row's label column.
pub fn one_hot(labels: &[Emotion]) -> Array2<f32> {
    let mut out = Array2::zeros((labels.len(), Emotion::COUNT));
    for (i, label) in labels.iter().enumerate() {
        out[[i, label.index()]] = 1.0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::{Origin, Usage};

    fn faces(values: &[u8]) -> Dataset {
        let mut data = Dataset::new();
        for &v in values {
            let mut face = [v; IMAGE_PIXELS];
            face[0] = 7; // constant over the set
            data.push(&face, Emotion::Happy, Usage::Training, Origin::CsvLine(2));
        }
        data
    }

    #[test]
    fn standardisation_uses_population_mean_and_std() {
        // Values 0, 100, 200: mean 100, population variance (100^2 + 0 + 100^2) / 3.
        let stats = PixelStats::fit(&faces(&[0, 100, 200])).unwrap();
        let std = (20000.0f32 / 3.0).sqrt();
        assert!((stats.mean[1] - 100.0).abs() < 1e-4);
        assert!((stats.std[1] - std).abs() < 1e-3);
        // Pixel 0 never varies: its std is floored and it standardises to 0.
        assert_eq!(stats.std[0], MIN_PIXEL_STD);

        let mut out = vec![0.0; IMAGE_PIXELS];
        stats.standardize(&[200; IMAGE_PIXELS], &mut out);
        assert!((out[1] - 100.0 / std).abs() < 1e-4);
        let matrix = stats.standardize_matrix(&faces(&[0, 100, 200]));
        assert_eq!(matrix.dim(), (3, IMAGE_PIXELS));
        // Standardised training data has mean 0 and (population) variance 1 per pixel.
        let column = matrix.column(5);
        assert!(column.mean().unwrap().abs() < 1e-5);
        assert!((column.mapv(|x| x * x).mean().unwrap() - 1.0).abs() < 1e-4);
        assert!(matrix.column(0).iter().all(|&x| x == 0.0));
    }

    #[test]
    fn statistics_survive_a_save_and_bad_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let stats = PixelStats::fit(&faces(&[3, 9, 250])).unwrap();
        let path = dir.path().join("pixel_stats.json");
        stats.save(&path).unwrap();
        assert_eq!(PixelStats::load(&path).unwrap(), stats);

        std::fs::write(&path, r#"{"mean": [1.0], "std": [1.0], "count": 1}"#).unwrap();
        let err = PixelStats::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("pixel_stats.json") && err.contains("1 means"),
            "{err}"
        );
        assert!(PixelStats::fit(&Dataset::new()).is_err());
    }

    #[test]
    fn unit_scaling_and_labels() {
        let mut out = vec![0.0; IMAGE_PIXELS];
        let mut face = [0u8; IMAGE_PIXELS];
        face[1] = 255;
        face[2] = 51;
        to_unit(&face, &mut out);
        assert_eq!(&out[..3], &[0.0, 1.0, 0.2]);
        assert_eq!(to_unit_matrix(&faces(&[255]))[[0, 9]], 1.0);

        let labels = [Emotion::Neutral, Emotion::Angry];
        assert_eq!(label_indices(&labels), vec![6, 0]);
        let encoded = one_hot(&labels);
        assert_eq!(encoded.dim(), (2, 7));
        assert_eq!(encoded.row(0).to_vec(), vec![0., 0., 0., 0., 0., 0., 1.]);
        assert_eq!(encoded.sum(), 2.0);
    }
}
