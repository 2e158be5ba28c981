//! The rule that keeps `sync` from losing or skipping anything.
//!
//! DISINFOX stamps `modified` when it *builds* an object, and the object becomes visible only
//! when it is stored, a moment later. The cursor therefore trails DISINFOX's own clock (its
//! `Date` header, so our clock never matters) by a settle window: whatever was built before
//! the window is certainly visible now, whatever is inside it is fetched again next run.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The cursor after a successful import. Never moves backwards.
pub fn next(
    old: Option<DateTime<Utc>>,
    max_modified: Option<&str>,
    server_date: Option<DateTime<Utc>>,
    settle: Duration,
) -> Option<DateTime<Utc>> {
    let newest = max_modified.and_then(crate::state::parse_cursor);
    let candidate = match (newest, server_date) {
        (Some(newest), Some(date)) => {
            let settle = chrono::Duration::from_std(settle).unwrap_or(chrono::Duration::MAX);
            let bound = date
                .checked_sub_signed(settle)
                .unwrap_or(DateTime::UNIX_EPOCH);
            Some(newest.min(bound))
        }
        (Some(newest), None) => {
            log::debug!(
                "DISINFOX sent no Date header: the cursor is the newest modified received, without a settle window"
            );
            Some(newest)
        }
        (None, _) => None,
    };
    match (old, candidate) {
        (Some(o), Some(c)) => Some(o.max(c)),
        (o, c) => c.or(o),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn trails_the_server_clock_by_the_settle_window() {
        let n = next(
            None,
            Some("2026-11-27T12:00:00.000Z"),
            Some(t("2026-11-27T12:00:30Z")),
            Duration::from_secs(60),
        );
        assert_eq!(n, Some(t("2026-11-27T11:59:30Z")));
    }

    #[test]
    fn old_objects_move_the_cursor_to_their_time() {
        let n = next(
            None,
            Some("2026-11-27T10:00:00.123Z"),
            Some(t("2026-11-27T12:00:00Z")),
            Duration::from_secs(60),
        );
        assert_eq!(n, Some(t("2026-11-27T10:00:00.123Z")));
    }

    #[test]
    fn future_objects_do_not_pass_the_server_clock() {
        let n = next(
            None,
            Some("2030-01-01T00:00:00.000Z"),
            Some(t("2026-11-27T12:00:00Z")),
            Duration::from_secs(0),
        );
        assert_eq!(n, Some(t("2026-11-27T12:00:00Z")));
    }

    #[test]
    fn never_backwards_and_fallback_without_date() {
        let old = Some(t("2026-11-27T12:00:00Z"));
        assert_eq!(
            next(
                old,
                Some("2026-11-27T12:00:10.000Z"),
                Some(t("2026-11-27T12:00:20Z")),
                Duration::from_secs(60)
            ),
            old
        );
        assert_eq!(
            next(
                None,
                Some("2026-11-27T12:00:10.000Z"),
                None,
                Duration::from_secs(60)
            ),
            Some(t("2026-11-27T12:00:10Z"))
        );
        assert_eq!(next(old, None, None, Duration::ZERO), old);
    }
}
