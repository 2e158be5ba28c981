//! The well-known objects DISINFOX references but never serves (its own identity, DISARM's
//! identity and marking): completing a bundle with those it lacks, and the report of the other
//! references to nothing in the bundle.

use std::collections::{BTreeMap, HashSet};

use super::hash::IdBuildHasher;
use super::object;
use super::{Object, RefSpan, Refs, Target};

// Embedded so the binary needs nothing at run time; content as in
// shared/fixtures/disinfox/well-known-objects.json (checked by a test when that file exists).
pub(crate) const DISINFOX_IDENTITY_ID: &str = "identity--9ac61d58-60f0-40b8-8b96-2f1f4858534b";
pub(crate) const DISINFOX_IDENTITY: &str = r#"{"type":"identity","spec_version":"2.1","id":"identity--9ac61d58-60f0-40b8-8b96-2f1f4858534b","created":"2025-03-20T09:02:57.781412Z","modified":"2025-03-20T09:02:57.781412Z","name":"DISINFOX","identity_class":"organization","sectors":["technology"],"contact_information":"https://github.com/CyberDataLab/disinfox"}"#;
pub(crate) const DISARM_IDENTITY_ID: &str = "identity--f1a0f560-2d9e-4c5d-bf47-7e96e805de82";
pub(crate) const DISARM_IDENTITY: &str = r#"{"type":"identity","spec_version":"2.1","id":"identity--f1a0f560-2d9e-4c5d-bf47-7e96e805de82","created":"2024-11-22T16:43:58.073632Z","modified":"2024-11-22T16:43:58.073632Z","name":"DISARM Foundation","description":"DISARM is a framework designed for describing and understanding disinformation incidents.","identity_class":"organization"}"#;
pub(crate) const DISARM_MARKING_ID: &str =
    "marking-definition--f79f25d2-8b96-4580-b169-eb7b613a7c31";
pub(crate) const DISARM_MARKING: &str = r#"{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--f79f25d2-8b96-4580-b169-eb7b613a7c31","created_by_ref":"identity--f1a0f560-2d9e-4c5d-bf47-7e96e805de82","created":"2024-11-22T16:43:58.073969Z","definition_type":"statement","name":"DISARM Foundation","definition":{"statement":"CC-BY-SA-4.0 DISARM Foundation"}}"#;

/// Dependencies first: the marking's `created_by_ref` is the DISARM identity.
pub const WELL_KNOWN: [&str; 3] = [DISINFOX_IDENTITY, DISARM_IDENTITY, DISARM_MARKING];
pub(super) const WELL_KNOWN_IDS: [&str; 3] =
    [DISINFOX_IDENTITY_ID, DISARM_IDENTITY_ID, DISARM_MARKING_ID];

pub(super) fn well_known(id: &str) -> Option<usize> {
    WELL_KNOWN_IDS.iter().position(|&w| w == id)
}

/// The text of the well-known object `id`, if it is one.
pub(crate) fn well_known_text(id: &str) -> Option<&'static str> {
    well_known(id).map(|w| WELL_KNOWN[w])
}

/// Append the missing well-known objects (and those they need), point the references at them,
/// and report the other references to nothing in the bundle.
pub(super) fn complete<'a>(
    objects: &mut Vec<Object<'a>>,
    refs: &mut Refs<'a>,
    present_at: [Option<u32>; WELL_KNOWN.len()],
    referenced: [bool; WELL_KNOWN.len()],
) -> (Vec<&'static str>, BTreeMap<String, Vec<String>>) {
    let mut needed: [bool; WELL_KNOWN.len()] =
        std::array::from_fn(|w| referenced[w] && present_at[w].is_none());
    let mut parsed = Vec::with_capacity(WELL_KNOWN.len());
    for raw in WELL_KNOWN {
        let mut own_refs = Vec::new();
        let o = object::object(raw, &mut own_refs).expect("embedded well-known objects are valid");
        parsed.push((o, own_refs));
    }
    // Well-known objects needed by added ones (the marking needs the DISARM identity).
    // Dependencies come earlier in WELL_KNOWN, so one reverse sweep closes the set.
    for w in (0..WELL_KNOWN.len()).rev() {
        if needed[w] {
            for r in &parsed[w].1 {
                if let Some(v) = well_known(r)
                    && present_at[v].is_none()
                {
                    needed[v] = true;
                }
            }
        }
    }

    let mut added = Vec::new();
    let mut slot = present_at;
    for (w, (o, own_refs)) in parsed.into_iter().enumerate() {
        if !needed[w] {
            continue;
        }
        let start = refs.targets.len() as u32;
        for r in own_refs {
            let target = match well_known(r) {
                Some(v) => slot[v].map_or(Target::WellKnown(v), |i| Target::Object(i as usize)),
                None => {
                    refs.unresolved.push(r);
                    Target::Unresolved(refs.unresolved.len() - 1)
                }
            };
            refs.targets.push(target.encode());
        }
        let span = RefSpan {
            start,
            len: refs.targets.len() as u32 - start,
        };
        slot[w] = Some(objects.len() as u32);
        objects.push(Object { refs: span, ..o });
        added.push(WELL_KNOWN_IDS[w]);
    }
    if !added.is_empty() {
        for e in &mut refs.targets {
            if let Target::WellKnown(w) = Target::decode(*e)
                && let Some(i) = slot[w]
            {
                *e = i;
            }
        }
    }

    (added, dangling(objects, refs))
}

/// The references to nothing in the bundle, by type, sorted, unique.
fn dangling<'a>(objects: &[Object<'a>], refs: &Refs<'a>) -> BTreeMap<String, Vec<String>> {
    // Walk the objects' spans, not the whole arena: replaced duplicates left entries behind.
    let mut dangling: HashSet<&'a str, IdBuildHasher> = HashSet::default();
    for o in objects {
        for &e in &refs.targets[o.refs.range()] {
            if let Target::Unresolved(k) = Target::decode(e) {
                dangling.insert(refs.unresolved[k]);
            }
        }
    }
    let mut by_type: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in dangling {
        let kind = r.split_once("--").map_or("(malformed)", |(t, _)| t);
        by_type
            .entry(kind.to_string())
            .or_default()
            .push(r.to_string());
    }
    for ids in by_type.values_mut() {
        ids.sort_unstable();
    }
    by_type
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{bundle, id, obj};
    use super::super::{parse, prepare};
    use super::*;

    fn ids<'a>(p: &'a super::super::Prepared<'a>) -> Vec<&'a str> {
        p.objects.iter().map(|o| o.id).collect()
    }

    #[test]
    fn marking_implies_disarm_identity() {
        let text = bundle(&[obj(
            "attack-pattern",
            1,
            &format!(r#""object_marking_refs":["{DISARM_MARKING_ID}"]"#),
        )]);
        let p = prepare(parse(text.as_bytes()).unwrap());
        assert_eq!(p.added, vec![DISARM_IDENTITY_ID, DISARM_MARKING_ID]);
        assert_eq!(
            ids(&p),
            vec![
                DISARM_IDENTITY_ID,
                DISARM_MARKING_ID,
                &id("attack-pattern", 1)
            ]
        );
        assert!(p.dangling.is_empty());
        assert!(p.objects.iter().any(|o| o.raw == DISARM_MARKING));
    }

    #[test]
    fn present_well_known_objects_are_not_added_again() {
        let text = bundle(&[
            obj(
                "attack-pattern",
                1,
                &format!(
                    r#""created_by_ref":"{DISARM_IDENTITY_ID}","object_marking_refs":["{DISARM_MARKING_ID}"]"#
                ),
            ),
            DISARM_IDENTITY.to_string(),
        ]);
        let p = prepare(parse(text.as_bytes()).unwrap());
        assert_eq!(p.added, vec![DISARM_MARKING_ID]);
        assert_eq!(p.len(), 3);
        assert_eq!(p.objects[0].id, DISARM_IDENTITY_ID);
    }

    #[test]
    fn unreferenced_well_known_objects_are_not_added() {
        let text = bundle(&[obj("threat-actor", 1, "")]);
        let p = prepare(parse(text.as_bytes()).unwrap());
        assert!(p.added.is_empty());
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn all_three_added_for_a_disinfox_bundle() {
        let ap = obj(
            "attack-pattern",
            1,
            &format!(
                r#""created_by_ref":"{DISARM_IDENTITY_ID}","object_marking_refs":["{DISARM_MARKING_ID}"]"#
            ),
        );
        let is = obj(
            "intrusion-set",
            2,
            &format!(r#""created_by_ref":"{DISINFOX_IDENTITY_ID}""#),
        );
        let text = bundle(&[ap, is]);
        let p = prepare(parse(text.as_bytes()).unwrap());
        assert_eq!(
            p.added,
            vec![DISINFOX_IDENTITY_ID, DISARM_IDENTITY_ID, DISARM_MARKING_ID]
        );
        let pos = |i: &str| p.objects.iter().position(|o| o.id == i).unwrap();
        assert!(pos(DISARM_IDENTITY_ID) < pos(DISARM_MARKING_ID));
        assert!(pos(DISARM_MARKING_ID) < pos(&id("attack-pattern", 1)));
        assert!(pos(DISINFOX_IDENTITY_ID) < pos(&id("intrusion-set", 2)));
    }

    #[test]
    fn dangling_references_are_grouped_sorted_and_unique() {
        let rel = |n: u32, target: &str| {
            obj(
                "relationship",
                n,
                &format!(
                    r#""source_ref":"{}","target_ref":"{target}""#,
                    id("intrusion-set", 1)
                ),
            )
        };
        let text = bundle(&[
            obj("intrusion-set", 1, ""),
            rel(2, &id("attack-pattern", 9)),
            rel(3, &id("attack-pattern", 8)),
            rel(4, &id("attack-pattern", 9)),
            rel(5, &id("location", 7)),
            rel(6, "garbage"),
        ]);
        let p = prepare(parse(text.as_bytes()).unwrap());
        assert_eq!(
            p.dangling,
            BTreeMap::from([
                ("(malformed)".to_string(), vec!["garbage".to_string()]),
                (
                    "attack-pattern".to_string(),
                    vec![id("attack-pattern", 8), id("attack-pattern", 9)]
                ),
                ("location".to_string(), vec![id("location", 7)]),
            ])
        );
        assert!(p.added.is_empty());
    }

    #[test]
    fn embedded_objects_match_the_shared_fixture() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/disinfox/well-known-objects.json"
        );
        let Ok(text) = std::fs::read_to_string(path) else {
            eprintln!("skipped: {path} is absent");
            return;
        };
        let fixture: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        let embedded: Vec<serde_json::Value> = WELL_KNOWN
            .iter()
            .map(|s| serde_json::from_str(s).unwrap())
            .collect();
        assert_eq!(fixture, embedded);
        for (raw, id) in WELL_KNOWN.iter().zip(WELL_KNOWN_IDS) {
            let v: serde_json::Value = serde_json::from_str(raw).unwrap();
            assert_eq!(v["id"], id);
            // Compact: no whitespace outside strings.
            assert_eq!(serde_json::to_string(&v).unwrap().len(), raw.len());
        }
    }
}
