//! The GraphQL transport: one POST per operation, errors classified once. OpenCTI reports
//! GraphQL errors with HTTP 200, in two shapes (Apollo 3 below 6.2.13, Apollo 4 above).

use bytes::Bytes;
use reqwest::Url;
use reqwest::blocking::Client;
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::documents::Document;
use crate::config::{HttpOptions, Opencti};
use crate::error::{Error, Result};
use crate::http::{self, BodyError};
use crate::retry::{Attempt, RetryPolicy};
use crate::secret::Secret;

/// A GraphQL answer is small unless something is wrong; this bounds a misbehaving proxy.
const MAX_ANSWER: u64 = 16 << 20;

pub(crate) struct Graphql {
    client: Client,
    http: HttpOptions,
    url: Url,
    token: Secret,
    /// `OPENCTI_CUSTOM_HEADERS`, values marked sensitive.
    headers: HeaderMap,
    retry: RetryPolicy,
}

impl Graphql {
    pub(crate) fn new(peer: &Opencti, options: &HttpOptions) -> Result<Self> {
        let base = &peer.url;
        if !peer.ssl_verify {
            log::warn!(
                "OPENCTI_SSL_VERIFY=false: TLS certificates of OpenCTI are NOT verified; anyone on the path can read the token. Use --ca-cert for a private CA instead"
            );
        }
        http::warn_if_plain_http(base, "OpenCTI", "the token");
        Ok(Graphql {
            client: http::client(options, peer.ssl_verify, base)?,
            http: options.clone(),
            url: graphql_url(base),
            token: peer.token.clone(),
            headers: peer
                .custom_headers
                .iter()
                .map(|h| (h.name.clone(), h.header_value()))
                .collect(),
            retry: RetryPolicy::from_options(options),
        })
    }

    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    /// Runs `doc` and returns its `data`.
    pub(crate) fn run(&self, doc: &Document, variables: Value) -> Result<Value> {
        let body = serde_json::to_vec(&serde_json::json!({
            "query": doc.text,
            "operationName": doc.name,
            "variables": variables,
        }))?;
        self.run_body(doc.name, &Bytes::from(body))
    }

    /// Sends a request body built by the caller (a bundle push builds its own, to avoid
    /// holding the escaped chunk twice).
    /// `body` is shared with each attempt's request, not copied: a chunk's request is up to
    /// 12 MiB, and a copy of it was a third of `sync`'s peak memory.
    pub(crate) fn run_body(&self, op: &str, body: &Bytes) -> Result<Value> {
        log::debug!("OpenCTI {op}: {} bytes", body.len());
        self.retry
            .run(&format!("OpenCTI {op}"), || self.attempt(op, body))
    }

    fn attempt(&self, op: &str, body: &Bytes) -> Attempt<Value> {
        let deadline = http::deadline(&self.http);
        let sent = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .bearer_auth(self.token.expose())
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .body(body.clone())
            .send();
        let resp = match sent {
            Ok(r) => r,
            Err(e) => return http::transport_failure(e, "OpenCTI", self.url.as_str()),
        };
        let status = resp.status().as_u16();
        let after = http::retry_after(resp.headers());
        let answer = match http::read_body(resp, MAX_ANSWER, deadline) {
            Ok(b) => b,
            Err(BodyError::TooLarge(n)) => {
                return Attempt::Fail(
                    Error::Protocol(format!(
                        "OpenCTI answered {op} with {n} bytes; that is not a GraphQL answer"
                    ))
                    .into(),
                );
            }
            Err(BodyError::Io(e)) => {
                return Attempt::Retry {
                    why: format!("OpenCTI's answer to {op} broke off: {e}"),
                    after: None,
                };
            }
        };
        match status {
            200 => classify_answer(op, &answer),
            413 => Attempt::Fail(Error::Config(format!(
                "OpenCTI refused {op} as too large (HTTP 413, {} bytes sent): lower --chunk-size, or raise the server's APP__MAX_PAYLOAD_BODY_SIZE",
                body.len()
            )).into()),
            408 | 429 | 500 | 502 | 503 | 504 => Attempt::Retry {
                why: format!("OpenCTI answered HTTP {status} to {op}"),
                after,
            },
            401 | 403 => Attempt::Fail(Error::Permission(format!(
                "OpenCTI (or a proxy in front of it) refused {op} with HTTP {status}: check OPENCTI_TOKEN"
            )).into()),
            404 | 405 => Attempt::Fail(Error::Config(format!(
                "OpenCTI answered HTTP {status} at {}: set OPENCTI_URL to the platform's base URL (without /graphql)",
                self.url
            )).into()),
            _ => Attempt::Fail(Error::Protocol(format!(
                "OpenCTI answered HTTP {status} to {op}: {}",
                http::preview(&answer)
            )).into()),
        }
    }
}

/// `{base}/graphql`, keeping any base path the platform is served under.
pub(crate) fn graphql_url(base: &Url) -> Url {
    http::endpoint_under(base, "graphql")
}

fn classify_answer(op: &str, answer: &[u8]) -> Attempt<Value> {
    let Ok(mut value) = serde_json::from_slice::<Value>(answer) else {
        return Attempt::Fail(Error::Protocol(format!(
            "OpenCTI answered {op} with something that is not JSON: {}; is OPENCTI_URL the platform's URL?",
            http::preview(answer)
        )).into());
    };
    if let Some(first) = value
        .get("errors")
        .and_then(|e| e.as_array())
        .and_then(|a| a.first())
    {
        return classify_error(op, first);
    }
    match value.get_mut("data").map(Value::take) {
        Some(data) if !data.is_null() => Attempt::Done(data),
        _ => Attempt::Fail(
            Error::Protocol(format!(
                "OpenCTI answered {op} without data: {}",
                http::preview(answer)
            ))
            .into(),
        ),
    }
}

/// The error kind is `name`, else `extensions.code`, else the message.
pub(crate) fn error_kind(err: &Value) -> String {
    let text = |v: Option<&Value>| v.and_then(|v| v.as_str()).map(str::to_owned);
    text(err.get("name"))
        .or_else(|| text(err.pointer("/extensions/code")))
        .unwrap_or_else(|| text(err.get("message")).unwrap_or_default())
}

fn classify_error<T>(op: &str, err: &Value) -> Attempt<T> {
    let kind = error_kind(err);
    let message = err
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or("")
        .to_owned();
    let cause = err
        .pointer("/extensions/data/cause")
        .or_else(|| err.pointer("/data/cause"))
        .or_else(|| err.pointer("/extensions/cause"))
        .map(|c| {
            c.as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| c.to_string())
        });
    let detail = match &cause {
        Some(c) => format!("{message} ({c})"),
        None => message.clone(),
    };
    let fail = |e: Error| Attempt::Fail(e.into());
    match kind.as_str() {
        "AUTH_REQUIRED" | "AUTH_FAILURE" => fail(Error::Permission(format!(
            "OpenCTI rejected the token ({kind}: {message}): check OPENCTI_TOKEN"
        ))),
        "OTP_REQUIRED" | "OTP_REQUIRED_ACTIVATION" | "LTS_REQUIRED_ACTIVATION" => {
            fail(Error::Permission(format!(
                "OpenCTI refused the token's user ({kind}: {message}): use a service account without two-factor authentication"
            )))
        }
        "FORBIDDEN_ACCESS" => fail(Error::Permission(format!(
            "OpenCTI says the token's user may not run {op} ({message}): give the user the \"Connector\" role (CONNECTORAPI capability)"
        ))),
        "GRAPHQL_VALIDATION_FAILED" | "BAD_USER_INPUT" if too_old(&message) => {
            fail(Error::Unavailable(format!(
                "this OpenCTI does not know {op} ({message}): upgrade OpenCTI to 6.2.6 or later"
            )))
        }
        // Every server-side push failure is wrapped this way (broker down, unknown connector,
        // oversized message); the bundle already passed our own validation, so the platform
        // is the likelier cause: a temporary failure, with the server's reason.
        "UNSUPPORTED_ERROR" if message.contains("Invalid bundle") => {
            fail(Error::Temporary(format!(
                "OpenCTI could not queue a bundle that is valid here: {detail}; check OpenCTI and its RabbitMQ (logs, max_message_size), then run again"
            )))
        }
        "LOCK_ERROR" | "DATABASE_ERROR" | "TIMEOUT_ERROR" => Attempt::Retry {
            why: format!("OpenCTI reported {kind} for {op}: {message}"),
            after: None,
        },
        _ if too_old(&message) => fail(Error::Unavailable(format!(
            "this OpenCTI does not know {op} ({message}): upgrade OpenCTI to 6.2.6 or later"
        ))),
        _ => fail(Error::Protocol(format!(
            "OpenCTI answered {op} with an error ({kind}): {detail}"
        ))),
    }
}

fn too_old(message: &str) -> bool {
    [
        "Cannot query field",
        "Unknown argument",
        "Unknown type",
        "is not defined by type",
    ]
    .iter()
    .any(|m| message.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn url_keeps_base_path() {
        let u = |s: &str| graphql_url(&Url::parse(s).unwrap()).to_string();
        assert_eq!(u("http://o:8080"), "http://o:8080/graphql");
        assert_eq!(u("https://h/opencti/"), "https://h/opencti/graphql");
        assert_eq!(u("https://h/graphql"), "https://h/graphql");
    }

    #[test]
    fn both_error_shapes() {
        let apollo4 = json!({"message": "You must be logged in to do this.", "extensions": {"code": "AUTH_REQUIRED"}, "name": "AUTH_REQUIRED"});
        let apollo3 =
            json!({"name": "AUTH_REQUIRED", "message": "x", "data": {"http_status": 401}});
        let code_only = json!({"message": "x", "extensions": {"code": "FORBIDDEN_ACCESS"}});
        assert_eq!(error_kind(&apollo4), "AUTH_REQUIRED");
        assert_eq!(error_kind(&apollo3), "AUTH_REQUIRED");
        assert_eq!(error_kind(&code_only), "FORBIDDEN_ACCESS");
    }

    fn code(answer: Value) -> crate::exit_codes::ExitCode {
        match classify_answer("Op", answer.to_string().as_bytes()) {
            Attempt::Fail(e) => match crate::error::classify(&e) {
                crate::error::Outcome::Fail(c) => c,
                other => panic!("{other:?}"),
            },
            _ => panic!("expected failure"),
        }
    }

    #[test]
    fn invalid_bundle_carries_the_cause_in_both_shapes() {
        let apollo4 = json!({"data": {"stixBundlePush": null}, "errors": [{"message": "Invalid bundle", "name": "UNSUPPORTED_ERROR",
            "extensions": {"code": "UNSUPPORTED_ERROR", "data": {"cause": "Connection closed by broker"}}}]});
        let apollo3 = json!({"data": null, "errors": [{"message": "Invalid bundle", "name": "UNSUPPORTED_ERROR",
            "data": {"http_status": 500, "cause": "Unknown connector"}}]});
        for (answer, cause) in [
            (apollo4, "Connection closed by broker"),
            (apollo3, "Unknown connector"),
        ] {
            let Attempt::Fail(e) = classify_answer("Push", answer.to_string().as_bytes()) else {
                panic!("expected failure")
            };
            assert!(crate::error::render(&e).contains(cause), "{e}");
            assert_eq!(
                crate::error::classify(&e),
                crate::error::Outcome::Fail(crate::exit_codes::ExitCode::TempFail)
            );
        }
    }

    #[test]
    fn error_codes() {
        use crate::exit_codes::ExitCode as C;
        let e = |name: &str, msg: &str| json!({"data": null, "errors": [{"name": name, "message": msg}]});
        assert_eq!(code(e("AUTH_REQUIRED", "no")), C::NoPerm);
        assert_eq!(code(e("FORBIDDEN_ACCESS", "no")), C::NoPerm);
        assert_eq!(
            code(e(
                "GRAPHQL_VALIDATION_FAILED",
                "Cannot query field \"stixBundlePush\" on type \"Mutation\"."
            )),
            C::Unavailable
        );
        assert_eq!(
            code(e("GRAPHQL_VALIDATION_FAILED", "Syntax Error")),
            C::Protocol
        );
        assert_eq!(code(e("UNSUPPORTED_ERROR", "Invalid bundle")), C::TempFail);
        assert_eq!(code(json!({"data": null})), C::Protocol);
    }
}
