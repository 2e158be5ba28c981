//! The subcommands' own flags that override a setting (`--settle`, `--queue-threshold`,
//! `--max-bundle-size`, the chunk limits, `--state-file`, the metrics sinks): gathered here
//! from whichever subcommand runs, so that `Config::load` merges them with the settings once
//! and the commands read one finished `Config`.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;

use crate::cli::{ChunkArgs, Command, MetricsArgs};

/// What the subcommand at hand was given; `None` where it has no such flag or it was not given.
#[derive(Debug, Default)]
pub(crate) struct Overrides {
    pub settle: Option<Duration>,
    pub queue_threshold_mb: Option<f64>,
    pub max_bundle_size: Option<u64>,
    pub disk_limit: Option<u64>,
    pub chunk_size: Option<u64>,
    pub chunk_objects: Option<u64>,
    pub allow_large_chunks: bool,
    /// `--state-file`; an empty path is the default location (`state::resolve_file`).
    pub state_file: Option<PathBuf>,
    pub metrics_file: Option<PathBuf>,
    pub pushgateway: Option<Url>,
    /// `verify` writes its metrics only to the file it is given: sync's
    /// `DISINFOX_SYNC_METRICS_FILE` would otherwise be overwritten with verify's gauges.
    pub metrics_file_from_flag_only: bool,
}

impl Overrides {
    pub(crate) fn of(command: &Command) -> Overrides {
        match command {
            Command::Fetch(a) => Overrides {
                max_bundle_size: a.max_bundle_size,
                ..Overrides::default()
            },
            Command::Push(a) => Overrides {
                max_bundle_size: a.max_bundle_size,
                ..chunks(&a.chunks)
            },
            Command::Sync(a) => Overrides {
                settle: a.settle,
                queue_threshold_mb: a.queue_threshold,
                max_bundle_size: a.max_bundle_size,
                disk_limit: a.disk_limit,
                state_file: a.state.state_file.clone(),
                ..metrics(&a.metrics, chunks(&a.chunks))
            },
            Command::Verify(a) => Overrides {
                max_bundle_size: a.max_bundle_size,
                metrics_file_from_flag_only: true,
                ..metrics(&a.metrics, chunks(&a.chunks))
            },
            Command::ResetState(a) => Overrides {
                state_file: a.state.state_file.clone(),
                ..Overrides::default()
            },
            Command::Check(a) => Overrides {
                state_file: a.state_file.clone(),
                ..Overrides::default()
            },
            Command::Generate(_) => Overrides::default(),
        }
    }
}

fn chunks(args: &ChunkArgs) -> Overrides {
    Overrides {
        chunk_size: args.chunk_size,
        chunk_objects: args.chunk_objects,
        allow_large_chunks: args.allow_large_chunks,
        ..Overrides::default()
    }
}

fn metrics(args: &MetricsArgs, rest: Overrides) -> Overrides {
    Overrides {
        metrics_file: args.metrics_file.clone(),
        pushgateway: args.pushgateway.clone(),
        ..rest
    }
}
