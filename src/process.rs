//! The process around a command: panic hook, the command line (and what clap refused), the
//! exit status and the last error line.

use std::process::ExitCode;

use crate::cli::LogFormat;
use crate::error::{Outcome, classify, render};
use crate::exit_codes::ExitCode as Status;
use crate::logging;

/// The whole process: the command line, the command, the exit status.
pub(crate) fn main() -> ExitCode {
    logging::install_panic_hook();
    // The tests of the panic hook need a panic they can reach. Only debug builds (what
    // `cargo test` runs) have this switch: a release binary carries no way to be made to panic.
    if cfg!(debug_assertions) && std::env::var_os("DISINFOX_SYNC_TEST_PANIC").is_some() {
        panic!("DISINFOX_SYNC_TEST_PANIC is set");
    }
    crate::output::note_closed_stdout();
    drop_empty_settings();
    let cli = match crate::config::parse() {
        Ok(cli) => cli,
        Err(e) => return refused(&e),
    };
    match crate::commands::run(cli) {
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

/// A command line clap refused. A bad value of a variable clap reads for a flag is a
/// configuration error (78), like every other setting's; a bad flag stays a usage error (2).
/// The text is scrubbed: a refused `--pushgateway` URL may hold a password.
fn refused(e: &clap::Error) -> ExitCode {
    if !e.use_stderr() {
        // --help, --version
        let _ = e.print();
        return ExitCode::from(e.exit_code() as u8);
    }
    let text = logging::scrub(&e.render().to_string());
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
        .collect();
    let first = lines.first().copied().unwrap_or("invalid command line");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    if let Some((flag, var)) = from_environment(e) {
        let why = first.replace(&format!("'{flag}'"), &format!("{var} (environment)"));
        let message = [why.as_str()]
            .into_iter()
            .chain(lines.iter().skip(1).copied().filter(|l| l.starts_with('[')))
            .collect::<Vec<_>>()
            .join(" ");
        let _ = logging::error_lines(&mut std::io::stderr().lock(), &message);
        return Status::Config.into();
    }
    if logging::format_from_env() == LogFormat::Json {
        let _ = logging::error_lines(&mut std::io::stderr().lock(), first);
    } else {
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), text.as_bytes());
    }
    ExitCode::from(e.exit_code() as u8)
}

/// The flag (as clap names it, `--queue-threshold <MB>`) and variable of a refused value that
/// came from the environment, not from the command line.
fn from_environment(e: &clap::Error) -> Option<(String, String)> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        e.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let ContextValue::String(flag) = e.get(ContextKind::InvalidArg)? else {
        return None;
    };
    let long = flag
        .strip_prefix("--")?
        .split([' ', '='])
        .next()?
        .to_owned();
    let cli = crate::config::command();
    let var = std::iter::once(&cli)
        .chain(cli.get_subcommands())
        .flat_map(|c| c.get_arguments())
        .find(|a| a.get_long() == Some(long.as_str()))?
        .get_env()?
        .to_string_lossy()
        .into_owned();
    let typed = std::env::args()
        .take_while(|a| a != "--")
        .any(|a| a == format!("--{long}") || a.starts_with(&format!("--{long}=")));
    (!typed && std::env::var_os(&var).is_some()).then(|| (flag.clone(), var))
}

/// An empty variable means "not set", as the configuration module reads it too: clap would
/// otherwise hand the empty text to a flag the user never typed ("a value is required for
/// '--state-file'").
fn drop_empty_settings() {
    let cli = crate::config::command();
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
