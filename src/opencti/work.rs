//! Following a run's work until OpenCTI reports it complete (`--wait`): `stixBundlePush`
//! answering `true` only means "queued"; the work says what the workers then imported.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::documents as doc;
use super::graphql::Graphql;
use crate::error::{Error, Result};

/// The errors shown in logs and summaries; OpenCTI itself keeps at most 100 per work.
pub const SHOWN_ERRORS: usize = 5;

/// A completed work as OpenCTI reports it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    pub expected: u64,
    pub processed: u64,
    /// Every error the work recorded (one per failed piece).
    pub errors: Vec<String>,
}

impl Outcome {
    pub fn failed(&self) -> u64 {
        self.errors.len() as u64
    }

    pub fn imported(&self) -> u64 {
        self.processed.saturating_sub(self.failed())
    }
}

/// Polls `work(id)` with a growing interval until it is done, or fails with a temporary error
/// once `budget` is spent. `pieces` is the number of objects pushed (copies included): the
/// workers split each chunk into one piece per object, and a work can report `complete` while
/// a later chunk still waits to be split (processed == expected for the chunks split so far).
/// So a work is done once it expects at least that many pieces and processed them all,
/// whatever its status; a complete work expecting fewer (should a platform count fewer) is
/// done once `queue_empty` says nothing of the connector is queued any more.
pub fn follow(
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
    Outcome {
        expected: number("/tracking/import_expected_number").unwrap_or(0),
        processed: number("/tracking/import_processed_number")
            .or_else(|| number("/completed_number"))
            .unwrap_or(0),
        errors: work
            .get("errors")
            .and_then(Value::as_array)
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
        assert_eq!(shorten(&"é".repeat(200)).chars().count(), 81);
    }
}
