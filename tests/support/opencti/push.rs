//! `stixBundlePush`: injected push failures, the instantaneous import and its failures.

use super::*;

impl Inner {
    pub(super) fn push(
        &self,
        connector_id: Value,
        bundle: Value,
        work_id: Value,
    ) -> Result<Value, GqlError> {
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
}

/// The instantaneous import: a work per push when none is given, every object counted at once
/// (6.3.0+ splits into one piece per object).
pub(super) fn instant_import(
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
            st.works.push(WorkRecord::open(
                id.clone(),
                format!("{connector_name} run @ {}", iso(t)),
                connector_id,
                false,
                true,
                iso(t),
            ));
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
pub(super) fn instant_failures(st: &mut State, work: &str, bundle: &str) {
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
            w.errors.push(super::super::platform::worker_message(&code));
        }
    }
}
