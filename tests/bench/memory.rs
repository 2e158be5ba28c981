//! The memory section (`--memory-only` runs it alone, `--no-memory` leaves it out): the peak
//! RSS of a first-import `sync` (empty state; the arguments and environment of the "sync,
//! first import" rows) on answers of two shapes, each served by fresh stand-ins:
//!
//! - DISINFOX-shaped: `generate` output for 3,000 and 30,000 incidents, loaded as the sizes
//!   above load theirs;
//! - many small objects, stored with `add_raw_at` like the incidents: 400,000 identities
//!   (name, class, created and modified: about 220 bytes each) and 2,000,000 notes that carry
//!   only `id`, `spec_version` and `type` (86 bytes: the least `sync` accepts). Ids are derived
//!   from the object's position, so the same run gives the same answer; nothing references
//!   anything.
//!
//! On the incident answers the Python connector (`side.rs`'s venv and runner: pycti's helper,
//! else its splitter) then runs on the same answer; its peak RSS and CPU, and its peak RSS over
//! ours, go in the row (`--no-python` leaves it out; a failed run is a note, not a broken run).
//! It pushes the whole answer in one `stixBundlePush`, more than the 50 MB OpenCTI accepts by
//! default at 30k, so these OpenCTI stand-ins accept bodies up to `BODY_LIMIT` (`sync`'s
//! requests stay under its `--chunk-size`, 10M by default).
//!
//! `sync` stages the answer on disk, so its memory should not follow the answer. Targets: peak
//! RSS ≤ 64 MiB at 30k incidents and with both small-object answers, and the peak at 30k at
//! most 1.25 × the peak at 3k. A run is broken (bench-sync then exits non-zero) unless its JSON
//! summary says `imported`, counts every object, and the OpenCTI stand-in received exactly the
//! objects the summary reports pushed.

use std::collections::HashSet;
use std::time::Instant;

use serde_json::Value;

use super::side::SINCE_ALL;
use super::support::disinfox::DisinfoxStandin;
use super::support::generator::format_ms;
use super::support::opencti::OpenctiStandin;
use super::{Bench, Env, Row, Usage, load_incidents, now_ms, probe_disinfox};

/// The peak RSS target for the large answers, whatever their size.
const RSS_MIB: f64 = 64.0;
/// The peak at `LARGE` incidents over the peak at `BASE`, at most.
const GROWTH: f64 = 1.25;
const BASE: usize = 3_000;
const LARGE: usize = 30_000;
const IDENTITIES: usize = 400_000;
const NOTES: usize = 2_000_000;
/// The OpenCTI stand-ins' body limit here: room for the Python connector's single push.
const BODY_LIMIT: usize = 1 << 30;

/// The Python connector's run on a memory-section answer, as its cell shows it.
enum PythonPeak {
    /// Not run on this answer (small objects).
    NotRun,
    /// `--no-python`.
    Off,
    /// The venv or the run failed; the notes say why.
    Failed,
    Measured {
        mode: String,
        rss_mib: f64,
        cpu_s: f64,
    },
}

impl PythonPeak {
    fn rss_mib(&self) -> Option<f64> {
        match self {
            PythonPeak::Measured { rss_mib, .. } => Some(*rss_mib),
            _ => None,
        }
    }

    /// The cell when there is no figure; `None` when there is one.
    fn missing(&self) -> Option<String> {
        match self {
            PythonPeak::NotRun => Some("–".into()),
            PythonPeak::Off => Some("not measured (--no-python)".into()),
            PythonPeak::Failed => Some("not measured (see Notes)".into()),
            PythonPeak::Measured { .. } => None,
        }
    }

    /// Its figures and its peak RSS over `ours`.
    fn cell(&self, ours: Option<f64>) -> String {
        let PythonPeak::Measured {
            mode,
            rss_mib,
            cpu_s,
        } = self
        else {
            return self.missing().unwrap_or_default();
        };
        let ratio = ours.map_or("–".into(), |o| format!("{:.1}×", rss_mib / o));
        format!("{rss_mib:.1} MiB peak RSS, {cpu_s:.3} s CPU ({mode}); RSS ÷ ours: {ratio}")
    }
}

/// What one memory run measured: our peak RSS (when it imported everything) and Python's.
struct Peaks {
    ours: Option<f64>,
    python: PythonPeak,
}

/// The answer of one memory run.
#[derive(Clone, Copy)]
enum Answer {
    Incidents(usize),
    Identities(usize),
    Notes(usize),
}

impl Answer {
    fn name(self) -> String {
        match self {
            Answer::Incidents(n) => format!("{n} incidents"),
            Answer::Identities(n) => format!("{n} small identities"),
            Answer::Notes(n) => format!("{n} tiny notes"),
        }
    }

    fn slug(self) -> String {
        match self {
            Answer::Incidents(n) => format!("incidents-{n}"),
            Answer::Identities(n) => format!("identities-{n}"),
            Answer::Notes(n) => format!("notes-{n}"),
        }
    }

    fn incidents(self) -> Option<usize> {
        match self {
            Answer::Incidents(n) => Some(n),
            _ => None,
        }
    }

    /// The RSS target of the row; the base of the growth ratio has none of its own.
    fn rss_limit(self) -> Option<f64> {
        match self {
            Answer::Incidents(n) if n < LARGE => None,
            _ => Some(RSS_MIB),
        }
    }

    /// Loads the answer into the DISINFOX stand-in; the number of objects.
    fn load(self, dx: &DisinfoxStandin) -> usize {
        match self {
            Answer::Incidents(n) => load_incidents(dx, n),
            Answer::Identities(n) => load_small(dx, n, identity),
            Answer::Notes(n) => load_small(dx, n, note),
        }
    }
}

/// `n` objects made by `make(i, modified_ms)`, 1 ms apart, the newest two minutes old (older
/// than sync's settle window, as the incidents).
fn load_small(dx: &DisinfoxStandin, n: usize, make: fn(usize, i64) -> String) -> usize {
    let t = Instant::now();
    let start = now_ms() - 120_000 - n as i64;
    for i in 0..n {
        let ms = start + i as i64;
        dx.add_raw_at(ms, make(i, ms));
    }
    eprintln!(
        "bench-sync: made and loaded {n} objects in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    n
}

/// An identity as DISINFOX serializes objects (compact, keys sorted): about 220 bytes.
fn identity(i: usize, ms: i64) -> String {
    let at = format_ms(ms);
    format!(
        r#"{{"created":"{at}","id":"identity--{}","identity_class":"organization","modified":"{at}","name":"Org {i:07}","spec_version":"2.1","type":"identity"}}"#,
        small_uuid(i)
    )
}

/// A note with nothing but what `sync` requires of an object: 86 bytes.
fn note(i: usize, _ms: i64) -> String {
    format!(
        r#"{{"id":"note--{}","spec_version":"2.1","type":"note"}}"#,
        small_uuid(i)
    )
}

/// A version-4-shaped uuid for position `i`: random-looking (splitmix64 of `i`) in its first
/// groups, and unique through its last group, which is `i` itself.
fn small_uuid(i: usize) -> String {
    let mut z = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        z >> 32,
        (z >> 16) & 0xffff,
        z & 0xfff,
        0x8000 | (z.rotate_left(23) & 0x3fff),
        i as u64 & 0xffff_ffff_ffff
    )
}

impl Bench {
    /// The rows of the memory section: 3k, 30k, their ratio, then the small objects.
    pub(super) fn memory_section(&mut self) {
        eprintln!("bench-sync: === memory ===");
        let base = self.memory_run(Answer::Incidents(BASE));
        let large = self.memory_run(Answer::Incidents(LARGE));
        self.growth_row(&base, &large);
        self.memory_run(Answer::Identities(IDENTITIES));
        self.memory_run(Answer::Notes(NOTES));
    }

    /// One first import on fresh stand-ins, then the Python connector's on the same answer.
    fn memory_run(&mut self, answer: Answer) -> Peaks {
        let (dx, oc) = self.standins_with(|o| o.body_limit = BODY_LIMIT);
        let objects = answer.load(&dx);
        let bytes = match probe_disinfox(&dx) {
            Ok(p) => Some(p.body_bytes),
            Err(e) => {
                let name = answer.name();
                self.broken.push(format!(
                    "memory, {name}: probing the DISINFOX stand-in: {e}"
                ));
                None
            }
        };
        let env = self.env(&dx, &oc, &format!("home-memory-{}", answer.slug()));
        let (u, out) = self.run(
            &format!("memory, {}: sync (first import)", answer.name()),
            &self.bin.clone(),
            &self.sync_args(),
            &env,
        );
        let imported = u.ok() && self.check_import(answer, objects, &out, &oc);
        if u.ok() {
            self.notes.push(format!(
                "memory, {}, sync, first import: user {:.3} s + sys {:.3} s",
                answer.name(),
                u.user_s,
                u.sys_s
            ));
        }
        // After the check: the Python connector's push reaches the same OpenCTI stand-in.
        let python = self.memory_python(answer, &env);
        self.memory_row(answer, objects, bytes, &u, imported, &python);
        Peaks {
            ours: imported.then(|| u.rss_mib()),
            python,
        }
    }

    /// The Python connector's first import of the answer, if it is made of incidents.
    fn memory_python(&mut self, answer: Answer, env: &Env) -> PythonPeak {
        let Some(n) = answer.incidents() else {
            return PythonPeak::NotRun;
        };
        if self.args.no_python {
            return PythonPeak::Off;
        }
        match self.python_run(n, "memory section, first import", SINCE_ALL, env) {
            (Some(mode), Some(u)) => PythonPeak::Measured {
                mode,
                rss_mib: u.rss_mib(),
                cpu_s: u.cpu_s(),
            },
            _ => PythonPeak::Failed,
        }
    }

    /// The summary says `imported` and counts every object (plus the well-known ones it
    /// added); the OpenCTI stand-in received what the summary says was pushed, and as many
    /// distinct objects as the summary counts.
    fn check_import(
        &mut self,
        answer: Answer,
        objects: usize,
        out: &str,
        oc: &OpenctiStandin,
    ) -> bool {
        let summary: Value = serde_json::from_str(out.trim()).unwrap_or_default();
        let num = |k: &str| summary.get(k).and_then(Value::as_u64).map(|v| v as usize);
        let status = summary.get("status").and_then(Value::as_str).unwrap_or("?");
        let (total, added, pushed) = (
            num("objects_total"),
            num("added_well_known"),
            num("objects_pushed"),
        );
        let received = oc.received_ids();
        let distinct = received.iter().collect::<HashSet<_>>().len();
        let mut wrong = Vec::new();
        if status != "imported" {
            wrong.push(format!("status {status:?}, not \"imported\""));
        }
        if added.is_none() || total != added.map(|a| objects + a) {
            wrong.push(format!(
                "objects_total {total:?} for {objects} objects and {added:?} well-known ones"
            ));
        }
        if pushed != Some(received.len()) || total != Some(distinct) {
            wrong.push(format!(
                "the OpenCTI stand-in received {} objects ({distinct} distinct), the summary says {pushed:?} pushed ({total:?} distinct)",
                received.len()
            ));
        }
        self.notes.push(format!(
            "memory, {}: first sync reported status {status:?}, {} objects ({} well-known added) in {} chunk(s), {} objects pushed; the OpenCTI stand-in received {} objects ({distinct} distinct)",
            answer.name(),
            opt_count(total),
            opt_count(added),
            opt_count(num("chunks")),
            opt_count(pushed),
            received.len()
        ));
        if !wrong.is_empty() {
            let name = answer.name();
            self.broken
                .push(format!("memory, {name}: {}", wrong.join("; ")));
        }
        wrong.is_empty()
    }

    fn memory_row(
        &mut self,
        answer: Answer,
        objects: usize,
        bytes: Option<u64>,
        u: &Usage,
        imported: bool,
        python: &PythonPeak,
    ) {
        let rss = u.rss_mib();
        let budget = answer.rss_limit().map_or_else(
            || format!("— (the base of the {LARGE} / {BASE} ratio)"),
            |limit| format!("RSS ≤ {limit:.0} MiB"),
        );
        let verdict = match answer.rss_limit() {
            _ if !u.ok() => format!("BROKEN ({})", u.describe_failure()),
            _ if !imported => "BROKEN (see Broken runs)".into(),
            None => "measured".into(),
            Some(limit) if rss <= limit => "PASS".into(),
            Some(limit) => format!("FAIL (+{:.1} MiB)", rss - limit),
        };
        self.rows.push(Row {
            scenario: format!("memory: sync, first import, {}", answer.name()),
            incidents: answer.incidents(),
            objects: Some(objects),
            answer_bytes: bytes,
            wall_s: u.ok().then_some(u.wall_s),
            cpu_s: u.ok().then_some(u.cpu_s()),
            rss_mib: u.ok().then_some(rss),
            budget,
            verdict,
            python: Some(python.cell(imported.then_some(rss))),
        });
    }

    /// The ratio of the peaks at `LARGE` and `BASE` incidents, ours and Python's.
    fn growth_row(&mut self, base: &Peaks, large: &Peaks) {
        let python = match (base.python.rss_mib(), large.python.rss_mib()) {
            (Some(b), Some(l)) => format!("{:.2}× ({b:.1} → {l:.1} MiB)", l / b),
            _ => (base.python.missing())
                .or(large.python.missing())
                .unwrap_or_default(),
        };
        let (budget, verdict) = match (base.ours, large.ours) {
            (Some(b), Some(l)) => {
                let r = l / b;
                let met = if r <= GROWTH { "PASS" } else { "FAIL" };
                (
                    format!(
                        "RSS({LARGE}) ≤ {GROWTH} × RSS({BASE}) = {:.1} MiB: ratio {r:.3}",
                        GROWTH * b
                    ),
                    format!("{met} ({r:.2}×)"),
                )
            }
            _ => (
                format!("RSS({LARGE}) ≤ {GROWTH} × RSS({BASE})"),
                "NOT MEASURED (a run broke)".into(),
            ),
        };
        self.rows.push(Row {
            scenario: format!("memory: peak RSS growth, {BASE} → {LARGE} incidents"),
            incidents: Some(LARGE),
            objects: None,
            answer_bytes: None,
            wall_s: None,
            cpu_s: None,
            rss_mib: None,
            budget,
            verdict,
            python: Some(python),
        });
    }
}

fn opt_count(v: Option<usize>) -> String {
    v.map_or("?".into(), |n| n.to_string())
}
