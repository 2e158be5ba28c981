//! What became of every pushed object: imported, or dropped and why.

use std::collections::{BTreeMap, BTreeSet};

/// Why the platform threw an object away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropReason {
    /// The work's Redis key was gone (`when`: `take`, `split` or `import`).
    WorkNotAlive { when: &'static str },
    /// A relationship's or sighting's end was still missing after every retry.
    MissingReference { missing: String },
    /// The splitter raised on a relationship without `source_ref`/`target_ref`: the whole
    /// message was discarded.
    MalformedRelationship { relationship: String },
    /// The applicant user lacked a capability the creation needs.
    Forbidden { capability: String },
    /// A marking the platform has but the applicant may not use: refused on every try
    /// (`inputResolveRefs`, "User trying to create the data has missing markings").
    MarkingNotAllowed { marking: String },
    /// Imported into the applicant's draft: the knowledge base did not get it.
    InDraft { draft: String },
    /// A failure a later push cures (a lock held past the worker's retries, a reference
    /// still queued), reported on the work with the object as its source.
    Transient { code: String },
    /// `resetStateConnector` purged the queue.
    QueuePurged,
    /// Sitting in a queue no worker reads (named from an id no stored connector has).
    OrphanQueue { queue: String },
}

/// One dropped object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub id: String,
    pub work_id: Option<String>,
    pub reason: DropReason,
}

/// The record of every object that went through the platform.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Object id → times imported (duplicates are upserts).
    imported: BTreeMap<String, usize>,
    dropped: Vec<Dropped>,
    /// Every object id pushed, in push order, duplicates included.
    pushed: Vec<String>,
    /// Objects imported without the labels they carried (no `SETTINGS_SETLABELS`).
    labels_left_out: Vec<String>,
    /// Object id → attempts refused for a missing reference so far.
    retries: BTreeMap<String, u32>,
}

impl Ledger {
    pub fn pushed(&mut self, ids: impl IntoIterator<Item = String>) {
        self.pushed.extend(ids);
    }

    pub fn imported(&mut self, id: &str) {
        *self.imported.entry(id.to_string()).or_default() += 1;
    }

    pub fn dropped(&mut self, id: &str, work_id: Option<&str>, reason: DropReason) {
        self.dropped.push(Dropped {
            id: id.to_string(),
            work_id: work_id.map(str::to_string),
            reason,
        });
    }

    pub fn retried(&mut self, id: &str) {
        *self.retries.entry(id.to_string()).or_default() += 1;
    }

    pub fn retries_of(&self, id: &str) -> u32 {
        self.retries.get(id).copied().unwrap_or(0)
    }

    pub fn labels_left_out(&mut self, id: &str) {
        self.labels_left_out.push(id.to_string());
    }

    /// The object is no longer in the database (a test's platform-side loss).
    pub fn forget(&mut self, id: &str) {
        self.imported.remove(id);
    }

    pub fn is_imported(&self, id: &str) -> bool {
        self.imported.contains_key(id)
    }

    pub fn imported_ids(&self) -> BTreeSet<String> {
        self.imported.keys().cloned().collect()
    }

    pub fn pushed_ids(&self) -> Vec<String> {
        self.pushed.clone()
    }

    pub fn drops(&self) -> Vec<Dropped> {
        self.dropped.clone()
    }

    pub fn labels_left_out_ids(&self) -> Vec<String> {
        self.labels_left_out.clone()
    }
}
