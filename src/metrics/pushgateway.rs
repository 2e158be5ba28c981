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
    let mut http = http.clone();
    http.timeout = http.timeout.min(MAX_TIMEOUT);
    let client = crate::http::client(&http, true)?;
    let auth = |req: RequestBuilder| match (&opts.user, &opts.password) {
        (Some(user), Some(password)) => req.basic_auth(user, Some(password.expose())),
        _ => req,
    };
    let previous = read_group(&client, base, run.connector_id, &auth)?;
    let body = super::render(&families(run, &previous), &Labels::new());
    let url = under(
        base,
        &format!("metrics/job/{JOB}/connector_id/{}", run.connector_id),
    );
    let resp = auth(client.put(url))
        .header(
            reqwest::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )
        .body(body)
        .send()?;
    check(resp).map(|_| ())
}

/// `check`: the read a push starts with.
pub(super) fn probe(
    base: &Url,
    opts: &MetricsOptions,
    http: &HttpOptions,
    connector_id: &str,
) -> Result<()> {
    let mut http = http.clone();
    http.timeout = http.timeout.min(MAX_TIMEOUT);
    let client = crate::http::client(&http, true)?;
    let auth = |req: RequestBuilder| match (&opts.user, &opts.password) {
        (Some(user), Some(password)) => req.basic_auth(user, Some(password.expose())),
        _ => req,
    };
    read_group(&client, base, connector_id, &auth).map(|_| ())
}

/// This connector's group as the Pushgateway holds it; empty on the first push.
fn read_group(
    client: &Client,
    base: &Url,
    connector_id: &str,
    auth: &dyn Fn(RequestBuilder) -> RequestBuilder,
) -> Result<Previous> {
    let resp = auth(client.get(under(base, "api/v1/metrics"))).send()?;
    let body = check(resp)?;
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
    let ours =
        groups.filter(|g| g["labels"]["job"] == JOB && g["labels"]["connector_id"] == connector_id);
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

fn check(resp: reqwest::blocking::Response) -> Result<String> {
    let status = resp.status();
    let body = resp.text().unwrap_or_default();
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
}
