//! The spool: two private temporary files in `TMPDIR` that hold a DISINFOX answer and its
//! index while `sync` stages and pushes it chunk by chunk (`bundle::staged`), so that memory
//! does not grow with the answer.
//!
//! The files never have a name: they are created unlinked (`O_TMPFILE`; where a file system
//! lacks it, created with mode 0600 and removed at once), so no other process can open them,
//! and the kernel frees their blocks when the last descriptor closes, however the process ends
//! (return, error, panic, SIGINT, SIGTERM, even SIGKILL or an OOM kill). No signal handler is
//! needed.
//!
//! The disk they need is checked before anything is written when the size is known (the
//! answer's `Content-Length`), and running out of it while writing is one clear line; both
//! exit 74 before anything is pushed.

use std::fs::File;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The index takes at most this share of the answer: a record is 36 bytes plus 4 per
/// reference, and the smallest valid object is about 50 bytes, each reference 40 or more.
const INDEX_SHARE: f64 = 0.75;

/// Where the stage's files are and what they may take, for messages.
pub(crate) struct Spool {
    dir: PathBuf,
    /// `--disk-limit`, if set.
    limit: Option<u64>,
    /// What is staged, for messages: DISINFOX's answer (`sync`) or the bundle (`push`).
    what: &'static str,
}

/// What a spool holds, as messages name it.
pub(crate) const ANSWER: &str = "DISINFOX's answer";
pub(crate) const BUNDLE: &str = "the bundle";

/// The disk the stage needs at most for an answer of `bytes`: the answer and its index.
pub(crate) fn need(bytes: u64) -> u64 {
    bytes.saturating_add((bytes as f64 * INDEX_SHARE) as u64)
}

/// The largest answer whose staging fits in `room` bytes (the inverse of [`need`]).
pub(crate) fn largest_answer(room: u64) -> u64 {
    (room as f64 / (1.0 + INDEX_SHARE)) as u64
}

impl Spool {
    /// Two new, empty files in `TMPDIR` (`/tmp` when unset): the answer's and its index's.
    /// They may take `limit` bytes at most (`--disk-limit`).
    pub(crate) fn open(
        what: &'static str,
        answer: Option<u64>,
        limit: Option<u64>,
    ) -> Result<(Spool, File, File)> {
        Spool::open_in(&std::env::temp_dir(), (what, answer), limit)
    }

    /// As [`Spool::open`], in `dir`; an answer of `answer` bytes, when known, must fit with
    /// its index in the free space and in `limit`.
    pub(crate) fn open_in(
        dir: &Path,
        (what, answer): (&'static str, Option<u64>),
        limit: Option<u64>,
    ) -> Result<(Spool, File, File)> {
        if let (Some(bytes), Some(limit)) = (answer, limit)
            && need(bytes) > limit
        {
            return Err(Error::LocalIo(format!(
                "{} is {bytes} bytes and staging it needs up to {} bytes (it and its index), over --disk-limit ({limit} bytes, DISINFOX_SYNC_DISK_LIMIT); raise it together with the disk it stands for (in Kubernetes: the emptyDir's sizeLimit), or import in steps with reset-state --to",
                capital(what),
                need(bytes)
            ))
            .into());
        }
        let file = private_file(dir, what)?;
        if let Some(bytes) = answer {
            let free = free_bytes(&file).map_err(|e| {
                Error::LocalIo(format!(
                    "cannot read the free space of {}: {e}",
                    dir.display()
                ))
            })?;
            let need = need(bytes);
            if need > free {
                return Err(Error::LocalIo(format!(
                    "{} is {bytes} bytes and staging it needs up to {need} bytes (it and its index), but {} has {free} bytes free; free space there, or set TMPDIR to a larger disk (in Kubernetes: a larger emptyDir sizeLimit)",
                    capital(what),
                    dir.display()
                ))
                .into());
            }
        }
        let index = private_file(dir, what)?;
        Ok((
            Spool {
                dir: dir.to_owned(),
                limit,
                what,
            },
            file,
            index,
        ))
    }

    /// For `check`: whether the stage's files can be made in `TMPDIR`, and the largest answer
    /// that the free space there and `limit` (`--disk-limit`) leave room for.
    pub(crate) fn probe(limit: Option<u64>) -> Result<String> {
        let (spool, file, _) = Spool::open(ANSWER, None, limit)?;
        let free = free_bytes(&file).map_err(|e| {
            Error::LocalIo(format!(
                "cannot read the free space of {}: {e}",
                spool.dir.display()
            ))
        })?;
        let room = limit.map_or(free, |l| l.min(free));
        let bound = match limit {
            Some(l) if l < free => format!("--disk-limit {l} bytes ({free} free)"),
            _ => format!("{free} bytes free"),
        };
        Ok(format!(
            "{} takes the staged answer: {bound}, room for an answer of up to {} bytes",
            spool.dir.display(),
            largest_answer(room)
        ))
    }

    /// Says up front what the run will take of the disk, when the answer's size is known.
    pub(crate) fn announce(&self, answer: Option<u64>) {
        match answer {
            Some(bytes) => log::info!(
                "staging {} ({bytes} bytes) in {}: up to {} bytes of disk with its index",
                self.what,
                self.dir.display(),
                need(bytes)
            ),
            None => log::info!(
                "staging {} in {} (its size is not known beforehand)",
                self.what,
                self.dir.display()
            ),
        }
    }

    /// What a failed write means for the operator: a full disk is named as such.
    pub(crate) fn write_failure(&self, e: io::Error, received: u64) -> anyhow::Error {
        let (dir, what) = (self.dir.display(), self.what);
        if let (Some(limit), io::ErrorKind::QuotaExceeded) = (self.limit, e.kind()) {
            return Error::LocalIo(format!(
                "staging {what} needs more than --disk-limit ({limit} bytes, DISINFOX_SYNC_DISK_LIMIT) after {received} bytes of it (nothing was pushed); raise it together with the disk it stands for (in Kubernetes: the emptyDir's sizeLimit), or import in steps with reset-state --to"
            ))
            .into();
        }
        if e.kind() == io::ErrorKind::StorageFull || e.kind() == io::ErrorKind::QuotaExceeded {
            Error::LocalIo(format!(
                "{dir} is full after {received} bytes of {what} (nothing was pushed); free space there, or set TMPDIR to a larger disk (in Kubernetes: a larger emptyDir sizeLimit)"
            ))
            .into()
        } else {
            Error::LocalIo(format!(
                "cannot write {what} to a temporary file in {dir}: {e}"
            ))
            .into()
        }
    }
}

fn private_file(dir: &Path, what: &str) -> Result<File> {
    let file = tempfile::tempfile_in(dir).map_err(|e| {
        Error::LocalIo(format!(
            "cannot create a temporary file in {} for {what}: {e}; set TMPDIR to a writable directory",
            dir.display()
        ))
    })?;
    private(file)
}

/// `what` as the start of a sentence.
fn capital(what: &str) -> String {
    let mut c = what.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

fn private(file: File) -> Result<File> {
    // tempfile's O_TMPFILE path leaves the mode to the umask (0644 here): the answer is not
    // for other users, even through /proc.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::LocalIo(format!("cannot make the temporary file private: {e}")))?;
    Ok(file)
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
    use std::io::{Read, Seek, Write};
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn has_no_name_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let (_, answer, index) = Spool::open_in(dir.path(), (ANSWER, Some(10)), None).unwrap();
        // Nothing in the directory: nothing to leave behind on any exit, a kill included.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        for file in [answer, index] {
            let meta = file.metadata().unwrap();
            assert_eq!(meta.mode() & 0o777, 0o600);
            assert_eq!(meta.nlink(), 0);
        }
    }

    #[test]
    fn lives_in_tmpdir_by_default() {
        let (spool, _, _) = Spool::open(ANSWER, Some(1), None).unwrap();
        assert_eq!(spool.dir, std::env::temp_dir());
    }

    #[test]
    fn gives_back_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let (_, mut answer, _) = Spool::open_in(dir.path(), (ANSWER, None), None).unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        for part in data.chunks(7_001) {
            answer.write_all(part).unwrap();
        }
        answer.rewind().unwrap();
        let mut back = Vec::new();
        answer.read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn an_answer_larger_than_the_free_space_is_refused_up_front() {
        let dir = tempfile::tempdir().unwrap();
        let err = Spool::open_in(dir.path(), (BUNDLE, Some(u64::MAX / 4)), None)
            .err()
            .unwrap();
        assert_eq!(classify(&err), Outcome::Fail(ExitCode::IoErr));
        let message = err.to_string();
        assert!(message.contains(&(u64::MAX / 4).to_string()), "{message}");
        assert!(
            message.contains(&need(u64::MAX / 4).to_string()),
            "{message}"
        );
        assert!(message.contains("TMPDIR"), "{message}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_full_disk_is_named_and_exits_74() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, _, _) = Spool::open_in(dir.path(), (ANSWER, None), None).unwrap();
        let err = spool.write_failure(io::Error::from(io::ErrorKind::StorageFull), 12);
        assert_eq!(classify(&err), Outcome::Fail(ExitCode::IoErr));
        let message = err.to_string();
        assert!(message.contains("is full after 12 bytes"), "{message}");
        let other = spool.write_failure(io::Error::other("broken"), 0);
        assert_eq!(classify(&other), Outcome::Fail(ExitCode::IoErr));
    }

    #[test]
    fn the_disk_limit_is_kept_up_front_and_named_when_reached() {
        let dir = tempfile::tempdir().unwrap();
        let err = Spool::open_in(dir.path(), (ANSWER, Some(1000)), Some(1700))
            .err()
            .unwrap();
        assert_eq!(classify(&err), Outcome::Fail(ExitCode::IoErr));
        assert!(
            err.to_string().contains("--disk-limit (1700 bytes"),
            "{err}"
        );
        assert!(err.to_string().contains(&need(1000).to_string()), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let (spool, _, _) = Spool::open_in(dir.path(), (ANSWER, Some(1000)), Some(1750)).unwrap();
        let err = spool.write_failure(io::Error::from(io::ErrorKind::QuotaExceeded), 900);
        assert_eq!(classify(&err), Outcome::Fail(ExitCode::IoErr));
        assert!(err.to_string().contains("after 900 bytes"), "{err}");
        assert!(
            err.to_string().contains("DISINFOX_SYNC_DISK_LIMIT"),
            "{err}"
        );
    }

    #[test]
    fn largest_answer_is_the_inverse_of_need() {
        for answer in [0, 1_000, 1 << 30, 123_456_789] {
            let room = need(answer);
            assert!(largest_answer(room) + 1 >= answer, "{answer}");
            assert!(need(largest_answer(room)) <= room, "{answer}");
        }
    }

    #[test]
    fn a_missing_directory_is_a_local_failure() {
        let err = Spool::open_in(Path::new("/nonexistent/spool/dir"), (ANSWER, None), None)
            .err()
            .unwrap();
        assert_eq!(classify(&err), Outcome::Fail(ExitCode::IoErr));
        assert!(err.to_string().contains("TMPDIR"), "{err}");
    }
}
