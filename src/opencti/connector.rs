//! The connector's life on the platform: probe, register (which also reads the state back),
//! ping (the only way to write state), queue size.

use serde_json::{Value, json};

use super::documents as doc;
use super::graphql::Graphql;
use super::version::{self, Features, Version};
use crate::error::{Error, Result};

/// What the probe learned about the platform and the token's user.
#[derive(Clone, Debug)]
pub(crate) struct Platform {
    pub version_text: String,
    pub version: Version,
    pub features: Features,
    pub user_name: String,
    pub capabilities: Vec<String>,
}

impl Platform {
    /// OpenCTI's `@auth` test: the required name is a substring of one of the user's
    /// capability names (`MODULES_MODMANAGE` satisfies `MODULES`), and `BYPASS` satisfies all.
    pub(crate) fn has(&self, capability: &str) -> bool {
        self.capabilities
            .iter()
            .any(|c| c == "BYPASS" || c.contains(capability))
    }

    /// CONNECTORAPI (or BYPASS) is what registering, pinging and pushing require.
    pub(crate) fn has_connector_api(&self) -> bool {
        self.has("CONNECTORAPI")
    }
}

/// `about` + `me` in one request: reachability, token, version and capabilities.
pub(crate) fn probe(gql: &Graphql) -> Result<Platform> {
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
pub(crate) fn probe_for_import(gql: &Graphql, over_amqp: bool) -> Result<Platform> {
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
pub(crate) fn require_import(platform: &Platform, over_amqp: bool) -> Result<()> {
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
pub(crate) struct Registered {
    /// The id as OpenCTI stores it; every later call names the connector by this string.
    pub id: String,
    pub state: Option<String>,
    /// A UI reset happened since the last ping: the next ping only clears this flag.
    pub state_reset: bool,
    /// When the last UI reset happened (6.7.0+).
    pub state_timestamp: Option<String>,
}

/// Idempotent by id; never touches the stored state, and returns it.
pub(crate) fn register(
    gql: &Graphql,
    platform: &Platform,
    id: &str,
    name: &str,
    scope: &[String],
) -> Result<Registered> {
    let doc = if platform.features.state_timestamp {
        &doc::REGISTER_WITH_TIMESTAMP
    } else {
        &doc::REGISTER
    };
    Ok(register_with(gql, doc, id, name, scope)?.0)
}

/// Registers with `doc` (one of the registration documents) and reads the connector back; the
/// whole answer comes too, for callers whose document selects more (the broker settings).
pub(crate) fn register_with(
    gql: &Graphql,
    doc: &doc::Document,
    id: &str,
    name: &str,
    scope: &[String],
) -> Result<(Registered, Value)> {
    let data = gql.run(
        doc,
        json!({ "input": doc::register_input(id, name, scope) }),
    )?;
    Ok((registered(&data, id)?, data))
}

/// `registerConnector`'s answer, whichever document asked: the id as stored, the state, the
/// reset flag and (6.7.0+) the reset stamp.
fn registered(data: &Value, id: &str) -> Result<Registered> {
    let c = data
        .get("registerConnector")
        .filter(|c| !c.is_null())
        .ok_or_else(|| {
            Error::Protocol("OpenCTI answered registerConnector without a connector".into())
        })?;
    let stored_id = str_at(c, "/id").unwrap_or_else(|| id.to_owned());
    if stored_id != id {
        // Lookups ignore case, queue names do not: the stored spelling is the one workers read.
        log::warn!(
            "OpenCTI knows this connector as {stored_id} (configured: {id}); using OpenCTI's spelling for every call. Set CONNECTOR_ID={stored_id} to silence this"
        );
    }
    if let Some(user) = c.get("connector_user_id").and_then(Value::as_str) {
        log::debug!("connector {stored_id} registered; it runs as OpenCTI user {user}");
    }
    Ok(Registered {
        id: stored_id,
        state: str_at(c, "/connector_state"),
        state_reset: c
            .get("connector_state_reset")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        state_timestamp: str_at(c, "/connector_state_timestamp"),
    })
}

/// The stored state, read without registering (no mutation). A connector never registered
/// has none; a user without MODULES cannot read it, which is reported and taken as none.
pub(crate) fn read_state(gql: &Graphql, id: &str) -> Result<Registered> {
    match gql.run(&doc::STATE, json!({ "id": id })) {
        Ok(data) => Ok(Registered {
            id: str_at(&data, "/connector/id").unwrap_or_else(|| id.to_owned()),
            state: str_at(&data, "/connector/connector_state"),
            state_reset: false,
            state_timestamp: None,
        }),
        Err(e) if matches!(e.downcast_ref::<Error>(), Some(Error::Permission(_))) => {
            log::warn!(
                "cannot read the connector's stored state without registering (the token's user lacks MODULES); the dry run starts from the beginning"
            );
            Ok(Registered {
                id: id.to_owned(),
                state: None,
                state_reset: false,
                state_timestamp: None,
            })
        }
        Err(e) => Err(e),
    }
}

/// What the platform holds after a ping.
#[derive(Clone, Debug, Default)]
pub(crate) struct PingAnswer {
    pub state: Option<String>,
    pub state_timestamp: Option<String>,
}

/// Writes `state` (or only `info` when `state` is `None`); returns what the platform holds
/// afterwards (a pending UI reset makes the platform ignore one ping).
pub(crate) fn ping(
    gql: &Graphql,
    platform: &Platform,
    id: &str,
    state: Option<&str>,
    info: Option<Value>,
) -> Result<PingAnswer> {
    let info = info.filter(|_| platform.features.connector_info);
    let mut vars = json!({ "id": id });
    if let Some(s) = state {
        vars["state"] = json!(s);
    }
    let doc = if platform.features.state_timestamp {
        &doc::PING_WITH_TIMESTAMP
    } else if info.is_some() {
        &doc::PING_WITH_INFO
    } else {
        &doc::PING
    };
    if let Some(info) = info {
        vars["connectorInfo"] = info;
    }
    let data = gql.run(doc, vars)?;
    Ok(PingAnswer {
        state: str_at(&data, "/pingConnector/connector_state"),
        state_timestamp: str_at(&data, "/pingConnector/connector_state_timestamp"),
    })
}

/// What the connector's queue holds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Queue {
    pub messages: u64,
    /// Megabytes (bytes ÷ 1,000,000, as pycti).
    pub mb: f64,
}

/// The connector's queue, or `None` when this platform or user cannot tell. Any failure only
/// warns: a run must not fail on bookkeeping it can do without.
pub(crate) fn queue(gql: &Graphql, platform: &Platform, id: &str) -> Option<Queue> {
    if !platform.features.queue_details {
        return None;
    }
    match gql.run(&doc::QUEUE, json!({ "id": id })) {
        Ok(data) => {
            let details = data.pointer("/connector/connector_queue_details")?;
            Some(Queue {
                messages: details
                    .get("messages_number")
                    .and_then(Value::as_f64)
                    .map_or(0, |n| n as u64),
                mb: details
                    .get("messages_size")
                    .and_then(Value::as_f64)
                    .map_or(0.0, |bytes| bytes / 1_000_000.0),
            })
        }
        // Reading a connector needs MODULES; a user without it can still import.
        Err(e) if matches!(e.downcast_ref::<Error>(), Some(Error::Permission(_))) => {
            log::warn!(
                "cannot read the connector's queue size (the token's user lacks MODULES); skipping the queue check"
            );
            None
        }
        Err(e) => {
            log::warn!(
                "cannot read the connector's queue size ({}); going on without the queue check",
                crate::error::render(&e)
            );
            None
        }
    }
}

fn str_at(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
}
