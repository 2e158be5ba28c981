//! Bundle stage: validate a STIX 2.1 bundle, make it importable (dedupe, well-known objects,
//! dependency order) and plan/render size-bounded chunks. No HTTP in here.
//!
//! Objects are never turned into a DOM: each [`Object`] is a `&str` slice of the input plus the
//! few fields the stage needs, so memory stays close to the size of the input.
//! Everything that reads object text (validation, dedupe by id, reference resolution, the
//! latest `modified`, the escaped size) happens in [`parse`] while the object is in cache: on a
//! 400 MB bundle each later pass over the text cost about one cache miss per object.
//! [`prepare`] and [`Prepared::chunks`] then work on indices and sizes only.
//!
//! References are the values of every key ending in `_ref` (a string) or `_refs` (an array of
//! strings), at any depth of an object: top level (`created_by_ref`, `source_ref`,
//! `object_marking_refs`, …) and nested (`granular_markings[].marking_ref`, extension
//! properties). Nested values are only parsed when their text contains `_ref`, which keeps the
//! common case (DISINFOX objects) on the fast path.

mod block;
mod chunk;
mod closure;
mod envelope;
mod escape;
mod feed;
mod group;
mod hash;
mod importable;
mod index;
mod keys;
mod object;
mod order;
mod parse;
mod quick;
mod reach;
mod scan;
pub(crate) mod staged;
pub(crate) mod stream;
pub(crate) mod timestamp;
mod well_known;

#[cfg(test)]
#[path = "../../tests/support/generator.rs"]
#[allow(unreachable_pub)]
mod generator;

use std::collections::BTreeMap;
use std::fmt;

pub use chunk::{ChunkPlan, pushed_objects};
pub(crate) use importable::{Chunk, Importable};
pub use parse::parse;
pub(crate) use staged::{Staged, stage};
pub use well_known::WELL_KNOWN;
pub(crate) use well_known::{DISARM_MARKING, well_known_text};

pub(crate) const DEFAULT_CHUNK_BYTES: usize = 10 * 1024 * 1024;
/// Every chunk carries copies of the shared objects it references (about 550 for DISINFOX:
/// the attack-pattern pool, actors, locations, identities), so chunks must be large for the
/// copies to stay a few percent of what is pushed; at about 470 escaped bytes per DISINFOX
/// object, the 10M byte limit binds first (about 22,000 objects).
pub(crate) const DEFAULT_CHUNK_OBJECTS: usize = 25_000;
/// Largest chunk the CLI sends without an explicit override. OpenCTI publishes each chunk as
/// one RabbitMQ message holding the bundle in base64 (4/3 of its size); RabbitMQ 4's default
/// `max_message_size` is 16 MiB, and from 6.9.18 OpenCTI retries a refused publish forever.
/// The limit is on the escaped size, which exceeds the bundle by every quote in it: that
/// margin covers the message's few hundred bytes of envelope.
pub(crate) const MAX_SAFE_CHUNK_BYTES: usize = 12 * 1024 * 1024;

/// Bounds of one chunk. `max_bytes` bounds the chunk's bundle text *after* JSON-string
/// escaping, surrounding quotes included: it travels as a GraphQL `String` variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_objects: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: DEFAULT_CHUNK_BYTES,
            max_objects: DEFAULT_CHUNK_OBJECTS,
        }
    }
}

/// Where in the input an object is. `index` is 0-based, as in `.objects[index]` for jq.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectPosition {
    pub index: usize,
    /// Byte offset, line and column (1-based) of the object's start, when known.
    pub at: Option<(usize, usize, usize)>,
}

impl fmt::Display for ObjectPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "objects[{}]", self.index)?;
        if let Some((offset, line, column)) = self.at {
            write!(f, " at byte {offset} (line {line}, column {column})")?;
        }
        Ok(())
    }
}

/// Every variant displays as one line that names the position and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("not a STIX bundle: the input is empty")]
    Empty,
    #[error("not UTF-8 text: invalid byte at offset {offset} (line {line}, column {column})")]
    NotUtf8 {
        offset: usize,
        line: usize,
        column: usize,
    },
    #[error("not valid JSON: {reason} at line {line}, column {column}")]
    NotJson {
        reason: String,
        line: usize,
        column: usize,
    },
    #[error("not a STIX bundle: {reason}")]
    NotBundle { reason: String },
    #[error("{position}: {reason}")]
    Object {
        position: ObjectPosition,
        reason: String,
    },
    #[error(
        "object {id} needs {bytes} bytes in a chunk of its own (escaped), more than the chunk \
         size of {max_bytes} bytes; raise --chunk-size"
    )]
    ObjectTooLarge {
        id: String,
        bytes: usize,
        max_bytes: usize,
    },
    #[error(
        "object {id} needs {objects} objects and {bytes} bytes (escaped) in one chunk with \
         the objects it references, more than a chunk holds ({max_objects} objects, \
         {max_bytes} bytes); raise --chunk-objects or --chunk-size"
    )]
    ClosureTooLarge {
        id: String,
        objects: usize,
        bytes: usize,
        max_objects: usize,
        max_bytes: usize,
    },
    #[error("invalid chunk limits: {reason}")]
    Limits { reason: String },
}

impl BundleError {
    /// A chunk limit the bundle cannot be cut to (an object or its closure too large, limits
    /// out of range): the configuration must change (78), the data is fine.
    pub fn is_limit(&self) -> bool {
        matches!(
            self,
            BundleError::ObjectTooLarge { .. }
                | BundleError::ClosureTooLarge { .. }
                | BundleError::Limits { .. }
        )
    }

    /// The input is not a bundle at all (empty, not UTF-8, not JSON, cut off, not a bundle),
    /// as opposed to a bundle with a bad object in it. From a peer the first is a protocol
    /// error (76), the second bad data (65); decided here for every reader of an answer.
    pub fn is_structural(&self) -> bool {
        matches!(
            self,
            BundleError::Empty
                | BundleError::NotUtf8 { .. }
                | BundleError::NotJson { .. }
                | BundleError::NotBundle { .. }
        )
    }
}

/// Where an object's references are in the reference arena of the [`Parsed`]/[`Prepared`]
/// that holds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RefSpan {
    start: u32,
    len: u32,
}

impl RefSpan {
    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.start as usize + self.len as usize
    }
}

/// One STIX object, borrowed from the input (or from a `'static` well-known constant).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Object<'a> {
    /// The object's JSON text, byte for byte as in the input.
    pub raw: &'a str,
    pub id: &'a str,
    pub kind: &'a str,
    pub modified: Option<&'a str>,
    /// Where its references are in the reference arena.
    pub refs: RefSpan,
    /// `raw.len()` after JSON-string escaping, measured while `raw` was hot in cache.
    escaped_len: u32,
}

impl Object<'_> {
    /// Length of `raw` once escaped as the content of a JSON string.
    pub(crate) fn escaped_len(&self) -> usize {
        self.escaped_len as usize
    }
}

/// Reference arena entry: the index of an object, or where to find an id that is not (yet) an
/// object of the bundle. 4 bytes per reference instead of a 16-byte `&str`, and resolved while
/// parsing, when the referencing object's text is still in cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Object(usize),
    /// Index into the `unresolved` strings.
    Unresolved(usize),
    /// Index into [`WELL_KNOWN`]; the object is absent (until `prepare` adds it).
    WellKnown(usize),
}

const UNRESOLVED_BASE: u32 = 0x8000_0000;
const WELL_KNOWN_BASE: u32 = 0xffff_fff0;
/// Bounds that keep the three ranges apart; far beyond what fits in memory anyway.
const MAX_OBJECTS: usize = UNRESOLVED_BASE as usize;
const MAX_UNRESOLVED: usize = (WELL_KNOWN_BASE - UNRESOLVED_BASE) as usize;

impl Target {
    fn encode(self) -> u32 {
        match self {
            Target::Object(i) => i as u32,
            Target::Unresolved(k) => UNRESOLVED_BASE + k as u32,
            Target::WellKnown(w) => WELL_KNOWN_BASE + w as u32,
        }
    }

    fn decode(e: u32) -> Target {
        if e < UNRESOLVED_BASE {
            Target::Object(e as usize)
        } else if e < WELL_KNOWN_BASE {
            Target::Unresolved((e - UNRESOLVED_BASE) as usize)
        } else {
            Target::WellKnown((e - WELL_KNOWN_BASE) as usize)
        }
    }
}

/// The reference arena with the strings of the references that are not objects.
#[derive(Clone, Debug, Default)]
struct Refs<'a> {
    targets: Vec<u32>,
    unresolved: Vec<&'a str>,
}

#[derive(Clone, Debug)]
pub struct Parsed<'a> {
    /// One per id, at the position where the id first appeared, holding the version with the
    /// latest `modified`. `prepare` relies on this vector as `parse` left it.
    objects: Vec<Object<'a>>,
    /// Objects dropped because another object with the same id was kept.
    duplicates: usize,
    refs: Refs<'a>,
    max_modified: Option<&'a str>,
    /// Per well-known object: its index when the bundle has it; whether something references it.
    well_known_at: [Option<u32>; WELL_KNOWN.len()],
    well_known_referenced: [bool; WELL_KNOWN.len()],
}

impl<'a> Parsed<'a> {
    pub(crate) fn objects(&self) -> &[Object<'a>] {
        &self.objects
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// The greatest `modified` of the input, compared as instants.
    pub fn max_modified(&self) -> Option<&'a str> {
        self.max_modified
    }
}

#[derive(Clone, Debug)]
pub struct Prepared<'a> {
    /// Deduplicated, completed, in dependency order.
    objects: Vec<Object<'a>>,
    /// Ids of the well-known objects that were added, in the order they were added.
    added: Vec<&'static str>,
    /// Objects dropped because another object with the same id was kept.
    duplicates: usize,
    /// Referenced ids that are neither in the bundle nor well-known, by type, sorted, unique.
    dangling: BTreeMap<String, Vec<String>>,
    refs: Refs<'a>,
    max_modified: Option<&'a str>,
}

/// Add the well-known objects that are referenced and absent, record the other dangling
/// references, order by dependency depth. (Duplicates were dropped by [`parse`].)
pub fn prepare(parsed: Parsed<'_>) -> Prepared<'_> {
    let Parsed {
        mut objects,
        duplicates,
        mut refs,
        max_modified,
        well_known_at,
        well_known_referenced,
    } = parsed;
    let (added, dangling) = well_known::complete(
        &mut objects,
        &mut refs,
        well_known_at,
        well_known_referenced,
    );
    order::order(&mut objects, &mut refs.targets);
    Prepared {
        objects,
        added,
        duplicates,
        dangling,
        refs,
        max_modified,
    }
}

impl<'a> Prepared<'a> {
    /// Deduplicated, completed, in dependency order.
    pub(crate) fn objects(&self) -> &[Object<'a>] {
        &self.objects
    }

    /// Ids of the well-known objects that were added, in the order they were added.
    pub fn added(&self) -> &[&'static str] {
        &self.added
    }

    /// Objects dropped because another object with the same id was kept.
    pub fn duplicates(&self) -> usize {
        self.duplicates
    }

    /// Referenced ids that are neither in the bundle nor well-known, by type, sorted, unique.
    pub(crate) fn dangling(&self) -> &BTreeMap<String, Vec<String>> {
        &self.dangling
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// The greatest `modified` of the *input* objects (the added well-known objects carry
    /// fixed old timestamps that must not move a cursor), compared as instants.
    pub fn max_modified(&self) -> Option<&'a str> {
        self.max_modified
    }

    pub fn counts_by_type(&self) -> BTreeMap<&'a str, usize> {
        let mut counts = BTreeMap::new();
        for o in &self.objects {
            *counts.entry(o.kind).or_insert(0) += 1;
        }
        counts
    }

    /// Number of dangling ids (all types).
    pub fn dangling_count(&self) -> usize {
        self.dangling.values().map(Vec::len).sum()
    }
}

/// 1-based line and column (in bytes) of `offset` in `text`.
pub(crate) fn line_col(text: &[u8], offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    (line, offset - line_start + 1)
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::{Object, Parsed, Prepared, RefSpan, Refs, Target, well_known};

    // Reading references back as ids: only tests need it; the stage works on indices.
    impl<'a> Refs<'a> {
        pub(crate) fn ids<'s>(
            &'s self,
            objects: &'s [Object<'a>],
            span: RefSpan,
        ) -> impl Iterator<Item = &'a str> + 's {
            self.targets.get(span.range()).unwrap_or(&[]).iter().map(
                move |&e| match Target::decode(e) {
                    Target::Object(i) => objects.get(i).map_or("", |o| o.id),
                    Target::Unresolved(k) => self.unresolved.get(k).copied().unwrap_or(""),
                    Target::WellKnown(w) => well_known::WELL_KNOWN_IDS[w],
                },
            )
        }
    }

    impl<'a> Parsed<'a> {
        /// The ids `object` references, in document order (repeats kept).
        pub(crate) fn refs<'s>(
            &'s self,
            object: &Object<'a>,
        ) -> impl Iterator<Item = &'a str> + 's {
            self.refs.ids(&self.objects, object.refs)
        }
    }

    impl<'a> Prepared<'a> {
        /// The ids `object` references, in document order (repeats kept).
        pub(crate) fn refs<'s>(
            &'s self,
            object: &Object<'a>,
        ) -> impl Iterator<Item = &'a str> + 's {
            self.refs.ids(&self.objects, object.refs)
        }
    }

    /// A valid, compact object of `kind` with the given uuid tail and extra JSON members.
    pub(crate) fn obj(kind: &str, n: u32, extra: &str) -> String {
        let sep = if extra.is_empty() { "" } else { "," };
        format!(
            r#"{{"id":"{}","spec_version":"2.1","type":"{kind}"{sep}{extra}}}"#,
            id(kind, n)
        )
    }

    pub(crate) fn id(kind: &str, n: u32) -> String {
        format!("{kind}--00000000-0000-4000-8000-{n:012x}")
    }

    pub(crate) fn bundle(objects: &[String]) -> String {
        format!(
            r#"{{"id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{}],"type":"bundle"}}"#,
            objects.join(",")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::{bundle, id, obj};
    use super::well_known::DISINFOX_IDENTITY_ID;
    use super::*;

    #[test]
    fn prepare_end_to_end_small() {
        let rel = obj(
            "relationship",
            1,
            &format!(
                r#""created_by_ref":"{DISINFOX_IDENTITY_ID}","modified":"2026-01-01T00:00:00.000Z","source_ref":"{}","target_ref":"{}""#,
                id("intrusion-set", 2),
                id("attack-pattern", 9)
            ),
        );
        let is = obj(
            "intrusion-set",
            2,
            &format!(
                r#""created_by_ref":"{DISINFOX_IDENTITY_ID}","modified":"2026-01-02T00:00:00.000Z""#
            ),
        );
        let text = bundle(&[rel, is]);
        let prepared = prepare(parse(text.as_bytes()).unwrap());
        let ids: Vec<_> = prepared.objects.iter().map(|o| o.id).collect();
        assert_eq!(
            ids,
            vec![
                DISINFOX_IDENTITY_ID.to_string(),
                id("intrusion-set", 2),
                id("relationship", 1)
            ]
        );
        assert_eq!(prepared.added, vec![DISINFOX_IDENTITY_ID]);
        assert_eq!(prepared.duplicates, 0);
        assert_eq!(
            prepared.dangling,
            BTreeMap::from([("attack-pattern".to_string(), vec![id("attack-pattern", 9)])])
        );
        assert_eq!(prepared.dangling_count(), 1);
        assert_eq!(prepared.max_modified(), Some("2026-01-02T00:00:00.000Z"));
        let counts = prepared.counts_by_type();
        assert_eq!(counts.get("identity"), Some(&1));
        assert_eq!(counts.get("relationship"), Some(&1));
        assert_eq!(prepared.len(), 3);
        assert!(!prepared.is_empty());
        let rel = prepared.objects[2];
        assert_eq!(prepared.refs(&rel).count(), 3);
    }

    #[test]
    fn max_modified_ignores_added_objects() {
        // The DISINFOX identity is modified 2025-03-20; the input's only object is older.
        let text = bundle(&[obj(
            "threat-actor",
            1,
            &format!(
                r#""created_by_ref":"{DISINFOX_IDENTITY_ID}","modified":"2020-01-01T00:00:00.000Z""#
            ),
        )]);
        let prepared = prepare(parse(text.as_bytes()).unwrap());
        assert_eq!(prepared.added.len(), 1);
        assert_eq!(prepared.max_modified(), Some("2020-01-01T00:00:00.000Z"));
    }

    #[test]
    fn empty_bundle_prepares_to_nothing() {
        let prepared = prepare(parse(br#"{"type":"bundle","objects":[]}"#).unwrap());
        assert!(prepared.is_empty());
        assert_eq!(prepared.max_modified(), None);
        assert!(prepared.chunks(&Limits::default()).unwrap().is_empty());
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col(b"ab\ncd", 0), (1, 1));
        assert_eq!(line_col(b"ab\ncd", 4), (2, 2));
    }

    #[test]
    fn error_display_is_one_line() {
        let e = BundleError::Object {
            position: ObjectPosition {
                index: 12,
                at: Some((4566, 1, 4567)),
            },
            reason: "id \"foo\" is not of the form <type>--<uuid>".into(),
        };
        assert_eq!(
            e.to_string(),
            "objects[12] at byte 4566 (line 1, column 4567): id \"foo\" is not of the form <type>--<uuid>"
        );
        let e = BundleError::ObjectTooLarge {
            id: "x--1".into(),
            bytes: 10,
            max_bytes: 5,
        };
        assert!(!e.to_string().contains('\n'));
        assert!(e.to_string().contains("--chunk-size"));
    }
}
