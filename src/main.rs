use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use disinfox_sync::cli::Cli;
use disinfox_sync::error::{Outcome, classify, render};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
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
                let mut stderr = std::io::stderr().lock();
                for line in render(&err).lines() {
                    let _ = writeln!(stderr, "disinfox-sync: error: {line}");
                }
                code.into()
            }
        },
    }
}
