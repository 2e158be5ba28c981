//! Every GraphQL document the client can send, with the first release that accepts it.
//! The contract tests validate each one against the real schema of every release its gate
//! admits, so adding a document here is all it takes to have it checked.

use serde_json::{Value, json};

use super::version::{self, Version};

pub struct Document {
    pub name: &'static str,
    pub text: &'static str,
    /// First release that accepts the document.
    pub since: Version,
}

const V6_0_0: Version = Version(6, 0, 0);

pub(crate) const PROBE: Document = Document {
    name: "Probe",
    text: "query Probe { about { version } me { id name capabilities { name } } }",
    since: V6_0_0,
};

pub(crate) const REGISTER: Document = Document {
    name: "Register",
    text: "mutation Register($input: RegisterConnectorInput) { registerConnector(input: $input) { id name connector_state connector_state_reset connector_user_id } }",
    since: V6_0_0,
};

/// Registration with the reset stamp (6.7.0+): a stamp that changes during a run is a UI reset
/// made during that run.
pub(crate) const REGISTER_WITH_TIMESTAMP: Document = Document {
    name: "RegisterWithTimestamp",
    text: "mutation RegisterWithTimestamp($input: RegisterConnectorInput) { registerConnector(input: $input) { id name connector_state connector_state_reset connector_state_timestamp connector_user_id } }",
    since: version::STATE_TIMESTAMP,
};

/// Registration that also reads the broker settings, for the AMQP transport only (the answer
/// carries the broker password).
pub(crate) const REGISTER_WITH_QUEUE: Document = Document {
    name: "RegisterWithQueue",
    text: "mutation RegisterWithQueue($input: RegisterConnectorInput) { registerConnector(input: $input) { id name connector_state connector_state_reset connector_user_id config { connection { host vhost use_ssl port user pass } push push_exchange push_routing } } }",
    since: V6_0_0,
};

/// As `REGISTER_WITH_QUEUE`, with the reset stamp (6.7.0+; see `REGISTER_WITH_TIMESTAMP`).
pub(crate) const REGISTER_WITH_QUEUE_AND_TIMESTAMP: Document = Document {
    name: "RegisterWithQueueAndTimestamp",
    text: "mutation RegisterWithQueueAndTimestamp($input: RegisterConnectorInput) { registerConnector(input: $input) { id name connector_state connector_state_reset connector_state_timestamp connector_user_id config { connection { host vhost use_ssl port user pass } push push_exchange push_routing } } }",
    since: version::STATE_TIMESTAMP,
};

pub(crate) const ADD_EXPECTATIONS: Document = Document {
    name: "AddExpectations",
    text: "mutation AddExpectations($id: ID!, $expectations: Int) { workEdit(id: $id) { addExpectations(expectations: $expectations) } }",
    since: V6_0_0,
};

pub(crate) const PING: Document = Document {
    name: "Ping",
    text: "mutation Ping($id: ID!, $state: String) { pingConnector(id: $id, state: $state) { id connector_state connector_state_reset } }",
    since: V6_0_0,
};

pub(crate) const PING_WITH_INFO: Document = Document {
    name: "PingWithInfo",
    text: "mutation PingWithInfo($id: ID!, $state: String, $connectorInfo: ConnectorInfoInput) { pingConnector(id: $id, state: $state, connectorInfo: $connectorInfo) { id connector_state connector_state_reset } }",
    since: version::CONNECTOR_INFO,
};

/// The ping of 6.7.0+: `connectorInfo` may be omitted; the answer carries the reset stamp.
pub(crate) const PING_WITH_TIMESTAMP: Document = Document {
    name: "PingWithTimestamp",
    text: "mutation PingWithTimestamp($id: ID!, $state: String, $connectorInfo: ConnectorInfoInput) { pingConnector(id: $id, state: $state, connectorInfo: $connectorInfo) { id connector_state connector_state_reset connector_state_timestamp } }",
    since: version::STATE_TIMESTAMP,
};

pub(crate) const QUEUE: Document = Document {
    name: "Queue",
    text: "query Queue($id: String!) { connector(id: $id) { id connector_queue_details { messages_number messages_size } } }",
    since: version::QUEUE_DETAILS,
};

pub(crate) const PUSH: Document = Document {
    name: "Push",
    text: "mutation Push($connectorId: String!, $bundle: String!) { stixBundlePush(connectorId: $connectorId, bundle: $bundle) }",
    since: version::MIN_SUPPORTED,
};

pub(crate) const PUSH_TO_WORK: Document = Document {
    name: "PushToWork",
    text: "mutation PushToWork($connectorId: String!, $bundle: String!, $work_id: String) { stixBundlePush(connectorId: $connectorId, bundle: $bundle, work_id: $work_id) }",
    since: version::WORK_ID,
};

pub(crate) const WORK_ADD: Document = Document {
    name: "WorkAdd",
    text: "mutation WorkAdd($connectorId: String!, $friendlyName: String) { workAdd(connectorId: $connectorId, friendlyName: $friendlyName) { id } }",
    since: V6_0_0,
};

pub(crate) const WORK_ADD_MULTIPART: Document = Document {
    name: "WorkAddMultipart",
    text: "mutation WorkAddMultipart($connectorId: String!, $friendlyName: String, $isMultiPartWork: Boolean) { workAdd(connectorId: $connectorId, friendlyName: $friendlyName, isMultiPartWork: $isMultiPartWork) { id } }",
    since: version::MULTIPART_WORK,
};

pub(crate) const WORK_DONE: Document = Document {
    name: "WorkDone",
    text: "mutation WorkDone($id: ID!, $message: String, $inError: Boolean) { workEdit(id: $id) { toProcessed(message: $message, inError: $inError) } }",
    since: V6_0_0,
};

/// The stored state without registering: what `sync --dry-run` reads (it changes nothing).
pub(crate) const STATE: Document = Document {
    name: "ConnectorState",
    text: "query ConnectorState($id: String!) { connector(id: $id) { id connector_state } }",
    since: V6_0_0,
};

/// What became of a run's work: followed by `--wait` (works exist for this client from 6.5.7;
/// the query itself is valid on every release).
pub(crate) const WORK_STATUS: Document = Document {
    name: "WorkStatus",
    text: "query WorkStatus($id: ID!) { work(id: $id) { id status completed_number errors { timestamp message source } tracking { import_expected_number import_processed_number } } }",
    since: V6_0_0,
};

/// What the token's user may import into (`access.rs`): its allowed markings, and whether one
/// of its groups is granted every new marking (`auto_new_marking`).
pub(crate) const ACCESS: Document = Document {
    name: "Access",
    text: "query Access { me { id allowed_marking { id standard_id x_opencti_stix_ids definition_type definition } groups { edges { node { id name auto_new_marking } } } } }",
    since: V6_0_0,
};

/// As `ACCESS`, with the draft the user works in (`MeUser.draftContext`, 6.4.0+).
pub(crate) const ACCESS_WITH_DRAFT: Document = Document {
    name: "AccessWithDraft",
    text: "query AccessWithDraft { me { id allowed_marking { id standard_id x_opencti_stix_ids definition_type definition } groups { edges { node { id name auto_new_marking } } } draftContext { id name } } }",
    since: version::DRAFT_CONTEXT,
};

/// The platform's markings among those a bundle carries, by STIX id or definition.
pub const MARKINGS: Document = Document {
    name: "Markings",
    text: "query Markings($filters: FilterGroup) { markingDefinitions(first: 500, filters: $filters) { edges { node { id standard_id x_opencti_stix_ids definition_type definition } } } }",
    since: V6_0_0,
};

/// Which of the given ids OpenCTI holds, one kind of knowledge each: the `ids` filter key
/// matches `internal_id`, `standard_id` and `x_opencti_stix_ids` (the id an object came with
/// when OpenCTI derived its own `standard_id`). `stixCoreObjects` and the two relationship
/// queries need the KNOWLEDGE capability; every release from 6.0.0 has them with `FilterGroup`.
pub(crate) const LOOKUP_OBJECTS: Document = Document {
    name: "LookupObjects",
    text: "query LookupObjects($filters: FilterGroup, $first: Int, $after: ID) { stixCoreObjects(filters: $filters, first: $first, after: $after) { edges { node { id standard_id x_opencti_stix_ids } } pageInfo { endCursor hasNextPage } } }",
    since: V6_0_0,
};

pub(crate) const LOOKUP_RELATIONSHIPS: Document = Document {
    name: "LookupRelationships",
    text: "query LookupRelationships($filters: FilterGroup, $first: Int, $after: ID) { stixCoreRelationships(filters: $filters, first: $first, after: $after) { edges { node { id standard_id x_opencti_stix_ids } } pageInfo { endCursor hasNextPage } } }",
    since: V6_0_0,
};

pub(crate) const LOOKUP_SIGHTINGS: Document = Document {
    name: "LookupSightings",
    text: "query LookupSightings($filters: FilterGroup, $first: Int, $after: ID) { stixSightingRelationships(filters: $filters, first: $first, after: $after) { edges { node { id standard_id x_opencti_stix_ids } } pageInfo { endCursor hasNextPage } } }",
    since: V6_0_0,
};

pub const ALL: &[&Document] = &[
    &PROBE,
    &REGISTER,
    &REGISTER_WITH_TIMESTAMP,
    &PING,
    &PING_WITH_INFO,
    &PING_WITH_TIMESTAMP,
    &QUEUE,
    &PUSH,
    &PUSH_TO_WORK,
    &WORK_ADD,
    &WORK_ADD_MULTIPART,
    &WORK_DONE,
    &REGISTER_WITH_QUEUE,
    &REGISTER_WITH_QUEUE_AND_TIMESTAMP,
    &ADD_EXPECTATIONS,
    &STATE,
    &WORK_STATUS,
    &ACCESS,
    &ACCESS_WITH_DRAFT,
    &MARKINGS,
    &LOOKUP_OBJECTS,
    &LOOKUP_RELATIONSHIPS,
    &LOOKUP_SIGHTINGS,
];

/// The 7 input fields every release from 6.0.0 accepts; later fields (auto_update, …) would
/// make older servers reject the whole request.
pub fn register_input(id: &str, name: &str, scope: &[String]) -> Value {
    json!({
        "id": id,
        "name": name,
        "type": "EXTERNAL_IMPORT",
        "scope": scope,
        "auto": false,
        "only_contextual": false,
        "playbook_compatible": false,
    })
}

/// `ConnectorInfoInput` (6.2.12+): a one-shot run on an external schedule.
pub fn connector_info(
    last_run: &str,
    next_run: Option<&str>,
    buffering: bool,
    queue_mb: f64,
    queue_threshold_mb: f64,
) -> Value {
    let mut info = json!({
        "run_and_terminate": true,
        "buffering": buffering,
        "queue_threshold": queue_threshold_mb,
        "queue_messages_size": queue_mb,
        "last_run_datetime": last_run,
    });
    if let Some(next) = next_run {
        info["next_run_datetime"] = json!(next);
    }
    info
}

/// `MARKINGS`' filter: any of `ids` (OpenCTI's `ids` key matches the internal id, the standard
/// id and `x_opencti_stix_ids`) or any of `definitions`.
pub fn markings_filter(ids: &[&str], definitions: &[&str]) -> Value {
    let mut filters = vec![json!({ "key": ["ids"], "values": ids })];
    if !definitions.is_empty() {
        filters.push(json!({ "key": ["definition"], "values": definitions }));
    }
    json!({ "mode": "or", "filters": filters, "filterGroups": [] })
}

/// A `FilterGroup` matching any of `ids` by the special key `ids`.
pub fn ids_filter(ids: &[&str]) -> Value {
    json!({
        "mode": "and",
        "filters": [{ "key": ["ids"], "values": ids, "operator": "eq", "mode": "or" }],
        "filterGroups": [],
    })
}
