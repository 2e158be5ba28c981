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

/// A stand-in for cargo under `make dist`: records how it was called (arguments, directory,
/// the build's environment) and puts a stand-in binary where `cargo build --release` would.
const CARGO_STUB: &str = r#"#!/bin/sh
{ echo "args=$*"; echo "cwd=$(pwd)"; echo "commit=$DISINFOX_SYNC_COMMIT"; echo "epoch=$SOURCE_DATE_EPOCH"; } >"$STUB_LOG"
[ -e .git ] && echo "git=yes" >>"$STUB_LOG"
ls >>"$STUB_LOG"
mkdir -p "$CARGO_TARGET_DIR/release" && cp "$STUB_BIN" "$CARGO_TARGET_DIR/release/disinfox-sync"
"#;

fn git(args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Runs `make dist` with the cargo stand-in; the archive's path, the stand-in's log.
pub(crate) fn make_dist(work: &Path) -> (std::path::PathBuf, String) {
    // The "binary" packed: a small script (the test build is 100+ MB to compress).
    let small = work.join("built");
    std::fs::write(&small, "#!/bin/sh\necho disinfox-sync 0.0.0-stand-in\n").unwrap();
    let stub = work.join("cargo");
    std::fs::write(&stub, CARGO_STUB).unwrap();
    let mut perm = std::fs::metadata(&stub).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&stub, perm).unwrap();
    let out = Command::new("make")
        .current_dir(root())
        .args(["--no-print-directory", "dist"])
        .arg(format!("CARGO={}", stub.display()))
        .arg(format!("DIST_DIR={}", work.join("dist").display()))
        .arg(format!("DIST_TARGET_DIR={}", work.join("target").display()))
        .env("STUB_LOG", work.join("cargo.log"))
        .env("STUB_BIN", &small)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "make dist: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let archive = stdout
        .lines()
        .find(|l| l.ends_with(".tar.gz"))
        .expect("make dist names its archive");
    let log = std::fs::read_to_string(work.join("cargo.log")).unwrap();
    (std::path::PathBuf::from(archive), log)
}

#[test]
fn make_dist_builds_a_checksummed_archive_from_a_clean_tree() {
    if Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root())
        .output()
        .map_or(true, |o| !o.status.success())
    {
        crate::common::skip_or_fail("make dist: not a git checkout");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (archive, log) = make_dist(work.path());
    // The build: release, locked, in an exported tree (no .git), naming HEAD and its date.
    assert!(
        log.contains("args=build --release --locked --bin disinfox-sync\n"),
        "{log}"
    );
    assert!(
        !log.contains("git=yes") && log.contains("\nCargo.toml\n"),
        "{log}"
    );
    assert!(
        !log.contains(&format!("cwd={}\n", root().display())),
        "{log}"
    );
    let head = git(&["rev-parse", "--short=12", "HEAD"]);
    assert!(log.contains(&format!("commit={head}\n")), "{log}");
    let epoch = git(&["log", "-1", "--format=%ct", "HEAD"]);
    assert!(log.contains(&format!("epoch={epoch}\n")), "{log}");
    // The name: dist/disinfox-sync-VERSION-TARGET.tar.gz, the target being the host's triple.
    let host = Command::new("rustc").arg("-vV").output().unwrap();
    let host = String::from_utf8(host.stdout).unwrap();
    let triple = host.lines().find_map(|l| l.strip_prefix("host: ")).unwrap();
    let name = format!("disinfox-sync-{}-{triple}", env!("CARGO_PKG_VERSION"));
    assert!(
        archive.ends_with(format!("{name}.tar.gz")),
        "{}",
        archive.display()
    );
    let dist = work.path().join("dist");
    let list = Command::new("tar")
        .arg("-tzf")
        .arg(&archive)
        .output()
        .unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    for entry in [
        "disinfox-sync",
        "man/disinfox-sync.1",
        "man/disinfox-sync-sync.1",
        "completions/disinfox-sync.bash",
        "completions/_disinfox-sync",
        "completions/disinfox-sync.fish",
        "LICENSE",
        "README.md",
        "CHANGELOG.md",
        "k8s/kustomization.yaml",
        "k8s/base/cronjob.yaml",
        "k8s/Dockerfile",
        "contrib/systemd/disinfox-sync.service",
        "contrib/systemd/disinfox-sync.timer",
        "contrib/systemd/legacy/credentials-env.conf",
        "contrib/prometheus/disinfox-sync.rules.yml",
    ] {
        assert!(
            list.lines().any(|l| l == format!("{name}/{entry}")),
            "{entry} missing from:\n{list}"
        );
    }
    // Only committed files: nothing git ignores (credentials, env files) or that is not ours.
    assert!(
        list.lines().all(|l| l.starts_with(&format!("{name}/"))
            && !l.ends_with("opencti-token")
            && !l.ends_with(".env")
            && !l.contains("/target/")),
        "{list}"
    );
    // SHA256SUMS verifies, and catches a changed archive.
    let check = || {
        Command::new("sha256sum")
            .args(["-c", "SHA256SUMS"])
            .current_dir(&dist)
            .output()
            .unwrap()
    };
    let out = check();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("{name}.tar.gz: OK\n")
    );
    let mut bytes = std::fs::read(&archive).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&archive, bytes).unwrap();
    assert!(!check().status.success());
}

/// The CHANGELOG has this version's section, with a compatibility statement naming every
/// OpenCTI release whose schema the tests validate against and the DISINFOX commit the notes
/// were observed at; CONTRIBUTING names the tag for it.
#[test]
fn changelog_has_this_version_and_what_it_was_tested_against() {
    let changelog = std::fs::read_to_string(root().join("CHANGELOG.md")).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let section = changelog
        .split(&format!("\n## [{version}] - "))
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .unwrap_or_else(|| panic!("CHANGELOG.md has no section for {version}"));
    let compat = section
        .split("### Compatibility\n")
        .nth(1)
        .and_then(|s| s.split("\n### ").next())
        .expect("a compatibility statement");
    assert!(
        changelog.contains(&format!("[{version}]: ")),
        "link for {version}"
    );
    let contributing = std::fs::read_to_string(root().join("CONTRIBUTING.md")).unwrap();
    assert!(contributing.contains("annotated tag `vX.Y.Z`"));
    assert!(contributing.contains("make dist"));
    let Some(schemas) = crate::common::shared_dir("opencti-schema") else {
        return;
    };
    let mut releases = 0;
    for entry in std::fs::read_dir(schemas).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let Some(release) = name
            .strip_prefix("relay-")
            .and_then(|n| n.strip_suffix(".graphql"))
        else {
            continue;
        };
        let release = release.trim_end_matches(".x");
        assert!(
            compat.contains(release),
            "OpenCTI {release} missing from:\n{compat}"
        );
        releases += 1;
    }
    assert!(releases >= 5, "{releases} schemas");
    let notes = crate::common::shared_dir("notes").expect("../shared/notes");
    let api = std::fs::read_to_string(notes.join("disinfox-api.md")).unwrap();
    let commit: String = api
        .split("public-api/app.py @")
        .nth(1)
        .expect("the observed DISINFOX commit")
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    assert!(
        commit.len() >= 7 && compat.contains(&commit),
        "DISINFOX {commit}"
    );
}

/// The README's minimum Rust version is Cargo.toml's `rust-version`.
#[test]
fn readme_minimum_rust_is_the_rust_version() {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let rust_version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("rust-version in Cargo.toml");
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let stated: Vec<&str> = readme
        .match_indices("Rust toolchain (")
        .map(|(at, m)| {
            let rest = &readme[at + m.len()..];
            rest.split(" or newer").next().unwrap()
        })
        .collect();
    assert!(
        !stated.is_empty(),
        "the README states a minimum Rust version"
    );
    for v in stated {
        assert_eq!(
            v, rust_version,
            "README says Rust {v}; Cargo.toml says {rust_version}"
        );
    }
}
