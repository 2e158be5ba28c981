//! config.yml: found, read, flattened to `"section.key" → value`, unknown keys reported.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::keys::{KEYS, PYCTI_UNUSED_KEYS};
use crate::error::Error;
use crate::input::{Accept, ReadError};

/// The system-wide file, read when the user has none: what system cron jobs (running as
/// root or a service user without a home) expect.
pub(crate) const SYSTEM_CONFIG: &str = "/etc/disinfox-sync/config.yml";

/// Replaces `/etc` in [`SYSTEM_CONFIG`], for packagers whose configuration lives elsewhere
/// (`/usr/local/etc`) and for tests, which must not write to the real `/etc`.
const SYSCONFDIR_VAR: &str = super::environment::ENV_SYSCONFDIR;

/// Explicit path: must exist. Otherwise the user's file, then the system's; both optional.
/// A system file this user may not read is skipped with a warning: it is for the system's
/// cron jobs, and must not stop a user's run.
pub(super) fn load_file(
    explicit: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<(Option<PathBuf>, serde_json::Value), Error> {
    if let Some(path) = explicit {
        return read_file(path, true);
    }
    let user = default_config_path().map(|p| (p, false));
    for (path, system) in user.into_iter().chain([(system_config_path(env), true)]) {
        if system && let Some(e) = unreadable(&path) {
            warnings.push(format!(
                "system config file {} ignored: {e}; make it readable to this user (uid {}) or name a file with --config",
                path.display(),
                crate::input::euid()
            ));
            continue;
        }
        let found = read_file(&path, false)?;
        if found.0.is_some() {
            return Ok(found);
        }
    }
    Ok((None, serde_json::Value::Null))
}

/// Why this user may not read `path`, if that is the case (never opens a FIFO: only a
/// regular file is opened to find out).
fn unreadable(path: &Path) -> Option<std::io::Error> {
    let denied =
        |e: std::io::Error| (e.kind() == std::io::ErrorKind::PermissionDenied).then_some(e);
    match std::fs::metadata(path) {
        Err(e) => denied(e),
        Ok(meta) if meta.is_file() => std::fs::File::open(path).err().and_then(denied),
        Ok(_) => None,
    }
}

fn system_config_path(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    match env(SYSCONFDIR_VAR).filter(|d| !d.is_empty()) {
        Some(dir) => Path::new(&dir).join("disinfox-sync/config.yml"),
        None => PathBuf::from(SYSTEM_CONFIG),
    }
}

/// `(None, Null)` for an optional file that does not exist.
fn read_file(path: &Path, must_exist: bool) -> Result<(Option<PathBuf>, serde_json::Value), Error> {
    let bytes = match crate::input::read_file(path, crate::input::MAX_CONFIG, Accept::RegularOnly) {
        Ok(b) => b,
        Err(ReadError::NotFound(_)) if !must_exist => return Ok((None, serde_json::Value::Null)),
        Err(e) => {
            let hint = if must_exist {
                "fix the path given by --config / DISINFOX_SYNC_CONFIG"
            } else {
                "make it readable, or name another file with --config"
            };
            return Err(Error::Config(format!(
                "cannot read config file {}: {e}; {hint}",
                path.display()
            )));
        }
    };
    crate::input::check_private(path)
        .map_err(|why| Error::Config(format!("config file {} refused: {why}", path.display())))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::Config(format!(
            "config file {} is not UTF-8 text; save it as UTF-8",
            path.display()
        ))
    })?;
    // Editors on some systems start UTF-8 files with a byte-order mark; YAML allows it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let value: serde_json::Value = if text.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_saphyr::from_str(text).map_err(|e| {
            let first = plain_yaml_message(&e.to_string());
            Error::Config(format!(
                "config file {} is not valid YAML: {first}",
                path.display()
            ))
        })?
    };
    if !matches!(
        value,
        serde_json::Value::Object(_) | serde_json::Value::Null
    ) {
        return Err(Error::Config(format!(
            "config file {} must be a mapping of sections (opencti:, connector:, disinfox:), not {}",
            path.display(),
            kind_of(&value)
        )));
    }
    Ok((Some(path.to_path_buf()), value))
}

fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::Bool(_) => "a boolean",
        _ => "a mapping",
    }
}

/// The YAML parser's first line, without the advice it gives to programmers (its option and
/// function names mean nothing to someone editing config.yml).
fn plain_yaml_message(raw: &str) -> String {
    let first = raw.lines().next().unwrap_or("");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let (place, what) = match first.split_once(": ") {
        Some((place, what)) if place.starts_with("line ") => (format!("{place}: "), what),
        _ => (String::new(), first),
    };
    let what = if what.starts_with("multiple YAML documents") {
        "more than one YAML document (a --- line): keep one".to_owned()
    } else if what.contains("rejected by the configured policy") {
        what.replace(
            "rejected by the configured policy",
            "is not a finite number",
        )
        .replace("non-finite float ", "")
    } else if what == "expected string scalar" {
        "a key must be a plain name".to_owned()
    } else {
        // "duplicate mapping key: a, set DuplicateKeyPolicy in Options if acceptable"
        what.split([',', ';'])
            .next()
            .unwrap_or(what)
            .trim()
            .to_owned()
    };
    format!("{place}{what}")
}

pub(crate) fn default_config_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "disinfox-sync")
        .map(|d| d.config_dir().join("config.yml"))
}

/// Flattens `a: {b: v}` into `"a.b" → v`, keeping scalars only; warns on keys nobody knows,
/// and notes (for the debug log) the keys pycti knows and this tool does not use.
pub(super) fn flatten_known(
    value: serde_json::Value,
    warnings: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![(String::new(), value)];
    while let Some((prefix, value)) = stack.pop() {
        match value {
            // A known key must hold a value; a mapping there is kept as its JSON text so
            // that the setting reports it as invalid, instead of "missing" later.
            object @ serde_json::Value::Object(_) if KEYS.iter().any(|k| k.yaml == prefix) => {
                out.insert(prefix, object.to_string());
            }
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let path = if prefix.is_empty() {
                        k
                    } else {
                        format!("{prefix}.{k}")
                    };
                    stack.push((path, v));
                }
            }
            serde_json::Value::Null => {}
            scalar => {
                let known = KEYS.iter().any(|k| k.yaml == prefix);
                if known {
                    let text = match scalar {
                        serde_json::Value::String(s) => s,
                        serde_json::Value::Array(items) => items
                            .iter()
                            .map(|i| {
                                i.as_str()
                                    .map(str::to_owned)
                                    .unwrap_or_else(|| i.to_string())
                            })
                            .collect::<Vec<_>>()
                            .join(","),
                        other => other.to_string(),
                    };
                    out.insert(prefix, text);
                } else if PYCTI_UNUSED_KEYS.contains(&prefix.as_str()) {
                    notes.push(format!(
                        "config key '{prefix}' (pycti's) is not used by a one-shot run"
                    ));
                } else {
                    warnings.push(format!("unknown config key '{prefix}' ignored"));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_messages_carry_no_library_advice() {
        for (text, want) in [
            ("a: 1\na: 2\n", "line 2 column 1: duplicate mapping key: a"),
            ("x: 1\n---\ny: 2\n", "more than one YAML document"),
            ("x: .nan\n", "`.nan` is not a finite number"),
            ("? [a, b]\n: c\n", "a key must be a plain name"),
        ] {
            let e = serde_saphyr::from_str::<serde_json::Value>(text).unwrap_err();
            let shown = plain_yaml_message(&e.to_string());
            assert!(shown.contains(want), "{shown}");
            for internal in ["Policy", "Options", "from_str", "error:"] {
                assert!(!shown.contains(internal), "{shown}");
            }
        }
    }

    #[test]
    fn system_file_is_the_last_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path().join("disinfox-sync");
        std::fs::create_dir_all(&sys).unwrap();
        std::fs::write(sys.join("config.yml"), "connector:\n  name: system\n").unwrap();
        let root = dir.path().to_str().unwrap().to_owned();
        let env = move |name: &str| (name == SYSCONFDIR_VAR).then(|| root.clone());
        let (path, value) = load_file(None, &env, &mut Vec::new()).unwrap();
        // The user's file, when the test machine has one, wins; otherwise the system's.
        if !default_config_path().is_some_and(|p| p.exists()) {
            assert_eq!(path, Some(sys.join("config.yml")));
            assert_eq!(value["connector"]["name"], "system");
        }
        let nothing = |_: &str| None;
        assert_eq!(system_config_path(&nothing), Path::new(SYSTEM_CONFIG));
    }

    #[test]
    fn flatten_warns_on_unknown_keys() {
        let v = serde_json::json!({"opencti": {"url": "http://x", "typo": 1}, "connector": {"type": "EXTERNAL_IMPORT"}});
        let (mut w, mut notes) = (Vec::new(), Vec::new());
        let m = flatten_known(v, &mut w, &mut notes);
        assert_eq!(m.get("opencti.url").map(String::as_str), Some("http://x"));
        assert_eq!(
            w,
            vec!["unknown config key 'opencti.typo' ignored".to_owned()]
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
    }
}
