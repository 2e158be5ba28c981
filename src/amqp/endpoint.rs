//! Where to publish: `registerConnector`'s `config { connection … push_exchange push_routing }`,
//! each field overridden by the `MQ_*` setting the operator gave.

use serde_json::Value;

use crate::config::MqSettings;
use crate::error::{Error, Result};
use crate::opencti::Graphql;
use crate::opencti::connector::{self, Platform, Registered};
use crate::opencti::documents as doc;
use crate::secret::Secret;

/// The broker and the push route, resolved.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    pub host: String,
    pub port: u16,
    pub vhost: String,
    pub use_ssl: bool,
    pub user: String,
    pub pass: Secret,
    pub exchange: String,
    pub routing_key: String,
    /// `connector_user_id`: pycti's `applicant_id`, the user the worker imports as.
    pub applicant_id: Option<String>,
}

impl Endpoint {
    pub(crate) fn describe(&self) -> String {
        let scheme = if self.use_ssl { "amqps" } else { "amqp" };
        format!(
            "{scheme}://{}:{}/{} exchange '{}' routing key '{}'",
            self.host, self.port, self.vhost, self.exchange, self.routing_key
        )
    }
}

/// Registration that also reads the broker settings (every release from 6.0.0 has them), with
/// the reset stamp where the release has it (6.7.0+), as `connector::register`. The route
/// comes from OpenCTI's answer, so it names the connector as OpenCTI stores it.
pub(crate) fn register(
    gql: &Graphql,
    platform: &Platform,
    id: &str,
    name: &str,
    scope: &[String],
    mq: &MqSettings,
) -> Result<(Registered, Endpoint)> {
    let doc = if platform.features.state_timestamp {
        &doc::REGISTER_WITH_QUEUE_AND_TIMESTAMP
    } else {
        &doc::REGISTER_WITH_QUEUE
    };
    let (registered, data) = connector::register_with(gql, doc, id, name, scope)?;
    let endpoint = resolve(&data["registerConnector"], mq)?;
    Ok((registered, endpoint))
}

fn resolve(c: &Value, mq: &MqSettings) -> Result<Endpoint> {
    let missing = |field: &str| {
        Error::Protocol(format!(
            "OpenCTI's registerConnector answer lacks config.{field}: set the MQ_* settings or check the platform"
        ))
    };
    let conn = |field: &str| c.pointer(&format!("/config/connection/{field}"));
    // The password is a secret from the moment it is read, whichever side gave it.
    let pass = match &mq.pass {
        Some(p) => p.clone(),
        None => Secret::new(
            conn("pass")
                .and_then(Value::as_str)
                .ok_or_else(|| missing("connection.pass"))?
                .to_owned(),
        ),
    };
    let port = match mq.port {
        Some(p) => p,
        None => conn("port")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| missing("connection.port"))?,
    };
    Ok(Endpoint {
        host: pick(&mq.host, conn("host")).ok_or_else(|| missing("connection.host"))?,
        port,
        vhost: pick(&mq.vhost, conn("vhost")).unwrap_or_else(|| "/".into()),
        use_ssl: mq
            .use_ssl
            .or_else(|| conn("use_ssl").and_then(Value::as_bool))
            .unwrap_or(false),
        user: pick(&mq.user, conn("user")).ok_or_else(|| missing("connection.user"))?,
        pass,
        exchange: text(c, "/config/push_exchange").ok_or_else(|| missing("push_exchange"))?,
        routing_key: text(c, "/config/push_routing").ok_or_else(|| missing("push_routing"))?,
        applicant_id: text(c, "/connector_user_id"),
    })
}

fn pick(ours: &Option<String>, theirs: Option<&Value>) -> Option<String> {
    ours.clone()
        .or_else(|| theirs.and_then(Value::as_str).map(str::to_owned))
}

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer() -> Value {
        json!({
            "connector_user_id": "u1",
            "config": {
                "connection": { "host": "rabbitmq.internal", "vhost": "/", "use_ssl": false,
                                "port": 5672, "user": "opencti", "pass": "from-platform" },
                "push": "push_c", "push_exchange": "amqp.connector.exchange",
                "push_routing": "push_routing_c"
            }
        })
    }

    #[test]
    fn settings_override_the_platform() {
        let mq = MqSettings {
            host: Some("127.0.0.1".into()),
            port: Some(5673),
            reject_unauthorized: true,
            ..MqSettings::default()
        };
        let e = resolve(&answer(), &mq).unwrap();
        assert_eq!((e.host.as_str(), e.port), ("127.0.0.1", 5673));
        assert_eq!(e.user, "opencti");
        assert_eq!(e.pass.expose(), "from-platform");
        assert_eq!(e.routing_key, "push_routing_c");
        assert_eq!(e.applicant_id.as_deref(), Some("u1"));
        assert!(!format!("{e:?}").contains("from-platform"));
    }

    #[test]
    fn a_missing_route_is_a_protocol_error() {
        let mut a = answer();
        a["config"]["push_routing"] = Value::Null;
        let err = resolve(&a, &MqSettings::default()).unwrap_err();
        assert!(err.to_string().contains("push_routing"));
    }
}
