//! The times a cursor can take: what DISINFOX (Python's `datetime`) can hold, and the stored
//! forms of a cursor. A leaf: the bundle stage judges each `modified` by it, and
//! `crate::when` re-exports it for the rest of the crate.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Whether DISINFOX (Python's `datetime`) can hold `t`: years 1 to 9999, no leap second.
/// chrono accepts year 0 and `23:59:60`; sent as a cursor, either gets HTTP 500 forever.
pub(crate) fn representable(t: DateTime<Utc>) -> bool {
    use chrono::{Datelike, Timelike};
    (1..=9999).contains(&t.year()) && t.nanosecond() < 1_000_000_000
}

/// Strip every trailing `Z`; with an offset left it is RFC 3339, otherwise a naive UTC time.
pub(crate) fn parse_cursor(text: &str) -> Option<DateTime<Utc>> {
    parse_stored(text).filter(|t| representable(*t))
}

fn parse_stored(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim().trim_end_matches(['Z', 'z']);
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.to_utc());
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some(naive.and_utc());
        }
    }
    None
}
