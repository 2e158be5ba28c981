//! A run's metrics for Prometheus. A one-shot run ends before anything can scrape it, so its
//! metrics are handed over the two ways Prometheus offers batch jobs: a file for
//! node_exporter's textfile collector, and a Pushgateway. Both are fed from the run's summary
//! after it was emitted, and neither can change the run's exit status: a failure only warns.
//!
//! Counters (`*_total`) and the last-success timestamp outlive one run: each destination reads
//! its own previous values (the previous file; the Pushgateway's group) and carries them on, so
//! a failed run keeps the last success it did not replace.

mod exposition;
pub(crate) mod preflight;
mod pushgateway;
mod textfile;

use std::time::SystemTime;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::summary::{Report, Status};
use exposition::{Family, Kind, Labels, Sample};

pub use exposition::parse;
pub(crate) use exposition::render;

/// The job name every push uses; the connector id groups the runs of one connector.
pub(crate) const JOB: &str = "disinfox-sync";

/// Writes and pushes what the flags and settings ask for; a failure is one warning line.
/// The flags were merged with the settings by `Config::load` (verify's file is only its flag).
pub(crate) fn publish(cfg: &Config, report: &Report, started_at: SystemTime) {
    let file = cfg.metrics.file.as_ref();
    let gateway = cfg.metrics.pushgateway.as_ref();
    if file.is_none() && gateway.is_none() {
        return;
    }
    if report.status == Some(Status::DryRun) {
        log::info!("dry run: metrics neither written nor pushed");
        return;
    }
    let run = Run::new(
        report,
        started_at,
        cfg.connector_id.as_deref().unwrap_or(""),
    );
    if let Some(path) = file {
        match textfile::write(path, &run) {
            Ok(()) => log::debug!("metrics written to {}", path.display()),
            Err(e) => log::warn!(
                "metrics not written to {}: {}",
                path.display(),
                crate::error::render(&e)
            ),
        }
    }
    if let Some(url) = gateway {
        match pushgateway::push(url, &cfg.metrics, &cfg.http, &run) {
            Ok(()) => log::debug!("metrics pushed to {url}"),
            Err(e) => log::warn!(
                "metrics not pushed to the Pushgateway at {url}: {}",
                crate::error::render(&e)
            ),
        }
    }
}

/// What one run contributes, taken from its report.
pub(crate) struct Run<'a> {
    pub report: &'a Report,
    pub connector_id: &'a str,
    pub started: f64,
    pub ended: f64,
    pub exit_status: u8,
    pub retries: u64,
    pub now: DateTime<Utc>,
}

impl<'a> Run<'a> {
    pub(crate) fn new(report: &'a Report, started_at: SystemTime, connector_id: &'a str) -> Self {
        let unix = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0)
        };
        let now = SystemTime::now();
        Run {
            report,
            connector_id,
            started: unix(started_at),
            ended: unix(now),
            exit_status: report.exit_code.unwrap_or(0),
            retries: crate::retry::retries_made(),
            now: DateTime::<Utc>::from(now),
        }
    }

    /// A run that did its job: imported, or found nothing new. A deferred run did not import
    /// (OpenCTI's queue was full), so it does not count as a success here.
    fn succeeded(&self) -> bool {
        matches!(
            self.report.status,
            Some(Status::Imported | Status::UpToDate)
        )
    }

    fn cursor(&self) -> Option<DateTime<Utc>> {
        let text = self.report.cursor_after.as_deref()?;
        DateTime::parse_from_rfc3339(text).ok().map(|d| d.to_utc())
    }
}

/// Statuses a run can end with, as label values (`dry-run` is never published).
const STATUSES: [(Status, &str); 4] = [
    (Status::Imported, "imported"),
    (Status::UpToDate, "up-to-date"),
    (Status::Deferred, "deferred"),
    (Status::Failed, "failed"),
];

/// Previous values of this connector's samples, keyed by name and labels (without the
/// grouping labels).
pub(crate) struct Previous(Vec<Sample>);

impl Previous {
    /// Keeps the samples of `connector_id` (or of none) and drops the grouping labels.
    pub(crate) fn of(samples: Vec<Sample>, connector_id: &str) -> Self {
        let mine = samples
            .into_iter()
            .filter(|(_, l, _)| l.get("connector_id").is_none_or(|c| c == connector_id))
            .map(|(n, mut l, v)| {
                for grouping in ["connector_id", "job", "instance"] {
                    l.remove(grouping);
                }
                (n, l, v)
            })
            .collect();
        Previous(mine)
    }

    fn get(&self, name: &str, labels: &Labels) -> Option<f64> {
        self.0
            .iter()
            .find(|(n, l, _)| n == name && l == labels)
            .map(|(_, _, v)| *v)
    }

    /// Label sets a counter had before (so a STIX type seen once keeps its series).
    fn label_sets(&self, name: &str) -> Vec<Labels> {
        self.0
            .iter()
            .filter(|(n, _, _)| n == name)
            .map(|(_, l, _)| l.clone())
            .collect()
    }
}

fn one(label: &str, value: &str) -> Labels {
    Labels::from([(label.to_owned(), value.to_owned())])
}

fn gauge(name: &'static str, help: &'static str, value: Option<f64>) -> Family {
    Family {
        name,
        help,
        kind: Kind::Gauge,
        samples: value.map(|v| (Labels::new(), v)).into_iter().collect(),
    }
}

/// A counter: its previous value for each label set plus this run's amount.
fn counter(
    name: &'static str,
    help: &'static str,
    previous: &Previous,
    this_run: Vec<(Labels, f64)>,
) -> Family {
    let mut totals: std::collections::BTreeMap<Labels, f64> = previous
        .label_sets(name)
        .into_iter()
        .map(|l| {
            let v = previous.get(name, &l).unwrap_or(0.0);
            (l, v)
        })
        .collect();
    for (labels, amount) in this_run {
        *totals.entry(labels).or_insert(0.0) += amount;
    }
    Family {
        name,
        help,
        kind: Kind::Counter,
        samples: totals.into_iter().collect(),
    }
}

/// Every metric of a run, counters carried on from `previous`.
pub(crate) fn families(run: &Run, previous: &Previous) -> Vec<Family> {
    if run.report.command == "verify" {
        return verify_gauges(run, run.report.verify.as_ref());
    }
    let mut all = gauges(run, previous);
    all.extend(counters(run, previous));
    all
}

fn status_of(run: &Run, s: Status) -> f64 {
    if run.report.status == Some(s) {
        1.0
    } else {
        0.0
    }
}

/// The last run's gauges: when, how long, how it ended, where the cursor is.
fn gauges(run: &Run, previous: &Previous) -> Vec<Family> {
    let r = run.report;
    let last_success = if run.succeeded() {
        Some(run.ended)
    } else {
        previous.get(
            "disinfox_sync_last_success_timestamp_seconds",
            &Labels::new(),
        )
    };
    let cursor = run.cursor();
    // DISINFOX's clock when this run asked it; the local clock otherwise (a deferred run).
    let reference = r.disinfox_clock.unwrap_or(run.now);
    let lag = cursor.map(|c| (reference - c).num_milliseconds() as f64 / 1000.0);
    let status_of = |s: Status| status_of(run, s);
    vec![
        gauge(
            "disinfox_sync_run_start_timestamp_seconds",
            "Unix time the last run started.",
            Some(run.started),
        ),
        gauge(
            "disinfox_sync_run_end_timestamp_seconds",
            "Unix time the last run ended.",
            Some(run.ended),
        ),
        gauge(
            "disinfox_sync_run_duration_seconds",
            "How long the last run took.",
            Some(r.duration_seconds),
        ),
        gauge(
            "disinfox_sync_last_success_timestamp_seconds",
            "Unix time of the last run that imported or found nothing new.",
            last_success,
        ),
        gauge(
            "disinfox_sync_exit_status",
            "Exit status of the last run (0 success, 75 temporary failure; see the exit table).",
            Some(f64::from(run.exit_status)),
        ),
        Family {
            name: "disinfox_sync_run_status",
            help: "1 for the status the last run ended with, 0 for the others.",
            kind: Kind::Gauge,
            samples: STATUSES
                .iter()
                .map(|(s, l)| (one("status", l), status_of(*s)))
                .collect(),
        },
        gauge(
            "disinfox_sync_cursor_timestamp_seconds",
            "Unix time of the stored cursor after the last run (absent before the first import).",
            cursor.map(|c| c.timestamp_millis() as f64 / 1000.0),
        ),
        gauge(
            "disinfox_sync_cursor_lag_seconds",
            "How far the cursor is behind DISINFOX's clock after the last run.",
            lag,
        ),
    ]
}

/// `verify`'s gauges: what its last run checked and found missing (by type; 0 when complete;
/// absent when the run failed before it could tell).
fn verify_gauges(run: &Run, counts: Option<&crate::summary::VerifyCounts>) -> Vec<Family> {
    let mut missing: Vec<(Labels, f64)> = counts
        .into_iter()
        .flat_map(|c| c.missing.iter())
        .map(|(t, n)| (one("type", t), *n as f64))
        .collect();
    if missing.is_empty() && counts.is_some() {
        missing.push((Labels::new(), 0.0));
    }
    vec![
        Family {
            name: "disinfox_sync_verify_missing",
            help: "Objects DISINFOX serves that OpenCTI did not hold at the end of the last verify, by STIX type.",
            kind: Kind::Gauge,
            samples: missing,
        },
        gauge(
            "disinfox_sync_verify_checked",
            "Objects the last verify looked up in OpenCTI.",
            counts.map(|c| c.checked as f64),
        ),
        gauge(
            "disinfox_sync_verify_end_timestamp_seconds",
            "Unix time the last verify ended.",
            Some(run.ended),
        ),
        gauge(
            "disinfox_sync_verify_exit_status",
            "Exit status of the last verify (0 complete, 1 objects missing; see the exit table).",
            Some(f64::from(run.exit_status)),
        ),
    ]
}

/// The counters, carried on from `previous`.
fn counters(run: &Run, previous: &Previous) -> Vec<Family> {
    let r = run.report;
    let imported = r.status == Some(Status::Imported);
    let objects: Vec<(Labels, f64)> = if imported {
        r.objects
            .iter()
            .map(|(t, n)| (one("type", t), *n as f64))
            .collect()
    } else {
        Vec::new()
    };
    let status_of = |s: Status| status_of(run, s);
    vec![
        counter(
            "disinfox_sync_runs_total",
            "Runs, by how they ended.",
            previous,
            STATUSES
                .iter()
                .map(|(s, l)| (one("status", l), status_of(*s)))
                .collect(),
        ),
        counter(
            "disinfox_sync_objects_pushed_total",
            "STIX objects OpenCTI accepted, by STIX type (counted when a run imported them all).",
            previous,
            objects,
        ),
        counter(
            "disinfox_sync_pushed_bytes_total",
            "Bytes of bundles OpenCTI accepted (JSON-escaped, as sent).",
            previous,
            vec![(Labels::new(), r.bytes as f64)],
        ),
        counter(
            "disinfox_sync_chunks_pushed_total",
            "Bundle chunks OpenCTI accepted (one stixBundlePush each).",
            previous,
            vec![(Labels::new(), r.chunks as f64)],
        ),
        counter(
            "disinfox_sync_retries_total",
            "HTTP requests retried after a temporary failure, to either peer.",
            previous,
            vec![(Labels::new(), run.retries as f64)],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_of(report: &Report) -> Run<'_> {
        Run {
            report,
            connector_id: "c",
            started: 100.0,
            ended: 200.0,
            exit_status: report.exit_code.unwrap_or(0),
            retries: 2,
            now: DateTime::from_timestamp(1000, 0).unwrap(),
        }
    }

    fn value(families: &[Family], name: &str, labels: &Labels) -> Option<f64> {
        families
            .iter()
            .find(|f| f.name == name)?
            .samples
            .iter()
            .find(|(l, _)| l == labels)
            .map(|(_, v)| *v)
    }

    #[test]
    fn a_deferred_run_keeps_the_last_success_and_adds_to_the_counters() {
        let mut report = Report::new("sync");
        report.status = Some(Status::Deferred);
        report.cursor_after = Some("1970-01-01T00:10:00Z".into());
        let previous = Previous::of(
            parse(
                "disinfox_sync_last_success_timestamp_seconds{connector_id=\"c\"} 50\n\
                 disinfox_sync_runs_total{connector_id=\"c\",status=\"deferred\"} 4\n\
                 disinfox_sync_objects_pushed_total{connector_id=\"c\",type=\"location\"} 7\n\
                 disinfox_sync_retries_total{connector_id=\"other\"} 99\n",
            ),
            "c",
        );
        let f = families(&run_of(&report), &previous);
        let none = Labels::new();
        assert_eq!(
            value(&f, "disinfox_sync_last_success_timestamp_seconds", &none),
            Some(50.0)
        );
        let deferred = one("status", "deferred");
        assert_eq!(value(&f, "disinfox_sync_runs_total", &deferred), Some(5.0));
        assert_eq!(value(&f, "disinfox_sync_run_status", &deferred), Some(1.0));
        assert_eq!(
            value(
                &f,
                "disinfox_sync_objects_pushed_total",
                &one("type", "location")
            ),
            Some(7.0),
            "a type seen before keeps its series"
        );
        // Another connector's samples are not ours to carry.
        assert_eq!(value(&f, "disinfox_sync_retries_total", &none), Some(2.0));
        // No DISINFOX clock in a deferred run: the lag is measured against the local clock.
        assert_eq!(
            value(&f, "disinfox_sync_cursor_lag_seconds", &none),
            Some(400.0)
        );
    }

    #[test]
    fn an_import_sets_the_last_success_and_counts_objects_by_type() {
        let mut report = Report::new("sync");
        report.status = Some(Status::Imported);
        report.objects = [("intrusion-set".to_owned(), 3)].into();
        report.chunks = 1;
        report.bytes = 123;
        let f = families(&run_of(&report), &Previous(Vec::new()));
        let none = Labels::new();
        assert_eq!(
            value(&f, "disinfox_sync_last_success_timestamp_seconds", &none),
            Some(200.0)
        );
        assert_eq!(
            value(
                &f,
                "disinfox_sync_objects_pushed_total",
                &one("type", "intrusion-set")
            ),
            Some(3.0)
        );
        assert_eq!(
            value(&f, "disinfox_sync_pushed_bytes_total", &none),
            Some(123.0)
        );
        assert_eq!(
            value(&f, "disinfox_sync_cursor_timestamp_seconds", &none),
            None
        );
    }
}
