//! Correctness at scale (the benchmarks measure speed): a generated answer of thousands of
//! incidents goes through `sync` in many chunks, and nothing is lost, reordered against its
//! references, left out of a chunk that references it, or over the size limit; only shared
//! objects are copied, and few.

use std::collections::HashSet;

use crate::common::{CONNECTOR_ID, assert_dependency_order, cli};
use crate::support::disinfox::DisinfoxStandin;
use crate::support::generator::{GenOptions, format_ms, generate};
use crate::support::opencti::OpenctiOptions;

const INCIDENTS: usize = 5_000;
const CHUNK: usize = 2 * 1024 * 1024;

#[test]
fn thousands_of_incidents_in_bounded_ordered_chunks() {
    let generated = generate(&GenOptions::new(INCIDENTS));
    let max_ms = generated.max_modified_ms().unwrap();
    let input: HashSet<String> = generated
        .objects
        .iter()
        .map(|(_, raw)| {
            serde_json::from_str::<serde_json::Value>(raw).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let dx = DisinfoxStandin::start_default();
    for (ms, raw) in generated.objects {
        dx.add_raw_at(ms, raw);
    }
    let octi = crate::common::opencti_as_connector(OpenctiOptions::version("7.260510.0"));
    let home = tempfile::tempdir().unwrap();
    cli(home.path())
        .env("DISINFOX_URL", dx.endpoint_url())
        .env("DISINFOX_API_KEY", dx.api_key())
        .env("OPENCTI_URL", octi.url())
        .env("OPENCTI_TOKEN", octi.token())
        .env("CONNECTOR_ID", CONNECTOR_ID)
        .args(["sync", "--chunk-size", &CHUNK.to_string()])
        .assert()
        .success();

    let pushes = octi.pushes();
    assert!(pushes.len() >= 5, "only {} chunks", pushes.len());
    for p in &pushes {
        assert!(
            p.bytes <= CHUNK,
            "a chunk of {} bytes exceeds {CHUNK}",
            p.bytes
        );
    }
    let received = octi.received_objects();
    let got: Vec<String> = received
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    let unique: HashSet<String> = got.iter().cloned().collect();
    let mut want = input;
    want.extend(
        [
            "identity--9ac61d58-60f0-40b8-8b96-2f1f4858534b",
            "identity--f1a0f560-2d9e-4c5d-bf47-7e96e805de82",
            "marking-definition--f79f25d2-8b96-4580-b169-eb7b613a7c31",
        ]
        .map(str::to_owned),
    );
    assert_eq!(unique, want, "union of chunks = input + completions");
    // Only shared objects are copied: each incident (intrusion-set and relationships) is
    // pushed once, whole, in one chunk.
    let mut times = std::collections::HashMap::<&str, usize>::new();
    for o in &received {
        *times.entry(o["id"].as_str().unwrap()).or_default() += 1;
    }
    for o in &received {
        if matches!(o["type"].as_str(), Some("intrusion-set" | "relationship")) {
            assert_eq!(times[o["id"].as_str().unwrap()], 1, "{} copied", o["id"]);
        }
    }
    crate::push::assert_chunks_self_contained(&octi, &want);
    assert_dependency_order(&received);
    // Reads the work once the workers are done with it, and nothing they took was dropped.
    crate::common::assert_nothing_dropped(&octi);
    let works = octi.works();
    assert!(
        works.len() == 1 && works[0].multipart && works[0].closed && !works[0].in_error,
        "{works:?}"
    );

    let state: serde_json::Value =
        serde_json::from_str(&octi.state(CONNECTOR_ID).unwrap()).unwrap();
    let expect = format_ms(max_ms).replace('Z', "000Z");
    assert_eq!(
        state["last_fetch"],
        expect.as_str(),
        "the cursor is the greatest modified"
    );
}

/// With the default chunk limits, the copies of shared objects (identities, the marking, the
/// attack-pattern, actor and location pools) stay within 5% of what is pushed, measured by
/// the CLI's own summary on a dry run of 10k generated incidents (45 MB).
#[test]
fn copies_of_shared_objects_stay_within_five_percent() {
    let bundle = generate(&GenOptions::new(10_000)).into_bundle();
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("b.json");
    std::fs::write(&file, bundle).unwrap();
    let out = cli(home.path())
        .args([
            "push",
            "--dry-run",
            "--json",
            "--file",
            file.to_str().unwrap(),
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let summary: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let chunks = summary["chunks"].as_u64().unwrap();
    assert!(chunks >= 4, "{summary}");
    let ratio = summary["push_ratio"].as_f64().unwrap();
    assert!(ratio > 1.0 && ratio <= 1.05, "{summary}");
    let (pushed, total) = (
        summary["objects_pushed"].as_f64().unwrap(),
        summary["objects_total"].as_f64().unwrap(),
    );
    assert!((pushed / total - ratio).abs() < 1e-9);
}
