//! Commands the README prints, run as printed.

use crate::common::{Peers, bin_path};

/// The first line of the README's first `cron` block that runs `disinfox-sync`.
fn cron_line() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut in_cron = false;
    for line in readme.lines() {
        if line.starts_with("```cron") {
            in_cron = true;
        } else if line.starts_with("```") {
            in_cron = false;
        } else if in_cron && line.contains(" disinfox-sync sync") {
            return line.to_owned();
        }
    }
    panic!("README has no cron line running disinfox-sync sync");
}

#[test]
fn readme_cron_line_runs_as_printed() {
    let env = Peers::start("6.9.17");
    let objs = crate::common::incidents(2, 0, env.dx.server_now() - chrono::Duration::minutes(5));
    env.dx.add_objects(&objs);
    let line = cron_line();
    // The five schedule fields go to cron, the rest to the shell; only the log file moves into
    // the test's directory (the test must not write /var/log).
    let command = line.splitn(6, ' ').nth(5).unwrap();
    assert!(
        command.contains("--state-file >>/var/log/disinfox-sync.log"),
        "{command}"
    );
    let log = env.home.path().join("disinfox-sync.log");
    let command = command.replace("/var/log/disinfox-sync.log", log.to_str().unwrap());
    let bin_dir = bin_path().parent().unwrap().to_path_buf();
    for run in 1..=2 {
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(&command)
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
            .env("HOME", env.home.path())
            .env("XDG_STATE_HOME", env.home.path().join("state"))
            .env("XDG_CONFIG_HOME", env.home.path().join("config"))
            .envs(env_vars(&env))
            .status()
            .unwrap();
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(status.success(), "run {run} failed: {logged}");
    }
    let state = env.home.path().join("state/disinfox-sync/state.json");
    let text =
        std::fs::read_to_string(&state).expect("the bare --state-file used the default path");
    assert!(text.contains("last_fetch"), "{text}");
}

fn env_vars(env: &Peers) -> Vec<(&'static str, String)> {
    vec![
        ("DISINFOX_URL", env.dx.endpoint_url()),
        ("DISINFOX_API_KEY", env.dx.api_key()),
        ("OPENCTI_URL", env.octi.url()),
        ("OPENCTI_TOKEN", env.octi.token()),
        ("CONNECTOR_ID", crate::common::CONNECTOR_ID.to_owned()),
    ]
}

/// An empty variable is an unset one: no complaint about a flag nobody typed.
#[test]
fn empty_variables_mean_unset() {
    let env = Peers::start("6.9.17");
    let out = env
        .cmd()
        .args(["sync", "--json"])
        .env("DISINFOX_SYNC_STATE_FILE", "")
        .env("DISINFOX_SYNC_CONFIG", "")
        .env("CONNECTOR_QUEUE_THRESHOLD", "")
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(!stderr.contains("--state-file"), "{stderr}");
    // The cursor went to OpenCTI, not to a default state file.
    assert!(
        !env.home
            .path()
            .join("state/disinfox-sync/state.json")
            .exists()
    );
}

/// The CronJob's --max-bundle-size must fail fast before its memory limit is reached: peak
/// RSS is at most 1.4 MiB per MB of answer + 8 MiB (BENCHMARKS.md), kept under 90 % of the
/// limit, as the comment in the manifest works out.
#[test]
fn cronjob_max_bundle_size_fits_its_memory_limit() {
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/k8s/base/cronjob.yaml"
    ))
    .unwrap();
    let args = yaml
        .lines()
        .find(|l| l.trim_start().starts_with("args:"))
        .unwrap();
    let size = args
        .split("\"--max-bundle-size\", \"")
        .nth(1)
        .expect("--max-bundle-size in args");
    let size = disinfox_sync::cli::parse_size(size.split('"').next().unwrap()).unwrap();
    let limits = yaml.split("limits:").nth(1).unwrap();
    let memory = limits
        .split("memory:")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let mib: f64 = memory
        .strip_suffix("Mi")
        .expect("limit in Mi")
        .parse()
        .unwrap();
    let peak = 1.4 * size as f64 / 1e6 + 8.0;
    assert!(
        peak <= 0.9 * mib,
        "peak {peak:.0} MiB against a {mib} MiB limit"
    );
}
