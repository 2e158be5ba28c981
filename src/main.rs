use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use disinfox_sync::cli::{Cli, LogFormat};
use disinfox_sync::error::{Outcome, classify, render};
use disinfox_sync::logging;

fn main() -> ExitCode {
    disinfox_sync::output::note_closed_stdout();
    drop_empty_settings();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A refused command line under JSON logging is still one JSON line.
        Err(e) if e.use_stderr() && logging::format_from_env() == LogFormat::Json => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid command line");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            let _ = logging::error_lines(&mut std::io::stderr().lock(), first);
            return ExitCode::from(e.exit_code() as u8);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    match disinfox_sync::commands::run(cli) {
        Ok(code) => code,
        Err(err) => match classify(&err) {
            Outcome::QuietSuccess => ExitCode::SUCCESS,
            Outcome::Fail(code) => {
                // Not eprintln!: a closed stderr must not turn a failure into a panic.
                let _ = logging::error_lines(&mut std::io::stderr().lock(), &render(&err));
                code.into()
            }
        },
    }
}

/// An empty variable means "not set", as the configuration module reads it too: clap would
/// otherwise hand the empty text to a flag the user never typed ("a value is required for
/// '--state-file'").
fn drop_empty_settings() {
    let cli = Cli::command();
    let names: Vec<_> = std::iter::once(&cli)
        .chain(cli.get_subcommands())
        .flat_map(|c| c.get_arguments())
        .filter_map(|a| a.get_env().map(|n| n.to_os_string()))
        .collect();
    for name in names {
        if std::env::var_os(&name).is_some_and(|v| v.is_empty()) {
            // SAFETY: the process is still single-threaded here; nothing reads the
            // environment concurrently.
            unsafe { std::env::remove_var(&name) };
        }
    }
}
