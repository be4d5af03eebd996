//! Turning faces into feature vectors: raw pixels or HOG descriptors.
//!
//! Extraction is a pure function of the face, so it needs no fitting; the statistics learnt from
//! the training set (standardisation, PCA) live in [`super::FittedFeatures`].

use std::fmt;
use std::str::FromStr;

use image::GrayImage;
use imageproc::hog::{hog, HogOptions, HogSpec};
use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{Face, IMAGE_PIXELS, IMAGE_SIDE};
use crate::error::{FerError, Result};

/// Which descriptor represents a face.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatureKind {
    /// The 2,304 pixel intensities, as they are.
    Raw,
    /// A histogram-of-oriented-gradients descriptor ([`HogSettings`]).
    Hog,
}

impl FeatureKind {
    /// The name the command line and reports use (`"raw"`, `"hog"`).
    pub fn name(self) -> &'static str {
        match self {
            FeatureKind::Raw => "raw",
            FeatureKind::Hog => "hog",
        }
    }
}

impl fmt::Display for FeatureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FeatureKind {
    type Err = FerError;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "raw" => Ok(FeatureKind::Raw),
            "hog" => Ok(FeatureKind::Hog),
            _ => Err(FerError::invalid_parameter(
                "features",
                format!("{s:?}: expected `raw` or `hog`"),
            )),
        }
    }
}

/// Parameters of the HOG descriptor (imageproc's `hog`, Dalal & Triggs 2005).
///
/// The defaults are chosen for 48x48 faces: 6-pixel cells give an 8x8 grid, fine enough to
/// separate the brows, the eyes and the corners of the mouth (each spans about one or two cells
/// at this size), where 8-pixel cells (6x6) blur them together and 4-pixel cells (12x12) mostly
/// add noise and dimensions. Blocks of 2x2 cells with a stride of one cell are Dalal & Triggs'
/// standard, normalising each cell against its neighbours so that lighting changes cancel.
/// Nine unsigned orientations (0-180 degrees) make the descriptor indifferent to whether a
/// skin-to-shadow edge is dark-to-light or light-to-dark. That gives 7x7 blocks x 4 cells x 9 bins
/// = 1,764 features. Measured on FER2013's PublicTest split (alpha 10, 100 iterations), cells of
/// 4, 6 and 8 pixels scored 45.1%, 46.4% and 44.6%; 4-pixel cells (4,356 features) also took
/// three times as long to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HogSettings {
    /// Orientation bins per cell. Default 9.
    pub orientations: usize,
    /// Whether opposite gradient directions get different bins (0-360 degrees). Default `false`.
    pub signed: bool,
    /// Side of a square cell, in pixels; must divide 48. Default 6.
    pub cell_side: usize,
    /// Side of a square block, in cells. Default 2.
    pub block_side: usize,
    /// Step from one block to the next, in cells. Default 1.
    pub block_stride: usize,
}

impl Default for HogSettings {
    fn default() -> Self {
        HogSettings {
            orientations: 9,
            signed: false,
            cell_side: 6,
            block_side: 2,
            block_stride: 1,
        }
    }
}

impl HogSettings {
    fn options(&self) -> HogOptions {
        HogOptions::new(
            self.orientations,
            self.signed,
            self.cell_side,
            self.block_side,
            self.block_stride,
        )
    }

    /// Checks the settings against a 48x48 face and returns the descriptor's length.
    ///
    /// imageproc validates divisibility itself but panics (integer underflow, division by zero)
    /// on a block larger than the grid or a zero stride, so those are rejected here first.
    pub fn descriptor_length(&self) -> Result<usize> {
        if self.orientations == 0 {
            return Err(FerError::invalid_parameter(
                "hog.orientations",
                "0: need at least one orientation bin",
            ));
        }
        if self.cell_side == 0 || IMAGE_SIDE % self.cell_side != 0 {
            return Err(FerError::invalid_parameter(
                "hog.cell_side",
                format!("{}: must divide the face side {IMAGE_SIDE}", self.cell_side),
            ));
        }
        let cells = IMAGE_SIDE / self.cell_side;
        if self.block_side == 0 || self.block_side > cells {
            return Err(FerError::invalid_parameter(
                "hog.block_side",
                format!(
                    "{}: must be between 1 and the {cells} cells across a face",
                    self.block_side
                ),
            ));
        }
        if self.block_stride == 0 {
            return Err(FerError::invalid_parameter(
                "hog.block_stride",
                "0: must be at least 1",
            ));
        }
        let side = IMAGE_SIDE as u32;
        HogSpec::from_options(side, side, self.options())
            .map(|spec| spec.descriptor_length())
            .map_err(|message| FerError::invalid_parameter("hog", message))
    }
}

/// What to extract from a face, and whether to reduce it with PCA afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FeatureSettings {
    /// Raw pixels or HOG.
    pub kind: FeatureKind,
    /// HOG parameters (used when `kind` is [`FeatureKind::Hog`]).
    pub hog: HogSettings,
    /// Number of principal components to keep after standardisation, or `None` for no PCA.
    pub pca_components: Option<usize>,
}

impl FeatureSettings {
    /// Settings for `kind` with the default HOG parameters and no PCA.
    pub fn new(kind: FeatureKind) -> Self {
        FeatureSettings {
            kind,
            hog: HogSettings::default(),
            pca_components: None,
        }
    }

    /// Length of the extracted descriptor, before PCA; checks the HOG settings.
    pub fn descriptor_length(&self) -> Result<usize> {
        match self.kind {
            FeatureKind::Raw => Ok(IMAGE_PIXELS),
            FeatureKind::Hog => self.hog.descriptor_length(),
        }
    }

    /// Length of the vectors the classifier sees (after PCA, if any).
    pub fn output_length(&self) -> Result<usize> {
        let length = self.descriptor_length()?;
        match self.pca_components {
            None => Ok(length),
            Some(k) if k == 0 || k > length => Err(FerError::invalid_parameter(
                "pca",
                format!("{k}: must be between 1 and the descriptor length {length}"),
            )),
            Some(k) => Ok(k),
        }
    }

    /// A short label for reports: `"raw"`, `"hog"`, `"hog+pca128"`.
    pub fn label(&self) -> String {
        match self.pca_components {
            None => self.kind.name().to_string(),
            Some(k) => format!("{}+pca{k}", self.kind.name()),
        }
    }
}

/// Extracts one descriptor per face (rows in data set order), in parallel over faces. Raw pixels
/// are scaled to [0, 1]; HOG blocks are L2-normalised by imageproc.
pub fn extract(
    faces: &[Face],
    kind: FeatureKind,
    hog_settings: &HogSettings,
) -> Result<Array2<f32>> {
    let length = FeatureSettings {
        kind,
        hog: *hog_settings,
        pca_components: None,
    }
    .descriptor_length()?;
    let mut out = Array2::<f32>::zeros((faces.len(), length));
    if faces.is_empty() {
        return Ok(out);
    }
    let rows = out
        .as_slice_mut()
        .expect("a freshly allocated array is contiguous");
    match kind {
        FeatureKind::Raw => {
            rows.par_chunks_mut(length)
                .zip(faces.par_iter())
                .for_each(|(row, face)| {
                    for (x, &p) in row.iter_mut().zip(face) {
                        *x = f32::from(p) / 255.0;
                    }
                });
        }
        FeatureKind::Hog => {
            let options = hog_settings.options();
            rows.par_chunks_mut(length)
                .zip(faces.par_iter())
                .try_for_each(|(row, face)| -> Result<()> {
                    let side = IMAGE_SIDE as u32;
                    let image = GrayImage::from_raw(side, side, face.to_vec())
                        .expect("a face holds exactly 48x48 pixels");
                    let descriptor = hog(&image, options)
                        .map_err(|message| FerError::invalid_parameter("hog", message))?;
                    row.copy_from_slice(&descriptor);
                    Ok(())
                })?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_face(face: &Face) -> Vec<Face> {
        vec![*face]
    }

    #[test]
    fn default_hog_has_7x7_blocks_of_4_cells_of_9_bins() {
        assert_eq!(HogSettings::default().descriptor_length().unwrap(), 1764);
        assert_eq!(
            FeatureSettings::new(FeatureKind::Raw)
                .output_length()
                .unwrap(),
            2304
        );
    }

    #[test]
    fn bad_hog_and_pca_settings_are_errors_naming_the_parameter() {
        let bad = [
            (
                HogSettings {
                    cell_side: 5,
                    ..HogSettings::default()
                },
                "hog.cell_side",
            ),
            (
                HogSettings {
                    cell_side: 0,
                    ..HogSettings::default()
                },
                "hog.cell_side",
            ),
            (
                HogSettings {
                    block_side: 9,
                    ..HogSettings::default()
                },
                "hog.block_side",
            ),
            (
                HogSettings {
                    block_stride: 0,
                    ..HogSettings::default()
                },
                "hog.block_stride",
            ),
            (
                HogSettings {
                    orientations: 0,
                    ..HogSettings::default()
                },
                "hog.orientations",
            ),
        ];
        for (settings, name) in bad {
            let err = settings.descriptor_length().unwrap_err();
            assert!(err.to_string().contains(name), "{settings:?}: {err}");
        }
        // 6-cell grid (8 cells), block 3, stride 2: (8 - 3) is odd, so imageproc refuses it.
        let uneven = HogSettings {
            block_side: 3,
            block_stride: 2,
            ..HogSettings::default()
        };
        assert!(uneven.descriptor_length().is_err());
        let mut settings = FeatureSettings::new(FeatureKind::Hog);
        settings.pca_components = Some(1765);
        assert!(settings
            .output_length()
            .unwrap_err()
            .to_string()
            .contains("pca"));
    }

    #[test]
    fn raw_features_are_pixels_scaled_to_unit_range() {
        let mut face = [0u8; IMAGE_PIXELS];
        face[0] = 255;
        face[47] = 51;
        let x = extract(&one_face(&face), FeatureKind::Raw, &HogSettings::default()).unwrap();
        assert_eq!(x.dim(), (1, IMAGE_PIXELS));
        assert_eq!(x[[0, 0]], 1.0);
        assert!((x[[0, 47]] - 0.2).abs() < 1e-6);
        assert_eq!(x[[0, 1]], 0.0);
    }

    #[test]
    fn hog_sees_edge_orientation_and_ignores_contrast_polarity() {
        // A vertical edge (dark left half, bright right half) puts its gradient energy in the
        // horizontal-gradient bin; the same edge with inverted contrast must give the same
        // unsigned descriptor, and a horizontal edge a different one.
        let mut vertical = [0u8; IMAGE_PIXELS];
        let mut horizontal = [0u8; IMAGE_PIXELS];
        for y in 0..IMAGE_SIDE {
            for x in 0..IMAGE_SIDE {
                vertical[y * IMAGE_SIDE + x] = if x < 24 { 30 } else { 220 };
                horizontal[y * IMAGE_SIDE + x] = if y < 24 { 30 } else { 220 };
            }
        }
        let inverted = vertical.map(|p| 250 - p);
        let settings = HogSettings::default();
        let hog_of = |face| extract(&one_face(face), FeatureKind::Hog, &settings).unwrap();
        let (v, i, h) = (hog_of(&vertical), hog_of(&inverted), hog_of(&horizontal));
        let distance = |a: &Array2<f32>, b: &Array2<f32>| (a - b).mapv(|d| d * d).sum().sqrt();
        assert!(distance(&v, &i) < 1e-4, "{}", distance(&v, &i));
        assert!(distance(&v, &h) > 1.0, "{}", distance(&v, &h));
        assert!(v.iter().all(|x| x.is_finite() && *x >= 0.0));
    }
}
