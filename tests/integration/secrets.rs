//! Secrets never reach any output, whole or in part, at the most verbose log level: keys,
//! tokens and credentials in URLs, through failures of every kind.

use crate::common::cli;
use crate::support::http::{Response, Server};

// Without the public `DISINFOX.` prefix of real keys: "DISINFOX" is the connector's name.
const KEY: &str = "k3y.c2VjcmV0LWtleS1mb3ItbGVha3M=.Zk9vQmFy";
const TOKEN: &str = "0b6f2a4e-7d0c-4a7e-9c11-tokenforleaks";
const URL_PASSWORD: &str = "pw-Hunter2-in-the-url";

/// No 8 consecutive characters of any secret appear in `text`.
fn assert_no_leak(case: &str, text: &str) {
    for secret in [KEY, TOKEN, URL_PASSWORD] {
        let chars: Vec<char> = secret.chars().collect();
        for window in chars.windows(8) {
            let part: String = window.iter().collect();
            assert!(
                !text.contains(&part),
                "{case}: '{part}' of a secret appears in:\n{text}"
            );
        }
    }
}

fn run(case: &str, cmd: &mut assert_cmd::Command) {
    let out = cmd
        .args(["--log-level", "debug", "--retries", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{case}: expected a failure");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_leak(case, &text);
}

#[test]
fn failures_at_debug_show_no_secret() {
    let home = tempfile::tempdir().unwrap();
    // A proxy error page that echoes the request, credentials included.
    let echo = Server::start(|req: &crate::support::http::Request| {
        let headers: String = req
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\n"))
            .collect();
        Response::html(
            502,
            format!("<h1>Bad gateway</h1><pre>{}{headers}</pre>", req.path),
        )
    });
    let port = echo.port();
    let with_password = format!("http://user:{URL_PASSWORD}@127.0.0.1:{port}/incidents");
    let token_as_user = format!("http://{URL_PASSWORD}@127.0.0.1:{port}");
    let bad_url = format!("http://user:{URL_PASSWORD}@bad host/");
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "fetch through an echoing proxy",
            vec![
                ("DISINFOX_URL", with_password.clone()),
                ("DISINFOX_API_KEY", KEY.into()),
            ],
            vec!["fetch"],
        ),
        (
            "fetch, connection refused",
            vec![
                (
                    "DISINFOX_URL",
                    format!("http://user:{URL_PASSWORD}@127.0.0.1:9/"),
                ),
                ("DISINFOX_API_KEY", KEY.into()),
            ],
            vec!["fetch", "--json"],
        ),
        (
            "invalid URL",
            vec![("DISINFOX_URL", bad_url), ("DISINFOX_API_KEY", KEY.into())],
            vec!["fetch"],
        ),
        (
            "sync --json against the echoing proxy",
            vec![
                ("DISINFOX_URL", with_password),
                ("DISINFOX_API_KEY", KEY.into()),
                ("OPENCTI_URL", token_as_user.clone()),
                ("OPENCTI_TOKEN", TOKEN.into()),
                ("CONNECTOR_ID", crate::common::CONNECTOR_ID.into()),
            ],
            vec!["sync", "--json"],
        ),
        (
            "check --json against the echoing proxy",
            vec![
                ("DISINFOX_URL", format!("http://127.0.0.1:{port}")),
                ("DISINFOX_API_KEY", KEY.into()),
                ("OPENCTI_URL", token_as_user),
                ("OPENCTI_TOKEN", TOKEN.into()),
                ("CONNECTOR_ID", crate::common::CONNECTOR_ID.into()),
            ],
            vec!["check", "--json"],
        ),
    ];
    for (case, envs, args) in cases {
        let mut cmd = cli(home.path());
        cmd.envs(envs).args(args);
        run(case, &mut cmd);
    }
}

#[test]
fn a_credential_over_plain_http_to_another_host_warns() {
    let home = tempfile::tempdir().unwrap();
    cli(home.path())
        .env("DISINFOX_URL", "http://disinfox.invalid/incidents")
        .env("DISINFOX_API_KEY", KEY)
        .args(["fetch", "--retries", "0"])
        .assert()
        .stderr(predicates::str::contains("plain http://"));
}

/// An error page that echoes the request shows the Pushgateway's `Authorization: Basic …`
/// value: that encoding of user and password is a secret like the password itself.
#[test]
fn an_echoed_pushgateway_basic_credential_is_redacted() {
    let peers = crate::common::Peers::start("6.9.17");
    let echo = Server::start(|req: &crate::support::http::Request| {
        let auth = req.header("authorization").unwrap_or("").to_owned();
        Response::html(502, format!("<pre>Authorization: {auth}</pre>"))
    });
    let out = peers
        .cmd()
        .env("DISINFOX_SYNC_PUSHGATEWAY_USER", "metrics")
        .env("DISINFOX_SYNC_PUSHGATEWAY_PASSWORD", URL_PASSWORD)
        .args(["--log-level", "debug", "sync", "--pushgateway", &echo.url()])
        .assert()
        .success()
        .stderr(predicates::str::contains("HTTP 502"))
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // base64("metrics:pw-Hunter2-in-the-url")
    let basic = "bWV0cmljczpwdy1IdW50ZXIyLWluLXRoZS11cmw=";
    assert!(!stderr.contains(&basic[..16]), "{stderr}");
    assert!(stderr.contains("Basic [redacted]"), "{stderr}");
    assert_no_leak("echoed Pushgateway credentials", &stderr);
}
