//! `fetch`: DISINFOX → stdout or a file. The answer is validated, then written byte for byte.

use std::time::Instant;

use crate::cli::FetchArgs;
use crate::config::Config;
use crate::disinfox::Disinfox;
use crate::error::{Error, Result};
use crate::summary;

pub fn run(cfg: &Config, args: &FetchArgs) -> Result<()> {
    let started = Instant::now();
    let since = crate::when::parse(&args.since, chrono::Utc::now())
        .map_err(|e| Error::Usage(format!("invalid --since: {e}")))?;
    let max = args.max_bundle_size.unwrap_or(cfg.max_bundle_size);
    let source = Disinfox::new(cfg, max)?;
    log::info!(
        "fetching from {} everything newer than {}",
        source.endpoint(),
        crate::when::newer_than(since)
    );
    let answer = source.incidents(since)?;
    let counts = match answer.objects()? {
        Some(parsed) => summary::count_types(parsed.objects.iter().map(|o| o.kind)),
        None => Default::default(),
    };
    let empty = empty_bundle();
    let bytes: &[u8] = answer.body.as_deref().unwrap_or(&empty);
    crate::output::write_to(args.output.as_deref(), |w| w.write_all(bytes))?;
    log::info!(
        "fetched {} ({} bytes) in {:.2}s",
        summary::describe_counts(&counts),
        bytes.len(),
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
