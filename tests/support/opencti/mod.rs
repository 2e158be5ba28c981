//! OpenCTI GraphQL stand-in, faithful to `shared/notes/opencti-protocol.md`.
//!
//! - `POST <base>/graphql` with `{"query","variables","operationName"}`;
//! - every document is validated (apollo-compiler) against a minimal SDL rendered for the
//!   configured version (`opencti-minimal.graphql`, gates in notes §11), so fields, arguments and
//!   input keys a version lacks are rejected exactly where the real server rejects them;
//! - variables are coerced like graphql-js (unknown input keys → `BAD_USER_INPUT`);
//! - one occurrence per mutation field per document (graphql-no-alias, 6.1.0+);
//! - auth (`Bearer <token>`) and capabilities (substring match, `BYPASS`) per notes §3;
//! - connectors, state and reset flag (§5, §6), `stixBundlePush` (§7), works (§8);
//! - errors in the Apollo 4 shape (≥ 6.2.13) or the Apollo 3 shape (below), HTTP 200 (§9);
//! - 413 above the body limit, injectable 429 / 503 / slow / failing pushes.
//!
//! The import behind `stixBundlePush` is instantaneous by default (every pushed object counts
//! as imported at once); [`Import::Async`] runs the platform's queues, workers, works and
//! connector manager instead (`super::platform`).
//!
//! Layout: this file holds the options, records and shared state; [`standin`] the handle tests
//! hold; [`graphql`] the HTTP entry point and dispatch; [`schema`] the SDL and document
//! validation; [`execution`] graphql-js semantics; [`connectors`], [`works`] and [`push`] the
//! resolvers; [`errors`] the error shapes.

// The submodules share these imports and the types below through `use super::*`.
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apollo_compiler::ExecutableDocument;
use apollo_compiler::Schema;
use apollo_compiler::ast;
use apollo_compiler::executable::{Field, Operation, Selection, SelectionSet};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::http::{Request, Response, Server, ServerOptions, lock};
use super::knowledge::{self, Knowledge};
use super::platform::access::{self, Directory, SharedDirectory};
use super::platform::{AsyncModel, Platform};

mod connectors;
mod errors;
mod execution;
mod graphql;
mod push;
mod schema;
mod standin;
mod works;

use connectors::*;
use errors::*;
use execution::*;
use graphql::*;
use works::*;

// Each crate that mounts `support` uses a different part of these.
#[allow(unused_imports)]
pub use schema::{KNOWN_VERSIONS, minimal_schema, render_sdl, sdl_gates};

pub use super::version::Version;

fn v(s: &str) -> Version {
    Version::parse(s).expect("valid version literal")
}

/// Injected failures.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fault {
    #[default]
    None,
    /// 429 `{"message":"Too many requests, please try again later."}` for the next `times`
    /// requests, with `Retry-After` (seconds) when given.
    TooMany {
        times: usize,
        retry_after: Option<u64>,
    },
    /// 503 from a proxy (HTML) for the next `times` requests.
    Unavailable503 { times: usize },
    /// Every response waits this long (until reset).
    Slow { delay: Duration },
    /// Only `stixBundlePush` responses wait this long (until reset).
    SlowPush { delay: Duration },
    /// Every response body arrives one byte per `pause` (until reset).
    Trickle { pause: Duration },
    /// After `ok_pushes` successful pushes (counted from `set_fault`), every push fails
    /// (until reset) with an HTTP status or a GraphQL error code.
    FailPushAfter {
        ok_pushes: usize,
        status_or_code: PushFailure,
    },
}

/// How a failing push fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushFailure {
    /// An HTTP status from the transport (502, 503, 504, 429, 413, …).
    Http(u16),
    /// A GraphQL error with this code (`LOCK_ERROR`, `DATABASE_ERROR`, …), HTTP 200.
    Graphql(String),
}

/// Options of [`OpenctiStandin::start`].
#[derive(Debug, Clone)]
pub struct OpenctiOptions {
    /// `6.x.y`, `7.YYMMDD.N` or `7.YYMMDD.N-ltsN`.
    pub version: String,
    pub token: String,
    pub capabilities: Vec<String>,
    /// `APP__MAX_PAYLOAD_BODY_SIZE`: bodies above → 413 (default 50 MB as express reads it).
    pub body_limit: usize,
    /// Skip deep validation and raw recording of pushed bundles (still parse each one).
    pub bench: bool,
    /// A base path such as `/opencti`; `/graphql` is served with and without it.
    pub base_path: String,
    pub user_id: String,
    pub user_name: String,
    pub user_email: String,
    pub server: ServerOptions,
    /// What `registerConnector` answers in `config { connection … push_exchange push_routing }`.
    pub broker: BrokerAnswer,
    /// What happens to a pushed bundle.
    pub import: Import,
}

/// What happens to a pushed bundle.
#[derive(Debug, Clone, Default)]
pub enum Import {
    /// Imported at once, nothing ever dropped (fast tests).
    #[default]
    Instant,
    /// Queued and imported by workers as the configured release does it.
    Async(AsyncModel),
}

/// The broker a real platform would report (its own RabbitMQ as it reaches it).
#[derive(Debug, Clone)]
pub struct BrokerAnswer {
    pub host: String,
    pub port: u16,
    pub vhost: String,
    pub use_ssl: bool,
    pub user: String,
    pub pass: String,
}

impl Default for BrokerAnswer {
    fn default() -> Self {
        // OpenCTI's docker setup: a cluster-internal name the job usually cannot resolve.
        BrokerAnswer {
            host: "rabbitmq".into(),
            port: 5672,
            vhost: "/".into(),
            use_ssl: false,
            user: "opencti".into(),
            pass: "platform-broker-password".into(),
        }
    }
}

/// The exchange OpenCTI declares for connector pushes, and each connector's route and queue.
pub const PUSH_EXCHANGE: &str = "amqp.connector.exchange";
pub fn push_routing(connector_id: &str) -> String {
    format!("push_routing_{connector_id}")
}
pub fn push_queue(connector_id: &str) -> String {
    format!("push_{connector_id}")
}

/// Called when a client adds expectations to a work (tests use it to act between the
/// platform calls and the first publish, e.g. to stop the broker).
pub type Hook = Arc<dyn Fn() + Send + Sync>;

impl Default for OpenctiOptions {
    fn default() -> Self {
        OpenctiOptions {
            version: "6.9.17".into(),
            token: uuid::Uuid::new_v4().to_string(),
            capabilities: vec!["CONNECTORAPI".into()],
            body_limit: 50 * 1024 * 1024,
            bench: false,
            base_path: String::new(),
            user_id: "88ec0c6a-13ce-5e39-b486-354fe4a7084f".into(),
            user_name: "connector-disinfox".into(),
            user_email: "connector-disinfox@opencti.invalid".into(),
            server: ServerOptions::default(),
            broker: BrokerAnswer::default(),
            import: Import::from_env(),
        }
    }
}

impl Import {
    /// `STANDIN_OPENCTI_IMPORT=async` runs every stand-in on the asynchronous platform (to
    /// check a whole suite against it); anything else, the instant import.
    pub fn from_env() -> Import {
        match std::env::var("STANDIN_OPENCTI_IMPORT").as_deref() {
            Ok("async") => Import::Async(AsyncModel::default()),
            _ => Import::Instant,
        }
    }
}

impl OpenctiOptions {
    pub fn version(version: &str) -> Self {
        OpenctiOptions {
            version: version.into(),
            ..Self::default()
        }
    }
}

/// One `stixBundlePush` the stand-in accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct PushRecord {
    pub connector_id: String,
    /// `work_id` as sent (`None` when absent or empty).
    pub work_id: Option<String>,
    /// The work the push was counted in (the one sent, or the one the server created).
    pub effective_work_id: String,
    /// Object ids in bundle order.
    pub ids: Vec<String>,
    /// Byte length of the bundle string.
    pub bytes: usize,
    /// The bundle text (not kept in bench mode).
    pub raw: Option<String>,
}

pub use super::platform::works::WorkRecord;

/// One `pingConnector` call.
#[derive(Debug, Clone, PartialEq)]
pub struct PingRecord {
    pub connector_id: String,
    pub state: Option<String>,
    pub connector_info: Option<Value>,
    /// False when a reset flag swallowed it (the state sent was ignored).
    pub applied: bool,
}

/// One HTTP request to `/graphql`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedGraphql {
    pub query: String,
    pub operation_name: Option<String>,
    /// Variables as sent; strings longer than 4 KiB are elided to `"<N bytes>"`.
    pub variables: Value,
    pub authorization: bool,
    /// Every header as received (names lower-case).
    pub headers: Vec<(String, String)>,
    /// Root fields of the executed operation (empty when it did not get that far).
    pub root_fields: Vec<String>,
    pub status: u16,
    /// `errors[].name` of the answer.
    pub error_codes: Vec<String>,
    pub body_bytes: usize,
}

#[derive(Debug, Clone)]
struct ConnectorRec {
    id: String,
    name: String,
    connector_type: String,
    scope: String,
    auto: Value,
    only_contextual: Value,
    playbook_compatible: Value,
    auto_update: Value,
    enrichment_resolution: Value,
    listen_callback_uri: Value,
    state: Option<String>,
    reset: bool,
    state_timestamp: Option<String>,
    user_id: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    queue_messages: u64,
    queue_bytes: u64,
    info: Option<Value>,
}

#[derive(Debug, Default)]
struct State {
    connectors: BTreeMap<String, ConnectorRec>,
    works: Vec<WorkRecord>,
    pushes: Vec<PushRecord>,
    pings: Vec<PingRecord>,
    requests: Vec<RecordedGraphql>,
    fault: Fault,
    pushes_since_fault: usize,
    capabilities: Vec<String>,
    reset_after: HashMap<String, usize>,
    /// After that many more pushes, the state a `reset-state` pings (see
    /// [`OpenctiStandin::ping_state_after_pushes`]).
    ping_after: Option<(usize, String, String)>,
    /// Objects whose next import fails with this code (instant model; see
    /// [`OpenctiStandin::fail_next_import`]).
    transient: HashMap<String, String>,
    /// A UI reset of this connector at the next `addExpectations` (a run over AMQP).
    reset_on_expectations: Option<String>,
    last_work_ms: i64,
    /// What the pushes created (`verify`'s look-ups read it).
    knowledge: Knowledge,
}

type DocResult = Result<Arc<Valid<ExecutableDocument>>, Vec<Value>>;

struct Inner {
    opts: OpenctiOptions,
    ver: Version,
    apollo4: bool,
    schema: Valid<Schema>,
    sdl: String,
    base_path: String,
    docs: Mutex<HashMap<String, DocResult>>,
    state: Mutex<State>,
    on_add_expectations: Mutex<Option<Hook>>,
    /// The management API fails: `connector_queue_details` reads 0 / 0 (6.2.12+ catch it).
    blind_queue: std::sync::atomic::AtomicBool,
    /// The asynchronous platform, when [`Import::Async`].
    platform: Option<Platform>,
    /// The user's markings, groups and draft, and the platform's markings.
    directory: SharedDirectory,
}

/// The running OpenCTI stand-in. Stops on drop.
pub struct OpenctiStandin {
    inner: Arc<Inner>,
    server: Server,
}

const NOT_FOUND_MSG: &str = "No connector found with the specified ID";

fn now() -> DateTime<Utc> {
    Utc::now()
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
