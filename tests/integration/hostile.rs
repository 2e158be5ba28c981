//! Hostile inputs and careless environments: files that must not be replaced, inputs that
//! must not be read without bound, peers that trickle, dates that must not reach the cursor.

use chrono::Utc;
use predicates::str::contains;

use crate::common::{cli, incidents};
use crate::support::disinfox::{DisinfoxOptions, DisinfoxStandin};

struct Env {
    home: tempfile::TempDir,
    dx: DisinfoxStandin,
}

fn setup() -> Env {
    let dx = DisinfoxStandin::start(DisinfoxOptions::default());
    dx.add_objects(incidents(1, 0, Utc::now() - chrono::Duration::days(1)));
    Env {
        home: tempfile::tempdir().unwrap(),
        dx,
    }
}

impl Env {
    fn fetch(&self) -> assert_cmd::Command {
        let mut c = cli(self.home.path());
        c.env("DISINFOX_URL", self.dx.endpoint_url())
            .env("DISINFOX_API_KEY", self.dx.api_key())
            .arg("fetch");
        c
    }
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
