//! The README's install commands, run as printed: the release archive checked with
//! `sha256sum -c` and unpacked (`sudo` recorded), and `cargo install --locked` into a
//! temporary root.

use std::path::Path;
use std::process::Command;

use super::sandbox::{Sandbox, block, run_block};
use super::text;

/// `v=… t=…` on the archive block's first line.
fn printed_release(script: &str) -> (String, String) {
    let first = script.lines().next().unwrap();
    let value = |name: &str| {
        first
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name}= on the first line: {first}"))
            .to_owned()
    };
    (value("v"), value("t"))
}

fn host_triple() -> String {
    let out = Command::new("rustc").arg("-vV").output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .unwrap()
}

#[test]
fn readme_archive_install() {
    let script = block("Install", "sh", 0);
    let (version, target) = printed_release(&script);
    assert_eq!(version, env!("CARGO_PKG_VERSION"), "the README's release");
    assert!(
        super::sandbox::README.contains(&format!("`git checkout v{version}`")),
        "the README's release tag"
    );
    if target != host_triple() {
        crate::common::skip(&format!(
            "the README's archive is for {target}, not this host"
        ));
        return;
    }
    let sb = Sandbox::new();
    sb.record("sudo", "");
    // What a release offers: make dist's archive and SHA256SUMS (cargo a stand-in there).
    let work = tempfile::tempdir().unwrap();
    let (archive, _) = crate::dist::make_dist(work.path());
    let download = sb.path("download");
    std::fs::create_dir_all(&download).unwrap();
    for file in [archive.clone(), work.path().join("dist/SHA256SUMS")] {
        std::fs::copy(&file, download.join(file.file_name().unwrap())).unwrap();
    }
    let out = run_block(sb.shell("sh", &download), &script);
    let name = format!("disinfox-sync-{version}-{target}");
    assert_eq!(text(&out.stdout), format!("{name}.tar.gz: OK\n"));
    let unpacked = download.join(&name);
    let calls = sb.calls();
    assert_eq!(calls.len(), 3, "{calls:?}");
    for call in &calls {
        check_install_call(&unpacked, call);
    }

    // A damaged download stops the block at the checksum: nothing installed.
    std::fs::remove_dir_all(&unpacked).unwrap();
    let mut bytes = std::fs::read(download.join(format!("{name}.tar.gz"))).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(download.join(format!("{name}.tar.gz")), bytes).unwrap();
    let out = sb
        .shell("sh", &download)
        .arg("-e")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stdout).contains("FAILED"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(sb.calls().len(), 3, "no install after a failed check");
}

/// `sudo install …`: what it installs is in the unpacked archive.
fn check_install_call(unpacked: &Path, call: &[String]) {
    let argv: Vec<&str> = call.iter().map(String::as_str).collect();
    match argv.as_slice() {
        ["sudo", "install", "-m", "755", "disinfox-sync", to] => {
            assert_eq!(*to, "/usr/local/bin/disinfox-sync");
            assert!(unpacked.join("disinfox-sync").is_file());
        }
        ["sudo", "install", "-d", dir] => assert_eq!(*dir, "/usr/local/share/man/man1"),
        ["sudo", "install", "-m", "644", pages @ .., dir] => {
            assert_eq!(*dir, "/usr/local/share/man/man1");
            for page in pages {
                assert!(unpacked.join(page).is_file(), "{page}");
            }
        }
        other => panic!("a command the test does not check: {other:?}"),
    }
}

/// The real `cargo install`, as printed, from this checkout into the sandbox's `~/.local`.
/// Its build directory is kept under target/ between runs, and the release profile is made
/// cheap through cargo's environment (the command itself is unchanged): the release build's
/// own settings are make dist's concern, not this test's.
#[test]
fn readme_cargo_install() {
    let script = block("Install", "sh", 1);
    let sb = Sandbox::new();
    let cargo = std::path::PathBuf::from(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    let toolchain = cargo.parent().filter(|p| !p.as_os_str().is_empty());
    let path = match toolchain {
        Some(dir) => sb.search_path(&format!("{}:/usr/bin:/bin", dir.display())),
        None => sb.search_path("/usr/bin:/bin"),
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = sb.shell("sh", root);
    cmd.env("PATH", path)
        .env("CARGO_TARGET_DIR", root.join("target/readme-install"))
        .env("CARGO_NET_OFFLINE", "true")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16");
    for var in ["CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN"] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    if let (None, Some(home)) = (std::env::var_os("CARGO_HOME"), std::env::var_os("HOME")) {
        cmd.env("CARGO_HOME", Path::new(&home).join(".cargo"));
    }
    run_block(cmd, &script);
    let installed = sb.path("home/.local/bin/disinfox-sync");
    let out = Command::new(&installed).arg("--version").output().unwrap();
    let shown = text(&out.stdout);
    assert!(
        shown.starts_with(&format!(
            "disinfox-sync {} (commit ",
            env!("CARGO_PKG_VERSION")
        )),
        "{shown}"
    );
}
