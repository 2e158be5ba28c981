//! The OpenCTI stand-in is as hard on a client as the platform where the cursor is concerned:
//! a management API that answers 0 / 0, lock errors reported as work errors with their
//! object, no expectation for a one-object message of a client-made work, and a "Reset
//! state" that purges that connector's queue.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::CONNECTOR_ID;
use crate::support::disinfox::render_bundle;
use crate::support::opencti::{Import, OpenctiOptions, OpenctiStandin};
use crate::support::platform::AsyncModel;
use crate::support::platform::ledger::DropReason;

const DRAIN: Duration = Duration::from_secs(30);
const OTHER: &str = "0b1d8f3e-2c44-4f6a-9a51-77aa00000002";

fn standin(version: &str, on_async: bool) -> OpenctiStandin {
    let import = match on_async {
        true => Import::Async(AsyncModel {
            time_scale: 0.005,
            ..AsyncModel::default()
        }),
        false => Import::Instant,
    };
    let octi = OpenctiStandin::start(OpenctiOptions {
        import,
        ..OpenctiOptions::version(version)
    });
    octi.set_capabilities(["BYPASS"]);
    octi
}

fn call(octi: &OpenctiStandin, query: &str, variables: Value) -> Value {
    let body: Value = crate::common::http_client()
        .build()
        .unwrap()
        .post(octi.graphql_url())
        .bearer_auth(octi.token())
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(body.get("errors").is_none(), "{query}: {body}");
    body["data"].clone()
}

fn register(octi: &OpenctiStandin, id: &str) {
    call(
        octi,
        "mutation R($i: RegisterConnectorInput) { registerConnector(input: $i) { id } }",
        json!({"i": {"id": id, "name": "DISINFOX", "type": "EXTERNAL_IMPORT", "scope": ["stix2"],
                     "auto": false, "only_contextual": false, "playbook_compatible": false}}),
    );
}

fn work_add(octi: &OpenctiStandin, connector: &str) -> String {
    let d = call(
        octi,
        "mutation W($c: String!) { workAdd(connectorId: $c, friendlyName: \"run\") { id } }",
        json!({"c": connector}),
    );
    d["workAdd"]["id"].as_str().unwrap().to_owned()
}

/// A multi-part work, as a client opens it from 7.260428.0 (it completes only after the
/// client's `toProcessed`).
fn multipart_work_add(octi: &OpenctiStandin, connector: &str) -> String {
    let d = call(
        octi,
        "mutation W($c: String!) { workAdd(connectorId: $c, friendlyName: \"run\", isMultiPartWork: true) { id } }",
        json!({"c": connector}),
    );
    d["workAdd"]["id"].as_str().unwrap().to_owned()
}

fn entities(tag: u64, count: u64) -> Vec<Value> {
    (0..count)
        .map(|n| {
            json!({"type": "intrusion-set", "spec_version": "2.1",
                   "id": format!("intrusion-set--{tag:08x}-0000-4000-8000-{n:012x}"),
                   "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
                   "name": format!("set {tag}/{n}")})
        })
        .collect()
}

fn push(octi: &OpenctiStandin, connector: &str, objects: &[Value], work: &str) {
    let texts: Vec<String> = objects.iter().map(Value::to_string).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let d = call(
        octi,
        "mutation P($c: String!, $b: String!, $w: String) { stixBundlePush(connectorId: $c, bundle: $b, work_id: $w) }",
        json!({"c": connector, "b": render_bundle(&refs), "w": work}),
    );
    assert_eq!(d["stixBundlePush"], true);
}

fn queue(octi: &OpenctiStandin, id: &str) -> (Value, Value) {
    let d = octi.connector(id).unwrap()["connector_queue_details"].clone();
    (d["messages_number"].clone(), d["messages_size"].clone())
}

#[test]
fn a_failing_management_api_reads_as_an_empty_queue() {
    let octi = standin("6.9.17", true);
    register(&octi, CONNECTOR_ID);
    let p = octi.platform();
    p.pause();
    let work = work_add(&octi, CONNECTOR_ID);
    push(&octi, CONNECTOR_ID, &entities(1, 3), &work);
    assert_eq!(queue(&octi, CONNECTOR_ID).0, json!(1));
    octi.blind_queue_details();
    assert_eq!(queue(&octi, CONNECTOR_ID), (json!(0), json!(0)));
    p.resume();
    assert!(p.wait_drained(DRAIN));
}

#[test]
fn a_one_object_message_of_a_client_made_work_gets_no_expectation() {
    for on_async in [false, true] {
        for version in ["6.9.17", "7.260510.0"] {
            let octi = standin(version, on_async);
            register(&octi, CONNECTOR_ID);
            // Before `toProcessed` on 7.x (the piece reports first): the work waits forever
            // either way, since nothing expects the piece.
            let work = match version {
                "6.9.17" => work_add(&octi, CONNECTOR_ID),
                _ => multipart_work_add(&octi, CONNECTOR_ID),
            };
            push(&octi, CONNECTOR_ID, &entities(1, 1), &work);
            if let Some(p) = octi.async_platform() {
                assert!(p.wait_drained(DRAIN));
            }
            let w = octi.work(&work).unwrap();
            assert_eq!(
                (w.expected, w.processed, w.status.as_str()),
                (0, 1, "progress"),
                "{version} async={on_async}"
            );
        }
    }
}

#[test]
fn a_lock_error_is_a_work_error_carrying_its_object() {
    let octi = standin("6.9.17", true);
    register(&octi, CONNECTOR_ID);
    let p = octi.platform();
    let objects = entities(1, 2);
    let victim = objects[1]["id"].as_str().unwrap().to_owned();
    p.fail_next_import(&victim, "LOCK_ERROR");
    let work = work_add(&octi, CONNECTOR_ID);
    push(&octi, CONNECTOR_ID, &objects, &work);
    assert!(p.wait_drained(DRAIN));
    assert!(!p.is_imported(&victim));
    let d = call(
        &octi,
        "query S($id: ID!) { work(id: $id) { status errors { message source } } }",
        json!({"id": work}),
    );
    let errors = d["work"]["errors"].as_array().unwrap().clone();
    assert_eq!(errors.len(), 1, "{d}");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("Max number of retries"),
        "{d}"
    );
    let source: Value = serde_json::from_str(errors[0]["source"].as_str().unwrap()).unwrap();
    assert_eq!(source["id"], json!(victim));
    assert_eq!(d["work"]["status"], "complete");
    // Once: the next push imports it.
    push(
        &octi,
        CONNECTOR_ID,
        &objects[1..],
        &work_add(&octi, CONNECTOR_ID),
    );
    assert!(p.wait_drained(DRAIN));
    assert!(p.is_imported(&victim));
}

#[test]
fn a_reset_purges_the_ready_messages_of_that_connector_only() {
    let octi = standin("6.9.17", true);
    register(&octi, CONNECTOR_ID);
    register(&octi, OTHER);
    let p = octi.platform();
    p.pause();
    let (mine, theirs) = (entities(1, 3), entities(2, 3));
    push(&octi, CONNECTOR_ID, &mine, &work_add(&octi, CONNECTOR_ID));
    push(&octi, OTHER, &theirs, &work_add(&octi, OTHER));
    octi.ui_reset(CONNECTOR_ID);
    assert_eq!(queue(&octi, CONNECTOR_ID), (json!(0), json!(0)));
    assert_eq!(queue(&octi, OTHER).0, json!(1));
    p.resume();
    assert!(p.wait_drained(DRAIN));
    let purged: Vec<String> = p
        .dropped()
        .into_iter()
        .filter(|d| d.reason == DropReason::QueuePurged)
        .map(|d| d.id)
        .collect();
    let ids = |v: &[Value]| -> Vec<String> {
        v.iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(purged, ids(&mine));
    assert!(ids(&theirs).iter().all(|i| p.is_imported(i)));
}
