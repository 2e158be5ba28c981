//! `check` pinpoints each misconfiguration with the exit code of the first failure.

use predicates::prelude::*;
use predicates::str::contains;

use crate::common::{CONNECTOR_ID, Peers};

fn setup(version: &str) -> Peers {
    Peers::start(version)
}

fn check(env: &Peers) -> assert_cmd::Command {
    let mut c = env.cmd();
    c.args(["check", "--retries", "0"]);
    c
}

#[test]
fn all_good() {
    let env = setup("6.5.7");
    env.octi.set_state(
        CONNECTOR_ID,
        r#"{"last_fetch":"2026-11-01T00:00:00.000000Z","last_run":1}"#,
    );
    check(&env).assert().success().stdout(
        contains("ok   disinfox")
            .and(contains("OpenCTI 6.5.7"))
            .and(contains("work_id yes"))
            .and(contains("multi-part works no (needs 7.260422.0)"))
            .and(contains("cursor 2026-11-01")),
    );
    let out = check(&env)
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

/// `check` says where `sync` stages its answer and how large an answer fits, and fails with
/// 74 where it cannot stage at all.
#[test]
fn staging_is_checked() {
    let env = setup("6.9.17");
    check(&env)
        .env("DISINFOX_SYNC_DISK_LIMIT", "1750K")
        .assert()
        .success()
        .stdout(
            contains("ok   staging")
                .and(contains("--disk-limit 1792000 bytes"))
                .and(contains("up to 1024000 bytes")),
        );
    check(&env)
        .env("TMPDIR", "/nonexistent/tmpdir")
        .assert()
        .code(74)
        .stdout(
            contains("FAIL staging")
                .and(contains("TMPDIR"))
                .and(contains("ok   opencti")),
        );
}

#[test]
fn each_misconfiguration_is_pinpointed() {
    let env = setup("6.9.17");
    check(&env)
        .env("DISINFOX_API_KEY", "DISINFOX.eA==.wrong")
        .assert()
        .code(77)
        .stdout(contains("FAIL disinfox").and(contains("ok   opencti")));
    check(&env)
        .env("OPENCTI_TOKEN", "wrong")
        .assert()
        .code(77)
        .stdout(contains("ok   disinfox").and(contains("FAIL opencti")));
    check(&env)
        .env("CONNECTOR_ID", "ChangeMe")
        .assert()
        .code(78)
        .stdout(contains("FAIL configuration").and(contains("CONNECTOR_ID")));
    check(&env)
        .env("DISINFOX_URL", env.dx.url() + "/wrong/")
        .assert()
        .code(78)
        .stdout(contains("wrong URL"));
    env.octi.set_capabilities(["KNOWLEDGE"]);
    check(&env)
        .assert()
        .code(77)
        .stdout(contains("FAIL capability"));
    let old = setup("6.0.0");
    check(&old).assert().code(69).stdout(contains("6.2.6"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    check(&env)
        .env("OPENCTI_URL", format!("http://127.0.0.1:{port}"))
        .assert()
        .code(75)
        .stdout(contains("FAIL opencti"));
}

#[test]
fn import_capabilities_one_line_each() {
    let env = setup("6.9.17");
    check(&env).assert().success().stdout(
        contains("ok   import")
            .and(contains("KNOWLEDGE_KNUPDATE"))
            .and(contains("ok   markings"))
            .and(contains("ok   kill-chains"))
            .and(contains("ok   labels"))
            .and(contains(
                "ok   works         one per run, completed by OpenCTI's workers",
            )),
    );
    // A token with CONNECTORAPI only: every push would answer true, every import would fail.
    env.octi.set_capabilities(["CONNECTORAPI"]);
    check(&env).assert().code(77).stdout(
        contains("FAIL import")
            .and(contains("lacks the KNOWLEDGE_KNUPDATE capability"))
            .and(contains("warn markings"))
            .and(contains("lacks SETTINGS_SETMARKINGS")),
    );
    let out = check(&env)
        .arg("--json")
        .assert()
        .code(77)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let line = |name: &str| {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["check"] == name)
            .unwrap_or_else(|| panic!("no {name} line: {v}"))
            .clone()
    };
    assert_eq!(line("import")["exit_code"], 77);
    assert_eq!(line("labels")["warning"], true);
    assert_eq!(line("labels")["ok"], true);
    // Before 6.8.0 kill-chain phases need SETTINGS_SETLABELS.
    let old = setup("6.5.7");
    old.octi
        .set_capabilities(["CONNECTORAPI", "KNOWLEDGE_KNUPDATE", "SETTINGS_SETLABELS"]);
    check(&old)
        .assert()
        .success()
        .stdout(contains("ok   kill-chains   SETTINGS_SETLABELS"));
}

/// The metrics sinks `sync` would use: the textfile's directory must take a file, the
/// Pushgateway must answer; each failure has its line and exit status.
#[test]
fn metrics_sinks_are_checked() {
    let env = setup("7.260510.0");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("disinfox-sync.prom");
    check(&env)
        .env("DISINFOX_SYNC_METRICS_FILE", &file)
        .assert()
        .success()
        .stdout(contains("ok   metrics").and(contains("its directory is writable")));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no probe left behind"
    );
    // A directory that does not exist: local I/O, 74.
    check(&env)
        .env(
            "DISINFOX_SYNC_METRICS_FILE",
            dir.path().join("missing/x.prom"),
        )
        .assert()
        .code(74)
        .stdout(contains("FAIL metrics").and(contains("missing")));
    // A directory where the file should be.
    check(&env)
        .env("DISINFOX_SYNC_METRICS_FILE", dir.path())
        .assert()
        .code(74)
        .stdout(contains("is not a regular file"));
    // Nothing listens there: temporary, 75.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    check(&env)
        .env("DISINFOX_SYNC_PUSHGATEWAY_URL", &url)
        .assert()
        .code(75)
        .stdout(contains("FAIL metrics"));
    if let Some(pg) = crate::metrics::Pushgateway::start() {
        check(&env)
            .env("DISINFOX_SYNC_PUSHGATEWAY_URL", pg.url())
            .assert()
            .success()
            .stdout(contains("ok   metrics").and(contains("answers")));
    }
    // Neither configured: no metrics line.
    check(&env)
        .assert()
        .success()
        .stdout(contains("metrics").not());
}
