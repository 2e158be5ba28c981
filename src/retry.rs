//! The one retry policy, for every peer and transport (HTTP to DISINFOX and OpenCTI, AMQP
//! publishes): bounded by `--retries`, exponential backoff from `--retry-delay` with jitter,
//! a wait the peer asks for honoured up to a cap, every retry counted for the run's metrics.

use std::time::Duration;

use crate::config::HttpOptions;
use crate::error::{Error, Result};

/// The longest single wait, whatever the server asks: a scheduled run must end in bounded time.
const MAX_WAIT: Duration = Duration::from_secs(120);

/// Retries this process made, for the run's metrics (one run per process).
static RETRIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub(crate) fn retries_made() -> u64 {
    RETRIES.load(std::sync::atomic::Ordering::Relaxed)
}

/// What one attempt came to.
pub(crate) enum Attempt<T> {
    Done(T),
    Retry {
        why: String,
        after: Option<Duration>,
    },
    Fail(anyhow::Error),
}

/// Why `try_run` stopped without a result.
pub(crate) enum GaveUp {
    /// An attempt failed for good.
    Failed(anyhow::Error),
    /// Every retry was spent; `why` is the last attempt's reason.
    Spent { why: String, retries: u32 },
}

#[derive(Clone, Debug)]
pub(crate) struct RetryPolicy {
    pub retries: u32,
    pub delay: Duration,
}

impl RetryPolicy {
    pub(crate) fn from_options(opts: &HttpOptions) -> Self {
        RetryPolicy {
            retries: opts.retries,
            delay: opts.retry_delay,
        }
    }

    /// Runs `attempt` until it is done, fails, or the retries are spent (then exit 75).
    pub(crate) fn run<T>(&self, what: &str, attempt: impl FnMut() -> Attempt<T>) -> Result<T> {
        self.try_run(what, attempt)
            .map_err(|gave_up| match gave_up {
                GaveUp::Failed(e) => e,
                GaveUp::Spent { why, retries } => {
                    let tries = retries + 1;
                    Error::Temporary(format!(
                        "{what}: {why} (gave up after {tries} attempt{}; run again later)",
                        if tries == 1 { "" } else { "s" }
                    ))
                    .into()
                }
            })
    }

    /// As `run`, leaving the words of a spent policy to the caller.
    pub(crate) fn try_run<T>(
        &self,
        what: &str,
        mut attempt: impl FnMut() -> Attempt<T>,
    ) -> std::result::Result<T, GaveUp> {
        let mut n = 0;
        loop {
            match attempt() {
                Attempt::Done(v) => return Ok(v),
                Attempt::Fail(e) => return Err(GaveUp::Failed(e)),
                Attempt::Retry { why, after } => {
                    if n >= self.retries {
                        return Err(GaveUp::Spent { why, retries: n });
                    }
                    let wait = after.unwrap_or_else(|| self.backoff(n)).min(MAX_WAIT);
                    log::warn!("{what}: {why}; retrying in {:.1}s", wait.as_secs_f64());
                    std::thread::sleep(wait);
                    RETRIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    n += 1;
                }
            }
        }
    }

    /// delay × 2ⁿ, spread by ±50 % so many cron jobs do not retry in lock-step.
    fn backoff(&self, n: u32) -> Duration {
        let base = self.delay.saturating_mul(1u32 << n.min(16));
        base.mul_f64(0.5 + fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_are_bounded() {
        let policy = RetryPolicy {
            retries: 2,
            delay: Duration::from_millis(1),
        };
        let mut calls = 0;
        let r: Result<()> = policy.run("test", || {
            calls += 1;
            Attempt::Retry {
                why: "busy".into(),
                after: None,
            }
        });
        assert_eq!(calls, 3);
        let msg = format!("{:#}", r.unwrap_err());
        assert!(msg.contains("gave up after 3 attempts"), "{msg}");
    }

    #[test]
    fn a_spent_policy_tells_the_last_reason_and_the_retries() {
        let policy = RetryPolicy {
            retries: 1,
            delay: Duration::from_millis(1),
        };
        let mut calls = 0;
        let before = retries_made();
        let r: std::result::Result<(), GaveUp> = policy.try_run("test", || {
            calls += 1;
            Attempt::Retry {
                why: format!("busy {calls}"),
                after: None,
            }
        });
        match r {
            Err(GaveUp::Spent { why, retries }) => {
                assert_eq!((why.as_str(), retries), ("busy 2", 1));
            }
            _ => panic!("the policy was not spent"),
        }
        // Whoever retries (AMQP publishes too), the run's metric counts it.
        assert!(retries_made() > before);
    }
}
