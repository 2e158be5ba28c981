//! One worker thread: `W/push_handler.py` `handle_message` (6.8.7+; `W/worker.py`
//! `data_handler` before) and pycti's `import_bundle` / `import_item_with_retries`
//! (`P/opencti_stix2.py`), with the splitter (`P/opencti_stix2_splitter.py`).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;

use super::Shared;
use super::ledger::DropReason;
use super::queue::Message;
use super::rules::PROCESSING_COUNT;

pub(super) fn run(sh: &Shared) {
    while let Some(msg) = sh.next_message() {
        handle(sh, &msg);
        let mut core = sh.core();
        core.queues.done(&msg.queue);
        if let [one] = msg.objects.as_slice()
            && let Some(id) = one.get("id").and_then(Value::as_str)
            && let Some(n) = core.held.get_mut(id)
        {
            *n -= 1;
            if *n == 0 {
                core.held.remove(id);
            }
        }
        sh.cv.notify_all();
    }
}

fn drop_all(sh: &Shared, msg: &Message, reason: DropReason) {
    let mut core = sh.core();
    for id in msg.ids() {
        core.ledger
            .dropped(&id, msg.work_id.as_deref(), reason.clone());
    }
}

fn handle(sh: &Shared, msg: &Message) {
    // 6.8.7 (813ba74a1): `get_is_work_alive` when the message is taken; dead → ack.
    if sh.rules.alive_at_take
        && let Some(w) = &msg.work_id
        && !sh.core().works.alive(w)
    {
        return drop_all(sh, msg, DropReason::WorkNotAlive { when: "take" });
    }
    // The splitter (the worker's split and `import_bundle` both run it) reads
    // `item["source_ref"]`/`item["target_ref"]`: a missing key raises, and `handle_message`
    // nacks the message without requeue.
    if let Some(rel) = malformed_relationship(&msg.objects) {
        return drop_all(
            sh,
            msg,
            DropReason::MalformedRelationship { relationship: rel },
        );
    }
    if sh.rules.split && msg.objects.len() > 1 {
        split(sh, msg);
    } else {
        for obj in by_depth(&msg.objects) {
            import(sh, msg, obj);
        }
    }
}

fn malformed_relationship(objects: &[Value]) -> Option<String> {
    objects
        .iter()
        .find(|o| {
            o.get("type").and_then(Value::as_str) == Some("relationship")
                && (o.get("source_ref").is_none() || o.get("target_ref").is_none())
        })
        .map(|o| o["id"].as_str().unwrap_or_default().to_string())
}

/// 6.2.14+: one message per object, ordered by dependency depth inside this message,
/// expectations added (6.3.0+), re-published at the end of the same queue.
fn split(sh: &Shared, msg: &Message) {
    sh.nap(
        sh.scaled(sh.model.split_cost)
            .mul_f64(msg.objects.len() as f64),
    );
    let pieces = by_depth(&msg.objects);
    let mut core = sh.core();
    if sh.rules.expectations
        && let Some(w) = &msg.work_id
    {
        let alive = core.works.add_expectations(w, pieces.len() as u64);
        // 6.9.19+/7.x: `add_expectations` answers whether the work lives; dead → ack.
        if sh.rules.alive_every_call && !alive {
            drop(core);
            return drop_all(sh, msg, DropReason::WorkNotAlive { when: "split" });
        }
    }
    for obj in pieces {
        let bytes = obj.to_string().len();
        core.queues.publish(Message {
            queue: msg.queue.clone(),
            work_id: msg.work_id.clone(),
            objects: vec![obj.clone()],
            applicant: msg.applicant.clone(),
            bytes: (bytes as u64).div_ceil(3) * 4 + 160,
        });
    }
    sh.cv.notify_all();
}

/// References of an object: every `*_ref` and `*_refs` value.
fn refs(o: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(map) = o.as_object() {
        for (k, v) in map {
            if k.ends_with("_ref") {
                if let Some(s) = v.as_str() {
                    out.push((k.clone(), s.to_string()));
                }
            } else if k.ends_with("_refs") {
                for s in v.as_array().into_iter().flatten().filter_map(Value::as_str) {
                    out.push((k.clone(), s.to_string()));
                }
            }
        }
    }
    out
}

/// The splitter's `nb_deps`: 1 + the depths of the in-message objects referenced; stable
/// sort ascending (`split_bundle_with_expectations`, `by_dep_size`).
fn by_depth(objects: &[Value]) -> Vec<&Value> {
    let index: HashMap<&str, &Value> = objects
        .iter()
        .filter_map(|o| o.get("id").and_then(Value::as_str).map(|i| (i, o)))
        .collect();
    fn depth<'a>(
        id: &'a str,
        index: &HashMap<&'a str, &'a Value>,
        memo: &mut HashMap<String, u64>,
        guard: usize,
    ) -> u64 {
        if let Some(d) = memo.get(id) {
            return *d;
        }
        let Some(o) = index.get(id) else { return 0 };
        memo.insert(id.to_string(), 1);
        let mut d = 1;
        if guard < 64 {
            for (_, r) in refs(o) {
                if r != id && index.contains_key(r.as_str()) {
                    let r: &'a str = index
                        .get_key_value(r.as_str())
                        .map(|(k, _)| *k)
                        .unwrap_or("");
                    d += depth(r, index, memo, guard + 1);
                }
            }
        }
        memo.insert(id.to_string(), d);
        d
    }
    let mut memo = HashMap::new();
    let mut with: Vec<(u64, &Value)> = objects
        .iter()
        .map(|o| {
            let id = o.get("id").and_then(Value::as_str).unwrap_or_default();
            (depth(id, &index, &mut memo, 0), o)
        })
        .collect();
    with.sort_by_key(|(d, _)| *d);
    with.into_iter().map(|(_, o)| o).collect()
}

fn has(caps: &[String], need: &str) -> bool {
    caps.iter().any(|c| c == "BYPASS" || c.contains(need))
}

/// The capability a creation needs that the applicant lacks (`G/../config/schema/
/// opencti.graphql`): STIX creations such as `intrusionSetAdd` are `@auth(for:
/// [KNOWLEDGE_KNUPDATE])`, `markingDefinitionAdd` SETTINGS_SETMARKINGS, and the kill-chain
/// phases an object carries go through `killChainPhaseAdd`: SETTINGS_SETKILLCHAINPHASES at
/// 6.8.0, SETTINGS_SETLABELS at 6.7.0. A refusal is FORBIDDEN_ACCESS, which
/// `import_item_with_retries` reports once and does not retry.
fn refused(sh: &Shared, caps: &[String], obj: &Value) -> Option<String> {
    let ty = obj.get("type").and_then(Value::as_str).unwrap_or_default();
    let need = |c: &str| (!has(caps, c)).then(|| c.to_string());
    if ty == "marking-definition" {
        return need("SETTINGS_SETMARKINGS");
    }
    let phases = obj
        .get("kill_chain_phases")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    need("KNOWLEDGE_KNUPDATE").or_else(|| {
        if phases {
            need(sh.rules.kill_chain_capability)
        } else {
            None
        }
    })
}

/// A relationship's ends, a sighting's `sighting_of_ref` and `where_sighted_refs`: missing,
/// they raise MISSING_REFERENCE_ERROR until the retries run out.
fn required_refs(obj: &Value) -> Vec<String> {
    match obj.get("type").and_then(Value::as_str) {
        Some("relationship") => refs(obj)
            .into_iter()
            .filter(|(k, _)| k == "source_ref" || k == "target_ref")
            .map(|(_, r)| r)
            .collect(),
        Some("sighting") => refs(obj)
            .into_iter()
            .filter(|(k, _)| k == "sighting_of_ref" || k == "where_sighted_refs")
            .map(|(_, r)| r)
            .collect(),
        _ => Vec::new(),
    }
}

/// What `import_item_with_retries` reports (`P/opencti_stix2.py`, 6.9.8): a lock error is
/// retried up to `MAX_PROCESSING_COUNT` (100) times, then reported as the retries running out;
/// anything else with its own message.
pub(crate) fn transient_message(code: &str) -> String {
    match code {
        "LOCK_ERROR" => "Max number of retries reached, please see error logs of workers for more details. Bundle will be sent to dead letter queue. (LOCK_ERROR)".into(),
        other => format!("{other}: reference still being imported"),
    }
}

/// Longest wall-clock wait, per object, for references other workers are importing (a bound
/// should two held pieces ever reference each other).
const HELD_WAIT: Duration = Duration::from_secs(2);

/// `import_item_with_retries` for one object.
fn import(sh: &Shared, msg: &Message, obj: &Value) {
    let id = obj
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let work = msg.work_id.as_deref();
    let mut attempt: u32 = 0;
    let mut waited = Duration::ZERO;
    loop {
        let mut core = sh.core();
        // 6.9.19+/7.x: the import carries `opencti-work-id`; a dead work → WORK_NOT_ALIVE,
        // skipped without a report.
        if sh.rules.alive_every_call
            && let Some(w) = work
            && !core.works.alive(w)
        {
            core.ledger
                .dropped(&id, work, DropReason::WorkNotAlive { when: "import" });
            return;
        }
        // FORBIDDEN_ACCESS is no retry case: reported once on the work.
        if let Some(capability) = refused(sh, &msg.applicant, obj) {
            core.ledger.dropped(
                &id,
                work,
                DropReason::Forbidden {
                    capability: capability.clone(),
                },
            );
            if let Some(w) = work {
                core.works
                    .report(w, Some(format!("FORBIDDEN_ACCESS: {capability}")));
            }
            return;
        }
        if let Some(code) = core.transient.remove(&id) {
            core.ledger
                .dropped(&id, work, DropReason::Transient { code: code.clone() });
            if let Some(w) = work {
                core.works
                    .report_from(w, Some((transient_message(&code), Some(obj.to_string()))));
            }
            return;
        }
        let directory = super::access::lock(&sh.directory).clone();
        // A user inside a draft imports into it (markings excepted: they are created out of
        // any draft, `addAllowedMarkingDefinition`): the knowledge base gets nothing.
        if let Some((_, draft)) = &directory.draft
            && obj.get("type").and_then(Value::as_str) != Some("marking-definition")
        {
            core.ledger.dropped(
                &id,
                work,
                DropReason::InDraft {
                    draft: draft.clone(),
                },
            );
            if let Some(w) = work {
                core.works.report(w, None);
            }
            return;
        }
        let known = |r: &str| core.db.contains(r) || directory.find(r).is_some();
        let mut missing: Vec<String> = required_refs(obj)
            .into_iter()
            .filter(|r| !known(r))
            .collect();
        // Other references (`created_by_ref`, markings, …): refused on the first three tries,
        // then left out (`inputResolveRefs`).
        let soft_missing = refs(obj).iter().any(|(_, r)| !known(r) && r != &id) && attempt < 3;
        // A marking the platform has and the user may not use: refused on every try.
        let not_allowed =
            directory.refused_marking(obj, msg.applicant.iter().any(|c| c == "BYPASS"));
        if !soft_missing && let Some(m) = &not_allowed {
            missing.push(m.clone());
        }
        if !missing.is_empty() || soft_missing {
            // A reference whose own piece another worker is importing right now: on the real
            // platform that import (tens of ms) ends long before the next try (1–3 s later),
            // so the try after it finds it. Wait for it rather than count a try, or a thread
            // the scheduler holds back for a few ms (the delays here are scaled down) would
            // drop what OpenCTI imports.
            if waited < HELD_WAIT
                && refs(obj)
                    .iter()
                    .any(|(_, r)| r != &id && !core.db.contains(r) && core.held.contains_key(r))
            {
                let started = std::time::Instant::now();
                drop(
                    sh.cv
                        .wait_timeout(core, Duration::from_millis(5))
                        .unwrap_or_else(|p| p.into_inner())
                        .0,
                );
                waited += started.elapsed();
                if sh.stopped() {
                    return;
                }
                continue;
            }
            if attempt < PROCESSING_COUNT {
                attempt += 1;
                core.ledger.retried(&id);
                let secs = core.jitter(1.0, 3.0);
                drop(core);
                sh.nap(sh.scaled(Duration::from_secs_f64(secs)));
                if sh.stopped() {
                    return;
                }
                continue;
            }
            let missing = missing.join(", ");
            let reason = match not_allowed {
                Some(marking) => DropReason::MarkingNotAllowed { marking },
                None => DropReason::MissingReference {
                    missing: missing.clone(),
                },
            };
            core.ledger.dropped(&id, work, reason);
            if let Some(w) = work {
                let e = format!("MISSING_REFERENCE_ERROR: {missing}");
                core.works.report_from(w, Some((e, Some(obj.to_string()))));
            }
            return;
        }
        drop(core);
        sh.nap(sh.scaled(sh.model.import_cost));
        let mut core = sh.core();
        if obj.get("type").and_then(Value::as_str) == Some("marking-definition") {
            super::access::lock(&sh.directory).create(obj);
        }
        core.db.insert(id.clone());
        core.ledger.imported(&id);
        // Labels go through `labelAdd` (`@auth(for: [SETTINGS_SETLABELS])`); refused, pycti
        // leaves them out and imports the object.
        if obj
            .get("labels")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
            && !has(&msg.applicant, "SETTINGS_SETLABELS")
        {
            core.ledger.labels_left_out(&id);
        }
        if let Some(w) = work {
            core.works.report(w, None);
        }
        sh.cv.notify_all();
        return;
    }
}
