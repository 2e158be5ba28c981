use std::process::ExitCode;

use clap::Parser;
use disinfox_sync::cli::{Cli, LogFormat};
use disinfox_sync::error::{Outcome, classify, render};
use disinfox_sync::logging;

fn main() -> ExitCode {
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
