//! The decoded-data cache: one binary file per source under `FER_CACHE_DIR`, so that a second
//! load of an unchanged data set reads about 85 MB instead of decoding 35,887 images.
//!
//! A cache file is used only if its format version and its source key (a BLAKE3 hash of the
//! source's file list, sizes and modification times) match, and the BLAKE3 hash of its content,
//! stored at its end, matches what was read. Anything else (another source, a changed file, a
//! truncated or corrupted cache, a newer format) is a miss: the source is decoded again and the
//! cache rewritten. A cache file is never trusted and never the cause of a failed load.
//!
//! The layout is a flat binary one written by hand rather than a serde format, so that the
//! pixels go straight from the file into their final buffer with one `read_exact` per split:
//!
//! ```text
//! "FERCACHE" | version: u32 | source key: [u8; 32]
//! payload:   skipped_files: u64, then for train and test:
//!            n: u64 | pixels: n*2304 u8 | labels: n u8 | usages: n u8 | n origins
//!            (origin: tag u8, then a u64 CSV line or a u32 length + UTF-8 path)
//! trailer:   BLAKE3 hash of the payload: [u8; 32]
//! ```
//! Integers are little-endian.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::data::dataset::{Dataset, Origin, Usage, IMAGE_PIXELS};
use crate::data::folder::FolderListing;
use crate::data::load::Fer2013;
use crate::emotion::Emotion;
use crate::error::{FerError, Result};

/// The environment variable naming the cache folder.
pub const CACHE_DIR_ENV: &str = "FER_CACHE_DIR";

const MAGIC: &[u8; 8] = b"FERCACHE";
/// Bump when the layout or the decoding (grayscale conversion, resizing) changes, so that old
/// cache files are rebuilt rather than misread.
const FORMAT_VERSION: u32 = 1;

const ORIGIN_RELATIVE_FILE: u8 = 0;
const ORIGIN_ABSOLUTE_FILE: u8 = 1;
const ORIGIN_CSV_LINE: u8 = 2;

/// What identifies a source's content: a hash of its file list, sizes and modification times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceKey([u8; 32]);

impl SourceKey {
    /// The key of a listed folder: every image's relative path, size, modification time, label
    /// and usage, and the number of skipped files.
    pub(crate) fn of_folder(listing: &FolderListing) -> SourceKey {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"folder");
        for (part, files) in [(0u8, &listing.train), (1u8, &listing.test)] {
            hasher.update(&[part]);
            hasher.update(&(files.len() as u64).to_le_bytes());
            for file in files {
                let name = file.relative.as_os_str().as_encoded_bytes();
                hasher.update(&(name.len() as u64).to_le_bytes());
                hasher.update(name);
                hasher.update(&file.len.to_le_bytes());
                hasher.update(&file.modified_nanos.to_le_bytes());
                hasher.update(&[file.label.index() as u8, usage_code(file.usage)]);
            }
        }
        hasher.update(&(listing.skipped_files as u64).to_le_bytes());
        SourceKey(*hasher.finalize().as_bytes())
    }

    /// The key of a single file (a CSV): its size and modification time.
    pub(crate) fn of_file(path: &Path) -> Result<SourceKey> {
        let metadata = std::fs::metadata(path).map_err(|e| FerError::io(path, e))?;
        let modified_nanos = metadata
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"file");
        hasher.update(&metadata.len().to_le_bytes());
        hasher.update(&modified_nanos.to_le_bytes());
        Ok(SourceKey(*hasher.finalize().as_bytes()))
    }
}

/// A folder of cache files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// A cache in `dir` (created when first written).
    pub fn new(dir: impl Into<PathBuf>) -> Cache {
        Cache { dir: dir.into() }
    }

    /// The cache in `$FER_CACHE_DIR` if set and non-empty, else `fer/` in the platform's cache
    /// folder (`~/.cache/fer` on Linux); `None` if the platform has none.
    pub fn from_env() -> Option<Cache> {
        match std::env::var_os(CACHE_DIR_ENV) {
            Some(dir) if !dir.is_empty() => Some(Cache::new(dir)),
            _ => dirs::cache_dir().map(|dir| Cache::new(dir.join("fer"))),
        }
    }

    /// The cache folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cache file for a source: named after a hash of its canonical path, so each data set
    /// has one file, replaced when the data set changes.
    pub fn file_for(&self, source: &Path) -> PathBuf {
        let canonical = std::fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf());
        let hash = blake3::hash(canonical.as_os_str().as_encoded_bytes());
        self.dir
            .join(format!("fer2013-{}.bin", &hash.to_hex().as_str()[..16]))
    }

    /// The cached data for `source`, if a cache file exists with this key and is intact.
    pub(crate) fn read(&self, source: &Path, key: &SourceKey) -> Option<Fer2013> {
        read_file(&self.file_for(source), source, key).ok()
    }

    /// Saves `data` as the cache for `source`, atomically; returns the cache file.
    pub(crate) fn write(&self, source: &Path, key: &SourceKey, data: &Fer2013) -> Result<PathBuf> {
        let file = self.file_for(source);
        crate::fs::write_atomically(&file, |out| write_to(out, source, key, data))?;
        Ok(file)
    }
}

fn usage_code(usage: Usage) -> u8 {
    match usage {
        Usage::Training => 0,
        Usage::PublicTest => 1,
        Usage::PrivateTest => 2,
    }
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

pub(super) fn write_to(
    out: &mut dyn Write,
    source: &Path,
    key: &SourceKey,
    data: &Fer2013,
) -> io::Result<()> {
    out.write_all(MAGIC)?;
    out.write_all(&FORMAT_VERSION.to_le_bytes())?;
    out.write_all(&key.0)?;
    let mut payload = HashingWriter {
        inner: out,
        hasher: blake3::Hasher::new(),
    };
    payload.write_all(&(data.skipped_files as u64).to_le_bytes())?;
    for part in [&data.train, &data.kaggle_test] {
        payload.write_all(&(part.len() as u64).to_le_bytes())?;
        payload.write_all(part.pixels())?;
        let labels: Vec<u8> = part.labels().iter().map(|l| l.index() as u8).collect();
        payload.write_all(&labels)?;
        let usages: Vec<u8> = part.usages().iter().map(|&u| usage_code(u)).collect();
        payload.write_all(&usages)?;
        for origin in part.origins() {
            match origin {
                Origin::CsvLine(line) => {
                    payload.write_all(&[ORIGIN_CSV_LINE])?;
                    payload.write_all(&line.to_le_bytes())?;
                }
                Origin::File(path) => {
                    let (tag, stored) = match path.strip_prefix(source) {
                        Ok(relative) => (ORIGIN_RELATIVE_FILE, relative),
                        Err(_) => (ORIGIN_ABSOLUTE_FILE, path.as_path()),
                    };
                    let text = stored
                        .to_str()
                        .ok_or_else(|| invalid("a file name is not UTF-8"))?;
                    payload.write_all(&[tag])?;
                    payload.write_all(&(text.len() as u32).to_le_bytes())?;
                    payload.write_all(text.as_bytes())?;
                }
            }
        }
    }
    let hash = payload.hasher.finalize();
    out.write_all(hash.as_bytes())
}

pub(super) fn read_file(file: &Path, source: &Path, key: &SourceKey) -> io::Result<Fer2013> {
    let handle = File::open(file)?;
    let file_len = handle.metadata()?.len();
    let mut input = BufReader::new(handle);
    let mut header = [0u8; 8 + 4 + 32];
    input.read_exact(&mut header)?;
    if &header[..8] != MAGIC
        || header[8..12] != FORMAT_VERSION.to_le_bytes()
        || header[12..] != key.0
    {
        return Err(invalid("another format version or source"));
    }
    let mut payload = HashingReader {
        inner: input,
        hasher: blake3::Hasher::new(),
        // The payload cannot be longer than the file: bounds every allocation below.
        remaining: file_len.saturating_sub(header.len() as u64 + 32),
    };
    let skipped_files = payload.u64()? as usize;
    let train = read_part(&mut payload, source)?;
    let test = read_part(&mut payload, source)?;
    let hash = payload.hasher.finalize();
    let mut stored = [0u8; 32];
    payload.inner.read_exact(&mut stored)?;
    if hash.as_bytes() != &stored || payload.inner.read(&mut [0u8])? != 0 {
        return Err(invalid("content hash mismatch"));
    }
    Ok(Fer2013 {
        train,
        kaggle_test: test,
        skipped_files,
        cache_warning: None,
    })
}

fn read_part(input: &mut HashingReader<impl Read>, source: &Path) -> io::Result<Dataset> {
    let n = input.u64()? as usize;
    let pixels = input.bytes(n.saturating_mul(IMAGE_PIXELS))?;
    let labels = input
        .bytes(n)?
        .into_iter()
        .map(|code| Emotion::from_index(code as usize).ok_or_else(|| invalid("bad label")))
        .collect::<io::Result<Vec<_>>>()?;
    let usages = input
        .bytes(n)?
        .into_iter()
        .map(|code| {
            Usage::ALL
                .get(code as usize)
                .copied()
                .ok_or_else(|| invalid("bad usage"))
        })
        .collect::<io::Result<Vec<_>>>()?;
    let mut origins = Vec::with_capacity(n);
    for _ in 0..n {
        let origin = match input.bytes(1)?[0] {
            ORIGIN_CSV_LINE => Origin::CsvLine(input.u64()?),
            tag @ (ORIGIN_RELATIVE_FILE | ORIGIN_ABSOLUTE_FILE) => {
                let len = u32::from_le_bytes(input.array()?) as usize;
                let text = String::from_utf8(input.bytes(len)?)
                    .map_err(|_| invalid("a file name is not UTF-8"))?;
                if tag == ORIGIN_RELATIVE_FILE {
                    Origin::File(source.join(text))
                } else {
                    Origin::File(PathBuf::from(text))
                }
            }
            _ => return Err(invalid("bad origin tag")),
        };
        origins.push(origin);
    }
    Dataset::from_parts(pixels, labels, usages, origins).map_err(|e| invalid(&e.to_string()))
}

/// Hashes everything written through it.
struct HashingWriter<'a> {
    inner: &'a mut dyn Write,
    hasher: blake3::Hasher,
}

impl Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Hashes everything read through it, refusing to read past the payload's end.
struct HashingReader<R> {
    inner: R,
    hasher: blake3::Hasher,
    remaining: u64,
}

impl<R: Read> HashingReader<R> {
    fn bytes(&mut self, len: usize) -> io::Result<Vec<u8>> {
        if len as u64 > self.remaining {
            return Err(invalid("truncated"));
        }
        self.remaining -= len as u64;
        let mut buf = vec![0u8; len];
        self.inner.read_exact(&mut buf)?;
        self.hasher.update(&buf);
        Ok(buf)
    }

    fn array<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let bytes = self.bytes(N)?;
        let mut array = [0u8; N];
        array.copy_from_slice(&bytes);
        Ok(array)
    }

    fn u64(&mut self) -> io::Result<u64> {
        self.array().map(u64::from_le_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::load::{load_with_cache, CacheStatus};
    use image::{GrayImage, Luma};

    /// A tiny Kaggle-layout folder: one PNG per (part, emotion), gray level = label * 10 + part.
    fn fixture(root: &Path) {
        for (p, part) in ["train", "test"].iter().enumerate() {
            for emotion in Emotion::ALL {
                let dir = root.join(part).join(emotion.name());
                std::fs::create_dir_all(&dir).unwrap();
                let prefix = if p == 0 { "Training" } else { "PublicTest" };
                let level = emotion.index() as u8 * 10 + p as u8;
                GrayImage::from_pixel(48, 48, Luma([level]))
                    .save(dir.join(format!("{prefix}_{}.png", emotion.index())))
                    .unwrap();
            }
        }
    }

    #[test]
    fn a_second_load_hits_and_gives_the_same_data() {
        let data_dir = tempfile::tempdir().unwrap();
        let cache_dir = tempfile::tempdir().unwrap();
        fixture(data_dir.path());
        let cache = Cache::new(cache_dir.path());
        let (first, status) = load_with_cache(data_dir.path(), Some(&cache)).unwrap();
        assert!(matches!(status, CacheStatus::Written(_)), "{status:?}");
        let (second, status) = load_with_cache(data_dir.path(), Some(&cache)).unwrap();
        assert!(matches!(status, CacheStatus::Hit(_)), "{status:?}");
        assert_eq!(first, second);
        assert_eq!(second.train.face(3)[0], 30);
        // Only the cache file is left in the folder: no temporary files.
        assert_eq!(std::fs::read_dir(cache_dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_changed_source_is_decoded_again() {
        let data_dir = tempfile::tempdir().unwrap();
        let cache_dir = tempfile::tempdir().unwrap();
        fixture(data_dir.path());
        let cache = Cache::new(cache_dir.path());
        load_with_cache(data_dir.path(), Some(&cache)).unwrap();

        // Same name, new content and size: the key changes even if the mtime did not.
        GrayImage::from_fn(48, 48, |x, _| Luma([x as u8]))
            .save(data_dir.path().join("train/angry/Training_0.png"))
            .unwrap();
        let (data, status) = load_with_cache(data_dir.path(), Some(&cache)).unwrap();
        assert!(matches!(status, CacheStatus::Written(_)), "{status:?}");
        assert_eq!(data.train.face(0)[5], 5);

        // A new file is in the list, so it invalidates too.
        std::fs::copy(
            data_dir.path().join("train/angry/Training_0.png"),
            data_dir.path().join("train/angry/Training_99.png"),
        )
        .unwrap();
        let (data, status) = load_with_cache(data_dir.path(), Some(&cache)).unwrap();
        assert!(matches!(status, CacheStatus::Written(_)), "{status:?}");
        assert_eq!(data.train.len(), 8);
    }

    #[test]
    fn a_corrupt_or_truncated_cache_is_ignored_and_rebuilt() {
        let data_dir = tempfile::tempdir().unwrap();
        let cache_dir = tempfile::tempdir().unwrap();
        fixture(data_dir.path());
        let cache = Cache::new(cache_dir.path());
        let (good, _) = load_with_cache(data_dir.path(), Some(&cache)).unwrap();
        let file = cache.file_for(data_dir.path());
        let bytes = std::fs::read(&file).unwrap();

        let mut flipped = bytes.clone();
        flipped[100] ^= 0x40; // a pixel of the first face
        let truncated = bytes[..bytes.len() / 2].to_vec();
        let mut huge_count = bytes.clone();
        huge_count[52..60].copy_from_slice(&u64::MAX.to_le_bytes()); // train's n
        for bad in [
            flipped,
            truncated,
            huge_count,
            b"garbage".to_vec(),
            Vec::new(),
        ] {
            std::fs::write(&file, &bad).unwrap();
            let (data, status) = load_with_cache(data_dir.path(), Some(&cache)).unwrap();
            assert!(matches!(status, CacheStatus::Written(_)), "{status:?}");
            assert_eq!(data, good);
            assert_eq!(std::fs::read(&file).unwrap(), bytes);
        }
    }

    #[test]
    fn an_unwritable_cache_does_not_fail_the_load() {
        let data_dir = tempfile::tempdir().unwrap();
        fixture(data_dir.path());
        // A regular file where the cache folder should be.
        let blocker = tempfile::NamedTempFile::new().unwrap();
        let cache = Cache::new(blocker.path().join("fer"));
        let (data, status) = load_with_cache(data_dir.path(), Some(&cache)).unwrap();
        assert!(matches!(status, CacheStatus::WriteFailed(_)), "{status:?}");
        assert_eq!(data.train.len(), 7);
    }
}
