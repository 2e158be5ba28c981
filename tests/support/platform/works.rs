//! Works: the Elasticsearch document a client and the UI read, and the Redis hash that keeps a
//! work alive for the workers (`G/domain/work.js`, `G/database/redis.ts`).

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};

use super::rules::{MAX_WORK_ERRORS, Rules, ToProcessed};

/// A work and what happened to it.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkRecord {
    pub id: String,
    pub name: String,
    pub connector_id: String,
    pub multipart: bool,
    /// `wait`, `progress`, `complete` or `timeout`.
    pub status: String,
    /// `toProcessed` was called.
    pub closed: bool,
    /// `toProcessed(inError: true)` was called.
    pub in_error: bool,
    pub messages: Vec<String>,
    pub errors: Vec<String>,
    /// `source` of the error at that index: the failed object's JSON, as pycti reports it.
    pub error_sources: std::collections::BTreeMap<usize, String>,
    pub expected: u64,
    pub processed: u64,
    /// Created by a `stixBundlePush` without `work_id`.
    pub created_by_push: bool,
    pub timestamp: String,
    pub received_time: Option<String>,
    pub processed_time: Option<String>,
    pub completed_time: Option<String>,
}

impl WorkRecord {
    /// A new work in progress at `timestamp`, as `createWork` stores it; a work the server
    /// made for a `stixBundlePush` (`by_push`) is received at once.
    pub fn open(
        id: String,
        name: String,
        connector_id: &str,
        multipart: bool,
        by_push: bool,
        timestamp: String,
    ) -> WorkRecord {
        WorkRecord {
            id,
            name,
            connector_id: connector_id.to_string(),
            multipart,
            status: "progress".into(),
            closed: false,
            in_error: false,
            messages: Vec::new(),
            errors: Vec::new(),
            error_sources: Default::default(),
            expected: 0,
            processed: 0,
            created_by_push: by_push,
            received_time: by_push.then(|| timestamp.clone()),
            timestamp,
            processed_time: None,
            completed_time: None,
        }
    }
}

/// The Redis hash of a work. Counters are absent until first incremented (`parseInt` of a
/// missing field is `NaN` before 7.260422.0, and `NaN === NaN` is false).
#[derive(Debug, Clone, Default)]
struct RedisWork {
    expected: Option<i64>,
    processed: Option<i64>,
    initialized: bool,
    multipart: bool,
    is_processed: bool,
}

/// Every work of the platform, with its Redis side.
#[derive(Debug)]
pub struct Works {
    rules: Rules,
    pub list: Vec<WorkRecord>,
    redis: HashMap<String, RedisWork>,
    /// `work:<connectorId>`: the last work that reported (`redisUpdateWorkFigures`).
    status: HashMap<String, String>,
    last_ms: i64,
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Works {
    pub fn new(rules: Rules) -> Works {
        Works {
            rules,
            list: Vec::new(),
            redis: HashMap::new(),
            status: HashMap::new(),
            last_ms: 0,
        }
    }

    /// `createWork`: `work_<connector internal_id>_<ISO time>`, status `progress`, and
    /// `redisInitializeWork` (`is_initialized`, `is_multipart` from 7.260422.0).
    pub fn create(
        &mut self,
        connector_id: &str,
        name: &str,
        multipart: bool,
        by_push: bool,
    ) -> String {
        let mut ms = Utc::now().timestamp_millis();
        if ms <= self.last_ms {
            ms = self.last_ms + 1;
        }
        self.last_ms = ms;
        let t = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_else(Utc::now);
        let id = format!("work_{connector_id}_{}", iso(t));
        self.list.push(WorkRecord::open(
            id.clone(),
            name.to_string(),
            connector_id,
            multipart,
            by_push,
            iso(t),
        ));
        self.redis.insert(
            id.clone(),
            RedisWork {
                initialized: true,
                multipart,
                ..RedisWork::default()
            },
        );
        id
    }

    pub fn get(&self, id: &str) -> Option<&WorkRecord> {
        self.list.iter().find(|w| w.id == id)
    }

    fn elastic(&mut self, id: &str) -> Option<&mut WorkRecord> {
        self.list.iter_mut().find(|w| w.id == id)
    }

    /// `isWorkAlive`: the Redis hash exists with `is_initialized`.
    pub fn alive(&self, id: &str) -> bool {
        self.redis.get(id).is_some_and(|r| r.initialized)
    }

    /// Whether the Redis hash exists at all.
    pub fn has_key(&self, id: &str) -> bool {
        self.redis.contains_key(id)
    }

    fn delete_key(&mut self, id: &str) {
        self.redis.remove(id);
    }

    fn complete(&mut self, id: &str, completed: u64) {
        if let Some(w) = self.elastic(id)
            && w.status != "complete"
        {
            w.status = "complete".into();
            w.processed = w.processed.max(completed);
            w.completed_time = Some(iso(Utc::now()));
        }
    }

    /// `updateExpectationsNumber` (the worker's `addExpectations`): Redis and Elastic counters
    /// grow; a counter on a deleted key re-creates a hash without `is_initialized`, which the
    /// function then deletes. Answers whether the work is alive (what 6.9.19+ workers act on).
    pub fn add_expectations(&mut self, id: &str, n: u64) -> bool {
        let Some(w) = self.elastic(id) else {
            return false;
        };
        w.expected += n;
        let r = self.redis.entry(id.to_string()).or_default();
        r.expected = Some(r.expected.unwrap_or(0) + n as i64);
        if !self.alive(id) {
            self.delete_key(id);
            return false;
        }
        true
    }

    /// `reportExpectation`: `redisUpdateWorkFigures` points `work:<connector>` at this work and
    /// counts one processed; a dead work's re-created hash is deleted; otherwise the work may
    /// complete (never deleting its key) and the error is kept (at most 100).
    pub fn report(&mut self, id: &str, error: Option<String>) {
        self.report_from(id, error.map(|e| (e, None)));
    }

    /// [`Works::report`] with the failed object as the error's `source` (pycti's
    /// `import_item_with_retries` sends `json.dumps(item)`).
    pub fn report_from(&mut self, id: &str, error: Option<(String, Option<String>)>) {
        if let Some(connector) = id.split('_').nth(1) {
            self.status.insert(connector.to_string(), id.to_string());
        }
        let r = self.redis.entry(id.to_string()).or_default();
        r.processed = Some(r.processed.unwrap_or(0) + 1);
        let r = r.clone();
        if !r.initialized {
            self.delete_key(id);
            return;
        }
        let processed = r.processed.unwrap_or(0);
        let complete = if self.rules.report_multipart_aware {
            (!r.multipart || r.is_processed) && processed >= r.expected.unwrap_or(0)
        } else {
            r.expected == Some(processed)
        };
        if let Some(w) = self.elastic(id) {
            w.processed = processed as u64;
            if let Some((e, source)) = error
                && w.errors.len() < MAX_WORK_ERRORS
            {
                if let Some(source) = source {
                    w.error_sources.insert(w.errors.len(), source);
                }
                w.errors.push(e);
            }
        }
        if complete {
            self.complete(id, processed as u64);
        }
    }

    /// `updateProcessedTime` (`toProcessed`), per release (see [`ToProcessed`]). `Err` when
    /// the Elastic work is gone (the real server only logs it).
    pub fn processed(&mut self, id: &str, message: &str, in_error: bool) -> Result<(), String> {
        let rules = self.rules;
        let Some(w) = self.elastic(id) else {
            return Err(format!("Work {id} not found"));
        };
        let elastic_expected = w.expected;
        w.closed = true;
        w.in_error |= in_error;
        w.processed_time = Some(iso(Utc::now()));
        if !message.is_empty() {
            if in_error {
                w.errors.push(message.to_string());
            } else {
                w.messages.push(message.to_string());
            }
        }
        let r = self.redis.get(id).cloned().unwrap_or_default();
        match rules.to_processed {
            ToProcessed::Classic => {
                let is_complete = r.processed.is_some() && r.processed == r.expected;
                if elastic_expected == 0 || is_complete {
                    self.complete(id, r.processed.unwrap_or(0) as u64);
                }
                if is_complete {
                    self.delete_key(id);
                }
            }
            ToProcessed::CompleteAtZero => {
                let total = r.processed.unwrap_or(0);
                let is_complete = total >= r.expected.unwrap_or(0);
                if r.multipart && !is_complete {
                    self.mark_processed(id);
                }
                if is_complete {
                    self.complete(id, total.max(1) as u64);
                    self.delete_key(id);
                }
            }
            ToProcessed::MarkOnly => {
                if r.multipart {
                    self.mark_processed(id);
                }
            }
        }
        Ok(())
    }

    fn mark_processed(&mut self, id: &str) {
        self.redis.entry(id.to_string()).or_default().is_processed = true;
    }

    /// `toReceived`.
    pub fn received(&mut self, id: &str, message: Option<&str>) -> Result<(), String> {
        let w = self
            .elastic(id)
            .ok_or_else(|| format!("Work {id} not found"))?;
        w.received_time = Some(iso(Utc::now()));
        w.status = "progress".into();
        if let Some(m) = message.filter(|m| !m.is_empty()) {
            w.messages.push(m.to_string());
        }
        Ok(())
    }

    /// `deleteWork`: the Elastic document and the Redis key.
    pub fn delete(&mut self, id: &str) -> Result<(), String> {
        let idx = self
            .list
            .iter()
            .position(|w| w.id == id)
            .ok_or_else(|| format!("Work {id} not found"))?;
        self.list.remove(idx);
        self.delete_key(id);
        Ok(())
    }

    /// One pass of the connector manager's `closeOldWorks` for one connector: once
    /// `work:<connector>` names a work, every `wait`/`progress` work of that connector with an
    /// older timestamp is completed, and up to 7.260507.0 its Redis key deleted. Returns the
    /// works whose key was deleted.
    pub fn close_old(&mut self, connector_id: &str) -> Vec<String> {
        let Some(status) = self.status.get(connector_id).cloned() else {
            return Vec::new();
        };
        let Some(newest) = status.split('_').nth(2).map(str::to_string) else {
            return Vec::new();
        };
        let old: Vec<String> = self
            .list
            .iter()
            .filter(|w| w.connector_id == connector_id)
            .filter(|w| w.status == "wait" || w.status == "progress")
            .filter(|w| w.timestamp < newest)
            .map(|w| w.id.clone())
            .collect();
        let mut killed = Vec::new();
        for id in old {
            if let Some(r) = self.redis.get(&id).cloned() {
                self.complete(&id, r.processed.unwrap_or(0) as u64);
            }
            if self.rules.close_old_deletes_key && self.redis.contains_key(&id) {
                self.delete_key(&id);
                killed.push(id);
            }
        }
        killed
    }

    /// Connectors that have a `work:<connector>` status.
    pub fn connectors_with_status(&self) -> Vec<String> {
        self.status.keys().cloned().collect()
    }
}
