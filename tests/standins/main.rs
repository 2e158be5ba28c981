//! `cargo run --example standins -- [OPTIONS]`: both stand-ins (DISINFOX and OpenCTI) on
//! loopback, for `make demo` and the benchmarks.
//!
//! On start it prints `KEY=VALUE` lines on stdout (ending with `READY=1`): `DISINFOX_URL`
//! (the full endpoint), `DISINFOX_BASE_URL`, `DISINFOX_API_KEY`, `OPENCTI_URL`, `OPENCTI_TOKEN`,
//! `OPENCTI_VERSION`, `CONNECTOR_ID` (a suggestion), `OBJECTS`. Then it serves until stdin
//! closes (unless `--no-stdin`), SIGTERM/SIGINT, `--max-seconds`, or both servers stopped idle.
//!
//! Commands on stdin, one per line; each answer ends with a line `OK` or `ERR <reason>`:
//! - `add-incidents N`: N more incidents in DISINFOX, modified two minutes before now;
//! - `dump-received`: one JSON line with what OpenCTI received (pushes, ids, works, states);
//! - `received-summary`: the same as one human line;
//! - `state CONNECTOR_ID` / `ui-reset CONNECTOR_ID`: read the state / press "Reset state";
//! - `opencti-fault none|503 N|429 N|fail-push-after N [STATUS]|slow-push MS`;
//! - `disinfox-fault none|json500 N|html500 N|429 N|slow MS`;
//! - `quit`.
//!
//! `--bench` makes the OpenCTI stand-in skip deep validation of pushed bundles (it still parses
//! each one) and keep no copy of them.

// A test or example crate has no public API: `pub` in its modules is how they share code.
#![allow(unreachable_pub)]

#[path = "../support/mod.rs"]
mod support;

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;

use support::disinfox::{DisinfoxOptions, DisinfoxStandin, Fault as DxFault};
use support::generator::{GenOptions, generate};
use support::http::ServerOptions;
use support::opencti::{Fault as OcFault, OpenctiOptions, OpenctiStandin, PushFailure};

#[derive(Parser, Debug)]
#[command(
    name = "standins",
    about = "Run the DISINFOX and OpenCTI stand-ins on 127.0.0.1"
)]
struct Args {
    /// OpenCTI version to impersonate (6.x.y, 7.YYMMDD.N).
    #[arg(long, default_value = "6.9.17")]
    opencti_version: String,
    /// Incidents loaded into DISINFOX at start.
    #[arg(long, default_value_t = 20)]
    incidents: usize,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Stop after this many seconds (0 = no limit).
    #[arg(long, default_value_t = 0)]
    max_seconds: u64,
    /// Each server stops by itself after this long without a request.
    #[arg(long, default_value_t = 900)]
    idle_seconds: u64,
    /// Ignore stdin (no commands; serve until a signal or --max-seconds).
    #[arg(long)]
    no_stdin: bool,
    /// OpenCTI: skip deep validation of pushed bundles (still parse each one).
    #[arg(long)]
    bench: bool,
    /// DISINFOX path prefix (e.g. /disinfox); "" for none.
    #[arg(long, default_value = "")]
    disinfox_prefix: String,
    /// OpenCTI token (default: random).
    #[arg(long)]
    token: Option<String>,
    /// DISINFOX key (default: a random key in the real format).
    #[arg(long)]
    api_key: Option<String>,
    /// OpenCTI user capabilities, comma-separated (default: the built-in "Connector" role's,
    /// without which `sync` refuses to push).
    #[arg(
        long,
        default_value = "CONNECTORAPI,MODULES_MODMANAGE,KNOWLEDGE_KNUPDATE_KNDELETE,KNOWLEDGE_KNUPLOAD,KNOWLEDGE_KNASKIMPORT,SETTINGS_SETMARKINGS,SETTINGS_SETLABELS,SETTINGS_SETKILLCHAINPHASES"
    )]
    capabilities: String,
    /// OpenCTI body limit in bytes (APP__MAX_PAYLOAD_BODY_SIZE).
    #[arg(long, default_value_t = 50 * 1024 * 1024)]
    body_limit: usize,
    /// DISINFOX clock skew in seconds (negative: behind).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    clock_skew_secs: i64,
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_sig: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn install_signal_handlers() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, handler);
        libc::signal(libc::SIGINT, handler);
    }
}

enum Input {
    Line(String),
    Eof,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Adds `n` incidents dated two minutes before now — older than `sync`'s default settle window
/// (60 s), so a demo's second sync really has nothing new; returns how many objects were added.
fn add_incidents(dx: &DisinfoxStandin, n: usize, seed: u64, with_attack_patterns: bool) -> usize {
    if n == 0 {
        return 0;
    }
    let step = 37;
    let generated = generate(&GenOptions {
        incidents: n,
        seed,
        start_ms: now_ms() - (n as i64 + 2) * step - 120_000,
        step_ms: step,
        with_attack_patterns,
    });
    let count = generated.objects.len();
    for (ms, raw) in generated.objects {
        dx.add_raw_at(ms, raw);
    }
    count
}

fn dump_received(oc: &OpenctiStandin) -> String {
    let pushes = oc.pushes();
    let ids = oc.received_ids();
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    let works: Vec<_> = oc
        .works()
        .into_iter()
        .map(|w| {
            json!({"id": w.id, "name": w.name, "status": w.status, "closed": w.closed, "in_error": w.in_error,
                   "multipart": w.multipart, "messages": w.messages, "errors": w.errors,
                   "expected": w.expected, "processed": w.processed})
        })
        .collect();
    let connectors: serde_json::Map<String, serde_json::Value> = oc
        .connector_ids()
        .into_iter()
        .map(|id| {
            let state = oc.state(&id);
            (id, json!(state))
        })
        .collect();
    json!({
        "pushes": pushes.len(),
        "bytes": pushes.iter().map(|p| p.bytes).sum::<usize>(),
        "objects": ids.len(),
        "unique_objects": unique.len(),
        "ids": ids,
        "works": works,
        "connector_states": connectors,
        "requests": oc.requests().len(),
    })
    .to_string()
}

/// One human line for the demo: what OpenCTI received so far.
fn received_summary(oc: &OpenctiStandin) -> String {
    let pushes = oc.pushes();
    let ids = oc.received_ids();
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    let works = oc.works();
    let closed = works.iter().filter(|w| w.closed && !w.in_error).count();
    format!(
        "OpenCTI received {} objects ({} distinct) in {} pushes; works: {} ({} closed without error)",
        ids.len(),
        unique.len(),
        pushes.len(),
        works.len(),
        closed
    )
}

fn parse_n(word: Option<&str>) -> Result<usize, String> {
    word.ok_or("missing number")?
        .parse()
        .map_err(|e| format!("bad number: {e}"))
}

fn command(
    line: &str,
    dx: &DisinfoxStandin,
    oc: &OpenctiStandin,
    seed: &mut u64,
) -> Result<Option<String>, String> {
    let mut words = line.split_whitespace();
    let Some(cmd) = words.next() else {
        return Ok(None);
    };
    match cmd {
        "add-incidents" => {
            let n = parse_n(words.next())?;
            *seed += 1;
            let added = add_incidents(dx, n, *seed, false);
            Ok(Some(format!(
                "ADDED objects={added} total={}",
                dx.object_count()
            )))
        }
        "dump-received" => Ok(Some(dump_received(oc))),
        "received-summary" => Ok(Some(received_summary(oc))),
        "state" => {
            let id = words.next().ok_or("missing connector id")?;
            Ok(Some(
                json!({"id": id, "state": oc.state(id), "reset": oc.reset_flag(id)}).to_string(),
            ))
        }
        "ui-reset" => {
            let id = words.next().ok_or("missing connector id")?;
            oc.ui_reset(id);
            Ok(None)
        }
        "opencti-fault" => {
            let fault = match words.next() {
                Some("none") => OcFault::None,
                Some("503") => OcFault::Unavailable503 {
                    times: parse_n(words.next())?,
                },
                Some("429") => OcFault::TooMany {
                    times: parse_n(words.next())?,
                    retry_after: Some(1),
                },
                Some("fail-push-after") => OcFault::FailPushAfter {
                    ok_pushes: parse_n(words.next())?,
                    status_or_code: PushFailure::Http(
                        words
                            .next()
                            .map_or(Ok(503), |s| s.parse().map_err(|_| "bad status"))?,
                    ),
                },
                Some("slow-push") => OcFault::SlowPush {
                    delay: Duration::from_millis(parse_n(words.next())? as u64),
                },
                other => return Err(format!("unknown opencti fault {other:?}")),
            };
            oc.set_fault(fault);
            Ok(None)
        }
        "disinfox-fault" => {
            let fault = match words.next() {
                Some("none") => DxFault::None,
                Some("json500") => DxFault::Json500 {
                    times: parse_n(words.next())?,
                },
                Some("html500") => DxFault::Html500 {
                    times: parse_n(words.next())?,
                },
                Some("429") => DxFault::TooMany {
                    times: parse_n(words.next())?,
                    retry_after_secs: Some(1),
                },
                Some("slow") => DxFault::Slow {
                    delay: Duration::from_millis(parse_n(words.next())? as u64),
                },
                other => return Err(format!("unknown disinfox fault {other:?}")),
            };
            dx.set_fault(fault);
            Ok(None)
        }
        "quit" | "exit" => {
            STOP.store(true, Ordering::SeqCst);
            Ok(None)
        }
        other => Err(format!("unknown command {other:?}")),
    }
}

fn say(out: &mut impl Write, line: &str) -> bool {
    writeln!(out, "{line}").and_then(|_| out.flush()).is_ok()
}

fn main() {
    let args = Args::parse();
    install_signal_handlers();
    let idle = Duration::from_secs(args.idle_seconds.max(1));
    let server = ServerOptions {
        idle_timeout: idle,
        ..ServerOptions::default()
    };
    let dx = DisinfoxStandin::start(DisinfoxOptions {
        api_key: args.api_key.clone(),
        prefix: args.disinfox_prefix.clone(),
        clock_skew: chrono::Duration::seconds(args.clock_skew_secs),
        server: server.clone(),
        ..DisinfoxOptions::default()
    });
    let mut opts = OpenctiOptions::version(&args.opencti_version);
    if let Some(t) = &args.token {
        opts.token = t.clone();
    }
    opts.capabilities = args
        .capabilities
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    opts.bench = args.bench;
    opts.body_limit = args.body_limit;
    opts.server = server;
    let oc = OpenctiStandin::start(opts);
    let mut seed = args.seed;
    let objects = add_incidents(&dx, args.incidents, seed, true);

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let lines = [
        format!("DISINFOX_URL={}", dx.endpoint_url()),
        format!("DISINFOX_BASE_URL={}", dx.base_url()),
        format!("DISINFOX_API_KEY={}", dx.api_key()),
        format!("OPENCTI_URL={}", oc.url()),
        format!("OPENCTI_TOKEN={}", oc.token()),
        format!("OPENCTI_VERSION={}", oc.version()),
        format!("CONNECTOR_ID={}", uuid::Uuid::new_v4()),
        format!("OBJECTS={objects}"),
        "READY=1".to_string(),
    ];
    for l in &lines {
        if !say(&mut out, l) {
            return;
        }
    }

    let (tx, rx) = mpsc::channel::<Input>();
    // With --no-stdin the sender is kept here so the channel never reports a disconnect.
    let _keep_open = if args.no_stdin {
        Some(tx)
    } else {
        std::thread::spawn(move || {
            let stdin = std::io::stdin();
            for line in stdin.lock().lines() {
                match line {
                    Ok(l) => {
                        if tx.send(Input::Line(l)).is_err() {
                            return;
                        }
                    }
                    Err(_) => break,
                }
            }
            let _ = tx.send(Input::Eof);
        });
        None
    };

    let started = Instant::now();
    let deadline = (args.max_seconds > 0).then(|| Duration::from_secs(args.max_seconds));
    // Bounded by the deadline, a signal, stdin closing, or both servers stopping when idle.
    while !STOP.load(Ordering::SeqCst) {
        if deadline.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        if dx.is_stopped() && oc.is_stopped() {
            break;
        }
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Input::Line(line)) => {
                let reply = match command(&line, &dx, &oc, &mut seed) {
                    Ok(Some(text)) => say(&mut out, &text) && say(&mut out, "OK"),
                    Ok(None) => say(&mut out, "OK"),
                    Err(e) => say(&mut out, &format!("ERR {e}")),
                };
                if !reply {
                    break;
                }
            }
            Ok(Input::Eof) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    drop(out);
    drop(dx);
    drop(oc);
}
