//! Streaming pass-through for `fetch`: validates a bundle object by object as it is read and
//! writes each object on at once, so memory stays constant whatever the size of the answer.
//!
//! The input is read by serde_json through the same envelope rules as [`parse`](super::parse)
//! (see `envelope.rs`), so the same bytes get the same verdict and message in `fetch`, `push`
//! and `sync`. Each element of `objects` is held alone, checked by the same per-object
//! validation, and copied out byte for byte. UTF-8 is checked as the input is read, a buffer
//! ahead of the parser, like `parse` checks it before parsing.
//! Past the first element, the elements are cut out of the buffer as slices (`scan.rs`) and
//! read by serde_json at slice speed, the envelope's serde_json being handed back the input at
//! the closing `]`, or at the first element the fast path is unsure of, so that the slow path
//! gives its verdict and message. Lines and columns serde_json reports after that are moved
//! past the bytes it did not see ([`Feed::true_line_col`]).
//! The output frame is `{"id":…,"objects":[…],"type":"bundle"}` + newline, DISINFOX's own
//! layout, so a DISINFOX answer comes out identical.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::rc::Rc;

use serde::de::{self, DeserializeSeed, SeqAccess};
use serde_json::value::RawValue;

use super::envelope::{self, Sink, Stop, TopSeed};
use super::feed::Feed;
pub(crate) use super::feed::StreamError;
use super::object::unmeasured;
use super::{BundleError, Object};

/// Bytes gathered before one write to the output.
const OUT_BUF: usize = 1 << 20;

/// What a streamed bundle held; everything was written.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Streamed {
    pub counts: BTreeMap<String, usize>,
    pub bytes_out: u64,
}

/// Why an [`Observe`]r refused an element.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The object cannot be staged: the reason, reported with its position.
    Object(String),
    /// The observer's own output failed (for the stage: its index file).
    Io(io::Error),
}

/// What a reader does with each element it validated, besides copying it: the bundle stage
/// indexes it (`staged`), `fetch` does nothing.
pub(crate) trait Observe {
    /// `element`: where its text starts in the output, the text, and what escaping adds to it
    /// when the reader counted that on the way. `ends`: the object's end references, for
    /// [`super::object::check_ends`]. A refusal must leave the observer as it was.
    fn object(
        &mut self,
        element: (u64, &str, Option<usize>),
        object: &Object<'_>,
        ends: u8,
        refs: &[&str],
    ) -> Result<(), Refusal>;
}

/// Passes every valid element on: `fetch` copies DISINFOX's data as it is.
pub(crate) struct PassOn;

impl Observe for PassOn {
    fn object(
        &mut self,
        _: (u64, &str, Option<usize>),
        _: &Object<'_>,
        _: u8,
        _: &[&str],
    ) -> Result<(), Refusal> {
        Ok(())
    }
}

/// Copies the bundle in `input` to `output`, validating as it goes. At most `max` bytes are read.
pub(crate) fn copy(
    input: impl Read,
    output: &mut dyn Write,
    max: u64,
) -> Result<Streamed, StreamError> {
    copy_observed(input, output, max, &mut PassOn)
}

/// [`copy`], showing each valid element to `observer` before it is written.
pub(crate) fn copy_observed(
    input: impl Read,
    output: &mut dyn Write,
    max: u64,
    observer: &mut dyn Observe,
) -> Result<Streamed, StreamError> {
    copy_with(
        Rc::new(RefCell::new(Feed::new(input, max))),
        output,
        observer,
    )
}

fn copy_with<R: Read>(
    feed: Rc<RefCell<Feed<R>>>,
    output: &mut dyn Write,
    observer: &mut dyn Observe,
) -> Result<Streamed, StreamError> {
    // Elements are a few hundred bytes: gathered into large writes, not one per 8 KiB.
    let mut buffered = io::BufWriter::with_capacity(OUT_BUF, output);
    let mut out = Out {
        output: &mut buffered,
        feed: Shared(Rc::clone(&feed)),
        counts: BTreeMap::new(),
        bytes_out: 0,
        failure: None,
        current: None,
        observer,
        spare_refs: Vec::new(),
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
    let streamed = Streamed {
        counts: out.counts,
        bytes_out: out.bytes_out,
    };
    buffered.flush().map_err(StreamError::Write)?;
    Ok(streamed)
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
    observer: &'w mut dyn Observe,
    /// The references of the element at hand: one allocation for the whole stream.
    spare_refs: Vec<&'static str>,
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
                line_col: feed.true_line_col(e.line(), e.column()),
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
        let mut fast = false;
        for index in 0usize.. {
            if fast {
                if self.fast_element().map_err(|()| fail())? {
                    continue;
                }
                fast = false;
            }
            self.current = Some(index);
            self.feed.0.borrow_mut().mark();
            let Some(raw) = seq.next_element::<Box<RawValue>>()? else {
                break;
            };
            let text = raw.get();
            let mut refs = Vec::new();
            let at = self.bytes_out + u64::from(index > 0);
            let checked = unmeasured(text, &mut refs).map_err(Refusal::Object);
            match checked.and_then(|(o, ends)| {
                self.observer.object((at, text, None), &o, ends, &refs)?;
                Ok(o)
            }) {
                Ok(o) => *self.counts.entry(o.kind.to_owned()).or_default() += 1,
                Err(Refusal::Io(e)) => {
                    self.failure = Some(StreamError::Write(e));
                    return Err(fail());
                }
                Err(Refusal::Object(reason)) => {
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
            if index == 0 {
                // serde_json has read up to the element's `}` and not a byte further.
                fast = true;
                self.feed.0.borrow_mut().fast_begin();
            }
        }
        self.feed.0.borrow_mut().unmark();
        self.current = None;
        Ok(())
    }

    fn fail(&mut self, error: BundleError) {
        self.failure = Some(StreamError::Bundle(error));
    }
}

impl<R: Read> Out<'_, R> {
    /// Cuts the next element out of the buffer, checks and writes it: `Ok(false)` when the
    /// fast path is over (the closing `]`, or something the slow path must judge), the input
    /// left where that element begins.
    fn fast_element(&mut self) -> Result<bool, ()> {
        let feed = Rc::clone(&self.feed.0);
        let mut feed = feed.borrow_mut();
        let Some((start, end, extra)) = feed.next_fast() else {
            feed.fast_end();
            return Ok(false);
        };
        let Some(text) = feed.element_text(start, end) else {
            feed.fast_end();
            return Ok(false);
        };
        let mut refs = std::mem::take(&mut self.spare_refs);
        let at = self.bytes_out + 1;
        let observer = &mut *self.observer;
        let seen = unmeasured(text, &mut refs)
            .map_err(Refusal::Object)
            .and_then(|(o, ends)| {
                observer
                    .object((at, text, Some(extra)), &o, ends, &refs)
                    .map(|()| o.kind)
            });
        self.spare_refs = recycle(refs);
        let kind = match seen {
            Ok(kind) => kind,
            Err(Refusal::Io(e)) => {
                self.failure = Some(StreamError::Write(e));
                return Err(());
            }
            // Judged again on the slow path, which knows the element's position.
            Err(Refusal::Object(_)) => {
                feed.fast_end();
                return Ok(false);
            }
        };
        match self.counts.get_mut(kind) {
            Some(n) => *n += 1,
            None => {
                self.counts.insert(kind.to_owned(), 1);
            }
        }
        self.write(b",")?;
        self.write(text.as_bytes())?;
        feed.pos = end;
        Ok(true)
    }
}

/// An emptied vector of references, with its allocation kept for the next element: collecting
/// a `vec::IntoIter` into a vector of the same layout reuses its buffer.
fn recycle(mut refs: Vec<&str>) -> Vec<&'static str> {
    refs.clear();
    // Empty: the closure never runs; it only gives the items their new lifetime.
    refs.into_iter().map(|_| "").collect()
}

/// The reader serde_json reads from, shared with the sink, which asks it for positions.
struct Shared<R>(Rc<RefCell<Feed<R>>>);

impl<R: Read> Read for Shared<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.borrow_mut().read(buf)
    }
}

#[cfg(test)]
#[path = "../../tests/support/bad_bundles.rs"]
#[allow(unreachable_pub)]
pub(super) mod bad_bundles;

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
    fn recycling_keeps_the_allocation() {
        let text = String::from("a b c d e");
        let refs: Vec<&str> = text.split(' ').collect();
        let (capacity, at) = (refs.capacity(), refs.as_ptr() as usize);
        let spare = recycle(refs);
        assert!(spare.is_empty());
        assert_eq!((spare.capacity(), spare.as_ptr() as usize), (capacity, at));
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

    type Verdict<T> = Result<T, String>;

    /// The verdict of `parse` on `input` (its own check of relationship ends left out: the
    /// inputs below have none), and the stream's, read in one piece and one byte at a time.
    fn verdicts(input: &[u8]) -> (Verdict<()>, [Verdict<Vec<u8>>; 2]) {
        let parsed = crate::bundle::parse(input)
            .map(drop)
            .map_err(|e| e.to_string());
        let stream = |r: &mut dyn Read| {
            let mut out = Vec::new();
            match copy(r, &mut out, u64::MAX) {
                Ok(_) => Ok(out),
                Err(StreamError::Bundle(e)) => Err(e.to_string()),
                Err(other) => panic!("{other:?}"),
            }
        };
        (
            parsed,
            [stream(&mut &input[..]), stream(&mut Trickle(input))],
        )
    }

    /// Four objects over several lines, then the end of the envelope after `objects`; and the
    /// same bundle as `fetch` writes it.
    fn pretty() -> (String, String) {
        let objects: Vec<String> = (1..=4)
            .map(|n| {
                obj(
                    "identity",
                    n,
                    r#""name":"a \"b\" }]","x":[{"y":[1,2.5e3,null]}]"#,
                )
            })
            .collect();
        let pretty = format!(
            "{{\n  \"id\": \"bundle--1\",\n  \"objects\": [\n    {},\n {}\n  , {},\n\n{}\n  ],\n  \"type\": \"bundle\"\n}}\n",
            objects[0], objects[1], objects[2], objects[3]
        );
        let compact = format!(
            "{{\"id\":\"bundle--1\",\"objects\":[{}],\"type\":\"bundle\"}}\n",
            objects.join(",")
        );
        (pretty, compact)
    }

    /// Past the first element the stream cuts elements out itself; whatever the input, it
    /// must still say what `parse` says, at the same line and column.
    #[test]
    fn cut_elements_get_the_verdict_of_parse_at_every_byte() {
        let (good, compact) = pretty();
        let (parsed, streamed) = verdicts(good.as_bytes());
        assert_eq!(parsed, Ok(()));
        for s in &streamed {
            assert_eq!(s.as_deref(), Ok(compact.as_bytes()));
        }
        let mut inputs: Vec<Vec<u8>> = (0..good.len())
            .map(|cut| good.as_bytes()[..cut].to_vec())
            .collect();
        for at in 0..good.len() {
            for b in [b'x', b'}', b']', b',', b'"', b'\\', b'\n', b'{', 0x01] {
                let mut bad = good.clone().into_bytes();
                bad[at] = b;
                inputs.push(bad);
            }
        }
        for input in inputs {
            let (parsed, streamed) = verdicts(&input);
            let shown = String::from_utf8_lossy(&input);
            let count = |text: &[u8]| crate::bundle::parse(text).map(|p| p.len()).ok();
            for s in streamed {
                match (&parsed, s) {
                    (Ok(()), Ok(out)) => assert_eq!(count(&out), count(&input), "{shown}"),
                    (Err(p), Err(s)) => assert_eq!(without_place(&s), without_place(p), "{shown}"),
                    (p, s) => panic!("{shown}: parse {p:?}, stream {s:?}"),
                }
            }
        }
    }

    /// A control character in a string (a line break, when a quote is missing) is placed
    /// differently by serde_json's slice reader and its byte reader: at the character or just
    /// past it, and not the same way for keys and values. So only the message is compared.
    fn without_place(message: &str) -> &str {
        if message.contains("control character") {
            "control character"
        } else {
            message
        }
    }

    /// The elements after the first do not go through serde_json's reader one byte per call.
    #[test]
    fn most_bytes_bypass_the_byte_reader() {
        let text =
            crate::bundle::generator::generate(&crate::bundle::generator::GenOptions::new(200))
                .into_bundle();
        let feed = Rc::new(RefCell::new(Feed::new(text.as_bytes(), u64::MAX)));
        let served = |feed: &Rc<RefCell<Feed<&[u8]>>>| feed.borrow().served;
        let mut out = Vec::new();
        copy_with(Rc::clone(&feed), &mut out, &mut PassOn).unwrap();
        assert_eq!(out, text.as_bytes());
        assert!(
            served(&feed) * 100 < text.len() as u64,
            "{} of {} bytes went through serde_json's reader",
            served(&feed),
            text.len()
        );
    }

    /// Counts the writes it gets.
    struct Writes(Vec<u8>, usize);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.1 += 1;
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Elements are gathered into large writes: a write per element cost fetch a tenth of its
    /// time in system calls.
    #[test]
    fn the_output_gets_few_large_writes() {
        let text =
            crate::bundle::generator::generate(&crate::bundle::generator::GenOptions::new(200))
                .into_bundle();
        let mut out = Writes(Vec::new(), 0);
        copy(text.as_bytes(), &mut out, u64::MAX).unwrap();
        assert_eq!(out.0, text.as_bytes());
        assert!(out.1 <= text.len() / OUT_BUF + 1, "{} writes", out.1);
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
