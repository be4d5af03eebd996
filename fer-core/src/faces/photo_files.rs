//! The image files named on a command line: files as given, folders searched recursively.

use std::path::{Path, PathBuf};

use crate::data::IMAGE_EXTENSIONS;
use crate::error::{FerError, Result};

/// The files `paths` name, in order: a file as given (whatever its name: the format is read
/// from the content), a folder replaced by the image files under it, recursively, sorted by
/// path, skipping hidden entries and files without an image extension (jpg, jpeg, png, bmp).
/// A path that does not exist is an [`FerError::Io`] naming it.
pub fn photo_files<P: AsRef<Path>>(paths: &[P]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|e| FerError::io(path, e))?;
        if !meta.is_dir() {
            files.push(path.to_path_buf());
            continue;
        }
        let walk = walkdir::WalkDir::new(path)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
        for entry in walk {
            let entry = entry.map_err(|e| {
                let at = e.path().unwrap_or(path).to_path_buf();
                FerError::io(at, e.into())
            })?;
            if entry.file_type().is_file() && has_image_extension(entry.path()) {
                files.push(entry.into_path());
            }
        }
    }
    Ok(files)
}

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_searched_recursively_for_images_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("class/b")).unwrap();
        std::fs::create_dir_all(root.join(".hidden")).unwrap();
        for name in [
            "class/z.JPG",
            "class/b/a.png",
            "class/notes.txt",
            ".hidden/x.png",
            "class/.y.png",
        ] {
            std::fs::write(root.join(name), "x").unwrap();
        }
        let single = root.join("class/notes.txt");
        let files = photo_files(&[root.join("class"), single.clone()]).unwrap();
        assert_eq!(
            files,
            vec![root.join("class/b/a.png"), root.join("class/z.JPG"), single]
        );
        let err = photo_files(&[root.join("nope")]).unwrap_err().to_string();
        assert!(err.contains("nope"), "{err}");
    }
}
