//! The id index built while parsing: dedupe by id (the latest `modified` wins, at the first
//! position), reference resolution while the referencing object is hot in cache, and the
//! greatest `modified` of the input.

use std::cmp::Ordering;
use std::collections::VecDeque;
use std::hash::BuildHasher;

use super::hash::IdBuildHasher;
use super::well_known::{WELL_KNOWN, well_known};
use super::{MAX_OBJECTS, MAX_UNRESOLVED, Object, Parsed, RefSpan, Refs, Target};

/// Order two STIX timestamps as instants; a missing or unparsable one is older than any valid
/// one. The common case (same length, `YYYY-MM-DDTHH:MM:SS[.f]Z` both) is a byte compare.
pub(crate) fn cmp_timestamps(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => {
            if a.len() == b.len() && is_zulu(a) && is_zulu(b) {
                return a.cmp(b);
            }
            let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
            match (parse(a), parse(b)) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => Ordering::Greater,
                (None, Some(_)) => Ordering::Less,
                (None, None) => a.cmp(b),
            }
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` or with a fraction of at least one digit: lexical order is time order
/// between two such strings of equal length.
fn is_zulu(s: &str) -> bool {
    let b = s.as_bytes();
    let n = b.len();
    if n < 20 || b[n - 1] != b'Z' || (n > 20 && (n == 21 || b[19] != b'.')) {
        return false;
    }
    let layout = b[..n - 1].iter().enumerate().all(|(i, &c)| match i {
        4 | 7 => c == b'-',
        10 => c == b'T',
        13 | 16 => c == b':',
        19 => c == b'.',
        _ => c.is_ascii_digit(),
    });
    let two = |i: usize| (b[i] - b'0') * 10 + (b[i + 1] - b'0');
    layout
        && (1..=12).contains(&two(5))
        && (1..=31).contains(&two(8))
        && two(11) < 24
        && two(14) < 60
        && two(17) <= 60
}

/// [`super::timestamp::parse_cursor`] accepts `m`. Every object of an answer in time order is
/// a new maximum, so the common form (Zulu, at most nine fraction digits) is judged without
/// chrono: a year from 1, no leap second, a day its month has.
/// `zulu` is [`is_zulu`] of `m`, which the caller needs too.
fn cursor_can_take(m: &str, zulu: bool) -> bool {
    if !zulu || m.len() > 30 {
        return super::timestamp::parse_cursor(m).is_some();
    }
    let b = m.as_bytes();
    let num = |from: usize, to: usize| {
        b[from..to]
            .iter()
            .fold(0u32, |n, &c| n * 10 + u32::from(c - b'0'))
    };
    let (year, month, day, second) = (num(0, 4), num(5, 7), num(8, 10), num(17, 19));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    year >= 1 && second < 60 && day <= days
}

fn same_separators(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    [4, 7, 10, 13, 16].iter().all(|&i| a.get(i) == b.get(i)) && a.last() == b.last()
}

/// Running maximum of timestamps, cheap per candidate. `S` is how the best one is kept: a
/// slice of the input (`parse`) or an owned copy (`staged`, whose input goes by).
pub(super) struct Latest<S> {
    pub(super) best: Option<S>,
    best_is_zulu: bool,
    /// Candidates refused as not representable (reported once).
    ignored: usize,
}

impl<S> Default for Latest<S> {
    fn default() -> Self {
        Latest {
            best: None,
            best_is_zulu: false,
            ignored: 0,
        }
    }
}

impl<S: AsRef<str>> Latest<S> {
    /// Offers `m`; `keep` makes the kept form of a new maximum (called only for one).
    pub(super) fn offer(&mut self, m: &str, keep: impl FnOnce(&str) -> S) {
        if let Some(b) = &self.best {
            let b = b.as_ref();
            // When `best` is a valid Zulu timestamp, a candidate of the same length and layout
            // that is not lexically greater cannot win (valid: not later; invalid: older by
            // definition), so the full comparison runs only for a rare new maximum.
            if self.best_is_zulu && m.len() == b.len() && same_separators(m, b) && m <= b {
                return;
            }
            if cmp_timestamps(Some(m), Some(b)) != Ordering::Greater {
                return;
            }
        }
        // Only a time the cursor can take may win: an impossible date (2099-02-30), a leap
        // second or year 0 would otherwise freeze the cursor or poison DISINFOX's query.
        let zulu = is_zulu(m);
        if !cursor_can_take(m, zulu) {
            if self.ignored == 0 {
                let shown: String = m.chars().take(40).collect();
                log::warn!(
                    "an object's modified '{shown}' is not a time DISINFOX can hold; ignored for the cursor"
                );
            }
            self.ignored += 1;
            return;
        }
        self.best = Some(keep(m));
        self.best_is_zulu = zulu;
    }
}

/// Objects wait this many places before they are indexed, so that the index slots they need
/// (prefetched on arrival) are in cache by then. References only ever look backwards in the
/// stream (forward ones are resolved in `finish`), so the delay changes nothing else.
const LAG: usize = 8;

struct Pending<'a> {
    object: Object<'a>,
    tag: u32,
    /// References with their tags (0 for well-known ids, which are not looked up).
    refs: Vec<(&'a str, u32)>,
}

/// Builds a [`Parsed`] object by object, while each object's text is still in cache: the id
/// index (dedupe happens here), references resolved to indices, the latest `modified`.
pub(super) struct Builder<'a> {
    objects: Vec<Object<'a>>,
    refs: Refs<'a>,
    index: IdIndex,
    queue: VecDeque<Pending<'a>>,
    spare: Vec<Vec<(&'a str, u32)>>,
    duplicates: usize,
    latest: Latest<&'a str>,
    well_known_at: [Option<u32>; WELL_KNOWN.len()],
    well_known_referenced: [bool; WELL_KNOWN.len()],
}

impl<'a> Builder<'a> {
    /// `size_hint`: input length in bytes, for capacities. Untouched capacity costs address
    /// space, not RSS, and large vectors grow by mremap, so a rough guess is fine.
    pub(super) fn new(size_hint: usize) -> Self {
        // DISINFOX: ~430 bytes and ~3 references per object.
        let objects = size_hint / 400;
        Builder {
            objects: Vec::with_capacity(objects),
            refs: Refs {
                targets: Vec::with_capacity(objects * 3),
                unresolved: Vec::new(),
            },
            index: IdIndex::with_capacity(objects),
            queue: VecDeque::with_capacity(LAG + 1),
            spare: Vec::new(),
            duplicates: 0,
            latest: Latest::default(),
            well_known_at: [None; WELL_KNOWN.len()],
            well_known_referenced: [false; WELL_KNOWN.len()],
        }
    }

    /// Number of objects added so far, duplicates included: the index of the next one.
    pub(super) fn seen(&self) -> usize {
        self.objects.len() + self.duplicates + self.queue.len()
    }

    /// Add one object with its references. Of two objects with the same id, the one with the
    /// latest `modified` is kept (the first one on a tie), at the first one's position.
    pub(super) fn add(&mut self, object: Object<'a>, refs: &[&'a str]) -> Result<(), String> {
        if let Some(m) = object.modified {
            self.latest.offer(m, |_| m);
        }
        let tag = self.index.tag(object.id);
        self.index.prefetch(tag);
        let mut tagged = self.spare.pop().unwrap_or_default();
        for &r in refs {
            let t = if well_known(r).is_some() {
                0
            } else {
                let t = self.index.tag(r);
                self.index.prefetch(t);
                t
            };
            tagged.push((r, t));
        }
        self.queue.push_back(Pending {
            object,
            tag,
            refs: tagged,
        });
        if self.queue.len() > LAG {
            self.index_next()?;
        }
        Ok(())
    }

    fn index_next(&mut self) -> Result<(), String> {
        let Some(Pending {
            object,
            tag,
            mut refs,
        }) = self.queue.pop_front()
        else {
            return Ok(());
        };
        let next = self.objects.len();
        if next >= MAX_OBJECTS {
            return Err(format!("more than {MAX_OBJECTS} objects in one bundle"));
        }
        match self
            .index
            .insert(object.id, tag, next as u32, &self.objects)
        {
            Slot::Existing(k) => {
                self.duplicates += 1;
                let k = k as usize;
                if cmp_timestamps(object.modified, self.objects[k].modified) == Ordering::Greater {
                    let span = self.push_refs(&refs)?;
                    self.objects[k] = Object {
                        refs: span,
                        ..object
                    };
                }
            }
            Slot::Inserted => {
                if let Some(w) = well_known(object.id) {
                    self.well_known_at[w] = Some(next as u32);
                }
                let span = self.push_refs(&refs)?;
                self.objects.push(Object {
                    refs: span,
                    ..object
                });
            }
        }
        refs.clear();
        self.spare.push(refs);
        Ok(())
    }

    fn push_refs(&mut self, refs: &[(&'a str, u32)]) -> Result<RefSpan, String> {
        let start = self.refs.targets.len();
        for &(r, tag) in refs {
            // Well-known ids get a placeholder: nearly every DISINFOX object references one,
            // and three string compares are cheaper than a lookup. Resolved in `finish`.
            let target = if let Some(w) = well_known(r) {
                self.well_known_referenced[w] = true;
                Target::WellKnown(w)
            } else if let Some(i) = self.index.get(r, tag, &self.objects) {
                Target::Object(i as usize)
            } else {
                if self.refs.unresolved.len() >= MAX_UNRESOLVED {
                    return Err(format!("more than {MAX_UNRESOLVED} unresolved references"));
                }
                self.refs.unresolved.push(r);
                Target::Unresolved(self.refs.unresolved.len() - 1)
            };
            self.refs.targets.push(target.encode());
        }
        let too_many = |_| "too many references in one bundle".to_string();
        let start = u32::try_from(start).map_err(too_many)?;
        let end = u32::try_from(self.refs.targets.len()).map_err(too_many)?;
        Ok(RefSpan {
            start,
            len: end - start,
        })
    }

    /// Index the objects still waiting, then resolve forward references and references to
    /// well-known objects that are present.
    pub(super) fn finish(mut self) -> Result<Parsed<'a>, String> {
        while !self.queue.is_empty() {
            self.index_next()?;
        }
        let Builder {
            mut objects,
            mut refs,
            index,
            well_known_at,
            well_known_referenced,
            duplicates,
            latest,
            ..
        } = self;
        for e in &mut refs.targets {
            match Target::decode(*e) {
                Target::Object(_) => {}
                Target::Unresolved(k) => {
                    let r = refs.unresolved[k];
                    if let Some(i) = index.get(r, index.tag(r), &objects) {
                        *e = i;
                    }
                }
                Target::WellKnown(w) => {
                    if let Some(i) = well_known_at[w] {
                        *e = i;
                    }
                }
            }
        }
        drop(index);
        objects.shrink_to_fit();
        refs.targets.shrink_to_fit();
        Ok(Parsed {
            objects,
            duplicates,
            refs,
            max_modified: latest.best,
            well_known_at,
            well_known_referenced,
        })
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

#[cfg(test)]
mod tests {
    use super::super::testutil::{bundle, id, obj};
    use super::super::{parse, prepare};
    use super::*;

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

    fn ids<'a>(p: &'a super::super::Prepared<'a>) -> Vec<&'a str> {
        p.objects.iter().map(|o| o.id).collect()
    }

    #[test]
    fn timestamps_compare_as_instants() {
        use Ordering::*;
        let c = |a: &str, b: &str| cmp_timestamps(Some(a), Some(b));
        assert_eq!(
            c("2024-01-01T00:00:00.001Z", "2024-01-01T00:00:00.000Z"),
            Greater
        );
        // Different precision: lexical order would say Less ('Z' > '.' is false here).
        assert_eq!(
            c("2024-01-01T00:00:01Z", "2024-01-01T00:00:00.999Z"),
            Greater
        );
        assert_eq!(
            c("2024-01-01T00:00:00.5Z", "2024-01-01T00:00:00.500000Z"),
            Equal
        );
        assert_eq!(
            c("2024-01-01T01:00:00+01:00", "2024-01-01T00:00:00.000Z"),
            Equal
        );
        assert_eq!(c("2024-01-01T00:00:00.000Z", "garbage"), Greater);
        assert_eq!(c("garbage", "2024-01-01T00:00:00.000Z"), Less);
        assert_eq!(cmp_timestamps(None, Some("2024-01-01T00:00:00Z")), Less);
        assert_eq!(cmp_timestamps(Some("x"), None), Greater);
        assert_eq!(cmp_timestamps(None, None), Equal);
        assert!(is_zulu("2026-11-27T21:51:42.833Z"));
        assert!(is_zulu("2026-11-27T21:51:42Z"));
        assert!(!is_zulu("2026-11-27T21:51:42.Z"));
        assert!(!is_zulu("2026-11-27 21:51:42Z"));
    }

    #[test]
    fn dedupe_keeps_latest_modified_at_first_position() {
        let m = |t: &str| format!(r#""modified":"{t}","name":"{t}""#);
        let text = bundle(&[
            obj("threat-actor", 1, &m("2024-01-01T00:00:00.000Z")),
            obj("threat-actor", 2, &m("2024-01-01T00:00:00.000Z")),
            obj("threat-actor", 1, &m("2024-06-01T00:00:00.000Z")),
            obj("threat-actor", 1, &m("2024-03-01T00:00:00.000Z")),
            // Same instant, other precision: the first seen stays.
            obj("threat-actor", 2, &m("2024-01-01T00:00:00Z")),
            // Coarser but later.
            obj("threat-actor", 3, &m("2024-01-01T00:00:00.900Z")),
            obj("threat-actor", 3, &m("2024-01-01T00:00:01Z")),
        ]);
        let parsed = parse(text.as_bytes()).unwrap();
        assert_eq!(parsed.duplicates, 4);
        let objects = &parsed.objects;
        assert_eq!(objects.len(), 3);
        assert_eq!(objects[0].id, id("threat-actor", 1));
        assert_eq!(objects[0].modified, Some("2024-06-01T00:00:00.000Z"));
        assert!(
            objects[0]
                .raw
                .contains(r#""name":"2024-06-01T00:00:00.000Z""#)
        );
        assert_eq!(objects[1].modified, Some("2024-01-01T00:00:00.000Z"));
        assert_eq!(objects[2].modified, Some("2024-01-01T00:00:01Z"));
        assert_eq!(parsed.max_modified(), Some("2024-06-01T00:00:00.000Z"));
        let p = prepare(parsed);
        assert_eq!(p.duplicates, 4);
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn the_kept_duplicate_brings_its_own_references() {
        let text = bundle(&[
            obj(
                "note",
                1,
                &format!(
                    r#""modified":"2024-01-01T00:00:00.000Z","object_refs":["{}"]"#,
                    id("note", 8)
                ),
            ),
            obj("note", 2, ""),
            obj(
                "note",
                1,
                &format!(
                    r#""modified":"2024-02-01T00:00:00.000Z","object_refs":["{}"]"#,
                    id("note", 2)
                ),
            ),
        ]);
        let p = prepare(parse(text.as_bytes()).unwrap());
        assert!(p.dangling.is_empty(), "{:?}", p.dangling);
        assert_eq!(ids(&p), vec![id("note", 2).as_str(), &id("note", 1)]);
        let note1 = p.objects[1];
        assert_eq!(
            p.refs(&note1).collect::<Vec<_>>(),
            vec![id("note", 2).as_str()]
        );
    }

    #[test]
    fn the_quick_cursor_check_agrees_with_parse_cursor() {
        let mut samples = vec![
            "0000-01-01T00:00:00Z".to_owned(),
            "0001-01-01T00:00:00Z".to_owned(),
            "9999-12-31T23:59:59.999999999Z".to_owned(),
            "2026-12-31T23:59:60Z".to_owned(),
            "2026-12-31T23:59:60.5Z".to_owned(),
            "2026-01-01T00:00:00.1234567890Z".to_owned(),
            "2026-01-01T00:00:00+00:00".to_owned(),
            "garbage".to_owned(),
        ];
        for year in [1900, 2000, 2023, 2024, 2100, 2400] {
            for month in 1..=12 {
                for day in 28..=31 {
                    samples.push(format!("{year:04}-{month:02}-{day:02}T12:34:56.789Z"));
                }
            }
        }
        for m in &samples {
            assert_eq!(
                cursor_can_take(m, is_zulu(m)),
                crate::bundle::timestamp::parse_cursor(m).is_some(),
                "{m}"
            );
        }
    }

    #[test]
    fn latest_ignores_unparsable_and_older() {
        let mut l = Latest::default();
        for m in [
            "2024-01-01T00:00:00.000Z",
            "2024-13-99T99:99:99.999Z",
            "2023-12-31T23:59:59.999Z",
            "garbage",
            "2024-01-01T00:00:00.001Z",
            "2024-01-01T01:00:00+02:00",
            "2099-02-30T00:00:00.000Z",
            "2099-01-01T23:59:60.000Z",
        ] {
            l.offer(m, |_| m);
        }
        assert_eq!(l.best, Some("2024-01-01T00:00:00.001Z"));
    }
}
