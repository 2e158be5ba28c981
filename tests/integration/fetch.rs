//! `fetch` against the DISINFOX stand-in: every exit code, every --since form, both URL forms,
//! configuration precedence, secrets, pipes.

use std::time::Duration;

use chrono::Utc;
use predicates::prelude::*;
use predicates::str::contains;

use crate::common::{cli, ids, incidents};
use crate::support::disinfox::{DisinfoxOptions, DisinfoxStandin, Fault};
use crate::support::http::{Response, Server};

type Env = crate::common::FetchEnv;

fn setup() -> Env {
    let dx = DisinfoxStandin::start(DisinfoxOptions {
        prefix: "/disinfox".into(),
        ..Default::default()
    });
    Env::new(dx)
}

#[test]
fn since_7d_returns_exactly_the_newer_objects() {
    let env = setup();
    let now = Utc::now();
    env.dx
        .add_objects(incidents(2, 0, now - chrono::Duration::days(10)));
    let fresh = incidents(3, 100, now - chrono::Duration::days(1));
    env.dx.add_objects(&fresh);
    let out = env
        .fetch()
        .args(["--since", "7d"])
        .assert()
        .success()
        .stderr(contains("15 objects"))
        .get_output()
        .stdout
        .clone();
    let got = ids(&out);
    let want: Vec<String> = fresh
        .iter()
        .map(|o| {
            serde_json::from_str::<serde_json::Value>(o).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(got, want);
    let req = env.dx.requests().pop().unwrap();
    let sent = req.newer_than.unwrap();
    assert!(
        sent.ends_with('Z') && !sent.contains('+') && sent.len() == 27,
        "newer_than {sent}"
    );
    assert_eq!(
        req.authorization.as_deref(),
        Some(env.dx.api_key().as_str())
    );
}

#[test]
fn objects_pass_through_unchanged() {
    let env = setup();
    env.dx.add_objects(incidents(2, 0, Utc::now()));
    let out = env.fetch().assert().success().get_output().stdout.clone();
    let text = String::from_utf8(out).unwrap();
    for o in env.dx.objects() {
        assert!(text.contains(&o.raw), "object altered: {}", o.raw);
    }
}

#[test]
fn nothing_new_is_an_empty_bundle_and_success() {
    let env = setup();
    let out = env.fetch().assert().success().get_output().stdout.clone();
    assert!(ids(&out).is_empty());
}

#[test]
fn base_url_and_full_endpoint_both_work() {
    let env = setup();
    env.dx.add_objects(incidents(1, 0, Utc::now()));
    for url in [
        env.dx.url() + "/disinfox",
        env.dx.url() + "/disinfox/",
        env.dx.endpoint_url(),
        env.dx.url() + "/incidents",
    ] {
        let out = env
            .fetch()
            .env("DISINFOX_URL", &url)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        assert_eq!(ids(&out).len(), 5, "{url}");
    }
}

#[test]
fn every_since_form() {
    let env = setup();
    for (since, expect) in [
        ("2026-11-27T23:51:42.5+02:00", "2026-11-27T21:51:42.500000Z"),
        ("2026-11-27", "2026-11-27T00:00:00.000000Z"),
        ("all", "1970-01-01T00:00:00.000000Z"),
    ] {
        env.dx.clear_requests();
        env.fetch().args(["--since", since]).assert().success();
        assert_eq!(
            env.dx.requests()[0].newer_than.as_deref(),
            Some(expect),
            "{since}"
        );
    }
    env.fetch().args(["--since", "36h"]).assert().success();
    let bad = env.fetch().args(["--since", "yesterday"]).assert().code(2);
    bad.stderr(
        contains("RFC 3339")
            .and(contains("36h"))
            .and(contains("2026-11-27"))
            .and(contains("all")),
    );
}

#[test]
fn wrong_key_is_77_and_missing_key_is_78() {
    let env = setup();
    env.fetch()
        .env("DISINFOX_API_KEY", "DISINFOX.d3Jvbmc=.nope")
        .assert()
        .code(77)
        .stderr(contains("rejected the API key"));
    let mut c = cli(env.home.path());
    c.env("DISINFOX_URL", env.dx.endpoint_url())
        .arg("fetch")
        .assert()
        .code(78)
        .stderr(contains("missing DISINFOX_API_KEY"));
}

#[test]
fn message_only_200_is_a_permission_problem() {
    let server = Server::start(|_req: &crate::support::http::Request| {
        Response::json(
            200,
            r#"{"message":"Please provide an Authorization header with a valid token"}"#,
        )
    });
    let home = tempfile::tempdir().unwrap();
    cli(home.path())
        .env("DISINFOX_URL", server.url())
        .env("DISINFOX_API_KEY", "DISINFOX.x.y")
        .arg("fetch")
        .assert()
        .code(77)
        .stderr(contains("Please provide an Authorization header"));
}

#[test]
fn wrong_path_is_78() {
    let env = setup();
    env.fetch()
        .env("DISINFOX_URL", env.dx.url() + "/nope/")
        .assert()
        .code(78)
        .stderr(contains("wrong URL"));
}

#[test]
fn server_errors_retry_then_75_and_recover() {
    let env = setup();
    env.dx.add_objects(incidents(1, 0, Utc::now()));
    env.dx.set_fault(Fault::Json500 { times: 10 });
    env.fetch()
        .args(["--retries", "2"])
        .assert()
        .code(75)
        .stderr(contains("gave up after 3 attempts"));
    env.dx.set_fault(Fault::Html500 { times: 1 });
    let out = env
        .fetch()
        .assert()
        .success()
        .stderr(contains("retrying"))
        .get_output()
        .stdout
        .clone();
    assert_eq!(ids(&out).len(), 5);
    env.dx.set_fault(Fault::TooMany {
        times: 1,
        retry_after_secs: Some(1),
    });
    env.fetch()
        .assert()
        .success()
        .stderr(contains("retrying in 1.0s"));
}

#[test]
fn unusable_answers() {
    let env = setup();
    env.dx.add_objects(incidents(1, 0, Utc::now()));
    env.dx.set_fault(Fault::NotJson);
    env.fetch()
        .assert()
        .code(76)
        .stderr(contains("not valid JSON").and(contains("text/html")));
    env.dx.set_fault(Fault::NotABundle);
    env.fetch()
        .assert()
        .code(76)
        .stderr(contains("not a STIX bundle"));
    env.dx.set_fault(Fault::Truncated);
    env.fetch()
        .args(["--retries", "1"])
        .assert()
        .code(75)
        .stderr(contains("broke off"));
    env.dx.set_fault(Fault::Slow {
        delay: Duration::from_millis(1500),
    });
    env.fetch()
        .args(["--retries", "0", "--timeout", "300ms"])
        .assert()
        .code(75)
        .stderr(contains("did not answer in time"));
}

#[test]
fn bad_object_in_bundle_is_65() {
    let env = setup();
    env.dx.add_raw_at(
        Utc::now().timestamp_millis(),
        r#"{"id":"not-an-id","modified":"2026-01-01T00:00:00.000Z","type":"intrusion-set"}"#,
    );
    env.fetch().assert().code(65).stderr(contains("objects[0]"));
}

#[test]
fn unreachable_is_75() {
    let home = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    cli(home.path())
        .env("DISINFOX_URL", format!("http://127.0.0.1:{port}/incidents"))
        .env("DISINFOX_API_KEY", "DISINFOX.x.y")
        .args(["fetch", "--retries", "1"])
        .assert()
        .code(75)
        .stderr(contains("cannot connect"));
}

#[test]
fn size_cap_is_78() {
    let env = setup();
    env.dx.add_objects(incidents(5, 0, Utc::now()));
    env.fetch()
        .args(["--max-bundle-size", "1K"])
        .assert()
        .code(78)
        .stderr(contains("--max-bundle-size"));
}

#[test]
fn output_file_is_written_atomically() {
    let env = setup();
    env.dx.add_objects(incidents(1, 0, Utc::now()));
    let out = env.home.path().join("bundle.json");
    env.fetch()
        .args(["--output", out.to_str().unwrap()])
        .assert()
        .success()
        .stdout("");
    assert_eq!(ids(&std::fs::read(&out).unwrap()).len(), 5);
    let missing_dir = env.home.path().join("no/such/dir/bundle.json");
    env.fetch()
        .args(["--output", missing_dir.to_str().unwrap()])
        .assert()
        .code(74);
    env.dx.set_fault(Fault::Json500 { times: 5 });
    std::fs::write(&out, "previous").unwrap();
    env.fetch()
        .args(["--output", out.to_str().unwrap(), "--retries", "0"])
        .assert()
        .code(75);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous");
    // An answer that breaks off midway, after writing has started, leaves no half file either.
    env.dx.set_fault(Fault::Truncated);
    env.fetch()
        .args(["--output", out.to_str().unwrap()])
        .assert()
        .code(75)
        .stderr(contains("broke off"));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous");
    let leftovers = std::fs::read_dir(env.home.path()).unwrap().filter(|e| {
        e.as_ref()
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".tmp")
    });
    assert_eq!(leftovers.count(), 0, "a temporary file was left behind");
}

#[test]
fn precedence_flag_env_file() {
    let env = setup();
    env.dx.add_objects(incidents(1, 0, Utc::now()));
    let cfg = env.home.path().join("config.yml");
    let good = env.dx.endpoint_url();
    let bad = env.dx.url() + "/wrong/";
    std::fs::write(
        &cfg,
        format!(
            "disinfox:\n  url: '{good}'\n  api_key: '{}'\nconnector:\n  typo_key: 1\n",
            env.dx.api_key()
        ),
    )
    .unwrap();
    let mut base = cli(env.home.path());
    base.args(["--config", cfg.to_str().unwrap(), "fetch"]);
    // file alone
    base.assert()
        .success()
        .stderr(contains("unknown config key 'connector.typo_key'"));
    // env beats file
    let mut c = cli(env.home.path());
    c.env("DISINFOX_URL", &bad)
        .args(["--config", cfg.to_str().unwrap(), "fetch"])
        .assert()
        .code(78);
    // flag beats env
    let mut c = cli(env.home.path());
    c.env("DISINFOX_URL", &bad)
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "--disinfox-url",
            &good,
            "fetch",
        ])
        .assert()
        .success();
    // the default location is read when present
    let default_dir = env.home.path().join("config/disinfox-sync");
    std::fs::create_dir_all(&default_dir).unwrap();
    std::fs::copy(&cfg, default_dir.join("config.yml")).unwrap();
    cli(env.home.path()).arg("fetch").assert().success();
    // an explicit file that is missing is an error
    cli(env.home.path())
        .args(["--config", "/nonexistent/config.yml", "fetch"])
        .assert()
        .code(78)
        .stderr(contains("cannot read config file"));
}

#[test]
fn secrets_from_files() {
    let env = setup();
    env.dx.add_objects(incidents(1, 0, Utc::now()));
    let key_file = env.home.path().join("key");
    std::fs::write(&key_file, format!("{}\n", env.dx.api_key())).unwrap();
    let mut c = cli(env.home.path());
    c.env("DISINFOX_URL", env.dx.endpoint_url())
        .env("DISINFOX_API_KEY_FILE", &key_file)
        .arg("fetch")
        .assert()
        .success();
    env.fetch()
        .env("DISINFOX_API_KEY_FILE", &key_file)
        .assert()
        .code(78)
        .stderr(contains("keep only one"));
}

#[test]
fn invalid_settings_each_get_a_line() {
    let env = setup();
    env.fetch()
        .env("DISINFOX_URL", "not a url")
        .env("CONNECTOR_LOG_LEVEL", "loud")
        .assert()
        .code(78)
        .stderr(contains("invalid DISINFOX_URL").and(contains("unknown log level 'loud'")));
}

#[test]
fn debug_output_never_contains_the_key() {
    let env = setup();
    env.dx.add_objects(incidents(2, 0, Utc::now()));
    let key = env.dx.api_key();
    let email_b64 = key.split('.').nth(1).unwrap().to_owned();
    // --log-level debug, the same as JSON, and RUST_LOG=trace alone (every library's trace lines).
    for extra in [
        vec!["--log-level", "debug"],
        vec!["--log-level", "debug", "--log-format", "json"],
        vec![],
    ] {
        let out = env
            .fetch()
            .args(&extra)
            .env("RUST_LOG", "trace")
            .assert()
            .success()
            .get_output()
            .clone();
        let all = [out.stdout, out.stderr].concat();
        let text = String::from_utf8_lossy(&all);
        assert!(text.contains("configuration"), "debug log missing: {text}");
        assert!(
            !text.contains(&key) && !text.contains(&email_b64),
            "key leaked: {text}"
        );
    }
    // A failure message does not leak it either.
    env.dx.set_fault(Fault::Json500 { times: 9 });
    let out = env
        .fetch()
        .args(["--log-level", "debug", "--retries", "0"])
        .assert()
        .code(75)
        .get_output()
        .clone();
    assert!(!String::from_utf8_lossy(&[out.stdout, out.stderr].concat()).contains(&key));
}

#[test]
fn json_log_lines_are_objects() {
    let env = setup();
    let out = env
        .fetch()
        .args(["--log-format", "json"])
        .assert()
        .success()
        .get_output()
        .stderr
        .clone();
    for line in String::from_utf8(out).unwrap().lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        for k in ["timestamp", "level", "name", "message"] {
            assert!(v.get(k).is_some(), "{k} missing in {line}");
        }
    }
}

#[test]
fn closed_pipe_exits_zero_quietly() {
    let env = setup();
    env.dx.add_objects(incidents(400, 0, Utc::now()));
    let script = format!(
        "set -o pipefail; DISINFOX_URL='{}' DISINFOX_API_KEY='{}' HOME='{}' '{}' fetch | head -c 10 >/dev/null",
        env.dx.endpoint_url(),
        env.dx.api_key(),
        env.home.path().display(),
        crate::common::bin_path().display()
    );
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "status {:?}, stderr {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("error"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn help_lists_exit_codes() {
    let home = tempfile::tempdir().unwrap();
    cli(home.path())
        .arg("--help")
        .assert()
        .success()
        .stdout(contains("75  temporary failure").and(contains("78  configuration error")));
}

#[test]
fn standard_proxy_variables_are_honoured() {
    // The host does not resolve: only a proxy can answer for it.
    let proxy = Server::start(|req: &crate::support::http::Request| {
        if req.path.starts_with("http://disinfox.invalid/incidents") {
            Response::json(200, "{}")
        } else {
            Response::json(502, format!("{{\"unexpected\":\"{}\"}}", req.path))
        }
    });
    let home = tempfile::tempdir().unwrap();
    cli(home.path())
        .env("DISINFOX_URL", "http://disinfox.invalid/incidents")
        .env("DISINFOX_API_KEY", "DISINFOX.eA==.k")
        .env("HTTP_PROXY", proxy.url())
        .args(["fetch", "--retries", "0"])
        .assert()
        .success();
}

#[test]
fn gzip_answers_from_a_compressing_proxy_are_accepted() {
    let objects = incidents(20, 0, Utc::now());
    let refs: Vec<&str> = objects.iter().map(String::as_str).collect();
    let plain = crate::support::disinfox::render_bundle(&refs);
    let mut gz = std::process::Command::new("gzip")
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip is installed");
    std::io::Write::write_all(gz.stdin.as_mut().unwrap(), plain.as_bytes()).unwrap();
    drop(gz.stdin.take());
    let compressed = gz.wait_with_output().unwrap().stdout;
    assert!(compressed.len() < plain.len());
    let server = Server::start(move |req: &crate::support::http::Request| {
        let accepts = req.header("Accept-Encoding").unwrap_or("").contains("gzip");
        if accepts {
            Response::json(200, compressed.clone()).with_header("Content-Encoding", "gzip")
        } else {
            Response::json(500, "{\"message\":\"client did not ask for gzip\"}")
        }
    });
    let home = tempfile::tempdir().unwrap();
    let out = cli(home.path())
        .env("DISINFOX_URL", server.url())
        .env("DISINFOX_API_KEY", "DISINFOX.eA==.k")
        .args(["fetch", "--retries", "0"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(out == plain.as_bytes(), "decompressed answer differs");
}
