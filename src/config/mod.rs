//! One merged view of the settings: flags > environment > config.yml > defaults.
//!
//! The environment names and the config.yml keys are the Python connector's, so existing
//! deployments move over unchanged. clap already folds each flag's environment variable into
//! the flag value; this module adds the secrets (which have no flags), the `*_FILE` variants,
//! the file and the defaults, and validates what the command at hand needs.

pub(crate) mod command_line;
pub(crate) mod environment;
mod examples;
mod file;
mod headers;
pub(crate) mod keys;
pub(crate) mod metrics;
mod mq;
mod overrides;
mod reader;
mod schedule;
mod values;

use std::path::PathBuf;
use std::time::Duration;

use log::LevelFilter;
use reqwest::Url;

pub(crate) use command_line::{command, parse};
pub(crate) use headers::CustomHeader;
pub(crate) use metrics::MetricsOptions;
pub(crate) use mq::{MqSettings, QueueProtocol};
pub(crate) use overrides::Overrides;
pub(crate) use values::{parse_bool, parse_iso8601_duration, parse_level};

use crate::cli::GlobalArgs;
use crate::error::Error;
use crate::parsers::{parse_duration, parse_size};
use crate::secret::Secret;
use keys::*;
use reader::Reader;
use values::*;

pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub(crate) const DEFAULT_RETRIES: u32 = 3;
pub(crate) const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);
pub(crate) const DEFAULT_SETTLE: Duration = Duration::from_secs(60);
pub(crate) const DEFAULT_QUEUE_THRESHOLD_MB: f64 = 500.0;
pub(crate) const DEFAULT_MAX_BUNDLE_SIZE: u64 = 1 << 30;
/// `CONNECTOR_NAME` when none is set: the Python connector's documented default.
pub(crate) const DEFAULT_CONNECTOR_NAME: &str = "DISINFOX";

/// What a command needs; settings outside these groups are not required, and a malformed
/// value there is only a warning (a `fetch` must not fail on a placeholder `CONNECTOR_ID`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Needs {
    pub disinfox: bool,
    pub opencti: bool,
}

/// The validated settings.
#[derive(Debug)]
pub(crate) struct Config {
    pub file: Option<PathBuf>,
    /// Present whenever the command needs DISINFOX (`Needs`), or both parts are set.
    pub disinfox: Option<DisinfoxPeer>,
    /// Present whenever the command needs OpenCTI (`Needs`), or every part is set.
    pub opencti: Option<Opencti>,
    /// `OPENCTI_JSON_LOGGING`; `--log-format` wins over it.
    pub json_logging: Option<bool>,
    /// `CONNECTOR_ID` as configured, also without OpenCTI: the metrics' `connector_id` label.
    pub connector_id: Option<String>,
    pub connector_name: String,
    pub connector_scope: Vec<String>,
    pub duration_period: Option<Duration>,
    pub queue_threshold_mb: f64,
    pub log_level: Option<LevelFilter>,
    pub http: HttpOptions,
    pub state_file: Option<PathBuf>,
    pub settle: Duration,
    /// `--chunk-size` or the setting; `stage::limits` applies the default and the bounds.
    pub chunk_size: Option<u64>,
    pub chunk_objects: Option<u64>,
    /// `--allow-large-chunks` (its environment variable folded in by clap).
    pub allow_large_chunks: bool,
    pub max_bundle_size: u64,
    /// Most bytes `sync` may write under TMPDIR to stage an answer; `None`: its free space.
    pub disk_limit: Option<u64>,
    pub queue_protocol: QueueProtocol,
    pub mq: MqSettings,
    pub metrics: MetricsOptions,
    /// Problems that do not stop this command; logged once logging is up.
    pub warnings: Vec<String>,
    /// Settings read but not used (pycti's keys a one-shot run has no use for): debug level.
    pub notes: Vec<String>,
    /// Lines said once at info level (pycti's loop switch answered with the schedule).
    pub infos: Vec<String>,
}

/// The DISINFOX endpoint and the key sent there, validated once by `Config::load`.
#[derive(Clone, Debug)]
pub(crate) struct DisinfoxPeer {
    pub url: Url,
    pub key: Secret,
}

/// What every OpenCTI call needs, validated once by `Config::load`.
#[derive(Clone, Debug)]
pub(crate) struct Opencti {
    pub url: Url,
    pub token: Secret,
    /// Kept exactly as configured: OpenCTI names the connector's queue from this string,
    /// and its workers read the queue of the id as stored (case matters there).
    pub connector_id: String,
    pub ssl_verify: bool,
    /// `OPENCTI_CUSTOM_HEADERS`, sent with every OpenCTI request.
    pub custom_headers: Vec<CustomHeader>,
}

/// The peers' settings as read, before `require` says which must be there.
struct PeerParts {
    disinfox_url: Option<Url>,
    disinfox_key: Option<Secret>,
    opencti_url: Option<Url>,
    opencti_token: Option<Secret>,
    ssl_verify: bool,
    custom_headers: Vec<CustomHeader>,
    json_logging: Option<bool>,
    connector_id: Option<String>,
}

impl PeerParts {
    /// Read in the order the settings are listed, so that problems are reported in it.
    fn read(r: &mut Reader<'_>, args: &GlobalArgs) -> PeerParts {
        PeerParts {
            disinfox_url: r.parse(DISINFOX_URL, args.disinfox_url.as_deref(), |v| {
                without_credentials(v, "DISINFOX_API_KEY", "")
            }),
            disinfox_key: r.secret(DISINFOX_API_KEY),
            opencti_url: r.parse(OPENCTI_URL, args.opencti_url.as_deref(), |v| {
                without_credentials(
                    v,
                    "OPENCTI_TOKEN",
                    "; a proxy's own header goes in OPENCTI_CUSTOM_HEADERS",
                )
            }),
            opencti_token: r.secret(OPENCTI_TOKEN),
            ssl_verify: r
                .parse(OPENCTI_SSL_VERIFY, None, parse_bool)
                .unwrap_or(true),
            custom_headers: r
                .parse(OPENCTI_CUSTOM_HEADERS, None, headers::parse_custom_headers)
                .unwrap_or_default(),
            json_logging: r.parse(OPENCTI_JSON_LOGGING, None, parse_bool),
            connector_id: r.parse(CONNECTOR_ID, None, examples::parse_connector_id),
        }
    }

    fn disinfox(&self) -> Option<DisinfoxPeer> {
        Some(DisinfoxPeer {
            url: self.disinfox_url.clone()?,
            key: self.disinfox_key.clone()?,
        })
    }

    fn opencti(self) -> Option<Opencti> {
        Some(Opencti {
            url: self.opencti_url?,
            token: self.opencti_token?,
            connector_id: self.connector_id?,
            ssl_verify: self.ssl_verify,
            custom_headers: self.custom_headers,
        })
    }
}

#[derive(Clone, Debug)]
pub(crate) struct HttpOptions {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub retries: u32,
    pub retry_delay: Duration,
    pub ca_cert: Option<PathBuf>,
}

impl Config {
    /// Loads and validates; the subcommand's flags in `overrides` win over the settings, as
    /// the global flags in `args` do. Every problem is one line of the returned error (exit 78).
    pub(crate) fn load(
        args: &GlobalArgs,
        needs: Needs,
        overrides: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, Error> {
        let mut warnings = Vec::new();
        let (file_path, value) = file::load_file(args.config.as_deref(), env, &mut warnings)?;
        let run_and_terminate = schedule::run_and_terminate(env, &value);
        let mut notes = Vec::new();
        let file = file::flatten_known(value, &mut warnings, &mut notes);
        let mut r = Reader {
            env,
            file,
            file_path,
            needs,
            errors: Vec::new(),
            warnings,
        };
        let peers = PeerParts::read(&mut r, args);
        let cfg = read(&mut r, (args, overrides), &peers, notes);
        mq::check_key_encryption(&mut r, &cfg.mq, cfg.queue_protocol);
        require(&mut r, &peers);
        // Said at info, not as a warning: pycti's own config.yml template carries
        // `run_and_terminate: false`, and such a file must run without a warning.
        let schedule = schedule::loop_warning(run_and_terminate.as_deref(), cfg.duration_period);
        if !r.errors.is_empty() {
            return Err(Error::Config(r.errors.join("\n")));
        }
        Ok(Config {
            warnings: r.warnings,
            infos: schedule.into_iter().collect(),
            disinfox: peers.disinfox(),
            opencti: peers.opencti(),
            ..cfg
        })
    }

    /// DISINFOX's settings; `load` refused a configuration without them for every command
    /// that needs DISINFOX, so an error here is a command calling a peer it did not declare.
    pub(crate) fn disinfox(&self) -> crate::error::Result<&DisinfoxPeer> {
        self.disinfox.as_ref().ok_or_else(|| {
            anyhow::anyhow!("internal: DISINFOX used by a command that did not declare it")
        })
    }

    /// OpenCTI's settings, as `disinfox` is DISINFOX's.
    pub(crate) fn opencti(&self) -> crate::error::Result<&Opencti> {
        self.opencti.as_ref().ok_or_else(|| {
            anyhow::anyhow!("internal: OpenCTI used by a command that did not declare it")
        })
    }
}

/// Every other setting, read through `r` (the global flags in `args` and the subcommand's in
/// `o` first); problems collect in `r`, also those of a setting a flag overrides. The peers
/// are set once `require` has judged `peers`.
fn read(
    r: &mut Reader<'_>,
    (args, o): (&GlobalArgs, &Overrides),
    peers: &PeerParts,
    notes: Vec<String>,
) -> Config {
    Config {
        disinfox: None,
        opencti: None,
        json_logging: peers.json_logging,
        connector_id: peers.connector_id.clone(),
        connector_name: r
            .parse(CONNECTOR_NAME, None, parse_name)
            .unwrap_or_else(|| DEFAULT_CONNECTOR_NAME.into()),
        connector_scope: r
            .parse(CONNECTOR_SCOPE, None, |v| Ok(split_list(v)))
            .unwrap_or_else(|| vec!["stix2".into()]),
        duration_period: r.parse(CONNECTOR_DURATION_PERIOD, None, parse_iso8601_duration),
        queue_threshold_mb: o
            .queue_threshold_mb
            .or(r.parse(CONNECTOR_QUEUE_THRESHOLD, None, parse_positive_f64))
            .unwrap_or(DEFAULT_QUEUE_THRESHOLD_MB),
        log_level: r.parse(CONNECTOR_LOG_LEVEL, args.log_level.as_deref(), parse_level),
        http: http_options(r, args),
        state_file: o
            .state_file
            .clone()
            .or(r.text(DISINFOX_SYNC_STATE_FILE).map(PathBuf::from)),
        settle: o
            .settle
            .or(r.parse(DISINFOX_SYNC_SETTLE, None, parse_duration))
            .unwrap_or(DEFAULT_SETTLE),
        chunk_size: o
            .chunk_size
            .or(r.parse(DISINFOX_SYNC_CHUNK_SIZE, None, parse_size)),
        chunk_objects: o
            .chunk_objects
            .or(r.parse(DISINFOX_SYNC_CHUNK_OBJECTS, None, parse_size)),
        allow_large_chunks: o.allow_large_chunks,
        max_bundle_size: o
            .max_bundle_size
            .or(r.parse(DISINFOX_SYNC_MAX_BUNDLE_SIZE, None, parse_size))
            .unwrap_or(DEFAULT_MAX_BUNDLE_SIZE),
        disk_limit: o
            .disk_limit
            .or(r.parse(DISINFOX_SYNC_DISK_LIMIT, None, parse_size)),
        queue_protocol: mq::queue_protocol(r),
        mq: mq::mq_settings(r),
        metrics: metrics::options(r).overridden(o),
        file: r.file_path.clone(),
        warnings: Vec::new(),
        infos: Vec::new(),
        notes,
    }
}

/// `OPENCTI_JSON_LOGGING` when the configuration as a whole did not load: from the
/// environment, else from the config file if that much of it reads, so that the error is
/// reported in the format the operator asked for.
pub(crate) fn json_logging_hint(
    args: &GlobalArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<bool> {
    if let Some(v) = env(OPENCTI_JSON_LOGGING.env).filter(|v| !v.is_empty()) {
        return parse_bool(&v).ok();
    }
    let (_, value) = file::load_file(args.config.as_deref(), env, &mut Vec::new()).ok()?;
    let file = file::flatten_known(value, &mut Vec::new(), &mut Vec::new());
    parse_bool(file.get(OPENCTI_JSON_LOGGING.yaml)?).ok()
}

/// A peer's URL without a user or password: the peer's credential travels in the
/// `Authorization` header, and reqwest would add a second one (Basic) from the URL, which the
/// peer refuses (77) and which carries a credential the peer never asked for.
fn without_credentials(v: &str, setting: &str, hint: &str) -> Result<Url, String> {
    let url = parse_url(v)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "remove the user and password from the URL: {setting} is the credential sent there{hint}"
        ));
    }
    Ok(url)
}

/// Flags win outright; otherwise the environment or the file, then the defaults.
fn http_options(r: &mut Reader, args: &GlobalArgs) -> HttpOptions {
    let mut timeout = |key: &Key, flag: Option<Duration>, default: Duration| {
        flag.or_else(|| r.parse(key, None, crate::parsers::parse_timeout))
            .unwrap_or(default)
    };
    let connect_timeout = timeout(
        DISINFOX_SYNC_CONNECT_TIMEOUT,
        args.connect_timeout,
        DEFAULT_CONNECT_TIMEOUT,
    );
    let timeout = timeout(DISINFOX_SYNC_TIMEOUT, args.timeout, DEFAULT_TIMEOUT);
    let mut duration = |key: &Key, flag: Option<Duration>, default: Duration| {
        flag.or_else(|| r.parse(key, None, parse_duration))
            .unwrap_or(default)
    };
    let retry_delay = duration(
        DISINFOX_SYNC_RETRY_DELAY,
        args.retry_delay,
        DEFAULT_RETRY_DELAY,
    );
    let retries = args.retries.or_else(|| {
        r.parse(DISINFOX_SYNC_RETRIES, None, |v| {
            v.parse::<u32>()
                .map_err(|_| "expected a whole number such as 3".into())
        })
    });
    HttpOptions {
        timeout,
        connect_timeout,
        retries: retries.unwrap_or(DEFAULT_RETRIES),
        retry_delay,
        ca_cert: args
            .ca_cert
            .clone()
            .or_else(|| r.text(DISINFOX_SYNC_CA_CERT).map(PathBuf::from)),
    }
}

/// Only what the command at hand needs is required.
fn require(r: &mut Reader, cfg: &PeerParts) {
    if r.needs.disinfox {
        r.require(
            cfg.disinfox_url.is_some(),
            "DISINFOX_URL",
            "the DISINFOX endpoint, e.g. http://public-api:5000/incidents",
        );
        r.require(
            cfg.disinfox_key.is_some(),
            "DISINFOX_API_KEY",
            "your DISINFOX API key (or DISINFOX_API_KEY_FILE)",
        );
    }
    if r.needs.opencti {
        r.require(
            cfg.opencti_url.is_some(),
            "OPENCTI_URL",
            "the OpenCTI base URL, e.g. http://opencti:8080",
        );
        r.require(
            cfg.opencti_token.is_some(),
            "OPENCTI_TOKEN",
            "an OpenCTI API token (or OPENCTI_TOKEN_FILE)",
        );
        r.require(
            cfg.connector_id.is_some(),
            "CONNECTOR_ID",
            "a UUID that identifies this connector, e.g. from `uuidgen`",
        );
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// Loads with `vars` as the whole environment and an empty config.yml.
    fn load(vars: &[(&str, &str)], needs: Needs) -> Result<Config, Error> {
        run(&["fetch"], vars, needs)
    }

    /// Loads for the subcommand line `command`, its flags as overrides.
    fn run(command: &[&str], vars: &[(&str, &str)], needs: Needs) -> Result<Config, Error> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.yml");
        std::fs::write(&file, "{}\n").unwrap();
        let path = file.to_str().unwrap();
        let head = ["disinfox-sync", "--config", path];
        let cli = crate::cli::Cli::parse_from(head.iter().chain(command));
        let env = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        Config::load(&cli.global, needs, &Overrides::of(&cli.command), &env)
    }

    const BOTH: &[(&str, &str)] = &[
        ("DISINFOX_URL", "http://127.0.0.1:5000/incidents"),
        ("DISINFOX_API_KEY", "k"),
        ("OPENCTI_URL", "http://127.0.0.1:8080"),
        ("OPENCTI_TOKEN", "t"),
        ("CONNECTOR_ID", "5e2bd1fc-8f5e-4a8c-9d07-4d4a3d1f7c11"),
        ("OPENCTI_SSL_VERIFY", "false"),
    ];

    #[test]
    fn the_peers_a_command_needs_are_typed_once_loaded() {
        let needs = Needs {
            disinfox: true,
            opencti: true,
        };
        let cfg = load(BOTH, needs).unwrap();
        let dx = cfg.disinfox().unwrap();
        assert_eq!(dx.url.as_str(), "http://127.0.0.1:5000/incidents");
        assert_eq!(dx.key.expose(), "k");
        let octi = cfg.opencti().unwrap();
        assert_eq!(octi.url.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(octi.token.expose(), "t");
        assert_eq!(octi.connector_id, BOTH[4].1);
        assert!(!octi.ssl_verify);
    }

    #[test]
    fn a_peer_with_a_part_missing_is_absent_or_refused() {
        let no_token: Vec<_> = BOTH
            .iter()
            .filter(|(k, _)| *k != "OPENCTI_TOKEN")
            .copied()
            .collect();
        let fetch = Needs {
            disinfox: true,
            opencti: false,
        };
        let cfg = load(&no_token, fetch).unwrap();
        assert!(cfg.disinfox().is_ok());
        assert!(cfg.opencti.is_none());
        // The metrics label is the configured id, with or without OpenCTI.
        assert_eq!(cfg.connector_id.as_deref(), Some(BOTH[4].1));
        let sync = Needs {
            disinfox: true,
            opencti: true,
        };
        let err = load(&no_token, sync).unwrap_err().to_string();
        assert!(err.contains("missing OPENCTI_TOKEN"), "{err}");
    }

    const SETTINGS: &[(&str, &str)] = &[
        ("DISINFOX_SYNC_SETTLE", "5m"),
        ("DISINFOX_SYNC_CHUNK_SIZE", "2M"),
        ("DISINFOX_SYNC_CHUNK_OBJECTS", "100"),
        ("DISINFOX_SYNC_MAX_BUNDLE_SIZE", "5M"),
        ("DISINFOX_SYNC_STATE_FILE", "/var/lib/settings.json"),
        ("DISINFOX_SYNC_METRICS_FILE", "/var/lib/sync.prom"),
        ("DISINFOX_SYNC_PUSHGATEWAY_URL", "http://127.0.0.1:9091"),
    ];

    #[test]
    fn the_subcommands_flags_win_over_the_settings() {
        let flags = [
            "sync",
            "--settle=10s",
            "--queue-threshold=7",
            "--chunk-size=1M",
            "--chunk-objects=9",
            "--max-bundle-size=3M",
            "--state-file=/tmp/flag.json",
            "--metrics-file=/tmp/flag.prom",
            "--pushgateway=http://127.0.0.1:9092",
        ];
        let cfg = run(&flags, SETTINGS, Needs::default()).unwrap();
        assert_eq!(cfg.settle, Duration::from_secs(10));
        assert_eq!(cfg.queue_threshold_mb, 7.0);
        assert_eq!(
            (cfg.chunk_size, cfg.chunk_objects),
            (Some(1 << 20), Some(9))
        );
        assert_eq!(cfg.max_bundle_size, 3 << 20);
        assert_eq!(cfg.state_file, Some(PathBuf::from("/tmp/flag.json")));
        assert_eq!(cfg.metrics.file, Some(PathBuf::from("/tmp/flag.prom")));
        assert_eq!(cfg.metrics.pushgateway.unwrap().port(), Some(9092));
        // Without the flags, the settings.
        let cfg = run(&["sync"], SETTINGS, Needs::default()).unwrap();
        assert_eq!(cfg.settle, Duration::from_secs(300));
        assert_eq!(
            (cfg.chunk_size, cfg.chunk_objects),
            (Some(2 << 20), Some(100))
        );
        assert_eq!(cfg.max_bundle_size, 5 << 20);
        assert_eq!(
            cfg.state_file,
            Some(PathBuf::from("/var/lib/settings.json"))
        );
        assert_eq!(cfg.metrics.file, Some(PathBuf::from("/var/lib/sync.prom")));
        assert_eq!(cfg.metrics.pushgateway.unwrap().port(), Some(9091));
    }

    #[test]
    fn verify_writes_metrics_only_to_its_own_file() {
        let cfg = run(&["verify"], SETTINGS, Needs::default()).unwrap();
        assert_eq!(cfg.metrics.file, None);
        assert_eq!(cfg.metrics.pushgateway.unwrap().port(), Some(9091));
        let cfg = run(
            &["verify", "--metrics-file=/tmp/v.prom"],
            SETTINGS,
            Needs::default(),
        );
        assert_eq!(
            cfg.unwrap().metrics.file,
            Some(PathBuf::from("/tmp/v.prom"))
        );
        // `check` probes sync's file.
        let cfg = run(&["check"], SETTINGS, Needs::default()).unwrap();
        assert_eq!(cfg.metrics.file, Some(PathBuf::from("/var/lib/sync.prom")));
    }

    #[test]
    fn a_malformed_setting_is_refused_even_where_a_flag_overrides_it() {
        let vars = [("DISINFOX_SYNC_SETTLE", "soon")];
        let err = run(&["sync", "--settle=10s"], &vars, Needs::default()).unwrap_err();
        assert!(err.to_string().contains("DISINFOX_SYNC_SETTLE"), "{err}");
    }
}
