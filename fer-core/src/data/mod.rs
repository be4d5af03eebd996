//! Loading FER2013 (Kaggle's folders or `fer2013.csv`), preprocessing, splits, the decoded-data
//! cache, augmentation and class balancing.

pub mod augment;
pub mod balance;
mod cache;
mod csv;
mod csv_lines;
mod dataset;
mod folder;
mod image_file;
mod load;
mod location;
mod preprocess;
mod split;
mod stats;
mod subset;

#[cfg(test)]
mod cache_fuzz;
#[cfg(test)]
mod csv_fuzz;
#[cfg(test)]
mod image_fuzz;

pub use cache::{Cache, CACHE_DIR_ENV};
pub use csv::{read_csv, write_csv};
pub use dataset::{Dataset, Face, Origin, Usage, IMAGE_PIXELS, IMAGE_SIDE};
pub use folder::{face_from_image, load_face, IMAGE_EXTENSIONS};
pub use image_file::{decode_photo, load_photo, MAX_PHOTO_PIXELS};
pub use load::{load, load_uncached, load_with_cache, CacheStatus, Fer2013, CSV_FILE_NAME};
pub use location::{resolve_data_path, DATA_DIR_ENV, DEFAULT_DATA_DIR};
pub use preprocess::{label_indices, one_hot, to_unit, to_unit_matrix, PixelStats, MIN_PIXEL_STD};
pub use split::Splits;
pub use stats::{mean_faces, stats, ClassCounts, DatasetStats, PartStats, UsageCounts};
pub use subset::stratified_subset;
