//! RabbitMQ as the platform uses it: one FIFO `push_<connectorId>` queue per id string sent
//! (`G/database/rabbitmq.js`, `pushRouting(connectorId)`; `sendStixBundle` passes the argument
//! as given), consumed only for connectors as stored (the worker lists `connector.internal_id`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use serde_json::Value;

/// One queued message: `{type: "bundle", applicant_id, content, work_id, update: true}`.
#[derive(Debug, Clone)]
pub struct Message {
    pub queue: String,
    pub work_id: Option<String>,
    pub objects: Vec<Value>,
    /// The applicant's capabilities (the worker imports as that user).
    pub applicant: Arc<Vec<String>>,
    /// Size of the message body (base64 content and envelope).
    pub bytes: u64,
}

impl Message {
    pub fn ids(&self) -> impl Iterator<Item = String> + '_ {
        self.objects.iter().map(|o| {
            o.get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        })
    }
}

/// The queue name for the id string a push carried.
pub fn push_queue(connector_id: &str) -> String {
    format!("push_{connector_id}")
}

#[derive(Debug, Default)]
pub struct Queues {
    ready: BTreeMap<String, VecDeque<Message>>,
    in_flight: BTreeMap<String, usize>,
    /// Queues some worker consumes.
    consumed: BTreeSet<String>,
    next: usize,
}

impl Queues {
    /// A stored connector: its queue is declared and consumed.
    pub fn consume(&mut self, connector_id: &str) {
        let q = push_queue(connector_id);
        self.ready.entry(q.clone()).or_default();
        self.consumed.insert(q);
    }

    pub fn publish(&mut self, msg: Message) {
        self.ready
            .entry(msg.queue.clone())
            .or_default()
            .push_back(msg);
    }

    /// The head of the next consumed queue that has one (round robin over queues).
    pub fn take(&mut self) -> Option<Message> {
        let names: Vec<String> = self
            .consumed
            .iter()
            .filter(|q| self.ready.get(*q).is_some_and(|d| !d.is_empty()))
            .cloned()
            .collect();
        if names.is_empty() {
            return None;
        }
        let name = &names[self.next % names.len()];
        self.next = self.next.wrapping_add(1);
        let msg = self.ready.get_mut(name)?.pop_front()?;
        *self.in_flight.entry(name.clone()).or_default() += 1;
        Some(msg)
    }

    /// The worker acked (or nacked) a message of this queue.
    pub fn done(&mut self, queue: &str) {
        if let Some(n) = self.in_flight.get_mut(queue) {
            *n = n.saturating_sub(1);
        }
    }

    /// `purgeConnectorQueues`: ready messages go, unacked ones stay with their worker.
    pub fn purge(&mut self, connector_id: &str) -> Vec<Message> {
        self.ready
            .get_mut(&push_queue(connector_id))
            .map(|d| d.drain(..).collect())
            .unwrap_or_default()
    }

    /// `messages_number` and `messages_size` as the management API reports them: ready and
    /// unacknowledged messages of the stored connector's queue.
    pub fn details(&self, connector_id: &str) -> (u64, u64) {
        let q = push_queue(connector_id);
        let ready = self.ready.get(&q);
        let n = ready.map_or(0, VecDeque::len) + self.in_flight.get(&q).copied().unwrap_or(0);
        let bytes: u64 = ready.map_or(0, |d| d.iter().map(|m| m.bytes).sum());
        (n as u64, bytes)
    }

    /// Nothing ready or in flight in any consumed queue.
    pub fn drained(&self) -> bool {
        self.consumed.iter().all(|q| {
            self.ready.get(q).is_none_or(VecDeque::is_empty)
                && self.in_flight.get(q).copied().unwrap_or(0) == 0
        })
    }

    /// Messages sitting in queues no worker reads.
    pub fn orphans(&self) -> Vec<&Message> {
        self.ready
            .iter()
            .filter(|(q, _)| !self.consumed.contains(*q))
            .flat_map(|(_, d)| d.iter())
            .collect()
    }
}

impl Queues {
    /// Messages held by workers, over every queue.
    pub fn in_flight_total(&self) -> usize {
        self.in_flight.values().sum()
    }
}
