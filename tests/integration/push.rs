//! `push` against the OpenCTI stand-in on every supported version gate.

use std::collections::HashSet;

use chrono::Utc;
use predicates::prelude::*;
use predicates::str::contains;
use serde_json::Value;

use crate::common::{
    CONNECTOR_ID, assert_dependency_order, assert_nothing_dropped, bundle_of, cli, ids, settle,
};
use crate::support::opencti::{Fault, OpenctiOptions, OpenctiStandin, PushFailure};

const DISINFOX_IDENTITY: &str = "identity--9ac61d58-60f0-40b8-8b96-2f1f4858534b";

pub struct Env {
    pub home: tempfile::TempDir,
    pub octi: OpenctiStandin,
}

pub fn setup(opts: OpenctiOptions) -> Env {
    Env {
        home: tempfile::tempdir().unwrap(),
        octi: crate::common::opencti_as_connector(opts),
    }
}

impl Env {
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut c = cli(self.home.path());
        c.env("OPENCTI_URL", self.octi.url())
            .env("OPENCTI_TOKEN", self.octi.token())
            .env("CONNECTOR_ID", CONNECTOR_ID);
        c
    }

    fn write(&self, name: &str, text: &str) -> String {
        let p = self.home.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    }
}

#[test]
fn imports_in_dependency_order_on_every_gate() {
    for version in [
        "6.2.6",
        "6.2.12",
        "6.5.7",
        "6.9.17",
        "7.260422.0",
        "7.260510.0",
        "7.260309.0-lts1",
    ] {
        let env = setup(OpenctiOptions::version(version));
        let bundle = bundle_of(40, Utc::now());
        let file = env.write("b.json", &bundle);
        env.cmd()
            .args(["push", "--file", &file, "--chunk-size", "16K"])
            .assert()
            .success();
        assert_nothing_dropped(&env.octi);
        let received = env.octi.received_objects();
        let got: HashSet<String> = env.octi.received_ids().into_iter().collect();
        let mut want: HashSet<String> = ids(bundle.as_bytes()).into_iter().collect();
        want.insert(DISINFOX_IDENTITY.to_owned());
        assert_eq!(
            got, want,
            "{version}: union of chunks = input + completions"
        );
        // Shared objects (the identity) travel with every chunk that references them.
        assert!(
            received.len() >= want.len(),
            "{version}: an object is missing"
        );
        assert_chunks_self_contained(&env.octi, &want);
        assert_dependency_order(&received);
        let pushes = env.octi.pushes();
        assert!(pushes.len() > 1, "{version}: expected several chunks");
        assert!(
            pushes.iter().all(|p| p.bytes <= 16 * 1024),
            "{version}: a chunk exceeds the limit"
        );
        assert_work_calls(&env.octi, version, &[]);
        if version == "6.2.6" {
            assert!(
                env.octi.requests().iter().all(|r| r.error_codes.is_empty()),
                "no request may fail validation"
            );
        }
    }
}

#[test]
fn old_platform_is_refused_by_the_probe() {
    let env = setup(OpenctiOptions::version("6.0.0"));
    let file = env.write("b.json", &bundle_of(1, Utc::now()));
    env.cmd()
        .args(["push", "--file", &file])
        .assert()
        .code(69)
        .stderr(contains("6.2.6"));
    let ops: Vec<String> = env
        .octi
        .requests()
        .iter()
        .map(|r| r.operation_name.clone().unwrap_or_default())
        .collect();
    assert_eq!(ops, vec!["Probe"]);
}

#[test]
fn credentials_and_capabilities() {
    // 6.2.6 answers errors in the Apollo 3 shape (`name` at the top level), 6.9 in Apollo 4's.
    for version in ["6.2.6", "6.9.17"] {
        let env = setup(OpenctiOptions::version(version));
        let file = env.write("b.json", &bundle_of(1, Utc::now()));
        env.cmd()
            .env("OPENCTI_TOKEN", "wrong")
            .args(["push", "--file", &file])
            .assert()
            .code(77)
            .stderr(contains("AUTH_REQUIRED").and(contains("OPENCTI_TOKEN")));
        env.octi.set_capabilities(["KNOWLEDGE"]);
        env.cmd()
            .args(["push", "--file", &file])
            .assert()
            .code(77)
            .stderr(contains("\"Connector\" role"));
        env.octi.set_capabilities(["BYPASS"]);
        env.cmd().args(["push", "--file", &file]).assert().success();
    }
}

#[test]
fn bad_input_files() {
    let env = setup(OpenctiOptions::default());
    env.cmd()
        .args(["push", "--file", "/nonexistent/bundle.json"])
        .assert()
        .code(66);
    let bad = env.write(
        "bad.json",
        "{\"type\":\"bundle\",\"objects\":[{\"type\":\"x\"}]}",
    );
    env.cmd()
        .args(["push", "--file", &bad])
        .assert()
        .code(65)
        .stderr(contains("objects[0]"));
    let not_json = env.write("nj.json", "hello");
    env.cmd()
        .args(["push", "--file", &not_json])
        .assert()
        .code(65)
        .stderr(contains("not valid JSON"));
    let empty = env.write("empty.json", "{\"type\":\"bundle\",\"id\":\"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d\",\"objects\":[]}");
    env.cmd()
        .args(["push", "--file", &empty])
        .assert()
        .success()
        .stderr(contains("nothing to push"));
    assert!(
        env.octi.requests().is_empty(),
        "nothing may reach OpenCTI for bad or empty input"
    );
}

#[test]
fn dry_run_contacts_nobody() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("b.json");
    std::fs::write(&file, bundle_of(20, Utc::now())).unwrap();
    cli(home.path())
        .args([
            "push",
            "--dry-run",
            "--chunk-size",
            "8K",
            "--file",
            file.to_str().unwrap(),
        ])
        .assert()
        .success()
        .stderr(
            contains("chunk 1/")
                .and(contains("dry run"))
                .and(contains("well-known")),
        );
}

/// `push` stages its input on disk as it reads it, as `sync` does: where `TMPDIR` cannot hold
/// it, the run stops with 74 before it contacts anyone, naming the bundle and `TMPDIR`.
#[test]
fn the_bundle_is_staged_in_tmpdir() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("b.json");
    std::fs::write(&file, bundle_of(20, Utc::now())).unwrap();
    let args = ["push", "--dry-run", "--file", file.to_str().unwrap()];
    cli(home.path())
        .env("TMPDIR", home.path().join("missing"))
        .args(args)
        .assert()
        .code(74)
        .stderr(contains("for the bundle").and(contains("TMPDIR")));
    cli(home.path())
        .env("TMPDIR", home.path())
        .args(args)
        .assert()
        .success()
        .stderr(contains("staging the bundle ("));
    // Nothing is left behind in TMPDIR: the files never had a name.
    let left: Vec<_> = std::fs::read_dir(home.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("b.json")]);
}

#[test]
fn too_large_for_the_server_is_78() {
    let env = setup(OpenctiOptions {
        body_limit: 20_000,
        ..Default::default()
    });
    let file = env.write("b.json", &bundle_of(40, Utc::now()));
    env.cmd()
        .args(["push", "--file", &file])
        .assert()
        .code(78)
        .stderr(contains("--chunk-size").and(contains("APP__MAX_PAYLOAD_BODY_SIZE")));
    let works = env.octi.works();
    assert!(
        works.iter().all(|w| w.closed),
        "work left open after a failure"
    );
}

#[test]
fn failure_midway_closes_the_work_in_error() {
    let env = setup(OpenctiOptions::version("6.9.17"));
    let file = env.write("b.json", &bundle_of(40, Utc::now()));
    env.octi.set_fault(Fault::FailPushAfter {
        ok_pushes: 1,
        status_or_code: PushFailure::Http(503),
    });
    env.cmd()
        .args([
            "push",
            "--file",
            &file,
            "--chunk-size",
            "16K",
            "--retries",
            "1",
        ])
        .assert()
        .code(75);
    let work = env
        .octi
        .works()
        .into_iter()
        .find(|w| !w.created_by_push)
        .unwrap();
    assert!(work.closed && work.in_error, "{work:?}");
    // The next run comes once the platform is done with this one, as the next cron run would
    // (before 7.260510.0 a run refuses to start while an earlier run's messages are queued).
    settle(&env.octi);
    env.octi.set_fault(Fault::TooMany {
        times: 2,
        retry_after: Some(0),
    });
    env.cmd()
        .args(["push", "--file", &file, "--chunk-size", "16K"])
        .assert()
        .success();
}

#[test]
fn pipeline_and_json_summary() {
    let env = setup(OpenctiOptions::default());
    let dx = crate::support::disinfox::DisinfoxStandin::start_default();
    dx.add_objects(crate::common::incidents(3, 0, Utc::now()));
    let script = format!(
        "set -o pipefail; '{bin}' fetch --since all | '{bin}' push --json",
        bin = crate::common::bin_path().display()
    );
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .env_clear()
        .env("HOME", env.home.path())
        .env("DISINFOX_URL", dx.endpoint_url())
        .env("DISINFOX_API_KEY", dx.api_key())
        .env("OPENCTI_URL", env.octi.url())
        .env("OPENCTI_TOKEN", env.octi.token())
        .env("CONNECTOR_ID", CONNECTOR_ID)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["status"], "imported");
    assert_eq!(summary["objects_total"], 16);
    assert_eq!(summary["objects"]["relationship"], 6);
    assert!(summary["work_id"].is_string() && summary["duration_seconds"].is_number());
    assert_eq!(env.octi.received_ids().len(), 16);
    assert_nothing_dropped(&env.octi);
}

#[test]
fn unexpected_answers_and_usage() {
    let env = setup(OpenctiOptions::default());
    let file = env.write("b.json", &bundle_of(1, Utc::now()));
    // Something that is not OpenCTI (a login page in front of it, say).
    let portal = crate::support::http::Server::start(|_req: &crate::support::http::Request| {
        crate::support::http::Response::html(200, "<html>Sign in</html>")
    });
    env.cmd()
        .env("OPENCTI_URL", portal.url())
        .args(["push", "--file", &file])
        .assert()
        .code(76)
        .stderr(contains("not JSON").and(contains("OPENCTI_URL")));
    env.cmd()
        .args(["push", "--file", &file, "--chunk-size", "ten"])
        .assert()
        .code(2);
    env.cmd()
        .args(["push", "--file", &file, "--chunk-size", "10"])
        .assert()
        .code(78)
        .stderr(contains("--chunk-size"));
}

/// The work calls a run makes on each release (opencti-async-import.md §2–§3): one work per
/// run from 6.5.7; no success `toProcessed` before 7.260428.0; a multi-part work and exactly
/// one `toProcessed` from 7.260428.0. `earlier`: ids of works from runs before this one.
fn assert_work_calls(octi: &OpenctiStandin, version: &str, earlier: &[String]) {
    // A work's status is the workers' to set: read it once they are done.
    settle(octi);
    let v = crate::support::opencti::Version::parse(version).unwrap();
    let at = |s: &str| crate::support::opencti::Version::parse(s).unwrap();
    let pushes = octi.pushes();
    let closes = octi
        .requests()
        .iter()
        .filter(|r| r.root_fields.iter().any(|f| f == "workEdit"))
        .count();
    if v < at("6.5.7") {
        assert!(
            pushes.iter().all(|p| p.work_id.is_none()),
            "{version}: work_id must not be sent"
        );
        assert_eq!(closes, 0, "{version}: no work of ours to close");
        return;
    }
    let ours: Vec<_> = octi
        .works()
        .into_iter()
        .filter(|w| !w.created_by_push && !earlier.contains(&w.id))
        .collect();
    assert_eq!(ours.len(), 1, "{version}: one work per run");
    let work = &ours[0];
    assert!(
        pushes
            .iter()
            .all(|p| p.work_id.as_deref() == Some(work.id.as_str())),
        "{version}: every push names the run's work"
    );
    let safe = v >= at("7.260428.0");
    assert_eq!(work.multipart, safe, "{version}: multi-part");
    assert_eq!(closes, usize::from(safe), "{version}: toProcessed calls");
    assert_eq!(work.closed, safe, "{version}: {work:?}");
    assert!(!work.in_error, "{version}: {work:?}");
    // From 7.260428.0 a multi-part work completes when a piece reports after the run's
    // toProcessed; when the workers were faster, it stays in progress with every piece
    // processed until the connector manager closes it. Only the asynchronous platform can
    // be that fast; the instant one always completes it.
    let workers_first = safe
        && octi.async_platform().is_some()
        && work.status == "progress"
        && work.processed >= work.expected;
    assert!(
        work.status == "complete" || workers_first,
        "{version}: the workers complete it: {work:?}"
    );
}

#[test]
fn work_calls_on_the_releases_between_gates() {
    for version in ["7.260417.0", "7.260423.0", "7.260428.0"] {
        let env = setup(OpenctiOptions::version(version));
        let file = env.write("b.json", &bundle_of(20, Utc::now()));
        env.cmd()
            .args(["push", "--file", &file, "--chunk-size", "16K"])
            .assert()
            .success();
        assert!(env.octi.pushes().len() > 1, "{version}: several chunks");
        assert_work_calls(&env.octi, version, &[]);
        // A single chunk follows the same rule. The asynchronous platform keeps its works
        // through `clear_history`, as the real one does: the first run's is left out by id.
        let earlier: Vec<String> = env.octi.works().into_iter().map(|w| w.id).collect();
        env.octi.clear_history();
        env.cmd().args(["push", "--file", &file]).assert().success();
        assert_eq!(env.octi.pushes().len(), 1);
        assert_work_calls(&env.octi, version, &earlier);
        assert_nothing_dropped(&env.octi);
    }
}

#[test]
fn failure_after_a_push_sends_no_to_processed_on_7_260422() {
    for (version, recorded) in [
        ("7.260422.0", false),
        ("6.9.17", true),
        ("7.260510.0", true),
    ] {
        let env = setup(OpenctiOptions::version(version));
        let file = env.write("b.json", &bundle_of(40, Utc::now()));
        env.octi.set_fault(Fault::FailPushAfter {
            ok_pushes: 1,
            status_or_code: PushFailure::Http(503),
        });
        env.cmd()
            .args([
                "push",
                "--file",
                &file,
                "--chunk-size",
                "16K",
                "--retries",
                "0",
            ])
            .assert()
            .code(75);
        let work = env.octi.works().into_iter().find(|w| !w.created_by_push);
        let work = work.unwrap();
        assert_eq!(work.closed, recorded, "{version}: {work:?}");
        assert_eq!(work.in_error, recorded, "{version}: {work:?}");
    }
}

#[test]
fn a_token_that_cannot_import_is_refused_before_any_push() {
    let env = setup(OpenctiOptions::version("6.9.17"));
    let file = env.write("b.json", &bundle_of(1, Utc::now()));
    env.octi
        .set_capabilities(["CONNECTORAPI", "MODULES_MODMANAGE"]);
    env.cmd()
        .args(["push", "--file", &file])
        .assert()
        .code(77)
        .stderr(contains("KNOWLEDGE_KNUPDATE"));
    let ops: Vec<String> = env
        .octi
        .requests()
        .iter()
        .map(|r| r.operation_name.clone().unwrap_or_default())
        .collect();
    assert_eq!(ops, vec!["Probe"], "nothing past the probe");
    // Substring match, as OpenCTI's @auth: KNOWLEDGE_KNUPDATE_KNDELETE holds it.
    env.octi
        .set_capabilities(["CONNECTORAPI", "KNOWLEDGE_KNUPDATE_KNDELETE"]);
    env.cmd().args(["push", "--file", &file]).assert().success();
    assert_nothing_dropped(&env.octi);
}

#[test]
fn missing_settings_capabilities_warn_when_the_bundle_needs_them() {
    let env = setup(OpenctiOptions::version("6.9.17"));
    let marking = serde_json::json!({"type": "marking-definition", "spec_version": "2.1",
        "id": "marking-definition--0b1e6f4a-3a5c-4a8e-9d2b-6f1c2e3d4a5b", "created": "2026-01-01T00:00:00.000Z",
        "name": "PAP:RED", "definition_type": "statement", "definition": {"statement": "PAP:RED"}});
    let phased = serde_json::json!({"type": "attack-pattern", "spec_version": "2.1",
        "id": "attack-pattern--7e1f6f4a-3a5c-4a8e-9d2b-6f1c2e3d4a5b", "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z", "name": "Amplify",
        "kill_chain_phases": [{"kill_chain_name": "disarm", "phase_name": "execute"}]});
    let mut objects = crate::common::incidents(1, 0, Utc::now());
    objects.push(marking.to_string());
    objects.push(phased.to_string());
    let refs: Vec<&str> = objects.iter().map(String::as_str).collect();
    let file = env.write("b.json", &crate::support::disinfox::render_bundle(&refs));
    env.octi
        .set_capabilities(["CONNECTORAPI", "KNOWLEDGE_KNUPDATE"]);
    env.cmd()
        .args(["push", "--file", &file])
        .assert()
        .success()
        .stderr(
            contains("lacks SETTINGS_SETMARKINGS")
                .and(contains("lacks SETTINGS_SETKILLCHAINPHASES"))
                .and(contains("lacks SETTINGS_SETLABELS")),
        );
    // What that token's user could not create is dropped by the workers (the warning is
    // about that); the next run waits for them, as a later cron run would.
    settle(&env.octi);
    // With the "Connector" role nothing is said; with a bundle that needs none, neither.
    env.octi
        .set_capabilities(crate::common::CONNECTOR_ROLE.iter().copied());
    env.cmd()
        .args(["push", "--file", &file])
        .assert()
        .success()
        .stderr(contains("lacks").not());
}

#[test]
fn the_connector_id_is_used_exactly_as_configured() {
    let env = setup(OpenctiOptions::version("6.9.17"));
    let upper = CONNECTOR_ID.to_ascii_uppercase();
    let file = env.write("b.json", &bundle_of(1, Utc::now()));
    env.cmd()
        .env("CONNECTOR_ID", &upper)
        .args(["push", "--file", &file])
        .assert()
        .success();
    assert_eq!(env.octi.connector_ids(), vec![upper.clone()]);
    assert!(env.octi.pushes().iter().all(|p| p.connector_id == upper));
    // Pushed to the queue named from the stored id: the workers read it.
    assert_nothing_dropped(&env.octi);
}

#[test]
fn push_waits_for_the_work_and_reports_what_was_imported() {
    for version in ["6.9.17", "7.260510.0"] {
        let env = setup(OpenctiOptions::version(version));
        let file = env.write("b.json", &bundle_of(3, Utc::now()));
        let out = env
            .cmd()
            .args(["push", "--json", "--wait=30s", "--file", &file])
            .assert()
            .success()
            .stderr(contains("imported 16, failed 0"))
            .get_output()
            .stdout
            .clone();
        let s: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(s["imported"], 16, "{version}: {s}");
        assert_eq!(s["import_failed"], 0, "{version}: {s}");
        assert!(
            env.octi
                .requests()
                .iter()
                .any(|r| r.operation_name.as_deref() == Some("WorkStatus")),
            "{version}: the work was read"
        );
        assert_nothing_dropped(&env.octi);
    }
    // No work to follow before 6.5.7: refused before anything is pushed.
    let env = setup(OpenctiOptions::version("6.2.12"));
    let file = env.write("b.json", &bundle_of(1, Utc::now()));
    env.cmd()
        .args(["push", "--wait", "--file", &file])
        .assert()
        .code(69)
        .stderr(contains("--wait").and(contains("6.5.7")));
    assert!(env.octi.pushes().is_empty());
}

#[test]
fn push_refuses_while_an_earlier_run_is_queued_before_7_260510() {
    for (version, refused) in [("6.9.17", true), ("7.260510.0", false)] {
        let env = setup(OpenctiOptions::version(version));
        env.octi.set_queue(CONNECTOR_ID, 3, 3_000);
        let file = env.write("b.json", &bundle_of(1, Utc::now()));
        let run = env.cmd().args(["push", "--file", &file]).assert();
        if refused {
            run.code(75).stderr(contains("3 message(s)"));
            assert!(env.octi.pushes().is_empty() && env.octi.works().is_empty());
        } else {
            run.success();
            assert_nothing_dropped(&env.octi);
        }
    }
}

/// A scripted OpenCTI: answers each operation by name with what a test sets, and records
/// every call. For behaviours the faithful stand-in does not produce on its own (another
/// spelling of the connector id, a broker failure, a work that never completes).
pub mod scripted {
    use std::sync::{Arc, Mutex};

    use serde_json::{Value, json};

    use crate::support::http::{Response, Server, lock};

    #[derive(Clone, Default)]
    pub struct Script {
        pub version: String,
        /// The id `registerConnector` answers with (default: the one sent).
        pub stored_id: Option<String>,
        /// `errors[0]` of every `stixBundlePush` answer.
        pub push_error: Option<Value>,
        /// Successive `work(id)` answers; the last one repeats.
        pub works: Vec<Value>,
        /// `connector(id)` fails as on 6.2.6–6.2.11 when RabbitMQ's management API does.
        pub queue_fails: bool,
        /// Messages in the connector's queue.
        pub queue_messages: u64,
    }

    pub struct Scripted {
        pub server: Server,
        calls: Arc<Mutex<Vec<(String, Value)>>>,
    }

    impl Scripted {
        pub fn start(script: Script) -> Scripted {
            let calls: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
            let record = calls.clone();
            let server = Server::start(move |req| {
                let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
                let op = body["operationName"].as_str().unwrap_or("").to_owned();
                let vars = body["variables"].clone();
                let n = {
                    let mut calls = lock(&record);
                    calls.push((op.clone(), vars.clone()));
                    calls.iter().filter(|(o, _)| *o == op).count()
                };
                Response::json(200, answer(&script, &op, &vars, n).to_string())
            });
            Scripted { server, calls }
        }

        pub fn url(&self) -> String {
            self.server.url()
        }

        pub fn calls(&self) -> Vec<(String, Value)> {
            lock(&self.calls).clone()
        }

        /// The variables of every call of one operation.
        pub fn vars_of(&self, op: &str) -> Vec<Value> {
            self.calls()
                .into_iter()
                .filter(|(o, _)| o.starts_with(op))
                .map(|(_, v)| v)
                .collect()
        }
    }

    fn answer(script: &Script, op: &str, vars: &Value, nth: usize) -> Value {
        let connector = |id: &Value, state: &Value| {
            json!({"id": id, "name": "DISINFOX", "connector_state": state, "connector_state_reset": false,
                   "connector_state_timestamp": null, "connector_user_id": "user"})
        };
        match op {
            "Probe" => json!({"data": {"about": {"version": script.version},
                "me": {"id": "user", "name": "connector", "capabilities": [{"name": "BYPASS"}]}}}),
            "Register" | "RegisterWithTimestamp" => {
                let id = script
                    .stored_id
                    .clone()
                    .map_or(vars["input"]["id"].clone(), Value::from);
                json!({"data": {"registerConnector": connector(&id, &json!(""))}})
            }
            "Queue" if script.queue_fails => {
                json!({"data": null, "errors": [{"message": "Request failed with status code 500",
                "name": "UNKNOWN_ERROR", "extensions": {"code": "UNKNOWN_ERROR"}}]})
            }
            "Queue" => json!({"data": {"connector": {"id": vars["id"],
                "connector_queue_details": {"messages_number": script.queue_messages, "messages_size": 0}}}}),
            "Access" | "AccessWithDraft" => json!({"data": {"me": {"id": "user",
                "allowed_marking": [], "groups": {"edges": []}, "draftContext": null}}}),
            "WorkAdd" | "WorkAddMultipart" => json!({"data": {"workAdd": {"id": "work-1"}}}),
            "Push" | "PushToWork" => match &script.push_error {
                Some(e) => json!({"data": {"stixBundlePush": null}, "errors": [e]}),
                None => json!({"data": {"stixBundlePush": true}}),
            },
            "WorkDone" => json!({"data": {"workEdit": {"toProcessed": "work-1"}}}),
            "WorkStatus" => {
                let w = script
                    .works
                    .get(nth - 1)
                    .or(script.works.last())
                    .cloned()
                    .unwrap_or(Value::Null);
                json!({"data": {"work": w}})
            }
            _ if op.starts_with("Ping") => {
                json!({"data": {"pingConnector": connector(&vars["id"], &vars["state"])}})
            }
            _ => {
                json!({"errors": [{"message": format!("unscripted {op}"), "name": "UNSUPPORTED_ERROR"}]})
            }
        }
    }

    /// A work answer.
    pub fn work(status: &str, processed: u64, errors: &[&str]) -> Value {
        json!({"id": "work-1", "status": status, "completed_number": processed,
               "errors": errors.iter().map(|e| json!({"timestamp": null, "message": e, "source": "{\"id\":\"x\"}"})).collect::<Vec<_>>(),
               "tracking": {"import_expected_number": 16, "import_processed_number": processed}})
    }
}

#[test]
fn the_id_opencti_returns_is_used_after_registration() {
    let upper = CONNECTOR_ID.to_ascii_uppercase();
    let octi = scripted::Scripted::start(scripted::Script {
        version: "7.260510.0".into(),
        stored_id: Some(CONNECTOR_ID.into()),
        ..Default::default()
    });
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("b.json");
    std::fs::write(&file, bundle_of(1, Utc::now())).unwrap();
    cli(home.path())
        .env("OPENCTI_URL", octi.url())
        .env("OPENCTI_TOKEN", "token")
        .env("CONNECTOR_ID", &upper)
        .args(["push", "--file", file.to_str().unwrap()])
        .assert()
        .success()
        .stderr(contains(format!(
            "OpenCTI knows this connector as {CONNECTOR_ID}"
        )));
    assert_eq!(octi.vars_of("Register")[0]["input"]["id"], upper.as_str());
    for op in ["Queue", "WorkAdd"] {
        let ids: Vec<Value> = octi
            .vars_of(op)
            .iter()
            .map(|v| v.get("id").or(v.get("connectorId")).cloned().unwrap())
            .collect();
        assert_eq!(ids, vec![Value::from(CONNECTOR_ID)], "{op}");
    }
    let pushes = octi.vars_of("Push");
    assert!(!pushes.is_empty() && pushes.iter().all(|v| v["connectorId"] == CONNECTOR_ID));
}

#[test]
fn invalid_bundle_from_the_server_is_temporary_with_its_cause() {
    let shapes = [
        serde_json::json!({"message": "Invalid bundle", "name": "UNSUPPORTED_ERROR",
            "extensions": {"code": "UNSUPPORTED_ERROR", "data": {"http_status": 500, "genre": "BUSINESS", "cause": "Connection closed by the broker"}}}),
        serde_json::json!({"message": "Invalid bundle", "name": "UNSUPPORTED_ERROR", "time_thrown": "2026-01-01T00:00:00Z",
            "data": {"http_status": 500, "genre": "BUSINESS", "cause": "Connection closed by the broker"}}),
    ];
    for error in shapes {
        let octi = scripted::Scripted::start(scripted::Script {
            version: "6.9.17".into(),
            push_error: Some(error),
            ..Default::default()
        });
        let home = tempfile::tempdir().unwrap();
        let file = home.path().join("b.json");
        std::fs::write(&file, bundle_of(1, Utc::now())).unwrap();
        cli(home.path())
            .env("OPENCTI_URL", octi.url())
            .env("OPENCTI_TOKEN", "token")
            .env("CONNECTOR_ID", CONNECTOR_ID)
            .args(["push", "--file", file.to_str().unwrap()])
            .assert()
            .code(75)
            .stderr(contains("Connection closed by the broker"));
        assert_eq!(octi.vars_of("Push").len(), 1, "not retried");
    }
}

/// The top-level references of a received object (the generated bundles have no nested ones).
fn top_refs(o: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in o.as_object().into_iter().flatten() {
        if k.ends_with("_ref") {
            out.extend(v.as_str().map(str::to_owned));
        } else if k.ends_with("_refs") {
            out.extend(
                v.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_str().map(str::to_owned)),
            );
        }
    }
    out
}

/// Every chunk carries every in-bundle object its objects reference, earlier in the chunk:
/// OpenCTI's workers import chunks concurrently, so no chunk may rely on another. `in_bundle`
/// holds the ids of the input and the added well-known objects.
pub(crate) fn assert_chunks_self_contained(octi: &OpenctiStandin, in_bundle: &HashSet<String>) {
    for (k, push) in octi.pushes().iter().enumerate() {
        let bundle: Value = serde_json::from_str(push.raw.as_deref().unwrap()).unwrap();
        let mut earlier = HashSet::new();
        for o in bundle["objects"].as_array().unwrap() {
            for r in top_refs(o) {
                assert!(
                    !in_bundle.contains(&r) || earlier.contains(&r),
                    "chunk {k}: {} references {r}, not before it in the chunk",
                    o["id"]
                );
            }
            earlier.insert(o["id"].as_str().unwrap().to_owned());
        }
    }
}

#[test]
fn every_chunk_carries_what_its_objects_reference() {
    let env = setup(OpenctiOptions::version("7.260510.0"));
    let bundle = bundle_of(60, Utc::now());
    let file = env.write("b.json", &bundle);
    let out = env
        .cmd()
        .args(["push", "--json", "--file", &file, "--chunk-size", "12K"])
        .assert()
        .success()
        .stderr(contains("objects in the chunks").and(contains("per distinct object")))
        .get_output()
        .stdout
        .clone();
    let summary: Value = serde_json::from_slice(&out).unwrap();
    let mut in_bundle: HashSet<String> = ids(bundle.as_bytes()).into_iter().collect();
    in_bundle.insert(DISINFOX_IDENTITY.to_owned());
    let pushes = env.octi.pushes();
    assert!(
        pushes.len() > 3,
        "expected several chunks, got {}",
        pushes.len()
    );
    assert!(pushes.iter().all(|p| p.bytes <= 12 * 1024));
    assert_chunks_self_contained(&env.octi, &in_bundle);
    let received = env.octi.received_ids();
    let distinct: HashSet<String> = received.iter().cloned().collect();
    assert_eq!(distinct, in_bundle, "union of chunks = input + completions");
    assert!(received.len() > distinct.len(), "shared objects are copied");
    // The summary counts the copies and their ratio to the distinct objects.
    assert_eq!(summary["objects_total"], distinct.len());
    assert_eq!(summary["objects_pushed"], received.len());
    let ratio = summary["push_ratio"].as_f64().unwrap();
    assert!((ratio - received.len() as f64 / distinct.len() as f64).abs() < 1e-9);
    assert_nothing_dropped(&env.octi);
}

/// A bundle of `incidents` with one more relationship: `extra` JSON members after its id.
fn bundle_with_relationship(incidents: u64, kind: &str, id: &str, extra: &str) -> String {
    let mut bundle: Value = serde_json::from_str(&bundle_of(incidents, Utc::now())).unwrap();
    let mut o: Value = serde_json::from_str(&format!(
        r#"{{"type":"{kind}","spec_version":"2.1","id":"{id}","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z"{extra}}}"#
    ))
    .unwrap();
    if kind == "relationship" {
        o["relationship_type"] = "uses".into();
    }
    bundle["objects"].as_array_mut().unwrap().push(o);
    bundle.to_string()
}

#[test]
fn a_relationship_without_both_ends_is_refused_before_any_push() {
    let source = "intrusion-set--4f1e55a8-5b1d-4c36-a0c4-6a2f6b1d2c3e";
    let cases = [
        (
            "relationship",
            "relationship--1b1c8f0e-7c55-4f5e-9d52-8d0f3f0a9e11",
            format!(r#","source_ref":"{source}""#),
            "target_ref",
        ),
        (
            "relationship",
            "relationship--2b1c8f0e-7c55-4f5e-9d52-8d0f3f0a9e12",
            format!(r#","target_ref":"{source}""#),
            "source_ref",
        ),
        (
            "sighting",
            "sighting--3b1c8f0e-7c55-4f5e-9d52-8d0f3f0a9e13",
            format!(r#","where_sighted_refs":["{DISINFOX_IDENTITY}"]"#),
            "sighting_of_ref",
        ),
    ];
    for (kind, id, extra, missing) in cases {
        let env = setup(OpenctiOptions::version("7.260510.0"));
        let file = env.write("b.json", &bundle_with_relationship(5, kind, id, &extra));
        for dry in [true, false] {
            let mut args = vec!["push", "--file", file.as_str()];
            if dry {
                args.push("--dry-run");
            }
            env.cmd()
                .args(&args)
                .assert()
                .code(65)
                .stderr(contains(id).and(contains(format!("no \"{missing}\""))));
        }
        assert!(
            env.octi.pushes().is_empty(),
            "{kind} without {missing}: something was pushed"
        );
        assert!(
            env.octi.works().is_empty(),
            "{kind} without {missing}: a work was opened"
        );
    }
}

#[test]
fn chunks_above_12m_need_an_explicit_flag() {
    let env = setup(OpenctiOptions::version("7.260510.0"));
    let file = env.write("b.json", &bundle_of(3, Utc::now()));
    for (flag, value) in [("--chunk-size", "13M"), ("--chunk-size", "12583000")] {
        env.cmd()
            .args(["push", "--file", &file, flag, value])
            .assert()
            .code(78)
            .stderr(
                contains("above 12M")
                    .and(contains("base64"))
                    .and(contains("--allow-large-chunks")),
            );
    }
    env.cmd()
        .env("DISINFOX_SYNC_CHUNK_SIZE", "16M")
        .args(["push", "--dry-run", "--file", &file])
        .assert()
        .code(78)
        .stderr(contains("--allow-large-chunks"));
    assert!(env.octi.pushes().is_empty());
    // 12M itself is allowed; above it, the flag or its variable lifts the check.
    env.cmd()
        .args(["push", "--file", &file, "--chunk-size", "12M"])
        .assert()
        .success();
    env.cmd()
        .args([
            "push",
            "--file",
            &file,
            "--chunk-size",
            "16M",
            "--allow-large-chunks",
        ])
        .assert()
        .success();
    env.cmd()
        .env("DISINFOX_SYNC_ALLOW_LARGE_CHUNKS", "true")
        .args(["push", "--file", &file, "--chunk-size", "16M"])
        .assert()
        .success();
    env.cmd()
        .env("DISINFOX_SYNC_ALLOW_LARGE_CHUNKS", "false")
        .args(["push", "--file", &file, "--chunk-size", "16M"])
        .assert()
        .code(78);
    assert_eq!(env.octi.pushes().len(), 3);
    assert_nothing_dropped(&env.octi);
}

#[test]
fn a_queue_that_cannot_be_read_warns_and_the_push_goes_on() {
    let octi = scripted::Scripted::start(scripted::Script {
        version: "6.2.6".into(),
        queue_fails: true,
        ..Default::default()
    });
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("b.json");
    std::fs::write(&file, bundle_of(1, Utc::now())).unwrap();
    cli(home.path())
        .env("OPENCTI_URL", octi.url())
        .env("OPENCTI_TOKEN", "token")
        .env("CONNECTOR_ID", CONNECTOR_ID)
        .args(["push", "--file", file.to_str().unwrap()])
        .assert()
        .success()
        .stderr(contains("cannot read the connector's queue size").and(contains("going on")));
    assert_eq!(octi.vars_of("Push").len(), 1);
}

/// A chunk limit an object cannot fit in is a setting to change (78, as HTTP 413 is), not bad
/// data: the same bundle goes through with a larger --chunk-size.
#[test]
fn an_object_over_the_chunk_size_is_a_configuration_error() {
    let env = setup(OpenctiOptions::version("6.9.17"));
    let name = "x".repeat(300_000);
    let file = env.write(
        "big.json",
        &format!(
            r#"{{"type":"bundle","objects":[{{"id":"identity--00000000-0000-4000-8000-000000000001","type":"identity","name":"{name}"}}]}}"#
        ),
    );
    env.cmd()
        .args(["push", "--dry-run", "--chunk-size", "100K", "--file", &file])
        .assert()
        .code(78)
        .stderr(contains("raise --chunk-size"));
    // The same refusal when pushing for real, before anything is sent.
    env.cmd()
        .args(["push", "--chunk-size", "100K", "--file", &file])
        .assert()
        .code(78)
        .stderr(contains("raise --chunk-size"));
    assert!(env.octi.works().is_empty(), "a work was opened");
    env.cmd()
        .args(["push", "--dry-run", "--chunk-size", "1M", "--file", &file])
        .assert()
        .success();
}
