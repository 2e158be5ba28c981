//! Dedupe by id, completion with the well-known objects DISINFOX references but never serves,
//! and the dangling-reference report.

use std::cmp::Ordering;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashSet};

use super::{IdBuildHasher, IdMap, Object, parse};

// Embedded so the binary needs nothing at run time; content as in
// shared/fixtures/disinfox/well-known-objects.json (checked by a test when that file exists).
pub const DISINFOX_IDENTITY_ID: &str = "identity--9ac61d58-60f0-40b8-8b96-2f1f4858534b";
pub const DISINFOX_IDENTITY: &str = r#"{"type":"identity","spec_version":"2.1","id":"identity--9ac61d58-60f0-40b8-8b96-2f1f4858534b","created":"2025-03-20T09:02:57.781412Z","modified":"2025-03-20T09:02:57.781412Z","name":"DISINFOX","identity_class":"organization","sectors":["technology"],"contact_information":"https://github.com/CyberDataLab/disinfox"}"#;
pub const DISARM_IDENTITY_ID: &str = "identity--f1a0f560-2d9e-4c5d-bf47-7e96e805de82";
pub const DISARM_IDENTITY: &str = r#"{"type":"identity","spec_version":"2.1","id":"identity--f1a0f560-2d9e-4c5d-bf47-7e96e805de82","created":"2024-11-22T16:43:58.073632Z","modified":"2024-11-22T16:43:58.073632Z","name":"DISARM Foundation","description":"DISARM is a framework designed for describing and understanding disinformation incidents.","identity_class":"organization"}"#;
pub const DISARM_MARKING_ID: &str = "marking-definition--f79f25d2-8b96-4580-b169-eb7b613a7c31";
pub const DISARM_MARKING: &str = r#"{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--f79f25d2-8b96-4580-b169-eb7b613a7c31","created_by_ref":"identity--f1a0f560-2d9e-4c5d-bf47-7e96e805de82","created":"2024-11-22T16:43:58.073969Z","definition_type":"statement","name":"DISARM Foundation","definition":{"statement":"CC-BY-SA-4.0 DISARM Foundation"}}"#;

/// Dependencies first: the marking's `created_by_ref` is the DISARM identity.
pub const WELL_KNOWN: [&str; 3] = [DISINFOX_IDENTITY, DISARM_IDENTITY, DISARM_MARKING];
const WELL_KNOWN_IDS: [&str; 3] = [DISINFOX_IDENTITY_ID, DISARM_IDENTITY_ID, DISARM_MARKING_ID];

/// `resolved` value of a reference to nothing in the bundle.
pub(super) const UNRESOLVED: u32 = u32::MAX;
/// Provisional `resolved` value of a reference to well-known object `w`: `PENDING - w`.
const PENDING: u32 = u32::MAX - 1;

/// Order two STIX timestamps as instants; a missing or unparsable one is older than any valid
/// one. The common case (same length, `YYYY-MM-DDTHH:MM:SS[.f]Z` both) is a byte compare.
pub fn cmp_timestamps(a: Option<&str>, b: Option<&str>) -> Ordering {
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
    b[..n - 1].iter().enumerate().all(|(i, &c)| match i {
        4 | 7 => c == b'-',
        10 => c == b'T',
        13 | 16 => c == b':',
        19 => c == b'.',
        _ => c.is_ascii_digit(),
    })
}

pub(super) fn max_modified<'a>(objects: &[Object<'a>]) -> Option<&'a str> {
    objects.iter().filter_map(|o| o.modified).reduce(|best, m| {
        if cmp_timestamps(Some(m), Some(best)) == Ordering::Greater {
            m
        } else {
            best
        }
    })
}

/// Keep one object per id: the one with the latest `modified` (the first seen on a tie), at the
/// position where the id was first seen. Returns the id -> index map and the number dropped.
pub(super) fn dedupe<'a>(objects: &mut Vec<Object<'a>>) -> (IdMap<'a>, usize) {
    let mut index =
        IdMap::with_capacity_and_hasher(objects.len() + WELL_KNOWN.len(), IdBuildHasher::default());
    let mut kept = 0usize;
    let mut dropped = 0usize;
    for i in 0..objects.len() {
        let o = objects[i];
        match index.entry(o.id) {
            Entry::Vacant(e) => {
                e.insert(kept as u32);
                objects[kept] = o;
                kept += 1;
            }
            Entry::Occupied(e) => {
                dropped += 1;
                let k = *e.get() as usize;
                if cmp_timestamps(o.modified, objects[k].modified) == Ordering::Greater {
                    objects[k] = o;
                }
            }
        }
    }
    objects.truncate(kept);
    (index, dropped)
}

pub(super) struct Completion {
    /// For each entry of the reference arena: index of the referenced object, or UNRESOLVED.
    pub resolved: Vec<u32>,
    pub added: Vec<&'static str>,
    pub dangling: BTreeMap<String, Vec<String>>,
}

pub(super) fn complete<'a>(
    objects: &mut Vec<Object<'a>>,
    refs: &mut Vec<&'a str>,
    index: &mut IdMap<'a>,
) -> Completion {
    let mut resolved = vec![UNRESOLVED; refs.len()];
    let mut needed = [false; WELL_KNOWN.len()];
    let mut dangling: HashSet<&'a str, IdBuildHasher> = HashSet::default();
    for o in objects.iter() {
        for k in o.refs.range() {
            let r = refs[k];
            if let Some(&i) = index.get(r) {
                resolved[k] = i;
            } else if let Some(w) = WELL_KNOWN_IDS.iter().position(|&id| id == r) {
                needed[w] = true;
                resolved[k] = PENDING - w as u32;
            } else {
                dangling.insert(r);
            }
        }
    }

    // Well-known objects may need each other; dependencies come earlier in WELL_KNOWN.
    let mut parsed = Vec::with_capacity(WELL_KNOWN.len());
    for raw in WELL_KNOWN {
        let mut own_refs = Vec::new();
        let o = parse::object(raw, &mut own_refs).expect("embedded well-known objects are valid");
        parsed.push((o, own_refs));
    }
    for w in (0..WELL_KNOWN.len()).rev() {
        if !needed[w] {
            continue;
        }
        for r in &parsed[w].1 {
            if !index.contains_key(r)
                && let Some(v) = WELL_KNOWN_IDS.iter().position(|id| id == r)
            {
                needed[v] = true;
            }
        }
    }

    let mut added = Vec::new();
    let mut slot = [UNRESOLVED; WELL_KNOWN.len()];
    let first_added = objects.len();
    for (w, (mut o, own_refs)) in parsed.into_iter().enumerate() {
        if !needed[w] {
            continue;
        }
        let start = refs.len();
        refs.extend(own_refs);
        o.refs = super::RefSpan {
            start: start as u32,
            len: (refs.len() - start) as u32,
        };
        slot[w] = objects.len() as u32;
        index.insert(o.id, slot[w]);
        objects.push(o);
        added.push(WELL_KNOWN_IDS[w]);
    }
    resolved.resize(refs.len(), UNRESOLVED);
    for o in &objects[first_added..] {
        for k in o.refs.range() {
            match index.get(refs[k]) {
                Some(&i) => resolved[k] = i,
                None => {
                    dangling.insert(refs[k]);
                }
            }
        }
    }
    // Every PENDING marks a needed, hence added, object.
    if !added.is_empty() {
        let lowest = PENDING - (WELL_KNOWN.len() as u32 - 1);
        for r in &mut resolved {
            if (lowest..=PENDING).contains(r) {
                *r = slot[(PENDING - *r) as usize];
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
    Completion {
        resolved,
        added,
        dangling: by_type,
    }
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
        let mut objects = parsed.objects.clone();
        let (index, dropped) = dedupe(&mut objects);
        assert_eq!(dropped, 4);
        assert_eq!(objects.len(), 3);
        assert_eq!(index.len(), 3);
        assert_eq!(objects[0].id, id("threat-actor", 1));
        assert_eq!(objects[0].modified, Some("2024-06-01T00:00:00.000Z"));
        assert!(
            objects[0]
                .raw
                .contains(r#""name":"2024-06-01T00:00:00.000Z""#)
        );
        assert_eq!(objects[1].modified, Some("2024-01-01T00:00:00.000Z"));
        assert_eq!(objects[2].modified, Some("2024-01-01T00:00:01Z"));
        let p = prepare(parsed);
        assert_eq!(p.duplicates, 4);
        assert_eq!(p.len(), 3);
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
