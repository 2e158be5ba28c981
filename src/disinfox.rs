//! The DISINFOX source: `GET /incidents?newer_than=…`, every answer class of the real server
//! mapped on purpose: 401/403 key rejected (77), 404/405 wrong URL (78), 400 and other codes a
//! protocol error (76), 408/429/5xx retried, and a 200 that is `{}` (nothing newer),
//! `{"message": …}` (no usable key, 77) or a bundle, judged by the bundle stage. The stand-in
//! in `tests/support/disinfox.rs` answers the same way.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Instant;

use chrono::{DateTime, Utc};
use reqwest::blocking::{Client, Response};
use reqwest::{StatusCode, Url};

use crate::bundle::stream::{self, StreamError, Streamed};
use crate::bundle::{self, BundleError, Parsed, Staged};
use crate::config::{DisinfoxPeer, HttpOptions};
use crate::error::{Error, Result};
use crate::http::{self, BodyError};
use crate::retry::{Attempt, RetryPolicy};
use crate::secret::Secret;
use crate::spool::Spool;

pub(crate) struct Disinfox {
    client: Client,
    http: HttpOptions,
    endpoint: Url,
    key: Secret,
    retry: RetryPolicy,
    max_size: u64,
}

/// One answer of `GET /incidents`.
pub(crate) struct Answer {
    /// The bundle as received, or `None` for DISINFOX's `{}` ("nothing newer").
    pub body: Option<Vec<u8>>,
    /// DISINFOX's clock when it answered (`Date`), if it sent one.
    pub server_date: Option<DateTime<Utc>>,
    /// Its `Content-Type`, shown with an answer that is not a bundle.
    pub content_type: String,
}

impl Answer {
    /// The answer's objects, validated; `None` for DISINFOX's `{}`.
    pub(crate) fn objects(&self) -> Result<Option<Parsed<'_>>> {
        let Some(body) = self.body.as_deref() else {
            return Ok(None);
        };
        bundle::parse(body)
            .map(Some)
            .map_err(|err| bundle_error(err, &received(body, &self.content_type)))
    }
}

/// What came instead of a bundle, as `sync` and `fetch` both show it.
fn received(head: &[u8], content_type: &str) -> String {
    format!("{} ({content_type})", http::preview(head))
}

/// A body that is not a bundle at all is the peer's fault (76); a bundle with a broken object
/// is bad data (65).
fn bundle_error(err: BundleError, received: &str) -> anyhow::Error {
    if err.is_structural() {
        Error::Protocol(format!(
            "DISINFOX's answer is unusable: {err}; received {received}"
        ))
        .into()
    } else {
        Error::BadData(format!("DISINFOX sent an invalid bundle: {err}")).into()
    }
}

impl Disinfox {
    pub(crate) fn new(peer: &DisinfoxPeer, options: &HttpOptions, max_size: u64) -> Result<Self> {
        let url = &peer.url;
        http::warn_if_plain_http(url, "DISINFOX", "the API key");
        Ok(Disinfox {
            client: http::client(options, true, url)?,
            http: options.clone(),
            endpoint: endpoint(url),
            key: peer.key.clone(),
            retry: RetryPolicy::from_options(options),
            max_size,
        })
    }

    pub(crate) fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// Everything modified strictly after `since` (millisecond precision on the server),
    /// read whole for the bundle stage. A body that breaks off is fetched again.
    pub(crate) fn incidents(&self, since: Option<DateTime<Utc>>) -> Result<Answer> {
        let url = self.url(since);
        self.retry.run("DISINFOX", || match self.send(&url) {
            Attempt::Done((resp, deadline)) => self.read(resp, deadline),
            Attempt::Retry { why, after } => Attempt::Retry { why, after },
            Attempt::Fail(e) => Attempt::Fail(e),
        })
    }

    /// The same answer, unread, to copy through without holding it (`fetch`).
    pub(crate) fn open(&self, since: Option<DateTime<Utc>>) -> Result<Stream> {
        let url = self.url(since);
        let (resp, deadline) = self.retry.run("DISINFOX", || self.send(&url))?;
        let size = resp.content_length();
        Ok(Stream {
            content_type: content_type(resp.headers()),
            max: self.max_size,
            body: crate::progress::download(http::timed_body(resp, deadline), "DISINFOX", size),
        })
    }

    /// Everything newer than `since`, validated as it streams in and staged on disk (`sync`):
    /// memory does not grow with the answer. `None` for DISINFOX's `{}`. Each attempt starts
    /// afresh (new files, a new `T` from `fresh`), so a body that breaks off is fetched again
    /// whole; `look` is shown each object (type, id, text) while it is in cache.
    pub(crate) fn stage<T>(
        &self,
        since: Option<DateTime<Utc>>,
        disk_limit: Option<u64>,
        (fresh, look): (&dyn Fn() -> T, Look<T>),
    ) -> Result<Option<StagedAnswer<T>>> {
        let url = self.url(since);
        self.retry.run("DISINFOX", || match self.send(&url) {
            Attempt::Done((resp, deadline)) => {
                self.stage_body(resp, deadline, disk_limit, (fresh(), look))
            }
            Attempt::Retry { why, after } => Attempt::Retry { why, after },
            Attempt::Fail(e) => Attempt::Fail(e),
        })
    }

    fn stage_body<T>(
        &self,
        resp: Response,
        deadline: Instant,
        disk_limit: Option<u64>,
        (mut seen, look): (T, Look<T>),
    ) -> Attempt<Option<StagedAnswer<T>>> {
        let server_date = http::server_date(resp.headers());
        let content_type = content_type(resp.headers());
        let size = resp.content_length();
        let (spool, answer, index) = match Spool::open(crate::spool::ANSWER, size, disk_limit) {
            Ok(files) => files,
            Err(e) => return Attempt::Fail(e),
        };
        spool.announce(size);
        let body = crate::progress::download(http::timed_body(resp, deadline), "DISINFOX", size);
        let mut input = Head::new(body);
        let limits = (self.max_size, disk_limit.unwrap_or(u64::MAX));
        let staged = bundle::stage(&mut input, (answer, index), limits, &mut |k, i, r| {
            look(&mut seen, k, i, r);
        });
        match staged {
            Ok(staged) => Attempt::Done(Some(StagedAnswer {
                staged,
                seen,
                server_date,
            })),
            Err(StreamError::Read(e)) => Attempt::Retry {
                why: format!("DISINFOX's answer broke off while reading it: {e}"),
                after: None,
            },
            Err(StreamError::Write(e)) => Attempt::Fail(spool.write_failure(e, input.total)),
            Err(StreamError::TooLarge(n)) => Attempt::Fail(self.too_large(n)),
            Err(StreamError::Bundle(error)) => match input.whole().and_then(small_answer) {
                Some(Small::Empty) => Attempt::Done(None),
                Some(Small::Message(m)) => Attempt::Fail(not_accepted(&m)),
                None => Attempt::Fail(bundle_error(error, &received(&input.head, &content_type))),
            },
        }
    }

    fn url(&self, since: Option<DateTime<Utc>>) -> Url {
        let mut url = self.endpoint.clone();
        url.query_pairs_mut()
            .append_pair("newer_than", &crate::when::newer_than(since));
        log::debug!("GET {url}");
        url
    }

    /// One request. A 200 comes back unread, with the instant its body must be complete by;
    /// anything else is classified from its body.
    fn send(&self, url: &Url) -> Attempt<(Response, Instant)> {
        let deadline = http::deadline(&self.http);
        let sent = self
            .client
            .get(url.clone())
            .header("Authorization", self.key.expose())
            .header("Accept", "application/json")
            .send();
        let resp = match sent {
            Ok(r) => r,
            Err(e) => return http::transport_failure(e, "DISINFOX", url.as_str()),
        };
        let status = resp.status();
        let content_type = content_type(resp.headers());
        log::debug!(
            "DISINFOX answered {status} ({content_type}, {} bytes announced)",
            resp.content_length().map_or("?".into(), |n| n.to_string())
        );
        if status == StatusCode::OK {
            return match resp.content_length() {
                Some(n) if n > self.max_size => Attempt::Fail(self.too_large(n)),
                _ => Attempt::Done((resp, deadline)),
            };
        }
        let headers = resp.headers().clone();
        // Error bodies are short messages or pages; the first bytes are enough to report.
        let body = http::read_body(resp, 64 * 1024, deadline).unwrap_or_default();
        classify_status(status, &headers, &body, &content_type, url)
    }

    fn read(&self, resp: Response, deadline: Instant) -> Attempt<Answer> {
        let headers = resp.headers().clone();
        match http::read_body(resp, self.max_size, deadline) {
            Ok(body) => classify_ok(&headers, body, content_type(&headers)),
            Err(BodyError::TooLarge(n)) => Attempt::Fail(self.too_large(n)),
            Err(BodyError::Io(e)) => Attempt::Retry {
                why: format!("DISINFOX's answer broke off while reading it: {e}"),
                after: None,
            },
        }
    }

    fn too_large(&self, n: u64) -> anyhow::Error {
        too_large(n, self.max_size)
    }
}

fn too_large(n: u64, max: u64) -> anyhow::Error {
    Error::Config(format!(
        "DISINFOX's answer is {n} bytes or more, over --max-bundle-size ({max}); raise --max-bundle-size, or import in steps with an older --since / reset-state --to"
    ))
    .into()
}

fn content_type(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("(none)")
        .to_owned()
}

/// What is shown each object of an answer as it is staged: its type, id and text.
pub(crate) type Look<T> = fn(&mut T, &str, &str, &str);

/// An answer staged on disk, with what was seen of its objects on the way.
pub(crate) struct StagedAnswer<T> {
    pub staged: Staged,
    pub seen: T,
    /// DISINFOX's clock when it answered (`Date`), if it sent one.
    pub server_date: Option<DateTime<Utc>>,
}

/// An answer of `GET /incidents` not read yet.
pub(crate) struct Stream {
    body: crate::progress::Download<http::TimedBody>,
    content_type: String,
    max: u64,
}

impl Stream {
    /// Validates the answer object by object while copying it to `out`, in constant memory.
    /// Returns what was copied, or `None` for DISINFOX's `{}` (nothing written). A body that
    /// breaks off cannot be fetched again once output has started: exit 75.
    pub(crate) fn copy_to(self, out: &mut dyn Write) -> Result<Option<Copied>> {
        let mut input = Head::new(self.body);
        match stream::copy(&mut input, out, self.max) {
            Ok(Streamed { counts, bytes_out }) => Ok(Some(Copied {
                counts,
                bytes: bytes_out,
            })),
            Err(StreamError::Write(e)) => Err(anyhow::Error::new(e).context("writing the bundle")),
            Err(StreamError::TooLarge(n)) => Err(too_large(n, self.max)),
            Err(StreamError::Read(e)) => Err(Error::Temporary(format!(
                "DISINFOX's answer broke off while reading it: {e}; run again"
            ))
            .into()),
            // Nothing was written for an answer without `objects`: it may be one of DISINFOX's
            // own short answers, judged here as `sync` judges them.
            Err(StreamError::Bundle(error)) => match input.whole().and_then(small_answer) {
                Some(Small::Empty) => Ok(None),
                Some(Small::Message(m)) => Err(not_accepted(&m)),
                None => Err(bundle_error(
                    error,
                    &received(&input.head, &self.content_type),
                )),
            },
        }
    }
}

/// What `Stream::copy_to` wrote.
pub(crate) struct Copied {
    pub counts: BTreeMap<String, usize>,
    pub bytes: u64,
}

/// Keeps the first bytes read: what `http::preview` shows of an answer that is not a bundle,
/// and all of a short answer.
struct Head<R> {
    inner: R,
    head: Vec<u8>,
    total: u64,
}

/// As much as `http::preview` reads, so both commands show the same.
const HEAD: usize = 120 + 64 * 1024;

impl<R> Head<R> {
    fn new(inner: R) -> Self {
        Head {
            inner,
            head: Vec::new(),
            total: 0,
        }
    }

    /// The whole answer, if it was short enough to keep.
    fn whole(&self) -> Option<&[u8]> {
        (self.total == self.head.len() as u64).then_some(&self.head)
    }
}

impl<R: Read> Read for Head<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let room = HEAD.saturating_sub(self.head.len()).min(n);
        self.head.extend_from_slice(&buf[..room]);
        self.total += n as u64;
        Ok(n)
    }
}

/// Accepts both the base URL (`https://host/disinfox`) and the full endpoint the Python
/// connector's users already have (`http://public-api:5000/incidents`).
pub(crate) fn endpoint(url: &Url) -> Url {
    http::endpoint_under(url, "incidents")
}

fn classify_status<T>(
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
    content_type: &str,
    url: &Url,
) -> Attempt<T> {
    let received = || {
        format!(
            "{} ({content_type}, {} bytes)",
            http::preview(body),
            body.len()
        )
    };
    let code = status.as_u16();
    let fail = |e: Error| Attempt::Fail(e.into());
    match code {
        401 | 403 => fail(Error::Permission(format!(
            "DISINFOX rejected the API key (HTTP {code}): check DISINFOX_API_KEY; it is sent raw, without 'Bearer'"
        ))),
        404 | 405 => fail(Error::Config(format!(
            "DISINFOX answered {code} at {}: wrong URL; set DISINFOX_URL to the base URL or the /incidents endpoint",
            url.as_str().split('?').next().unwrap_or("")
        ))),
        400 => fail(Error::Protocol(format!(
            "DISINFOX refused the request (HTTP 400): {}",
            received()
        ))),
        408 | 429 | 500..=599 => Attempt::Retry {
            why: format!("DISINFOX answered HTTP {code}: {}", received()),
            after: http::retry_after(headers),
        },
        _ => fail(Error::Protocol(format!(
            "DISINFOX answered HTTP {code}: {}",
            received()
        ))),
    }
}

/// A 200: DISINFOX's own short answers are recognised here; anything else goes to the bundle
/// stage, which judges it as `fetch` does.
fn classify_ok(
    headers: &reqwest::header::HeaderMap,
    body: Vec<u8>,
    content_type: String,
) -> Attempt<Answer> {
    let server_date = http::server_date(headers);
    match small_answer(&body) {
        Some(Small::Empty) => Attempt::Done(Answer {
            body: None,
            server_date,
            content_type,
        }),
        Some(Small::Message(m)) => Attempt::Fail(not_accepted(&m)),
        None => Attempt::Done(Answer {
            body: Some(body),
            server_date,
            content_type,
        }),
    }
}

/// DISINFOX's 200 with only a message: no (usable) Authorization header.
fn not_accepted(message: &str) -> anyhow::Error {
    Error::Permission(format!(
        "DISINFOX did not accept the request: \"{message}\"; set DISINFOX_API_KEY (or DISINFOX_API_KEY_FILE)"
    ))
    .into()
}

/// DISINFOX's answers that are not bundles: `{}` (nothing newer) and `{"message": …}` (no
/// usable Authorization header).
enum Small {
    Empty,
    Message(String),
}

/// Reads the short non-bundle answers (`{}` and `{"message": …}`) without touching big bodies,
/// which the bundle stage validates in one pass.
fn small_answer(body: &[u8]) -> Option<Small> {
    if body.len() > 4096 {
        return None;
    }
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body)
    else {
        return None;
    };
    if map.is_empty() {
        return Some(Small::Empty);
    }
    match map.get("message").and_then(|m| m.as_str()) {
        Some(m) if map.len() == 1 => Some(Small::Message(m.to_owned())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_url_forms() {
        let e = |s: &str| endpoint(&Url::parse(s).unwrap()).to_string();
        assert_eq!(
            e("http://public-api:5000/incidents"),
            "http://public-api:5000/incidents"
        );
        assert_eq!(e("https://h/disinfox/"), "https://h/disinfox/incidents");
        assert_eq!(e("https://h"), "https://h/incidents");
        assert_eq!(
            e("https://h/disinfox/incidents/?x=1"),
            "https://h/disinfox/incidents"
        );
    }

    #[test]
    fn small_answers() {
        assert!(matches!(small_answer(b"{}\n"), Some(Small::Empty)));
        assert!(matches!(
            small_answer(br#"{"message":"Please provide"}"#),
            Some(Small::Message(_))
        ));
        assert!(small_answer(br#"{"type":"bundle","objects":[]}"#).is_none());
        assert!(small_answer(br#"{"incidents":[]}"#).is_none());
    }
}
