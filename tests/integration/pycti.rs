//! Settings a pycti connector's deployment already carries: custom headers, JSON logging,
//! `critical`, the `help` subcommand and the system-wide config.yml.

use chrono::Utc;
use predicates::prelude::*;
use predicates::str::contains;

use crate::common::{CONNECTOR_ID, Peers, cli};

const PROXY_SECRET: &str = "proxy-credential-5f1c9a";
const CLIENT_ID: &str = "client-id-77e2b0";

fn all_output(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&[out.stdout.clone(), out.stderr.clone()].concat()).into_owned()
}

#[test]
fn custom_headers_reach_opencti_and_are_never_printed() {
    let peers = Peers::start("6.9.17");
    peers
        .dx
        .add_objects(crate::common::incidents(2, 0, Utc::now()));
    let headers = format!(" X-Proxy-Auth: {PROXY_SECRET} ;CF-Access-Client-Id:{CLIENT_ID};");
    let out = peers
        .cmd()
        .env("OPENCTI_CUSTOM_HEADERS", &headers)
        .args(["--log-level", "debug", "sync", "--json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let requests = peers.octi.requests();
    assert!(!requests.is_empty());
    for r in &requests {
        let has = |name: &str, value: &str| r.headers.iter().any(|(k, v)| k == name && v == value);
        assert!(has("x-proxy-auth", PROXY_SECRET), "{:?}", r.headers);
        assert!(has("cf-access-client-id", CLIENT_ID), "{:?}", r.headers);
        assert!(r.authorization, "the token is still sent");
    }
    let text = all_output(&out);
    assert!(
        !text.contains(PROXY_SECRET) && !text.contains(CLIENT_ID),
        "{text}"
    );
    assert!(
        text.contains("[redacted]"),
        "the debug configuration line shows them redacted"
    );
}

#[test]
fn custom_headers_from_config_yml_and_malformed_ones_refused() {
    let peers = Peers::start("6.9.17");
    let cfg = peers.home.path().join("c.yml");
    let yaml = format!("opencti:\n  custom_headers: 'X-Proxy-Auth: {PROXY_SECRET}'\n");
    std::fs::write(&cfg, yaml).unwrap();
    peers
        .cmd()
        .args(["--config", cfg.to_str().unwrap(), "check"])
        .assert()
        .success();
    assert!(peers.octi.requests().iter().all(|r| {
        r.headers
            .iter()
            .any(|(k, v)| k == "x-proxy-auth" && v == PROXY_SECRET)
    }));
    let out = peers
        .cmd()
        .env("OPENCTI_CUSTOM_HEADERS", format!("X-A: 1;{PROXY_SECRET}"))
        .arg("sync")
        .assert()
        .code(78)
        .stderr(contains("invalid OPENCTI_CUSTOM_HEADERS"))
        .stderr(contains("pair 2 has no ':'"))
        .get_output()
        .clone();
    assert!(!all_output(&out).contains(PROXY_SECRET));
}

/// Every stderr line parses as a JSON log object; returns the last one.
fn only_json_lines(stderr: &[u8]) -> serde_json::Value {
    let text = String::from_utf8_lossy(stderr);
    let mut last = None;
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        for k in ["timestamp", "level", "name", "message"] {
            assert!(v.get(k).is_some(), "{k} missing in {line}");
        }
        last = Some(v);
    }
    last.expect("at least one line on stderr")
}

/// pycti's JSON logger's fields: `name` is the connector's name, and the run's summary line
/// carries its counts and work id under `attributes`.
#[test]
fn json_lines_carry_the_connector_name_and_the_runs_attributes() {
    let peers = Peers::start("6.9.17");
    peers
        .dx
        .add_objects(crate::common::incidents(2, 0, Utc::now()));
    let ok = peers
        .cmd()
        .env("OPENCTI_JSON_LOGGING", "true")
        .env("CONNECTOR_NAME", "DISINFOX east")
        .arg("sync")
        .assert()
        .success()
        .get_output()
        .clone();
    let text = String::from_utf8_lossy(&ok.stderr);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.iter().all(|l| l["name"] == "DISINFOX east"), "{text}");
    let summary = lines
        .iter()
        .find(|l| l.get("attributes").is_some())
        .unwrap_or_else(|| panic!("no line with attributes: {text}"));
    let attributes = &summary["attributes"];
    assert!(
        attributes["objects_total"].as_u64() >= Some(2 * 5),
        "{summary}"
    );
    assert!(attributes["work_id"].is_string(), "{summary}");
}

#[test]
fn opencti_json_logging_makes_every_stderr_line_json_the_error_included() {
    let peers = Peers::start("6.9.17");
    peers
        .dx
        .add_objects(crate::common::incidents(2, 0, Utc::now()));
    let ok = peers
        .cmd()
        .env("OPENCTI_JSON_LOGGING", "true")
        .args(["--log-level", "debug", "sync"])
        .assert()
        .success()
        .get_output()
        .clone();
    only_json_lines(&ok.stderr);

    // A failing run: its last line, the error, is JSON too.
    let failed = peers
        .cmd()
        .env("OPENCTI_JSON_LOGGING", "true")
        .env("DISINFOX_API_KEY", "wrong-key-123")
        .arg("sync")
        .assert()
        .code(77)
        .get_output()
        .clone();
    let last = only_json_lines(&failed.stderr);
    assert_eq!(last["level"], "ERROR", "{last}");

    // A configuration that does not load, and a command line clap refuses.
    let home = tempfile::tempdir().unwrap();
    let bad = cli(home.path())
        .env("OPENCTI_JSON_LOGGING", "true")
        .arg("sync")
        .assert()
        .code(78)
        .get_output()
        .clone();
    let last = only_json_lines(&bad.stderr);
    assert!(
        last["message"].as_str().unwrap().contains("missing"),
        "{last}"
    );
    let usage = cli(home.path())
        .env("OPENCTI_JSON_LOGGING", "true")
        .args(["sync", "--no-such-flag"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let last = only_json_lines(&usage.stderr);
    assert!(
        last["message"].as_str().unwrap().contains("--no-such-flag"),
        "{last}"
    );
}

#[test]
fn log_format_variable_and_config_yml_json_logging() {
    let peers = Peers::start("6.9.17");
    let cfg = peers.home.path().join("c.yml");
    std::fs::write(&cfg, "opencti:\n  json_logging: true\n").unwrap();
    let from_file = peers
        .cmd()
        .args(["--config", cfg.to_str().unwrap(), "sync"])
        .assert()
        .success()
        .get_output()
        .clone();
    only_json_lines(&from_file.stderr);
    // DISINFOX_SYNC_LOG_FORMAT (the --log-format variable) wins over OPENCTI_JSON_LOGGING.
    peers
        .cmd()
        .env("OPENCTI_JSON_LOGGING", "true")
        .env("DISINFOX_SYNC_LOG_FORMAT", "text")
        .arg("sync")
        .assert()
        .success()
        .stderr(contains(" INFO ").and(contains("{\"").not()));
    let json = peers
        .cmd()
        .env("DISINFOX_SYNC_LOG_FORMAT", "json")
        .arg("sync")
        .assert()
        .success()
        .get_output()
        .clone();
    only_json_lines(&json.stderr);
}

#[test]
fn critical_is_accepted_as_error() {
    let peers = Peers::start("6.9.17");
    peers
        .dx
        .add_objects(crate::common::incidents(2, 0, Utc::now()));
    peers
        .cmd()
        .env("CONNECTOR_LOG_LEVEL", "critical")
        .arg("sync")
        .assert()
        .success()
        .stderr(predicate::str::is_empty());
    peers
        .cmd()
        .env("CONNECTOR_LOG_LEVEL", "verbose")
        .arg("sync")
        .assert()
        .code(78)
        .stderr(contains("error (or critical), warn, info, debug"));
}

#[test]
fn help_subcommand_prints_help_and_exits_zero() {
    let home = tempfile::tempdir().unwrap();
    cli(home.path())
        .arg("help")
        .assert()
        .success()
        .stdout(contains("Usage: disinfox-sync").and(contains("reset-state")));
    cli(home.path())
        .args(["help", "sync"])
        .assert()
        .success()
        .stdout(contains("Usage: disinfox-sync sync").and(contains("--queue-threshold")));
}

/// The system-wide file is read from `$DISINFOX_SYNC_SYSCONFDIR/disinfox-sync/config.yml`
/// here (the variable replaces `/etc`), so the test never writes to the real `/etc`.
#[test]
fn system_config_is_the_last_fallback() {
    let peers = Peers::start("6.9.17");
    let sysconf = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(sysconf.path().join("disinfox-sync")).unwrap();
    let yaml = format!(
        "opencti:\n  url: '{}'\n  token: '{}'\nconnector:\n  id: '{CONNECTOR_ID}'\n  name: 'From etc'\n",
        peers.octi.url(),
        peers.octi.token()
    );
    std::fs::write(sysconf.path().join("disinfox-sync/config.yml"), yaml).unwrap();
    let sys = || {
        let mut c = cli(peers.home.path());
        c.env("DISINFOX_SYNC_SYSCONFDIR", sysconf.path()).args([
            "--log-level",
            "debug",
            "reset-state",
        ]);
        c
    };
    sys().assert().success().stderr(contains(format!(
        "configuration file {}",
        sysconf.path().join("disinfox-sync/config.yml").display()
    )));
    assert_eq!(
        peers.octi.connector(CONNECTOR_ID).unwrap()["name"],
        "From etc"
    );
    // The user's own file wins over the system's.
    let user = peers.home.path().join("config/disinfox-sync");
    std::fs::create_dir_all(&user).unwrap();
    std::fs::write(user.join("config.yml"), "connector:\n  name: 'From home'\n").unwrap();
    sys()
        .assert()
        .code(78)
        .stderr(contains("missing OPENCTI_URL"));
    // Without either file, nothing is configured.
    std::fs::remove_file(user.join("config.yml")).unwrap();
    cli(peers.home.path())
        .env("DISINFOX_SYNC_SYSCONFDIR", peers.home.path())
        .arg("reset-state")
        .assert()
        .code(78)
        .stderr(contains("missing OPENCTI_URL"));
}
