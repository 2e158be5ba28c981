//! Where results go: stdout (a broken pipe ends the run quietly, see `error::classify`) or a
//! file written atomically, so a failed run never leaves half a bundle behind.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::error::{Error, Result};

/// Writes through `write` to `path` (atomically) or to stdout.
pub fn write_to<T>(
    path: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> Result<T>,
) -> Result<T> {
    match path {
        None => {
            let stdout = io::stdout();
            let mut lock = stdout.lock();
            // The writer's own errors pass unchanged: a broken pipe must stay recognisable.
            let value = write(&mut lock)?;
            lock.flush().context("writing to stdout")?;
            Ok(value)
        }
        Some(path) => write_atomically(path, write),
    }
}

/// Temp file beside the target (same file system, so `rename` is atomic), fsync, rename. When
/// `write` fails the temp file is removed and its error returned as it is (a broken download
/// stays a temporary failure); failures of the file itself are local I/O errors (74).
pub fn write_atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<T>,
) -> Result<T> {
    let tmp = temp_path(path);
    let local = |e: io::Error| -> anyhow::Error {
        let _ = std::fs::remove_file(&tmp);
        Error::LocalIo(format!("cannot write {}: {e}", path.display())).into()
    };
    let mut file = io::BufWriter::new(File::create(&tmp).map_err(local)?);
    let value = match write(&mut file) {
        Ok(v) => v,
        Err(e) => {
            drop(file);
            let _ = std::fs::remove_file(&tmp);
            return Err(match e.downcast::<io::Error>() {
                Ok(io) => Error::LocalIo(format!("cannot write {}: {io}", path.display())).into(),
                Err(other) => other,
            });
        }
    };
    let file = file.into_inner().map_err(|e| local(e.into_error()))?;
    file.sync_all().map_err(local)?;
    std::fs::rename(&tmp, path).map_err(local)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Persist the rename itself; not every file system supports syncing a directory.
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(value)
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.json");
        std::fs::write(&target, "old").unwrap();
        let r: Result<()> = write_atomically(&target, |w| {
            w.write_all(b"half")?;
            Err(Error::Temporary("boom".into()).into())
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn writes_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.json");
        write_atomically(&target, |w| Ok(w.write_all(b"{}")?)).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "{}");
    }
}
