//! DISINFOX public API stand-in, faithful to `shared/notes/disinfox-api.md` §1–§4.
//!
//! Routes (also under an optional path prefix such as `/disinfox`):
//! `GET /` welcome, `POST /check-auth`, `GET /incidents?newer_than=…`; any other method on a
//! known route → 405 (Flask HTML), any other path → 404 (Flask HTML).
//!
//! `GET /incidents` checks, in this order (notes §4): no `Authorization` → **200**
//! `{"message":"Please provide …"}`; wrong key (also `Bearer <key>`) → 401; `newer_than` missing
//! or empty → 400; `newer_than` not parsable by Python 3.9
//! `datetime.fromisoformat(value.rstrip('Z') + '+00:00')` → 500 JSON; nothing newer → `{}`;
//! else a bundle of every object with `modified_ms > floor_ms(newer_than)`, in storage order.
//! Every JSON body ends in `\n` (Flask's `jsonify`). The `Date` header carries the server's
//! clock, shifted by `clock_skew`.
//!
//! Faults: `TooMany` and `Slow` act before everything (a proxy in front); the others act on the
//! data path only, i.e. after the authorization and `newer_than` presence checks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::generator::js;
use super::http::{Request, Response, Server, ServerOptions, http_date, lock};

pub const MSG_WELCOME: &str = "Welcome to the DISINFOX API!";
pub const MSG_NO_AUTH: &str = "Please provide an Authorization header with a valid token";
pub const MSG_INVALID_TOKEN: &str = "The token is invalid";
pub const MSG_VALID_TOKEN: &str = "The token is valid";
pub const MSG_NO_NEWER_THAN: &str =
    "Please provide a newer_than parameter, e.g. /incidents?newer_than=2024-11-30T01:35:21.128381Z";
pub const MSG_BACKEND_ERROR: &str = "Error getting incidents from the DISINFOX backend server";

/// Flask's default error pages.
pub const HTML_404: &str = "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>\n";
pub const HTML_405: &str = "<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n<h1>Method Not Allowed</h1>\n<p>The method is not allowed for the requested URL.</p>\n";
pub const HTML_500: &str = "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.</p>\n";

/// The e-mail encoded in the default key.
pub const DEFAULT_EMAIL: &str = "analyst@example.org";

/// Injected failures.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fault {
    #[default]
    None,
    /// Flask's HTML 500 page (notes §4 row 7), for the next `times` data requests.
    Html500 { times: usize },
    /// The JSON 500 of the public API (row 4), for the next `times` data requests.
    Json500 { times: usize },
    /// 429 from a proxy in front, with `Retry-After` when given, for the next `times` requests.
    TooMany {
        times: usize,
        retry_after_secs: Option<u64>,
    },
    /// Every response waits this long before being written (until reset).
    Slow { delay: Duration },
    /// Data responses announce their full length but send only half of it (until reset).
    Truncated,
    /// Data responses are a 200 HTML page (a captive portal or a proxy login page).
    NotJson,
    /// Data responses are 200 JSON of the old paginated shape, not a bundle.
    NotABundle,
    /// Data responses carry this `Date` header value instead of the clock's ("" omits it).
    DateHeader(String),
    /// Data response bodies arrive one byte per this pause (until reset).
    Trickle(Duration),
}

/// What the stand-in received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// The path as received (with the prefix, without the query).
    pub path: String,
    /// The raw query string.
    pub query: String,
    /// The `Authorization` header value, when present.
    pub authorization: Option<String>,
    /// The decoded `newer_than` parameter, when present.
    pub newer_than: Option<String>,
    /// The status answered.
    pub status: u16,
}

/// Options of [`DisinfoxStandin::start`].
#[derive(Debug, Clone)]
pub struct DisinfoxOptions {
    /// The valid key; `None` makes one in the real format from `email`.
    pub api_key: Option<String>,
    pub email: String,
    /// A path prefix such as `/disinfox`; routes are served with and without it.
    pub prefix: String,
    /// Added to the clock of the `Date` header (the server's clock, as the client sees it).
    pub clock_skew: chrono::Duration,
    pub server: ServerOptions,
}

impl Default for DisinfoxOptions {
    fn default() -> Self {
        DisinfoxOptions {
            api_key: None,
            email: DEFAULT_EMAIL.into(),
            prefix: String::new(),
            clock_skew: chrono::Duration::zero(),
            server: ServerOptions::default(),
        }
    }
}

/// One stored object: its `modified` in Unix milliseconds and its serialized text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub modified_ms: i64,
    pub raw: String,
}

#[derive(Debug, Default)]
struct State {
    objects: Vec<StoredObject>,
    fault: Fault,
    clock_skew: chrono::Duration,
    requests: Vec<RecordedRequest>,
}

struct Inner {
    api_key: String,
    prefix: String,
    state: Mutex<State>,
}

/// The running DISINFOX stand-in. Stops on drop.
pub struct DisinfoxStandin {
    inner: Arc<Inner>,
    server: Server,
}

impl DisinfoxStandin {
    pub fn start(opts: DisinfoxOptions) -> Self {
        let api_key = opts
            .api_key
            .clone()
            .unwrap_or_else(|| make_api_key(&opts.email));
        let prefix = normalize_prefix(&opts.prefix);
        let inner = Arc::new(Inner {
            api_key,
            prefix,
            state: Mutex::new(State {
                clock_skew: opts.clock_skew,
                ..State::default()
            }),
        });
        let h = inner.clone();
        let server = Server::start_with(opts.server, move |req| handle(&h, req));
        DisinfoxStandin { inner, server }
    }

    /// A stand-in with default options.
    pub fn start_default() -> Self {
        Self::start(DisinfoxOptions::default())
    }

    /// The server root, without the prefix: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The base URL a user configures, with the prefix: `http://127.0.0.1:PORT[/prefix]`.
    pub fn base_url(&self) -> String {
        format!("{}{}", self.server.url(), self.inner.prefix)
    }

    /// The full endpoint, as the Python connector's users configure it:
    /// `http://127.0.0.1:PORT[/prefix]/incidents`.
    pub fn endpoint_url(&self) -> String {
        format!("{}/incidents", self.base_url())
    }

    /// The configured prefix (`""` or e.g. `/disinfox`).
    pub fn prefix(&self) -> String {
        self.inner.prefix.clone()
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The one valid key.
    pub fn api_key(&self) -> String {
        self.inner.api_key.clone()
    }

    /// Adds raw STIX objects (JSON object text). Each is re-serialized the way DISINFOX does
    /// (compact, keys sorted, non-ASCII escaped) and stored with its `modified` (millisecond
    /// precision, as MongoDB stores it). An object without a parsable `modified` is stored but
    /// never served, like objects DISINFOX stored from uploaded STIX JSON. Returns how many
    /// were added.
    pub fn add_objects<I, S>(&self, objects: I) -> usize
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut added = Vec::new();
        for raw in objects {
            let value: Value =
                serde_json::from_str(raw.as_ref()).expect("add_objects: object is not JSON");
            assert!(value.is_object(), "add_objects: not a JSON object");
            added.push(stored_object(&value));
        }
        let n = added.len();
        lock(&self.inner.state).objects.extend(added);
        n
    }

    /// Adds parsed objects (see [`Self::add_objects`]).
    pub fn add_values<'a, I>(&self, objects: I) -> usize
    where
        I: IntoIterator<Item = &'a Value>,
    {
        let added: Vec<StoredObject> = objects.into_iter().map(stored_object).collect();
        let n = added.len();
        lock(&self.inner.state).objects.extend(added);
        n
    }

    /// Adds every object of a bundle text (see [`Self::add_objects`]).
    pub fn add_bundle(&self, bundle: &str) -> usize {
        let value: Value = serde_json::from_str(bundle).expect("add_bundle: not JSON");
        let objects = value
            .get("objects")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        self.add_values(objects.iter())
    }

    /// Stores `raw` verbatim with this `modified` (milliseconds).
    pub fn add_raw_at(&self, modified_ms: i64, raw: impl Into<String>) {
        lock(&self.inner.state).objects.push(StoredObject {
            modified_ms,
            raw: raw.into(),
        });
    }

    pub fn clear_objects(&self) {
        lock(&self.inner.state).objects.clear();
    }

    pub fn object_count(&self) -> usize {
        lock(&self.inner.state).objects.len()
    }

    pub fn objects(&self) -> Vec<StoredObject> {
        lock(&self.inner.state).objects.clone()
    }

    pub fn set_fault(&self, fault: Fault) {
        lock(&self.inner.state).fault = fault;
    }

    pub fn fault(&self) -> Fault {
        lock(&self.inner.state).fault.clone()
    }

    pub fn set_clock_skew(&self, skew: chrono::Duration) {
        lock(&self.inner.state).clock_skew = skew;
    }

    /// The server's clock (ours plus the skew), as its `Date` header reports it.
    pub fn server_now(&self) -> DateTime<Utc> {
        Utc::now() + lock(&self.inner.state).clock_skew
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.inner.state).requests.clone()
    }

    pub fn clear_requests(&self) {
        lock(&self.inner.state).requests.clear();
    }

    /// Stops the server now (also done on drop).
    pub fn stop(&mut self) {
        self.server.stop();
    }

    pub fn is_stopped(&self) -> bool {
        self.server.is_stopped()
    }
}

fn normalize_prefix(p: &str) -> String {
    let t = p.trim_matches('/');
    if t.is_empty() {
        String::new()
    } else {
        format!("/{t}")
    }
}

fn stored_object(value: &Value) -> StoredObject {
    let modified_ms = value
        .get("modified")
        .and_then(Value::as_str)
        .and_then(|m| DateTime::parse_from_rfc3339(m).ok())
        .map(|d| d.timestamp_micros().div_euclid(1000))
        .unwrap_or(i64::MIN);
    StoredObject {
        modified_ms,
        raw: python_json(value),
    }
}

fn json_message(status: u16, message: &str) -> Response {
    Response::json(
        status,
        format!(
            "{}\n",
            python_json(&serde_json::json!({ "message": message }))
        ),
    )
}

fn handle(inner: &Inner, req: &Request) -> Response {
    let route = if !inner.prefix.is_empty() && req.path.starts_with(&inner.prefix) {
        let rest = &req.path[inner.prefix.len()..];
        if rest.is_empty() { "/" } else { rest }
    } else {
        req.path.as_str()
    };
    let (allowed, mut response): (&str, Response) = match route {
        "/" => ("GET, HEAD, OPTIONS", Response::html(0, "")),
        "/check-auth" => ("POST, OPTIONS", Response::html(0, "")),
        "/incidents" => ("GET, HEAD, OPTIONS", Response::html(0, "")),
        _ => ("", Response::html(404, HTML_404)),
    };
    if response.status == 0 {
        let m = req.method.as_str();
        response = if m == "OPTIONS" {
            Response::html(200, "").with_header("Allow", allowed)
        } else if !allowed.split(", ").any(|a| a == m) {
            Response::html(405, HTML_405).with_header("Allow", allowed)
        } else {
            match route {
                "/" => json_message(200, MSG_WELCOME),
                "/check-auth" => check_auth(inner, req),
                _ => incidents(inner, req),
            }
        };
    }
    let skew = lock(&inner.state).clock_skew;
    let mut response = response.with_header("Server", "Werkzeug/3.1.9 Python/3.11.7");
    // A Date set by a fault (another form, or none) stays.
    if response.header("date").is_none() {
        response = response.with_header("Date", http_date(Utc::now() + skew));
    }
    lock(&inner.state).requests.push(RecordedRequest {
        method: req.method.clone(),
        path: req.path.clone(),
        query: req.query.clone(),
        authorization: req.header("authorization").map(str::to_string),
        newer_than: req.query_param("newer_than"),
        status: response.status,
    });
    response
}

fn check_auth(inner: &Inner, req: &Request) -> Response {
    match req.header("authorization").filter(|v| !v.is_empty()) {
        None => json_message(401, MSG_NO_AUTH),
        Some(k) if k == inner.api_key => json_message(200, MSG_VALID_TOKEN),
        Some(_) => json_message(401, MSG_INVALID_TOKEN),
    }
}

fn incidents(inner: &Inner, req: &Request) -> Response {
    let mut delay = None;
    // Proxy-level faults first.
    {
        let mut st = lock(&inner.state);
        match &mut st.fault {
            Fault::TooMany {
                times,
                retry_after_secs,
            } if *times > 0 => {
                *times -= 1;
                let mut r = json_message(429, "Too Many Requests");
                if let Some(s) = retry_after_secs {
                    r = r.with_header("Retry-After", s.to_string());
                }
                if *times == 0 {
                    st.fault = Fault::None;
                }
                return r;
            }
            Fault::Slow { delay: d } => delay = Some(*d),
            _ => {}
        }
    }
    let mut response = incidents_inner(inner, req);
    if let Some(d) = delay {
        response = response.with_delay(d);
    }
    response
}

fn incidents_inner(inner: &Inner, req: &Request) -> Response {
    // Row 1: no Authorization header (upstream answers 200).
    let Some(key) = req.header("authorization").filter(|v| !v.is_empty()) else {
        return json_message(200, MSG_NO_AUTH);
    };
    // Row 2: key rejected.
    if key != inner.api_key {
        return json_message(401, MSG_INVALID_TOKEN);
    }
    // Row 3: newer_than missing or empty.
    let newer_than = match req.query_param("newer_than") {
        Some(v) if !v.is_empty() => v,
        _ => return json_message(400, MSG_NO_NEWER_THAN),
    };
    // Data-path faults.
    let mut truncate = false;
    let mut date = None;
    let mut trickle = None;
    {
        let mut st = lock(&inner.state);
        let mut clear = false;
        let r = match &mut st.fault {
            Fault::Html500 { times } if *times > 0 => {
                *times -= 1;
                clear = *times == 0;
                Some(Response::html(500, HTML_500))
            }
            Fault::Json500 { times } if *times > 0 => {
                *times -= 1;
                clear = *times == 0;
                Some(json_message(500, MSG_BACKEND_ERROR))
            }
            Fault::NotJson => Some(Response::html(
                200,
                "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><form action=\"/login\"></form></body></html>\n",
            )),
            Fault::NotABundle => Some(Response::json(
                200,
                "{\"incidents\":[],\"page\":1,\"per_page\":10,\"total\":0}\n",
            )),
            Fault::Truncated => {
                truncate = true;
                None
            }
            Fault::DateHeader(value) => {
                date = Some(value.clone());
                None
            }
            Fault::Trickle(pause) => {
                trickle = Some(*pause);
                None
            }
            _ => None,
        };
        if clear {
            st.fault = Fault::None;
        }
        if let Some(r) = r {
            return r;
        }
    }
    // Row 4: the backend cannot parse newer_than.
    let floor_ms = match parse_newer_than(&newer_than) {
        Ok(us) => us.div_euclid(1000),
        Err(_) => return json_message(500, MSG_BACKEND_ERROR),
    };
    let body = {
        let st = lock(&inner.state);
        let selected: Vec<&str> = st
            .objects
            .iter()
            .filter(|o| o.modified_ms > floor_ms)
            .map(|o| o.raw.as_str())
            .collect();
        if selected.is_empty() {
            "{}\n".to_string()
        } else {
            render_bundle(&selected)
        }
    };
    let mut response = Response::json(200, body);
    if truncate {
        let half = response.body.len() / 2;
        response = response.truncated(half);
    }
    if let Some(value) = date {
        response = response.with_header("Date", value);
    }
    if let Some(pause) = trickle {
        response = response.trickled(pause);
    }
    response
}

/// `{"id":"bundle--<uuid4>","objects":[…],"type":"bundle"}` + `\n`, as DISINFOX serializes it.
pub fn render_bundle(objects: &[&str]) -> String {
    let size: usize = objects.iter().map(|o| o.len() + 1).sum();
    let mut s = String::with_capacity(size + 96);
    s.push_str("{\"id\":\"bundle--");
    s.push_str(&uuid::Uuid::new_v4().to_string());
    s.push_str("\",\"objects\":[");
    for (i, o) in objects.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(o);
    }
    s.push_str("],\"type\":\"bundle\"}\n");
    s
}

/// Python's `json.dumps(v, sort_keys=True, separators=(",", ":"))` (ensure_ascii on).
pub fn python_json(v: &Value) -> String {
    let mut out = String::new();
    write_py(v, &mut out);
    out
}

fn write_py(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => js(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_py(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                js(out, k);
                out.push(':');
                write_py(&m[k.as_str()], out);
            }
            out.push('}');
        }
    }
}

/// A key in the real format: `DISINFOX.<base64 of the e-mail>.<43-char url-safe token>`.
pub fn make_api_key(email: &str) -> String {
    let mut random = Vec::with_capacity(32);
    random.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    random.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    format!(
        "DISINFOX.{}.{}",
        base64(email.as_bytes(), STANDARD, true),
        base64(&random, URL_SAFE, false)
    )
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 with the given alphabet, `=` padded or not.
pub fn base64(data: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// What the DISINFOX backend does with `newer_than`: strip every trailing upper-case `Z`,
/// append `+00:00`, parse with Python 3.9's C `datetime.fromisoformat` (quirks included), and
/// read a naive result as UTC (pymongo). Returns Unix **microseconds**; the backend's
/// effective comparison then uses `floor_ms` of it.
pub fn parse_newer_than(value: &str) -> Result<i64, String> {
    let full = format!("{}+00:00", value.trim_end_matches('Z'));
    py39_fromisoformat(&full).map_err(|e| format!("{e}: {full:?}"))
}

/// `floor_ms(newer_than)` as the backend compares it, or `None` where it answers 500.
pub fn newer_than_floor_ms(value: &str) -> Option<i64> {
    parse_newer_than(value).ok().map(|us| us.div_euclid(1000))
}

/// Python 3.9 `datetime.fromisoformat` (the C implementation in `_datetimemodule.c`), as Unix
/// microseconds (naive results read as UTC).
pub fn py39_fromisoformat(s: &str) -> Result<i64, String> {
    let b = s.as_bytes();
    // Reading past the end yields NUL, as in the C code.
    let at = |i: usize| -> u8 { b.get(i).copied().unwrap_or(0) };
    let digits = |start: usize, n: usize| -> Option<i64> {
        let mut v = 0i64;
        for i in 0..n {
            let c = at(start + i);
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    };
    let invalid = || format!("Invalid isoformat string: {s:?}");

    // parse_isoformat_date: YYYY-MM-DD, fixed length 10.
    let year = digits(0, 4).ok_or_else(invalid)?;
    if at(4) != b'-' {
        return Err(invalid());
    }
    let month = digits(5, 2).ok_or_else(invalid)?;
    if at(7) != b'-' {
        return Err(invalid());
    }
    let day = digits(8, 2).ok_or_else(invalid)?;

    let (mut hour, mut minute, mut second, mut micro) = (0i64, 0i64, 0i64, 0i64);
    let mut offset_us = 0i64;
    if b.len() > 10 {
        // Skip the separator: any single character (a whole UTF-8 sequence).
        let lead = b[10];
        let p = if lead & 0x80 == 0 {
            11
        } else {
            match lead & 0xf0 {
                0xe0 => 13,
                0xf0 => 14,
                _ => 12,
            }
        };
        let t_start = p;
        let t_end = b.len().max(p);
        // parse_isoformat_time
        let mut tz = t_start;
        loop {
            if matches!(at(tz), b'+' | b'-') {
                break;
            }
            tz += 1;
            if tz >= t_end {
                break;
            }
        }
        let (rv, h, m, sec, us) = hh_mm_ss_ff(&at, t_start, tz);
        if rv < 0 {
            return Err(invalid());
        }
        (hour, minute, second, micro) = (h, m, sec, us);
        if tz >= t_end {
            if rv == 1 {
                return Err(invalid());
            }
        } else {
            let tzlen = t_end - tz;
            if !(tzlen == 6 || tzlen == 9 || tzlen == 16) {
                return Err(invalid());
            }
            let sign = if at(tz) == b'-' { -1 } else { 1 };
            let (rv2, th, tm, ts, tus) = hh_mm_ss_ff(&at, tz + 1, t_end);
            if rv2 != 0 {
                return Err(invalid());
            }
            offset_us = sign * ((th * 3600 + tm * 60 + ts) * 1_000_000 + tus);
            if offset_us.abs() >= 86_400 * 1_000_000 {
                return Err("offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24)".into());
            }
        }
    }
    // The datetime constructor's range checks.
    if !(1..=9999).contains(&year) {
        return Err(format!("year {year} is out of range"));
    }
    if !(1..=12).contains(&month) {
        return Err("month must be in 1..12".into());
    }
    let date = NaiveDate::from_ymd_opt(year as i32, month as u32, day as u32)
        .ok_or_else(|| "day is out of range for month".to_string())?;
    if !(0..=23).contains(&hour) {
        return Err("hour must be in 0..23".into());
    }
    if !(0..=59).contains(&minute) {
        return Err("minute must be in 0..59".into());
    }
    if !(0..=59).contains(&second) {
        return Err("second must be in 0..59".into());
    }
    let dt = date
        .and_hms_micro_opt(hour as u32, minute as u32, second as u32, micro as u32)
        .ok_or_else(invalid)?;
    Ok(dt.and_utc().timestamp_micros() - offset_us)
}

/// `parse_hh_mm_ss_ff` of CPython 3.9: returns (rv, hour, minute, second, microsecond) where
/// rv is 0 (ends at `end`), 1 (more follows) or negative (error).
fn hh_mm_ss_ff(at: &dyn Fn(usize) -> u8, start: usize, end: usize) -> (i32, i64, i64, i64, i64) {
    let mut vals = [0i64; 3];
    let mut p = start;
    let two = |p: usize| -> Option<i64> {
        let (a, b) = (at(p), at(p + 1));
        (a.is_ascii_digit() && b.is_ascii_digit())
            .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
    };
    for val in &mut vals {
        let Some(v) = two(p) else {
            return (-3, 0, 0, 0, 0);
        };
        *val = v;
        p += 2;
        let c = at(p);
        p += 1;
        if p >= end {
            return (i32::from(c != 0), vals[0], vals[1], vals[2], 0);
        } else if c == b':' {
            continue;
        } else if c == b'.' {
            break;
        } else {
            return (-4, 0, 0, 0, 0);
        }
    }
    let len_remains = end - p;
    if !(len_remains == 6 || len_remains == 3) {
        return (-3, 0, 0, 0, 0);
    }
    let mut us = 0i64;
    for i in 0..len_remains {
        let c = at(p + i);
        if !c.is_ascii_digit() {
            return (-3, 0, 0, 0, 0);
        }
        us = us * 10 + i64::from(c - b'0');
    }
    p += len_remains;
    if len_remains == 3 {
        us *= 1000;
    }
    (i32::from(at(p) != 0), vals[0], vals[1], vals[2], us)
}
