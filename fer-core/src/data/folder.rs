//! Kaggle's folder layout: `ROOT/{train,test}/<emotion>/<image>`.
//!
//! Images may be JPEG, PNG or BMP of any size, colour type or bit depth; each is converted to
//! 8-bit grayscale and resized to 48x48 with the `image` crate. A file's challenge split
//! ([`Usage`]) comes from its name prefix (`Training_`, `PublicTest_`, `PrivateTest_`, as in
//! Kaggle's copy); a file without one takes its folder's meaning: `train/` is `Training`,
//! `test/` is `PrivateTest` (the final test set).
//!
//! Files that are plainly not data (hidden files such as `.DS_Store` or macOS `._*` companions,
//! `Thumbs.db`, any extension other than jpg/jpeg/png/bmp) are skipped and counted. Anything
//! else unexpected (a folder that is not an emotion, an image outside the emotion folders, a
//! file that does not decode) is an error naming the path.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use image::imageops::FilterType;
use image::{DynamicImage, GrayImage};
use rayon::prelude::*;

use crate::data::dataset::{Dataset, Face, Origin, Usage, IMAGE_PIXELS, IMAGE_SIDE};
use crate::emotion::Emotion;
use crate::error::{FerError, Result};

/// Extensions (any case) of the image files the loader reads.
pub const IMAGE_EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "bmp"];

/// One of the two top-level folders of Kaggle's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// `train/`: the challenge's `Training` set.
    Train,
    /// `test/`: `PublicTest` and `PrivateTest` merged.
    Test,
}

impl Part {
    /// The folder's name.
    pub(crate) fn folder(self) -> &'static str {
        match self {
            Part::Train => "train",
            Part::Test => "test",
        }
    }

    /// The usage of a file in this folder whose name has no usage prefix.
    fn default_usage(self) -> Usage {
        match self {
            Part::Train => Usage::Training,
            Part::Test => Usage::PrivateTest,
        }
    }

    /// Whether a file of this usage belongs in this folder.
    fn admits(self, usage: Usage) -> bool {
        (self == Part::Train) == (usage == Usage::Training)
    }
}

/// An image file found by [`list_folder`], not yet decoded, with what the cache key needs.
#[derive(Debug, Clone)]
pub(crate) struct ImageFile {
    /// Path relative to the data set's root (`train/happy/Training_1.jpg`).
    pub relative: PathBuf,
    /// The emotion folder it is in.
    pub label: Emotion,
    /// From the name prefix, else the folder.
    pub usage: Usage,
    /// Size in bytes.
    pub len: u64,
    /// Modification time in nanoseconds since the Unix epoch (0 where the platform has none).
    pub modified_nanos: u128,
}

/// Everything [`list_folder`] found under a root.
#[derive(Debug, Clone)]
pub(crate) struct FolderListing {
    /// The root as given.
    pub root: PathBuf,
    /// Files under `train/`, sorted by (emotion, name).
    pub train: Vec<ImageFile>,
    /// Files under `test/`, sorted by (emotion, name).
    pub test: Vec<ImageFile>,
    /// Files skipped as not data.
    pub skipped_files: usize,
}

/// Lists `root/train` and `root/test` (checking the layout, not decoding anything).
pub(crate) fn list_folder(root: &Path) -> Result<FolderListing> {
    if !root.is_dir() {
        return Err(FerError::invalid_data(
            root,
            "no such folder; expected FER2013 in Kaggle's layout (train/ and test/, one \
             folder per emotion) or a fer2013.csv file (see data/README.md)",
        ));
    }
    let mut skipped_files = 0;
    let train = list_part(root, Part::Train, &mut skipped_files)?;
    let test = list_part(root, Part::Test, &mut skipped_files)?;
    Ok(FolderListing {
        root: root.to_path_buf(),
        train,
        test,
        skipped_files,
    })
}

fn list_part(root: &Path, part: Part, skipped_files: &mut usize) -> Result<Vec<ImageFile>> {
    let dir = root.join(part.folder());
    if !dir.is_dir() {
        return Err(FerError::invalid_data(
            &dir,
            format!(
                "missing folder; expected {}/ beside {}/ in Kaggle's layout, with one folder \
                 per emotion inside (or a fer2013.csv in place of both; see data/README.md)",
                part.folder(),
                match part {
                    Part::Train => "test",
                    Part::Test => "train",
                }
            ),
        ));
    }
    let mut classes = Vec::new();
    for entry in read_dir_sorted(&dir)? {
        let path = entry.path();
        let name = PathBuf::from(entry.file_name());
        if path.is_dir() {
            let label: Emotion = name.to_string_lossy().parse().map_err(|_| {
                FerError::invalid_data(
                    &path,
                    format!(
                        "{:?} is not an emotion folder; expected only angry, disgust, fear, \
                         happy, sad, surprise, neutral (any case)",
                        name.to_string_lossy()
                    ),
                )
            })?;
            classes.push((name, label));
        } else if is_image_name(&name) {
            return Err(FerError::invalid_data(
                &path,
                format!(
                    "image outside the emotion folders; expected it in {}/<emotion>/",
                    part.folder()
                ),
            ));
        } else {
            *skipped_files += 1;
        }
    }
    // One stat per file is most of the listing's cost: list the class folders in parallel.
    let listed = classes
        .par_iter()
        .map(|(name, label)| list_class(root, part, name, *label))
        .collect::<Vec<_>>();
    let mut files = Vec::new();
    for class in listed {
        let (class_files, skipped) = class?;
        files.extend(class_files);
        *skipped_files += skipped;
    }
    // Folders are visited in name order; present the data in label order, then by name (a
    // stable sort keeps each folder's name order).
    files.sort_by_key(|f| f.label);
    Ok(files)
}

/// The image files of one emotion folder, in name order, and how many files were skipped.
fn list_class(
    root: &Path,
    part: Part,
    class_folder: &Path,
    label: Emotion,
) -> Result<(Vec<ImageFile>, usize)> {
    let relative_dir = Path::new(part.folder()).join(class_folder);
    let dir = root.join(&relative_dir);
    let mut files = Vec::new();
    let mut skipped = 0;
    for entry in read_dir_sorted(&dir)? {
        let path = entry.path();
        let name = PathBuf::from(entry.file_name());
        let file_type = entry.file_type().map_err(|e| FerError::io(&path, e))?;
        if file_type.is_dir() {
            return Err(FerError::invalid_data(
                &path,
                "unexpected folder inside an emotion folder; expected only image files",
            ));
        }
        if !is_image_name(&name) {
            skipped += 1;
            continue;
        }
        // `DirEntry::metadata` stats relative to the open folder (no path walk) but does not
        // follow symbolic links; follow them explicitly.
        let metadata = if file_type.is_symlink() {
            std::fs::metadata(&path)
        } else {
            entry.metadata()
        }
        .map_err(|e| FerError::io(&path, e))?;
        if metadata.is_dir() {
            return Err(FerError::invalid_data(
                &path,
                "unexpected folder inside an emotion folder; expected only image files",
            ));
        }
        let usage = match usage_from_name(&name) {
            Some(usage) if !part.admits(usage) => {
                return Err(FerError::invalid_data(
                    &path,
                    format!(
                        "the name says {} but the file is in {}/; expected Training_ files in \
                         train/ and PublicTest_/PrivateTest_ files in test/",
                        usage.name(),
                        part.folder()
                    ),
                ))
            }
            Some(usage) => usage,
            None => part.default_usage(),
        };
        let modified_nanos = metadata
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        files.push(ImageFile {
            relative: relative_dir.join(&name),
            label,
            usage,
            len: metadata.len(),
            modified_nanos,
        });
    }
    Ok((files, skipped))
}

/// The entries of `dir`, sorted by name, so that the loaded order does not depend on the file
/// system.
fn read_dir_sorted(dir: &Path) -> Result<Vec<std::fs::DirEntry>> {
    let mut entries = std::fs::read_dir(dir)
        .map_err(|e| FerError::io(dir, e))?
        .map(|entry| entry.map_err(|e| FerError::io(dir, e)))
        .collect::<Result<Vec<_>>>()?;
    entries.sort_by_key(|e| e.file_name());
    Ok(entries)
}

/// Whether a file name is one the loader decodes: a visible file with an image extension.
/// Hidden files (`.DS_Store`, macOS `._face.jpg` companions) are never data.
fn is_image_name(name: &Path) -> bool {
    let hidden = name.to_string_lossy().starts_with('.');
    let image_extension = name
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)));
    !hidden && image_extension
}

/// The usage a file name's prefix states (`PublicTest_123.jpg`), if any.
fn usage_from_name(name: &Path) -> Option<Usage> {
    let name = name.to_str()?;
    let (prefix, _) = name.split_once('_')?;
    Usage::ALL
        .into_iter()
        .find(|u| u.name().eq_ignore_ascii_case(prefix))
}

/// Decodes every listed file on rayon's thread pool; the faces keep the listing's order.
pub(crate) fn decode_part(root: &Path, files: &[ImageFile]) -> Result<Dataset> {
    let mut pixels = vec![0u8; files.len() * IMAGE_PIXELS];
    pixels
        .par_chunks_mut(IMAGE_PIXELS)
        .zip(files.par_iter())
        .try_for_each(|(out, file)| {
            let face = load_face(&root.join(&file.relative))?;
            out.copy_from_slice(&face);
            Ok::<_, FerError>(())
        })?;
    Dataset::from_parts(
        pixels,
        files.iter().map(|f| f.label).collect(),
        files.iter().map(|f| f.usage).collect(),
        files
            .iter()
            .map(|f| Origin::File(root.join(&f.relative)))
            .collect(),
    )
}

/// Reads any JPEG, PNG or BMP file (format guessed from its content, not its name) as a
/// FER2013 face: 8-bit grayscale, 48x48, decoded in bounded memory ([`load_photo`](super::load_photo)).
/// Errors name the file.
///
/// Also the entry point for a user's own photo; it should be a face crop, as FER2013's are.
pub fn load_face(path: &Path) -> Result<Face> {
    Ok(face_from_image(super::image_file::load_photo(path)?))
}

/// Converts a decoded image to a face: 8-bit grayscale (alpha dropped, 16-bit scaled down),
/// then resized to 48x48 with a triangle (bilinear) filter if it is another size. A non-square
/// image is stretched, not cropped: FER2013's faces are already square crops.
pub fn face_from_image(image: DynamicImage) -> Face {
    let side = IMAGE_SIDE as u32;
    let gray: GrayImage = match image {
        DynamicImage::ImageLuma8(gray) => gray,
        other => other.to_luma8(),
    };
    let gray = if gray.dimensions() == (side, side) {
        gray
    } else {
        image::imageops::resize(&gray, side, side, FilterType::Triangle)
    };
    let mut face = [0u8; IMAGE_PIXELS];
    face.copy_from_slice(gray.as_raw());
    face
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    use image::{GrayImage, ImageBuffer, Luma, Rgb, Rgba};

    #[test]
    fn usage_comes_from_the_name_prefix() {
        assert_eq!(
            usage_from_name(Path::new("PublicTest_88.jpg")),
            Some(Usage::PublicTest)
        );
        assert_eq!(
            usage_from_name(Path::new("privatetest_1.png")),
            Some(Usage::PrivateTest)
        );
        assert_eq!(
            usage_from_name(Path::new("Training_10118481.jpg")),
            Some(Usage::Training)
        );
        assert_eq!(usage_from_name(Path::new("im0.png")), None);
        assert_eq!(usage_from_name(Path::new("my_face.png")), None);
    }

    #[test]
    fn only_visible_image_files_are_data() {
        for name in ["a.jpg", "b.JPEG", "c.png", "d.Bmp"] {
            assert!(is_image_name(Path::new(name)), "{name}");
        }
        for name in [".DS_Store", "Thumbs.db", "._a.jpg", "notes.txt", "jpg"] {
            assert!(!is_image_name(Path::new(name)), "{name}");
        }
    }

    #[test]
    fn any_colour_type_and_size_becomes_a_48x48_gray_face() {
        // A uniform colour must stay uniform through conversion and resizing; its gray level
        // follows the image crate's Rec. 709 luma (0.2126 R + 0.7152 G + 0.0722 B).
        let rgb = ImageBuffer::from_pixel(100, 60, Rgb([200u8, 100, 50]));
        let face = face_from_image(DynamicImage::ImageRgb8(rgb));
        let expected = (0.2126 * 200.0 + 0.7152 * 100.0 + 0.0722 * 50.0_f64).round() as u8;
        assert!(
            face.iter().all(|&p| p.abs_diff(expected) <= 1),
            "{}",
            face[0]
        );

        let rgba = ImageBuffer::from_pixel(10, 10, Rgba([255u8, 255, 255, 0]));
        assert!(face_from_image(DynamicImage::ImageRgba8(rgba))
            .iter()
            .all(|&p| p == 255));

        // 16-bit: 65535 is white.
        let deep = ImageBuffer::from_pixel(48, 48, Luma([65535u16]));
        assert!(face_from_image(DynamicImage::ImageLuma16(deep))
            .iter()
            .all(|&p| p == 255));

        // A 48x48 gray image is taken pixel for pixel.
        let gradient = ImageBuffer::from_fn(48, 48, |x, y| Luma([(x + 2 * y) as u8]));
        let face = face_from_image(DynamicImage::ImageLuma8(gradient));
        assert_eq!(face[IMAGE_SIDE + 3], 5);
    }

    /// `train/happy/Training_1.png` and `test/sad/{PublicTest_2,3}.png` under a new root.
    fn tree() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let face = GrayImage::from_pixel(48, 48, Luma([9]));
        for file in [
            "train/happy/Training_1.png",
            "test/sad/PublicTest_2.png",
            "test/sad/3.png",
        ] {
            let path = root.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            face.save(&path).unwrap();
        }
        root
    }

    #[test]
    fn listing_takes_usage_from_the_prefix_else_the_folder() {
        let root = tree();
        let listing = list_folder(root.path()).unwrap();
        assert_eq!(listing.train[0].usage, Usage::Training);
        assert_eq!(listing.train[0].label, Emotion::Happy);
        let usages: Vec<_> = listing.test.iter().map(|f| f.usage).collect();
        // Name order: "3.png" sorts before "PublicTest_2.png"; no prefix in test/ = PrivateTest.
        assert_eq!(usages, [Usage::PrivateTest, Usage::PublicTest]);
        let test = decode_part(root.path(), &listing.test).unwrap();
        assert_eq!(test.face(1)[0], 9);
        assert_eq!(
            test.origins()[1],
            Origin::File(root.path().join("test/sad/PublicTest_2.png"))
        );
    }

    #[test]
    fn misplaced_files_and_folders_are_errors_naming_them() {
        let root = tree();
        let misplaced = root.path().join("test/sad/Training_4.png");
        std::fs::copy(root.path().join("test/sad/3.png"), &misplaced).unwrap();
        let err = list_folder(root.path()).unwrap_err().to_string();
        assert!(
            err.contains("Training_4.png: the name says Training"),
            "{err}"
        );
        std::fs::remove_file(misplaced).unwrap();

        let loose = root.path().join("train/Training_5.png");
        std::fs::copy(root.path().join("test/sad/3.png"), &loose).unwrap();
        let err = list_folder(root.path()).unwrap_err().to_string();
        assert!(
            err.contains("Training_5.png: image outside the emotion folders"),
            "{err}"
        );
        std::fs::remove_file(loose).unwrap();

        std::fs::create_dir(root.path().join("train/happy/more")).unwrap();
        let err = list_folder(root.path()).unwrap_err().to_string();
        assert!(err.contains("happy/more: unexpected folder"), "{err}");
    }

    #[test]
    fn undecodable_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.jpg");
        std::fs::write(&empty, b"").unwrap();
        let err = load_face(&empty).unwrap_err().to_string();
        assert!(
            err.contains("empty.jpg") && err.contains("0 bytes"),
            "{err}"
        );

        // A JPEG cut off half way: the decoder must not pad it out silently.
        let mut jpeg = Vec::new();
        let gradient = ImageBuffer::from_fn(48, 48, |x, y| Luma([(x * 5 + y) as u8]));
        DynamicImage::ImageLuma8(gradient)
            .write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
            .unwrap();
        let truncated = dir.path().join("truncated.jpg");
        std::fs::write(&truncated, &jpeg[..jpeg.len() / 2]).unwrap();
        let err = load_face(&truncated).unwrap_err().to_string();
        assert!(err.contains("truncated.jpg"), "{err}");

        let text = dir.path().join("text.jpg");
        std::fs::write(&text, b"this is not an image\n").unwrap();
        let err = load_face(&text).unwrap_err().to_string();
        assert!(
            err.contains("text.jpg") && err.contains("not a readable image"),
            "{err}"
        );
    }
}
