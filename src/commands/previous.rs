//! Before `sync` trusts its cursor: what became of the runs that moved it without OpenCTI
//! having confirmed their import (pushed, not waited for). `stixBundlePush` answering `true`
//! only means "queued"; a "Reset state" purges the queue, works die or lose pieces
//! (`opencti-async-import.md` §2–§4). Each such run left its work in the state; `work(id)`
//! says what the workers did with it, whatever the management API answers about the queue.

use chrono::{DateTime, Utc};

use super::session::Session;
use crate::opencti::connector::Registered;
use crate::opencti::work;
use crate::state::{State, Unconfirmed};

/// A run still in progress after this long is taken as lost rather than waited for (a work
/// whose pieces the platform dropped without a report never completes).
const STALE_SECS: i64 = 24 * 3600;

#[derive(Debug, PartialEq)]
pub(super) enum Verdict {
    /// Nothing unconfirmed, or every unconfirmed work processed all it was given.
    Confirmed,
    /// OpenCTI lost part of it: start again from where those runs started.
    RollBack {
        from: Option<DateTime<Utc>>,
        why: String,
    },
    /// OpenCTI is still importing it: this run steps aside.
    Defer(String),
    /// Not known yet (this token or release cannot read works, or a work still runs where a
    /// new run is safe): the record is carried on.
    Unknown,
}

/// The connector's reset mark now: the reset stamp (6.7.0+), else the reset flag.
pub(super) fn reset_mark(registered: &Registered) -> String {
    match &registered.state_timestamp {
        Some(stamp) => stamp.clone(),
        None => format!("reset:{}", registered.state_reset),
    }
}

/// `marks`: the session registered, so its reset mark is the platform's (a dry run only
/// reads the state, without the reset flag or stamp).
pub(super) fn check(session: &Session, state: &State, marks: bool) -> Verdict {
    let Some(u) = &state.unconfirmed else {
        return Verdict::Confirmed;
    };
    let roll_back = |why: String| Verdict::RollBack { from: u.from, why };
    let now_mark = reset_mark(&session.registered);
    let reset = marks && u.reset_mark.as_ref().is_some_and(|m| *m != now_mark);
    let readable = session.platform.has("MODULES") && !u.works.is_empty();
    if !readable {
        return match reset {
            true => roll_back(RESET.into()),
            false => Verdict::Unknown,
        };
    }
    let stale = state
        .last_run
        .is_some_and(|r| Utc::now().timestamp() - r > STALE_SECS);
    let mut unknown = false;
    let mut running = None;
    for (id, pushed) in &u.works {
        match work_verdict(session, id, *pushed) {
            Ok(Work::Done) => {}
            Ok(Work::Lost(why)) => return roll_back(why),
            Ok(Work::Running(why)) if reset => return roll_back(format!("{why}; {RESET}")),
            Ok(Work::Running(why)) if stale => {
                return roll_back(format!("{why}, for more than a day"));
            }
            // From 7.260510.0 a new run no longer endangers an older work's queued pieces:
            // the run goes on, and the next one checks that work again.
            Ok(Work::Running(_)) if !session.platform.features.run_needs_empty_queue => {
                unknown = true;
            }
            Ok(Work::Running(why)) => running = running.or(Some(why)),
            Err(e) => {
                log::warn!(
                    "cannot read work {id} of an earlier run: {}",
                    crate::error::render(&e)
                );
                unknown = true;
            }
        }
    }
    match (running, unknown) {
        (Some(why), _) => Verdict::Defer(why),
        (None, true) if reset => roll_back(RESET.into()),
        (None, true) => Verdict::Unknown,
        (None, false) => Verdict::Confirmed,
    }
}

const RESET: &str =
    "OpenCTI's connector state was reset since (\"Reset state\"), which purged its queued bundles";

enum Work {
    Done,
    Lost(String),
    Running(String),
}

/// One work against what was pushed into it. Processed counts failed pieces too: a piece
/// refused for good is no reason to push again; one a new push cures is.
fn work_verdict(session: &Session, id: &str, pushed: u64) -> crate::error::Result<Work> {
    let Some((status, outcome)) = work::status(&session.gql, id)? else {
        return Ok(Work::Lost(format!(
            "work {id} of an earlier run is gone from OpenCTI"
        )));
    };
    if !outcome.transient.is_empty() {
        return Ok(Work::Lost(format!(
            "work {id} of an earlier run has {} object(s) OpenCTI could not import yet (missing reference or lock)",
            outcome.transient.len()
        )));
    }
    let counts = format!("{} of {pushed} object(s) processed", outcome.processed);
    Ok(match status.as_str() {
        _ if outcome.processed >= pushed => Work::Done,
        "complete" | "timeout" => Work::Lost(format!(
            "work {id} of an earlier run is {status} with {counts}: OpenCTI dropped the rest"
        )),
        _ => Work::Running(format!(
            "OpenCTI is still importing an earlier run (work {id}: {status}, {counts})"
        )),
    })
}

/// What the next run must check: this run's work (if any) after what is still unchecked.
pub(super) fn record(
    carried: Option<Unconfirmed>,
    from: Option<DateTime<Utc>>,
    work: Option<(String, u64)>,
    mark: String,
) -> Unconfirmed {
    let this = Unconfirmed {
        from,
        works: work.into_iter().collect(),
        reset_mark: Some(mark),
    };
    match carried {
        Some(older) => older.merged(this),
        None => this,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered(stamp: Option<&str>, reset: bool) -> Registered {
        Registered {
            id: "c".into(),
            state: None,
            state_reset: reset,
            state_timestamp: stamp.map(str::to_owned),
        }
    }

    #[test]
    fn the_reset_mark_is_the_stamp_else_the_flag() {
        assert_eq!(
            reset_mark(&registered(Some("2026-12-06T20:00:00.000Z"), true)),
            "2026-12-06T20:00:00.000Z"
        );
        assert_eq!(reset_mark(&registered(None, false)), "reset:false");
        assert_ne!(
            reset_mark(&registered(None, true)),
            reset_mark(&registered(None, false))
        );
    }

    #[test]
    fn a_record_keeps_the_oldest_start_and_every_work() {
        let t = |s| crate::when::parse_cursor(s);
        let first = record(
            None,
            t("2026-01-01T00:00:00Z"),
            Some(("w1".into(), 5)),
            "m1".into(),
        );
        assert_eq!(first.works, vec![("w1".to_owned(), 5)]);
        let second = record(Some(first), t("2026-02-01T00:00:00Z"), None, "m2".into());
        assert_eq!(second.from, t("2026-01-01T00:00:00Z"));
        assert_eq!(second.works.len(), 1);
        assert_eq!(second.reset_mark.as_deref(), Some("m2"));
    }
}
