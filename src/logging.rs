//! stderr logging for cron mail and Kubernetes log collectors. Every line passes through
//! `secret::scrub`, so a secret that slipped into a message still never leaves the process.
//! Under JSON logging every stderr line is a JSON object, the final error line included, so
//! pycti-style log pipelines never meet a line they cannot parse.

use std::cell::RefCell;
use std::io::Write;
use std::sync::OnceLock;

use log::LevelFilter;

use crate::cli::LogFormat;
use crate::config::environment::ENV_LOG_FORMAT;
use crate::config::keys::OPENCTI_JSON_LOGGING;

/// `level`: from --log-level / CONNECTOR_LOG_LEVEL / config.yml; without it RUST_LOG decides,
/// else info. Other crates stay at warn so HTTP internals never flood (or leak into) the log.
pub(crate) fn init(level: Option<LevelFilter>, format: LogFormat) {
    let _ = FORMAT.set(format);
    let mut builder = env_logger::Builder::new();
    match level {
        Some(level) => {
            builder.filter_level(LevelFilter::Warn.min(level));
            builder.filter_module("disinfox_sync", level);
        }
        None => match std::env::var("RUST_LOG") {
            Ok(spec) if !spec.trim().is_empty() => {
                builder.parse_filters(&spec);
            }
            _ => {
                builder.filter_level(LevelFilter::Warn);
                builder.filter_module("disinfox_sync", LevelFilter::Info);
            }
        },
    }
    builder.target(env_logger::Target::Stderr);
    match format {
        LogFormat::Text => builder.format(|buf, record| {
            let line = crate::secret::scrub(&record.args().to_string());
            writeln!(buf, "{} {:<5} {line}", timestamp(), record.level())
        }),
        LogFormat::Json => builder.format(|buf, record| {
            let message = record.args().to_string();
            let attributes = ATTRIBUTES.with(|a| a.borrow().clone());
            let line = json_line(record.level().as_str(), &message, attributes);
            writeln!(buf, "{line}")
        }),
    };
    // A second init (tests calling run twice in one process) is harmless.
    let _ = builder.try_init();
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// The connector name, pycti's logger `name`; the default name until the settings are read.
static NAME: OnceLock<String> = OnceLock::new();

thread_local! {
    /// The structured fields of the line being logged on this thread (see [`with_attributes`]).
    static ATTRIBUTES: RefCell<Option<serde_json::Value>> = const { RefCell::new(None) };
}

/// Sets the `name` of every JSON line: the connector's name, as pycti's connector helper
/// names its logger (`self.api.logger_class(self.connect_name)`). The first call wins.
pub(crate) fn set_name(name: &str) {
    let _ = NAME.set(name.to_owned());
}

/// Runs `log` (a `log::info!` and the like) with `attributes` as the JSON line's structured
/// fields, as pycti's `logger.info(message, meta)` puts `meta` under `attributes`. Text
/// lines show the message only.
pub(crate) fn with_attributes<R>(attributes: serde_json::Value, log: impl FnOnce() -> R) -> R {
    ATTRIBUTES.with(|a| *a.borrow_mut() = Some(attributes));
    let result = log();
    ATTRIBUTES.with(|a| *a.borrow_mut() = None);
    result
}

/// `--log-format` / `DISINFOX_SYNC_LOG_FORMAT` wins; else pycti's `OPENCTI_JSON_LOGGING`
/// (environment or config.yml); else text.
pub(crate) fn choose_format(flag: Option<LogFormat>, json_logging: Option<bool>) -> LogFormat {
    match (flag, json_logging) {
        (Some(format), _) => format,
        (None, Some(true)) => LogFormat::Json,
        (None, _) => LogFormat::Text,
    }
}

/// The format before any configuration was read (a command line clap refused, a panic):
/// `--log-format` as typed, else the environment.
pub(crate) fn format_from_env() -> LogFormat {
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|v| v.trim().to_ascii_lowercase())
    };
    let named = |v: &str| match v.trim().to_ascii_lowercase().as_str() {
        "json" => Some(LogFormat::Json),
        "text" => Some(LogFormat::Text),
        _ => None,
    };
    let flag = typed_log_format(std::env::args().skip(1))
        .as_deref()
        .and_then(named)
        .or_else(|| var(ENV_LOG_FORMAT).as_deref().and_then(named));
    let json_logging =
        var(OPENCTI_JSON_LOGGING.env).and_then(|v| crate::config::parse_bool(&v).ok());
    choose_format(flag, json_logging)
}

/// The last `--log-format` value on a command line (`--log-format json` or `=json`).
fn typed_log_format(args: impl Iterator<Item = String>) -> Option<String> {
    let mut found = None;
    let mut args = args.take_while(|a| a != "--");
    while let Some(arg) = args.next() {
        if arg == "--log-format" {
            found = args.next();
        } else if let Some(v) = arg.strip_prefix("--log-format=") {
            found = Some(v.to_owned());
        }
    }
    found
}

/// Secrets out of text that did not pass through the logger (clap's messages): registered
/// secrets, and the user part of any URL in it (a short password is not registered).
pub(crate) fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c == '\'' || c == '"' || c.is_whitespace())
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(user_end) => {
                out.push_str("[redacted]");
                rest = &tail[user_end..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    crate::secret::scrub(&out)
}

/// A panic is a bug: one line in the format in effect (no backtrace, which could show values
/// and means nothing to an operator), and the status for a bug, whatever thread panicked.
pub(crate) fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let line = format!("internal error (a bug; please report it): {what}{place}");
        let _ = error_lines(&mut std::io::stderr().lock(), &line);
        std::process::exit(crate::exit_codes::ExitCode::Software.code().into());
    }));
}

/// Writes the failure that ends the run, one line per problem, in the format in effect.
pub(crate) fn error_lines(out: &mut impl Write, message: &str) -> std::io::Result<()> {
    let format = FORMAT.get().copied().unwrap_or_else(format_from_env);
    for line in message.lines() {
        match format {
            LogFormat::Text => writeln!(out, "disinfox-sync: error: {line}")?,
            LogFormat::Json => writeln!(out, "{}", json_line("ERROR", line, None))?,
        }
    }
    Ok(())
}

/// One line with the fields of pycti's JSON logger (pycti 6.8.10, `pycti/utils/opencti_logger.py`:
/// `CustomJsonFormatter("%(timestamp)s %(level)s %(name)s %(message)s")`, the level upper case,
/// and `AppLogger.prepare_meta` putting a call's structured fields under `attributes`), so
/// that log pipelines built for connectors read these lines too.
fn json_line(level: &str, message: &str, attributes: Option<serde_json::Value>) -> String {
    let name = NAME
        .get()
        .map_or(crate::config::DEFAULT_CONNECTOR_NAME, String::as_str);
    let mut line = serde_json::json!({
        "timestamp": timestamp(),
        "level": level.to_ascii_uppercase(),
        "name": name,
        "message": message,
    });
    if let Some(attributes) = attributes {
        line["attributes"] = attributes;
    }
    // The whole line: a secret could sit in an attribute as well as in the message.
    crate::secret::scrub(&line.to_string())
}

fn timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_url_credentials() {
        assert_eq!(
            scrub("invalid value 'http://u:pw@host:1/x' for '--pushgateway <URL>'"),
            "invalid value 'http://[redacted]@host:1/x' for '--pushgateway <URL>'"
        );
        assert_eq!(scrub("see https://host/a@b"), "see https://host/a@b");
    }

    #[test]
    fn the_typed_log_format_is_found() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let found = |a: &[&str]| typed_log_format(args(a).into_iter());
        assert_eq!(
            found(&["--log-format", "json", "fetch"]).as_deref(),
            Some("json")
        );
        assert_eq!(
            found(&["fetch", "--log-format=text"]).as_deref(),
            Some("text")
        );
        assert_eq!(found(&["fetch", "--", "--log-format=json"]), None);
        assert_eq!(found(&["fetch"]), None);
    }

    #[test]
    fn json_lines_carry_pycti_fields() {
        let plain: serde_json::Value =
            serde_json::from_str(&json_line("warn", "hello", None)).unwrap();
        let keys: Vec<&str> = plain
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["level", "message", "name", "timestamp"]);
        assert_eq!(plain["level"], "WARN");
        let attrs = serde_json::json!({"objects": 3, "work_id": "w"});
        let with: serde_json::Value =
            serde_json::from_str(&json_line("INFO", "done", Some(attrs.clone()))).unwrap();
        assert_eq!(with["attributes"], attrs);
    }

    #[test]
    fn flag_beats_opencti_json_logging() {
        assert_eq!(choose_format(None, Some(true)), LogFormat::Json);
        assert_eq!(choose_format(None, Some(false)), LogFormat::Text);
        assert_eq!(choose_format(None, None), LogFormat::Text);
        assert_eq!(
            choose_format(Some(LogFormat::Text), Some(true)),
            LogFormat::Text
        );
    }
}
