//! Thin orchestrations: each command wires a source, the bundle stage and a sink together.

mod fetch;
mod push;
mod reset_state;
mod stage;
mod sync;

use crate::cli::{Cli, Command};
use crate::config::{Config, Needs};
use crate::error::Result;

/// Loads the configuration the command needs, starts logging, runs the command.
pub fn run(cli: Cli) -> Result<()> {
    let needs = match &cli.command {
        Command::Fetch(_) => Needs {
            disinfox: true,
            opencti: false,
        },
        Command::Push(a) => Needs {
            disinfox: false,
            opencti: !a.dry_run,
        },
        Command::Sync(_) => Needs {
            disinfox: true,
            opencti: true,
        },
        // The file backend needs nothing remote.
        Command::ResetState(a) => Needs {
            disinfox: false,
            opencti: a.state.state_file.is_none(),
        },
    };
    // Logging is configured by the config itself, so a config error is reported before it.
    let env = |name: &str| std::env::var(name).ok();
    let loaded = Config::load(&cli.global, needs, &env);
    let level = loaded.as_ref().ok().and_then(|c| c.log_level);
    crate::logging::init(level, cli.global.log_format);
    let cfg = loaded?;
    for w in &cfg.warnings {
        log::warn!("{w}");
    }
    if let Some(path) = &cfg.file {
        log::debug!("configuration file {}", path.display());
    }
    log::debug!("configuration {cfg:?}");
    match &cli.command {
        Command::Fetch(args) => fetch::run(&cfg, args),
        Command::Push(args) => push::run(&cfg, args),
        Command::Sync(args) => sync::run(&cfg, args),
        Command::ResetState(args) => reset_state::run(&cfg, args),
    }
}
