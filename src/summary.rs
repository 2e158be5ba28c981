//! Counting and describing what a run moved, for the one-line summaries.

use std::collections::BTreeMap;

pub(crate) type Counts = BTreeMap<String, usize>;

/// "18 objects (2 intrusion-set, 8 relationship, …)" or "no objects".
pub(crate) fn describe_counts(counts: &Counts) -> String {
    let total: usize = counts.values().sum();
    if total == 0 {
        return "no objects".into();
    }
    let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    format!(
        "{total} object{} ({})",
        if total == 1 { "" } else { "s" },
        parts.join(", ")
    )
}

/// How a `sync` or `push` ended, for people (one line on stderr) and machines (`--json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Status {
    Imported,
    UpToDate,
    Deferred,
    Failed,
    DryRun,
}

#[derive(Debug, Default, serde::Serialize)]
pub(crate) struct Report {
    pub command: &'static str,
    pub status: Option<Status>,
    pub objects: Counts,
    pub objects_total: usize,
    pub added_well_known: usize,
    pub dangling_references: usize,
    pub chunks: usize,
    pub bytes: u64,
    /// Objects in the chunks: each chunk carries copies of the shared objects its objects
    /// reference, so this exceeds `objects_total`; `push_ratio` is the quotient.
    pub objects_pushed: usize,
    pub push_ratio: Option<f64>,
    pub cursor_before: Option<String>,
    pub cursor_after: Option<String>,
    pub work_id: Option<String>,
    /// With `--wait`: what OpenCTI's workers imported and failed to import.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imported: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import_failed: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub import_errors: Vec<String>,
    pub duration_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// DISINFOX's clock (its `Date` header), for the cursor-lag metric.
    #[serde(skip)]
    pub disinfox_clock: Option<chrono::DateTime<chrono::Utc>>,
    /// What `verify` found (its metrics).
    #[serde(skip)]
    pub verify: Option<VerifyCounts>,
}

/// What `verify` checked and found missing at the end of its run.
#[derive(Debug, Default, Clone)]
pub(crate) struct VerifyCounts {
    pub checked: usize,
    /// Missing objects by STIX type.
    pub missing: Counts,
}

impl Report {
    pub(crate) fn new(command: &'static str) -> Self {
        Report {
            command,
            ..Default::default()
        }
    }

    pub(crate) fn human(&self) -> String {
        let status = match self.status {
            Some(Status::Imported) => "imported",
            Some(Status::UpToDate) => "up to date",
            Some(Status::Deferred) => "deferred",
            Some(Status::Failed) => "FAILED",
            Some(Status::DryRun) => "dry run",
            None => "?",
        };
        let mut line = format!(
            "{} {status}: {}",
            self.command,
            describe_counts(&self.objects)
        );
        if self.chunks > 0 {
            line.push_str(&format!(
                " in {} chunk(s), {} bytes",
                self.chunks, self.bytes
            ));
        }
        if let Some(ratio) = self.push_ratio {
            line.push_str(&format!(
                " ({} objects in the chunks, {ratio:.3} per distinct object)",
                self.objects_pushed
            ));
        }
        if let Some(w) = &self.work_id {
            line.push_str(&format!(", work {w}"));
        }
        if let (Some(ok), Some(failed)) = (self.imported, self.import_failed) {
            line.push_str(&format!(", OpenCTI imported {ok}, failed {failed}"));
        }
        if self.cursor_before.is_some() || self.cursor_after.is_some() {
            let c = |c: &Option<String>| c.clone().unwrap_or_else(|| "beginning".into());
            line.push_str(&format!(
                ", cursor {} -> {}",
                c(&self.cursor_before),
                c(&self.cursor_after)
            ));
        }
        line.push_str(&format!(", {:.2}s", self.duration_seconds));
        // The error itself is printed once, by `main`, as the last line; the JSON summary
        // carries it too.
        line
    }

    /// Logs the human line; with `json`, also prints the object on stdout.
    pub(crate) fn emit(&self, json: bool) -> crate::error::Result<()> {
        // JSON log lines carry the summary's fields (counts, work id) as pycti's `attributes`.
        let attributes = serde_json::to_value(self)?;
        crate::logging::with_attributes(attributes, || {
            if self.status == Some(Status::Failed) {
                log::error!("{}", self.human());
            } else {
                log::info!("{}", self.human());
            }
        });
        if json {
            let text = crate::secret::scrub(&serde_json::to_string(self)?);
            crate::output::write_to(None, |w| Ok(writeln!(w, "{text}")?))?;
        }
        Ok(())
    }

    /// Records how many objects the chunks held, copies included.
    pub(crate) fn set_pushed(&mut self, objects: usize) {
        self.objects_pushed = objects;
        self.push_ratio = (self.objects_total > 0 && objects > 0)
            .then(|| objects as f64 / self.objects_total as f64);
    }

    /// Completes a failed run's report from the error that ended it.
    pub(crate) fn fail(&mut self, err: &anyhow::Error) {
        self.status = Some(Status::Failed);
        self.error = Some(crate::error::render(err));
        if let crate::error::Outcome::Fail(code) = crate::error::classify(err) {
            self.exit_code = Some(code.code());
        }
    }
}

/// Runs `body`, and on failure still emits the report (status failed) before passing the
/// error on for the exit status.
pub(crate) fn reported(
    report: &mut Report,
    json: bool,
    started: std::time::Instant,
    body: impl FnOnce(&mut Report) -> crate::error::Result<()>,
) -> crate::error::Result<()> {
    let result = body(report);
    report.duration_seconds = started.elapsed().as_secs_f64();
    if let Err(e) = &result {
        if matches!(
            crate::error::classify(e),
            crate::error::Outcome::QuietSuccess
        ) {
            return result;
        }
        report.fail(e);
        let _ = report.emit(json);
        return result;
    }
    report.emit(json)?;
    result
}
