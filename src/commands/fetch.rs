//! `fetch`: DISINFOX → stdout or a file, streamed: each object is validated, then written byte
//! for byte, so memory stays constant however large the answer.

use std::time::Instant;

use crate::cli::FetchArgs;
use crate::config::Config;
use crate::disinfox::{Copied, Disinfox};
use crate::error::{Error, Result};
use crate::summary;

pub(super) fn run(cfg: &Config, args: &FetchArgs) -> Result<()> {
    let started = Instant::now();
    let since = crate::when::parse(&args.since, chrono::Utc::now())
        .map_err(|e| Error::Usage(format!("invalid --since: {e}")))?;
    // A target that cannot be replaced is refused before anything is downloaded.
    let output = args
        .output
        .as_deref()
        .filter(|p| *p != std::path::Path::new("-"));
    match output {
        Some(path) => crate::output::existing_regular_file(path).map(drop)?,
        None => crate::output::stdout_is_open()?,
    }
    let source = Disinfox::new(cfg.disinfox()?, &cfg.http, cfg.max_bundle_size)?;
    log::info!(
        "fetching from {} everything newer than {}",
        source.endpoint(),
        crate::when::newer_than(since)
    );
    let stream = source.open(since)?;
    // `{}` writes nothing while streaming: the empty bundle is written in its place.
    let copied = crate::output::write_to(output, |w| match stream.copy_to(w)? {
        Some(copied) => Ok(copied),
        None => {
            let empty = empty_bundle();
            w.write_all(&empty)?;
            Ok(Copied {
                counts: Default::default(),
                bytes: empty.len() as u64,
            })
        }
    })?;
    log::info!(
        "fetched {} ({} bytes) in {:.2}s",
        summary::describe_counts(&copied.counts),
        copied.bytes,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn empty_bundle() -> Vec<u8> {
    format!(
        "{{\"id\":\"bundle--{}\",\"objects\":[],\"type\":\"bundle\"}}\n",
        uuid::Uuid::new_v4()
    )
    .into_bytes()
}
