//! Settings copied from a sample that would quietly hurt: an example connector id (copies
//! would share one cursor), a pycti `config.yml` whose keys this tool does not use.

use predicates::str::contains;

use crate::common::cli;

/// Nobody listens there: a run that got past its configuration ends 75.
const DEAD: &str = "http://127.0.0.1:9";

/// The UUIDs on the `CONNECTOR_ID` / `id:` lines of a file of the repository.
fn printed_ids(file: &str) -> Vec<String> {
    // A sample that moved away is no longer printed; the caller counts what it found.
    let Ok(text) = std::fs::read_to_string(format!("{}/{file}", env!("CARGO_MANIFEST_DIR"))) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| l.contains("CONNECTOR_ID") || l.trim_start().starts_with("id:"))
        .flat_map(|l| {
            l.split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
                .filter(|w| w.len() == 36 && w.matches('-').count() == 4)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn example_connector_ids_are_refused_with_78() {
    let mut ids = Vec::new();
    for file in [
        "README.md",
        "contrib/systemd/disinfox-sync.env.example",
        "k8s/base/configmap.yaml",
        "k8s/overlays/example-second-instance/configmap-patch.yaml",
    ] {
        ids.extend(printed_ids(file));
    }
    ids.sort();
    ids.dedup();
    assert!(ids.len() >= 2, "{ids:?}");
    let home = tempfile::tempdir().unwrap();
    for id in ids {
        cli(home.path())
            .env("DISINFOX_URL", format!("{DEAD}/incidents"))
            .env("DISINFOX_API_KEY", "k3y")
            .env("OPENCTI_URL", DEAD)
            .env("OPENCTI_TOKEN", "t0ken")
            .env("CONNECTOR_ID", &id)
            .args(["sync", "--retries", "0"])
            .assert()
            .code(78)
            .stderr(contains("invalid CONNECTOR_ID"))
            .stderr(contains("uuidgen"))
            .stderr(contains("/proc/sys/kernel/random/uuid"));
    }
}

/// A `config.yml` as pycti connectors ship it (the connectors repository's external-import
/// template, with every key pycti's helper reads and the DISINFOX connector's own).
const PYCTI_CONFIG: &str = "\
opencti:
  url: 'http://127.0.0.1:9'
  token: 'ChangeMe'
  ssl_verify: true
  json_logging: false
connector:
  id: '3f6e2c1a-8b4d-4e7a-9c2b-5d1f0a7e9b34'
  type: 'EXTERNAL_IMPORT'
  name: 'DISINFOX'
  scope: 'stix2'
  log_level: 'info'
  duration_period: 'PT5M'
  confidence_level: 75
  update_existing_data: false
  auto: false
  expose_metrics: false
  metrics_port: 9095
  queue_threshold: 500
  run_and_terminate: false
  listen_protocol: 'AMQP'
  send_to_queue: true
  send_to_directory: false
  send_to_directory_path: '/tmp'
  send_to_directory_retention: 7
  validate_before_import: false
mq:
  use_ssl: false
disinfox:
  url: 'http://127.0.0.1:9/incidents'
  api_key: 'ChangeMe'
";

fn run_with_pycti_config(level: &str) -> String {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.yml");
    std::fs::write(&config, PYCTI_CONFIG).unwrap();
    let out = cli(home.path())
        .arg("--config")
        .arg(&config)
        .args(["--log-level", level, "fetch", "--retries", "0"])
        .output()
        .unwrap();
    // Nobody listens at the DISINFOX URL: past its configuration, the run ends 75.
    assert_eq!(out.status.code(), Some(75), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_pycti_config_yml_runs_without_a_warning() {
    let stderr = run_with_pycti_config("info");
    let warned: Vec<&str> = stderr.lines().filter(|l| l.contains(" WARN ")).collect();
    assert!(warned.is_empty(), "{stderr}");
    let debug = run_with_pycti_config("debug");
    for key in ["connector.send_to_directory_path", "connector.metrics_port"] {
        assert!(
            debug.contains(&format!("config key '{key}' (pycti's)")),
            "{debug}"
        );
    }
}

#[test]
fn an_unknown_config_key_still_warns() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.yml");
    std::fs::write(&config, format!("{PYCTI_CONFIG}  api_kye: 'typo'\n")).unwrap();
    cli(home.path())
        .arg("--config")
        .arg(&config)
        .args(["fetch", "--retries", "0"])
        .assert()
        .code(75)
        .stderr(contains("unknown config key 'disinfox.api_kye' ignored"));
}

/// pycti decrypts `MQ_USE_SSL_KEY` with `MQ_USE_SSL_PASSPHRASE`; rustls cannot, so such a key
/// is refused before the run, with the `openssl` command that decrypts it.
#[test]
fn an_encrypted_broker_key_is_refused_with_the_fix() {
    let home = tempfile::tempdir().unwrap();
    let key = home.path().join("client.key");
    let made = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-aes256", "-pass", "pass:s3cret-phrase", "-out"])
        .arg(&key)
        .status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("openssl not available; skipped");
        return;
    }
    let run = |protocol: &str| {
        cli(home.path())
            .env("DISINFOX_URL", format!("{DEAD}/incidents"))
            .env("DISINFOX_API_KEY", "k3y")
            .env("OPENCTI_URL", DEAD)
            .env("OPENCTI_TOKEN", "t0ken")
            .env("CONNECTOR_ID", crate::common::CONNECTOR_ID)
            .env("CONNECTOR_QUEUE_PROTOCOL", protocol)
            .env("MQ_USE_SSL", "true")
            .env("MQ_USE_SSL_CERT", &key)
            .env("MQ_USE_SSL_KEY", &key)
            .env("MQ_USE_SSL_PASSPHRASE", "s3cret-phrase")
            .args(["sync", "--retries", "0"])
            .output()
            .unwrap()
    };
    let out = run("amqp");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("is an encrypted private key"), "{stderr}");
    assert!(stderr.contains("openssl pkey -in"), "{stderr}");
    assert!(!stderr.contains("s3cret-phrase"), "{stderr}");
    // Over the API the key is not used: a warning, and the run goes on (to the dead peers).
    let out = run("api");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{stderr}");
    assert!(
        stderr.contains("used only with CONNECTOR_QUEUE_PROTOCOL=amqp"),
        "{stderr}"
    );
}

/// DISINFOX's clock ten minutes ahead of ours: the cursor stops at our clock, below what
/// DISINFOX stamps, so each run would import the same incidents again: one warning says so.
#[test]
fn a_disinfox_clock_ahead_of_ours_warns_once_with_the_skew() {
    let peers = crate::common::Peers::start("6.9.17");
    peers.dx.set_clock_skew(chrono::Duration::minutes(10));
    peers
        .dx
        .add_objects(crate::common::incidents(2, 0, peers.dx.server_now()));
    let out = peers.cmd().arg("sync").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let warned: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("ahead of this machine's"))
        .collect();
    assert_eq!(warned.len(), 1, "{stderr}");
    // The Date header has whole seconds: the measured skew is 10 minutes less under a second.
    assert!(
        warned[0].contains(" WARN ") && (warned[0].contains("10m") || warned[0].contains("9m 59s")),
        "{stderr}"
    );
    // In step: no warning.
    peers.dx.set_clock_skew(chrono::Duration::zero());
    let out = peers.cmd().arg("sync").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("ahead of this machine's"), "{stderr}");
}

/// A download on a terminal shows a bar with its size; off a terminal one info line says
/// what is being fetched, and no bar is drawn.
#[test]
fn a_download_on_a_terminal_shows_its_progress_and_size() {
    let peers = crate::common::Peers::start("6.9.17");
    peers
        .dx
        .add_objects(crate::common::incidents(50, 0, chrono::Utc::now()));
    let out_file = peers.home.path().join("all.json");
    let bin = crate::common::bin_path();
    let line = format!(
        "'{}' fetch --output '{}' </dev/null",
        bin.display(),
        out_file.display()
    );
    // `script` runs the command on a pseudo-terminal.
    let Ok(out) = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env_clear()
        .env("HOME", peers.home.path())
        .env("DISINFOX_URL", peers.dx.endpoint_url())
        .env("DISINFOX_API_KEY", peers.dx.api_key())
        .env("TERM", "xterm")
        .output()
    else {
        eprintln!("script(1) not available; skipped");
        return;
    };
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("fetching DISINFOX: "), "{shown}");
    let size = std::fs::metadata(&out_file).unwrap().len();
    assert!(size > 10_000, "{size}");
    assert!(shown.contains("KiB"), "the size: {shown}");
    // Off a terminal: the line, not the bar.
    let plain = peers
        .cmd()
        .args(["fetch", "--output", "-"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&plain.stderr);
    assert!(stderr.contains(" INFO  fetching from "), "{stderr}");
    assert!(!stderr.contains("fetching DISINFOX: "), "{stderr}");
}

/// A push of several chunks on a terminal shows the chunks and the bytes sent so far.
#[test]
fn a_push_on_a_terminal_shows_chunks_and_size() {
    let peers = crate::common::Peers::start("6.9.17");
    let bundle = peers.home.path().join("in.json");
    let objects = crate::common::incidents(40, 0, chrono::Utc::now());
    let text = format!(
        "{{\"type\":\"bundle\",\"id\":\"bundle--{}\",\"objects\":[{}]}}",
        crate::common::CONNECTOR_ID,
        objects.join(",")
    );
    std::fs::write(&bundle, text).unwrap();
    let line = format!(
        "'{}' push --chunk-objects 20 --file '{}' </dev/null",
        crate::common::bin_path().display(),
        bundle.display()
    );
    let mut script = std::process::Command::new("script");
    script
        .args(["-qec", &line, "/dev/null"])
        .env_clear()
        .env("HOME", peers.home.path())
        .env("TERM", "xterm")
        .env("OPENCTI_URL", peers.octi.url())
        .env("OPENCTI_TOKEN", peers.octi.token())
        .env("CONNECTOR_ID", crate::common::CONNECTOR_ID);
    let Ok(out) = script.output() else {
        eprintln!("script(1) not available; skipped");
        return;
    };
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("pushing chunk "), "{shown}");
    assert!(shown.contains(" KiB"), "the size: {shown}");
}
