//! One merged view of the settings: flags > environment > config.yml > defaults.
//!
//! The environment names and the config.yml keys are the Python connector's, so existing
//! deployments move over unchanged. clap already folds each flag's environment variable into
//! the flag value; this module adds the secrets (which have no flags), the `*_FILE` variants,
//! the file and the defaults, and validates what the command at hand needs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use log::LevelFilter;
use reqwest::Url;

use crate::cli::GlobalArgs;
use crate::error::Error;
use crate::secret::Secret;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_RETRIES: u32 = 3;
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(60);
pub const DEFAULT_QUEUE_THRESHOLD_MB: f64 = 500.0;
pub const DEFAULT_MAX_BUNDLE_SIZE: u64 = 1 << 30;

/// What a command needs; settings outside these groups are not required, and a malformed
/// value there is only a warning (a `fetch` must not fail on a placeholder `CONNECTOR_ID`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Needs {
    pub disinfox: bool,
    pub opencti: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Group {
    General,
    Disinfox,
    Opencti,
}

/// A config.yml key, its environment variable, and the group that needs it.
struct Key {
    yaml: &'static str,
    env: &'static str,
    group: Group,
}

const KEYS: &[Key] = &[
    key("opencti.url", "OPENCTI_URL", Group::Opencti),
    key("opencti.token", "OPENCTI_TOKEN", Group::Opencti),
    key("opencti.ssl_verify", "OPENCTI_SSL_VERIFY", Group::Opencti),
    key("connector.id", "CONNECTOR_ID", Group::Opencti),
    key("connector.name", "CONNECTOR_NAME", Group::Opencti),
    key("connector.scope", "CONNECTOR_SCOPE", Group::Opencti),
    key("connector.log_level", "CONNECTOR_LOG_LEVEL", Group::General),
    key(
        "connector.duration_period",
        "CONNECTOR_DURATION_PERIOD",
        Group::Opencti,
    ),
    key(
        "connector.queue_threshold",
        "CONNECTOR_QUEUE_THRESHOLD",
        Group::Opencti,
    ),
    key("disinfox.url", "DISINFOX_URL", Group::Disinfox),
    key("disinfox.api_key", "DISINFOX_API_KEY", Group::Disinfox),
    key(
        "disinfox_sync.state_file",
        "DISINFOX_SYNC_STATE_FILE",
        Group::General,
    ),
    key(
        "disinfox_sync.settle",
        "DISINFOX_SYNC_SETTLE",
        Group::General,
    ),
    key(
        "disinfox_sync.timeout",
        "DISINFOX_SYNC_TIMEOUT",
        Group::General,
    ),
    key(
        "disinfox_sync.connect_timeout",
        "DISINFOX_SYNC_CONNECT_TIMEOUT",
        Group::General,
    ),
    key(
        "disinfox_sync.retries",
        "DISINFOX_SYNC_RETRIES",
        Group::General,
    ),
    key(
        "disinfox_sync.retry_delay",
        "DISINFOX_SYNC_RETRY_DELAY",
        Group::General,
    ),
    key(
        "disinfox_sync.ca_cert",
        "DISINFOX_SYNC_CA_CERT",
        Group::General,
    ),
    key(
        "disinfox_sync.chunk_size",
        "DISINFOX_SYNC_CHUNK_SIZE",
        Group::General,
    ),
    key(
        "disinfox_sync.chunk_objects",
        "DISINFOX_SYNC_CHUNK_OBJECTS",
        Group::General,
    ),
    key(
        "disinfox_sync.max_bundle_size",
        "DISINFOX_SYNC_MAX_BUNDLE_SIZE",
        Group::General,
    ),
];

/// Keys the Python connector's config.yml may carry that mean nothing to a one-shot CLI.
const IGNORED_KEYS: &[&str] = &[
    "connector.type",
    "connector.run_and_terminate",
    "connector.confidence_level",
    "connector.update_existing_data",
    "connector.expose_metrics",
    "connector.queue_protocol",
    "opencti.json_logging",
];

const fn key(yaml: &'static str, env: &'static str, group: Group) -> Key {
    Key { yaml, env, group }
}

/// The validated settings.
#[derive(Debug)]
pub struct Config {
    pub file: Option<PathBuf>,
    pub disinfox_url: Option<Url>,
    pub disinfox_key: Option<Secret>,
    pub opencti_url: Option<Url>,
    pub opencti_token: Option<Secret>,
    pub opencti_ssl_verify: bool,
    pub connector_id: Option<String>,
    pub connector_name: String,
    pub connector_scope: Vec<String>,
    pub duration_period: Option<Duration>,
    pub queue_threshold_mb: f64,
    pub log_level: Option<LevelFilter>,
    pub http: HttpOptions,
    pub state_file: Option<PathBuf>,
    pub settle: Duration,
    pub chunk_size: Option<u64>,
    pub chunk_objects: Option<u64>,
    pub max_bundle_size: u64,
    /// Problems that do not stop this command; logged once logging is up.
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct HttpOptions {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub retries: u32,
    pub retry_delay: Duration,
    pub ca_cert: Option<PathBuf>,
}

/// Where a value came from, for error messages that point at the thing to fix.
struct Found {
    value: String,
    origin: String,
}

struct Sources<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    file: BTreeMap<String, String>,
    file_path: Option<PathBuf>,
}

impl Sources<'_> {
    /// flag (already merged with its env var by clap) > env > file.
    fn get(&self, flag: Option<&str>, key: &Key) -> Option<Found> {
        if let Some(v) = flag.filter(|v| !v.is_empty()) {
            return Some(found(v, format!("--{} / {}", flag_name(key), key.env)));
        }
        if let Some(v) = (self.env)(key.env).filter(|v| !v.is_empty()) {
            return Some(found(&v, key.env.to_owned()));
        }
        let path = self.file_path.as_deref().unwrap_or(Path::new("config.yml"));
        self.file
            .get(key.yaml)
            .map(|v| found(v, format!("{} in {}", key.yaml, path.display())))
    }
}

fn k(yaml: &str) -> &'static Key {
    KEYS.iter().find(|k| k.yaml == yaml).expect("known key")
}

fn found(value: &str, origin: String) -> Found {
    Found {
        value: value.to_owned(),
        origin,
    }
}

fn flag_name(key: &Key) -> String {
    let leaf = key.yaml.rsplit('.').next().unwrap_or(key.yaml);
    match key.yaml {
        "disinfox.url" => "disinfox-url".into(),
        "opencti.url" => "opencti-url".into(),
        "connector.log_level" => "log-level".into(),
        _ => leaf.replace('_', "-"),
    }
}

/// Collects problems, split into those that stop the command and those that only warn.
struct Problems<'n> {
    needs: &'n Needs,
    errors: Vec<String>,
    warnings: Vec<String>,
}

impl Problems<'_> {
    fn report(&mut self, group: Group, message: String) {
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

    /// Parses a present value; reports and returns `None` when it does not parse.
    fn parse<T>(
        &mut self,
        key: &Key,
        found: Option<Found>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let found = found?;
        match parse(&found.value) {
            Ok(v) => Some(v),
            Err(why) => {
                self.report(
                    key.group,
                    format!("invalid {} ({}): {why}", key.env, found.origin),
                );
                None
            }
        }
    }
}

impl Config {
    /// Loads and validates. Every problem is one line of the returned error (exit 78).
    pub fn load(
        args: &GlobalArgs,
        needs: Needs,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, Error> {
        let (file_path, file) = load_file(args.config.as_deref())?;
        let mut warnings = Vec::new();
        let file = flatten_known(file, &mut warnings);
        let src = Sources {
            env,
            file,
            file_path: file_path.clone(),
        };
        let mut p = Problems {
            needs: &needs,
            errors: Vec::new(),
            warnings,
        };

        let disinfox_url = p.parse(
            k("disinfox.url"),
            src.get(args.disinfox_url.as_deref(), k("disinfox.url")),
            parse_url,
        );
        let disinfox_key = secret(&src, &mut p, k("disinfox.api_key"));
        let opencti_url = p.parse(
            k("opencti.url"),
            src.get(args.opencti_url.as_deref(), k("opencti.url")),
            parse_url,
        );
        let opencti_token = secret(&src, &mut p, k("opencti.token"));
        let opencti_ssl_verify = p
            .parse(
                k("opencti.ssl_verify"),
                src.get(None, k("opencti.ssl_verify")),
                parse_bool,
            )
            .unwrap_or(true);
        let connector_id = p.parse(k("connector.id"), src.get(None, k("connector.id")), |v| {
            parse_uuid(v).map(|_| v.to_ascii_lowercase())
        });
        let connector_name = p
            .parse(
                k("connector.name"),
                src.get(None, k("connector.name")),
                parse_name,
            )
            .unwrap_or_else(|| "DISINFOX".to_owned());
        let connector_scope = p
            .parse(
                k("connector.scope"),
                src.get(None, k("connector.scope")),
                |v| Ok(split_list(v)),
            )
            .unwrap_or_else(|| vec!["stix2".to_owned()]);
        let duration_period = p.parse(
            k("connector.duration_period"),
            src.get(None, k("connector.duration_period")),
            parse_iso8601_duration,
        );
        let queue_threshold_mb = p
            .parse(
                k("connector.queue_threshold"),
                src.get(None, k("connector.queue_threshold")),
                parse_positive_f64,
            )
            .unwrap_or(DEFAULT_QUEUE_THRESHOLD_MB);
        let log_level = p.parse(
            k("connector.log_level"),
            src.get(args.log_level.as_deref(), k("connector.log_level")),
            parse_level,
        );
        let duration = |p: &mut Problems, y: &str, flag: Option<Duration>| {
            flag.or_else(|| p.parse(k(y), src.get(None, k(y)), crate::cli::parse_duration))
        };
        let http = HttpOptions {
            timeout: duration(&mut p, "disinfox_sync.timeout", args.timeout)
                .unwrap_or(DEFAULT_TIMEOUT),
            connect_timeout: duration(
                &mut p,
                "disinfox_sync.connect_timeout",
                args.connect_timeout,
            )
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            retries: args
                .retries
                .or_else(|| {
                    p.parse(
                        k("disinfox_sync.retries"),
                        src.get(None, k("disinfox_sync.retries")),
                        |v| {
                            v.parse::<u32>()
                                .map_err(|_| "expected a whole number such as 3".into())
                        },
                    )
                })
                .unwrap_or(DEFAULT_RETRIES),
            retry_delay: duration(&mut p, "disinfox_sync.retry_delay", args.retry_delay)
                .unwrap_or(DEFAULT_RETRY_DELAY),
            ca_cert: args.ca_cert.clone().or_else(|| {
                src.get(None, k("disinfox_sync.ca_cert"))
                    .map(|f| PathBuf::from(f.value))
            }),
        };
        let state_file = src
            .get(None, k("disinfox_sync.state_file"))
            .map(|f| PathBuf::from(f.value));
        let settle = duration(&mut p, "disinfox_sync.settle", None).unwrap_or(DEFAULT_SETTLE);
        let size =
            |p: &mut Problems, y: &str| p.parse(k(y), src.get(None, k(y)), crate::cli::parse_size);
        let chunk_size = size(&mut p, "disinfox_sync.chunk_size");
        let chunk_objects = size(&mut p, "disinfox_sync.chunk_objects");
        let max_bundle_size =
            size(&mut p, "disinfox_sync.max_bundle_size").unwrap_or(DEFAULT_MAX_BUNDLE_SIZE);

        if needs.disinfox {
            require(
                &mut p,
                disinfox_url.is_some(),
                "DISINFOX_URL",
                "the DISINFOX endpoint, e.g. http://public-api:5000/incidents",
            );
            require(
                &mut p,
                disinfox_key.is_some(),
                "DISINFOX_API_KEY",
                "your DISINFOX API key (or DISINFOX_API_KEY_FILE)",
            );
        }
        if needs.opencti {
            require(
                &mut p,
                opencti_url.is_some(),
                "OPENCTI_URL",
                "the OpenCTI base URL, e.g. http://opencti:8080",
            );
            require(
                &mut p,
                opencti_token.is_some(),
                "OPENCTI_TOKEN",
                "an OpenCTI API token (or OPENCTI_TOKEN_FILE)",
            );
            require(
                &mut p,
                connector_id.is_some(),
                "CONNECTOR_ID",
                "a UUID that identifies this connector, e.g. from `uuidgen`",
            );
        }
        if !p.errors.is_empty() {
            return Err(Error::Config(p.errors.join("\n")));
        }
        Ok(Config {
            file: file_path,
            disinfox_url,
            disinfox_key,
            opencti_url,
            opencti_token,
            opencti_ssl_verify,
            connector_id,
            connector_name,
            connector_scope,
            duration_period,
            queue_threshold_mb,
            log_level,
            http,
            state_file,
            settle,
            chunk_size,
            chunk_objects,
            max_bundle_size,
            warnings: p.warnings,
        })
    }
}

fn require(p: &mut Problems, present: bool, env: &str, what: &str) {
    if !present && !p.errors.iter().any(|e| e.contains(env)) {
        p.errors.push(format!("missing {env}: set it to {what}"));
    }
}

/// A secret from `NAME`, `NAME_FILE` or the config file; setting both variables is ambiguous.
fn secret(src: &Sources, p: &mut Problems, key: &Key) -> Option<Secret> {
    let file_var = format!("{}_FILE", key.env);
    let direct = (src.env)(key.env).filter(|v| !v.is_empty());
    let path = (src.env)(&file_var).filter(|v| !v.is_empty());
    match (direct, path) {
        (Some(_), Some(_)) => {
            p.report(
                key.group,
                format!("both {} and {file_var} are set: keep only one", key.env),
            );
            None
        }
        (Some(v), None) => Some(Secret::new(v)),
        (None, Some(path)) => match std::fs::read_to_string(&path) {
            Ok(text) => {
                let value = text.strip_suffix('\n').unwrap_or(&text);
                let value = value.strip_suffix('\r').unwrap_or(value);
                if value.is_empty() {
                    p.report(
                        key.group,
                        format!("{file_var} points at an empty file: {path}"),
                    );
                    None
                } else {
                    Some(Secret::new(value.to_owned()))
                }
            }
            Err(e) => {
                p.report(
                    key.group,
                    format!("cannot read {file_var} file {path}: {e}"),
                );
                None
            }
        },
        (None, None) => src.get(None, key).map(|f| Secret::new(f.value)),
    }
}

/// Explicit path: must exist. Default path (user config directory): optional.
fn load_file(explicit: Option<&Path>) -> Result<(Option<PathBuf>, serde_json::Value), Error> {
    let (path, must_exist) = match explicit {
        Some(p) => (p.to_path_buf(), true),
        None => match default_config_path() {
            Some(p) => (p, false),
            None => return Ok((None, serde_json::Value::Null)),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {
            return Ok((None, serde_json::Value::Null));
        }
        Err(e) => {
            return Err(Error::Config(format!(
                "cannot read config file {}: {e}; fix the path given by --config / DISINFOX_SYNC_CONFIG",
                path.display()
            )));
        }
    };
    let value: serde_json::Value = if text.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_saphyr::from_str(&text).map_err(|e| {
            let first = e.to_string();
            let first = first.lines().next().unwrap_or("").to_owned();
            Error::Config(format!(
                "config file {} is not valid YAML: {first}",
                path.display()
            ))
        })?
    };
    Ok((Some(path), value))
}

pub fn default_config_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "disinfox-sync")
        .map(|d| d.config_dir().join("config.yml"))
}

/// Flattens `a: {b: v}` into `"a.b" → v`, keeping scalars only; warns on keys we do not know.
fn flatten_known(value: serde_json::Value, warnings: &mut Vec<String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![(String::new(), value)];
    while let Some((prefix, value)) = stack.pop() {
        match value {
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
                } else if !IGNORED_KEYS.contains(&prefix.as_str()) {
                    warnings.push(format!("unknown config key '{prefix}' ignored"));
                }
            }
        }
    }
    out
}

fn parse_url(v: &str) -> Result<Url, String> {
    let url = Url::parse(v)
        .map_err(|e| format!("'{v}' is not a URL ({e}); use e.g. https://host:port/path"))?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        _ => Err(format!(
            "'{v}' must be an http:// or https:// URL with a host"
        )),
    }
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Ok(true),
        "false" | "no" | "0" | "off" => Ok(false),
        _ => Err(format!("'{v}' is not a boolean; use true or false")),
    }
}

fn parse_name(v: &str) -> Result<String, String> {
    let t = v.trim();
    if t.chars().count() < 2 {
        return Err("OpenCTI needs a name of at least 2 characters".into());
    }
    Ok(t.to_owned())
}

fn parse_positive_f64(v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Ok(n),
        _ => Err(format!("'{v}' is not a positive number of megabytes")),
    }
}

pub fn parse_level(v: &str) -> Result<LevelFilter, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "error" => Ok(LevelFilter::Error),
        "warn" | "warning" => Ok(LevelFilter::Warn),
        "info" => Ok(LevelFilter::Info),
        "debug" => Ok(LevelFilter::Debug),
        "trace" => Ok(LevelFilter::Trace),
        _ => Err(format!(
            "unknown log level '{v}'; use one of error, warn, info, debug"
        )),
    }
}

pub fn parse_uuid(v: &str) -> Result<(), String> {
    let groups: Vec<&str> = v.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip(lens)
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(format!("'{v}' is not a UUID; generate one with `uuidgen`"))
    }
}

fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// ISO-8601 durations as the Python connector's `CONNECTOR_DURATION_PERIOD` (`PT5M`, `P1D`,
/// `P1DT12H`, `PT0.5S`). Years and months are calendar-dependent, so they are refused.
pub fn parse_iso8601_duration(v: &str) -> Result<Duration, String> {
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
        assert_eq!(parse_level("WARNING"), Ok(LevelFilter::Warn));
        assert!(parse_level("verbose").is_err());
    }

    #[test]
    fn flatten_warns_on_unknown_keys() {
        let v = serde_json::json!({"opencti": {"url": "http://x", "typo": 1}, "connector": {"type": "EXTERNAL_IMPORT"}});
        let mut w = Vec::new();
        let m = flatten_known(v, &mut w);
        assert_eq!(m.get("opencti.url").map(String::as_str), Some("http://x"));
        assert_eq!(
            w,
            vec!["unknown config key 'opencti.typo' ignored".to_owned()]
        );
    }
}
