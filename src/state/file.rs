//! The local state file: written atomically, guarded by an exclusive advisory lock on a
//! sibling `.lock` file (the state file itself is replaced by rename, so it cannot carry the
//! lock). The kernel drops the lock when the process dies: no stale locks.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::parse::{State, parse_state};
use crate::error::{Error, Result};

pub(crate) struct FileStore {
    path: PathBuf,
    // Held for the whole run; released on drop.
    _lock: File,
}

impl FileStore {
    /// Takes the lock (exit 75 when another run holds it).
    pub(crate) fn open(path: &Path) -> Result<FileStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::LocalIo(format!(
                    "cannot create the state directory {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let path = &real_location(path)?;
        not_someone_elses(path)?;
        let lock_path = lock_path(path);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| {
                Error::LocalIo(format!(
                    "cannot open the lock file {}: {e}",
                    lock_path.display()
                ))
            })?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(Error::Temporary(format!(
                    "another run holds the lock on {}; this run stops here",
                    path.display()
                ))
                .into());
            }
            Err(TryLockError::Error(e)) => {
                return Err(
                    Error::LocalIo(format!("cannot lock {}: {e}", lock_path.display())).into(),
                );
            }
        }
        Ok(FileStore {
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// A missing file is "from the beginning"; a corrupt one stops the run (78).
    pub(crate) fn load(&self) -> Result<State> {
        use crate::input::{Accept, MAX_STATE, ReadError, read_file};
        let text = match read_file(&self.path, MAX_STATE, Accept::RegularOnly) {
            // Binary junk is a corrupt state like any other (78), not an I/O failure.
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(ReadError::NotFound(_)) => return Ok(State::default()),
            Err(e) => {
                return Err(Error::LocalIo(format!(
                    "cannot read the state file {}: {e}",
                    self.path.display()
                ))
                .into());
            }
        };
        parse_state(Some(&text)).map_err(|why| {
            Error::Config(format!(
                "the state file {} is corrupt ({why}); run `disinfox-sync reset-state --state-file {}` (optionally with --to WHEN)",
                self.path.display(),
                self.path.display()
            ))
            .into()
        })
    }

    pub(crate) fn save(&self, state: &State) -> Result<()> {
        let json = state.to_json();
        crate::output::write_atomically(&self.path, crate::output::Mode::Private, |w| {
            w.write_all(json.as_bytes())?;
            Ok(w.write_all(b"\n")?)
        })
    }
}

/// The state file under its directory's real path, so that two spellings of one location
/// take one lock; the file itself must be a regular file or absent (a symbolic link would be
/// replaced by the first save and its target never advance).
fn real_location(path: &Path) -> Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        Error::Usage(format!(
            "--state-file {} names no file: give a file path",
            path.display()
        ))
    })?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = std::fs::canonicalize(dir.unwrap_or(Path::new("."))).map_err(|e| {
        Error::LocalIo(format!(
            "cannot resolve the state directory of {}: {e}",
            path.display()
        ))
    })?;
    let real = dir.join(name);
    crate::output::existing_regular_file(&real)?;
    Ok(real)
}

/// A state file of another user is left alone: each save replaces the file by rename, which
/// works in a directory we may write even when the file is read-only, and would take the
/// file (and the cursor of that user's runs) away from its owner.
fn not_someone_elses(path: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    let me = crate::input::euid();
    if meta.uid() != me {
        return Err(Error::LocalIo(format!(
            "the state file {} belongs to uid {}, not to this user (uid {me}); it is left alone: run as its owner, chown {me} {}, or give another --state-file",
            path.display(),
            meta.uid(),
            path.display()
        ))
        .into());
    }
    Ok(())
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".lock");
    path.with_file_name(name)
}

/// The default location: the user state directory (e.g. ~/.local/state/disinfox-sync).
pub(crate) fn default_path() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "disinfox-sync")?;
    let dir = dirs.state_dir().unwrap_or(dirs.data_local_dir());
    Some(dir.join("state.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_open_is_refused_while_first_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let first = FileStore::open(&path).unwrap();
        let err = FileStore::open(&path).err().unwrap();
        assert!(format!("{err}").contains("another run holds the lock"));
        drop(first);
        assert!(FileStore::open(&path).is_ok());
    }

    #[test]
    fn save_load_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let store = FileStore::open(&path).unwrap();
        assert_eq!(store.load().unwrap(), State::default());
        let s = State {
            last_fetch: crate::when::parse_cursor("2026-01-01T00:00:00Z"),
            last_run: Some(5),
            unconfirmed: None,
        };
        store.save(&s).unwrap();
        assert_eq!(store.load().unwrap(), s);
        std::fs::write(&path, "{oops").unwrap();
        assert!(format!("{}", store.load().unwrap_err()).contains("reset-state"));
    }

    #[test]
    fn a_symlinked_state_file_is_refused_and_two_spellings_share_one_lock() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("state.json");
        std::fs::write(&real, "{}").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let err = format!("{:#}", FileStore::open(&link).err().unwrap());
        assert!(err.contains("symbolic link"), "{err}");
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let first = FileStore::open(&real).unwrap();
        let other = sub.join("..").join("state.json");
        let err = format!("{:#}", FileStore::open(&other).err().unwrap());
        assert!(err.contains("another run holds the lock"), "{err}");
        drop(first);
    }
}
