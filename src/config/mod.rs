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
    pub disinfox_url: Option<Url>,
    pub disinfox_key: Option<Secret>,
    pub opencti_url: Option<Url>,
    pub opencti_token: Option<Secret>,
    pub opencti_ssl_verify: bool,
    /// `OPENCTI_CUSTOM_HEADERS`, sent with every OpenCTI request.
    pub opencti_custom_headers: Vec<CustomHeader>,
    /// `OPENCTI_JSON_LOGGING`; `--log-format` wins over it.
    pub json_logging: Option<bool>,
    pub connector_id: Option<String>,
    pub connector_name: String,
    pub connector_scope: Vec<String>,
    pub duration_period: Option<Duration>,
    pub queue_threshold_mb: f64,
    pub log_level: Option<LevelFilter>,
    pub http: HttpOptions,
    pub state_file: Option<PathBuf>,
    pub settle: Duration,
    pub chunk_size: Option<u64>,
    pub chunk_objects: Option<u64>,
    pub max_bundle_size: u64,
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

#[derive(Clone, Debug)]
pub(crate) struct HttpOptions {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub retries: u32,
    pub retry_delay: Duration,
    pub ca_cert: Option<PathBuf>,
}

impl Config {
    /// Loads and validates. Every problem is one line of the returned error (exit 78).
    pub(crate) fn load(
        args: &GlobalArgs,
        needs: Needs,
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
        let cfg = read(&mut r, args, notes);
        mq::check_key_encryption(&mut r, &cfg.mq, cfg.queue_protocol);
        require(&mut r, &cfg);
        // Said at info, not as a warning: pycti's own config.yml template carries
        // `run_and_terminate: false`, and such a file must run without a warning.
        let schedule = schedule::loop_warning(run_and_terminate.as_deref(), cfg.duration_period);
        if !r.errors.is_empty() {
            return Err(Error::Config(r.errors.join("\n")));
        }
        Ok(Config {
            warnings: r.warnings,
            infos: schedule.into_iter().collect(),
            ..cfg
        })
    }
}

/// Every setting, read through `r` (flags in `args` first); problems collect in `r`.
fn read(r: &mut Reader<'_>, args: &GlobalArgs, notes: Vec<String>) -> Config {
    Config {
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
        opencti_ssl_verify: r
            .parse(OPENCTI_SSL_VERIFY, None, parse_bool)
            .unwrap_or(true),
        opencti_custom_headers: r
            .parse(OPENCTI_CUSTOM_HEADERS, None, headers::parse_custom_headers)
            .unwrap_or_default(),
        json_logging: r.parse(OPENCTI_JSON_LOGGING, None, parse_bool),
        // Kept exactly as configured: OpenCTI names the connector's queue from this string,
        // and its workers read the queue of the id as stored (case matters there).
        connector_id: r.parse(CONNECTOR_ID, None, examples::parse_connector_id),
        connector_name: r
            .parse(CONNECTOR_NAME, None, parse_name)
            .unwrap_or_else(|| DEFAULT_CONNECTOR_NAME.into()),
        connector_scope: r
            .parse(CONNECTOR_SCOPE, None, |v| Ok(split_list(v)))
            .unwrap_or_else(|| vec!["stix2".into()]),
        duration_period: r.parse(CONNECTOR_DURATION_PERIOD, None, parse_iso8601_duration),
        queue_threshold_mb: r
            .parse(CONNECTOR_QUEUE_THRESHOLD, None, parse_positive_f64)
            .unwrap_or(DEFAULT_QUEUE_THRESHOLD_MB),
        log_level: r.parse(CONNECTOR_LOG_LEVEL, args.log_level.as_deref(), parse_level),
        http: http_options(r, args),
        state_file: r.text(DISINFOX_SYNC_STATE_FILE).map(PathBuf::from),
        settle: r
            .parse(DISINFOX_SYNC_SETTLE, None, parse_duration)
            .unwrap_or(DEFAULT_SETTLE),
        chunk_size: r.parse(DISINFOX_SYNC_CHUNK_SIZE, None, parse_size),
        chunk_objects: r.parse(DISINFOX_SYNC_CHUNK_OBJECTS, None, parse_size),
        max_bundle_size: r
            .parse(DISINFOX_SYNC_MAX_BUNDLE_SIZE, None, parse_size)
            .unwrap_or(DEFAULT_MAX_BUNDLE_SIZE),
        queue_protocol: mq::queue_protocol(r),
        mq: mq::mq_settings(r),
        metrics: metrics::options(r),
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
fn require(r: &mut Reader, cfg: &Config) {
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
