//! Points in time as users write them (`--since`, `reset-state --to`) and as DISINFOX parses
//! them (`newer_than`).

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

// The cursor's own time rules live with the bundle stage, which judges every `modified` by
// them and imports nothing from outside itself; this module is their face for everyone else.
pub(crate) use crate::bundle::timestamp::{parse_cursor, representable};

/// The forms `--since` / `--to` accept, for error messages.
pub(crate) const FORMS: &str = "use RFC 3339 (2026-11-27T21:51:42Z or with an offset, +02:00), \
a date (2026-11-27), a duration ago (36h, 7days) or all";

/// Parses WHEN; `None` means "from the beginning" (`all`).
pub(crate) fn parse(text: &str, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, String> {
    let t = text.trim();
    match parse_any(t, now)? {
        Some(at) if !representable(at) => Err(format!(
            "'{t}' is outside what DISINFOX accepts (years 0001 to 9999, no leap second)"
        )),
        at => Ok(at),
    }
}

fn parse_any(t: &str, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, String> {
    if t.eq_ignore_ascii_case("all") {
        return Ok(None);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(Some(dt.with_timezone(&Utc)));
    }
    if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(Some(date.and_time(chrono::NaiveTime::MIN).and_utc()));
    }
    if let Ok(ago) = humantime::parse_duration(t) {
        let ago = chrono::Duration::from_std(ago).map_err(|_| format!("'{t}' is too long ago"))?;
        return now
            .checked_sub_signed(ago)
            .map(Some)
            .ok_or_else(|| format!("'{t}' is too long ago"));
    }
    Err(format!("'{t}' is not a point in time: {FORMS}"))
}

/// The only `newer_than` shape every DISINFOX accepts: UTC, 6 fractional digits, upper-case Z,
/// no offset (an offset gets HTTP 500 — how the Python connector broke).
pub(crate) fn newer_than(cursor: Option<DateTime<Utc>>) -> String {
    cursor
        .unwrap_or(DateTime::UNIX_EPOCH)
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// RFC 3339 in UTC with microseconds (6 digits, as DISINFOX writes `modified`), the shape used
/// for cursors in state and summaries.
pub(crate) fn display(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-29T12:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn every_form() {
        let at = |s: &str| parse(s, now()).unwrap().map(display);
        assert_eq!(at("all"), None);
        assert_eq!(
            at("2026-11-27T23:51:42.5+02:00").unwrap(),
            "2026-11-27T21:51:42.500000Z"
        );
        assert_eq!(at("2026-11-27").unwrap(), "2026-11-27T00:00:00.000000Z");
        assert_eq!(at("36h").unwrap(), "2026-11-28T00:00:00.000000Z");
        assert_eq!(at("7days").unwrap(), "2026-11-22T12:00:00.000000Z");
        assert!(parse("yesterday", now()).unwrap_err().contains("RFC 3339"));
    }

    #[test]
    fn leap_seconds_year_zero_and_impossible_dates_are_refused() {
        for bad in [
            "2026-12-31T23:59:60Z",
            "0000-01-01T00:00:00Z",
            "0000-01-01",
            "2099-02-30T00:00:00Z",
            "2099-02-30",
        ] {
            assert!(parse(bad, now()).is_err(), "{bad}");
        }
    }

    #[test]
    fn newer_than_has_six_digits_and_no_offset() {
        assert_eq!(newer_than(None), "1970-01-01T00:00:00.000000Z");
        let t = DateTime::parse_from_rfc3339("2026-11-27T21:51:42.833123456+00:00").unwrap();
        assert_eq!(newer_than(Some(t.to_utc())), "2026-11-27T21:51:42.833123Z");
    }
}
