//! Streaming pass-through for `fetch`: validates a bundle object by object as it is read and
//! writes each object on at once, so memory stays constant whatever the size of the answer.
//!
//! The input is read by serde_json through the same envelope rules as [`parse`](super::parse)
//! (see `envelope.rs`), so the same bytes get the same verdict and message in `fetch`, `push`
//! and `sync`. Each element of `objects` is held alone, checked by the same per-object
//! validation, and copied out byte for byte. UTF-8 is checked as the input is read, a buffer
//! ahead of the parser, like `parse` checks it before parsing.
//! The output frame is `{"id":…,"objects":[…],"type":"bundle"}` + newline, DISINFOX's own
//! layout, so a DISINFOX answer comes out identical.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::rc::Rc;

use serde::de::{self, DeserializeSeed, SeqAccess};
use serde_json::value::RawValue;

use super::envelope::{self, Sink, Stop, TopSeed};
use super::object::object;
use super::{BundleError, ObjectPosition};

const BUF: usize = 1 << 20;

/// What a streamed bundle held; everything was written.
#[derive(Debug, PartialEq, Eq)]
pub struct Streamed {
    pub counts: BTreeMap<String, usize>,
    pub bytes_out: u64,
}

#[derive(Debug)]
pub enum StreamError {
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

/// Copies the bundle in `input` to `output`, validating as it goes. At most `max` bytes are read.
pub fn copy(input: impl Read, output: &mut dyn Write, max: u64) -> Result<Streamed, StreamError> {
    let feed = Rc::new(RefCell::new(Feed::new(input, max)));
    let mut out = Out {
        output,
        feed: Shared(Rc::clone(&feed)),
        counts: BTreeMap::new(),
        bytes_out: 0,
        failure: None,
        current: None,
    };
    let mut de = serde_json::Deserializer::from_reader(Shared(Rc::clone(&feed)));
    let result = TopSeed { sink: &mut out }
        .deserialize(&mut de)
        .and_then(|top| de.end().map(|()| top));
    let top = match result {
        Ok(top) => top,
        Err(e) => return Err(out.failure(&e)),
    };
    top.check().map_err(StreamError::Bundle)?;
    out.write(b"],\"type\":\"bundle\"}\n").map_err(|_| {
        out.failure
            .take()
            .unwrap_or(StreamError::Write(io::ErrorKind::Other.into()))
    })?;
    Ok(Streamed {
        counts: out.counts,
        bytes_out: out.bytes_out,
    })
}

/// The output side: writes the frame and each validated element.
struct Out<'w, R> {
    output: &'w mut dyn Write,
    feed: Shared<R>,
    counts: BTreeMap<String, usize>,
    bytes_out: u64,
    failure: Option<StreamError>,
    /// Index of the element of `objects` being read.
    current: Option<usize>,
}

impl<R: Read> Out<'_, R> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), ()> {
        self.bytes_out += bytes.len() as u64;
        self.output.write_all(bytes).map_err(|e| {
            self.failure = Some(StreamError::Write(e));
        })
    }

    /// What stopped serde_json: our own failure, the input's, or the JSON itself.
    fn failure(&mut self, e: &serde_json::Error) -> StreamError {
        if let Some(own) = self.failure.take() {
            return own;
        }
        let mut feed = self.feed.0.borrow_mut();
        if let Some(failure) = feed.failure.take() {
            return failure;
        }
        if e.is_eof() && !feed.content {
            return StreamError::Bundle(BundleError::Empty);
        }
        let feed = &*feed;
        StreamError::Bundle(envelope::failure(
            e,
            Stop {
                own: None,
                current: self.current,
                offset_of: &|line, column| feed.offset_of(line, column),
                position: &|index, offset| feed.position(index, offset),
            },
        ))
    }
}

impl<'de, R: Read> Sink<'de> for Out<'_, R> {
    type Raw = Box<RawValue>;

    fn objects<A: SeqAccess<'de>>(
        &mut self,
        mut seq: A,
        id: Option<&RawValue>,
    ) -> Result<(), A::Error> {
        let fail = || de::Error::custom("bundle stage failure");
        let id = match id {
            Some(id) if serde_json::from_str::<String>(id.get()).is_ok() => id.get().to_owned(),
            _ => format!("\"bundle--{}\"", uuid::Uuid::new_v4()),
        };
        self.write(b"{\"id\":").map_err(|()| fail())?;
        self.write(id.as_bytes()).map_err(|()| fail())?;
        self.write(b",\"objects\":[").map_err(|()| fail())?;
        for index in 0usize.. {
            self.current = Some(index);
            self.feed.0.borrow_mut().mark();
            let Some(raw) = seq.next_element::<Box<RawValue>>()? else {
                break;
            };
            let text = raw.get();
            match object(text, &mut Vec::new()) {
                Ok(o) => *self.counts.entry(o.kind.to_owned()).or_default() += 1,
                Err(reason) => {
                    let feed = self.feed.0.borrow();
                    let at = feed.element_start(text);
                    self.failure = Some(StreamError::Bundle(BundleError::Object {
                        position: feed.position(index, Some(at)),
                        reason,
                    }));
                    return Err(fail());
                }
            }
            if index > 0 {
                self.write(b",").map_err(|()| fail())?;
            }
            self.write(text.as_bytes()).map_err(|()| fail())?;
        }
        self.feed.0.borrow_mut().unmark();
        self.current = None;
        Ok(())
    }

    fn fail(&mut self, error: BundleError) {
        self.failure = Some(StreamError::Bundle(error));
    }
}

/// The reader serde_json reads from, shared with the sink, which asks it for positions.
struct Shared<R>(Rc<RefCell<Feed<R>>>);

impl<R: Read> Read for Shared<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.borrow_mut().read(buf)
    }
}

/// A buffered reader that checks UTF-8 a buffer ahead of the parser, enforces the size cap,
/// skips a leading byte-order mark (as `parse` does), and knows lines and columns.
struct Feed<R> {
    input: R,
    buf: Vec<u8>,
    /// Next byte to hand out; bytes up to `valid` are checked UTF-8; `len` bytes were read.
    pos: usize,
    valid: usize,
    len: usize,
    /// Bytes before `buf[0]`, the line `buf[0]` is on and where that line starts.
    offset: u64,
    line: usize,
    line_start: u64,
    max: u64,
    started: bool,
    /// A byte other than white space was handed out.
    content: bool,
    failure: Option<StreamError>,
    /// Where the current element of `objects` began to be read, and every byte since.
    mark: Option<Mark>,
    since_mark: Vec<u8>,
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
    fn new(input: R, max: u64) -> Self {
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
            failure: None,
            mark: None,
            since_mark: Vec::new(),
        }
    }

    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
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
        self.buf.copy_within(self.pos..self.len, 0);
        self.len -= self.pos;
        self.pos = 0;
        loop {
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
            match std::str::from_utf8(&self.buf[..self.len]) {
                Ok(_) => self.valid = self.len,
                // A character cut by the end of this read: read on, unless the input ended.
                Err(e) if e.error_len().is_none() && n > 0 => {
                    self.valid = e.valid_up_to();
                    if self.valid == 0 {
                        continue;
                    }
                }
                Err(e) => return self.not_utf8(e.valid_up_to()),
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
        let before = &self.buf[..at];
        let lines = before.iter().filter(|&&b| b == b'\n').count();
        let start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(self.line_start, |p| self.offset + p as u64 + 1);
        (self.line + lines, start)
    }

    /// Called before each element: cheap, since it runs a million times on a big answer.
    fn mark(&mut self) {
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

    fn unmark(&mut self) {
        self.mark = None;
        self.since_mark = Vec::new();
    }

    /// The offset of the element whose text is `raw`, read since the mark: only white space
    /// and a comma come before it.
    fn element_start(&self, raw: &str) -> usize {
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
    fn position(&self, index: usize, offset: Option<usize>) -> ObjectPosition {
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
    fn offset_of(&self, line: usize, column: usize) -> Option<usize> {
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

#[cfg(test)]
#[path = "../../tests/support/bad_bundles.rs"]
#[allow(unreachable_pub)]
mod bad_bundles;

#[cfg(test)]
mod tests {
    use super::bad_bundles;
    use super::*;
    use crate::bundle::testutil::{bundle, id, obj};

    /// Hands out one byte per read: every buffer boundary gets crossed.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.split_first() {
                Some((b, rest)) if !buf.is_empty() => {
                    buf[0] = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    fn run(input: &str) -> (Result<Streamed, StreamError>, Vec<u8>) {
        let mut out = Vec::new();
        let r = copy(Trickle(input.as_bytes()), &mut out, u64::MAX);
        (r, out)
    }

    fn sample() -> String {
        let rel = obj(
            "relationship",
            1,
            r#""source_ref":"intrusion-set--00000000-0000-4000-8000-000000000002","x":"a \"quoted\" ] } string""#,
        );
        let is = obj(
            "intrusion-set",
            2,
            r#""nested":{"a":[1,2,{"b":null}]},"n":-1.5e3,"t":true"#,
        );
        bundle(&[rel, is]) + "\n"
    }

    #[test]
    fn disinfox_layout_comes_out_byte_for_byte() {
        let input = sample();
        let (r, out) = run(&input);
        let Streamed { counts, bytes_out } = r.unwrap();
        assert_eq!(counts.get("relationship"), Some(&1));
        assert_eq!(bytes_out as usize, input.len());
        assert_eq!(String::from_utf8(out).unwrap(), input);
    }

    #[test]
    fn answers_without_objects_write_nothing() {
        for input in [
            "{}\n",
            r#"{"message":"Please provide an Authorization header"}"#,
        ] {
            let (r, out) = run(input);
            assert!(matches!(r, Err(StreamError::Bundle(_))), "{input}");
            assert!(out.is_empty(), "{input}");
        }
        let (r, out) = run(r#"{"id":"bundle--x","objects":[],"type":"bundle"}"#);
        assert!(r.is_ok());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"id\":\"bundle--x\",\"objects\":[],\"type\":\"bundle\"}\n"
        );
    }

    #[test]
    fn bad_inputs_are_refused_with_a_reason() {
        let err = |s: &str| match run(s).0 {
            Err(StreamError::Bundle(error)) => error.to_string(),
            other => panic!("{s}: {other:?}"),
        };
        assert!(err("<html>").contains("not valid JSON"));
        assert!(err("[1]").contains("the top level is an array"));
        assert!(err("").contains("empty"));
        assert!(err(r#"{"incidents":[],"page":1}"#).contains(r#"no "type""#));
        assert!(err(r#"{"objects":[],"type":"report"}"#).contains(r#""type" is "report""#));
        let bad_id =
            bundle(&[obj("intrusion-set", 1, "").replace(&id("intrusion-set", 1), "nope")]);
        assert!(err(&bad_id).contains("objects[0]"));
        let truncated = &sample()[..60];
        assert!(err(truncated).contains("EOF"), "{}", err(truncated));
        assert!(err(&(sample() + "x")).contains("trailing characters"));
        assert!(err(r#"{"objects":[],"objects":[]}"#).contains("twice"));
        let broken_inside = bundle(&[r#"{"id":"x--1","type":"x",}"#.to_owned()]);
        assert!(err(&broken_inside).contains("objects[0]"));
    }

    /// The same bytes, the same verdict: what `parse` says is what the stream says.
    #[test]
    fn same_message_as_parse_on_every_bad_input() {
        for (name, input, words, structural) in bad_bundles::table() {
            let parsed = crate::bundle::parse(&input).map(drop).unwrap_err();
            let streamed = match copy(Trickle(&input), &mut Vec::new(), u64::MAX) {
                Err(StreamError::Bundle(e)) => e,
                other => panic!("{name}: {other:?}"),
            };
            assert_eq!(streamed.to_string(), parsed.to_string(), "{name}");
            assert!(parsed.to_string().contains(words), "{name}: {parsed}");
            assert_eq!(parsed.is_structural(), structural, "{name}: {parsed}");
            // Read in one piece too: buffer boundaries change nothing.
            let whole = copy(&input[..], &mut Vec::new(), u64::MAX);
            assert!(
                matches!(whole, Err(StreamError::Bundle(e)) if e == parsed),
                "{name}"
            );
        }
    }

    #[test]
    fn an_escaped_bundle_type_is_a_bundle_everywhere() {
        let input = r#"{"objects":[],"type":"bun\u0064le"}"#;
        assert!(crate::bundle::parse(input.as_bytes()).is_ok());
        assert!(run(input).0.is_ok());
    }

    #[test]
    fn size_cap_holds() {
        let input = sample();
        let mut out = Vec::new();
        let r = copy(input.as_bytes(), &mut out, 100);
        assert!(matches!(r, Err(StreamError::TooLarge(_))));
    }

    #[test]
    fn same_verdict_as_the_stage_on_generated_bundles() {
        let g = crate::bundle::generator::generate(&crate::bundle::generator::GenOptions::new(50));
        let text = g.into_bundle();
        let mut out = Vec::new();
        let r = copy(text.as_bytes(), &mut out, u64::MAX).unwrap();
        assert_eq!(out, text.as_bytes());
        let parsed = crate::bundle::parse(text.as_bytes()).unwrap();
        let Streamed { counts, .. } = r;
        assert_eq!(counts.values().sum::<usize>(), parsed.len());
    }
}
