//! Self-tests of the stand-ins (tests/support): the DISINFOX `newer_than` parse table, filter
//! rule and auth rules; the OpenCTI SDL gates, validation, coercion, state/reset semantics,
//! works, pushes, errors and faults; the tiny HTTP server itself.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::support::http::{Request, Response, Server, ServerOptions};
use crate::support::opencti::{
    self, Fault, KNOWN_VERSIONS, OpenctiOptions, OpenctiStandin, PushFailure, Version, render_sdl,
};

/// The instant stand-in, whatever `STANDIN_OPENCTI_IMPORT` says: for the self-tests of its
/// own work bookkeeping (counts and statuses set during the push, which is what "instant"
/// means). The asynchronous platform's works are checked by `async_import`.
fn instant(version: &str) -> OpenctiStandin {
    OpenctiStandin::start(OpenctiOptions {
        import: opencti::Import::Instant,
        ..OpenctiOptions::version(version)
    })
}

fn client() -> reqwest::blocking::Client {
    crate::common::http_client().build().unwrap()
}

mod disinfox;
mod http_server;
mod opencti_api;
mod opencti_state;

// The submodules share the imports above and the OpenCTI helpers below (`use super::*`).

fn gql(o: &OpenctiStandin, token: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
    let mut r = client()
        .post(o.graphql_url())
        .json(&json!({"query": query, "variables": variables}));
    if let Some(t) = token {
        r = r.header("Authorization", format!("Bearer {t}"));
    }
    let resp = r.send().unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn ok(o: &OpenctiStandin, query: &str, variables: Value) -> Value {
    let (s, v) = gql(o, Some(&o.token()), query, variables);
    assert_eq!(s, 200, "{v}");
    assert!(v.get("errors").is_none(), "unexpected errors: {v}");
    v["data"].clone()
}

fn err_name(v: &Value) -> String {
    v["errors"][0]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn err_msg(v: &Value) -> String {
    v["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

const CID: &str = "6f0e2c35-9b5f-4d7e-9a38-0d7c3b2f4a11";
const PROBE: &str = "query Probe { about { version } me { id name capabilities { name } } }";
const REGISTER: &str = "mutation Register($input: RegisterConnectorInput) { registerConnector(input: $input) { id connector_state connector_state_reset connector_user_id connector_scope } }";
const PING: &str = "mutation Ping($id: ID!, $state: String) { pingConnector(id: $id, state: $state) { id connector_state connector_state_reset } }";
const PUSH: &str = "mutation Push($connectorId: String!, $bundle: String!, $work_id: String) { stixBundlePush(connectorId: $connectorId, bundle: $bundle, work_id: $work_id) }";
const PUSH_626: &str = "mutation Push($connectorId: String!, $bundle: String!) { stixBundlePush(connectorId: $connectorId, bundle: $bundle) }";

fn register_vars() -> Value {
    json!({"input": {"id": CID, "name": "DISINFOX", "type": "EXTERNAL_IMPORT", "scope": ["stix2"], "auto": false, "only_contextual": false, "playbook_compatible": false}})
}

fn bundle(ids: &[&str]) -> String {
    let objects: Vec<Value> = ids
        .iter()
        .map(|id| json!({"type": id.split("--").next().unwrap(), "id": id, "spec_version": "2.1"}))
        .collect();
    json!({"type": "bundle", "id": "bundle--5d3f2a44-0a3b-4c1e-9d55-0f8c1b2a3c4d", "objects": objects}).to_string()
}
