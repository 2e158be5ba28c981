//! Works: their JSON shape, status refresh, `workAdd` / `workEdit`, and unique work ids.

use super::*;

pub(super) fn work_json(w: &WorkRecord) -> Value {
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
pub(super) fn with_sources(mut errors: Value, w: &WorkRecord) -> Value {
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
pub(super) fn refresh_work_status(w: &mut WorkRecord, ver: Version) {
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

impl Inner {
    pub(super) fn work_add(
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
        let w = WorkRecord::open(id, name, &connector_id, multipart, false, iso(t));
        let out = work_json(&w);
        st.works.push(w);
        Ok(out)
    }

    pub(super) fn work_edit(
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

pub(super) fn unique_work_id(st: &mut State, connector_id: &str) -> String {
    let mut ms = now().timestamp_millis();
    if ms <= st.last_work_ms {
        ms = st.last_work_ms + 1;
    }
    st.last_work_ms = ms;
    let t = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_else(now);
    format!("work_{connector_id}_{}", iso(t))
}
