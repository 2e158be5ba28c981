//! The DISINFOX source: `GET /incidents?newer_than=…`, every answer class of the real server
//! mapped on purpose (see the project notes on its API).

use chrono::{DateTime, Utc};
use reqwest::blocking::Client;
use reqwest::{StatusCode, Url};

use crate::bundle::{self, BundleError, Parsed};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::http::{self, Attempt, BodyError, RetryPolicy};
use crate::secret::Secret;

pub struct Disinfox {
    client: Client,
    endpoint: Url,
    key: Secret,
    retry: RetryPolicy,
    max_size: u64,
}

/// One answer of `GET /incidents`.
pub struct Answer {
    /// The bundle as received, or `None` for DISINFOX's `{}` ("nothing newer").
    pub body: Option<Vec<u8>>,
    /// DISINFOX's clock when it answered (`Date`), if it sent one.
    pub server_date: Option<DateTime<Utc>>,
    pub content_type: String,
}

impl Answer {
    /// The answer's objects, validated; `None` for DISINFOX's `{}`. A body that is not a
    /// bundle at all is the peer's fault (76); a bundle with a broken object is bad data (65).
    pub fn objects(&self) -> Result<Option<Parsed<'_>>> {
        let Some(body) = self.body.as_deref() else {
            return Ok(None);
        };
        bundle::parse(body).map(Some).map_err(|err| {
            if is_structural(&err) {
                Error::Protocol(format!(
                    "DISINFOX answered something that is not a STIX bundle: {err}; received {}",
                    http::preview(body)
                ))
                .into()
            } else {
                Error::BadData(format!("DISINFOX sent an invalid bundle: {err}")).into()
            }
        })
    }
}

/// The input is not a bundle at all (as opposed to a bundle with a bad object in it).
fn is_structural(err: &BundleError) -> bool {
    matches!(
        err,
        BundleError::Empty
            | BundleError::NotUtf8 { .. }
            | BundleError::NotJson { .. }
            | BundleError::NotBundle { .. }
    )
}

impl Disinfox {
    /// Needs `disinfox_url` and `disinfox_key`, which `Config::load` guarantees for commands
    /// that declared they need DISINFOX.
    pub fn new(cfg: &Config, max_size: u64) -> Result<Self> {
        let url = cfg
            .disinfox_url
            .as_ref()
            .ok_or_else(|| Error::Config("missing DISINFOX_URL".into()))?;
        let key = cfg
            .disinfox_key
            .clone()
            .ok_or_else(|| Error::Config("missing DISINFOX_API_KEY".into()))?;
        Ok(Disinfox {
            client: http::client(&cfg.http, true)?,
            endpoint: endpoint(url),
            key,
            retry: RetryPolicy::from_options(&cfg.http),
            max_size,
        })
    }

    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// Everything modified strictly after `since` (millisecond precision on the server).
    pub fn incidents(&self, since: Option<DateTime<Utc>>) -> Result<Answer> {
        let mut url = self.endpoint.clone();
        url.query_pairs_mut()
            .append_pair("newer_than", &crate::when::newer_than(since));
        log::debug!("GET {url}");
        self.retry.run("DISINFOX", || self.attempt(&url))
    }

    fn attempt(&self, url: &Url) -> Attempt<Answer> {
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
        let headers = resp.headers().clone();
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("(none)")
            .to_owned();
        log::debug!(
            "DISINFOX answered {status} ({content_type}, {} bytes announced)",
            resp.content_length().map_or("?".into(), |n| n.to_string())
        );
        let body = match http::read_body(resp, self.max_size) {
            Ok(b) => b,
            Err(BodyError::TooLarge(n)) => {
                return Attempt::Fail(Error::Config(format!(
                    "DISINFOX's answer is {n} bytes, over --max-bundle-size ({}); raise --max-bundle-size, or import in steps with an older --since / reset-state --to",
                    self.max_size
                )).into());
            }
            Err(BodyError::Io(e)) => {
                return Attempt::Retry {
                    why: format!("DISINFOX's answer broke off while reading it: {e}"),
                    after: None,
                };
            }
        };
        classify(status, &headers, body, content_type, url)
    }
}

/// Accepts both the base URL (`https://host/disinfox`) and the full endpoint the Python
/// connector's users already have (`http://public-api:5000/incidents`).
pub fn endpoint(url: &Url) -> Url {
    let mut url = url.clone();
    url.set_query(None);
    let path = url.path().trim_end_matches('/').to_owned();
    if path.ends_with("/incidents") {
        url.set_path(&path);
    } else {
        url.set_path(&format!("{path}/incidents"));
    }
    url
}

fn classify(
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: Vec<u8>,
    content_type: String,
    url: &Url,
) -> Attempt<Answer> {
    let received = || {
        format!(
            "{} ({content_type}, {} bytes)",
            http::preview(&body),
            body.len()
        )
    };
    match status.as_u16() {
        200 => {}
        401 | 403 => {
            return Attempt::Fail(Error::Permission(format!(
                "DISINFOX rejected the API key (HTTP {}): check DISINFOX_API_KEY; it is sent raw, without 'Bearer'",
                status.as_u16()
            )).into());
        }
        404 | 405 => {
            return Attempt::Fail(Error::Config(format!(
                "DISINFOX answered {} at {}: wrong URL; set DISINFOX_URL to the base URL or the /incidents endpoint",
                status.as_u16(), url.as_str().split('?').next().unwrap_or("")
            )).into());
        }
        400 => {
            return Attempt::Fail(
                Error::Protocol(format!(
                    "DISINFOX refused the request (HTTP 400): {}",
                    received()
                ))
                .into(),
            );
        }
        429 | 500..=599 => {
            return Attempt::Retry {
                why: format!("DISINFOX answered HTTP {}: {}", status.as_u16(), received()),
                after: http::retry_after(headers),
            };
        }
        other => {
            return Attempt::Fail(
                Error::Protocol(format!("DISINFOX answered HTTP {other}: {}", received())).into(),
            );
        }
    }
    let server_date = http::server_date(headers);
    match small_answer(&body) {
        Some(Small::Empty) => Attempt::Done(Answer { body: None, server_date, content_type }),
        Some(Small::Message(m)) => Attempt::Fail(Error::Permission(format!(
            "DISINFOX did not accept the request: \"{m}\"; set DISINFOX_API_KEY (or DISINFOX_API_KEY_FILE)"
        )).into()),
        Some(Small::Other) => Attempt::Fail(Error::Protocol(format!(
            "DISINFOX answered 200 with something that is not a bundle: {}", received()
        )).into()),
        None if looks_like_json_object(&body) => Attempt::Done(Answer { body: Some(body), server_date, content_type }),
        None => Attempt::Fail(Error::Protocol(format!(
            "DISINFOX answered 200 with something that is not JSON: {}", received()
        )).into()),
    }
}

enum Small {
    Empty,
    Message(String),
    Other,
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
    if map.contains_key("objects") {
        return None;
    }
    match map.get("message").and_then(|m| m.as_str()) {
        Some(m) if map.len() == 1 => Some(Small::Message(m.to_owned())),
        _ => Some(Small::Other),
    }
}

fn looks_like_json_object(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
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
        assert!(matches!(
            small_answer(br#"{"incidents":[]}"#),
            Some(Small::Other)
        ));
    }
}
