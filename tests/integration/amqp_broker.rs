//! `CONNECTOR_QUEUE_PROTOCOL=amqp` against the AMQP broker stand-in (tests/support/broker.rs):
//! what a real RabbitMQ does rarely or never on demand — confirms out of order, a NACK behind a
//! later ack, no confirms at all, a reset before the AMQP handshake, a stream of garbage.
//! Registration, works and the cursor still go through the OpenCTI stand-in.

use std::time::{Duration, Instant};

use predicates::str::contains;
use serde_json::Value;

use crate::amqp::{add, on_port, peers};
use crate::common::{CONNECTOR_ID, Peers, bin_path};
use crate::support::broker::{Broker, Script};

fn run(p: &Peers, broker: &Broker) -> assert_cmd::Command {
    let mut c = on_port(p, broker.port);
    c.timeout(Duration::from_secs(60));
    c
}

fn cursor(p: &Peers) -> String {
    p.octi.state(CONNECTOR_ID).unwrap_or_default()
}

#[test]
fn out_of_order_confirms_all_acked_succeed() {
    let broker = Broker::start(Script::OutOfOrder);
    let p = peers("6.9.17");
    let sent = add(&p, 5, 0);
    run(&p, &broker).arg("sync").assert().success();
    let bodies = broker.published();
    assert!(bodies.len() > sent.len(), "objects and their identity");
    for b in &bodies {
        let message: Value = serde_json::from_slice(b).unwrap();
        assert_eq!(message["draft_id"], "", "no fallback to the user's draft");
    }
    assert!(cursor(&p).contains("last_fetch"), "the cursor moved");
}

/// The broker NACKs tag 1 and acks the last tag first (single ack): the run must wait for
/// every tag and fail on the NACK it reads later.
#[test]
fn a_nack_behind_a_later_ack_fails_75_and_keeps_the_cursor() {
    let broker = Broker::start(Script::Nack(1));
    let p = peers("6.9.17");
    add(&p, 5, 100);
    run(&p, &broker)
        .args(["--retries", "0", "sync"])
        .assert()
        .code(75)
        .stderr(contains("NACK"));
    assert_eq!(cursor(&p), "", "cursor unchanged");
    assert!(p.octi.works().iter().all(|w| w.in_error));
}

#[test]
fn a_nack_in_the_middle_fails_push_too() {
    let broker = Broker::start(Script::Nack(3));
    let p = peers("6.9.17");
    let file = p.home.path().join("bundle.json");
    std::fs::write(&file, crate::common::bundle_of(3, chrono::Utc::now())).unwrap();
    run(&p, &broker)
        .args(["--retries", "0", "push", "--file"])
        .arg(&file)
        .assert()
        .code(75)
        .stderr(contains("NACK"));
}

#[test]
fn a_silent_broker_fails_75_within_the_timeout() {
    let broker = Broker::start(Script::Silent);
    let p = peers("6.9.17");
    add(&p, 3, 200);
    let started = Instant::now();
    run(&p, &broker)
        .arg("sync")
        .assert()
        .code(75)
        .stderr(contains("confirmed 0 of"));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert_eq!(cursor(&p), "", "cursor unchanged");
}

/// A reset before the AMQP handshake says nothing about credentials: temporary, not 77.
#[test]
fn a_reset_before_the_handshake_is_temporary() {
    let broker = Broker::start(Script::ResetBeforeHandshake);
    let p = peers("6.9.17");
    add(&p, 2, 300);
    run(&p, &broker)
        .arg("sync")
        .assert()
        .code(75)
        .stderr(contains("before the AMQP handshake"));
    assert_eq!(cursor(&p), "", "cursor unchanged");
}

/// Garbage instead of AMQP: a protocol error (76) in bounded memory, however long the
/// stream. The child's peak RSS comes from wait4(2).
#[test]
fn a_garbage_stream_fails_76_in_bounded_memory() {
    let broker = Broker::start(Script::Garbage);
    let p = peers("6.9.17");
    add(&p, 2, 400);
    let (code, peak_kib, stderr) = run_measured(&p, broker.port, &["sync"]);
    crate::amqp::skip_note(&format!(
        "garbage stream: exit {code:?}, peak RSS {} MiB",
        peak_kib / 1024
    ));
    assert_eq!(code, Some(76), "{stderr}");
    assert!(stderr.contains("not AMQP"), "{stderr}");
    assert!(peak_kib < 64 * 1024, "peak RSS {peak_kib} KiB");
    assert_eq!(cursor(&p), "", "cursor unchanged");
}

/// The same garbage once the handshake is done and the first batch published: still 76, the
/// cursor unchanged, memory bounded.
#[test]
fn garbage_after_the_handshake_fails_76_in_bounded_memory() {
    let broker = Broker::start(Script::GarbageAfterPublish);
    let p = peers("6.9.17");
    add(&p, 2, 450);
    let (code, peak_kib, stderr) = run_measured(&p, broker.port, &["sync"]);
    assert_eq!(code, Some(76), "{stderr}");
    assert!(stderr.contains("not AMQP"), "{stderr}");
    assert!(peak_kib < 64 * 1024, "peak RSS {peak_kib} KiB");
    assert!(!broker.published().is_empty(), "the run published first");
    assert_eq!(cursor(&p), "", "cursor unchanged");
}

/// The CLI run to its end (killed after 60 s), with its exit code, peak RSS in KiB and stderr.
/// An address-space cap of 4 GiB keeps a runaway from taking the machine with it (1 GiB was
/// too tight for the malloc arenas and thread stacks a loaded machine makes the client create).
fn run_measured(p: &Peers, port: u16, args: &[&str]) -> (Option<i32>, i64, String) {
    use std::os::unix::process::CommandExt;
    let err = p.home.path().join("stderr");
    let mut cmd = std::process::Command::new(bin_path());
    cmd.env_clear()
        .env("HOME", p.home.path())
        .env("XDG_STATE_HOME", p.home.path().join("state"))
        .env("DISINFOX_URL", p.dx.endpoint_url())
        .env("DISINFOX_API_KEY", p.dx.api_key())
        .env("OPENCTI_URL", p.octi.url())
        .env("OPENCTI_TOKEN", p.octi.token())
        .env("CONNECTOR_ID", CONNECTOR_ID)
        .env("CONNECTOR_QUEUE_PROTOCOL", "amqp")
        .env("MQ_HOST", "127.0.0.1")
        .env("MQ_PORT", port.to_string())
        .args(["--timeout", "10s"])
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap());
    // SAFETY: setrlimit is async-signal-safe; the closure touches nothing else.
    unsafe {
        cmd.pre_exec(|| {
            let cap = libc::rlimit {
                rlim_cur: 1 << 32,
                rlim_max: 1 << 32,
            };
            libc::setrlimit(libc::RLIMIT_AS, &cap);
            Ok(())
        });
    }
    // Reaped by wait4 below, which also reports its peak RSS (Child::wait would not).
    let pid = cmd.spawn().unwrap().id() as libc::pid_t;
    let deadline = Instant::now() + Duration::from_secs(60);
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value; wait4 fills it for our own child.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 on our own child, with pointers to live locals.
        let got = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if got == pid {
            break (status, usage);
        }
        if Instant::now() > deadline {
            // SAFETY: kill(2) on our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    (code, usage.ru_maxrss, stderr)
}

/// The broker's TLS files are read with a bound, regular files only: `/dev/zero` must not
/// fill the memory, a FIFO nobody writes to must not hang the run (assert_cmd's timeout
/// bounds the test if it does).
#[test]
fn broker_tls_files_must_be_regular_files() {
    let broker = Broker::start(Script::OutOfOrder);
    let p = peers("6.9.17");
    add(&p, 1, 500);
    let fifo = p.home.path().join("key.fifo");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    // A real certificate for MQ_USE_SSL_CERT while the key is the FIFO (read in that order).
    assert!(crate::support::certs::make_certs(p.home.path()), "openssl");
    let pem = p.home.path().join("leaf.pem");
    let cases: [(&str, &std::path::Path, &str); 3] = [
        (
            "MQ_USE_SSL_CA",
            std::path::Path::new("/dev/zero"),
            "a device",
        ),
        ("MQ_USE_SSL_CERT", &fifo, "a FIFO"),
        ("MQ_USE_SSL_KEY", &fifo, "a FIFO"),
    ];
    for (var, path, what) in cases {
        let mut c = run(&p, &broker);
        c.timeout(Duration::from_secs(20))
            .env("MQ_USE_SSL", "true")
            .env(var, path);
        if var == "MQ_USE_SSL_KEY" {
            c.env("MQ_USE_SSL_CERT", &pem);
        } else if var == "MQ_USE_SSL_CERT" {
            c.env("MQ_USE_SSL_KEY", &pem);
        }
        let out = c.arg("sync").assert().code(78).get_output().stderr.clone();
        let text = String::from_utf8_lossy(&out);
        let line = text.lines().last().unwrap_or_default();
        assert!(line.contains(var) && line.contains(what), "{text}");
    }
    assert_eq!(cursor(&p), "", "cursor unchanged");
    assert!(broker.published().is_empty());
}
