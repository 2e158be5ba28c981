//! The steps `push` and `sync` share: bundle bytes → prepared objects, and the chunk limits.

use std::collections::BTreeMap;

use crate::bundle::{self, BundleError, Chunk, Importable, Limits, Prepared, Staged};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::opencti::facts::{FactScan, Facts};
use crate::summary::Report;

pub(super) fn limits(cfg: &Config) -> Result<Limits> {
    let max_bytes = cfg.chunk_size.unwrap_or(bundle::DEFAULT_CHUNK_BYTES as u64);
    let max_objects = cfg
        .chunk_objects
        .unwrap_or(bundle::DEFAULT_CHUNK_OBJECTS as u64);
    if max_bytes < 1024 || max_objects == 0 {
        return Err(Error::Config(format!(
            "chunk limits too small ({max_bytes} bytes, {max_objects} objects): use --chunk-size of at least 1K and --chunk-objects of at least 1"
        ))
        .into());
    }
    if max_bytes > bundle::MAX_SAFE_CHUNK_BYTES as u64 && !cfg.allow_large_chunks {
        return Err(Error::Config(format!(
            "--chunk-size {max_bytes} is above 12M (12582912 bytes): OpenCTI sends each chunk to its workers base64-encoded (4/3 larger) in one RabbitMQ message, RabbitMQ's default max_message_size is 16 MiB, and from 6.9.18 OpenCTI retries an oversized publish forever; use --chunk-size 12M or less, or --allow-large-chunks (DISINFOX_SYNC_ALLOW_LARGE_CHUNKS=true) if your broker's max_message_size was raised"
        ))
        .into());
    }
    Ok(Limits {
        max_bytes: max_bytes as usize,
        max_objects: max_objects as usize,
    })
}

/// A bundle the stage refused, by cause: a chunk limit it cannot be cut to is configuration
/// (78), anything else is the data's fault (65). Answers from DISINFOX are mapped where they
/// are read (`disinfox.rs`), so this is for local input and the chunk planner.
pub(super) fn refused(err: BundleError) -> anyhow::Error {
    if err.is_limit() {
        Error::Config(err.to_string()).into()
    } else {
        Error::BadData(err.to_string()).into()
    }
}

/// What the stage did to a bundle, whichever stage it was.
struct Done<'a> {
    objects: usize,
    duplicates: usize,
    added: &'a [&'static str],
    dangling: &'a BTreeMap<String, Vec<String>>,
    counts: BTreeMap<String, usize>,
}

/// Dedupes, completes and orders in memory; says what was added and what stays dangling.
pub(super) fn prepare<'a>(parsed: bundle::Parsed<'a>, report: &mut Report) -> Prepared<'a> {
    let prepared = bundle::prepare(parsed);
    tell(
        Done {
            objects: prepared.len(),
            duplicates: prepared.duplicates(),
            added: prepared.added(),
            dangling: prepared.dangling(),
            counts: prepared
                .counts_by_type()
                .into_iter()
                .map(|(k, n)| (k.to_owned(), n))
                .collect(),
        },
        report,
    );
    prepared
}

/// The same account of an answer staged on disk (`sync`), and the facts the sink needs of it:
/// those seen while it streamed in, and those of the well-known objects the stage added.
pub(super) fn staged(staged: Staged, seen: FactScan, report: &mut Report) -> (Staged, Facts) {
    log::debug!(
        "staged the answer on disk ({} bytes, and {} of index); {} of {} objects are referenced by others and held in memory",
        staged.spool_len(),
        staged.index_len(),
        staged.nodes(),
        staged.len()
    );
    tell(
        Done {
            objects: staged.len(),
            duplicates: staged.duplicates(),
            added: staged.added(),
            dangling: staged.dangling(),
            counts: staged.counts_by_type().clone(),
        },
        report,
    );
    let facts = facts(&staged, seen);
    (staged, facts)
}

fn tell(done: Done<'_>, report: &mut Report) {
    if done.duplicates > 0 {
        log::info!(
            "dropped {} duplicate object(s) (of each id the copy with the latest modified was kept, the first one among equals)",
            done.duplicates
        );
    }
    if !done.added.is_empty() {
        log::info!(
            "added {} well-known object(s) the bundle references: {}",
            done.added.len(),
            done.added.join(", ")
        );
    }
    let dangling: usize = done.dangling.values().map(Vec::len).sum();
    if dangling > 0 {
        let by_type: Vec<String> = done
            .dangling
            .iter()
            .map(|(t, ids)| format!("{} {t}", ids.len()))
            .collect();
        log::info!(
            "{dangling} reference(s) point outside the bundle ({}); OpenCTI resolves them only if it already has those objects",
            by_type.join(", ")
        );
        for (t, ids) in done.dangling {
            log::debug!("dangling {t}: {}", ids.join(", "));
        }
    }
    report.objects = done.counts;
    report.objects_total = done.objects;
    report.added_well_known = done.added.len();
    report.dangling_references = dangling;
}

fn facts(staged: &Staged, mut seen: FactScan) -> Facts {
    for id in staged.added() {
        if let Some(raw) = bundle::well_known_text(id) {
            let kind = id.split("--").next().unwrap_or_default();
            seen.observe(kind, id, raw);
        }
    }
    seen.finish()
}

/// What a dry run shows instead of pushing.
pub(super) fn describe_plan<B: Importable>(
    bundle: &B,
    limits: &Limits,
    report: &mut Report,
) -> Result<()> {
    let plans = bundle
        .plan(limits)
        .map_err(crate::opencti::push::read_back)?
        .map_err(refused)?;
    for (i, plan) in plans.iter().enumerate() {
        log::info!(
            "chunk {}/{}: {} objects, {} bytes escaped",
            i + 1,
            plans.len(),
            plan.objects(),
            plan.escaped_bytes()
        );
    }
    report.chunks = plans.len();
    report.bytes = plans.iter().map(|p| p.escaped_bytes() as u64).sum();
    report.set_pushed(plans.iter().map(Chunk::objects).sum());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Outcome, classify};
    use crate::exit_codes::ExitCode;

    #[test]
    fn refused_bundles_are_mapped_by_cause() {
        let limit = BundleError::ObjectTooLarge {
            id: "x--1".into(),
            bytes: 10,
            max_bytes: 5,
        };
        let text = limit.to_string();
        let limit = refused(limit);
        assert_eq!(classify(&limit), Outcome::Fail(ExitCode::Config));
        assert_eq!(limit.to_string(), text);
        let data = refused(BundleError::Empty);
        assert_eq!(classify(&data), Outcome::Fail(ExitCode::DataErr));
        assert_eq!(data.to_string(), BundleError::Empty.to_string());
    }
}
