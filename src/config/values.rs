//! Parsers for setting values; each error says what a valid value looks like.

use std::time::Duration;

use log::LevelFilter;

pub(super) use crate::parsers::{base64, parse_url};

pub(crate) fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Ok(true),
        "false" | "no" | "0" | "off" => Ok(false),
        _ => Err(format!("'{v}' is not a boolean; use true or false")),
    }
}

pub(super) fn parse_name(v: &str) -> Result<String, String> {
    let t = v.trim();
    if t.chars().count() < 2 {
        return Err("OpenCTI needs a name of at least 2 characters".into());
    }
    Ok(t.to_owned())
}

pub(super) fn parse_positive_f64(v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Ok(n),
        _ => Err(format!("'{v}' is not a positive number of megabytes")),
    }
}

pub(crate) fn parse_level(v: &str) -> Result<LevelFilter, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        // pycti's levels are Python's: `critical` is above error, and there is nothing above.
        "error" | "critical" => Ok(LevelFilter::Error),
        "warn" | "warning" => Ok(LevelFilter::Warn),
        "info" => Ok(LevelFilter::Info),
        "debug" => Ok(LevelFilter::Debug),
        "trace" => Ok(LevelFilter::Trace),
        _ => Err(format!(
            "unknown log level '{v}'; use one of error (or critical), warn, info, debug"
        )),
    }
}

/// The hyphenated form only (what `uuidgen` prints and OpenCTI stores).
pub(crate) fn parse_uuid(v: &str) -> Result<(), String> {
    match uuid::Uuid::try_parse(v) {
        Ok(_) if v.len() == 36 => Ok(()),
        _ => Err(format!("'{v}' is not a UUID; generate one with `uuidgen`")),
    }
}

pub(super) fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// ISO-8601 durations as the Python connector's `CONNECTOR_DURATION_PERIOD` (`PT5M`, `P1D`,
/// `P1DT12H`, `PT0.5S`). Years and months are calendar-dependent, so they are refused.
pub(crate) fn parse_iso8601_duration(v: &str) -> Result<Duration, String> {
    let bad = || format!("'{v}' is not an ISO-8601 duration; use e.g. PT5M, PT1H or P1D");
    let rest = v.trim().strip_prefix(['P', 'p']).ok_or_else(bad)?;
    if rest.is_empty() {
        return Err(bad());
    }
    let (date, time) = match rest.split_once(['T', 't']) {
        Some((d, t)) if !t.is_empty() => (d, t),
        Some(_) => return Err(bad()),
        None => (rest, ""),
    };
    let mut secs = 0f64;
    for (part, units) in [(date, "WD"), (time, "HMS")] {
        let mut num = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                num.push(c);
                continue;
            }
            let unit = c.to_ascii_uppercase();
            if !units.contains(unit) || num.is_empty() {
                return Err(bad());
            }
            let n: f64 = num.parse().map_err(|_| bad())?;
            num.clear();
            secs += n * match (units, unit) {
                ("WD", 'W') => 604_800.0,
                ("WD", 'D') => 86_400.0,
                (_, 'H') => 3_600.0,
                (_, 'M') => 60.0,
                _ => 1.0,
            };
        }
        if !num.is_empty() {
            return Err(bad());
        }
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_durations() {
        assert_eq!(parse_iso8601_duration("PT5M"), Ok(Duration::from_secs(300)));
        assert_eq!(
            parse_iso8601_duration("PT1H"),
            Ok(Duration::from_secs(3600))
        );
        assert_eq!(
            parse_iso8601_duration("P1DT1H"),
            Ok(Duration::from_secs(90_000))
        );
        assert_eq!(
            parse_iso8601_duration("P2W"),
            Ok(Duration::from_secs(1_209_600))
        );
        for bad in ["5m", "PT", "P", "PT5X", "P1Y", "PTM", "1h"] {
            assert!(parse_iso8601_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn uuids_and_levels() {
        assert!(parse_uuid("6a2a1c5e-0b0c-4c4c-9f9f-0123456789ab").is_ok());
        assert!(parse_uuid("ChangeMe").is_err());
        // Forms the uuid crate also reads, but that OpenCTI would store differently.
        assert!(parse_uuid("6a2a1c5e0b0c4c4c9f9f0123456789ab").is_err());
        assert!(parse_uuid("{6a2a1c5e-0b0c-4c4c-9f9f-0123456789ab}").is_err());
        assert_eq!(parse_level("critical"), Ok(LevelFilter::Error));
        assert_eq!(parse_level("WARNING"), Ok(LevelFilter::Warn));
        assert!(parse_level("verbose").is_err());
    }
}
