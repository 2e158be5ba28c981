//! Where results go: stdout (a broken pipe ends the run quietly, see `error::classify`) or a
//! file written atomically, so a failed run never leaves half a bundle behind.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::error::{Error, Result};

/// Writes through `write` to `path` (atomically) or to stdout (also for the path `-`).
pub(crate) fn write_to<T>(
    path: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> Result<T>,
) -> Result<T> {
    match path.filter(|p| *p != Path::new("-")) {
        None => {
            let stdout = io::stdout();
            let mut lock = stdout.lock();
            // The writer's own errors pass unchanged: a broken pipe must stay recognisable.
            let value = write(&mut lock)?;
            lock.flush().context("writing to stdout")?;
            Ok(value)
        }
        Some(path) => write_atomically(path, Mode::KeepOrDefault, write),
    }
}

static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Run first thing in `main`. The standard library puts /dev/null, opened read-write, in
/// place of a closed stdin, stdout or stderr before `main`, so that no later file takes their
/// numbers; output meant for a closed stdout would then vanish with success. A shell opens
/// `>/dev/null` write-only, so read-write /dev/null on descriptor 1 is how a closed stdout
/// shows (Linux `/proc`; elsewhere stdout is taken as open).
pub(crate) fn note_closed_stdout() {
    let on_null = std::fs::read_link("/proc/self/fd/1").is_ok_and(|p| p == Path::new("/dev/null"));
    let read_write = || {
        let info = std::fs::read_to_string("/proc/self/fdinfo/1").unwrap_or_default();
        info.lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
            .is_some_and(|flags| flags & 0o3 == 0o2)
    };
    STDOUT_CLOSED.store(
        on_null && read_write(),
        std::sync::atomic::Ordering::Relaxed,
    );
}

/// For commands whose product is stdout (`fetch`); a summary or a report to a closed stdout
/// is merely lost. (A service manager may also give a program read-write /dev/null.)
pub(crate) fn stdout_is_open() -> Result<()> {
    if STDOUT_CLOSED.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(Error::LocalIo(
            "stdout is closed (or read-write /dev/null): redirect it to a file or pass --output FILE".into(),
        )
        .into());
    }
    Ok(())
}

/// The permissions the written file ends with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Those of the file replaced; a new file gets 0666 less the umask.
    KeepOrDefault,
    /// 0600 whatever was there (state files).
    Private,
}

/// Replaces `path` with what `write` produces, or leaves it untouched. The target must be a
/// regular file or absent: a device, FIFO, directory or symbolic link is refused, never
/// replaced. The data goes to a temporary file created exclusively under a random name in
/// the target's directory (so nobody can point it elsewhere beforehand), is synced, then
/// renamed over the target. When `write` fails the temporary file is removed and its error
/// returned as it is (a broken download stays a temporary failure); failures of the file
/// itself are local I/O errors (74).
pub(crate) fn write_atomically<T>(
    path: &Path,
    mode: Mode,
    write: impl FnOnce(&mut dyn Write) -> Result<T>,
) -> Result<T> {
    let old_mode = existing_regular_file(path)?;
    let (file, tmp) = create_temp(path, mode, old_mode)?;
    let local = |e: io::Error| -> anyhow::Error {
        let _ = std::fs::remove_file(&tmp);
        Error::LocalIo(format!("cannot write {}: {e}", path.display())).into()
    };
    let mut file = io::BufWriter::new(file);
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

/// The mode bits of the regular file at `path`, `None` when nothing is there; anything else
/// is refused with what it is.
pub(crate) fn existing_regular_file(path: &Path) -> Result<Option<u32>> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::LocalIo(format!("cannot inspect {}: {e}", path.display())).into());
        }
    };
    let t = meta.file_type();
    let what = if t.is_file() {
        return Ok(Some(meta.permissions().mode() & 0o7777));
    } else if t.is_symlink() {
        "a symbolic link (give the path it points to)"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_fifo() {
        "a FIFO (for a pipe, write to stdout instead)"
    } else {
        "not a regular file"
    };
    Err(Error::LocalIo(format!(
        "refusing to replace {}: it is {what}; name a regular file or a new path",
        path.display()
    ))
    .into())
}

/// A new file beside `path` (same file system, so `rename` is atomic), created exclusively:
/// an existing name, or a symbolic link planted under it, makes the creation fail and another
/// random name is tried.
fn create_temp(path: &Path, mode: Mode, old_mode: Option<u32>) -> Result<(File, PathBuf)> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::LocalIo(format!("{} names no file", path.display())))?;
    // A new output file gets 0666 less the umask, applied by the kernel at creation.
    let create_mode = match (mode, old_mode) {
        (Mode::KeepOrDefault, None) => 0o666,
        _ => 0o600,
    };
    let mut last = None;
    for _ in 0..8 {
        let tmp = path.with_file_name(format!(".{name}.{:016x}.tmp", fastrand::u64(..)));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(create_mode)
            .open(&tmp)
        {
            Ok(file) => {
                let fin = match mode {
                    Mode::Private => Some(0o600),
                    Mode::KeepOrDefault => old_mode,
                };
                if let Some(bits) = fin
                    && let Err(e) = file.set_permissions(std::fs::Permissions::from_mode(bits))
                {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(Error::LocalIo(format!(
                        "cannot set the mode of {}: {e}",
                        path.display()
                    ))
                    .into());
                }
                return Ok((file, tmp));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => {
                return Err(Error::LocalIo(format!("cannot write {}: {e}", path.display())).into());
            }
        }
    }
    let e = last.map(|e| e.to_string()).unwrap_or_default();
    Err(Error::LocalIo(format!(
        "cannot create a temporary file beside {}: {e}",
        path.display()
    ))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.json");
        std::fs::write(&target, "old").unwrap();
        let r: Result<()> = write_atomically(&target, Mode::KeepOrDefault, |w| {
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
        write_atomically(&target, Mode::KeepOrDefault, |w| Ok(w.write_all(b"{}")?)).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "{}");
    }
}

#[cfg(test)]
mod file_type_tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write_x(path: &Path, mode: Mode) -> Result<()> {
        write_atomically(path, mode, |w| Ok(w.write_all(b"x")?))
    }

    #[test]
    fn symlink_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let link = dir.path().join("out.json");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let err = format!("{:#}", write_x(&link, Mode::KeepOrDefault).unwrap_err());
        assert!(err.contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn fifo_and_directory_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let err = format!("{:#}", write_x(&fifo, Mode::KeepOrDefault).unwrap_err());
            assert!(err.contains("FIFO"), "{err}");
            assert!(!std::fs::symlink_metadata(&fifo).unwrap().is_file());
        }
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let err = format!("{:#}", write_x(&sub, Mode::KeepOrDefault).unwrap_err());
        assert!(err.contains("directory"), "{err}");
    }

    #[test]
    fn old_mode_is_kept_and_state_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.json");
        std::fs::write(&out, "old").unwrap();
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_x(&out, Mode::KeepOrDefault).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&out), 0o640);
        let state = dir.path().join("state.json");
        std::fs::write(&state, "{}").unwrap();
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_x(&state, Mode::Private).unwrap();
        assert_eq!(mode(&state), 0o600);
        write_x(&dir.path().join("new-state.json"), Mode::Private).unwrap();
        assert_eq!(mode(&dir.path().join("new-state.json")), 0o600);
    }

    #[test]
    fn a_planted_temporary_name_is_not_followed() {
        // Whatever sits in the directory under a name like ours is never opened for writing.
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        for n in 0..32 {
            let bait = dir
                .path()
                .join(format!(".out.json.{}.tmp", std::process::id() + n));
            std::os::unix::fs::symlink(&victim, bait).unwrap();
        }
        write_x(&dir.path().join("out.json"), Mode::KeepOrDefault).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    }
}
