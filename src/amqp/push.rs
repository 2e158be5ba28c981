//! Publishing a prepared bundle over AMQP, as pycti does: one work, its expectations added
//! before the first message (so no worker can complete or drop the work early), one message
//! per object in dependency order, every message confirmed by the broker before the run
//! counts as done.

use std::time::Instant;

use super::client::{Client, Rejected};
use super::endpoint::Endpoint;
use super::message::{self, Meta};
use std::ops::ControlFlow;

use crate::bundle::Importable;
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

pub(crate) fn push<B: Importable>(
    target: &Target,
    bundle: &B,
    progress: &mut Pushed,
) -> Result<()> {
    if bundle.objects() == 0 {
        return Ok(());
    }
    // The broker first: when it is down, no work is left behind on the platform.
    let mut client = Client::connect(target.endpoint, &target.cfg.mq, target.cfg.http.timeout)?;
    let run = target.run;
    let result = run.open(bundle.objects()).and_then(|work_id| {
        progress.work_id = work_id.clone();
        let published = publish_all(target, &mut client, bundle, work_id.as_deref(), progress);
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

fn publish_all<B: Importable>(
    target: &Target,
    client: &mut Client,
    bundle: &B,
    work_id: Option<&str>,
    progress: &mut Pushed,
) -> Result<()> {
    let meta = Meta {
        applicant_id: target.endpoint.applicant_id.as_deref(),
        work_id,
    };
    let mut scratch = Vec::new();
    let total = bundle.objects();
    let mut bodies: Vec<Vec<u8>> = Vec::with_capacity(BATCH);
    let mut started = Instant::now();
    let mut failure = None;
    let mut send = |bodies: &mut Vec<Vec<u8>>, started: &mut Instant| -> Result<()> {
        publish_with_retries(target.cfg, client, bodies)?;
        progress.chunks += bodies.len();
        progress.objects += bodies.len();
        progress.bytes += bodies.iter().map(|m| m.len() as u64).sum::<u64>();
        log::info!(
            "published and confirmed {}/{} messages in {:.2}s",
            progress.objects,
            total,
            started.elapsed().as_secs_f64()
        );
        bodies.clear();
        *started = Instant::now();
        Ok(())
    };
    let mut sequence = 0;
    bundle
        .each_object(&mut |raw| {
            sequence += 1;
            bodies.push(message::body(&meta, sequence, raw, &mut scratch));
            if bodies.len() == BATCH
                && let Err(e) = send(&mut bodies, &mut started)
            {
                failure = Some(e);
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        })
        .map_err(crate::opencti::push::read_back)?;
    if let Some(e) = failure {
        return Err(e);
    }
    if !bodies.is_empty() {
        send(&mut bodies, &mut started)?;
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
