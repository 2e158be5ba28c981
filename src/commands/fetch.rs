//! `fetch`: DISINFOX → stdout or a file. The answer is validated, then written byte for byte.

use std::time::Instant;

use crate::bundle;
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
    let (text, counts) = match &answer.body {
        None => (empty_bundle(), Default::default()),
        Some(body) => {
            let parsed =
                bundle::parse(body).map_err(|e| summary::upstream_bundle_error(e, body))?;
            let counts = summary::count_types(parsed.objects.iter().map(|o| o.kind));
            (Vec::new(), counts)
        }
    };
    let bytes: &[u8] = answer.body.as_deref().unwrap_or(&text);
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
