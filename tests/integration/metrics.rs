//! Run metrics against a real Pushgateway (Debian's `prometheus-pushgateway`, started here on
//! 127.0.0.1 with its own port and persistence file) and as a textfile checked by `promtool`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use disinfox_sync::testing::parse_metrics as parse;
use predicates::prelude::*;
use predicates::str::contains;

use crate::common::{CONNECTOR_ID, Peers, incidents};
use crate::support::opencti::{Fault, PushFailure};
use crate::tools;

/// A Pushgateway child process, killed when dropped.
pub(crate) struct Pushgateway {
    child: Child,
    port: u16,
    /// With TLS and basic auth: the CA that signed its certificate.
    secured: Option<std::path::PathBuf>,
    _dir: tempfile::TempDir,
}

/// The basic-auth user of the secured Pushgateway, its password, and that password's bcrypt
/// hash (cost 10) for the Pushgateway's web configuration.
const PG_USER: &str = "metrics";
const PG_PASSWORD: &str = "pg-test-password";
const PG_HASH: &str = "$2b$10$lWPPTRXpZRRf2cf2U7CGZeQEZEh0euG1/n0OoIabDG2JM7XoSiBKy";

impl Pushgateway {
    pub(crate) fn start() -> Option<Pushgateway> {
        Self::start_with(false)
    }

    /// `secured`: HTTPS with a private CA's certificate, and basic auth.
    fn start_with(secured: bool) -> Option<Pushgateway> {
        let bin = tools::required("prometheus-pushgateway", "prometheus-pushgateway")?;
        if secured {
            tools::required("openssl", "openssl")?;
        }
        // A port picked free can be taken before the child binds it: try a few.
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let mut cmd = Command::new(&bin);
            cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg(format!(
                    "--persistence.file={}",
                    dir.path().join("metrics").display()
                ))
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let ca = secured.then(|| web_config(dir.path()));
            if ca.is_some() {
                cmd.arg(format!(
                    "--web.config.file={}",
                    dir.path().join("web.yml").display()
                ));
            }
            let mut pg = Pushgateway {
                child: cmd.spawn().expect("start prometheus-pushgateway"),
                port,
                secured: ca,
                _dir: dir,
            };
            if pg.wait_ready() {
                return Some(pg);
            }
        }
        panic!("the Pushgateway never became ready");
    }

    fn client(&self) -> reqwest::blocking::Client {
        let mut builder = crate::common::http_client();
        if let Some(ca) = &self.secured {
            let pem = std::fs::read(ca).unwrap();
            builder = builder.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
        }
        builder.build().unwrap()
    }

    pub(crate) fn get(&self, path: &str) -> reqwest::Result<reqwest::blocking::Response> {
        let req = self.client().get(format!("{}{path}", self.url()));
        match self.secured {
            Some(_) => req.basic_auth(PG_USER, Some(PG_PASSWORD)),
            None => req,
        }
        .send()
    }

    /// Polls `/-/ready` until it answers 200, the child exits, or the deadline passes.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            let ready = self.get("/-/ready").is_ok_and(|r| r.status().is_success());
            if ready {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub(crate) fn url(&self) -> String {
        let scheme = if self.secured.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// This connector's samples as Prometheus would scrape them, grouping labels dropped.
    fn scrape(&self) -> Samples {
        let text = self.get("/metrics").unwrap().text().unwrap();
        Samples(
            parse(&text)
                .into_iter()
                .filter(|(_, l, _)| l.get("connector_id").map(String::as_str) == Some(CONNECTOR_ID))
                .map(|(n, mut l, v)| {
                    assert_eq!(l.remove("job").as_deref(), Some("disinfox-sync"));
                    l.remove("instance");
                    l.remove("connector_id");
                    (n, l, v)
                })
                .collect(),
        )
    }
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Certificates and the Pushgateway's web configuration (TLS, basic auth) in `dir`; the CA.
fn web_config(dir: &Path) -> std::path::PathBuf {
    assert!(
        crate::support::certs::make_certs(dir),
        "openssl could not make certificates"
    );
    let config = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  {PG_USER}: '{PG_HASH}'\n",
        dir.join("leaf.pem").display(),
        dir.join("leaf.key").display()
    );
    std::fs::write(dir.join("web.yml"), config).unwrap();
    dir.join("ca.pem")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Samples(Vec<(String, BTreeMap<String, String>, f64)>);

impl Samples {
    fn from_file(path: &Path) -> Samples {
        let text = std::fs::read_to_string(path).unwrap();
        Samples(
            parse(&text)
                .into_iter()
                .map(|(n, mut l, v)| {
                    assert_eq!(l.remove("connector_id").as_deref(), Some(CONNECTOR_ID));
                    (n, l, v)
                })
                .collect(),
        )
    }

    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.0
            .iter()
            .find(|(n, l, _)| n == name && *l == want)
            .map(|(_, _, v)| *v)
    }

    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no sample {name}{labels:?} in {:?}", self.0))
    }

    fn by_type(&self) -> BTreeMap<String, f64> {
        self.0
            .iter()
            .filter(|(n, _, _)| n == "disinfox_sync_objects_pushed_total")
            .map(|(_, l, v)| (l["type"].clone(), *v))
            .collect()
    }
}

/// What the OpenCTI stand-in received: distinct objects by STIX type (a chunk carries copies
/// of the shared objects its objects reference; OpenCTI upserts them into one), chunks,
/// escaped bytes.
fn received(peers: &Peers) -> (BTreeMap<String, f64>, f64, f64) {
    let mut by_type = BTreeMap::new();
    let distinct: std::collections::BTreeSet<String> =
        peers.octi.received_ids().into_iter().collect();
    for id in distinct {
        let ty = id.split("--").next().unwrap().to_owned();
        *by_type.entry(ty).or_insert(0.0) += 1.0;
    }
    let pushes = peers.octi.pushes();
    // The CLI counts a chunk's bytes as sent: the bundle as a JSON string literal.
    let bytes: usize = pushes
        .iter()
        .map(|p| {
            serde_json::to_string(p.raw.as_deref().unwrap())
                .unwrap()
                .len()
        })
        .sum();
    (by_type, pushes.len() as f64, bytes as f64)
}

fn peers_with_incidents() -> Peers {
    peers_with_newest().0
}

/// The peers, and the `modified` of the newest incident DISINFOX holds (ten minutes ago).
fn peers_with_newest() -> (Peers, chrono::DateTime<chrono::Utc>) {
    let peers = Peers::start("7.260510.0");
    let newest = peers.dx.server_now() - chrono::Duration::minutes(10);
    peers.dx.add_objects(incidents(30, 0, newest));
    (peers, newest)
}

#[test]
fn pushgateway_holds_what_opencti_received_and_keeps_the_last_success() {
    let Some(pg) = Pushgateway::start() else {
        return;
    };
    let (peers, newest) = peers_with_newest();
    let sync = |extra: &[&str]| {
        let mut cmd = peers.cmd();
        cmd.args(["sync", "--pushgateway", &pg.url(), "--chunk-size", "16K"])
            .args(extra);
        cmd
    };
    sync(&[]).assert().success();
    let first = pg.scrape();
    let (by_type, chunks, bytes) = received(&peers);
    assert!(chunks > 1.0, "the test wants several chunks");
    assert_eq!(first.by_type(), by_type);
    assert_eq!(
        first.value("disinfox_sync_chunks_pushed_total", &[]),
        chunks
    );
    assert_eq!(first.value("disinfox_sync_pushed_bytes_total", &[]), bytes);
    assert_eq!(first.value("disinfox_sync_exit_status", &[]), 0.0);
    assert_eq!(
        first.value("disinfox_sync_runs_total", &[("status", "imported")]),
        1.0
    );
    assert_eq!(
        first.value("disinfox_sync_run_status", &[("status", "imported")]),
        1.0
    );
    let success = first.value("disinfox_sync_last_success_timestamp_seconds", &[]);
    assert_eq!(
        success,
        first.value("disinfox_sync_run_end_timestamp_seconds", &[])
    );
    // The cursor is the newest incident's `modified`, ten minutes before DISINFOX's clock (to
    // the second of its Date header, and later however slow this machine is).
    assert_eq!(
        first.value("disinfox_sync_cursor_timestamp_seconds", &[]),
        newest.timestamp_millis() as f64 / 1000.0
    );
    let lag = first.value("disinfox_sync_cursor_lag_seconds", &[]);
    assert!(lag >= 599.0, "cursor lag {lag}");

    // More incidents, and OpenCTI fails after one chunk: exit 75, partial counts, and the
    // last success of the first run survives.
    peers.dx.add_objects(incidents(
        30,
        100,
        peers.dx.server_now() - chrono::Duration::minutes(5),
    ));
    peers.octi.set_fault(Fault::FailPushAfter {
        ok_pushes: 1,
        status_or_code: PushFailure::Http(503),
    });
    sync(&["--retries", "1"]).assert().code(75);
    let failed = pg.scrape();
    assert_eq!(failed.value("disinfox_sync_exit_status", &[]), 75.0);
    assert_eq!(
        failed.value("disinfox_sync_last_success_timestamp_seconds", &[]),
        success
    );
    assert!(failed.value("disinfox_sync_run_end_timestamp_seconds", &[]) >= success);
    assert_eq!(
        failed.value("disinfox_sync_runs_total", &[("status", "failed")]),
        1.0
    );
    assert_eq!(
        failed.value("disinfox_sync_runs_total", &[("status", "imported")]),
        1.0
    );
    let (_, chunks_now, bytes_now) = received(&peers);
    assert_eq!(chunks_now, chunks + 1.0);
    assert_eq!(
        failed.value("disinfox_sync_chunks_pushed_total", &[]),
        chunks_now
    );
    assert_eq!(
        failed.value("disinfox_sync_pushed_bytes_total", &[]),
        bytes_now
    );
    // The 503 was retried once before the run gave up.
    assert!(failed.value("disinfox_sync_retries_total", &[]) >= 1.0);
    // Objects count only once a run imported them all: unchanged by the failed run.
    assert_eq!(failed.by_type(), by_type);
}

#[test]
fn textfile_passes_promtool_and_keeps_the_last_success() {
    let Some(promtool) = tools::required("promtool", "prometheus") else {
        return;
    };
    let peers = peers_with_incidents();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("disinfox-sync.prom");
    peers
        .cmd()
        .env("DISINFOX_SYNC_METRICS_FILE", &file)
        .arg("sync")
        .assert()
        .success();
    let check = |path: &Path| {
        let out = Command::new(&promtool)
            .args(["check", "metrics"])
            .stdin(std::fs::File::open(path).unwrap())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool check metrics: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    check(&file);
    let first = Samples::from_file(&file);
    let (by_type, chunks, _) = received(&peers);
    assert_eq!(first.by_type(), by_type);
    assert_eq!(
        first.value("disinfox_sync_chunks_pushed_total", &[]),
        chunks
    );
    let success = first.value("disinfox_sync_last_success_timestamp_seconds", &[]);

    // A second run with nothing new is a success too; then a run with a rejected token.
    peers
        .cmd()
        .args(["sync", "--metrics-file"])
        .arg(&file)
        .assert()
        .success();
    let second = Samples::from_file(&file);
    assert!(second.value("disinfox_sync_last_success_timestamp_seconds", &[]) >= success);
    let success = second.value("disinfox_sync_last_success_timestamp_seconds", &[]);
    assert_eq!(
        second.value("disinfox_sync_runs_total", &[("status", "up-to-date")]),
        1.0
    );
    assert_eq!(second.by_type(), by_type, "counters carried over");

    peers
        .cmd()
        .env("OPENCTI_TOKEN", "not-the-token")
        .args(["sync", "--metrics-file"])
        .arg(&file)
        .assert()
        .code(77);
    check(&file);
    let failed = Samples::from_file(&file);
    assert_eq!(failed.value("disinfox_sync_exit_status", &[]), 77.0);
    assert_eq!(
        failed.value("disinfox_sync_last_success_timestamp_seconds", &[]),
        success
    );
    assert_eq!(
        failed.value("disinfox_sync_runs_total", &[("status", "failed")]),
        1.0
    );
    // Only the file itself is left in the directory: the temp file was renamed.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_failed_push_or_write_only_warns() {
    let peers = peers_with_incidents();
    // Nothing listens on the port: the push fails, the run still succeeds.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().unwrap();
    let blocked = dir.path().join("missing-dir").join("x.prom");
    peers
        .cmd()
        .args(["sync", "--pushgateway", &dead, "--metrics-file"])
        .arg(&blocked)
        .assert()
        .success()
        .stderr(contains("metrics not pushed to the Pushgateway"))
        .stderr(contains("metrics not written to"));
    assert!(!peers.octi.received_ids().is_empty());
}

#[test]
fn pushgateway_credentials_stay_out_of_urls_and_output() {
    let peers = peers_with_incidents();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("pg-password");
    std::fs::write(&secret, "pg-s3cret-value\n").unwrap();
    // A server that rejects every request: the warning must not carry the password.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0u8; 4096];
        let n = conn.read(&mut buf).unwrap_or(0);
        let request = String::from_utf8_lossy(&buf[..n]).into_owned();
        let _ = conn.write_all(
            b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 12\r\nconnection: close\r\n\r\nunauthorized",
        );
        request
    });
    let out = peers
        .cmd()
        .env("DISINFOX_SYNC_PUSHGATEWAY_USER", "metrics")
        .env("DISINFOX_SYNC_PUSHGATEWAY_PASSWORD_FILE", &secret)
        .args([
            "--log-level",
            "debug",
            "sync",
            "--json",
            "--pushgateway",
            &url,
        ])
        .assert()
        .success()
        .stderr(contains("HTTP 401"))
        .get_output()
        .clone();
    let request = server.join().unwrap();
    // Basic auth of "metrics:pg-s3cret-value".
    assert!(
        request.contains("authorization: Basic bWV0cmljczpwZy1zM2NyZXQtdmFsdWU="),
        "{request}"
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("pg-s3cret-value"), "{all}");

    // Credentials inside the URL are refused with the fix.
    peers
        .cmd()
        .args(["sync", "--pushgateway", "http://u:p@127.0.0.1:1"])
        .assert()
        .code(2)
        .stderr(contains("DISINFOX_SYNC_PUSHGATEWAY_PASSWORD_FILE"));
}

/// The README's alert rules are contrib/prometheus's, and promtool both accepts them and
/// shows, with its rule unit tests, when each fires and when it does not.
#[test]
fn alert_rules_pass_promtool_and_match_the_readme() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rules =
        std::fs::read_to_string(root.join("contrib/prometheus/disinfox-sync.rules.yml")).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("```yaml\n{rules}```")),
        "README.md must quote contrib/prometheus/disinfox-sync.rules.yml whole"
    );
    let Some(promtool) = tools::required("promtool", "prometheus") else {
        return;
    };
    for args in [
        ["check", "rules", "disinfox-sync.rules.yml"],
        ["test", "rules", "disinfox-sync.rules.test.yml"],
    ] {
        let out = Command::new(&promtool)
            .current_dir(root.join("contrib/prometheus"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn metrics_settings_from_the_environment_and_config_yml() {
    let peers = peers_with_incidents();
    let dead = format!("http://127.0.0.1:{}/", free_port());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("from-config.prom");
    let cfg = dir.path().join("config.yml");
    std::fs::write(
        &cfg,
        format!(
            "disinfox_sync:\n  metrics_file: '{}'\n  pushgateway_url: '{dead}'\n",
            file.display()
        ),
    )
    .unwrap();
    peers
        .cmd()
        .args(["--config", cfg.to_str().unwrap(), "sync"])
        .assert()
        .success()
        .stderr(contains(format!(
            "metrics not pushed to the Pushgateway at {dead}"
        )));
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("disinfox_sync_exit_status{")
    );
    peers
        .cmd()
        .env("DISINFOX_SYNC_PUSHGATEWAY_URL", &dead)
        .arg("sync")
        .assert()
        .success()
        .stderr(contains(format!(
            "metrics not pushed to the Pushgateway at {dead}"
        )));
    // Half of the basic-auth pair is a configuration error naming both settings.
    peers
        .cmd()
        .env("DISINFOX_SYNC_PUSHGATEWAY_USER", "metrics")
        .arg("sync")
        .assert()
        .code(78)
        .stderr(contains("DISINFOX_SYNC_PUSHGATEWAY_PASSWORD"));
}

#[test]
fn pushgateway_over_tls_with_basic_auth() {
    let Some(pg) = Pushgateway::start_with(true) else {
        return;
    };
    let peers = peers_with_incidents();
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("pg-password");
    std::fs::write(&password, format!("{PG_PASSWORD}\n")).unwrap();
    let ca = pg.secured.clone().unwrap();
    let sync = || {
        let mut cmd = peers.cmd();
        cmd.env("DISINFOX_SYNC_PUSHGATEWAY_URL", pg.url())
            .env("DISINFOX_SYNC_PUSHGATEWAY_USER", PG_USER);
        cmd
    };
    // Without the private CA: TLS verification fails, the run still succeeds.
    sync()
        .env("DISINFOX_SYNC_PUSHGATEWAY_PASSWORD_FILE", &password)
        .arg("sync")
        .assert()
        .success()
        .stderr(contains("metrics not pushed").and(contains("certificate")));
    // With it, but a wrong password: refused.
    sync()
        .env("DISINFOX_SYNC_PUSHGATEWAY_PASSWORD", "not-the-password")
        .args(["--ca-cert", ca.to_str().unwrap(), "sync"])
        .assert()
        .success()
        .stderr(contains("HTTP 401"));
    assert!(pg.scrape().get("disinfox_sync_exit_status", &[]).is_none());
    // Those runs imported the first incidents; the pushed run imports new ones.
    peers.octi.clear_history();
    peers.dx.add_objects(incidents(
        4,
        100,
        peers.dx.server_now() - chrono::Duration::minutes(5),
    ));
    let out = sync()
        .env("DISINFOX_SYNC_PUSHGATEWAY_PASSWORD_FILE", &password)
        .args([
            "--ca-cert",
            ca.to_str().unwrap(),
            "--log-level",
            "debug",
            "sync",
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(!String::from_utf8_lossy(&out.stderr).contains(PG_PASSWORD));
    let pushed = pg.scrape();
    assert_eq!(pushed.value("disinfox_sync_exit_status", &[]), 0.0);
    assert_eq!(
        pushed.value("disinfox_sync_runs_total", &[("status", "imported")]),
        1.0
    );
    assert_eq!(pushed.by_type(), received(&peers).0);
}
