//! Writing files so that nothing already written is lost: a temporary file beside the target,
//! renamed over it only once it is complete.
//!
//! A process killed mid-write leaves its temporary file (`.fer-XXXXXX.tmp`). Readers open
//! files by name and never see it; the next write into the same folder removes it. A writer
//! holds an advisory lock (`flock`, through `fs4`) on its temporary file until the rename, and
//! only unlocked ones are removed: the kernel drops a lock when its process ends, however it
//! ends, so a locked temporary file is one being written right now.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::{FerError, Result};

/// The name prefix and suffix of [`write_atomically`]'s temporary files.
const TEMP_PREFIX: &str = ".fer-";
const TEMP_SUFFIX: &str = ".tmp";

/// Writes `path` atomically: `write` fills a temporary file in the same folder, which is renamed
/// to `path` only if `write` succeeds. On any error the old file (if any) is untouched and the
/// temporary file is removed. Creates missing parent folders, and removes the temporary files
/// that killed writers left in the folder.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| FerError::io(dir, e))?;
    remove_stale_temporaries(dir);
    let tmp = loop {
        let tmp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .suffix(TEMP_SUFFIX)
            .tempfile_in(dir)
            .map_err(|e| FerError::io(dir, e))?;
        // Another writer's cleanup may hold or have removed the file between its creation and
        // this lock: then start again on a new one. A folder without locks (some network file
        // systems) is written unlocked, and its temporary files are never removed.
        let ours = !matches!(
            fs4::FileExt::try_lock(tmp.as_file()),
            Err(fs4::TryLockError::WouldBlock)
        );
        if ours && is_same_file(tmp.as_file(), tmp.path()) {
            break tmp;
        }
    };
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

/// Removes the temporary files of [`write_atomically`] in `dir` that no live process holds
/// (left by a kill). Best effort: a file that cannot be removed is left for the next write.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX)) {
            continue;
        }
        let path = entry.path();
        let Ok(file) = File::open(&path) else {
            continue;
        };
        if file.metadata().is_ok_and(|m| m.is_file())
            && fs4::FileExt::try_lock(&file).is_ok()
            && is_same_file(&file, &path)
        {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Whether the open `file` is the one now at `path` (not removed or replaced since it was
/// opened).
#[cfg(unix)]
pub fn is_same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Whether the open `file` is the one now at `path` (not removed or replaced since it was
/// opened); without inode numbers, whether a file is there at all.
#[cfg(not(unix))]
pub fn is_same_file(_file: &File, path: &Path) -> bool {
    path.is_file()
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

    #[test]
    fn a_write_removes_temporaries_left_by_a_kill_but_not_those_being_written() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join(".fer-AbC123.tmp");
        std::fs::write(&stale, "half a file").unwrap();
        // Another process's write in progress: its temporary file is locked.
        let busy = dir.path().join(".fer-XyZ789.tmp");
        std::fs::write(&busy, "being written").unwrap();
        let held = File::open(&busy).unwrap();
        fs4::FileExt::try_lock(&held).unwrap();
        let other = dir.path().join("notes.tmp");
        std::fs::write(&other, "not ours").unwrap();

        write_atomically(&dir.path().join("out.txt"), |w| w.write_all(b"new")).unwrap();
        assert!(!stale.exists());
        assert!(busy.exists() && other.exists());
        drop(held);
        write_atomically(&dir.path().join("out.txt"), |w| w.write_all(b"newer")).unwrap();
        assert!(!busy.exists());
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["notes.tmp", "out.txt"]);
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
