//! The command line, clap derive only. It names no setting: `config::command_line` adds the
//! variable clap reads for each flag that has one (so `--help` shows it) and each
//! subcommand's `Environment:` paragraph, from the settings table; secrets have no flags at
//! all (see `config`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit_codes::TABLE as EXIT_TABLE;
use crate::parsers::{
    optional_path, parse_duration, parse_megabytes, parse_pushgateway, parse_size, parse_timeout,
};

#[derive(Debug, Parser)]
#[command(
    name = "disinfox-sync",
    version,
    // build.rs: the version, the commit (or that there is none) and the build date.
    long_version = env!("DISINFOX_SYNC_LONG_VERSION"),
    about = "Import DISINFOX disinformation incidents (STIX 2.1) into OpenCTI, one run at a time",
    long_about = "Import DISINFOX disinformation incidents (STIX 2.1) into OpenCTI.\n\n\
        Each invocation does one job and exits with a status a scheduler can act on: run \
        `sync` from cron or a Kubernetes CronJob; use `fetch` and `push` in pipelines.",
    after_long_help = EXIT_TABLE,
    propagate_version = true
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// Configuration file (the Python connector's config.yml layout)
    #[arg(long, global = true, value_name = "PATH", hide_env_values = true)]
    pub config: Option<PathBuf>,

    /// Log level: error (or critical), warn, info, debug (default info; falls back to RUST_LOG)
    #[arg(long, global = true, value_name = "LEVEL", hide_env_values = true)]
    pub log_level: Option<String>,

    /// Log line format on stderr; json writes one object per line [default: text, or json
    /// when OPENCTI_JSON_LOGGING is true]
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "FORMAT",
        hide_env_values = true
    )]
    pub log_format: Option<LogFormat>,

    /// DISINFOX base URL or full /incidents endpoint
    #[arg(long, global = true, value_name = "URL", hide_env_values = true)]
    pub disinfox_url: Option<String>,

    /// OpenCTI base URL (without /graphql)
    #[arg(long, global = true, value_name = "URL", hide_env_values = true)]
    pub opencti_url: Option<String>,

    /// Total time allowed for one HTTP request, e.g. 90s or 2m [default: 120s]
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,

    /// Time allowed to establish a connection [default: 10s]
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_timeout)]
    pub connect_timeout: Option<Duration>,

    /// Retries after a temporary failure (timeouts, 429, 5xx) [default: 3]
    #[arg(long, global = true, value_name = "N")]
    pub retries: Option<u32>,

    /// First backoff delay between retries; doubles each time, with jitter [default: 1s]
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub retry_delay: Option<Duration>,

    /// PEM file with extra CA certificates to trust (system roots are kept)
    #[arg(long, global = true, value_name = "PATH")]
    pub ca_cert: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print a DISINFOX bundle of everything newer than WHEN (for pipelines)
    Fetch(FetchArgs),
    /// Import a bundle file (or stdin) into OpenCTI
    Push(PushArgs),
    /// Fetch everything newer than the stored cursor, import it, then advance the cursor
    Sync(SyncArgs),
    /// List what DISINFOX serves that OpenCTI does not hold (exit 1 if anything); --repair
    /// pushes only those objects again. Never moves the cursor
    #[command(after_long_help = EXIT_TABLE)]
    Verify(VerifyArgs),
    /// Forget the stored cursor (next sync imports everything), or set it with --to
    ResetState(ResetStateArgs),
    /// Check configuration, DISINFOX, OpenCTI, capabilities and state; one line per check
    Check(CheckArgs),
    /// Write the man pages and shell completions (for packagers; `make generated`)
    #[command(hide = true)]
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Print the results as one JSON object on stdout
    #[arg(long)]
    pub json: bool,

    /// Check this state file instead of the state in OpenCTI (as sync --state-file)
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = "", value_parser = optional_path, hide_env_values = true)]
    pub state_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// Project root: files go to OUT/man and OUT/completions
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct ChunkArgs {
    /// Largest request sent to OpenCTI per chunk, in bytes after JSON escaping (K, M, G) [default: 10M]
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub chunk_size: Option<u64>,

    /// Most objects per chunk [default: 25000]
    #[arg(long, value_name = "N")]
    pub chunk_objects: Option<u64>,

    /// Allow --chunk-size above 12M, for brokers whose max_message_size was raised above
    /// RabbitMQ's default 16 MiB (a chunk travels base64-encoded, 4/3 larger)
    #[arg(long, hide_env_values = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_large_chunks: bool,
}

#[derive(Debug, Args)]
pub(crate) struct StateArgs {
    /// Keep the cursor in a local file instead of OpenCTI's connector state; without PATH,
    /// the user state directory (e.g. ~/.local/state/disinfox-sync/state.json)
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = "", value_parser = optional_path, hide_env_values = true)]
    pub state_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    /// Bundle file to import; - or nothing reads stdin
    #[arg(long, short, value_name = "PATH")]
    pub file: Option<PathBuf>,

    /// Validate, complete and chunk the bundle and report the chunks; contact nobody
    #[arg(long)]
    pub dry_run: bool,

    /// Print the run summary as one JSON object on stdout
    #[arg(long)]
    pub json: bool,

    /// Refuse a bundle larger than this many bytes (suffixes K, M, G) [default: 1G]
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub max_bundle_size: Option<u64>,

    #[command(flatten)]
    pub chunks: ChunkArgs,

    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub(crate) struct WaitArgs {
    /// After pushing, follow the run's work in OpenCTI until it is imported (at most DURATION,
    /// default 10m); report imported and failed objects. Needs OpenCTI 6.5.7+ and MODULES
    #[arg(long, value_name = "DURATION", num_args = 0..=1, require_equals = true, default_missing_value = "10m", value_parser = parse_duration)]
    pub wait: Option<Duration>,
}

#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// Fetch and prepare, report what would be pushed and the next cursor; change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Print the run summary as one JSON object on stdout
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub state: StateArgs,

    /// Keep the cursor this far behind DISINFOX's clock, to catch objects committed late [default: 60s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub settle: Option<Duration>,

    /// Skip the run (exit 0) while the connector's queue in OpenCTI holds more than MB
    /// megabytes [default: 500]
    #[arg(
        long,
        value_name = "MB",
        hide_env_values = true,
        value_parser = parse_megabytes
    )]
    pub queue_threshold: Option<f64>,

    /// Refuse a DISINFOX answer larger than this many bytes (suffixes K, M, G) [default: 1G]
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub max_bundle_size: Option<u64>,

    /// Write at most this many bytes under TMPDIR to stage the answer (suffixes K, M, G): a run
    /// that needs more stops with 74 before it pushes anything; set it to your emptyDir's
    /// sizeLimit [default: TMPDIR's free space]
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub disk_limit: Option<u64>,

    #[command(flatten)]
    pub chunks: ChunkArgs,

    #[command(flatten)]
    pub metrics: MetricsArgs,

    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Check only what DISINFOX serves newer than WHEN (same forms as fetch --since)
    #[arg(long, value_name = "WHEN", default_value = "all")]
    pub since: String,

    /// Push the missing objects again, with the objects they reference (never a full
    /// re-import), then look them up again
    #[arg(long)]
    pub repair: bool,

    /// Print each missing object as one JSON document on stdout instead of `ID TYPE`
    #[arg(long)]
    pub json: bool,

    /// Refuse a DISINFOX answer larger than this many bytes (suffixes K, M, G) [default: 1G]
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub max_bundle_size: Option<u64>,

    #[command(flatten)]
    pub chunks: ChunkArgs,

    /// Metrics of verify (disinfox_sync_verify_*): --metrics-file takes a file of its own
    /// (DISINFOX_SYNC_METRICS_FILE, sync's file, is not used); a Pushgateway gets them in the
    /// group of the connector with command="verify"
    #[command(flatten)]
    pub metrics: MetricsArgs,

    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub(crate) struct MetricsArgs {
    /// Write this run's metrics to PATH, atomically, for node_exporter's textfile collector
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,

    /// Push this run's metrics to a Prometheus Pushgateway (job disinfox-sync, grouped by
    /// connector id); a failed push only warns
    #[arg(long, value_name = "URL", value_parser = parse_pushgateway)]
    pub pushgateway: Option<reqwest::Url>,
}

#[derive(Debug, Args)]
pub(crate) struct ResetStateArgs {
    /// Set the cursor to WHEN instead of forgetting it (same forms as fetch --since)
    #[arg(long, value_name = "WHEN")]
    pub to: Option<String>,

    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, Args)]
pub(crate) struct FetchArgs {
    /// Lower bound, exclusive: RFC 3339 (any offset), YYYY-MM-DD, a duration ago (36h, 7days), or all
    #[arg(long, value_name = "WHEN", default_value = "all")]
    pub since: String,

    /// Write the bundle to FILE (atomically) instead of stdout; - means stdout
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Refuse a DISINFOX answer larger than this many bytes (suffixes K, M, G) [default: 1G]
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub max_bundle_size: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
