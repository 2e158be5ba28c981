//! Nothing lost between runs: the cursor moves past data only once OpenCTI reported it
//! imported. A run that pushed without waiting leaves its work in the state; the next run asks
//! `work(id)` what became of it and goes back to where that run started when OpenCTI lost any
//! of it (a "Reset state" purge, a deleted work, pieces that failed for a reason a new push
//! cures), steps aside while it is still being imported, and a run's last write never
//! overwrites a reset made while it ran.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{CONNECTOR_ID, CONNECTOR_ROLE, Peers, incidents, settle};
use crate::support::opencti::{Import, OpenctiOptions, OpenctiStandin};
use crate::support::platform::{AsyncModel, Platform};

const DRAIN: Duration = Duration::from_secs(60);

fn model() -> AsyncModel {
    AsyncModel {
        workers: 3,
        time_scale: 0.005,
        ..AsyncModel::default()
    }
}

/// Peers on the asynchronous platform, whatever `STANDIN_OPENCTI_IMPORT` says.
fn async_peers(version: &str) -> Peers {
    let octi = OpenctiStandin::start(OpenctiOptions {
        import: Import::Async(model()),
        ..OpenctiOptions::version(version)
    });
    octi.set_capabilities(CONNECTOR_ROLE.iter().copied());
    Peers::with_octi(octi)
}

/// `count` incidents modified `ago` before DISINFOX's clock; every object id.
fn add(env: &Peers, count: u64, first: u64, ago: chrono::Duration) -> Vec<String> {
    env.add_incidents(count, first, ago)
}

/// `sync --json` and extra arguments: exit code, summary, stderr.
fn sync(env: &Peers, extra: &[&str]) -> (i32, Value, String) {
    let out = env
        .cmd()
        .args(["sync", "--json"])
        .args(extra)
        .output()
        .unwrap();
    let summary = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), summary, stderr)
}

fn never_imported(p: &Platform, ids: &[String]) -> BTreeSet<String> {
    let imported = p.imported_ids();
    ids.iter()
        .filter(|i| !imported.contains(*i))
        .cloned()
        .collect()
}

fn assert_all_imported(p: &Platform, ids: &[String], what: &str) {
    assert!(
        p.wait_drained(DRAIN),
        "{what}: never drained: {}",
        p.summary()
    );
    let lost = never_imported(p, ids);
    assert!(
        lost.is_empty(),
        "{what}: {} of {} DISINFOX objects never imported, e.g. {:?}: {}",
        lost.len(),
        ids.len(),
        lost.first(),
        p.summary()
    );
}

fn state_file(env: &Peers) -> String {
    env.home
        .path()
        .join("state.json")
        .to_str()
        .unwrap()
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// A "Reset state" while a run's chunks are still queued, with the cursor in a local file.

#[test]
fn reset_while_queued_the_next_run_fetches_the_purged_objects_again() {
    // 6.9.17 and 7.260510.0 compare the reset stamp; 6.5.7 has none and reads the reset flag.
    // Taken before the reset: none, or the first messages (chunks split, a few pieces
    // imported), as when the button is pressed while the workers are busy.
    for (version, taken) in [
        ("6.9.17", 0),
        ("6.9.17", 40),
        ("7.260510.0", 40),
        ("6.5.7", 0),
    ] {
        let env = async_peers(version);
        let p = env.octi.platform();
        let file = state_file(&env);
        let all = add(&env, 400, 0, chrono::Duration::minutes(30));
        p.pause();
        let (code, s, _) = sync(&env, &["--state-file", &file, "--chunk-size", "64K"]);
        assert_eq!(
            (code, &s["status"]),
            (0, &json!("imported")),
            "{version}: {s}"
        );
        p.pause_after(taken);
        assert!(p.wait_idle(DRAIN));
        env.octi.ui_reset(CONNECTOR_ID);
        p.resume();
        assert!(p.wait_drained(DRAIN));
        let purged = never_imported(p, &all).len();
        eprintln!(
            "{version}, {taken} message(s) taken: the reset purged {purged} of {} objects before the next run",
            all.len()
        );
        assert!(purged > 0, "{version}: nothing was purged: {}", p.summary());
        let (code, s, stderr) = sync(&env, &["--state-file", &file, "--chunk-size", "64K"]);
        assert_eq!(
            (code, &s["status"]),
            (0, &json!("imported")),
            "{version}: {s}\n{stderr}"
        );
        assert!(
            stderr.contains("was reset since") && stderr.contains("the cursor goes back"),
            "{version}: {stderr}"
        );
        assert_all_imported(p, &all, version);
    }
}

// ---------------------------------------------------------------------------------------------
// The previous run's work decides whether a run may start, not the queue statistics.

#[test]
fn a_blind_management_api_does_not_hide_a_queued_run() {
    for version in ["6.9.17", "7.260507.0"] {
        let env = async_peers(version);
        let p = env.octi.platform();
        env.octi.blind_queue_details();
        let mut all = add(&env, 20, 0, chrono::Duration::minutes(30));
        p.pause();
        let (code, s, _) = sync(&env, &["--chunk-size", "12K"]);
        assert_eq!((code, &s["status"]), (0, &json!("imported")), "{s}");
        let pushed = env.octi.pushes().len();
        all.extend(add(&env, 5, 100, chrono::Duration::minutes(10)));
        let (code, s, stderr) = sync(&env, &["--chunk-size", "12K"]);
        assert_eq!(
            (code, &s["status"]),
            (0, &json!("deferred")),
            "{version}: {s}"
        );
        assert!(
            stderr.contains("still importing an earlier run"),
            "{stderr}"
        );
        assert_eq!(
            env.octi.pushes().len(),
            pushed,
            "{version}: a deferred run pushed"
        );
        p.resume();
        p.run_connector_manager();
        assert!(p.wait_drained(DRAIN));
        let (code, s, _) = sync(&env, &["--chunk-size", "12K"]);
        assert_eq!(
            (code, &s["status"]),
            (0, &json!("imported")),
            "{version}: {s}"
        );
        assert_all_imported(p, &all, version);
        assert!(p.dropped().is_empty(), "{version}: {}", p.summary());
    }
}

#[test]
fn a_deleted_work_rolls_the_cursor_back() {
    let env = Peers::start("6.9.17");
    let ids = add(&env, 3, 0, chrono::Duration::minutes(10));
    let (code, s, _) = sync(&env, &[]);
    assert_eq!((code, &s["status"]), (0, &json!("imported")), "{s}");
    settle(&env.octi);
    let work = s["work_id"].as_str().unwrap().to_owned();
    env.octi.delete_work(&work);
    env.octi.clear_history();
    let (code, s, stderr) = sync(&env, &[]);
    assert_eq!(
        (code, &s["status"]),
        (0, &json!("imported")),
        "{s}\n{stderr}"
    );
    assert!(stderr.contains("is gone from OpenCTI"), "{stderr}");
    let again: BTreeSet<String> = env.octi.received_ids().into_iter().collect();
    assert!(ids.iter().all(|i| again.contains(i)), "not pushed again");
    // Confirmed now: the run after it fetches nothing.
    settle(&env.octi);
    let (code, s, _) = sync(&env, &[]);
    assert_eq!((code, &s["status"]), (0, &json!("up-to-date")), "{s}");
}

// ---------------------------------------------------------------------------------------------
// Failures a new push cures (a lock, a reference still queued) never move the cursor past
// their objects.

/// Peers on either model.
fn peers_on(version: &str, on_async: bool) -> Peers {
    match on_async {
        true => async_peers(version),
        false => Peers::start(version),
    }
}

/// Whether the platform holds `id` now: imported (asynchronous model), or pushed since the
/// last `clear_history` with nothing failing it (instant model).
fn holds(env: &Peers, id: &str) -> bool {
    match env.octi.async_platform() {
        Some(p) => {
            assert!(p.wait_drained(DRAIN));
            p.is_imported(id)
        }
        None => env.octi.received_ids().iter().any(|i| i == id),
    }
}

#[test]
fn wait_stops_the_cursor_before_an_object_that_failed_for_now() {
    for (version, code, on_async) in [
        ("6.9.17", "LOCK_ERROR", true),
        ("7.260510.0", "MISSING_REFERENCE_ERROR", true),
        ("6.9.17", "MISSING_REFERENCE_ERROR", false),
        ("7.260510.0", "LOCK_ERROR", false),
    ] {
        let what = format!("{version} {code} async={on_async}");
        let env = peers_on(version, on_async);
        add(&env, 3, 0, chrono::Duration::minutes(30));
        let last = env.dx.server_now() - chrono::Duration::minutes(10);
        let newer = add(&env, 3, 100, chrono::Duration::minutes(10));
        let victim = &newer[0];
        env.octi.fail_next_import(victim, code);
        let (exit, s, stderr) = sync(&env, &["--wait=30s"]);
        assert_eq!(exit, 75, "{what}: {s}\n{stderr}");
        assert!(stderr.contains("the cursor stops before them"), "{stderr}");
        let cursor = s["cursor_after"].as_str().unwrap().to_owned();
        let stored: Value = serde_json::from_str(&env.octi.state(CONNECTOR_ID).unwrap()).unwrap();
        assert_eq!(stored["last_fetch"], json!(cursor), "{what}");
        // The failed object was built 2 s before `last` (its incident is the first of three).
        let at = chrono::DateTime::parse_from_rfc3339(&cursor)
            .unwrap()
            .to_utc();
        assert!(
            at < last - chrono::Duration::seconds(1),
            "{what}: the cursor passed the failed object: {s}"
        );
        assert!(
            at > last - chrono::Duration::minutes(5),
            "{what}: the objects before the failed one still move the cursor: {s}"
        );
        settle(&env.octi);
        env.octi.clear_history();
        let (exit, s, stderr) = sync(&env, &["--wait=30s"]);
        assert_eq!(
            (exit, &s["status"]),
            (0, &json!("imported")),
            "{what}: {s}\n{stderr}"
        );
        assert!(holds(&env, victim), "{what}: never imported");
    }
}

#[test]
fn without_wait_the_next_run_pushes_what_failed_for_now_again() {
    for on_async in [true, false] {
        let env = peers_on("6.9.17", on_async);
        let ids = add(&env, 3, 0, chrono::Duration::minutes(10));
        env.octi.fail_next_import(&ids[1], "LOCK_ERROR");
        let (code, s, _) = sync(&env, &[]);
        assert_eq!((code, &s["status"]), (0, &json!("imported")), "{s}");
        settle(&env.octi);
        assert!(!holds(&env, &ids[1]) || !on_async);
        env.octi.clear_history();
        let (code, s, stderr) = sync(&env, &[]);
        assert_eq!(
            (code, &s["status"]),
            (0, &json!("imported")),
            "{s}\n{stderr}"
        );
        assert!(stderr.contains("could not import yet"), "{stderr}");
        assert!(holds(&env, &ids[1]), "async={on_async}: never imported");
    }
}

// ---------------------------------------------------------------------------------------------
// A one-object chunk: the platform gives it no expectation when the client made the work.

fn one_object_bundle() -> String {
    let at = crate::common::ms(chrono::Utc::now() - chrono::Duration::minutes(5));
    json!({"type": "bundle", "id": "bundle--1b1c1d1e-0000-4000-8000-000000000001", "objects": [
        {"type": "intrusion-set", "spec_version": "2.1",
         "id": "intrusion-set--1b1c1d1e-0000-4000-8000-000000000002",
         "created": at, "modified": at, "name": "A single object"}]})
    .to_string()
}

#[test]
fn push_wait_of_a_one_object_bundle_completes() {
    for (version, on_async) in [
        ("6.9.17", false),
        ("7.260510.0", false),
        ("6.9.17", true),
        ("7.260510.0", true),
    ] {
        let env = if on_async {
            async_peers(version)
        } else {
            Peers::start(version)
        };
        let file = env.home.path().join("one.json");
        std::fs::write(&file, one_object_bundle()).unwrap();
        let out = env
            .cmd()
            .args(["push", "--json", "--wait=10s", "--file"])
            .arg(&file)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{version} async={on_async}: {stderr}"
        );
        let s: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(s["imported"], 1, "{version}: {s}");
    }
}

// ---------------------------------------------------------------------------------------------
// A reset made during a run, with the state in OpenCTI.

#[test]
fn reset_state_during_a_sync_is_kept() {
    let env = Peers::start("6.9.17");
    add(&env, 1, 0, chrono::Duration::minutes(30));
    let (code, s, _) = sync(&env, &[]);
    assert_eq!(code, 0, "{s}");
    settle(&env.octi);
    add(&env, 30, 10, chrono::Duration::minutes(10));
    // What `reset-state` pings while the run pushes its chunks.
    let reset = r#"{"last_run":1795816302}"#;
    env.octi.ping_state_after_pushes(CONNECTOR_ID, 1, reset);
    let (code, s, stderr) = sync(&env, &["--chunk-size", "12K"]);
    assert!(env.octi.pushes().len() >= 2, "{s}");
    assert_eq!(code, 75, "{s}\n{stderr}");
    let line: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("was reset during this run"))
        .collect();
    assert_eq!(line.len(), 1, "{stderr}");
    assert!(
        line[0].contains("next run starts from the beginning"),
        "{stderr}"
    );
    assert_eq!(env.octi.state(CONNECTOR_ID).as_deref(), Some(reset));
    assert_eq!(s["cursor_after"], s["cursor_before"], "{s}");
}

/// From 7.260510.0 a run goes on while an earlier one is still being imported; that earlier
/// run's work stays in the state until a later run saw it through, even when the run in
/// between waited for its own.
#[test]
fn an_unchecked_earlier_run_stays_recorded_through_a_waiting_run() {
    let env = async_peers("7.260510.0");
    let p = env.octi.platform();
    let mut all = add(&env, 10, 0, chrono::Duration::minutes(30));
    p.pause();
    let (code, s, _) = sync(&env, &["--chunk-size", "12K"]);
    assert_eq!((code, &s["status"]), (0, &json!("imported")), "{s}");
    let first_work = s["work_id"].as_str().unwrap().to_owned();
    all.extend(add(&env, 3, 100, chrono::Duration::minutes(10)));
    let pushed = env.octi.pushes().len();
    let (code, s, stderr) = std::thread::scope(|scope| {
        let waker = scope.spawn(|| {
            let deadline = std::time::Instant::now() + DRAIN;
            while p.push_count() <= pushed && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            p.resume();
        });
        let out = sync(&env, &["--chunk-size", "12K", "--wait=30s"]);
        waker.join().unwrap();
        out
    });
    assert_eq!(
        (code, &s["status"]),
        (0, &json!("imported")),
        "{s}\n{stderr}"
    );
    assert!(p.wait_drained(DRAIN));
    // The first run's work is lost after all (deleted): the next run goes back for it.
    env.octi.delete_work(&first_work);
    let (code, s, stderr) = sync(&env, &["--chunk-size", "12K"]);
    assert_eq!(
        (code, &s["status"]),
        (0, &json!("imported")),
        "{s}\n{stderr}"
    );
    assert!(stderr.contains("is gone from OpenCTI"), "{stderr}");
    assert_all_imported(p, &all, "7.260510.0");
}

/// Another producer's push (no `work_id`: the server makes its work) to the same connector.
fn foreign_push(octi: &OpenctiStandin, objects: &[String]) {
    let refs: Vec<&str> = objects.iter().map(String::as_str).collect();
    let body: Value = crate::common::http_client()
        .build()
        .unwrap()
        .post(octi.graphql_url())
        .bearer_auth(octi.token())
        .json(&json!({
            "query": "mutation P($c: String!, $b: String!) { stixBundlePush(connectorId: $c, bundle: $b) }",
            "variables": {"c": CONNECTOR_ID, "b": crate::support::disinfox::render_bundle(&refs)},
        }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(body["data"]["stixBundlePush"], true, "{body}");
}

/// Up to 7.260507.0 the connector manager completes an older work, and deletes its key, once
/// a newer work of the connector reported: the workers then drop its queued pieces, and the
/// work reads "complete" with fewer objects processed than the run pushed. No reset is
/// involved; the next run goes back all the same.
#[test]
fn a_work_completed_with_objects_missing_rolls_the_cursor_back() {
    let env = async_peers("6.9.17");
    let p = env.octi.platform();
    let file = state_file(&env);
    let all = add(&env, 20, 0, chrono::Duration::minutes(30));
    p.pause();
    let (code, s, _) = sync(&env, &["--state-file", &file, "--chunk-size", "12K"]);
    assert_eq!((code, &s["status"]), (0, &json!("imported")), "{s}");
    let chunks = s["chunks"].as_u64().unwrap() as usize;
    let other = incidents(1, 900, env.dx.server_now() - chrono::Duration::minutes(1));
    foreign_push(&env.octi, &other[..1]);
    // Every chunk of the run is split (its pieces queued behind the other push), then the
    // other push's piece is imported and reports.
    p.pause_after(chunks + 1);
    assert!(p.wait_idle(DRAIN));
    p.run_connector_manager();
    p.resume();
    assert!(p.wait_drained(DRAIN));
    let lost = never_imported(p, &all).len();
    assert!(lost > 0, "nothing dropped: {}", p.summary());
    eprintln!("dropped after closeOldWorks: {lost} of {}", all.len());
    let (code, s, stderr) = sync(&env, &["--state-file", &file, "--chunk-size", "12K"]);
    assert_eq!(
        (code, &s["status"]),
        (0, &json!("imported")),
        "{s}\n{stderr}"
    );
    assert!(stderr.contains("OpenCTI dropped the rest"), "{stderr}");
    assert_all_imported(p, &all, "6.9.17");
}
