//! Dependency order: referenced objects before the objects that reference them, so OpenCTI's
//! worker never meets a reference to something still queued behind it.

use super::{Object, Target};

const UNVISITED: u32 = u32::MAX;
const ACTIVE: u32 = u32::MAX - 1;

/// The object a reference arena entry points at, if any (and if in range: `objects` is a pub
/// field a caller could have shortened; that must not panic).
pub(super) fn object_of(entry: u32, n: usize) -> Option<usize> {
    match Target::decode(entry) {
        Target::Object(i) if i < n => Some(i),
        _ => None,
    }
}

/// Dependency depth of each object: 0 when it references nothing in the bundle, else
/// 1 + the greatest depth among the in-bundle objects it references.
///
/// Iterative depth-first search (an explicit stack, so a 200k-long chain cannot overflow the
/// thread's stack). A reference to an object still on the stack closes a cycle; that edge is
/// ignored, which breaks the cycle deterministically (roots in input order, references in
/// document order). Every other reference `a -> b` ends with `depth[a] > depth[b]`.
pub(super) fn depths(objects: &[Object<'_>], targets: &[u32]) -> Vec<u32> {
    depths_by(
        objects.len(),
        |i| (objects[i].refs.start, objects[i].refs.len),
        targets,
    )
}

/// [`depths`] of `spans.len()` objects whose references are `targets[start..start + len]`.
pub(super) fn depths_of(spans: &[(u32, u32)], targets: &[u32]) -> Vec<u32> {
    depths_by(spans.len(), |i| spans[i], targets)
}

fn depths_by(n: usize, span: impl Fn(usize) -> (u32, u32), targets: &[u32]) -> Vec<u32> {
    let mut depth = vec![UNVISITED; n];
    // (object, next reference to look at, end of its references, depth so far)
    let mut stack: Vec<(u32, u32, u32, u32)> = Vec::new();
    let frame = |i: usize| {
        let (start, len) = span(i);
        let end = (start + len).min(targets.len() as u32);
        (i as u32, start.min(end), end, 0)
    };
    for root in 0..n {
        if depth[root] != UNVISITED {
            continue;
        }
        depth[root] = ACTIVE;
        stack.push(frame(root));
        while let Some(top) = stack.last_mut() {
            let (node, next, end, best) = *top;
            if next < end {
                top.1 += 1;
                let Some(target) = object_of(targets[next as usize], n) else {
                    continue;
                };
                match depth[target] {
                    UNVISITED => {
                        depth[target] = ACTIVE;
                        stack.push(frame(target));
                    }
                    ACTIVE => {}
                    d => top.3 = best.max(d + 1),
                }
            } else {
                depth[node as usize] = best;
                stack.pop();
                if let Some(parent) = stack.last_mut() {
                    parent.3 = parent.3.max(best + 1);
                }
            }
        }
    }
    depth
}

/// Stable sort by depth, then point the reference arena at the new positions. Counting sort
/// into a permutation applied in place: no second copy of the objects.
pub(super) fn order(objects: &mut [Object<'_>], targets: &mut [u32]) {
    let n = objects.len();
    let depth = depths(objects, targets);
    let levels = depth.iter().copied().max().map_or(0, |d| d as usize + 1);
    let mut start = vec![0u32; levels + 1];
    for &d in &depth {
        start[d as usize + 1] += 1;
    }
    for i in 1..start.len() {
        start[i] += start[i - 1];
    }
    // source[k]: the object that goes to position k; moved_to[i]: where object i goes.
    let mut source = vec![0u32; n];
    let mut moved_to = vec![0u32; n];
    for (i, &d) in depth.iter().enumerate() {
        let slot = &mut start[d as usize];
        source[*slot as usize] = i as u32;
        moved_to[i] = *slot;
        *slot += 1;
    }
    drop(depth);
    for first in 0..n {
        if source[first] as usize == first {
            continue;
        }
        let held = objects[first];
        let mut k = first;
        loop {
            let from = source[k] as usize;
            source[k] = k as u32;
            if from == first {
                objects[k] = held;
                break;
            }
            objects[k] = objects[from];
            k = from;
        }
    }
    for e in targets.iter_mut() {
        if let Some(i) = object_of(*e, n) {
            *e = moved_to[i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{bundle, id, obj};
    use super::super::{Prepared, parse, prepare};
    use std::collections::HashMap;

    fn refs_to(targets: &[String]) -> String {
        let list: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
        format!(r#""object_refs":[{}]"#, list.join(","))
    }

    /// Every in-bundle reference points backwards, except edges that close a cycle.
    fn backward_edges(p: &Prepared<'_>) -> (usize, usize) {
        let pos: HashMap<&str, usize> = p
            .objects
            .iter()
            .enumerate()
            .map(|(i, o)| (o.id, i))
            .collect();
        let (mut back, mut forward) = (0, 0);
        for (i, o) in p.objects.iter().enumerate() {
            for r in p.refs(o) {
                if let Some(&j) = pos.get(r) {
                    if j < i {
                        back += 1;
                    } else if j > i {
                        forward += 1;
                    }
                }
            }
        }
        (back, forward)
    }

    #[test]
    fn referenced_first_stable_within_depth() {
        // Input: report(refs a,b) , a(refs c), b, c
        let text = bundle(&[
            obj("report", 1, &refs_to(&[id("note", 2), id("note", 3)])),
            obj("note", 2, &refs_to(&[id("note", 4)])),
            obj("note", 3, ""),
            obj("note", 4, ""),
            obj("note", 5, ""),
        ]);
        let p = prepare(parse(text.as_bytes()).unwrap());
        let ids: Vec<&str> = p.objects.iter().map(|o| o.id).collect();
        assert_eq!(
            ids,
            vec![
                id("note", 3).as_str(),
                &id("note", 4),
                &id("note", 5),
                &id("note", 2),
                &id("report", 1)
            ]
        );
        assert_eq!(backward_edges(&p), (3, 0));
    }

    #[test]
    fn cycles_are_broken_deterministically() {
        // 1 -> 2 -> 3 -> 1, and 4 -> 3, 5 -> 5 (self reference).
        let text = bundle(&[
            obj("note", 1, &refs_to(&[id("note", 2)])),
            obj("note", 2, &refs_to(&[id("note", 3)])),
            obj("note", 3, &refs_to(&[id("note", 1)])),
            obj("note", 4, &refs_to(&[id("note", 3)])),
            obj("note", 5, &refs_to(&[id("note", 5)])),
        ]);
        let first: Vec<String> = prepare(parse(text.as_bytes()).unwrap())
            .objects
            .iter()
            .map(|o| o.id.to_string())
            .collect();
        // DFS from 1 ignores 3 -> 1: depths 3:0, 2:1, 1:2, 4:1, 5:0.
        assert_eq!(
            first,
            vec![
                id("note", 3),
                id("note", 5),
                id("note", 2),
                id("note", 4),
                id("note", 1)
            ]
        );
        let p = prepare(parse(text.as_bytes()).unwrap());
        let again: Vec<String> = p.objects.iter().map(|o| o.id.to_string()).collect();
        assert_eq!(first, again);
        // Only the one cycle-closing edge points forward.
        assert_eq!(backward_edges(&p), (3, 1));
    }

    #[test]
    fn long_chain_does_not_overflow_the_stack() {
        // Object i references i+1: the input is in exactly the wrong order.
        const N: u32 = 200_000;
        let objects: Vec<String> = (0..N)
            .map(|i| {
                if i + 1 < N {
                    obj("note", i, &refs_to(&[id("note", i + 1)]))
                } else {
                    obj("note", i, "")
                }
            })
            .collect();
        let text = bundle(&objects);
        let p = prepare(parse(text.as_bytes()).unwrap());
        assert_eq!(p.len(), N as usize);
        assert_eq!(p.objects[0].id, id("note", N - 1));
        assert_eq!(p.objects[N as usize - 1].id, id("note", 0));
        assert_eq!(backward_edges(&p), (N as usize - 1, 0));
    }

    #[test]
    fn long_cycle_terminates() {
        const N: u32 = 100_000;
        let objects: Vec<String> = (0..N)
            .map(|i| {
                obj(
                    "note",
                    i,
                    &refs_to(&[id("note", (i + 1) % N), id("note", (i + 7) % N)]),
                )
            })
            .collect();
        let text = bundle(&objects);
        let p = prepare(parse(text.as_bytes()).unwrap());
        assert_eq!(p.len(), N as usize);
        let (back, forward) = backward_edges(&p);
        assert_eq!(back + forward, 2 * N as usize);
        assert!(forward < back);
    }

    #[test]
    fn dangling_and_duplicate_references_are_harmless() {
        let text = bundle(&[
            obj(
                "note",
                1,
                &refs_to(&[id("note", 2), id("note", 2), id("note", 99)]),
            ),
            obj("note", 2, ""),
        ]);
        let p = prepare(parse(text.as_bytes()).unwrap());
        assert_eq!(p.objects[0].id, id("note", 2));
        assert_eq!(p.dangling.len(), 1);
    }
}
