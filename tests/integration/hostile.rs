//! Hostile inputs and careless environments: files that must not be replaced, inputs that
//! must not be read without bound, peers that trickle, dates that must not reach the cursor.

use chrono::Utc;
use predicates::str::contains;

use crate::common::{cli, incidents};
use crate::support::disinfox::{DisinfoxOptions, DisinfoxStandin};

type Env = crate::common::FetchEnv;

fn setup() -> Env {
    let dx = DisinfoxStandin::start(DisinfoxOptions::default());
    dx.add_objects(incidents(1, 0, Utc::now() - chrono::Duration::days(1)));
    Env::new(dx)
}

#[test]
fn fetch_output_refuses_a_symlink_and_leaves_its_target_alone() {
    let env = setup();
    let victim = env.home.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    let link = env.home.path().join("out.json");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    env.fetch()
        .args(["--output", link.to_str().unwrap()])
        .assert()
        .code(74)
        .stderr(contains("symbolic link"));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(env.dx.requests().is_empty(), "refused before downloading");
}

#[test]
fn fetch_output_refuses_a_fifo() {
    let env = setup();
    let fifo = env.home.path().join("fifo");
    if !std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        crate::common::skip("mkfifo is not available");
        return;
    }
    env.fetch()
        .args(["-o", fifo.to_str().unwrap()])
        .assert()
        .code(74)
        .stderr(contains("FIFO"));
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
}

#[test]
fn fetch_output_keeps_the_mode_of_the_file_it_replaces() {
    use std::os::unix::fs::PermissionsExt;
    let env = setup();
    let out = env.home.path().join("out.json");
    std::fs::write(&out, "old").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o600)).unwrap();
    env.fetch()
        .args(["-o", out.to_str().unwrap()])
        .assert()
        .success();
    let meta = std::fs::metadata(&out).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("\"bundle\"")
    );
}

#[test]
fn fetch_output_dash_is_stdout() {
    let env = setup();
    let out = env.fetch().args(["--output", "-"]).assert().success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("\"bundle\""));
    assert!(!env.home.path().join("-").exists());
}

#[test]
fn fetch_to_a_closed_stdout_fails() {
    let env = setup();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" --timeout 5s fetch >&- 2>/dev/null")
        .arg(crate::common::bin_path())
        .env_clear()
        .env("HOME", env.home.path())
        .env("DISINFOX_URL", env.dx.endpoint_url())
        .env("DISINFOX_API_KEY", env.dx.api_key())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(74));
}

#[test]
fn sync_refuses_a_symlinked_state_file() {
    let peers = crate::common::Peers::start("6.9.17");
    let real = peers.home.path().join("real.json");
    std::fs::write(&real, "{}").unwrap();
    let link = peers.home.path().join("state.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    peers
        .cmd()
        .args(["sync", "--state-file", link.to_str().unwrap()])
        .assert()
        .code(74)
        .stderr(contains("symbolic link"));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(peers.octi.pushes().is_empty());
}

/// A future-dated object must not carry the cursor past now, whatever form DISINFOX's `Date`
/// takes or when it is missing; the incident added afterwards is still imported.
#[test]
fn a_future_modified_does_not_poison_the_cursor() {
    use crate::support::disinfox::Fault;
    let asctime = |t: chrono::DateTime<Utc>| t.format("%a %b %e %H:%M:%S %Y").to_string();
    let rfc850 = |t: chrono::DateTime<Utc>| t.format("%A, %d-%b-%y %H:%M:%S GMT").to_string();
    for date in [String::new(), asctime(Utc::now()), rfc850(Utc::now())] {
        let peers = crate::common::Peers::start("6.9.17");
        peers.dx.set_fault(Fault::DateHeader(date.clone()));
        let future = Utc::now() + chrono::Duration::days(3000);
        peers.dx.add_objects(incidents(1, 0, future));
        let state = peers.home.path().join("state.json");
        let f = state.to_str().unwrap();
        peers
            .cmd()
            .args(["sync", "--state-file", f])
            .assert()
            .success();
        let text = std::fs::read_to_string(&state).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let cursor =
            chrono::DateTime::parse_from_rfc3339(v["last_fetch"].as_str().unwrap()).unwrap();
        assert!(
            cursor.to_utc() <= Utc::now(),
            "Date {date:?}: cursor {cursor}"
        );
        let fresh = incidents(1, 50, Utc::now() - chrono::Duration::seconds(1));
        peers.dx.add_objects(&fresh);
        peers.octi.clear_history();
        peers
            .cmd()
            .args(["sync", "--state-file", f, "--settle", "0s"])
            .assert()
            .success();
        let got = peers.octi.received_ids();
        let want = serde_json::from_str::<serde_json::Value>(&fresh[0]).unwrap()["id"].clone();
        assert!(
            got.iter().any(|i| *i == want),
            "Date {date:?}: the later incident was skipped"
        );
    }
}

#[test]
fn leap_second_year_zero_and_impossible_when_are_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    for when in ["2026-12-31T23:59:60Z", "0000-01-01T00:00:00Z", "2099-02-30"] {
        cli(home.path())
            .args(["reset-state", "--state-file", "s.json", "--to", when])
            .current_dir(home.path())
            .assert()
            .code(2);
        cli(home.path())
            .env("DISINFOX_URL", "http://127.0.0.1:9/")
            .env("DISINFOX_API_KEY", "x-key-for-usage")
            .args(["fetch", "--since", when])
            .assert()
            .code(2);
    }
}

#[test]
fn reset_state_to_a_future_date_warns() {
    let home = tempfile::tempdir().unwrap();
    cli(home.path())
        .args([
            "reset-state",
            "--state-file",
            "s.json",
            "--to",
            "2999-01-01",
        ])
        .current_dir(home.path())
        .assert()
        .success()
        .stderr(contains("in the future"));
}

#[test]
fn a_stored_future_cursor_starts_from_now() {
    let peers = crate::common::Peers::start("6.9.17");
    let state = peers.home.path().join("state.json");
    std::fs::write(&state, r#"{"last_fetch":"9999-12-31T23:59:59.000000Z"}"#).unwrap();
    peers
        .cmd()
        .args(["sync", "--state-file", state.to_str().unwrap()])
        .assert()
        .success()
        .stderr(contains("in the future"));
    let newer_than = peers
        .dx
        .requests()
        .last()
        .unwrap()
        .newer_than
        .clone()
        .unwrap();
    assert!(newer_than.as_str() < "9999", "{newer_than}");
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(!text.contains("9999"), "{text}");
}

/// reqwest's own timeout restarts on every read; one byte a second must not hold a run past
/// its --timeout (bound: timeout + 2 s, as documented; the trickle alone would take minutes).
#[test]
fn a_trickling_answer_ends_within_the_timeout() {
    use crate::support::disinfox::Fault;
    let env = setup();
    env.dx
        .set_fault(Fault::Trickle(std::time::Duration::from_millis(500)));
    let started = std::time::Instant::now();
    env.fetch()
        .args(["--timeout", "3s", "--retries", "0"])
        .assert()
        .code(75)
        .stderr(contains("within --timeout"));
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(5), "took {took:?}");
    env.dx.set_fault(Fault::None);
}

/// Runs the CLI to its end and returns its exit code, stderr, wall time and peak RSS (KiB).
///
/// Linux hands a program, at exec, the memory high-water mark of the process that exec'd
/// (`exec_mmap`), so a child spawned straight from this test binary would report the whole
/// test binary's peak. A small python3 process starts the CLI instead and reports
/// `RUSAGE_CHILDREN`: its own few megabytes are the floor.
fn run_measured(
    home: &std::path::Path,
    args: &[&str],
    envs: &[(&str, &str)],
    stdin: std::process::Stdio,
) -> (i32, String, std::time::Duration, i64) {
    const MEASURE: &str = "import resource, subprocess, sys, time\n\
        t = time.monotonic()\n\
        p = subprocess.run(sys.argv[1:])\n\
        print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.monotonic() - t)\n";
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(MEASURE)
        .arg(crate::common::bin_path())
        .args(args)
        .env_clear()
        .env("HOME", home)
        .envs(envs.iter().copied())
        .stdin(stdin)
        .output()
        .expect("python3 runs the measured child");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = String::from_utf8_lossy(&out.stdout);
    let mut fields = report.split_whitespace();
    let mut next = || {
        fields
            .next()
            .unwrap_or_else(|| panic!("no report: {stderr}"))
    };
    let code: i32 = next().parse().unwrap();
    let rss_kib: i64 = next().parse().unwrap();
    let took = std::time::Duration::from_secs_f64(next().parse().unwrap());
    (code, stderr, took, rss_kib)
}

/// Endless inputs end at once with a clear error, in little memory. The time bound is loose
/// (5 s for "about a second") so a loaded machine does not fail it; unbounded reading of
/// /dev/zero reached gigabytes within that time.
#[test]
fn endless_local_inputs_end_at_once_in_little_memory() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let octi = [
        ("OPENCTI_URL", "http://127.0.0.1:9"),
        ("OPENCTI_TOKEN", "a-token-for-this-test"),
        ("CONNECTOR_ID", crate::common::CONNECTOR_ID),
    ];
    let dx = [("DISINFOX_URL", "http://127.0.0.1:9")];
    let null = std::process::Stdio::null;
    type Case<'a> = (
        Vec<&'a str>,
        Vec<(&'a str, &'a str)>,
        std::process::Stdio,
        i32,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            vec!["push", "--file", "/dev/zero"],
            octi.to_vec(),
            null(),
            66,
            "a device",
        ),
        (
            vec!["--config", "/dev/zero", "push", "--dry-run", "--file", "x"],
            vec![],
            null(),
            78,
            "a device",
        ),
        (
            vec!["fetch"],
            [dx.as_slice(), &[("DISINFOX_API_KEY_FILE", "/dev/zero")]].concat(),
            null(),
            78,
            "DISINFOX_API_KEY_FILE",
        ),
        (
            vec!["push"],
            octi.to_vec(),
            std::process::Stdio::from(std::fs::File::open("/dev/zero").unwrap()),
            65,
            "byte 0x00",
        ),
    ];
    for (args, envs, stdin, code, says) in cases {
        let (got, stderr, took, rss_kib) = run_measured(h, &args, &envs, stdin);
        assert_eq!(got, code, "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(
            took < std::time::Duration::from_secs(5),
            "{args:?} took {took:?}"
        );
        assert!(rss_kib < 64 * 1024, "{args:?} peaked at {rss_kib} KiB");
    }
}

#[test]
fn a_fifo_as_config_does_not_hang() {
    let home = tempfile::tempdir().unwrap();
    let fifo = home.path().join("config.yml");
    if !std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        crate::common::skip("mkfifo is not available");
        return;
    }
    cli(home.path())
        .args([
            "--config",
            fifo.to_str().unwrap(),
            "push",
            "--dry-run",
            "--file",
            "x",
        ])
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .code(78)
        .stderr(contains("FIFO"));
}

#[test]
fn push_refuses_a_bundle_over_max_bundle_size() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("b.json");
    std::fs::write(&file, crate::common::bundle_of(3, Utc::now())).unwrap();
    cli(home.path())
        .args([
            "push",
            "--dry-run",
            "--max-bundle-size",
            "1K",
            "--file",
            file.to_str().unwrap(),
        ])
        .assert()
        .code(78)
        .stderr(contains("--max-bundle-size"));
}

#[test]
fn a_secret_with_a_control_character_is_a_configuration_error() {
    let home = tempfile::tempdir().unwrap();
    cli(home.path())
        .env("DISINFOX_URL", "http://127.0.0.1:9")
        .env("DISINFOX_API_KEY", "a-valid-looking-key\n")
        .arg("fetch")
        .assert()
        .code(78)
        .stderr(contains("DISINFOX_API_KEY"));
}

#[test]
fn a_secret_file_with_an_extra_line_is_a_configuration_error() {
    let home = tempfile::tempdir().unwrap();
    let key = home.path().join("key");
    std::fs::write(&key, "a-valid-looking-key\n\n").unwrap();
    cli(home.path())
        .env("DISINFOX_URL", "http://127.0.0.1:9")
        .env("DISINFOX_API_KEY_FILE", &key)
        .arg("fetch")
        .assert()
        .code(78)
        .stderr(contains("DISINFOX_API_KEY_FILE"));
}

/// One answer, one exit status, whether `fetch` streams it or `sync` parses it whole: a
/// cut-off document and bytes that are not UTF-8 are DISINFOX's broken answer (76).
#[test]
fn fetch_and_sync_judge_a_broken_answer_alike() {
    use crate::support::http::{Response, Server};
    let objects = incidents(2, 0, Utc::now() - chrono::Duration::days(1));
    let refs: Vec<&str> = objects.iter().map(String::as_str).collect();
    let good = crate::support::disinfox::render_bundle(&refs).into_bytes();
    let truncated = good[..good.len() / 2].to_vec();
    let mut not_utf8 = good.clone();
    let at = not_utf8.windows(9).position(|w| w == b"Incident ").unwrap();
    not_utf8[at + 3] = 0xff;
    for (name, body) in [("cut off", truncated), ("not UTF-8", not_utf8)] {
        let server = Server::start(move |_req: &crate::support::http::Request| {
            Response::json(200, body.clone())
        });
        let peers = crate::common::Peers::start("6.9.17");
        let fetch = peers
            .cmd()
            .env("DISINFOX_URL", server.url())
            .args(["fetch", "--retries", "0", "-o", "out.json"])
            .current_dir(peers.home.path())
            .output()
            .unwrap();
        let sync = peers
            .cmd()
            .env("DISINFOX_URL", server.url())
            .args(["sync", "--retries", "0"])
            .output()
            .unwrap();
        assert_eq!(fetch.status.code(), Some(76), "{name}: fetch {fetch:?}");
        assert_eq!(sync.status.code(), Some(76), "{name}: sync {sync:?}");
    }
}

#[test]
fn values_that_would_defer_or_fail_every_run_are_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    for args in [
        vec!["sync", "--queue-threshold=-1"],
        vec!["sync", "--queue-threshold", "NaN"],
        vec!["--timeout", "0", "sync"],
        vec!["--connect-timeout", "0s", "sync"],
    ] {
        cli(home.path()).args(&args).assert().code(2);
    }
}

#[test]
fn http_408_is_temporary_and_a_redirect_loop_is_a_protocol_error() {
    use crate::support::http::{Response, Server};
    let home = tempfile::tempdir().unwrap();
    let fetch = |url: String| {
        let mut c = cli(home.path());
        c.env("DISINFOX_URL", url)
            .env("DISINFOX_API_KEY", "a-key-for-this-test")
            .args(["fetch", "--retries", "1"]);
        c
    };
    let timeout = Server::start(|_req: &crate::support::http::Request| {
        Response::html(408, "<h1>Request Timeout</h1>")
    });
    fetch(timeout.url()).assert().code(75);
    let looping = Server::start(|req: &crate::support::http::Request| {
        Response::html(302, "").with_header("Location", req.path.clone())
    });
    fetch(looping.url())
        .assert()
        .code(76)
        .stderr(contains("redirects"));
}

#[test]
fn a_bundle_with_a_byte_order_mark_is_read() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("bom.json");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(crate::common::bundle_of(1, Utc::now()).as_bytes());
    std::fs::write(&file, bytes).unwrap();
    cli(home.path())
        .args(["push", "--dry-run", "--file", file.to_str().unwrap()])
        .assert()
        .success();
}

#[test]
fn a_failure_is_printed_once() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("bad.json");
    std::fs::write(
        &file,
        "{\"type\":\"bundle\",\"objects\":[{\"type\":\"x\"}]}",
    )
    .unwrap();
    let out = cli(home.path())
        .args(["push", "--dry-run", "--file", file.to_str().unwrap()])
        .assert()
        .code(65);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    let last = stderr.lines().last().unwrap();
    let message = last.strip_prefix("disinfox-sync: error: ").unwrap();
    assert_eq!(stderr.matches(message).count(), 1, "{stderr}");
}

#[test]
fn config_files_of_the_wrong_shape_are_named_as_such() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.yml");
    for (text, says) in [
        ("just a string\n", "not a string"),
        ("- a\n- list\n", "not a list"),
        ("opencti:\n  url:\n    nested: 1\n", "invalid OPENCTI_URL"),
    ] {
        std::fs::write(&config, text).unwrap();
        let out = cli(home.path())
            .args([
                "--config",
                config.to_str().unwrap(),
                "push",
                "--file",
                "x.json",
            ])
            .env("OPENCTI_TOKEN", "a-token-for-this-test")
            .env("CONNECTOR_ID", crate::common::CONNECTOR_ID)
            .assert()
            .code(78)
            .stderr(contains(says));
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(!stderr.contains("missing OPENCTI_URL"), "{stderr}");
    }
}

/// `sync --dry-run` is documented to change nothing: no mutation reaches OpenCTI, and the
/// cursor it reports starts from the stored state.
#[test]
fn sync_dry_run_sends_no_mutation() {
    let peers = crate::common::Peers::start("6.9.17");
    peers
        .dx
        .add_objects(incidents(2, 0, Utc::now() - chrono::Duration::hours(1)));
    peers.cmd().args(["sync", "--dry-run"]).assert().success();
    let mutations = [
        "registerConnector",
        "pingConnector",
        "stixBundlePush",
        "workAdd",
        "workEdit",
    ];
    for r in peers.octi.requests() {
        assert!(
            !r.root_fields
                .iter()
                .any(|f| mutations.contains(&f.as_str())),
            "dry run sent {:?}",
            r.root_fields
        );
    }
    assert!(
        peers.octi.connector_ids().is_empty(),
        "the dry run registered the connector"
    );
    // After a real run, a dry run reads the stored cursor (read-only, which needs MODULES,
    // as the built-in "Connector" role has) and plans from it.
    peers.cmd().arg("sync").assert().success();
    peers
        .octi
        .set_capabilities(["CONNECTORAPI", "MODULES_MODMANAGE", "KNOWLEDGE_KNUPDATE"]);
    let out = peers
        .cmd()
        .args(["sync", "--dry-run", "--json"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert!(v["cursor_before"].is_string(), "{v}");
}

#[test]
fn a_state_file_of_binary_junk_is_corrupt_like_invalid_json() {
    let peers = crate::common::Peers::start("6.9.17");
    let state = peers.home.path().join("state.json");
    for junk in [&b"{oops"[..], &b"\xff\xfe\x00junk"[..]] {
        std::fs::write(&state, junk).unwrap();
        peers
            .cmd()
            .args(["sync", "--state-file", state.to_str().unwrap()])
            .assert()
            .code(78)
            .stderr(contains("reset-state"));
    }
}

/// The OpenCTI side has the same deadline: a trickling GraphQL answer ends the run within
/// --timeout (bound: timeout + 2 s).
#[test]
fn a_trickling_opencti_answer_ends_within_the_timeout() {
    let peers = crate::common::Peers::start("6.9.17");
    peers
        .octi
        .set_fault(crate::support::opencti::Fault::Trickle {
            pause: std::time::Duration::from_millis(500),
        });
    let file = peers.home.path().join("b.json");
    std::fs::write(&file, crate::common::bundle_of(1, Utc::now())).unwrap();
    let started = std::time::Instant::now();
    peers
        .cmd()
        .args([
            "push",
            "--timeout",
            "3s",
            "--retries",
            "0",
            "--file",
            file.to_str().unwrap(),
        ])
        .assert()
        .code(75)
        .stderr(contains("within --timeout"));
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(5), "took {took:?}");
    peers.octi.set_fault(crate::support::opencti::Fault::None);
}

/// A "Pushgateway" that answers 200 and then `limit` bytes of a JSON array that never
/// closes, to the first connection (the push reads the group first), then stops by itself.
fn endless_pushgateway(limit: usize) -> (String, std::thread::JoinHandle<()>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    listener.set_nonblocking(true).unwrap();
    let server = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let chunk = "{\"labels\":{\"job\":\"x\"}},".repeat(4096);
        let mut served = 0;
        while served < 1 && std::time::Instant::now() < deadline {
            let Ok((mut conn, _)) = listener.accept() else {
                std::thread::sleep(std::time::Duration::from_millis(10));
                continue;
            };
            served += 1;
            conn.set_nonblocking(false).unwrap();
            conn.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .unwrap();
            let _ = conn.read(&mut [0u8; 8192]);
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{\"status\":\"success\",\"data\":[";
            let mut sent = 0;
            let mut ok = conn.write_all(head.as_bytes()).is_ok();
            while ok && sent < limit && std::time::Instant::now() < deadline {
                ok = conn.write_all(chunk.as_bytes()).is_ok();
                sent += chunk.len();
            }
        }
    });
    (url, server)
}

/// An endless answer of the Pushgateway is cut at a bound: the run's memory stays small (an
/// unbounded read grew to gigabytes and the CronJob's 256 MiB limit killed a good run) and
/// the run ends 0, with a warning, as every failed push does.
#[test]
fn an_endless_pushgateway_answer_is_bounded() {
    let peers = crate::common::Peers::start("6.9.17");
    // 512 MiB at most: an unbounded reader is caught without filling the machine.
    let (url, server) = endless_pushgateway(512 << 20);
    let dx_url = peers.dx.endpoint_url();
    let dx_key = peers.dx.api_key();
    let octi_url = peers.octi.url();
    let token = peers.octi.token();
    let envs = [
        ("DISINFOX_URL", dx_url.as_str()),
        ("DISINFOX_API_KEY", dx_key.as_str()),
        ("OPENCTI_URL", octi_url.as_str()),
        ("OPENCTI_TOKEN", token.as_str()),
        ("CONNECTOR_ID", crate::common::CONNECTOR_ID),
    ];
    let args = ["--timeout", "20s", "sync", "--pushgateway", &url];
    let (code, stderr, took, rss_kib) =
        run_measured(peers.home.path(), &args, &envs, std::process::Stdio::null());
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("metrics not pushed"), "{stderr}");
    assert!(stderr.contains("larger than 16 MiB"), "{stderr}");
    assert!(rss_kib < 96 * 1024, "peaked at {rss_kib} KiB");
    let _ = writeln_measured(rss_kib, took);
    drop(peers);
    server.join().unwrap();
}

/// The figure, on the real stderr, for the record.
fn writeln_measured(rss_kib: i64, took: std::time::Duration) -> std::io::Result<()> {
    use std::io::Write;
    writeln!(
        std::io::stderr(),
        "endless Pushgateway answer: peak RSS {rss_kib} KiB, {took:?}"
    )
}
