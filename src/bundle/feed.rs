//! The reader under `stream`: a buffer that checks UTF-8 a buffer ahead of serde_json,
//! enforces the size cap, knows lines and columns, and cuts elements of `objects` out of its
//! buffer for the fast path (`scan.rs`).

use std::io::{self, Read};

use super::scan::{Found, Scan};
use super::{BundleError, ObjectPosition};

const BUF: usize = 1 << 20;

#[derive(Debug)]
pub(crate) enum StreamError {
    /// Reading the input failed (for HTTP: the answer broke off).
    Read(io::Error),
    /// Writing the output failed.
    Write(io::Error),
    /// More than the allowed number of bytes came in.
    TooLarge(u64),
    /// The text is not a valid bundle. Nothing was written when the top level has no
    /// `objects` (DISINFOX's `{}` and `{"message": …}` end here).
    Bundle(BundleError),
}

/// A buffered reader that checks UTF-8 a buffer ahead of the parser, enforces the size cap,
/// skips a leading byte-order mark (as `parse` does), and knows lines and columns.
pub(super) struct Feed<R> {
    input: R,
    pub(super) buf: Vec<u8>,
    /// Next byte to hand out; bytes up to `valid` are checked UTF-8; `len` bytes were read.
    pub(super) pos: usize,
    valid: usize,
    len: usize,
    /// Bytes before `buf[0]`, the line `buf[0]` is on and where that line starts.
    offset: u64,
    line: usize,
    line_start: u64,
    max: u64,
    started: bool,
    /// A byte other than white space was handed out.
    pub(super) content: bool,
    /// Bytes handed to serde_json (the rest went by the fast path).
    pub(super) served: u64,
    pub(super) failure: Option<StreamError>,
    /// Where the current element of `objects` began to be read, and every byte since.
    mark: Option<Mark>,
    since_mark: Vec<u8>,
    /// Where the fast path began, and the bytes it took past serde_json once it ended.
    fast_start: Option<Point>,
    skipped: Option<(Point, Point)>,
}

/// An offset, its line and where that line starts.
#[derive(Clone, Copy, Debug)]
struct Point {
    offset: u64,
    line: usize,
    line_start: u64,
}

/// Where an element began to be read: its offset, and its line and where that line starts,
/// worked out only when needed (an error) or before the buffer holding it is replaced.
#[derive(Clone, Copy)]
struct Mark {
    offset: u64,
    at: Option<(usize, u64)>,
}

fn line_error() -> io::Error {
    io::Error::other("input failure")
}

impl<R: Read> Feed<R> {
    pub(super) fn new(input: R, max: u64) -> Self {
        Feed {
            input,
            buf: vec![0; BUF],
            pos: 0,
            valid: 0,
            len: 0,
            offset: 0,
            line: 1,
            line_start: 0,
            max,
            started: false,
            content: false,
            served: 0,
            failure: None,
            mark: None,
            since_mark: Vec::new(),
            fast_start: None,
            skipped: None,
        }
    }

    fn point(&self) -> Point {
        let (line, line_start) = self.line_col_at(self.pos);
        Point {
            offset: self.offset + self.pos as u64,
            line,
            line_start,
        }
    }

    pub(super) fn fast_begin(&mut self) {
        self.unmark();
        self.fast_start = Some(self.point());
    }

    pub(super) fn fast_end(&mut self) {
        if let Some(start) = self.fast_start.take() {
            self.skipped = Some((start, self.point()));
        }
    }

    /// serde_json's line and column as they are in the input: serde_json did not see the
    /// bytes the fast path took, so a position after them is moved on by them.
    pub(super) fn true_line_col(&self, line: usize, column: usize) -> (usize, usize) {
        let Some((from, to)) = self.skipped else {
            return (line, column);
        };
        if line > from.line {
            return (line + to.line - from.line, column);
        }
        // serde_json's column counts the bytes it read on the line.
        let seen = from.line_start + column as u64;
        if line < from.line || seen < from.offset {
            return (line, column);
        }
        let offset = seen + (to.offset - from.offset);
        (to.line, (offset - to.line_start) as usize)
    }

    /// The next element of `objects` after a `,`, as `buf[start..end]`, with what escaping
    /// adds to it (see `Scan::extra`), read on as needed; `None` when the slow path has to
    /// read on from `pos`.
    pub(super) fn next_fast(&mut self) -> Option<(usize, usize, usize)> {
        let mut i = self.pos;
        let mut comma = false;
        let mut start = None;
        let mut scan = Scan::default();
        loop {
            if i == self.valid {
                let before = self.pos;
                self.refill().ok()?;
                i -= before;
                start = start.map(|s| s - before);
                if i == self.valid {
                    return None;
                }
            }
            match start {
                None => match self.buf[i] {
                    b' ' | b'\t' | b'\n' | b'\r' => i += 1,
                    b',' if !comma => {
                        comma = true;
                        i += 1;
                    }
                    b'{' if comma => start = Some(i),
                    _ => return None,
                },
                Some(s) => match scan.next(&self.buf[s..self.valid]) {
                    Found::End(n) => return Some((s, s + n, scan.extra)),
                    Found::More => i = self.valid,
                    Found::Unsure => return None,
                },
            }
        }
    }

    /// The element `buf[start..end]` cut out by [`Feed::next_fast`], as text, without
    /// checking its UTF-8 a second time; `None` if it is not such an element.
    pub(super) fn element_text(&self, start: usize, end: usize) -> Option<&str> {
        let bytes = self.buf.get(start..end)?;
        if end > self.valid || bytes.first() != Some(&b'{') || bytes.last() != Some(&b'}') {
            return None;
        }
        // SAFETY: every byte before `valid` was read as part of text `refill` checked to be
        // UTF-8 (a character cut by the end of a read is checked once it is whole), so any
        // part of it that starts and ends at ASCII bytes, which are character boundaries, is
        // UTF-8 too; the two ends were checked to be `{` and `}` just above.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    }

    pub(super) fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.failure.is_some() {
            return Err(line_error());
        }
        if self.pos == self.valid && !self.refill()? {
            return Ok(0);
        }
        let n = out.len().min(self.valid - self.pos);
        let bytes = &self.buf[self.pos..self.pos + n];
        out[..n].copy_from_slice(bytes);
        if !self.content {
            self.content = bytes
                .iter()
                .any(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
        }
        if self.mark.is_some() {
            self.since_mark.extend_from_slice(bytes);
        }
        self.pos += n;
        self.served += n as u64;
        Ok(n)
    }

    /// Moves past the handed-out bytes and reads more; `false` at the end of the input.
    fn refill(&mut self) -> io::Result<bool> {
        if let Some(mark) = self.mark
            && mark.at.is_none()
        {
            let at = Some(self.line_col_at((mark.offset - self.offset) as usize));
            self.mark = Some(Mark { at, ..mark });
        }
        let (line, line_start) = self.line_col_at(self.pos);
        self.line = line;
        self.line_start = line_start;
        self.offset += self.pos as u64;
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.len, 0);
            self.len -= self.pos;
        }
        // Bytes kept (an element the fast path is cutting out) were checked already.
        let kept = self.valid - self.pos;
        self.valid = kept;
        self.pos = 0;
        loop {
            if self.len == self.buf.len() {
                self.buf.resize(self.buf.len() * 2, 0);
            }
            let n = match self.input.read(&mut self.buf[self.len..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return self.fail(StreamError::Read(e)),
            };
            self.len += n;
            if self.offset + self.len as u64 > self.max {
                return self.fail(StreamError::TooLarge(self.offset + self.len as u64));
            }
            if !self.started {
                if n > 0 && self.len < 3 && b"\xEF\xBB\xBF".starts_with(&self.buf[..self.len]) {
                    continue;
                }
                self.started = true;
                if self.buf[..self.len].starts_with(b"\xEF\xBB\xBF") {
                    self.buf.copy_within(3..self.len, 0);
                    self.len -= 3;
                    if self.len == 0 {
                        continue;
                    }
                }
            }
            match std::str::from_utf8(&self.buf[kept..self.len]) {
                Ok(_) => self.valid = self.len,
                // A character cut by the end of this read: read on, unless the input ended.
                Err(e) if e.error_len().is_none() && n > 0 => {
                    self.valid = kept + e.valid_up_to();
                    if self.valid == kept {
                        continue;
                    }
                }
                Err(e) => return self.not_utf8(kept + e.valid_up_to()),
            }
            return Ok(self.valid > 0);
        }
    }

    fn fail(&mut self, failure: StreamError) -> io::Result<bool> {
        self.failure = Some(failure);
        Err(line_error())
    }

    fn not_utf8(&mut self, at: usize) -> io::Result<bool> {
        let (line, line_start) = self.line_col_at(at);
        let offset = self.offset + at as u64;
        self.fail(StreamError::Bundle(BundleError::NotUtf8 {
            offset: offset as usize,
            line,
            column: (offset - line_start + 1) as usize,
        }))
    }

    /// The line of `buf[at]` and the offset where that line starts.
    fn line_col_at(&self, at: usize) -> (usize, u64) {
        // Runs over every byte once per refill: memchr's vector search, not a byte loop (a
        // DISINFOX answer is one line, so a backward byte loop crossed the whole buffer).
        let before = &self.buf[..at];
        let lines = memchr::memchr_iter(b'\n', before).count();
        let start =
            memchr::memrchr(b'\n', before).map_or(self.line_start, |p| self.offset + p as u64 + 1);
        (self.line + lines, start)
    }

    /// Called before each element: cheap, since it runs a million times on a big answer.
    pub(super) fn mark(&mut self) {
        self.mark = Some(Mark {
            offset: self.offset + self.pos as u64,
            at: None,
        });
        self.since_mark.clear();
    }

    /// The mark's offset, line and line start.
    fn mark_at(&self) -> Option<(u64, usize, u64)> {
        let mark = self.mark?;
        let (line, line_start) = mark
            .at
            .unwrap_or_else(|| self.line_col_at((mark.offset - self.offset) as usize));
        Some((mark.offset, line, line_start))
    }

    pub(super) fn unmark(&mut self) {
        self.mark = None;
        self.since_mark = Vec::new();
    }

    /// The offset of the element whose text is `raw`, read since the mark: only white space
    /// and a comma come before it.
    pub(super) fn element_start(&self, raw: &str) -> usize {
        let mark = self.mark.map_or(0, |m| m.offset);
        let skipped = self
            .since_mark
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b','))
            .unwrap_or(self.since_mark.len());
        debug_assert!(self.since_mark[skipped..].starts_with(raw.as_bytes()));
        (mark as usize) + skipped
    }

    /// Line and column of an offset at or after the mark.
    pub(super) fn position(&self, index: usize, offset: Option<usize>) -> ObjectPosition {
        let (mark, line, line_start) = self.mark_at().unwrap_or_default();
        ObjectPosition {
            index,
            at: offset.map(|o| {
                let upto = &self.since_mark[..(o as u64)
                    .saturating_sub(mark)
                    .min(self.since_mark.len() as u64)
                    as usize];
                let lines = upto.iter().filter(|&&b| b == b'\n').count();
                let start = upto
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(line_start, |p| mark + p as u64 + 1);
                (o, line + lines, o - start as usize + 1)
            }),
        }
    }

    /// The offset of serde_json's line and column, for a line at or after the mark.
    pub(super) fn offset_of(&self, line: usize, column: usize) -> Option<usize> {
        let (mark, mark_line, line_start) = self.mark_at()?;
        let start = if line == mark_line {
            line_start
        } else {
            let (i, _) = self
                .since_mark
                .iter()
                .enumerate()
                .filter(|&(_, &b)| b == b'\n')
                .nth(line.checked_sub(mark_line + 1)?)?;
            mark + i as u64 + 1
        };
        Some(start as usize + column.saturating_sub(1))
    }
}
