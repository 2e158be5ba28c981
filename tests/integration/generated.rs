//! Man pages and completions are generated from the clap definitions and committed; these
//! tests fail when they are stale, and check that each completion script loads in its shell.

use std::path::Path;
use std::process::Command;

use disinfox_sync::testing::render_all;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn committed_files_match_the_cli() {
    let files = render_all().unwrap();
    assert!(
        files.len() >= 11,
        "expected 6 man pages and 5 completions, got {}",
        files.len()
    );
    for (rel, bytes) in files {
        let on_disk = std::fs::read(root().join(&rel)).unwrap_or_default();
        assert!(
            on_disk == bytes,
            "{} is stale: run `make generated` and commit the result",
            rel.display()
        );
    }
}

#[test]
fn man_pages_have_the_operator_sections() {
    let files = render_all().unwrap();
    let (_, main) = files
        .iter()
        .find(|(p, _)| p.ends_with("disinfox-sync.1"))
        .unwrap();
    let text = String::from_utf8_lossy(main);
    for section in [
        ".SH \"EXIT STATUS\"",
        ".SH ENVIRONMENT",
        ".SH FILES",
        "OPENCTI_TOKEN_FILE",
        ".B 75",
    ] {
        assert!(text.contains(section), "man page lacks {section}");
    }
    for sub in ["sync", "fetch", "push", "reset-state", "check"] {
        assert!(
            files
                .iter()
                .any(|(p, _)| p.ends_with(format!("disinfox-sync-{sub}.1"))),
            "no page for {sub}"
        );
    }
    assert!(
        !files
            .iter()
            .any(|(p, _)| p.to_string_lossy().contains("generate")),
        "hidden command documented"
    );
}

/// Loads a completion script in its shell when that shell is installed (CI installs them).
fn loads(shell: &str, script: &str, file: &str) {
    if Command::new(shell).arg("-c").arg("true").output().is_err() {
        crate::common::skip_or_fail(&format!("{shell} is not installed"));
        return;
    }
    let path = root().join("completions").join(file);
    let out = Command::new(shell)
        .arg("-c")
        .arg(script.replace("{}", path.to_str().unwrap()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{shell} cannot load {file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn completions_load_in_their_shells() {
    loads(
        "bash",
        "source '{}' && complete -p disinfox-sync",
        "disinfox-sync.bash",
    );
    loads(
        "zsh",
        "autoload -Uz compinit && compinit -u && source '{}' && whence -w _disinfox-sync",
        "_disinfox-sync",
    );
    loads(
        "fish",
        "source '{}' && complete -c disinfox-sync | grep -q sync",
        "disinfox-sync.fish",
    );
}

/// The names of a man page's ENVIRONMENT section (`.B NAME[, NAME_FILE]` entries).
fn environment_names(page: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join("man").join(page)).unwrap();
    let section = text
        .split(".SH ENVIRONMENT")
        .nth(1)
        .expect("ENVIRONMENT section");
    let section = section.split("\n.SH ").next().unwrap();
    section
        .lines()
        .filter_map(|l| l.strip_prefix(".B "))
        .flat_map(|l| l.split(", ").map(|n| n.replace("\\-", "-")))
        .collect()
}

/// Every variable a subcommand's man page lists (the settings table's, for that command) is
/// in the binary's `--help` for it; the main page lists every variable, and /etc in FILES.
#[test]
fn every_variable_is_in_help_and_man_pages() {
    let main = environment_names("disinfox-sync.1");
    assert!(main.len() >= 45, "{main:?}");
    for sub in ["fetch", "push", "sync", "reset-state", "check"] {
        let names = environment_names(&format!("disinfox-sync-{sub}.1"));
        assert!(names.len() >= 15, "{sub}: {names:?}");
        let out = assert_cmd::cargo::cargo_bin_cmd!("disinfox-sync")
            .args([sub, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        for name in &names {
            assert!(
                help.contains(name.as_str()),
                "{name} missing in `{sub} --help`"
            );
            assert!(main.contains(name), "{name} missing in disinfox-sync(1)");
        }
    }
    let page = std::fs::read_to_string(root().join("man/disinfox-sync.1")).unwrap();
    let files = page.split(".SH FILES").nth(1).unwrap();
    assert!(files.contains("/etc/disinfox\\-sync/config.yml"), "{files}");
}

/// What the bash completion offers after `words` (the last one is the word being completed).
fn bash_completes(words: &[&str]) -> Option<Vec<String>> {
    let script = root().join("completions/disinfox-sync.bash");
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let last = words.len() - 1;
    let probe = format!(
        ". '{}'; COMP_WORDS=({}); COMP_CWORD={last}; \
         _disinfox__sync disinfox-sync '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words[last],
        words[last - 1],
    );
    let out = std::process::Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &probe])
        .output()
        .ok()?;
    assert!(out.status.success(), "{out:?}");
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect(),
    )
}

/// bash completes each subcommand's own flags (clap_complete's script never did for a
/// binary named with a `-`), and never offers the hidden `generate`.
#[test]
fn bash_completes_subcommand_flags_and_hides_generate() {
    let Some(top) = bash_completes(&["disinfox-sync", ""]) else {
        return; // no bash here
    };
    assert!(top.contains(&"sync".to_owned()), "{top:?}");
    assert!(!top.contains(&"generate".to_owned()), "{top:?}");
    let sync = bash_completes(&["disinfox-sync", "sync", "--"]).unwrap();
    for flag in ["--queue-threshold", "--state-file", "--dry-run", "--config"] {
        assert!(sync.contains(&flag.to_owned()), "{flag}: {sync:?}");
    }
    let push = bash_completes(&["disinfox-sync", "push", "--f"]).unwrap();
    assert_eq!(push, ["--file"], "{push:?}");
    let format = bash_completes(&["disinfox-sync", "fetch", "--log-format", ""]).unwrap();
    assert_eq!(format, ["text", "json"], "{format:?}");
}

/// The README's configuration table and the settings table name the same variables: each
/// one the binary reads from its settings (the man page's list) is documented, and each one
/// the README's table documents is read.
#[test]
fn readme_configuration_table_matches_the_settings() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme.split("\n## Configuration\n").nth(1).unwrap();
    let table: Vec<&str> = section
        .lines()
        .skip_while(|l| !l.starts_with("| setting |"))
        .take_while(|l| l.starts_with('|'))
        .collect();
    let documented: Vec<String> = table
        .iter()
        .filter_map(|row| row.split('|').nth(3))
        .flat_map(|cell| cell.split('`').skip(1).step_by(2).map(str::to_owned))
        .filter(|n| n.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect();
    let read = environment_names("disinfox-sync.1");
    for name in &documented {
        assert!(
            read.contains(name),
            "README documents {name}, which nothing reads"
        );
    }
    let general = [
        "RUST_LOG",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "HTTPS_PROXY",
        "HTTP_PROXY",
    ];
    for name in read
        .iter()
        .filter(|n| !general.contains(&n.as_str()) && *n != "NO_PROXY")
    {
        let in_text = documented.contains(name)
            || section.contains(&format!("`{name}"))
            || section.contains(&format!("${name}"));
        assert!(
            in_text,
            "{name} is read but not in the README's Configuration section"
        );
    }
}

/// A variable read by name anywhere in `src/` (outside the settings table) is listed too.
#[test]
fn variables_read_by_name_are_in_the_settings_table() {
    let listed = environment_names("disinfox-sync.1");
    let mut dirs = vec![root().join("src")];
    let mut found = 0;
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for call in ["env(\"", "var(\"", "var_os(\"", "env_path(\""] {
                for rest in text.split(call).skip(1) {
                    let name = rest.split('"').next().unwrap();
                    let is_var = !name.is_empty()
                        && name
                            .chars()
                            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                    // The panic hook's own test switch is no setting.
                    if is_var && name != "DISINFOX_SYNC_TEST_PANIC" {
                        found += 1;
                        assert!(
                            listed.iter().any(|l| l == name),
                            "{} reads {name}, which the settings table lacks",
                            path.display()
                        );
                    }
                }
            }
        }
    }
    assert!(found >= 3, "{found}");
}
