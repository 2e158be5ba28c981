//! OpenCTI release numbers and the features each one has. Versions come as `6.x.y`,
//! `7.YYMMDD.N` and `7.YYMMDD.N-ltsN`; the date-minor keeps tuple order equal to release order.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u64, pub u64, pub u64);

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        let core = text.trim().trim_start_matches('v');
        let core = core.split(['-', '+']).next()?;
        let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
        let major = parts.next()??;
        let minor = parts.next().unwrap_or(Some(0))?;
        let patch = parts.next().unwrap_or(Some(0))?;
        Some(Version(major, minor, patch))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// First release with HTTP bundle ingestion (`stixBundlePush`).
pub(crate) const MIN_SUPPORTED: Version = Version(6, 2, 6);
pub(crate) const QUEUE_DETAILS: Version = Version(6, 2, 0);
pub const CONNECTOR_INFO: Version = Version(6, 2, 12);
pub(crate) const WORK_ID: Version = Version(6, 5, 7);
/// `MeUser.draftContext`: the draft a user works in, which its imports then go to
/// (`config/schema/opencti.graphql` and `resolvers/user.js` at tag 6.4.0; behind the
/// `DRAFT_WORKSPACE` feature flag until 6.6.0, when the field answers null).
pub(crate) const DRAFT_CONTEXT: Version = Version(6, 4, 0);
/// `Connector.connector_state_timestamp`, stamped by every UI reset.
pub(crate) const STATE_TIMESTAMP: Version = Version(6, 7, 0);
/// Kill-chain phases need their own capability from here; before, `SETTINGS_SETLABELS`.
pub(crate) const KILL_CHAIN_CAPABILITY: Version = Version(6, 8, 0);
pub(crate) const MULTIPART_WORK: Version = Version(7, 260422, 0);
/// `toProcessed` on a multi-part work only marks it processed: it no longer completes or
/// deletes a work whose pieces are still queued (opencti-async-import.md §2, 2b178064a).
pub(crate) const SAFE_TO_PROCESSED: Version = Version(7, 260428, 0);
/// The connector manager's `closeOldWorks` keeps older works alive (fa4498f26): a new run no
/// longer makes the workers drop the previous run's queued pieces.
pub(crate) const OLD_WORKS_KEPT: Version = Version(7, 260510, 0);

/// How a run's work is opened and closed on one release. Every rule comes from
/// `opencti-async-import.md` §2–§3: the worker drops the queued pieces of a work whose Redis
/// key is gone (6.8.7+), and `toProcessed` deletes that key on most releases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WorkPolicy {
    /// Before 6.5.7 a push cannot name a work: the server makes one per push. No work of ours.
    ServerMade,
    /// 6.5.7 – 7.260417.x: one work per run, completed by the workers' `reportExpectation`.
    /// A success `toProcessed` would delete the key while pieces are still queued (§2), so
    /// none is sent; a failure is recorded with `toProcessed(inError)` — the cursor does not
    /// move, so whatever the platform then drops is pushed again by the next run.
    NoSuccessClose,
    /// 7.260422.0 – 7.260423.x: `toProcessed` completes at 0 ≥ 0 and deletes the work before
    /// the worker has split anything, multi-part or not (§2). No `toProcessed` after a push,
    /// success or failure; a failure before any push may still be recorded.
    NeverCloseAfterPush,
    /// 7.260428.0+: `workAdd(isMultiPartWork: true)` and one final `toProcessed`, which
    /// only marks the work processed; it completes once every piece has reported.
    Multipart,
    /// Over AMQP, on every release (as pycti): a plain work with every message expected before
    /// the first is published, so one final `toProcessed` cannot complete (or delete) it before
    /// the workers reported every message.
    CountedUpFront,
}

impl WorkPolicy {
    /// The policy a run follows: the release's over the API, pycti's over AMQP.
    pub(crate) fn for_transport(features: &Features, over_amqp: bool) -> WorkPolicy {
        match over_amqp {
            true => WorkPolicy::CountedUpFront,
            false => features.work_policy,
        }
    }

    /// Whether the run opens a work of its own.
    pub(crate) fn own_work(self) -> bool {
        self != WorkPolicy::ServerMade
    }

    /// Whether that work is multi-part: only where its final `toProcessed` is sent, since a
    /// multi-part work completes only after one.
    pub(crate) fn multipart(self) -> bool {
        self == WorkPolicy::Multipart
    }

    /// Whether a one-object chunk needs `addExpectations(work, 1)` before its push: a message
    /// with a client-given work gets no expectation of its own. `sendStixBundle` adds one only
    /// to a work it made itself (`opencti-graphql/src/domain/stix.js`, 6.9.8 lines 69–76), and
    /// the worker adds expectations only when it splits, which it skips for one object
    /// (`opencti-worker/src/push_handler.py`, 6.9.8 line 108, `len(content["objects"]) == 1`;
    /// unchanged in 7.260510.0). Without it `processed === expected` never holds and the work
    /// never completes.
    pub(crate) fn expect_single_objects(self) -> bool {
        self.own_work() && !self.counted_up_front()
    }

    /// Whether every message is expected when the work opens (`addExpectations` with them all).
    pub(crate) fn counted_up_front(self) -> bool {
        self == WorkPolicy::CountedUpFront
    }

    /// Whether the run ends with `toProcessed` (`failed`: with `inError`; `pushed`: a push
    /// was sent, answered or not — a push that timed out may still have been queued).
    pub(crate) fn to_processed(self, failed: bool, pushed: bool) -> bool {
        match self {
            WorkPolicy::ServerMade => false,
            WorkPolicy::NoSuccessClose => failed,
            WorkPolicy::NeverCloseAfterPush => failed && !pushed,
            WorkPolicy::Multipart | WorkPolicy::CountedUpFront => true,
        }
    }
}

/// What the client may send to a given release. Every optional argument and every
/// release-dependent behaviour is gated here and nowhere else, so no document ever carries a
/// field the server does not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Features {
    pub bundle_push: bool,
    pub queue_details: bool,
    pub connector_info: bool,
    pub work_id: bool,
    pub multipart_work: bool,
    pub state_timestamp: bool,
    pub work_policy: WorkPolicy,
    /// Before 7.260510.0 a new work endangers the previous run's queued pieces
    /// (`closeOldWorks` deletes older works' keys): wait for an empty queue before a run.
    pub run_needs_empty_queue: bool,
    /// The capability kill-chain phases need (`SETTINGS_SETLABELS` before 6.8.0).
    pub kill_chain_capability: &'static str,
}

impl Features {
    pub(crate) fn of(v: Version) -> Features {
        let work_policy = if v < WORK_ID {
            WorkPolicy::ServerMade
        } else if v < MULTIPART_WORK {
            WorkPolicy::NoSuccessClose
        } else if v < SAFE_TO_PROCESSED {
            WorkPolicy::NeverCloseAfterPush
        } else {
            WorkPolicy::Multipart
        };
        Features {
            bundle_push: v >= MIN_SUPPORTED,
            queue_details: v >= QUEUE_DETAILS,
            connector_info: v >= CONNECTOR_INFO,
            work_id: v >= WORK_ID,
            multipart_work: v >= MULTIPART_WORK,
            state_timestamp: v >= STATE_TIMESTAMP,
            work_policy,
            run_needs_empty_queue: v < OLD_WORKS_KEPT,
            kill_chain_capability: if v >= KILL_CHAIN_CAPABILITY {
                "SETTINGS_SETKILLCHAINPHASES"
            } else {
                "SETTINGS_SETLABELS"
            },
        }
    }

    /// Works exist for this client (it can name one in its pushes and follow it).
    pub(crate) fn has_works(&self) -> bool {
        self.work_policy.own_work()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_scheme() {
        assert_eq!(Version::parse("6.9.17"), Some(Version(6, 9, 17)));
        assert_eq!(Version::parse("7.260510.0"), Some(Version(7, 260510, 0)));
        assert_eq!(
            Version::parse("7.260309.0-lts1"),
            Some(Version(7, 260309, 0))
        );
        assert_eq!(Version::parse("garbage"), None);
    }

    #[test]
    fn gates() {
        let f = |s| Features::of(Version::parse(s).unwrap());
        assert!(!f("6.2.5").bundle_push);
        assert!(f("6.2.6").bundle_push && !f("6.2.6").connector_info);
        assert!(f("6.2.12").connector_info && !f("6.2.12").work_id);
        assert!(f("6.5.7").work_id && !f("6.9.17").multipart_work);
        assert!(f("7.260422.0").multipart_work);
        assert!(f("7.260422.0").state_timestamp && !f("6.5.7").state_timestamp);
    }

    #[test]
    fn work_policy_per_release() {
        let p = |s| Features::of(Version::parse(s).unwrap()).work_policy;
        assert_eq!(p("6.2.12"), WorkPolicy::ServerMade);
        assert_eq!(p("6.5.7"), WorkPolicy::NoSuccessClose);
        assert_eq!(p("7.260417.0"), WorkPolicy::NoSuccessClose);
        assert_eq!(p("7.260422.0"), WorkPolicy::NeverCloseAfterPush);
        assert_eq!(p("7.260423.0"), WorkPolicy::NeverCloseAfterPush);
        assert_eq!(p("7.260428.0"), WorkPolicy::Multipart);
        // (failed, pushed) → toProcessed sent?
        let sent = |policy: WorkPolicy| {
            [(false, true), (true, false), (true, true)].map(|(f, p)| policy.to_processed(f, p))
        };
        assert_eq!(sent(WorkPolicy::ServerMade), [false, false, false]);
        assert_eq!(sent(WorkPolicy::NoSuccessClose), [false, true, true]);
        assert_eq!(sent(WorkPolicy::NeverCloseAfterPush), [false, true, false]);
        assert_eq!(sent(WorkPolicy::Multipart), [true, true, true]);
        assert!(!WorkPolicy::ServerMade.expect_single_objects());
        assert!(WorkPolicy::NoSuccessClose.expect_single_objects());
        assert!(WorkPolicy::Multipart.expect_single_objects());
        let q = |s| Features::of(Version::parse(s).unwrap()).run_needs_empty_queue;
        assert!(q("6.9.17") && q("7.260507.0") && !q("7.260510.0"));
        let k = |s| Features::of(Version::parse(s).unwrap()).kill_chain_capability;
        assert_eq!(k("6.7.5"), "SETTINGS_SETLABELS");
        assert_eq!(k("6.8.0"), "SETTINGS_SETKILLCHAINPHASES");
        assert!(Version(7, 260224, 0) > Version(6, 9, 22));
    }

    #[test]
    fn over_amqp_every_release_counts_up_front_and_closes() {
        for v in [Version(6, 0, 0), Version(6, 5, 7), Version(7, 260422, 0)] {
            let p = WorkPolicy::for_transport(&Features::of(v), true);
            assert_eq!(p, WorkPolicy::CountedUpFront);
            assert!(p.own_work() && p.counted_up_front());
            assert!(!p.multipart() && !p.expect_single_objects());
            assert!(p.to_processed(false, true) && p.to_processed(true, true));
            let api = WorkPolicy::for_transport(&Features::of(v), false);
            assert_eq!(api, Features::of(v).work_policy);
        }
    }
}
