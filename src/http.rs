//! What both peers share: one way to build a client (timeouts, TLS), one retry loop (bounded,
//! exponential backoff with jitter, `Retry-After` honoured), and one capped body reader.

use std::io::Read;
use std::time::Duration;

use anyhow::Context;
use reqwest::blocking::{Client, Response};
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::config::HttpOptions;
use crate::error::{Error, Result};

/// The longest single wait, whatever the server asks: a scheduled run must end in bounded time.
const MAX_WAIT: Duration = Duration::from_secs(120);

fn user_agent() -> String {
    format!("disinfox-sync/{}", env!("CARGO_PKG_VERSION"))
}

pub fn client(opts: &HttpOptions, verify_tls: bool) -> Result<Client> {
    install_crypto_provider();
    let mut builder = Client::builder()
        .user_agent(user_agent())
        .timeout(opts.timeout)
        .connect_timeout(opts.connect_timeout)
        .tls_danger_accept_invalid_certs(!verify_tls);
    if let Some(path) = &opts.ca_cert {
        let pem = std::fs::read(path).map_err(|e| {
            Error::Config(format!(
                "cannot read --ca-cert file {}: {e}",
                path.display()
            ))
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            Error::Config(format!(
                "--ca-cert file {} is not PEM certificates: {e}",
                path.display()
            ))
        })?;
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().context("cannot set up the HTTP client")
}

/// reqwest is built without a bundled rustls provider (see Cargo.toml); this is the one it
/// would have bundled. A second call finds it installed, which is fine. Any other client
/// (the tests' own) needs it as well.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// `base` with `segment` as its last path element (added unless already there), no query:
/// both peers accept a base URL or the full endpoint URL.
pub fn endpoint_under(base: &reqwest::Url, segment: &str) -> reqwest::Url {
    let mut url = base.clone();
    url.set_query(None);
    let path = url.path().trim_end_matches('/').to_owned();
    if path.ends_with(&format!("/{segment}")) {
        url.set_path(&path);
    } else {
        url.set_path(&format!("{path}/{segment}"));
    }
    url
}

/// What one attempt came to.
pub enum Attempt<T> {
    Done(T),
    Retry {
        why: String,
        after: Option<Duration>,
    },
    Fail(anyhow::Error),
}

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub retries: u32,
    pub delay: Duration,
}

impl RetryPolicy {
    pub fn from_options(opts: &HttpOptions) -> Self {
        RetryPolicy {
            retries: opts.retries,
            delay: opts.retry_delay,
        }
    }

    /// Runs `attempt` until it is done, fails, or the retries are spent (then exit 75).
    pub fn run<T>(&self, what: &str, mut attempt: impl FnMut() -> Attempt<T>) -> Result<T> {
        let mut n = 0;
        loop {
            match attempt() {
                Attempt::Done(v) => return Ok(v),
                Attempt::Fail(e) => return Err(e),
                Attempt::Retry { why, after } => {
                    if n >= self.retries {
                        let tries = n + 1;
                        return Err(Error::Temporary(format!(
                            "{what}: {why} (gave up after {tries} attempt{}; run again later)",
                            if tries == 1 { "" } else { "s" }
                        ))
                        .into());
                    }
                    let wait = after.unwrap_or_else(|| self.backoff(n)).min(MAX_WAIT);
                    log::warn!("{what}: {why}; retrying in {:.1}s", wait.as_secs_f64());
                    std::thread::sleep(wait);
                    n += 1;
                }
            }
        }
    }

    /// delay × 2ⁿ, spread by ±50 % so many cron jobs do not retry in lock-step.
    fn backoff(&self, n: u32) -> Duration {
        let base = self.delay.saturating_mul(1u32 << n.min(16));
        base.mul_f64(0.5 + fastrand::f64())
    }
}

/// `Retry-After` in seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (at.to_utc() - chrono::Utc::now()).to_std().ok()
}

/// The `Date` header: the peer's own clock, used to bound cursors against clock skew.
pub fn server_date(headers: &HeaderMap) -> Option<chrono::DateTime<chrono::Utc>> {
    let value = headers.get(reqwest::header::DATE)?.to_str().ok()?;
    chrono::DateTime::parse_from_rfc2822(value)
        .ok()
        .map(|d| d.to_utc())
}

/// Sorts a transport failure: TLS problems are configuration (78) — retrying cannot fix a
/// certificate; timeouts, refused connections and broken bodies are temporary.
pub fn transport_failure<T>(err: reqwest::Error, peer: &str, url: &str) -> Attempt<T> {
    let chain = error_chain(&err);
    let lower = chain.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
        return Attempt::Fail(
            Error::Config(format!(
                "TLS verification failed for {peer} at {url}: {chain}; for a private CA pass --ca-cert PATH (or set SSL_CERT_FILE)"
            ))
            .into(),
        );
    }
    let why = if err.is_timeout() {
        format!("{peer} did not answer in time ({chain}); raise --timeout if it is just slow")
    } else if err.is_connect() {
        format!("cannot connect to {peer} at {url}: {chain}")
    } else {
        format!("{peer} connection failed: {chain}")
    };
    Attempt::Retry { why, after: None }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// Reads the whole body into one buffer sized from Content-Length, refusing more than `max`.
pub fn read_body(mut resp: Response, max: u64) -> std::result::Result<Vec<u8>, BodyError> {
    if let Some(len) = resp.content_length()
        && len > max
    {
        return Err(BodyError::TooLarge(len));
    }
    let hint = resp.content_length().unwrap_or(64 * 1024).min(max) as usize;
    let mut body = Vec::with_capacity(hint);
    let read = (&mut resp).take(max + 1).read_to_end(&mut body);
    match read {
        Ok(_) if body.len() as u64 > max => Err(BodyError::TooLarge(body.len() as u64)),
        Ok(_) => Ok(body),
        Err(e) => Err(BodyError::Io(e)),
    }
}

pub enum BodyError {
    TooLarge(u64),
    Io(std::io::Error),
}

/// The first bytes of a body, printable, for messages about answers we cannot use.
pub fn preview(body: &[u8]) -> String {
    let head = &body[..body.len().min(120)];
    let text: String = String::from_utf8_lossy(head)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let more = if body.len() > head.len() { "…" } else { "" };
    format!("\"{}{more}\"", text.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_seconds() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
    }

    #[test]
    fn retries_are_bounded() {
        let policy = RetryPolicy {
            retries: 2,
            delay: Duration::from_millis(1),
        };
        let mut calls = 0;
        let r: Result<()> = policy.run("test", || {
            calls += 1;
            Attempt::Retry {
                why: "busy".into(),
                after: None,
            }
        });
        assert_eq!(calls, 3);
        let msg = format!("{:#}", r.unwrap_err());
        assert!(msg.contains("gave up after 3 attempts"), "{msg}");
    }

    #[test]
    fn preview_is_short_and_printable() {
        assert_eq!(preview(b"<html>\n<b>x</b>"), "\"<html> <b>x</b>\"");
        assert!(preview(&[b'a'; 500]).ends_with("…\""));
    }
}
