//! `sync`: one full cycle — probe, register, read the cursor, fetch what is newer, prepare,
//! push, store the new cursor — then exit. The cursor moves only after every chunk was
//! accepted (with `--wait`, once OpenCTI completed the run's work), so any failure leaves the
//! stored state exactly as it was.

use std::time::Instant;

use chrono::{DateTime, Utc};

use super::previous::{self, Verdict};
use super::session::Session;
use super::stage;
use crate::bundle::{Limits, Staged};
use crate::cli::SyncArgs;
use crate::config::Config;
use crate::disinfox::{Disinfox, StagedAnswer};
use crate::error::Result;
use crate::opencti::connector::Queue;
use crate::opencti::facts::{FactScan, Facts};
use crate::opencti::{Platform, documents};
use crate::session::Purpose;
use crate::state::{self, FileStore, State, Store};
use crate::summary::{Report, Status, reported};
use crate::when::display;

pub(super) fn run(cfg: &Config, args: &SyncArgs) -> Result<()> {
    let started = Instant::now();
    let started_at = std::time::SystemTime::now();
    let mut report = Report::new("sync");
    let result = reported(&mut report, args.json, started, |report| {
        cycle(cfg, args, report)
    });
    // After the summary: publishing metrics only warns, whatever happens to it.
    crate::metrics::publish(cfg, &report, started_at);
    result
}

fn cycle(cfg: &Config, args: &SyncArgs, report: &mut Report) -> Result<()> {
    // The lock comes first: an overlapping run must stop before it talks to anyone.
    let file = match state::resolve_file(cfg.state_file.as_ref())? {
        Some(path) => Some(FileStore::open(&path)?),
        None => None,
    };
    let limits = stage::limits(cfg)?;
    let source = Disinfox::new(cfg.disinfox()?, &cfg.http, cfg.max_bundle_size)?;
    let wait = args.wait.wait;
    let purpose = match args.dry_run {
        true => Purpose::ReadOnly { wait },
        false => Purpose::Import { wait },
    };
    let session = Session::open(cfg, purpose)?;
    let store = match file {
        Some(f) => Store::File(f),
        None => session.store(),
    };
    let threshold = cfg.queue_threshold_mb;
    let (before, queue, why) = may_start(&session, &store, (threshold, args.dry_run), report)?;
    let queue_mb = queue.map_or(0.0, |q| q.mb);
    if let Some(why) = why {
        let info = connector_info(
            cfg,
            &session.platform,
            Utc::now(),
            queue_mb,
            threshold,
            true,
        );
        return deferred(&why, &store, info, args.dry_run, report);
    }
    report.cursor_before = before.last_fetch.map(display);
    report.cursor_after = report.cursor_before.clone();

    let answer = fetch(&source, &session, before.last_fetch, cfg.disk_limit)?;
    let now = Utc::now();
    let info = connector_info(cfg, &session.platform, now, queue_mb, threshold, false);
    let Some(answer) = answer.filter(|a| !a.staged.is_empty()) else {
        log::info!(
            "DISINFOX has nothing newer than {}",
            crate::when::newer_than(before.last_fetch)
        );
        return finish_quiet(&store, &before, now, info, args.dry_run, report);
    };
    report.disinfox_clock = answer.server_date;
    let (staged, facts) = stage::staged(answer.staged, answer.seen, report);
    let after = State {
        last_fetch: crate::cursor::next(
            before.last_fetch,
            staged.max_modified(),
            answer.server_date,
            cfg.settle,
        ),
        last_run: Some(now.timestamp()),
        unconfirmed: None,
    };
    report.cursor_after = after.last_fetch.map(display);
    if args.dry_run {
        stage::describe_plan(&staged, &limits, report)?;
        log::info!(
            "dry run: would push the above and move the cursor to {}",
            after.describe()
        );
        report.status = Some(Status::DryRun);
        return Ok(());
    }
    import(
        &session,
        &store,
        ((&staged, &facts), &limits),
        wait,
        (&before, after, info),
        report,
    )
}

/// Everything DISINFOX has newer than `since`, staged on disk as it streams in (memory does not
/// grow with the answer), with what the sink must know of its objects for `session`.
fn fetch(
    source: &Disinfox,
    session: &Session,
    since: Option<DateTime<Utc>>,
    disk_limit: Option<u64>,
) -> Result<Option<StagedAnswer<FactScan>>> {
    let fresh = || FactScan::for_platform(Some(&session.platform));
    source.stage(since, disk_limit, (&fresh, FactScan::observe))
}

/// The state this run starts from, the queue, and why the run must step aside (if it must):
/// an earlier run still being imported, or a full queue. The queue count stands in for the
/// work check only where there was no work to check.
fn may_start(
    session: &Session,
    store: &Store,
    (threshold, dry_run): (f64, bool),
    report: &mut Report,
) -> Result<(State, Option<Queue>, Option<String>)> {
    let stored = store.load()?;
    log::info!("state in {}: {}", store.describe(), stored.describe());
    report.cursor_before = stored.last_fetch.map(display);
    report.cursor_after = report.cursor_before.clone();
    let recorded = stored
        .unconfirmed
        .as_ref()
        .is_some_and(|u| !u.works.is_empty());
    let (before, why) = previous_runs(session, stored, !dry_run);
    let checked = recorded && before.unconfirmed.is_none();
    let (queue, defer) = session.queue_verdict(Some(threshold), !checked);
    Ok((before, queue, why.or(defer)))
}

/// What the runs since the last confirmed cursor left (see `previous`): the state this run
/// starts from, and why it must step aside (if it must). Only a record this run could not
/// check stays in the state (to be checked later).
fn previous_runs(session: &Session, stored: State, marks: bool) -> (State, Option<String>) {
    match previous::check(session, &stored, marks) {
        Verdict::Confirmed => (
            State {
                unconfirmed: None,
                ..stored
            },
            None,
        ),
        Verdict::RollBack { from, why } => {
            log::warn!(
                "{why}: the cursor goes back to where that run started ({}), so this run fetches it again",
                crate::when::newer_than(from)
            );
            let state = State {
                last_fetch: from,
                unconfirmed: None,
                ..stored
            };
            (state, None)
        }
        Verdict::Defer(why) => (stored, Some(why)),
        Verdict::Unknown => (stored, None),
    }
}

/// The run steps aside for a full queue: nothing fetched, the cursor stays.
fn deferred(
    why: &str,
    store: &Store,
    info: Option<serde_json::Value>,
    dry_run: bool,
    report: &mut Report,
) -> Result<()> {
    log::warn!("{why}: skipping this run, the next one will retry");
    if !dry_run && let Err(e) = store.ping_unchanged(info) {
        // Only the UI's "buffering" display is lost; the deferral itself stands.
        log::warn!(
            "could not tell OpenCTI the run is deferred: {}",
            crate::error::render(&e)
        );
    }
    report.status = Some(Status::Deferred);
    Ok(())
}

/// Push, wait if asked, then move the cursor: last, and only when everything was accepted.
/// Without `--wait` the state also names this run's work, for the next run to check.
fn import(
    session: &Session,
    store: &Store,
    (staged, limits): ((&Staged, &Facts), &Limits),
    wait: Option<std::time::Duration>,
    (before, mut after, info): (&State, State, Option<serde_json::Value>),
    report: &mut Report,
) -> Result<()> {
    let imported = session
        .push(staged, limits, report)
        .and_then(|()| match wait {
            Some(budget) => session.wait(budget, report),
            None => Ok(Default::default()),
        });
    let outcome = match imported {
        Ok(o) => o,
        Err(e) => {
            report.cursor_after = report.cursor_before.clone();
            return Err(e);
        }
    };
    let retry = retry_point(before, &after, &outcome);
    if let Some(at) = retry {
        after.last_fetch = at;
        report.cursor_after = at.map(display);
    }
    // An earlier record this run could not check stays, waited for or not.
    after.unconfirmed = match wait {
        Some(_) => before.unconfirmed.clone(),
        None => {
            let work = report
                .work_id
                .clone()
                .map(|id| (id, report.objects_pushed as u64));
            let mark = previous::reset_mark(&session.registered);
            Some(previous::record(
                before.unconfirmed.clone(),
                before.last_fetch,
                work,
                mark,
            ))
        }
    };
    if let Err(e) = store.save_run(&after, info) {
        report.cursor_after = report.cursor_before.clone();
        return Err(e);
    }
    report.status = Some(Status::Imported);
    match retry {
        Some(at) if outcome.permanent() == 0 => Err(retry_later(&outcome, at)),
        _ => super::session::import_errors(&outcome, true),
    }
}

/// With `--wait`, objects OpenCTI could not import *yet* (a missing reference whose target
/// was still queued, a lock): the cursor stops just before the earliest of them, so the next
/// run fetches them again (DISINFOX answers what is strictly newer than the cursor). One whose
/// time the error does not carry keeps the cursor where the run started. Never backwards.
fn retry_point(
    before: &State,
    after: &State,
    outcome: &crate::opencti::work::Outcome,
) -> Option<Option<DateTime<Utc>>> {
    if outcome.transient.is_empty() {
        return None;
    }
    let earliest = outcome
        .transient
        .iter()
        .map(|m| m.as_deref().and_then(crate::when::parse_cursor))
        .min_by_key(|t| t.unwrap_or(DateTime::<Utc>::MIN_UTC))
        .flatten();
    let stop = earliest.map(|t| t - chrono::Duration::milliseconds(1));
    let at = match (stop, before.last_fetch) {
        (Some(s), Some(b)) => Some(s.max(b)),
        (Some(s), None) => Some(s),
        (None, b) => b,
    };
    Some(match (at, after.last_fetch) {
        (Some(a), Some(n)) => Some(a.min(n)),
        (a, _) => a,
    })
}

fn retry_later(
    outcome: &crate::opencti::work::Outcome,
    at: Option<DateTime<Utc>>,
) -> anyhow::Error {
    crate::error::Error::Temporary(format!(
        "OpenCTI could not import {} object(s) of this run yet (a missing reference still queued, or a lock); the cursor stops before them ({}), so the next run sends them again",
        outcome.transient.len(),
        crate::when::newer_than(at)
    ))
    .into()
}

/// Nothing new: the cursor stays, `last_run` moves.
fn finish_quiet(
    store: &Store,
    before: &State,
    now: DateTime<Utc>,
    info: Option<serde_json::Value>,
    dry_run: bool,
    report: &mut Report,
) -> Result<()> {
    if dry_run {
        report.status = Some(Status::DryRun);
        return Ok(());
    }
    let after = State {
        last_fetch: before.last_fetch,
        last_run: Some(now.timestamp()),
        unconfirmed: before.unconfirmed.clone(),
    };
    store.save_run(&after, info)?;
    report.status = Some(Status::UpToDate);
    Ok(())
}

fn connector_info(
    cfg: &Config,
    platform: &Platform,
    now: DateTime<Utc>,
    queue_mb: f64,
    threshold: f64,
    buffering: bool,
) -> Option<serde_json::Value> {
    if !platform.features.connector_info {
        return None;
    }
    let next = cfg
        .duration_period
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .and_then(|d| now.checked_add_signed(d))
        .map(display);
    Some(documents::connector_info(
        &display(now),
        next.as_deref(),
        buffering,
        queue_mb,
        threshold,
    ))
}
