//! The second pass, over the index file once the answer is in: duplicates settled, the table of
//! referenced objects (the nodes: the only objects memory holds), the well-known objects
//! added, dangling references listed, and the nodes put in dependency order.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io;

use super::super::escape::escaped_extra;
use super::super::index::cmp_timestamps;
use super::super::object::object;
use super::super::well_known::{WELL_KNOWN, WELL_KNOWN_IDS, well_known};
use super::ingest::{Ingest, Keyer, NONE, Slot, Slots};
use super::record::Records;
use super::window::read_exact;

/// Where a node's text is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Text {
    Spool { at: u64, len: u32 },
    WellKnown(u8),
}

/// An object something references.
#[derive(Clone, Copy, Debug)]
pub(super) struct Node {
    pub(super) text: Text,
    pub(super) escaped: u32,
    /// Its references to other nodes: `targets[start..start + len]`.
    pub(super) start: u32,
    pub(super) len: u32,
}

impl Node {
    pub(super) fn raw_len(&self) -> usize {
        match self.text {
            Text::Spool { len, .. } => len as usize,
            Text::WellKnown(w) => WELL_KNOWN[w as usize].len(),
        }
    }
}

/// What the passes after this one need.
pub(super) struct Table {
    pub(super) nodes: Vec<Node>,
    /// Node references, by node number.
    pub(super) targets: Vec<u32>,
    /// Slot → node (or `NONE`): how a record's references reach the nodes.
    pub(super) slot_node: Vec<u32>,
    /// Record ordinal of each node read from the answer, ascending.
    pub(super) node_ordinals: Vec<u32>,
    /// Nodes in dependency order.
    pub(super) order: Vec<u32>,
    /// References each node receives (from every record), which tell the shared ones.
    pub(super) fanin: Vec<u32>,
    /// Ordinals of the copies dropped as duplicates, ascending.
    pub(super) dropped: Vec<u32>,
    pub(super) records: u32,
    pub(super) added: Vec<&'static str>,
    pub(super) dangling: BTreeMap<String, Vec<String>>,
}

/// Tells the leaves among records walked in order: the records that are neither nodes nor
/// dropped copies.
pub(super) struct Leaves<'t> {
    table: &'t Table,
    next_node: usize,
    next_dropped: usize,
}

impl<'t> Leaves<'t> {
    /// For a walk that starts at record `ordinal`.
    pub(super) fn from(table: &'t Table, ordinal: u32) -> Self {
        Leaves {
            table,
            next_node: table.node_ordinals.partition_point(|&o| o < ordinal),
            next_dropped: table.dropped.partition_point(|&o| o < ordinal),
        }
    }

    /// Whether record `ordinal` holds a leaf; to be asked for every record in order.
    pub(super) fn is_leaf(&mut self, ordinal: u32) -> bool {
        if self.table.node_ordinals.get(self.next_node) == Some(&ordinal) {
            self.next_node += 1;
            return false;
        }
        if self.table.dropped.get(self.next_dropped) == Some(&ordinal) {
            self.next_dropped += 1;
            return false;
        }
        true
    }
}

/// A record whose id's key bits matched another's.
struct Twin {
    ordinal: u32,
    key: u128,
    at: u64,
    len: u32,
}

pub(super) fn build(
    ingest: &mut Ingest<'_>,
    spool: &File,
    index: &File,
    index_len: u64,
) -> io::Result<Table> {
    let mut pass = scan(ingest, index, index_len)?;
    let dropped = settle_twins(std::mem::take(&mut pass.twins), spool, &mut ingest.counts)?;
    let mut table = Table {
        nodes: Vec::new(),
        targets: Vec::new(),
        slot_node: vec![NONE; ingest.slots.slots.len()],
        node_ordinals: Vec::new(),
        order: Vec::new(),
        fanin: Vec::new(),
        dropped,
        records: pass.records,
        added: Vec::new(),
        dangling: BTreeMap::new(),
    };
    let mut node_slots = nodes(&mut table, &pass);
    let slot_fanin = std::mem::take(&mut pass.slot_fanin);
    drop(pass);
    table.added = complete(&mut table, &mut ingest.slots, ingest.keyer, &mut node_slots);
    for &id in &table.added {
        let kind = id.split("--").next().unwrap_or(id);
        *ingest.counts.entry(kind.to_owned()).or_default() += 1;
    }
    table.dangling = dangling(&ingest.slots.slots, &table.slot_node, spool)?;
    resolve(&mut table, &node_slots);
    table.fanin = vec![0; table.nodes.len()];
    for (slot, &node) in table.slot_node.iter().enumerate() {
        if node != NONE {
            table.fanin[node as usize] = slot_fanin.get(slot).copied().unwrap_or(0);
        }
    }
    table.order = order(&table.nodes, &table.targets);
    Ok(table)
}

/// One pass over the records: the copies that may be duplicates, the records of referenced
/// ids with their references, and the references each id receives.
fn scan(ingest: &mut Ingest<'_>, index: &File, index_len: u64) -> io::Result<Pass> {
    let twins = twin_halves(std::mem::take(&mut ingest.low_keys));
    let mut pass = Pass {
        slot_fanin: vec![0u32; ingest.slots.slots.len()],
        ..Pass::default()
    };
    let mut records = Records::new(index, 0, 0, index_len);
    while let Some((ordinal, head, refs)) = records.next()? {
        for &r in refs {
            pass.slot_fanin[r as usize] = pass.slot_fanin[r as usize].saturating_add(1);
        }
        if twins.contains(&(head.key as u32)) {
            pass.twins.push(Twin {
                ordinal,
                key: head.key,
                at: head.at,
                len: head.raw_len,
            });
        }
        if let Some(&slot) = ingest.slots.by_key.get(&head.key) {
            let start = pass.refs.len() as u32;
            pass.refs.extend_from_slice(refs);
            let found = (
                slot,
                ordinal,
                head.at,
                head.raw_len,
                head.escaped_len,
                start,
            );
            pass.found.push(found);
        }
    }
    pass.records = records.ordinal;
    Ok(pass)
}

/// The nodes: the kept copy of each referenced id the answer has. Their references stay slots
/// (returned) until every node is known.
fn nodes(table: &mut Table, pass: &Pass) -> Vec<u32> {
    let mut node_slots: Vec<u32> = Vec::new();
    for (k, &(slot, ordinal, at, len, escaped, start)) in pass.found.iter().enumerate() {
        if table.dropped.binary_search(&ordinal).is_ok() {
            continue;
        }
        let end = pass
            .found
            .get(k + 1)
            .map_or(pass.refs.len() as u32, |f| f.5);
        let refs = &pass.refs[start as usize..end as usize];
        table.slot_node[slot as usize] = table.nodes.len() as u32;
        table.node_ordinals.push(ordinal);
        table.nodes.push(Node {
            text: Text::Spool { at, len },
            escaped,
            start: node_slots.len() as u32,
            len: refs.len() as u32,
        });
        node_slots.extend_from_slice(refs);
    }
    node_slots
}

#[derive(Default)]
struct Pass {
    records: u32,
    slot_fanin: Vec<u32>,
    twins: Vec<Twin>,
    /// (slot, ordinal, at, raw length, escaped length, start of its references in `refs`)
    found: Vec<(u32, u32, u64, u32, u32, u32)>,
    refs: Vec<u32>,
}

/// The 32 key bits that occur more than once.
fn twin_halves(mut low: Vec<u32>) -> HashSet<u32> {
    low.sort_unstable();
    low.windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0])
        .collect()
}

/// Of each id that occurs more than once, the copy with the latest `modified` is kept (the
/// first one on a tie), read back from the spool to be sure the ids are the same. Returns the
/// ordinals of the dropped copies, ascending, and takes them out of the counts.
fn settle_twins(
    mut twins: Vec<Twin>,
    spool: &File,
    counts: &mut BTreeMap<String, usize>,
) -> io::Result<Vec<u32>> {
    twins.sort_by_key(|t| (t.key, t.ordinal));
    let mut dropped = Vec::new();
    let mut text = Vec::new();
    let mut group: Vec<(u32, String, Option<String>, String)> = Vec::new();
    let mut i = 0;
    while i < twins.len() {
        let j = i + twins[i..]
            .iter()
            .take_while(|t| t.key == twins[i].key)
            .count();
        if j - i > 1 {
            group.clear();
            for t in &twins[i..j] {
                read_exact(spool, t.at, t.len as usize, &mut text)?;
                let raw = std::str::from_utf8(&text).map_err(io::Error::other)?;
                let o = object(raw, &mut Vec::new()).map_err(io::Error::other)?;
                group.push((
                    t.ordinal,
                    o.id.to_owned(),
                    o.modified.map(str::to_owned),
                    o.kind.to_owned(),
                ));
            }
            drop_older(&group, &mut dropped, counts);
        }
        i = j;
    }
    dropped.sort_unstable();
    Ok(dropped)
}

/// One group of copies with the same key: per id (the key could lie), all but the winner.
fn drop_older(
    group: &[(u32, String, Option<String>, String)],
    dropped: &mut Vec<u32>,
    counts: &mut BTreeMap<String, usize>,
) {
    for (n, (_, id, _, _)) in group.iter().enumerate() {
        if group[..n].iter().any(|g| &g.1 == id) {
            continue; // settled with its first copy
        }
        let same: Vec<_> = group.iter().filter(|g| &g.1 == id).collect();
        let mut best = same[0];
        for g in &same[1..] {
            if cmp_timestamps(g.2.as_deref(), best.2.as_deref()) == Ordering::Greater {
                best = g;
            }
        }
        for g in same {
            if g.0 != best.0 {
                dropped.push(g.0);
                if let Some(c) = counts.get_mut(&g.3) {
                    *c -= 1;
                }
            }
        }
    }
}

/// Adds the well-known objects that are referenced and absent, and those they need; returns
/// their ids in `WELL_KNOWN` order.
fn complete(
    table: &mut Table,
    slots: &mut Slots,
    keyer: Keyer,
    node_slots: &mut Vec<u32>,
) -> Vec<&'static str> {
    let mut added = [false; WELL_KNOWN.len()];
    loop {
        let missing = slots.slots.iter().enumerate().find_map(|(s, slot)| {
            let w = slot.well_known? as usize;
            (table.slot_node[s] == NONE && !added[w]).then_some((s, w))
        });
        let Some((s, w)) = missing else { break };
        added[w] = true;
        let raw = WELL_KNOWN[w];
        let mut refs = Vec::new();
        let o = object(raw, &mut refs).expect("embedded well-known objects are valid");
        let start = node_slots.len() as u32;
        for r in &refs {
            let slot = slots.slot(keyer.key(r), || Slot {
                at: u64::MAX,
                len: 0,
                well_known: well_known(r).map(|v| v as u8),
            });
            if slot as usize >= table.slot_node.len() {
                table.slot_node.push(NONE);
            }
            node_slots.push(slot);
        }
        table.slot_node[s] = table.nodes.len() as u32;
        table.nodes.push(Node {
            text: Text::WellKnown(w as u8),
            escaped: (raw.len() + escaped_extra(raw.as_bytes())) as u32,
            start,
            len: refs.len() as u32,
        });
        debug_assert_eq!(o.id, WELL_KNOWN_IDS[w]);
    }
    (0..WELL_KNOWN.len())
        .filter(|&w| added[w])
        .map(|w| WELL_KNOWN_IDS[w])
        .collect()
}

/// Referenced ids that are neither in the answer nor well-known, by type, sorted.
fn dangling(
    slots: &[Slot],
    slot_node: &[u32],
    spool: &File,
) -> io::Result<BTreeMap<String, Vec<String>>> {
    let mut by_type: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut text = Vec::new();
    for (s, slot) in slots.iter().enumerate() {
        if slot_node[s] != NONE || slot.well_known.is_some() || slot.at == u64::MAX {
            continue;
        }
        read_exact(spool, slot.at, slot.len as usize, &mut text)?;
        let id = String::from_utf8_lossy(&text).into_owned();
        let kind = id.split("--").next().unwrap_or_default().to_owned();
        by_type.entry(kind).or_default().push(id);
    }
    for ids in by_type.values_mut() {
        ids.sort_unstable();
    }
    Ok(by_type)
}

/// Node references from slots to nodes; references to nothing, and to the node itself, go.
fn resolve(table: &mut Table, node_slots: &[u32]) {
    let mut targets = Vec::with_capacity(node_slots.len());
    for (n, node) in table.nodes.iter_mut().enumerate() {
        let span = &node_slots[node.start as usize..(node.start + node.len) as usize];
        let start = targets.len() as u32;
        targets.extend(
            span.iter()
                .map(|&s| table.slot_node[s as usize])
                .filter(|&t| t != NONE && t as usize != n),
        );
        node.start = start;
        node.len = targets.len() as u32 - start;
    }
    table.targets = targets;
}

/// Nodes by dependency depth (0: references no node), stable: a node comes after every node
/// it references, but for the one edge of each cycle that is left out (see `order::depths`).
fn order(nodes: &[Node], targets: &[u32]) -> Vec<u32> {
    let spans: Vec<(u32, u32)> = nodes.iter().map(|n| (n.start, n.len)).collect();
    let depth = super::super::order::depths_of(&spans, targets);
    let mut order: Vec<u32> = (0..nodes.len() as u32).collect();
    order.sort_by_key(|&n| depth[n as usize]);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Objects whose keys share their low 32 bits but not the rest are candidates only: none is
    /// dropped, and their text is not even read.
    #[test]
    fn a_chance_match_of_key_bits_drops_nothing() {
        assert_eq!(twin_halves(vec![7, 3, 7, 9, 3]), HashSet::from([3, 7]));
        let twin = |ordinal: u32, high: u128| Twin {
            ordinal,
            key: (high << 64) | 7,
            at: u64::MAX,
            len: 10,
        };
        // `at` points nowhere: reading either would fail the call.
        let spool = tempfile::tempfile().unwrap();
        let mut counts = BTreeMap::from([("note".to_owned(), 2)]);
        let dropped = settle_twins(vec![twin(0, 1), twin(1, 2)], &spool, &mut counts).unwrap();
        assert!(dropped.is_empty());
        assert_eq!(counts["note"], 2);
    }
}
