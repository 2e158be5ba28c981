use std::collections::{HashMap, HashSet};
use std::io::Read;

use super::super::chunk::tests::varied_bundle;
use super::super::generator::{GenOptions, generate};
use super::super::testutil::{bundle, id, obj};
use super::super::{Limits, parse, prepare};
use super::*;

fn staged(text: &str) -> Result<Staged, StreamError> {
    staged_from(text.as_bytes())
}

fn staged_from(input: impl Read) -> Result<Staged, StreamError> {
    let spool = tempfile::tempfile().unwrap();
    let index = tempfile::tempfile().unwrap();
    stage(
        input,
        (spool, index),
        (u64::MAX, u64::MAX),
        &mut |_, _, _| {},
    )
}

fn all_objects(s: &Staged) -> Vec<String> {
    let mut out = Vec::new();
    s.for_each(&mut |raw| {
        out.push(String::from_utf8(raw.to_vec()).unwrap());
        ControlFlow::Continue(())
    })
    .unwrap();
    out
}

/// The chunk's bundle as pushed, decoded from its escaped rendering, checked against its size.
fn rendered(s: &Staged, chunk: &StagedChunk) -> serde_json::Value {
    let mut out = b"prefix".to_vec();
    s.render_escaped_into(chunk, &mut out).unwrap();
    assert_eq!(out.len() - 6, chunk.escaped_bytes);
    let text: String = serde_json::from_slice(&out[6..]).unwrap();
    assert_eq!(text.len(), chunk.raw_bytes);
    serde_json::from_str(&text).unwrap()
}

fn refs_of(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match x {
                    serde_json::Value::String(s) if k.ends_with("_ref") => out.push(s.clone()),
                    serde_json::Value::Array(a) if k.ends_with("_refs") => {
                        out.extend(a.iter().filter_map(|s| s.as_str().map(str::to_owned)));
                    }
                    _ => refs_of(x, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| refs_of(x, out)),
        _ => {}
    }
}

/// Every chunk within the limits and self-contained, references before referrers; together
/// the chunks hold exactly the distinct objects; the same objects as the in-memory stage.
fn check(text: &str, limits: &Limits) -> (Staged, Vec<StagedChunk>) {
    check_with(text, limits, true)
}

/// [`check`]; with cycles, one edge of each is left out of the order.
fn check_with(text: &str, limits: &Limits, acyclic: bool) -> (Staged, Vec<StagedChunk>) {
    let s = staged(text).unwrap();
    let p = prepare(parse(text.as_bytes()).unwrap());
    let mine: HashSet<String> = all_objects(&s).into_iter().collect();
    let theirs: HashSet<String> = p.objects().iter().map(|o| o.raw.to_owned()).collect();
    assert_eq!(
        mine, theirs,
        "the same distinct objects as the in-memory stage"
    );
    assert_eq!(s.len(), p.len());
    assert_eq!(s.added(), p.added());
    assert_eq!(s.dangling(), p.dangling());
    assert_eq!(s.duplicates(), p.duplicates());
    assert_eq!(s.max_modified(), p.max_modified());
    let counts: BTreeMap<String, usize> = p
        .counts_by_type()
        .into_iter()
        .map(|(k, n)| (k.to_owned(), n))
        .collect();
    assert_eq!(s.counts_by_type(), &counts);

    let plans = s.chunks(limits).unwrap().unwrap();
    let all_ids: HashSet<String> = mine
        .iter()
        .map(|raw| {
            serde_json::from_str::<serde_json::Value>(raw).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let mut seen = HashSet::new();
    for plan in &plans {
        assert!(!plan.is_empty());
        assert!(plan.len() <= limits.max_objects);
        assert!(
            plan.escaped_bytes <= limits.max_bytes,
            "{} > {limits:?}",
            plan.escaped_bytes
        );
        let v = rendered(&s, plan);
        assert_eq!(v["type"], "bundle");
        let objects = v["objects"].as_array().unwrap();
        assert_eq!(objects.len(), plan.len());
        let position: HashMap<&str, usize> = objects
            .iter()
            .enumerate()
            .map(|(k, o)| (o["id"].as_str().unwrap(), k))
            .collect();
        assert_eq!(position.len(), objects.len(), "no object twice in a chunk");
        for (k, o) in objects.iter().enumerate() {
            let mut refs = Vec::new();
            refs_of(o, &mut refs);
            for r in refs.iter().filter(|r| all_ids.contains(*r)) {
                let j = position.get(r.as_str());
                assert!(j.is_some(), "{} references {r}, not in its chunk", o["id"]);
                if acyclic {
                    assert!(j < Some(&k) || *r == o["id"], "{r} before {}", o["id"]);
                }
            }
            seen.insert(o.to_string());
        }
    }
    let expected: HashSet<String> = mine
        .iter()
        .map(|raw| {
            serde_json::from_str::<serde_json::Value>(raw)
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(seen, expected, "the chunks hold every object");
    (s, plans)
}

#[test]
fn generated_answers_stage_as_in_memory_with_few_copies() {
    let text = generate(&GenOptions::new(2_000)).into_bundle();
    let limits = Limits {
        max_bytes: 2 << 20,
        max_objects: 5_000,
    };
    let (s, plans) = check(&text, &limits);
    assert!(plans.len() >= 4, "{}", plans.len());
    // Only the referenced objects are held: incidents, the pools, the well-known ones.
    assert!(
        s.nodes() * 5 < s.len(),
        "{} nodes of {}",
        s.nodes(),
        s.len()
    );
    // Each incident is whole in one chunk: its intrusion-set is never copied.
    let mut copies: HashMap<String, usize> = HashMap::new();
    for plan in &plans {
        for o in rendered(&s, plan)["objects"].as_array().unwrap() {
            if o["type"] == "intrusion-set" {
                *copies.entry(o["id"].to_string()).or_default() += 1;
            }
        }
    }
    assert!(copies.len() > 1000);
    assert!(copies.values().all(|&n| n == 1), "an incident was split");
    // About as many copies as the in-memory planner makes (which groups whole incidents).
    let pushed: usize = plans.iter().map(StagedChunk::len).sum();
    let p = prepare(parse(text.as_bytes()).unwrap());
    let theirs = super::super::pushed_objects(&p.chunks(&limits).unwrap());
    assert!(
        pushed as f64 <= 1.02 * theirs as f64,
        "{pushed} pushed, against {theirs} in memory, for {} objects",
        s.len()
    );
}

#[test]
fn varied_objects_pretty_printed_escaped_and_chained() {
    let text = varied_bundle(400);
    for limits in [
        Limits::default(),
        Limits {
            max_bytes: 8 * 1024,
            max_objects: 6,
        },
        Limits {
            max_bytes: 64 * 1024,
            max_objects: 1000,
        },
    ] {
        check(&text, &limits);
    }
}

#[test]
fn duplicates_keep_the_latest_copy_and_cycles_are_broken() {
    let m = |t: &str| format!(r#""modified":"{t}","name":"{t}""#);
    let text = bundle(&[
        obj("note", 1, &m("2024-01-01T00:00:00.000Z")),
        obj("note", 1, &m("2024-06-01T00:00:00.000Z")),
        obj("note", 1, &m("2024-06-01T00:00:00.000Z")),
        obj(
            "note",
            2,
            &format!(r#""object_refs":["{}","{}"]"#, id("note", 3), id("note", 1)),
        ),
        obj(
            "note",
            3,
            &format!(r#""object_refs":["{}"]"#, id("note", 2)),
        ),
        obj(
            "note",
            4,
            &format!(r#""object_refs":["{}"]"#, id("note", 2)),
        ),
    ]);
    let (s, _) = check_with(&text, &Limits::default(), false);
    assert_eq!(s.duplicates(), 2);
    let kept: Vec<String> = all_objects(&s)
        .into_iter()
        .filter(|o| o.contains(&id("note", 1)) && o.contains("\"name\""))
        .collect();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].contains("2024-06-01"), "{kept:?}");
}

#[test]
fn limits_name_the_object() {
    let big = obj("note", 7, &format!(r#""content":"{}""#, "x".repeat(5000)));
    let text = bundle(&[big]);
    let s = staged(&text).unwrap();
    let limits = Limits {
        max_bytes: 2048,
        max_objects: 10,
    };
    let e = s.chunks(&limits).unwrap().unwrap_err();
    assert!(matches!(e, BundleError::ObjectTooLarge { .. }), "{e}");
    assert!(e.to_string().contains(&id("note", 7)), "{e}");

    let refs: Vec<String> = (0..5).map(|n| id("note", n)).collect();
    let mut objects: Vec<String> = (0..5).map(|n| obj("note", n, "")).collect();
    objects.push(obj(
        "note",
        9,
        &format!(r#""object_refs":{}"#, serde_json::to_string(&refs).unwrap()),
    ));
    let s = staged(&bundle(&objects)).unwrap();
    let limits = Limits {
        max_bytes: 1 << 20,
        max_objects: 3,
    };
    let e = s.chunks(&limits).unwrap().unwrap_err();
    assert!(matches!(e, BundleError::ClosureTooLarge { .. }), "{e}");
    assert!(e.to_string().contains(&id("note", 9)), "{e}");
}

#[test]
fn the_same_verdict_as_parse_on_every_bad_input() {
    for (name, input, _, _) in super::super::stream::bad_bundles::table() {
        let parsed = parse(&input).map(drop).unwrap_err();
        match staged_from(&input[..]) {
            Err(StreamError::Bundle(e)) => assert_eq!(e, parsed, "{name}"),
            Err(other) => panic!("{name}: {other:?}"),
            Ok(_) => panic!("{name}: staged"),
        }
    }
    // The stage checks relationship ends, as `parse` does (and `fetch` does not).
    let no_ends = bundle(&[obj("relationship", 1, r#""relationship_type":"uses""#)]);
    let parsed = parse(no_ends.as_bytes()).map(drop).unwrap_err();
    match staged(&no_ends) {
        Err(StreamError::Bundle(e)) => assert_eq!(e, parsed),
        other => panic!("{:?}", other.map(|s| s.len())),
    }
}

#[test]
fn the_disk_budget_stops_the_stage() {
    let text = generate(&GenOptions::new(50)).into_bundle();
    let files = (tempfile::tempfile().unwrap(), tempfile::tempfile().unwrap());
    let budget = text.len() as u64 / 2;
    match stage(
        text.as_bytes(),
        files,
        (u64::MAX, budget),
        &mut |_, _, _| {},
    ) {
        Err(StreamError::Write(e)) => assert_eq!(e.kind(), io::ErrorKind::QuotaExceeded),
        other => panic!("{:?}", other.map(|s| s.len())),
    }
    let files = (tempfile::tempfile().unwrap(), tempfile::tempfile().unwrap());
    let enough = 2 * text.len() as u64;
    let s = stage(
        text.as_bytes(),
        files,
        (u64::MAX, enough),
        &mut |_, _, _| {},
    )
    .unwrap();
    assert!(s.spool_len() <= enough);
}

#[test]
fn an_empty_bundle_stages_to_nothing() {
    let s = staged(r#"{"type":"bundle","objects":[]}"#).unwrap();
    assert!(s.is_empty());
    assert!(s.chunks(&Limits::default()).unwrap().unwrap().is_empty());
}
