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

/// `path` relative to the repository's top folder if it is inside it, else `path` itself:
/// what a notebook prints, so its committed outputs hold no path of the machine that made them.
pub fn relative_to_repository(path: &Path) -> PathBuf {
    let root = repository_root();
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    match canonical(path).strip_prefix(canonical(&root)) {
        Ok(inside) => inside.to_path_buf(),
        Err(_) => path.to_path_buf(),
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
        assert_eq!(relative_to_repository(&model), Path::new(SHIPPED_MODEL_DIR));
        assert_eq!(
            relative_to_repository(Path::new("/elsewhere")),
            Path::new("/elsewhere")
        );
    }
}
