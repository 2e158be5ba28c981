//! Reads one setting from its sources (flag > environment > config.yml), parses it, and
//! records what is wrong, split into problems that stop the command and those that only warn.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Needs;
use super::keys::{Group, Key, flag_name};
use crate::secret::Secret;

/// Where a value came from, for error messages that point at the thing to fix.
struct Found {
    value: String,
    origin: String,
}

pub(crate) struct Reader<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub file: BTreeMap<String, String>,
    pub file_path: Option<PathBuf>,
    pub needs: Needs,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

impl Reader<'_> {
    /// flag (already merged with its env var by clap) > env > file.
    fn find(&self, flag: Option<&str>, key: &Key) -> Option<Found> {
        if let Some(v) = flag.filter(|v| !v.is_empty()) {
            let origin = format!("--{} / {}", flag_name(key), key.env);
            return Some(Found {
                value: v.to_owned(),
                origin,
            });
        }
        if let Some(value) = (self.env)(key.env).filter(|v| !v.is_empty()) {
            return Some(Found {
                value,
                origin: key.env.to_owned(),
            });
        }
        let path = self.file_path.as_deref().unwrap_or(Path::new("config.yml"));
        self.file.get(key.yaml).map(|v| Found {
            value: v.clone(),
            origin: format!("{} in {}", key.yaml, path.display()),
        })
    }

    /// The raw text of a setting, if any source has it.
    pub(super) fn text(&self, key: &Key) -> Option<String> {
        self.find(None, key).map(|f| f.value)
    }

    /// Parses a present value; reports it and returns `None` when it does not parse.
    pub(super) fn parse<T>(
        &mut self,
        key: &Key,
        flag: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let found = self.find(flag, key)?;
        match parse(&found.value) {
            Ok(v) => Some(v),
            Err(why) => {
                let message = format!("invalid {} ({}): {why}", key.env, found.origin);
                self.report(key.group, message);
                None
            }
        }
    }

    /// A secret from `NAME`, `NAME_FILE` (one trailing newline trimmed, as Kubernetes mounts
    /// them) or the config file; setting both variables is ambiguous.
    pub(super) fn secret(&mut self, key: &Key) -> Option<Secret> {
        let file_var = format!("{}_FILE", key.env);
        let direct = (self.env)(key.env).filter(|v| !v.is_empty());
        let path = (self.env)(&file_var).filter(|v| !v.is_empty());
        let result = match (direct, path) {
            (Some(_), Some(_)) => Err(format!(
                "both {} and {file_var} are set: keep only one",
                key.env
            )),
            (Some(v), None) if v.chars().any(char::is_control) => Err(format!(
                "{} holds a line break or control character: set only the value",
                key.env
            )),
            (Some(v), None) => Ok(Some(v)),
            (None, Some(path)) => read_secret_file(&file_var, &path).map(Some),
            (None, None) => self.find(None, key).map(file_secret).transpose(),
        };
        match result {
            Ok(value) => value.filter(|v| !v.is_empty()).map(Secret::new),
            Err(message) => {
                self.report(key.group, message);
                None
            }
        }
    }

    /// A missing setting the command needs.
    pub(crate) fn require(&mut self, present: bool, env: &str, what: &str) {
        if !present && !self.errors.iter().any(|e| e.contains(env)) {
            self.errors.push(format!("missing {env}: set it to {what}"));
        }
    }

    pub(super) fn report(&mut self, group: Group, message: String) {
        let needed = match group {
            Group::General => true,
            Group::Disinfox => self.needs.disinfox,
            Group::Opencti => self.needs.opencti,
        };
        if needed {
            self.errors.push(message);
        } else {
            self.warnings
                .push(format!("{message} (not needed by this command)"));
        }
    }
}

/// A secret from config.yml: a block scalar (`token: |`) ends with a line break, and trailing
/// blanks are never part of a key or token, so they are trimmed; any other control character
/// would go on the wire as part of the header and fail there (or be refused by the HTTP stack),
/// so it is refused here, naming the key.
fn file_secret(found: Found) -> Result<String, String> {
    let value = found.value.trim_end_matches([' ', '\t', '\r', '\n']);
    if value.chars().any(char::is_control) {
        return Err(format!(
            "{} holds a line break or control character: keep only the value",
            found.origin
        ));
    }
    Ok(value.to_owned())
}

fn read_secret_file(var: &str, path: &str) -> Result<String, String> {
    use crate::input::{Accept, MAX_SECRET, read_file};
    let bytes = read_file(Path::new(path), MAX_SECRET, Accept::RegularOnly)
        .map_err(|e| format!("cannot read {var} file {path}: {e}"))?;
    crate::input::check_private(Path::new(path))
        .map_err(|why| format!("{var} file {path} refused: {why}"))?;
    let text =
        String::from_utf8(bytes).map_err(|_| format!("{var} file {path} is not UTF-8 text"))?;
    let value = text.strip_suffix('\n').unwrap_or(&text);
    let value = value.strip_suffix('\r').unwrap_or(value);
    if value.is_empty() {
        return Err(format!("{var} points at an empty file: {path}"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!(
            "{var} file {path} holds more than one line or a control character: keep only the value (one trailing newline is fine)"
        ));
    }
    Ok(value.to_owned())
}
