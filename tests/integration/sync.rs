//! `sync` and `reset-state` against both stand-ins: nothing lost, nothing skipped, no endless
//! re-sends, through failures, kills, resets and clock skew.

use std::collections::HashSet;
use std::time::Duration;

use predicates::prelude::*;
use predicates::str::contains;

use crate::common::{
    CONNECTOR_ID, Peers, assert_all_imported, assert_nothing_dropped, cli, incidents, settle,
};
use crate::support::disinfox::Fault as DxFault;
use crate::support::opencti::{Fault, PushFailure};

fn setup(version: &str) -> Peers {
    Peers::start(version)
}

/// What these tests ask of the stand-ins.
trait SyncPeers {
    fn sync(&self, extra: &[&str]) -> serde_json::Value;
    fn state(&self) -> serde_json::Value;
    fn add(&self, count: u64, first: u64, ago: chrono::Duration) -> Vec<String>;
    fn last_newer_than(&self) -> String;
}

impl SyncPeers for Peers {
    fn sync(&self, extra: &[&str]) -> serde_json::Value {
        let out = self
            .cmd()
            .arg("sync")
            .arg("--json")
            .args(extra)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        // What the run imported is read once the workers ran, and the next run comes after
        // them, as a later cron run would.
        settle(&self.octi);
        serde_json::from_slice(&out).unwrap()
    }

    fn state(&self) -> serde_json::Value {
        serde_json::from_str(&self.octi.state(CONNECTOR_ID).unwrap_or_default())
            .unwrap_or(serde_json::Value::Null)
    }

    fn add(&self, count: u64, first: u64, ago: chrono::Duration) -> Vec<String> {
        self.add_incidents(count, first, ago)
    }

    fn last_newer_than(&self) -> String {
        self.dx
            .requests()
            .last()
            .unwrap()
            .newer_than
            .clone()
            .unwrap()
    }
}

#[test]
fn first_imports_all_second_nothing_third_only_new() {
    let env = setup("6.9.17");
    let first = env.add(3, 0, chrono::Duration::minutes(10));
    let s1 = env.sync(&[]);
    assert_eq!(s1["status"], "imported");
    let got: HashSet<String> = env.octi.received_ids().into_iter().collect();
    assert!(first.iter().all(|i| got.contains(i)));
    let state = env.state();
    assert!(state["last_fetch"].as_str().unwrap().ends_with('Z'));
    assert!(
        state["last_run"].is_i64(),
        "last_run must be Unix seconds: {state}"
    );

    env.octi.clear_history();
    let s2 = env.sync(&[]);
    assert_eq!(s2["status"], "up-to-date");
    assert!(
        env.octi.received_ids().is_empty(),
        "second sync re-sent objects"
    );
    assert_eq!(env.state()["last_fetch"], state["last_fetch"]);

    let new = env.add(2, 100, chrono::Duration::minutes(5));
    let s3 = env.sync(&[]);
    assert_eq!(s3["status"], "imported");
    let got: HashSet<String> = env
        .octi
        .received_ids()
        .into_iter()
        .filter(|i| !i.starts_with("identity--"))
        .collect();
    assert_eq!(got, new.into_iter().collect::<HashSet<_>>());
    let info = env.octi.connector_info(CONNECTOR_ID).unwrap();
    assert_eq!(info["run_and_terminate"], true);
    assert_nothing_dropped(&env.octi);
}

#[test]
fn failure_midway_keeps_the_state_and_the_next_run_completes() {
    let env = setup("7.260510.0");
    let all = env.add(60, 0, chrono::Duration::minutes(10));
    env.octi.set_state(CONNECTOR_ID, "");
    env.octi.set_fault(Fault::FailPushAfter {
        ok_pushes: 2,
        status_or_code: PushFailure::Http(503),
    });
    let out = env
        .cmd()
        .args(["sync", "--json", "--chunk-size", "16K", "--retries", "1"])
        .assert()
        .code(75)
        .get_output()
        .stdout
        .clone();
    let summary: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(summary["status"], "failed");
    assert_eq!(summary["exit_code"], 75);
    assert_eq!(
        env.octi.state(CONNECTOR_ID).as_deref(),
        Some(""),
        "state moved after a failed push"
    );
    assert!(env.octi.works().iter().any(|w| w.in_error));
    env.octi.set_fault(Fault::None);
    env.sync(&["--chunk-size", "16K"]);
    let got: HashSet<String> = env.octi.received_ids().into_iter().collect();
    assert!(all.iter().all(|i| got.contains(i)), "objects lost");
    assert_all_imported(&env.octi);
}

#[test]
fn killed_during_push_reimports_from_the_old_cursor() {
    let env = setup("6.9.17");
    env.add(2, 0, chrono::Duration::minutes(30));
    env.sync(&[]);
    let cursor = env.state()["last_fetch"].clone();
    let later = env.add(20, 50, chrono::Duration::minutes(10));
    env.octi.set_fault(Fault::SlowPush {
        delay: Duration::from_secs(5),
    });
    let mut child = env.spawn(&["sync", "--chunk-size", "8K"]);
    env.wait_for_a_push();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        env.state()["last_fetch"],
        cursor,
        "state moved although the run was killed"
    );
    env.octi.set_fault(Fault::None);
    env.octi.clear_history();
    env.sync(&[]);
    let got: HashSet<String> = env.octi.received_ids().into_iter().collect();
    assert!(later.iter().all(|i| got.contains(i)));
    assert_all_imported(&env.octi);
}

fn skew(minutes: i64) {
    let env = setup("6.9.17");
    env.dx.set_clock_skew(chrono::Duration::minutes(minutes));
    let a = env.add(2, 0, chrono::Duration::minutes(5));
    // Built before the first fetch but inside the settle window: fetched now and again.
    let b = env.add(1, 10, chrono::Duration::seconds(20));
    env.sync(&[]);
    // Built before the first fetch, committed after it.
    let late = env.add(1, 20, chrono::Duration::seconds(30));
    let c = env.add(1, 30, chrono::Duration::zero());
    env.sync(&[]);
    let got: HashSet<String> = env.octi.received_ids().into_iter().collect();
    for id in a.iter().chain(&b).chain(&late).chain(&c) {
        assert!(got.contains(id), "skew {minutes} min: {id} skipped");
    }
    // The stored cursor never passes DISINFOX's clock.
    let cursor = crate::common::ms(env.dx.server_now());
    assert!(env.state()["last_fetch"].as_str().unwrap() < cursor.as_str());
    assert_nothing_dropped(&env.octi);
}

#[test]
fn disinfox_clock_behind_skips_nothing() {
    skew(-10);
}

#[test]
fn disinfox_clock_ahead_skips_nothing() {
    skew(10);
}

#[test]
fn future_dated_object_does_not_move_the_cursor_past_the_server_clock() {
    let env = setup("6.9.17");
    env.add(1, 0, chrono::Duration::hours(-24));
    env.sync(&[]);
    let cursor = env.state()["last_fetch"].as_str().unwrap().to_owned();
    assert!(cursor < crate::common::ms(env.dx.server_now()), "{cursor}");
    assert_nothing_dropped(&env.octi);
}

#[test]
fn ui_reset_before_a_run_starts_from_the_beginning() {
    let env = setup("6.9.17");
    env.add(1, 0, chrono::Duration::minutes(10));
    env.sync(&[]);
    env.octi.ui_reset(CONNECTOR_ID);
    env.octi.clear_history();
    env.sync(&[]);
    assert_eq!(env.last_newer_than(), "1970-01-01T00:00:00.000000Z");
    assert!(!env.octi.received_ids().is_empty());
    assert!(
        env.state()["last_fetch"].is_string(),
        "state after the re-ping: {}",
        env.state()
    );
    assert_nothing_dropped(&env.octi);
}

#[test]
fn ui_reset_during_a_run_is_honoured() {
    // 6.9.17 compares the reset stamp; 6.5.7 has none and reads the reset flag.
    for version in ["6.9.17", "6.5.7"] {
        let env = setup(version);
        env.add(1, 0, chrono::Duration::minutes(10));
        env.sync(&[]);
        env.add(2, 10, chrono::Duration::minutes(5));
        env.octi.clear_history();
        env.octi.reset_after_pushes(CONNECTOR_ID, 1);
        let out = env
            .cmd()
            .args(["sync", "--json"])
            .assert()
            .code(75)
            .stderr(contains("reset").and(contains("next run starts from the beginning")))
            .get_output()
            .stdout
            .clone();
        let s: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(s["cursor_after"], s["cursor_before"], "{version}: {s}");
        // The run reads the connector again before its last write and writes nothing.
        let pings = env.octi.pings();
        assert!(pings.iter().all(|p| !p.applied), "{version}: {pings:?}");
        assert_eq!(
            env.octi.state(CONNECTOR_ID).as_deref(),
            Some(""),
            "{version}"
        );
        env.sync(&[]);
        assert_eq!(
            env.last_newer_than(),
            "1970-01-01T00:00:00.000000Z",
            "{version}"
        );
        assert!(env.state()["last_fetch"].is_string());
        // The reset purged what that run had queued; the run after it imported it again.
        assert_all_imported(&env.octi);
    }
}

#[test]
fn python_connector_state_is_carried_over() {
    let env = setup("6.9.17");
    env.octi.set_state(
        CONNECTOR_ID,
        r#"{"last_fetch": "2026-11-27T21:52:27.151992+00:00Z", "last_run": "2026-11-27 21:52:27"}"#,
    );
    env.sync(&[]);
    assert_eq!(env.last_newer_than(), "2026-11-27T21:52:27.151992Z");
    env.octi
        .set_state(CONNECTOR_ID, r#"{"last_fetch": "2025-01-05T10:00:00.5ZZ"}"#);
    env.sync(&[]);
    assert_eq!(env.last_newer_than(), "2025-01-05T10:00:00.500000Z");
    assert_nothing_dropped(&env.octi);
}

#[test]
fn invalid_state_json_is_a_configuration_error_reset_state_fixes() {
    let env = setup("6.9.17");
    env.octi.set_state(CONNECTOR_ID, "{broken");
    env.cmd()
        .arg("sync")
        .assert()
        .code(78)
        .stderr(contains("not JSON").and(contains("reset-state")));
    assert!(
        env.dx.requests().is_empty(),
        "nothing fetched on a corrupt state"
    );
    env.cmd().arg("reset-state").assert().success();
    env.cmd().arg("sync").assert().success();
    assert_eq!(env.last_newer_than(), "1970-01-01T00:00:00.000000Z");
    assert_nothing_dropped(&env.octi);
}

#[test]
fn concurrent_runs_on_one_state_file() {
    let env = setup("6.9.17");
    env.add(5, 0, chrono::Duration::minutes(10));
    let state = env.home.path().join("state.json");
    env.octi.set_fault(Fault::SlowPush {
        delay: Duration::from_secs(3),
    });
    let mut first = env.spawn(&["sync", "--state-file", state.to_str().unwrap()]);
    env.wait_for_a_push();
    env.cmd()
        .args(["sync", "--state-file", state.to_str().unwrap()])
        .assert()
        .code(75)
        .stderr(contains("another run holds the lock"));
    assert!(first.wait().unwrap().success());
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert!(saved["last_fetch"].is_string());
    assert!(
        env.octi.state(CONNECTOR_ID).unwrap_or_default().is_empty(),
        "file backend must not touch OpenCTI state"
    );
}

#[test]
fn queue_above_threshold_defers_the_run() {
    let env = setup("6.9.17");
    env.add(1, 0, chrono::Duration::minutes(10));
    env.octi.set_queue_size(CONNECTOR_ID, 600_000_000);
    // Reading the queue needs MODULES; without it the check is skipped with a warning.
    env.octi
        .set_capabilities(["CONNECTORAPI", "KNOWLEDGE_KNUPDATE"]);
    env.cmd()
        .args(["sync", "--dry-run"])
        .assert()
        .success()
        .stderr(contains("skipping the queue check"));
    // The built-in "Connector" role has it.
    env.octi
        .set_capabilities(crate::common::CONNECTOR_ROLE.iter().copied());
    let s = env.sync(&[]);
    assert_eq!(s["status"], "deferred");
    let info = env.octi.connector_info(CONNECTOR_ID).unwrap();
    assert_eq!(info["buffering"], true, "{info}");
    env.dx.clear_requests();
    env.sync(&[]);
    assert!(env.dx.requests().is_empty() && env.octi.received_ids().is_empty());
    assert!(
        env.octi.state(CONNECTOR_ID).unwrap_or_default().is_empty(),
        "a deferred run must leave the state alone"
    );
    // 7.260510.0: a queue under the threshold does not hold a run back.
    let env = setup("7.260510.0");
    env.add(1, 0, chrono::Duration::minutes(10));
    env.octi.set_queue_size(CONNECTOR_ID, 600_000_000);
    let s = env.sync(&["--queue-threshold", "1000"]);
    assert_eq!(s["status"], "imported");
}

#[test]
fn a_queue_still_holding_messages_defers_the_run_before_7_260510() {
    for (version, deferred) in [
        ("6.9.17", true),
        ("7.260507.0", true),
        ("7.260510.0", false),
    ] {
        let env = setup(version);
        env.add(1, 0, chrono::Duration::minutes(10));
        env.octi.set_queue(CONNECTOR_ID, 2, 2_000);
        let out = env
            .cmd()
            .args(["sync", "--json"])
            .assert()
            .success()
            .get_output()
            .clone();
        let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if deferred {
            assert_eq!(s["status"], "deferred", "{version}");
            assert!(stderr.contains("2 message(s)"), "{version}: {stderr}");
            assert!(env.octi.pushes().is_empty() && env.octi.works().is_empty());
            assert!(env.dx.requests().is_empty(), "{version}: nothing fetched");
            let pings = env.octi.pings();
            assert_eq!(pings.len(), 1, "{version}");
            assert_eq!(pings[0].connector_info.as_ref().unwrap()["buffering"], true);
            assert_eq!(env.octi.state(CONNECTOR_ID).unwrap_or_default(), "");
        } else {
            assert_eq!(s["status"], "imported", "{version}");
        }
    }
}

#[test]
fn dry_run_changes_nothing() {
    let env = setup("6.9.17");
    env.add(3, 0, chrono::Duration::minutes(10));
    env.octi.set_state(
        CONNECTOR_ID,
        r#"{"last_fetch":"2020-01-01T00:00:00.000000Z"}"#,
    );
    let s = env.sync(&["--dry-run"]);
    assert_eq!(s["status"], "dry-run");
    assert!(s["cursor_after"].as_str().unwrap() > "2020");
    assert!(env.octi.received_ids().is_empty());
    assert_eq!(
        env.octi.state(CONNECTOR_ID).as_deref(),
        Some(r#"{"last_fetch":"2020-01-01T00:00:00.000000Z"}"#)
    );
    assert!(env.octi.works().is_empty());
}

#[test]
fn reset_state_on_both_backends() {
    let env = setup("6.9.17");
    env.add(1, 0, chrono::Duration::minutes(10));
    env.sync(&[]);
    env.cmd()
        .args(["reset-state", "--to", "2026-11-01"])
        .assert()
        .success()
        .stdout(contains("before:").and(contains("2026-11-01T00:00:00.000000Z")));
    assert_eq!(env.state()["last_fetch"], "2026-11-01T00:00:00.000000Z");
    env.cmd().arg("reset-state").assert().success();
    assert!(env.state().get("last_fetch").is_none(), "{}", env.state());
    env.sync(&[]);
    assert_eq!(env.last_newer_than(), "1970-01-01T00:00:00.000000Z");

    let file = env.home.path().join("st/state.json");
    let f = file.to_str().unwrap();
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "{corrupt").unwrap();
    env.cmd()
        .args(["sync", "--state-file", f])
        .assert()
        .code(78)
        .stderr(contains("reset-state"));
    let mut c = cli(env.home.path());
    c.args(["reset-state", "--state-file", f, "--to", "36h"])
        .assert()
        .success()
        .stdout(contains("{corrupt"));
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(saved["last_fetch"].is_string());
    let mut c = cli(env.home.path());
    c.args(["reset-state", "--state-file", f])
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), "{}");
    let mut c = cli(env.home.path());
    c.args(["reset-state", "--state-file", f, "--to", "soon"])
        .assert()
        .code(2);
}

#[test]
fn connector_info_only_where_the_platform_has_it() {
    for (version, has_it) in [("6.2.6", false), ("6.2.12", true)] {
        let env = setup(version);
        env.add(1, 0, chrono::Duration::minutes(10));
        env.cmd()
            .env("CONNECTOR_DURATION_PERIOD", "PT1H")
            .arg("sync")
            .assert()
            .success();
        let sent = env.octi.pings().iter().any(|p| p.connector_info.is_some());
        assert_eq!(sent, has_it, "{version}");
        if has_it {
            let info = env.octi.connector_info(CONNECTOR_ID).unwrap();
            assert_eq!(info["run_and_terminate"], true);
            let (next, last) = (&info["next_run_datetime"], &info["last_run_datetime"]);
            assert!(next.as_str().unwrap() > last.as_str().unwrap(), "{info}");
        }
    }
}

#[test]
fn disinfox_down_is_temporary_and_keeps_state() {
    let env = setup("6.9.17");
    env.octi.set_state(
        CONNECTOR_ID,
        r#"{"last_fetch":"2026-01-01T00:00:00.000000Z"}"#,
    );
    env.dx.set_fault(DxFault::Html500 { times: 10 });
    env.cmd().args(["sync", "--retries", "1"]).assert().code(75);
    assert_eq!(env.state()["last_fetch"], "2026-01-01T00:00:00.000000Z");
}

#[test]
fn wait_follows_the_work_before_storing_the_cursor() {
    for version in ["6.9.17", "7.260422.0", "7.260510.0"] {
        let env = setup(version);
        env.add(3, 0, chrono::Duration::minutes(10));
        let s = env.sync(&["--wait=30s", "--chunk-size", "16K"]);
        assert_eq!(s["status"], "imported", "{version}: {s}");
        assert_eq!(s["imported"], 16, "{version}: {s}");
        assert_eq!(s["import_failed"], 0, "{version}: {s}");
        assert!(env.state()["last_fetch"].is_string(), "{version}");
        let ops: Vec<String> = env
            .octi
            .requests()
            .iter()
            .filter_map(|r| r.operation_name.clone())
            .collect();
        let read = ops.iter().position(|o| o == "WorkStatus").unwrap();
        let ping = ops.iter().rposition(|o| o.starts_with("Ping")).unwrap();
        assert!(
            read < ping,
            "{version}: the cursor is stored after the work completes: {ops:?}"
        );
        assert_nothing_dropped(&env.octi);
    }
}

#[test]
fn wait_refused_where_there_are_no_works_or_no_modules() {
    let env = setup("6.2.12");
    env.add(1, 0, chrono::Duration::minutes(10));
    env.cmd()
        .args(["sync", "--wait"])
        .assert()
        .code(69)
        .stderr(contains("6.5.7"));
    let env = setup("6.9.17");
    env.add(1, 0, chrono::Duration::minutes(10));
    env.octi
        .set_capabilities(["CONNECTORAPI", "KNOWLEDGE_KNUPDATE"]);
    env.cmd()
        .args(["sync", "--wait=1m"])
        .assert()
        .code(77)
        .stderr(contains("MODULES"));
    assert!(env.octi.pushes().is_empty());
    env.cmd().args(["sync", "--wait", "1m"]).assert().code(2);
}

#[test]
fn dry_run_with_wait_changes_nothing() {
    let env = setup("7.260510.0");
    env.add(2, 0, chrono::Duration::minutes(10));
    let s = env.sync(&["--dry-run", "--wait"]);
    assert_eq!(s["status"], "dry-run");
    assert!(env.octi.works().is_empty() && env.octi.pushes().is_empty());
    assert!(env.octi.pings().is_empty());
}

/// `sync` against the scripted OpenCTI (works that stay open or report failures).
fn scripted_sync(
    works: Vec<serde_json::Value>,
    queue_messages: u64,
    extra: &[&str],
) -> (crate::push::scripted::Scripted, std::process::Output) {
    let octi = crate::push::scripted::Scripted::start(crate::push::scripted::Script {
        version: "7.260510.0".into(),
        works,
        queue_messages,
        ..Default::default()
    });
    let dx = crate::support::disinfox::DisinfoxStandin::start_default();
    dx.add_objects(incidents(
        3,
        0,
        dx.server_now() - chrono::Duration::minutes(10),
    ));
    let home = tempfile::tempdir().unwrap();
    let out = cli(home.path())
        .env("DISINFOX_URL", dx.endpoint_url())
        .env("DISINFOX_API_KEY", dx.api_key())
        .env("OPENCTI_URL", octi.url())
        .env("OPENCTI_TOKEN", "token")
        .env("CONNECTOR_ID", CONNECTOR_ID)
        .args(["sync", "--json"])
        .args(extra)
        .output()
        .unwrap();
    (octi, out)
}

fn stored_states(octi: &crate::push::scripted::Scripted) -> Vec<String> {
    octi.vars_of("Ping")
        .iter()
        .filter_map(|v| v["state"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn wait_past_its_duration_keeps_the_cursor() {
    use crate::push::scripted::work;
    let (octi, out) = scripted_sync(vec![work("progress", 3, &[])], 0, &["--wait=1s"]);
    assert_eq!(out.status.code(), Some(75));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("still progress") && stderr.contains("--wait"),
        "{stderr}"
    );
    assert!(
        stored_states(&octi).is_empty(),
        "cursor stored: {:?}",
        octi.calls()
    );
    assert!(
        octi.vars_of("WorkStatus").len() >= 2,
        "polled more than once"
    );
}

#[test]
fn objects_opencti_failed_to_import_are_listed_and_the_cursor_moves() {
    use crate::push::scripted::work;
    let (octi, out) = scripted_sync(
        vec![
            work("progress", 4, &[]),
            work(
                "complete",
                16,
                &["Missing reference: identity--x", "Forbidden"],
            ),
        ],
        0,
        &["--wait=1m"],
    );
    assert_eq!(out.status.code(), Some(65));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("could not import 2 object(s)")
            && stderr.contains("Missing reference: identity--x")
            && stderr.contains("cursor moved past them"),
        "{stderr}"
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (s["imported"].clone(), s["import_failed"].clone()),
        (14.into(), 2.into())
    );
    assert_eq!(s["exit_code"], 65);
    let states = stored_states(&octi);
    assert_eq!(states.len(), 1, "{:?}", octi.calls());
    assert!(states[0].contains("last_fetch"), "{states:?}");
}

#[test]
fn a_work_complete_before_every_chunk_was_split_is_waited_for() {
    use crate::push::scripted::work;
    // The first chunk's pieces all reported: OpenCTI says complete while 11 of the 16 pushed
    // objects were not even expected yet.
    let early = serde_json::json!({"id": "work-1", "status": "complete", "completed_number": 5, "errors": [],
        "tracking": {"import_expected_number": 5, "import_processed_number": 5}});
    // The second chunk is still in the queue.
    let (octi, out) = scripted_sync(vec![early, work("complete", 16, &[])], 1, &["--wait=1m"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        octi.vars_of("WorkStatus").len(),
        2,
        "read until every piece is in"
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["imported"], 16, "{s}");
    assert_eq!(stored_states(&octi).len(), 1);
}

#[test]
fn a_complete_work_expecting_fewer_pieces_is_done_once_the_queue_is_empty() {
    // Should the platform count fewer pieces than objects pushed, an empty queue still says
    // that nothing of the run is pending: no wait until the deadline.
    let fewer = serde_json::json!({"id": "work-1", "status": "complete", "completed_number": 15, "errors": [],
        "tracking": {"import_expected_number": 15, "import_processed_number": 15}});
    let (octi, out) = scripted_sync(vec![fewer], 0, &["--wait=1m"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(octi.vars_of("WorkStatus").len(), 1);
    assert_eq!(stored_states(&octi).len(), 1);
}

#[test]
fn a_work_left_in_progress_with_every_piece_processed_is_done() {
    use crate::push::scripted::work;
    // 7.260428.0+: every piece reported before the run's toProcessed; the work stays in
    // progress until the connector manager closes it.
    let (octi, out) = scripted_sync(vec![work("progress", 16, &[])], 1, &["--wait=1m"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(octi.vars_of("WorkStatus").len(), 1);
    assert_eq!(stored_states(&octi).len(), 1);
}
