//! Output folders that a failed command does not leave behind empty.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::out_lock::FolderLock;

/// An output folder, created (with any missing parents) when the command starts. If the
/// command fails, [`Drop`] removes the folders it created, as long as they are still empty:
/// a failed `fer run` or `fer report` leaves no empty folder, and never deletes a file (a
/// checkpoint of epochs that did finish stays).
pub struct OutputDir {
    path: PathBuf,
    /// Folders this command created, outermost first.
    created: Vec<PathBuf>,
    keep: bool,
    /// The folder's lock, for commands that must not share it ([`OutputDir::create_locked`]).
    lock: Option<FolderLock>,
}

impl OutputDir {
    /// Creates `path` if missing and checks that files can be written in it; `flag` names the
    /// option in errors (`--out`).
    pub fn create(path: &Path, flag: &str) -> anyhow::Result<OutputDir> {
        let mut missing = Vec::new();
        let mut p = path;
        while !p.as_os_str().is_empty() && !p.exists() {
            missing.push(p.to_path_buf());
            match p.parent() {
                Some(parent) => p = parent,
                None => break,
            }
        }
        missing.reverse();
        let mut dir = OutputDir {
            path: path.to_path_buf(),
            created: Vec::new(),
            keep: false,
            lock: None,
        };
        for level in missing {
            std::fs::create_dir(&level)
                .with_context(|| format!("{flag} {}: cannot create the folder", path.display()))?;
            dir.created.push(level);
        }
        if !path.is_dir() {
            anyhow::bail!("{flag} {}: exists and is not a folder", path.display());
        }
        tempfile::NamedTempFile::new_in(path)
            .with_context(|| format!("{flag} {}: cannot write in this folder", path.display()))?;
        Ok(dir)
    }

    /// [`OutputDir::create`], then locks the folder so that a second command with the same
    /// folder refuses to start, naming it and this process (see [`FolderLock`]).
    pub fn create_locked(path: &Path, flag: &str) -> anyhow::Result<OutputDir> {
        let mut dir = OutputDir::create(path, flag)?;
        dir.lock = Some(FolderLock::acquire(path, flag)?);
        Ok(dir)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The command succeeded: keep the folder.
    pub fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        // A folder this command created goes only if nothing but the lock file is in it.
        if let Some(lock) = self.lock.take() {
            if !self.created.is_empty() {
                lock.remove();
            }
        }
        // Innermost first; remove_dir fails on a folder that is not empty, which is the point.
        for dir in self.created.iter().rev() {
            if std::fs::remove_dir(dir).is_err() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_command_removes_only_the_empty_folders_it_created() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("a/b/c");
        drop(OutputDir::create(&out, "--out").unwrap());
        assert!(!tmp.path().join("a").exists());

        // A folder holding a file (a finished checkpoint, say) stays, and so its parents.
        let dir = OutputDir::create(&out, "--out").unwrap();
        std::fs::write(dir.path().join("model.json"), "{}").unwrap();
        drop(dir);
        assert!(out.join("model.json").is_file());

        // A folder that existed before is never removed, even empty.
        let existing = tmp.path().join("existing");
        std::fs::create_dir(&existing).unwrap();
        drop(OutputDir::create(&existing, "--out").unwrap());
        assert!(existing.is_dir());

        // Success keeps the new empty folder.
        let kept = tmp.path().join("kept");
        OutputDir::create(&kept, "--out").unwrap().keep();
        assert!(kept.is_dir());
    }

    #[test]
    fn a_path_under_a_file_is_an_error_naming_the_flag() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let err = OutputDir::create(&file.join("sub"), "--out").err().unwrap();
        assert!(format!("{err:#}").contains("--out"), "{err:#}");
        let err = OutputDir::create(&file, "--dest").err().unwrap();
        assert!(format!("{err:#}").contains("not a folder"), "{err:#}");
    }
}
