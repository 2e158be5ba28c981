//! Secrets (the OpenCTI token, the DISINFOX key) must never reach any output. The type keeps
//! them out of `Debug`/`Display`; the registry lets the logger and the error reporter scrub
//! them from text that came from elsewhere (a server echoing a header, a library's message).

use std::fmt;
use std::sync::{Mutex, OnceLock};

const REDACTED: &str = "[redacted]";

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    /// Wraps a value and registers it for scrubbing.
    pub(crate) fn new(value: String) -> Self {
        register(&value);
        Secret(value)
    }

    /// The only way to the plain text: call it where the value goes on the wire.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

fn registry() -> &'static Mutex<Vec<String>> {
    static SECRETS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| Mutex::new(Vec::new()))
}

fn register(value: &str) {
    // Very short values would redact ordinary words; config validation rejects them anyway.
    if value.len() < 4 {
        return;
    }
    let mut list = registry().lock().unwrap_or_else(|e| e.into_inner());
    if !list.iter().any(|s| s == value) {
        list.push(value.to_owned());
    }
}

/// Replaces every registered secret in `text`.
pub(crate) fn scrub(text: &str) -> String {
    let list = registry().lock().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_owned();
    for secret in list.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), REDACTED);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("DISINFOX.c2VjcmV0.abc".into());
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        assert_eq!(s.expose(), "DISINFOX.c2VjcmV0.abc");
    }

    #[test]
    fn scrub_removes_registered_values() {
        let _s = Secret::new("tok-123456".into());
        assert_eq!(scrub("bearer tok-123456!"), "bearer [redacted]!");
    }
}
