//! Publishing a prepared bundle over AMQP, as pycti does: one work, its expectations added
//! before the first message (so no worker can complete or drop the work early), one message
//! per object in dependency order, every message confirmed by the broker before the run
//! counts as done.

use std::time::Instant;

use super::client::{Client, Rejected};
use super::endpoint::Endpoint;
use super::message::{self, Meta};
use crate::bundle::Prepared;
use crate::config::Config;
use crate::delivery::Pushed;
use crate::error::{Error, Result};
use crate::opencti::work::RunWork;
use crate::retry::{Attempt, GaveUp, RetryPolicy};

/// Messages published between two waits for confirms; bounds what a retry sends again.
const BATCH: usize = 500;

pub(crate) struct Target<'a> {
    /// The run's work, opened and closed per its policy (`CountedUpFront`).
    pub run: &'a RunWork<'a>,
    pub endpoint: &'a Endpoint,
    pub cfg: &'a Config,
}

pub(crate) fn push(target: &Target, prepared: &Prepared, progress: &mut Pushed) -> Result<()> {
    if prepared.is_empty() {
        return Ok(());
    }
    // The broker first: when it is down, no work is left behind on the platform.
    let mut client = Client::connect(target.endpoint, &target.cfg.mq, target.cfg.http.timeout)?;
    let run = target.run;
    let result = run.open(prepared.len()).and_then(|work_id| {
        progress.work_id = work_id.clone();
        let published = publish_all(target, &mut client, prepared, work_id.as_deref(), progress);
        if let Some(id) = &work_id {
            let done = format!(
                "{} objects published over AMQP in {} messages",
                progress.objects, progress.chunks
            );
            run.close(id, &published, true, done);
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
    for (b, batch) in prepared.objects().chunks(BATCH).enumerate() {
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

/// A NACK or an unroutable message: the whole batch again (a repeat is an upsert), by the one
/// retry policy; after the last retry the run fails with 75. A lost broker fails at once.
fn publish_with_retries(cfg: &Config, client: &mut Client, bodies: &[Vec<u8>]) -> Result<()> {
    let policy = RetryPolicy::from_options(&cfg.http);
    let published = policy.try_run("publishing to the broker", || {
        match client.publish_confirmed(bodies) {
            Ok(Ok(())) => Attempt::Done(()),
            Ok(Err(Rejected(why))) => Attempt::Retry { why, after: None },
            Err(e) => Attempt::Fail(e),
        }
    });
    published.map_err(|gave_up| match gave_up {
        GaveUp::Failed(e) => e,
        GaveUp::Spent { why, retries } => Error::Temporary(format!(
            "{why}; gave up after {retries} retries, nothing was committed"
        ))
        .into(),
    })
}
