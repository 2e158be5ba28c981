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

/// Keys the Python connector's config.yml may carry that mean nothing to a one-shot CLI.
pub(super) const IGNORED_KEYS: &[&str] = &[
    "connector.type",
    "connector.run_and_terminate",
    "connector.confidence_level",
    "connector.update_existing_data",
    "connector.expose_metrics",
];

const fn key(yaml: &'static str, env: &'static str, group: Group) -> Key {
    Key { yaml, env, group }
}

/// The key for a config.yml path; only called with the literal paths of `KEYS`.
pub(super) fn k(yaml: &str) -> &'static Key {
    KEYS.iter().find(|k| k.yaml == yaml).expect("known key")
}

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
