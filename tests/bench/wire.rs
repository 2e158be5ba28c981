//! `fetch --output FILE` side by side with the bare byte-moving floor: `curl -o FILE` of the
//! same answer followed by coreutils' `sync FILE` (fsync of that file, as `fetch` syncs its
//! output before renaming it). Each is run three times and the median run (by wall time) is
//! reported. Budget: `fetch` wall ≤ 1.5 × the floor's, peak RSS ≤ 32 MiB.

use std::path::{Path, PathBuf};

use super::{Bench, Env, Usage};

const RUNS: usize = 3;

/// `fetch` may take this many times the floor's wall time.
const WALL_FACTOR: f64 = 1.5;

/// `fetch`'s memory budget, whatever the answer size.
const RSS_MIB: f64 = 32.0;

impl Bench {
    /// The `fetch` rows of size `n`: `fetch` and the floor, three runs each.
    pub(super) fn fetch_against_curl(
        &mut self,
        n: usize,
        env: &Env,
        objects: usize,
        answer_bytes: Option<u64>,
    ) {
        let file = self.work.path().join(format!("fetch-{n}.json"));
        let fetch_args: Vec<String> = vec![
            "--log-level".into(),
            "warn".into(),
            "--retries".into(),
            "0".into(),
            "fetch".into(),
            "--since".into(),
            "all".into(),
            "--output".into(),
            file.display().to_string(),
        ];
        let bin = self.bin.clone();
        let fetch = self.median(
            n,
            "fetch --since all --output FILE",
            &file,
            answer_bytes,
            |b| {
                b.run(
                    &format!("{n}: fetch --since all --output FILE"),
                    &bin,
                    &fetch_args,
                    env,
                )
                .0
            },
        );
        let floor = match (find("curl"), find("sync"), find("sh")) {
            (Some(curl), Some(sync), Some(sh)) => {
                let args = floor_args(&curl, &sync, &file, &env.disinfox_url);
                let label = format!("{n}: curl -o FILE && sync FILE");
                Some(self.median(n, "curl", &file, answer_bytes, |b| {
                    b.run(&label, &sh, &args, env).0
                }))
            }
            _ => {
                self.notes
                    .push("curl, sync or sh not found: the fetch floor was not measured".into());
                None
            }
        };
        self.fetch_rows(n, objects, answer_bytes, &fetch, floor.as_ref());
    }

    /// Runs `run` [`RUNS`] times; the run with the median wall time. Each run must write the
    /// whole answer to `file`.
    fn median(
        &mut self,
        n: usize,
        what: &str,
        file: &Path,
        answer_bytes: Option<u64>,
        mut run: impl FnMut(&mut Self) -> Usage,
    ) -> Usage {
        let mut runs = Vec::new();
        for _ in 0..RUNS {
            let u = run(self);
            let written = std::fs::metadata(file).map(|m| m.len()).ok();
            let _ = std::fs::remove_file(file);
            if u.ok() && written != answer_bytes {
                self.broken.push(format!(
                    "{n}: {what} wrote {written:?} bytes, the answer has {answer_bytes:?}"
                ));
            }
            runs.push(u);
        }
        let walls: Vec<String> = runs.iter().map(|u| format!("{:.3}", u.wall_s)).collect();
        self.notes.push(format!(
            "{n} incidents, {what}: wall times of the {RUNS} runs {} s",
            walls.join(", ")
        ));
        if let Some(broken) = runs.iter().find(|u| !u.ok()) {
            return broken.clone();
        }
        runs.sort_by(|a, b| a.wall_s.total_cmp(&b.wall_s));
        runs.swap_remove(RUNS / 2)
    }

    fn fetch_rows(
        &mut self,
        n: usize,
        objects: usize,
        answer_bytes: Option<u64>,
        fetch: &Usage,
        floor: Option<&Usage>,
    ) {
        let mut misses = Vec::new();
        if fetch.rss_mib() > RSS_MIB {
            misses.push(format!("RSS {:.1} MiB", fetch.rss_mib()));
        }
        let wall_budget = floor.map(|f| f.wall_s * WALL_FACTOR);
        if let Some(max) = wall_budget
            && fetch.wall_s > max
        {
            misses.push(format!("wall {:.3} s > {max:.3} s", fetch.wall_s));
        }
        let budget = match wall_budget {
            Some(max) => format!(
                "RSS ≤ {RSS_MIB} MiB; wall ≤ {WALL_FACTOR} × floor = {max:.3} s (median of {RUNS})"
            ),
            None => format!("RSS ≤ {RSS_MIB} MiB (median of {RUNS})"),
        };
        let verdict = if misses.is_empty() {
            "PASS".to_string()
        } else {
            format!("FAIL ({})", misses.join(", "))
        };
        self.push_row(
            "fetch --since all --output",
            n,
            Some(objects),
            answer_bytes,
            fetch,
            budget,
            verdict,
        );
        if let Some(floor) = floor {
            self.push_row(
                "floor: curl -o FILE && sync FILE",
                n,
                Some(objects),
                answer_bytes,
                floor,
                format!("reference (median of {RUNS})"),
                "-".into(),
            );
        }
    }
}

/// `sh -c '…' sh CURL SYNC FILE URL`: the key comes from the child's environment, so it is not
/// on a command line.
fn floor_args(curl: &Path, sync: &Path, file: &Path, url: &str) -> Vec<String> {
    let script = r#""$1" -sS --fail -o "$3" -H "Authorization: $DISINFOX_API_KEY" "$4?newer_than=1970-01-01T00%3A00%3A00.000000Z" && "$2" "$3""#;
    vec![
        "-c".into(),
        script.into(),
        "sh".into(),
        curl.display().to_string(),
        sync.display().to_string(),
        file.display().to_string(),
        url.into(),
    ]
}

/// A program on this process's `PATH` (the children run with an empty environment).
fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}
