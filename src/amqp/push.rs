//! Publishing a prepared bundle over AMQP, as pycti does: one work, its expectations added
//! before the first message (so no worker can complete or drop the work early), one message
//! per object in dependency order, every message confirmed by the broker before the run
//! counts as done.

use std::time::{Duration, Instant};

use serde_json::json;

use super::client::{Client, Rejected};
use super::endpoint::Endpoint;
use super::message::{self, Meta};
use crate::bundle::Prepared;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::opencti::Graphql;
use crate::opencti::documents as doc;
use crate::opencti::push::Pushed;

/// Messages published between two waits for confirms; bounds what a retry sends again.
const BATCH: usize = 500;

pub(crate) struct Target<'a> {
    pub gql: &'a Graphql,
    pub connector_id: &'a str,
    pub connector_name: &'a str,
    pub endpoint: &'a Endpoint,
    pub cfg: &'a Config,
    /// `--wait` follows the work: publishing without one would leave nothing to follow.
    pub needs_work: bool,
}

pub(crate) fn push(target: &Target, prepared: &Prepared, progress: &mut Pushed) -> Result<()> {
    if prepared.is_empty() {
        return Ok(());
    }
    // The broker first: when it is down, no work is left behind on the platform.
    let mut client = Client::connect(target.endpoint, &target.cfg.mq, target.cfg.http.timeout)?;
    let result = open_work(target, prepared.len()).and_then(|work_id| {
        progress.work_id = work_id.clone();
        let published = publish_all(target, &mut client, prepared, work_id.as_deref(), progress);
        if let Some(id) = &work_id {
            close_work(target.gql, id, &published, progress);
        }
        published
    });
    client.close();
    result
}

fn publish_all(
    target: &Target,
    client: &mut Client,
    prepared: &Prepared,
    work_id: Option<&str>,
    progress: &mut Pushed,
) -> Result<()> {
    let meta = Meta {
        applicant_id: target.endpoint.applicant_id.as_deref(),
        work_id,
    };
    let mut scratch = String::new();
    let total = prepared.len();
    for (b, batch) in prepared.objects.chunks(BATCH).enumerate() {
        let started = Instant::now();
        let first = b * BATCH;
        let bodies: Vec<Vec<u8>> = batch
            .iter()
            .enumerate()
            .map(|(i, o)| message::body(&meta, first + i + 1, o, &mut scratch))
            .collect();
        publish_with_retries(target.cfg, client, &bodies)?;
        progress.chunks += bodies.len();
        progress.objects += batch.len();
        progress.bytes += bodies.iter().map(|m| m.len() as u64).sum::<u64>();
        log::info!(
            "published and confirmed {}/{} messages in {:.2}s",
            first + batch.len(),
            total,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// A NACK or an unroutable message: the whole batch again (a repeat is an upsert), with the
/// HTTP retry policy's backoff; after the last retry the run fails with 75.
fn publish_with_retries(cfg: &Config, client: &mut Client, bodies: &[Vec<u8>]) -> Result<()> {
    let mut delay = cfg.http.retry_delay;
    for attempt in 0..=cfg.http.retries {
        match client.publish_confirmed(bodies)? {
            Ok(()) => return Ok(()),
            Err(Rejected(why)) if attempt < cfg.http.retries => {
                log::warn!(
                    "{why}; publishing the batch again in {}s",
                    delay.as_secs_f64()
                );
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(60));
            }
            Err(Rejected(why)) => {
                return Err(Error::Temporary(format!(
                    "{why}; gave up after {} retries, nothing was committed",
                    cfg.http.retries
                ))
                .into());
            }
        }
    }
    unreachable!("the last attempt returns")
}

/// One work per run, with every message it will receive already expected. Before 6.1.0 works
/// need the import capabilities, which a user with only CONNECTORAPI lacks: the messages then
/// go without a work, as pycti sends them when it has none (those releases drop nothing for a
/// missing work). With `--wait` the refusal stands (exit 77, nothing published).
fn open_work(target: &Target, messages: usize) -> Result<Option<String>> {
    match add_work(target, messages) {
        Ok(id) => Ok(Some(id)),
        Err(e)
            if !target.needs_work
                && matches!(e.downcast_ref::<Error>(), Some(Error::Permission(_))) =>
        {
            log::warn!(
                "OpenCTI refused to open a work ({}); publishing without one, so the platform will not track this run",
                crate::error::render(&e)
            );
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn add_work(target: &Target, messages: usize) -> Result<String> {
    let name = format!(
        "{} run @ {}",
        target.connector_name,
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let data = target.gql.run(
        &doc::WORK_ADD,
        json!({ "connectorId": target.connector_id, "friendlyName": name }),
    )?;
    let id = data
        .pointer("/workAdd/id")
        .and_then(|v| v.as_str())
        .ok_or_else(|| Error::Protocol("OpenCTI answered workAdd without a work id".into()))?
        .to_owned();
    target.gql.run(
        &doc::ADD_EXPECTATIONS,
        json!({ "id": id, "expectations": messages }),
    )?;
    log::debug!("work {id} opened, expecting {messages} messages");
    Ok(id)
}

/// Safe on every release here: with the expectations counted up front, `toProcessed` cannot
/// complete (or delete) the work before the workers reported every message.
fn close_work(gql: &Graphql, id: &str, outcome: &Result<()>, progress: &Pushed) {
    let (message, in_error) = match outcome {
        Ok(()) => (
            format!(
                "{} objects published over AMQP in {} messages",
                progress.objects, progress.chunks
            ),
            false,
        ),
        Err(e) => (format!("run failed: {}", crate::error::render(e)), true),
    };
    if let Err(e) = gql.run(
        &doc::WORK_DONE,
        json!({ "id": id, "message": message, "inError": in_error }),
    ) {
        log::warn!("could not close work {id}: {}", crate::error::render(&e));
    }
}
