//! OpenCTI stand-in, what the platform does: connector registration, pings, state and reset,
//! pushes and works, multipart works on 7.x, faults and limits, base path and routes.

use super::*;

#[test]
fn opencti_register_ping_reset_semantics() {
    let o = OpenctiStandin::start_version("6.9.17");
    // ping before register → FUNCTIONAL_ERROR
    let (_, v) = gql(
        &o,
        Some(&o.token()),
        PING,
        json!({"id": CID, "state": "{}"}),
    );
    assert_eq!(err_name(&v), "FUNCTIONAL_ERROR");
    assert_eq!(err_msg(&v), "No connector found with the specified ID");
    // register: new connector, state "", user id = caller, idempotent
    let d = ok(&o, REGISTER, register_vars());
    assert_eq!(d["registerConnector"]["connector_state"], "");
    assert_eq!(d["registerConnector"]["connector_user_id"], o.user_id());
    assert_eq!(d["registerConnector"]["connector_state_reset"], false);
    // ping stores the state; register never touches it
    let d = ok(
        &o,
        PING,
        json!({"id": CID, "state": "{\"last_fetch\":\"a\"}"}),
    );
    assert_eq!(
        d["pingConnector"]["connector_state"],
        "{\"last_fetch\":\"a\"}"
    );
    let d = ok(&o, REGISTER, register_vars());
    assert_eq!(
        d["registerConnector"]["connector_state"],
        "{\"last_fetch\":\"a\"}"
    );
    assert_eq!(o.state(CID).as_deref(), Some("{\"last_fetch\":\"a\"}"));
    // UI reset: state "" + flag; the next ping only clears the flag
    o.ui_reset(CID);
    assert_eq!(o.reset_flag(CID), Some(true));
    let d = ok(&o, REGISTER, register_vars());
    assert_eq!(d["registerConnector"]["connector_state"], "");
    assert_eq!(d["registerConnector"]["connector_state_reset"], true);
    let d = ok(
        &o,
        PING,
        json!({"id": CID, "state": "{\"last_fetch\":\"b\"}"}),
    );
    assert_eq!(
        d["pingConnector"]["connector_state"], "",
        "the reset flag swallows the state"
    );
    assert_eq!(d["pingConnector"]["connector_state_reset"], false);
    let d = ok(
        &o,
        PING,
        json!({"id": CID, "state": "{\"last_fetch\":\"b\"}"}),
    );
    assert_eq!(
        d["pingConnector"]["connector_state"],
        "{\"last_fetch\":\"b\"}"
    );
    let pings = o.pings();
    assert_eq!(
        pings.iter().map(|p| p.applied).collect::<Vec<_>>(),
        [true, false, true]
    );
    // resetStateConnector needs MODULES_MODMANAGE
    let reset = "mutation($id: ID!) { resetStateConnector(id: $id) { id connector_state connector_state_reset connector_state_timestamp } }";
    let (_, v) = gql(&o, Some(&o.token()), reset, json!({"id": CID}));
    assert_eq!(err_name(&v), "FORBIDDEN_ACCESS");
    assert_eq!(v["data"]["resetStateConnector"], Value::Null);
    o.set_capabilities(["CONNECTORAPI", "MODULES_MODMANAGE"]);
    o.set_queue_size(CID, 7_000_000);
    let d = ok(&o, reset, json!({"id": CID}));
    assert_eq!(d["resetStateConnector"]["connector_state"], "");
    assert_eq!(d["resetStateConnector"]["connector_state_reset"], true);
    assert!(d["resetStateConnector"]["connector_state_timestamp"].is_string());
    // MODULES_MODMANAGE satisfies MODULES (substring): connector(id) and the purged queue
    let d = ok(
        &o,
        "query($id: String!) { connector(id: $id) { connector_queue_details { messages_number messages_size } } }",
        json!({"id": CID}),
    );
    assert_eq!(
        d["connector"]["connector_queue_details"],
        json!({"messages_number": 0, "messages_size": 0})
    );
    o.set_capabilities(["BYPASS"]);
    let d = ok(
        &o,
        "query($id: String!) { c: connector(id: $id) { id } none: connector(id: \"nope\") { id } }",
        json!({"id": CID}),
    );
    assert_eq!(d["c"]["id"], CID);
    assert!(d["none"].is_null());
    // connectorInfo is stored by a ping (6.2.12+)
    let info = json!({"run_and_terminate": true, "buffering": false, "queue_threshold": 500, "queue_messages_size": 0, "last_run_datetime": "2026-11-27T21:51:42.833000Z"});
    ok(&o, PING, json!({"id": CID, "state": "{}"})); // clears the flag left by the reset
    ok(
        &o,
        "mutation($id: ID!, $s: String, $i: ConnectorInfoInput) { pingConnector(id: $id, state: $s, connectorInfo: $i) { connector_info { run_and_terminate queue_threshold } } }",
        json!({"id": CID, "s": "{}", "i": info}),
    );
    assert_eq!(o.connector_info(CID).unwrap()["queue_threshold"], 500);
    // set_state creates a connector as a previous connector left it
    o.set_state(
        "11111111-2222-4333-8444-555555555555",
        "{\"last_run\": \"2026-11-27 21:52:27\"}",
    );
    assert!(o.is_registered("11111111-2222-4333-8444-555555555555"));
    assert_eq!(o.state("nope"), None);
    // queue size shows in register's answer (6.1.12+), in bytes
    o.set_queue_size(CID, 600_000_000);
    let d = ok(
        &o,
        "mutation($input: RegisterConnectorInput) { registerConnector(input: $input) { connector_queue_details { messages_size } } }",
        register_vars(),
    );
    assert_eq!(
        d["registerConnector"]["connector_queue_details"]["messages_size"],
        600_000_000
    );
}

#[test]
fn opencti_pushes_and_works() {
    let o = instant("6.9.17");
    let tok = o.token();
    // push before register → Invalid bundle
    let b = bundle(&["identity--9ac61d58-60f0-40b8-8b96-2f1f4858534b"]);
    let (_, v) = gql(
        &o,
        Some(&tok),
        PUSH,
        json!({"connectorId": CID, "bundle": b}),
    );
    assert_eq!(
        (err_name(&v), err_msg(&v)),
        ("UNSUPPORTED_ERROR".into(), "Invalid bundle".into())
    );
    ok(&o, REGISTER, register_vars());
    // workAdd → work_<connector>_<time>, progress
    let d = ok(
        &o,
        "mutation($c: String!, $n: String) { workAdd(connectorId: $c, friendlyName: $n) { id name status } }",
        json!({"c": CID, "n": "DISINFOX run"}),
    );
    let work_id = d["workAdd"]["id"].as_str().unwrap().to_string();
    assert!(work_id.starts_with(&format!("work_{CID}_")), "{work_id}");
    assert!(
        DateTime::parse_from_rfc3339(work_id.rsplit('_').next().unwrap()).is_ok(),
        "{work_id}"
    );
    assert_eq!(d["workAdd"]["status"], "progress");
    // pushes
    let ids1 = [
        "identity--9ac61d58-60f0-40b8-8b96-2f1f4858534b",
        "threat-actor--7ebead2d-9a79-505f-8998-026100724eab",
    ];
    let ids2 = ["location--c1257cd0-4b5c-53e7-a3b5-4f7b6aeb6209"];
    let d = ok(
        &o,
        PUSH,
        json!({"connectorId": CID, "bundle": bundle(&ids1), "work_id": work_id}),
    );
    assert_eq!(d["stixBundlePush"], true);
    ok(
        &o,
        PUSH,
        json!({"connectorId": CID, "bundle": bundle(&ids2), "work_id": work_id}),
    );
    assert_eq!(o.received_ids(), [ids1[0], ids1[1], ids2[0]]);
    let pushes = o.pushes();
    assert_eq!(pushes.len(), 2);
    assert_eq!(pushes[0].work_id.as_deref(), Some(work_id.as_str()));
    assert_eq!(pushes[0].bytes, bundle(&ids1).len());
    assert_eq!(pushes[0].raw.as_deref(), Some(bundle(&ids1).as_str()));
    assert_eq!(o.received_objects().len(), 3);
    // invalid bundles
    for bad in [
        "not json",
        "{\"type\":\"bundle\",\"objects\":[]}",
        "{\"type\":\"report\",\"objects\":[{}]}",
        "[]",
    ] {
        let (_, v) = gql(
            &o,
            Some(&tok),
            PUSH,
            json!({"connectorId": CID, "bundle": bad}),
        );
        assert_eq!(err_name(&v), "UNSUPPORTED_ERROR", "{bad}: {v}");
        assert!(
            v["errors"][0]["extensions"]["data"]["cause"].is_string(),
            "{v}"
        );
    }
    // a push without work_id makes its own work, which completes by itself
    ok(
        &o,
        PUSH,
        json!({"connectorId": CID, "bundle": bundle(&ids2)}),
    );
    let own = o.works().into_iter().find(|w| w.created_by_push).unwrap();
    assert!(own.name.starts_with("DISINFOX run @ "), "{}", own.name);
    assert_eq!(own.status, "complete");
    // toProcessed closes the work
    let close = "mutation($id: ID!, $m: String, $e: Boolean) { workEdit(id: $id) { toProcessed(message: $m, inError: $e) } }";
    let d = ok(&o, close, json!({"id": work_id, "m": "done", "e": false}));
    assert_eq!(d["workEdit"]["toProcessed"], work_id);
    let w = o.work(&work_id).unwrap();
    assert!(w.closed && !w.in_error);
    assert_eq!(w.messages, ["done"]);
    // The one-object push added no expectation: the platform gives none to a one-object
    // message of a client-made work.
    assert_eq!(
        (w.expected, w.processed, w.status.as_str()),
        (2, 3, "complete")
    );
    // in error
    let d = ok(
        &o,
        "mutation($c: String!) { workAdd(connectorId: $c) { id } }",
        json!({"c": CID}),
    );
    let w2 = d["workAdd"]["id"].as_str().unwrap().to_string();
    assert_ne!(w2, work_id);
    ok(
        &o,
        close,
        json!({"id": w2, "m": "push failed: 503", "e": true}),
    );
    let w = o.work(&w2).unwrap();
    assert!(w.closed && w.in_error);
    assert_eq!(w.errors, ["push failed: 503"]);
    // work(id) needs MODULES
    let (_, v) = gql(
        &o,
        Some(&tok),
        "query($id: ID!) { work(id: $id) { id status } }",
        json!({"id": work_id}),
    );
    assert_eq!(err_name(&v), "FORBIDDEN_ACCESS");
    o.set_capabilities(["CONNECTORAPI", "MODULES_MODMANAGE"]);
    let d = ok(
        &o,
        "query($id: ID!) { work(id: $id) { id status messages { message } errors { message } tracking { import_expected_number import_processed_number } } }",
        json!({"id": work_id}),
    );
    assert_eq!(d["work"]["tracking"]["import_processed_number"], 3);
    assert_eq!(d["work"]["messages"][0]["message"], "done");
    // unknown work
    let (_, v) = gql(&o, Some(&tok), close, json!({"id": "work_nope", "m": "x"}));
    assert_eq!(err_name(&v), "FUNCTIONAL_ERROR", "{v}");
}

#[test]
fn opencti_multipart_works_on_7x() {
    for (version, after_close) in [("7.260510.0", "complete"), ("7.260422.0", "complete")] {
        let o = instant(version);
        ok(&o, REGISTER, register_vars());
        let d = ok(
            &o,
            "mutation($c: String!) { workAdd(connectorId: $c, isMultiPartWork: true) { id } }",
            json!({"c": CID}),
        );
        let wid = d["workAdd"]["id"].as_str().unwrap().to_string();
        ok(
            &o,
            PUSH,
            json!({"connectorId": CID, "bundle": bundle(&["location--c1257cd0-4b5c-53e7-a3b5-4f7b6aeb6209"]), "work_id": wid}),
        );
        let w = o.work(&wid).unwrap();
        assert!(w.multipart);
        assert_eq!(
            w.status, "progress",
            "a multi-part work waits for toProcessed"
        );
        ok(
            &o,
            "mutation($id: ID!) { workEdit(id: $id) { toProcessed(message: \"ok\") } }",
            json!({"id": wid}),
        );
        assert_eq!(o.work(&wid).unwrap().status, after_close);
    }
    // 7.260428.0+: toProcessed never completes an empty work by itself; 6.x does.
    for (version, status) in [("7.260510.0", "progress"), ("6.9.17", "complete")] {
        let o = instant(version);
        ok(&o, REGISTER, register_vars());
        let d = ok(
            &o,
            "mutation($c: String!) { workAdd(connectorId: $c) { id } }",
            json!({"c": CID}),
        );
        let wid = d["workAdd"]["id"].as_str().unwrap().to_string();
        ok(
            &o,
            "mutation($id: ID!) { workEdit(id: $id) { toProcessed(message: \"nothing\") } }",
            json!({"id": wid}),
        );
        assert_eq!(o.work(&wid).unwrap().status, status, "{version}");
    }
}

#[test]
fn opencti_faults_limits_and_bench() {
    let o = OpenctiStandin::start(OpenctiOptions {
        body_limit: 4096,
        ..OpenctiOptions::version("6.5.7")
    });
    let tok = o.token();
    ok(&o, REGISTER, register_vars());
    let small = bundle(&["location--c1257cd0-4b5c-53e7-a3b5-4f7b6aeb6209"]);
    // 413 above the limit
    let big_ids: Vec<String> = (0..100)
        .map(|i| format!("location--00000000-0000-4000-8000-{i:012}"))
        .collect();
    let big = bundle(&big_ids.iter().map(String::as_str).collect::<Vec<_>>());
    let (s, _) = gql(
        &o,
        Some(&tok),
        PUSH,
        json!({"connectorId": CID, "bundle": big}),
    );
    assert_eq!(s, 413);
    // 429 with Retry-After, then fine
    o.set_fault(Fault::TooMany {
        times: 1,
        retry_after: Some(2),
    });
    let r = client()
        .post(o.graphql_url())
        .bearer_auth(&tok)
        .json(&json!({"query": PROBE}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "2");
    assert_eq!(
        r.json::<Value>().unwrap()["message"],
        "Too many requests, please try again later."
    );
    ok(&o, PROBE, json!({}));
    // 503 twice, then fine
    o.set_fault(Fault::Unavailable503 { times: 2 });
    assert_eq!(gql(&o, Some(&tok), PROBE, json!({})).0, 503);
    assert_eq!(gql(&o, Some(&tok), PROBE, json!({})).0, 503);
    ok(&o, PROBE, json!({}));
    // pushes fail after one success (HTTP 503); other requests are unaffected
    o.set_fault(Fault::FailPushAfter {
        ok_pushes: 1,
        status_or_code: PushFailure::Http(503),
    });
    ok(&o, PUSH, json!({"connectorId": CID, "bundle": small}));
    assert_eq!(
        gql(
            &o,
            Some(&tok),
            PUSH,
            json!({"connectorId": CID, "bundle": small})
        )
        .0,
        503
    );
    ok(&o, PROBE, json!({}));
    assert_eq!(o.pushes().len(), 1);
    // … or with a GraphQL error
    o.set_fault(Fault::FailPushAfter {
        ok_pushes: 0,
        status_or_code: PushFailure::Graphql("LOCK_ERROR".into()),
    });
    let (s, v) = gql(
        &o,
        Some(&tok),
        PUSH,
        json!({"connectorId": CID, "bundle": small}),
    );
    assert_eq!((s, err_name(&v)), (200, "LOCK_ERROR".to_string()));
    o.set_fault(Fault::None);
    ok(&o, PUSH, json!({"connectorId": CID, "bundle": small}));
    assert_eq!(o.pushes().len(), 2);
    // slow pushes only. The probe's upper bound is the push delay itself: 5 s leaves a
    // loaded 2-core CI machine ample room for one loopback request, while the push's lower
    // bound still proves the delay applies to pushes.
    let delay = Duration::from_secs(5);
    o.set_fault(Fault::SlowPush { delay });
    let t = Instant::now();
    ok(&o, PROBE, json!({}));
    let probe = t.elapsed();
    assert!(probe < delay, "a probe waited {probe:?}, as if delayed");
    ok(&o, PUSH, json!({"connectorId": CID, "bundle": small}));
    assert!(t.elapsed() >= delay);
    o.set_fault(Fault::None);
    // reset triggered by pushes
    ok(
        &o,
        PING,
        json!({"id": CID, "state": "{\"last_fetch\":\"x\"}"}),
    );
    o.reset_after_pushes(CID, 1);
    ok(&o, PUSH, json!({"connectorId": CID, "bundle": small}));
    assert_eq!(o.state(CID).as_deref(), Some(""));
    assert_eq!(o.reset_flag(CID), Some(true));
    // the request log
    let reqs = o.requests();
    let last = reqs.last().unwrap();
    assert_eq!(last.root_fields, ["stixBundlePush"]);
    assert!(last.authorization);
    assert_eq!(last.variables["connectorId"], CID);
    assert!(reqs.iter().any(|r| r.status == 413));
    assert!(reqs.iter().any(|r| r.error_codes == ["LOCK_ERROR"]));

    // bench mode: parsed, ids recorded, raw not kept, invalid still rejected
    let b = OpenctiStandin::start(OpenctiOptions {
        bench: true,
        ..OpenctiOptions::version("6.9.17")
    });
    ok(&b, REGISTER, register_vars());
    ok(&b, PUSH, json!({"connectorId": CID, "bundle": small}));
    let p = &b.pushes()[0];
    assert_eq!(p.ids, ["location--c1257cd0-4b5c-53e7-a3b5-4f7b6aeb6209"]);
    assert!(p.raw.is_none());
    let (_, v) = gql(
        &b,
        Some(&b.token()),
        PUSH,
        json!({"connectorId": CID, "bundle": "{\"type\":\"bundle\",\"objects\":[}"}),
    );
    assert_eq!(err_name(&v), "UNSUPPORTED_ERROR");
    // long variables are elided in the log
    let long = bundle(&big_ids.iter().map(String::as_str).collect::<Vec<_>>());
    ok(&b, PUSH, json!({"connectorId": CID, "bundle": long}));
    assert!(
        b.requests().last().unwrap().variables["bundle"]
            .as_str()
            .unwrap()
            .ends_with(" bytes>")
    );
}

#[test]
fn opencti_base_path_and_routes() {
    let o = OpenctiStandin::start(OpenctiOptions {
        base_path: "/opencti/".into(),
        ..OpenctiOptions::version("6.2.12")
    });
    assert!(o.url().ends_with("/opencti"));
    let d = ok(&o, PROBE, json!({}));
    assert_eq!(d["about"]["version"], "6.2.12");
    let r = client()
        .post(format!("http://127.0.0.1:{}/graphql", o.port()))
        .bearer_auth(o.token())
        .json(&json!({"query": PROBE}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        client()
            .get(format!("{}/nope", o.url()))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    let r = client()
        .post(o.graphql_url())
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    // connectorInfo exists from 6.2.12; Apollo 3 error shape until 6.2.12 included
    ok(&o, REGISTER, register_vars());
    let (_, v) = gql(&o, Some(&o.token()), PING, json!({"id": "unknown"}));
    assert_eq!(v["errors"][0]["data"]["http_status"], 500);
    assert!(v["errors"][0].get("extensions").is_none());
}
