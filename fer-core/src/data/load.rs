//! The entry point: load FER2013 from Kaggle's folders or `fer2013.csv`, through the cache.

use std::path::{Path, PathBuf};

use crate::data::cache::{Cache, SourceKey};
use crate::data::csv::read_csv;
use crate::data::dataset::Dataset;
use crate::data::folder::{decode_part, list_folder, FolderListing};
use crate::error::{FerError, Result};

/// The CSV file name looked for inside a data folder that has no `train/` or `test/`.
pub const CSV_FILE_NAME: &str = "fer2013.csv";

/// FER2013 as loaded: Kaggle's two parts.
///
/// From folders, `train` is `train/` (all `Training`) and `test` is `test/` (`PublicTest` and
/// `PrivateTest`, told apart by each face's [`crate::Usage`]). From a CSV, `train` holds the
/// `Training` rows and `test` the other two. See [`Fer2013::paper_split`] and
/// [`Fer2013::holdout_split`] for the other protocols.
#[derive(Debug, Clone, PartialEq)]
pub struct Fer2013 {
    /// Kaggle's `train/` (the challenge's `Training` set).
    pub train: Dataset,
    /// Kaggle's `test/` (`PublicTest` and `PrivateTest`; [`Fer2013::paper_split`] separates
    /// them).
    pub kaggle_test: Dataset,
    /// Files skipped as plainly not data (`.DS_Store`, `Thumbs.db`, other extensions).
    pub skipped_files: usize,
    /// Why the decoded data could not be cached, if [`load`] tried and failed (the data is
    /// loaded all the same; the next load decodes again). The library never prints: the
    /// caller shows it.
    pub cache_warning: Option<String>,
}

/// Whether [`load_with_cache`] used the decoded-data cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheStatus {
    /// No cache was asked for (or the platform has no cache folder).
    Disabled,
    /// The data came from this cache file; nothing was decoded.
    Hit(PathBuf),
    /// The data was decoded and saved to this cache file for next time.
    Written(PathBuf),
    /// The data was decoded but could not be saved (the message says why); loading still
    /// succeeded.
    WriteFailed(String),
}

/// Loads FER2013 from `path`: a folder in Kaggle's layout (`train/` and `test/`, one folder per
/// emotion), a `.csv` file like `fer2013.csv`, or a folder holding `fer2013.csv`.
///
/// Uses the decoded-data cache in `FER_CACHE_DIR` (default: the platform's cache folder, `fer`
/// inside it): a second load of an unchanged source reads one file instead of decoding 35,887
/// images. A cache that cannot be written is reported on stderr and otherwise ignored.
///
/// ```
/// # fn main() -> fer_core::Result<()> {
/// use fer_core::{data, Emotion, Usage};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("fer2013.csv");
/// let gray = vec!["128"; 2304].join(" ");
/// std::fs::write(
///     &path,
///     format!("emotion,pixels,Usage\n3,{gray},Training\n6,{gray},PublicTest\n"),
/// )
/// .unwrap();
/// let fer = data::load_uncached(&path)?;
/// assert_eq!(fer.train.labels(), &[Emotion::Happy]);
/// assert_eq!(fer.kaggle_test.usages(), &[Usage::PublicTest]);
/// assert_eq!(fer.train.face(0)[0], 128);
/// # Ok(())
/// # }
/// ```
pub fn load(path: &Path) -> Result<Fer2013> {
    let (mut data, status) = load_with_cache(path, Cache::from_env().as_ref())?;
    if let CacheStatus::WriteFailed(message) = status {
        data.cache_warning = Some(message);
    }
    Ok(data)
}

/// Loads like [`load`] but never reads or writes the cache.
pub fn load_uncached(path: &Path) -> Result<Fer2013> {
    load_with_cache(path, None).map(|(data, _)| data)
}

/// Loads like [`load`] with an explicit cache (or none), and says whether it was used.
pub fn load_with_cache(path: &Path, cache: Option<&Cache>) -> Result<(Fer2013, CacheStatus)> {
    let source = Source::open(path)?;
    let Some(cache) = cache else {
        return Ok((source.decode()?, CacheStatus::Disabled));
    };
    let key = source.key()?;
    if let Some(data) = cache.read(source.location(), &key) {
        return Ok((data, CacheStatus::Hit(cache.file_for(source.location()))));
    }
    let data = source.decode()?;
    let status = match cache.write(source.location(), &key, &data) {
        Ok(file) => CacheStatus::Written(file),
        Err(err) => CacheStatus::WriteFailed(err.to_string()),
    };
    Ok((data, status))
}

/// A data set found on disk, listed but not yet decoded.
enum Source {
    Folder(FolderListing),
    Csv(PathBuf),
}

impl Source {
    fn open(path: &Path) -> Result<Source> {
        if path.is_file() {
            let is_csv = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
            if !is_csv {
                return Err(FerError::invalid_data(
                    path,
                    "not a .csv file; expected fer2013.csv or a folder in Kaggle's layout \
                     (train/ and test/)",
                ));
            }
            return Ok(Source::Csv(path.to_path_buf()));
        }
        let csv = path.join(CSV_FILE_NAME);
        let has_parts = path.join("train").exists() || path.join("test").exists();
        if path.is_dir() && !has_parts && csv.is_file() {
            return Ok(Source::Csv(csv));
        }
        let listing = list_folder(path)?;
        for (part, files) in [("train", &listing.train), ("test", &listing.test)] {
            if files.is_empty() {
                return Err(FerError::EmptyDataset(format!(
                    "{}: no images; expected jpg, jpeg, png or bmp files in {part}/<emotion>/",
                    path.join(part).display()
                )));
            }
        }
        Ok(Source::Folder(listing))
    }

    /// The file or folder the data comes from.
    fn location(&self) -> &Path {
        match self {
            Source::Folder(listing) => &listing.root,
            Source::Csv(path) => path,
        }
    }

    fn key(&self) -> Result<SourceKey> {
        match self {
            Source::Folder(listing) => Ok(SourceKey::of_folder(listing)),
            Source::Csv(path) => SourceKey::of_file(path),
        }
    }

    fn decode(&self) -> Result<Fer2013> {
        match self {
            Source::Folder(listing) => Ok(Fer2013 {
                train: decode_part(&listing.root, &listing.train)?,
                kaggle_test: decode_part(&listing.root, &listing.test)?,
                skipped_files: listing.skipped_files,
                cache_warning: None,
            }),
            Source::Csv(path) => {
                let (train, test) = read_csv(path)?;
                Ok(Fer2013 {
                    train,
                    kaggle_test: test,
                    skipped_files: 0,
                    cache_warning: None,
                })
            }
        }
    }
}
