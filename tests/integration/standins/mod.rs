//! Self-tests of the stand-ins (tests/support): the DISINFOX `newer_than` parse table, filter
//! rule and auth rules; the OpenCTI SDL gates, validation, coercion, state/reset semantics,
//! works, pushes, errors and faults; the tiny HTTP server itself.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::support::disinfox::{
    self, DisinfoxOptions, DisinfoxStandin, Fault as DxFault, MSG_BACKEND_ERROR, MSG_INVALID_TOKEN,
    MSG_NO_AUTH, MSG_NO_NEWER_THAN,
};
use crate::support::http::{Request, Response, Server, ServerOptions};
use crate::support::opencti::{
    self, Fault, KNOWN_VERSIONS, OpenctiOptions, OpenctiStandin, PushFailure, Version, render_sdl,
};

/// The instant stand-in, whatever `STANDIN_OPENCTI_IMPORT` says: for the self-tests of its
/// own work bookkeeping (counts and statuses set during the push, which is what "instant"
/// means). The asynchronous platform's works are checked by `async_import`.
fn instant(version: &str) -> OpenctiStandin {
    OpenctiStandin::start(OpenctiOptions {
        import: opencti::Import::Instant,
        ..OpenctiOptions::version(version)
    })
}

fn client() -> reqwest::blocking::Client {
    crate::common::http_client().build().unwrap()
}

// ----------------------------------------------------------------------------------------------
// DISINFOX

/// `datetime.fromisoformat(value.rstrip('Z') + '+00:00')` as answered by CPython 3.9.18,
/// in Unix microseconds (naive results read as UTC); `None` = ValueError (HTTP 500).
const PY39_TABLE: &[(&str, Option<i64>)] = &[
    ("2026-11-27T21:51:42.833000Z", Some(1795816302833000)),
    ("2026-11-27T21:51:42.833Z", Some(1795816302833000)),
    ("2026-11-27T21:51:42Z", Some(1795816302000000)),
    ("2026-11-27T21:51Z", Some(1795816260000000)),
    ("2026-11-27T21Z", Some(1795813200000000)),
    ("2026-11-27 21:51:42Z", Some(1795816302000000)),
    ("2026-11-27T21:51:42", Some(1795816302000000)),
    ("2026-11-27T21:51:42.833ZZ", Some(1795816302833000)),
    ("2026-11-27", Some(1795737600000000)),
    ("2026-11-27T21:51:42+00:00", None),
    ("2026-11-27T21:51:42+02:00", None),
    ("2026-11-27T21:51:42+00:00Z", None),
    ("2026-11-27T21:51:42+00:00ZZ", None),
    ("2026-11-27T21:51:42.8Z", None),
    ("2026-11-27T21:51:42.86288Z", None),
    ("2026-11-27T21:51:42.833999999Z", None),
    ("20261127T215142Z", None),
    ("2026-11-27T21:51:42,833Z", None),
    ("2026-11-27T21:51:42.833z", None),
    ("garbage", None),
    ("2026-11-27T21:+00:00", None),
    ("2026-11-27T21:", Some(1795813200000000)),
    ("2026-11-27T21:51:42Q", Some(1795816302000000)),
    ("2026-11-27T21.", Some(1795813200000000)),
    ("2026-11-27+02:00", Some(1795744800000000)),
    ("2026-11-27T", None),
    ("2026-11-27Z", Some(1795737600000000)),
    ("2026-11-27x21:51", Some(1795816260000000)),
    ("2026-11-27é21:51", Some(1795816260000000)),
    ("2026-11-27€21:51", Some(1795816260000000)),
    ("2026-11-27😀21:51", Some(1795816260000000)),
    ("2026-02-30", None),
    ("2026-13-01", None),
    ("2026-11-27T24:00", None),
    ("2026-11-27T23:60", None),
    ("2026-11-27T23:59:60", None),
    ("0000-01-01", None),
    ("2024-02-29T00:00", Some(1709164800000000)),
    ("2023-02-29", None),
    ("2026-11-2", None),
    ("2026-11-27T2", None),
    ("2026-11-27T21:5", None),
    ("2026-11-27T21:51:4", None),
    ("2026-11-27T21:51:42.", Some(1795816302000000)),
    ("2026-11-27T21:51:42.8330", None),
    ("2026-11-27T21:51:42.833000Q", None),
    ("2026-11-27T21:51:42.833.000", None),
    ("2026-11-27T21:51:42:00", None),
    ("2026-11-27T21:51:42:833", Some(1795816302833000)),
    ("2026-11-27T21:51:42:833000", Some(1795816302833000)),
    ("2026-11-27T21-05:00", None),
    ("2026-11-27T21:51:42-00", None),
    ("2026-11-27T２1:51", None),
    ("1970-01-01T00:00:00.000000+00:00Z", None),
    ("1970-01-01T00:00:00.000000Z", Some(0)),
    ("9999-12-31T23:59:59.999999Z", Some(253402300799999999)),
    ("2026-11-27TT21", None),
    ("2026-11-27T21:51:42.833000ZZZZ", Some(1795816302833000)),
    ("Z", None),
    ("2026-11-27T21:51:42.833Z ", None),
    ("2026-11-27T21:51:42.833999Z", Some(1795816302833999)),
    ("2026-11-27T21:51:42.832999Z", Some(1795816302832999)),
    ("2026-1-27", None),
    ("+026-11-27", None),
    ("2026-11-2721:51", None),
    ("2026-11-27T21:51:42.833000Zz", None),
    ("0001-01-01T00:00:00Z", Some(-62135596800000000)),
    ("1969-12-31T23:59:59.999999Z", Some(-1)),
    ("2026-11-27T21:51:42.123456789", None),
    ("2026-11-27+99:00", None),
];

#[test]
fn disinfox_newer_than_parse_table_matches_python_3_9() {
    let mut failures = Vec::new();
    for (input, want) in PY39_TABLE {
        let got = disinfox::parse_newer_than(input).ok();
        if got != *want {
            failures.push(format!("{input:?}: want {want:?}, got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "parse table mismatches:\n{}",
        failures.join("\n")
    );
    // floor to milliseconds
    assert_eq!(
        disinfox::newer_than_floor_ms("2026-11-27T21:51:42.833999Z"),
        Some(1_795_816_302_833)
    );
    assert_eq!(
        disinfox::newer_than_floor_ms("1969-12-31T23:59:59.999999Z"),
        Some(-1)
    );
    assert_eq!(
        disinfox::newer_than_floor_ms("2026-11-27T21:51:42+00:00"),
        None
    );
}

fn dx_get(url: &str, auth: Option<&str>) -> (u16, String, String) {
    let mut r = client().get(url);
    if let Some(a) = auth {
        r = r.header("Authorization", a);
    }
    let resp = r.send().unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ct, resp.text().unwrap())
}

fn msg(m: &str) -> String {
    format!("{{\"message\":\"{m}\"}}\n")
}

#[test]
fn disinfox_routes_and_auth_rules() {
    let dx = DisinfoxStandin::start(DisinfoxOptions {
        prefix: "/disinfox".into(),
        ..Default::default()
    });
    let key = dx.api_key();
    // Key format: DISINFOX.<base64 e-mail>.<43 url-safe chars>
    let parts: Vec<&str> = key.split('.').collect();
    assert_eq!(parts.len(), 3, "{key}");
    assert_eq!(parts[0], "DISINFOX");
    assert_eq!(parts[1], "YW5hbHlzdEBleGFtcGxlLm9yZw==");
    assert_eq!(parts[2].len(), 43);
    assert!(
        parts[2]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_eq!(dx.base_url(), format!("{}/disinfox", dx.url()));
    assert_eq!(
        dx.endpoint_url(),
        format!("{}/disinfox/incidents", dx.url())
    );

    let root = dx.url();
    for base in [root.clone(), dx.base_url()] {
        let (s, ct, b) = dx_get(&format!("{base}/"), None);
        assert_eq!(
            (s, ct.as_str(), b.as_str()),
            (
                200,
                "application/json",
                msg("Welcome to the DISINFOX API!").as_str()
            )
        );
    }
    // 405 / 404 as Flask HTML
    let r = client().post(format!("{root}/")).send().unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let r = client().post(dx.endpoint_url()).send().unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let (s, ct, b) = dx_get(&format!("{root}/api/incidents"), Some(&key));
    assert_eq!(s, 404);
    assert!(ct.starts_with("text/html") && b.contains("404 Not Found"));

    let ep = |q: &str| format!("{}{q}", dx.endpoint_url());
    // Row 1: no Authorization → 200 with a message (also without newer_than).
    assert_eq!(
        dx_get(&ep("?newer_than=2026-01-01T00:00:00Z"), None),
        (200, "application/json".into(), msg(MSG_NO_AUTH))
    );
    assert_eq!(dx_get(&ep(""), None).2, msg(MSG_NO_AUTH));
    // Row 2: wrong key, or Bearer <key> → 401.
    assert_eq!(
        dx_get(
            &ep("?newer_than=2026-01-01T00:00:00Z"),
            Some("DISINFOX.eA==.nope")
        )
        .0,
        401
    );
    let (s, _, b) = dx_get(
        &ep("?newer_than=2026-01-01T00:00:00Z"),
        Some(&format!("Bearer {key}")),
    );
    assert_eq!((s, b), (401, msg(MSG_INVALID_TOKEN)));
    // Row 3: newer_than missing or empty → 400 with the exact message.
    assert_eq!(
        dx_get(&ep(""), Some(&key)),
        (400, "application/json".into(), msg(MSG_NO_NEWER_THAN))
    );
    assert_eq!(dx_get(&ep("?newer_than="), Some(&key)).0, 400);
    // Row 4: offsets and other unparsable values → 500 JSON.
    for bad in [
        "1970-01-01T00:00:00.000000%2B00:00Z",
        "2026-11-27T21:51:42.8Z",
        "garbage",
        "2026-11-27T21:51:42%2B00:00",
    ] {
        assert_eq!(
            dx_get(&ep(&format!("?newer_than={bad}")), Some(&key)),
            (500, "application/json".into(), msg(MSG_BACKEND_ERROR)),
            "{bad}"
        );
    }
    // An unencoded '+' becomes a space: still a 500.
    assert_eq!(
        dx_get(&ep("?newer_than=2026-11-27T21:51:42+00:00"), Some(&key)).0,
        500
    );
    // Row 5: nothing newer → exactly {}\n
    assert_eq!(
        dx_get(&ep("?newer_than=2099-01-01T00:00:00Z"), Some(&key)),
        (200, "application/json".into(), "{}\n".into())
    );
    // check-auth
    let ca = format!("{}/check-auth", dx.base_url());
    let r = client().post(&ca).send().unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().unwrap()),
        (401, msg(MSG_NO_AUTH))
    );
    let r = client()
        .post(&ca)
        .header("Authorization", &key)
        .send()
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().unwrap()),
        (200, msg("The token is valid"))
    );
    let r = client()
        .post(&ca)
        .header("Authorization", "x")
        .send()
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().unwrap()),
        (401, msg(MSG_INVALID_TOKEN))
    );
    assert_eq!(client().get(&ca).send().unwrap().status().as_u16(), 405);
    // Everything was recorded.
    let reqs = dx.requests();
    assert!(
        reqs.iter()
            .any(|r| r.authorization.as_deref() == Some(key.as_str()) && r.status == 400)
    );
    assert!(
        reqs.iter()
            .any(|r| r.newer_than.as_deref() == Some("2026-11-27T21:51:42 00:00"))
    );
}

fn obj(kind: &str, n: u32, modified: &str, name: &str) -> String {
    json!({
        "type": kind,
        "spec_version": "2.1",
        "id": format!("{kind}--00000000-0000-4000-8000-{n:012}"),
        "created": modified,
        "modified": modified,
        "name": name,
    })
    .to_string()
}

#[test]
fn disinfox_filter_rule_and_bundle_shape() {
    let dx = DisinfoxStandin::start_default();
    let key = dx.api_key();
    dx.add_objects([
        obj("threat-actor", 2, "2026-11-27T21:51:42.900Z", "Zürich"),
        obj("intrusion-set", 1, "2026-11-27T21:51:42.833Z", "first"),
        obj("location", 3, "2026-11-27T21:51:43.000Z", "Ukraine"),
    ]);
    // An object with no usable modified is stored but never served.
    dx.add_objects([r#"{"type":"identity","id":"identity--00000000-0000-4000-8000-000000000009","modified":"not a date"}"#]);
    let get = |nt: &str| {
        dx_get(
            &format!("{}?newer_than={nt}", dx.endpoint_url()),
            Some(&key),
        )
    };

    // modified_ms > floor_ms(newer_than): .833999 floors to .833 → excluded; .832999 → included.
    let (_, _, b) = get("2026-11-27T21:51:42.833999Z");
    let v: Value = serde_json::from_str(&b).unwrap();
    let ids: Vec<&str> = v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "threat-actor--00000000-0000-4000-8000-000000000002",
            "location--00000000-0000-4000-8000-000000000003"
        ]
    );
    let (_, _, b) = get("2026-11-27T21:51:42.832999Z");
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["objects"].as_array().unwrap().len(), 3);
    // storage order, not sorted
    assert_eq!(v["objects"][0]["type"], "threat-actor");
    // exact top-level shape
    assert!(b.starts_with("{\"id\":\"bundle--"), "{b}");
    assert!(b.ends_with("],\"type\":\"bundle\"}\n"));
    let bid = v["id"].as_str().unwrap().strip_prefix("bundle--").unwrap();
    assert_eq!(uuid::Uuid::parse_str(bid).unwrap().get_version_num(), 4);
    assert_eq!(v.as_object().unwrap().len(), 3);
    // DISINFOX serialization: keys sorted, compact, non-ASCII escaped
    assert!(b.contains(r#"{"created":"2026-11-27T21:51:42.900Z","id":"threat-actor--00000000-0000-4000-8000-000000000002","modified":"2026-11-27T21:51:42.900Z","name":"Z\u00fcrich","spec_version":"2.1","type":"threat-actor"}"#), "{b}");
    // Date-only and the trailing-Z rules of the table apply on the wire too.
    assert_eq!(get("2026-11-27").2.matches("\"type\":\"").count(), 4);
    assert_eq!(get("2026-11-27T21:51:43.000000ZZZ").2, "{}\n");
    // A second response gets a new bundle id.
    let (_, _, b2) = get("2026-11-27T21:51:42.832999Z");
    assert_ne!(serde_json::from_str::<Value>(&b2).unwrap()["id"], v["id"]);
    // add_bundle / add_raw_at
    dx.clear_objects();
    let n = dx.add_bundle(&format!(
        "{{\"type\":\"bundle\",\"id\":\"bundle--x\",\"objects\":[{}]}}",
        obj("location", 7, "2030-01-01T00:00:00.000Z", "x")
    ));
    assert_eq!(n, 1);
    dx.add_raw_at(1_900_000_000_000, "{\"raw\":true}");
    let (_, _, b) = get("2029-01-01T00:00:00Z");
    assert!(
        b.contains("location--00000000-0000-4000-8000-000000000007")
            && b.contains("{\"raw\":true}")
    );
}

#[test]
fn disinfox_faults() {
    let dx = DisinfoxStandin::start_default();
    let key = dx.api_key();
    dx.add_objects([obj("location", 1, "2026-01-01T00:00:00.000Z", "x")]);
    let url = format!(
        "{}?newer_than=2025-01-01T00:00:00.000000Z",
        dx.endpoint_url()
    );
    // Data-path faults do not act before the auth checks, and are not consumed there.
    dx.set_fault(DxFault::Html500 { times: 1 });
    assert_eq!(dx_get(&url, None).0, 200);
    let (s, ct, b) = dx_get(&url, Some(&key));
    assert_eq!(s, 500);
    assert!(ct.starts_with("text/html") && b.contains("Internal Server Error"));
    assert_eq!(dx_get(&url, Some(&key)).0, 200);
    assert_eq!(dx.fault(), DxFault::None);

    dx.set_fault(DxFault::Json500 { times: 2 });
    assert_eq!(dx_get(&url, Some(&key)).2, msg(MSG_BACKEND_ERROR));
    assert_eq!(dx_get(&url, Some(&key)).0, 500);
    assert_eq!(dx_get(&url, Some(&key)).0, 200);

    dx.set_fault(DxFault::TooMany {
        times: 1,
        retry_after_secs: Some(3),
    });
    let r = client()
        .get(&url)
        .header("Authorization", &key)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "3");
    assert_eq!(dx_get(&url, Some(&key)).0, 200);

    dx.set_fault(DxFault::NotJson);
    let (s, ct, b) = dx_get(&url, Some(&key));
    assert_eq!(s, 200);
    assert!(ct.starts_with("text/html") && serde_json::from_str::<Value>(&b).is_err());

    dx.set_fault(DxFault::NotABundle);
    let (s, _, b) = dx_get(&url, Some(&key));
    let v: Value = serde_json::from_str(&b).unwrap();
    assert!(s == 200 && v.get("objects").is_none() && v.get("incidents").is_some());

    dx.set_fault(DxFault::Truncated);
    let r = client()
        .get(&url)
        .header("Authorization", &key)
        .send()
        .unwrap();
    let announced: usize = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(announced > 10);
    assert!(r.bytes().is_err(), "a truncated body must fail to read");

    dx.set_fault(DxFault::Slow {
        delay: Duration::from_millis(250),
    });
    let t = Instant::now();
    assert_eq!(dx_get(&url, Some(&key)).0, 200);
    assert!(t.elapsed() >= Duration::from_millis(250));
    dx.set_fault(DxFault::None);
    assert_eq!(dx_get(&url, Some(&key)).0, 200);
}

#[test]
fn disinfox_date_header_carries_the_skewed_clock() {
    let dx = DisinfoxStandin::start(DisinfoxOptions {
        clock_skew: chrono::Duration::minutes(-10),
        ..Default::default()
    });
    let r = client().get(format!("{}/", dx.url())).send().unwrap();
    let date = r.headers()["date"].to_str().unwrap().to_string();
    assert!(date.ends_with(" GMT"), "{date}");
    let t = DateTime::parse_from_rfc2822(&date)
        .unwrap()
        .with_timezone(&Utc);
    let expect = Utc::now() - chrono::Duration::minutes(10);
    assert!((t - expect).num_seconds().abs() <= 3, "{date}");
    dx.set_clock_skew(chrono::Duration::minutes(10));
    assert!((dx.server_now() - Utc::now()).num_seconds() >= 599);
}

#[test]
fn python_json_matches_disinfox_serialization() {
    let v = json!({"b": [1, "é\u{1F600}\n\"\\"], "a": {"z": null, "y": true}});
    assert_eq!(
        disinfox::python_json(&v),
        r#"{"a":{"y":true,"z":null},"b":[1,"\u00e9\ud83d\ude00\n\"\\"]}"#
    );
    assert_eq!(
        disinfox::base64(
            b"analyst@example.org",
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
            true
        ),
        "YW5hbHlzdEBleGFtcGxlLm9yZw=="
    );
}

// ----------------------------------------------------------------------------------------------
// HTTP server

#[test]
fn http_server_basics() {
    let server = Server::start(|req: &Request| {
        if req.path == "/panic" {
            panic!("boom");
        }
        let body = json!({
            "method": req.method,
            "path": req.path,
            "query": req.query,
            "b": req.query_param("b"),
            "len": req.body.len(),
            "sum": req.body.iter().map(|&b| u64::from(b)).sum::<u64>(),
            "ua": req.header("User-Agent"),
        });
        Response::json(200, body.to_string()).with_header("X-Test", "1")
    });
    assert!(server.url().starts_with("http://127.0.0.1:"));
    assert_eq!(server.url(), format!("http://127.0.0.1:{}", server.port()));
    let c = client();
    let r = c
        .get(format!("{}/p/a?b=x%3Ay+z&b=2&c", server.url()))
        .send()
        .unwrap();
    assert!(r.headers().contains_key("date"));
    assert_eq!(r.headers()["x-test"], "1");
    let v: Value = r.json().unwrap();
    assert_eq!(v["path"], "/p/a");
    assert_eq!(v["query"], "b=x%3Ay+z&b=2&c");
    assert_eq!(v["b"], "x:y z");
    // A large body is read exactly.
    let big: Vec<u8> = (0..30 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let want_sum: u64 = big.iter().map(|&b| u64::from(b)).sum();
    let v: Value = c
        .post(format!("{}/big", server.url()))
        .body(big)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v["len"], 30 * 1024 * 1024);
    assert_eq!(v["sum"], want_sum);
    // HEAD has headers and no body.
    let r = c.head(format!("{}/h", server.url())).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.bytes().unwrap().is_empty());
    // A panicking handler gives a 500, and the server goes on.
    assert_eq!(
        c.get(format!("{}/panic", server.url()))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        500
    );
    // Chunked request body, and a client that disconnects mid-response.
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.write_all(b"POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(
        out.starts_with("HTTP/1.1 200 OK\r\n") && out.contains("\"len\":5"),
        "{out}"
    );
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.write_all(format!("POST /big HTTP/1.1\r\nContent-Length: {}\r\n\r\n", 1 << 20).as_bytes())
        .unwrap();
    s.write_all(&[1u8; 1000]).unwrap();
    drop(s);
    // Garbage request line → 400.
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.write_all(b"NONSENSE\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert_eq!(
        c.get(format!("{}/still-up", server.url()))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

#[test]
fn http_server_stops_on_drop_and_when_idle() {
    // Idle counts from the start too: the first request must come well within it even on a
    // loaded machine (300 ms was missed under a full suite on two cores).
    let idle = Server::start_with(
        ServerOptions {
            idle_timeout: Duration::from_secs(2),
            ..Default::default()
        },
        |_req: &Request| Response::text(200, "ok"),
    );
    let addr = idle.addr();
    assert_eq!(
        client().get(idle.url()).send().unwrap().status().as_u16(),
        200
    );
    let t = Instant::now();
    while !idle.is_stopped() && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(idle.is_stopped(), "idle server did not stop");
    std::thread::sleep(Duration::from_millis(100));
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
    drop(idle);

    let server = Server::start(|_req: &Request| {
        Response::text(200, "ok").with_delay(Duration::from_secs(5))
    });
    let addr = server.addr();
    let t = Instant::now();
    drop(server);
    assert!(t.elapsed() < Duration::from_secs(3), "drop must not hang");
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}

// ----------------------------------------------------------------------------------------------
// OpenCTI

fn gql(o: &OpenctiStandin, token: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
    let mut r = client()
        .post(o.graphql_url())
        .json(&json!({"query": query, "variables": variables}));
    if let Some(t) = token {
        r = r.header("Authorization", format!("Bearer {t}"));
    }
    let resp = r.send().unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn ok(o: &OpenctiStandin, query: &str, variables: Value) -> Value {
    let (s, v) = gql(o, Some(&o.token()), query, variables);
    assert_eq!(s, 200, "{v}");
    assert!(v.get("errors").is_none(), "unexpected errors: {v}");
    v["data"].clone()
}

fn err_name(v: &Value) -> String {
    v["errors"][0]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn err_msg(v: &Value) -> String {
    v["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

const CID: &str = "6f0e2c35-9b5f-4d7e-9a38-0d7c3b2f4a11";
const PROBE: &str = "query Probe { about { version } me { id name capabilities { name } } }";
const REGISTER: &str = "mutation Register($input: RegisterConnectorInput) { registerConnector(input: $input) { id connector_state connector_state_reset connector_user_id connector_scope } }";
const PING: &str = "mutation Ping($id: ID!, $state: String) { pingConnector(id: $id, state: $state) { id connector_state connector_state_reset } }";
const PUSH: &str = "mutation Push($connectorId: String!, $bundle: String!, $work_id: String) { stixBundlePush(connectorId: $connectorId, bundle: $bundle, work_id: $work_id) }";
const PUSH_626: &str = "mutation Push($connectorId: String!, $bundle: String!) { stixBundlePush(connectorId: $connectorId, bundle: $bundle) }";

fn register_vars() -> Value {
    json!({"input": {"id": CID, "name": "DISINFOX", "type": "EXTERNAL_IMPORT", "scope": ["stix2"], "auto": false, "only_contextual": false, "playbook_compatible": false}})
}

fn bundle(ids: &[&str]) -> String {
    let objects: Vec<Value> = ids
        .iter()
        .map(|id| json!({"type": id.split("--").next().unwrap(), "id": id, "spec_version": "2.1"}))
        .collect();
    json!({"type": "bundle", "id": "bundle--5d3f2a44-0a3b-4c1e-9d55-0f8c1b2a3c4d", "objects": objects}).to_string()
}

#[test]
fn opencti_sdl_gates_and_versions() {
    assert_eq!(
        Version::parse("7.260309.0-lts1"),
        Some(Version(7, 260_309, 0))
    );
    assert_eq!(Version::parse("6.9.17"), Some(Version(6, 9, 17)));
    assert!(Version::parse("7.260224.0") > Version::parse("6.9.22"));
    assert_eq!(Version::parse("garbage"), None);
    let gates = opencti::sdl_gates();
    for g in [
        "6.1.12",
        "6.2.6",
        "6.2.12",
        "6.5.0",
        "6.5.7",
        "6.7.0",
        "6.8.9",
        "7.260422.0",
    ] {
        assert!(
            gates.contains(&g.to_string()),
            "gate {g} missing from {gates:?}"
        );
    }
    let checks: &[(&str, &str)] = &[
        ("stixBundlePush", "6.2.6"),
        ("work_id", "6.5.7"),
        ("connectorInfo", "6.2.12"),
        ("input ConnectorInfoInput", "6.2.12"),
        ("connector_info:", "6.2.12"),
        ("isMultiPartWork", "7.260422.0"),
        ("connector_queue_details", "6.1.12"),
        ("connector_state_timestamp", "6.7.0"),
        ("auto_update", "6.8.9"),
        ("enrichment_resolution", "6.8.9"),
        ("listen_callback_uri", "6.5.7"),
        ("addDraftContext", "6.5.0"),
    ];
    for version in KNOWN_VERSIONS.iter().chain(&[
        "6.1.11",
        "6.1.12",
        "6.2.5",
        "6.7.0",
        "6.8.8",
        "6.8.9",
        "7.260421.0",
    ]) {
        let sdl = render_sdl(version);
        let _ = opencti::minimal_schema(version); // validates
        let ver = Version::parse(version).unwrap();
        for (needle, since) in checks {
            let want = ver >= Version::parse(since).unwrap();
            assert_eq!(
                sdl.contains(needle),
                want,
                "{needle} in the SDL of {version}"
            );
        }
        assert!(!sdl.contains("# since"), "gate comments must not leak");
    }
}

#[test]
fn opencti_probe_auth_and_error_shapes() {
    let o = OpenctiStandin::start_version("6.9.17");
    let d = ok(&o, PROBE, json!({}));
    assert_eq!(d["about"]["version"], "6.9.17");
    assert_eq!(d["me"]["capabilities"], json!([{"name": "CONNECTORAPI"}]));
    assert_eq!(d["me"]["id"], o.user_id());
    // Apollo 4 shape
    for token in [None, Some("wrong-token")] {
        let (s, v) = gql(&o, token, PROBE, json!({}));
        assert_eq!(s, 200);
        assert!(v["data"].is_null(), "{v}");
        assert_eq!(err_name(&v), "AUTH_REQUIRED");
        assert_eq!(v["errors"][0]["extensions"]["code"], "AUTH_REQUIRED");
        assert_eq!(v["errors"][0]["extensions"]["data"]["http_status"], 401);
    }
    // Basic auth is not a Bearer token.
    let r = client()
        .post(o.graphql_url())
        .basic_auth("admin", Some(o.token()))
        .json(&json!({"query": PROBE}))
        .send()
        .unwrap();
    assert_eq!(err_name(&r.json::<Value>().unwrap()), "AUTH_REQUIRED");

    // Apollo 3 shape below 6.2.13
    let o3 = OpenctiStandin::start_version("6.2.6");
    let (_, v) = gql(&o3, None, PROBE, json!({}));
    let e = &v["errors"][0];
    assert_eq!(e["name"], "AUTH_REQUIRED");
    assert_eq!(e["data"]["http_status"], 401);
    assert_eq!(e["data"]["genre"], "TECHNICAL");
    assert!(
        e.get("extensions").is_none() && e.get("time_thrown").is_some(),
        "{v}"
    );
    let (_, v) = gql(
        &o3,
        Some(&o3.token()),
        "mutation { stixBundlePush(connectorId: \"x\", bundle: \"{}\", work_id: \"w\") }",
        json!({}),
    );
    assert_eq!(err_name(&v), "GRAPHQL_VALIDATION_FAILED");
    assert!(v["errors"][0].get("extensions").is_none());

    // 6.0.x: about is public, me is not.
    let o60 = OpenctiStandin::start_version("6.0.0");
    let (_, v) = gql(&o60, None, "{ about { version } }", json!({}));
    assert_eq!(v["data"]["about"]["version"], "6.0.0", "{v}");
    let (_, v) = gql(&o, None, "{ about { version } }", json!({}));
    assert_eq!(err_name(&v), "AUTH_REQUIRED");
}

#[test]
fn opencti_validation_per_version() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "6.0.0",
            PUSH_626,
            "Cannot query field \"stixBundlePush\" on type \"Mutation\".",
        ),
        (
            "6.2.6",
            PUSH,
            "Unknown argument \"work_id\" on field \"Mutation.stixBundlePush\".",
        ),
        (
            "6.2.6",
            "mutation($id: ID!, $i: ConnectorInfoInput) { pingConnector(id: $id, connectorInfo: $i) { id } }",
            "Unknown type \"ConnectorInfoInput\".",
        ),
        (
            "6.0.0",
            "query($id: String!) { connector(id: $id) { connector_queue_details { messages_size } } }",
            "Cannot query field \"connector_queue_details\" on type \"Connector\".",
        ),
        (
            "6.9.17",
            "mutation { workAdd(connectorId: \"x\", isMultiPartWork: true) { id } }",
            "Unknown argument \"isMultiPartWork\" on field \"Mutation.workAdd\".",
        ),
        (
            "6.9.17",
            "{ me { nope } }",
            "Cannot query field \"nope\" on type \"MeUser\".",
        ),
        ("6.9.17", "{ me { id } ", "Syntax Error"),
        (
            "6.9.17",
            "mutation { a: pingConnector(id: \"1\") { id } b: pingConnector(id: \"2\") { id } }",
            "Allowed number of calls for Mutation->pingConnector has been exceeded (max: 1)",
        ),
        (
            "6.9.17",
            "{ __schema { types { name } } }",
            "introspection is not allowed",
        ),
    ];
    for (version, query, want) in cases {
        let o = OpenctiStandin::start_version(version);
        let (s, v) = gql(&o, Some(&o.token()), query, json!({}));
        assert_eq!(s, 200, "{version} {query}: {v}");
        let name = err_name(&v);
        assert!(
            name == "GRAPHQL_VALIDATION_FAILED" || name == "GRAPHQL_PARSE_FAILED",
            "{version} {query}: {v}"
        );
        let all: Vec<String> = v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].as_str().unwrap().to_string())
            .collect();
        assert!(
            all.iter().any(|m| m.contains(want)),
            "{version} {query}: want {want:?} in {all:?}"
        );
        assert!(v.get("data").is_none() || v["data"].is_null());
    }
    // The same documents pass where the version has them.
    let o = OpenctiStandin::start_version("7.260422.0");
    ok(&o, REGISTER, register_vars());
    let d = ok(
        &o,
        "mutation($c: String!) { workAdd(connectorId: $c, friendlyName: \"x\", isMultiPartWork: true) { id status } }",
        json!({"c": CID}),
    );
    assert_eq!(d["workAdd"]["status"], "progress");
    // The batching rule is about the same mutation field twice, not two different ones;
    // from 6.1.0 only.
    let o60 = OpenctiStandin::start_version("6.0.0");
    let (_, v) = gql(
        &o60,
        Some(&o60.token()),
        "mutation { a: pingConnector(id: \"1\") { id } b: pingConnector(id: \"2\") { id } }",
        json!({}),
    );
    assert_eq!(err_name(&v), "FUNCTIONAL_ERROR", "{v}");
}

#[test]
fn opencti_variable_coercion() {
    let with_auto_update = json!({"input": {"id": CID, "name": "DISINFOX", "type": "EXTERNAL_IMPORT", "auto_update": false}});
    let o = OpenctiStandin::start_version("6.5.7");
    let (s, v) = gql(&o, Some(&o.token()), REGISTER, with_auto_update.clone());
    assert_eq!(
        (s, err_name(&v)),
        (200, "BAD_USER_INPUT".to_string()),
        "{v}"
    );
    assert!(
        err_msg(&v)
            .contains("Field \"auto_update\" is not defined by type \"RegisterConnectorInput\"."),
        "{v}"
    );
    assert!(!o.is_registered(CID));
    let o9 = OpenctiStandin::start_version("6.9.17");
    ok(&o9, REGISTER, with_auto_update);
    assert!(o9.is_registered(CID));
    // Missing required variable, null for non-null, bad enum, missing input field, wrong scalar.
    let bad: &[(&str, Value, &str)] = &[
        (
            PING,
            json!({}),
            "Variable \"$id\" of required type \"ID!\" was not provided.",
        ),
        (
            PING,
            json!({"id": null}),
            "Variable \"$id\" of non-null type \"ID!\" must not be null.",
        ),
        (
            REGISTER,
            json!({"input": {"id": CID, "name": "DISINFOX", "type": "IMPORT"}}),
            "Value \"IMPORT\" does not exist in \"ConnectorType\" enum.",
        ),
        (
            REGISTER,
            json!({"input": {"id": CID, "type": "EXTERNAL_IMPORT"}}),
            "Field \"name\" of required type \"String!\" was not provided.",
        ),
        (
            REGISTER,
            json!({"input": {"id": CID, "name": "DISINFOX", "type": "EXTERNAL_IMPORT", "auto": "no"}}),
            "Boolean cannot represent a non boolean value",
        ),
        (
            REGISTER,
            json!({"input": {"id": CID, "name": "D", "type": "EXTERNAL_IMPORT"}}),
            "at least 2 characters",
        ),
    ];
    for (q, vars, want) in bad {
        let (_, v) = gql(&o9, Some(&o9.token()), q, vars.clone());
        assert_eq!(err_name(&v), "BAD_USER_INPUT", "{vars}: {v}");
        assert!(err_msg(&v).contains(want), "{vars}: want {want:?}, got {v}");
    }
    // Scalars: a single value coerces to a list; an Int ID is accepted.
    let d = ok(
        &o9,
        REGISTER,
        json!({"input": {"id": CID, "name": "DISINFOX", "type": "EXTERNAL_IMPORT", "scope": "stix2"}}),
    );
    assert_eq!(d["registerConnector"]["connector_scope"], json!(["stix2"]));
}

#[test]
fn opencti_register_ping_reset_semantics() {
    let o = OpenctiStandin::start_version("6.9.17");
    // ping before register → FUNCTIONAL_ERROR
    let (_, v) = gql(
        &o,
        Some(&o.token()),
        PING,
        json!({"id": CID, "state": "{}"}),
    );
    assert_eq!(err_name(&v), "FUNCTIONAL_ERROR");
    assert_eq!(err_msg(&v), "No connector found with the specified ID");
    // register: new connector, state "", user id = caller, idempotent
    let d = ok(&o, REGISTER, register_vars());
    assert_eq!(d["registerConnector"]["connector_state"], "");
    assert_eq!(d["registerConnector"]["connector_user_id"], o.user_id());
    assert_eq!(d["registerConnector"]["connector_state_reset"], false);
    // ping stores the state; register never touches it
    let d = ok(
        &o,
        PING,
        json!({"id": CID, "state": "{\"last_fetch\":\"a\"}"}),
    );
    assert_eq!(
        d["pingConnector"]["connector_state"],
        "{\"last_fetch\":\"a\"}"
    );
    let d = ok(&o, REGISTER, register_vars());
    assert_eq!(
        d["registerConnector"]["connector_state"],
        "{\"last_fetch\":\"a\"}"
    );
    assert_eq!(o.state(CID).as_deref(), Some("{\"last_fetch\":\"a\"}"));
    // UI reset: state "" + flag; the next ping only clears the flag
    o.ui_reset(CID);
    assert_eq!(o.reset_flag(CID), Some(true));
    let d = ok(&o, REGISTER, register_vars());
    assert_eq!(d["registerConnector"]["connector_state"], "");
    assert_eq!(d["registerConnector"]["connector_state_reset"], true);
    let d = ok(
        &o,
        PING,
        json!({"id": CID, "state": "{\"last_fetch\":\"b\"}"}),
    );
    assert_eq!(
        d["pingConnector"]["connector_state"], "",
        "the reset flag swallows the state"
    );
    assert_eq!(d["pingConnector"]["connector_state_reset"], false);
    let d = ok(
        &o,
        PING,
        json!({"id": CID, "state": "{\"last_fetch\":\"b\"}"}),
    );
    assert_eq!(
        d["pingConnector"]["connector_state"],
        "{\"last_fetch\":\"b\"}"
    );
    let pings = o.pings();
    assert_eq!(
        pings.iter().map(|p| p.applied).collect::<Vec<_>>(),
        [true, false, true]
    );
    // resetStateConnector needs MODULES_MODMANAGE
    let reset = "mutation($id: ID!) { resetStateConnector(id: $id) { id connector_state connector_state_reset connector_state_timestamp } }";
    let (_, v) = gql(&o, Some(&o.token()), reset, json!({"id": CID}));
    assert_eq!(err_name(&v), "FORBIDDEN_ACCESS");
    assert_eq!(v["data"]["resetStateConnector"], Value::Null);
    o.set_capabilities(["CONNECTORAPI", "MODULES_MODMANAGE"]);
    o.set_queue_size(CID, 7_000_000);
    let d = ok(&o, reset, json!({"id": CID}));
    assert_eq!(d["resetStateConnector"]["connector_state"], "");
    assert_eq!(d["resetStateConnector"]["connector_state_reset"], true);
    assert!(d["resetStateConnector"]["connector_state_timestamp"].is_string());
    // MODULES_MODMANAGE satisfies MODULES (substring): connector(id) and the purged queue
    let d = ok(
        &o,
        "query($id: String!) { connector(id: $id) { connector_queue_details { messages_number messages_size } } }",
        json!({"id": CID}),
    );
    assert_eq!(
        d["connector"]["connector_queue_details"],
        json!({"messages_number": 0, "messages_size": 0})
    );
    o.set_capabilities(["BYPASS"]);
    let d = ok(
        &o,
        "query($id: String!) { c: connector(id: $id) { id } none: connector(id: \"nope\") { id } }",
        json!({"id": CID}),
    );
    assert_eq!(d["c"]["id"], CID);
    assert!(d["none"].is_null());
    // connectorInfo is stored by a ping (6.2.12+)
    let info = json!({"run_and_terminate": true, "buffering": false, "queue_threshold": 500, "queue_messages_size": 0, "last_run_datetime": "2026-11-27T21:51:42.833000Z"});
    ok(&o, PING, json!({"id": CID, "state": "{}"})); // clears the flag left by the reset
    ok(
        &o,
        "mutation($id: ID!, $s: String, $i: ConnectorInfoInput) { pingConnector(id: $id, state: $s, connectorInfo: $i) { connector_info { run_and_terminate queue_threshold } } }",
        json!({"id": CID, "s": "{}", "i": info}),
    );
    assert_eq!(o.connector_info(CID).unwrap()["queue_threshold"], 500);
    // set_state creates a connector as a previous connector left it
    o.set_state(
        "11111111-2222-4333-8444-555555555555",
        "{\"last_run\": \"2026-11-27 21:52:27\"}",
    );
    assert!(o.is_registered("11111111-2222-4333-8444-555555555555"));
    assert_eq!(o.state("nope"), None);
    // queue size shows in register's answer (6.1.12+), in bytes
    o.set_queue_size(CID, 600_000_000);
    let d = ok(
        &o,
        "mutation($input: RegisterConnectorInput) { registerConnector(input: $input) { connector_queue_details { messages_size } } }",
        register_vars(),
    );
    assert_eq!(
        d["registerConnector"]["connector_queue_details"]["messages_size"],
        600_000_000
    );
}

#[test]
fn opencti_pushes_and_works() {
    let o = instant("6.9.17");
    let tok = o.token();
    // push before register → Invalid bundle
    let b = bundle(&["identity--9ac61d58-60f0-40b8-8b96-2f1f4858534b"]);
    let (_, v) = gql(
        &o,
        Some(&tok),
        PUSH,
        json!({"connectorId": CID, "bundle": b}),
    );
    assert_eq!(
        (err_name(&v), err_msg(&v)),
        ("UNSUPPORTED_ERROR".into(), "Invalid bundle".into())
    );
    ok(&o, REGISTER, register_vars());
    // workAdd → work_<connector>_<time>, progress
    let d = ok(
        &o,
        "mutation($c: String!, $n: String) { workAdd(connectorId: $c, friendlyName: $n) { id name status } }",
        json!({"c": CID, "n": "DISINFOX run"}),
    );
    let work_id = d["workAdd"]["id"].as_str().unwrap().to_string();
    assert!(work_id.starts_with(&format!("work_{CID}_")), "{work_id}");
    assert!(
        DateTime::parse_from_rfc3339(work_id.rsplit('_').next().unwrap()).is_ok(),
        "{work_id}"
    );
    assert_eq!(d["workAdd"]["status"], "progress");
    // pushes
    let ids1 = [
        "identity--9ac61d58-60f0-40b8-8b96-2f1f4858534b",
        "threat-actor--7ebead2d-9a79-505f-8998-026100724eab",
    ];
    let ids2 = ["location--c1257cd0-4b5c-53e7-a3b5-4f7b6aeb6209"];
    let d = ok(
        &o,
        PUSH,
        json!({"connectorId": CID, "bundle": bundle(&ids1), "work_id": work_id}),
    );
    assert_eq!(d["stixBundlePush"], true);
    ok(
        &o,
        PUSH,
        json!({"connectorId": CID, "bundle": bundle(&ids2), "work_id": work_id}),
    );
    assert_eq!(o.received_ids(), [ids1[0], ids1[1], ids2[0]]);
    let pushes = o.pushes();
    assert_eq!(pushes.len(), 2);
    assert_eq!(pushes[0].work_id.as_deref(), Some(work_id.as_str()));
    assert_eq!(pushes[0].bytes, bundle(&ids1).len());
    assert_eq!(pushes[0].raw.as_deref(), Some(bundle(&ids1).as_str()));
    assert_eq!(o.received_objects().len(), 3);
    // invalid bundles
    for bad in [
        "not json",
        "{\"type\":\"bundle\",\"objects\":[]}",
        "{\"type\":\"report\",\"objects\":[{}]}",
        "[]",
    ] {
        let (_, v) = gql(
            &o,
            Some(&tok),
            PUSH,
            json!({"connectorId": CID, "bundle": bad}),
        );
        assert_eq!(err_name(&v), "UNSUPPORTED_ERROR", "{bad}: {v}");
        assert!(
            v["errors"][0]["extensions"]["data"]["cause"].is_string(),
            "{v}"
        );
    }
    // a push without work_id makes its own work, which completes by itself
    ok(
        &o,
        PUSH,
        json!({"connectorId": CID, "bundle": bundle(&ids2)}),
    );
    let own = o.works().into_iter().find(|w| w.created_by_push).unwrap();
    assert!(own.name.starts_with("DISINFOX run @ "), "{}", own.name);
    assert_eq!(own.status, "complete");
    // toProcessed closes the work
    let close = "mutation($id: ID!, $m: String, $e: Boolean) { workEdit(id: $id) { toProcessed(message: $m, inError: $e) } }";
    let d = ok(&o, close, json!({"id": work_id, "m": "done", "e": false}));
    assert_eq!(d["workEdit"]["toProcessed"], work_id);
    let w = o.work(&work_id).unwrap();
    assert!(w.closed && !w.in_error);
    assert_eq!(w.messages, ["done"]);
    // The one-object push added no expectation: the platform gives none to a one-object
    // message of a client-made work.
    assert_eq!(
        (w.expected, w.processed, w.status.as_str()),
        (2, 3, "complete")
    );
    // in error
    let d = ok(
        &o,
        "mutation($c: String!) { workAdd(connectorId: $c) { id } }",
        json!({"c": CID}),
    );
    let w2 = d["workAdd"]["id"].as_str().unwrap().to_string();
    assert_ne!(w2, work_id);
    ok(
        &o,
        close,
        json!({"id": w2, "m": "push failed: 503", "e": true}),
    );
    let w = o.work(&w2).unwrap();
    assert!(w.closed && w.in_error);
    assert_eq!(w.errors, ["push failed: 503"]);
    // work(id) needs MODULES
    let (_, v) = gql(
        &o,
        Some(&tok),
        "query($id: ID!) { work(id: $id) { id status } }",
        json!({"id": work_id}),
    );
    assert_eq!(err_name(&v), "FORBIDDEN_ACCESS");
    o.set_capabilities(["CONNECTORAPI", "MODULES_MODMANAGE"]);
    let d = ok(
        &o,
        "query($id: ID!) { work(id: $id) { id status messages { message } errors { message } tracking { import_expected_number import_processed_number } } }",
        json!({"id": work_id}),
    );
    assert_eq!(d["work"]["tracking"]["import_processed_number"], 3);
    assert_eq!(d["work"]["messages"][0]["message"], "done");
    // unknown work
    let (_, v) = gql(&o, Some(&tok), close, json!({"id": "work_nope", "m": "x"}));
    assert_eq!(err_name(&v), "FUNCTIONAL_ERROR", "{v}");
}

#[test]
fn opencti_multipart_works_on_7x() {
    for (version, after_close) in [("7.260510.0", "complete"), ("7.260422.0", "complete")] {
        let o = instant(version);
        ok(&o, REGISTER, register_vars());
        let d = ok(
            &o,
            "mutation($c: String!) { workAdd(connectorId: $c, isMultiPartWork: true) { id } }",
            json!({"c": CID}),
        );
        let wid = d["workAdd"]["id"].as_str().unwrap().to_string();
        ok(
            &o,
            PUSH,
            json!({"connectorId": CID, "bundle": bundle(&["location--c1257cd0-4b5c-53e7-a3b5-4f7b6aeb6209"]), "work_id": wid}),
        );
        let w = o.work(&wid).unwrap();
        assert!(w.multipart);
        assert_eq!(
            w.status, "progress",
            "a multi-part work waits for toProcessed"
        );
        ok(
            &o,
            "mutation($id: ID!) { workEdit(id: $id) { toProcessed(message: \"ok\") } }",
            json!({"id": wid}),
        );
        assert_eq!(o.work(&wid).unwrap().status, after_close);
    }
    // 7.260428.0+: toProcessed never completes an empty work by itself; 6.x does.
    for (version, status) in [("7.260510.0", "progress"), ("6.9.17", "complete")] {
        let o = instant(version);
        ok(&o, REGISTER, register_vars());
        let d = ok(
            &o,
            "mutation($c: String!) { workAdd(connectorId: $c) { id } }",
            json!({"c": CID}),
        );
        let wid = d["workAdd"]["id"].as_str().unwrap().to_string();
        ok(
            &o,
            "mutation($id: ID!) { workEdit(id: $id) { toProcessed(message: \"nothing\") } }",
            json!({"id": wid}),
        );
        assert_eq!(o.work(&wid).unwrap().status, status, "{version}");
    }
}

#[test]
fn opencti_faults_limits_and_bench() {
    let o = OpenctiStandin::start(OpenctiOptions {
        body_limit: 4096,
        ..OpenctiOptions::version("6.5.7")
    });
    let tok = o.token();
    ok(&o, REGISTER, register_vars());
    let small = bundle(&["location--c1257cd0-4b5c-53e7-a3b5-4f7b6aeb6209"]);
    // 413 above the limit
    let big_ids: Vec<String> = (0..100)
        .map(|i| format!("location--00000000-0000-4000-8000-{i:012}"))
        .collect();
    let big = bundle(&big_ids.iter().map(String::as_str).collect::<Vec<_>>());
    let (s, _) = gql(
        &o,
        Some(&tok),
        PUSH,
        json!({"connectorId": CID, "bundle": big}),
    );
    assert_eq!(s, 413);
    // 429 with Retry-After, then fine
    o.set_fault(Fault::TooMany {
        times: 1,
        retry_after: Some(2),
    });
    let r = client()
        .post(o.graphql_url())
        .bearer_auth(&tok)
        .json(&json!({"query": PROBE}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "2");
    assert_eq!(
        r.json::<Value>().unwrap()["message"],
        "Too many requests, please try again later."
    );
    ok(&o, PROBE, json!({}));
    // 503 twice, then fine
    o.set_fault(Fault::Unavailable503 { times: 2 });
    assert_eq!(gql(&o, Some(&tok), PROBE, json!({})).0, 503);
    assert_eq!(gql(&o, Some(&tok), PROBE, json!({})).0, 503);
    ok(&o, PROBE, json!({}));
    // pushes fail after one success (HTTP 503); other requests are unaffected
    o.set_fault(Fault::FailPushAfter {
        ok_pushes: 1,
        status_or_code: PushFailure::Http(503),
    });
    ok(&o, PUSH, json!({"connectorId": CID, "bundle": small}));
    assert_eq!(
        gql(
            &o,
            Some(&tok),
            PUSH,
            json!({"connectorId": CID, "bundle": small})
        )
        .0,
        503
    );
    ok(&o, PROBE, json!({}));
    assert_eq!(o.pushes().len(), 1);
    // … or with a GraphQL error
    o.set_fault(Fault::FailPushAfter {
        ok_pushes: 0,
        status_or_code: PushFailure::Graphql("LOCK_ERROR".into()),
    });
    let (s, v) = gql(
        &o,
        Some(&tok),
        PUSH,
        json!({"connectorId": CID, "bundle": small}),
    );
    assert_eq!((s, err_name(&v)), (200, "LOCK_ERROR".to_string()));
    o.set_fault(Fault::None);
    ok(&o, PUSH, json!({"connectorId": CID, "bundle": small}));
    assert_eq!(o.pushes().len(), 2);
    // slow pushes only. The probe's upper bound is the push delay itself: 5 s leaves a
    // loaded 2-core CI machine ample room for one loopback request, while the push's lower
    // bound still proves the delay applies to pushes.
    let delay = Duration::from_secs(5);
    o.set_fault(Fault::SlowPush { delay });
    let t = Instant::now();
    ok(&o, PROBE, json!({}));
    let probe = t.elapsed();
    assert!(probe < delay, "a probe waited {probe:?}, as if delayed");
    ok(&o, PUSH, json!({"connectorId": CID, "bundle": small}));
    assert!(t.elapsed() >= delay);
    o.set_fault(Fault::None);
    // reset triggered by pushes
    ok(
        &o,
        PING,
        json!({"id": CID, "state": "{\"last_fetch\":\"x\"}"}),
    );
    o.reset_after_pushes(CID, 1);
    ok(&o, PUSH, json!({"connectorId": CID, "bundle": small}));
    assert_eq!(o.state(CID).as_deref(), Some(""));
    assert_eq!(o.reset_flag(CID), Some(true));
    // the request log
    let reqs = o.requests();
    let last = reqs.last().unwrap();
    assert_eq!(last.root_fields, ["stixBundlePush"]);
    assert!(last.authorization);
    assert_eq!(last.variables["connectorId"], CID);
    assert!(reqs.iter().any(|r| r.status == 413));
    assert!(reqs.iter().any(|r| r.error_codes == ["LOCK_ERROR"]));

    // bench mode: parsed, ids recorded, raw not kept, invalid still rejected
    let b = OpenctiStandin::start(OpenctiOptions {
        bench: true,
        ..OpenctiOptions::version("6.9.17")
    });
    ok(&b, REGISTER, register_vars());
    ok(&b, PUSH, json!({"connectorId": CID, "bundle": small}));
    let p = &b.pushes()[0];
    assert_eq!(p.ids, ["location--c1257cd0-4b5c-53e7-a3b5-4f7b6aeb6209"]);
    assert!(p.raw.is_none());
    let (_, v) = gql(
        &b,
        Some(&b.token()),
        PUSH,
        json!({"connectorId": CID, "bundle": "{\"type\":\"bundle\",\"objects\":[}"}),
    );
    assert_eq!(err_name(&v), "UNSUPPORTED_ERROR");
    // long variables are elided in the log
    let long = bundle(&big_ids.iter().map(String::as_str).collect::<Vec<_>>());
    ok(&b, PUSH, json!({"connectorId": CID, "bundle": long}));
    assert!(
        b.requests().last().unwrap().variables["bundle"]
            .as_str()
            .unwrap()
            .ends_with(" bytes>")
    );
}

#[test]
fn opencti_base_path_and_routes() {
    let o = OpenctiStandin::start(OpenctiOptions {
        base_path: "/opencti/".into(),
        ..OpenctiOptions::version("6.2.12")
    });
    assert!(o.url().ends_with("/opencti"));
    let d = ok(&o, PROBE, json!({}));
    assert_eq!(d["about"]["version"], "6.2.12");
    let r = client()
        .post(format!("http://127.0.0.1:{}/graphql", o.port()))
        .bearer_auth(o.token())
        .json(&json!({"query": PROBE}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        client()
            .get(format!("{}/nope", o.url()))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    let r = client()
        .post(o.graphql_url())
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    // connectorInfo exists from 6.2.12; Apollo 3 error shape until 6.2.12 included
    ok(&o, REGISTER, register_vars());
    let (_, v) = gql(&o, Some(&o.token()), PING, json!({"id": "unknown"}));
    assert_eq!(v["errors"][0]["data"]["http_status"], 500);
    assert!(v["errors"][0].get("extensions").is_none());
}
