//! TLS: verification is on by default, an untrusted certificate is a configuration error
//! (78) whose message says how to fix it, and `--ca-cert` trusts a private CA. Runs against
//! `openssl s_server` when the openssl command is installed.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use predicates::prelude::*;
use predicates::str::contains;

use crate::common::cli;

struct TlsServer {
    child: Child,
    port: u16,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private CA, a leaf for 127.0.0.1 signed by it, and `s_server -www` serving it.
fn start(dir: &Path) -> Option<TlsServer> {
    if !crate::support::certs::make_certs(dir) {
        return None;
    }
    // The free port is picked before s_server binds it; another process may take it in
    // between, so a few ports are tried.
    (0..3).find_map(|_| serve(dir))
}

fn serve(dir: &Path) -> Option<TlsServer> {
    let port = TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = Command::new("openssl")
        .current_dir(dir)
        .args([
            "s_server",
            "-accept",
            &format!("127.0.0.1:{port}"),
            "-cert",
            "leaf.pem",
            "-key",
            "leaf.key",
            "-www",
            "-quiet",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut server = TlsServer { child, port };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        let exited = server.child.try_wait().ok().flatten().is_some();
        if exited || Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(server)
}

#[test]
fn untrusted_certificate_is_78_and_ca_cert_fixes_it() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = start(dir.path()) else {
        crate::common::skip_or_fail("no openssl command");
        return;
    };
    let url = format!("https://127.0.0.1:{}/incidents", server.port);
    let fetch = || {
        let mut c = cli(dir.path());
        c.env("DISINFOX_URL", &url)
            .env("DISINFOX_API_KEY", "DISINFOX.eA==.k")
            .args(["fetch", "--retries", "0"]);
        c
    };
    fetch()
        .assert()
        .code(78)
        .stderr(contains("TLS verification failed").and(contains("--ca-cert")));
    // Trusted now: the handshake succeeds and s_server's HTML status page is what comes back.
    let ca = dir.path().join("ca.pem");
    fetch()
        .args(["--ca-cert", ca.to_str().unwrap()])
        .assert()
        .code(76)
        .stderr(contains("not valid JSON"));
    fetch()
        .args(["--ca-cert", "/nonexistent.pem"])
        .assert()
        .code(78)
        .stderr(contains("--ca-cert"));
    // A PEM file without a certificate is refused, not silently trusted for nothing.
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    fetch()
        .args(["--ca-cert", empty.to_str().unwrap()])
        .assert()
        .code(78)
        .stderr(contains("no certificate"));
    // SSL_CERT_FILE naming nothing is configuration (78), and the hint says what it does.
    fetch()
        .env("SSL_CERT_FILE", dir.path().join("missing.pem"))
        .assert()
        .code(78)
        .stderr(contains("SSL_CERT_FILE"));
}
