//! Where the README's commands run: the README's fenced blocks, a sandbox directory (its own
//! HOME, a copy of the repository files the commands name, a PATH with the built binary), and
//! recording stand-ins for the few programs that need a cluster, a daemon or root.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::bin_path;

pub const README: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));

/// A fenced block: the heading it is under, its info string, its text.
pub struct Block {
    pub section: String,
    pub lang: String,
    pub text: String,
}

pub fn blocks() -> Vec<Block> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut open: Option<Block> = None;
    for line in README.lines() {
        match open.as_mut() {
            Some(_) if line.starts_with("```") => out.extend(open.take()),
            Some(block) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            None if line.starts_with("```") => {
                open = Some(Block {
                    section: section.clone(),
                    lang: line.trim_start_matches('`').trim().to_owned(),
                    text: String::new(),
                });
            }
            None if line.starts_with('#') => section = line.trim_start_matches('#').trim().into(),
            None => {}
        }
    }
    assert!(open.is_none(), "README ends inside a fenced block");
    out
}

/// The `nth` block of language `lang` under the heading `section`.
pub fn block(section: &str, lang: &str, nth: usize) -> String {
    blocks()
        .into_iter()
        .filter(|b| b.section == section && b.lang == lang)
        .nth(nth)
        .unwrap_or_else(|| panic!("README has no {lang} block #{nth} under \"{section}\""))
        .text
}

/// A recording stand-in: appends its name and arguments (tab-separated, one call a line) to
/// the sandbox's call log, prints nothing, succeeds. It runs nothing of what it is asked.
const RECORDER: &str = r#"{ printf '%s' "$(basename "$0")"; for a in "$@"; do printf '\t%s' "$a"; done; printf '\n'; } >>"$SANDBOX_CALLS""#;

pub struct Sandbox {
    pub root: tempfile::TempDir,
}

impl Sandbox {
    /// A sandbox whose `repo/` holds a copy of the files the README's commands name.
    pub fn new() -> Sandbox {
        let sb = Sandbox {
            root: tempfile::tempdir().unwrap(),
        };
        let src = Path::new(env!("CARGO_MANIFEST_DIR"));
        for dir in ["home", "tools", "repo/tests", "repo/.ci"] {
            std::fs::create_dir_all(sb.path(dir)).unwrap();
        }
        for item in [
            "Makefile",
            "man",
            "completions",
            "contrib",
            "k8s",
            ".dockerignore",
            "tests/demo.sh",
            "tests/cargo-paths.sh",
            ".ci/run",
        ] {
            let to = sb.path("repo").join(item);
            let status = Command::new("cp")
                .args(["-R", "-p"])
                .arg(src.join(item))
                .arg(&to)
                .status()
                .unwrap();
            assert!(status.success(), "copy {item}");
        }
        std::fs::write(sb.path("calls"), "").unwrap();
        sb
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// Puts a recording stand-in called `name` first on PATH; `after` is shell code run
    /// after the recording (e.g. to hand one subcommand to the real program).
    pub fn record(&self, name: &str, after: &str) {
        let path = self.path("tools").join(name);
        let script = format!(
            "#!/bin/sh\n# Recording stand-in for {name}: see RECORDER in readme/sandbox.rs.\n{RECORDER}\n{after}\n"
        );
        std::fs::write(&path, script).unwrap();
        let mut perm = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&path, perm).unwrap();
    }

    /// The recorded calls, each as its program name followed by its arguments.
    pub fn calls(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(self.path("calls"))
            .unwrap()
            .lines()
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect()
    }

    /// PATH: the recording stand-ins, then the built binary, then the system's.
    pub fn search_path(&self, rest: &str) -> String {
        let bin_dir = bin_path().parent().unwrap().to_path_buf();
        format!(
            "{}:{}:{rest}",
            self.path("tools").display(),
            bin_dir.display()
        )
    }

    /// A shell with nothing inherited but the sandbox: HOME, XDG directories, PATH, the call log.
    pub fn shell(&self, shell: &str, cwd: &Path) -> Command {
        let home = self.path("home");
        let mut cmd = Command::new(shell);
        cmd.current_dir(cwd)
            .env_clear()
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_STATE_HOME", home.join(".local/state"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("PATH", self.search_path("/usr/bin:/bin"))
            .env("SANDBOX_CALLS", self.path("calls"))
            .stdin(Stdio::null());
        cmd
    }
}

/// Runs `script` as printed with `shell -e -c` (`-e`: a failing line fails the block, as an
/// operator would stop there) and asserts it succeeded.
pub fn run_block(mut cmd: Command, script: &str) -> Output {
    let shell = cmd.get_program().to_owned();
    let out = cmd.arg("-e").arg("-c").arg(script).output().unwrap();
    assert!(
        out.status.success(),
        "{shell:?} -e -c failed ({}) running:\n{script}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The command lines of a block (comment-only and empty lines left out).
pub fn command_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// A crontab block: its `NAME=value` lines, and its one schedule line split into the five
/// schedule fields, the user field when `with_user` (`/etc/cron.d`), and the command.
pub struct CronBlock {
    pub env: Vec<(String, String)>,
    pub user: Option<String>,
    pub command: String,
}

pub fn cron_block(text: &str, with_user: bool) -> CronBlock {
    let mut env = Vec::new();
    let mut lines = Vec::new();
    for line in command_lines(text) {
        let first = line.split_whitespace().next().unwrap();
        match first.split_once('=') {
            Some((name, value)) if !name.is_empty() && !first.contains('*') => {
                env.push((name.to_owned(), value.to_owned()));
            }
            _ => lines.push(line),
        }
    }
    assert_eq!(
        lines.len(),
        1,
        "one schedule line per cron block: {lines:?}"
    );
    let fields = if with_user { 6 } else { 5 };
    let mut parts = lines[0].splitn(fields + 1, ' ');
    let schedule: Vec<&str> = parts.by_ref().take(5).collect();
    assert_eq!(schedule, ["*/15", "*", "*", "*", "*"], "{}", lines[0]);
    let user = with_user.then(|| parts.next().unwrap().to_owned());
    CronBlock {
        env,
        user,
        command: parts
            .next()
            .expect("a command after the schedule")
            .to_owned(),
    }
}
