//! `generate` (hidden): man pages and shell completions from the clap definitions. The files
//! are committed; a test renders them again and fails when they are stale.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::error::{Error, Result};

const BIN: &str = "disinfox-sync";

const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "DISINFOX_URL",
        "DISINFOX base URL or full /incidents endpoint (config.yml: disinfox.url).",
    ),
    (
        "DISINFOX_API_KEY, DISINFOX_API_KEY_FILE",
        "DISINFOX API key, or a file holding it (disinfox.api_key).",
    ),
    ("OPENCTI_URL", "OpenCTI base URL (opencti.url)."),
    (
        "OPENCTI_TOKEN, OPENCTI_TOKEN_FILE",
        "OpenCTI API token, or a file holding it (opencti.token).",
    ),
    (
        "OPENCTI_SSL_VERIFY",
        "false turns TLS verification off for OpenCTI, with a warning (opencti.ssl_verify).",
    ),
    (
        "CONNECTOR_ID",
        "UUID of this connector in OpenCTI; its state holds the cursor (connector.id).",
    ),
    (
        "CONNECTOR_NAME",
        "Connector name shown in OpenCTI, default DISINFOX (connector.name).",
    ),
    (
        "CONNECTOR_SCOPE",
        "Comma-separated connector scope, default stix2 (connector.scope).",
    ),
    (
        "CONNECTOR_LOG_LEVEL",
        "error, warn, info or debug; default info (connector.log_level).",
    ),
    (
        "CONNECTOR_DURATION_PERIOD",
        "ISO-8601 schedule such as PT1H; informational, shown as the next run in OpenCTI (connector.duration_period).",
    ),
    (
        "CONNECTOR_QUEUE_THRESHOLD",
        "Queue size in MB above which sync skips its run, default 500 (connector.queue_threshold).",
    ),
    (
        "DISINFOX_SYNC_CONFIG",
        "Configuration file to read instead of the default.",
    ),
    (
        "DISINFOX_SYNC_STATE_FILE",
        "Keep the cursor in this file instead of OpenCTI.",
    ),
    (
        "DISINFOX_SYNC_METRICS_FILE",
        "sync writes its metrics to this file for node_exporter's textfile collector (disinfox_sync.metrics_file).",
    ),
    (
        "DISINFOX_SYNC_PUSHGATEWAY_URL",
        "sync pushes its metrics to this Prometheus Pushgateway (disinfox_sync.pushgateway_url).",
    ),
    (
        "DISINFOX_SYNC_PUSHGATEWAY_USER, DISINFOX_SYNC_PUSHGATEWAY_PASSWORD, DISINFOX_SYNC_PUSHGATEWAY_PASSWORD_FILE",
        "Basic auth for the Pushgateway; the password, or a file holding it (disinfox_sync.pushgateway_user, disinfox_sync.pushgateway_password).",
    ),
    (
        "RUST_LOG",
        "Log filter used when no log level is configured.",
    ),
    (
        "SSL_CERT_FILE, HTTPS_PROXY, HTTP_PROXY, NO_PROXY",
        "Standard TLS trust and proxy settings.",
    ),
];

const FILES: &[(&str, &str)] = &[
    (
        "~/.config/disinfox-sync/config.yml",
        "Default configuration file (the Python connector's config.yml layout).",
    ),
    (
        "~/.local/state/disinfox-sync/state.json",
        "Default state file when --state-file is given without a path; a .lock file beside it guards against overlapping runs.",
    ),
];

/// Every generated file, relative to the project root.
pub fn render_all() -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut files = Vec::new();
    let cmd = Cli::command();
    files.push((PathBuf::from(format!("man/{BIN}.1")), man_page(&cmd, BIN)?));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("{BIN}-{}", sub.get_name());
        let sub = sub
            .clone()
            .name(name.clone())
            .display_name(name.clone())
            .version(env!("CARGO_PKG_VERSION"));
        files.push((
            PathBuf::from(format!("man/{name}.1")),
            man_page(&sub, &name)?,
        ));
    }
    for (shell, file) in [
        (Shell::Bash, format!("{BIN}.bash")),
        (Shell::Zsh, format!("_{BIN}")),
        (Shell::Fish, format!("{BIN}.fish")),
        (Shell::Elvish, format!("{BIN}.elv")),
        (Shell::PowerShell, format!("_{BIN}.ps1")),
    ] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), BIN, &mut out);
        files.push((PathBuf::from("completions").join(file), out));
    }
    Ok(files)
}

fn man_page(cmd: &clap::Command, name: &str) -> Result<Vec<u8>> {
    // The pages carry the bare version (the long one names a commit, and would make every
    // commit's pages stale), and list no `help` subcommand: it has no page of its own.
    let page = cmd
        .clone()
        .long_version(None::<&str>)
        .disable_help_subcommand(true);
    let man = clap_mangen::Man::new(page)
        .title(name.to_uppercase())
        .date("")
        .source(format!("disinfox-sync {}", env!("CARGO_PKG_VERSION")));
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut out)?;
    }
    out.extend_from_slice(exit_status_section().as_bytes());
    out.extend_from_slice(list_section("ENVIRONMENT", ENVIRONMENT).as_bytes());
    out.extend_from_slice(list_section("FILES", FILES).as_bytes());
    man.render_version_section(&mut out)?;
    Ok(out)
}

fn exit_status_section() -> String {
    let mut s = String::from(".SH \"EXIT STATUS\"\n");
    for row in crate::exit_codes::ROWS {
        let meaning = crate::exit_codes::plain(row.meaning);
        s.push_str(&format!(
            ".TP\n.B {}\n{}\n.br\nWhat to do: {}\n",
            row.code.code(),
            escape(&meaning),
            escape(row.advice)
        ));
    }
    s
}

fn list_section(title: &str, items: &[(&str, &str)]) -> String {
    let mut s = format!(".SH {title}\n");
    for (name, text) in items {
        s.push_str(&format!(".TP\n.B {}\n{}\n", escape(name), escape(text)));
    }
    s
}

fn escape(text: &str) -> String {
    let t = text.replace('\\', "\\\\").replace('-', "\\-");
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}

/// Writes every file under `root`.
pub fn run(root: &Path) -> Result<()> {
    for (rel, bytes) in render_all()? {
        let path = root.join(&rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::LocalIo(format!("cannot create {}: {e}", dir.display())))?;
        }
        std::fs::write(&path, bytes)
            .map_err(|e| Error::LocalIo(format!("cannot write {}: {e}", path.display())))?;
        log::info!("wrote {}", path.display());
    }
    Ok(())
}
