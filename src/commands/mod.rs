//! Thin orchestrations: each command wires a source, the bundle stage and a sink together.

mod check;
mod fetch;
pub(crate) mod generate;
mod previous;
mod push;
mod reset_state;
mod session;
mod stage;
mod sync;
mod verify;

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::config::{Config, Needs, Overrides};
use crate::error::Result;

/// What each command needs configured; a malformed setting outside it only warns.
fn needs(command: &Command) -> Needs {
    let both = Needs {
        disinfox: true,
        opencti: true,
    };
    match command {
        Command::Fetch(_) => Needs {
            disinfox: true,
            opencti: false,
        },
        Command::Push(a) => Needs {
            disinfox: false,
            opencti: !a.dry_run,
        },
        Command::Sync(_) | Command::Check(_) | Command::Verify(_) => both,
        // The file backend needs nothing remote.
        Command::ResetState(a) => Needs {
            disinfox: false,
            opencti: a.state.state_file.is_none(),
        },
        Command::Generate(_) => Needs::default(),
    }
}

/// Loads the configuration the command needs, starts logging, runs the command.
pub(crate) fn run(cli: Cli) -> Result<ExitCode> {
    let env = |name: &str| std::env::var(name).ok();
    let overrides = Overrides::of(&cli.command);
    let loaded = Config::load(&cli.global, needs(&cli.command), &overrides, &env);
    // The log level may come from the configuration, so logging starts after it loaded.
    let json_logging = match &loaded {
        Ok(cfg) => cfg.json_logging,
        // A broken configuration is still reported in the format the operator asked for.
        Err(_) => crate::config::json_logging_hint(&cli.global, &env),
    };
    if let Ok(cfg) = &loaded {
        crate::logging::set_name(&cfg.connector_name);
    }
    crate::logging::init(
        loaded.as_ref().ok().and_then(|c| c.log_level),
        crate::logging::choose_format(cli.global.log_format, json_logging),
    );
    let cfg = match (loaded, &cli.command) {
        (Ok(cfg), _) => cfg,
        // `check` reports a broken configuration as one of its lines.
        (Err(e), Command::Check(args)) => return check::run(Err(e.into()), args),
        (Err(e), _) => return Err(e.into()),
    };
    log_config(&cfg);
    match &cli.command {
        Command::Fetch(args) => fetch::run(&cfg, args),
        Command::Push(args) => push::run(&cfg, args),
        Command::Sync(args) => sync::run(&cfg, args),
        Command::Verify(args) => verify::run(&cfg, args),
        Command::ResetState(args) => reset_state::run(&cfg, args),
        Command::Generate(args) => generate::run(&args.out),
        Command::Check(args) => return check::run(Ok(cfg), args),
    }
    .map(|()| ExitCode::SUCCESS)
}

fn log_config(cfg: &Config) {
    for w in &cfg.warnings {
        log::warn!("{w}");
    }
    for line in &cfg.infos {
        log::info!("{line}");
    }
    for note in &cfg.notes {
        log::debug!("{note}");
    }
    if let Some(path) = &cfg.file {
        log::debug!("configuration file {}", path.display());
    }
    log::debug!("configuration {cfg:?}");
}
