//! The systemd units in contrib/systemd: `make install` puts them beside the binary it
//! installs, `systemd-analyze verify` accepts them (binary and man pages included), and the
//! service's exposure stays at 2.0 or lower. The cursor stays in OpenCTI, as the Python
//! connector keeps it; the drop-in for systemd older than 251 verifies too.

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
    assert_eq!(
        exec_start(&units.join("disinfox-sync.service")),
        "/usr/bin/disinfox-sync sync"
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

/// A migrated connector carries on from the state the Python connector left in OpenCTI, and
/// OpenCTI's "Reset state" works, only when the cursor stays there: nothing shipped as a
/// schedule may keep it in a local file (that stays an opt-in the README describes).
#[test]
fn no_shipped_schedule_keeps_the_cursor_in_a_file() {
    let shipped = vec![
        "contrib/systemd/disinfox-sync.service",
        "contrib/systemd/disinfox-sync.env.example",
        "contrib/systemd/legacy/credentials-env.conf",
        "k8s/docker-compose.yml",
        "contrib/cron/disinfox-sync-compose",
        "k8s/base/cronjob.yaml",
        "k8s/base/configmap.yaml",
    ];
    for file in shipped {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
            assert!(
                !line.contains("--state-file") && !line.contains("DISINFOX_SYNC_STATE_FILE"),
                "{file}: {line}"
            );
        }
    }
    for block in crate::readme::sandbox::blocks() {
        if block.lang == "cron" || block.text.contains("systemctl") {
            assert!(
                !block.text.contains("--state-file"),
                "README, {}: {}",
                block.section,
                block.text
            );
        }
    }
}

fn dropin() -> PathBuf {
    root().join("contrib/systemd/legacy/credentials-env.conf")
}

/// systemd older than 251 has no `%d` for the credentials: the drop-in replaces them with a
/// root-only environment file. `systemd-analyze verify` (252 here) accepts the unit with it.
#[test]
fn systemd_analyze_verify_accepts_the_legacy_credentials_dropin() {
    let Some(analyze) = tools::required("systemd-analyze", "systemd") else {
        return;
    };
    let prefix = tempfile::tempdir().unwrap();
    make_install(prefix.path(), None);
    let units: PathBuf = prefix.path().join("lib/systemd/system");
    let dir = units.join("disinfox-sync.service.d");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(dropin(), dir.join("credentials-env.conf")).unwrap();
    let out = Command::new(analyze)
        .env("MANPATH", prefix.path().join("share/man"))
        .arg("verify")
        .arg(units.join("disinfox-sync.service"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
    assert!(stderr.trim().is_empty(), "systemd-analyze verify: {stderr}");
    // It was read: the same directory with a drop-in systemd cannot parse fails verify.
    std::fs::write(dir.join("broken.conf"), "[Service]\nLoadCredential=:\n").unwrap();
    let out = Command::new(tools::required("systemd-analyze", "systemd").unwrap())
        .env("MANPATH", prefix.path().join("share/man"))
        .arg("verify")
        .arg(units.join("disinfox-sync.service"))
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stderr).trim().is_empty(),
        "verify reads the drop-in directory"
    );
}

/// What the drop-in leaves the service: the `*_FILE` settings empty (unset) beside the
/// secrets from its environment file. A run with exactly that imports.
#[test]
fn legacy_dropin_environment_runs() {
    let text = std::fs::read_to_string(dropin()).unwrap();
    let cleared: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("Environment="))
        .flat_map(str::split_whitespace)
        .map(|pair| pair.strip_suffix('=').expect("NAME= (empty)"))
        .collect();
    assert_eq!(cleared, ["OPENCTI_TOKEN_FILE", "DISINFOX_API_KEY_FILE"]);
    assert!(
        text.contains("\nLoadCredential=\n"),
        "the credential list emptied"
    );
    let env = crate::common::Peers::start("7.260510.0");
    let mut cmd = env.cmd();
    // Peers::cmd sets OPENCTI_TOKEN and DISINFOX_API_KEY, as the environment file does.
    cmd.arg("sync");
    for name in cleared {
        cmd.env(name, "");
    }
    cmd.assert().success();
    assert!(env.octi.state(crate::common::CONNECTOR_ID).is_some());
}
