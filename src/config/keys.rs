//! Every setting's config.yml key and environment variable: the Python connector's names,
//! plus `disinfox_sync.*` for what only this CLI has.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Group {
    General,
    Disinfox,
    Opencti,
}

/// The subcommands a setting matters to: its `--help` and man page list it.
pub(crate) type Commands = &'static [&'static str];
pub(crate) const ALL: Commands = &["fetch", "push", "sync", "reset-state", "check"];
pub(crate) const DX: Commands = &["fetch", "sync", "check"];
pub(crate) const CTI: Commands = &["push", "sync", "reset-state", "check"];
pub(crate) const PUSHING: Commands = &["push", "sync", "check"];
pub(crate) const STATEFUL: Commands = &["sync", "reset-state", "check"];
pub(crate) const SYNC: Commands = &["sync"];
pub(crate) const CHUNKING: Commands = &["push", "sync"];
pub(crate) const BUNDLES: Commands = &["fetch", "push", "sync"];

/// A setting: its config.yml key, its environment variable, the group that needs it, the
/// subcommands it matters to, whether it is a secret (then `ENV_FILE` names a file holding
/// it, and it has no flag), and its one-line description for `--help` and the man pages.
pub(crate) struct Key {
    pub yaml: &'static str,
    pub env: &'static str,
    pub group: Group,
    pub commands: Commands,
    pub secret: bool,
    pub help: &'static str,
}

/// Every setting, declared once: the readers' constants below, clap's `env`, the man pages'
/// and `--help`'s ENVIRONMENT lists and the config.yml keys all derive from this table.
pub(crate) const KEYS: &[Key] = &[
    key(
        "opencti.url",
        "OPENCTI_URL",
        Group::Opencti,
        CTI,
        "OpenCTI base URL, without /graphql.",
    ),
    secret(
        "opencti.token",
        "OPENCTI_TOKEN",
        Group::Opencti,
        CTI,
        "OpenCTI API token, or OPENCTI_TOKEN_FILE naming a file that holds it.",
    ),
    key(
        "opencti.ssl_verify",
        "OPENCTI_SSL_VERIFY",
        Group::Opencti,
        CTI,
        "false turns TLS verification off for OpenCTI, with a warning; default true.",
    ),
    key(
        "connector.id",
        "CONNECTOR_ID",
        Group::Opencti,
        CTI,
        "UUID of this connector in OpenCTI, whose state holds the cursor; your own, e.g. from uuidgen (the documentation's examples are refused).",
    ),
    key(
        "connector.name",
        "CONNECTOR_NAME",
        Group::Opencti,
        CTI,
        "Connector name shown in OpenCTI and in JSON log lines; default DISINFOX.",
    ),
    key(
        "connector.scope",
        "CONNECTOR_SCOPE",
        Group::Opencti,
        CTI,
        "Comma-separated connector scope; default stix2.",
    ),
    key(
        "connector.log_level",
        "CONNECTOR_LOG_LEVEL",
        Group::General,
        ALL,
        "error (or critical), warn, info or debug; default info.",
    ),
    key(
        "connector.duration_period",
        "CONNECTOR_DURATION_PERIOD",
        Group::Opencti,
        SYNC,
        "ISO-8601 schedule such as PT1H; informational, shown as the next run in OpenCTI.",
    ),
    key(
        "connector.queue_threshold",
        "CONNECTOR_QUEUE_THRESHOLD",
        Group::Opencti,
        SYNC,
        "Queue size in MB above which sync skips its run; default 500.",
    ),
    key(
        "connector.queue_protocol",
        "CONNECTOR_QUEUE_PROTOCOL",
        Group::Opencti,
        PUSHING,
        "How bundles reach OpenCTI: api (stixBundlePush, the default) or amqp (its RabbitMQ).",
    ),
    key(
        "mq.host",
        "MQ_HOST",
        Group::Opencti,
        PUSHING,
        "Broker host for amqp; overrides what OpenCTI reports.",
    ),
    key(
        "mq.port",
        "MQ_PORT",
        Group::Opencti,
        PUSHING,
        "Broker port for amqp; overrides what OpenCTI reports.",
    ),
    key(
        "mq.vhost",
        "MQ_VHOST",
        Group::Opencti,
        PUSHING,
        "Broker virtual host for amqp; overrides what OpenCTI reports.",
    ),
    key(
        "mq.use_ssl",
        "MQ_USE_SSL",
        Group::Opencti,
        PUSHING,
        "TLS to the broker (true or false); overrides what OpenCTI reports.",
    ),
    key(
        "mq.user",
        "MQ_USER",
        Group::Opencti,
        PUSHING,
        "Broker user for amqp; overrides what OpenCTI reports.",
    ),
    secret(
        "mq.pass",
        "MQ_PASS",
        Group::Opencti,
        PUSHING,
        "Broker password for amqp, or MQ_PASS_FILE naming a file that holds it.",
    ),
    key(
        "mq.use_ssl_ca",
        "MQ_USE_SSL_CA",
        Group::Opencti,
        PUSHING,
        "PEM file of the CAs the broker's certificate must chain to; default the system roots.",
    ),
    key(
        "mq.use_ssl_cert",
        "MQ_USE_SSL_CERT",
        Group::Opencti,
        PUSHING,
        "PEM client certificate for the broker (with MQ_USE_SSL_KEY).",
    ),
    key(
        "mq.use_ssl_key",
        "MQ_USE_SSL_KEY",
        Group::Opencti,
        PUSHING,
        "PEM private key of the client certificate, unencrypted (decrypt one with openssl pkey).",
    ),
    secret(
        "mq.use_ssl_passphrase",
        "MQ_USE_SSL_PASSPHRASE",
        Group::Opencti,
        PUSHING,
        "pycti's passphrase of an encrypted MQ_USE_SSL_KEY: such a key is refused with the openssl command that decrypts it.",
    ),
    key(
        "mq.use_ssl_reject_unauthorized",
        "MQ_USE_SSL_REJECT_UNAUTHORIZED",
        Group::Opencti,
        PUSHING,
        "false accepts any broker certificate; default true.",
    ),
    key(
        "disinfox.url",
        "DISINFOX_URL",
        Group::Disinfox,
        DX,
        "DISINFOX base URL or full /incidents endpoint.",
    ),
    secret(
        "disinfox.api_key",
        "DISINFOX_API_KEY",
        Group::Disinfox,
        DX,
        "DISINFOX API key, or DISINFOX_API_KEY_FILE naming a file that holds it.",
    ),
    key(
        "disinfox_sync.state_file",
        "DISINFOX_SYNC_STATE_FILE",
        Group::General,
        STATEFUL,
        "Keep the cursor in this file instead of OpenCTI's connector state.",
    ),
    key(
        "disinfox_sync.settle",
        "DISINFOX_SYNC_SETTLE",
        Group::General,
        SYNC,
        "How far the cursor stays behind DISINFOX's clock; default 60s.",
    ),
    key(
        "disinfox_sync.timeout",
        "DISINFOX_SYNC_TIMEOUT",
        Group::General,
        ALL,
        "Total time for one HTTP request (--timeout); default 120s.",
    ),
    key(
        "disinfox_sync.connect_timeout",
        "DISINFOX_SYNC_CONNECT_TIMEOUT",
        Group::General,
        ALL,
        "Time to establish a connection (--connect-timeout); default 10s.",
    ),
    key(
        "disinfox_sync.retries",
        "DISINFOX_SYNC_RETRIES",
        Group::General,
        ALL,
        "Retries after a temporary failure (--retries); default 3.",
    ),
    key(
        "disinfox_sync.retry_delay",
        "DISINFOX_SYNC_RETRY_DELAY",
        Group::General,
        ALL,
        "First backoff delay between retries (--retry-delay); default 1s.",
    ),
    key(
        "disinfox_sync.ca_cert",
        "DISINFOX_SYNC_CA_CERT",
        Group::General,
        ALL,
        "PEM file of extra CA certificates to trust (--ca-cert).",
    ),
    key(
        "disinfox_sync.chunk_size",
        "DISINFOX_SYNC_CHUNK_SIZE",
        Group::General,
        CHUNKING,
        "Largest request per chunk (--chunk-size); default 10M.",
    ),
    key(
        "disinfox_sync.chunk_objects",
        "DISINFOX_SYNC_CHUNK_OBJECTS",
        Group::General,
        CHUNKING,
        "Most objects per chunk (--chunk-objects); default 25000.",
    ),
    key(
        "disinfox_sync.max_bundle_size",
        "DISINFOX_SYNC_MAX_BUNDLE_SIZE",
        Group::General,
        BUNDLES,
        "Largest bundle accepted (--max-bundle-size); default 1G.",
    ),
    key(
        "disinfox_sync.disk_limit",
        "DISINFOX_SYNC_DISK_LIMIT",
        Group::General,
        SYNC,
        "Most bytes sync may write under TMPDIR to stage DISINFOX's answer (--disk-limit); default: TMPDIR's free space.",
    ),
    key(
        "disinfox_sync.metrics_file",
        "DISINFOX_SYNC_METRICS_FILE",
        Group::General,
        SYNC,
        "sync writes its metrics to this file for node_exporter's textfile collector (--metrics-file).",
    ),
    key(
        "disinfox_sync.pushgateway_url",
        "DISINFOX_SYNC_PUSHGATEWAY_URL",
        Group::General,
        SYNC,
        "sync pushes its metrics to this Prometheus Pushgateway (--pushgateway).",
    ),
    key(
        "disinfox_sync.pushgateway_user",
        "DISINFOX_SYNC_PUSHGATEWAY_USER",
        Group::General,
        SYNC,
        "Basic-auth user for the Pushgateway.",
    ),
    secret(
        "disinfox_sync.pushgateway_password",
        "DISINFOX_SYNC_PUSHGATEWAY_PASSWORD",
        Group::General,
        SYNC,
        "Basic-auth password for the Pushgateway, or DISINFOX_SYNC_PUSHGATEWAY_PASSWORD_FILE naming a file that holds it.",
    ),
    key(
        "opencti.custom_headers",
        "OPENCTI_CUSTOM_HEADERS",
        Group::Opencti,
        CTI,
        "Extra headers for every OpenCTI request, as 'Name: value' pairs separated by ';'.",
    ),
    key(
        "opencti.json_logging",
        "OPENCTI_JSON_LOGGING",
        Group::General,
        ALL,
        "true logs one JSON object per line, with pycti's fields (--log-format wins).",
    ),
];

/// Keys pycti's connector helper reads (and the Python DISINFOX connector's config.yml may
/// carry) that mean nothing to a one-shot CLI pushing one bundle: noted at debug level, not
/// warned about, so that a pycti `config.yml` runs as it is. From pycti 6.8.10,
/// `pycti/connector/opencti_connector_helper.py`: the `get_config_variable` calls of
/// `OpenCTIConnectorHelper.__init__` and of `create_mq_ssl_context`; plus the keys older pycti
/// read and connector samples still carry (`confidence_level`, deprecated since OpenCTI 6.0,
/// and `update_existing_data`).
pub(super) const PYCTI_UNUSED_KEYS: &[&str] = &[
    "connector.type",
    "connector.auto",
    "connector.auto_update",
    "connector.run_and_terminate",
    "connector.confidence_level",
    "connector.update_existing_data",
    "connector.only_contextual",
    "connector.validate_before_import",
    "connector.enrichment_resolution",
    "connector.expose_metrics",
    "connector.metrics_port",
    "connector.metrics_namespace",
    "connector.metrics_subsystem",
    "connector.listen_protocol",
    "connector.listen_protocol_api_path",
    "connector.listen_protocol_api_port",
    "connector.listen_protocol_api_ssl",
    "connector.listen_protocol_api_uri",
    "connector.listen_protocol_api_ssl_cert",
    "connector.listen_protocol_api_ssl_key",
    "connector.listen_protocol_api_ssl_passphrase",
    "connector.live_stream_id",
    "connector.live_stream_listen_delete",
    "connector.live_stream_no_dependencies",
    "connector.live_stream_recover_iso_date",
    "connector.live_stream_start_timestamp",
    "connector.live_stream_with_inferences",
    "connector.send_to_queue",
    "connector.send_to_directory",
    "connector.send_to_directory_path",
    "connector.send_to_directory_retention",
];

const fn key(
    yaml: &'static str,
    env: &'static str,
    group: Group,
    commands: Commands,
    help: &'static str,
) -> Key {
    Key {
        yaml,
        env,
        group,
        commands,
        secret: false,
        help,
    }
}

const fn secret(
    yaml: &'static str,
    env: &'static str,
    group: Group,
    commands: Commands,
    help: &'static str,
) -> Key {
    Key {
        secret: true,
        ..key(yaml, env, group, commands, help)
    }
}

/// The entry of `KEYS` for a config.yml path, found while compiling: a path that is not in
/// `KEYS` stops the build, so the constants below cannot drift from the table.
const fn find(yaml: &str) -> &'static Key {
    let keys: &'static [Key] = KEYS;
    let mut i = 0;
    while i < keys.len() {
        if same(keys[i].yaml.as_bytes(), yaml.as_bytes()) {
            return &keys[i];
        }
        i += 1;
    }
    panic!("a key constant names a path that is not in KEYS");
}

const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

// One constant per setting, named as its environment variable: the readers take these, so a
// misspelt setting is a compile error rather than a panic at run time.
pub(crate) const OPENCTI_URL: &Key = find("opencti.url");
pub(crate) const OPENCTI_TOKEN: &Key = find("opencti.token");
pub(crate) const OPENCTI_SSL_VERIFY: &Key = find("opencti.ssl_verify");
pub(crate) const CONNECTOR_ID: &Key = find("connector.id");
pub(crate) const CONNECTOR_NAME: &Key = find("connector.name");
pub(crate) const CONNECTOR_SCOPE: &Key = find("connector.scope");
pub(crate) const CONNECTOR_LOG_LEVEL: &Key = find("connector.log_level");
pub(crate) const CONNECTOR_DURATION_PERIOD: &Key = find("connector.duration_period");
pub(crate) const CONNECTOR_QUEUE_THRESHOLD: &Key = find("connector.queue_threshold");
pub(crate) const CONNECTOR_QUEUE_PROTOCOL: &Key = find("connector.queue_protocol");
pub(crate) const MQ_HOST: &Key = find("mq.host");
pub(crate) const MQ_PORT: &Key = find("mq.port");
pub(crate) const MQ_VHOST: &Key = find("mq.vhost");
pub(crate) const MQ_USE_SSL: &Key = find("mq.use_ssl");
pub(crate) const MQ_USER: &Key = find("mq.user");
pub(crate) const MQ_PASS: &Key = find("mq.pass");
pub(crate) const MQ_USE_SSL_CA: &Key = find("mq.use_ssl_ca");
pub(crate) const MQ_USE_SSL_CERT: &Key = find("mq.use_ssl_cert");
pub(crate) const MQ_USE_SSL_KEY: &Key = find("mq.use_ssl_key");
pub(crate) const MQ_USE_SSL_PASSPHRASE: &Key = find("mq.use_ssl_passphrase");
pub(crate) const MQ_USE_SSL_REJECT_UNAUTHORIZED: &Key = find("mq.use_ssl_reject_unauthorized");
pub(crate) const DISINFOX_URL: &Key = find("disinfox.url");
pub(crate) const DISINFOX_API_KEY: &Key = find("disinfox.api_key");
pub(crate) const DISINFOX_SYNC_STATE_FILE: &Key = find("disinfox_sync.state_file");
pub(crate) const DISINFOX_SYNC_SETTLE: &Key = find("disinfox_sync.settle");
pub(crate) const DISINFOX_SYNC_TIMEOUT: &Key = find("disinfox_sync.timeout");
pub(crate) const DISINFOX_SYNC_CONNECT_TIMEOUT: &Key = find("disinfox_sync.connect_timeout");
pub(crate) const DISINFOX_SYNC_RETRIES: &Key = find("disinfox_sync.retries");
pub(crate) const DISINFOX_SYNC_RETRY_DELAY: &Key = find("disinfox_sync.retry_delay");
pub(crate) const DISINFOX_SYNC_CA_CERT: &Key = find("disinfox_sync.ca_cert");
pub(crate) const DISINFOX_SYNC_CHUNK_SIZE: &Key = find("disinfox_sync.chunk_size");
pub(crate) const DISINFOX_SYNC_CHUNK_OBJECTS: &Key = find("disinfox_sync.chunk_objects");
pub(crate) const DISINFOX_SYNC_MAX_BUNDLE_SIZE: &Key = find("disinfox_sync.max_bundle_size");
pub(crate) const DISINFOX_SYNC_DISK_LIMIT: &Key = find("disinfox_sync.disk_limit");
pub(crate) const DISINFOX_SYNC_METRICS_FILE: &Key = find("disinfox_sync.metrics_file");
pub(crate) const DISINFOX_SYNC_PUSHGATEWAY_URL: &Key = find("disinfox_sync.pushgateway_url");
pub(crate) const DISINFOX_SYNC_PUSHGATEWAY_USER: &Key = find("disinfox_sync.pushgateway_user");
pub(crate) const DISINFOX_SYNC_PUSHGATEWAY_PASSWORD: &Key =
    find("disinfox_sync.pushgateway_password");
pub(crate) const OPENCTI_CUSTOM_HEADERS: &Key = find("opencti.custom_headers");
pub(crate) const OPENCTI_JSON_LOGGING: &Key = find("opencti.json_logging");

/// The command-line flag that overrides a key, for error messages.
pub(super) fn flag_name(key: &Key) -> String {
    let leaf = key.yaml.rsplit('.').next().unwrap_or(key.yaml);
    match key.yaml {
        "disinfox.url" => "disinfox-url".into(),
        "opencti.url" => "opencti-url".into(),
        "connector.log_level" => "log-level".into(),
        "disinfox_sync.pushgateway_url" => "pushgateway".into(),
        _ => leaf.replace('_', "-"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every constant is its own entry of `KEYS`, and no two entries share a path or a variable.
    #[test]
    fn constants_are_the_entries_of_keys() {
        let constants = [
            OPENCTI_URL,
            OPENCTI_TOKEN,
            OPENCTI_SSL_VERIFY,
            CONNECTOR_ID,
            CONNECTOR_NAME,
            CONNECTOR_SCOPE,
            CONNECTOR_LOG_LEVEL,
            CONNECTOR_DURATION_PERIOD,
            CONNECTOR_QUEUE_THRESHOLD,
            CONNECTOR_QUEUE_PROTOCOL,
            MQ_HOST,
            MQ_PORT,
            MQ_VHOST,
            MQ_USE_SSL,
            MQ_USER,
            MQ_PASS,
            MQ_USE_SSL_CA,
            MQ_USE_SSL_CERT,
            MQ_USE_SSL_KEY,
            MQ_USE_SSL_PASSPHRASE,
            MQ_USE_SSL_REJECT_UNAUTHORIZED,
            DISINFOX_URL,
            DISINFOX_API_KEY,
            DISINFOX_SYNC_STATE_FILE,
            DISINFOX_SYNC_SETTLE,
            DISINFOX_SYNC_TIMEOUT,
            DISINFOX_SYNC_CONNECT_TIMEOUT,
            DISINFOX_SYNC_RETRIES,
            DISINFOX_SYNC_RETRY_DELAY,
            DISINFOX_SYNC_CA_CERT,
            DISINFOX_SYNC_CHUNK_SIZE,
            DISINFOX_SYNC_CHUNK_OBJECTS,
            DISINFOX_SYNC_MAX_BUNDLE_SIZE,
            DISINFOX_SYNC_DISK_LIMIT,
            DISINFOX_SYNC_METRICS_FILE,
            DISINFOX_SYNC_PUSHGATEWAY_URL,
            DISINFOX_SYNC_PUSHGATEWAY_USER,
            DISINFOX_SYNC_PUSHGATEWAY_PASSWORD,
            OPENCTI_CUSTOM_HEADERS,
            OPENCTI_JSON_LOGGING,
        ];
        assert_eq!(constants.len(), KEYS.len(), "a key lacks its constant");
        for c in constants {
            let entry = KEYS.iter().find(|k| k.yaml == c.yaml);
            let same = entry.is_some_and(|k| k.env == c.env && k.group == c.group);
            assert!(same, "{} not in KEYS", c.yaml);
            assert_eq!(c.env, c.yaml.to_uppercase().replace('.', "_"));
        }
        for (i, a) in KEYS.iter().enumerate() {
            for b in &KEYS[i + 1..] {
                assert!(a.yaml != b.yaml && a.env != b.env, "{} twice", a.yaml);
            }
        }
    }
}
