//! Groups of objects that belong together in one chunk: an incident (intrusion-set), the
//! relationships that reference it and whatever only they reference.
//!
//! OpenCTI's workers import the chunks of a run concurrently, so each chunk must carry every
//! in-bundle object its objects reference. Objects referenced from many places (identities,
//! markings, the attack-patterns, threat-actors and locations that incidents share) are copied
//! into every chunk that needs them; objects referenced from a few places are kept with their
//! referrers instead, so that they are pushed once. The rule is the number of references an
//! object receives: up to [`SHARED_FANIN`] ties it to its referrers, more makes it shared.

use super::order::object_of;
use super::{Object, RefSpan};

/// An object referenced by more objects than this is shared: it is copied where needed instead
/// of joining its referrers into one group. DISINFOX incidents have at most 15 relationships;
/// the shared pools (400 attack-patterns, about 100 actors and locations) are referenced by
/// hundreds of relationships once a bundle holds a few thousand incidents.
pub(super) const SHARED_FANIN: u32 = 16;

/// The groups, each a list of object indices in ascending (dependency) order, the groups in
/// the order of their first member.
pub(super) struct Groups {
    members: Vec<u32>,
    /// `members[starts[g]..starts[g + 1]]` is group `g`.
    starts: Vec<u32>,
}

impl Groups {
    pub(super) fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    pub(super) fn get(&self, g: usize) -> &[u32] {
        &self.members[self.starts[g] as usize..self.starts[g + 1] as usize]
    }
}

/// The in-bundle objects `span` references (self-references left out).
pub(super) fn targets_of<'t>(
    targets: &'t [u32],
    span: RefSpan,
    n: usize,
    me: usize,
) -> impl Iterator<Item = usize> + 't {
    let end = (span.start as usize + span.len as usize).min(targets.len());
    let start = (span.start as usize).min(end);
    targets[start..end]
        .iter()
        .filter_map(move |&e| object_of(e, n))
        .filter(move |&j| j != me)
}

pub(super) fn groups(objects: &[Object<'_>], targets: &[u32]) -> Groups {
    let n = objects.len();
    let mut fanin = vec![0u32; n];
    for (i, o) in objects.iter().enumerate() {
        for j in targets_of(targets, o.refs, n, i) {
            fanin[j] = fanin[j].saturating_add(1);
        }
    }
    // Union-find; the root of a set is its smallest index, so a group's root is its first
    // member and groups come out in the order of their first member.
    let mut parent: Vec<u32> = (0..n as u32).collect();
    for (i, o) in objects.iter().enumerate() {
        for j in targets_of(targets, o.refs, n, i) {
            if fanin[j] <= SHARED_FANIN {
                union(&mut parent, i, j);
            }
        }
    }
    // Counting sort by root, reusing `fanin` as the per-root count, then as the write cursor.
    let count = &mut fanin;
    count.fill(0);
    for i in 0..n {
        let r = find(&mut parent, i);
        parent[i] = r as u32;
        count[r] += 1;
    }
    let mut starts = Vec::new();
    let mut total = 0u32;
    for r in 0..n {
        if parent[r] as usize == r {
            starts.push(total);
            let c = count[r];
            count[r] = total;
            total += c;
        }
    }
    starts.push(total);
    let mut members = vec![0u32; n];
    for i in 0..n {
        let slot = &mut count[parent[i] as usize];
        members[*slot as usize] = i as u32;
        *slot += 1;
    }
    Groups { members, starts }
}

fn find(parent: &mut [u32], mut i: usize) -> usize {
    while parent[i] as usize != i {
        // Path halving.
        let grand = parent[parent[i] as usize];
        parent[i] = grand;
        i = grand as usize;
    }
    i
}

fn union(parent: &mut [u32], a: usize, b: usize) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        let (low, high) = if ra < rb { (ra, rb) } else { (rb, ra) };
        parent[high] = low as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{bundle, id, obj};
    use super::super::{parse, prepare};
    use super::*;

    fn rel(n: u32, source: &str, target: &str) -> String {
        obj(
            "relationship",
            n,
            &format!(
                r#""relationship_type":"uses","source_ref":"{source}","target_ref":"{target}""#
            ),
        )
    }

    #[test]
    fn an_incident_and_its_relationships_form_one_group() {
        // Two incidents share one attack-pattern that 17 relationships reference (shared),
        // and each has a location only its own relationship references (kept with it).
        let pattern = id("attack-pattern", 1);
        let mut objects = vec![obj("attack-pattern", 1, "")];
        for k in 0..2u32 {
            objects.push(obj("intrusion-set", 10 + k, ""));
            objects.push(obj("location", 20 + k, ""));
            objects.push(rel(
                30 + k,
                &id("intrusion-set", 10 + k),
                &id("location", 20 + k),
            ));
        }
        for k in 0..17u32 {
            objects.push(rel(40 + k, &id("intrusion-set", 10 + k % 2), &pattern));
        }
        let text = bundle(&objects);
        let p = prepare(parse(text.as_bytes()).unwrap());
        let g = groups(&p.objects, &p.refs.targets);
        let ids = |k: usize| -> Vec<&str> {
            g.get(k).iter().map(|&i| p.objects[i as usize].id).collect()
        };
        assert_eq!(g.len(), 3);
        assert_eq!(ids(0), vec![pattern.as_str()]);
        for k in 0..2u32 {
            let group = ids(1 + k as usize);
            assert_eq!(group.len(), 3 + if k == 0 { 9 } else { 8 }, "{group:?}");
            assert!(group.contains(&id("intrusion-set", 10 + k).as_str()));
            assert!(group.contains(&id("location", 20 + k).as_str()));
            let mut sorted = g.get(1 + k as usize).to_vec();
            sorted.sort_unstable();
            assert_eq!(sorted, g.get(1 + k as usize), "members in dependency order");
        }
    }
}
