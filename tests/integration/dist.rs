//! What an operator installs: `--version` (build.rs), `make dist`'s archive and checksums,
//! the CHANGELOG's section for this version, the README's minimum Rust version.

use std::path::Path;
use std::process::Command;

use crate::common::bin_path;

/// build.rs, compiled here as well so its pure parts can be tested.
#[path = "../../build.rs"]
#[allow(dead_code)]
mod build_script;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `--version` names the version, this checkout's commit and a build date.
#[test]
fn version_names_the_commit_and_the_build_date() {
    let out = Command::new(bin_path()).arg("--version").output().unwrap();
    assert!(out.status.success());
    let shown = String::from_utf8(out.stdout).unwrap();
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8(o.stdout).unwrap().trim().to_owned());
    let commit = match head {
        Some(c) => format!("commit {c}"),
        None => "commit unknown: not built from a git checkout".to_owned(),
    };
    let prefix = format!(
        "disinfox-sync {} ({commit}, built ",
        env!("CARGO_PKG_VERSION")
    );
    let date = shown
        .trim_end()
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{shown:?} does not start with {prefix:?}"));
    assert!(
        chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok(),
        "{date}"
    );
    // -V stays the bare version: the man pages' header carries it and must not change with
    // each commit.
    let short = Command::new(bin_path()).arg("-V").output().unwrap();
    assert_eq!(
        String::from_utf8(short.stdout).unwrap(),
        format!("disinfox-sync {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn version_outside_git_says_so_and_honours_source_date_epoch() {
    assert_eq!(
        build_script::long_version("1.2.3", None, Some("0"), 1_800_000_000),
        "1.2.3 (commit unknown: not built from a git checkout, built 1970-01-01)"
    );
    // SOURCE_DATE_EPOCH wins over the clock; without it (or unparsable) the clock is used.
    let at = |epoch| build_script::long_version("1", Some("abc\n"), epoch, 1_709_164_800);
    assert_eq!(at(Some("951782400")), "1 (commit abc, built 2000-02-29)");
    assert_eq!(at(None), "1 (commit abc, built 2024-02-29)");
    assert_eq!(at(Some("soon")), "1 (commit abc, built 2024-02-29)");
    for (secs, day) in [
        (-86_400_i64, "1969-12-31"),
        (4_107_542_399, "2100-02-28"),
        (4_107_542_400, "2100-03-01"),
    ] {
        assert_eq!(
            build_script::long_version("1", Some("c"), Some(&secs.to_string()), 0),
            format!("1 (commit c, built {day})")
        );
    }
}

/// No Docker engine here: what can be checked without one is that every `COPY` source of the
/// build stage exists and passes `.dockerignore`'s allow-list (else `docker build` fails).
#[test]
fn dockerfile_copies_only_files_the_context_sends() {
    let dockerfile = std::fs::read_to_string(root().join("k8s/Dockerfile")).unwrap();
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    let allowed: Vec<&str> = ignore
        .lines()
        .filter_map(|l| l.trim().strip_prefix('!'))
        .map(|p| p.trim_end_matches('/'))
        .collect();
    assert!(ignore.lines().any(|l| l.trim() == "*"), "an allow-list");
    let mut copied = 0;
    for line in dockerfile.lines().filter(|l| l.starts_with("COPY ")) {
        let words: Vec<&str> = line.split_whitespace().skip(1).collect();
        if words.iter().any(|w| w.starts_with("--from=")) {
            continue;
        }
        for source in &words[..words.len() - 1] {
            assert!(root().join(source).exists(), "COPY {source}: no such file");
            assert!(
                allowed.contains(source),
                "COPY {source}: .dockerignore keeps it out of the context"
            );
            copied += 1;
        }
    }
    // Everything cargo needs to build: the manifest, the lock, the build script, the sources.
    assert_eq!(copied, 4, "{dockerfile}");
    for needed in ["Cargo.toml", "Cargo.lock", "build.rs", "src"] {
        assert!(allowed.contains(&needed), "{needed}");
    }
}

/// Every `disinfox-sync…(1)` the man pages, the README or the units name is a page `man/`
/// holds (and `make install` installs); `disinfox-sync-help(1)` was named and never existed.
#[test]
fn every_man_page_named_exists() {
    let mut texts = vec![(
        "README.md".to_owned(),
        std::fs::read_to_string(root().join("README.md")).unwrap(),
    )];
    for dir in ["man", "contrib/systemd"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let text = std::fs::read_to_string(&path).unwrap();
                texts.push((path.display().to_string(), text.replace('\\', "")));
            }
        }
    }
    let mut named = 0;
    for (file, text) in &texts {
        for (at, _) in text.match_indices("(1)") {
            let start = text[..at]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .map_or(0, |i| i + 1);
            let page = &text[start..at];
            if page.starts_with("disinfox-sync") {
                assert!(
                    root().join("man").join(format!("{page}.1")).is_file(),
                    "{file} names {page}(1), which man/ does not have"
                );
                named += 1;
            }
        }
    }
    assert!(named > 5, "{named} references found");
}
