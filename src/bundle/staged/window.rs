//! Reading the stage's two files back, forward, a window at a time: mapped into memory
//! where the file system allows it, so a pass reads the page cache in place instead of
//! copying every byte out of it (the copy was a sixth of a first import's system time); read
//! into a buffer by position (`pread`) otherwise. Either way reading never moves a shared file
//! offset, and a pass costs one system call per window, not per object.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use memmap2::{Mmap, MmapOptions};

/// Bytes mapped, or read ahead, at once. A mapped window counts in the process's resident
/// memory while it is mapped, so it stays small.
const AHEAD: usize = 1024 * 1024;

pub(super) struct Window<'f> {
    file: &'f File,
    held: Held,
    /// File offset of the first byte held.
    start: u64,
    /// The file's length, once asked.
    len: Option<u64>,
}

enum Held {
    Nothing,
    Mapped(Mmap),
    Read(Vec<u8>),
}

impl Held {
    fn bytes(&self) -> &[u8] {
        match self {
            Held::Nothing => &[],
            Held::Mapped(map) => map,
            Held::Read(buf) => buf,
        }
    }
}

impl<'f> Window<'f> {
    pub(super) fn new(file: &'f File) -> Self {
        Window {
            file,
            held: Held::Nothing,
            start: 0,
            len: None,
        }
    }

    /// The `n` bytes at `at`. Cheap when they follow the previous request; anywhere else they
    /// are read again.
    pub(super) fn get(&mut self, at: u64, n: usize) -> io::Result<&[u8]> {
        let end = self.start + self.held.bytes().len() as u64;
        if at < self.start || at + n as u64 > end {
            self.fill(at, n)?;
        }
        let from = (at - self.start) as usize;
        Ok(&self.held.bytes()[from..from + n])
    }

    fn fill(&mut self, at: u64, n: usize) -> io::Result<()> {
        let len = match self.len {
            Some(len) => len,
            None => *self.len.insert(self.file.metadata()?.len()),
        };
        if at + n as u64 > len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the stage's temporary file is shorter than its index says",
            ));
        }
        let want = n.max(AHEAD).min((len - at) as usize);
        // A pass that goes on from the window before (or starts) will read all of the next
        // one: its pages are mapped in the same call. A jump elsewhere takes them as read.
        let held = self.held.bytes().len() as u64;
        let onward = at >= self.start && at <= self.start + held + AHEAD as u64;
        self.start = at;
        // The old window goes first: never two mapped at once.
        let spare = match std::mem::replace(&mut self.held, Held::Nothing) {
            Held::Read(buf) => buf,
            _ => Vec::new(),
        };
        self.held = match map(self.file, at, want, onward) {
            Some(map) => Held::Mapped(map),
            None => Held::Read(read_at(self.file, at, want, spare)?),
        };
        Ok(())
    }
}

/// `len` bytes of `file` at `at`, mapped, its pages at once when `all` (else as they are
/// first read); `None` where it cannot be mapped, or there is nothing to map.
fn map(file: &File, at: u64, len: usize, all: bool) -> Option<Mmap> {
    if len == 0 {
        return None;
    }
    let mut options = MmapOptions::new();
    options.offset(at).len(len);
    if all {
        options.populate();
    }
    // SAFETY: the file is one of the stage's own, opened without a name (see `spool.rs`): no
    // other process can open it to change it, and the stage only reads it once it is
    // written; nothing truncates it while a window is mapped. So the mapped bytes do not
    // change under the slice that borrows them.
    unsafe { options.map(file) }.ok()
}

fn read_at(file: &File, at: u64, want: usize, mut buf: Vec<u8>) -> io::Result<Vec<u8>> {
    buf.clear();
    buf.resize(want, 0);
    let mut got = 0;
    while got < want {
        match file.read_at(&mut buf[got..], at + got as u64) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(buf)
}

/// Exactly `n` bytes at `at`, into `out` (replacing its content): one object read anywhere.
pub(super) fn read_exact(file: &File, at: u64, n: usize, out: &mut Vec<u8>) -> io::Result<()> {
    out.clear();
    out.resize(n, 0);
    file.read_exact_at(out, at)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// Forward, back and far: every read gives the file's bytes, mapped or read.
    #[test]
    fn windows_give_the_file_bytes_wherever_they_are() {
        let bytes: Vec<u8> = (0..3 * AHEAD + 12_345)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&bytes).unwrap();
        let mut window = Window::new(&file);
        let reads = [
            (0, 10),
            (10, 5000),
            (AHEAD - 3, 7),
            (AHEAD + 1, AHEAD + 500),
            (5, 3),
            (3 * AHEAD, 12_345),
            (2 * AHEAD - 1, 2),
            (0, 0),
        ];
        for (at, n) in reads {
            assert_eq!(
                window.get(at as u64, n).unwrap(),
                &bytes[at..at + n],
                "{at} {n}"
            );
            let read = read_at(&file, at as u64, n, Vec::new()).unwrap();
            assert_eq!(read, &bytes[at..at + n], "{at} {n}");
        }
        let past = window.get(bytes.len() as u64 - 2, 3).unwrap_err();
        assert_eq!(past.kind(), io::ErrorKind::UnexpectedEof);
    }
}
