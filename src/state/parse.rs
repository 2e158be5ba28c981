//! The state document, `{"last_fetch": "<RFC 3339, Z>", "last_run": <Unix seconds>}`, and what
//! the Python connector left behind (`…+00:00Z`, `…+00:00ZZ`, naive times, string `last_run`).
//! A run whose import OpenCTI had not confirmed when it ended also leaves its works there
//! (`"unconfirmed"`), so that the next run can check them; readers that do not know the key
//! (the Python connector, the OpenCTI UI) ignore it.

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::when::parse_cursor;
use serde_json::{Value, json};

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct State {
    /// Everything modified up to and including this instant has been imported.
    pub last_fetch: Option<DateTime<Utc>>,
    /// Unix seconds of the last run, informational (the OpenCTI UI shows it).
    pub last_run: Option<i64>,
    /// Runs whose import OpenCTI had not confirmed yet (pushed, not waited for).
    pub unconfirmed: Option<Unconfirmed>,
}

/// What the next run checks before it trusts `last_fetch`: the works of the runs since the
/// last confirmed cursor, and that cursor (where to go back to when OpenCTI lost any of them).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Unconfirmed {
    /// The cursor those runs started from (`None`: from the beginning).
    pub from: Option<DateTime<Utc>>,
    /// Each run's work and how many objects it pushed into it (copies included).
    pub works: Vec<(String, u64)>,
    /// The connector's reset mark when the last of them started: its
    /// `connector_state_timestamp` (6.7.0+), else `reset:<flag>`. A different mark later means
    /// a "Reset state" since, which purged whatever was still queued.
    pub reset_mark: Option<String>,
}

/// At most this many unconfirmed works are kept (older ones cannot be checked anyway once
/// the list is this long; `from` still covers them).
const MAX_UNCONFIRMED: usize = 16;

impl Unconfirmed {
    /// `newer` runs after `self`: the older start point stays, the works add up.
    pub(crate) fn merged(self, newer: Unconfirmed) -> Unconfirmed {
        let mut works = self.works;
        works.extend(newer.works);
        let skip = works.len().saturating_sub(MAX_UNCONFIRMED);
        Unconfirmed {
            from: self.from,
            works: works.into_iter().skip(skip).collect(),
            reset_mark: newer.reset_mark,
        }
    }

    fn to_value(&self) -> Value {
        let works: Vec<Value> = self
            .works
            .iter()
            .map(|(id, n)| json!({ "id": id, "objects": n }))
            .collect();
        let mut v = json!({ "works": works });
        if let Some(t) = self.from {
            v["from"] = json!(crate::when::display(t));
        }
        if let Some(m) = &self.reset_mark {
            v["reset_mark"] = json!(m);
        }
        v
    }

    /// Lenient: a record we cannot read is no record (the cursor is then trusted, as before
    /// this record existed).
    fn from_value(v: &Value) -> Option<Unconfirmed> {
        let works: Vec<(String, u64)> = v
            .get("works")?
            .as_array()?
            .iter()
            .filter_map(|w| {
                Some((
                    w.get("id")?.as_str()?.to_owned(),
                    w.get("objects")?.as_u64()?,
                ))
            })
            .collect();
        let from = match v.get("from") {
            None | Some(Value::Null) => None,
            Some(f) => Some(parse_cursor(f.as_str()?)?),
        };
        Some(Unconfirmed {
            from,
            works,
            reset_mark: v
                .get("reset_mark")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }
}

impl State {
    pub(crate) fn to_json(&self) -> String {
        let mut v = json!({});
        if let Some(t) = self.last_fetch {
            v["last_fetch"] = json!(crate::when::display(t));
        }
        if let Some(r) = self.last_run {
            v["last_run"] = json!(r);
        }
        if let Some(u) = &self.unconfirmed {
            v["unconfirmed"] = u.to_value();
        }
        v.to_string()
    }

    pub(crate) fn describe(&self) -> String {
        match self.last_fetch {
            Some(t) => format!("cursor {}", crate::when::display(t)),
            None => "no cursor (from the beginning)".into(),
        }
    }
}

/// Reads a stored state. Empty forms mean "from the beginning"; a document we cannot read is
/// also "from the beginning" (re-sending is harmless, skipping is not), with a warning.
pub(crate) fn parse_state(text: Option<&str>) -> Result<State, String> {
    let text = text.map(str::trim).unwrap_or("");
    if text.is_empty() || text == "null" {
        return Ok(State::default());
    }
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("stored state is not JSON ({e})"))?;
    let Value::Object(map) = value else {
        return Err(format!("stored state is not a JSON object: {text}"));
    };
    let last_fetch = match map.get("last_fetch") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(parse_cursor(s).ok_or_else(|| format!("stored last_fetch '{s}' is not a time"))?)
        }
        Some(other) => return Err(format!("stored last_fetch {other} is not a time")),
    };
    let last_run = match map.get("last_run") {
        Some(Value::Number(n)) => n.as_f64().map(|f| f as i64),
        Some(Value::String(s)) => NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
            .ok()
            .map(|t| t.and_utc().timestamp()),
        _ => None,
    };
    let unconfirmed = map.get("unconfirmed").and_then(Unconfirmed::from_value);
    Ok(State {
        last_fetch,
        last_run,
        unconfirmed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(s: &str) -> String {
        crate::when::display(parse_state(Some(s)).unwrap().last_fetch.unwrap())
    }

    #[test]
    fn empty_forms_start_from_the_beginning() {
        for s in [None, Some(""), Some("null"), Some("{}"), Some("  ")] {
            assert_eq!(parse_state(s).unwrap(), State::default());
        }
        assert!(parse_state(Some("{not json")).is_err());
        assert!(parse_state(Some("[1]")).is_err());
    }

    #[test]
    fn python_connector_states() {
        let current = r#"{"last_fetch": "2026-11-27T21:52:27.151992+00:00Z", "last_run": "2026-11-27 21:52:27"}"#;
        assert_eq!(cursor(current), "2026-11-27T21:52:27.151992Z");
        assert_eq!(
            parse_state(Some(current)).unwrap().last_run,
            Some(1_795_816_347)
        );
        assert_eq!(
            cursor(r#"{"last_fetch": "2026-11-27T21:52:27.151992+00:00ZZ"}"#),
            "2026-11-27T21:52:27.151992Z"
        );
        assert_eq!(
            cursor(r#"{"last_fetch": "2026-11-27T21:52:27.151992"}"#),
            "2026-11-27T21:52:27.151992Z"
        );
        assert_eq!(
            cursor(r#"{"last_fetch": "2026-11-27T21:52:27.151992Z"}"#),
            "2026-11-27T21:52:27.151992Z"
        );
        let only_run = parse_state(Some(r#"{"last_run": "2026-11-27 21:52:27"}"#)).unwrap();
        assert_eq!(only_run.last_fetch, None);
    }

    #[test]
    fn round_trip() {
        let s = State {
            last_fetch: parse_cursor("2026-11-27T21:51:42.833Z"),
            last_run: Some(1_795_816_302),
            unconfirmed: None,
        };
        assert_eq!(
            s.to_json(),
            r#"{"last_fetch":"2026-11-27T21:51:42.833000Z","last_run":1795816302}"#
        );
        assert_eq!(parse_state(Some(&s.to_json())).unwrap(), s);
    }

    #[test]
    fn unconfirmed_runs_round_trip_and_merge() {
        let first = Unconfirmed {
            from: parse_cursor("2026-11-27T21:00:00Z"),
            works: vec![("work_a".into(), 12)],
            reset_mark: Some("reset:false".into()),
        };
        let s = State {
            last_fetch: parse_cursor("2026-11-27T21:51:42.833Z"),
            last_run: Some(1),
            unconfirmed: Some(first.clone()),
        };
        assert_eq!(parse_state(Some(&s.to_json())).unwrap(), s);
        let second = Unconfirmed {
            from: parse_cursor("2026-11-27T21:30:00Z"),
            works: vec![("work_b".into(), 3)],
            reset_mark: Some("2026-11-27T22:00:00.000Z".into()),
        };
        let both = first.merged(second);
        assert_eq!(both.from, parse_cursor("2026-11-27T21:00:00Z"));
        assert_eq!(both.works.len(), 2);
        assert_eq!(both.reset_mark.as_deref(), Some("2026-11-27T22:00:00.000Z"));
        // An unreadable record is no record; the cursor still reads.
        let odd = r#"{"last_fetch": "2026-11-27T21:00:00Z", "unconfirmed": {"works": 3}}"#;
        assert_eq!(parse_state(Some(odd)).unwrap().unconfirmed, None);
    }
}
