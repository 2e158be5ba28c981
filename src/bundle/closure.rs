//! Self-contained chunks: every chunk carries every in-bundle object its objects reference,
//! transitively, because OpenCTI's workers split and import the chunks of a run concurrently
//! and a relationship whose ends are still queued in another chunk is dropped after four
//! tries. Copies are upserts on the platform, but each one is work for it, so the packing keeps
//! them to the shared objects (see [`super::group`]).
//!
//! Packing: the groups are taken in order, each with its closure (the group's members and
//! everything they reference, minus what the current chunk already holds: a chunk is closed
//! under references, so what it holds needs nothing more). A group that does not fit starts a
//! new chunk. A group that does not fit even an empty chunk is split: its members are taken one
//! at a time, last (deepest) first, each with its own closure, so a relationship arrives with
//! its ends. One object whose closure does not fit an empty chunk is an error naming it.
//! Each chunk lists its objects in ascending index, which is dependency order.

use super::chunk::ChunkPlan;
use super::escape::{envelope_escaped, envelope_raw};
use super::group::{Groups, groups, targets_of};
use super::reach::Reach;
use super::{BundleError, Limits, Object, Prepared};

struct Packer<'p, 'a> {
    objects: &'p [Object<'a>],
    targets: &'p [u32],
    limits: Limits,
    reach: Reach,
    /// The chunk being filled.
    current: Vec<u32>,
    escaped: usize,
    raw: usize,
    plans: Vec<ChunkPlan>,
}

/// What a unit's closure adds to the current chunk.
struct Cost {
    objects: usize,
    escaped: usize,
}

impl Prepared<'_> {
    /// Plan self-contained chunks, each within both limits. No chunks for no objects.
    pub fn chunks(&self, limits: &Limits) -> Result<Vec<ChunkPlan>, BundleError> {
        plan(&self.objects, &self.refs.targets, limits)
    }
}

pub(super) fn plan(
    objects: &[Object<'_>],
    targets: &[u32],
    limits: &Limits,
) -> Result<Vec<ChunkPlan>, BundleError> {
    if limits.max_objects == 0 {
        return Err(BundleError::Limits {
            reason: "the number of objects per chunk must be at least 1".into(),
        });
    }
    let grouped: Groups = groups(objects, targets);
    let n = objects.len();
    let mut p = Packer {
        objects,
        targets,
        limits: *limits,
        reach: Reach::new(n),
        current: Vec::new(),
        escaped: 0,
        raw: 0,
        plans: Vec::new(),
    };
    for g in 0..grouped.len() {
        let members = grouped.get(g);
        // A shared object already copied into some chunk is placed: its group (itself) is done.
        if members.iter().all(|&m| p.reach.placed(m)) {
            continue;
        }
        if !p.place(members)? {
            for &m in members.iter().rev() {
                if !p.reach.placed(m) && !p.place(&[m])? {
                    return Err(p.too_large(m as usize));
                }
            }
        }
    }
    p.flush();
    Ok(p.plans)
}

impl Packer<'_, '_> {
    fn chunk_number(&self) -> u32 {
        self.plans.len() as u32 + 1
    }

    /// Puts `members` and their closure into the current chunk, or into a fresh one when they
    /// do not fit. `false` when they do not fit even a fresh chunk (nothing was placed).
    fn place(&mut self, members: &[u32]) -> Result<bool, BundleError> {
        let cost = self.close(members);
        if self.fits(&cost) {
            self.commit(&cost);
            return Ok(true);
        }
        if self.current.is_empty() {
            return Ok(false);
        }
        self.flush();
        let cost = self.close(members);
        if self.fits(&cost) {
            self.commit(&cost);
            return Ok(true);
        }
        Ok(false)
    }

    /// Fills `reach.closure` with what `members` need that the current chunk lacks.
    fn close(&mut self, members: &[u32]) -> Cost {
        let (objects, targets) = (self.objects, self.targets);
        let n = objects.len();
        let escaped = self.reach.close(self.chunk_number(), members, |x, out| {
            let o = &objects[x];
            out.extend(targets_of(targets, o.refs, n, x).map(|j| j as u32));
            o.escaped_len()
        });
        Cost {
            objects: self.reach.closure.len(),
            escaped,
        }
    }

    fn fits(&self, cost: &Cost) -> bool {
        let escaped = if self.current.is_empty() {
            // The first object has no comma before it.
            envelope_escaped() + cost.escaped - 1
        } else {
            self.escaped + cost.escaped
        };
        self.current.len() + cost.objects <= self.limits.max_objects
            && escaped <= self.limits.max_bytes
    }

    fn commit(&mut self, cost: &Cost) {
        let chunk = self.chunk_number();
        if self.current.is_empty() {
            self.escaped = envelope_escaped() - 1;
            self.raw = envelope_raw() - 1;
        }
        self.escaped += cost.escaped;
        self.reach.place(chunk);
        for &x in &self.reach.closure {
            self.raw += self.objects[x as usize].raw.len() + 1;
        }
        self.current.extend_from_slice(&self.reach.closure);
    }

    fn flush(&mut self) {
        if self.current.is_empty() {
            return;
        }
        let mut objects = std::mem::take(&mut self.current);
        objects.sort_unstable();
        self.plans.push(ChunkPlan {
            objects,
            escaped_bytes: self.escaped,
            raw_bytes: self.raw,
        });
    }

    /// The error for an object that cannot be placed even in an empty chunk.
    fn too_large(&mut self, m: usize) -> BundleError {
        let own = envelope_escaped() + self.objects[m].escaped_len();
        if own > self.limits.max_bytes {
            return BundleError::ObjectTooLarge {
                id: self.objects[m].id.to_string(),
                bytes: own,
                max_bytes: self.limits.max_bytes,
            };
        }
        // The current chunk is empty here (`place` flushed it): the cost is the whole closure.
        let cost = self.close(&[m as u32]);
        BundleError::ClosureTooLarge {
            id: self.objects[m].id.to_string(),
            objects: cost.objects,
            bytes: envelope_escaped() + cost.escaped - 1,
            max_objects: self.limits.max_objects,
            max_bytes: self.limits.max_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::chunk::tests::check_plans;
    use super::super::generator::{GenOptions, generate};
    use super::super::testutil::{bundle, id, obj};
    use super::super::{Limits, parse, prepare, pushed_objects};

    fn generated(incidents: usize) -> String {
        generate(&GenOptions::new(incidents)).into_bundle()
    }

    #[test]
    fn generated_chunks_are_self_contained_with_few_copies() {
        let text = generated(2_000);
        let parsed = parse(text.as_bytes()).unwrap();
        let input: Vec<&str> = parsed.objects.iter().map(|o| o.raw).collect();
        let p = prepare(parsed);
        // Small chunks, to have many: the copies of the ~550 shared objects per chunk are a
        // large share here, which is why the default chunks are large.
        let limits = Limits {
            max_bytes: 2 << 20,
            max_objects: 5_000,
        };
        let plans = p.chunks(&limits).unwrap();
        assert!(plans.len() >= 4, "{}", plans.len());
        check_plans(&p, &plans, &limits, &input);
        // Each incident is whole in one chunk: its intrusion-set is never copied.
        let mut copies = std::collections::HashMap::<&str, usize>::new();
        for plan in &plans {
            for &i in &plan.objects {
                *copies.entry(p.objects[i as usize].kind).or_default() += 1;
            }
        }
        let counts = p.counts_by_type();
        for kind in ["intrusion-set", "relationship"] {
            assert_eq!(copies[kind], counts[kind], "{kind} pushed once");
        }
        assert!(copies["attack-pattern"] > counts["attack-pattern"]);
    }

    #[test]
    fn copies_stay_under_five_percent_with_default_limits() {
        // 10k incidents: about 100k objects, 45 MB.
        let text = generated(10_000);
        let p = prepare(parse(text.as_bytes()).unwrap());
        let plans = p.chunks(&Limits::default()).unwrap();
        assert!(plans.len() >= 4, "{}", plans.len());
        let ratio = pushed_objects(&plans) as f64 / p.len() as f64;
        assert!(ratio > 1.0 && ratio <= 1.05, "{ratio}");
        for plan in &plans {
            assert!(plan.escaped_bytes <= Limits::default().max_bytes);
        }
    }

    #[test]
    fn a_group_larger_than_a_chunk_is_split_with_its_references() {
        // One intrusion-set with 40 relationships to 40 locations of its own: one group of 81.
        let mut objects = vec![obj("intrusion-set", 1, "")];
        for k in 0..40u32 {
            objects.push(obj("location", 100 + k, ""));
            objects.push(obj(
                "relationship",
                200 + k,
                &format!(
                    r#""relationship_type":"targets","source_ref":"{}","target_ref":"{}""#,
                    id("intrusion-set", 1),
                    id("location", 100 + k)
                ),
            ));
        }
        let text = bundle(&objects);
        let parsed = parse(text.as_bytes()).unwrap();
        let input: Vec<&str> = parsed.objects.iter().map(|o| o.raw).collect();
        let p = prepare(parsed);
        let limits = Limits {
            max_bytes: 1 << 20,
            max_objects: 25,
        };
        let plans = p.chunks(&limits).unwrap();
        check_plans(&p, &plans, &limits, &input);
        assert!(plans.len() >= 4);
        // The intrusion-set travels with every chunk of relationships; each location once.
        assert_eq!(pushed_objects(&plans), p.len() + plans.len() - 1);
    }

    #[test]
    fn a_closure_larger_than_a_chunk_is_refused() {
        let refs: Vec<String> = (0..10u32)
            .map(|k| format!("\"{}\"", id("note", k)))
            .collect();
        let mut objects: Vec<String> = (0..10u32).map(|k| obj("note", k, "")).collect();
        objects.push(obj(
            "report",
            1,
            &format!(r#""object_refs":[{}]"#, refs.join(",")),
        ));
        let text = bundle(&objects);
        let p = prepare(parse(text.as_bytes()).unwrap());
        let err = p
            .chunks(&Limits {
                max_bytes: 1 << 20,
                max_objects: 10,
            })
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&id("report", 1)), "{msg}");
        assert!(msg.contains("11 objects"), "{msg}");
        assert!(msg.contains("--chunk-objects"), "{msg}");
        assert_eq!(
            p.chunks(&Limits {
                max_bytes: 1 << 20,
                max_objects: 11,
            })
            .unwrap()
            .len(),
            1
        );
    }
}
