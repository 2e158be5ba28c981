//! OpenCTI stand-in, what a request may say: SDL gates per version, probe, auth and error
//! shapes, document validation and variable coercion.

use super::*;

#[test]
fn opencti_sdl_gates_and_versions() {
    assert_eq!(
        Version::parse("7.260309.0-lts1"),
        Some(Version(7, 260_309, 0))
    );
    assert_eq!(Version::parse("6.9.17"), Some(Version(6, 9, 17)));
    assert!(Version::parse("7.260224.0") > Version::parse("6.9.22"));
    assert_eq!(Version::parse("garbage"), None);
    let gates = opencti::sdl_gates();
    for g in [
        "6.1.12",
        "6.2.6",
        "6.2.12",
        "6.5.0",
        "6.5.7",
        "6.7.0",
        "6.8.9",
        "7.260422.0",
    ] {
        assert!(
            gates.contains(&g.to_string()),
            "gate {g} missing from {gates:?}"
        );
    }
    let checks: &[(&str, &str)] = &[
        ("stixBundlePush", "6.2.6"),
        ("work_id", "6.5.7"),
        ("connectorInfo", "6.2.12"),
        ("input ConnectorInfoInput", "6.2.12"),
        ("connector_info:", "6.2.12"),
        ("isMultiPartWork", "7.260422.0"),
        ("connector_queue_details", "6.1.12"),
        ("connector_state_timestamp", "6.7.0"),
        ("auto_update", "6.8.9"),
        ("enrichment_resolution", "6.8.9"),
        ("listen_callback_uri", "6.5.7"),
        ("addDraftContext", "6.5.0"),
    ];
    for version in KNOWN_VERSIONS.iter().chain(&[
        "6.1.11",
        "6.1.12",
        "6.2.5",
        "6.7.0",
        "6.8.8",
        "6.8.9",
        "7.260421.0",
    ]) {
        let sdl = render_sdl(version);
        let _ = opencti::minimal_schema(version); // validates
        let ver = Version::parse(version).unwrap();
        for (needle, since) in checks {
            let want = ver >= Version::parse(since).unwrap();
            assert_eq!(
                sdl.contains(needle),
                want,
                "{needle} in the SDL of {version}"
            );
        }
        assert!(!sdl.contains("# since"), "gate comments must not leak");
    }
}

#[test]
fn opencti_probe_auth_and_error_shapes() {
    let o = OpenctiStandin::start_version("6.9.17");
    let d = ok(&o, PROBE, json!({}));
    assert_eq!(d["about"]["version"], "6.9.17");
    assert_eq!(d["me"]["capabilities"], json!([{"name": "CONNECTORAPI"}]));
    assert_eq!(d["me"]["id"], o.user_id());
    // Apollo 4 shape
    for token in [None, Some("wrong-token")] {
        let (s, v) = gql(&o, token, PROBE, json!({}));
        assert_eq!(s, 200);
        assert!(v["data"].is_null(), "{v}");
        assert_eq!(err_name(&v), "AUTH_REQUIRED");
        assert_eq!(v["errors"][0]["extensions"]["code"], "AUTH_REQUIRED");
        assert_eq!(v["errors"][0]["extensions"]["data"]["http_status"], 401);
    }
    // Basic auth is not a Bearer token.
    let r = client()
        .post(o.graphql_url())
        .basic_auth("admin", Some(o.token()))
        .json(&json!({"query": PROBE}))
        .send()
        .unwrap();
    assert_eq!(err_name(&r.json::<Value>().unwrap()), "AUTH_REQUIRED");

    // Apollo 3 shape below 6.2.13
    let o3 = OpenctiStandin::start_version("6.2.6");
    let (_, v) = gql(&o3, None, PROBE, json!({}));
    let e = &v["errors"][0];
    assert_eq!(e["name"], "AUTH_REQUIRED");
    assert_eq!(e["data"]["http_status"], 401);
    assert_eq!(e["data"]["genre"], "TECHNICAL");
    assert!(
        e.get("extensions").is_none() && e.get("time_thrown").is_some(),
        "{v}"
    );
    let (_, v) = gql(
        &o3,
        Some(&o3.token()),
        "mutation { stixBundlePush(connectorId: \"x\", bundle: \"{}\", work_id: \"w\") }",
        json!({}),
    );
    assert_eq!(err_name(&v), "GRAPHQL_VALIDATION_FAILED");
    assert!(v["errors"][0].get("extensions").is_none());

    // 6.0.x: about is public, me is not.
    let o60 = OpenctiStandin::start_version("6.0.0");
    let (_, v) = gql(&o60, None, "{ about { version } }", json!({}));
    assert_eq!(v["data"]["about"]["version"], "6.0.0", "{v}");
    let (_, v) = gql(&o, None, "{ about { version } }", json!({}));
    assert_eq!(err_name(&v), "AUTH_REQUIRED");
}

#[test]
fn opencti_validation_per_version() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "6.0.0",
            PUSH_626,
            "Cannot query field \"stixBundlePush\" on type \"Mutation\".",
        ),
        (
            "6.2.6",
            PUSH,
            "Unknown argument \"work_id\" on field \"Mutation.stixBundlePush\".",
        ),
        (
            "6.2.6",
            "mutation($id: ID!, $i: ConnectorInfoInput) { pingConnector(id: $id, connectorInfo: $i) { id } }",
            "Unknown type \"ConnectorInfoInput\".",
        ),
        (
            "6.0.0",
            "query($id: String!) { connector(id: $id) { connector_queue_details { messages_size } } }",
            "Cannot query field \"connector_queue_details\" on type \"Connector\".",
        ),
        (
            "6.9.17",
            "mutation { workAdd(connectorId: \"x\", isMultiPartWork: true) { id } }",
            "Unknown argument \"isMultiPartWork\" on field \"Mutation.workAdd\".",
        ),
        (
            "6.9.17",
            "{ me { nope } }",
            "Cannot query field \"nope\" on type \"MeUser\".",
        ),
        ("6.9.17", "{ me { id } ", "Syntax Error"),
        (
            "6.9.17",
            "mutation { a: pingConnector(id: \"1\") { id } b: pingConnector(id: \"2\") { id } }",
            "Allowed number of calls for Mutation->pingConnector has been exceeded (max: 1)",
        ),
        (
            "6.9.17",
            "{ __schema { types { name } } }",
            "introspection is not allowed",
        ),
    ];
    for (version, query, want) in cases {
        let o = OpenctiStandin::start_version(version);
        let (s, v) = gql(&o, Some(&o.token()), query, json!({}));
        assert_eq!(s, 200, "{version} {query}: {v}");
        let name = err_name(&v);
        assert!(
            name == "GRAPHQL_VALIDATION_FAILED" || name == "GRAPHQL_PARSE_FAILED",
            "{version} {query}: {v}"
        );
        let all: Vec<String> = v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].as_str().unwrap().to_string())
            .collect();
        assert!(
            all.iter().any(|m| m.contains(want)),
            "{version} {query}: want {want:?} in {all:?}"
        );
        assert!(v.get("data").is_none() || v["data"].is_null());
    }
    // The same documents pass where the version has them.
    let o = OpenctiStandin::start_version("7.260422.0");
    ok(&o, REGISTER, register_vars());
    let d = ok(
        &o,
        "mutation($c: String!) { workAdd(connectorId: $c, friendlyName: \"x\", isMultiPartWork: true) { id status } }",
        json!({"c": CID}),
    );
    assert_eq!(d["workAdd"]["status"], "progress");
    // The batching rule is about the same mutation field twice, not two different ones;
    // from 6.1.0 only.
    let o60 = OpenctiStandin::start_version("6.0.0");
    let (_, v) = gql(
        &o60,
        Some(&o60.token()),
        "mutation { a: pingConnector(id: \"1\") { id } b: pingConnector(id: \"2\") { id } }",
        json!({}),
    );
    assert_eq!(err_name(&v), "FUNCTIONAL_ERROR", "{v}");
}

#[test]
fn opencti_variable_coercion() {
    let with_auto_update = json!({"input": {"id": CID, "name": "DISINFOX", "type": "EXTERNAL_IMPORT", "auto_update": false}});
    let o = OpenctiStandin::start_version("6.5.7");
    let (s, v) = gql(&o, Some(&o.token()), REGISTER, with_auto_update.clone());
    assert_eq!(
        (s, err_name(&v)),
        (200, "BAD_USER_INPUT".to_string()),
        "{v}"
    );
    assert!(
        err_msg(&v)
            .contains("Field \"auto_update\" is not defined by type \"RegisterConnectorInput\"."),
        "{v}"
    );
    assert!(!o.is_registered(CID));
    let o9 = OpenctiStandin::start_version("6.9.17");
    ok(&o9, REGISTER, with_auto_update);
    assert!(o9.is_registered(CID));
    // Missing required variable, null for non-null, bad enum, missing input field, wrong scalar.
    let bad: &[(&str, Value, &str)] = &[
        (
            PING,
            json!({}),
            "Variable \"$id\" of required type \"ID!\" was not provided.",
        ),
        (
            PING,
            json!({"id": null}),
            "Variable \"$id\" of non-null type \"ID!\" must not be null.",
        ),
        (
            REGISTER,
            json!({"input": {"id": CID, "name": "DISINFOX", "type": "IMPORT"}}),
            "Value \"IMPORT\" does not exist in \"ConnectorType\" enum.",
        ),
        (
            REGISTER,
            json!({"input": {"id": CID, "type": "EXTERNAL_IMPORT"}}),
            "Field \"name\" of required type \"String!\" was not provided.",
        ),
        (
            REGISTER,
            json!({"input": {"id": CID, "name": "DISINFOX", "type": "EXTERNAL_IMPORT", "auto": "no"}}),
            "Boolean cannot represent a non boolean value",
        ),
        (
            REGISTER,
            json!({"input": {"id": CID, "name": "D", "type": "EXTERNAL_IMPORT"}}),
            "at least 2 characters",
        ),
    ];
    for (q, vars, want) in bad {
        let (_, v) = gql(&o9, Some(&o9.token()), q, vars.clone());
        assert_eq!(err_name(&v), "BAD_USER_INPUT", "{vars}: {v}");
        assert!(err_msg(&v).contains(want), "{vars}: want {want:?}, got {v}");
    }
    // Scalars: a single value coerces to a list; an Int ID is accepted.
    let d = ok(
        &o9,
        REGISTER,
        json!({"input": {"id": CID, "name": "DISINFOX", "type": "EXTERNAL_IMPORT", "scope": "stix2"}}),
    );
    assert_eq!(d["registerConnector"]["connector_scope"], json!(["stix2"]));
}
