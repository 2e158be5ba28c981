//! The OpenCTI side every writing command starts with, opened in one pass by
//! `session::open`; here only what a command adds to it: the store, the queue
//! verdict, and the push and the wait into the run's report.

use std::ops::Deref;
use std::time::Duration;

use crate::bundle::{Importable, Limits};
use crate::config::Config;
use crate::delivery::Pushed;
use crate::error::{Error, Result};
use crate::opencti::connector::Queue;
use crate::opencti::facts::Facts;
use crate::opencti::{Platform, version, work};
use crate::session::{self, Purpose};
use crate::state::Store;
use crate::summary::Report;

pub(super) struct Session<'c>(session::Session<'c>);

impl<'c> Deref for Session<'c> {
    type Target = session::Session<'c>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<'c> Session<'c> {
    /// Probes, checks, registers (or reads the state) once, for `purpose`.
    pub(super) fn open(cfg: &'c Config, purpose: Purpose) -> Result<Self> {
        session::open(cfg, purpose).map(Session)
    }

    /// The connector's state in OpenCTI, as registration returned it.
    pub(super) fn store(&self) -> Store<'_> {
        Store::Opencti {
            gql: &self.gql,
            platform: &self.platform,
            registered: self.registered.clone(),
            name: &self.cfg.connector_name,
            scope: &self.cfg.connector_scope,
        }
    }

    /// The queue, and why this run must not start now (if it must not). `unchecked`: no
    /// earlier run's work was checked (`sync` checks them first), so any queued message of an
    /// earlier run counts — a blind rule, since a failing management API reads as an empty
    /// queue (6.2.12+).
    pub(super) fn queue_verdict(
        &self,
        threshold_mb: Option<f64>,
        unchecked: bool,
    ) -> (Option<Queue>, Option<String>) {
        let queue = self.queue();
        let why = queue.and_then(|q| defer_reason(&self.platform, q, threshold_mb, unchecked));
        (queue, why)
    }

    /// Pushes every chunk; the report shows what went out even when a chunk failed.
    pub(super) fn push<B: Importable>(
        &self,
        staged: (&B, &Facts),
        limits: &Limits,
        report: &mut Report,
    ) -> Result<()> {
        let mut pushed = Pushed::default();
        let result = self.0.push(staged, limits, &mut pushed);
        report.chunks = pushed.chunks;
        report.bytes = pushed.bytes;
        report.set_pushed(pushed.objects);
        report.work_id = pushed.work_id;
        result
    }

    /// Follows the run's work until OpenCTI completes it (`--wait`), into the report.
    pub(super) fn wait(&self, budget: Duration, report: &mut Report) -> Result<work::Outcome> {
        let Some(id) = report.work_id.clone() else {
            return Ok(work::Outcome::default());
        };
        log::info!(
            "waiting up to {} for OpenCTI to import work {id}",
            humantime::format_duration(budget)
        );
        let queue_empty = || self.queue().map(|q| q.messages == 0);
        let outcome = work::follow(
            &self.gql,
            &id,
            budget,
            report.objects_pushed as u64,
            queue_empty,
        )?;
        log::info!(
            "OpenCTI completed work {id}: {} imported, {} failed",
            outcome.imported(),
            outcome.failed()
        );
        for e in outcome.errors.iter().take(work::SHOWN_ERRORS) {
            log::warn!("OpenCTI import error: {e}");
        }
        report.imported = Some(outcome.imported());
        report.import_failed = Some(outcome.failed());
        report.import_errors = outcome
            .errors
            .iter()
            .take(work::SHOWN_ERRORS)
            .cloned()
            .collect();
        Ok(outcome)
    }
}

/// Objects the platform reported as failed: not silent (exit 65, listed), yet not blocking —
/// the caller has already stored the cursor, since pushing them again would fail again.
pub(super) fn import_errors(outcome: &work::Outcome, cursor_moved: bool) -> Result<()> {
    if outcome.errors.is_empty() {
        return Ok(());
    }
    let first: Vec<&str> = outcome
        .errors
        .iter()
        .take(work::SHOWN_ERRORS)
        .map(String::as_str)
        .collect();
    let cursor = if cursor_moved {
        "; the cursor moved past them: fix the cause, then send them again with `fetch --since` piped into `push`"
    } else {
        ""
    };
    Err(Error::BadData(format!(
        "OpenCTI could not import {} object(s) of this run (first: {}){cursor}",
        outcome.failed(),
        first.join(" | ")
    ))
    .into())
}

/// Why a run must wait: a queue above the threshold (as pycti), or — before 7.260510.0 — any
/// queued message at all, since a new work makes the platform drop an older work's queued
/// pieces (`closeOldWorks`, opencti-async-import.md §2).
fn defer_reason(
    platform: &Platform,
    queue: Queue,
    threshold_mb: Option<f64>,
    unchecked: bool,
) -> Option<String> {
    if let Some(threshold) = threshold_mb
        && queue.mb >= threshold
    {
        return Some(format!(
            "OpenCTI's queue for this connector holds {:.1} MB (threshold {threshold} MB)",
            queue.mb
        ));
    }
    if unchecked && platform.features.run_needs_empty_queue && queue.messages > 0 {
        return Some(format!(
            "OpenCTI's queue for this connector still holds {} message(s) of an earlier run, and OpenCTI {} drops them once a newer run reports (fixed in {})",
            queue.messages,
            platform.version_text,
            version::OLD_WORKS_KEPT
        ));
    }
    None
}
