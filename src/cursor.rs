//! The rule that keeps `sync` from losing or skipping anything.
//!
//! DISINFOX stamps `modified` when it *builds* an object, and the object becomes visible only
//! when it is stored, a moment later. The cursor therefore trails DISINFOX's own clock (its
//! `Date` header, so our clock never matters) by a settle window: whatever was built before
//! the window is certainly visible now, whatever is inside it is fetched again next run.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The cursor after a successful import. Never moves backwards, and never past now.
pub(crate) fn next(
    old: Option<DateTime<Utc>>,
    max_modified: Option<&str>,
    server_date: Option<DateTime<Utc>>,
    settle: Duration,
) -> Option<DateTime<Utc>> {
    next_at(old, max_modified, server_date, settle, Utc::now())
}

/// [`next`] with the local clock given. Whatever the objects' `modified` say, the cursor
/// stays behind both clocks (DISINFOX's `Date` less the settle window, and ours); without a
/// `Date` the settle window trails our clock. A future-dated object must not move the cursor
/// to 9999 and make every later incident look "up to date".
pub(crate) fn next_at(
    old: Option<DateTime<Utc>>,
    max_modified: Option<&str>,
    server_date: Option<DateTime<Utc>>,
    settle: Duration,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let settle = chrono::Duration::from_std(settle).unwrap_or(chrono::Duration::MAX);
    let behind = |clock: DateTime<Utc>| {
        clock
            .checked_sub_signed(settle)
            .unwrap_or(DateTime::UNIX_EPOCH)
    };
    let bound = match server_date {
        Some(date) => {
            warn_if_ahead(date, now, settle);
            behind(date).min(now)
        }
        None => {
            log::debug!(
                "DISINFOX sent no readable Date header: the cursor trails the local clock by the settle window"
            );
            behind(now)
        }
    };
    let newest = max_modified.and_then(crate::when::parse_cursor);
    let candidate = newest.map(|n| n.min(bound));
    let moved = match (old, candidate) {
        (Some(o), Some(c)) => Some(o.max(c)),
        (o, c) => c.or(o),
    };
    // A cursor stored in the future (by an older version, or by hand) is pulled back: the
    // objects in between are fetched again, which is harmless; skipped ones would be lost.
    match moved {
        Some(m) if m > now => {
            log::warn!(
                "the stored cursor {} is in the future; it is set back to {}",
                crate::when::display(m),
                crate::when::display(bound)
            );
            Some(bound)
        }
        m => m,
    }
}

/// How far DISINFOX's clock runs ahead of ours beyond the settle window, if it does: then
/// the cursor stops at our clock (above), below the `modified` DISINFOX stamps, and every run
/// fetches and imports again the incidents of that gap.
fn ahead_by(
    server_date: DateTime<Utc>,
    now: DateTime<Utc>,
    settle: chrono::Duration,
) -> Option<chrono::Duration> {
    let skew = server_date.signed_duration_since(now);
    // A second either way is the `Date` header's resolution.
    (skew > settle.max(chrono::Duration::zero()) + chrono::Duration::seconds(1)).then_some(skew)
}

fn warn_if_ahead(server_date: DateTime<Utc>, now: DateTime<Utc>, settle: chrono::Duration) {
    if let Some(skew) = ahead_by(server_date, now, settle) {
        // Whole seconds: the `Date` header has no finer resolution.
        let seconds = (skew.num_milliseconds() + 500) / 1000;
        let skew = humantime::format_duration(Duration::from_secs(seconds.unsigned_abs()));
        log::warn!(
            "DISINFOX's clock (its Date header) is {skew} ahead of this machine's: every run \
             imports again the incidents DISINFOX stamped in the last {skew}; synchronise \
             both clocks (NTP)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn next(
        old: Option<DateTime<Utc>>,
        max_modified: Option<&str>,
        server_date: Option<DateTime<Utc>>,
        settle: Duration,
    ) -> Option<DateTime<Utc>> {
        next_at(
            old,
            max_modified,
            server_date,
            settle,
            t("2026-11-27T12:05:00Z"),
        )
    }

    #[test]
    fn future_objects_without_a_date_header_stop_at_the_local_clock() {
        let n = next(
            None,
            Some("9999-12-31T23:59:59.999Z"),
            None,
            Duration::from_secs(60),
        );
        assert_eq!(n, Some(t("2026-11-27T12:04:00Z")));
        let ahead = Some(t("2030-01-01T00:00:00Z"));
        let n = next(
            None,
            Some("9999-12-31T23:59:59.999Z"),
            ahead,
            Duration::ZERO,
        );
        assert_eq!(n, Some(t("2026-11-27T12:05:00Z")));
    }

    #[test]
    fn a_poisoned_stored_cursor_is_pulled_back() {
        let old = Some(t("9999-12-31T23:59:59Z"));
        let n = next(
            old,
            None,
            Some(t("2026-11-27T12:05:00Z")),
            Duration::from_secs(60),
        );
        assert_eq!(n, Some(t("2026-11-27T12:04:00Z")));
    }

    #[test]
    fn impossible_and_leap_second_modified_never_become_the_cursor() {
        let old = Some(t("2026-11-27T10:00:00Z"));
        for bad in [
            "2099-02-30T00:00:00.000Z",
            "2026-11-27T11:59:60.000Z",
            "0000-01-01T00:00:00Z",
        ] {
            assert_eq!(next(old, Some(bad), None, Duration::ZERO), old, "{bad}");
        }
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
    fn a_server_clock_ahead_beyond_the_settle_window_is_measured() {
        let now = t("2026-11-01T00:00:00Z");
        let settle = chrono::Duration::seconds(60);
        let at = |s| ahead_by(t(s), now, settle);
        assert_eq!(
            at("2026-11-01T00:10:00Z"),
            Some(chrono::Duration::minutes(10))
        );
        assert_eq!(at("2026-11-01T00:01:00Z"), None, "within the window");
        assert_eq!(at("2026-10-31T23:00:00Z"), None, "behind is harmless");
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
