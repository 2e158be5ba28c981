//! The command line completed from the settings table: the variable clap reads for each flag
//! that has one, and each subcommand's `Environment:` paragraph. `cli` names no setting, so
//! the edge runs from here to `cli`, never back.

use clap::{Command, CommandFactory, FromArgMatches};

use super::environment::{ENV_ALLOW_LARGE_CHUNKS, ENV_CONFIG, ENV_LOG_FORMAT, environment_help};
use super::keys;
use crate::cli::Cli;

/// Each flag (by clap's argument id, the field name) that a variable also sets.
const FLAG_VARIABLES: &[(&str, &str)] = &[
    ("config", ENV_CONFIG),
    ("log_level", keys::CONNECTOR_LOG_LEVEL.env),
    ("log_format", ENV_LOG_FORMAT),
    ("disinfox_url", keys::DISINFOX_URL.env),
    ("opencti_url", keys::OPENCTI_URL.env),
    ("state_file", keys::DISINFOX_SYNC_STATE_FILE.env),
    ("allow_large_chunks", ENV_ALLOW_LARGE_CHUNKS),
    ("queue_threshold", keys::CONNECTOR_QUEUE_THRESHOLD.env),
];

/// The subcommands whose `--help` ends with the variables they read, then the exit statuses.
const WITH_ENVIRONMENT: &[&str] = &["fetch", "push", "sync", "reset-state", "check"];

/// The whole command line, as the binary parses it and the man pages show it.
pub(crate) fn command() -> Command {
    with_settings(Cli::command())
}

/// The arguments of this process, parsed as [`command`] reads them.
pub(crate) fn parse() -> Result<Cli, clap::Error> {
    let mut cmd = command();
    let mut matches = cmd.try_get_matches_from_mut(std::env::args_os())?;
    Cli::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut cmd))
}

/// `cmd` and its subcommands with the variables of their flags and their `Environment:`
/// paragraphs; what is there already is set again to the same.
pub(crate) fn with_settings(cmd: Command) -> Command {
    let mut cmd = with_variables(cmd);
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(&name, |sub| {
            let sub = with_variables(sub);
            match WITH_ENVIRONMENT.contains(&name.as_str()) {
                true => sub.after_long_help(long_help(&name)),
                false => sub,
            }
        });
    }
    cmd
}

fn with_variables(cmd: Command) -> Command {
    cmd.mut_args(
        |arg| match FLAG_VARIABLES.iter().find(|(id, _)| arg.get_id() == id) {
            Some((_, var)) => arg.env(*var),
            None => arg,
        },
    )
}

fn long_help(command: &str) -> String {
    format!(
        "{}\n{}",
        environment_help(command),
        crate::exit_codes::help_text()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_completed_command_is_consistent() {
        command().debug_assert();
    }

    /// Every flag variable lands on a flag: a renamed field would drop it silently.
    #[test]
    fn every_flag_variable_reaches_a_flag() {
        let cmd = command();
        let set: Vec<String> = std::iter::once(&cmd)
            .chain(cmd.get_subcommands())
            .flat_map(|c| c.get_arguments())
            .filter_map(|a| a.get_env().map(|v| v.to_string_lossy().into_owned()))
            .collect();
        for (id, var) in FLAG_VARIABLES {
            assert!(set.iter().any(|s| s == var), "{id}: {var} is on no flag");
        }
    }
}
