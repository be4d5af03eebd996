//! A cache of extracted HOG descriptors, beside the decoded-data cache, so that a second fit on
//! the same faces (another `alpha`, another PCA size) skips the extraction.
//!
//! HOG costs about 0.3 ms per face with imageproc (`cargo bench --bench baseline`: 313 ms per
//! 1,000 faces with the machine loaded), some 10 s for the 35,887 FER2013 faces; reading
//! the cached 250 MB takes a fraction of that. Raw pixels are never cached: scaling 1,000 faces
//! takes 2 ms, less than reading them back.
//!
//! A file is named after a BLAKE3 hash of the faces' pixels and the extraction settings, so a
//! changed face or setting can never be served stale features. It is used only if its magic,
//! format version, dimensions and the BLAKE3 hash of its payload (stored at its end) all match;
//! anything else is a miss, recomputed and rewritten. A cache file is never the cause of a
//! failed fit.
//!
//! ```text
//! "FERFEATS" | version: u32 | rows: u64 | cols: u64 | rows*cols f32 | BLAKE3 of the f32 bytes
//! ```
//! Integers and floats are little-endian.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ndarray::Array2;

use super::features::{extract, FeatureKind, HogSettings};
use crate::data::{Cache, Face};
use crate::error::Result;

const MAGIC: &[u8; 8] = b"FERFEATS";
/// Bump when the layout or the meaning of the features (imageproc's HOG) changes.
const FORMAT_VERSION: u32 = 1;

/// A folder of cached feature matrices.
#[derive(Debug, Clone)]
pub struct FeatureCache {
    dir: PathBuf,
    /// Why writes failed, for [`FeatureCache::take_warnings`]: the fit and predict calls that
    /// go through the cache return their features, not its status. Shared by clones.
    warnings: Arc<Mutex<Vec<String>>>,
}

/// Where [`FeatureCache::extract`] got its features from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeatureCacheStatus {
    /// Raw pixels: computed, never cached.
    NotCached,
    /// Read from this file.
    Hit(PathBuf),
    /// Computed and saved to this file.
    Written(PathBuf),
    /// Computed; saving failed for the reason given, which names the file (the features are
    /// still returned).
    WriteFailed(String),
}

impl FeatureCache {
    /// A cache in `dir` (created when first written).
    pub fn new(dir: impl Into<PathBuf>) -> FeatureCache {
        FeatureCache {
            dir: dir.into(),
            warnings: Arc::default(),
        }
    }

    /// `features/` inside the decoded-data cache folder ([`Cache::from_env`]: `FER_CACHE_DIR`,
    /// else the platform's cache folder); `None` if there is none.
    pub fn from_env() -> Option<FeatureCache> {
        Cache::from_env().map(|cache| FeatureCache::new(cache.dir().join("features")))
    }

    /// The cache folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Why cache files could not be written since the last call, each naming its file, and
    /// clears them. The library never prints: the caller shows them (a failed write only
    /// costs the extraction again on the next run).
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The features of `faces`, from the cache when an intact file for these faces and settings
    /// exists, else extracted (and cached, for HOG).
    pub fn extract(
        &self,
        faces: &[Face],
        kind: FeatureKind,
        hog: &HogSettings,
    ) -> Result<(Array2<f32>, FeatureCacheStatus)> {
        if kind == FeatureKind::Raw || faces.is_empty() {
            return Ok((extract(faces, kind, hog)?, FeatureCacheStatus::NotCached));
        }
        let file = self.file_for(faces, hog);
        if let Some(x) = read_file(&file) {
            if x.nrows() == faces.len() {
                return Ok((x, FeatureCacheStatus::Hit(file)));
            }
        }
        let x = extract(faces, kind, hog)?;
        let status = match crate::fs::write_atomically(&file, |out| write_to(out, &x)) {
            Ok(()) => FeatureCacheStatus::Written(file),
            Err(e) => {
                let message = format!("cannot write {}: {e}", file.display());
                self.warnings
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(message.clone());
                FeatureCacheStatus::WriteFailed(message)
            }
        };
        Ok((x, status))
    }

    fn file_for(&self, faces: &[Face], hog: &HogSettings) -> PathBuf {
        let mut hasher = blake3::Hasher::new();
        hasher.update(MAGIC);
        hasher.update(&FORMAT_VERSION.to_le_bytes());
        for value in [
            hog.orientations,
            usize::from(hog.signed),
            hog.cell_side,
            hog.block_side,
            hog.block_stride,
            faces.len(),
        ] {
            hasher.update(&(value as u64).to_le_bytes());
        }
        hasher.update(faces.as_flattened());
        let hash = hasher.finalize();
        self.dir
            .join(format!("hog-{}.bin", &hash.to_hex().as_str()[..32]))
    }
}

pub(crate) fn write_to(out: &mut dyn Write, x: &Array2<f32>) -> std::io::Result<()> {
    out.write_all(MAGIC)?;
    out.write_all(&FORMAT_VERSION.to_le_bytes())?;
    out.write_all(&(x.nrows() as u64).to_le_bytes())?;
    out.write_all(&(x.ncols() as u64).to_le_bytes())?;
    let mut hasher = blake3::Hasher::new();
    // Rows one at a time, converted to little-endian bytes, to stay portable without copying
    // the whole matrix.
    let mut bytes = Vec::with_capacity(x.ncols() * 4);
    for row in x.rows() {
        bytes.clear();
        bytes.extend(row.iter().flat_map(|v| v.to_le_bytes()));
        hasher.update(&bytes);
        out.write_all(&bytes)?;
    }
    out.write_all(hasher.finalize().as_bytes())
}

/// The matrix in `file`, or `None` for a missing, foreign, truncated or corrupted file.
pub(crate) fn read_file(file: &Path) -> Option<Array2<f32>> {
    let mut input = std::io::BufReader::new(std::fs::File::open(file).ok()?);
    let mut header = [0u8; 28];
    input.read_exact(&mut header).ok()?;
    if &header[..8] != MAGIC || header[8..12] != FORMAT_VERSION.to_le_bytes() {
        return None;
    }
    let rows = u64::from_le_bytes(header[12..20].try_into().ok()?) as usize;
    let cols = u64::from_le_bytes(header[20..28].try_into().ok()?) as usize;
    let len = rows.checked_mul(cols)?.checked_mul(4)?;
    // Refuse sizes the file cannot hold before allocating for them.
    let file_len = std::fs::metadata(file).ok()?.len() as usize;
    if file_len != 28 + len + 32 {
        return None;
    }
    let mut bytes = vec![0u8; len];
    input.read_exact(&mut bytes).ok()?;
    let mut stored_hash = [0u8; 32];
    input.read_exact(&mut stored_hash).ok()?;
    if blake3::hash(&bytes).as_bytes() != &stored_hash {
        return None;
    }
    let values = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Array2::from_shape_vec((rows, cols), values).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::test_faces::banded_faces;

    #[test]
    fn a_second_extraction_hits_the_cache_with_identical_features() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FeatureCache::new(dir.path());
        let faces = banded_faces(2, 1);
        let hog = HogSettings::default();
        let (first, status) = cache
            .extract(faces.faces(), FeatureKind::Hog, &hog)
            .unwrap();
        assert!(
            matches!(status, FeatureCacheStatus::Written(_)),
            "{status:?}"
        );
        let (second, status) = cache
            .extract(faces.faces(), FeatureKind::Hog, &hog)
            .unwrap();
        assert!(matches!(status, FeatureCacheStatus::Hit(_)), "{status:?}");
        assert_eq!(first, second);
        assert_eq!(
            first,
            extract(faces.faces(), FeatureKind::Hog, &hog).unwrap()
        );
        // Raw pixels bypass the cache.
        let (_, status) = cache
            .extract(faces.faces(), FeatureKind::Raw, &hog)
            .unwrap();
        assert_eq!(status, FeatureCacheStatus::NotCached);
    }

    #[test]
    fn other_faces_or_settings_miss_and_a_corrupt_file_is_recomputed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FeatureCache::new(dir.path());
        let faces = banded_faces(2, 1);
        let hog = HogSettings::default();
        let (expected, status) = cache
            .extract(faces.faces(), FeatureKind::Hog, &hog)
            .unwrap();
        let FeatureCacheStatus::Written(file) = status else {
            panic!("{status:?}")
        };
        let other = HogSettings {
            cell_side: 8,
            ..hog
        };
        let (_, status) = cache
            .extract(faces.faces(), FeatureKind::Hog, &other)
            .unwrap();
        assert!(
            matches!(status, FeatureCacheStatus::Written(_)),
            "{status:?}"
        );
        let (_, status) = cache
            .extract(banded_faces(2, 2).faces(), FeatureKind::Hog, &hog)
            .unwrap();
        assert!(
            matches!(status, FeatureCacheStatus::Written(_)),
            "{status:?}"
        );

        // Flip one byte of the payload: the hash check must reject the file.
        let mut bytes = std::fs::read(&file).unwrap();
        bytes[100] ^= 0xff;
        std::fs::write(&file, &bytes).unwrap();
        let (x, status) = cache
            .extract(faces.faces(), FeatureKind::Hog, &hog)
            .unwrap();
        assert!(
            matches!(status, FeatureCacheStatus::Written(_)),
            "{status:?}"
        );
        assert_eq!(x, expected);
        // Truncated: also a miss, never an error.
        std::fs::write(&file, &bytes[..50]).unwrap();
        let (x, _) = cache
            .extract(faces.faces(), FeatureKind::Hog, &hog)
            .unwrap();
        assert_eq!(x, expected);
    }

    #[test]
    fn an_unwritable_cache_still_returns_the_features() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").unwrap();
        let cache = FeatureCache::new(blocker.join("sub"));
        let faces = banded_faces(1, 1);
        let (x, status) = cache
            .extract(faces.faces(), FeatureKind::Hog, &HogSettings::default())
            .unwrap();
        let FeatureCacheStatus::WriteFailed(message) = status else {
            panic!("{status:?}")
        };
        assert_eq!(x.nrows(), 7);
        // The warning names the file, once.
        assert!(
            message.contains("hog-") && message.contains("sub"),
            "{message}"
        );
        assert_eq!(cache.take_warnings(), vec![message]);
        assert!(cache.take_warnings().is_empty());
    }

    /// Fuzzing the HOG cache reader: random and mutated cache files give features or a miss
    /// (`None`), never a panic, and never hold more than 1 MiB + 64 bytes per input byte (a
    /// header claiming a huge matrix must not allocate it).
    #[test]
    fn random_and_mutated_feature_cache_files_read_or_miss() {
        use crate::fuzz::harness::{fuzz, inputs, Outcome};
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("features.bin");
        let x = Array2::from_shape_fn((3, 5), |(r, c)| (r * 5 + c) as f32 * 0.5);
        let mut valid = Vec::new();
        write_to(&mut valid, &x).unwrap();
        assert_eq!(read_file_bytes(&file, &valid), Some(x));
        fuzz(
            "hog cache",
            400,
            inputs(vec![valid], 256),
            1 << 20,
            64,
            |bytes| Ok(Outcome::of_option(&read_file_bytes(&file, bytes))),
        );
    }

    fn read_file_bytes(file: &Path, bytes: &[u8]) -> Option<Array2<f32>> {
        std::fs::write(file, bytes).unwrap();
        read_file(file)
    }
}
