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
