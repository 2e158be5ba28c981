//! Bundle stage micro-benchmark: parse + prepare + chunk plan of a generated
//! DISINFOX bundle on one thread. Not a test: prints figures, asserts nothing about time.
//!
//!     cargo run --release --example bench-stage -- [INCIDENTS=10000] [REPEATS=3]
//!     cargo run --release --example bench-stage -- --write PATH [INCIDENTS]   (save the bundle)
//!     cargo run --release --example bench-stage -- --file PATH [REPEATS]      (stage a file)
//!
//! Peak RSS is VmHWM, reset (via /proc/self/clear_refs) after the bundle is generated and the
//! generator's memory is returned, so it covers the input held once plus the stage.

// A test or example crate has no public API: `pub` in its modules is how they share code.
#![allow(unreachable_pub)]

#[path = "../support/generator.rs"]
mod generator;

use std::time::{Duration, Instant};

use disinfox_sync::testing::bundle::{self, Limits};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (source, rest) = match args.first().map(String::as_str) {
        Some("--file") => (
            Source::File(args.get(1).expect("--file PATH").clone()),
            &args[2..],
        ),
        Some("--write") => (
            Source::Write(args.get(1).expect("--write PATH").clone()),
            &args[2..],
        ),
        _ => (Source::Generate, &args[..]),
    };
    let incidents: usize = match &source {
        Source::File(_) => 0,
        _ => rest
            .first()
            .map(|s| {
                s.replace('_', "")
                    .parse()
                    .expect("INCIDENTS must be a number")
            })
            .unwrap_or(10_000),
    };
    let repeats: usize = rest
        .get(usize::from(!matches!(source, Source::File(_))))
        .map(|s| s.parse().expect("REPEATS must be a number"))
        .unwrap_or(3)
        .max(1);

    let t = Instant::now();
    let text = match &source {
        Source::File(path) => std::fs::read_to_string(path).expect("readable UTF-8 file"),
        _ => generator::generate(&generator::GenOptions::new(incidents)).into_bundle(),
    };
    if let Source::Write(path) = &source {
        std::fs::write(path, &text).expect("writable file");
        println!("wrote {} bytes to {path}", text.len());
        return;
    }
    let generated_in = t.elapsed();
    // SAFETY: malloc_trim only returns free heap memory to the OS.
    unsafe {
        libc::malloc_trim(0);
    }
    let input_rss = status_kb("VmRSS");
    let hwm_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();

    let limits = Limits::default();
    let mut best: Option<(Duration, Duration, Duration)> = None;
    let mut summary = None;
    let mut stage_hwm = f64::NAN;
    let mut best_cpu = f64::INFINITY;
    let mut rendered = (0.0, 0);
    for round in 0..repeats {
        let c0 = thread_cpu();
        let t0 = Instant::now();
        let parsed = bundle::parse(text.as_bytes()).expect("generated bundle is valid");
        let t1 = Instant::now();
        let prepared = bundle::prepare(parsed);
        let t2 = Instant::now();
        let plans = prepared.chunks(&limits).expect("chunks");
        let t3 = Instant::now();
        let cpu = thread_cpu() - c0;
        best_cpu = best_cpu.min(cpu);
        let run = (t1 - t0, t2 - t1, t3 - t2);
        if best.is_none_or(|b| run.0 + run.1 + run.2 < b.0 + b.1 + b.2) {
            best = Some(run);
        }
        summary = Some((
            prepared.len(),
            prepared.duplicates(),
            prepared.added().len(),
            prepared.dangling_count(),
            plans.len(),
            prepared.max_modified().map(str::to_string),
            bundle::pushed_objects(&plans),
            plans.iter().map(|p| p.escaped_bytes).sum::<usize>(),
            plans.iter().map(|p| p.raw_bytes).sum::<usize>(),
        ));
        stage_hwm = status_kb("VmHWM");
        // Not part of the stage budget, but what push does next: time it once.
        if round + 1 == repeats {
            rendered = render_all(&prepared, &plans);
        }
    }

    let (parse, prepare, chunk) = best.expect("at least one run");
    let total = parse + prepare + chunk;
    let (objects, duplicates, added, dangling, chunks, max_modified, pushed, escaped, raw) =
        summary.expect("ran");
    let mb = text.len() as f64 / 1e6;
    match &source {
        Source::File(path) => println!("bundle stage, {path} (best of {repeats}, one thread)"),
        _ => println!("bundle stage, {incidents} incidents (best of {repeats}, one thread)"),
    }
    println!("  input ready in       {:.2} s", generated_in.as_secs_f64());
    println!("  bytes                {} ({mb:.1} MB)", text.len());
    println!(
        "  objects              {objects} (+{added} well-known, {duplicates} duplicates dropped, {dangling} dangling ids)"
    );
    println!(
        "  chunks               {chunks} at {} bytes / {} objects",
        limits.max_bytes, limits.max_objects
    );
    println!(
        "  objects pushed       {pushed} ({:.4} per distinct object: shared ones copied into each chunk)",
        pushed as f64 / objects as f64
    );
    println!("  chunk bytes          {raw} as bundles, {escaped} escaped");
    println!(
        "  max modified         {}",
        max_modified.unwrap_or_default()
    );
    println!(
        "  parse / prepare / chunk  {:.3} / {:.3} / {:.3} s",
        parse.as_secs_f64(),
        prepare.as_secs_f64(),
        chunk.as_secs_f64()
    );
    println!("  wall                 {:.3} s", total.as_secs_f64());
    println!("  thread CPU           {best_cpu:.3} s");
    println!(
        "  throughput           {:.0} MB/s wall, {:.0} MB/s CPU (budget >= 300)",
        mb / total.as_secs_f64(),
        mb / best_cpu
    );
    println!(
        "  render (escaped)     {:.3} s, {:.0} MB/s of escaped output (not in the stage figure)",
        rendered.0,
        rendered.1 as f64 / 1e6 / rendered.0
    );
    println!("  RSS holding input    {:.1} MB", input_rss / 1024.0);
    println!(
        "  peak RSS             {:.1} MB{} -> stage overhead {:.1} MB ({:.2} x input)",
        stage_hwm / 1024.0,
        if hwm_reset {
            ""
        } else {
            " (HWM not reset: includes the generator)"
        },
        (stage_hwm - input_rss) / 1024.0,
        (stage_hwm - input_rss) * 1024.0 / text.len() as f64
    );
}

enum Source {
    Generate,
    Write(String),
    File(String),
}

/// Seconds and bytes to render every chunk, escaped, into one reused buffer.
fn render_all(prepared: &bundle::Prepared<'_>, plans: &[bundle::ChunkPlan]) -> (f64, usize) {
    let t = Instant::now();
    let mut body = Vec::new();
    let mut bytes = 0;
    for plan in plans {
        body.clear();
        prepared.render_escaped_into(plan, &mut body);
        bytes += body.len();
    }
    (t.elapsed().as_secs_f64(), bytes)
}

/// CPU seconds used by this thread (immune to other processes competing for the cores).
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointer to a timespec; CLOCK_THREAD_CPUTIME_ID is always available on Linux.
    unsafe {
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// A `kB` line of /proc/self/status, in KiB.
fn status_kb(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(f64::NAN)
}
