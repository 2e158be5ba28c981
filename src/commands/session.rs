//! The OpenCTI side every writing command starts with: probe (version gates, capability),
//! then register — which is also how a connector reads its stored state.

use std::time::Duration;

use crate::amqp;
use crate::bundle::{Limits, Prepared};
use crate::config::{Config, QueueProtocol};
use crate::error::{Error, Result};
use crate::opencti::access::Access;
use crate::opencti::connector::{self, Queue, Registered};
use crate::opencti::push::{self, Pushed, Target};
use crate::opencti::{Graphql, Platform, capabilities, version, work};
use crate::state::Store;
use crate::summary::Report;

pub(super) struct Session<'c> {
    pub gql: Graphql,
    pub platform: Platform,
    /// The connector as OpenCTI stores it (its `id` names it in every later call).
    pub registered: Registered,
    /// The broker, when bundles go over AMQP.
    pub broker: Option<amqp::Endpoint>,
    /// What the token's user may import into (markings, draft): read by the commands that push.
    pub access: Access,
    /// `--wait` was given: a push must leave a work to follow.
    needs_work: bool,
    cfg: &'c Config,
}

impl<'c> Session<'c> {
    /// For commands that only read or write the state (the broker is not needed).
    pub(super) fn open(cfg: &'c Config) -> Result<Self> {
        let gql = Graphql::new(cfg)?;
        let platform = connector::probe_for_import(&gql, over_amqp(cfg))?;
        let registered = connector::register(
            &gql,
            &platform,
            configured_id(cfg)?,
            &cfg.connector_name,
            &cfg.connector_scope,
        )?;
        Ok(Session {
            gql,
            platform,
            registered,
            broker: None,
            access: Access::default(),
            needs_work: false,
            cfg,
        })
    }

    /// For commands that push: the token's user must be able to import what the workers
    /// take from the queue, and `--wait` must be able to follow the run's work. Over AMQP the
    /// registration also returns the broker and the route to publish on.
    pub(super) fn open_for_import(cfg: &'c Config, wait: Option<Duration>) -> Result<Self> {
        let (gql, platform) = Self::probe_for_import(cfg, wait)?;
        let access = Access::for_import(&gql, &platform)?;
        let id = configured_id(cfg)?;
        let (registered, broker) = if over_amqp(cfg) {
            let (r, b) = amqp::register(
                &gql,
                &platform,
                id,
                &cfg.connector_name,
                &cfg.connector_scope,
                &cfg.mq,
            )?;
            (r, Some(b))
        } else {
            let r = connector::register(
                &gql,
                &platform,
                id,
                &cfg.connector_name,
                &cfg.connector_scope,
            )?;
            (r, None)
        };
        Ok(Session {
            gql,
            platform,
            registered,
            broker,
            access,
            needs_work: wait.is_some(),
            cfg,
        })
    }

    fn probe_for_import(cfg: &Config, wait: Option<Duration>) -> Result<(Graphql, Platform)> {
        let gql = Graphql::new(cfg)?;
        let platform = connector::probe_for_import(&gql, over_amqp(cfg))?;
        capabilities::require_worker_import(&platform)?;
        if wait.is_some() {
            require_wait(&platform, over_amqp(cfg))?;
        }
        Ok((gql, platform))
    }

    /// As `open_for_import`, with read-only probes only: the state is read, the connector is
    /// not registered (`sync --dry-run` changes nothing). A dry run pushes nothing, so the
    /// broker is neither asked for nor contacted.
    pub(super) fn open_read_only(cfg: &'c Config, wait: Option<Duration>) -> Result<Self> {
        let (gql, platform) = Self::probe_for_import(cfg, wait)?;
        let access = Access::for_import(&gql, &platform)?;
        let registered = connector::read_state(&gql, configured_id(cfg)?)?;
        Ok(Session {
            gql,
            platform,
            registered,
            broker: None,
            access,
            needs_work: false,
            cfg,
        })
    }

    pub(super) fn connector_id(&self) -> &str {
        &self.registered.id
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
        let queue = connector::queue(&self.gql, &self.platform, self.connector_id());
        let why = queue.and_then(|q| defer_reason(&self.platform, q, threshold_mb, unchecked));
        (queue, why)
    }

    /// Pushes every chunk; the report shows what went out even when a chunk failed. Refuses
    /// first (78) a bundle whose markings the token's user may not use.
    pub(super) fn push(
        &self,
        prepared: &Prepared,
        limits: &Limits,
        report: &mut Report,
    ) -> Result<()> {
        self.access.require_markings(&self.gql, prepared)?;
        capabilities::warn_missing(&self.platform, prepared);
        let target = Target {
            gql: &self.gql,
            platform: &self.platform,
            connector_id: self.connector_id(),
            connector_name: &self.cfg.connector_name,
        };
        let mut pushed = Pushed::default();
        let result = match &self.broker {
            Some(endpoint) => amqp::push(
                &amqp::Target {
                    gql: &self.gql,
                    connector_id: self.connector_id(),
                    connector_name: &self.cfg.connector_name,
                    endpoint,
                    cfg: self.cfg,
                    needs_work: self.needs_work,
                },
                prepared,
                &mut pushed,
            ),
            None => push::push(&target, prepared, limits, &mut pushed),
        };
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
        let queue_empty = || {
            connector::queue(&self.gql, &self.platform, self.connector_id())
                .map(|q| q.messages == 0)
        };
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

/// Over AMQP the run opens its own work on every release (as pycti does), so only reading it
/// needs a capability; over the API a push can name a work from 6.5.7.
fn require_wait(platform: &Platform, over_amqp: bool) -> Result<()> {
    if !over_amqp && !platform.features.has_works() {
        return Err(Error::Unavailable(format!(
            "--wait follows the run's work in OpenCTI, which OpenCTI {} cannot name in a push (needs {}): drop --wait, upgrade OpenCTI, or push over its broker (CONNECTOR_QUEUE_PROTOCOL=amqp), which opens a work on every release",
            platform.version_text,
            version::WORK_ID
        ))
        .into());
    }
    if !platform.has("MODULES") {
        return Err(Error::Permission(format!(
            "--wait reads the run's work, which needs the MODULES capability; the token's user '{}' lacks it: give it the \"Connector\" role, or drop --wait",
            platform.user_name
        ))
        .into());
    }
    Ok(())
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

fn over_amqp(cfg: &Config) -> bool {
    cfg.queue_protocol == QueueProtocol::Amqp
}

fn configured_id(cfg: &Config) -> Result<&str> {
    Ok(cfg
        .connector_id
        .as_deref()
        .ok_or_else(|| Error::Config("missing CONNECTOR_ID".into()))?)
}
