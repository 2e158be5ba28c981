//! Settings that must be refused, or read with care, before a run talks to anyone: files
//! others could change, secrets with stray characters, absurd durations, values clap reads
//! from the environment, state files of other users, a system file this user cannot read.
//! And whatever ends the run, in the log format asked for.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use predicates::prelude::*;
use predicates::str::contains;

use crate::common::cli;
use crate::support::disinfox::{DisinfoxOptions, DisinfoxStandin};

/// Nobody listens there: a run that got past its configuration ends 75.
const DEAD_URL: &str = "http://127.0.0.1:9/incidents";
const KEY: &str = "k3y.c2V0dGluZ3Mta2V5.U2V0dGluZ3M=";

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn write_config(path: &Path) {
    std::fs::write(
        path,
        format!("disinfox:\n  url: '{DEAD_URL}'\n  api_key: '{KEY}'\n"),
    )
    .unwrap();
}

fn fetch_with_config(home: &Path, config: &Path) -> assert_cmd::assert::Assert {
    cli(home)
        .arg("--config")
        .arg(config)
        .args(["fetch", "--retries", "0"])
        .assert()
}

#[test]
fn config_files_others_could_change_are_refused() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("etc");
    std::fs::create_dir(&dir).unwrap();
    let config = dir.join("config.yml");
    write_config(&config);
    // As it should be: read, and the run goes on to the (dead) peer.
    fetch_with_config(home.path(), &config).code(75);

    chmod(&config, 0o666);
    fetch_with_config(home.path(), &config)
        .code(78)
        .stderr(contains("writable by every user").and(contains("chmod o-w")));
    chmod(&config, 0o644);

    chmod(&dir, 0o777);
    fetch_with_config(home.path(), &config)
        .code(78)
        .stderr(contains("the directory").and(contains("chmod o-w")));
    // With the sticky bit, as /tmp, nobody can replace another's file there.
    chmod(&dir, 0o1777);
    fetch_with_config(home.path(), &config).code(75);
    chmod(&dir, 0o755);

    if !is_root() {
        crate::common::skip("not root: a file of another user cannot be made here");
        return;
    }
    std::os::unix::fs::chown(&config, Some(4321), None).unwrap();
    fetch_with_config(home.path(), &config)
        .code(78)
        .stderr(contains("belongs to uid 4321").and(contains("chown")));
}

#[test]
fn secret_files_others_could_change_are_refused() {
    let home = tempfile::tempdir().unwrap();
    let key_file = home.path().join("key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let fetch = || {
        let mut c = cli(home.path());
        c.env("DISINFOX_URL", DEAD_URL)
            .env("DISINFOX_API_KEY_FILE", &key_file)
            .args(["fetch", "--retries", "0"]);
        c
    };
    fetch().assert().code(75);
    chmod(&key_file, 0o646);
    fetch()
        .assert()
        .code(78)
        .stderr(contains("DISINFOX_API_KEY_FILE").and(contains("chmod o-w")));
}

#[test]
fn a_yaml_block_scalar_secret_is_trimmed_and_control_characters_refused() {
    let dx = DisinfoxStandin::start(DisinfoxOptions::default());
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.yml");
    let with_key = |key_yaml: &str| {
        std::fs::write(
            &config,
            format!(
                "disinfox:\n  url: '{}'\n  api_key: {key_yaml}\n",
                dx.endpoint_url()
            ),
        )
        .unwrap();
    };
    // `|` keeps the line break after the value; trailing blanks are no part of a key either.
    with_key(&format!("|\n    {}  \n", dx.api_key()));
    fetch_with_config(home.path(), &config).success();
    // Any other control character is refused, naming the key and not showing the value.
    with_key(&format!("\"{}\\u0007\"", dx.api_key()));
    let out = fetch_with_config(home.path(), &config)
        .code(78)
        .stderr(contains("disinfox.api_key").and(contains("control character")))
        .get_output()
        .clone();
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&dx.api_key()[..12]));
}

/// The CLI without the test defaults of `cli` (which set --timeout and --retry-delay).
fn bare(home: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("disinfox-sync");
    cmd.env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"));
    cmd
}

#[test]
fn absurd_durations_are_refused_not_a_panic() {
    let dx = DisinfoxStandin::start(DisinfoxOptions::default());
    let home = tempfile::tempdir().unwrap();
    let fetch = || {
        let mut c = bare(home.path());
        c.env("DISINFOX_URL", dx.endpoint_url())
            .env("DISINFOX_API_KEY", dx.api_key());
        c
    };
    let absurd = "100000000000years";
    // On the command line: a usage error (2), like any bad flag value.
    for flag in ["--timeout", "--retry-delay", "--connect-timeout"] {
        fetch()
            .args([flag, absurd, "fetch"])
            .assert()
            .code(2)
            .stderr(contains("longer than a year"));
    }
    fetch()
        .args(["sync", &format!("--wait={absurd}")])
        .assert()
        .code(2)
        .stderr(contains("longer than a year"));
    // From the environment or config.yml: a configuration error (78).
    for var in ["DISINFOX_SYNC_TIMEOUT", "DISINFOX_SYNC_RETRY_DELAY"] {
        fetch()
            .env(var, absurd)
            .arg("fetch")
            .assert()
            .code(78)
            .stderr(contains(var).and(contains("longer than a year")));
    }
    let config = home.path().join("config.yml");
    std::fs::write(
        &config,
        format!("disinfox_sync:\n  retry_delay: {absurd}\n"),
    )
    .unwrap();
    fetch()
        .arg("--config")
        .arg(&config)
        .arg("fetch")
        .assert()
        .code(78)
        .stderr(contains("disinfox_sync.retry_delay").and(contains("longer than a year")));
}

#[test]
fn a_bad_value_clap_reads_from_the_environment_is_a_configuration_error() {
    let home = tempfile::tempdir().unwrap();
    for (var, value) in [
        ("CONNECTOR_QUEUE_THRESHOLD", "lots"),
        ("DISINFOX_SYNC_LOG_FORMAT", "xml"),
        ("DISINFOX_SYNC_ALLOW_LARGE_CHUNKS", "perhaps"),
    ] {
        cli(home.path())
            .env(var, value)
            .arg("sync")
            .assert()
            .code(78)
            .stderr(contains(format!("{var} (environment)")));
    }
    // The same value typed as a flag stays a usage error.
    cli(home.path())
        .env("CONNECTOR_QUEUE_THRESHOLD", "lots")
        .args(["sync", "--queue-threshold", "lots"])
        .assert()
        .code(2)
        .stderr(contains("--queue-threshold"));
}

fn assert_all_json(stderr: &[u8]) -> Vec<serde_json::Value> {
    let text = String::from_utf8_lossy(stderr);
    assert!(!text.trim().is_empty());
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n{text}")))
        .collect()
}

#[test]
fn json_logging_covers_refused_command_lines_configuration_errors_and_panics() {
    let home = tempfile::tempdir().unwrap();
    // The flag typed on a command line clap refuses.
    let out = cli(home.path())
        .args(["--log-format", "json", "fetch", "--no-such-flag"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let lines = assert_all_json(&out.stderr);
    assert!(
        lines[0]["message"]
            .as_str()
            .unwrap()
            .contains("--no-such-flag")
    );
    // opencti.json_logging in a config file that does not load as a whole.
    let config = home.path().join("config.yml");
    std::fs::write(
        &config,
        "opencti:\n  json_logging: true\ndisinfox:\n  url: 'not a url'\n",
    )
    .unwrap();
    let out = cli(home.path())
        .arg("--config")
        .arg(&config)
        .arg("fetch")
        .assert()
        .code(78)
        .get_output()
        .clone();
    assert_all_json(&out.stderr);
    // A panic is one JSON line, without a backtrace, and the status of a bug.
    let bug = i32::from(disinfox_sync::testing::ExitCode::Software.code());
    let out = cli(home.path())
        .env("DISINFOX_SYNC_TEST_PANIC", "1")
        .env("RUST_BACKTRACE", "1")
        .args(["--log-format", "json", "fetch"])
        .assert()
        .code(bug)
        .get_output()
        .clone();
    let lines = assert_all_json(&out.stderr);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["level"], "ERROR");
    assert!(lines[0]["message"].as_str().unwrap().contains("a bug"));
    // In text, one line too.
    cli(home.path())
        .env("DISINFOX_SYNC_TEST_PANIC", "1")
        .env("RUST_BACKTRACE", "1")
        .arg("fetch")
        .assert()
        .code(bug)
        .stderr(contains("internal error (a bug").and(contains("backtrace").not()));
}

#[test]
fn a_state_file_of_another_user_is_left_alone() {
    if !is_root() {
        crate::common::skip("not root: a file of another user cannot be made here");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let state = home.path().join("state.json");
    let before = "{\"cursor\": \"2024-01-01T00:00:00.000Z\"}\n";
    std::fs::write(&state, before).unwrap();
    chmod(&state, 0o444);
    std::os::unix::fs::chown(&state, Some(4321), None).unwrap();
    cli(home.path())
        .args(["reset-state", "--to", "2025-01-01", "--state-file"])
        .arg(&state)
        .assert()
        .code(74)
        .stderr(contains("belongs to uid 4321").and(contains("left alone")));
    assert_eq!(std::fs::read_to_string(&state).unwrap(), before);
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&state).unwrap().uid(), 4321);
}

#[test]
fn an_unreadable_system_config_does_not_stop_a_user_run() {
    if !is_root() {
        crate::common::skip("not root: the run cannot be started as another user");
        return;
    }
    const NOBODY: u32 = 65534;
    let home = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(home.path(), Some(NOBODY), Some(NOBODY)).unwrap();
    let sysconf = tempfile::tempdir().unwrap();
    chmod(sysconf.path(), 0o755);
    let dir = sysconf.path().join("disinfox-sync");
    std::fs::create_dir(&dir).unwrap();
    write_config(&dir.join("config.yml"));
    chmod(&dir.join("config.yml"), 0o600);
    let run = |with_user_config: bool| {
        let mut cmd = std::process::Command::new(crate::common::bin_path());
        std::os::unix::process::CommandExt::uid(&mut cmd, NOBODY);
        std::os::unix::process::CommandExt::gid(&mut cmd, NOBODY);
        cmd.env_clear()
            .env("HOME", home.path())
            .env("DISINFOX_SYNC_SYSCONFDIR", sysconf.path())
            .args(["fetch", "--retries", "0"]);
        if !with_user_config {
            cmd.env("DISINFOX_URL", DEAD_URL)
                .env("DISINFOX_API_KEY", KEY);
        }
        assert_cmd::Command::from_std(cmd).assert()
    };
    run(false)
        .code(75)
        .stderr(contains("system config file").and(contains("ignored")));
    let user_dir = home.path().join(".config/disinfox-sync");
    std::fs::create_dir_all(&user_dir).unwrap();
    write_config(&user_dir.join("config.yml"));
    for d in [
        home.path().join(".config"),
        user_dir.clone(),
        user_dir.join("config.yml"),
    ] {
        std::os::unix::fs::chown(&d, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    run(true).code(75);
}

#[test]
fn credentials_in_a_peer_url_are_refused_and_never_echoed() {
    let home = tempfile::tempdir().unwrap();
    let password = "pw-in-a-peer-url-1234";
    // Too short to be registered as a secret: still not echoed.
    cli(home.path())
        .args(["sync", "--pushgateway", "http://u:pw9@127.0.0.1:9/"])
        .assert()
        .code(2)
        .stderr(contains("pw9").not().and(contains("[redacted]")));
    let url = format!("http://user:{password}@127.0.0.1:9/");
    let no_password = |out: &std::process::Output| {
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(&password[..10]), "{all}");
    };
    for (var, setting) in [
        ("DISINFOX_URL", "DISINFOX_API_KEY"),
        ("OPENCTI_URL", "OPENCTI_TOKEN"),
    ] {
        let out = cli(home.path())
            .env("DISINFOX_URL", DEAD_URL)
            .env("DISINFOX_API_KEY", KEY)
            .env("OPENCTI_URL", "http://127.0.0.1:9")
            .env("OPENCTI_TOKEN", "a-token-for-this-test")
            .env("CONNECTOR_ID", crate::common::CONNECTOR_ID)
            .env(var, &url)
            .arg("check")
            .assert()
            .code(78)
            .stdout(contains("remove the user and password").and(contains(setting)))
            .get_output()
            .clone();
        no_password(&out);
    }
    // clap's refusal of --pushgateway quotes the value: without the password.
    let out = cli(home.path())
        .args(["sync", "--pushgateway", &url])
        .assert()
        .code(2)
        .stderr(contains("DISINFOX_SYNC_PUSHGATEWAY_PASSWORD"))
        .get_output()
        .clone();
    no_password(&out);
}
