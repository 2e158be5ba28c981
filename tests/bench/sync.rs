//! End-to-end benchmark of the release CLI: `make bench`, or
//!
//!     cargo build --release --bin disinfox-sync --example bench-stage --example bench-sync
//!     target/release/examples/bench-sync [--no-100k] [--incidents 1000,10000] [--timeout 300]
//!     target/release/examples/bench-sync --memory-only
//!
//! For each size it starts both stand-ins in this process (OpenCTI in bench mode: it parses
//! every pushed bundle but skips deep validation; DISINFOX loaded with generated incidents,
//! stored pre-serialized so an answer is one concatenation), then runs
//! `target/release/disinfox-sync` as a child process for: a first `sync` (empty state), a
//! second `sync` (nothing new), `verify` (complete: every object looked up), `fetch --since
//! all --output FILE` three times beside three runs of the floor, `curl -o FILE` and `sync FILE`
//! (`wire.rs`; medians reported); then the bundle stage alone
//! (`target/release/examples/bench-stage N`, when built). After the sizes, the memory section
//! (`memory.rs`; `--no-memory` leaves it out, `--memory-only` runs nothing else): peak RSS of a
//! first `sync` on answers of 3k and 30k incidents and of 400,000 and 2,000,000 small objects,
//! beside the Python connector's on the incident answers (`--no-python` leaves it out).
//!
//! Measured, not guessed: every child is reaped with `wait4(2)`; CPU = `ru_utime + ru_stime`,
//! peak RSS = `ru_maxrss`, wall = spawn to exit. Children are spawned by a small helper process
//! (this binary re-run as `__spawner`, started before any data is generated) with a real
//! `fork`: `ru_maxrss` survives `execve`, so a child forked or vforked straight from this
//! process (which holds the stand-ins' data, hundreds of MB) would report *our* peak RSS
//! instead of its own.
//!
//! The Markdown report (machine, table, notes) goes to stdout, progress to stderr. Budget misses
//! are reported, not fatal: the exit status is non-zero only when a run broke (a child exited
//! non-zero, was killed, or timed out; every child is killed after `--timeout` seconds).

// A test or example crate has no public API: `pub` in its modules is how they share code.
#![allow(unreachable_pub)]

#[path = "floor.rs"]
mod floor;
#[path = "machine.rs"]
mod machine;
#[path = "memory.rs"]
mod memory;
#[path = "side.rs"]
mod side;
#[path = "../support/mod.rs"]
mod support;
#[path = "verify_row.rs"]
mod verify_row;
#[path = "wire.rs"]
mod wire;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde::{Deserialize, Serialize};

use support::disinfox::{DisinfoxOptions, DisinfoxStandin};
use support::generator::{GenOptions, generate};
use support::http::{ServerOptions, percent_encode};
use support::opencti::{
    BrokerAnswer, OpenctiOptions, OpenctiStandin, PUSH_EXCHANGE, push_queue, push_routing,
};
use support::rabbitmq::{self, Rabbit};

const MIB: f64 = 1024.0 * 1024.0;
/// The budgets (memory in MiB, so "32 MB" is read as 32 MiB).
const RSS_SLACK_MIB: f64 = 32.0;
const RSS_FACTOR: f64 = 1.5;
const QUIET_RSS_MIB: f64 = 10.0;
const QUIET_CPU_S: f64 = 0.030;
const STAGE_MBPS: f64 = 300.0;

#[derive(Parser, Debug)]
#[command(
    name = "bench-sync",
    about = "End-to-end benchmark of the release disinfox-sync against in-process stand-ins"
)]
struct Args {
    /// Sizes to run, in incidents, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    incidents: Vec<usize>,
    /// Only sizes up to 10k incidents (at 100k this process holds ~1 GiB of stand-in data).
    #[arg(long)]
    no_100k: bool,
    /// Kill any child still running after this many seconds (the run then counts as broken).
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Repeats passed to bench-stage (it reports the best).
    #[arg(long, default_value_t = 3)]
    stage_repeats: usize,
    /// The CLI to measure (default: target/release/disinfox-sync next to this example).
    #[arg(long)]
    bin: Option<PathBuf>,
    /// Extra arguments for every `sync` run (e.g. `--sync-arg=--chunk-size=4M`), repeatable.
    #[arg(long, allow_hyphen_values = true)]
    sync_arg: Vec<String>,
    /// Leave out the first import over AMQP (`CONNECTOR_QUEUE_PROTOCOL=amqp`, a real
    /// RabbitMQ started for the benchmark; sizes up to 10k incidents only).
    #[arg(long)]
    no_amqp: bool,
    /// Only the CPU comparison: first import, nothing new, the launch and byte-moving floors
    /// and the Python connector (no amqp, verify, fetch or bundle-stage rows).
    #[arg(long)]
    cpu_only: bool,
    /// Leave out the Python connector (no venv, no pip).
    #[arg(long)]
    no_python: bool,
    /// Only the memory section (`memory.rs`): peak RSS of a first import at 3k and 30k
    /// incidents and with 400,000 and 2,000,000 small objects.
    #[arg(long, conflicts_with_all = ["no_memory", "cpu_only"])]
    memory_only: bool,
    /// Leave out the memory section.
    #[arg(long)]
    no_memory: bool,
}

// ---------------------------------------------------------------------------------------------
// The spawner: a small process that forks, execs and reaps each measured child.

#[derive(Serialize, Deserialize, Debug)]
struct SpawnRequest {
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    cwd: PathBuf,
    stdout: PathBuf,
    stderr: PathBuf,
    timeout_ms: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
struct Usage {
    wall_s: f64,
    user_s: f64,
    sys_s: f64,
    maxrss_kib: i64,
    /// Exit code, when the child exited.
    code: Option<i32>,
    /// Signal, when it was killed.
    signal: Option<i32>,
    timed_out: bool,
    /// Set when the spawner itself failed (spawn error, wait error).
    error: Option<String>,
}

impl Usage {
    fn cpu_s(&self) -> f64 {
        self.user_s + self.sys_s
    }
    fn rss_mib(&self) -> f64 {
        self.maxrss_kib as f64 / 1024.0
    }
    fn ok(&self) -> bool {
        self.error.is_none() && !self.timed_out && self.code == Some(0)
    }
    fn describe_failure(&self) -> String {
        if let Some(e) = &self.error {
            format!("could not run: {e}")
        } else if self.timed_out {
            "killed after the timeout".into()
        } else if let Some(s) = self.signal {
            format!("killed by signal {s}")
        } else {
            format!("exit status {}", self.code.unwrap_or(-1))
        }
    }
}

fn spawner_main() -> ! {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let usage = match serde_json::from_str::<SpawnRequest>(&line) {
            Ok(req) => spawn_and_reap(&req),
            Err(e) => Usage {
                error: Some(format!("bad request: {e}")),
                ..Usage::default()
            },
        };
        let reply = serde_json::to_string(&usage).expect("usage serializes");
        if writeln!(out, "{reply}").and_then(|_| out.flush()).is_err() {
            break;
        }
    }
    std::process::exit(0);
}

fn spawn_and_reap(req: &SpawnRequest) -> Usage {
    let fail = |e: String| Usage {
        error: Some(e),
        ..Usage::default()
    };
    let (stdout, stderr) = match (
        std::fs::File::create(&req.stdout),
        std::fs::File::create(&req.stderr),
    ) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => return fail(format!("cannot create output files: {e}")),
    };
    let mut cmd = Command::new(&req.program);
    cmd.args(&req.args)
        .env_clear()
        .envs(req.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&req.cwd)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    // A pre_exec hook makes std use fork+exec instead of posix_spawn (vfork): the child then
    // starts from a copy of this small process's anonymous pages, not from its whole address
    // space, and ru_maxrss reflects the child alone. The child leads its own process group, so
    // a timeout kills whatever it started too.
    // SAFETY: setpgid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setpgid(0, 0) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let started = Instant::now();
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return fail(format!("cannot start {}: {e}", req.program.display())),
    };
    let pid = child.id() as libc::pid_t;
    // Never reaped through `child`: wait4 below does it (dropping a Child does not wait).
    drop(child);

    // The watchdog kills the child after the timeout unless told it exited. The child is only
    // reaped after the watchdog is joined, so the pid cannot be reused under its feet.
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let timeout = Duration::from_millis(req.timeout_ms);
    let watchdog = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(timeout) {
            // SAFETY: `pid` is our unreaped child (alive or a zombie) and leads its group.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
            true
        } else {
            false
        }
    });

    // Wait for the exit without reaping (WNOWAIT), to stop the clock and the watchdog.
    let waited = loop {
        // SAFETY: zeroed siginfo_t is a valid out-parameter.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointer; P_PID with our child's pid.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if r == 0 {
            break Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            break Err(err);
        }
    };
    let wall = started.elapsed();
    drop(done_tx);
    let timed_out = watchdog.join().unwrap_or(false);
    if let Err(e) = waited {
        // SAFETY: best effort: make sure nothing is left running.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        return fail(format!("waitid failed: {e}"));
    }

    let mut status: libc::c_int = 0;
    // SAFETY: zeroed rusage is a valid out-parameter.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = loop {
        // SAFETY: valid pointers; reaps our exited child.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break r;
    };
    if r != pid {
        return fail(format!("wait4 failed: {}", std::io::Error::last_os_error()));
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let exit = std::process::ExitStatus::from_raw(status);
    Usage {
        wall_s: wall.as_secs_f64(),
        user_s: tv(ru.ru_utime),
        sys_s: tv(ru.ru_stime),
        maxrss_kib: ru.ru_maxrss,
        code: exit.code(),
        signal: exit.signal(),
        timed_out,
        error: None,
    }
}

/// The parent's handle on the spawner.
struct Spawner {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Spawner {
    fn start() -> Spawner {
        let exe = std::env::current_exe().expect("current_exe");
        let mut child = Command::new(exe)
            .arg("__spawner")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the spawner helper");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Spawner {
            child,
            stdin: Some(stdin),
            stdout,
        }
    }

    fn run(&mut self, req: &SpawnRequest) -> Usage {
        let line = serde_json::to_string(req).expect("request serializes");
        let Some(stdin) = self.stdin.as_mut() else {
            return Usage {
                error: Some("the spawner helper is gone".into()),
                ..Usage::default()
            };
        };
        if writeln!(stdin, "{line}")
            .and_then(|_| stdin.flush())
            .is_err()
        {
            return Usage {
                error: Some("the spawner helper is gone".into()),
                ..Usage::default()
            };
        }
        let mut reply = String::new();
        match self.stdout.read_line(&mut reply) {
            Ok(n) if n > 0 => serde_json::from_str(&reply).unwrap_or_else(|e| Usage {
                error: Some(format!("bad spawner reply {reply:?}: {e}")),
                ..Usage::default()
            }),
            _ => Usage {
                error: Some("the spawner helper is gone".into()),
                ..Usage::default()
            },
        }
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        // Closing its stdin ends it (after its current child, which the timeout bounds).
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// The benchmark.

/// One measured row of the table.
struct Row {
    scenario: String,
    /// `None` for answers that are not incidents (the memory section's small objects).
    incidents: Option<usize>,
    objects: Option<usize>,
    answer_bytes: Option<u64>,
    wall_s: Option<f64>,
    cpu_s: Option<f64>,
    rss_mib: Option<f64>,
    budget: String,
    verdict: String,
    /// The Python connector on the same answer (memory section; `None` elsewhere).
    python: Option<String>,
}

struct Env {
    disinfox_url: String,
    api_key: String,
    opencti_url: String,
    token: String,
    connector_id: String,
    home: PathBuf,
    /// More variables (the AMQP settings).
    extra: Vec<(String, String)>,
}

impl Env {
    fn vars(&self) -> Vec<(String, String)> {
        let mut vars = self.base_vars();
        vars.extend(self.extra.iter().cloned());
        vars
    }

    fn base_vars(&self) -> Vec<(String, String)> {
        vec![
            ("HOME".into(), self.home.display().to_string()),
            ("DISINFOX_URL".into(), self.disinfox_url.clone()),
            ("DISINFOX_API_KEY".into(), self.api_key.clone()),
            ("OPENCTI_URL".into(), self.opencti_url.clone()),
            ("OPENCTI_TOKEN".into(), self.token.clone()),
            ("CONNECTOR_ID".into(), self.connector_id.clone()),
        ]
    }
}

struct Bench {
    args: Args,
    bin: PathBuf,
    stage_bin: PathBuf,
    spawner: Spawner,
    work: tempfile::TempDir,
    rows: Vec<Row>,
    notes: Vec<String>,
    broken: Vec<String>,
    seq: usize,
    /// Started at the first AMQP row, shared by the sizes.
    rabbit: Option<Rabbit>,
    /// The CPU side-by-side lines (`side.rs`).
    side: Vec<side::SideLine>,
    /// The venv's python once looked for: `Some(None)` when it could not be made.
    python: Option<Option<PathBuf>>,
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("__spawner") {
        spawner_main();
    }
    if std::env::args().nth(1).as_deref() == Some("__floor") {
        floor::floor_main(&std::env::args().skip(2).collect::<Vec<_>>());
    }
    // Started first, while this process is still small.
    let spawner = Spawner::start();
    let args = Args::parse();
    let release = release_dir();
    let bin = args
        .bin
        .clone()
        .unwrap_or_else(|| release.join("disinfox-sync"));
    if !bin.is_file() {
        eprintln!(
            "bench-sync: {} not found; build it first: cargo build --release --bin disinfox-sync",
            bin.display()
        );
        std::process::exit(2);
    }
    let stage_bin = release.join("examples").join("bench-stage");
    let machine = machine::describe();
    let mut bench = Bench {
        args,
        bin,
        stage_bin,
        spawner,
        work: tempfile::Builder::new()
            .prefix("bench-sync.")
            .tempdir()
            .expect("temp dir"),
        rows: Vec::new(),
        notes: Vec::new(),
        broken: Vec::new(),
        seq: 0,
        rabbit: None,
        side: Vec::new(),
        python: None,
    };
    let mut sizes = bench.args.incidents.clone();
    if bench.args.cpu_only {
        bench.args.no_amqp = true;
    }
    if bench.args.no_python {
        bench.python = Some(None);
    }
    if bench.args.no_100k {
        sizes.retain(|n| *n <= 10_000);
    }
    if bench.args.memory_only {
        sizes.clear();
    }
    for n in sizes {
        bench.size(n);
    }
    if !(bench.args.no_memory || bench.args.cpu_only) {
        bench.memory_section();
    }
    bench.report(&machine);
    let broken = std::mem::take(&mut bench.broken);
    // Before exit, which runs no destructor: the temp dir (and the Python venv in it) goes.
    drop(bench);
    if !broken.is_empty() {
        eprintln!("bench-sync: broken runs:");
        for b in &broken {
            eprintln!("  {b}");
        }
        std::process::exit(1);
    }
}

/// `target/release`, from where this example lives (`target/release/examples/bench-sync`).
fn release_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.parent()?.parent()?.to_path_buf()))
        .filter(|p| p.join("disinfox-sync").exists())
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release"))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Loads `generate` output for `n` incidents into the DISINFOX stand-in, as the `standins`
/// example does: the newest incident two minutes old, older than sync's default 60 s settle
/// window, so a second sync really has nothing new. Returns the number of objects.
fn load_incidents(dx: &DisinfoxStandin, n: usize) -> usize {
    let t = Instant::now();
    let step = 37;
    let generated = generate(&GenOptions {
        incidents: n,
        seed: 1,
        start_ms: now_ms() - (n as i64 + 2) * step - 120_000,
        step_ms: step,
        with_attack_patterns: true,
    });
    let objects = generated.objects.len();
    for (ms, raw) in generated.objects {
        dx.add_raw_at(ms, raw);
    }
    eprintln!(
        "bench-sync: generated and loaded {objects} objects in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    objects
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB
}

impl Bench {
    /// Both stand-ins, fresh (OpenCTI in bench mode, with the Connector role: empty state).
    fn standins(&self) -> (DisinfoxStandin, OpenctiStandin) {
        self.standins_with(|_| {})
    }

    /// The same, with `tune` applied to OpenCTI's options before it starts.
    fn standins_with(
        &self,
        tune: impl FnOnce(&mut OpenctiOptions),
    ) -> (DisinfoxStandin, OpenctiStandin) {
        let server = ServerOptions {
            idle_timeout: Duration::from_secs(self.args.timeout.max(60) * 4),
            ..ServerOptions::default()
        };
        let dx = DisinfoxStandin::start(DisinfoxOptions {
            server: server.clone(),
            ..DisinfoxOptions::default()
        });
        let mut oc_opts = OpenctiOptions::version("6.9.17");
        oc_opts.bench = true;
        oc_opts.capabilities = connector_role();
        oc_opts.server = server;
        tune(&mut oc_opts);
        (dx, OpenctiStandin::start(oc_opts))
    }

    /// The CLI's environment against these stand-ins: a new connector id and `HOME`.
    fn env(&self, dx: &DisinfoxStandin, oc: &OpenctiStandin, home: &str) -> Env {
        let env = Env {
            disinfox_url: dx.endpoint_url(),
            api_key: dx.api_key(),
            opencti_url: oc.url(),
            token: oc.token(),
            connector_id: uuid::Uuid::new_v4().to_string(),
            home: self.work.path().join(home),
            extra: Vec::new(),
        };
        std::fs::create_dir_all(&env.home).expect("home dir");
        env
    }

    /// The arguments of every measured `sync` run.
    fn sync_args(&self) -> Vec<String> {
        let mut args: Vec<String> = ["--log-level", "warn", "--retries", "0", "sync", "--json"]
            .map(String::from)
            .to_vec();
        args.extend(self.args.sync_arg.iter().cloned());
        args
    }

    fn run(&mut self, label: &str, program: &Path, args: &[String], env: &Env) -> (Usage, String) {
        self.seq += 1;
        let stdout = self.work.path().join(format!("{:02}.stdout", self.seq));
        let stderr = self.work.path().join(format!("{:02}.stderr", self.seq));
        let req = SpawnRequest {
            program: program.to_path_buf(),
            args: args.to_vec(),
            env: env.vars(),
            cwd: self.work.path().to_path_buf(),
            stdout: stdout.clone(),
            stderr: stderr.clone(),
            timeout_ms: self.args.timeout * 1000,
        };
        eprintln!(
            "bench-sync: {label}: {} {}",
            program.display(),
            args.join(" ")
        );
        let usage = self.spawner.run(&req);
        let out = std::fs::read_to_string(&stdout).unwrap_or_default();
        let err = std::fs::read_to_string(&stderr).unwrap_or_default();
        let _ = std::fs::remove_file(&stdout);
        let _ = std::fs::remove_file(&stderr);
        if usage.ok() {
            eprintln!(
                "bench-sync:   {:.3} s wall, {:.3} s CPU, {:.1} MiB peak RSS",
                usage.wall_s,
                usage.cpu_s(),
                usage.rss_mib()
            );
        } else {
            let why = format!("{label}: {}", usage.describe_failure());
            eprintln!("bench-sync:   BROKEN: {why}");
            for l in err.lines().take(20) {
                eprintln!("bench-sync:   | {l}");
            }
            self.broken.push(why);
        }
        if !err.trim().is_empty() && usage.ok() {
            for l in err.lines().take(5) {
                eprintln!("bench-sync:   stderr: {l}");
            }
        }
        (usage, out)
    }

    fn size(&mut self, n: usize) {
        eprintln!("bench-sync: === {n} incidents ===");
        let (dx, oc) = self.standins();
        let objects = load_incidents(&dx, n);

        // What the DISINFOX stand-in costs per answer, measured the way the CLI asks.
        let probe = probe_disinfox(&dx);
        let answer_bytes = match &probe {
            Ok(p) => {
                eprintln!(
                    "bench-sync: DISINFOX stand-in: {} bytes, first byte after {:.3} s, all after {:.3} s",
                    p.body_bytes, p.first_byte_s, p.total_s
                );
                self.notes.push(format!(
                    "{n} incidents: the DISINFOX stand-in answers `newer_than=1970-01-01…` ({} bytes) with its first byte after {:.3} s and the last after {:.3} s ({:.0} MB/s), read by a plain socket reader in this process",
                    p.body_bytes,
                    p.first_byte_s,
                    p.total_s,
                    p.body_bytes as f64 / 1e6 / p.total_s
                ));
                Some(p.body_bytes)
            }
            Err(e) => {
                self.broken
                    .push(format!("{n} incidents: probing the DISINFOX stand-in: {e}"));
                None
            }
        };

        let env = self.env(&dx, &oc, &format!("home-{n}"));
        let b = answer_bytes.unwrap_or(0);
        let rss_limit = RSS_FACTOR * mib(b) + RSS_SLACK_MIB;
        let rss_budget = |u: &Usage| -> (String, String) {
            let verdict = if u.rss_mib() <= rss_limit {
                "PASS".to_string()
            } else {
                format!(
                    "FAIL ({:.2} × B + 32)",
                    (u.rss_mib() - RSS_SLACK_MIB) / mib(b)
                )
            };
            (
                format!("RSS ≤ 1.5 × B + 32 MiB = {rss_limit:.1} MiB"),
                verdict,
            )
        };

        // 1. First import.
        let sync_args = self.sync_args();
        let (u, out) = self.run(
            &format!("{n}: sync (first import)"),
            &self.bin.clone(),
            &sync_args,
            &env,
        );
        let summary: Option<serde_json::Value> = serde_json::from_str(out.trim()).ok();
        let field = |k: &str| -> String {
            summary
                .as_ref()
                .and_then(|s| s.get(k))
                .map(|v| v.to_string())
                .unwrap_or_else(|| "?".into())
        };
        if u.ok() {
            let received = oc.received_ids().len();
            self.notes.push(format!(
                "{n} incidents: first sync reported status {}, {} objects ({} well-known added) in {} chunk(s), {} bytes pushed escaped, {} objects pushed (ratio {}); the OpenCTI stand-in received {received} objects, copies included",
                field("status"),
                field("objects_total"),
                field("added_well_known"),
                field("chunks"),
                field("bytes"),
                field("objects_pushed"),
                field("push_ratio")
            ));
            if field("status") != "\"imported\"" {
                self.broken.push(format!(
                    "{n}: first sync did not import (status {})",
                    field("status")
                ));
            }
        }
        let first = u.clone();
        let (budget, verdict) = rss_budget(&u);
        self.push_row(
            "sync, first import",
            n,
            Some(objects),
            answer_bytes,
            &u,
            budget,
            verdict,
        );

        // 2. Nothing new.
        let (u, out) = self.run(
            &format!("{n}: sync (nothing new)"),
            &self.bin.clone(),
            &sync_args,
            &env,
        );
        let status = serde_json::from_str::<serde_json::Value>(out.trim())
            .ok()
            .and_then(|s| s.get("status").cloned());
        if u.ok() && status.as_ref().and_then(|s| s.as_str()) != Some("up-to-date") {
            self.broken.push(format!(
                "{n}: second sync was not up to date (status {status:?})"
            ));
        }
        let mut misses = Vec::new();
        if u.rss_mib() > QUIET_RSS_MIB {
            misses.push(format!("RSS +{:.1} MiB", u.rss_mib() - QUIET_RSS_MIB));
        }
        if u.cpu_s() > QUIET_CPU_S {
            misses.push(format!("CPU +{:.0} ms", (u.cpu_s() - QUIET_CPU_S) * 1e3));
        }
        let verdict = if misses.is_empty() {
            "PASS".to_string()
        } else {
            format!("FAIL ({})", misses.join(", "))
        };
        self.push_row(
            "sync, nothing new",
            n,
            Some(0),
            Some(3),
            &u,
            "RSS ≤ 10 MiB, CPU ≤ 30 ms".into(),
            verdict,
        );

        // 2a. CPU side by side: the floors and the Python connector.
        self.side_by_side(&side::SizeRun {
            n,
            env: &env,
            dx: &dx,
            oc: &oc,
            first: &first,
            quiet: &u,
            chunk: 10 * 1024 * 1024,
        });
        if self.args.cpu_only {
            return;
        }

        // 2b. The same first import over AMQP, into a real RabbitMQ: after the CPU rows, and
        // the broker stopped once it is done. A running broker (Erlang's schedulers wait
        // busily) took CPU from the rows measured after it: the same import took 0.26 s
        // before it started and 0.33 - 0.35 s after.
        self.amqp_import(n, objects, answer_bytes, &env, &sync_args);
        self.rabbit = None;

        // 2c. verify of the same answer against the complete stand-in.
        self.verify_row(n, objects, answer_bytes, &env, &oc, &rss_budget);

        // 3. fetch of the same answer into a file, beside the floor of curl and `sync FILE`.
        self.fetch_against_curl(n, &env, objects, answer_bytes);

        // The stand-ins and their data go before the stage benchmark runs.
        drop(dx);
        drop(oc);

        // 4. The bundle stage alone.
        self.stage(n, &env);
    }

    /// `sync` over AMQP against a fresh OpenCTI stand-in whose registration points at the
    /// benchmark's broker; every message must be in the push queue afterwards.
    fn amqp_import(
        &mut self,
        n: usize,
        objects: usize,
        answer_bytes: Option<u64>,
        api: &Env,
        sync_args: &[String],
    ) {
        if self.args.no_amqp || n > 10_000 {
            return;
        }
        if self.rabbit.is_none() {
            if !rabbitmq::installed() {
                self.notes.push(format!(
                    "sync over amqp not measured: {} is not installed",
                    rabbitmq::SERVER
                ));
                self.args.no_amqp = true;
                return;
            }
            let rabbit = Rabbit::start();
            self.notes.push(format!(
                "RabbitMQ (Debian's rabbitmq-server, a child process on its own ports) was ready for logins {:.1} s after its start",
                rabbit.startup.as_secs_f64()
            ));
            self.rabbit = Some(rabbit);
        }
        let rabbit = self.rabbit.as_ref().expect("started above");
        let mut opts = OpenctiOptions::version("6.9.17");
        opts.bench = true;
        opts.capabilities = connector_role();
        opts.broker = BrokerAnswer {
            user: rabbitmq::USER.into(),
            pass: rabbitmq::PASS.into(),
            ..BrokerAnswer::default()
        };
        let oc = OpenctiStandin::start(opts);
        let id = uuid::Uuid::new_v4().to_string();
        rabbit.declare_push_route(PUSH_EXCHANGE, &push_queue(&id), &push_routing(&id));
        let env = Env {
            opencti_url: oc.url(),
            token: oc.token(),
            connector_id: id.clone(),
            home: self.work.path().join(format!("home-amqp-{n}")),
            extra: vec![
                ("CONNECTOR_QUEUE_PROTOCOL".into(), "amqp".into()),
                ("MQ_HOST".into(), "127.0.0.1".into()),
                ("MQ_PORT".into(), rabbit.port.to_string()),
            ],
            disinfox_url: api.disinfox_url.clone(),
            api_key: api.api_key.clone(),
        };
        std::fs::create_dir_all(&env.home).expect("home dir");
        let (u, out) = self.run(
            &format!("{n}: sync over amqp (first import)"),
            &self.bin.clone(),
            sync_args,
            &env,
        );
        let summary: Option<serde_json::Value> = serde_json::from_str(out.trim()).ok();
        let total = summary
            .as_ref()
            .and_then(|s| s.get("objects_total"))
            .and_then(|v| v.as_u64());
        let rabbit = self.rabbit.as_ref().expect("started above");
        let queued = rabbit.message_count(&push_queue(&id));
        rabbit.delete_queue(&push_queue(&id));
        if u.ok() {
            self.notes.push(format!(
                "{n} incidents, sync over amqp: {} objects reported, {queued} messages in the push queue after the run (one per object, every publish confirmed)",
                total.map_or("?".into(), |t| t.to_string())
            ));
            if total != Some(queued) {
                self.broken.push(format!(
                    "{n}: sync over amqp reported {total:?} objects but the queue holds {queued}"
                ));
            }
        }
        self.push_row(
            "sync, first import, amqp",
            n,
            Some(objects),
            answer_bytes,
            &u,
            "— (compare with the api row above)".into(),
            "measured".into(),
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn push_row(
        &mut self,
        scenario: &str,
        n: usize,
        objects: Option<usize>,
        answer_bytes: Option<u64>,
        u: &Usage,
        budget: String,
        verdict: String,
    ) {
        let ok = u.ok();
        if ok {
            self.notes.push(format!(
                "{n} incidents, {scenario}: user {:.3} s + sys {:.3} s",
                u.user_s, u.sys_s
            ));
        }
        self.rows.push(Row {
            scenario: scenario.into(),
            incidents: Some(n),
            objects,
            answer_bytes,
            wall_s: ok.then_some(u.wall_s),
            cpu_s: ok.then_some(u.cpu_s()),
            rss_mib: ok.then_some(u.rss_mib()),
            budget,
            verdict: if ok {
                verdict
            } else {
                format!("BROKEN ({})", u.describe_failure())
            },
            python: None,
        });
    }

    fn stage(&mut self, n: usize, env: &Env) {
        if !self.stage_bin.is_file() {
            eprintln!(
                "bench-sync: {} not built: bundle stage skipped",
                self.stage_bin.display()
            );
            self.rows.push(Row {
                scenario: "bundle stage (bench-stage)".into(),
                incidents: Some(n),
                objects: None,
                answer_bytes: None,
                wall_s: None,
                cpu_s: None,
                rss_mib: None,
                budget: format!("≥ {STAGE_MBPS:.0} MB/s"),
                verdict: "SKIPPED (bench-stage not built)".into(),
                python: None,
            });
            return;
        }
        let args = vec![n.to_string(), self.args.stage_repeats.to_string()];
        let (u, out) = self.run(
            &format!("{n}: bench-stage"),
            &self.stage_bin.clone(),
            &args,
            env,
        );
        let st = parse_stage(&out);
        let verdict = if !u.ok() {
            format!("BROKEN ({})", u.describe_failure())
        } else {
            match st.mbps_wall {
                Some(t) if t >= STAGE_MBPS => "PASS".into(),
                Some(t) => format!("FAIL (−{:.0}%)", (1.0 - t / STAGE_MBPS) * 100.0),
                None => "? (output not understood)".into(),
            }
        };
        if u.ok() {
            self.notes.push(format!(
                "{n} incidents, bench-stage: best of {} single-threaded runs of parse + prepare + chunk: {} wall, {} thread CPU, {} MB/s wall and {} MB/s CPU; its peak RSS (VmHWM reset after generating the input, so input + stage) {} MiB; the whole bench-stage process (generator included) used {:.2} s CPU and {:.1} MiB peak RSS (wait4)",
                self.args.stage_repeats,
                opt(st.wall_s, 3, " s"),
                opt(st.cpu_s, 3, " s"),
                opt(st.mbps_wall, 0, ""),
                opt(st.mbps_cpu, 0, ""),
                opt(st.rss_mib, 1, ""),
                u.cpu_s(),
                u.rss_mib()
            ));
            self.notes.push(format!(
                "{n} incidents, bench-stage chunks at the default limits: objects pushed {}; chunk bytes {}",
                st.pushed.as_deref().unwrap_or("?"),
                st.chunk_bytes.as_deref().unwrap_or("?")
            ));
        }
        self.rows.push(Row {
            scenario: "bundle stage (bench-stage)".into(),
            incidents: Some(n),
            objects: st.objects,
            answer_bytes: st.bytes,
            wall_s: st.wall_s,
            cpu_s: st.cpu_s,
            rss_mib: st.rss_mib,
            budget: format!("≥ {STAGE_MBPS:.0} MB/s: {} MB/s", opt(st.mbps_wall, 0, "")),
            verdict,
            python: None,
        });
    }

    fn report(&self, machine: &[(String, String)]) {
        let mut s = String::new();
        s.push_str("### Machine\n\n");
        for (k, v) in machine {
            s.push_str(&format!("- {k}: {v}\n"));
        }
        let built = std::fs::metadata(&self.bin)
            .and_then(|m| m.modified())
            .map(|t| {
                chrono::DateTime::<chrono::Utc>::from(t)
                    .format("%Y-%m-%d %H:%M:%S UTC")
                    .to_string()
            })
            .unwrap_or_else(|_| "?".into());
        s.push_str(&format!(
            "- CLI: `{}` (built {built})\n",
            self.bin.display()
        ));
        s.push_str("\n### Results\n\n");
        s.push_str("B = DISINFOX answer bytes; MiB = 2^20 bytes; MB/s = 10^6 bytes/s. Wall, CPU (user+sys) and peak RSS of the CLI process from wait4(2); bundle-stage rows: bench-stage's own figures (best of its runs). Last column, memory section's incident rows only: the Python connector on the same answer (peak RSS and CPU measured the same way; ratio = its peak RSS ÷ ours).\n\n");
        s.push_str("| scenario | incidents | objects | answer bytes | wall s | CPU s | peak RSS MiB | budget | verdict | Python connector, same answer |\n");
        s.push_str("|---|---:|---:|---:|---:|---:|---:|---|---|---|\n");
        for r in &self.rows {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                r.scenario,
                r.incidents.map_or("–".into(), |n| n.to_string()),
                r.objects.map_or("–".into(), |o| o.to_string()),
                r.answer_bytes.map_or("–".into(), |b| b.to_string()),
                opt(r.wall_s, 3, ""),
                opt(r.cpu_s, 3, ""),
                opt(r.rss_mib, 1, ""),
                r.budget,
                r.verdict,
                r.python.as_deref().unwrap_or("–")
            ));
        }
        s.push_str(&self.side_report());
        if !self.notes.is_empty() {
            s.push_str("\n### Notes\n\n");
            for n in &self.notes {
                s.push_str(&format!("- {n}\n"));
            }
        }
        if !self.broken.is_empty() {
            s.push_str("\n### Broken runs\n\n");
            for b in &self.broken {
                s.push_str(&format!("- {b}\n"));
            }
        }
        print!("{s}");
        let _ = std::io::stdout().flush();
    }
}

fn opt(v: Option<f64>, prec: usize, unit: &str) -> String {
    v.map_or("–".into(), |x| format!("{x:.prec$}{unit}"))
}

// ---------------------------------------------------------------------------------------------
// bench-stage's output.

#[derive(Default, Debug)]
struct StageFigures {
    bytes: Option<u64>,
    objects: Option<usize>,
    wall_s: Option<f64>,
    cpu_s: Option<f64>,
    mbps_wall: Option<f64>,
    mbps_cpu: Option<f64>,
    rss_mib: Option<f64>,
    /// The rest of the `objects pushed` and `chunk bytes` lines, as printed.
    pushed: Option<String>,
    chunk_bytes: Option<String>,
}

/// Reads the lines `bytes N (…)`, `objects N (…)`, `wall X s`, `thread CPU X s`,
/// `throughput X MB/s wall, Y MB/s CPU …` and `peak RSS X MB …` (bench-stage's "MB" there is
/// KiB/1024, i.e. MiB).
fn parse_stage(out: &str) -> StageFigures {
    let mut f = StageFigures::default();
    let first_num = |s: &str| -> Option<f64> {
        s.split_whitespace()
            .next()
            .and_then(|w| w.trim_end_matches(',').parse().ok())
    };
    for line in out.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("objects pushed") {
            f.pushed = Some(rest.trim().to_string());
        } else if let Some(rest) = l.strip_prefix("chunk bytes") {
            f.chunk_bytes = Some(rest.trim().to_string());
        } else if let Some(rest) = l.strip_prefix("bytes") {
            f.bytes = first_num(rest).map(|x| x as u64);
        } else if let Some(rest) = l.strip_prefix("objects") {
            f.objects = first_num(rest).map(|x| x as usize);
        } else if let Some(rest) = l.strip_prefix("wall") {
            f.wall_s = first_num(rest);
        } else if let Some(rest) = l.strip_prefix("thread CPU") {
            f.cpu_s = first_num(rest);
        } else if let Some(rest) = l.strip_prefix("throughput") {
            let words: Vec<&str> = rest.split_whitespace().collect();
            f.mbps_wall = words.first().and_then(|w| w.parse().ok());
            f.mbps_cpu = words
                .iter()
                .position(|w| *w == "wall,")
                .and_then(|i| words.get(i + 1))
                .and_then(|w| w.parse().ok());
        } else if let Some(rest) = l.strip_prefix("peak RSS") {
            f.rss_mib = first_num(rest);
        }
    }
    f
}

// ---------------------------------------------------------------------------------------------
// The DISINFOX probe and the machine.

struct Probe {
    body_bytes: u64,
    first_byte_s: f64,
    total_s: f64,
}

/// GETs everything (as `fetch --since all` asks) over a plain socket and counts the body.
fn probe_disinfox(dx: &DisinfoxStandin) -> Result<Probe, String> {
    let newer_than = percent_encode("1970-01-01T00:00:00.000000Z");
    let started = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", dx.port())).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(120)))
        .map_err(|e| e.to_string())?;
    let path = format!("{}/incidents", dx.prefix());
    write!(
        s,
        "GET {path}?newer_than={newer_than} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {}\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
        dx.api_key()
    )
    .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 1 << 20];
    let mut head = Vec::new();
    let mut first_byte = None;
    let mut body = 0u64;
    let mut in_body = false;
    loop {
        let k = s.read(&mut buf).map_err(|e| e.to_string())?;
        if k == 0 {
            break;
        }
        first_byte.get_or_insert_with(|| started.elapsed());
        if in_body {
            body += k as u64;
            continue;
        }
        head.extend_from_slice(&buf[..k]);
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            body += (head.len() - i - 4) as u64;
            head.truncate(i);
            in_body = true;
        }
    }
    let total = started.elapsed();
    let head = String::from_utf8_lossy(&head);
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!(
            "unexpected answer: {}",
            head.lines().next().unwrap_or("")
        ));
    }
    let announced = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<u64>().ok())
            .flatten()
    });
    if announced != Some(body) {
        return Err(format!("announced {announced:?} bytes, received {body}"));
    }
    Ok(Probe {
        body_bytes: body,
        first_byte_s: first_byte.unwrap_or(total).as_secs_f64(),
        total_s: total.as_secs_f64(),
    })
}

/// OpenCTI's built-in "Connector" role: `sync` refuses a token that cannot import, over the
/// API and over AMQP alike.
fn connector_role() -> Vec<String> {
    [
        "CONNECTORAPI",
        "MODULES_MODMANAGE",
        "KNOWLEDGE_KNUPDATE_KNDELETE",
        "KNOWLEDGE_KNUPLOAD",
        "KNOWLEDGE_KNASKIMPORT",
        "SETTINGS_SETMARKINGS",
        "SETTINGS_SETLABELS",
        "SETTINGS_SETKILLCHAINPHASES",
    ]
    .map(String::from)
    .to_vec()
}
