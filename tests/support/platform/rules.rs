//! What the platform's asynchronous import does, release by release.
//!
//! Each gate was read in OpenCTI's code: 6.x at the release tags (`G` =
//! `opencti-platform/opencti-graphql/src`, `W` = `opencti-worker/src`), 7.x at the release
//! commits 7.260417.0 bc7c6b917, 7.260422.0 4c7a5ad8a, 7.260423.0 a942acd23, 7.260428.0
//! 8a99a8f46, 7.260507.0 df4db9d44, 7.260510.0 e075337c3; pycti (`P` =
//! `client-python/pycti/utils`) at 7.260510.0.

use super::super::version::Version;

fn v(s: &str) -> Version {
    Version::parse(s).expect("valid version literal")
}

/// What `toProcessed` (`G/domain/work.js`, `updateProcessedTime`) does to a work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToProcessed {
    /// 6.2.6 – 7.260417.0: complete when Elastic's `import_expected_number` is 0 or Redis'
    /// processed `===` expected (`isWorkCompleted`, `G/database/redis.ts`); only the second
    /// case deletes the Redis key.
    Classic,
    /// 7.260422.0 – 7.260423.0: complete when processed ≥ expected, missing counts read as 0
    /// (`redisGetWorkCompletionState`), multi-part too, and then the key is deleted.
    CompleteAtZero,
    /// 7.260428.0+ (2b178064a): a multi-part work is marked processed; nothing completes,
    /// nothing is deleted.
    MarkOnly,
}

/// The rules of one release.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub version: Version,
    /// 6.2.14: the worker splits a multi-object message and re-queues one message per object
    /// (`W/worker.py` at 6.2.14, `split_bundle`). Before: `import_bundle_from_json` imports it
    /// whole, in one worker.
    pub split: bool,
    /// 6.3.0: the split adds its pieces to the work's expectations
    /// (`split_bundle_with_expectations` + `work.add_expectations`, `W/worker.py`).
    pub expectations: bool,
    /// 6.8.7 (813ba74a1): `W/push_handler.py` `handle_message` asks `get_is_work_alive` when
    /// it takes a message and acks a dead work's message without importing it.
    pub alive_at_take: bool,
    /// 6.9.19 and every 7.x (98b274cd8): every worker call carries `opencti-work-id`; a dead
    /// work fails the split (`add_expectations` answers not alive, `handle_message` acks) and
    /// each import (`ERROR_TYPE_WORK_NOT_ALIVE` in `import_item_with_retries`).
    pub alive_every_call: bool,
    pub to_processed: ToProcessed,
    /// 7.260422.0+: `reportExpectation` completes when `(!isMultiPartWork || isProcessed)` and
    /// processed ≥ expected; before, when processed `===` expected.
    pub report_multipart_aware: bool,
    /// ≤ 7.260507.0: `closeOldWorks` (`G/manager/connectorManager.js`) deletes the Redis key
    /// of every older open work; 7.260510.0 (fa4498f26) keeps it.
    pub close_old_deletes_key: bool,
    /// 6.8.0: kill-chain phases need `SETTINGS_SETKILLCHAINPHASES` (before: SETLABELS).
    pub kill_chain_capability: &'static str,
}

impl Rules {
    pub fn for_version(version: Version) -> Rules {
        let to_processed = if version >= v("7.260428.0") {
            ToProcessed::MarkOnly
        } else if version >= v("7.260422.0") {
            ToProcessed::CompleteAtZero
        } else {
            ToProcessed::Classic
        };
        Rules {
            version,
            split: version >= v("6.2.14"),
            expectations: version >= v("6.3.0"),
            alive_at_take: version >= v("6.8.7"),
            alive_every_call: version >= v("6.9.19"),
            to_processed,
            report_multipart_aware: version >= v("7.260422.0"),
            close_old_deletes_key: version < v("7.260510.0"),
            kill_chain_capability: if version >= v("6.8.0") {
                "SETTINGS_SETKILLCHAINPHASES"
            } else {
                "SETTINGS_SETLABELS"
            },
        }
    }
}

/// pycti `PROCESSING_COUNT` (`P/opencti_stix2.py`): a missing reference is retried while the
/// attempt number is below it, 1–3 s apart (`import_item_with_retries`).
pub const PROCESSING_COUNT: u32 = 4;
/// `G/manager/connectorManager.js` `SCHEDULE_TIME`: `connector_manager:interval`, 60 000 ms.
pub const MANAGER_INTERVAL_SECS: f64 = 60.0;
/// `G/domain/work.js` `reportExpectation`: at most 100 errors kept per work.
pub const MAX_WORK_ERRORS: usize = 100;
