//! Every documented flag and setting does what the README says: the ones the other test
//! modules do not already exercise.

use chrono::Utc;
use predicates::prelude::*;
use predicates::str::contains;

use crate::common::{CONNECTOR_ID, Peers, assert_nothing_dropped, bundle_of};

fn file_with(peers: &Peers, incidents: u64) -> String {
    let path = peers.home.path().join("bundle.json");
    std::fs::write(&path, bundle_of(incidents, Utc::now())).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn chunk_objects_from_the_flag_the_environment_and_the_file() {
    let peers = Peers::start("6.9.17");
    let file = file_with(&peers, 6);
    peers
        .cmd()
        .args(["push", "--file", &file, "--chunk-objects", "7"])
        .assert()
        .success();
    // An incident is 5 objects, kept in one chunk, and every chunk also carries the identity
    // they reference: a chunk of 1 + 5k objects holds k incidents.
    assert!(peers.octi.pushes().iter().all(|p| p.ids.len() <= 7));
    assert_eq!(
        peers.octi.pushes().len(),
        6,
        "6 incidents, 1 per chunk of 7"
    );
    // Each next run comes once the platform imported the last one, as a later cron run would
    // (before 7.260510.0 a run refuses to start while an earlier run's messages are queued).
    assert_nothing_dropped(&peers.octi);
    peers.octi.clear_history();
    peers
        .cmd()
        .env("DISINFOX_SYNC_CHUNK_OBJECTS", "11")
        .args(["push", "--file", &file])
        .assert()
        .success();
    assert_eq!(
        peers.octi.pushes().len(),
        3,
        "6 incidents, 2 per chunk of 11"
    );
    // Each next run comes once the platform imported the last one, as a later cron run would
    // (before 7.260510.0 a run refuses to start while an earlier run's messages are queued).
    assert_nothing_dropped(&peers.octi);
    peers.octi.clear_history();
    let cfg = peers.home.path().join("c.yml");
    std::fs::write(&cfg, "disinfox_sync:\n  chunk_objects: 16\n").unwrap();
    peers
        .cmd()
        .args(["--config", cfg.to_str().unwrap(), "push", "--file", &file])
        .assert()
        .success();
    assert_eq!(
        peers.octi.pushes().len(),
        2,
        "6 incidents, 3 per chunk of 16"
    );
    assert_nothing_dropped(&peers.octi);
}

#[test]
fn opencti_url_flag_beats_the_environment() {
    let peers = Peers::start("6.9.17");
    let file = file_with(&peers, 1);
    peers
        .cmd()
        .env("OPENCTI_URL", "http://127.0.0.1:9/")
        .args([
            "--opencti-url",
            &peers.octi.url(),
            "--connect-timeout",
            "2s",
            "push",
            "--file",
            &file,
        ])
        .assert()
        .success();
    assert_nothing_dropped(&peers.octi);
    peers
        .cmd()
        .args(["--connect-timeout", "soon", "push", "--file", &file])
        .assert()
        .code(2);
}

#[test]
fn settle_window_is_configurable() {
    let peers = Peers::start("6.9.17");
    // Built 5 s ago: inside the default 60 s window, outside a 1 s one.
    let objects =
        crate::common::incidents(1, 0, peers.dx.server_now() - chrono::Duration::seconds(5));
    peers.dx.add_objects(&objects);
    let out = peers
        .cmd()
        .args(["sync", "--json", "--settle", "1s"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let summary: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let newest = serde_json::from_str::<serde_json::Value>(&objects[0]).unwrap()["modified"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        summary["cursor_after"].as_str().unwrap(),
        newest.replace('Z', "000Z"),
        "cursor = newest modified"
    );
    assert_nothing_dropped(&peers.octi);
    peers.octi.set_state(CONNECTOR_ID, "");
    let out = peers
        .cmd()
        .env("DISINFOX_SYNC_SETTLE", "1h")
        .args(["sync", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let summary: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(
        summary["cursor_after"].as_str().unwrap() < newest.as_str(),
        "an hour's window holds the cursor back"
    );
    assert_nothing_dropped(&peers.octi);
}

/// No cursor was stored in OpenCTI for the connector.
fn no_state(peers: &Peers) -> bool {
    peers
        .octi
        .state(CONNECTOR_ID)
        .unwrap_or_default()
        .is_empty()
}

#[test]
fn sync_refuses_an_answer_over_max_bundle_size() {
    let peers = Peers::start("6.9.17");
    peers.dx.add_objects(crate::common::incidents(
        5,
        0,
        Utc::now() - chrono::Duration::minutes(5),
    ));
    peers
        .cmd()
        .args(["sync", "--max-bundle-size", "1K"])
        .assert()
        .code(78)
        .stderr(contains("--max-bundle-size"));
    assert!(no_state(&peers), "the cursor stays unset");
}

/// A run that would need more temporary disk than it may take stops with 74 before it pushes
/// anything, up front (from Content-Length), and the cursor stays.
#[test]
fn sync_stops_at_its_disk_limit_before_pushing() {
    let peers = Peers::start("6.9.17");
    peers.dx.add_objects(crate::common::incidents(
        20,
        0,
        Utc::now() - chrono::Duration::minutes(5),
    ));
    for (flag, variable) in [(Some("4K"), None), (None, Some("4K"))] {
        let mut cmd = peers.cmd();
        if let Some(v) = variable {
            cmd.env("DISINFOX_SYNC_DISK_LIMIT", v);
        }
        cmd.arg("sync");
        if let Some(f) = flag {
            cmd.args(["--disk-limit", f]);
        }
        cmd.assert()
            .code(74)
            .stderr(contains("--disk-limit (4096 bytes").and(contains("emptyDir")));
    }
    assert!(peers.octi.received_objects().is_empty(), "nothing pushed");
    assert!(no_state(&peers), "the cursor stays unset");
    // A TMPDIR that cannot hold the files is a local failure too, named as such.
    peers
        .cmd()
        .env("TMPDIR", peers.home.path().join("missing"))
        .arg("sync")
        .assert()
        .code(74)
        .stderr(contains("TMPDIR"));
    // With room enough, the same run imports, having said what it takes of the disk.
    peers
        .cmd()
        .args(["sync", "--disk-limit", "10M"])
        .assert()
        .success()
        .stderr(contains("staging DISINFOX's answer (").and(contains("bytes of disk")));
    assert!(!peers.octi.received_objects().is_empty());
}

#[test]
fn check_reads_a_state_file() {
    let peers = Peers::start("6.9.17");
    let state = peers.home.path().join("state.json");
    std::fs::write(&state, r#"{"last_fetch":"2026-11-01T00:00:00.000000Z"}"#).unwrap();
    peers
        .cmd()
        .args(["check", "--state-file", state.to_str().unwrap()])
        .assert()
        .success()
        .stdout(contains("file").and(contains("cursor 2026-11-01")));
}

#[test]
fn ssl_verify_false_is_accepted_with_a_warning() {
    let peers = Peers::start("6.9.17");
    let file = file_with(&peers, 1);
    peers
        .cmd()
        .env("OPENCTI_SSL_VERIFY", "false")
        .args(["push", "--file", &file])
        .assert()
        .success()
        .stderr(contains("NOT verified"));
    assert_nothing_dropped(&peers.octi);
    peers
        .cmd()
        .env("OPENCTI_SSL_VERIFY", "maybe")
        .args(["push", "--file", &file])
        .assert()
        .code(78);
}
