//! The state document, `{"last_fetch": "<RFC 3339, Z>", "last_run": <Unix seconds>}`, and what
//! the Python connector left behind (`…+00:00Z`, `…+00:00ZZ`, naive times, string `last_run`).

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Value, json};

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct State {
    /// Everything modified up to and including this instant has been imported.
    pub last_fetch: Option<DateTime<Utc>>,
    /// Unix seconds of the last run, informational (the OpenCTI UI shows it).
    pub last_run: Option<i64>,
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
    Ok(State {
        last_fetch,
        last_run,
    })
}

/// Strip every trailing `Z`; with an offset left it is RFC 3339, otherwise a naive UTC time.
pub(crate) fn parse_cursor(text: &str) -> Option<DateTime<Utc>> {
    parse_any(text).filter(|t| crate::when::representable(*t))
}

fn parse_any(text: &str) -> Option<DateTime<Utc>> {
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
        };
        assert_eq!(
            s.to_json(),
            r#"{"last_fetch":"2026-11-27T21:51:42.833000Z","last_run":1795816302}"#
        );
        assert_eq!(parse_state(Some(&s.to_json())).unwrap(), s);
    }
}
