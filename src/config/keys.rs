//! Every setting's config.yml key and environment variable: the Python connector's names,
//! plus `disinfox_sync.*` for what only this CLI has.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Group {
    General,
    Disinfox,
    Opencti,
}

/// A config.yml key, its environment variable, and the group that needs it.
pub(super) struct Key {
    pub yaml: &'static str,
    pub env: &'static str,
    pub group: Group,
}

pub(super) const KEYS: &[Key] = &[
    key("opencti.url", "OPENCTI_URL", Group::Opencti),
    key("opencti.token", "OPENCTI_TOKEN", Group::Opencti),
    key("opencti.ssl_verify", "OPENCTI_SSL_VERIFY", Group::Opencti),
    key("connector.id", "CONNECTOR_ID", Group::Opencti),
    key("connector.name", "CONNECTOR_NAME", Group::Opencti),
    key("connector.scope", "CONNECTOR_SCOPE", Group::Opencti),
    key("connector.log_level", "CONNECTOR_LOG_LEVEL", Group::General),
    key(
        "connector.duration_period",
        "CONNECTOR_DURATION_PERIOD",
        Group::Opencti,
    ),
    key(
        "connector.queue_threshold",
        "CONNECTOR_QUEUE_THRESHOLD",
        Group::Opencti,
    ),
    key(
        "connector.queue_protocol",
        "CONNECTOR_QUEUE_PROTOCOL",
        Group::Opencti,
    ),
    key("mq.host", "MQ_HOST", Group::Opencti),
    key("mq.port", "MQ_PORT", Group::Opencti),
    key("mq.vhost", "MQ_VHOST", Group::Opencti),
    key("mq.use_ssl", "MQ_USE_SSL", Group::Opencti),
    key("mq.user", "MQ_USER", Group::Opencti),
    key("mq.pass", "MQ_PASS", Group::Opencti),
    key("mq.use_ssl_ca", "MQ_USE_SSL_CA", Group::Opencti),
    key("mq.use_ssl_cert", "MQ_USE_SSL_CERT", Group::Opencti),
    key("mq.use_ssl_key", "MQ_USE_SSL_KEY", Group::Opencti),
    key(
        "mq.use_ssl_passphrase",
        "MQ_USE_SSL_PASSPHRASE",
        Group::Opencti,
    ),
    key(
        "mq.use_ssl_reject_unauthorized",
        "MQ_USE_SSL_REJECT_UNAUTHORIZED",
        Group::Opencti,
    ),
    key("disinfox.url", "DISINFOX_URL", Group::Disinfox),
    key("disinfox.api_key", "DISINFOX_API_KEY", Group::Disinfox),
    key(
        "disinfox_sync.state_file",
        "DISINFOX_SYNC_STATE_FILE",
        Group::General,
    ),
    key(
        "disinfox_sync.settle",
        "DISINFOX_SYNC_SETTLE",
        Group::General,
    ),
    key(
        "disinfox_sync.timeout",
        "DISINFOX_SYNC_TIMEOUT",
        Group::General,
    ),
    key(
        "disinfox_sync.connect_timeout",
        "DISINFOX_SYNC_CONNECT_TIMEOUT",
        Group::General,
    ),
    key(
        "disinfox_sync.retries",
        "DISINFOX_SYNC_RETRIES",
        Group::General,
    ),
    key(
        "disinfox_sync.retry_delay",
        "DISINFOX_SYNC_RETRY_DELAY",
        Group::General,
    ),
    key(
        "disinfox_sync.ca_cert",
        "DISINFOX_SYNC_CA_CERT",
        Group::General,
    ),
    key(
        "disinfox_sync.chunk_size",
        "DISINFOX_SYNC_CHUNK_SIZE",
        Group::General,
    ),
    key(
        "disinfox_sync.chunk_objects",
        "DISINFOX_SYNC_CHUNK_OBJECTS",
        Group::General,
    ),
    key(
        "disinfox_sync.max_bundle_size",
        "DISINFOX_SYNC_MAX_BUNDLE_SIZE",
        Group::General,
    ),
    key(
        "disinfox_sync.metrics_file",
        "DISINFOX_SYNC_METRICS_FILE",
        Group::General,
    ),
    key(
        "disinfox_sync.pushgateway_url",
        "DISINFOX_SYNC_PUSHGATEWAY_URL",
        Group::General,
    ),
    key(
        "disinfox_sync.pushgateway_user",
        "DISINFOX_SYNC_PUSHGATEWAY_USER",
        Group::General,
    ),
    key(
        "disinfox_sync.pushgateway_password",
        "DISINFOX_SYNC_PUSHGATEWAY_PASSWORD",
        Group::General,
    ),
    key(
        "opencti.custom_headers",
        "OPENCTI_CUSTOM_HEADERS",
        Group::Opencti,
    ),
    key(
        "opencti.json_logging",
        "OPENCTI_JSON_LOGGING",
        Group::General,
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

const fn key(yaml: &'static str, env: &'static str, group: Group) -> Key {
    Key { yaml, env, group }
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
pub(super) const OPENCTI_URL: &Key = find("opencti.url");
pub(super) const OPENCTI_TOKEN: &Key = find("opencti.token");
pub(super) const OPENCTI_SSL_VERIFY: &Key = find("opencti.ssl_verify");
pub(super) const CONNECTOR_ID: &Key = find("connector.id");
pub(super) const CONNECTOR_NAME: &Key = find("connector.name");
pub(super) const CONNECTOR_SCOPE: &Key = find("connector.scope");
pub(super) const CONNECTOR_LOG_LEVEL: &Key = find("connector.log_level");
pub(super) const CONNECTOR_DURATION_PERIOD: &Key = find("connector.duration_period");
pub(super) const CONNECTOR_QUEUE_THRESHOLD: &Key = find("connector.queue_threshold");
pub(super) const CONNECTOR_QUEUE_PROTOCOL: &Key = find("connector.queue_protocol");
pub(super) const MQ_HOST: &Key = find("mq.host");
pub(super) const MQ_PORT: &Key = find("mq.port");
pub(super) const MQ_VHOST: &Key = find("mq.vhost");
pub(super) const MQ_USE_SSL: &Key = find("mq.use_ssl");
pub(super) const MQ_USER: &Key = find("mq.user");
pub(super) const MQ_PASS: &Key = find("mq.pass");
pub(super) const MQ_USE_SSL_CA: &Key = find("mq.use_ssl_ca");
pub(super) const MQ_USE_SSL_CERT: &Key = find("mq.use_ssl_cert");
pub(super) const MQ_USE_SSL_KEY: &Key = find("mq.use_ssl_key");
pub(super) const MQ_USE_SSL_PASSPHRASE: &Key = find("mq.use_ssl_passphrase");
pub(super) const MQ_USE_SSL_REJECT_UNAUTHORIZED: &Key = find("mq.use_ssl_reject_unauthorized");
pub(super) const DISINFOX_URL: &Key = find("disinfox.url");
pub(super) const DISINFOX_API_KEY: &Key = find("disinfox.api_key");
pub(super) const DISINFOX_SYNC_STATE_FILE: &Key = find("disinfox_sync.state_file");
pub(super) const DISINFOX_SYNC_SETTLE: &Key = find("disinfox_sync.settle");
pub(super) const DISINFOX_SYNC_TIMEOUT: &Key = find("disinfox_sync.timeout");
pub(super) const DISINFOX_SYNC_CONNECT_TIMEOUT: &Key = find("disinfox_sync.connect_timeout");
pub(super) const DISINFOX_SYNC_RETRIES: &Key = find("disinfox_sync.retries");
pub(super) const DISINFOX_SYNC_RETRY_DELAY: &Key = find("disinfox_sync.retry_delay");
pub(super) const DISINFOX_SYNC_CA_CERT: &Key = find("disinfox_sync.ca_cert");
pub(super) const DISINFOX_SYNC_CHUNK_SIZE: &Key = find("disinfox_sync.chunk_size");
pub(super) const DISINFOX_SYNC_CHUNK_OBJECTS: &Key = find("disinfox_sync.chunk_objects");
pub(super) const DISINFOX_SYNC_MAX_BUNDLE_SIZE: &Key = find("disinfox_sync.max_bundle_size");
pub(super) const DISINFOX_SYNC_METRICS_FILE: &Key = find("disinfox_sync.metrics_file");
pub(super) const DISINFOX_SYNC_PUSHGATEWAY_URL: &Key = find("disinfox_sync.pushgateway_url");
pub(super) const DISINFOX_SYNC_PUSHGATEWAY_USER: &Key = find("disinfox_sync.pushgateway_user");
pub(super) const DISINFOX_SYNC_PUSHGATEWAY_PASSWORD: &Key =
    find("disinfox_sync.pushgateway_password");
pub(super) const OPENCTI_CUSTOM_HEADERS: &Key = find("opencti.custom_headers");
pub(super) const OPENCTI_JSON_LOGGING: &Key = find("opencti.json_logging");

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
