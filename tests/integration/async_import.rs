//! The CLI against the asynchronous OpenCTI stand-in (`support::platform`): what the platform
//! imports after `stixBundlePush` answered true, and what it throws away.
//!
//! For each way a client can lose data (`shared/notes/opencti-async-import.md` §3) there are
//! two halves: a scripted client doing what older clients did, over GraphQL, which the platform
//! must make lose data (so the model reproduces the loss, and a client behaving that way fails
//! the second half), and the real CLI, which must lose nothing.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{CONNECTOR_ID, Peers, incidents};
use crate::support::disinfox::{DisinfoxStandin, render_bundle};
use crate::support::opencti::{Import, OpenctiOptions, OpenctiStandin};
use crate::support::platform::ledger::{DropReason, Dropped};
use crate::support::platform::{AsyncModel, Platform, SlowUpload};

/// OpenCTI's built-in "Connector" role, plus what creating every object needs.
const ROLE: &[&str] = &[
    "CONNECTORAPI",
    "MODULES_MODMANAGE",
    "KNOWLEDGE_KNUPDATE_KNDELETE",
    "KNOWLEDGE_KNASKIMPORT",
    "SETTINGS_SETMARKINGS",
    "SETTINGS_SETLABELS",
    "SETTINGS_SETKILLCHAINPHASES",
];

/// Longest wait for the platform's queues to drain.
const DRAIN: Duration = Duration::from_secs(30);

fn model() -> AsyncModel {
    AsyncModel {
        workers: 3,
        time_scale: 0.005,
        ..AsyncModel::default()
    }
}

fn async_octi(version: &str, model: AsyncModel) -> OpenctiStandin {
    let octi = OpenctiStandin::start(OpenctiOptions {
        import: Import::Async(model),
        ..OpenctiOptions::version(version)
    });
    octi.set_capabilities(ROLE.iter().copied());
    octi
}

fn peers(version: &str, model: AsyncModel) -> Peers {
    Peers {
        home: tempfile::tempdir().unwrap(),
        dx: DisinfoxStandin::start_default(),
        octi: async_octi(version, model),
    }
}

/// `count` incidents modified `ago` before DISINFOX's clock; their ids.
fn add(env: &Peers, count: u64, first: u64, ago: chrono::Duration) -> Vec<String> {
    env.add_incidents(count, first, ago)
}

/// `sync --json` with extra arguments: the exit code and the summary.
fn sync(env: &Peers, extra: &[&str]) -> (i32, Value) {
    let out = env
        .cmd()
        .args(["sync", "--json"])
        .args(extra)
        .output()
        .unwrap();
    let summary = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), summary)
}

fn first_drops(d: &[Dropped]) -> String {
    format!("{:?}", &d[..d.len().min(3)])
}

/// The queues drained, nothing dropped, every pushed object imported.
fn assert_nothing_lost(p: &Platform) {
    assert!(p.wait_drained(DRAIN), "never drained: {}", p.summary());
    let dropped = p.dropped();
    assert!(
        dropped.is_empty(),
        "dropped {}: {}",
        first_drops(&dropped),
        p.summary()
    );
    assert!(p.missing().is_empty(), "not imported: {}", p.summary());
}

fn assert_all_imported(p: &Platform, ids: &[String]) {
    let imported = p.imported_ids();
    let missing: Vec<&String> = ids.iter().filter(|i| !imported.contains(*i)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} DISINFOX objects never imported, e.g. {:?}: {}",
        missing.len(),
        ids.len(),
        missing.first(),
        p.summary()
    );
}

// ---------------------------------------------------------------------------------------------
// A scripted client: what older clients sent, over GraphQL.

struct OldClient {
    url: String,
    token: String,
    version: String,
    http: reqwest::blocking::Client,
}

impl OldClient {
    fn new(o: &OpenctiStandin) -> OldClient {
        OldClient {
            url: o.graphql_url(),
            token: o.token(),
            version: o.version(),
            http: crate::common::http_client().build().unwrap(),
        }
    }

    fn at_least(&self, v: &str) -> bool {
        use crate::support::version::Version;
        Version::parse(&self.version) >= Version::parse(v)
    }

    fn call(&self, query: &str, variables: Value) -> Value {
        let body: Value = self
            .http
            .post(&self.url)
            .bearer_auth(&self.token)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert!(body.get("errors").is_none(), "{query}: {body}");
        body["data"].clone()
    }

    /// The id the platform stored.
    fn register(&self, id: &str) -> String {
        let d = self.call(
            "mutation R($i: RegisterConnectorInput) { registerConnector(input: $i) { id } }",
            json!({"i": {"id": id, "name": "DISINFOX", "type": "EXTERNAL_IMPORT", "scope": ["stix2"],
                         "auto": false, "only_contextual": false, "playbook_compatible": false}}),
        );
        d["registerConnector"]["id"].as_str().unwrap().to_owned()
    }

    fn work_add(&self, connector: &str, multipart: bool) -> String {
        let d = if self.at_least("7.260422.0") {
            self.call(
                "mutation W($c: String!, $m: Boolean) { workAdd(connectorId: $c, friendlyName: \"run\", isMultiPartWork: $m) { id } }",
                json!({"c": connector, "m": multipart}),
            )
        } else {
            self.call(
                "mutation W($c: String!) { workAdd(connectorId: $c, friendlyName: \"run\") { id } }",
                json!({"c": connector}),
            )
        };
        d["workAdd"]["id"].as_str().unwrap().to_owned()
    }

    fn push(&self, connector: &str, objects: &[Value], work: Option<&str>) {
        let texts: Vec<String> = objects.iter().map(Value::to_string).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let bundle = render_bundle(&refs);
        let d = match work {
            Some(w) => self.call(
                "mutation P($c: String!, $b: String!, $w: String) { stixBundlePush(connectorId: $c, bundle: $b, work_id: $w) }",
                json!({"c": connector, "b": bundle, "w": w}),
            ),
            None => self.call(
                "mutation P($c: String!, $b: String!) { stixBundlePush(connectorId: $c, bundle: $b) }",
                json!({"c": connector, "b": bundle}),
            ),
        };
        assert_eq!(d["stixBundlePush"], true);
    }

    fn to_processed(&self, work: &str) {
        self.call(
            "mutation D($id: ID!) { workEdit(id: $id) { toProcessed(message: \"done\", inError: false) } }",
            json!({"id": work}),
        );
    }

    /// The state the platform answered.
    fn ping(&self, connector: &str, state: &str) -> Value {
        self.call(
            "mutation G($id: ID!, $s: String) { pingConnector(id: $id, state: $s) { connector_state } }",
            json!({"id": connector, "s": state}),
        )["pingConnector"]["connector_state"]
            .clone()
    }
}

fn uuid(tag: u64, n: u64) -> String {
    format!("{tag:08x}-0000-4000-8000-{n:012x}")
}

/// Intrusion sets without references (nothing for the platform to wait on).
fn entities(tag: u64, count: u64) -> Vec<Value> {
    (0..count)
        .map(|n| {
            json!({"type": "intrusion-set", "spec_version": "2.1", "id": format!("intrusion-set--{}", uuid(tag, n)),
                   "name": format!("Set {tag}-{n}"), "created": "2026-01-01T00:00:00.000Z",
                   "modified": "2026-01-01T00:00:00.000Z"})
        })
        .collect()
}

fn relationship(tag: u64, from: &Value, to: &Value) -> Value {
    json!({"type": "relationship", "spec_version": "2.1", "id": format!("relationship--{}", uuid(tag, 0)),
           "relationship_type": "related-to", "source_ref": from["id"], "target_ref": to["id"],
           "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z"})
}

fn ids_of(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

fn dropped_ids(p: &Platform, pick: impl Fn(&DropReason) -> bool) -> BTreeSet<String> {
    p.dropped()
        .into_iter()
        .filter(|d| pick(&d.reason))
        .map(|d| d.id)
        .collect()
}

fn not_alive(r: &DropReason) -> bool {
    matches!(r, DropReason::WorkNotAlive { .. })
}

// ---------------------------------------------------------------------------------------------
// Every release: a first sync of several chunks with a slow last upload, runs back to back
// while the queue drains, an incremental run — nothing dropped, everything imported.

fn release_lifecycle(version: &str) {
    let env = peers(
        version,
        AsyncModel {
            slow_upload: Some(SlowUpload {
                from_push: 5,
                delay: Duration::from_millis(150),
            }),
            ..model()
        },
    );
    let p = env.octi.platform();
    let mut all = add(&env, 40, 0, chrono::Duration::minutes(30));
    let (code, s) = sync(&env, &["--chunk-size", "12K"]);
    assert_eq!(code, 0, "{s}");
    assert_eq!(s["status"], "imported", "{s}");
    assert!(
        env.octi.pushes().len() >= 5,
        "{} chunks",
        env.octi.pushes().len()
    );
    assert_nothing_lost(p);

    // Back to back while the first run's chunks are still queued.
    p.pause();
    all.extend(add(&env, 8, 100, chrono::Duration::minutes(20)));
    let (code, s) = sync(&env, &["--chunk-size", "12K"]);
    assert_eq!((code, &s["status"]), (0, &json!("imported")), "{s}");
    all.extend(add(&env, 8, 200, chrono::Duration::minutes(10)));
    let (code, s) = sync(&env, &["--chunk-size", "12K"]);
    assert_eq!(code, 0, "{s}");
    p.resume();
    assert_nothing_lost(p);

    // Incremental: picks up whatever a deferred run left, and the new incidents.
    all.extend(add(&env, 3, 300, chrono::Duration::minutes(5)));
    let (code, s) = sync(&env, &["--chunk-size", "12K"]);
    assert_eq!((code, &s["status"]), (0, &json!("imported")), "{s}");
    assert_nothing_lost(p);
    assert_all_imported(p, &all);
}

macro_rules! lifecycle {
    ($($name:ident => $version:literal),* $(,)?) => {$(
        #[test]
        fn $name() {
            release_lifecycle($version);
        }
    )*};
}

lifecycle! {
    lifecycle_6_2_6 => "6.2.6",
    lifecycle_6_5_7 => "6.5.7",
    lifecycle_6_8_7 => "6.8.7",
    lifecycle_6_9_17 => "6.9.17",
    lifecycle_6_9_22 => "6.9.22",
    lifecycle_7_260422_0 => "7.260422.0",
    lifecycle_7_260428_0 => "7.260428.0",
    lifecycle_7_260507_0 => "7.260507.0",
    lifecycle_7_260510_0 => "7.260510.0",
}

// ---------------------------------------------------------------------------------------------
// 7.260422.0–7.260423.0: `toProcessed` right after the pushes completes the work at 0 ≥ 0
// and deletes its key before any worker has split a chunk.

#[test]
fn at_zero_to_processed_after_the_pushes_loses_the_run_on_7_260422() {
    for version in ["7.260422.0", "7.260423.0"] {
        let octi = async_octi(version, model());
        let p = octi.platform();
        let old = OldClient::new(&octi);
        let id = old.register(CONNECTOR_ID);
        p.pause();
        let work = old.work_add(&id, true);
        let (a, b) = (entities(1, 6), entities(2, 6));
        old.push(&id, &a, Some(&work));
        old.push(&id, &b, Some(&work));
        old.to_processed(&work);
        assert!(
            !p.work_alive(&work),
            "{version}: toProcessed kept the work alive"
        );
        p.resume();
        assert!(p.wait_drained(DRAIN));
        let lost = dropped_ids(p, not_alive);
        assert_eq!(lost.len(), 12, "{version}: {}", p.summary());
        assert!(p.imported_ids().is_empty());
    }
}

#[test]
fn at_zero_the_cli_loses_nothing_when_workers_lag_on_7_260422() {
    for version in ["7.260422.0", "7.260423.0"] {
        let env = peers(version, model());
        let p = env.octi.platform();
        let all = add(&env, 30, 0, chrono::Duration::minutes(30));
        // No worker takes anything until the run is over: every chunk is unsplit when the run
        // ends, whatever the run sends last.
        p.pause();
        let (code, s) = sync(&env, &["--chunk-size", "12K"]);
        assert_eq!(
            (code, &s["status"]),
            (0, &json!("imported")),
            "{version}: {s}"
        );
        p.resume();
        assert_nothing_lost(p);
        assert_all_imported(p, &all);
    }
}

// ---------------------------------------------------------------------------------------------
// 6.8.7–7.260417.0: `toProcessed` while the chunks split so far are all imported and the
// last one is still unsplit deletes the work; the last chunk is dropped.

#[test]
fn unsplit_last_chunk_dropped_after_an_early_to_processed() {
    for version in ["6.8.7", "6.9.17", "7.260417.0"] {
        let octi = async_octi(version, model());
        let p = octi.platform();
        let old = OldClient::new(&octi);
        let id = old.register(CONNECTOR_ID);
        let work = old.work_add(&id, false);
        for tag in 1..=3 {
            old.push(&id, &entities(tag, 5), Some(&work));
        }
        assert!(p.wait_drained(DRAIN));
        // The last upload arrives; no worker has taken it yet when the client closes the work.
        p.pause();
        let last = entities(4, 5);
        old.push(&id, &last, Some(&work));
        old.to_processed(&work);
        p.resume();
        assert!(p.wait_drained(DRAIN));
        assert_eq!(
            dropped_ids(p, not_alive),
            ids_of(&last).into_iter().collect(),
            "{version}: {}",
            p.summary()
        );
        assert_eq!(p.imported_ids().len(), 15, "{version}");
    }
}

#[test]
fn unsplit_last_chunk_the_cli_loses_nothing() {
    for version in ["6.8.7", "6.9.17", "7.260417.0", "7.260428.0"] {
        let env = peers(version, model());
        let p = env.octi.platform();
        let all = add(&env, 30, 0, chrono::Duration::minutes(30));
        let (code, plan) = sync(&env, &["--chunk-size", "12K", "--dry-run"]);
        assert_eq!(code, 0, "{plan}");
        let chunks = plan["chunks"].as_u64().unwrap() as usize;
        assert!(chunks >= 3, "{plan}");
        p.drain_then_pause_at_push(chunks);
        let (code, s) = sync(&env, &["--chunk-size", "12K"]);
        assert_eq!(
            (code, &s["status"]),
            (0, &json!("imported")),
            "{version}: {s}"
        );
        assert_eq!(p.push_count(), chunks);
        p.resume();
        assert_nothing_lost(p);
        assert_all_imported(p, &all);
    }
}

// ---------------------------------------------------------------------------------------------
// Up to 7.260507.0: a newer work of the same connector reports while an older work still has
// queued pieces; `closeOldWorks` deletes the older key and its pieces are dropped.

/// Run A (one chunk of 8) and run B (one object) queued; one worker splits A and imports B,
/// then the connector manager runs, then A's pieces are taken.
fn newer_work_reports_first(version: &str, with_work_id: bool) -> (OpenctiStandin, Vec<Value>) {
    let octi = async_octi(
        version,
        AsyncModel {
            workers: 1,
            manager_interval: None,
            ..model()
        },
    );
    let old = OldClient::new(&octi);
    let id = old.register(CONNECTOR_ID);
    let p = octi.platform();
    p.pause();
    let run_a = entities(1, 8);
    let run_b = entities(2, 1);
    if with_work_id {
        let wa = old.work_add(&id, false);
        old.push(&id, &run_a, Some(&wa));
        let wb = old.work_add(&id, false);
        old.push(&id, &run_b, Some(&wb));
    } else {
        old.push(&id, &run_a, None);
        old.push(&id, &run_b, None);
    }
    p.pause_after(2);
    assert!(p.wait_idle(DRAIN));
    p.run_connector_manager();
    p.resume();
    assert!(p.wait_drained(DRAIN));
    (octi, run_a)
}

#[test]
fn newer_work_a_newer_run_closes_the_older_runs_queued_tail() {
    for version in ["6.8.7", "6.9.17", "7.260507.0"] {
        let (octi, run_a) = newer_work_reports_first(version, true);
        let p = octi.platform();
        assert_eq!(
            dropped_ids(p, not_alive),
            ids_of(&run_a).into_iter().collect(),
            "{version}: {}",
            p.summary()
        );
    }
    // 7.260510.0 keeps the older key: nothing is lost.
    let (octi, _) = newer_work_reports_first("7.260510.0", true);
    assert_nothing_lost(octi.platform());
}

#[test]
fn newer_work_pushes_without_work_id_lose_earlier_chunks() {
    for version in ["6.8.7", "7.260507.0"] {
        let (octi, run_a) = newer_work_reports_first(version, false);
        let p = octi.platform();
        assert_eq!(
            dropped_ids(p, not_alive),
            ids_of(&run_a).into_iter().collect(),
            "{version}: {}",
            p.summary()
        );
    }
}

#[test]
fn newer_work_the_cli_defers_a_run_while_the_previous_one_is_queued() {
    for version in ["6.8.7", "7.260507.0", "7.260510.0"] {
        let env = peers(version, model());
        let p = env.octi.platform();
        let mut all = add(&env, 20, 0, chrono::Duration::minutes(30));
        p.pause();
        let (code, s) = sync(&env, &["--chunk-size", "12K"]);
        assert_eq!((code, &s["status"]), (0, &json!("imported")), "{s}");
        let pushed = env.octi.pushes().len();
        all.extend(add(&env, 5, 100, chrono::Duration::minutes(10)));
        let (code, s) = sync(&env, &["--chunk-size", "12K"]);
        assert_eq!(code, 0, "{s}");
        if version == "7.260510.0" {
            assert_eq!(s["status"], "imported", "{version}: {s}");
        } else {
            assert_eq!(s["status"], "deferred", "{version}: {s}");
            assert_eq!(
                env.octi.pushes().len(),
                pushed,
                "{version}: a deferred run pushed"
            );
        }
        // The newer work reports while the older one's pieces are queued.
        p.resume();
        p.run_connector_manager();
        assert_nothing_lost(p);
        let (code, s) = sync(&env, &["--chunk-size", "12K"]);
        assert_eq!(code, 0, "{s}");
        assert_nothing_lost(p);
        assert_all_imported(p, &all);
    }
}

// ---------------------------------------------------------------------------------------------
// Chunks are split and imported concurrently: a relationship whose end travels in another
// chunk can be tried before that end exists, and is dropped after its retries.

fn slow_imports() -> AsyncModel {
    AsyncModel {
        workers: 2,
        time_scale: 0.01,
        // The end arrives long after the relationship gave up, with room for a loaded
        // machine's scheduling: before 6.2.14 the 41-object chunk is imported whole at 3 s an
        // object (1.2 s scaled); from 6.2.14 it takes 41 × 2 s (0.8 s scaled) to split while
        // the 2-object chunk's pieces are queued first. Retries last at most 4 × 3 s (0.12 s).
        import_cost: Duration::from_secs(3),
        split_cost: Duration::from_secs(2),
        ..AsyncModel::default()
    }
}

#[test]
fn cross_chunk_a_relationship_whose_end_is_in_another_chunk_is_dropped() {
    for version in ["6.2.6", "6.9.17", "7.260510.0"] {
        let octi = async_octi(version, slow_imports());
        let old = OldClient::new(&octi);
        let id = old.register(CONNECTOR_ID);
        let p = octi.platform();
        let work = (version != "6.2.6").then(|| old.work_add(&id, false));
        // Chunk 1 ends with X; chunk 2 holds Y and X→Y, as a client that chunks by order does.
        let mut first = entities(1, 40);
        let x = entities(9, 1).remove(0);
        first.push(x.clone());
        let y = entities(10, 1).remove(0);
        let rel = relationship(11, &x, &y);
        p.pause();
        old.push(&id, &first, work.as_deref());
        old.push(&id, &[y, rel.clone()], work.as_deref());
        p.resume();
        assert!(p.wait_drained(DRAIN));
        let lost = dropped_ids(p, |r| matches!(r, DropReason::MissingReference { .. }));
        assert_eq!(
            lost,
            BTreeSet::from([rel["id"].as_str().unwrap().to_owned()]),
            "{version}: {}",
            p.summary()
        );
    }
}

/// 60 locations, then one intrusion set, then 60 relationships from it to each location: a
/// client that chunks in order puts the hub in one chunk and most relationships in others.
fn hub_and_spokes(env: &Peers) -> Vec<String> {
    let at = crate::common::ms(env.dx.server_now() - chrono::Duration::minutes(30));
    let stamp = |mut o: Value| {
        o["created"] = json!(at);
        o["modified"] = json!(at);
        o["spec_version"] = json!("2.1");
        o
    };
    let locations: Vec<Value> = (0..60)
        .map(|i| {
            stamp(
                json!({"type": "location", "id": format!("location--{}", uuid(20, i)),
                         "name": format!("Country {i}"), "country": format!("C{i}")}),
            )
        })
        .collect();
    let hub = stamp(
        json!({"type": "intrusion-set", "id": format!("intrusion-set--{}", uuid(21, 0)),
                           "name": "Hub"}),
    );
    let mut objects = locations.clone();
    objects.push(hub.clone());
    for (i, l) in locations.iter().enumerate() {
        let mut r = stamp(relationship(22, &hub, l));
        r["id"] = json!(format!("relationship--{}", uuid(22, i as u64)));
        r["relationship_type"] = json!("targets");
        objects.push(r);
    }
    let texts: Vec<String> = objects.iter().map(Value::to_string).collect();
    env.dx.add_objects(&texts);
    ids_of(&objects)
}

#[test]
fn cross_chunk_the_cli_chunks_carry_their_references() {
    for version in ["6.2.6", "6.9.17", "7.260510.0"] {
        let env = peers(
            version,
            AsyncModel {
                workers: 3,
                import_cost: Duration::from_secs(1),
                split_cost: Duration::from_millis(50),
                ..slow_imports()
            },
        );
        let p = env.octi.platform();
        let all = hub_and_spokes(&env);
        p.pause();
        let (code, s) = sync(&env, &["--chunk-size", "10K"]);
        assert_eq!(
            (code, &s["status"]),
            (0, &json!("imported")),
            "{version}: {s}"
        );
        assert!(env.octi.pushes().len() >= 3, "{s}");
        p.resume();
        assert_nothing_lost(p);
        assert_all_imported(p, &all);
    }
}

// ---------------------------------------------------------------------------------------------
// A relationship without `source_ref` or `target_ref`: the splitter raises and the worker
// discards the whole chunk.

fn without_target(objects: &[Value]) -> Value {
    let mut rel = relationship(7, &objects[0], &objects[1]);
    rel.as_object_mut().unwrap().remove("target_ref");
    rel
}

#[test]
fn no_target_ref_loses_the_whole_chunk() {
    for version in ["6.2.6", "6.9.17", "7.260510.0"] {
        let octi = async_octi(version, model());
        let old = OldClient::new(&octi);
        let id = old.register(CONNECTOR_ID);
        let p = octi.platform();
        let mut chunk = entities(1, 4);
        chunk.push(without_target(&chunk));
        old.push(&id, &chunk, None);
        assert!(p.wait_drained(DRAIN));
        let lost = dropped_ids(p, |r| matches!(r, DropReason::MalformedRelationship { .. }));
        assert_eq!(lost, ids_of(&chunk).into_iter().collect(), "{version}");
        assert!(p.imported_ids().is_empty());
    }
}

#[test]
fn no_target_ref_the_cli_refuses_before_pushing() {
    let env = peers("6.9.17", model());
    let objs = incidents(3, 0, env.dx.server_now() - chrono::Duration::minutes(10));
    let parsed: Vec<Value> = objs
        .iter()
        .map(|o| serde_json::from_str(o).unwrap())
        .collect();
    let broken = without_target(&parsed).to_string();
    let mut served = objs.clone();
    served.push(broken);
    env.dx.add_objects(&served);
    let (code, s) = sync(&env, &[]);
    assert_eq!(code, 65, "{s}");
    assert!(env.octi.pushes().is_empty(), "pushed before refusing");
    assert!(env.octi.state(CONNECTOR_ID).unwrap_or_default().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Queue names come from the id string sent: a connector stored as upper-case hex and pushed
// to in lower case fills a queue no worker reads.

const UPPER: &str = "3F6E2C1A-8B4D-4E7A-9C2B-5D1F0A7E9B34";

#[test]
fn id_spelling_another_case_orphans_the_pushes() {
    let octi = async_octi("6.9.17", model());
    octi.set_state(UPPER, "");
    let old = OldClient::new(&octi);
    assert_eq!(old.register(CONNECTOR_ID), UPPER, "lookups ignore case");
    let chunk = entities(1, 5);
    old.push(CONNECTOR_ID, &chunk, None);
    let p = octi.platform();
    assert!(p.wait_drained(DRAIN));
    let lost = dropped_ids(p, |r| matches!(r, DropReason::OrphanQueue { .. }));
    assert_eq!(lost, ids_of(&chunk).into_iter().collect());
    let details = octi.connector(UPPER).unwrap()["connector_queue_details"].clone();
    assert_eq!(details["messages_number"], 0, "the stored queue is empty");
}

#[test]
fn id_spelling_the_cli_pushes_to_the_stored_connector_id() {
    for version in ["6.9.17", "7.260510.0"] {
        let env = peers(version, model());
        env.octi.set_state(UPPER, "");
        let all = add(&env, 15, 0, chrono::Duration::minutes(30));
        let (code, s) = sync(&env, &["--chunk-size", "12K"]);
        assert_eq!(
            (code, &s["status"]),
            (0, &json!("imported")),
            "{version}: {s}"
        );
        let ids: BTreeSet<String> = env
            .octi
            .pushes()
            .iter()
            .map(|p| p.connector_id.clone())
            .collect();
        assert_eq!(ids, BTreeSet::from([UPPER.to_owned()]), "{version}");
        let p = env.octi.platform();
        assert_nothing_lost(p);
        assert_all_imported(p, &all);
        assert!(
            env.octi
                .state(UPPER)
                .unwrap_or_default()
                .contains("last_fetch")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The worker imports as the token's user: CONNECTORAPI alone gets `true` for every push and
// an import failure for every object.

#[test]
fn import_rights_a_connectorapi_only_token_imports_nothing() {
    let octi = async_octi("7.260510.0", model());
    octi.set_capabilities(["CONNECTORAPI"]);
    let old = OldClient::new(&octi);
    let id = old.register(CONNECTOR_ID);
    let chunk = entities(1, 5);
    old.push(&id, &chunk, None);
    let p = octi.platform();
    assert!(p.wait_drained(DRAIN));
    let lost = dropped_ids(
        p,
        |r| matches!(r, DropReason::Forbidden { capability } if capability == "KNOWLEDGE_KNUPDATE"),
    );
    assert_eq!(lost, ids_of(&chunk).into_iter().collect());
    let work = &octi.works()[0];
    assert_eq!(work.errors.len(), 5, "each refusal is reported on the work");
}

#[test]
fn import_rights_markings_kill_chains_and_labels_need_their_settings() {
    for (version, kill_chain) in [
        ("6.5.7", "SETTINGS_SETLABELS"),
        ("6.9.17", "SETTINGS_SETKILLCHAINPHASES"),
    ] {
        let octi = async_octi(version, model());
        octi.set_capabilities(["CONNECTORAPI", "KNOWLEDGE_KNUPDATE"]);
        let old = OldClient::new(&octi);
        let id = old.register(CONNECTOR_ID);
        let marking = json!({"type": "marking-definition", "spec_version": "2.1",
            "id": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", "created": "2026-01-01T00:00:00.000Z",
            "definition_type": "statement", "definition": {"statement": "internal"}});
        let mut pattern = entities(2, 1).remove(0);
        pattern["type"] = json!("attack-pattern");
        pattern["id"] = json!(format!("attack-pattern--{}", uuid(2, 0)));
        pattern["kill_chain_phases"] =
            json!([{"kill_chain_name": "mitre-attack", "phase_name": "execution"}]);
        let mut labelled = entities(3, 1).remove(0);
        labelled["labels"] = json!(["disinformation"]);
        old.push(&id, std::slice::from_ref(&marking), None);
        old.push(&id, std::slice::from_ref(&pattern), None);
        old.push(&id, std::slice::from_ref(&labelled), None);
        let p = octi.platform();
        assert!(p.wait_drained(DRAIN));
        let forbidden = |cap: &'static str| {
            dropped_ids(
                p,
                move |r| matches!(r, DropReason::Forbidden { capability } if capability == cap),
            )
        };
        assert!(forbidden("SETTINGS_SETMARKINGS").contains(marking["id"].as_str().unwrap()));
        assert!(
            forbidden(kill_chain).contains(pattern["id"].as_str().unwrap()),
            "{version}: {}",
            p.summary()
        );
        assert!(p.is_imported(labelled["id"].as_str().unwrap()));
        assert_eq!(
            p.labels_left_out(),
            vec![labelled["id"].as_str().unwrap().to_owned()]
        );
    }
}

#[test]
fn import_rights_the_cli_refuses_a_connectorapi_only_token_before_pushing() {
    let env = peers("7.260510.0", model());
    env.octi.set_capabilities(["CONNECTORAPI"]);
    add(&env, 3, 0, chrono::Duration::minutes(10));
    let (code, s) = sync(&env, &[]);
    assert_eq!(code, 77, "{s}");
    assert!(env.octi.pushes().is_empty());
    let out = env
        .cmd()
        .args(["push", "--file", "-"])
        .write_stdin(crate::common::bundle_of(2, chrono::Utc::now()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(77));
    assert!(env.octi.pushes().is_empty());
}

// ---------------------------------------------------------------------------------------------
// A UI "Reset state" during a run purges the queue; a client that re-pings after the
// swallowed ping stores the run's cursor and skips what was purged.

#[test]
fn reset_during_run_purges_and_a_re_ping_skips_it() {
    let octi = async_octi("6.9.17", model());
    let old = OldClient::new(&octi);
    let id = old.register(CONNECTOR_ID);
    let p = octi.platform();
    p.pause();
    let work = old.work_add(&id, false);
    let chunks = [entities(1, 4), entities(2, 4)];
    for c in &chunks {
        old.push(&id, c, Some(&work));
    }
    octi.ui_reset(&id);
    let cursor = r#"{"last_fetch": "2026-11-27T21:51:42.833Z", "last_run": 1795816302}"#;
    assert_eq!(
        old.ping(&id, cursor),
        "",
        "the reset flag swallows the first ping"
    );
    assert_eq!(old.ping(&id, cursor), cursor);
    p.resume();
    assert!(p.wait_drained(DRAIN));
    let purged = dropped_ids(p, |r| *r == DropReason::QueuePurged);
    assert_eq!(purged.len(), 8, "{}", p.summary());
    assert_eq!(
        octi.state(&id).unwrap(),
        cursor,
        "the cursor skipped the purged chunks"
    );
}

#[test]
fn reset_during_run_the_cli_keeps_the_cursor() {
    let env = peers("6.9.17", model());
    let p = env.octi.platform();
    let all = add(&env, 30, 0, chrono::Duration::minutes(30));
    p.pause();
    env.octi.reset_after_pushes(CONNECTOR_ID, 2);
    let (_, s) = sync(&env, &["--chunk-size", "12K"]);
    assert!(env.octi.pushes().len() >= 3, "{s}");
    let purged = dropped_ids(p, |r| *r == DropReason::QueuePurged);
    assert!(
        !purged.is_empty(),
        "the reset purged nothing: {}",
        p.summary()
    );
    let state = env.octi.state(CONNECTOR_ID).unwrap_or_default();
    assert!(
        !state.contains("last_fetch"),
        "the run stored its cursor: {state}"
    );
    p.resume();
    assert!(p.wait_drained(DRAIN));
    let (code, s) = sync(&env, &["--chunk-size", "12K"]);
    assert_eq!((code, &s["status"]), (0, &json!("imported")), "{s}");
    assert!(p.wait_drained(DRAIN));
    assert_all_imported(p, &all);
    assert!(p.missing().is_empty(), "{}", p.summary());
}

// ---------------------------------------------------------------------------------------------
// The model's own bookkeeping.

#[test]
fn queue_details_come_from_the_real_queue() {
    let octi = async_octi("6.9.17", model());
    let old = OldClient::new(&octi);
    let id = old.register(CONNECTOR_ID);
    let p = octi.platform();
    p.pause();
    old.push(&id, &entities(1, 3), None);
    old.push(&id, &entities(2, 3), None);
    let d = octi.connector(&id).unwrap()["connector_queue_details"].clone();
    assert_eq!(d["messages_number"], 2);
    assert!(d["messages_size"].as_u64().unwrap() > 0);
    p.resume();
    assert_nothing_lost(p);
    let d = octi.connector(&id).unwrap()["connector_queue_details"].clone();
    assert_eq!(d["messages_number"], 0);
}

#[test]
fn works_complete_through_the_workers_reports() {
    let octi = async_octi("6.9.17", model());
    let old = OldClient::new(&octi);
    let id = old.register(CONNECTOR_ID);
    let work = old.work_add(&id, false);
    old.push(&id, &entities(1, 4), Some(&work));
    let p = octi.platform();
    assert_nothing_lost(p);
    let w = octi.work(&work).unwrap();
    assert_eq!(
        (w.expected, w.processed, w.status.as_str()),
        (4, 4, "complete")
    );
    assert!(
        p.work_alive(&work),
        "reportExpectation never deletes a live key"
    );
}

// ---------------------------------------------------------------------------------------------
// `--wait`: the run follows its work until the platform has imported it.

#[test]
fn sync_wait_follows_the_work_until_imported() {
    for version in ["6.9.17", "7.260428.0", "7.260510.0"] {
        let env = peers(version, model());
        let p = env.octi.platform();
        let all = add(&env, 20, 0, chrono::Duration::minutes(30));
        // Workers start only once the run is over, so the run has to wait for them.
        p.pause();
        let resume = std::thread::scope(|s| {
            let waker = s.spawn(|| {
                let deadline = std::time::Instant::now() + DRAIN;
                while p.push_count() < 3 && std::time::Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                std::thread::sleep(Duration::from_millis(300));
                p.resume();
            });
            let out = sync(&env, &["--chunk-size", "12K", "--wait=20s"]);
            waker.join().unwrap();
            out
        });
        let (code, s) = resume;
        assert_eq!(
            (code, &s["status"]),
            (0, &json!("imported")),
            "{version}: {s}"
        );
        assert!(p.wait_drained(DRAIN));
        assert_nothing_lost(p);
        assert_all_imported(p, &all);
        assert_eq!(
            s["imported"].as_u64(),
            Some(p.pushed_ids().len() as u64),
            "{version}: {s}"
        );
    }
}

/// 7.260428.0+: `toProcessed` no longer completes a work; a multi-part work completes when a
/// piece reports after it. If every piece reported first, the work stays `progress` until the
/// connector manager closes it, and the run must still see that its data is imported.
#[test]
fn sync_wait_when_the_workers_finish_before_to_processed() {
    for version in ["7.260428.0", "7.260510.0"] {
        let env = peers(version, model());
        let p = env.octi.platform();
        let all = add(&env, 20, 0, chrono::Duration::minutes(30));
        p.late_to_processed();
        let (code, s) = sync(&env, &["--chunk-size", "12K", "--wait=5s"]);
        assert_eq!(
            (code, &s["status"]),
            (0, &json!("imported")),
            "{version}: {s}"
        );
        assert_nothing_lost(p);
        assert_all_imported(p, &all);
    }
}

// ---------------------------------------------------------------------------------------------
// The alive rules: 6.8.7–6.9.18 check a work once, when a message is taken; 6.9.19 and 7.x
// check on every call, so a piece already taken is dropped when its work dies meanwhile.

#[test]
fn a_taken_piece_survives_its_work_only_before_6_9_19() {
    for (version, survives) in [("6.9.17", true), ("7.260507.0", false)] {
        let octi = async_octi(
            version,
            AsyncModel {
                workers: 2,
                time_scale: 0.2,
                import_cost: Duration::from_millis(10),
                manager_interval: None,
                ..AsyncModel::default()
            },
        );
        let old = OldClient::new(&octi);
        let id = old.register(CONNECTOR_ID);
        let p = octi.platform();
        let ends = entities(30, 2);
        let rel = relationship(31, &ends[0], &ends[1]);
        let older = old.work_add(&id, false);
        // The relationship is taken and waits for its ends (retries 0.2–0.6 s apart here).
        old.push(&id, std::slice::from_ref(&rel), Some(&older));
        let deadline = std::time::Instant::now() + DRAIN;
        while p.retries(rel["id"].as_str().unwrap()) == 0 {
            assert!(std::time::Instant::now() < deadline, "never tried");
            std::thread::sleep(Duration::from_millis(2));
        }
        // A newer work reports; the connector manager closes the older one.
        let newer = old.work_add(&id, false);
        old.call(
            "mutation E($id: ID!) { workEdit(id: $id) { reportExpectation } }",
            json!({"id": newer}),
        );
        p.run_connector_manager();
        assert!(!p.work_alive(&older), "{version}");
        old.push(&id, &ends, Some(&newer));
        assert!(p.wait_drained(DRAIN));
        let rel_id = rel["id"].as_str().unwrap();
        assert_eq!(
            p.is_imported(rel_id),
            survives,
            "{version}: {}",
            p.summary()
        );
        if !survives {
            assert_eq!(
                dropped_ids(p, |r| *r == DropReason::WorkNotAlive { when: "import" }),
                BTreeSet::from([rel_id.to_owned()])
            );
        }
    }
}

/// Before 6.8.7 no worker asks whether a work lives: the same closing sequence loses nothing.
#[test]
fn before_6_8_7_a_closed_works_messages_are_still_imported() {
    for version in ["6.5.7", "6.8.6"] {
        let octi = async_octi(version, model());
        let p = octi.platform();
        let old = OldClient::new(&octi);
        let id = old.register(CONNECTOR_ID);
        let work = old.work_add(&id, false);
        old.push(&id, &entities(1, 5), Some(&work));
        assert!(p.wait_drained(DRAIN));
        p.pause();
        old.push(&id, &entities(2, 5), Some(&work));
        old.to_processed(&work);
        assert!(
            !p.work_alive(&work),
            "{version}: toProcessed deletes the key"
        );
        p.resume();
        assert_nothing_lost(p);
        assert_eq!(p.imported_ids().len(), 10, "{version}");
    }
}
