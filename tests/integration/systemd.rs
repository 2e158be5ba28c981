//! The systemd units in contrib/systemd: `make install` puts them beside the binary it
//! installs, `systemd-analyze verify` accepts them (binary and man pages included), and the
//! service's exposure stays at 2.0 or lower.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::bin_path;
use crate::tools;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `make install PREFIX=… DESTDIR=…` with the test build as the binary.
fn make_install(prefix: &Path, destdir: Option<&Path>) {
    let mut cmd = Command::new("make");
    cmd.current_dir(root())
        .arg("--no-print-directory")
        .arg("install")
        .arg(format!("PREFIX={}", prefix.display()))
        .arg(format!("BIN={}", bin_path().display()));
    if let Some(d) = destdir {
        cmd.arg(format!("DESTDIR={}", d.display()));
    }
    let out = cmd.output().expect("make runs");
    assert!(
        out.status.success(),
        "make install failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn exec_start(unit: &Path) -> String {
    std::fs::read_to_string(unit)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart=")
        .to_owned()
}

#[test]
fn make_install_names_the_installed_binary_in_the_unit() {
    let dest = tempfile::tempdir().unwrap();
    make_install(Path::new("/usr"), Some(dest.path()));
    let units = dest.path().join("usr/lib/systemd/system");
    assert!(
        exec_start(&units.join("disinfox-sync.service"))
            .starts_with("/usr/bin/disinfox-sync sync --state-file ")
    );
    let shipped = root().join("contrib/systemd");
    assert!(exec_start(&shipped.join("disinfox-sync.service")).starts_with("/usr/local/bin/"));
    assert_eq!(
        std::fs::read(units.join("disinfox-sync.timer")).unwrap(),
        std::fs::read(shipped.join("disinfox-sync.timer")).unwrap()
    );
}

/// Installed into a temporary prefix, so ExecStart= and Documentation= point at real files.
#[test]
fn systemd_analyze_verify_accepts_the_installed_units() {
    let Some(analyze) = tools::required("systemd-analyze", "systemd") else {
        return;
    };
    let prefix = tempfile::tempdir().unwrap();
    make_install(prefix.path(), None);
    let units: PathBuf = prefix.path().join("lib/systemd/system");
    let out = Command::new(analyze)
        .env("MANPATH", prefix.path().join("share/man"))
        .arg("verify")
        .arg(units.join("disinfox-sync.service"))
        .arg(units.join("disinfox-sync.timer"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
    // verify also prints warnings it does not fail on: there must be none.
    assert!(stderr.trim().is_empty(), "systemd-analyze verify: {stderr}");
}

#[test]
fn service_exposure_is_at_most_2() {
    let Some(analyze) = tools::required("systemd-analyze", "systemd") else {
        return;
    };
    let unit = root().join("contrib/systemd/disinfox-sync.service");
    // --threshold counts tenths: 20 is an exposure of 2.0.
    let out = Command::new(analyze)
        .args(["security", "--offline=true", "--threshold=20", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let level: f64 = stdout
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for disinfox-sync.service: "))
        .and_then(|(_, rest)| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in: {stdout}"));
    assert!(
        out.status.success() && level <= 2.0,
        "exposure {level}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
