//! Every variable the binary reads, for `--help` and the man pages: the settings of
//! [`KEYS`](super::keys::KEYS) and those read outside config.yml.

use super::keys::{ALL, CHUNKING, Commands, KEYS, SYNC};

/// Variables read outside config.yml: the name, the subcommands, the description.
pub(crate) struct EnvOnly {
    pub env: &'static str,
    pub commands: Commands,
    pub help: &'static str,
}

pub(crate) const ENV_CONFIG: &str = "DISINFOX_SYNC_CONFIG";
pub(crate) const ENV_LOG_FORMAT: &str = "DISINFOX_SYNC_LOG_FORMAT";
pub(crate) const ENV_ALLOW_LARGE_CHUNKS: &str = "DISINFOX_SYNC_ALLOW_LARGE_CHUNKS";
pub(crate) const ENV_SYSCONFDIR: &str = "DISINFOX_SYNC_SYSCONFDIR";
pub(crate) const ENV_RUN_AND_TERMINATE: &str = "CONNECTOR_RUN_AND_TERMINATE";

pub(crate) const ENV_ONLY: &[EnvOnly] = &[
    EnvOnly {
        env: ENV_CONFIG,
        commands: ALL,
        help: "Configuration file to read instead of ~/.config/disinfox-sync/config.yml and /etc/disinfox-sync/config.yml (--config).",
    },
    EnvOnly {
        env: ENV_SYSCONFDIR,
        commands: ALL,
        help: "Directory that replaces /etc in the system-wide /etc/disinfox-sync/config.yml, for packagers.",
    },
    EnvOnly {
        env: ENV_LOG_FORMAT,
        commands: ALL,
        help: "text or json: the format of the log lines on stderr (--log-format).",
    },
    EnvOnly {
        env: ENV_RUN_AND_TERMINATE,
        commands: SYNC,
        help: "pycti's loop switch: false is answered with one warning giving the cron, OnCalendar= and CronJob schedule that replace the loop (the scheduler runs this tool).",
    },
    EnvOnly {
        env: ENV_ALLOW_LARGE_CHUNKS,
        commands: CHUNKING,
        help: "true allows --chunk-size above 12M, for brokers whose max_message_size was raised (--allow-large-chunks).",
    },
    EnvOnly {
        env: "RUST_LOG",
        commands: ALL,
        help: "Log filter used when no log level is configured.",
    },
    EnvOnly {
        env: "SSL_CERT_FILE",
        commands: ALL,
        help: "PEM file of CA certificates that replaces the system roots; SSL_CERT_DIR likewise for a directory.",
    },
    EnvOnly {
        env: "SSL_CERT_DIR",
        commands: ALL,
        help: "Directory of CA certificates that replaces the system roots.",
    },
    EnvOnly {
        env: "HTTPS_PROXY",
        commands: ALL,
        help: "Standard proxy settings, with HTTP_PROXY, ALL_PROXY and NO_PROXY (lower case too).",
    },
    EnvOnly {
        env: "HTTP_PROXY",
        commands: ALL,
        help: "Proxy for http:// URLs.",
    },
    EnvOnly {
        env: "NO_PROXY",
        commands: ALL,
        help: "Hosts reached without the proxy.",
    },
];

/// Every variable `command` reads, with its description, `NAME_FILE` after a secret's name
/// and the config.yml key after the description.
pub(crate) fn environment(command: Option<&str>) -> Vec<(String, String)> {
    let wanted = |commands: Commands| command.is_none_or(|c| commands.contains(&c));
    let keys = KEYS.iter().filter(|k| wanted(k.commands)).map(|k| {
        let name = if k.secret {
            format!("{0}, {0}_FILE", k.env)
        } else {
            k.env.to_owned()
        };
        (name, format!("{} (config.yml: {})", k.help, k.yaml))
    });
    let others = ENV_ONLY
        .iter()
        .filter(|e| wanted(e.commands))
        .map(|e| (e.env.to_owned(), e.help.to_owned()));
    keys.chain(others).collect()
}

/// The `Environment:` paragraph of a subcommand's `--help`.
pub(crate) fn environment_help(command: &str) -> String {
    let mut text = String::from("Environment:\n");
    for (name, help) in environment(Some(command)) {
        text.push_str(&format!("  {name}\n"));
        let mut line = String::new();
        for word in help.split(' ') {
            if !line.is_empty() && INDENT.len() + line.len() + 1 + word.len() > WIDTH {
                text.push_str(&format!("{INDENT}{line}\n"));
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        text.push_str(&format!("{INDENT}{line}\n"));
    }
    text
}

const WIDTH: usize = 92;
const INDENT: &str = "          ";
