//! The capabilities the platform's worker needs to import what we push. Each piece is
//! imported as the token's user (opencti-async-import.md §1.3): with `CONNECTORAPI` alone every
//! push answers `true` and every object then fails in the worker.

use serde_json::Value;

use super::connector::Platform;
use crate::bundle::Prepared;
use crate::error::{Error, Result};

/// Creating or updating knowledge: without it nothing is imported.
pub(crate) const KNOWLEDGE_UPDATE: &str = "KNOWLEDGE_KNUPDATE";
pub(crate) const SET_MARKINGS: &str = "SETTINGS_SETMARKINGS";
pub(crate) const SET_LABELS: &str = "SETTINGS_SETLABELS";

/// Exit 77 before any push when the worker could import nothing.
pub(crate) fn require_worker_import(platform: &Platform) -> Result<()> {
    if platform.has(KNOWLEDGE_UPDATE) {
        return Ok(());
    }
    Err(Error::Permission(format!(
        "the token's user '{}' lacks the {KNOWLEDGE_UPDATE} capability: OpenCTI would accept every push and then fail to import each object; give the user the \"Connector\" role (or a role with Knowledge > Create/Update) in OpenCTI",
        platform.user_name
    ))
    .into())
}

/// One settings capability, what it is for, and whether the user has it.
pub(crate) struct SettingsNeed {
    pub capability: &'static str,
    pub what: &'static str,
    pub held: bool,
}

/// The settings capabilities an import may need on this release.
pub(crate) fn settings_needs(platform: &Platform) -> Vec<SettingsNeed> {
    let need = |capability: &'static str, what: &'static str| SettingsNeed {
        capability,
        what,
        held: platform.has(capability),
    };
    vec![
        need(SET_MARKINGS, "marking-definitions"),
        need(platform.features.kill_chain_capability, "kill-chain phases"),
        need(SET_LABELS, "labels"),
    ]
}

/// What in a bundle needs a settings capability.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct BundleNeeds {
    pub markings: usize,
    pub kill_chain: usize,
    pub labels: usize,
}

impl BundleNeeds {
    pub(crate) fn of(prepared: &Prepared) -> BundleNeeds {
        let mut needs = BundleNeeds::default();
        for o in prepared.objects() {
            if o.kind == "marking-definition" {
                needs.markings += 1;
            }
            // Cheap filter first: most objects carry neither key.
            let maybe_kc = o.raw.contains("\"kill_chain_phases\"");
            let maybe_labels = o.raw.contains("\"labels\"");
            if !(maybe_kc || maybe_labels) {
                continue;
            }
            let Ok(v) = serde_json::from_str::<Value>(o.raw) else {
                continue;
            };
            let non_empty = |k: &str| {
                v.get(k)
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty())
            };
            needs.kill_chain += usize::from(non_empty("kill_chain_phases"));
            needs.labels += usize::from(non_empty("labels"));
        }
        needs
    }

    fn count(&self, what: &str) -> usize {
        match what {
            "marking-definitions" => self.markings,
            "kill-chain phases" => self.kill_chain,
            _ => self.labels,
        }
    }
}

/// Warns, before pushing, about each part of the bundle the user may not create.
pub(crate) fn warn_missing(platform: &Platform, prepared: &Prepared) {
    let needs = BundleNeeds::of(prepared);
    for n in settings_needs(platform).iter().filter(|n| !n.held) {
        let objects = needs.count(n.what);
        if objects == 0 {
            continue;
        }
        let effect = if n.what == "labels" {
            "OpenCTI leaves the labels out without an error"
        } else {
            "OpenCTI will fail to import them"
        };
        log::warn!(
            "{objects} object(s) carry {}, but the token's user '{}' lacks {}: {effect}; give the user that capability",
            n.what,
            platform.user_name,
            n.capability
        );
    }
}
