//! The stage for answers of any size: the answer goes to a spool file as it is validated, and
//! the stage keeps in memory only what is small per object (four bytes of each id's key while
//! duplicates are looked for) and what the objects that others reference need (the nodes: their
//! place in the spool, size and references). Everything else about an object is in a record of
//! the index file, read back in whole passes; chunks are rendered from the spool one at a time.
//!
//! Passes: `ingest` (while the answer streams in), `table` (duplicates, nodes, well-known
//! objects, dangling references, dependency order), `pack` (chunks, self-contained, in input
//! order). The guarantees are those of the in-memory stage ([`super::prepare`]): the same
//! validation, of each id the copy with the latest `modified` (the first among equals; it stays
//! where it is in the input), the well-known objects added, every chunk closed under
//! references and in dependency order, within both limits.

mod ingest;
mod pack;
mod record;
mod table;
mod window;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::ops::ControlFlow;

pub(crate) use pack::StagedChunk;

use super::escape::{HEAD, MID, TAIL, write_escaped};
use super::object::object;
use super::stream::{StreamError, copy_observed};
use super::well_known::WELL_KNOWN;
use super::{BundleError, Limits};
use ingest::Ingest;
use pack::{Run, Unit};
use record::Records;
use table::{Leaves, Table, Text};
use window::{Window, read_exact};

/// A validated answer on disk, staged for pushing.
pub(crate) struct Staged {
    spool: File,
    index: File,
    index_len: u64,
    table: Table,
    counts: BTreeMap<String, usize>,
    max_modified: Option<String>,
    /// Bytes of the bundle as received and re-framed in the spool.
    spool_len: u64,
}

/// Reads the bundle in `input` (at most `max` bytes), validating each object as it passes,
/// into `spool`, with its index in `index` (both empty, private files), and stages it. The two
/// files may take `disk` bytes together: past that, `StreamError::Write` of kind
/// `QuotaExceeded`. `hook` is told each object's type, id and text, once, while in cache.
pub(crate) fn stage(
    input: impl Read,
    (spool, index): (File, File),
    (max, disk): (u64, u64),
    hook: &mut dyn FnMut(&str, &str, &str),
) -> Result<Staged, StreamError> {
    let mut ingest = Ingest::new(index, disk, hook);
    let streamed = copy_observed(input, &mut &spool, max, &mut ingest)?;
    let (index, index_len) = ingest.finish().map_err(StreamError::Write)?;
    let table = table::build(&mut ingest, &spool, &index, index_len).map_err(StreamError::Write)?;
    let counts = std::mem::take(&mut ingest.counts);
    let max_modified = ingest.latest.best.take();
    drop(ingest);
    Ok(Staged {
        spool,
        index,
        index_len,
        table,
        counts: counts.into_iter().filter(|(_, n)| *n > 0).collect(),
        max_modified,
        spool_len: streamed.bytes_out,
    })
}

impl Staged {
    /// Distinct objects, the added well-known ones included: what OpenCTI has to import.
    pub(crate) fn len(&self) -> usize {
        self.table.records as usize - self.table.dropped.len() + self.table.added.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies dropped because another object had the same id.
    pub(crate) fn duplicates(&self) -> usize {
        self.table.dropped.len()
    }

    /// Ids of the well-known objects that were added.
    pub(crate) fn added(&self) -> &[&'static str] {
        &self.table.added
    }

    /// Referenced ids that are neither in the answer nor well-known, by type, sorted.
    pub(crate) fn dangling(&self) -> &BTreeMap<String, Vec<String>> {
        &self.table.dangling
    }

    /// Objects by type, after dedupe, the added ones included.
    pub(crate) fn counts_by_type(&self) -> &BTreeMap<String, usize> {
        &self.counts
    }

    /// The greatest `modified` of the answer's objects (compared as instants).
    pub(crate) fn max_modified(&self) -> Option<&str> {
        self.max_modified.as_deref()
    }

    /// Bytes the spool holds.
    pub(crate) fn spool_len(&self) -> u64 {
        self.spool_len
    }

    /// Bytes the index file holds.
    pub(crate) fn index_len(&self) -> u64 {
        self.index_len
    }

    /// Objects other objects reference: what memory holds per object.
    pub(crate) fn nodes(&self) -> usize {
        self.table.nodes.len()
    }

    /// Plans self-contained chunks within both limits. No chunks for no objects.
    pub(crate) fn chunks(
        &self,
        limits: &Limits,
    ) -> io::Result<Result<Vec<StagedChunk>, BundleError>> {
        if limits.max_objects == 0 {
            return Ok(Err(BundleError::Limits {
                reason: "the number of objects per chunk must be at least 1".into(),
            }));
        }
        match pack::plan(&self.table, &self.index, self.index_len, limits)? {
            Ok(plans) => Ok(Ok(plans)),
            Err(too_large) => {
                let id = self.unit_id(&too_large.unit)?;
                Ok(Err(pack::error(too_large, id, limits)))
            }
        }
    }

    fn unit_id(&self, unit: &Unit) -> io::Result<String> {
        let mut text = Vec::new();
        match *unit {
            Unit::Leaf(at, len) => read_exact(&self.spool, at, len as usize, &mut text)?,
            Unit::Node(n) => {
                text.extend_from_slice(self.node_text(n, &mut Window::new(&self.spool))?);
            }
        }
        let raw = String::from_utf8_lossy(&text);
        Ok(object(&raw, &mut Vec::new()).map_or_else(|_| "?".to_owned(), |o| o.id.to_owned()))
    }

    /// The text of node `n`, read through `spool` (a window on the spool): a chunk's nodes
    /// come in file order but for one or two, so one window serves them all.
    fn node_text<'w>(&self, n: u32, spool: &'w mut Window<'_>) -> io::Result<&'w [u8]> {
        match self.table.nodes[n as usize].text {
            Text::Spool { at, len } => spool.get(at, len as usize),
            Text::WellKnown(w) => Ok(WELL_KNOWN[w as usize].as_bytes()),
        }
    }

    /// Appends the chunk's bundle as a JSON string literal (quotes included) to `out`:
    /// exactly `chunk.escaped_bytes` bytes, objects byte for byte as received.
    pub(crate) fn render_escaped_into(
        &self,
        chunk: &StagedChunk,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        out.reserve(chunk.escaped_bytes);
        out.push(b'"');
        write_escaped(out, HEAD.as_bytes());
        out.extend_from_slice(uuid::Uuid::new_v4().hyphenated().to_string().as_bytes());
        write_escaped(out, MID.as_bytes());
        let mut first = true;
        let mut spool = Window::new(&self.spool);
        let mut put = |out: &mut Vec<u8>, raw: &[u8]| {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            write_escaped(out, raw);
        };
        for &n in &chunk.nodes {
            put(out, self.node_text(n, &mut spool)?);
        }
        if let Some(run) = chunk.leaves {
            self.leaves(run, &mut |raw| {
                put(out, raw);
                ControlFlow::Continue(())
            })?;
        }
        write_escaped(out, TAIL.as_bytes());
        out.push(b'"');
        Ok(())
    }

    /// Every object once, in dependency order (the nodes, then the others in input order):
    /// what a transport that sends one object per message needs. `f` may stop early.
    pub(crate) fn for_each(&self, f: &mut dyn FnMut(&[u8]) -> ControlFlow<()>) -> io::Result<()> {
        let mut spool = Window::new(&self.spool);
        for &n in &self.table.order {
            if f(self.node_text(n, &mut spool)?).is_break() {
                return Ok(());
            }
        }
        let all = Run {
            pos: 0,
            ordinal: 0,
            end: self.table.records,
        };
        self.leaves(all, f)
    }

    /// The leaves of the records in `run`, in order (nodes and dropped copies skipped).
    fn leaves(&self, run: Run, f: &mut dyn FnMut(&[u8]) -> ControlFlow<()>) -> io::Result<()> {
        let mut leaves = Leaves::from(&self.table, run.ordinal);
        let mut records = Records::new(&self.index, run.pos, run.ordinal, self.index_len);
        let mut spool = Window::new(&self.spool);
        while let Some((ordinal, head, _)) = records.next()? {
            if ordinal >= run.end {
                break;
            }
            if !leaves.is_leaf(ordinal) {
                continue;
            }
            if f(spool.get(head.at, head.raw_len as usize)?).is_break() {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
