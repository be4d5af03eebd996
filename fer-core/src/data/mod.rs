//! Loading FER2013 (Kaggle's folders or `fer2013.csv`), preprocessing, splits, the decoded-data
//! cache, augmentation and class balancing.

pub mod augment;
pub mod balance;
mod dataset;

pub use dataset::{Dataset, Face, Origin, Usage, IMAGE_PIXELS, IMAGE_SIDE};
