//! Pushing a prepared bundle: one work per run (where the platform can link pushes to it),
//! one `stixBundlePush` per request (the server allows one mutation per request), the work
//! closed only where closing it cannot make the platform drop what is still queued
//! (`version::WorkPolicy`).

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::connector::Platform;
use super::documents as doc;
use super::graphql::Graphql;
use crate::bundle::{Limits, Prepared};
use crate::error::{Error, Result};

/// Who is pushing.
pub struct Target<'a> {
    pub gql: &'a Graphql,
    pub platform: &'a Platform,
    pub connector_id: &'a str,
    pub connector_name: &'a str,
}

#[derive(Clone, Debug, Default)]
pub struct Pushed {
    pub chunks: usize,
    pub objects: usize,
    /// Bytes of the bundles as sent (escaped, inside the request bodies).
    pub bytes: u64,
    pub work_id: Option<String>,
    /// Pushes sent, answered or not: a push that timed out may still have been queued.
    pub attempted: usize,
}

/// Pushes every chunk in order. On failure the work is closed in error and the error returned;
/// `progress` (when set) receives what was pushed so far.
pub fn push(
    target: &Target,
    prepared: &Prepared,
    limits: &Limits,
    progress: &mut Pushed,
) -> Result<()> {
    let plans = prepared.chunks(limits)?;
    if plans.is_empty() {
        return Ok(());
    }
    let work_id = open_work(target)?;
    progress.work_id = work_id.clone();
    let result = push_chunks(target, prepared, &plans, work_id.as_deref(), progress);
    if let Some(id) = &work_id {
        close_work(target, id, &result, progress);
    }
    result
}

/// The one `toProcessed` a run may send, per release (see `WorkPolicy`).
fn close_work(target: &Target, id: &str, result: &Result<()>, progress: &Pushed) {
    let policy = target.platform.features.work_policy;
    if !policy.to_processed(result.is_err(), progress.attempted > 0) {
        log::debug!(
            "work {id} left to the platform's workers ({policy:?}: closing it now could make OpenCTI drop queued pieces)"
        );
        return;
    }
    let (message, in_error) = match result {
        Ok(()) => (
            format!(
                "{} objects pushed in {} chunk(s)",
                progress.objects, progress.chunks
            ),
            false,
        ),
        Err(e) => (format!("run failed: {}", crate::error::render(e)), true),
    };
    let sent = target.gql.run(
        &doc::WORK_DONE,
        json!({ "id": id, "message": message, "inError": in_error }),
    );
    if let Err(close) = sent {
        // The import's own outcome matters more than the bookkeeping.
        log::warn!(
            "could not close work {id}: {}",
            crate::error::render(&close)
        );
    }
}

fn push_chunks(
    target: &Target,
    prepared: &Prepared,
    plans: &[crate::bundle::ChunkPlan],
    work_id: Option<&str>,
    progress: &mut Pushed,
) -> Result<()> {
    let bar = progress_bar(plans.len());
    let doc = if work_id.is_some() {
        &doc::PUSH_TO_WORK
    } else {
        &doc::PUSH
    };
    let mut body = Vec::new();
    for (i, plan) in plans.iter().enumerate() {
        let started = Instant::now();
        let bundle_bytes =
            request_body(&mut body, doc, target.connector_id, work_id, prepared, plan)?;
        if let Some(work) = work_id
            && plan.len() == 1
            && target.platform.features.work_policy.expect_single_objects()
        {
            expect_one(target, work)?;
        }
        progress.attempted += 1;
        let data = target.gql.run_body(doc.name, &body)?;
        if data.get("stixBundlePush").and_then(|v| v.as_bool()) != Some(true) {
            return Err(Error::Protocol(format!(
                "OpenCTI did not accept chunk {} (stixBundlePush answered {})",
                i + 1,
                data
            ))
            .into());
        }
        progress.chunks += 1;
        progress.objects += plan.len();
        progress.bytes += bundle_bytes as u64;
        bar.set_message(indicatif::HumanBytes(progress.bytes).to_string());
        bar.inc(1);
        if bar.is_hidden() {
            log::info!(
                "pushed chunk {}/{}: {} objects, {} bytes in {:.2}s",
                i + 1,
                plans.len(),
                plan.len(),
                bundle_bytes,
                started.elapsed().as_secs_f64()
            );
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// The expectation the platform gives no one-object message of a client-given work
/// (`WorkPolicy::expect_single_objects`), added before the push so the piece can never report
/// first.
fn expect_one(target: &Target, work: &str) -> Result<()> {
    target.gql.run(
        &doc::ADD_EXPECTATIONS,
        json!({ "id": work, "expectations": 1 }),
    )?;
    Ok(())
}

/// `{"query":…,"operationName":…,"variables":{…,"bundle":"<escaped chunk>"}}`, built in place
/// so the escaped chunk exists once. Returns the escaped bundle's length.
fn request_body(
    body: &mut Vec<u8>,
    doc: &doc::Document,
    connector_id: &str,
    work_id: Option<&str>,
    prepared: &Prepared,
    plan: &crate::bundle::ChunkPlan,
) -> Result<usize> {
    body.clear();
    let mut vars = json!({ "connectorId": connector_id });
    if let Some(w) = work_id {
        vars["work_id"] = json!(w);
    }
    let head =
        json!({ "query": doc.text, "operationName": doc.name, "variables": vars }).to_string();
    // Reopen the variables object to append the bundle as the last member.
    let head = head
        .strip_suffix("}}")
        .ok_or_else(|| anyhow::anyhow!("unexpected request shape"))?;
    body.extend_from_slice(head.as_bytes());
    body.extend_from_slice(b",\"bundle\":");
    let before = body.len();
    prepared.render_escaped_into(plan, body);
    let escaped = body.len() - before;
    body.extend_from_slice(b"}}");
    Ok(escaped)
}

fn open_work(target: &Target) -> Result<Option<String>> {
    let policy = target.platform.features.work_policy;
    // Before 6.5.7 a push cannot name a work: the server makes one per push, and a work of our
    // own would stay empty.
    if !policy.own_work() {
        return Ok(None);
    }
    let name = format!(
        "{} run @ {}",
        target.connector_name,
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    // Multi-part only where the final toProcessed is safe: on 7.260422.0–7.260423.x a
    // multi-part work would wait for a toProcessed that must not be sent.
    let data = if policy.multipart() {
        target.gql.run(
            &doc::WORK_ADD_MULTIPART,
            json!({ "connectorId": target.connector_id, "friendlyName": name, "isMultiPartWork": true }),
        )?
    } else {
        target.gql.run(
            &doc::WORK_ADD,
            json!({ "connectorId": target.connector_id, "friendlyName": name }),
        )?
    };
    let id = data
        .pointer("/workAdd/id")
        .and_then(|v| v.as_str())
        .ok_or_else(|| Error::Protocol("OpenCTI answered workAdd without a work id".into()))?;
    log::debug!("work {id} opened");
    Ok(Some(id.to_owned()))
}

/// A bar on a terminal only; cron and Kubernetes logs get one plain line per chunk instead.
fn progress_bar(chunks: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() || chunks < 2 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(chunks as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} pushing chunk {pos}/{len}, {msg} {wide_bar} {elapsed}",
    ) {
        bar.set_style(style);
    }
    bar
}
