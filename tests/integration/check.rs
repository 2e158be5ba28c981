//! `check` pinpoints each misconfiguration with the exit code of the first failure.

use predicates::prelude::*;
use predicates::str::contains;

use crate::common::{CONNECTOR_ID, cli};
use crate::support::disinfox::DisinfoxStandin;
use crate::support::opencti::{OpenctiOptions, OpenctiStandin};

struct Env {
    home: tempfile::TempDir,
    dx: DisinfoxStandin,
    octi: OpenctiStandin,
}

fn setup(version: &str) -> Env {
    Env {
        home: tempfile::tempdir().unwrap(),
        dx: DisinfoxStandin::start_default(),
        octi: OpenctiStandin::start(OpenctiOptions::version(version)),
    }
}

impl Env {
    fn check(&self) -> assert_cmd::Command {
        let mut c = cli(self.home.path());
        c.env("DISINFOX_URL", self.dx.endpoint_url())
            .env("DISINFOX_API_KEY", self.dx.api_key())
            .env("OPENCTI_URL", self.octi.url())
            .env("OPENCTI_TOKEN", self.octi.token())
            .env("CONNECTOR_ID", CONNECTOR_ID)
            .args(["check", "--retries", "0"]);
        c
    }
}

#[test]
fn all_good() {
    let env = setup("6.5.7");
    env.octi.set_state(
        CONNECTOR_ID,
        r#"{"last_fetch":"2026-11-01T00:00:00.000000Z","last_run":1}"#,
    );
    env.check().assert().success().stdout(
        contains("ok   disinfox")
            .and(contains("OpenCTI 6.5.7"))
            .and(contains("work_id yes"))
            .and(contains("multi-part works no (needs 7.260422.0)"))
            .and(contains("cursor 2026-11-01")),
    );
    let out = env
        .check()
        .arg("--json")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["ok"], true);
    assert!(v["checks"].as_array().unwrap().len() >= 6);
    assert!(
        env.dx
            .requests()
            .iter()
            .all(|r| r.newer_than.as_deref().unwrap_or("") > "2030"),
        "check must not download incidents"
    );
}

#[test]
fn each_misconfiguration_is_pinpointed() {
    let env = setup("6.9.17");
    env.check()
        .env("DISINFOX_API_KEY", "DISINFOX.eA==.wrong")
        .assert()
        .code(77)
        .stdout(contains("FAIL disinfox").and(contains("ok   opencti")));
    env.check()
        .env("OPENCTI_TOKEN", "wrong")
        .assert()
        .code(77)
        .stdout(contains("ok   disinfox").and(contains("FAIL opencti")));
    env.check()
        .env("CONNECTOR_ID", "ChangeMe")
        .assert()
        .code(78)
        .stdout(contains("FAIL configuration").and(contains("CONNECTOR_ID")));
    env.check()
        .env("DISINFOX_URL", env.dx.url() + "/wrong/")
        .assert()
        .code(78)
        .stdout(contains("wrong URL"));
    env.octi.set_capabilities(["KNOWLEDGE"]);
    env.check()
        .assert()
        .code(77)
        .stdout(contains("FAIL capability"));
    let old = setup("6.0.0");
    old.check().assert().code(69).stdout(contains("6.2.6"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    env.check()
        .env("OPENCTI_URL", format!("http://127.0.0.1:{port}"))
        .assert()
        .code(75)
        .stdout(contains("FAIL opencti"));
}
