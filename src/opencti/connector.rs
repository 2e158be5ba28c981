//! The connector's life on the platform: probe, register (which also reads the state back),
//! ping (the only way to write state), queue size.

use serde_json::{Value, json};

use super::documents as doc;
use super::graphql::Graphql;
use super::version::{self, Features, Version};
use crate::error::{Error, Result};

/// What the probe learned about the platform and the token's user.
#[derive(Clone, Debug)]
pub struct Platform {
    pub version_text: String,
    pub version: Version,
    pub features: Features,
    pub user_name: String,
    pub capabilities: Vec<String>,
}

impl Platform {
    /// CONNECTORAPI (or BYPASS) is what registering, pinging and pushing require.
    pub fn has_connector_api(&self) -> bool {
        self.capabilities
            .iter()
            .any(|c| c.contains("CONNECTORAPI") || c == "BYPASS")
    }
}

/// `about` + `me` in one request: reachability, token, version and capabilities.
pub fn probe(gql: &Graphql) -> Result<Platform> {
    let data = gql.run(&doc::PROBE, json!({}))?;
    let version_text = str_at(&data, "/about/version").unwrap_or_default();
    let version = Version::parse(&version_text).ok_or_else(|| {
        Error::Protocol(format!(
            "OpenCTI reported a version that is not a release number: '{version_text}'"
        ))
    })?;
    let capabilities = data
        .pointer("/me/capabilities")
        .and_then(Value::as_array)
        .map(|caps| {
            caps.iter()
                .filter_map(|c| c.get("name")?.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(Platform {
        features: Features::of(version),
        version,
        version_text,
        user_name: str_at(&data, "/me/name").unwrap_or_default(),
        capabilities,
    })
}

/// The probe plus the two requirements of every command that writes to OpenCTI.
pub fn probe_for_import(gql: &Graphql, over_amqp: bool) -> Result<Platform> {
    let platform = probe(gql)?;
    require_import(&platform, over_amqp)?;
    log::info!(
        "OpenCTI {} at {} as {}",
        platform.version_text,
        gql.url(),
        platform.user_name
    );
    Ok(platform)
}

/// Over AMQP any release from 6.0.0 will do; HTTP ingestion starts at 6.2.6.
pub fn require_import(platform: &Platform, over_amqp: bool) -> Result<()> {
    if !platform.features.bundle_push && !over_amqp {
        return Err(Error::Unavailable(format!(
            "OpenCTI {} has no HTTP bundle ingestion (stixBundlePush; OpenCTI {} or later): set CONNECTOR_QUEUE_PROTOCOL=amqp (with the MQ_* settings) to push over its RabbitMQ, or upgrade the platform",
            platform.version_text,
            version::MIN_SUPPORTED
        ))
        .into());
    }
    if !platform.has_connector_api() {
        return Err(Error::Permission(format!(
            "the token's user '{}' lacks the CONNECTORAPI capability: give it the \"Connector\" role in OpenCTI (Settings > Security > Roles)",
            platform.user_name
        ))
        .into());
    }
    Ok(())
}

/// The connector as registration returns it.
#[derive(Clone, Debug)]
pub struct Registered {
    pub state: Option<String>,
}

/// Idempotent by id; never touches the stored state, and returns it.
pub fn register(gql: &Graphql, id: &str, name: &str, scope: &[String]) -> Result<Registered> {
    let data = gql.run(
        &doc::REGISTER,
        json!({ "input": doc::register_input(id, name, scope) }),
    )?;
    let c = data
        .get("registerConnector")
        .filter(|c| !c.is_null())
        .ok_or_else(|| {
            Error::Protocol("OpenCTI answered registerConnector without a connector".into())
        })?;
    if let Some(user) = c.get("connector_user_id").and_then(Value::as_str) {
        log::debug!("connector {id} registered; it runs as OpenCTI user {user}");
    }
    Ok(Registered {
        state: c
            .get("connector_state")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// The stored state, read without registering (no mutation). A connector never registered
/// has none; a user without MODULES cannot read it, which is reported and taken as none.
pub fn read_state(gql: &Graphql, id: &str) -> Result<Registered> {
    match gql.run(&doc::STATE, json!({ "id": id })) {
        Ok(data) => Ok(Registered {
            state: str_at(&data, "/connector/connector_state"),
        }),
        Err(e) if matches!(e.downcast_ref::<Error>(), Some(Error::Permission(_))) => {
            log::warn!(
                "cannot read the connector's stored state without registering (the token's user lacks MODULES); the dry run starts from the beginning"
            );
            Ok(Registered { state: None })
        }
        Err(e) => Err(e),
    }
}

/// Writes `state`; returns the state the platform holds afterwards (a pending UI reset makes
/// the platform ignore one ping — the caller compares and pings again).
pub fn ping(
    gql: &Graphql,
    platform: &Platform,
    id: &str,
    state: &str,
    info: Option<Value>,
) -> Result<Option<String>> {
    let data = match info.filter(|_| platform.features.connector_info) {
        Some(info) => gql.run(
            &doc::PING_WITH_INFO,
            json!({ "id": id, "state": state, "connectorInfo": info }),
        )?,
        None => gql.run(&doc::PING, json!({ "id": id, "state": state }))?,
    };
    Ok(data
        .pointer("/pingConnector/connector_state")
        .and_then(Value::as_str)
        .map(str::to_owned))
}

/// Queue size in MB (÷ 1,000,000, as pycti), or `None` when this platform or user cannot tell.
pub fn queue_mb(gql: &Graphql, platform: &Platform, id: &str) -> Result<Option<f64>> {
    if !platform.features.queue_details {
        return Ok(None);
    }
    match gql.run(&doc::QUEUE, json!({ "id": id })) {
        Ok(data) => Ok(data
            .pointer("/connector/connector_queue_details/messages_size")
            .and_then(Value::as_f64)
            .map(|bytes| bytes / 1_000_000.0)),
        // Reading a connector needs MODULES; a user without it can still import.
        Err(e) if matches!(e.downcast_ref::<Error>(), Some(Error::Permission(_))) => {
            log::warn!(
                "cannot read the connector's queue size (the token's user lacks MODULES); skipping the queue check"
            );
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn str_at(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
}
