//! The platform behind `stixBundlePush`: queues, workers, works and the connector manager,
//! run asynchronously as OpenCTI runs them, so that tests see what the platform imports and
//! what it throws away (`shared/notes/opencti-async-import.md`).
//!
//! Real delays (retries 1–3 s, the connector manager every 60 s, import and split costs) are
//! multiplied by [`AsyncModel::time_scale`]. Workers are threads that stop with the platform.

pub mod access;
pub mod ledger;
pub mod queue;
pub mod rules;
mod worker;
pub mod works;

pub(crate) use worker::transient_message as worker_message;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use self::access::SharedDirectory;
use self::ledger::{DropReason, Dropped, Ledger};
use self::queue::{Message, Queues, push_queue};
use self::rules::{MANAGER_INTERVAL_SECS, Rules};
use self::works::{WorkRecord, Works};
use super::version::Version;

/// How the asynchronous platform behaves.
#[derive(Debug, Clone)]
pub struct AsyncModel {
    /// Concurrent worker threads (a worker process × its thread pool).
    pub workers: usize,
    /// Factor applied to every real delay (1.0 = real time).
    pub time_scale: f64,
    /// Real time to import one object.
    pub import_cost: Duration,
    /// Real time a split spends per object (decode, parse, order, publish).
    pub split_cost: Duration,
    /// Real interval of the connector manager; `None`: only [`Platform::run_connector_manager`].
    pub manager_interval: Option<Duration>,
    /// Uploads that arrive slowly: the message is published, and the push answered, only
    /// after this wall-clock delay (not scaled).
    pub slow_upload: Option<SlowUpload>,
    /// Seed of the retry jitter.
    pub seed: u64,
}

/// Pushes number `from_push` (1-based, counted over the platform's life) and later take
/// `delay` to upload.
#[derive(Debug, Clone, Copy)]
pub struct SlowUpload {
    pub from_push: usize,
    pub delay: Duration,
}

impl Default for AsyncModel {
    fn default() -> Self {
        AsyncModel {
            workers: 3,
            time_scale: 0.01,
            import_cost: Duration::from_millis(50),
            split_cost: Duration::from_millis(10),
            manager_interval: Some(Duration::from_secs_f64(MANAGER_INTERVAL_SECS)),
            slow_upload: None,
            seed: 0x5eed,
        }
    }
}

pub(crate) struct Core {
    pub queues: Queues,
    pub works: Works,
    pub ledger: Ledger,
    /// Ids of the objects in the database.
    pub db: HashSet<String>,
    paused: bool,
    /// Messages workers may still take before pausing (`pause_after`).
    budget: Option<usize>,
    rng: u64,
    pushes: usize,
    /// See [`Platform::drain_then_pause_at_push`].
    pause_at_push: Option<usize>,
    /// See [`Platform::late_to_processed`].
    late_to_processed: bool,
    /// Objects whose next import fails with this error code (see
    /// [`Platform::fail_next_import`]).
    pub transient: HashMap<String, String>,
    /// Objects whose one-object piece a worker holds now (taken, not yet acked), with how
    /// many workers hold one: their import is under way (see `worker::import`).
    pub held: HashMap<String, usize>,
}

impl Core {
    fn may_take(&self) -> bool {
        !self.paused && self.budget != Some(0)
    }

    /// Uniform in [lo, hi) (xorshift).
    pub fn jitter(&mut self, lo: f64, hi: f64) -> f64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        lo + (hi - lo) * ((x >> 11) as f64 / (1u64 << 53) as f64)
    }
}

pub(crate) struct Shared {
    pub model: AsyncModel,
    pub rules: Rules,
    /// The applicant's markings, groups and draft, and the platform's markings.
    pub directory: SharedDirectory,
    core: Mutex<Core>,
    pub cv: Condvar,
    pub stop: AtomicBool,
}

impl Shared {
    pub fn core(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// A real delay, scaled.
    pub fn scaled(&self, real: Duration) -> Duration {
        real.mul_f64(self.model.time_scale)
    }

    /// Sleeps, waking early when the platform stops.
    pub fn nap(&self, d: Duration) {
        let end = Instant::now() + d;
        while !self.stopped() {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(Duration::from_millis(10)));
        }
    }

    /// The next message a worker may take, waiting; `None` once stopped.
    pub fn next_message(&self) -> Option<Message> {
        let mut core = self.core();
        loop {
            if self.stopped() {
                return None;
            }
            if core.may_take()
                && let Some(m) = core.queues.take()
            {
                if let Some(b) = core.budget.as_mut() {
                    *b -= 1;
                }
                if let [one] = m.objects.as_slice()
                    && let Some(id) = one.get("id").and_then(Value::as_str)
                {
                    *core.held.entry(id.to_owned()).or_default() += 1;
                }
                return Some(m);
            }
            core = self
                .cv
                .wait_timeout(core, Duration::from_millis(20))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// The running platform. Stops its threads on drop.
pub struct Platform {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Platform {
    pub fn start(version: Version, model: AsyncModel, directory: SharedDirectory) -> Platform {
        let shared = Arc::new(Shared {
            rules: Rules::for_version(version),
            directory,
            core: Mutex::new(Core {
                queues: Queues::default(),
                works: Works::new(Rules::for_version(version)),
                ledger: Ledger::default(),
                db: HashSet::new(),
                paused: false,
                budget: None,
                rng: model.seed | 1,
                pushes: 0,
                pause_at_push: None,
                late_to_processed: false,
                transient: HashMap::new(),
                held: HashMap::new(),
            }),
            model,
            cv: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let mut threads = Vec::new();
        for i in 0..shared.model.workers.max(1) {
            let sh = shared.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("opencti-worker-{i}"))
                    .spawn(move || worker::run(&sh))
                    .expect("spawn worker"),
            );
        }
        if let Some(every) = shared.model.manager_interval {
            let sh = shared.clone();
            threads.push(
                std::thread::Builder::new()
                    .name("opencti-connector-manager".into())
                    .spawn(move || {
                        let every = sh.scaled(every).max(Duration::from_millis(1));
                        while !sh.stopped() {
                            sh.nap(every);
                            if !sh.stopped() {
                                close_old_works(&sh);
                            }
                        }
                    })
                    .expect("spawn manager"),
            );
        }
        Platform {
            shared,
            threads: Mutex::new(threads),
        }
    }

    pub fn rules(&self) -> Rules {
        self.shared.rules
    }

    /// A connector as stored: workers consume `push_<id>` for exactly this string.
    pub fn store_connector(&self, id: &str) {
        self.shared.core().queues.consume(id);
    }

    /// Waits as long as this push's upload takes (see [`SlowUpload`]).
    pub fn upload(&self) {
        let (n, pause_at) = {
            let mut core = self.shared.core();
            core.pushes += 1;
            (core.pushes, core.pause_at_push)
        };
        if let Some(s) = self.shared.model.slow_upload
            && n >= s.from_push
        {
            self.shared.nap(s.delay);
        }
        if pause_at == Some(n) {
            self.wait_drained(Duration::from_secs(20));
            self.pause();
        }
    }

    /// `sendStixBundle` step 4: one message to the queue named from the id string sent.
    pub fn publish(
        &self,
        connector_id_sent: &str,
        work_id: &str,
        objects: Vec<Value>,
        applicant: Vec<String>,
        bytes: usize,
    ) {
        let msg = Message {
            queue: push_queue(connector_id_sent),
            work_id: Some(work_id.to_string()),
            objects,
            applicant: Arc::new(applicant),
            // base64 (× 4/3) plus the envelope.
            bytes: (bytes as u64).div_ceil(3) * 4 + 160,
        };
        let mut core = self.shared.core();
        let ids: Vec<String> = msg.ids().collect();
        core.ledger.pushed(ids);
        core.queues.publish(msg);
        self.shared.cv.notify_all();
    }

    /// `createWork`; a work a push makes for itself gets one expectation for a one-object
    /// bundle (`sendStixBundle`).
    pub fn create_work(&self, connector_id: &str, name: &str, multipart: bool) -> WorkRecord {
        let mut core = self.shared.core();
        let id = core.works.create(connector_id, name, multipart, false);
        core.works.get(&id).cloned().expect("work just created")
    }

    pub fn create_push_work(&self, connector_id: &str, name: &str, objects: usize) -> String {
        let mut core = self.shared.core();
        let id = core.works.create(connector_id, name, false, true);
        if objects == 1 {
            core.works.add_expectations(&id, 1);
        }
        id
    }

    pub fn work(&self, id: &str) -> Option<WorkRecord> {
        self.shared.core().works.get(id).cloned()
    }

    pub fn works(&self) -> Vec<WorkRecord> {
        self.shared.core().works.list.clone()
    }

    /// Whether a work's Redis key is alive.
    pub fn work_alive(&self, id: &str) -> bool {
        self.shared.core().works.alive(id)
    }

    /// A client's `toProcessed` reaches the platform only once the queues have drained (the
    /// workers were faster than the client's last call).
    pub fn late_to_processed(&self) {
        self.shared.core().late_to_processed = true;
    }

    /// `workEdit(id){…}` sub-mutations sent by a client.
    pub fn work_edit(&self, id: &str, op: &str, args: &Value) -> Result<(), String> {
        if op == "toProcessed" && self.shared.core().late_to_processed {
            self.wait_drained(Duration::from_secs(20));
        }
        let mut core = self.shared.core();
        let works = &mut core.works;
        let found = works.get(id).is_some();
        let r = match op {
            "toProcessed" => works.processed(
                id,
                args.get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                args.get("inError")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            ),
            "toReceived" => works.received(id, args.get("message").and_then(Value::as_str)),
            "reportExpectation" if found => {
                let e = args.pointer("/error/error").and_then(Value::as_str);
                works.report(id, e.map(str::to_string));
                Ok(())
            }
            "addExpectations" if found => {
                let n = args
                    .get("expectations")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                works.add_expectations(id, n);
                Ok(())
            }
            "delete" => works.delete(id),
            _ if found => Ok(()),
            _ => Err(format!("Work {id} not found")),
        };
        self.shared.cv.notify_all();
        r
    }

    /// `connector_queue_details` of a stored connector, from its queue.
    pub fn queue_details(&self, connector_id: &str) -> (u64, u64) {
        self.shared.core().queues.details(connector_id)
    }

    /// `resetStateConnector` → `purgeConnectorQueues`.
    pub fn purge(&self, connector_id: &str) {
        let mut core = self.shared.core();
        for m in core.queues.purge(connector_id) {
            for id in m.ids() {
                core.ledger
                    .dropped(&id, m.work_id.as_deref(), DropReason::QueuePurged);
            }
        }
    }

    /// When push number `n` (1-based, over the platform's life) arrives, wait until the queues
    /// have drained, then pause the workers before publishing it: every earlier chunk is
    /// imported and this one stays unsplit until [`Platform::resume`] (a last upload slower
    /// than the import of the chunks before it).
    pub fn drain_then_pause_at_push(&self, n: usize) {
        self.shared.core().pause_at_push = Some(n);
    }

    /// The next import of object `id` fails with `code` (`LOCK_ERROR`: a lock held through
    /// all of the worker's retries; `MISSING_REFERENCE_ERROR`: a reference still queued behind
    /// it). The failure is reported on the work with the object as its source; a later push
    /// imports it.
    pub fn fail_next_import(&self, id: &str, code: &str) {
        self.shared
            .core()
            .transient
            .insert(id.to_owned(), code.to_owned());
    }

    /// Messages workers hold right now (taken, not yet acked).
    pub fn in_flight(&self) -> usize {
        self.shared.core().queues.in_flight_total()
    }

    /// Pushes received so far.
    pub fn push_count(&self) -> usize {
        self.shared.core().pushes
    }

    /// Workers stop taking messages until [`Platform::resume`].
    pub fn pause(&self) {
        self.shared.core().paused = true;
    }

    pub fn resume(&self) {
        let mut core = self.shared.core();
        core.paused = false;
        core.budget = None;
        self.shared.cv.notify_all();
    }

    /// Workers take `n` more messages, then pause.
    pub fn pause_after(&self, n: usize) {
        let mut core = self.shared.core();
        core.paused = false;
        core.budget = Some(n);
        self.shared.cv.notify_all();
    }

    /// One pass of the connector manager now.
    pub fn run_connector_manager(&self) {
        close_old_works(&self.shared);
    }

    /// Waits until no consumed queue holds a ready or unacked message. False at the deadline.
    pub fn wait_drained(&self, within: Duration) -> bool {
        let end = Instant::now() + within;
        let mut core = self.shared.core();
        loop {
            if core.queues.drained() {
                return true;
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            core = self
                .shared
                .cv
                .wait_timeout(core, left.min(Duration::from_millis(20)))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Waits until the workers hold no message (paused, or idle). False at the deadline.
    pub fn wait_idle(&self, within: Duration) -> bool {
        let end = Instant::now() + within;
        loop {
            {
                let core = self.shared.core();
                if !core.may_take() && core.queues.in_flight_total() == 0 {
                    return true;
                }
                if core.queues.drained() {
                    return true;
                }
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn imported_ids(&self) -> BTreeSet<String> {
        self.shared.core().ledger.imported_ids()
    }

    /// Loses an imported object, as a purge or an older backup would (tests of `verify`).
    pub fn forget(&self, id: &str) {
        let mut core = self.shared.core();
        core.db.remove(id);
        core.ledger.forget(id);
    }

    pub fn is_imported(&self, id: &str) -> bool {
        self.shared.core().ledger.is_imported(id)
    }

    pub fn pushed_ids(&self) -> Vec<String> {
        self.shared.core().ledger.pushed_ids()
    }

    /// Every drop so far, including what sits in queues no worker reads.
    pub fn dropped(&self) -> Vec<Dropped> {
        let core = self.shared.core();
        let mut out = core.ledger.drops();
        for m in core.queues.orphans() {
            for id in m.ids() {
                out.push(Dropped {
                    id,
                    work_id: m.work_id.clone(),
                    reason: DropReason::OrphanQueue {
                        queue: m.queue.clone(),
                    },
                });
            }
        }
        out
    }

    /// Pushed ids that were never imported.
    pub fn missing(&self) -> BTreeSet<String> {
        let core = self.shared.core();
        let imported = core.ledger.imported_ids();
        core.ledger
            .pushed_ids()
            .into_iter()
            .filter(|i| !imported.contains(i))
            .collect()
    }

    /// Attempts to import this object refused so far for a missing reference.
    pub fn retries(&self, id: &str) -> u32 {
        self.shared.core().ledger.retries_of(id)
    }

    pub fn labels_left_out(&self) -> Vec<String> {
        self.shared.core().ledger.labels_left_out_ids()
    }

    /// One line per kind of drop, for assertion messages.
    pub fn summary(&self) -> String {
        let dropped = self.dropped();
        let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
        for d in &dropped {
            let k = format!("{:?}", d.reason);
            *kinds.entry(k.chars().take(120).collect()).or_default() += 1;
        }
        format!(
            "pushed {} objects, imported {} distinct, missing {}, dropped {}: {:?}",
            self.pushed_ids().len(),
            self.imported_ids().len(),
            self.missing().len(),
            dropped.len(),
            kinds
        )
    }

    /// Stops the workers and the manager (also done on drop).
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.cv.notify_all();
        let threads: Vec<JoinHandle<()>> = self
            .threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect();
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The connector manager's pass (`G/manager/connectorManager.js`, `closeOldWorks`, for every
/// connector).
fn close_old_works(sh: &Shared) {
    let mut core = sh.core();
    for c in core.works.connectors_with_status() {
        core.works.close_old(&c);
    }
    sh.cv.notify_all();
}
