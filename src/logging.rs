//! stderr logging for cron mail and Kubernetes log collectors. Every line passes through
//! `secret::scrub`, so a secret that slipped into a message still never leaves the process.
//! Under JSON logging every stderr line is a JSON object, the final error line included, so
//! pycti-style log pipelines never meet a line they cannot parse.

use std::io::Write;
use std::sync::OnceLock;

use log::LevelFilter;

use crate::cli::LogFormat;

/// `level`: from --log-level / CONNECTOR_LOG_LEVEL / config.yml; without it RUST_LOG decides,
/// else info. Other crates stay at warn so HTTP internals never flood (or leak into) the log.
pub fn init(level: Option<LevelFilter>, format: LogFormat) {
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
            let line = json_line(record.level().as_str(), record.target(), &message);
            writeln!(buf, "{line}")
        }),
    };
    // A second init (tests calling run twice in one process) is harmless.
    let _ = builder.try_init();
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// `--log-format` / `DISINFOX_SYNC_LOG_FORMAT` wins; else pycti's `OPENCTI_JSON_LOGGING`
/// (environment or config.yml); else text.
pub fn choose_format(flag: Option<LogFormat>, json_logging: Option<bool>) -> LogFormat {
    match (flag, json_logging) {
        (Some(format), _) => format,
        (None, Some(true)) => LogFormat::Json,
        (None, _) => LogFormat::Text,
    }
}

/// The format before any configuration was read (a command line clap refused): the
/// environment alone decides.
pub fn format_from_env() -> LogFormat {
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|v| v.trim().to_ascii_lowercase())
    };
    let flag = match var("DISINFOX_SYNC_LOG_FORMAT").as_deref() {
        Some("json") => Some(LogFormat::Json),
        Some("text") => Some(LogFormat::Text),
        _ => None,
    };
    let json_logging = var("OPENCTI_JSON_LOGGING").and_then(|v| crate::config::parse_bool(&v).ok());
    choose_format(flag, json_logging)
}

/// Writes the failure that ends the run, one line per problem, in the format in effect.
pub fn error_lines(out: &mut impl Write, message: &str) -> std::io::Result<()> {
    let format = FORMAT.get().copied().unwrap_or_else(format_from_env);
    for line in message.lines() {
        match format {
            LogFormat::Text => writeln!(out, "disinfox-sync: error: {line}")?,
            LogFormat::Json => writeln!(out, "{}", json_line("ERROR", "disinfox_sync", line))?,
        }
    }
    Ok(())
}

fn json_line(level: &str, target: &str, message: &str) -> serde_json::Value {
    serde_json::json!({
        "timestamp": timestamp(),
        "level": level,
        "target": target,
        "message": crate::secret::scrub(message),
    })
}

fn timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

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
