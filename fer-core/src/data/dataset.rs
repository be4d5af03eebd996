//! An in-memory set of 48x48 grayscale faces with their labels, splits and origins.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::emotion::Emotion;

/// Side of a FER2013 face, in pixels.
pub const IMAGE_SIDE: usize = 48;
/// Pixels in one face (48 x 48).
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;

/// A face: 48x48 8-bit grayscale pixels, row-major.
pub type Face = [u8; IMAGE_PIXELS];

/// The original challenge's split of a sample (`Usage` column of `fer2013.csv`, or the file-name
/// prefix in Kaggle's folders).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Usage {
    /// Training set (28,709 faces).
    Training,
    /// The challenge's public leaderboard; papers use it as the validation set (3,589 faces).
    PublicTest,
    /// The challenge's final test set, which papers report (3,589 faces).
    PrivateTest,
}

impl Usage {
    /// All usages, in the order above.
    pub const ALL: [Usage; 3] = [Usage::Training, Usage::PublicTest, Usage::PrivateTest];

    /// The name as the CSV and the file-name prefixes spell it.
    pub fn name(self) -> &'static str {
        match self {
            Usage::Training => "Training",
            Usage::PublicTest => "PublicTest",
            Usage::PrivateTest => "PrivateTest",
        }
    }
}

/// Where a sample came from, so errors and galleries can point back at it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Origin {
    /// An image file.
    File(PathBuf),
    /// A row of a CSV file; the line number counts the header as line 1.
    CsvLine(u64),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::CsvLine(line) => write!(f, "line {line}"),
        }
    }
}

/// Faces with labels, stored contiguously (pixels stay 8-bit until a batch is made: the whole
/// data set takes about 83 MB).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dataset {
    faces: Vec<Face>,
    labels: Vec<Emotion>,
    usages: Vec<Usage>,
    origins: Vec<Origin>,
}

impl Dataset {
    /// An empty data set.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty data set with room for `n` faces.
    pub fn with_capacity(n: usize) -> Self {
        Dataset {
            faces: Vec::with_capacity(n),
            labels: Vec::with_capacity(n),
            usages: Vec::with_capacity(n),
            origins: Vec::with_capacity(n),
        }
    }

    /// A data set from its parts (as the loaders and the cache build it). `pixels` holds `labels.len()` faces, one after another; every
    /// vector must have one entry per face.
    pub fn from_parts(
        pixels: Vec<u8>,
        labels: Vec<Emotion>,
        usages: Vec<Usage>,
        origins: Vec<Origin>,
    ) -> crate::error::Result<Dataset> {
        let n = labels.len();
        if pixels.len() != n * IMAGE_PIXELS || usages.len() != n || origins.len() != n {
            return Err(crate::error::FerError::ShapeMismatch(format!(
                "{} pixels, {} labels, {} usages and {} origins; expected {} pixels ({} faces of \
                 {IMAGE_PIXELS}) and one label, usage and origin per face",
                pixels.len(),
                n,
                usages.len(),
                origins.len(),
                n * IMAGE_PIXELS,
                n
            )));
        }
        let faces = pixels
            .chunks_exact(IMAGE_PIXELS)
            .map(|face| Face::try_from(face).expect("chunks are IMAGE_PIXELS long"))
            .collect();
        Ok(Dataset {
            faces,
            labels,
            usages,
            origins,
        })
    }

    /// Appends one face.
    pub fn push(&mut self, face: &Face, label: Emotion, usage: Usage, origin: Origin) {
        self.faces.push(*face);
        self.labels.push(label);
        self.usages.push(usage);
        self.origins.push(origin);
    }

    /// Appends every face of `other`.
    pub fn extend(&mut self, other: Dataset) {
        self.faces.extend_from_slice(&other.faces);
        self.labels.extend(other.labels);
        self.usages.extend(other.usages);
        self.origins.extend(other.origins);
    }

    /// Number of faces.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no faces.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The `i`-th face. Panics if `i >= len()`, like slice indexing.
    pub fn face(&self, i: usize) -> &Face {
        &self.faces[i]
    }

    /// The faces, without their labels: what a model classifies.
    pub fn faces(&self) -> &[Face] {
        &self.faces
    }

    /// All pixels, face after face (`len() * IMAGE_PIXELS` bytes).
    pub fn pixels(&self) -> &[u8] {
        self.faces.as_flattened()
    }

    /// The labels, one per face.
    pub fn labels(&self) -> &[Emotion] {
        &self.labels
    }

    /// The challenge splits, one per face.
    pub fn usages(&self) -> &[Usage] {
        &self.usages
    }

    /// Where each face came from.
    pub fn origins(&self) -> &[Origin] {
        &self.origins
    }

    /// Faces per class, indexed by [`Emotion::index`].
    pub fn class_counts(&self) -> [usize; Emotion::COUNT] {
        let mut counts = [0; Emotion::COUNT];
        for label in &self.labels {
            counts[label.index()] += 1;
        }
        counts
    }

    /// A new data set holding the faces at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        let mut out = Dataset::with_capacity(indices.len());
        for &i in indices {
            out.push(
                self.face(i),
                self.labels[i],
                self.usages[i],
                self.origins[i].clone(),
            );
        }
        out
    }

    /// The faces whose challenge split is `usage`.
    pub fn with_usage(&self, usage: Usage) -> Dataset {
        let indices: Vec<usize> = (0..self.len())
            .filter(|&i| self.usages[i] == usage)
            .collect();
        self.select(&indices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_and_counts_keep_faces_with_their_labels() {
        let mut data = Dataset::new();
        for (i, emotion) in Emotion::ALL.iter().enumerate() {
            data.push(
                &[i as u8; IMAGE_PIXELS],
                *emotion,
                Usage::ALL[i % 3],
                Origin::CsvLine(i as u64 + 2),
            );
        }
        assert_eq!(data.len(), 7);
        assert_eq!(data.class_counts(), [1; 7]);
        let picked = data.select(&[5, 1]);
        assert_eq!(picked.labels(), &[Emotion::Surprise, Emotion::Disgust]);
        assert_eq!(picked.face(0)[100], 5);
        assert_eq!(picked.origins()[1], Origin::CsvLine(3));
        assert_eq!(data.with_usage(Usage::PublicTest).len(), 2);
    }
}
