//! The handle tests hold: start and stop, what the stand-in saw (requests, pushes, works,
//! pings), and the faults and platform changes tests inject.

use super::*;

impl OpenctiStandin {
    pub fn start(opts: OpenctiOptions) -> Self {
        let ver = Version::parse(&opts.version)
            .unwrap_or_else(|| panic!("bad version {:?}", opts.version));
        let sdl = render_sdl(&opts.version);
        let schema = minimal_schema(&opts.version);
        let base_path = {
            let t = opts.base_path.trim_matches('/');
            if t.is_empty() {
                String::new()
            } else {
                format!("/{t}")
            }
        };
        let mut server_opts = opts.server.clone();
        server_opts.max_body = opts.body_limit;
        let directory = SharedDirectory::default();
        let platform = match &opts.import {
            Import::Instant => None,
            Import::Async(model) => Some(Platform::start(ver, model.clone(), directory.clone())),
        };
        let inner = Arc::new(Inner {
            platform,
            directory,
            ver,
            apollo4: ver >= v("6.2.13"),
            schema,
            sdl,
            base_path,
            docs: Mutex::new(HashMap::new()),
            state: Mutex::new(State {
                capabilities: opts.capabilities.clone(),
                ..State::default()
            }),
            on_add_expectations: Mutex::new(None),
            blind_queue: Default::default(),
            opts,
        });
        let h = inner.clone();
        let server = Server::start_with(server_opts, move |req| handle(&h, req));
        OpenctiStandin { inner, server }
    }

    /// A stand-in of this version with default options.
    pub fn start_version(version: &str) -> Self {
        Self::start(OpenctiOptions::version(version))
    }

    /// `OPENCTI_URL`: `http://127.0.0.1:PORT[/base]` (the client appends `/graphql`).
    pub fn url(&self) -> String {
        format!("{}{}", self.server.url(), self.inner.base_path)
    }

    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.url())
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    pub fn token(&self) -> String {
        self.inner.opts.token.clone()
    }

    pub fn version(&self) -> String {
        self.inner.opts.version.clone()
    }

    pub fn user_id(&self) -> String {
        self.inner.opts.user_id.clone()
    }

    /// The SDL this instance validates against.
    pub fn sdl(&self) -> String {
        self.inner.sdl.clone()
    }

    /// Runs `hook` (once) before answering the next `addExpectations`.
    pub fn on_add_expectations(&self, hook: Hook) {
        *lock(&self.inner.on_add_expectations) = Some(hook);
    }

    pub fn set_capabilities<I, S>(&self, caps: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        lock(&self.inner.state).capabilities = caps.into_iter().map(Into::into).collect();
    }

    /// The user's markings, groups and draft, and the platform's markings (`me`,
    /// `markingDefinitions`, and what the workers enforce).
    pub fn directory(&self) -> std::sync::MutexGuard<'_, Directory> {
        access::lock(&self.inner.directory)
    }

    pub fn set_fault(&self, fault: Fault) {
        let mut st = lock(&self.inner.state);
        st.fault = fault;
        st.pushes_since_fault = 0;
    }

    pub fn fault(&self) -> Fault {
        lock(&self.inner.state).fault.clone()
    }

    /// After `n` more successful pushes of this connector, do what the UI's "Reset state"
    /// does (once).
    pub fn reset_after_pushes(&self, connector_id: &str, n: usize) {
        lock(&self.inner.state)
            .reset_after
            .insert(connector_id.into(), n);
    }

    /// After `n` more pushes, store `state` as `pingConnector` does (what `reset-state`, or any
    /// other client's ping, does to the state during a run: no reset flag, no purge).
    pub fn ping_state_after_pushes(&self, connector_id: &str, n: usize, state: &str) {
        lock(&self.inner.state).ping_after = Some((n, connector_id.into(), state.into()));
    }

    /// The next import of object `id` fails with `code` (`LOCK_ERROR`, `MISSING_REFERENCE_ERROR`),
    /// reported on its work with the object as the error's source; a later push imports it.
    /// On both models (see [`Platform::fail_next_import`]).
    pub fn fail_next_import(&self, id: &str, code: &str) {
        match &self.inner.platform {
            Some(p) => p.fail_next_import(id, code),
            None => {
                lock(&self.inner.state)
                    .transient
                    .insert(id.into(), code.into());
            }
        }
    }

    /// `deleteWork`: the work is gone (what deleting it in the UI, or the connector's
    /// deletion, does).
    pub fn delete_work(&self, id: &str) {
        if let Some(p) = &self.inner.platform {
            let _ = p.work_edit(id, "delete", &Value::Null);
        }
        lock(&self.inner.state).works.retain(|w| w.id != id);
    }

    /// "Reset state" pressed when the next `addExpectations` arrives: during a run over AMQP,
    /// which sends no `stixBundlePush` to count.
    pub fn reset_at_expectations(&self, connector_id: &str) {
        lock(&self.inner.state).reset_on_expectations = Some(connector_id.into());
    }

    /// Ids of every known connector.
    pub fn connector_ids(&self) -> Vec<String> {
        lock(&self.inner.state).connectors.keys().cloned().collect()
    }

    pub fn is_registered(&self, connector_id: &str) -> bool {
        lock(&self.inner.state)
            .connectors
            .contains_key(connector_id)
    }

    /// `connector_state` (`None` for an unknown connector or a null state).
    pub fn state(&self, connector_id: &str) -> Option<String> {
        lock(&self.inner.state)
            .connectors
            .get(connector_id)
            .and_then(|c| c.state.clone())
    }

    /// The reset flag (`None` for an unknown connector).
    pub fn reset_flag(&self, connector_id: &str) -> Option<bool> {
        lock(&self.inner.state)
            .connectors
            .get(connector_id)
            .map(|c| c.reset)
    }

    /// Sets `connector_state` directly (e.g. what the Python connector left), creating the
    /// connector as if an earlier connector had registered it.
    pub fn set_state(&self, connector_id: &str, state: &str) {
        let mut st = lock(&self.inner.state);
        let user = self.inner.opts.user_id.clone();
        let c = st
            .connectors
            .entry(connector_id.into())
            .or_insert_with(|| new_connector(connector_id, "DISINFOX", &user));
        c.state = Some(state.into());
        if let Some(p) = &self.inner.platform {
            p.store_connector(connector_id);
        }
    }

    /// What the UI's "Reset state" button does (`resetStateConnector`).
    pub fn ui_reset(&self, connector_id: &str) {
        let mut st = lock(&self.inner.state);
        let key = stored_key(&st, connector_id).unwrap_or_default();
        if let Some(c) = st.connectors.get_mut(&key) {
            self.inner.reset(c);
        }
    }

    /// RabbitMQ's management API fails from now on: OpenCTI 6.2.12+ catch the failure and
    /// answer `connector_queue_details` with 0 messages and 0 bytes, whatever is queued
    /// (`opencti-async-import.md` §4).
    pub fn blind_queue_details(&self) {
        self.inner
            .blind_queue
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// The connector's queue, in bytes (`messages_size`), one message when non-zero.
    pub fn set_queue_size(&self, connector_id: &str, bytes: u64) {
        self.set_queue(connector_id, u64::from(bytes > 0), bytes);
    }

    pub fn set_queue(&self, connector_id: &str, messages: u64, bytes: u64) {
        let mut st = lock(&self.inner.state);
        let user = self.inner.opts.user_id.clone();
        let c = st
            .connectors
            .entry(connector_id.into())
            .or_insert_with(|| new_connector(connector_id, "DISINFOX", &user));
        c.queue_messages = messages;
        c.queue_bytes = bytes;
    }

    /// The last `connectorInfo` stored by a ping.
    pub fn connector_info(&self, connector_id: &str) -> Option<Value> {
        let st = lock(&self.inner.state);
        let key = stored_key(&st, connector_id)?;
        st.connectors.get(&key).and_then(|c| c.info.clone())
    }

    /// The connector as `connector(id)` would return it (every field).
    pub fn connector(&self, connector_id: &str) -> Option<Value> {
        let st = lock(&self.inner.state);
        let key = stored_key(&st, connector_id)?;
        st.connectors.get(&key).map(|c| self.inner.connector_out(c))
    }

    pub fn pings(&self) -> Vec<PingRecord> {
        lock(&self.inner.state).pings.clone()
    }

    pub fn works(&self) -> Vec<WorkRecord> {
        if let Some(p) = &self.inner.platform {
            return p.works();
        }
        lock(&self.inner.state).works.clone()
    }

    pub fn work(&self, id: &str) -> Option<WorkRecord> {
        if let Some(p) = &self.inner.platform {
            return p.work(id);
        }
        lock(&self.inner.state)
            .works
            .iter()
            .find(|w| w.id == id)
            .cloned()
    }

    /// Loses objects from the knowledge base, as a purge or a restore from an older backup
    /// would (by any id they answer to); returns how many were there.
    pub fn lose_objects(&self, ids: &[&str]) -> usize {
        let mut st = lock(&self.inner.state);
        let mut lost = 0;
        for id in ids {
            let stix_ids: Vec<String> = st
                .knowledge
                .node(id)
                .map(|n| n.stix_ids.iter().chain([&n.standard_id]).cloned().collect())
                .unwrap_or_default();
            if st.knowledge.lose(id) {
                lost += 1;
                if let Some(p) = &self.inner.platform {
                    for s in &stix_ids {
                        p.forget(s);
                    }
                }
            }
        }
        lost
    }

    /// Caps the look-ups' pages below the platform's 5,000 (tests of paging).
    pub fn set_max_page(&self, n: usize) {
        lock(&self.inner.state).knowledge.max_page = n;
    }

    /// Puts objects in the knowledge base without a push (as an earlier import would have).
    pub fn hold_objects(&self, objects: &[Value]) {
        let mut st = lock(&self.inner.state);
        for o in objects {
            st.knowledge.import(o);
        }
    }

    /// The node that answers to `id`: (internal_id, standard_id, x_opencti_stix_ids).
    pub fn knowledge_node(&self, id: &str) -> Option<(String, String, Vec<String>)> {
        let st = lock(&self.inner.state);
        st.knowledge.node(id).map(|n| {
            (
                n.internal_id.clone(),
                n.standard_id.clone(),
                n.stix_ids.clone(),
            )
        })
    }

    pub fn pushes(&self) -> Vec<PushRecord> {
        lock(&self.inner.state).pushes.clone()
    }

    /// Every object id pushed, in order, duplicates included.
    pub fn received_ids(&self) -> Vec<String> {
        lock(&self.inner.state)
            .pushes
            .iter()
            .flat_map(|p| p.ids.iter().cloned())
            .collect()
    }

    /// Every object pushed, parsed (empty in bench mode).
    pub fn received_objects(&self) -> Vec<Value> {
        let st = lock(&self.inner.state);
        let mut out = Vec::new();
        for p in &st.pushes {
            if let Some(raw) = &p.raw
                && let Ok(b) = serde_json::from_str::<Value>(raw)
                && let Some(objs) = b.get("objects").and_then(Value::as_array)
            {
                out.extend(objs.iter().cloned());
            }
        }
        out
    }

    pub fn requests(&self) -> Vec<RecordedGraphql> {
        lock(&self.inner.state).requests.clone()
    }

    pub fn clear_requests(&self) {
        lock(&self.inner.state).requests.clear();
    }

    /// Forgets pushes and pings (connectors, their state and works stay, as on the real
    /// platform, where a later run reads an earlier run's work).
    pub fn clear_history(&self) {
        let mut st = lock(&self.inner.state);
        st.pushes.clear();
        st.pings.clear();
        st.requests.clear();
    }

    /// Stops the server now (also done on drop).
    pub fn stop(&mut self) {
        self.server.stop();
        if let Some(p) = &self.inner.platform {
            p.stop();
        }
    }

    /// The asynchronous platform (panics on an instant stand-in).
    pub fn platform(&self) -> &Platform {
        self.inner
            .platform
            .as_ref()
            .expect("the stand-in runs the instant import; start it with Import::Async")
    }

    pub fn is_stopped(&self) -> bool {
        self.server.is_stopped()
    }

    /// The asynchronous platform, or `None` on an instant stand-in: for helpers that wait for
    /// the workers on one model and have nothing to wait for on the other.
    pub fn async_platform(&self) -> Option<&Platform> {
        self.inner.platform.as_ref()
    }
}

impl Drop for OpenctiStandin {
    fn drop(&mut self) {
        if let Some(p) = &self.inner.platform {
            p.stop();
        }
    }
}
