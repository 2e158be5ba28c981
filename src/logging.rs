//! stderr logging for cron mail and Kubernetes log collectors. Every line passes through
//! `secret::scrub`, so a secret that slipped into a message still never leaves the process.

use std::io::Write;

use log::LevelFilter;

use crate::cli::LogFormat;

/// `level`: from --log-level / CONNECTOR_LOG_LEVEL / config.yml; without it RUST_LOG decides,
/// else info. Other crates stay at warn so HTTP internals never flood (or leak into) the log.
pub fn init(level: Option<LevelFilter>, format: LogFormat) {
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
            let obj = serde_json::json!({
                "timestamp": timestamp(),
                "level": record.level().as_str(),
                "target": record.target(),
                "message": crate::secret::scrub(&record.args().to_string()),
            });
            writeln!(buf, "{obj}")
        }),
    };
    // A second init (tests calling run twice in one process) is harmless.
    let _ = builder.try_init();
}

fn timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
