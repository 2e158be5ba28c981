//! Streaming pass-through for `fetch`: validates a bundle object by object as it is read and
//! writes each object on at once, so memory stays constant whatever the size of the answer.
//!
//! The reader splits the input into complete JSON values by tracking strings and nesting only;
//! every element of `objects` is then checked by the same per-object validation as `parse`
//! (which also rejects any JSON syntax error inside it), and copied out byte for byte.
//! The output frame is `{"id":…,"objects":[…],"type":"bundle"}` + newline, DISINFOX's own
//! layout, so a DISINFOX answer comes out identical.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use super::parse::object;
use super::{BundleError, ObjectPosition};

const BUF: usize = 1 << 20;

/// What a streamed answer turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Streamed {
    /// A bundle; everything was written.
    Bundle {
        counts: BTreeMap<String, usize>,
        bytes_out: u64,
    },
    /// `{}`: nothing was written.
    Empty,
    /// An object with only a `message` (DISINFOX's "no Authorization header"): nothing written.
    Message(String),
}

#[derive(Debug)]
pub enum StreamError {
    /// Reading the input failed (for HTTP: the answer broke off).
    Read(io::Error),
    /// Writing the output failed.
    Write(io::Error),
    /// More than the allowed number of bytes came in.
    TooLarge(u64),
    /// The text is not a valid bundle.
    Bundle(BundleError),
}

/// Copies the bundle in `input` to `output`, validating as it goes. At most `max` bytes are read.
pub fn copy(input: impl Read, output: &mut dyn Write, max: u64) -> Result<Streamed, StreamError> {
    let mut s = Splitter {
        input,
        buf: vec![0; BUF],
        pos: 0,
        len: 0,
        offset: 0,
        max,
    };
    let mut top = Top::default();
    s.skip_ws()?;
    match s.peek()? {
        Some(b'{') => s.bump(),
        Some(b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
            return Err(not_bundle("the top level is not a JSON object"));
        }
        Some(_) => return Err(not_bundle("the input is not JSON")),
        None => {
            return Err(StreamError::Bundle(BundleError::Empty));
        }
    }
    let mut value = Vec::new();
    s.skip_ws()?;
    if s.peek()? == Some(b'}') {
        s.bump();
    } else {
        loop {
            value.clear();
            s.value(&mut value)?;
            let key: String = serde_json::from_slice(&value)
                .map_err(|_| syntax(&s, "a top-level key is not a JSON string"))?;
            s.skip_ws()?;
            if s.next()? != Some(b':') {
                return Err(syntax(&s, "expected ':' after a top-level key"));
            }
            s.skip_ws()?;
            if key == "objects" {
                top.objects(&mut s, output)?;
            } else {
                value.clear();
                s.value(&mut value)?;
                top.other(key, &value);
            }
            s.skip_ws()?;
            match s.next()? {
                Some(b',') => s.skip_ws()?,
                Some(b'}') => break,
                _ => {
                    return Err(syntax(&s, "expected ',' or '}' at the top level"));
                }
            }
        }
    }
    s.skip_ws()?;
    if s.peek()?.is_some() {
        return Err(syntax(&s, "text after the top-level object"));
    }
    top.finish(output)
}

#[derive(Default)]
struct Top {
    id: Option<Vec<u8>>,
    kind: Option<Vec<u8>>,
    message: Option<String>,
    other_keys: usize,
    has_objects: bool,
    counts: BTreeMap<String, usize>,
    bytes_out: u64,
}

impl Top {
    fn other(&mut self, key: String, value: &[u8]) {
        match key.as_str() {
            "id" => self.id = Some(value.to_vec()),
            "type" => self.kind = Some(value.to_vec()),
            "message" => self.message = serde_json::from_slice(value).ok(),
            _ => self.other_keys += 1,
        }
    }

    fn write(&mut self, output: &mut dyn Write, bytes: &[u8]) -> Result<(), StreamError> {
        self.bytes_out += bytes.len() as u64;
        output.write_all(bytes).map_err(StreamError::Write)
    }

    /// The `objects` array: each element validated, then written.
    fn objects<R: Read>(
        &mut self,
        s: &mut Splitter<R>,
        output: &mut dyn Write,
    ) -> Result<(), StreamError> {
        if self.has_objects {
            return Err(not_bundle(r#""objects" appears twice"#));
        }
        if s.next()? != Some(b'[') {
            return Err(not_bundle(r#""objects" is not an array"#));
        }
        self.has_objects = true;
        let id = match &self.id {
            Some(id) if is_json_string(id) => id.clone(),
            _ => format!("\"bundle--{}\"", uuid::Uuid::new_v4()).into_bytes(),
        };
        self.write(output, b"{\"id\":")?;
        self.write(output, &id)?;
        self.write(output, b",\"objects\":[")?;
        let mut raw = Vec::new();
        s.skip_ws()?;
        if s.peek()? == Some(b']') {
            s.bump();
            return Ok(());
        }
        for index in 0usize.. {
            s.skip_ws()?;
            let at = s.offset();
            raw.clear();
            s.value(&mut raw)?;
            let bad = |reason: String| {
                StreamError::Bundle(BundleError::Object {
                    position: ObjectPosition { index, at: None },
                    reason: format!("{reason} (at byte {at})"),
                })
            };
            // Not UTF-8 is a broken document, not a bad object: the same answer must end the
            // same way in `fetch` (streamed) and `sync` (parsed whole).
            let text = std::str::from_utf8(&raw).map_err(|e| {
                not_bundle(format!(
                    "not UTF-8 text: invalid byte at offset {}",
                    at + e.valid_up_to() as u64
                ))
            })?;
            let o = object(text, &mut Vec::new()).map_err(bad)?;
            *self.counts.entry(o.kind.to_owned()).or_default() += 1;
            if index > 0 {
                self.write(output, b",")?;
            }
            self.write(output, &raw)?;
            s.skip_ws()?;
            match s.next()? {
                Some(b',') => {}
                Some(b']') => break,
                _ => return Err(syntax(s, "expected ',' or ']' in \"objects\"")),
            }
        }
        Ok(())
    }

    fn finish(mut self, output: &mut dyn Write) -> Result<Streamed, StreamError> {
        if !self.has_objects {
            let only_message = self.message.is_some()
                && self.id.is_none()
                && self.kind.is_none()
                && self.other_keys == 0;
            return match self.message {
                Some(m) if only_message => Ok(Streamed::Message(m)),
                _ if self.id.is_none() && self.kind.is_none() && self.other_keys == 0 => {
                    Ok(Streamed::Empty)
                }
                _ => Err(not_bundle(r#"there is no "objects" array"#)),
            };
        }
        match self.kind.as_deref() {
            Some(b"\"bundle\"") => {}
            Some(other) => {
                let shown = String::from_utf8_lossy(other)
                    .chars()
                    .take(40)
                    .collect::<String>();
                return Err(not_bundle(format!(
                    r#""type" is {shown}, expected "bundle""#
                )));
            }
            None => {
                return Err(not_bundle(
                    r#"there is no "type": "bundle" at the top level"#,
                ));
            }
        }
        self.write(output, b"],\"type\":\"bundle\"}\n")?;
        Ok(Streamed::Bundle {
            counts: self.counts,
            bytes_out: self.bytes_out,
        })
    }
}

fn is_json_string(v: &[u8]) -> bool {
    serde_json::from_slice::<String>(v).is_ok()
}

fn not_bundle(reason: impl Into<String>) -> StreamError {
    StreamError::Bundle(BundleError::NotBundle {
        reason: reason.into(),
    })
}

fn syntax<R: Read>(s: &Splitter<R>, what: &str) -> StreamError {
    not_bundle(format!("invalid JSON: {what} (at byte {})", s.offset()))
}

/// A buffered reader that hands out bytes and whole JSON values.
struct Splitter<R> {
    input: R,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    /// Bytes consumed before `buf[0]`.
    offset: u64,
    max: u64,
}

impl<R: Read> Splitter<R> {
    fn offset(&self) -> u64 {
        self.offset + self.pos as u64
    }

    fn fill(&mut self) -> Result<bool, StreamError> {
        if self.pos < self.len {
            return Ok(true);
        }
        self.offset += self.len as u64;
        self.pos = 0;
        self.len = loop {
            match self.input.read(&mut self.buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(StreamError::Read(e)),
            }
        };
        if self.offset + self.len as u64 > self.max {
            return Err(StreamError::TooLarge(self.offset + self.len as u64));
        }
        Ok(self.len > 0)
    }

    fn peek(&mut self) -> Result<Option<u8>, StreamError> {
        Ok(if self.fill()? {
            Some(self.buf[self.pos])
        } else {
            None
        })
    }

    fn next(&mut self) -> Result<Option<u8>, StreamError> {
        let b = self.peek()?;
        if b.is_some() {
            self.pos += 1;
        }
        Ok(b)
    }

    fn bump(&mut self) {
        self.pos += 1;
    }

    fn skip_ws(&mut self) -> Result<(), StreamError> {
        while let Some(b) = self.peek()? {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            self.pos += 1;
        }
        Ok(())
    }

    /// Appends one complete JSON value to `out`: a string, a container (strings and nesting
    /// tracked), or a scalar up to the next delimiter. Its inner syntax is checked later.
    fn value(&mut self, out: &mut Vec<u8>) -> Result<(), StreamError> {
        let eof = |s: &Self| syntax(s, "the input ends inside a value");
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        loop {
            if !self.fill()? {
                return if depth == 0 && !in_string && !out.is_empty() {
                    Ok(())
                } else {
                    Err(eof(self))
                };
            }
            let chunk = &self.buf[self.pos..self.len];
            let mut used = 0;
            let mut done = false;
            for &b in chunk {
                if in_string {
                    used += 1;
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        in_string = false;
                        if depth == 0 {
                            done = true;
                            break;
                        }
                    }
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' if depth > 0 => {
                        depth -= 1;
                        if depth == 0 {
                            used += 1;
                            done = true;
                            break;
                        }
                    }
                    b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r' if depth == 0 => {
                        done = !out.is_empty() || used > 0;
                        if done {
                            break;
                        }
                        return Err(syntax(self, "expected a value"));
                    }
                    _ => {}
                }
                used += 1;
            }
            out.extend_from_slice(&chunk[..used]);
            self.pos += used;
            if done {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
        match r.unwrap() {
            Streamed::Bundle { counts, bytes_out } => {
                assert_eq!(counts.get("relationship"), Some(&1));
                assert_eq!(bytes_out as usize, input.len());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(String::from_utf8(out).unwrap(), input);
    }

    #[test]
    fn empty_and_message_answers_write_nothing() {
        assert_eq!(run("{}\n").0.unwrap(), Streamed::Empty);
        let (r, out) = run(r#"{"message":"Please provide an Authorization header"}"#);
        assert_eq!(
            r.unwrap(),
            Streamed::Message("Please provide an Authorization header".into())
        );
        assert!(out.is_empty());
        let (r, out) = run(r#"{"id":"bundle--x","objects":[],"type":"bundle"}"#);
        assert!(matches!(r.unwrap(), Streamed::Bundle { .. }));
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
        assert!(err("<html>").contains("not JSON"));
        assert!(err("[1]").contains("not a JSON object"));
        assert!(err("").contains("empty"));
        assert!(err(r#"{"incidents":[],"page":1}"#).contains(r#"no "objects""#));
        assert!(err(r#"{"objects":[],"type":"report"}"#).contains(r#""type" is "report""#));
        let bad_id =
            bundle(&[obj("intrusion-set", 1, "").replace(&id("intrusion-set", 1), "nope")]);
        assert!(err(&bad_id).contains("objects[0]"));
        let truncated = &sample()[..60];
        assert!(err(truncated).contains("ends inside"), "{}", err(truncated));
        assert!(err(&(sample() + "x")).contains("after the top-level object"));
        assert!(err(r#"{"objects":[],"objects":[]}"#).contains("twice"));
        let broken_inside = bundle(&[r#"{"id":"x--1","type":"x",}"#.to_owned()]);
        assert!(err(&broken_inside).contains("objects[0]"));
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
        let Streamed::Bundle { counts, .. } = r else {
            panic!()
        };
        assert_eq!(counts.values().sum::<usize>(), parsed.len());
    }
}
