//! The spool: a private temporary file in `TMPDIR` that holds a DISINFOX answer on disk, so that
//! it can be staged and pushed chunk by chunk with memory that does not grow with the answer.
//!
//! The file never has a name: it is created unlinked (`O_TMPFILE`; where a file system lacks
//! it, created with mode 0600 and removed at once), so no other process can open it, and the
//! kernel frees its blocks when the last descriptor closes, however the process ends (return,
//! error, panic, SIGINT, SIGTERM, even SIGKILL or an OOM kill). No signal handler is needed.
//!
//! The disk it needs is checked before anything is written when the size is known (the
//! answer's `Content-Length`), and running out of it while writing is one clear line; both
//! exit 74 before anything is pushed.
//!
//! `sync` does not read its answer through the spool yet: that needs the compact, offset-based
//! stage index (ids and offsets instead of parsed objects), which is still to come. Until then
//! only the tests use it.
#![cfg_attr(not(test), allow(dead_code))]

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub(crate) struct Spool {
    file: File,
    dir: PathBuf,
    len: u64,
}

impl Spool {
    /// A new, empty spool in `TMPDIR` (`/tmp` when unset).
    pub(crate) fn create(need: Option<u64>) -> Result<Spool> {
        Spool::create_in(&std::env::temp_dir(), need)
    }

    /// A new, empty spool in `dir`; `need` bytes, when known, must fit in its free space.
    pub(crate) fn create_in(dir: &Path, need: Option<u64>) -> Result<Spool> {
        let file = tempfile::tempfile_in(dir).map_err(|e| {
            Error::LocalIo(format!(
                "cannot create a temporary file in {} for DISINFOX's answer: {e}; set TMPDIR to a writable directory",
                dir.display()
            ))
        })?;
        // tempfile's O_TMPFILE path leaves the mode to the umask (0644 here): the answer is not
        // for other users, even through /proc.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::LocalIo(format!("cannot make the temporary file private: {e}")))?;
        if let Some(need) = need {
            let free = free_bytes(&file).map_err(|e| {
                Error::LocalIo(format!(
                    "cannot read the free space of {}: {e}",
                    dir.display()
                ))
            })?;
            if need > free {
                return Err(Error::LocalIo(format!(
                    "DISINFOX's answer is {need} bytes, but {} has {free} bytes free; free space there, or set TMPDIR to a larger disk (in Kubernetes: a larger emptyDir sizeLimit)",
                    dir.display()
                ))
                .into());
            }
        }
        Ok(Spool {
            file,
            dir: dir.to_owned(),
            len: 0,
        })
    }

    /// Bytes written so far.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Fills `buf` from `offset`.
    pub(crate) fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    /// Everything written, from the start.
    pub(crate) fn reader(&self) -> SpoolReader<'_> {
        SpoolReader {
            spool: self,
            offset: 0,
        }
    }

    /// What a failed write to the spool means for the operator: a full disk is named as such.
    pub(crate) fn write_failure(&self, e: io::Error) -> anyhow::Error {
        let dir = self.dir.display();
        let len = self.len;
        if e.kind() == io::ErrorKind::StorageFull || e.kind() == io::ErrorKind::QuotaExceeded {
            Error::LocalIo(format!(
                "{dir} is full after {len} bytes of DISINFOX's answer; free space there, or set TMPDIR to a larger disk (in Kubernetes: a larger emptyDir sizeLimit)"
            ))
            .into()
        } else {
            Error::LocalIo(format!(
                "cannot write DISINFOX's answer to a temporary file in {dir}: {e}"
            ))
            .into()
        }
    }
}

impl Write for Spool {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = self.file.write_at(bytes, self.len)?;
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads a spool from the start without moving anything the spool itself uses.
pub(crate) struct SpoolReader<'s> {
    spool: &'s Spool,
    offset: u64,
}

impl Read for SpoolReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.spool.len - self.offset;
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.spool.file.read_at(&mut buf[..want], self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }
}

/// Free bytes for an unprivileged writer on the file system of `file`.
fn free_bytes(file: &File) -> io::Result<u64> {
    let s = rustix::fs::fstatvfs(file)?;
    Ok(s.f_bavail.saturating_mul(s.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Outcome, classify};
    use crate::exit_codes::ExitCode;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn has_no_name_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::create_in(dir.path(), Some(10)).unwrap();
        // Nothing in the directory: nothing to leave behind on any exit, a kill included.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let meta = spool.file.metadata().unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!(meta.nlink(), 0);
    }

    #[test]
    fn lives_in_tmpdir_by_default() {
        let spool = Spool::create(Some(1)).unwrap();
        assert_eq!(spool.dir, std::env::temp_dir());
        assert_eq!(spool.len(), 0);
    }

    #[test]
    fn gives_back_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::create_in(dir.path(), None).unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        for part in data.chunks(7_001) {
            spool.write_all(part).unwrap();
        }
        assert_eq!(spool.len(), data.len() as u64);
        let mut back = Vec::new();
        spool.reader().read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
        let mut middle = [0u8; 5];
        spool.read_at(123_456, &mut middle).unwrap();
        assert_eq!(middle, data[123_456..123_461]);
    }

    #[test]
    fn an_answer_larger_than_the_free_space_is_refused_up_front() {
        let dir = tempfile::tempdir().unwrap();
        let err = Spool::create_in(dir.path(), Some(u64::MAX / 2))
            .err()
            .unwrap();
        assert_eq!(classify(&err), Outcome::Fail(ExitCode::IoErr));
        let message = err.to_string();
        assert!(message.contains(&(u64::MAX / 2).to_string()), "{message}");
        assert!(message.contains("TMPDIR"), "{message}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_full_disk_is_named_and_exits_74() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::create_in(dir.path(), None).unwrap();
        spool.write_all(b"{\"objects\":[").unwrap();
        let err = spool.write_failure(io::Error::from(io::ErrorKind::StorageFull));
        assert_eq!(classify(&err), Outcome::Fail(ExitCode::IoErr));
        let message = err.to_string();
        assert!(message.contains("is full after 12 bytes"), "{message}");
        let other = spool.write_failure(io::Error::other("broken"));
        assert_eq!(classify(&other), Outcome::Fail(ExitCode::IoErr));
    }

    #[test]
    fn a_missing_directory_is_a_local_failure() {
        let err = Spool::create_in(Path::new("/nonexistent/spool/dir"), None)
            .err()
            .unwrap();
        assert_eq!(classify(&err), Outcome::Fail(ExitCode::IoErr));
        assert!(err.to_string().contains("TMPDIR"), "{err}");
    }
}
