//! Reading the stage's two files back: forward through one buffer by position (`pread`), so
//! reading never moves a shared file offset and a pass costs one system call per buffer, not
//! per object.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Bytes read ahead per system call.
const AHEAD: usize = 256 * 1024;

pub(super) struct Window<'f> {
    file: &'f File,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    start: u64,
}

impl<'f> Window<'f> {
    pub(super) fn new(file: &'f File) -> Self {
        Window {
            file,
            buf: Vec::new(),
            start: 0,
        }
    }

    /// The `n` bytes at `at`. Cheap when they follow the previous request; anywhere else they
    /// are read again.
    pub(super) fn get(&mut self, at: u64, n: usize) -> io::Result<&[u8]> {
        let end = self.start + self.buf.len() as u64;
        if at < self.start || at + n as u64 > end {
            self.fill(at, n)?;
        }
        let from = (at - self.start) as usize;
        Ok(&self.buf[from..from + n])
    }

    fn fill(&mut self, at: u64, n: usize) -> io::Result<()> {
        let want = n.max(AHEAD);
        self.buf.clear();
        self.buf.resize(want, 0);
        let mut got = 0;
        while got < want {
            match self.file.read_at(&mut self.buf[got..], at + got as u64) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.buf.truncate(got);
        self.start = at;
        if got < n {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the stage's temporary file is shorter than its index says",
            ));
        }
        Ok(())
    }
}

/// Exactly `n` bytes at `at`, into `out` (replacing its content): one object read anywhere.
pub(super) fn read_exact(file: &File, at: u64, n: usize, out: &mut Vec<u8>) -> io::Result<()> {
    out.clear();
    out.resize(n, 0);
    file.read_exact_at(out, at)
}
