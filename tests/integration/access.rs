//! What the token's user may import into: the markings DISINFOX's attack-patterns carry, and
//! the draft the user may work in (`src/opencti/access.rs`, opencti-async-import.md §4).
//!
//! Two halves, as in `async_import.rs`: a plain client pushing over GraphQL, which the
//! asynchronous platform must make lose data (the model reproduces the loss), and the CLI,
//! which refuses with 78 before it pushes anything — and `check`, which says the same.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::common::{CONNECTOR_ID, CONNECTOR_ROLE, Peers, ms, opencti_as_connector};
use crate::support::disinfox::{DisinfoxStandin, render_bundle};
use crate::support::opencti::{Import, OpenctiOptions, OpenctiStandin};
use crate::support::platform::AsyncModel;
use crate::support::platform::ledger::DropReason;

const DISARM: &str = "marking-definition--f79f25d2-8b96-4580-b169-eb7b613a7c31";
const DISARM_TEXT: &str = "CC-BY-SA-4.0 DISARM Foundation";
const DRAIN: Duration = Duration::from_secs(30);

fn model() -> AsyncModel {
    AsyncModel {
        workers: 3,
        time_scale: 0.005,
        ..AsyncModel::default()
    }
}

fn async_octi(version: &str) -> OpenctiStandin {
    opencti_as_connector(OpenctiOptions {
        import: Import::Async(model()),
        ..OpenctiOptions::version(version)
    })
}

/// An intrusion-set that `uses` a DISARM attack-pattern, as DISINFOX serves them (the
/// attack-pattern carries DISARM's marking; the well-known objects are not served).
fn marked(n: u64, at: DateTime<Utc>) -> Vec<Value> {
    let at = ms(at);
    let set = json!({"type": "intrusion-set", "spec_version": "2.1", "id": format!("intrusion-set--{n:08x}-0000-4000-8000-000000000001"),
        "name": format!("Incident {n}"), "created": at, "modified": at,
        "created_by_ref": "identity--9ac61d58-60f0-40b8-8b96-2f1f4858534b"});
    let pattern = json!({"type": "attack-pattern", "spec_version": "2.1", "id": format!("attack-pattern--{n:08x}-0000-4000-8000-000000000002"),
        "name": format!("T{n:04}: technique"), "created": "2024-11-22T16:43:58.073Z", "modified": at,
        "created_by_ref": "identity--f1a0f560-2d9e-4c5d-bf47-7e96e805de82", "object_marking_refs": [DISARM]});
    let uses = json!({"type": "relationship", "spec_version": "2.1", "id": format!("relationship--{n:08x}-0000-4000-8000-000000000003"),
        "relationship_type": "uses", "source_ref": set["id"], "target_ref": pattern["id"], "created": at, "modified": at,
        "created_by_ref": "identity--9ac61d58-60f0-40b8-8b96-2f1f4858534b"});
    vec![set, pattern, uses]
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// A plain client: register, then one `stixBundlePush` of `objects` plus the well-known ones.
fn old_client_push(octi: &OpenctiStandin, objects: &[Value]) {
    let http = crate::common::http_client().build().unwrap();
    let call = |query: &str, variables: Value| {
        let body: Value = http
            .post(octi.graphql_url())
            .bearer_auth(octi.token())
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert!(body.get("errors").is_none(), "{query}: {body}");
    };
    call(
        "mutation R($i: RegisterConnectorInput) { registerConnector(input: $i) { id } }",
        json!({"i": {"id": CONNECTOR_ID, "name": "DISINFOX", "type": "EXTERNAL_IMPORT", "scope": ["stix2"],
                     "auto": false, "only_contextual": false, "playbook_compatible": false}}),
    );
    let mut texts: Vec<String> = disinfox_sync::testing::bundle::WELL_KNOWN
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    texts.extend(objects.iter().map(Value::to_string));
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    call(
        "mutation P($c: String!, $b: String!) { stixBundlePush(connectorId: $c, bundle: $b) }",
        json!({"c": CONNECTOR_ID, "b": render_bundle(&refs)}),
    );
    assert!(
        octi.platform().wait_drained(DRAIN),
        "{}",
        octi.platform().summary()
    );
}

fn dropped(octi: &OpenctiStandin, pick: impl Fn(&DropReason) -> bool) -> BTreeSet<String> {
    octi.platform()
        .dropped()
        .into_iter()
        .filter(|d| pick(&d.reason))
        .map(|d| d.id)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The platform drops what a plain client pushes.

#[test]
fn markings_a_marking_in_opencti_but_not_allowed_drops_the_object_and_its_relationships() {
    let octi = async_octi("6.9.17");
    octi.directory()
        .add(DISARM, "statement", DISARM_TEXT, false);
    let objects = marked(1, Utc::now());
    old_client_push(&octi, &objects);
    let refused = dropped(
        &octi,
        |r| matches!(r, DropReason::MarkingNotAllowed { marking } if marking == DISARM),
    );
    assert_eq!(refused, BTreeSet::from([id(&objects[1])]));
    assert!(
        octi.platform().retries(&id(&objects[1])) >= 4,
        "refused on every try"
    );
    let lost_with_it = dropped(&octi, |r| matches!(r, DropReason::MissingReference { .. }));
    assert_eq!(lost_with_it, BTreeSet::from([id(&objects[2])]));
    assert!(octi.platform().is_imported(&id(&objects[0])));
}

#[test]
fn markings_a_new_marking_is_created_but_usable_only_with_auto_new_marking() {
    for (auto_new_marking, kept) in [(false, false), (true, true)] {
        let octi = async_octi("7.260510.0");
        octi.directory().groups = vec![("Importers".into(), auto_new_marking)];
        let objects = marked(2, Utc::now());
        old_client_push(&octi, &objects);
        let p = octi.platform();
        assert!(p.is_imported(DISARM), "the import creates the marking");
        assert_eq!(
            p.is_imported(&id(&objects[1])),
            kept,
            "auto_new_marking {auto_new_marking}: {}",
            p.summary()
        );
        assert_eq!(p.is_imported(&id(&objects[2])), kept);
    }
}

#[test]
fn drafts_a_user_inside_a_draft_imports_into_it_not_into_the_knowledge_base() {
    let octi = async_octi("6.9.17");
    octi.directory().draft = Some(("draft-1".into(), "Review".into()));
    let objects = marked(3, Utc::now());
    old_client_push(&octi, &objects);
    let in_draft = dropped(
        &octi,
        |r| matches!(r, DropReason::InDraft { draft } if draft == "Review"),
    );
    for o in &objects {
        assert!(in_draft.contains(&id(o)), "{}", octi.platform().summary());
        assert!(!octi.platform().is_imported(&id(o)));
    }
    assert!(octi.platform().missing().contains(&id(&objects[0])));
}

// ---------------------------------------------------------------------------------------------
// The CLI refuses before it pushes; `check` says the same.

fn with_marked(version: &str) -> Peers {
    let env = Peers::start(version);
    env.dx
        .add_values(marked(4, env.dx.server_now() - chrono::Duration::minutes(5)).iter());
    env
}

fn run(env: &Peers, args: &[&str]) -> (Option<i32>, String) {
    let out = env.cmd().args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn nothing_pushed(env: &Peers) {
    assert!(
        env.octi.pushes().is_empty(),
        "pushed: {:?}",
        env.octi.pushes()
    );
    assert!(
        env.octi.works().is_empty(),
        "a work was opened: {:?}",
        env.octi.works()
    );
    assert!(
        env.octi
            .pings()
            .iter()
            .all(|p| p.state.as_deref().is_none_or(|s| !s.contains("last_fetch"))),
        "the cursor moved: {:?}",
        env.octi.pings()
    );
}

fn bundle_file(env: &Peers) -> String {
    let texts: Vec<String> = marked(5, Utc::now()).iter().map(Value::to_string).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let path = env.home.path().join("marked.json");
    std::fs::write(&path, render_bundle(&refs)).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn markings_sync_and_push_refuse_a_marking_the_user_may_not_use() {
    for version in ["6.2.6", "6.9.17", "7.260510.0"] {
        let env = with_marked(version);
        env.octi
            .directory()
            .add(DISARM, "statement", DISARM_TEXT, false);
        let (code, stderr) = run(&env, &["sync"]);
        assert_eq!(code, Some(78), "{version}: {stderr}");
        assert!(
            stderr.contains(DISARM)
                && stderr.contains(DISARM_TEXT)
                && stderr.contains("grant it to the connector user's group (Connectors)"),
            "{version}: {stderr}"
        );
        let file = bundle_file(&env);
        let (code, stderr) = run(&env, &["push", "--file", &file]);
        assert_eq!(code, Some(78), "{version}: {stderr}");
        nothing_pushed(&env);
    }
}

#[test]
fn markings_a_new_marking_without_auto_new_marking_is_refused() {
    let env = with_marked("7.260510.0");
    env.octi.directory().groups = vec![("Importers".into(), false)];
    let (code, stderr) = run(&env, &["sync"]);
    assert_eq!(code, Some(78), "{stderr}");
    assert!(
        stderr.contains("not in OpenCTI yet") && stderr.contains("auto_new_marking"),
        "{stderr}"
    );
    nothing_pushed(&env);
}

#[test]
fn drafts_sync_and_push_refuse_a_user_inside_a_draft() {
    for version in ["6.5.7", "7.260510.0"] {
        let env = with_marked(version);
        env.octi.directory().draft = Some(("draft-7".into(), "Review".into()));
        for args in [vec!["sync"], vec!["sync", "--dry-run"]] {
            let (code, stderr) = run(&env, &args);
            assert_eq!(code, Some(78), "{version} {args:?}: {stderr}");
            assert!(
                stderr.contains("draft 'Review' (draft-7)") && stderr.contains("leave the draft"),
                "{stderr}"
            );
        }
        assert!(env.dx.requests().is_empty(), "fetched before refusing");
        let file = bundle_file(&env);
        assert_eq!(run(&env, &["push", "--file", &file]).0, Some(78));
        nothing_pushed(&env);
    }
}

#[test]
fn drafts_are_not_asked_for_before_6_4() {
    let env = with_marked("6.2.6");
    env.octi.directory().draft = Some(("draft-7".into(), "Review".into()));
    let (code, stderr) = run(&env, &["sync"]);
    assert_eq!(code, Some(0), "{stderr}");
    let ops: Vec<Option<String>> = env
        .octi
        .requests()
        .into_iter()
        .map(|r| r.operation_name)
        .collect();
    assert!(ops.contains(&Some("Access".into())), "{ops:?}");
    assert!(!ops.contains(&Some("AccessWithDraft".into())), "{ops:?}");
}

#[test]
fn check_reports_a_draft_and_a_marking_the_user_may_not_use() {
    let env = Peers::start("6.9.17");
    let check = |env: &Peers| {
        let out = env
            .cmd()
            .args(["check", "--retries", "0"])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = check(&env);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("ok   draft") && out.contains("ok   marking-use"),
        "{out}"
    );

    env.octi
        .directory()
        .add(DISARM, "statement", DISARM_TEXT, false);
    let (code, out) = check(&env);
    assert_eq!(code, Some(78), "{out}");
    assert!(
        out.contains("FAIL marking-use")
            && out.contains(DISARM)
            && out.contains("grant it")
            && !out.contains(" 0 object(s)"),
        "{out}"
    );

    env.octi.directory().markings.clear();
    env.octi.directory().draft = Some(("draft-7".into(), "Review".into()));
    let (code, out) = check(&env);
    assert_eq!(code, Some(78), "{out}");
    assert!(
        out.contains("FAIL draft") && out.contains("'Review'"),
        "{out}"
    );
}

#[test]
fn markings_allowed_the_run_imports_everything_with_at_most_two_access_queries() {
    // A marking granted to the user, and a new one with the built-in "Connectors" group.
    for granted in [true, false] {
        let env = Peers {
            home: tempfile::tempdir().unwrap(),
            dx: DisinfoxStandin::start_default(),
            octi: async_octi("7.260510.0"),
        };
        env.octi.set_capabilities(CONNECTOR_ROLE.iter().copied());
        if granted {
            env.octi
                .directory()
                .add(DISARM, "statement", DISARM_TEXT, true);
        }
        let objects = marked(6, env.dx.server_now() - chrono::Duration::minutes(5));
        env.dx.add_values(objects.iter());
        let (code, stderr) = run(&env, &["sync"]);
        assert_eq!(code, Some(0), "{stderr}");
        crate::common::assert_nothing_dropped(&env.octi);
        for o in &objects {
            assert!(env.octi.platform().is_imported(&id(o)), "{}", id(o));
        }
        let access_queries = env
            .octi
            .requests()
            .iter()
            .filter(|r| {
                r.root_fields
                    .iter()
                    .any(|f| f == "markingDefinitions" || f == "me")
                    && r.operation_name.as_deref() != Some("Probe")
            })
            .count();
        assert!(
            (1..=2).contains(&access_queries),
            "{access_queries} queries"
        );
    }
}
