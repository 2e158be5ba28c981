//! Pushing to a Prometheus Pushgateway: the group `job/disinfox-sync/connector_id/ID` is read
//! back first (`/api/v1/metrics`) so counters and the last-success timestamp carry on, then
//! replaced whole with PUT, so no series of an earlier run lingers. When the read fails,
//! nothing is pushed: a push without the carried values would erase the last success.

use reqwest::Url;
use reqwest::blocking::{Client, RequestBuilder};

use super::exposition::{Labels, Sample};
use super::{JOB, Previous, Run, families};
use crate::config::{HttpOptions, MetricsOptions};
use crate::error::{Error, Result};

/// A push is bookkeeping: it must not hold a scheduled run for the whole request timeout.
const MAX_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub(super) fn push(base: &Url, opts: &MetricsOptions, http: &HttpOptions, run: &Run) -> Result<()> {
    let (client, deadline) = connect(base, http)?;
    let auth = |req: RequestBuilder| with_auth(opts, req);
    let previous = read_group(&client, base, run.connector_id, &auth, deadline)?;
    let body = super::render(&families(run, &previous), &Labels::new());
    // `verify` has a group of its own: a PUT replaces the whole group, sync's included.
    let command = match run.report.command {
        "verify" => "/command/verify",
        _ => "",
    };
    let url = under(
        base,
        &format!(
            "metrics/job/{JOB}/connector_id/{}{command}",
            run.connector_id
        ),
    );
    let resp = auth(client.put(url))
        .header(
            reqwest::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )
        .body(body)
        .send()?;
    check(resp, deadline).map(|_| ())
}

/// `check`: the read a push starts with.
pub(super) fn probe(
    base: &Url,
    opts: &MetricsOptions,
    http: &HttpOptions,
    connector_id: &str,
) -> Result<()> {
    let (client, deadline) = connect(base, http)?;
    let auth = |req: RequestBuilder| with_auth(opts, req);
    read_group(&client, base, connector_id, &auth, deadline).map(|_| ())
}

/// The client for the Pushgateway at `base`, with the shorter bookkeeping timeout, and the
/// deadline its answers are read within.
fn connect(base: &Url, http: &HttpOptions) -> Result<(Client, std::time::Instant)> {
    let mut http = http.clone();
    http.timeout = http.timeout.min(MAX_TIMEOUT);
    let client = crate::http::client(&http, true, base)?;
    Ok((client, crate::http::deadline(&http)))
}

/// `req` with the Pushgateway's Basic credentials, when both are set.
fn with_auth(opts: &MetricsOptions, req: RequestBuilder) -> RequestBuilder {
    match (&opts.user, &opts.password) {
        (Some(user), Some(password)) => req.basic_auth(user, Some(password.expose())),
        _ => req,
    }
}

/// This connector's group as the Pushgateway holds it; empty on the first push.
fn read_group(
    client: &Client,
    base: &Url,
    connector_id: &str,
    auth: &dyn Fn(RequestBuilder) -> RequestBuilder,
    deadline: std::time::Instant,
) -> Result<Previous> {
    let resp = auth(client.get(under(base, "api/v1/metrics"))).send()?;
    let body = check(resp, deadline)?;
    let value: serde_json::Value = serde_json::from_str(&body).map_err(|e| {
        Error::Protocol(format!(
            "/api/v1/metrics did not answer JSON ({e}): is this a Pushgateway?"
        ))
    })?;
    Ok(Previous::of(
        group_samples(&value, connector_id),
        connector_id,
    ))
}

/// The samples of the group whose grouping labels are ours.
fn group_samples(value: &serde_json::Value, connector_id: &str) -> Vec<Sample> {
    let groups = value["data"].as_array().into_iter().flatten();
    // A group with a `command` label is verify's, whose gauges carry nothing on.
    let ours = groups.filter(|g| {
        g["labels"]["job"] == JOB
            && g["labels"]["connector_id"] == connector_id
            && g["labels"].get("command").is_none()
    });
    let mut out = Vec::new();
    for group in ours {
        let Some(families) = group.as_object() else {
            continue;
        };
        for (name, family) in families {
            for m in family["metrics"].as_array().into_iter().flatten() {
                let labels: Labels = m["labels"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect();
                let value = m["value"].as_str().and_then(|v| v.parse().ok());
                if let Some(v) = value {
                    out.push((name.clone(), labels, v));
                }
            }
        }
    }
    out
}

/// `base` with `path` under its own path (a Pushgateway may sit under a route prefix).
fn under(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    let prefix = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{prefix}/{path}"));
    url
}

/// The largest answer read from the Pushgateway: its `/api/v1/metrics` holds every group it
/// keeps, a few kilobytes each; more is not a Pushgateway to trust with a run's memory (an
/// endless answer would otherwise grow until the CronJob's memory limit kills the run).
const MAX_ANSWER: u64 = 16 << 20;

fn check(resp: reqwest::blocking::Response, deadline: std::time::Instant) -> Result<String> {
    let status = resp.status();
    let body = match crate::http::read_body(resp, MAX_ANSWER, deadline) {
        Ok(body) => String::from_utf8_lossy(&body).into_owned(),
        Err(crate::http::BodyError::TooLarge(_)) => {
            return Err(Error::Protocol(format!(
                "HTTP {status} with an answer larger than {} MiB: is this a Pushgateway?",
                MAX_ANSWER >> 20
            ))
            .into());
        }
        Err(crate::http::BodyError::Io(e)) => {
            return Err(
                Error::Temporary(format!("HTTP {status}, the answer broke off: {e}")).into(),
            );
        }
    };
    if status.is_success() {
        return Ok(body);
    }
    let hint = match status.as_u16() {
        401 | 403 => "; check DISINFOX_SYNC_PUSHGATEWAY_USER and _PASSWORD",
        404 => "; check the URL (the Pushgateway's base URL, without /metrics)",
        _ => "",
    };
    Err(Error::Protocol(format!(
        "HTTP {status}: {}{hint}",
        crate::http::preview(body.as_bytes())
    ))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_our_group() {
        let v = serde_json::json!({"status": "success", "data": [
            {"labels": {"job": JOB, "connector_id": "other"},
             "disinfox_sync_runs_total": {"metrics": [{"labels": {"status": "failed"}, "value": "9"}]}},
            {"labels": {"job": JOB, "connector_id": "me"}, "last_push_successful": true,
             "disinfox_sync_runs_total": {"type": "COUNTER", "metrics": [
                 {"labels": {"job": JOB, "connector_id": "me", "instance": "", "status": "failed"}, "value": "2"}]}}
        ]});
        let samples = group_samples(&v, "me");
        assert_eq!(samples.len(), 1);
        let previous = Previous::of(samples, "me");
        let labels = Labels::from([("status".to_owned(), "failed".to_owned())]);
        assert_eq!(previous.get("disinfox_sync_runs_total", &labels), Some(2.0));
    }

    #[test]
    fn paths_go_under_a_route_prefix() {
        let base = Url::parse("https://pg.example:9091/prefix/?x=1").unwrap();
        assert_eq!(
            under(&base, "api/v1/metrics").as_str(),
            "https://pg.example:9091/prefix/api/v1/metrics"
        );
    }

    #[test]
    fn verify_s_group_carries_nothing_into_sync_s() {
        let v = serde_json::json!({"status": "success", "data": [
            {"labels": {"job": JOB, "connector_id": "me", "command": "verify"},
             "disinfox_sync_verify_missing": {"metrics": [{"labels": {}, "value": "3"}]}}
        ]});
        assert!(group_samples(&v, "me").is_empty());
    }
}
