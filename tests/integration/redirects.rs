//! A redirect never takes a credential to another origin. Two loopback servers on different
//! ports are two origins: the first redirects (once within itself, then to the second, with
//! a user, password and query in the `Location`), the second records whatever reaches it.
//! DISINFOX, OpenCTI and the Pushgateway must stop at the origin change (78 for the peers; a
//! warning for the Pushgateway, whose failures never change a run's status) and name the
//! `Location` without its secrets; the second server sees nothing of the key, the token, the
//! custom headers or the Basic credentials.

use std::sync::{Arc, Mutex};

use predicates::str::contains;

use crate::common::{CONNECTOR_ID, Peers, cli};
use crate::support::http::{Request, Response, Server};

const KEY: &str = "k3y.cmVkaXJlY3Qta2V5.UmVkaXJlY3Q=";
const TOKEN: &str = "5d7e1c2a-redirect-token-0001";
const PROXY_SECRET: &str = "proxy-secret-for-redirects";
const PG_PASSWORD: &str = "pg-redirect-password";
const QUERY_SECRET: &str = "sig-in-the-location-query";
const URL_PASSWORD: &str = "pw-in-the-location";

/// The second origin: records every request it gets.
struct Recorder {
    server: Server,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl Recorder {
    fn start() -> Recorder {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let server = Server::start(move |req: &Request| {
            log.lock().unwrap().push(req.clone());
            Response::json(200, "{}")
        });
        Recorder { server, seen }
    }

    /// Where the first origin sends everything, secrets in the URL included.
    fn location(&self) -> String {
        format!(
            "http://user:{URL_PASSWORD}@127.0.0.1:{}/elsewhere?sig={QUERY_SECRET}",
            self.server.port()
        )
    }

    /// No request reached it carrying any credential or custom header.
    fn assert_no_credential(&self) {
        for req in self.seen.lock().unwrap().iter() {
            let headers = format!("{:?}", req.headers);
            for secret in [KEY, TOKEN, PROXY_SECRET, "authorization", "x-proxy-auth"] {
                assert!(
                    !headers
                        .to_ascii_lowercase()
                        .contains(&secret.to_ascii_lowercase()),
                    "the second origin received {secret}: {headers}"
                );
            }
        }
    }
}

/// The first origin: one redirect within itself, then to `to`.
fn redirector(to: String) -> Server {
    Server::start(move |req: &Request| {
        let location = if req.path.ends_with("/hop") {
            to.clone()
        } else {
            format!("{}/hop", req.path.trim_end_matches('/'))
        };
        Response::text(302, "moved").with_header("Location", location)
    })
}

fn assert_location_shown_without_secrets(stderr: &str, second: &Recorder) {
    let shown = format!("http://127.0.0.1:{}/elsewhere", second.server.port());
    assert!(stderr.contains(&shown), "{stderr}");
    assert!(stderr.contains("another origin"), "{stderr}");
    for secret in [QUERY_SECRET, URL_PASSWORD, KEY, TOKEN, PROXY_SECRET] {
        assert!(!stderr.contains(secret), "{secret} in: {stderr}");
    }
}

#[test]
fn disinfox_redirect_to_another_origin_stops_with_78() {
    let second = Recorder::start();
    let first = redirector(second.location());
    let home = tempfile::tempdir().unwrap();
    let out = cli(home.path())
        .env("DISINFOX_URL", format!("{}/incidents", first.url()))
        .env("DISINFOX_API_KEY", KEY)
        .args(["fetch", "--retries", "0"])
        .assert()
        .code(78)
        .get_output()
        .clone();
    assert_location_shown_without_secrets(&String::from_utf8_lossy(&out.stderr), &second);
    second.assert_no_credential();
}

#[test]
fn opencti_redirect_to_another_origin_stops_with_78() {
    let second = Recorder::start();
    let first = redirector(second.location());
    let home = tempfile::tempdir().unwrap();
    let bundle = home.path().join("bundle.json");
    std::fs::write(
        &bundle,
        crate::common::bundle_of(1, chrono::Utc::now() - chrono::Duration::hours(1)),
    )
    .unwrap();
    let out = cli(home.path())
        .env("OPENCTI_URL", first.url())
        .env("OPENCTI_TOKEN", TOKEN)
        .env(
            "OPENCTI_CUSTOM_HEADERS",
            format!("X-Proxy-Auth: {PROXY_SECRET}"),
        )
        .env("CONNECTOR_ID", CONNECTOR_ID)
        .args(["push", "--retries", "0", "--file"])
        .arg(&bundle)
        .assert()
        .code(78)
        .get_output()
        .clone();
    assert_location_shown_without_secrets(&String::from_utf8_lossy(&out.stderr), &second);
    second.assert_no_credential();
}

#[test]
fn pushgateway_redirect_to_another_origin_is_refused() {
    let second = Recorder::start();
    let first = redirector(second.location());
    let peers = Peers::start("6.9.17");
    let out = peers
        .cmd()
        .env("DISINFOX_SYNC_PUSHGATEWAY_USER", "metrics")
        .env("DISINFOX_SYNC_PUSHGATEWAY_PASSWORD", PG_PASSWORD)
        .args(["sync", "--pushgateway", &first.url()])
        .assert()
        // A failed push only warns: the run's own status stands.
        .success()
        .stderr(contains("metrics not pushed"))
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_location_shown_without_secrets(&stderr, &second);
    assert!(!stderr.contains(PG_PASSWORD), "{stderr}");
    second.assert_no_credential();
}

#[test]
fn a_redirect_within_the_origin_is_followed() {
    let home = tempfile::tempdir().unwrap();
    let server = Server::start(|req: &Request| {
        if req.path == "/old/incidents" {
            Response::text(301, "moved").with_header("Location", "/incidents")
        } else {
            Response::json(
                200,
                r#"{"type":"bundle","id":"bundle--6a2a1c5e-0b0c-4c4c-9f9f-0123456789ab","objects":[]}"#,
            )
        }
    });
    cli(home.path())
        .env("DISINFOX_URL", format!("{}/old/incidents", server.url()))
        .env("DISINFOX_API_KEY", KEY)
        .args(["fetch", "--retries", "0"])
        .assert()
        .success();
}
