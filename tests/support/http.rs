//! A tiny HTTP/1.1 server on `std::net::TcpListener` for the stand-ins.
//!
//! - binds `127.0.0.1:0` (a free loopback port), never anything else;
//! - one thread per connection, at most [`ServerOptions::max_connections`] at once,
//!   `Connection: close` after every response;
//! - stops when dropped, and by itself after [`ServerOptions::idle_timeout`] without a request,
//!   so a forgotten server never lingers;
//! - request bodies: `Content-Length` (read exactly, hundreds of MB are fine) or chunked;
//!   a body above [`ServerOptions::max_body`] is drained, not stored, and flagged;
//! - always sends a `Date` header (IMF-fixdate) unless the handler set one;
//! - copes with clients that disconnect mid-response (write errors are ignored).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One parsed HTTP request.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    /// The path, without the query string (not percent-decoded).
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// Header names are lower-case; values are trimmed.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The length the client announced (or sent, for chunked bodies).
    pub content_length: usize,
    /// True when the body exceeded [`ServerOptions::max_body`]: `body` is then empty.
    pub body_too_large: bool,
}

impl Request {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first query parameter with this name, percent-decoded, `+` read as a space
    /// (what Flask's `request.args.get` does).
    pub fn query_param(&self, name: &str) -> Option<String> {
        query_pairs(&self.query)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// Splits a raw query string into decoded `(name, value)` pairs.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (form_decode(k), form_decode(v)),
            None => (form_decode(p), String::new()),
        })
        .collect()
}

/// `application/x-www-form-urlencoded` decoding: `%XX` and `+` → space; invalid UTF-8 is
/// replaced (as Werkzeug does).
pub fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes everything outside the RFC 3986 unreserved set.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What a handler answers.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wait this long before writing anything.
    pub delay: Option<Duration>,
    /// Announce the full `Content-Length` but send only this many body bytes, then close.
    pub truncate_to: Option<usize>,
    /// Send the body one byte at a time with this pause before each (a stalling peer).
    pub trickle: Option<Duration>,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
            delay: None,
            truncate_to: None,
            trickle: None,
        }
    }

    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self::new(status, "application/json", body)
    }

    pub fn html(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self::new(status, "text/html; charset=utf-8", body)
    }

    pub fn text(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self::new(status, "text/plain; charset=utf-8", body)
    }

    /// Adds a header, replacing one of the same name (case-insensitive).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(&name));
        self.headers.push((name, value.into()));
        self
    }

    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    pub fn trickled(mut self, pause: Duration) -> Self {
        self.trickle = Some(pause);
        self
    }

    pub fn truncated(mut self, to: usize) -> Self {
        self.truncate_to = Some(to);
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Tuning of one server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Stop by itself after this long without a request.
    pub idle_timeout: Duration,
    /// Bodies above this are drained and flagged instead of stored.
    pub max_body: usize,
    /// Connections served at once; more wait in the accept loop.
    pub max_connections: usize,
    /// Socket read timeout while reading a request.
    pub read_timeout: Duration,
    /// Socket write timeout while writing a response.
    pub write_timeout: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            idle_timeout: Duration::from_secs(120),
            max_body: 2 << 30,
            max_connections: 64,
            read_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(60),
        }
    }
}

/// The RFC 7231 IMF-fixdate of a time, e.g. `Fri, 27 Nov 2026 21:52:35 GMT`.
pub fn http_date(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

struct Shared {
    stop: AtomicBool,
    last_activity: Mutex<Instant>,
    active: Mutex<usize>,
    active_cv: Condvar,
}

impl Shared {
    fn touch(&self) {
        *lock(&self.last_activity) = Instant::now();
    }
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// Locks a mutex, ignoring poisoning (a panicking handler must not wedge the server).
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

type Handler = dyn Fn(&Request) -> Response + Send + Sync + 'static;

/// A running server. Dropping it stops the accept loop and joins it.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop_tx: Option<mpsc::Sender<()>>,
    accept_done: Option<mpsc::Receiver<()>>,
    accept: Option<JoinHandle<()>>,
    watchdog: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts a server on `127.0.0.1:0` with default options.
    pub fn start<F>(handler: F) -> Server
    where
        F: Fn(&Request) -> Response + Send + Sync + 'static,
    {
        Self::start_with(ServerOptions::default(), handler)
    }

    /// Starts a server on `127.0.0.1:0`.
    pub fn start_with<F>(opts: ServerOptions, handler: F) -> Server
    where
        F: Fn(&Request) -> Response + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            last_activity: Mutex::new(Instant::now()),
            active: Mutex::new(0),
            active_cv: Condvar::new(),
        });
        let handler: Arc<Handler> = Arc::new(handler);

        let (done_tx, done_rx) = mpsc::channel::<()>();
        let accept = {
            let shared = shared.clone();
            let opts = opts.clone();
            std::thread::Builder::new()
                .name(format!("standin-accept-{}", addr.port()))
                .spawn(move || {
                    accept_loop(listener, shared, handler, opts);
                    let _ = done_tx.send(());
                })
                .expect("spawn accept thread")
        };

        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let watchdog = {
            let shared = shared.clone();
            let idle = opts.idle_timeout;
            std::thread::Builder::new()
                .name(format!("standin-watchdog-{}", addr.port()))
                .spawn(move || {
                    loop {
                        let since = lock(&shared.last_activity).elapsed();
                        let active = *lock(&shared.active);
                        if since >= idle && active == 0 {
                            break;
                        }
                        let wait = idle
                            .saturating_sub(since)
                            .clamp(Duration::from_millis(50), Duration::from_secs(5));
                        match stop_rx.recv_timeout(wait) {
                            Err(mpsc::RecvTimeoutError::Timeout) => continue,
                            _ => break,
                        }
                    }
                    shared.stop.store(true, Ordering::SeqCst);
                    // Wake the blocking accept.
                    let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
                })
                .expect("spawn watchdog thread")
        };

        Server {
            addr,
            shared,
            stop_tx: Some(stop_tx),
            accept_done: Some(done_rx),
            accept: Some(accept),
            watchdog: Some(watchdog),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// True once the server stopped (dropped or idle).
    pub fn is_stopped(&self) -> bool {
        self.shared.stopping()
    }

    /// Stops the server now (the same as dropping it).
    pub fn stop(&mut self) {
        if let Some(tx) = self.stop_tx.take() {
            let _ = tx.send(());
        }
        if let Some(w) = self.watchdog.take() {
            let _ = w.join();
        }
        // The watchdog woke the accept loop; wait for it, bounded.
        if let Some(done) = self.accept_done.take() {
            let finished = done.recv_timeout(Duration::from_secs(5)).is_ok();
            if let Some(a) = self.accept.take()
                && finished
            {
                let _ = a.join();
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    handler: Arc<Handler>,
    opts: ServerOptions,
) {
    for conn in listener.incoming() {
        if shared.stopping() {
            break;
        }
        let Ok(stream) = conn else {
            // e.g. too many open files: back off briefly, bounded by the stop flag.
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        shared.touch();
        {
            let mut n = lock(&shared.active);
            while *n >= opts.max_connections && !shared.stopping() {
                n = shared
                    .active_cv
                    .wait_timeout(n, Duration::from_millis(100))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            if shared.stopping() {
                break;
            }
            *n += 1;
        }
        let sh = shared.clone();
        let h = handler.clone();
        let o = opts.clone();
        let spawned = std::thread::Builder::new()
            .name("standin-conn".into())
            .spawn(move || {
                serve_connection(stream, &h, &sh, &o);
                sh.touch();
                let mut n = lock(&sh.active);
                *n -= 1;
                sh.active_cv.notify_all();
            });
        if spawned.is_err() {
            let mut n = lock(&shared.active);
            *n -= 1;
        }
    }
}

fn serve_connection(
    stream: TcpStream,
    handler: &Arc<Handler>,
    shared: &Shared,
    opts: &ServerOptions,
) {
    let _ = stream.set_read_timeout(Some(opts.read_timeout));
    let _ = stream.set_write_timeout(Some(opts.write_timeout));
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let request = match read_request(&mut reader, &mut writer, opts) {
        Ok(Some(r)) => r,
        Ok(None) => return,
        Err(ReadError::Bad(msg)) => {
            let resp = Response::text(400, format!("Bad Request: {msg}\n"));
            let _ = write_response(&mut writer, &resp, false, shared);
            let _ = writer.shutdown(Shutdown::Both);
            return;
        }
        Err(ReadError::Io(_)) => return,
    };
    shared.touch();
    let response = match catch_unwind(AssertUnwindSafe(|| handler(&request))) {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "handler panicked".into());
            Response::text(500, format!("stand-in handler panicked: {msg}\n"))
        }
    };
    if let Some(delay) = response.delay {
        sleep_unless_stopped(delay, shared);
    }
    let head_only = request.method == "HEAD";
    let _ = write_response(&mut writer, &response, head_only, shared);
    let _ = writer.flush();
    let _ = writer.shutdown(Shutdown::Write);
    // Give the client a moment to read before the socket closes (avoids an RST eating the
    // response when the client still had bytes in flight); bounded.
    let mut sink = [0u8; 1024];
    let _ = reader
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(200)));
    for _ in 0..16 {
        match reader.get_mut().read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

fn sleep_unless_stopped(total: Duration, shared: &Shared) {
    let end = Instant::now() + total;
    loop {
        let now = Instant::now();
        if now >= end || shared.stopping() {
            return;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(20)));
    }
}

enum ReadError {
    Bad(String),
    Io(io::Error),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

const MAX_HEAD: usize = 64 * 1024;

fn read_line(
    reader: &mut BufReader<TcpStream>,
    budget: &mut usize,
) -> Result<Option<String>, ReadError> {
    let mut line = Vec::new();
    let n = reader
        .by_ref()
        .take(*budget as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if n > *budget {
        return Err(ReadError::Bad("request head too large".into()));
    }
    *budget -= n;
    if line.last() != Some(&b'\n') {
        return Err(ReadError::Bad(
            "connection closed inside the request head".into(),
        ));
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| ReadError::Bad("request head is not UTF-8".into()))
}

fn read_request(
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
    opts: &ServerOptions,
) -> Result<Option<Request>, ReadError> {
    let mut budget = MAX_HEAD;
    let Some(request_line) = read_line(reader, &mut budget)? else {
        return Ok(None);
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Bad(format!("bad request line {request_line:?}")));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(ReadError::Bad(format!("unsupported version {version:?}")));
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.to_string(), String::new()),
    };
    let mut headers = Vec::new();
    loop {
        let Some(line) = read_line(reader, &mut budget)? else {
            return Err(ReadError::Bad(
                "connection closed inside the headers".into(),
            ));
        };
        if line.is_empty() {
            break;
        }
        let Some((k, v)) = line.split_once(':') else {
            return Err(ReadError::Bad(format!("bad header line {line:?}")));
        };
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut req = Request {
        method: method.to_string(),
        path,
        query,
        headers,
        ..Request::default()
    };
    if req
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        read_chunked(reader, &mut req, opts)?;
    } else if let Some(cl) = req.header("content-length") {
        let len: usize = cl
            .parse()
            .map_err(|_| ReadError::Bad(format!("bad Content-Length {cl:?}")))?;
        req.content_length = len;
        if len > opts.max_body {
            req.body_too_large = true;
            let copied = io::copy(&mut reader.by_ref().take(len as u64), &mut io::sink())?;
            if copied < len as u64 {
                return Err(ReadError::Io(io::ErrorKind::UnexpectedEof.into()));
            }
        } else {
            let mut body = vec![0u8; len];
            reader.read_exact(&mut body)?;
            req.body = body;
        }
    }
    Ok(Some(req))
}

fn read_chunked(
    reader: &mut BufReader<TcpStream>,
    req: &mut Request,
    opts: &ServerOptions,
) -> Result<(), ReadError> {
    let mut total = 0usize;
    // Bounded: every iteration consumes a chunk header; the stream ends or times out.
    loop {
        let mut budget = 1024;
        let Some(line) = read_line(reader, &mut budget)? else {
            return Err(ReadError::Bad(
                "connection closed inside a chunked body".into(),
            ));
        };
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| ReadError::Bad(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            // trailers
            let mut budget = MAX_HEAD;
            while let Some(l) = read_line(reader, &mut budget)? {
                if l.is_empty() {
                    break;
                }
            }
            break;
        }
        total = total.saturating_add(size);
        if total > opts.max_body {
            req.body_too_large = true;
            req.body = Vec::new();
            io::copy(&mut reader.by_ref().take(size as u64), &mut io::sink())?;
        } else {
            let start = req.body.len();
            req.body.resize(start + size, 0);
            reader.read_exact(&mut req.body[start..])?;
        }
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf)?;
    }
    req.content_length = total;
    Ok(())
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

fn write_response(
    w: &mut TcpStream,
    resp: &Response,
    head_only: bool,
    shared: &Shared,
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (k, v) in &resp.headers {
        if k.eq_ignore_ascii_case("connection") || k.eq_ignore_ascii_case("content-length") {
            continue;
        }
        // An empty Date set by the handler means "send no Date header at all".
        if k.eq_ignore_ascii_case("date") && v.is_empty() {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if resp.header("date").is_none() {
        head.push_str(&format!("Date: {}\r\n", http_date(chrono::Utc::now())));
    }
    head.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
    head.push_str("Connection: close\r\n\r\n");
    w.write_all(head.as_bytes())?;
    if head_only {
        return Ok(());
    }
    let body = match resp.truncate_to {
        Some(n) => &resp.body[..n.min(resp.body.len())],
        None => &resp.body[..],
    };
    if let Some(pause) = resp.trickle {
        for byte in body.chunks(1) {
            std::thread::sleep(pause);
            if shared.stopping() {
                return Ok(());
            }
            w.write_all(byte)?;
            w.flush()?;
        }
        return Ok(());
    }
    // Write in slices so a stop does not wait for a huge body to a stalled client.
    for chunk in body.chunks(1 << 20) {
        if shared.stopping() {
            return Ok(());
        }
        w.write_all(chunk)?;
    }
    Ok(())
}
