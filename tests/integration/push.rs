//! `push` against the OpenCTI stand-in on every supported version gate.

use std::collections::HashSet;

use chrono::Utc;
use predicates::prelude::*;
use predicates::str::contains;

use crate::common::{CONNECTOR_ID, assert_dependency_order, bundle_of, cli, ids};
use crate::support::opencti::{Fault, OpenctiOptions, OpenctiStandin, PushFailure};

const DISINFOX_IDENTITY: &str = "identity--9ac61d58-60f0-40b8-8b96-2f1f4858534b";

pub struct Env {
    pub home: tempfile::TempDir,
    pub octi: OpenctiStandin,
}

pub fn setup(opts: OpenctiOptions) -> Env {
    Env {
        home: tempfile::tempdir().unwrap(),
        octi: OpenctiStandin::start(opts),
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
        let received = env.octi.received_objects();
        let got: HashSet<String> = env.octi.received_ids().into_iter().collect();
        let mut want: HashSet<String> = ids(bundle.as_bytes()).into_iter().collect();
        want.insert(DISINFOX_IDENTITY.to_owned());
        assert_eq!(
            got, want,
            "{version}: union of chunks = input + completions"
        );
        assert_eq!(received.len(), want.len(), "{version}: each object once");
        assert_dependency_order(&received);
        let pushes = env.octi.pushes();
        assert!(pushes.len() > 1, "{version}: expected several chunks");
        assert!(
            pushes.iter().all(|p| p.bytes <= 16 * 1024),
            "{version}: a chunk exceeds the limit"
        );
        let works = env.octi.works();
        if version >= "6.5.7" && !version.starts_with("6.2") {
            let ours: Vec<_> = works.iter().filter(|w| !w.created_by_push).collect();
            assert_eq!(ours.len(), 1, "{version}: one work per run");
            assert!(
                ours[0].closed && !ours[0].in_error,
                "{version}: work closed"
            );
            assert!(
                pushes
                    .iter()
                    .all(|p| p.work_id.as_deref() == Some(ours[0].id.as_str()))
            );
            assert_eq!(
                ours[0].multipart,
                ["7.260422.0", "7.260510.0"].contains(&version),
                "{version}: multipart"
            );
        } else {
            assert!(
                pushes.iter().all(|p| p.work_id.is_none()),
                "{version}: work_id must not be sent"
            );
        }
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
