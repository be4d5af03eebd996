//! Where the data set is: `--data PATH`, else `$FER2013_DIR`, else `data/fer2013`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The environment variable naming the data set (a folder or a `.csv` file).
pub const DATA_DIR_ENV: &str = "FER2013_DIR";

/// The default location, relative to the working directory (see `data/README.md`).
pub const DEFAULT_DATA_DIR: &str = "data/fer2013";

/// The data set to use: `cli` (a `--data` argument) if given, else `$FER2013_DIR` if set and
/// non-empty, else `data/fer2013`. The path is not checked here; [`crate::data::load`] says what
/// is missing.
///
/// ```
/// use std::path::Path;
/// use fer_core::data::resolve_data_path;
/// assert_eq!(resolve_data_path(Some(Path::new("my.csv"))), Path::new("my.csv"));
/// ```
pub fn resolve_data_path(cli: Option<&Path>) -> PathBuf {
    resolve_from(cli, std::env::var_os(DATA_DIR_ENV))
}

/// [`resolve_data_path`] with the environment variable's value passed in, so it can be tested
/// without touching the process environment.
fn resolve_from(cli: Option<&Path>, env: Option<OsString>) -> PathBuf {
    if let Some(path) = cli {
        return path.to_path_buf();
    }
    match env {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(DEFAULT_DATA_DIR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_then_the_variable_then_the_default() {
        let env = Some(OsString::from("/env/fer"));
        assert_eq!(
            resolve_from(Some(Path::new("/cli/fer.csv")), env.clone()),
            Path::new("/cli/fer.csv")
        );
        assert_eq!(resolve_from(None, env), Path::new("/env/fer"));
        assert_eq!(resolve_from(None, None), Path::new("data/fer2013"));
        // An empty variable (`FER2013_DIR= fer stats`) means unset, not the working directory.
        assert_eq!(
            resolve_from(None, Some(OsString::new())),
            Path::new("data/fer2013")
        );
    }
}
