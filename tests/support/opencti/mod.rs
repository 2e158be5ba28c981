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

/// The minimal SDL template, with `# since X` gates.
pub const MINIMAL_SDL_TEMPLATE: &str = include_str!("../opencti-minimal.graphql");

/// Versions the stand-in is commonly run as (one per gate that matters to the client).
pub const KNOWN_VERSIONS: &[&str] = &[
    "6.0.0",
    "6.2.6",
    "6.2.12",
    "6.5.7",
    "6.9.17",
    "7.260422.0",
    "7.260510.0",
];

pub use super::version::Version;

fn v(s: &str) -> Version {
    Version::parse(s).expect("valid version literal")
}

/// Renders the minimal SDL for one version: lines gated `# since X` with X > version are
/// dropped (with their whole block when they open `{` or `(`); comment lines are dropped.
pub fn render_sdl(version: &str) -> String {
    let ver = Version::parse(version).unwrap_or_else(|| panic!("bad OpenCTI version {version:?}"));
    let mut out = String::new();
    let mut skipping: Option<(char, char, i64)> = None;
    for line in MINIMAL_SDL_TEMPLATE.lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        // `# until X`: kept only below X (a field whose type changed in X).
        if let Some((c, g)) = line.split_once("# until ") {
            let gv =
                Version::parse(g.trim()).unwrap_or_else(|| panic!("bad gate {g:?} in the SDL"));
            if ver < gv {
                out.push_str(c.trim_end());
                out.push('\n');
            }
            continue;
        }
        let (code, gate) = match line.split_once("# since ") {
            Some((c, g)) => (c.trim_end(), Some(g.trim())),
            None => (line.trim_end(), None),
        };
        if let Some((open, close, depth)) = skipping.as_mut() {
            let o = code.matches(*open).count() as i64;
            let c = code.matches(*close).count() as i64;
            *depth += o - c;
            if *depth <= 0 {
                skipping = None;
            }
            continue;
        }
        if let Some(g) = gate {
            let gv =
                Version::parse(g).unwrap_or_else(|| panic!("bad gate {g:?} in the SDL template"));
            if ver < gv {
                if code.ends_with('{') {
                    skipping = Some(('{', '}', 1));
                } else if code.ends_with('(') {
                    skipping = Some(('(', ')', 1));
                }
                continue;
            }
        }
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// Every gate version named in the template, ascending.
pub fn sdl_gates() -> Vec<String> {
    let mut gates: Vec<Version> = MINIMAL_SDL_TEMPLATE
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once("# since ").map(|(_, g)| v(g.trim())))
        .collect();
    gates.sort();
    gates.dedup();
    gates.iter().map(Version::to_string).collect()
}

/// Parses and validates the minimal SDL of a version.
pub fn minimal_schema(version: &str) -> Valid<Schema> {
    let sdl = render_sdl(version);
    match Schema::parse_and_validate(sdl, format!("opencti-minimal-{version}.graphql")) {
        Ok(s) => s,
        Err(e) => panic!("minimal SDL for {version} is invalid:\n{}", e.errors),
    }
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

fn connector_config(c: &ConnectorRec, b: &BrokerAnswer) -> Value {
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

impl OpenctiStandin {
    pub fn start(opts: OpenctiOptions) -> Self {
        let ver = Version::parse(&opts.version)
            .unwrap_or_else(|| panic!("bad version {:?}", opts.version));
        let sdl = render_sdl(&opts.version);
        let schema = minimal_schema(&opts.version);
        let base_path = {
            let t = opts.base_path.trim_matches('/');
            if t.is_empty() {
                String::new()
            } else {
                format!("/{t}")
            }
        };
        let mut server_opts = opts.server.clone();
        server_opts.max_body = opts.body_limit;
        let directory = SharedDirectory::default();
        let platform = match &opts.import {
            Import::Instant => None,
            Import::Async(model) => Some(Platform::start(ver, model.clone(), directory.clone())),
        };
        let inner = Arc::new(Inner {
            platform,
            directory,
            ver,
            apollo4: ver >= v("6.2.13"),
            schema,
            sdl,
            base_path,
            docs: Mutex::new(HashMap::new()),
            state: Mutex::new(State {
                capabilities: opts.capabilities.clone(),
                ..State::default()
            }),
            on_add_expectations: Mutex::new(None),
            blind_queue: Default::default(),
            opts,
        });
        let h = inner.clone();
        let server = Server::start_with(server_opts, move |req| handle(&h, req));
        OpenctiStandin { inner, server }
    }

    /// A stand-in of this version with default options.
    pub fn start_version(version: &str) -> Self {
        Self::start(OpenctiOptions::version(version))
    }

    /// `OPENCTI_URL`: `http://127.0.0.1:PORT[/base]` (the client appends `/graphql`).
    pub fn url(&self) -> String {
        format!("{}{}", self.server.url(), self.inner.base_path)
    }

    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.url())
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    pub fn token(&self) -> String {
        self.inner.opts.token.clone()
    }

    pub fn version(&self) -> String {
        self.inner.opts.version.clone()
    }

    pub fn user_id(&self) -> String {
        self.inner.opts.user_id.clone()
    }

    /// The SDL this instance validates against.
    pub fn sdl(&self) -> String {
        self.inner.sdl.clone()
    }

    /// Runs `hook` (once) before answering the next `addExpectations`.
    pub fn on_add_expectations(&self, hook: Hook) {
        *lock(&self.inner.on_add_expectations) = Some(hook);
    }

    pub fn set_capabilities<I, S>(&self, caps: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        lock(&self.inner.state).capabilities = caps.into_iter().map(Into::into).collect();
    }

    /// The user's markings, groups and draft, and the platform's markings (`me`,
    /// `markingDefinitions`, and what the workers enforce).
    pub fn directory(&self) -> std::sync::MutexGuard<'_, Directory> {
        access::lock(&self.inner.directory)
    }

    pub fn set_fault(&self, fault: Fault) {
        let mut st = lock(&self.inner.state);
        st.fault = fault;
        st.pushes_since_fault = 0;
    }

    pub fn fault(&self) -> Fault {
        lock(&self.inner.state).fault.clone()
    }

    /// After `n` more successful pushes of this connector, do what the UI's "Reset state"
    /// does (once).
    pub fn reset_after_pushes(&self, connector_id: &str, n: usize) {
        lock(&self.inner.state)
            .reset_after
            .insert(connector_id.into(), n);
    }

    /// After `n` more pushes, store `state` as `pingConnector` does (what `reset-state`, or any
    /// other client's ping, does to the state during a run: no reset flag, no purge).
    pub fn ping_state_after_pushes(&self, connector_id: &str, n: usize, state: &str) {
        lock(&self.inner.state).ping_after = Some((n, connector_id.into(), state.into()));
    }

    /// The next import of object `id` fails with `code` (`LOCK_ERROR`, `MISSING_REFERENCE_ERROR`),
    /// reported on its work with the object as the error's source; a later push imports it.
    /// On both models (see [`Platform::fail_next_import`]).
    pub fn fail_next_import(&self, id: &str, code: &str) {
        match &self.inner.platform {
            Some(p) => p.fail_next_import(id, code),
            None => {
                lock(&self.inner.state)
                    .transient
                    .insert(id.into(), code.into());
            }
        }
    }

    /// `deleteWork`: the work is gone (what deleting it in the UI, or the connector's
    /// deletion, does).
    pub fn delete_work(&self, id: &str) {
        if let Some(p) = &self.inner.platform {
            let _ = p.work_edit(id, "delete", &Value::Null);
        }
        lock(&self.inner.state).works.retain(|w| w.id != id);
    }

    /// "Reset state" pressed when the next `addExpectations` arrives: during a run over AMQP,
    /// which sends no `stixBundlePush` to count.
    pub fn reset_at_expectations(&self, connector_id: &str) {
        lock(&self.inner.state).reset_on_expectations = Some(connector_id.into());
    }

    /// Ids of every known connector.
    pub fn connector_ids(&self) -> Vec<String> {
        lock(&self.inner.state).connectors.keys().cloned().collect()
    }

    pub fn is_registered(&self, connector_id: &str) -> bool {
        lock(&self.inner.state)
            .connectors
            .contains_key(connector_id)
    }

    /// `connector_state` (`None` for an unknown connector or a null state).
    pub fn state(&self, connector_id: &str) -> Option<String> {
        lock(&self.inner.state)
            .connectors
            .get(connector_id)
            .and_then(|c| c.state.clone())
    }

    /// The reset flag (`None` for an unknown connector).
    pub fn reset_flag(&self, connector_id: &str) -> Option<bool> {
        lock(&self.inner.state)
            .connectors
            .get(connector_id)
            .map(|c| c.reset)
    }

    /// Sets `connector_state` directly (e.g. what the Python connector left), creating the
    /// connector as if an earlier connector had registered it.
    pub fn set_state(&self, connector_id: &str, state: &str) {
        let mut st = lock(&self.inner.state);
        let user = self.inner.opts.user_id.clone();
        let c = st
            .connectors
            .entry(connector_id.into())
            .or_insert_with(|| new_connector(connector_id, "DISINFOX", &user));
        c.state = Some(state.into());
        if let Some(p) = &self.inner.platform {
            p.store_connector(connector_id);
        }
    }

    /// What the UI's "Reset state" button does (`resetStateConnector`).
    pub fn ui_reset(&self, connector_id: &str) {
        let mut st = lock(&self.inner.state);
        let key = stored_key(&st, connector_id).unwrap_or_default();
        if let Some(c) = st.connectors.get_mut(&key) {
            self.inner.reset(c);
        }
    }

    /// RabbitMQ's management API fails from now on: OpenCTI 6.2.12+ catch the failure and
    /// answer `connector_queue_details` with 0 messages and 0 bytes, whatever is queued
    /// (`opencti-async-import.md` §4).
    pub fn blind_queue_details(&self) {
        self.inner
            .blind_queue
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// The connector's queue, in bytes (`messages_size`), one message when non-zero.
    pub fn set_queue_size(&self, connector_id: &str, bytes: u64) {
        self.set_queue(connector_id, u64::from(bytes > 0), bytes);
    }

    pub fn set_queue(&self, connector_id: &str, messages: u64, bytes: u64) {
        let mut st = lock(&self.inner.state);
        let user = self.inner.opts.user_id.clone();
        let c = st
            .connectors
            .entry(connector_id.into())
            .or_insert_with(|| new_connector(connector_id, "DISINFOX", &user));
        c.queue_messages = messages;
        c.queue_bytes = bytes;
    }

    /// The last `connectorInfo` stored by a ping.
    pub fn connector_info(&self, connector_id: &str) -> Option<Value> {
        let st = lock(&self.inner.state);
        let key = stored_key(&st, connector_id)?;
        st.connectors.get(&key).and_then(|c| c.info.clone())
    }

    /// The connector as `connector(id)` would return it (every field).
    pub fn connector(&self, connector_id: &str) -> Option<Value> {
        let st = lock(&self.inner.state);
        let key = stored_key(&st, connector_id)?;
        st.connectors.get(&key).map(|c| self.inner.connector_out(c))
    }

    pub fn pings(&self) -> Vec<PingRecord> {
        lock(&self.inner.state).pings.clone()
    }

    pub fn works(&self) -> Vec<WorkRecord> {
        if let Some(p) = &self.inner.platform {
            return p.works();
        }
        lock(&self.inner.state).works.clone()
    }

    pub fn work(&self, id: &str) -> Option<WorkRecord> {
        if let Some(p) = &self.inner.platform {
            return p.work(id);
        }
        lock(&self.inner.state)
            .works
            .iter()
            .find(|w| w.id == id)
            .cloned()
    }

    /// Loses objects from the knowledge base, as a purge or a restore from an older backup
    /// would (by any id they answer to); returns how many were there.
    pub fn lose_objects(&self, ids: &[&str]) -> usize {
        let mut st = lock(&self.inner.state);
        let mut lost = 0;
        for id in ids {
            let stix_ids: Vec<String> = st
                .knowledge
                .node(id)
                .map(|n| n.stix_ids.iter().chain([&n.standard_id]).cloned().collect())
                .unwrap_or_default();
            if st.knowledge.lose(id) {
                lost += 1;
                if let Some(p) = &self.inner.platform {
                    for s in &stix_ids {
                        p.forget(s);
                    }
                }
            }
        }
        lost
    }

    /// Caps the look-ups' pages below the platform's 5,000 (tests of paging).
    pub fn set_max_page(&self, n: usize) {
        lock(&self.inner.state).knowledge.max_page = n;
    }

    /// Puts objects in the knowledge base without a push (as an earlier import would have).
    pub fn hold_objects(&self, objects: &[Value]) {
        let mut st = lock(&self.inner.state);
        for o in objects {
            st.knowledge.import(o);
        }
    }

    /// The node that answers to `id`: (internal_id, standard_id, x_opencti_stix_ids).
    pub fn knowledge_node(&self, id: &str) -> Option<(String, String, Vec<String>)> {
        let st = lock(&self.inner.state);
        st.knowledge.node(id).map(|n| {
            (
                n.internal_id.clone(),
                n.standard_id.clone(),
                n.stix_ids.clone(),
            )
        })
    }

    pub fn pushes(&self) -> Vec<PushRecord> {
        lock(&self.inner.state).pushes.clone()
    }

    /// Every object id pushed, in order, duplicates included.
    pub fn received_ids(&self) -> Vec<String> {
        lock(&self.inner.state)
            .pushes
            .iter()
            .flat_map(|p| p.ids.iter().cloned())
            .collect()
    }

    /// Every object pushed, parsed (empty in bench mode).
    pub fn received_objects(&self) -> Vec<Value> {
        let st = lock(&self.inner.state);
        let mut out = Vec::new();
        for p in &st.pushes {
            if let Some(raw) = &p.raw
                && let Ok(b) = serde_json::from_str::<Value>(raw)
                && let Some(objs) = b.get("objects").and_then(Value::as_array)
            {
                out.extend(objs.iter().cloned());
            }
        }
        out
    }

    pub fn requests(&self) -> Vec<RecordedGraphql> {
        lock(&self.inner.state).requests.clone()
    }

    pub fn clear_requests(&self) {
        lock(&self.inner.state).requests.clear();
    }

    /// Forgets pushes and pings (connectors, their state and works stay, as on the real
    /// platform, where a later run reads an earlier run's work).
    pub fn clear_history(&self) {
        let mut st = lock(&self.inner.state);
        st.pushes.clear();
        st.pings.clear();
        st.requests.clear();
    }

    /// Stops the server now (also done on drop).
    pub fn stop(&mut self) {
        self.server.stop();
        if let Some(p) = &self.inner.platform {
            p.stop();
        }
    }

    /// The asynchronous platform (panics on an instant stand-in).
    pub fn platform(&self) -> &Platform {
        self.inner
            .platform
            .as_ref()
            .expect("the stand-in runs the instant import; start it with Import::Async")
    }

    pub fn is_stopped(&self) -> bool {
        self.server.is_stopped()
    }

    /// The asynchronous platform, or `None` on an instant stand-in: for helpers that wait for
    /// the workers on one model and have nothing to wait for on the other.
    pub fn async_platform(&self) -> Option<&Platform> {
        self.inner.platform.as_ref()
    }
}

impl Drop for OpenctiStandin {
    fn drop(&mut self) {
        if let Some(p) = &self.inner.platform {
            p.stop();
        }
    }
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn new_connector(id: &str, name: &str, user_id: &str) -> ConnectorRec {
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
fn stored_key(st: &State, id: &str) -> Option<String> {
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
    fn connector_out(&self, c: &ConnectorRec) -> Value {
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
    fn reset(&self, c: &mut ConnectorRec) {
        reset_connector(c, self.ver);
        if let Some(p) = &self.platform
            && self.ver >= v("6.1.12")
        {
            p.purge(&c.id);
        }
    }
}

fn reset_connector(c: &mut ConnectorRec, ver: Version) {
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
fn js_number(n: u64) -> Value {
    json!(n)
}

fn connector_json(c: &ConnectorRec, ver: Version, broker: &BrokerAnswer) -> Value {
    let mut out = connector_fields(c, ver);
    out["config"] = connector_config(c, broker);
    out
}

fn connector_fields(c: &ConnectorRec, _ver: Version) -> Value {
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

fn work_json(w: &WorkRecord) -> Value {
    let msgs = |list: &[String], t: &Option<String>| -> Value {
        Value::Array(
            list.iter()
                .enumerate()
                .map(|(i, m)| {
                    json!({"__typename": "WorkMessage", "timestamp": t.clone().unwrap_or_else(|| w.timestamp.clone()),
                           "message": m, "sequence": i, "source": Value::Null})
                })
                .collect(),
        )
    };
    json!({
        "__typename": "Work",
        "id": w.id,
        "name": w.name,
        "timestamp": w.timestamp,
        "status": w.status,
        "received_time": w.received_time,
        "processed_time": w.processed_time,
        "completed_time": w.completed_time,
        "completed_number": w.processed,
        "messages": msgs(&w.messages, &w.processed_time),
        "errors": with_sources(msgs(&w.errors, &w.processed_time), w),
        "tracking": {
            "__typename": "WorkTracking",
            "import_expected_number": w.expected,
            "import_processed_number": w.processed,
            "import_last_processed": w.processed_time,
        },
    })
}

/// Each error's `source` (the failed object's JSON, when the worker reported it).
fn with_sources(mut errors: Value, w: &WorkRecord) -> Value {
    if let Some(list) = errors.as_array_mut() {
        for (i, e) in list.iter_mut().enumerate() {
            if let Some(source) = w.error_sources.get(&i) {
                e["source"] = json!(source);
            }
        }
    }
    errors
}

/// Status after a change, with the instantaneous worker (notes §8).
fn refresh_work_status(w: &mut WorkRecord, ver: Version) {
    if w.status == "complete" {
        return;
    }
    let all_done = w.processed >= w.expected;
    let complete = if w.multipart {
        w.closed && all_done
    } else if ver >= v("7.260428.0") {
        w.expected > 0 && all_done
    } else {
        (w.expected > 0 && all_done) || (w.closed && (w.expected == 0 || all_done))
    };
    if complete {
        w.status = "complete".into();
        w.completed_time = Some(iso(now()));
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

#[derive(Debug, Clone)]
struct GqlError {
    code: String,
    message: String,
    cause: Option<String>,
    path: Vec<Value>,
    locations: Vec<Value>,
}

impl GqlError {
    fn new(code: &str, message: impl Into<String>) -> Self {
        GqlError {
            code: code.into(),
            message: message.into(),
            cause: None,
            path: Vec::new(),
            locations: Vec::new(),
        }
    }
    fn with_cause(mut self, cause: impl Into<String>) -> Self {
        self.cause = Some(cause.into());
        self
    }
    fn at(mut self, path: &[&str]) -> Self {
        self.path = path.iter().map(|p| json!(p)).collect();
        self
    }
}

fn code_meta(code: &str) -> (u16, &'static str) {
    match code {
        "AUTH_REQUIRED" | "AUTH_FAILURE" => (401, "TECHNICAL"),
        "FORBIDDEN_ACCESS" => (403, "TECHNICAL"),
        "FUNCTIONAL_ERROR"
        | "UNSUPPORTED_ERROR"
        | "VALIDATION_ERROR"
        | "MISSING_REFERENCE_ERROR" => (500, "BUSINESS"),
        "GRAPHQL_VALIDATION_FAILED" | "GRAPHQL_PARSE_FAILED" | "BAD_USER_INPUT" | "BAD_REQUEST" => {
            (400, "TECHNICAL")
        }
        _ => (500, "TECHNICAL"),
    }
}

fn default_message(code: &str) -> String {
    match code {
        "AUTH_REQUIRED" => "You must be logged in to do this.".into(),
        "FORBIDDEN_ACCESS" => "You are not allowed to do this.".into(),
        "LOCK_ERROR" => "Execution timeout, too many concurrent call on the same entities".into(),
        "DATABASE_ERROR" => "A database error has occurred".into(),
        other => format!("{other} (injected by the stand-in)"),
    }
}

impl Inner {
    fn error_json(&self, e: &GqlError) -> Value {
        let (http_status, genre) = code_meta(&e.code);
        let request_level = matches!(
            e.code.as_str(),
            "GRAPHQL_VALIDATION_FAILED" | "GRAPHQL_PARSE_FAILED" | "BAD_USER_INPUT" | "BAD_REQUEST"
        );
        let mut o = Map::new();
        if self.apollo4 {
            o.insert("message".into(), json!(e.message));
            if !e.locations.is_empty() {
                o.insert("locations".into(), Value::Array(e.locations.clone()));
            }
            if !e.path.is_empty() {
                o.insert("path".into(), Value::Array(e.path.clone()));
            }
            let mut ext = Map::new();
            ext.insert("code".into(), json!(e.code));
            if !request_level {
                let mut data = json!({"http_status": http_status, "genre": genre});
                if let Some(c) = &e.cause {
                    data["cause"] = json!(c);
                }
                ext.insert("data".into(), data);
            }
            o.insert("extensions".into(), Value::Object(ext));
            o.insert("name".into(), json!(e.code));
        } else {
            o.insert("name".into(), json!(e.code));
            o.insert("message".into(), json!(e.message));
            o.insert("time_thrown".into(), json!(iso(now())));
            let mut data = json!({"http_status": http_status, "genre": genre});
            if let Some(c) = &e.cause {
                data["cause"] = json!(c);
            }
            o.insert("data".into(), data);
            if !e.locations.is_empty() {
                o.insert("locations".into(), Value::Array(e.locations.clone()));
            }
            if !e.path.is_empty() {
                o.insert("path".into(), Value::Array(e.path.clone()));
            }
        }
        Value::Object(o)
    }

    fn errors_only(&self, errors: &[GqlError]) -> Value {
        json!({ "errors": errors.iter().map(|e| self.error_json(e)).collect::<Vec<_>>() })
    }
}

fn gql_response(status: u16, body: &Value) -> Response {
    Response::new(
        status,
        "application/json; charset=utf-8",
        serde_json::to_vec(body).expect("serialize"),
    )
}

fn proxy_html(status: u16) -> Response {
    let title = match status {
        502 => "502 Bad Gateway",
        503 => "503 Service Temporarily Unavailable",
        504 => "504 Gateway Time-out",
        413 => "413 Request Entity Too Large",
        _ => "Error",
    };
    Response::html(
        status,
        format!(
            "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        ),
    )
}

fn too_many(retry_after: Option<u64>) -> Response {
    let mut r = Response::json(
        429,
        "{\"message\":\"Too many requests, please try again later.\"}",
    );
    if let Some(s) = retry_after {
        r = r.with_header("Retry-After", s.to_string());
    }
    r
}

fn elide(v: &Value) -> Value {
    match v {
        Value::String(s) if s.len() > 4096 => json!(format!("<{} bytes>", s.len())),
        Value::Array(a) => Value::Array(a.iter().map(elide).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (k.clone(), elide(x))).collect()),
        other => other.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP entry point

#[derive(serde::Deserialize)]
struct GraphqlBody {
    query: Option<String>,
    #[serde(default)]
    variables: Option<Value>,
    #[serde(default, rename = "operationName")]
    operation_name: Option<String>,
}

struct Outcome {
    response: Response,
    root_fields: Vec<String>,
    is_push: bool,
}

fn handle(inner: &Inner, req: &Request) -> Response {
    let route = if !inner.base_path.is_empty() && req.path.starts_with(&inner.base_path) {
        &req.path[inner.base_path.len()..]
    } else {
        req.path.as_str()
    };
    let route = route.trim_end_matches('/');
    if route != "/graphql" {
        return Response::html(
            404,
            format!(
                "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n</head>\n<body>\n<pre>Cannot {} {}</pre>\n</body>\n</html>\n",
                req.method, req.path
            ),
        );
    }
    let mut record = RecordedGraphql {
        query: String::new(),
        operation_name: None,
        variables: Value::Null,
        authorization: req.header("authorization").is_some(),
        headers: req.headers.clone(),
        root_fields: Vec::new(),
        status: 0,
        error_codes: Vec::new(),
        body_bytes: req.content_length,
    };
    let (response, slow) = handle_graphql(inner, req, &mut record);
    record.status = response.status;
    if response.status == 200
        && let Ok(v) = serde_json::from_slice::<Value>(&response.body)
        && let Some(errs) = v.get("errors").and_then(Value::as_array)
    {
        record.error_codes = errs
            .iter()
            .filter_map(|e| e.get("name").and_then(Value::as_str).map(str::to_string))
            .collect();
    }
    let trickle = match &lock(&inner.state).fault {
        Fault::Trickle { pause } => Some(*pause),
        _ => None,
    };
    lock(&inner.state).requests.push(record);
    let response = match trickle {
        Some(pause) => response.trickled(pause),
        None => response,
    };
    match slow {
        Some(d) => response.with_delay(d),
        None => response,
    }
}

fn handle_graphql(
    inner: &Inner,
    req: &Request,
    record: &mut RecordedGraphql,
) -> (Response, Option<Duration>) {
    // Transport-level faults (a proxy or the rate limiter in front).
    let (slow, slow_push) = {
        let mut st = lock(&inner.state);
        let mut clear = false;
        let early = match &mut st.fault {
            Fault::TooMany { times, retry_after } if *times > 0 => {
                *times -= 1;
                clear = *times == 0;
                Some(too_many(*retry_after))
            }
            Fault::Unavailable503 { times } if *times > 0 => {
                *times -= 1;
                clear = *times == 0;
                Some(proxy_html(503))
            }
            _ => None,
        };
        if clear {
            st.fault = Fault::None;
        }
        if let Some(r) = early {
            return (r, None);
        }
        match &st.fault {
            Fault::Slow { delay } => (Some(*delay), None),
            Fault::SlowPush { delay } => (None, Some(*delay)),
            _ => (None, None),
        }
    };
    if req.method != "POST" {
        return (
            gql_response(
                400,
                &json!({"errors": [{"message": "GET query missing.", "extensions": {"code": "BAD_REQUEST"}}]}),
            ),
            slow,
        );
    }
    if req.body_too_large || req.content_length > inner.opts.body_limit {
        return (
            Response::html(
                413,
                "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n</head>\n<body>\n<pre>PayloadTooLargeError: request entity too large</pre>\n</body>\n</html>\n",
            ),
            slow,
        );
    }
    let body: GraphqlBody = match serde_json::from_slice(&req.body) {
        Ok(b) => b,
        Err(e) => {
            return (
                gql_response(
                    400,
                    &json!({"errors": [{"message": format!("Unexpected token in JSON body: {e}"), "extensions": {"code": "BAD_REQUEST"}}]}),
                ),
                slow,
            );
        }
    };
    record.query = body.query.clone().unwrap_or_default();
    record.operation_name = body.operation_name.clone();
    record.variables = body.variables.as_ref().map(elide).unwrap_or(Value::Null);
    let outcome = execute_request(inner, req, body);
    record.root_fields = outcome.root_fields;
    let delay = if outcome.is_push {
        slow_push.or(slow)
    } else {
        slow
    };
    (outcome.response, delay)
}

fn execute_request(inner: &Inner, req: &Request, body: GraphqlBody) -> Outcome {
    let mut outcome = Outcome {
        response: Response::json(500, "{}"),
        root_fields: Vec::new(),
        is_push: false,
    };
    let query = match body.query {
        Some(q) if !q.trim().is_empty() => q,
        _ => {
            outcome.response = gql_response(
                400,
                &json!({"errors": [{"message": "GraphQL operations must contain a non-empty `query` or a `persistedQuery` extension.", "extensions": {"code": "BAD_REQUEST"}}]}),
            );
            return outcome;
        }
    };
    let doc = match inner.document(&query) {
        Ok(d) => d,
        Err(errors) => {
            outcome.response = gql_response(200, &json!({ "errors": errors }));
            return outcome;
        }
    };
    let operation = match doc.operations.get(body.operation_name.as_deref()) {
        Ok(op) => op.clone(),
        Err(e) => {
            let err = GqlError::new("BAD_REQUEST", e.message().to_string());
            outcome.response = gql_response(200, &inner.errors_only(&[err]));
            return outcome;
        }
    };
    let raw_vars = match body.variables {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => {
            let err = GqlError::new(
                "BAD_REQUEST",
                "`variables` in a POST body should be provided as an object.",
            );
            outcome.response = gql_response(400, &inner.errors_only(&[err]));
            return outcome;
        }
    };
    let vars = match coerce_variables(&inner.schema, &operation, &raw_vars) {
        Ok(v) => v,
        Err(msg) => {
            outcome.response = gql_response(
                200,
                &inner.errors_only(&[GqlError::new("BAD_USER_INPUT", msg)]),
            );
            return outcome;
        }
    };
    let roots = collect_fields(&doc, &operation.selection_set, &vars);
    outcome.root_fields = roots.iter().map(|f| f.name.to_string()).collect();
    outcome.is_push = outcome.root_fields.iter().any(|f| f == "stixBundlePush");

    // A transport failure of pushes, decided before anything is executed.
    if outcome.is_push {
        let st = lock(&inner.state);
        if let Fault::FailPushAfter {
            ok_pushes,
            status_or_code: PushFailure::Http(status),
        } = &st.fault
            && st.pushes_since_fault >= *ok_pushes
        {
            outcome.response = if *status == 429 {
                too_many(Some(1))
            } else {
                proxy_html(*status)
            };
            return outcome;
        }
    }

    // Authentication.
    let token = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    let authenticated = token == Some(inner.opts.token.as_str());
    if !authenticated {
        let errors: Vec<GqlError> = roots
            .iter()
            .filter(|f| !(f.name == "about" && inner.ver < v("6.1.0")) && f.name != "__typename")
            .map(|f| {
                GqlError::new("AUTH_REQUIRED", default_message("AUTH_REQUIRED"))
                    .at(&[f.response_key().as_str()])
            })
            .collect();
        if !errors.is_empty() {
            let mut body = inner.errors_only(&errors);
            body["data"] = Value::Null;
            outcome.response = gql_response(200, &body);
            return outcome;
        }
    }

    // Execution, root field by root field (serially).
    let mut data = Map::new();
    let mut errors: Vec<GqlError> = Vec::new();
    let mut null_data = false;
    for field in &roots {
        let key = field.response_key().to_string();
        let result = if field.name == "__typename" {
            Ok(json!(operation.object_type().as_str()))
        } else {
            inner
                .check_capability(&field.name)
                .and_then(|_| inner.resolve_root(&doc, field, &vars))
        };
        match result {
            Ok(value) => {
                let projected = if field.name == "workEdit" {
                    value
                } else {
                    project(&value, &field.selection_set, &doc, &vars)
                };
                data.insert(key, projected);
            }
            Err(mut e) => {
                if e.path.is_empty() {
                    e.path = vec![json!(key)];
                }
                errors.push(e);
                if field.definition.ty.is_non_null() {
                    null_data = true;
                }
                data.insert(key, Value::Null);
            }
        }
    }
    let mut body = Map::new();
    if !errors.is_empty() {
        body.insert(
            "errors".into(),
            Value::Array(errors.iter().map(|e| inner.error_json(e)).collect()),
        );
    }
    body.insert(
        "data".into(),
        if null_data {
            Value::Null
        } else {
            Value::Object(data)
        },
    );
    outcome.response = gql_response(200, &Value::Object(body));
    outcome
}

impl Inner {
    /// Parse + validate + the OpenCTI validation rules, cached by document text.
    fn document(&self, query: &str) -> DocResult {
        if let Some(d) = lock(&self.docs).get(query) {
            return d.clone();
        }
        let result = self.build_document(query);
        let mut docs = lock(&self.docs);
        if docs.len() > 1000 {
            docs.clear();
        }
        docs.insert(query.to_string(), result.clone());
        result
    }

    fn build_document(&self, query: &str) -> DocResult {
        if let Err(e) = ast::Document::parse(query, "request.graphql") {
            return Err(e
                .errors
                .iter()
                .map(|d| {
                    let mut g =
                        GqlError::new("GRAPHQL_PARSE_FAILED", format!("Syntax Error: {}", d.error));
                    if let Some(r) = d.line_column_range() {
                        g.locations = vec![json!({"line": r.start.line, "column": r.start.column})];
                    }
                    self.error_json(&g)
                })
                .collect());
        }
        let doc =
            match ExecutableDocument::parse_and_validate(&self.schema, query, "request.graphql") {
                Ok(d) => d,
                Err(e) => {
                    return Err(e
                        .errors
                        .iter()
                        .map(|d| {
                            let compat = d.unstable_to_json_compat();
                            let mut g = GqlError::new("GRAPHQL_VALIDATION_FAILED", compat.message);
                            g.locations = compat
                                .locations
                                .iter()
                                .map(|l| json!({"line": l.line, "column": l.column}))
                                .collect();
                            self.error_json(&g)
                        })
                        .collect());
                }
            };
        // Introspection is disabled from 6.1.0; the stand-in never serves it.
        let mut errors = Vec::new();
        for op in doc.operations.iter() {
            for f in collect_fields_static(&doc, &op.selection_set) {
                if f.name == "__schema" || f.name == "__type" {
                    let msg = if self.ver >= v("6.1.0") {
                        "GraphQL introspection is not allowed by Apollo Server, but the query contained __schema or __type. To enable introspection, pass introspection: true to ApolloServer in production"
                    } else {
                        "Introspection is not implemented by the OpenCTI stand-in"
                    };
                    errors.push(self.error_json(&GqlError::new("GRAPHQL_VALIDATION_FAILED", msg)));
                }
            }
        }
        // graphql-no-alias batching protection (6.1.0+): one call per mutation field.
        if self.ver >= v("6.1.0") {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for op in doc.operations.iter() {
                if op.is_mutation() {
                    for f in collect_fields_static(&doc, &op.selection_set) {
                        *counts.entry(f.name.to_string()).or_default() += 1;
                    }
                }
            }
            for (name, n) in counts {
                if n > 1 {
                    errors.push(self.error_json(&GqlError::new(
                        "GRAPHQL_VALIDATION_FAILED",
                        format!("Allowed number of calls for Mutation->{name} has been exceeded (max: 1)"),
                    )));
                }
            }
        }
        if errors.is_empty() {
            Ok(Arc::new(doc))
        } else {
            Err(errors)
        }
    }

    fn check_capability(&self, field: &str) -> Result<(), GqlError> {
        let pre61 = self.ver < v("6.1.0");
        let required: &[&str] = match field {
            "registerConnector" | "pingConnector" | "stixBundlePush" => &["CONNECTORAPI"],
            "workAdd" if pre61 => &["KNOWLEDGE_KNASKIMPORT", "KNOWLEDGE_KNGETEXPORT_KNASKEXPORT"],
            "workAdd" => &[
                "CONNECTORAPI",
                "MODULES_MODMANAGE",
                "KNOWLEDGE_KNASKIMPORT",
                "KNOWLEDGE_KNGETEXPORT_KNASKEXPORT",
            ],
            "workEdit" if pre61 => &["KNOWLEDGE_KNASKIMPORT", "KNOWLEDGE_KNGETEXPORT_KNASKEXPORT"],
            "workEdit" => &["CONNECTORAPI", "MODULES_MODMANAGE"],
            "connector" | "work" => &["MODULES"],
            "markingDefinitions" => &["KNOWLEDGE", "SETTINGS_SETACCESSES", "SETTINGS_SETMARKINGS"],
            "stixCoreObjects" | "stixCoreRelationships" | "stixSightingRelationships" => {
                &["KNOWLEDGE"]
            }
            "resetStateConnector" => &["MODULES_MODMANAGE"],
            _ => &[],
        };
        if required.is_empty() {
            return Ok(());
        }
        let caps = lock(&self.state).capabilities.clone();
        let ok = caps
            .iter()
            .any(|c| c == "BYPASS" || required.iter().any(|r| c.contains(r)));
        if ok {
            Ok(())
        } else {
            Err(GqlError::new(
                "FORBIDDEN_ACCESS",
                default_message("FORBIDDEN_ACCESS"),
            ))
        }
    }

    fn resolve_root(
        &self,
        doc: &Valid<ExecutableDocument>,
        field: &Field,
        vars: &Map<String, Value>,
    ) -> Result<Value, GqlError> {
        let arg = |name: &str| argument(field, name, vars);
        match field.name.as_str() {
            "about" => Ok(json!({"__typename": "AppInfo", "version": self.opts.version})),
            "me" => {
                let caps = lock(&self.state).capabilities.clone();
                let bypass = caps.iter().any(|c| c == "BYPASS");
                let mut me = json!({
                    "__typename": "MeUser",
                    "id": self.opts.user_id,
                    "name": self.opts.user_name,
                    "user_email": self.opts.user_email,
                    "capabilities": caps.iter().enumerate().map(|(i, c)| json!({
                        "__typename": "Capability", "id": format!("capability-{i}"), "name": c, "description": Value::Null
                    })).collect::<Vec<_>>(),
                });
                for (k, value) in access::lock(&self.directory).me_fields(bypass) {
                    me[k] = value;
                }
                Ok(me)
            }
            "markingDefinitions" => Ok(access::lock(&self.directory).lookup(&arg("filters"))),
            "connector" => {
                let id = arg("id");
                let st = lock(&self.state);
                Ok(id
                    .as_str()
                    .and_then(|id| stored_key(&st, id))
                    .and_then(|id| st.connectors.get(&id))
                    .map(|c| self.connector_out(c))
                    .unwrap_or(Value::Null))
            }
            "work" => {
                let id = arg("id");
                if let Some(p) = &self.platform {
                    return Ok(id
                        .as_str()
                        .and_then(|id| p.work(id))
                        .map(|w| work_json(&w))
                        .unwrap_or(Value::Null));
                }
                let st = lock(&self.state);
                Ok(st
                    .works
                    .iter()
                    .find(|w| Some(w.id.as_str()) == id.as_str())
                    .map(work_json)
                    .unwrap_or(Value::Null))
            }
            f @ ("stixCoreObjects" | "stixCoreRelationships" | "stixSightingRelationships") => {
                self.look_up(f, arg("filters"), arg("first"), arg("after"))
            }
            "registerConnector" => self.register(arg("input")),
            "pingConnector" => self.ping(arg("id"), arg("state"), arg("connectorInfo")),
            "resetStateConnector" => {
                let id = arg("id");
                let mut st = lock(&self.state);
                let c = id
                    .as_str()
                    .and_then(|id| stored_key(&st, id))
                    .and_then(|id| st.connectors.get_mut(&id))
                    .ok_or_else(|| GqlError::new("FUNCTIONAL_ERROR", NOT_FOUND_MSG))?;
                self.reset(c);
                Ok(self.connector_out(c))
            }
            "stixBundlePush" => self.push(arg("connectorId"), arg("bundle"), arg("work_id")),
            "workAdd" => self.work_add(
                arg("connectorId"),
                arg("friendlyName"),
                arg("isMultiPartWork"),
            ),
            "workEdit" => self.work_edit(doc, field, vars),
            other => Err(GqlError::new(
                "UNSUPPORTED_ERROR",
                format!("Field {other} is not implemented by the OpenCTI stand-in"),
            )),
        }
    }

    /// `stixCoreObjects` & co.: one page of the knowledge base. On the asynchronous model a
    /// node shows once a worker imported one of its ids.
    fn look_up(
        &self,
        field: &str,
        filters: Value,
        first: Value,
        after: Value,
    ) -> Result<Value, GqlError> {
        let family = knowledge::Family::of_field(field).expect("a look-up field");
        let st = lock(&self.state);
        let visible = |n: &knowledge::Node| match &self.platform {
            None => true,
            Some(p) => n
                .stix_ids
                .iter()
                .chain([&n.standard_id])
                .any(|i| p.is_imported(i)),
        };
        st.knowledge
            .connection(family, &filters, &first, &after, &visible)
            .map_err(|e| GqlError::new("UNSUPPORTED_ERROR", e))
    }

    fn register(&self, input: Value) -> Result<Value, GqlError> {
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

    fn ping(&self, id: Value, state: Value, info: Value) -> Result<Value, GqlError> {
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

    fn push(&self, connector_id: Value, bundle: Value, work_id: Value) -> Result<Value, GqlError> {
        {
            let st = lock(&self.state);
            if let Fault::FailPushAfter {
                ok_pushes,
                status_or_code: PushFailure::Graphql(code),
            } = &st.fault
                && st.pushes_since_fault >= *ok_pushes
            {
                return Err(GqlError::new(code, default_message(code)));
            }
        }
        let invalid =
            |cause: String| GqlError::new("UNSUPPORTED_ERROR", "Invalid bundle").with_cause(cause);
        let text = bundle.as_str().unwrap_or_default();
        // 1. JSON.parse, type == "bundle", non-empty objects (outside the state lock).
        let mut pushed_objects: Vec<Value> = Vec::new();
        let ids: Vec<String> = if self.opts.bench {
            #[derive(serde::Deserialize)]
            struct LightObject {
                id: Option<String>,
            }
            #[derive(serde::Deserialize)]
            struct LightBundle {
                #[serde(rename = "type")]
                kind: Option<String>,
                objects: Option<Vec<LightObject>>,
            }
            let b: LightBundle = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
            if b.kind.as_deref() != Some("bundle") {
                return Err(invalid("type is not bundle".into()));
            }
            let objects = b.objects.unwrap_or_default();
            if objects.is_empty() {
                return Err(invalid("bundle has no objects".into()));
            }
            objects
                .into_iter()
                .map(|o| o.id.unwrap_or_default())
                .collect()
        } else {
            let b: Value = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
            if b.get("type").and_then(Value::as_str) != Some("bundle") {
                return Err(invalid("type is not bundle".into()));
            }
            let objects = b
                .get("objects")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if objects.is_empty() {
                return Err(invalid("bundle has no objects".into()));
            }
            if self.platform.is_none() {
                // The instant import creates the marking-definitions it gets, as the workers do.
                let mut directory = access::lock(&self.directory);
                objects
                    .iter()
                    .filter(|o| o.get("type").and_then(Value::as_str) == Some("marking-definition"))
                    .for_each(|o| directory.create(o));
            }
            let ids = objects
                .iter()
                .map(|o| {
                    o.get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                })
                .collect();
            pushed_objects = objects;
            ids
        };
        if self.opts.bench {
            pushed_objects = ids.iter().map(|i| json!({ "id": i })).collect();
        }
        let connector_id = connector_id.as_str().unwrap_or_default().to_string();
        let sent_work = work_id
            .as_str()
            .filter(|w| !w.is_empty())
            .map(str::to_string);
        if let Some(p) = &self.platform {
            p.upload();
        }
        let mut st = lock(&self.state);
        // 2. The connector must be registered (the lookup ignores case).
        let Some(stored) = stored_key(&st, &connector_id) else {
            return Err(invalid(NOT_FOUND_MSG.into()));
        };
        let connector_name = st.connectors[&stored].name.clone();
        // 3. A work per push when none is given; 4. one message to the queue.
        let effective = match &self.platform {
            Some(p) => {
                let objects = serde_json::from_str::<Value>(text)
                    .ok()
                    .and_then(|b| b.get("objects").and_then(Value::as_array).cloned())
                    .unwrap_or_default();
                let w = sent_work.clone().unwrap_or_else(|| {
                    let name = format!("{connector_name} run @ {}", iso(now()));
                    p.create_push_work(&stored, &name, objects.len())
                });
                p.publish(
                    &connector_id,
                    &w,
                    objects,
                    st.capabilities.clone(),
                    text.len(),
                );
                w
            }
            None => {
                let w = instant_import(
                    &mut st,
                    self.ver,
                    &connector_id,
                    &connector_name,
                    &sent_work,
                    ids.len(),
                );
                instant_failures(&mut st, &w, text);
                w
            }
        };
        for o in &pushed_objects {
            st.knowledge.import(o);
        }
        st.pushes.push(PushRecord {
            connector_id: connector_id.clone(),
            work_id: sent_work,
            effective_work_id: effective,
            ids,
            bytes: text.len(),
            raw: (!self.opts.bench).then(|| text.to_string()),
        });
        st.pushes_since_fault += 1;
        if let Some((n, cid, state)) = st.ping_after.take() {
            match n {
                0 | 1 => {
                    if let Some(key) = stored_key(&st, &cid)
                        && let Some(c) = st.connectors.get_mut(&key)
                    {
                        c.state = Some(state);
                    }
                }
                n => st.ping_after = Some((n - 1, cid, state)),
            }
        }
        if let Some(n) = st.reset_after.get_mut(&connector_id) {
            if *n <= 1 {
                st.reset_after.remove(&connector_id);
                if let Some(c) = st.connectors.get_mut(&stored) {
                    self.reset(c);
                }
            } else {
                *n -= 1;
            }
        }
        Ok(json!(true))
    }

    fn work_add(
        &self,
        connector_id: Value,
        friendly_name: Value,
        multipart: Value,
    ) -> Result<Value, GqlError> {
        let connector_id = connector_id.as_str().unwrap_or_default().to_string();
        let multipart = multipart.as_bool().unwrap_or(false);
        let name = friendly_name.as_str().unwrap_or_default().to_string();
        let mut st = lock(&self.state);
        if let Some(p) = &self.platform {
            // `createWork` names the work after the stored connector's internal id.
            let stored = stored_key(&st, &connector_id).unwrap_or(connector_id);
            return Ok(work_json(&p.create_work(&stored, &name, multipart)));
        }
        let t = now();
        let id = unique_work_id(&mut st, &connector_id);
        let w = WorkRecord {
            id,
            name,
            connector_id,
            multipart,
            status: "progress".into(),
            closed: false,
            in_error: false,
            messages: Vec::new(),
            errors: Vec::new(),
            error_sources: Default::default(),
            expected: 0,
            processed: 0,
            created_by_push: false,
            timestamp: iso(t),
            received_time: None,
            processed_time: None,
            completed_time: None,
        };
        let out = work_json(&w);
        st.works.push(w);
        Ok(out)
    }

    fn work_edit(
        &self,
        doc: &Valid<ExecutableDocument>,
        field: &Field,
        vars: &Map<String, Value>,
    ) -> Result<Value, GqlError> {
        let id = argument(field, "id", vars)
            .as_str()
            .unwrap_or_default()
            .to_string();
        let key = field.response_key().to_string();
        let mut out = Map::new();
        for sub in collect_fields(doc, &field.selection_set, vars) {
            let sub_key = sub.response_key().to_string();
            if sub.name == "__typename" {
                out.insert(sub_key, json!("WorkEditMutations"));
                continue;
            }
            let a = |n: &str| argument(sub, n, vars);
            if sub.name == "addExpectations" {
                // Before any lock: the hook may act on the stand-in or stop the broker.
                let hook = lock(&self.on_add_expectations).take();
                if let Some(hook) = hook {
                    hook();
                }
                let mut st = lock(&self.state);
                if let Some(cid) = st.reset_on_expectations.take()
                    && let Some(key) = stored_key(&st, &cid)
                    && let Some(c) = st.connectors.get_mut(&key)
                {
                    self.reset(c);
                }
            }
            if let Some(p) = &self.platform {
                let args = json!({
                    "message": a("message"), "inError": a("inError"),
                    "error": a("error"), "expectations": a("expectations"),
                });
                p.work_edit(&id, sub.name.as_str(), &args).map_err(|m| {
                    GqlError::new("FUNCTIONAL_ERROR", m).at(&[key.as_str(), sub_key.as_str()])
                })?;
                out.insert(sub_key, json!(id));
                continue;
            }
            let mut st = lock(&self.state);
            let ver = self.ver;
            let Some(idx) = st.works.iter().position(|w| w.id == id) else {
                return Err(
                    GqlError::new("FUNCTIONAL_ERROR", format!("Work {id} not found"))
                        .at(&[key.as_str(), sub_key.as_str()]),
                );
            };
            let t = iso(now());
            match sub.name.as_str() {
                "toProcessed" => {
                    let w = &mut st.works[idx];
                    let in_error = a("inError").as_bool().unwrap_or(false);
                    let message = a("message").as_str().unwrap_or_default().to_string();
                    w.closed = true;
                    w.in_error |= in_error;
                    w.processed_time = Some(t);
                    if in_error {
                        w.errors.push(message);
                    } else {
                        w.messages.push(message);
                    }
                    refresh_work_status(w, ver);
                }
                "toReceived" => {
                    let w = &mut st.works[idx];
                    w.received_time = Some(t);
                    if let Some(m) = a("message").as_str() {
                        w.messages.push(m.to_string());
                    }
                }
                "reportExpectation" => {
                    let w = &mut st.works[idx];
                    w.processed += 1;
                    if let Some(e) = a("error").get("error").and_then(Value::as_str) {
                        w.errors.push(e.to_string());
                    }
                    refresh_work_status(w, ver);
                }
                "addExpectations" => {
                    let w = &mut st.works[idx];
                    w.expected += a("expectations").as_u64().unwrap_or(0);
                }
                "delete" => {
                    st.works.remove(idx);
                }
                _ => {} // ping, addDraftContext
            }
            out.insert(sub_key, json!(id));
        }
        out.insert("__typename".into(), json!("WorkEditMutations"));
        // Keep only the selected keys.
        let selected: Vec<String> = collect_fields(doc, &field.selection_set, vars)
            .iter()
            .map(|f| f.response_key().to_string())
            .collect();
        out.retain(|k, _| selected.contains(k));
        Ok(Value::Object(out))
    }
}

/// The instantaneous import: a work per push when none is given, every object counted at once
/// (6.3.0+ splits into one piece per object).
fn instant_import(
    st: &mut State,
    ver: Version,
    connector_id: &str,
    connector_name: &str,
    sent_work: &Option<String>,
    objects: usize,
) -> String {
    let effective = match &sent_work {
        Some(w) => w.clone(),
        None => {
            let t = now();
            let id = unique_work_id(st, connector_id);
            st.works.push(WorkRecord {
                id: id.clone(),
                name: format!("{connector_name} run @ {}", iso(t)),
                connector_id: connector_id.to_string(),
                multipart: false,
                status: "progress".into(),
                closed: false,
                in_error: false,
                messages: Vec::new(),
                errors: Vec::new(),
                error_sources: Default::default(),
                expected: 0,
                processed: 0,
                created_by_push: true,
                timestamp: iso(t),
                received_time: Some(iso(t)),
                processed_time: None,
                completed_time: None,
            });
            id
        }
    };
    // 4. The (instantaneous) worker: 6.3.0+ splits into one piece per object. A one-object
    // message is not split, so nothing adds its expectation when the client gave the work
    // (`push_handler.py`; the server adds one only to a work it made, `stix.js`).
    let pieces = if ver >= v("6.3.0") { objects as u64 } else { 1 };
    let expected = match sent_work {
        Some(_) if objects == 1 => 0,
        _ => pieces,
    };
    if let Some(w) = st.works.iter_mut().find(|w| w.id == effective) {
        w.expected += expected;
        w.processed += pieces;
        refresh_work_status(w, ver);
    }
    effective
}

/// The instantaneous worker's failures set with `fail_next_import`: reported on the work
/// (the piece still counts as processed), with the object as the error's source.
fn instant_failures(st: &mut State, work: &str, bundle: &str) {
    if st.transient.is_empty() {
        return;
    }
    let objects: Vec<Value> = serde_json::from_str::<Value>(bundle)
        .ok()
        .and_then(|b| b.get("objects").and_then(Value::as_array).cloned())
        .unwrap_or_default();
    for o in objects {
        let Some(code) = o
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| st.transient.remove(id))
        else {
            continue;
        };
        if let Some(w) = st.works.iter_mut().find(|w| w.id == work) {
            w.error_sources.insert(w.errors.len(), o.to_string());
            w.errors.push(super::platform::worker_message(&code));
        }
    }
}

fn unique_work_id(st: &mut State, connector_id: &str) -> String {
    let mut ms = now().timestamp_millis();
    if ms <= st.last_work_ms {
        ms = st.last_work_ms + 1;
    }
    st.last_work_ms = ms;
    let t = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_else(now);
    format!("work_{connector_id}_{}", iso(t))
}

// ---------------------------------------------------------------------------------------------
// Selection sets, arguments, projection

fn directive_allows(directives: &ast::DirectiveList, vars: &Map<String, Value>) -> bool {
    let cond = |name: &str| {
        directives
            .get(name)
            .and_then(|d| d.specified_argument_by_name("if"))
            .map(|v| value_to_json(v, vars).as_bool().unwrap_or(false))
    };
    if cond("skip") == Some(true) {
        return false;
    }
    cond("include") != Some(false)
}

/// The fields of a selection set, through fragments, honouring `@skip`/`@include`.
fn collect_fields<'d>(
    doc: &'d ExecutableDocument,
    set: &'d SelectionSet,
    vars: &Map<String, Value>,
) -> Vec<&'d apollo_compiler::Node<Field>> {
    let mut out = Vec::new();
    collect_into(doc, set, Some(vars), &mut out, 0);
    out
}

/// Like [`collect_fields`], ignoring directives (for validation rules).
fn collect_fields_static<'d>(
    doc: &'d ExecutableDocument,
    set: &'d SelectionSet,
) -> Vec<&'d apollo_compiler::Node<Field>> {
    let mut out = Vec::new();
    collect_into(doc, set, None, &mut out, 0);
    out
}

fn collect_into<'d>(
    doc: &'d ExecutableDocument,
    set: &'d SelectionSet,
    vars: Option<&Map<String, Value>>,
    out: &mut Vec<&'d apollo_compiler::Node<Field>>,
    depth: usize,
) {
    if depth > 32 {
        return;
    }
    let allows = |d: &ast::DirectiveList| vars.is_none_or(|v| directive_allows(d, v));
    for sel in &set.selections {
        match sel {
            Selection::Field(f) => {
                if allows(&f.directives) {
                    out.push(f);
                }
            }
            Selection::InlineFragment(i) => {
                if allows(&i.directives) {
                    collect_into(doc, &i.selection_set, vars, out, depth + 1);
                }
            }
            Selection::FragmentSpread(s) => {
                if allows(&s.directives)
                    && let Some(frag) = doc.fragments.get(&s.fragment_name)
                {
                    collect_into(doc, &frag.selection_set, vars, out, depth + 1);
                }
            }
        }
    }
}

fn value_to_json(v: &ast::Value, vars: &Map<String, Value>) -> Value {
    match v {
        ast::Value::Null => Value::Null,
        ast::Value::Enum(n) => json!(n.as_str()),
        ast::Value::Variable(n) => vars.get(n.as_str()).cloned().unwrap_or(Value::Null),
        ast::Value::String(s) => json!(s),
        ast::Value::Float(f) => f.try_to_f64().map(|x| json!(x)).unwrap_or(Value::Null),
        ast::Value::Int(i) => i
            .as_str()
            .parse::<i64>()
            .map(|x| json!(x))
            .unwrap_or(Value::Null),
        ast::Value::Boolean(b) => json!(b),
        ast::Value::List(items) => {
            Value::Array(items.iter().map(|i| value_to_json(i, vars)).collect())
        }
        ast::Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, x)| (k.to_string(), value_to_json(x, vars)))
                .collect(),
        ),
    }
}

/// An argument's value: the literal or variable given, else the definition's default, else null.
fn argument(field: &Field, name: &str, vars: &Map<String, Value>) -> Value {
    if let Some(a) = field.arguments.iter().find(|a| a.name == name) {
        if let ast::Value::Variable(var) = a.value.as_ref()
            && !vars.contains_key(var.as_str())
        {
            // An omitted variable leaves the argument unset: fall back to the default.
        } else {
            return value_to_json(&a.value, vars);
        }
    }
    field
        .definition
        .arguments
        .iter()
        .find(|d| d.name == name)
        .and_then(|d| d.default_value.as_ref())
        .map(|d| value_to_json(d, vars))
        .unwrap_or(Value::Null)
}

/// Keeps only the selected fields (by response key) of a resolved value.
fn project(
    value: &Value,
    set: &SelectionSet,
    doc: &ExecutableDocument,
    vars: &Map<String, Value>,
) -> Value {
    match value {
        Value::Null => Value::Null,
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| project(i, set, doc, vars)).collect())
        }
        Value::Object(obj) if !set.selections.is_empty() => {
            let mut out = Map::new();
            for f in collect_fields(doc, set, vars) {
                let sub = obj.get(f.name.as_str()).cloned().unwrap_or(Value::Null);
                let v = if f.selection_set.selections.is_empty() {
                    sub
                } else {
                    project(&sub, &f.selection_set, doc, vars)
                };
                out.insert(f.response_key().to_string(), v);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// Variable coercion (graphql-js `coerceVariableValues` messages)

fn coerce_variables(
    schema: &Schema,
    op: &Operation,
    raw: &Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for def in &op.variables {
        let name = def.name.as_str();
        match raw.get(name) {
            None => {
                if let Some(d) = &def.default_value {
                    out.insert(name.into(), value_to_json(d, &Map::new()));
                } else if def.ty.is_non_null() {
                    return Err(format!(
                        "Variable \"${name}\" of required type \"{}\" was not provided.",
                        def.ty
                    ));
                }
            }
            Some(Value::Null) if def.ty.is_non_null() => {
                return Err(format!(
                    "Variable \"${name}\" of non-null type \"{}\" must not be null.",
                    def.ty
                ));
            }
            Some(value) => match coerce_value(schema, &def.ty, value, "") {
                Ok(c) => {
                    out.insert(name.into(), c);
                }
                Err((path, msg)) => {
                    let at = if path.is_empty() {
                        String::new()
                    } else {
                        format!(" at \"{name}{path}\"")
                    };
                    return Err(format!(
                        "Variable \"${name}\" got invalid value {}{at}; {msg}",
                        short_json(value)
                    ));
                }
            },
        }
    }
    Ok(out)
}

fn short_json(v: &Value) -> String {
    let s = elide(v).to_string();
    if s.len() > 300 {
        let mut cut = 300;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}…", &s[..cut])
    } else {
        s
    }
}

fn coerce_value(
    schema: &Schema,
    ty: &ast::Type,
    v: &Value,
    path: &str,
) -> Result<Value, (String, String)> {
    if v.is_null() {
        return if ty.is_non_null() {
            Err((
                path.into(),
                format!("Expected non-nullable type \"{ty}\" not to be null."),
            ))
        } else {
            Ok(Value::Null)
        };
    }
    match ty {
        ast::Type::List(inner) | ast::Type::NonNullList(inner) => match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, x)| coerce_value(schema, inner, x, &format!("{path}[{i}]")))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            single => Ok(Value::Array(vec![coerce_value(
                schema, inner, single, path,
            )?])),
        },
        ast::Type::Named(n) | ast::Type::NonNullNamed(n) => {
            coerce_named(schema, n.as_str(), v, path)
        }
    }
}

fn coerce_named(
    schema: &Schema,
    name: &str,
    v: &Value,
    path: &str,
) -> Result<Value, (String, String)> {
    let err = |m: String| Err((path.to_string(), m));
    match name {
        "String" => match v {
            Value::String(_) => Ok(v.clone()),
            _ => err(format!("String cannot represent a non string value: {v}")),
        },
        "ID" => match v {
            Value::String(_) => Ok(v.clone()),
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(json!(n.to_string())),
            _ => err(format!("ID cannot represent value: {v}")),
        },
        "Boolean" => match v {
            Value::Bool(_) => Ok(v.clone()),
            _ => err(format!("Boolean cannot represent a non boolean value: {v}")),
        },
        "Int" => match v.as_i64() {
            Some(i) if i32::try_from(i).is_ok() => Ok(v.clone()),
            Some(_) => err(format!(
                "Int cannot represent non 32-bit signed integer value: {v}"
            )),
            None => match v.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() <= f64::from(i32::MAX) => {
                    Ok(json!(f as i64))
                }
                _ => err(format!("Int cannot represent non-integer value: {v}")),
            },
        },
        "Float" => match v {
            Value::Number(_) => Ok(v.clone()),
            _ => err(format!("Float cannot represent non numeric value: {v}")),
        },
        "DateTime" => match v.as_str() {
            Some(s) if DateTime::parse_from_rfc3339(s).is_ok() => Ok(v.clone()),
            _ => err(format!(
                "DateTime cannot represent an invalid date-time-string {v}."
            )),
        },
        _ => match schema.types.get(name) {
            Some(ExtendedType::Enum(e)) => match v.as_str() {
                Some(s) if e.values.contains_key(s) => Ok(v.clone()),
                Some(s) => err(format!("Value \"{s}\" does not exist in \"{name}\" enum.")),
                None => err(format!(
                    "Enum \"{name}\" cannot represent non-string value: {v}."
                )),
            },
            Some(ExtendedType::InputObject(def)) => {
                let Some(obj) = v.as_object() else {
                    return err(format!("Expected type \"{name}\" to be an object."));
                };
                let mut out = Map::new();
                for (fname, fdef) in &def.fields {
                    let sub = format!("{path}.{fname}");
                    match obj.get(fname.as_str()) {
                        None => {
                            if let Some(d) = &fdef.default_value {
                                out.insert(fname.to_string(), value_to_json(d, &Map::new()));
                            } else if fdef.ty.is_non_null() {
                                return err(format!(
                                    "Field \"{fname}\" of required type \"{}\" was not provided.",
                                    fdef.ty
                                ));
                            }
                        }
                        Some(x) => {
                            out.insert(fname.to_string(), coerce_value(schema, &fdef.ty, x, &sub)?);
                        }
                    }
                }
                for key in obj.keys() {
                    if !def.fields.contains_key(key.as_str()) {
                        return err(format!(
                            "Field \"{key}\" is not defined by type \"{name}\"."
                        ));
                    }
                }
                Ok(Value::Object(out))
            }
            // Custom scalars accept anything.
            _ => Ok(v.clone()),
        },
    }
}
