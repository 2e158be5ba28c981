//! DISINFOX stand-in: the `newer_than` parse table against CPython 3.9, routes and auth
//! rules, the filter rule and bundle shape, faults, the skewed `Date` header, JSON serialization.

use super::*;
use crate::support::disinfox::{
    self, DisinfoxOptions, DisinfoxStandin, Fault as DxFault, MSG_BACKEND_ERROR, MSG_INVALID_TOKEN,
    MSG_NO_AUTH, MSG_NO_NEWER_THAN,
};

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
