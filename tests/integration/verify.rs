//! `verify` against both OpenCTI models (instant and asynchronous): a complete platform exits
//! 0; objects lost on the platform side are listed, exactly, with exit 1; `--repair` pushes
//! only them and what they reference, after which a verify exits 0; look-ups are batched; a
//! token without KNOWLEDGE stops before DISINFOX is asked; the cursor never moves.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::common::{CONNECTOR_ID, CONNECTOR_ROLE, Peers, incidents, ms, settle};
use crate::support::disinfox::DisinfoxStandin;
use crate::support::knowledge::{Family, Knowledge};
use crate::support::opencti::{Import, OpenctiOptions, OpenctiStandin};
use crate::support::platform::AsyncModel;

const AP: &str = "attack-pattern--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061";
const USES: &str = "relationship--5e1e4f3a-2b7c-4d7e-9a1b-3c4d5e6f7a8b";

/// Both stand-ins, the OpenCTI one on the given import model.
fn peers(version: &str, asynchronous: bool) -> Peers {
    let import = if asynchronous {
        Import::Async(AsyncModel {
            time_scale: 0.005,
            ..AsyncModel::default()
        })
    } else {
        Import::Instant
    };
    let octi = OpenctiStandin::start(OpenctiOptions {
        import,
        ..OpenctiOptions::version(version)
    });
    octi.set_capabilities(CONNECTOR_ROLE.iter().copied());
    Peers::with_octi(octi)
}

fn id_of(raw: &str) -> String {
    serde_json::from_str::<Value>(raw).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `count` incidents, plus an attack-pattern the first intrusion-set uses; their ids.
fn serve(env: &Peers, count: u64) -> Vec<String> {
    let at = env.dx.server_now() - chrono::Duration::minutes(10);
    let mut objects = incidents(count, 0, at);
    let first_is = id_of(&objects[0]);
    let when = ms(at);
    objects.push(
        json!({"type": "attack-pattern", "spec_version": "2.1", "id": AP, "created": when,
               "modified": when, "name": "Amplify exaggerated narratives", "x_mitre_id": "T0085"})
        .to_string(),
    );
    objects.push(
        json!({"type": "relationship", "spec_version": "2.1", "id": USES, "created": when,
               "modified": when, "relationship_type": "uses", "source_ref": first_is,
               "target_ref": AP})
        .to_string(),
    );
    env.dx.add_objects(&objects);
    objects.iter().map(|o| id_of(o)).collect()
}

/// A first full import, followed to the end on the asynchronous model.
fn import_all(env: &Peers) {
    let mut cmd = env.cmd();
    cmd.arg("sync");
    if env.octi.async_platform().is_some() {
        cmd.arg("--wait=60s");
    }
    cmd.assert().success();
    settle(&env.octi);
}

/// `verify` with arguments: exit code, stdout, stderr.
fn verify(env: &Peers, args: &[&str]) -> (i32, String, String) {
    let out = env.cmd().arg("verify").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn listed(stdout: &str) -> BTreeSet<String> {
    stdout
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect()
}

fn lookups(octi: &OpenctiStandin, field: &str) -> usize {
    octi.requests()
        .iter()
        .filter(|r| r.root_fields.iter().any(|f| f == field))
        .count()
}

/// The three losses of the issue: an intrusion-set, an attack-pattern, a relationship.
fn lose_three(env: &Peers, ids: &[String]) -> BTreeSet<String> {
    let lost = [ids[0].as_str(), AP, USES];
    assert_eq!(env.octi.lose_objects(&lost), 3);
    lost.iter().map(|s| (*s).to_owned()).collect()
}

fn complete_then_lost_then_repaired(version: &str, asynchronous: bool) {
    let env = peers(version, asynchronous);
    let ids = serve(&env, 3);
    import_all(&env);
    // OpenCTI derived its own standard_id: the id DISINFOX gave is in x_opencti_stix_ids.
    let (_, standard, kept) = env.octi.knowledge_node(&ids[0]).expect("imported");
    assert_ne!(standard, ids[0]);
    assert!(kept.contains(&ids[0]), "{kept:?}");
    let state = env.octi.state(CONNECTOR_ID);

    let (code, out, err) = verify(&env, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains(&format!("{} object(s) checked", ids.len())),
        "{err}"
    );

    let lost = lose_three(&env, &ids);
    let (code, out, err) = verify(&env, &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(listed(&out), lost, "{out}");
    assert!(out.contains(&format!("{AP} attack-pattern")), "{out}");
    assert!(
        err.contains("3 missing (1 attack-pattern, 1 intrusion-set, 1 relationship)"),
        "{err}"
    );

    env.octi.clear_history();
    let mut args = vec!["--repair"];
    if asynchronous {
        args.push("--wait=60s");
    }
    let (code, out, err) = verify(&env, &args);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty(), "{out}");
    // Only the lost objects and what they reference went out: the relationship's ends and
    // the identity that created them (well-known), nothing of the other incidents.
    let pushed: BTreeSet<String> = env.octi.received_ids().into_iter().collect();
    let identity = "identity--9ac61d58-60f0-40b8-8b96-2f1f4858534b".to_owned();
    let allowed: BTreeSet<String> = lost.iter().cloned().chain([identity]).collect();
    assert!(pushed.is_superset(&lost), "{pushed:?}");
    assert!(pushed.is_subset(&allowed), "{pushed:?}");
    settle(&env.octi);
    assert_eq!(verify(&env, &[]).0, 0);
    // Neither run moved the cursor.
    assert_eq!(env.octi.state(CONNECTOR_ID), state);
}

#[test]
fn instant_model_complete_lost_repaired() {
    complete_then_lost_then_repaired("6.9.17", false);
}

#[test]
fn async_model_complete_lost_repaired() {
    complete_then_lost_then_repaired("7.260510.0", true);
}

#[test]
fn json_lines_name_each_missing_object() {
    let env = peers("6.5.7", false);
    let ids = serve(&env, 2);
    import_all(&env);
    lose_three(&env, &ids);
    let (code, out, _) = verify(&env, &["--json"]);
    assert_eq!(code, 1);
    let docs: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 3, "{out}");
    assert!(
        docs.iter()
            .any(|d| d["id"] == USES && d["type"] == "relationship")
    );
}

#[test]
fn lookups_are_batched() {
    let env = peers("6.9.17", false);
    // 400 incidents: 1,200 objects (intrusion-set, threat-actor, location) and 801
    // relationships; batches of 500 ids.
    serve(&env, 400);
    import_all(&env);
    env.octi.clear_requests();
    let (code, _, err) = verify(&env, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        lookups(&env.octi, "stixCoreObjects"),
        1201usize.div_ceil(500)
    );
    assert_eq!(
        lookups(&env.octi, "stixCoreRelationships"),
        801usize.div_ceil(500)
    );
    assert!(err.contains("in 5 look-up(s)"), "{err}");
}

#[test]
fn lookups_follow_the_pages() {
    let env = peers("6.9.17", false);
    let ids = serve(&env, 4);
    import_all(&env);
    // 13 objects: a platform that pages by 5 answers them in 3 pages.
    env.octi.set_max_page(5);
    env.octi.clear_requests();
    let (code, _, err) = verify(&env, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(lookups(&env.octi, "stixCoreObjects"), 3);
    let after: Vec<Value> = env
        .octi
        .requests()
        .iter()
        .filter(|r| r.root_fields.iter().any(|f| f == "stixCoreObjects"))
        .map(|r| r.variables["after"].clone())
        .collect();
    assert!(after[0].is_null() && after[1].is_string() && after[2].is_string());
    lose_three(&env, &ids);
    assert_eq!(listed(&verify(&env, &[]).1).len(), 3);
}

#[test]
fn since_narrows_what_is_checked() {
    let env = peers("6.9.17", false);
    serve(&env, 2);
    import_all(&env);
    let (code, _, err) = verify(&env, &["--since", "1m"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("0 object(s) checked") || err.contains("nothing to check"),
        "{err}"
    );
}

#[test]
fn a_token_without_knowledge_gets_77_before_disinfox_is_asked() {
    let env = peers("6.9.17", false);
    serve(&env, 1);
    env.octi.set_capabilities(["CONNECTORAPI"]);
    env.dx.clear_requests();
    let (code, _, err) = verify(&env, &[]);
    assert_eq!(code, 77, "{err}");
    assert!(err.contains("KNOWLEDGE capability"), "{err}");
    assert!(env.dx.requests().is_empty(), "DISINFOX was asked");
    env.octi.set_capabilities(CONNECTOR_ROLE.iter().copied());
    let out = env.cmd().arg("check").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("verify can look objects up"), "{text}");
    env.octi.set_capabilities(["CONNECTORAPI"]);
    // check says so, without failing (sync does not need it).
    let out = env.cmd().arg("check").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("verify would exit 77"), "{text}");
}

#[test]
fn wait_without_repair_is_a_usage_error() {
    let env = peers("6.9.17", false);
    let (code, _, err) = verify(&env, &["--wait=1m"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("add --repair"), "{err}");
}

#[test]
fn the_standin_pages_and_matches_every_id_a_node_answers_to() {
    let mut kb = Knowledge::default();
    for n in 0..5 {
        kb.import(&json!({"type": "intrusion-set", "id": format!("intrusion-set--{n}"), "name": format!("IS {n}")}));
    }
    // A second object that derives the same standard_id is one node with both ids.
    kb.import(&json!({"type": "intrusion-set", "id": "intrusion-set--dup", "name": " is 0"}));
    assert_eq!(kb.len(), 5);
    let filter = |ids: &[&str]| json!({"mode": "and", "filters": [{"key": ["ids"], "values": ids, "operator": "eq", "mode": "or"}], "filterGroups": []});
    let all = filter(&[
        "intrusion-set--0",
        "intrusion-set--1",
        "intrusion-set--2",
        "intrusion-set--3",
        "intrusion-set--dup",
    ]);
    let everything = |_: &_| true;
    let p1 = kb
        .connection(Family::Objects, &all, &json!(2), &Value::Null, &everything)
        .unwrap();
    assert_eq!(p1["edges"].as_array().unwrap().len(), 2);
    assert_eq!(p1["pageInfo"]["hasNextPage"], true);
    assert_eq!(p1["pageInfo"]["globalCount"], 4);
    let p2 = kb
        .connection(
            Family::Objects,
            &all,
            &json!(2),
            &p1["pageInfo"]["endCursor"],
            &everything,
        )
        .unwrap();
    assert_eq!(p2["edges"].as_array().unwrap().len(), 2);
    assert_eq!(p2["pageInfo"]["hasNextPage"], false);
    let node = &p1["edges"][0]["node"];
    assert_eq!(
        node["x_opencti_stix_ids"],
        json!(["intrusion-set--0", "intrusion-set--dup"])
    );
    // A relationship is not listed by stixCoreObjects; another filter key is refused.
    let none = kb
        .connection(
            Family::Relationships,
            &all,
            &Value::Null,
            &Value::Null,
            &everything,
        )
        .unwrap();
    assert_eq!(none["edges"], json!([]));
    let bad =
        json!({"mode": "and", "filters": [{"key": ["name"], "values": ["x"]}], "filterGroups": []});
    assert!(
        kb.connection(
            Family::Objects,
            &bad,
            &Value::Null,
            &Value::Null,
            &everything
        )
        .is_err()
    );
    assert!(kb.lose("intrusion-set--dup") && kb.len() == 4);
}

/// OpenCTI 6.0.0 has no `stixBundlePush`: the repair goes over its RabbitMQ, as `sync` does.
#[test]
fn repair_over_amqp_on_6_0_0() {
    use crate::support::opencti::{BrokerAnswer, PUSH_EXCHANGE, push_queue, push_routing};
    use crate::support::rabbitmq::{self, PASS, Rabbit, USER};
    if !rabbitmq::installed() {
        crate::common::skip_or_fail("rabbitmq-server is absent");
        return;
    }
    let rabbit = Rabbit::start();
    let queue = push_queue(CONNECTOR_ID);
    rabbit.declare_push_route(PUSH_EXCHANGE, &queue, &push_routing(CONNECTOR_ID));
    let octi = crate::common::opencti_as_connector(OpenctiOptions {
        broker: BrokerAnswer {
            user: USER.into(),
            pass: PASS.into(),
            ..BrokerAnswer::default()
        },
        import: Import::Instant,
        ..OpenctiOptions::version("6.0.0")
    });
    let env = Peers {
        home: tempfile::tempdir().unwrap(),
        dx: DisinfoxStandin::start_default(),
        octi,
    };
    let ids = serve(&env, 3);
    // What an earlier sync imported (the stand-in's workers do not read RabbitMQ).
    let served: Vec<Value> = env
        .dx
        .objects()
        .iter()
        .map(|o| serde_json::from_str(&o.raw).unwrap())
        .collect();
    env.octi.hold_objects(&served);
    let lost = lose_three(&env, &ids);
    let amqp = |args: &[&str]| {
        let out = env
            .cmd()
            .env("CONNECTOR_QUEUE_PROTOCOL", "amqp")
            .env("MQ_HOST", "127.0.0.1")
            .env("MQ_PORT", rabbit.port.to_string())
            .arg("verify")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = amqp(&["--repair"]);
    // Published, not imported yet: still listed, with the hint to follow the work.
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(listed(&out), lost);
    assert!(err.contains("add --wait"), "{err}");
    assert!(!err.contains(PASS), "the broker password leaked: {err}");
    let published: Vec<Value> = rabbit
        .drain(&queue)
        .iter()
        .map(|m| {
            let body: Value = serde_json::from_slice(&m.body).unwrap();
            let content = base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                body["content"].as_str().unwrap(),
            )
            .unwrap();
            serde_json::from_slice::<Value>(&content).unwrap()["objects"][0].clone()
        })
        .collect();
    let sent: BTreeSet<String> = published
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(sent.is_superset(&lost), "{sent:?}");
    assert!(
        sent.len() <= lost.len() + 1,
        "more than the closure: {sent:?}"
    );
    // A worker imports them; the next verify finds everything.
    env.octi.hold_objects(&published);
    assert_eq!(amqp(&[]).0, Some(0));
}

#[test]
fn the_missing_gauge_goes_to_verify_s_own_metrics_file() {
    let env = peers("6.9.17", false);
    let ids = serve(&env, 2);
    let sync_file = env.home.path().join("sync.prom");
    let verify_file = env.home.path().join("verify.prom");
    env.cmd()
        .env("DISINFOX_SYNC_METRICS_FILE", &sync_file)
        .arg("sync")
        .assert()
        .success();
    let sync_metrics = std::fs::read_to_string(&sync_file).unwrap();
    let (code, _, _) = verify(&env, &["--metrics-file", verify_file.to_str().unwrap()]);
    assert_eq!(code, 0);
    let text = std::fs::read_to_string(&verify_file).unwrap();
    assert!(
        text.contains(&format!(
            "disinfox_sync_verify_missing{{connector_id=\"{CONNECTOR_ID}\"}} 0"
        )),
        "{text}"
    );
    lose_three(&env, &ids);
    let out = env
        .cmd()
        .env("DISINFOX_SYNC_METRICS_FILE", &sync_file)
        .args(["verify", "--metrics-file"])
        .arg(&verify_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&verify_file).unwrap();
    for ty in ["attack-pattern", "intrusion-set", "relationship"] {
        assert!(
            text.contains(&format!(
                "disinfox_sync_verify_missing{{connector_id=\"{CONNECTOR_ID}\",type=\"{ty}\"}} 1"
            )),
            "{text}"
        );
    }
    assert!(
        text.contains(&format!(
            "disinfox_sync_verify_exit_status{{connector_id=\"{CONNECTOR_ID}\"}} 1"
        )),
        "{text}"
    );
    assert!(!text.contains("disinfox_sync_runs_total"), "{text}");
    // sync's own file (the setting) is not verify's to write.
    assert_eq!(std::fs::read_to_string(&sync_file).unwrap(), sync_metrics);
}

/// The README's `verify` block, as printed: a loss found (exit 1, listed), repaired, then a
/// narrower check that finds nothing missing.
#[test]
fn readme_verify_commands() {
    use crate::readme::sandbox::{Sandbox, block, run_block};
    let env = Peers::start("7.260510.0");
    let objs = incidents(3, 0, env.dx.server_now() - chrono::Duration::minutes(5));
    env.dx.add_objects(&objs);
    env.cmd().arg("sync").assert().success();
    settle(&env.octi);
    let lost: Vec<String> = [0, 1, 3].iter().map(|&i| id_of(&objs[i])).collect();
    let refs: Vec<&str> = lost.iter().map(String::as_str).collect();
    assert_eq!(env.octi.lose_objects(&refs), 3);
    let sb = Sandbox::new();
    let repo = sb.path("repo");
    std::fs::write(
        repo.join("disinfox-sync.env"),
        crate::readme::env_file(&sb, &env),
    )
    .unwrap();
    let out = run_block(
        sb.shell("bash", &repo),
        &block("Auditing and recovery: `verify`", "bash", 0),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("verify exited 1"), "{stdout}");
    for id in &lost {
        assert!(stdout.contains(id.as_str()), "{id} not listed: {stdout}");
    }
    assert_eq!(
        std::fs::read_to_string(repo.join("missing.jsonl")).unwrap(),
        ""
    );
    settle(&env.octi);
    assert_eq!(verify(&env, &[]).0, 0);
}

/// The weekly audit's units: installed by `make install`, accepted by `systemd-analyze verify`,
/// sandboxed as the sync service is (exposure 2.0 or lower).
#[test]
fn weekly_audit_units_pass_systemd_analyze() {
    use std::process::Command;
    let Some(analyze) = crate::tools::required("systemd-analyze", "systemd") else {
        return;
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let prefix = tempfile::tempdir().unwrap();
    let out = Command::new("make")
        .current_dir(root)
        .args(["--no-print-directory", "install"])
        .arg(format!("PREFIX={}", prefix.path().display()))
        .arg(format!("BIN={}", crate::common::bin_path().display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let units = prefix.path().join("lib/systemd/system");
    let service = units.join("disinfox-sync-verify.service");
    let text = std::fs::read_to_string(&service).unwrap();
    assert!(text.contains(&format!(
        "ExecStart={}/bin/disinfox-sync verify",
        prefix.path().display()
    )));
    let out = Command::new(&analyze)
        .env("MANPATH", prefix.path().join("share/man"))
        .arg("verify")
        .arg(&service)
        .arg(units.join("disinfox-sync-verify.timer"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "{stderr}");
    let out = Command::new(&analyze)
        .args(["security", "--offline=true", "--threshold=20", "--no-pager"])
        .arg(root.join("contrib/systemd/disinfox-sync-verify.service"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// An audit only reads: a token whose user can read knowledge and nothing else will do, and
/// it leaves the connector unregistered.
#[test]
fn a_read_only_token_can_audit() {
    let env = peers("6.9.17", false);
    serve(&env, 1);
    import_all(&env);
    env.octi.set_capabilities(["KNOWLEDGE"]);
    env.octi.clear_requests();
    let (code, _, err) = verify(&env, &[]);
    assert_eq!(code, 0, "{err}");
    let writes = [
        "registerConnector",
        "pingConnector",
        "stixBundlePush",
        "workAdd",
    ];
    assert!(
        env.octi
            .requests()
            .iter()
            .all(|r| r.root_fields.iter().all(|f| !writes.contains(&f.as_str()))),
        "verify wrote to OpenCTI"
    );
    // A repair writes, and needs what sync needs.
    let (code, _, err) = verify(&env, &["--repair"]);
    assert_eq!(code, 77, "{err}");
}
