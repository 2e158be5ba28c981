//! The third pass, over the index file: chunks planned in input order. Objects that nothing
//! references (the leaves: relationships, most DISINFOX objects) are taken in groups: the
//! consecutive leaves that reference the same objects referenced from a few places only
//! (an incident's relationships, which reference its intrusion-set: see
//! [`SHARED_FANIN`]). A group joins the current chunk with every node it needs that the chunk
//! lacks, transitively, so every chunk is self-contained; a group that does not fit starts a new
//! chunk, and one that does not fit an empty chunk is placed leaf by leaf. So an incident stays
//! whole in one chunk, and only the shared objects (identities, the marking, the pools incidents
//! share) are copied into each chunk that needs them. Nodes no leaf needed are placed last, the
//! same way.
//!
//! A chunk is a list of nodes (in dependency order) and a run of consecutive records whose
//! leaves it holds: its leaves are read back in one forward pass over the spool.

use std::fs::File;
use std::io;

use super::super::escape::{envelope_escaped, envelope_raw};
use super::super::group::SHARED_FANIN;
use super::super::reach::Reach;
use super::super::{BundleError, Limits};
use super::ingest::NONE;
use super::record::{Head, Records};
use super::table::{Leaves, Table};

/// Consecutive records of the index file, from `ordinal` (at `pos`) to `end` (excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Run {
    pub(super) pos: u64,
    pub(super) ordinal: u32,
    pub(super) end: u32,
}

/// One planned chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StagedChunk {
    /// Node numbers, in dependency order: they come first.
    pub(super) nodes: Vec<u32>,
    /// The leaves, in input order, after the nodes.
    pub(super) leaves: Option<Run>,
    pub(super) leaf_count: usize,
    /// Length of the rendered bundle as a JSON string literal (escaped, quotes included).
    pub(crate) escaped_bytes: usize,
    /// Length of the rendered bundle.
    pub(crate) raw_bytes: usize,
}

impl StagedChunk {
    pub(crate) fn len(&self) -> usize {
        self.nodes.len() + self.leaf_count
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A leaf about to be placed, with the nodes it references.
struct Leaf {
    pos: u64,
    ordinal: u32,
    head: Head,
    roots: Vec<u32>,
}

/// Consecutive leaves that reference the same nodes referenced from a few places only.
#[derive(Default)]
struct Group {
    leaves: Vec<Leaf>,
    /// Those nodes.
    ties: Vec<u32>,
}

/// What a unit (a leaf, or a node) adds to the current chunk.
struct Cost {
    objects: usize,
    escaped: usize,
}

pub(super) struct Packer<'t> {
    table: &'t Table,
    limits: Limits,
    rank: Vec<u32>,
    reach: Reach,
    nodes: Vec<u32>,
    leaves: Option<Run>,
    leaf_count: usize,
    escaped: usize,
    raw: usize,
    plans: Vec<StagedChunk>,
}

/// Why a unit cannot be placed even in an empty chunk: the planner names it by its place, the
/// caller reads its id.
pub(super) struct TooLarge {
    pub(super) unit: Unit,
    what: Excess,
}

/// A leaf by where its text is in the spool (offset, length), or a node.
pub(super) enum Unit {
    Leaf(u64, u32),
    Node(u32),
}

enum Excess {
    Own { bytes: usize },
    Closure { objects: usize, bytes: usize },
}

pub(super) fn plan(
    table: &Table,
    index: &File,
    index_len: u64,
    limits: &Limits,
) -> io::Result<Result<Vec<StagedChunk>, TooLarge>> {
    let mut p = Packer::new(table, limits);
    let mut records = Records::new(index, 0, 0, index_len);
    let mut leaves = Leaves::from(table, 0);
    let mut group = Group::default();
    loop {
        let pos = records.pos;
        let Some((ordinal, head, refs)) = records.next()? else {
            break;
        };
        if !leaves.is_leaf(ordinal) {
            continue;
        }
        let (roots, ties) = roots_and_ties(table, refs);
        let joins = ties.iter().any(|t| group.ties.contains(t));
        if !group.leaves.is_empty() && (!joins || group.leaves.len() >= limits.max_objects) {
            if let Err(e) = p.place_group(&group) {
                return Ok(Err(e));
            }
            group = Group::default();
        }
        group.ties.extend(ties);
        group.leaves.push(Leaf {
            pos,
            ordinal,
            head,
            roots,
        });
    }
    if let Err(e) = p.place_group(&group) {
        return Ok(Err(e));
    }
    for &node in &table.order {
        if !p.reach.placed(node)
            && let Err(e) = p.place(&[], &[node])
        {
            return Ok(Err(e));
        }
    }
    p.flush();
    Ok(Ok(p.plans))
}

/// The nodes a leaf references, and those of them referenced from a few places only.
fn roots_and_ties(table: &Table, refs: &[u32]) -> (Vec<u32>, Vec<u32>) {
    let roots: Vec<u32> = refs
        .iter()
        .map(|&s| table.slot_node[s as usize])
        .filter(|&t| t != NONE)
        .collect();
    let ties = roots
        .iter()
        .copied()
        .filter(|&n| table.fanin[n as usize] <= SHARED_FANIN)
        .collect();
    (roots, ties)
}

impl<'t> Packer<'t> {
    fn new(table: &'t Table, limits: &Limits) -> Self {
        let n = table.nodes.len();
        let mut rank = vec![0u32; n];
        for (r, &node) in table.order.iter().enumerate() {
            rank[node as usize] = r as u32;
        }
        Packer {
            table,
            limits: *limits,
            rank,
            reach: Reach::new(n),
            nodes: Vec::new(),
            leaves: None,
            leaf_count: 0,
            escaped: 0,
            raw: 0,
            plans: Vec::new(),
        }
    }
}

impl Packer<'_> {
    fn chunk_number(&self) -> u32 {
        self.plans.len() as u32 + 1
    }

    fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.leaf_count == 0
    }

    /// The whole group in one chunk if it fits one, else leaf by leaf.
    fn place_group(&mut self, group: &Group) -> Result<(), TooLarge> {
        if group.leaves.is_empty() {
            return Ok(());
        }
        let roots: Vec<u32> = group
            .leaves
            .iter()
            .flat_map(|l| &l.roots)
            .copied()
            .collect();
        if self.try_place(&group.leaves, &roots) {
            return Ok(());
        }
        for leaf in &group.leaves {
            self.place(std::slice::from_ref(leaf), &leaf.roots)?;
        }
        Ok(())
    }

    fn place(&mut self, leaves: &[Leaf], roots: &[u32]) -> Result<(), TooLarge> {
        if self.try_place(leaves, roots) {
            return Ok(());
        }
        Err(self.too_large(leaves.first(), roots))
    }

    /// Puts `leaves` and the closure of `roots` into the current chunk, or into a fresh one when
    /// they do not fit. `false` when they do not fit even a fresh chunk (nothing was placed).
    fn try_place(&mut self, leaves: &[Leaf], roots: &[u32]) -> bool {
        let cost = self.close(leaves, roots);
        if self.fits(&cost) {
            self.commit(leaves, &cost);
            return true;
        }
        if self.is_empty() {
            return false;
        }
        self.flush();
        let cost = self.close(leaves, roots);
        if self.fits(&cost) {
            self.commit(leaves, &cost);
            return true;
        }
        false
    }

    /// The leaves with the nodes `roots` need that the current chunk lacks (`reach.closure`).
    fn close(&mut self, leaves: &[Leaf], roots: &[u32]) -> Cost {
        let table = self.table;
        let nodes = self.reach.close(self.chunk_number(), roots, |x, out| {
            let node = &table.nodes[x];
            let span = node.start as usize..(node.start + node.len) as usize;
            out.extend_from_slice(&table.targets[span]);
            node.escaped as usize
        });
        let own: usize = leaves.iter().map(|l| l.head.escaped_len as usize + 1).sum();
        Cost {
            objects: self.reach.closure.len() + leaves.len(),
            escaped: own + nodes,
        }
    }

    fn fits(&self, cost: &Cost) -> bool {
        let escaped = if self.is_empty() {
            // The first object has no comma before it.
            envelope_escaped() + cost.escaped - 1
        } else {
            self.escaped + cost.escaped
        };
        self.len() + cost.objects <= self.limits.max_objects && escaped <= self.limits.max_bytes
    }

    fn len(&self) -> usize {
        self.nodes.len() + self.leaf_count
    }

    fn commit(&mut self, leaves: &[Leaf], cost: &Cost) {
        let chunk = self.chunk_number();
        if self.is_empty() {
            self.escaped = envelope_escaped() - 1;
            self.raw = envelope_raw() - 1;
        }
        self.escaped += cost.escaped;
        self.reach.place(chunk);
        for &x in &self.reach.closure {
            self.raw += self.table.nodes[x as usize].raw_len() + 1;
        }
        self.nodes.extend_from_slice(&self.reach.closure);
        for l in leaves {
            self.raw += l.head.raw_len as usize + 1;
            self.leaf_count += 1;
            match &mut self.leaves {
                Some(run) => run.end = l.ordinal + 1,
                None => {
                    self.leaves = Some(Run {
                        pos: l.pos,
                        ordinal: l.ordinal,
                        end: l.ordinal + 1,
                    });
                }
            }
        }
    }

    fn flush(&mut self) {
        if self.is_empty() {
            return;
        }
        let mut nodes = std::mem::take(&mut self.nodes);
        nodes.sort_unstable_by_key(|&n| self.rank[n as usize]);
        self.plans.push(StagedChunk {
            nodes,
            leaves: self.leaves.take(),
            leaf_count: std::mem::take(&mut self.leaf_count),
            escaped_bytes: self.escaped,
            raw_bytes: self.raw,
        });
    }

    /// The unit cannot be placed even in an empty chunk (the current one is empty here).
    fn too_large(&mut self, leaf: Option<&Leaf>, roots: &[u32]) -> TooLarge {
        let (unit, own) = match leaf {
            Some(l) => (
                Unit::Leaf(l.head.at, l.head.raw_len),
                l.head.escaped_len as usize,
            ),
            None => (
                Unit::Node(roots[0]),
                self.table.nodes[roots[0] as usize].escaped as usize,
            ),
        };
        let bytes = envelope_escaped() + own;
        if bytes > self.limits.max_bytes {
            let what = Excess::Own { bytes };
            return TooLarge { unit, what };
        }
        let cost = self.close(leaf.map(std::slice::from_ref).unwrap_or(&[]), roots);
        let what = Excess::Closure {
            objects: cost.objects,
            bytes: envelope_escaped() + cost.escaped - 1,
        };
        TooLarge { unit, what }
    }
}

/// The error for a unit that does not fit, with the id read from its text.
pub(super) fn error(too_large: TooLarge, id: String, limits: &Limits) -> BundleError {
    match too_large.what {
        Excess::Own { bytes } => BundleError::ObjectTooLarge {
            id,
            bytes,
            max_bytes: limits.max_bytes,
        },
        Excess::Closure { objects, bytes } => BundleError::ClosureTooLarge {
            id,
            objects,
            bytes,
            max_objects: limits.max_objects,
            max_bytes: limits.max_bytes,
        },
    }
}
