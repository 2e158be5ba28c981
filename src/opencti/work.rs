//! A run's work: opened and closed per `WorkPolicy` for both transports (`RunWork`), then
//! followed until OpenCTI reports it complete (`--wait`): `stixBundlePush` answering `true`
//! only means "queued"; the work says what the workers then imported.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::documents as doc;
use super::graphql::Graphql;
use super::version::WorkPolicy;
use crate::error::{Error, Result};

/// The errors shown in logs and summaries; OpenCTI itself keeps at most 100 per work.
pub(crate) const SHOWN_ERRORS: usize = 5;

/// A completed work as OpenCTI reports it.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Outcome {
    pub expected: u64,
    pub processed: u64,
    /// Every error the work recorded (one per failed piece).
    pub errors: Vec<String>,
    /// The failures a later try can cure (see [`transient`]), by the failed object's
    /// `modified` (`None` when the error does not carry the object).
    pub transient: Vec<Option<String>>,
}

impl Outcome {
    pub(crate) fn failed(&self) -> u64 {
        self.errors.len() as u64
    }

    pub(crate) fn imported(&self) -> u64 {
        self.processed.saturating_sub(self.failed())
    }

    /// Failures OpenCTI will refuse again (a retry cannot help).
    pub(crate) fn permanent(&self) -> u64 {
        self.failed().saturating_sub(self.transient.len() as u64)
    }
}

/// Who runs the work, and by which policy (`WorkPolicy::for_transport`): the one place a
/// run's work is opened and closed, whichever transport carries the objects.
pub(crate) struct RunWork<'a> {
    pub gql: &'a Graphql,
    pub connector_id: &'a str,
    pub connector_name: &'a str,
    pub policy: WorkPolicy,
    /// `--wait` follows the work: running without one would leave nothing to follow.
    pub needs_work: bool,
}

impl RunWork<'_> {
    /// The run's work, where the policy gives it one; with `CountedUpFront` every one of the
    /// `expected` messages is expected before the first is sent. Before 6.1.0 works need the
    /// import capabilities, which a user with only CONNECTORAPI lacks: over AMQP the messages
    /// then go without a work, as pycti sends them when it has none (those releases drop
    /// nothing for a missing work). With `--wait` the refusal stands (exit 77, nothing sent).
    pub(crate) fn open(&self, expected: usize) -> Result<Option<String>> {
        // Before 6.5.7 a push cannot name a work: the server makes one per push, and a work of
        // our own would stay empty.
        if !self.policy.own_work() {
            return Ok(None);
        }
        match self.add(expected) {
            Ok(id) => Ok(Some(id)),
            Err(e)
                if self.policy.counted_up_front()
                    && !self.needs_work
                    && matches!(e.downcast_ref::<Error>(), Some(Error::Permission(_))) =>
            {
                log::warn!(
                    "OpenCTI refused to open a work ({}); publishing without one, so the platform will not track this run",
                    crate::error::render(&e)
                );
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn add(&self, expected: usize) -> Result<String> {
        let name = format!(
            "{} run @ {}",
            self.connector_name,
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        // Multi-part only where the final toProcessed is safe: on 7.260422.0–7.260423.x a
        // multi-part work would wait for a toProcessed that must not be sent.
        let data = if self.policy.multipart() {
            self.gql.run(
                &doc::WORK_ADD_MULTIPART,
                json!({ "connectorId": self.connector_id, "friendlyName": name, "isMultiPartWork": true }),
            )?
        } else {
            self.gql.run(
                &doc::WORK_ADD,
                json!({ "connectorId": self.connector_id, "friendlyName": name }),
            )?
        };
        let id = data
            .pointer("/workAdd/id")
            .and_then(|v| v.as_str())
            .ok_or_else(|| Error::Protocol("OpenCTI answered workAdd without a work id".into()))?
            .to_owned();
        if self.policy.counted_up_front() {
            self.expect(&id, expected)?;
            log::debug!("work {id} opened, expecting {expected} messages");
        } else {
            log::debug!("work {id} opened");
        }
        Ok(id)
    }

    /// `addExpectations`: pieces the platform will not count by itself.
    pub(crate) fn expect(&self, id: &str, expectations: usize) -> Result<()> {
        self.gql.run(
            &doc::ADD_EXPECTATIONS,
            json!({ "id": id, "expectations": expectations }),
        )?;
        Ok(())
    }

    /// The one `toProcessed` a run may send, per policy (`attempted`: something was sent,
    /// answered or not; `done`: the work's message on success). A failure to close only warns:
    /// the import's own outcome matters more than the bookkeeping.
    pub(crate) fn close(&self, id: &str, result: &Result<()>, attempted: bool, done: String) {
        let policy = self.policy;
        if !policy.to_processed(result.is_err(), attempted) {
            log::debug!(
                "work {id} left to the platform's workers ({policy:?}: closing it now could make OpenCTI drop queued pieces)"
            );
            return;
        }
        let (message, in_error) = match result {
            Ok(()) => (done, false),
            Err(e) => (format!("run failed: {}", crate::error::render(e)), true),
        };
        let sent = self.gql.run(
            &doc::WORK_DONE,
            json!({ "id": id, "message": message, "inError": in_error }),
        );
        if let Err(close) = sent {
            log::warn!(
                "could not close work {id}: {}",
                crate::error::render(&close)
            );
        }
    }
}

/// A work as a later run finds it: `None` when OpenCTI no longer knows it.
pub(crate) fn status(gql: &Graphql, id: &str) -> Result<Option<(String, Outcome)>> {
    let data = gql.run(&doc::WORK_STATUS, json!({ "id": id }))?;
    Ok(data.get("work").filter(|w| !w.is_null()).map(|work| {
        let status = work.get("status").and_then(Value::as_str).unwrap_or("");
        (status.to_owned(), read(work))
    }))
}

/// Whether a work error is one a later push cures. pycti's worker (`import_item_with_retries`,
/// `client-python/pycti/utils/opencti_stix2.py`, 6.9.8) reports a missing reference after its
/// 4 tries (`PROCESSING_COUNT`) — the target may still be queued behind it — and a lock error
/// after `MAX_PROCESSING_COUNT` (100) tries as "Max number of retries reached"; both with the
/// object as `source`. A missing *marking* is refused on every try, for good (the user cannot
/// see it), so it is not transient.
pub(crate) fn transient(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    (m.contains("missing_reference")
        || m.contains("lock_error")
        || m.contains("max number of retries"))
        && !m.contains("missing markings")
}

/// Polls `work(id)` with a growing interval until it is done, or fails with a temporary error
/// once `budget` is spent. `pieces` is the number of objects pushed (copies included): the
/// workers split each chunk into one piece per object, and a work can report `complete` while
/// a later chunk still waits to be split (processed == expected for the chunks split so far).
/// So a work is done once it expects at least that many pieces and processed them all,
/// whatever its status; a complete work expecting fewer (should a platform count fewer) is
/// done once `queue_empty` says nothing of the connector is queued any more.
pub(crate) fn follow(
    gql: &Graphql,
    id: &str,
    budget: Duration,
    pieces: u64,
    queue_empty: impl Fn() -> Option<bool>,
) -> Result<Outcome> {
    let deadline = Instant::now() + budget;
    let mut pause = Duration::from_millis(250);
    loop {
        let data = gql.run(&doc::WORK_STATUS, json!({ "id": id }))?;
        let work = data.get("work").filter(|w| !w.is_null()).ok_or_else(|| {
            Error::Temporary(format!(
                "OpenCTI no longer knows work {id}; the import could not be confirmed, so the cursor stays"
            ))
        })?;
        let status = work.get("status").and_then(Value::as_str).unwrap_or("");
        let outcome = read(work);
        let all_processed = outcome.processed >= outcome.expected;
        match status {
            "complete"
                if all_processed && (outcome.expected >= pieces || queue_empty() == Some(true)) =>
            {
                return Ok(outcome);
            }
            // 7.260428.0+: a multi-part work completes only when a piece reports after the
            // run's toProcessed; when every piece reported first it stays in progress until the
            // connector manager closes it. Every pushed piece processed is done all the same.
            "wait" | "progress" if all_processed && outcome.expected >= pieces => {
                return Ok(outcome);
            }
            "timeout" => {
                return Err(Error::Temporary(format!(
                    "OpenCTI gave up on work {id} (status timeout) after {} of {} piece(s); the cursor stays",
                    outcome.processed, outcome.expected
                ))
                .into());
            }
            _ => {}
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let status = match status {
                "complete" => "complete with pieces still queued",
                other => other,
            };
            return Err(Error::Temporary(format!(
                "work {id} is still {status} after {} ({} of {} piece(s) processed); the cursor stays, the next run pushes again — raise --wait if imports take longer",
                humantime::format_duration(budget),
                outcome.processed,
                outcome.expected
            ))
            .into());
        }
        log::debug!(
            "work {id}: {status}, {} of {} piece(s) processed",
            outcome.processed,
            outcome.expected
        );
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(Duration::from_secs(10));
    }
}

fn read(work: &Value) -> Outcome {
    let number = |p: &str| work.pointer(p).and_then(Value::as_u64);
    let errors = work.get("errors").and_then(Value::as_array);
    Outcome {
        transient: errors
            .into_iter()
            .flatten()
            .filter(|e| {
                e.get("message")
                    .and_then(Value::as_str)
                    .is_some_and(transient)
            })
            .map(|e| {
                let source = e.get("source").and_then(Value::as_str)?;
                let object: Value = serde_json::from_str(source).ok()?;
                object.get("modified")?.as_str().map(str::to_owned)
            })
            .collect(),
        expected: number("/tracking/import_expected_number").unwrap_or(0),
        processed: number("/tracking/import_processed_number")
            .or_else(|| number("/completed_number"))
            .unwrap_or(0),
        errors: errors
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let message = e.get("message").and_then(Value::as_str)?;
                Some(match e.get("source").and_then(Value::as_str) {
                    Some(src) if !src.is_empty() => format!("{message} ({})", shorten(src)),
                    _ => message.to_owned(),
                })
            })
            .collect(),
    }
}

/// Sources are whole STIX objects; an error line needs only their start.
fn shorten(text: &str) -> String {
    const MAX: usize = 160;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut cut = MAX;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &text[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_errors() {
        let w = json!({"status": "complete", "completed_number": 9,
            "tracking": {"import_expected_number": 10, "import_processed_number": 10},
            "errors": [{"message": "Missing reference", "source": "{\"id\":\"x\"}"}, {"message": null}]});
        let o = read(&w);
        assert_eq!(
            (o.expected, o.processed, o.failed(), o.imported()),
            (10, 10, 1, 9)
        );
        assert_eq!(o.errors, vec!["Missing reference ({\"id\":\"x\"})"]);
        assert_eq!(o.permanent(), 1);
        assert_eq!(shorten(&"é".repeat(200)).chars().count(), 81);
    }

    #[test]
    fn transient_failures_carry_their_objects_modified() {
        let w = json!({"status": "complete",
            "tracking": {"import_expected_number": 4, "import_processed_number": 4},
            "errors": [
                {"message": "MISSING_REFERENCE_ERROR: target", "source": "{\"id\":\"a\",\"modified\":\"2026-01-02T00:00:00.000Z\"}"},
                {"message": "Max number of retries reached, please see error logs", "source": "Bundle too large"},
                {"message": "MISSING_REFERENCE_ERROR: User trying to create the data has missing markings", "source": "{}"},
                {"message": "FORBIDDEN_ACCESS", "source": "{}"}]});
        let o = read(&w);
        assert_eq!(
            o.transient,
            vec![Some("2026-01-02T00:00:00.000Z".to_owned()), None]
        );
        assert_eq!((o.failed(), o.permanent()), (4, 2));
    }
}
