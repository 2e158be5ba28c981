//! The capabilities the platform's worker needs to import what we push. Each piece is
//! imported as the token's user (opencti-async-import.md §1.3): with `CONNECTORAPI` alone every
//! push answers `true` and every object then fails in the worker.

use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::connector::Platform;
#[cfg(test)]
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
    #[cfg(test)]
    pub(crate) fn of(prepared: &Prepared) -> BundleNeeds {
        let mut scan = NeedsScan::default();
        for o in prepared.objects() {
            scan.observe(o.kind, o.raw);
        }
        scan.needs
    }

    fn count(&self, what: &str) -> usize {
        match what {
            "marking-definitions" => self.markings,
            "kill-chain phases" => self.kill_chain,
            _ => self.labels,
        }
    }
}

/// What in a bundle needs a settings capability, gathered object by object.
pub(crate) struct NeedsScan {
    kill_chain_key: memchr::memmem::Finder<'static>,
    labels_key: memchr::memmem::Finder<'static>,
    pub(crate) needs: BundleNeeds,
}

impl Default for NeedsScan {
    fn default() -> Self {
        NeedsScan {
            kill_chain_key: memchr::memmem::Finder::new(b"\"kill_chain_phases\""),
            labels_key: memchr::memmem::Finder::new(b"\"labels\""),
            needs: BundleNeeds::default(),
        }
    }
}

impl NeedsScan {
    pub(crate) fn observe(&mut self, kind: &str, raw: &str) {
        // One SIMD substring search per key (memchr's memmem, built once) picks the
        // candidates; only those are read, into the two keys alone (the rest is skipped without
        // building a `Value`), so a key inside a nested object or a string never counts.
        if kind == "marking-definition" {
            self.needs.markings += 1;
        }
        let bytes = raw.as_bytes();
        if self.kill_chain_key.find(bytes).is_none() && self.labels_key.find(bytes).is_none() {
            return;
        }
        let Ok(keys) = serde_json::from_str::<NeedKeys>(raw) else {
            return;
        };
        self.needs.kill_chain += usize::from(keys.kill_chain_phases.0);
        self.needs.labels += usize::from(keys.labels.0);
    }
}

/// The two top-level keys [`NeedsScan::observe`] reads; every other key is skipped unparsed.
#[derive(serde::Deserialize)]
struct NeedKeys {
    #[serde(default)]
    kill_chain_phases: NonEmptyArray,
    #[serde(default)]
    labels: NonEmptyArray,
}

/// Whether a value is an array with at least one element; any other value is `false`.
#[derive(Default)]
struct NonEmptyArray(bool);

impl<'de> serde::Deserialize<'de> for NonEmptyArray {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(NonEmptyVisitor)
    }
}

struct NonEmptyVisitor;

impl<'de> Visitor<'de> for NonEmptyVisitor {
    type Value = NonEmptyArray;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let first = seq.next_element::<IgnoredAny>()?.is_some();
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(NonEmptyArray(first))
    }
    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(NonEmptyArray(false))
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<Self::Value, E> {
        Ok(NonEmptyArray(false))
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<Self::Value, E> {
        Ok(NonEmptyArray(false))
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<Self::Value, E> {
        Ok(NonEmptyArray(false))
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<Self::Value, E> {
        Ok(NonEmptyArray(false))
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<Self::Value, E> {
        Ok(NonEmptyArray(false))
    }
    fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
        Ok(NonEmptyArray(false))
    }
}

/// Warns, before pushing, about each part of the bundle the user may not create.
/// Whether the token's user lacks a settings capability an import may need.
pub(crate) fn lacks_a_setting(platform: &Platform) -> bool {
    settings_needs(platform).iter().any(|n| !n.held)
}

pub(crate) fn warn_missing(platform: &Platform, needs: &BundleNeeds) {
    let missing: Vec<SettingsNeed> = settings_needs(platform)
        .into_iter()
        .filter(|n| !n.held)
        .collect();
    // The usual case: the "Connector" role holds all three.
    if missing.is_empty() {
        return;
    }
    for n in &missing {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn needs(objects: &[&str]) -> BundleNeeds {
        let input = format!(
            r#"{{"type":"bundle","id":"bundle--0b4b5b1e-6a8f-4a3c-9b3c-1f2e3d4c5b6a","objects":[{}]}}"#,
            objects.join(",")
        );
        BundleNeeds::of(&crate::bundle::prepare(
            crate::bundle::parse(input.as_bytes()).unwrap(),
        ))
    }

    const ID: &str = "00000000-0000-4000-8000-0000000000";

    fn obj(n: u8, rest: &str) -> String {
        format!(
            r#"{{"type":"incident","spec_version":"2.1","id":"incident--{ID}{n:02}","name":"x"{rest}}}"#
        )
    }

    #[test]
    fn top_level_non_empty_arrays_count() {
        let o = [
            obj(
                1,
                r#","labels":["a"],"kill_chain_phases":[{"kill_chain_name":"k","phase_name":"p"}]"#,
            ),
            obj(2, r#","labels":[]"#),
            obj(3, r#","labels" : [ "b" ]"#),
            obj(4, ""),
        ];
        let refs: Vec<&str> = o.iter().map(String::as_str).collect();
        assert_eq!(
            needs(&refs),
            BundleNeeds {
                markings: 0,
                kill_chain: 1,
                labels: 2
            }
        );
    }

    #[test]
    fn keys_in_strings_or_nested_objects_or_of_other_types_do_not_count() {
        let o = [
            obj(
                1,
                r#","description":"see \"labels\":[1] and \"kill_chain_phases\":[1] here""#,
            ),
            obj(2, r#","x_nested":{"labels":["a"],"kill_chain_phases":[1]}"#),
            obj(3, r#","labels":"a","kill_chain_phases":{"a":[1]}"#),
            obj(4, r#","labels":null,"kill_chain_phases":7"#),
        ];
        let refs: Vec<&str> = o.iter().map(String::as_str).collect();
        assert_eq!(needs(&refs), BundleNeeds::default());
    }
}
