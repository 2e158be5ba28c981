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

mod chunk;
mod closure;
mod complete;
mod group;
mod order;
mod parse;
pub mod stream;

#[cfg(test)]
#[path = "../../tests/support/generator.rs"]
mod generator;

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};

pub use chunk::{ChunkPlan, pushed_objects};
pub use complete::{
    DISARM_IDENTITY, DISARM_IDENTITY_ID, DISARM_MARKING, DISARM_MARKING_ID, DISINFOX_IDENTITY,
    DISINFOX_IDENTITY_ID, WELL_KNOWN, cmp_timestamps,
};
pub use parse::parse;

pub const DEFAULT_CHUNK_BYTES: usize = 10 * 1024 * 1024;
/// Every chunk carries copies of the shared objects it references (about 550 for DISINFOX:
/// the attack-pattern pool, actors, locations, identities), so chunks must be large for the
/// copies to stay a few percent of what is pushed; at about 470 escaped bytes per DISINFOX
/// object, the 10M byte limit binds first (about 22,000 objects).
pub const DEFAULT_CHUNK_OBJECTS: usize = 25_000;
/// Largest chunk the CLI sends without an explicit override. OpenCTI publishes each chunk as
/// one RabbitMQ message holding the bundle in base64 (4/3 of its size); RabbitMQ 4's default
/// `max_message_size` is 16 MiB, and from 6.9.18 OpenCTI retries a refused publish forever.
/// The limit is on the escaped size, which exceeds the bundle by every quote in it: that
/// margin covers the message's few hundred bytes of envelope.
pub const MAX_SAFE_CHUNK_BYTES: usize = 12 * 1024 * 1024;

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
pub struct RefSpan {
    start: u32,
    len: u32,
}

impl RefSpan {
    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.start as usize + self.len as usize
    }

    pub fn len(self) -> usize {
        self.len as usize
    }

    pub fn is_empty(self) -> bool {
        self.len == 0
    }
}

/// One STIX object, borrowed from the input (or from a `'static` well-known constant).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Object<'a> {
    /// The object's JSON text, byte for byte as in the input.
    pub raw: &'a str,
    pub id: &'a str,
    pub kind: &'a str,
    pub modified: Option<&'a str>,
    /// Its references; read them with [`Parsed::refs`] / [`Prepared::refs`].
    pub refs: RefSpan,
    /// `raw.len()` after JSON-string escaping, measured while `raw` was hot in cache.
    escaped_len: u32,
}

impl Object<'_> {
    /// Length of `raw` once escaped as the content of a JSON string.
    pub fn escaped_len(&self) -> usize {
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

impl<'a> Refs<'a> {
    fn ids<'s>(
        &'s self,
        objects: &'s [Object<'a>],
        span: RefSpan,
    ) -> impl Iterator<Item = &'a str> + 's {
        self.targets
            .get(span.range())
            .unwrap_or(&[])
            .iter()
            .map(move |&e| match Target::decode(e) {
                Target::Object(i) => objects.get(i).map_or("", |o| o.id),
                Target::Unresolved(k) => self.unresolved.get(k).copied().unwrap_or(""),
                Target::WellKnown(w) => complete::WELL_KNOWN_IDS[w],
            })
    }
}

#[derive(Clone, Debug)]
pub struct Parsed<'a> {
    pub bundle_id: Option<&'a str>,
    /// One per id, at the position where the id first appeared, holding the version with the
    /// latest `modified`. `prepare` relies on this vector as `parse` left it.
    pub objects: Vec<Object<'a>>,
    /// Objects dropped because another object with the same id was kept.
    pub duplicates: usize,
    refs: Refs<'a>,
    max_modified: Option<&'a str>,
    /// Per well-known object: its index when the bundle has it; whether something references it.
    well_known_at: [Option<u32>; WELL_KNOWN.len()],
    well_known_referenced: [bool; WELL_KNOWN.len()],
}

impl<'a> Parsed<'a> {
    /// The ids `object` references, in document order (repeats kept).
    pub fn refs<'s>(&'s self, object: &Object<'a>) -> impl Iterator<Item = &'a str> + 's {
        self.refs.ids(&self.objects, object.refs)
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
    pub objects: Vec<Object<'a>>,
    /// Ids of the well-known objects that were added, in the order they were added.
    pub added: Vec<&'static str>,
    /// Objects dropped because another object with the same id was kept.
    pub duplicates: usize,
    /// Referenced ids that are neither in the bundle nor well-known, by type, sorted, unique.
    pub dangling: BTreeMap<String, Vec<String>>,
    refs: Refs<'a>,
    max_modified: Option<&'a str>,
}

/// Add the well-known objects that are referenced and absent, record the other dangling
/// references, order by dependency depth. (Duplicates were dropped by [`parse`].)
pub fn prepare(parsed: Parsed<'_>) -> Prepared<'_> {
    let Parsed {
        bundle_id: _,
        mut objects,
        duplicates,
        mut refs,
        max_modified,
        well_known_at,
        well_known_referenced,
    } = parsed;
    let (added, dangling) = complete::complete(
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
    /// The ids `object` references, in document order (repeats kept).
    pub fn refs<'s>(&'s self, object: &Object<'a>) -> impl Iterator<Item = &'a str> + 's {
        self.refs.ids(&self.objects, object.refs)
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

/// Hasher for ids. SipHash showed up in the profile on million-object bundles; ids are short
/// and fairly random, so a multiply-fold hash with a per-process random seed is enough.
#[derive(Clone, Copy)]
pub(crate) struct IdBuildHasher(u64);

impl Default for IdBuildHasher {
    fn default() -> Self {
        IdBuildHasher(std::hash::RandomState::new().hash_one(0x5eed_u64) | 1)
    }
}

impl BuildHasher for IdBuildHasher {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher(self.0)
    }
}

pub(crate) struct IdHasher(u64);

const FOLD: u64 = 0x9e37_79b9_7f4a_7c15;

impl IdHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(23) ^ word).wrapping_mul(FOLD);
    }
}

impl Hasher for IdHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.mix(u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(buf) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }

    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
}

/// id -> object index. Open addressing over 8-byte slots `tag << 32 | index + 1` (0 = empty),
/// the slot position taken from the 32-bit tag: a std `HashMap<&str, u32>` costs two cache
/// misses per insert (control byte, 24-byte bucket) in a table 3x the size, and inserting or
/// growing here never reads key text; keys are compared (through `objects`) only on equal tags.
pub(crate) struct IdIndex {
    slots: Vec<u64>,
    len: usize,
    hasher: IdBuildHasher,
}

pub(crate) enum Slot {
    Inserted,
    Existing(u32),
}

impl IdIndex {
    pub(crate) fn with_capacity(n: usize) -> Self {
        IdIndex {
            // Zeroed: calloc'd pages, so capacity never touched costs no RSS.
            slots: vec![0; (n.max(8) * 10 / 7 + 1).next_power_of_two()],
            len: 0,
            hasher: IdBuildHasher::default(),
        }
    }

    #[inline]
    pub(crate) fn tag(&self, id: &str) -> u32 {
        (self.hasher.hash_one(id) >> 32) as u32
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// Hint that the slot for `tag` will be needed soon.
    #[inline]
    pub(crate) fn prefetch(&self, tag: u32) {
        #[cfg(target_arch = "x86_64")]
        {
            let p = self.slots.as_ptr().wrapping_add(tag as usize & self.mask());
            // SAFETY: a prefetch is only a hint: it never faults, whatever the address, and
            // changes no program state; SSE is part of the x86_64 baseline.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = tag;
    }

    pub(crate) fn get(&self, id: &str, tag: u32, objects: &[Object<'_>]) -> Option<u32> {
        let mask = self.mask();
        let mut pos = tag as usize & mask;
        loop {
            let slot = self.slots[pos];
            if slot == 0 {
                return None;
            }
            let index = (slot as u32).wrapping_sub(1);
            if (slot >> 32) as u32 == tag && objects.get(index as usize).is_some_and(|o| o.id == id)
            {
                return Some(index);
            }
            pos = (pos + 1) & mask;
        }
    }

    /// Map `id` to `index` unless it is already there.
    pub(crate) fn insert(
        &mut self,
        id: &str,
        tag: u32,
        index: u32,
        objects: &[Object<'_>],
    ) -> Slot {
        // At most 70% full: linear probing stays within a cache line or two.
        if (self.len + 1) * 10 > self.slots.len() * 7 {
            self.grow();
        }
        let mask = self.mask();
        let mut pos = tag as usize & mask;
        loop {
            let slot = self.slots[pos];
            if slot == 0 {
                self.slots[pos] = u64::from(tag) << 32 | u64::from(index + 1);
                self.len += 1;
                return Slot::Inserted;
            }
            let existing = (slot as u32).wrapping_sub(1);
            if (slot >> 32) as u32 == tag
                && objects.get(existing as usize).is_some_and(|o| o.id == id)
            {
                return Slot::Existing(existing);
            }
            pos = (pos + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let doubled = vec![0; self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, doubled);
        let mask = self.mask();
        for slot in old.into_iter().filter(|&s| s != 0) {
            let mut pos = (slot >> 32) as usize & mask;
            while self.slots[pos] != 0 {
                pos = (pos + 1) & mask;
            }
            self.slots[pos] = slot;
        }
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
    /// A valid, compact object of `kind` with the given uuid tail and extra JSON members.
    pub fn obj(kind: &str, n: u32, extra: &str) -> String {
        let sep = if extra.is_empty() { "" } else { "," };
        format!(
            r#"{{"id":"{}","spec_version":"2.1","type":"{kind}"{sep}{extra}}}"#,
            id(kind, n)
        )
    }

    pub fn id(kind: &str, n: u32) -> String {
        format!("{kind}--00000000-0000-4000-8000-{n:012x}")
    }

    pub fn bundle(objects: &[String]) -> String {
        format!(
            r#"{{"id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{}],"type":"bundle"}}"#,
            objects.join(",")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::{bundle, id, obj};
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
    fn id_hasher_spreads_similar_ids() {
        let b = IdBuildHasher::default();
        let hashes: std::collections::HashSet<u64> = (0..10_000)
            .map(|n| b.hash_one(id("relationship", n).as_str()) >> 50)
            .collect();
        // 14 top bits, 10k keys: a decent hash fills most of the 16k buckets' worth.
        assert!(hashes.len() > 6_000, "{}", hashes.len());
    }

    #[test]
    fn id_index_inserts_finds_and_grows() {
        let texts: Vec<String> = (0..5_000).map(|n| id("note", n)).collect();
        let objects: Vec<Object<'_>> = texts
            .iter()
            .map(|t| Object {
                raw: t,
                id: t,
                kind: "note",
                modified: None,
                refs: RefSpan::default(),
                escaped_len: 0,
            })
            .collect();
        let mut index = IdIndex::with_capacity(1);
        for (i, o) in objects.iter().enumerate() {
            let tag = index.tag(o.id);
            assert!(matches!(
                index.insert(o.id, tag, i as u32, &objects),
                Slot::Inserted
            ));
        }
        assert!(index.slots.len() >= 5_000 * 10 / 7);
        for (i, o) in objects.iter().enumerate() {
            let tag = index.tag(o.id);
            assert_eq!(index.get(o.id, tag, &objects), Some(i as u32));
            assert!(matches!(
                index.insert(o.id, tag, 99_999, &objects),
                Slot::Existing(k) if k == i as u32
            ));
        }
        let absent = id("note", 99_999);
        assert_eq!(index.get(&absent, index.tag(&absent), &objects), None);
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
