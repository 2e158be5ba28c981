//! The bundle envelope: what the top level of a bundle must be, and how a failure is reported.
//!
//! One set of rules for every reader of a bundle. [`parse`](super::parse) (`push`, `sync`: the
//! whole input in memory) and [`stream`](super::stream) (`fetch`: constant memory) both walk the
//! input with serde_json through [`TopSeed`], differing only in what they do with the elements of
//! `objects` (a [`Sink`]), and both turn a failure into a [`BundleError`] with [`failure`]. So the
//! same bytes get the same verdict and the same message whichever command reads them.
//!
//! DISINFOX's own answer shapes (`{}`, `{"message": …}`) are not bundles here: the source that
//! receives them (`disinfox.rs`) recognises them.

use std::borrow::Borrow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::{BundleError, ObjectPosition};

/// What a reader does with the elements of `objects`.
pub(super) trait Sink<'de> {
    /// How a top-level value is held: borrowed from the input, or owned when streaming.
    type Raw: de::Deserialize<'de> + Borrow<RawValue>;

    /// Reads every element of `objects`, validating each. `id` is the bundle's `id` when it came
    /// before `objects`. A failure of our own is stored with [`Sink::fail`] and carried out as
    /// a serde error.
    fn objects<A: SeqAccess<'de>>(&mut self, seq: A, id: Option<&RawValue>)
    -> Result<(), A::Error>;

    /// Keeps our own error, more precise than the serde error that carries it out.
    fn fail(&mut self, error: BundleError);
}

/// The top level as read: judged by [`TopLevel::check`] once the whole input was read.
pub(super) struct TopLevel<R> {
    pub(super) kind: Option<R>,
    pub(super) id: Option<R>,
    pub(super) has_objects: bool,
    /// What the top level was when it is not an object ("an array", …).
    not_object: Option<&'static str>,
}

impl<R: Borrow<RawValue>> TopLevel<R> {
    /// The rules that need the whole top level: an object, `"type": "bundle"`, an `objects`.
    pub(super) fn check(&self) -> Result<(), BundleError> {
        if let Some(what) = self.not_object {
            return Err(not_bundle(format!(
                "the top level is {what}, not an object"
            )));
        }
        let Some(raw) = &self.kind else {
            return Err(not_bundle(
                r#"there is no "type": "bundle" at the top level"#,
            ));
        };
        let raw = raw.borrow().get();
        let kind_ok = raw == r#""bundle""#
            || serde_json::from_str::<String>(raw).is_ok_and(|s| s == "bundle");
        if !kind_ok {
            let shown = match plain_string(raw) {
                Some(s) => show(s),
                None => show_json(raw),
            };
            return Err(not_bundle(format!(
                r#""type" is {shown}, expected "bundle""#
            )));
        }
        if !self.has_objects {
            return Err(not_bundle(r#"there is no "objects" array"#));
        }
        Ok(())
    }
}

/// Reads the top level: a map whose `objects` goes to the sink; anything else is read whole (so
/// a JSON error in it wins) and then refused.
pub(super) struct TopSeed<'s, S> {
    pub(super) sink: &'s mut S,
}

impl<'de, S: Sink<'de>> DeserializeSeed<'de> for TopSeed<'_, S> {
    type Value = TopLevel<S::Raw>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

fn not_object<R>(what: &'static str) -> TopLevel<R> {
    TopLevel {
        kind: None,
        id: None,
        has_objects: false,
        not_object: Some(what),
    }
}

impl<'de, S: Sink<'de>> Visitor<'de> for TopSeed<'_, S> {
    type Value = TopLevel<S::Raw>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a STIX bundle (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut top = TopLevel {
            kind: None,
            id: None,
            has_objects: false,
            not_object: None,
        };
        while let Some(key) = map.next_key::<TopKey>()? {
            match key {
                TopKey::Type => {
                    let raw: S::Raw = map.next_value()?;
                    if top.kind.replace(raw).is_some() {
                        return Err(self.fail(not_bundle(r#""type" appears twice"#)));
                    }
                }
                // Optional and never reused by the stage (chunks get fresh ids).
                TopKey::Id => top.id = Some(map.next_value()?),
                TopKey::Objects => {
                    if top.has_objects {
                        return Err(self.fail(not_bundle(r#""objects" appears twice"#)));
                    }
                    let id = top.id.as_ref().map(Borrow::borrow);
                    map.next_value_seed(ObjectsSeed {
                        sink: &mut *self.sink,
                        id,
                    })?;
                    top.has_objects = true;
                }
                TopKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(top)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(not_object("an array"))
    }
    fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<Self::Value, E> {
        Ok(not_object("a string"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(not_object("a string"))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(not_object("a boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(not_object("a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(not_object("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(not_object("a number"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(not_object("null"))
    }
}

impl<'de, S: Sink<'de>> TopSeed<'_, S> {
    fn fail<E: de::Error>(self, e: BundleError) -> E {
        self.sink.fail(e);
        E::custom("bundle stage failure")
    }
}

struct ObjectsSeed<'s, 'i, S> {
    sink: &'s mut S,
    id: Option<&'i RawValue>,
}

impl<'de, S: Sink<'de>> ObjectsSeed<'_, '_, S> {
    fn not_array<E: de::Error>(self, what: &str) -> Result<(), E> {
        self.sink
            .fail(not_bundle(format!(r#""objects" is {what}, not an array"#)));
        Err(E::custom("bundle stage failure"))
    }
}

impl<'de, S: Sink<'de>> DeserializeSeed<'de> for ObjectsSeed<'_, '_, S> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        // `any`, not `seq`: serde_json reports a non-array to `seq` without asking us.
        d.deserialize_any(self)
    }
}

impl<'de, S: Sink<'de>> Visitor<'de> for ObjectsSeed<'_, '_, S> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of STIX objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        self.sink.objects(seq, self.id)
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        self.not_array("an object")
    }
    fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<(), E> {
        self.not_array("a string")
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.not_array("a string")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.not_array("a boolean")
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.not_array("a number")
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.not_array("a number")
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.not_array("a number")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.not_array("null")
    }
}

enum TopKey {
    Type,
    Id,
    Objects,
    Other,
}

impl<'de> de::Deserialize<'de> for TopKey {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TopKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, k: &str) -> Result<TopKey, E> {
                Ok(match k {
                    "type" => TopKey::Type,
                    "id" => TopKey::Id,
                    "objects" => TopKey::Objects,
                    _ => TopKey::Other,
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

/// Where the reader was when serde_json stopped: inside element `index` of `objects` or not,
/// and how to turn serde_json's line and column into a byte offset.
pub(super) struct Stop<'a> {
    pub(super) own: Option<BundleError>,
    /// serde_json's line and column, as they are in the input (`stream` skips bytes it cut out
    /// itself, so its serde_json counts fewer).
    pub(super) line_col: (usize, usize),
    pub(super) current: Option<usize>,
    pub(super) offset_of: &'a dyn Fn(usize, usize) -> Option<usize>,
    pub(super) position: &'a dyn Fn(usize, Option<usize>) -> ObjectPosition,
}

/// The one mapping of a failed read to a [`BundleError`].
pub(super) fn failure(e: &serde_json::Error, stop: Stop<'_>) -> BundleError {
    let (line, column) = stop.line_col;
    match (stop.own, stop.current) {
        (Some(own), _) => own,
        // The input ends inside an object: a cut-off document, not a bad object.
        (None, Some(_)) if e.is_eof() => json_error(e, line, column),
        (None, Some(index)) => {
            let offset = (stop.offset_of)(line, column);
            BundleError::Object {
                position: (stop.position)(index, offset),
                reason: format!("not valid JSON: {}", bare_message(e)),
            }
        }
        (None, None) => json_error(e, line, column),
    }
}

pub(super) fn plain_string(raw: &str) -> Option<&str> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.contains('\\')).then_some(inner)
}

pub(super) fn not_bundle(reason: impl Into<String>) -> BundleError {
    BundleError::NotBundle {
        reason: reason.into(),
    }
}

/// A value for a one-line message: JSON-ish quoting (escapes newlines), at most ~80 chars.
pub(super) fn show(s: &str) -> String {
    const MAX: usize = 80;
    if s.len() <= MAX {
        return format!("{s:?}");
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}…", &s[..end])
}

/// A JSON value for a one-line message: as written, line breaks as spaces, at most ~80 chars.
fn show_json(raw: &str) -> String {
    let one_line: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(81)
        .collect();
    match one_line.char_indices().nth(80) {
        Some((end, _)) => format!("{}…", &one_line[..end]),
        None => one_line,
    }
}

/// serde_json's message without its " at line L column C" suffix.
pub(super) fn bare_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match full.strip_suffix(&suffix) {
        Some(bare) => bare.to_string(),
        None => full,
    }
}

fn json_error(e: &serde_json::Error, line: usize, column: usize) -> BundleError {
    BundleError::NotJson {
        reason: bare_message(e),
        line,
        column,
    }
}
