//! The first pass, while the answer streams in: each validated object goes to the spool (by
//! `stream`), its record to the index file, and into memory only what every object needs
//! there: four bytes of its id's key (for duplicates), and a slot for each distinct id that
//! something references.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, BufWriter, Write};

use super::super::hash::{IdBuildHasher, hash_pair};
use super::super::index::Latest;
use super::super::object::{check_ends, measure};
use super::super::stream::{Observe, Refusal};
use super::super::well_known::well_known;
use super::super::{MAX_OBJECTS, Object};
use super::record::Head;

/// No slot points anywhere.
pub(super) const NONE: u32 = u32::MAX;

/// Two 64-bit hashes of an id with independent random seeds: equal keys are taken for equal
/// ids (a false match of distinct ids has odds of about 2^-128 per pair). Duplicates are
/// confirmed on the text.
#[derive(Clone, Copy)]
pub(super) struct Keyer(u64, u64);

impl Keyer {
    fn new() -> Self {
        Keyer(
            IdBuildHasher::default().seed(),
            IdBuildHasher::default().seed(),
        )
    }

    pub(super) fn key(&self, id: &str) -> u128 {
        hash_pair((self.0, self.1), id.as_bytes())
    }
}

/// The slots of the references seen last, by their text. DISINFOX repeats a few ids over and
/// over (its identity in every object, an incident in each of its relationships, the shared
/// pools): a hit costs one compare instead of hashing the id and looking its key up.
struct Recent {
    entries: Vec<([u8; RECENT_ID], u8, u32)>,
}

/// Ids up to this long are remembered (a STIX id is its type, `--` and 36 characters).
const RECENT_ID: usize = 72;
const RECENT_BITS: u32 = 10;

impl Recent {
    fn new() -> Self {
        Recent {
            entries: vec![([0; RECENT_ID], 0, NONE); 1 << RECENT_BITS],
        }
    }

    /// Where `id` goes: by its last eight bytes, the random end of a UUID.
    fn place(id: &[u8]) -> usize {
        let mut tail = [0u8; 8];
        let n = id.len().min(8);
        tail[..n].copy_from_slice(&id[id.len() - n..]);
        (u64::from_le_bytes(tail).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - RECENT_BITS))
            as usize
    }

    fn get(&self, id: &[u8]) -> Option<u32> {
        let (text, len, slot) = &self.entries[Recent::place(id)];
        (*slot != NONE && usize::from(*len) == id.len() && &text[..id.len()] == id).then_some(*slot)
    }

    fn put(&mut self, id: &[u8], slot: u32) {
        if id.len() <= RECENT_ID {
            let entry = &mut self.entries[Recent::place(id)];
            entry.0[..id.len()].copy_from_slice(id);
            entry.1 = id.len() as u8;
            entry.2 = slot;
        }
    }
}

/// Keys are hashes already: the map uses their low half as it is.
#[derive(Default)]
pub(super) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().take(8) {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u128(&mut self, k: u128) {
        self.0 = k as u64;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub(super) type KeyMap<V> = HashMap<u128, V, BuildHasherDefault<KeyHasher>>;

/// A distinct referenced id.
#[derive(Clone, Copy, Debug)]
pub(super) struct Slot {
    /// Where one reference to it is in the spool (the id's text), for the report of
    /// dangling references; `u64::MAX` for ids only the well-known objects reference.
    pub(super) at: u64,
    pub(super) len: u32,
    /// Its index in `WELL_KNOWN`, if it is one of those.
    pub(super) well_known: Option<u8>,
}

/// The referenced ids: key → slot number, and the slots.
#[derive(Default)]
pub(super) struct Slots {
    pub(super) by_key: KeyMap<u32>,
    pub(super) slots: Vec<Slot>,
}

impl Slots {
    /// The slot of `key`, made on first sight.
    pub(super) fn slot(&mut self, key: u128, make: impl FnOnce() -> Slot) -> u32 {
        let next = self.slots.len() as u32;
        let n = *self.by_key.entry(key).or_insert(next);
        if n == next {
            self.slots.push(make());
        }
        n
    }
}

/// Sees every object of the answer once; what the later passes need comes out of `finish`.
pub(super) struct Ingest<'h> {
    index: BufWriter<File>,
    index_len: u64,
    /// Bytes the spool and the index may take together.
    disk: u64,
    pub(super) keyer: Keyer,
    /// 32 bits of each object's key, in input order: what memory holds per object. Equal
    /// ones are only candidates (about n² / 2³³ of them match by chance, 10 for 300k objects),
    /// which the full keys of the records then settle.
    pub(super) low_keys: Vec<u32>,
    pub(super) slots: Slots,
    pub(super) counts: BTreeMap<String, usize>,
    pub(super) latest: Latest<String>,
    /// The slots of the object at hand: one allocation for the whole answer.
    scratch: Vec<u32>,
    recent: Recent,
    /// Told each object's type, id and text while they are in cache (the sink's own checks).
    hook: &'h mut dyn FnMut(&str, &str, &str),
}

impl<'h> Ingest<'h> {
    pub(super) fn new(index: File, disk: u64, hook: &'h mut dyn FnMut(&str, &str, &str)) -> Self {
        Ingest {
            index: BufWriter::with_capacity(256 * 1024, index),
            index_len: 0,
            disk,
            keyer: Keyer::new(),
            low_keys: Vec::new(),
            slots: Slots::default(),
            counts: BTreeMap::new(),
            latest: Latest::default(),
            scratch: Vec::new(),
            recent: Recent::new(),
            hook,
        }
    }

    /// The index file, complete, and its length.
    pub(super) fn finish(&mut self) -> io::Result<(File, u64)> {
        self.index.flush()?;
        let file = self.index.get_ref().try_clone()?;
        Ok((file, self.index_len))
    }

    fn record(&mut self, head: Head, refs: &[u32]) -> io::Result<()> {
        head.write(&mut self.index)?;
        for r in refs {
            self.index.write_all(&r.to_le_bytes())?;
        }
        self.index_len += head.size();
        Ok(())
    }
}

impl Observe for Ingest<'_> {
    fn object(
        &mut self,
        (at, text, extra): (u64, &str, Option<usize>),
        o: &Object<'_>,
        ends: u8,
        refs: &[&str],
    ) -> Result<(), Refusal> {
        // Every check before anything is kept: a refusal leaves the ingest as it was.
        check_ends(o.id, o.kind, ends).map_err(Refusal::Object)?;
        if self.low_keys.len() >= MAX_OBJECTS {
            return Err(Refusal::Object(format!(
                "more than {MAX_OBJECTS} objects in one bundle"
            )));
        }
        let (Ok(raw_len), Ok(nrefs)) = (u32::try_from(text.len()), u32::try_from(refs.len()))
        else {
            return Err(Refusal::Object("the object is larger than 4 GiB".into()));
        };
        let escaped_len = match extra {
            Some(extra) => u32::try_from(text.len() + extra)
                .map_err(|_| Refusal::Object("the object is larger than 4 GiB".into()))?,
            None => measure(text).map_err(Refusal::Object)?,
        };
        let record = Head::size_for(nrefs);
        if at + text.len() as u64 + self.index_len + record > self.disk {
            return Err(Refusal::Io(io::ErrorKind::QuotaExceeded.into()));
        }
        let key = self.keyer.key(o.id);
        self.low_keys.push(key as u32);
        let mut slots = std::mem::take(&mut self.scratch);
        slots.clear();
        for r in refs {
            if let Some(slot) = self.recent.get(r.as_bytes()) {
                slots.push(slot);
                continue;
            }
            let k = self.keyer.key(r);
            // A reference is a slice of `text` (escapes are refused), so its place is known.
            let within = r.as_ptr() as usize - text.as_ptr() as usize;
            let slot = self.slots.slot(k, || Slot {
                at: at + within as u64,
                len: r.len() as u32,
                well_known: well_known(r).map(|w| w as u8),
            });
            self.recent.put(r.as_bytes(), slot);
            slots.push(slot);
        }
        let head = Head {
            at,
            raw_len,
            escaped_len,
            key,
            refs: nrefs,
        };
        let written = self.record(head, &slots);
        self.scratch = slots;
        written.map_err(Refusal::Io)?;
        match self.counts.get_mut(o.kind) {
            Some(n) => *n += 1,
            None => {
                self.counts.insert(o.kind.to_owned(), 1);
            }
        }
        if let Some(m) = o.modified {
            self.latest.offer(m, str::to_owned);
        }
        (self.hook)(o.kind, o.id, text);
        Ok(())
    }
}
