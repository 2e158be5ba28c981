//! Connectors: registration, pings (state, reset flag, info) and the connector as the API
//! returns it, with its queue details and broker configuration.

use super::*;

pub(super) fn connector_config(c: &ConnectorRec, b: &BrokerAnswer) -> Value {
    json!({
        "__typename": "ConnectorConfig",
        "connection": {
            "__typename": "RabbitMQConnection",
            "host": b.host, "vhost": b.vhost, "use_ssl": b.use_ssl, "port": b.port,
            "user": b.user, "pass": b.pass,
        },
        "listen": format!("listen_{}", c.id),
        "listen_routing": format!("listen_routing_{}", c.id),
        "listen_exchange": "amqp.connector.exchange",
        "push": push_queue(&c.id),
        "push_routing": push_routing(&c.id),
        "push_exchange": PUSH_EXCHANGE,
    })
}
pub(super) fn new_connector(id: &str, name: &str, user_id: &str) -> ConnectorRec {
    let t = now();
    ConnectorRec {
        id: id.into(),
        name: name.into(),
        connector_type: "EXTERNAL_IMPORT".into(),
        scope: String::new(),
        auto: Value::Null,
        only_contextual: Value::Null,
        playbook_compatible: Value::Null,
        auto_update: Value::Null,
        enrichment_resolution: Value::Null,
        listen_callback_uri: Value::Null,
        // notes §8.4: a connector whose state was never persisted shows "".
        state: Some(String::new()),
        reset: false,
        state_timestamp: None,
        user_id: user_id.into(),
        created_at: t,
        updated_at: t,
        queue_messages: 0,
        queue_bytes: 0,
        info: None,
    }
}

/// The stored key of a connector: lookups by id ignore case, because `internal_id.keyword`
/// uses `string_normalizer` (`lowercase`, `asciifolding`; `G/database/engine.ts` at
/// 7.260510.0), so `6A2A…` and `6a2a…` are one connector, stored with its first spelling.
pub(super) fn stored_key(st: &State, id: &str) -> Option<String> {
    if st.connectors.contains_key(id) {
        return Some(id.to_string());
    }
    st.connectors
        .keys()
        .find(|k| k.eq_ignore_ascii_case(id))
        .cloned()
}

impl Inner {
    /// The connector as the API returns it; with the asynchronous platform,
    /// `connector_queue_details` comes from the stored connector's real queue.
    pub(super) fn connector_out(&self, c: &ConnectorRec) -> Value {
        let mut out = connector_json(c, self.ver, &self.opts.broker);
        if let Some(p) = &self.platform {
            // Messages set with `set_queue` stand for other producers' messages in the queue.
            let (n, bytes) = p.queue_details(&c.id);
            out["connector_queue_details"]["messages_number"] = js_number(n + c.queue_messages);
            out["connector_queue_details"]["messages_size"] = js_number(bytes + c.queue_bytes);
        }
        if self.blind_queue.load(std::sync::atomic::Ordering::SeqCst) {
            out["connector_queue_details"]["messages_number"] = js_number(0);
            out["connector_queue_details"]["messages_size"] = js_number(0);
        }
        out
    }

    /// `resetStateConnector`: state and flag, and (6.1.12+) the queues purged.
    pub(super) fn reset(&self, c: &mut ConnectorRec) {
        reset_connector(c, self.ver);
        if let Some(p) = &self.platform
            && self.ver >= v("6.1.12")
        {
            p.purge(&c.id);
        }
    }
}
pub(super) fn reset_connector(c: &mut ConnectorRec, ver: Version) {
    c.state = Some(String::new());
    c.reset = true;
    if ver >= v("6.7.0") {
        c.state_timestamp = Some(iso(now()));
    }
    if ver >= v("6.1.12") {
        c.queue_messages = 0;
        c.queue_bytes = 0;
    }
}

/// JS numbers: integral values serialize without a fraction.
pub(super) fn js_number(n: u64) -> Value {
    json!(n)
}

pub(super) fn connector_json(c: &ConnectorRec, ver: Version, broker: &BrokerAnswer) -> Value {
    let mut out = connector_fields(c, ver);
    out["config"] = connector_config(c, broker);
    out
}

pub(super) fn connector_fields(c: &ConnectorRec, _ver: Version) -> Value {
    let scope: Vec<&str> = if c.scope.is_empty() {
        Vec::new()
    } else {
        c.scope.split(',').collect()
    };
    json!({
        "__typename": "Connector",
        "id": c.id,
        "name": c.name,
        "active": (now() - c.updated_at) < chrono::Duration::minutes(5),
        "auto": c.auto,
        "only_contextual": c.only_contextual,
        "playbook_compatible": c.playbook_compatible,
        "connector_type": c.connector_type,
        "connector_scope": scope,
        "connector_state": c.state,
        "connector_state_reset": c.reset,
        "connector_user_id": c.user_id,
        "updated_at": iso(c.updated_at),
        "created_at": iso(c.created_at),
        "connector_queue_details": {
            "__typename": "ConnectorQueueDetails",
            "messages_number": js_number(c.queue_messages),
            "messages_size": js_number(c.queue_bytes),
        },
        "connector_info": c.info.clone().map(|mut i| {
            if let Some(o) = i.as_object_mut() {
                o.insert("__typename".into(), json!("ConnectorInfo"));
            }
            i
        }),
        "connector_state_timestamp": c.state_timestamp,
        "auto_update": c.auto_update,
        "enrichment_resolution": c.enrichment_resolution,
    })
}
impl Inner {
    pub(super) fn register(&self, input: Value) -> Result<Value, GqlError> {
        let Some(input) = input.as_object() else {
            return Err(GqlError::new(
                "FUNCTIONAL_ERROR",
                "Connector input is required",
            ));
        };
        let s = |k: &str| input.get(k).cloned().unwrap_or(Value::Null);
        let id = s("id").as_str().unwrap_or_default().to_string();
        let name = s("name").as_str().unwrap_or_default().to_string();
        if self.ver >= v("6.9.0") {
            // @constraint(minLength: 2, format: "not-blank") on RegisterConnectorInput.name
            if name.chars().count() < 2 {
                return Err(GqlError::new(
                    "BAD_USER_INPUT",
                    format!(
                        "Variable \"$input\" got invalid value {name:?} at \"input.name\"; Must be at least 2 characters in length"
                    ),
                ));
            }
            if name.trim().is_empty() {
                return Err(GqlError::new(
                    "BAD_USER_INPUT",
                    format!(
                        "Variable \"$input\" got invalid value {name:?} at \"input.name\"; Must be in not-blank format"
                    ),
                ));
            }
        }
        let scope = match s("scope") {
            Value::Array(a) => a
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
            _ => String::new(),
        };
        let mut st = lock(&self.state);
        let user = self.opts.user_id.clone();
        // Registering is idempotent by id, and the lookup ignores case: the stored spelling
        // stays (`registerConnector`, `storeLoadById`).
        let id = stored_key(&st, &id).unwrap_or(id);
        if let Some(p) = &self.platform {
            p.store_connector(&id);
        }
        let c = st
            .connectors
            .entry(id.clone())
            .or_insert_with(|| new_connector(&id, &name, &user));
        c.name = name;
        c.connector_type = s("type").as_str().unwrap_or("EXTERNAL_IMPORT").to_string();
        c.scope = scope;
        c.auto = s("auto");
        c.only_contextual = s("only_contextual");
        c.playbook_compatible = s("playbook_compatible");
        c.auto_update = s("auto_update");
        c.enrichment_resolution = s("enrichment_resolution");
        c.listen_callback_uri = s("listen_callback_uri");
        c.user_id = user;
        c.updated_at = now();
        Ok(self.connector_out(c))
    }

    pub(super) fn ping(&self, id: Value, state: Value, info: Value) -> Result<Value, GqlError> {
        let mut st = lock(&self.state);
        let id = id.as_str().unwrap_or_default().to_string();
        let id = stored_key(&st, &id).unwrap_or(id);
        let Some(c) = st.connectors.get_mut(&id) else {
            return Err(GqlError::new("FUNCTIONAL_ERROR", NOT_FOUND_MSG));
        };
        let applied = !c.reset;
        if c.reset {
            c.reset = false;
        } else {
            if let Some(s) = state.as_str() {
                c.state = Some(s.to_string());
            }
            if !info.is_null() {
                c.info = Some(info.clone());
            }
            c.updated_at = now();
        }
        let out = self.connector_out(c);
        st.pings.push(PingRecord {
            connector_id: id,
            state: state.as_str().map(str::to_string),
            connector_info: (!info.is_null()).then_some(info),
            applied,
        });
        Ok(out)
    }
}
