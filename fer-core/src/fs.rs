//! Writing files so that nothing already written is lost: a temporary file beside the target,
//! renamed over it only once it is complete.

use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::{FerError, Result};

/// Writes `path` atomically: `write` fills a temporary file in the same folder, which is renamed
/// to `path` only if `write` succeeds. On any error the old file (if any) is untouched and the
/// temporary file is removed. Creates missing parent folders.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| FerError::io(dir, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".fer-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| FerError::io(dir, e))?;
    let mut out = BufWriter::new(tmp);
    write(&mut out).map_err(|e| FerError::io(path, e))?;
    let tmp = out
        .into_inner()
        .map_err(|e| FerError::io(path, e.into_error()))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| FerError::io(path, e))?;
    // tempfile creates files readable by their owner only; outputs (reports, models) are
    // ordinary files, so keep the permissions of the file being replaced, or the usual 0644.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let permissions = std::fs::metadata(path)
            .map(|old| old.permissions())
            .unwrap_or_else(|_| std::fs::Permissions::from_mode(0o644));
        std::fs::set_permissions(tmp.path(), permissions).map_err(|e| FerError::io(path, e))?;
    }
    crate::fault_points::reached(|| format!("written {}", path.display()));
    tmp.persist(path).map_err(|e| FerError::io(path, e.error))?;
    Ok(())
}

/// Writes `value` as pretty JSON to `path`, atomically.
pub fn write_json_atomically<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    write_atomically(path, |w| {
        serde_json::to_writer_pretty(&mut *w, value).map_err(std::io::Error::other)?;
        w.write_all(b"\n")
    })
}

/// Reads and parses a JSON file, naming the file in any error.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|e| FerError::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|source| FerError::Json {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_keeps_the_old_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_atomically(&path, |w| w.write_all(b"first")).unwrap();
        let err = write_atomically(&path, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("out.txt"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "first");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn new_files_are_readable_by_everyone_like_ordinary_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.html");
        write_atomically(&path, |w| w.write_all(b"<html>")).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }
}
