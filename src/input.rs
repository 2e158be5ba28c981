//! Local inputs read with a bound: a bundle file or stdin, the configuration, secret files,
//! the state. `/dev/zero` as a config file must fail at once, not fill the memory, and a FIFO
//! nobody writes to must not hang a run where only a regular file makes sense.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Largest config.yml, secret file and state file read.
pub(crate) const MAX_CONFIG: u64 = 1 << 20;
pub(crate) const MAX_SECRET: u64 = 64 << 10;
pub(crate) const MAX_STATE: u64 = 1 << 20;

#[derive(Debug)]
pub(crate) enum ReadError {
    NotFound(io::Error),
    /// What the path is instead of a file we can read.
    NotAFile(&'static str),
    TooLarge {
        limit: u64,
    },
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotFound(e) | ReadError::Io(e) => write!(f, "{e}"),
            ReadError::NotAFile(what) => write!(f, "it is {what}, not a regular file"),
            ReadError::TooLarge { limit } => write!(f, "it is larger than {limit} bytes"),
        }
    }
}

/// Which kinds of file a reader accepts besides regular files.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accept {
    RegularOnly,
    /// Also pipes (`push --file /dev/stdin`, `<(…)`): read with the same bound.
    RegularOrPipe,
}

/// Reads all of `path` (symbolic links followed), refusing more than `limit` bytes and the
/// kinds of file `accept` excludes, before opening it (opening a FIFO can block for ever).
pub(crate) fn read_file(path: &Path, limit: u64, accept: Accept) -> Result<Vec<u8>, ReadError> {
    let (file, _) = open_file(path, limit, accept)?;
    read_bounded(file, limit)
}

/// Opens `path` for reading with the checks of [`read_file`], and says its size when it is a
/// regular file; the caller reads it with the same bound.
pub(crate) fn open_file(
    path: &Path,
    limit: u64,
    accept: Accept,
) -> Result<(File, Option<u64>), ReadError> {
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => ReadError::NotFound(e),
        _ => ReadError::Io(e),
    })?;
    let t = meta.file_type();
    if t.is_file() {
        if meta.len() > limit {
            return Err(ReadError::TooLarge { limit });
        }
    } else if !(accept == Accept::RegularOrPipe && t.is_fifo()) {
        return Err(ReadError::NotAFile(if t.is_dir() {
            "a directory"
        } else if t.is_char_device() || t.is_block_device() {
            "a device"
        } else if t.is_fifo() {
            "a FIFO"
        } else {
            "a socket or other special file"
        }));
    }
    let file = File::open(path).map_err(ReadError::Io)?;
    Ok((file, t.is_file().then_some(meta.len())))
}

/// Reads `r` to the end, refusing more than `limit` bytes (at most `limit` + 1 are held).
pub(crate) fn read_bounded(r: impl Read, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut buf = Vec::new();
    r.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(ReadError::Io)?;
    if buf.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(buf)
}

/// The effective user id of this process.
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether a file that holds secrets, or says where they go, can be trusted, as ssh judges its
/// own (OpenSSH `secure_path`, misc.c): the file and every directory above it (symbolic links
/// resolved) are owned by root or by us, the file is not writable by every user, and no
/// directory is either unless its sticky bit is set (/tmp). Anyone who can change such a file
/// can send the token elsewhere. The error names the problem and its fix. A path that does not
/// resolve passes: reading it reports that.
pub(crate) fn check_private(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Ok(real) = std::fs::canonicalize(path) else {
        return Ok(());
    };
    let me = euid();
    let owned_ok = |uid: u32| uid == 0 || uid == me;
    let mut at = Some(real.as_path());
    while let Some(p) = at {
        let Ok(meta) = std::fs::metadata(p) else {
            return Ok(());
        };
        let mode = meta.permissions().mode();
        let shown = p.display();
        let what = if p == real { "" } else { "the directory " };
        if !owned_ok(meta.uid()) {
            return Err(format!(
                "{what}{shown} belongs to uid {}, neither root nor this user (uid {me}), who could change it: chown {me} {shown} (or run as its owner)",
                meta.uid()
            ));
        }
        let sticky_dir = meta.is_dir() && mode & 0o1000 != 0;
        if mode & 0o002 != 0 && !sticky_dir {
            return Err(format!(
                "{what}{shown} is writable by every user (mode {:04o}), who could change it: chmod o-w {shown}",
                mode & 0o7777
            ));
        }
        at = p.parent();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_directories_are_refused_before_reading() {
        let err = read_file(Path::new("/dev/zero"), 10, Accept::RegularOrPipe).unwrap_err();
        assert!(matches!(err, ReadError::NotAFile("a device")), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let err = read_file(dir.path(), 10, Accept::RegularOnly).unwrap_err();
        assert!(matches!(err, ReadError::NotAFile("a directory")), "{err}");
    }

    #[test]
    fn limits_hold() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, "12345").unwrap();
        assert_eq!(read_file(&f, 5, Accept::RegularOnly).unwrap(), b"12345");
        assert!(matches!(
            read_file(&f, 4, Accept::RegularOnly),
            Err(ReadError::TooLarge { limit: 4 })
        ));
        assert!(matches!(
            read_bounded(io::repeat(0), 1000),
            Err(ReadError::TooLarge { limit: 1000 })
        ));
    }
}
