//! What a run reads before it talks to anyone: the CA roots only for an https:// peer, and
//! every certificate file with a bound (a device or a FIFO is refused at once).

use std::path::Path;
use std::time::Duration;

use predicates::prelude::*;
use predicates::str::contains;

use crate::common::{Peers, cli};

/// Where Debian's CA store lives: a run that reads none of it opens nothing under these.
const CA_STORE: &[&str] = &["/etc/ssl", "/usr/share/ca-certificates"];

/// The files the CLI opened or looked at, by `strace -f -e trace=%file`; `None` (after a skip
/// notice; a failure under CI=true) without strace.
fn opened_files(mut cmd: std::process::Command, trace: &Path) -> Option<(i32, String)> {
    let strace = crate::tools::required("strace", "strace")?;
    let mut traced = std::process::Command::new(strace);
    traced
        .args(["-f", "-qq", "-e", "trace=%file", "-o"])
        .arg(trace)
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .env_clear()
        .envs(
            cmd.get_envs()
                .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    cmd.stdout(std::process::Stdio::null());
    let status = traced.status().expect("strace runs");
    Some((
        status.code().unwrap_or(-1),
        std::fs::read_to_string(trace).unwrap(),
    ))
}

fn sync_command(peers: &Peers) -> std::process::Command {
    let mut cmd = std::process::Command::new(crate::common::bin_path());
    cmd.env("HOME", peers.home.path())
        .env("XDG_CONFIG_HOME", peers.home.path().join("config"))
        .env("DISINFOX_URL", peers.dx.endpoint_url())
        .env("DISINFOX_API_KEY", peers.dx.api_key())
        .env("OPENCTI_URL", peers.octi.url())
        .env("OPENCTI_TOKEN", peers.octi.token())
        .env("CONNECTOR_ID", crate::common::CONNECTOR_ID)
        .args(["--retries", "0", "--timeout", "5s", "sync"]);
    cmd
}

fn store_lines(trace: &str) -> Vec<&str> {
    trace
        .lines()
        .filter(|l| CA_STORE.iter().any(|dir| l.contains(&format!("\"{dir}"))))
        .collect()
}

#[test]
fn a_plain_http_sync_reads_no_ca_store() {
    let peers = Peers::start("6.9.17");
    let trace = peers.home.path().join("trace");
    let Some((code, opened)) = opened_files(sync_command(&peers), &trace) else {
        return;
    };
    assert_eq!(code, 0, "{opened}");
    // The trace is real: the run looked for its configuration file.
    assert!(opened.contains("config.yml"), "{opened}");
    assert_eq!(store_lines(&opened), Vec::<&str>::new());

    // The same run with an https:// DISINFOX (nothing listens there) does read the store:
    // what the first half looks for is there to be seen.
    if !Path::new("/etc/ssl/certs").is_dir() {
        return;
    }
    let mut https = sync_command(&peers);
    https.env("DISINFOX_URL", "https://127.0.0.1:9/incidents");
    let (_, opened) = opened_files(https, &trace).unwrap();
    assert!(!store_lines(&opened).is_empty(), "{opened}");
}

fn fetch_over_https(home: &Path) -> assert_cmd::Command {
    let mut cmd = cli(home);
    cmd.env("DISINFOX_URL", "https://127.0.0.1:9/incidents")
        .env("DISINFOX_API_KEY", "DISINFOX.eA==.k")
        .args(["fetch", "--retries", "0"])
        .timeout(Duration::from_secs(20));
    cmd
}

fn make_fifo(dir: &Path) -> Option<std::path::PathBuf> {
    let fifo = dir.join("fifo.pem");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        crate::common::skip("mkfifo is not available");
        return None;
    }
    Some(fifo)
}

#[test]
fn ssl_cert_file_is_read_with_a_bound() {
    let home = tempfile::tempdir().unwrap();
    fetch_over_https(home.path())
        .env("SSL_CERT_FILE", "/dev/zero")
        .assert()
        .code(78)
        .stderr(contains("SSL_CERT_FILE /dev/zero").and(contains("a device")));
    let Some(fifo) = make_fifo(home.path()) else {
        return;
    };
    fetch_over_https(home.path())
        .env("SSL_CERT_FILE", &fifo)
        .assert()
        .code(78)
        .stderr(contains("SSL_CERT_FILE").and(contains("a FIFO")));
    let big = home.path().join("big.pem");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(64 << 20).unwrap();
    fetch_over_https(home.path())
        .env("SSL_CERT_FILE", &big)
        .assert()
        .code(78)
        .stderr(contains("larger than"));
}

#[test]
fn ca_cert_is_read_with_a_bound() {
    let home = tempfile::tempdir().unwrap();
    fetch_over_https(home.path())
        .args(["--ca-cert", "/dev/zero"])
        .assert()
        .code(78)
        .stderr(contains("--ca-cert").and(contains("a device")));
    let Some(fifo) = make_fifo(home.path()) else {
        return;
    };
    fetch_over_https(home.path())
        .arg("--ca-cert")
        .arg(&fifo)
        .assert()
        .code(78)
        .stderr(contains("--ca-cert").and(contains("a FIFO")));
}
