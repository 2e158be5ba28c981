//! What both peers share: one way to build a client (timeouts, TLS), how an HTTP answer or
//! failure feeds the retry loop (`retry.rs`; `Retry-After` honoured), and one capped body
//! reader.

use std::io::Read;
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, Response};
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::config::HttpOptions;
use crate::error::{Error, Result};
use crate::retry::Attempt;

fn user_agent() -> String {
    format!("disinfox-sync/{}", env!("CARGO_PKG_VERSION"))
}

/// The client for one peer at `url`. The CA roots are loaded (once, see `roots`) only when
/// `url` is https:// and its certificate is verified; a redirect may not leave `url`'s origin.
pub(crate) fn client(opts: &HttpOptions, verify_tls: bool, url: &reqwest::Url) -> Result<Client> {
    install_crypto_provider();
    let builder = Client::builder()
        .user_agent(user_agent())
        .timeout(opts.timeout)
        .connect_timeout(opts.connect_timeout)
        .redirect(same_origin_redirects());
    let builder = if !verify_tls {
        builder.tls_danger_accept_invalid_certs(true)
    } else if url.scheme() == "https" {
        builder.tls_certs_only(crate::roots::trusted(opts.ca_cert.as_deref())?)
    } else {
        // Plain http:// needs no roots: none are read (a redirect to https:// changes the
        // origin and is refused anyway).
        builder.tls_certs_only(std::iter::empty())
    };
    builder.build().map_err(|e| {
        Error::Config(format!(
            "cannot set up the HTTP client: {}; check --ca-cert, SSL_CERT_FILE and SSL_CERT_DIR",
            error_chain(&e)
        ))
        .into()
    })
}

/// The most redirects one request follows (reqwest's own default).
const MAX_REDIRECTS: usize = 10;

/// Follows a redirect only within the origin (scheme, host, port) of the URL first asked:
/// the key, the token, the custom headers and the Pushgateway's credentials were meant for
/// that origin alone, and reqwest would send some of them on to another one.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first();
        let next = attempt.url();
        if first.is_some_and(|f| f.origin() != next.origin())
            || !next.username().is_empty()
            || next.password().is_some()
        {
            let location = shown_location(next);
            attempt.error(OriginChange { location })
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else {
            attempt.follow()
        }
    })
}

/// A redirect to another origin, refused (78): the URL is set wrong.
#[derive(Debug)]
pub(crate) struct OriginChange {
    pub location: String,
}

impl std::fmt::Display for OriginChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a redirect to another origin, {}", self.location)
    }
}

impl std::error::Error for OriginChange {}

/// A `Location` as it may be shown: no user, password, query or fragment (any may carry a
/// secret).
fn shown_location(url: &reqwest::Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// A credential sent over plain http:// can be read by anyone on the path, unless the peer
/// is this machine.
pub(crate) fn warn_if_plain_http(url: &reqwest::Url, peer: &str, credential: &str) {
    let host = url.host_str().unwrap_or("");
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if url.scheme() == "http" && !loopback {
        log::warn!(
            "{credential} goes to {peer} over plain http:// ({host}): anyone on the path can read it; use https://"
        );
    }
}

/// reqwest is built without a bundled rustls provider (see Cargo.toml); this is the one it
/// would have bundled. A second call finds it installed, which is fine. Any other client
/// (the tests' own) needs it as well.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// `base` with `segment` as its last path element (added unless already there), no query:
/// both peers accept a base URL or the full endpoint URL.
pub(crate) fn endpoint_under(base: &reqwest::Url, segment: &str) -> reqwest::Url {
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

/// `Retry-After` in seconds or as an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = http_date(value)?;
    (at - chrono::Utc::now()).to_std().ok()
}

/// The `Date` header: the peer's own clock, used to bound cursors against clock skew.
pub(crate) fn server_date(headers: &HeaderMap) -> Option<chrono::DateTime<chrono::Utc>> {
    http_date(headers.get(reqwest::header::DATE)?.to_str().ok()?)
}

/// The three date forms HTTP allows (RFC 9110 §5.6.7): IMF-fixdate, RFC 850 and asctime.
pub(crate) fn http_date(value: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let value = value.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc2822(value) {
        return Some(d.to_utc());
    }
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(value, f).ok())
        .map(|d| d.and_utc())
}

/// Sorts a transport failure: TLS problems are configuration (78) — retrying cannot fix a
/// certificate; timeouts, refused connections and broken bodies are temporary.
pub(crate) fn transport_failure<T>(err: reqwest::Error, peer: &str, url: &str) -> Attempt<T> {
    let chain = error_chain(&err);
    if is_tls(&err) {
        return Attempt::Fail(
            Error::Config(format!(
                "TLS verification failed for {peer} at {url}: {chain}; for a private CA pass --ca-cert PATH (added to the system roots; SSL_CERT_FILE, if set, replaces them)"
            ))
            .into(),
        );
    }
    if let Some(change) = find_cause::<OriginChange>(&err) {
        return Attempt::Fail(
            Error::Config(format!(
                "{peer} at {url} redirects to another origin, {}; nothing was sent there. Set the URL to where the service really answers",
                change.location
            ))
            .into(),
        );
    }
    if err.is_redirect() {
        return Attempt::Fail(
            Error::Protocol(format!(
                "{peer} at {url} redirects in a loop or too often ({chain}); set the URL to where the service really answers"
            ))
            .into(),
        );
    }
    let why = if err.is_timeout() && err.is_connect() {
        format!(
            "cannot connect to {peer} at {url} in time ({chain}); raise --connect-timeout if the network is just slow"
        )
    } else if err.is_timeout() {
        format!("{peer} did not answer in time ({chain}); raise --timeout if it is just slow")
    } else if err.is_connect() {
        format!("cannot connect to {peer} at {url}: {chain}")
    } else {
        format!("{peer} connection failed: {chain}")
    };
    Attempt::Retry { why, after: None }
}

fn find_cause<'a, T: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        cause = e.source();
    }
    None
}

/// A TLS failure is a `rustls::Error` somewhere in the chain. The I/O layers carry it inside an
/// `io::Error`, whose `source()` skips the error it wraps, so that one is looked into too.
fn is_tls(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if e.is::<rustls::Error>() {
            return true;
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            && is_tls(inner)
        {
            return true;
        }
        cause = e.source();
    }
    false
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

/// Reads the whole body into one buffer sized from Content-Length, refusing more than `max`
/// and giving up at `deadline`.
pub(crate) fn read_body(
    resp: Response,
    max: u64,
    deadline: Instant,
) -> std::result::Result<Vec<u8>, BodyError> {
    if let Some(len) = resp.content_length()
        && len > max
    {
        return Err(BodyError::TooLarge(len));
    }
    let hint = resp.content_length().unwrap_or(64 * 1024).min(max) as usize;
    let mut body = Vec::with_capacity(hint);
    let limit = usize::try_from(max.saturating_add(1)).unwrap_or(usize::MAX);
    let read = timed_body(resp, deadline).append_to(&mut body, limit);
    match read {
        Ok(_) if body.len() as u64 > max => Err(BodyError::TooLarge(body.len() as u64)),
        Ok(_) => Ok(body),
        Err(e) => Err(BodyError::Io(e)),
    }
}

/// When a request must be over: `--timeout` from now, for connect, headers and body alike.
pub(crate) fn deadline(opts: &HttpOptions) -> Instant {
    Instant::now() + opts.timeout
}

/// A response body that ends with a timeout error at `deadline`, however the bytes trickle
/// in. reqwest's blocking timeout restarts on every read (a byte a second holds a run
/// forever), so the reads happen on a thread of their own and this side waits for each
/// chunk only as long as the deadline allows. A thread left blocked ends with reqwest's
/// own read timeout, or with the process.
///
/// Buffers go back to the reading thread once read: at most the channel's depth plus two
/// exist, each zeroed once, instead of a fresh zeroed 64 KiB per read.
pub(crate) fn timed_body(mut resp: Response, deadline: Instant) -> TimedBody {
    const CHUNK: usize = 256 * 1024;
    let (tx, rx) = std::sync::mpsc::sync_channel::<std::io::Result<(Vec<u8>, usize)>>(4);
    let (spare_tx, spare_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        loop {
            let mut chunk = spare_rx.try_recv().unwrap_or_else(|_| vec![0; CHUNK]);
            // Full chunks: one hand-over per 64 KiB, not one per read of a few KiB (each
            // hand-over wakes the other thread).
            let (n, failed) = fill_chunk(&mut resp, &mut chunk);
            if n > 0 && tx.send(Ok((chunk, n))).is_err() {
                break;
            }
            if let Some(e) = failed {
                let _ = tx.send(Err(e));
                break;
            }
            if n == 0 {
                break;
            }
        }
    });
    TimedBody {
        rx,
        spare: spare_tx,
        chunk: Vec::new(),
        len: 0,
        at: 0,
        deadline,
    }
}

/// Reads until `chunk` is full or the body ends (0 bytes: it ended). A failure comes back
/// beside the bytes read before it, which go first.
fn fill_chunk(resp: &mut Response, chunk: &mut [u8]) -> (usize, Option<std::io::Error>) {
    let mut n = 0;
    while n < chunk.len() {
        match resp.read(&mut chunk[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

pub(crate) struct TimedBody {
    rx: std::sync::mpsc::Receiver<std::io::Result<(Vec<u8>, usize)>>,
    /// Read buffers back to the reading thread.
    spare: std::sync::mpsc::Sender<Vec<u8>>,
    chunk: Vec<u8>,
    /// Bytes of `chunk` that hold data.
    len: usize,
    at: usize,
    deadline: Instant,
}

impl TimedBody {
    /// The unread part of the current chunk, after waiting for the next one when it is all
    /// read; empty at the end of the body.
    fn fill(&mut self) -> std::io::Result<&[u8]> {
        use std::sync::mpsc::RecvTimeoutError;
        if self.at == self.len {
            let left = self.deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(Ok((chunk, len))) => {
                    let read = std::mem::replace(&mut self.chunk, chunk);
                    if !read.is_empty() {
                        // The thread may be gone (body complete): the buffer is then dropped.
                        let _ = self.spare.send(read);
                    }
                    self.len = len;
                    self.at = 0;
                }
                Ok(Err(e)) => return Err(e),
                // The reading thread ended: the body is complete.
                Err(RecvTimeoutError::Disconnected) => return Ok(&[]),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the answer did not arrive in full within --timeout",
                    ));
                }
            }
        }
        Ok(&self.chunk[self.at..self.len])
    }

    /// Appends the body to `out` until it ends or `out` holds `limit` bytes. Unlike
    /// `read_to_end`, which zeroes the spare capacity before each read (a memset over the
    /// whole answer), this copies each chunk straight in.
    fn append_to(&mut self, out: &mut Vec<u8>, limit: usize) -> std::io::Result<()> {
        while out.len() < limit {
            let room = limit - out.len();
            let bytes = self.fill()?;
            if bytes.is_empty() {
                break;
            }
            let n = bytes.len().min(room);
            out.extend_from_slice(&bytes[..n]);
            self.at += n;
        }
        Ok(())
    }
}

impl Read for TimedBody {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let bytes = self.fill()?;
        let n = buf.len().min(bytes.len());
        buf[..n].copy_from_slice(&bytes[..n]);
        self.at += n;
        Ok(n)
    }
}

pub(crate) enum BodyError {
    TooLarge(u64),
    Io(std::io::Error),
}

/// The first bytes of a body, printable, for messages about answers we cannot use.
/// Secrets are scrubbed from the whole body before it is cut: cut first, a secret across the
/// cut would keep its first characters.
pub(crate) fn preview(body: &[u8]) -> String {
    const SHOWN: usize = 120;
    // Enough text to hold any secret that starts within the shown part.
    let text = String::from_utf8_lossy(&body[..body.len().min(SHOWN + 64 * 1024)]);
    let clean = crate::secret::scrub(&text);
    let cut = clean.chars().count() > SHOWN || body.len() > SHOWN + 64 * 1024;
    let more = if cut { "…" } else { "" };
    let shown: String = clean
        .chars()
        .take(SHOWN)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("\"{}{more}\"", shown.trim())
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
    fn all_three_http_date_forms() {
        let want = chrono::DateTime::parse_from_rfc3339("1994-11-06T08:49:37Z").unwrap();
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(http_date(form), Some(want.to_utc()), "{form}");
        }
        assert_eq!(http_date("yesterday"), None);
    }

    #[test]
    fn preview_redacts_before_it_cuts() {
        let secret = "tok-preview-0123456789abcdefghij";
        let _s = crate::secret::Secret::new(secret.into());
        let body = format!("{}Authorization: Bearer {secret} and more", "x".repeat(100));
        let shown = preview(body.as_bytes());
        assert!(!shown.contains("tok-prev"), "{shown}");
    }

    #[test]
    fn preview_is_short_and_printable() {
        assert_eq!(preview(b"<html>\n<b>x</b>"), "\"<html> <b>x</b>\"");
        assert!(preview(&[b'a'; 500]).ends_with("…\""));
    }
}
