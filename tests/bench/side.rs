//! CPU side by side (issue 19 item 4): `sync` against the Python connector on pycti
//! (`python_connector.py`, in a venv this benchmark creates under its temp dir) and against
//! the byte-moving floor (`floor.rs`), every figure net of the launch floor (`/bin/true`,
//! measured the same way).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::floor::FloorArgs;
use super::support::disinfox::DisinfoxStandin;
use super::support::http::percent_encode;
use super::support::opencti::OpenctiStandin;
use super::{Bench, Env, Usage};

/// Python's CPU over ours, net of the launch floor, at least this (full import at 10k).
const PYTHON_FULL: f64 = 10.0;
/// The same for a run with nothing new.
const PYTHON_QUIET: f64 = 50.0;
/// Our full import over the byte-moving floor, net of the launch floor, at most this.
const FLOOR_FACTOR: f64 = 1.6;
/// The largest size the Python connector runs at (its memory grows with the answer).
const PYTHON_MAX_INCIDENTS: usize = 10_000;
/// How many times the launch floor and the byte floor run (median kept).
const REPEATS: usize = 3;
const SCRIPT: &str = "tests/bench/python_connector.py";
/// `newer_than` for a first import: everything DISINFOX has.
pub const SINCE_ALL: &str = "1970-01-01T00:00:00.000000Z";

/// One line of the side-by-side table.
pub struct SideLine {
    n: usize,
    what: &'static str,
    ours: f64,
    other_name: String,
    other: Option<f64>,
    launch: f64,
    target: String,
    verdict: String,
}

/// What the side-by-side needs from a size's run.
pub struct SizeRun<'a> {
    pub n: usize,
    pub env: &'a Env,
    pub dx: &'a DisinfoxStandin,
    pub oc: &'a OpenctiStandin,
    pub first: &'a Usage,
    pub quiet: &'a Usage,
    pub chunk: usize,
}

impl Bench {
    pub fn side_by_side(&mut self, r: &SizeRun) {
        if !(r.first.ok() && r.quiet.ok()) {
            return;
        }
        let n = r.n;
        let launch = self.median_cpu(
            &format!("{n}: launch floor"),
            Path::new("/bin/true"),
            &[],
            r.env,
        );
        let floor_args = FloorArgs {
            disinfox_port: r.dx.port(),
            disinfox_target: format!(
                "{}/incidents?newer_than={}",
                r.dx.prefix(),
                percent_encode(SINCE_ALL)
            ),
            opencti_path: r
                .oc
                .graphql_url()
                .splitn(4, '/')
                .nth(3)
                .map_or("/graphql".into(), |p| format!("/{p}")),
            opencti_port: r.oc.port(),
            connector_id: r.env.connector_id.clone(),
            chunk: r.chunk,
        };
        let exe = std::env::current_exe().expect("current_exe");
        let floor = self.median_cpu(
            &format!("{n}: byte-moving floor"),
            &exe,
            &floor_args.to_args(),
            r.env,
        );
        let ours_full = self.first_import_cpu(r);
        let ours_quiet = r.quiet.cpu_s();
        if let (Some(f), Some(l)) = (floor, launch) {
            let ratio = (ours_full - l) / (f - l);
            self.side.push(SideLine {
                n,
                what: "sync, first import vs the byte-moving floor",
                ours: ours_full,
                other_name: "floor".into(),
                other: Some(f),
                launch: l,
                target: format!("ours ≤ {FLOOR_FACTOR} × floor"),
                verdict: verdict(ratio <= FLOOR_FACTOR, ratio),
            });
        }
        let Some(l) = launch else { return };
        if n > PYTHON_MAX_INCIDENTS {
            self.notes.push(format!(
                "{n} incidents: the Python connector is not run above {PYTHON_MAX_INCIDENTS} incidents (at 10k it holds about half a GB: the answer, its parsed objects and the split bundles)"
            ));
            return;
        }
        let (mode, py_full) = self.python_run(n, "first import", SINCE_ALL, r.env);
        let py_full = py_full.map(|u| u.cpu_s());
        let now = chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string();
        let py_quiet = match &mode {
            Some(m) => self
                .python_in_mode(n, "nothing new", m, &now, r.env)
                .map(|u| u.cpu_s()),
            None => None,
        };
        let name = format!("Python ({})", mode.as_deref().unwrap_or("did not run"));
        for (what, ours, other, want) in [
            (
                "sync, first import vs Python",
                ours_full,
                py_full,
                PYTHON_FULL,
            ),
            (
                "sync, nothing new vs Python",
                ours_quiet,
                py_quiet,
                PYTHON_QUIET,
            ),
        ] {
            let ratio = other.map(|p| (p - l) / (ours - l));
            self.side.push(SideLine {
                n,
                what,
                ours,
                other_name: name.clone(),
                other,
                launch: l,
                target: format!("Python ≥ {want} × ours"),
                verdict: ratio.map_or("NOT MEASURED".into(), |x| verdict(x >= want, x)),
            });
        }
    }

    /// Median CPU of `REPEATS` runs; `None` when any run broke.
    /// The first import's CPU as the median of `REPEATS` runs, as the floors' are: the run
    /// already measured and `REPEATS - 1` more, each as a new connector (an empty state). A
    /// run that does not import is left out, and said so.
    fn first_import_cpu(&mut self, r: &SizeRun) -> f64 {
        let mut cpu = vec![r.first.cpu_s()];
        let (bin, args) = (self.bin.clone(), self.sync_args());
        for k in 1..REPEATS {
            let env = Env {
                connector_id: uuid::Uuid::new_v4().to_string(),
                disinfox_url: r.env.disinfox_url.clone(),
                api_key: r.env.api_key.clone(),
                opencti_url: r.env.opencti_url.clone(),
                token: r.env.token.clone(),
                home: r.env.home.clone(),
                extra: r.env.extra.clone(),
            };
            let label = format!("{}: sync, first import, again ({k})", r.n);
            let (u, out) = self.run(&label, &bin, &args, &env);
            if u.ok() && out.contains("\"status\":\"imported\"") {
                cpu.push(u.cpu_s());
            } else {
                self.notes
                    .push(format!("{label}: did not import; left out"));
            }
        }
        cpu.sort_by(f64::total_cmp);
        self.notes.push(format!(
            "{}: sync, first import: CPU of {} runs {} s (median kept)",
            r.n,
            cpu.len(),
            cpu.iter()
                .map(|c| format!("{c:.4}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        cpu[cpu.len() / 2]
    }

    fn median_cpu(
        &mut self,
        label: &str,
        program: &Path,
        args: &[String],
        env: &Env,
    ) -> Option<f64> {
        let mut cpu = Vec::new();
        for _ in 0..REPEATS {
            let (u, _) = self.run(label, program, args, env);
            if !u.ok() {
                return None;
            }
            cpu.push(u.cpu_s());
        }
        cpu.sort_by(f64::total_cmp);
        self.notes.push(format!(
            "{label}: CPU of {REPEATS} runs {} s (median kept)",
            cpu.iter()
                .map(|c| format!("{c:.4}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        Some(cpu[REPEATS / 2])
    }

    /// The full import with pycti's helper, or with the splitter when the helper cannot
    /// run against the stand-in: the mode that worked and its usage (wait4). Also used by the
    /// memory section (`memory.rs`).
    pub(super) fn python_run(
        &mut self,
        n: usize,
        label: &str,
        newer_than: &str,
        env: &Env,
    ) -> (Option<String>, Option<Usage>) {
        for mode in ["helper", "splitter"] {
            if let Some(u) = self.python_in_mode(n, label, mode, newer_than, env) {
                return (Some(mode.into()), Some(u));
            }
        }
        (None, None)
    }

    /// One run of the Python connector in `mode`; a failure is a note, not a broken run.
    fn python_in_mode(
        &mut self,
        n: usize,
        label: &str,
        mode: &str,
        newer_than: &str,
        env: &Env,
    ) -> Option<Usage> {
        let python = self.python()?;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(SCRIPT);
        let args = vec![script.display().to_string(), mode.into(), newer_than.into()];
        let broken_before = self.broken.len();
        let (u, out) = self.run(
            &format!("{n}: Python connector ({mode}), {label}"),
            &python,
            &args,
            env,
        );
        if !u.ok() {
            // Not a broken benchmark: the figure is reported as not measured.
            self.broken.truncate(broken_before);
            self.notes.push(format!(
                "{n} incidents, Python connector ({mode}), {label}: not measured, {}: {}",
                u.describe_failure(),
                out.trim()
            ));
            return None;
        }
        self.notes.push(format!(
            "{n} incidents, Python connector ({mode}), {label}: {} (user {:.3} s + sys {:.3} s, {:.1} MiB peak RSS, {:.3} s wall)",
            out.trim(),
            u.user_s,
            u.sys_s,
            u.rss_mib(),
            u.wall_s
        ));
        Some(u)
    }

    /// The venv's python, created on first use: pycti and requests from PyPI.
    fn python(&mut self) -> Option<PathBuf> {
        if let Some(p) = &self.python {
            return p.clone();
        }
        let venv = self.work.path().join("pyvenv");
        let python = venv.join("bin/python");
        let made =
            run_quiet(Command::new("python3").arg("-m").arg("venv").arg(&venv)).and_then(|_| {
                run_quiet(
                    Command::new(venv.join("bin/pip"))
                        .args(["install", "--quiet", "pycti", "requests"]),
                )
            });
        let found = match made {
            Ok(()) => {
                let version = Command::new(&python)
                    .args([
                        "-c",
                        "import pycti, sys; print('pycti', pycti.__version__, 'on Python', sys.version.split()[0])",
                    ])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                    .unwrap_or_default();
                self.notes.push(format!(
                    "Python connector: {version} (pip, in a venv under the benchmark's temp dir)"
                ));
                Some(python)
            }
            Err(e) => {
                self.notes
                    .push(format!("Python connector not measured: {e}"));
                None
            }
        };
        self.python = Some(found.clone());
        found
    }

    pub fn side_report(&self) -> String {
        if self.side.is_empty() {
            return String::new();
        }
        let mut s = String::from(
            "\n### CPU side by side\n\nCPU = user + sys of the child (wait4). Net = minus the launch floor (`/bin/true`, median of 3, measured the same way). Ratio = the slower side's net CPU over the faster side's.\n\n",
        );
        s.push_str("| incidents | comparison | disinfox-sync CPU s | other | other CPU s | launch floor s | ratio (net) | target | verdict |\n");
        s.push_str("|---:|---|---:|---|---:|---:|---:|---|---|\n");
        for l in &self.side {
            let ratio = l.other.map(|o| {
                let (ours, other) = (l.ours - l.launch, o - l.launch);
                if l.other_name == "floor" {
                    ours / other
                } else {
                    other / ours
                }
            });
            s.push_str(&format!(
                "| {} | {} | {:.4} | {} | {} | {:.4} | {} | {} | {} |\n",
                l.n,
                l.what,
                l.ours,
                l.other_name,
                l.other.map_or("–".into(), |o| format!("{o:.4}")),
                l.launch,
                ratio.map_or("–".into(), |r| format!("{r:.2}×")),
                l.target,
                l.verdict
            ));
        }
        s
    }
}

fn verdict(met: bool, ratio: f64) -> String {
    if met {
        format!("PASS ({ratio:.2}×)")
    } else {
        format!("FAIL ({ratio:.2}×)")
    }
}

fn run_quiet(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    Err(format!(
        "{cmd:?} failed: {}",
        err.lines().last().unwrap_or("")
    ))
}
