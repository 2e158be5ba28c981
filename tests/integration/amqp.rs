//! `CONNECTOR_QUEUE_PROTOCOL=amqp` against a real RabbitMQ: the OpenCTI stand-in's
//! `registerConnector` names a broker the job cannot resolve, `MQ_HOST`/`MQ_PORT` point at the
//! test broker, and the test reads the push queue as a platform worker would.
//!
//! One broker serves every scenario (starting RabbitMQ takes seconds): the first test to need it
//! starts it, a watchdog stops it when the test binary exits. Each scenario is its own test;
//! they take turns on the broker, because they all publish on the one connector's push queue
//! (the peers' `CONNECTOR_ID`) and one of them kills and restarts the broker.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use base64::Engine;
use predicates::str::contains;
use serde_json::Value;

use crate::common::{
    CONNECTOR_ID, Peers, assert_dependency_order, http_client, incidents, opencti_as_connector,
};
use crate::support::disinfox::DisinfoxStandin;
use crate::support::opencti::{
    BrokerAnswer, OpenctiOptions, PUSH_EXCHANGE, push_queue, push_routing,
};
use crate::support::rabbitmq::{self, PASS, Rabbit, USER};

/// The keys of pycti's `_send_bundle` message.
const MESSAGE_KEYS: &[&str] = &[
    "action_sequence",
    "applicant_id",
    "bundle_type",
    "content",
    "draft_id",
    "entities_types",
    "update",
    "work_id",
];

pub(crate) fn peers(version: &str) -> Peers {
    let opts = OpenctiOptions {
        broker: BrokerAnswer {
            user: USER.into(),
            pass: PASS.into(),
            ..BrokerAnswer::default()
        },
        ..OpenctiOptions::version(version)
    };
    Peers {
        home: tempfile::tempdir().unwrap(),
        dx: DisinfoxStandin::start_default(),
        octi: opencti_as_connector(opts),
    }
}

fn amqp_cmd(p: &Peers, rabbit: &Rabbit) -> assert_cmd::Command {
    on_port(p, rabbit.port)
}

pub(crate) fn on_port(p: &Peers, port: u16) -> assert_cmd::Command {
    let mut c = p.cmd();
    c.env("CONNECTOR_QUEUE_PROTOCOL", "amqp")
        .env("MQ_HOST", "127.0.0.1")
        .env("MQ_PORT", port.to_string());
    c
}

fn route(rabbit: &Rabbit) {
    rabbit.declare_push_route(
        PUSH_EXCHANGE,
        &push_queue(CONNECTOR_ID),
        &push_routing(CONNECTOR_ID),
    );
}

pub(crate) fn add(p: &Peers, count: u64, first: u64) -> BTreeSet<String> {
    let objs = incidents(
        count,
        first,
        p.dx.server_now() - chrono::Duration::minutes(5),
    );
    p.dx.add_objects(&objs);
    objs.iter()
        .map(|o| {
            serde_json::from_str::<Value>(o).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// The queue's messages, checked against pycti's shape; returns the objects in queue order
/// and the work id they name.
fn drain_checked(p: &Peers, rabbit: &Rabbit) -> (Vec<Value>, String) {
    let (objects, work) = drain_any(p, rabbit);
    (objects, work.expect("the messages name a work"))
}

/// As [`drain_checked`], for runs that may have no work (pycti then leaves `work_id` out).
fn drain_any(p: &Peers, rabbit: &Rabbit) -> (Vec<Value>, Option<String>) {
    let messages = rabbit.drain(&push_queue(CONNECTOR_ID));
    assert!(!messages.is_empty(), "nothing reached the push queue");
    let mut objects = Vec::new();
    let mut work = None;
    for (i, m) in messages.iter().enumerate() {
        assert_eq!(m.delivery_mode, Some(2), "messages are persistent");
        assert_eq!(m.content_encoding.as_deref(), Some("utf-8"));
        let body: Value = serde_json::from_slice(&m.body).unwrap();
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let expected: Vec<&str> = MESSAGE_KEYS
            .iter()
            .copied()
            .filter(|k| *k != "work_id" || body.get("work_id").is_some())
            .collect();
        assert_eq!(keys, expected, "pycti's message keys");
        assert_eq!(body["bundle_type"], "QUEUE_BUNDLE");
        assert_eq!(body["applicant_id"], p.octi.user_id());
        assert_eq!(body["action_sequence"], (i + 1) as u64);
        assert_eq!(body["entities_types"], serde_json::json!([]));
        assert_eq!(body["update"], true);
        assert_eq!(body["draft_id"], "", "no fallback to the user's draft");
        let w = body["work_id"].as_str().map(str::to_owned);
        assert_eq!(work.get_or_insert(w.clone()), &w, "one work per run");
        let content = base64::engine::general_purpose::STANDARD
            .decode(body["content"].as_str().unwrap())
            .unwrap();
        let bundle: Value = serde_json::from_slice(&content).unwrap();
        assert_eq!(bundle["type"], "bundle");
        let objs = bundle["objects"].as_array().unwrap();
        assert_eq!(objs.len(), 1, "one object per message, as pycti's splitter");
        objects.push(objs[0].clone());
    }
    (objects, work.flatten())
}

fn ids(objects: &[Value]) -> BTreeSet<String> {
    objects
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The shared broker, `None` when RabbitMQ is not installed.
static BROKER: OnceLock<Option<Arc<Mutex<Rabbit>>>> = OnceLock::new();
/// Held by the scenario using the broker.
static TURN: Mutex<()> = Mutex::new(());

/// Waits for the broker's turn and hands it over, up (a scenario that failed after killing it
/// must not fail the next ones); `None` after the skip-or-fail notice when it is not installed.
fn take_turn() -> Option<(MutexGuard<'static, ()>, &'static Arc<Mutex<Rabbit>>)> {
    let shared = BROKER.get_or_init(|| {
        if !rabbitmq::installed() {
            return None;
        }
        let rabbit = Rabbit::start();
        rabbit.stop_when_this_process_exits();
        skip_note(&format!(
            "RabbitMQ started in {:.1}s",
            rabbit.startup.as_secs_f64()
        ));
        Some(Arc::new(Mutex::new(rabbit)))
    });
    let Some(rabbit) = shared else {
        crate::common::skip_or_fail(&format!(
            "{} is absent (apt-get install rabbitmq-server)",
            rabbitmq::SERVER
        ));
        return None;
    };
    let turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
    rabbit.clear_poison();
    let mut r = rabbit.lock().unwrap();
    if !r.is_up() {
        r.restart();
    }
    drop(r);
    Some((turn, rabbit))
}

/// Runs one scenario on the shared broker, in its turn.
fn with_broker(scenario: fn(&Rabbit)) {
    if let Some((_turn, rabbit)) = take_turn() {
        scenario(&rabbit.lock().unwrap());
    }
}

/// One test per scenario, over the shared broker.
mod against_a_real_rabbitmq {
    use super::with_broker;

    #[test]
    fn imports_every_object_in_pycti_messages() {
        with_broker(super::imports_every_object_in_pycti_messages);
    }

    #[test]
    fn broker_lost_mid_run_fails_75_then_next_run_completes() {
        // The scenario kills the broker from a stand-in's thread: it takes the lock itself.
        if let Some((_turn, rabbit)) = super::take_turn() {
            super::broker_lost_mid_run_fails_75_then_next_run_completes(rabbit);
        }
    }

    #[test]
    fn refused_credentials_fail_77_and_stay_secret() {
        with_broker(super::refused_credentials_fail_77_and_stay_secret);
    }

    #[test]
    fn unreachable_broker_fails_75() {
        with_broker(super::unreachable_broker_fails_75);
    }

    #[test]
    fn unroutable_messages_are_retried_then_75() {
        with_broker(super::unroutable_messages_are_retried_then_75);
    }

    #[test]
    fn a_full_queue_nacks_and_the_run_fails_75() {
        with_broker(super::a_full_queue_nacks_and_the_run_fails_75);
    }

    #[test]
    fn opencti_6_0_0_works_over_amqp_only() {
        with_broker(super::opencti_6_0_0_works_over_amqp_only);
    }

    #[test]
    fn knowledge_update_is_required_before_publishing() {
        with_broker(super::knowledge_update_is_required_before_publishing);
    }

    #[test]
    fn wait_follows_the_work_the_run_opened() {
        with_broker(super::wait_follows_the_work_the_run_opened);
    }

    #[test]
    fn reset_during_the_run_keeps_the_cursor() {
        with_broker(super::reset_during_the_run_keeps_the_cursor);
    }

    #[test]
    fn dry_run_neither_registers_nor_contacts_the_broker() {
        with_broker(super::dry_run_neither_registers_nor_contacts_the_broker);
    }

    #[test]
    fn deferred_while_an_earlier_run_is_queued() {
        with_broker(super::deferred_while_an_earlier_run_is_queued);
    }

    #[test]
    fn differently_cased_id_publishes_on_the_stored_route() {
        with_broker(super::differently_cased_id_publishes_on_the_stored_route);
    }

    #[test]
    fn check_opens_the_vhost_and_finds_the_exchange() {
        with_broker(super::check_opens_the_vhost_and_finds_the_exchange);
    }

    #[test]
    fn readme_amqp_commands_run_as_printed() {
        with_broker(super::readme_amqp_commands_run_as_printed);
    }

    #[test]
    fn tls_to_the_broker() {
        with_broker(super::tls_to_the_broker);
    }
}

/// Not a skip: a measured figure worth seeing in the run's output.
pub(crate) fn skip_note(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "note: {text}");
}

fn imports_every_object_in_pycti_messages(rabbit: &Rabbit) {
    let p = peers("6.9.17");
    route(rabbit);
    let sent = add(&p, 40, 0);
    let out = amqp_cmd(&p, rabbit)
        .args(["sync", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let report: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(report["status"], "imported", "{report}");
    // Every publish was confirmed before the run ended: the queue already holds all of them.
    let (objects, work_id) = drain_checked(&p, rabbit);
    let got = ids(&objects);
    assert!(sent.is_subset(&got), "objects missing from the queue");
    assert_eq!(got.len(), objects.len(), "each object once");
    assert_dependency_order(&objects);
    let work = p
        .octi
        .work(&work_id)
        .expect("the messages name the run's work");
    assert_eq!(
        work.expected,
        objects.len() as u64,
        "expectations = messages published"
    );
    assert!(work.closed && !work.in_error, "{work:?}");
    assert_eq!(p.octi.works().len(), 1);
    assert!(
        p.octi.pushes().is_empty(),
        "nothing went over stixBundlePush"
    );
    assert!(p.octi.state(CONNECTOR_ID).unwrap().contains("last_fetch"));
}

fn broker_lost_mid_run_fails_75_then_next_run_completes(rabbit: &Arc<Mutex<Rabbit>>) {
    let p = peers("7.260510.0");
    route(&rabbit.lock().unwrap());
    let sent = add(&p, 30, 100);
    let state_before = p.octi.state(CONNECTOR_ID).unwrap_or_default();
    // The broker dies after the run connected and set up its work, before its first publish.
    let r = rabbit.clone();
    p.octi
        .on_add_expectations(Arc::new(move || r.lock().unwrap().kill()));
    let port = rabbit.lock().unwrap().port;
    on_port(&p, port)
        .arg("sync")
        .assert()
        .code(75)
        .stderr(contains("broker"));
    assert_eq!(
        p.octi.state(CONNECTOR_ID).unwrap_or_default(),
        state_before,
        "cursor unchanged"
    );
    let failed = p.octi.works();
    assert!(
        failed.iter().all(|w| w.in_error),
        "the failed run's work says so"
    );

    rabbit.lock().unwrap().restart();
    let rabbit = rabbit.lock().unwrap();
    route(&rabbit);
    on_port(&p, port).arg("sync").assert().success();
    let (objects, _) = drain_checked(&p, &rabbit);
    assert!(
        sent.is_subset(&ids(&objects)),
        "the next run sent everything"
    );
    assert!(p.octi.state(CONNECTOR_ID).unwrap().contains("last_fetch"));
}

fn refused_credentials_fail_77_and_stay_secret(rabbit: &Rabbit) {
    let p = peers("6.9.17");
    add(&p, 2, 200);
    let wrong = "not-the-broker-password-9d2e";
    let out = amqp_cmd(&p, rabbit)
        .env("MQ_PASS", wrong)
        .args(["--log-level", "debug", "sync"])
        .assert()
        .code(77)
        .get_output()
        .clone();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("MQ_PASS"), "{all}");
    assert!(!all.contains(wrong), "MQ_PASS printed: {all}");
    assert!(
        !all.contains(PASS),
        "the platform's broker password printed: {all}"
    );
    assert!(p.octi.works().is_empty(), "no work without a broker");
    assert_eq!(p.octi.state(CONNECTOR_ID).as_deref(), Some(""));
}

fn unreachable_broker_fails_75(rabbit: &Rabbit) {
    let p = peers("6.9.17");
    add(&p, 2, 300);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    amqp_cmd(&p, rabbit)
        .env("MQ_PORT", closed.to_string())
        .arg("sync")
        .assert()
        .code(75)
        .stderr(contains("MQ_HOST"));
    assert_eq!(p.octi.state(CONNECTOR_ID).as_deref(), Some(""));
}

/// No queue bound to the connector's routing key: the broker returns every message.
fn unroutable_messages_are_retried_then_75(rabbit: &Rabbit) {
    let p = peers("6.9.17");
    route(rabbit);
    rabbit.delete_queue(&push_queue(CONNECTOR_ID));
    add(&p, 2, 350);
    amqp_cmd(&p, rabbit)
        .args(["--retries", "2", "sync"])
        .assert()
        .code(75)
        .stderr(contains("could not route"))
        .stderr(contains("gave up after 2 retries"));
    assert_eq!(
        p.octi.state(CONNECTOR_ID).as_deref(),
        Some(""),
        "cursor unchanged"
    );
    assert!(p.octi.works().iter().all(|w| w.in_error));
}

/// A queue at its `x-max-length` with `x-overflow: reject-publish`: RabbitMQ NACKs the
/// publishes it cannot take. Each retry publishes the whole batch again into the full queue,
/// so the run gives up with 75 and the cursor stays.
fn a_full_queue_nacks_and_the_run_fails_75(rabbit: &Rabbit) {
    let p = peers("6.9.17");
    let queue = push_queue(CONNECTOR_ID);
    rabbit.declare_limited_push_route(PUSH_EXCHANGE, &queue, &push_routing(CONNECTOR_ID), 2);
    add(&p, 3, 380);
    amqp_cmd(&p, rabbit)
        .args(["--retries", "1", "sync"])
        .assert()
        .code(75)
        .stderr(contains("NACK"))
        .stderr(contains("gave up after 1 retries"));
    assert_eq!(
        p.octi.state(CONNECTOR_ID).as_deref(),
        Some(""),
        "cursor unchanged"
    );
    assert!(p.octi.works().iter().all(|w| w.in_error));
    assert_eq!(rabbit.message_count(&queue), 2, "the queue took what fit");
    rabbit.delete_queue(&queue);
}

fn opencti_6_0_0_works_over_amqp_only(rabbit: &Rabbit) {
    let p = peers("6.0.0");
    let sent = add(&p, 10, 400);
    p.octi
        .set_capabilities(crate::common::CONNECTOR_ROLE.iter().copied());
    p.cmd()
        .arg("sync")
        .assert()
        .code(69)
        .stderr(contains("CONNECTOR_QUEUE_PROTOCOL=amqp"));
    route(rabbit);
    // Before 6.1.0 opening a work needs the import capabilities (KNOWLEDGE_KNASKIMPORT): a
    // user that can create knowledge but lacks them publishes without a work, nothing lost.
    p.octi
        .set_capabilities(["CONNECTORAPI", "KNOWLEDGE_KNUPDATE"]);
    amqp_cmd(&p, rabbit).arg("sync").assert().success();
    let (objects, work_id) = drain_any(&p, rabbit);
    assert!(sent.is_subset(&ids(&objects)));
    assert_eq!(work_id, None);
    assert!(p.octi.works().is_empty());
    // --wait needs a work to follow: the refusal then stands, before anything is published.
    add(&p, 1, 450);
    amqp_cmd(&p, rabbit)
        .args(["sync", "--wait=5s"])
        .assert()
        .code(77);
    assert_eq!(rabbit.message_count(&push_queue(CONNECTOR_ID)), 0);
    // With the Connector role's import capabilities the run has its work and expectations.
    p.octi
        .set_capabilities(crate::common::CONNECTOR_ROLE.iter().copied());
    let file = p.home.path().join("bundle.json");
    std::fs::write(&file, crate::common::bundle_of(3, chrono::Utc::now())).unwrap();
    amqp_cmd(&p, rabbit)
        .args(["push", "--file"])
        .arg(&file)
        .assert()
        .success();
    let (objects, work_id) = drain_checked(&p, rabbit);
    assert_eq!(objects.len(), 16, "3 incidents and their identity");
    assert_eq!(p.octi.work(&work_id).unwrap().expected, 16);
}

fn check_opens_the_vhost_and_finds_the_exchange(rabbit: &Rabbit) {
    let p = peers("6.9.17");
    route(rabbit);
    amqp_cmd(&p, rabbit)
        .arg("check")
        .assert()
        .success()
        .stdout(contains("push exchange present"));
    amqp_cmd(&p, rabbit)
        .env("MQ_VHOST", "/no-such-vhost")
        .arg("check")
        .assert()
        .code(78)
        .stdout(contains("MQ_VHOST"));
}

/// The README's AMQP commands, as printed, with its `dotenv` settings pointed at this broker
/// (plain AMQP here; TLS has its own scenario below).
fn readme_amqp_commands_run_as_printed(rabbit: &Rabbit) {
    use crate::readme::sandbox::{Sandbox, block, run_block};
    let p = peers("6.9.17");
    route(rabbit);
    let all = add(&p, 2, 700);
    let sb = Sandbox::new();
    let mut sh = sb.shell("sh", &sb.path("home"));
    sh.env("DISINFOX_URL", p.dx.endpoint_url())
        .env("DISINFOX_API_KEY", p.dx.api_key())
        .env("OPENCTI_URL", p.octi.url())
        .env("OPENCTI_TOKEN", p.octi.token())
        .env("CONNECTOR_ID", CONNECTOR_ID)
        .env("CONNECTOR_QUEUE_PROTOCOL", "amqp")
        .env("MQ_HOST", "127.0.0.1")
        .env("MQ_PORT", rabbit.port.to_string());
    let script = block(
        "Pushing over AMQP (`CONNECTOR_QUEUE_PROTOCOL=amqp`)",
        "sh",
        0,
    );
    let out = run_block(sh, &script);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("push exchange present"), "{shown}");
    let (objects, _) = drain_checked(&p, rabbit);
    assert!(ids(&objects).is_superset(&all), "{objects:?}");
}

/// AMQPS with a private CA: trusted through MQ_USE_SSL_CA, refused (78) without it, accepted
/// unverified with MQ_USE_SSL_REJECT_UNAUTHORIZED=false.
fn tls_to_the_broker(rabbit: &Rabbit) {
    let Some(tls_port) = rabbit.tls_port else {
        crate::common::skip_or_fail("no openssl command: AMQPS not tested");
        return;
    };
    let p = peers("6.9.17");
    route(rabbit);
    add(&p, 3, 500);
    let tls = |p: &Peers| {
        let mut c = on_port(p, tls_port);
        c.env("MQ_USE_SSL", "true");
        c
    };
    tls(&p)
        .arg("sync")
        .assert()
        .code(78)
        .stderr(contains("MQ_USE_SSL_CA"));
    assert_eq!(p.octi.state(CONNECTOR_ID).as_deref(), Some(""));
    tls(&p)
        .env("MQ_USE_SSL_CA", rabbit.ca_file())
        .arg("sync")
        .assert()
        .success();
    assert_eq!(
        drain_checked(&p, rabbit).0.len(),
        16,
        "3 incidents and their identity"
    );
    add(&p, 1, 600);
    tls(&p)
        .env("MQ_USE_SSL_REJECT_UNAUTHORIZED", "false")
        .args(["sync", "--settle", "0s"])
        .assert()
        .success();
}

/// Each object is imported as the token's user: without KNOWLEDGE_KNUPDATE the workers would
/// fail every message, so nothing is published, no work is opened, the cursor stays.
fn knowledge_update_is_required_before_publishing(rabbit: &Rabbit) {
    let p = peers("6.9.17");
    route(rabbit);
    add(&p, 2, 650);
    p.octi
        .set_capabilities(["CONNECTORAPI", "MODULES_MODMANAGE"]);
    amqp_cmd(&p, rabbit)
        .arg("sync")
        .assert()
        .code(77)
        .stderr(contains("KNOWLEDGE_KNUPDATE"));
    assert_eq!(rabbit.message_count(&push_queue(CONNECTOR_ID)), 0);
    assert!(p.octi.works().is_empty());
    assert_eq!(p.octi.state(CONNECTOR_ID), None, "not even registered");
}

/// `--wait` over AMQP follows the work the run opened (on every release: the run opens it).
/// The test plays the platform's workers: it takes the messages from the queue and reports
/// each one on the work they name.
fn wait_follows_the_work_the_run_opened(rabbit: &Rabbit) {
    let p = peers("6.9.17");
    route(rabbit);
    add(&p, 3, 700);
    let mut cmd = amqp_cmd(&p, rabbit);
    cmd.args(["sync", "--json", "--wait=60s"]);
    let out = std::thread::scope(|s| {
        let run = s.spawn(move || cmd.output().unwrap());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let queue = push_queue(CONNECTOR_ID);
        let work = loop {
            let opened = p.octi.works().into_iter().find(|w| w.expected > 0);
            if let Some(w) = opened
                && rabbit.message_count(&queue) >= w.expected
            {
                break w;
            }
            assert!(!run.is_finished(), "the run ended before it published");
            assert!(std::time::Instant::now() < deadline, "nothing published");
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let messages = rabbit.drain(&queue);
        assert_eq!(messages.len() as u64, work.expected);
        let http = http_client().build().unwrap();
        for _ in &messages {
            let answer: Value = http
                .post(p.octi.graphql_url())
                .bearer_auth(p.octi.token())
                .json(&serde_json::json!({
                    "query": "mutation R($id: ID!) { workEdit(id: $id) { reportExpectation } }",
                    "variables": { "id": work.id },
                }))
                .send()
                .unwrap()
                .json()
                .unwrap();
            assert!(answer.get("errors").is_none(), "{answer}");
        }
        run.join().unwrap()
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "imported", "{report}");
    assert_eq!(report["imported"], report["objects_pushed"], "{report}");
    assert!(p.octi.state(CONNECTOR_ID).unwrap().contains("last_fetch"));
}

/// "Reset state" before a run is honoured quietly; pressed while the run publishes (6.7.0+
/// stamps it), the cursor is not stored, exit 75, and the next run starts from the beginning.
fn reset_during_the_run_keeps_the_cursor(rabbit: &Rabbit) {
    let p = peers("6.9.17");
    route(rabbit);
    add(&p, 1, 750);
    amqp_cmd(&p, rabbit).arg("sync").assert().success();
    drain_as_workers(&p, rabbit);
    // A reset made before the run: registration reads its stamp, the swallowed ping is not
    // taken for a reset during the run, the run starts from the beginning and stores its cursor.
    p.octi.ui_reset(CONNECTOR_ID);
    amqp_cmd(&p, rabbit).arg("sync").assert().success();
    let newer_than = p.dx.requests().last().unwrap().newer_than.clone();
    assert_eq!(newer_than.as_deref(), Some("1970-01-01T00:00:00.000000Z"));
    assert!(p.octi.state(CONNECTOR_ID).unwrap().contains("last_fetch"));
    drain_as_workers(&p, rabbit);
    add(&p, 2, 760);
    p.octi.reset_at_expectations(CONNECTOR_ID);
    amqp_cmd(&p, rabbit)
        .arg("sync")
        .assert()
        .code(75)
        .stderr(contains("reset"));
    assert_eq!(p.octi.state(CONNECTOR_ID).as_deref(), Some(""));
    drain_as_workers(&p, rabbit);
    amqp_cmd(&p, rabbit).arg("sync").assert().success();
    let newer_than = p.dx.requests().last().unwrap().newer_than.clone();
    assert_eq!(newer_than.as_deref(), Some("1970-01-01T00:00:00.000000Z"));
    drain_as_workers(&p, rabbit);
}

/// The platform's workers: each message taken off the push queue is reported on its work, so
/// the next run finds the earlier run imported.
fn drain_as_workers(p: &Peers, rabbit: &Rabbit) {
    let http = http_client().build().unwrap();
    for m in rabbit.drain(&push_queue(CONNECTOR_ID)) {
        let body: Value = serde_json::from_slice(&m.body).unwrap();
        let Some(work) = body.get("work_id").and_then(Value::as_str) else {
            continue;
        };
        let answer: Value = http
            .post(p.octi.graphql_url())
            .bearer_auth(p.octi.token())
            .json(&serde_json::json!({
                "query": "mutation R($id: ID!) { workEdit(id: $id) { reportExpectation } }",
                "variables": { "id": work },
            }))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert!(answer.get("errors").is_none(), "{answer}");
    }
}

/// `sync --dry-run` sends no mutation and leaves the broker alone (here: nothing listens on
/// MQ_PORT, and the run still succeeds).
fn dry_run_neither_registers_nor_contacts_the_broker(rabbit: &Rabbit) {
    let p = peers("6.9.17");
    route(rabbit);
    add(&p, 2, 800);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    on_port(&p, closed)
        .args(["sync", "--dry-run"])
        .assert()
        .success();
    assert!(!p.octi.is_registered(CONNECTOR_ID));
    assert!(p.octi.works().is_empty());
    assert!(p.octi.pings().is_empty());
    assert_eq!(rabbit.message_count(&push_queue(CONNECTOR_ID)), 0);
}

/// Before 7.260510.0 a new work makes the platform drop an earlier run's queued messages:
/// over AMQP too, the run waits (exit 0, cursor unchanged, nothing published).
fn deferred_while_an_earlier_run_is_queued(rabbit: &Rabbit) {
    let p = peers("6.9.17");
    route(rabbit);
    add(&p, 2, 850);
    p.octi.set_queue(CONNECTOR_ID, 4, 4_000);
    amqp_cmd(&p, rabbit)
        .args(["sync", "--json"])
        .assert()
        .success()
        .stdout(contains("\"deferred\""));
    assert_eq!(rabbit.message_count(&push_queue(CONNECTOR_ID)), 0);
    assert!(p.octi.works().is_empty());
    assert!(!p.octi.state(CONNECTOR_ID).unwrap().contains("last_fetch"));
}

/// OpenCTI finds a connector whatever the case of its id, but its queue is named from the
/// stored spelling: the run publishes on the route OpenCTI returns for the stored connector.
fn differently_cased_id_publishes_on_the_stored_route(rabbit: &Rabbit) {
    let p = peers("6.9.17");
    route(rabbit);
    p.octi.set_state(CONNECTOR_ID, "");
    let sent = add(&p, 2, 900);
    amqp_cmd(&p, rabbit)
        .env("CONNECTOR_ID", CONNECTOR_ID.to_uppercase())
        .arg("sync")
        .assert()
        .success();
    let (objects, work_id) = drain_checked(&p, rabbit);
    assert!(sent.is_subset(&ids(&objects)));
    assert_eq!(p.octi.work(&work_id).unwrap().connector_id, CONNECTOR_ID);
}
