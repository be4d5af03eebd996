//! One command at a time per output folder: an advisory lock on a file inside it, so a second
//! `fer run` or `fer train cnn` with the same `--out` refuses to start instead of mixing its
//! checkpoints and reports with the first one's.
//!
//! The lock is `flock`-style (through the `fs4` crate): the kernel releases it when the
//! holder's process ends, however it ends (even by SIGKILL), so a stale lock file never blocks
//! a later run. The file holds the holder's process id and command line, which the refusal
//! names.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The lock file's name inside the output folder.
pub const LOCK_FILE: &str = ".fer.lock";

/// A held lock on an output folder; released when dropped (or when the process ends).
pub struct FolderLock {
    /// The open lock file: closing it releases the lock.
    _file: File,
    path: PathBuf,
}

impl FolderLock {
    /// Locks the existing folder `dir`, or fails naming the folder (as `flag DIR`) and the
    /// process holding it.
    pub fn acquire(dir: &Path, flag: &str) -> anyhow::Result<FolderLock> {
        let path = dir.join(LOCK_FILE);
        loop {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .with_context(|| format!("{flag} {}: cannot create {LOCK_FILE}", dir.display()))?;
            // Called through the trait: std's own File::try_lock (Rust 1.89+) has another
            // error type.
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => {}
                Err(fs4::TryLockError::WouldBlock) => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    let holder = match holder.trim() {
                        "" => "its process id is not written yet".to_string(),
                        text => text.to_string(),
                    };
                    anyhow::bail!(
                        "{flag} {}: the folder is in use by another fer process ({holder}); wait \
                         for it to end or choose another folder",
                        dir.display()
                    );
                }
                Err(fs4::TryLockError::Error(e)) => {
                    return Err(e).with_context(|| {
                        format!("{flag} {}: cannot lock {}", dir.display(), path.display())
                    })
                }
            }
            // A run that failed before writing anything removes its lock file with its empty
            // folder; if that happened between our open and our lock, we hold a lock on a
            // removed file: start again on the file now there.
            if !fer_core::fs::is_same_file(&file, &path) {
                continue;
            }
            let holder = format!(
                "pid {}: {}\n",
                std::process::id(),
                std::env::args().collect::<Vec<_>>().join(" ")
            );
            file.set_len(0)
                .and_then(|()| file.write_all(holder.as_bytes()))
                .with_context(|| {
                    format!("{flag} {}: cannot write {}", dir.display(), path.display())
                })?;
            return Ok(FolderLock { _file: file, path });
        }
    }

    /// Removes the lock file and releases the lock (before the folder itself is removed).
    pub fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_folder_and_the_holder_until_the_first_ends() {
        let tmp = tempfile::tempdir().unwrap();
        let first = FolderLock::acquire(tmp.path(), "--out").unwrap();
        let err = FolderLock::acquire(tmp.path(), "--out").err().unwrap();
        let message = format!("{err:#}");
        let pid = format!("pid {}:", std::process::id());
        assert!(
            message.contains(&format!("--out {}", tmp.path().display()))
                && message.contains("in use by another fer process")
                && message.contains(&pid),
            "{message}"
        );
        drop(first);
        let again = FolderLock::acquire(tmp.path(), "--out").unwrap();
        again.remove();
        assert!(!tmp.path().join(LOCK_FILE).exists());
    }
}
