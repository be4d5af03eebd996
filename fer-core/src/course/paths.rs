//! Where the notebooks find the data set and the shipped CNN, whatever folder the notebook
//! kernel runs in (Jupyter starts it in `notebooks/`, where `data/fer2013` does not resolve).

use std::path::{Path, PathBuf};

use crate::data::{DATA_DIR_ENV, DEFAULT_DATA_DIR};

/// The environment variable naming a CNN checkpoint folder to use instead of the shipped one.
pub const MODEL_DIR_ENV: &str = "FER_CNN_MODEL";

/// The shipped CNN checkpoint, relative to the repository's top folder.
pub const SHIPPED_MODEL_DIR: &str = "data/models/fer-cnn";

/// The repository's top folder: the parent of `fer-core/`, as this crate was compiled from it
/// (a notebook's `:dep fer-core = { path = "../fer-core" }` builds it from the checkout).
pub fn repository_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The data set: `$FER2013_DIR` if set and non-empty, else `data/fer2013` in the repository.
pub fn data_path() -> PathBuf {
    match std::env::var_os(DATA_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => repository_root().join(DEFAULT_DATA_DIR),
    }
}

/// The CNN checkpoint folder: `$FER_CNN_MODEL` if set and non-empty, else
/// [`SHIPPED_MODEL_DIR`] in the repository. It may not exist; see
/// [`crate::course::Course::cnn`].
pub fn model_dir() -> PathBuf {
    match std::env::var_os(MODEL_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => repository_root().join(SHIPPED_MODEL_DIR),
    }
}

/// A photo that is not from FER2013, for the course's "your own picture" cell: `test.png` in
/// the package of the `rustface` crate this build took its face detector from (the 1927 Solvay
/// conference group photo by Benjamin Couprie, in the public domain, with the boxes rustface's
/// own demo drew on it in red). It may be absent when `FER_SEETA_MODEL` pointed the build at a
/// model file outside that package.
pub fn sample_photo_path() -> PathBuf {
    let model = Path::new(env!("FER_SEETA_MODEL_PATH"));
    // The model is `model/seeta_fd_frontal_v1.0.bin` inside the package.
    let package = model.parent().and_then(Path::parent).unwrap_or(model);
    package.join("test.png")
}

/// `path` as a notebook prints it, so its committed outputs hold no path of the machine that
/// made them: relative to the repository's top folder if inside it, else relative to the
/// folder `$FER2013_DIR` or `$FER_CNN_MODEL` names (written with the variable, as
/// `$FER2013_DIR/train`), else only its last component after `…/`.
pub fn shown_path(path: &Path) -> String {
    let named: Vec<(&str, PathBuf)> = [DATA_DIR_ENV, MODEL_DIR_ENV]
        .into_iter()
        .filter_map(|variable| {
            let dir = std::env::var_os(variable).filter(|dir| !dir.is_empty())?;
            Some((variable, PathBuf::from(dir)))
        })
        .collect();
    shown_among(path, &repository_root(), &named)
}

/// [`shown_path`] with the repository and the named folders given.
fn shown_among(path: &Path, repository: &Path, named: &[(&str, PathBuf)]) -> String {
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let path = canonical(path);
    if let Ok(inside) = path.strip_prefix(canonical(repository)) {
        return inside.display().to_string();
    }
    for (variable, dir) in named {
        if let Ok(inside) = path.strip_prefix(canonical(dir)) {
            if inside.as_os_str().is_empty() {
                return format!("${variable}");
            }
            return Path::new(&format!("${variable}"))
                .join(inside)
                .display()
                .to_string();
        }
    }
    match path.file_name() {
        Some(name) => format!("…/{}", name.to_string_lossy()),
        None => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_holds_this_crate() {
        assert!(repository_root()
            .join("fer-core")
            .join("Cargo.toml")
            .is_file());
    }

    #[test]
    fn paths_inside_the_repository_are_printed_relative_to_it() {
        let model = repository_root().join(SHIPPED_MODEL_DIR);
        assert_eq!(shown_path(&model), SHIPPED_MODEL_DIR);
    }

    /// The photo is in the rustface package unless the build was pointed elsewhere.
    #[test]
    fn the_sample_photo_is_in_the_rustface_package() {
        if option_env!("FER_SEETA_MODEL").is_none() {
            let photo = image::open(sample_photo_path()).unwrap();
            // rustface 0.1.7's test.png.
            assert_eq!((photo.width(), photo.height()), (1666, 1136));
        }
    }

    #[test]
    fn paths_outside_the_repository_never_show_the_machine() {
        let repository = Path::new("/nonexistent/checkout");
        let named = [(DATA_DIR_ENV, PathBuf::from("/nonexistent/shared/fer2013"))];
        let shown = |path: &str| shown_among(Path::new(path), repository, &named);
        assert_eq!(
            shown("/nonexistent/checkout/data/models/fer-cnn"),
            "data/models/fer-cnn"
        );
        assert_eq!(shown("/nonexistent/shared/fer2013"), "$FER2013_DIR");
        assert_eq!(
            shown("/nonexistent/shared/fer2013/train"),
            "$FER2013_DIR/train"
        );
        assert_eq!(shown("/nonexistent/elsewhere/model"), "…/model");
    }
}
