//! Pushing a prepared bundle over the API: one `stixBundlePush` per request (the server allows
//! one mutation per request), inside the run's work where the platform can link pushes to it
//! (opened and closed by `work::RunWork`, per `version::WorkPolicy`).

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::documents as doc;
use super::work::RunWork;
use crate::bundle::{Chunk, Importable, Limits};
use crate::delivery::Pushed;
use crate::error::{Error, Result};

/// Pushes every chunk in order, in the run's work (opened and closed by `run`, per its
/// policy). On failure the error is returned; `progress` receives what was pushed so far.
pub(crate) fn push<B: Importable>(
    run: &RunWork,
    bundle: &B,
    limits: &Limits,
    progress: &mut Pushed,
) -> Result<()> {
    // A plan fails on a chunk limit the bundle cannot be cut to: configuration (78); or on
    // reading the stage's files back: local I/O (74).
    let plans = bundle
        .plan(limits)
        .map_err(read_back)?
        .map_err(|e| Error::Config(e.to_string()))?;
    if plans.is_empty() {
        return Ok(());
    }
    let work_id = run.open(bundle.objects())?;
    progress.work_id = work_id.clone();
    let result = push_chunks(run, bundle, &plans, work_id.as_deref(), progress);
    if let Some(id) = &work_id {
        let done = format!(
            "{} objects pushed in {} chunk(s)",
            progress.objects, progress.chunks
        );
        run.close(id, &result, progress.attempted > 0, done);
    }
    result
}

/// The stage's files could not be read back: the local disk's fault (74).
pub(crate) fn read_back(e: std::io::Error) -> anyhow::Error {
    Error::LocalIo(format!(
        "cannot read the staged answer back from its temporary file: {e}"
    ))
    .into()
}

fn push_chunks<B: Importable>(
    run: &RunWork,
    bundle: &B,
    plans: &[B::Chunk],
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
        let bundle_bytes = request_body(&mut body, doc, run.connector_id, work_id, bundle, plan)?;
        // The expectation the platform gives no one-object message of a client-given work
        // (`WorkPolicy::expect_single_objects`), added before the push so the piece can never
        // report first.
        if let Some(work) = work_id
            && plan.objects() == 1
            && run.policy.expect_single_objects()
        {
            run.expect(work, 1)?;
        }
        progress.attempted += 1;
        let shared = bytes::Bytes::from(std::mem::take(&mut body));
        let data = run.gql.run_body(doc.name, &shared);
        // The buffer comes back for the next chunk once reqwest has let go of it.
        body = shared.try_into_mut().map(Vec::from).unwrap_or_default();
        let data = data?;
        if data.get("stixBundlePush").and_then(|v| v.as_bool()) != Some(true) {
            return Err(Error::Protocol(format!(
                "OpenCTI did not accept chunk {} (stixBundlePush answered {})",
                i + 1,
                data
            ))
            .into());
        }
        progress.chunks += 1;
        progress.objects += plan.objects();
        progress.bytes += bundle_bytes as u64;
        bar.set_message(indicatif::HumanBytes(progress.bytes).to_string());
        bar.inc(1);
        if bar.is_hidden() {
            log::info!(
                "pushed chunk {}/{}: {} objects, {} bytes in {:.2}s",
                i + 1,
                plans.len(),
                plan.objects(),
                bundle_bytes,
                started.elapsed().as_secs_f64()
            );
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// `{"query":…,"operationName":…,"variables":{…,"bundle":"<escaped chunk>"}}`, built in place
/// so the escaped chunk exists once. Returns the escaped bundle's length.
fn request_body<B: Importable>(
    body: &mut Vec<u8>,
    doc: &doc::Document,
    connector_id: &str,
    work_id: Option<&str>,
    bundle: &B,
    plan: &B::Chunk,
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
    bundle.render_escaped_into(plan, body).map_err(read_back)?;
    let escaped = body.len() - before;
    body.extend_from_slice(b"}}");
    Ok(escaped)
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
