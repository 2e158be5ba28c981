//! The real DISINFOX answers in ../shared/fixtures/disinfox, replayed byte for byte.
//! Skipped with a notice when ../shared is absent; a failure under CI=true.

use std::path::PathBuf;

use predicates::prelude::*;
use predicates::str::contains;

use crate::common::{CONNECTOR_ID, cli, ids, shared_dir};
use crate::support::http::{Request, Response, Server};
use crate::support::opencti::OpenctiOptions;

fn fixture(dir: &std::path::Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Serves one recorded answer for every request.
fn replay(status: u16, body: Vec<u8>) -> Server {
    Server::start(move |_req: &Request| Response::json(status, body.clone()))
}

fn fetch(server: &Server, home: &std::path::Path) -> assert_cmd::Command {
    let mut c = cli(home);
    c.env("DISINFOX_URL", server.url() + "/incidents")
        .env(
            "DISINFOX_API_KEY",
            "DISINFOX.YW5hbHlzdEBleGFtcGxlLm9yZw==.k",
        )
        .args(["fetch", "--retries", "0"]);
    c
}

#[test]
fn bundles_pass_through_byte_for_byte() {
    let Some(dir) = shared_dir("fixtures/disinfox") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    for (name, objects) in [
        ("public_api_incidents_epoch.json", 18),
        ("public_api_incidents_seed_full.json", 1423),
        ("public_api_incidents_seed_incremental.json", 1336),
    ] {
        let body = fixture(&dir, name);
        let server = replay(200, body.clone());
        let out = fetch(&server, home.path())
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        assert!(out == body, "{name} was altered");
        assert_eq!(ids(&out).len(), objects, "{name}");
    }
}

#[test]
fn error_answers_get_their_exit_codes() {
    let Some(dir) = shared_dir("fixtures/disinfox") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    for (name, status, code, text) in [
        (
            "public_api_200_missing_authorization.json",
            200,
            77,
            "Authorization header",
        ),
        (
            "public_api_error_401_bad_key.json",
            401,
            77,
            "rejected the API key",
        ),
        (
            "public_api_error_400_missing_newer_than.json",
            400,
            76,
            "newer_than",
        ),
        (
            "public_api_error_500_bad_newer_than.json",
            500,
            75,
            "HTTP 500",
        ),
    ] {
        let server = replay(status, fixture(&dir, name));
        fetch(&server, home.path())
            .assert()
            .code(code)
            .stderr(contains(text));
    }
    let server = replay(200, fixture(&dir, "public_api_incidents_empty.json"));
    let out = fetch(&server, home.path())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(ids(&out).is_empty());
}

#[test]
fn incremental_bundle_is_completed_and_its_dangling_references_reported() {
    let Some(dir) = shared_dir("fixtures/disinfox") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let file: PathBuf = dir.join("public_api_incidents_seed_incremental.json");
    cli(home.path())
        .args(["push", "--dry-run", "--file", file.to_str().unwrap()])
        .assert()
        .success()
        .stderr(
            contains("87 attack-pattern")
                .and(contains("identity--9ac61d58-60f0-40b8-8b96-2f1f4858534b")),
        );
}

#[test]
fn seed_bundle_imports_completely_in_dependency_order() {
    let Some(dir) = shared_dir("fixtures/disinfox") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let octi = crate::common::opencti_as_connector(OpenctiOptions::version("7.260510.0"));
    let file = dir.join("public_api_incidents_seed_full.json");
    cli(home.path())
        .env("OPENCTI_URL", octi.url())
        .env("OPENCTI_TOKEN", octi.token())
        .env("CONNECTOR_ID", CONNECTOR_ID)
        .args([
            "push",
            "--chunk-size",
            "100K",
            "--file",
            file.to_str().unwrap(),
        ])
        .assert()
        .success();
    let received = octi.received_objects();
    let distinct: std::collections::HashSet<&str> =
        received.iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(
        distinct.len(),
        1423 + 3,
        "input plus the three well-known objects"
    );
    let in_bundle = distinct.iter().map(|s| s.to_string()).collect();
    crate::push::assert_chunks_self_contained(&octi, &in_bundle);
    crate::common::assert_dependency_order(&received);
    assert!(octi.pushes().len() > 5);
    crate::common::assert_nothing_dropped(&octi);
}

#[test]
fn well_known_objects_match_the_published_ones() {
    let Some(dir) = shared_dir("fixtures/disinfox") else {
        return;
    };
    let published: Vec<serde_json::Value> =
        serde_json::from_slice(&fixture(&dir, "well-known-objects.json")).unwrap();
    let ours: Vec<serde_json::Value> = disinfox_sync::testing::bundle::WELL_KNOWN
        .iter()
        .map(|o| serde_json::from_str(o).unwrap())
        .collect();
    assert_eq!(ours.len(), 3);
    for p in &published {
        assert!(ours.contains(p), "well-known object differs: {}", p["id"]);
    }
}
