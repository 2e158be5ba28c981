//! `generate` (hidden): man pages and shell completions from the clap definitions. The files
//! are committed; a test renders them again and fails when they are stale.

use std::path::{Path, PathBuf};

use clap_complete::Shell;

use crate::error::{Error, Result};

const BIN: &str = "disinfox-sync";

const FILES: &[(&str, &str)] = &[
    (
        "~/.config/disinfox-sync/config.yml",
        "The user's configuration file (the Python connector's config.yml layout).",
    ),
    (
        "/etc/disinfox-sync/config.yml",
        "System-wide configuration file, read when the user has none (DISINFOX_SYNC_SYSCONFDIR replaces /etc).",
    ),
    (
        "~/.local/state/disinfox-sync/state.json",
        "Default state file when --state-file is given without a path; a .lock file beside it guards against overlapping runs.",
    ),
];

/// Every generated file, relative to the project root.
pub fn render_all() -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut files = Vec::new();
    let cmd = crate::config::command();
    files.push((
        PathBuf::from(format!("man/{BIN}.1")),
        man_page(&cmd, BIN, None)?,
    ));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let command = sub.get_name().to_owned();
        let name = format!("{BIN}-{command}");
        let sub = sub
            .clone()
            .name(name.clone())
            .display_name(name.clone())
            .version(env!("CARGO_PKG_VERSION"));
        files.push((
            PathBuf::from(format!("man/{name}.1")),
            man_page(&sub, &name, Some(&command))?,
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
        clap_complete::generate(shell, &mut completed_command(), BIN, &mut out);
        if shell == Shell::Bash {
            out = bash_fixed(out);
        }
        files.push((PathBuf::from("completions").join(file), out));
    }
    Ok(files)
}

/// The command line as completions offer it: without the hidden subcommands, which clap's
/// bash generator would otherwise offer (it ignores `hide`).
fn completed_command() -> clap::Command {
    let full = crate::config::command();
    let visible: Vec<clap::Command> = full
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    let top = clap::Command::new(BIN)
        .version(env!("CARGO_PKG_VERSION"))
        .propagate_version(true)
        .about(full.get_about().cloned().unwrap_or_default())
        .long_about(full.get_long_about().cloned().unwrap_or_default());
    crate::config::command_line::with_settings(
        <crate::cli::GlobalArgs as clap::Args>::augment_args(top).subcommands(visible),
    )
}

/// clap_complete 4.6's bash script names a binary with a `-` two ways: the loop that finds
/// the subcommand yields `disinfox__sync__subcmd__push`, the `case` that completes it expects
/// `disinfox__subcmd__sync__subcmd__push`, so no subcommand's flags were ever completed. The
/// `case` labels are renamed to what the loop yields.
fn bash_fixed(script: Vec<u8>) -> Vec<u8> {
    let wrong = format!("{}__subcmd__", BIN.replace('-', "__subcmd__"));
    let right = format!("{}__subcmd__", BIN.replace('-', "__"));
    let text = String::from_utf8_lossy(&script);
    text.replace(&wrong, &right).into_bytes()
}

/// A man page; ENVIRONMENT lists the variables `command` reads (all of them on the main page).
fn man_page(cmd: &clap::Command, name: &str, command: Option<&str>) -> Result<Vec<u8>> {
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
    let environment = crate::config::environment::environment(command);
    let environment: Vec<(&str, &str)> = environment
        .iter()
        .map(|(n, h)| (n.as_str(), h.as_str()))
        .collect();
    out.extend_from_slice(list_section("ENVIRONMENT", &environment).as_bytes());
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
pub(crate) fn run(root: &Path) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::environment::{ENV_ONLY, environment};
    use crate::config::keys::KEYS;

    fn subcommands() -> Vec<clap::Command> {
        crate::config::command()
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .cloned()
            .collect()
    }

    /// Every variable of the settings table is in the `--help` and the man page of each
    /// subcommand it matters to, and the main man page lists them all.
    #[test]
    fn every_variable_is_in_its_subcommands_help_and_man_page() {
        let files = render_all().unwrap();
        let page = |name: &str| {
            let (_, bytes) = files
                .iter()
                .find(|(p, _)| p.ends_with(format!("man/{name}.1")))
                .unwrap();
            String::from_utf8_lossy(bytes).replace("\\-", "-")
        };
        let all: Vec<(&str, &[&str])> = KEYS
            .iter()
            .map(|k| (k.env, k.commands))
            .chain(ENV_ONLY.iter().map(|e| (e.env, e.commands)))
            .collect();
        assert!(all.len() >= 45, "{}", all.len());
        let main = page(BIN);
        for mut sub in subcommands() {
            let name = sub.get_name().to_owned();
            let help = sub.render_long_help().to_string();
            let man = page(&format!("{BIN}-{name}"));
            for (var, commands) in all.iter().filter(|(_, c)| c.contains(&name.as_str())) {
                assert!(help.contains(var), "{var} missing in `{name} --help`");
                assert!(man.contains(var), "{var} missing in man {BIN}-{name}");
                assert!(
                    main.contains(var),
                    "{var} missing in man {BIN} ({commands:?})"
                );
            }
        }
        for k in KEYS.iter().filter(|k| k.secret) {
            assert!(main.contains(&format!("{}_FILE", k.env)), "{}_FILE", k.env);
        }
        assert!(
            main.contains("/etc/disinfox-sync/config.yml"),
            "FILES lacks /etc"
        );
    }

    /// clap's `env` names come from the table: a variable a flag reads is a listed one.
    #[test]
    fn flag_variables_are_in_the_table() {
        let cmd = crate::config::command();
        let listed: Vec<String> = environment(None).into_iter().map(|(n, _)| n).collect();
        for arg in std::iter::once(&cmd)
            .chain(cmd.get_subcommands())
            .flat_map(|c| c.get_arguments())
        {
            if let Some(var) = arg.get_env() {
                let var = var.to_string_lossy();
                assert!(listed.iter().any(|n| *n == var), "{var} not in the table");
            }
        }
    }
}
