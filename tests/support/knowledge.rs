//! The OpenCTI stand-in's knowledge base, for the look-ups `verify` makes: `stixCoreObjects`,
//! `stixCoreRelationships` and `stixSightingRelationships` with a `FilterGroup`, paged with
//! `first`/`after`.
//!
//! As the platform does, an object gets an `internal_id`, and a `standard_id` OpenCTI derives
//! from its contributing properties for most types, relationships included; the id it came
//! with is then kept in `x_opencti_stix_ids` (OpenCTI `src/schema/identifier.js`,
//! `generateStandardId`; the stand-in hashes the properties instead of OpenCTI's uuidv5). Two
//! objects whose properties derive one `standard_id` are one node holding both ids. The filter
//! key `ids` matches `internal_id`, `standard_id` and `x_opencti_stix_ids`
//! (`adaptFilterToIdsFilterKey`); a page holds at most 5,000 nodes (`ES_MAX_PAGINATION`),
//! 500 when `first` is not given.
//!
//! Tests can lose objects (a purge, a restore from an older backup) with [`Knowledge::lose`].

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use serde_json::{Value, json};

pub const MAX_PAGE: usize = 5000;
pub const DEFAULT_PAGE: usize = 500;

/// Which root field lists a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Objects,
    Relationships,
    Sightings,
}

impl Family {
    pub fn of_field(field: &str) -> Option<Family> {
        match field {
            "stixCoreObjects" => Some(Family::Objects),
            "stixCoreRelationships" => Some(Family::Relationships),
            "stixSightingRelationships" => Some(Family::Sightings),
            _ => None,
        }
    }

    fn of_type(kind: &str) -> Option<Family> {
        match kind {
            "relationship" => Some(Family::Relationships),
            "sighting" => Some(Family::Sightings),
            "marking-definition" | "extension-definition" | "language-content" | "bundle" => None,
            _ => Some(Family::Objects),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Node {
    pub internal_id: String,
    pub standard_id: String,
    pub entity_type: String,
    pub stix_ids: Vec<String>,
    family: Family,
}

impl Node {
    fn ids(&self) -> impl Iterator<Item = &str> {
        [self.internal_id.as_str(), self.standard_id.as_str()]
            .into_iter()
            .chain(self.stix_ids.iter().map(String::as_str))
    }

    fn json(&self) -> Value {
        json!({
            "__typename": typename(&self.entity_type),
            "id": self.internal_id,
            "standard_id": self.standard_id,
            "entity_type": self.entity_type,
            "x_opencti_stix_ids": self.stix_ids,
        })
    }
}

/// The types whose `standard_id` OpenCTI derives, with their contributing properties.
fn contributing(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "attack-pattern" => &["name", "x_mitre_id"],
        "intrusion-set" | "campaign" | "threat-actor" | "malware" | "tool" => &["name"],
        "identity" => &["name", "identity_class"],
        "location" => &["name", "x_opencti_location_type"],
        "incident" => &["name", "created"],
        "relationship" => &[
            "relationship_type",
            "source_ref",
            "target_ref",
            "start_time",
            "stop_time",
        ],
        "sighting" => &[
            "sighting_of_ref",
            "where_sighted_refs",
            "first_seen",
            "last_seen",
        ],
        _ => return None,
    })
}

fn derived_id(kind: &str, obj: &Value) -> Option<String> {
    let keys = contributing(kind)?;
    // Nothing to derive from (an object known by its id only): the id stays.
    if keys.iter().all(|k| obj.get(*k).is_none()) {
        return None;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    kind.hash(&mut h);
    for k in keys {
        // OpenCTI normalises names (case, spaces) before deriving.
        let v = match obj.get(*k) {
            Some(Value::String(s)) if *k == "name" => s.trim().to_lowercase(),
            Some(v) => v.to_string(),
            None => String::new(),
        };
        (k, v).hash(&mut h);
    }
    let a = h.finish();
    "second half".hash(&mut h);
    let b = h.finish();
    Some(format!(
        "{kind}--{:08x}-{:04x}-5{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    ))
}

fn typename(entity_type: &str) -> String {
    entity_type
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

#[derive(Debug, Default)]
pub struct Knowledge {
    /// In creation order (the order pages list them in); `None` once lost.
    nodes: Vec<Option<Node>>,
    /// Every id a node answers to → its position.
    index: HashMap<String, usize>,
    /// A smaller page cap than the platform's, so that tests see look-ups follow pages
    /// (0: [`MAX_PAGE`]).
    pub max_page: usize,
}

impl Knowledge {
    /// Creates or updates (upsert) the node of one STIX object.
    pub fn import(&mut self, obj: &Value) {
        let Some(id) = obj.get("id").and_then(Value::as_str) else {
            return;
        };
        let kind = obj
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| id.split("--").next().unwrap_or_default().to_owned());
        let Some(family) = Family::of_type(&kind) else {
            return;
        };
        let standard = derived_id(&kind, obj).unwrap_or_else(|| id.to_owned());
        let at = self
            .index
            .get(id)
            .or_else(|| self.index.get(&standard))
            .copied();
        let at = match at {
            Some(at) => at,
            None => {
                self.nodes.push(Some(Node {
                    internal_id: uuid::Uuid::new_v4().to_string(),
                    standard_id: standard.clone(),
                    entity_type: kind,
                    stix_ids: Vec::new(),
                    family,
                }));
                self.nodes.len() - 1
            }
        };
        let Some(node) = self.nodes[at].as_mut() else {
            return;
        };
        if id != node.standard_id && !node.stix_ids.iter().any(|s| s == id) {
            node.stix_ids.push(id.to_owned());
        }
        let ids: Vec<String> = node.ids().map(str::to_owned).collect();
        for i in ids {
            self.index.insert(i, at);
        }
    }

    /// Loses the node that answers to `id` (a purge, a deleted work, an older backup); false
    /// when there was none.
    pub fn lose(&mut self, id: &str) -> bool {
        let Some(at) = self.index.get(id).copied() else {
            return false;
        };
        let Some(node) = self.nodes[at].take() else {
            return false;
        };
        for i in node.ids() {
            self.index.remove(i);
        }
        true
    }

    /// The node that answers to `id`, if any.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.index.get(id).and_then(|&at| self.nodes[at].as_ref())
    }

    pub fn len(&self) -> usize {
        self.nodes.iter().flatten().count()
    }

    /// One page of a look-up: the connection as the platform answers it. `visible` hides
    /// what a worker has not imported yet (the asynchronous model).
    pub fn connection(
        &self,
        family: Family,
        filters: &Value,
        first: &Value,
        after: &Value,
        visible: &dyn Fn(&Node) -> bool,
    ) -> Result<Value, String> {
        let first = match first.as_i64() {
            None => DEFAULT_PAGE,
            Some(n) if n < 0 => return Err(format!("first must be positive, got {n}")),
            Some(n) => (n as usize).min(if self.max_page > 0 {
                self.max_page
            } else {
                MAX_PAGE
            }),
        };
        let start = match after.as_str() {
            None => 0,
            Some(c) => decode_cursor(c).ok_or_else(|| format!("invalid cursor {c:?}"))? + 1,
        };
        let mut matched = Vec::new();
        // The plain `ids` look-up goes through the index (what a search engine's terms query
        // does), anything else scans.
        let candidates: Box<dyn Iterator<Item = usize>> = match plain_ids(filters) {
            Some(ids) => {
                let mut at: Vec<usize> = ids
                    .iter()
                    .filter_map(|i| self.index.get(*i).copied())
                    .collect();
                at.sort_unstable();
                at.dedup();
                Box::new(at.into_iter())
            }
            None => Box::new(0..self.nodes.len()),
        };
        for at in candidates {
            let Some(node) = &self.nodes[at] else {
                continue;
            };
            if node.family == family && visible(node) && matches_group(node, filters)? {
                matched.push((at, node));
            }
        }
        let total = matched.len();
        let page: Vec<&(usize, &Node)> = matched.iter().filter(|(at, _)| *at >= start).collect();
        let has_next = page.len() > first;
        let page = &page[..page.len().min(first)];
        let edges: Vec<Value> = page
            .iter()
            .map(|(at, n)| json!({"cursor": cursor(*at), "node": n.json()}))
            .collect();
        let end = page.last().map(|(at, _)| cursor(*at)).unwrap_or_default();
        let begin = page.first().map(|(at, _)| cursor(*at)).unwrap_or_default();
        Ok(json!({
            "pageInfo": {"startCursor": begin, "endCursor": end, "hasNextPage": has_next,
                "hasPreviousPage": start > 0, "globalCount": total},
            "edges": edges,
        }))
    }
}

/// The ids of a group that is exactly one `ids` filter, `eq`, any value.
fn plain_ids(group: &Value) -> Option<Vec<&str>> {
    let filters = group.get("filters")?.as_array()?;
    let [f] = filters.as_slice() else { return None };
    let no_groups = group["filterGroups"]
        .as_array()
        .is_none_or(|g| g.is_empty());
    let eq = f
        .get("operator")
        .and_then(Value::as_str)
        .is_none_or(|o| o == "eq");
    let any = f.get("mode").and_then(Value::as_str) != Some("and");
    if !(no_groups && eq && any && f["key"] == json!(["ids"])) {
        return None;
    }
    Some(
        f["values"]
            .as_array()?
            .iter()
            .filter_map(Value::as_str)
            .collect(),
    )
}

fn cursor(at: usize) -> String {
    format!("WyJ{at:x}")
}

fn decode_cursor(c: &str) -> Option<usize> {
    usize::from_str_radix(c.strip_prefix("WyJ")?, 16).ok()
}

/// A `FilterGroup` (null: everything). Only the key `ids` is known to the stand-in; another
/// key is refused, as the platform refuses a key no type has.
fn matches_group(node: &Node, group: &Value) -> Result<bool, String> {
    if group.is_null() {
        return Ok(true);
    }
    let and = group.get("mode").and_then(Value::as_str) != Some("or");
    let mut results = Vec::new();
    for f in group["filters"].as_array().into_iter().flatten() {
        results.push(matches_filter(node, f)?);
    }
    for g in group["filterGroups"].as_array().into_iter().flatten() {
        results.push(matches_group(node, g)?);
    }
    Ok(if and {
        results.iter().all(|r| *r)
    } else {
        results.iter().any(|r| *r)
    })
}

fn matches_filter(node: &Node, f: &Value) -> Result<bool, String> {
    let keys: Vec<&str> = f["key"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if keys != ["ids"] {
        return Err(format!(
            "incorrect filter keys not existing in any schema definition: {keys:?} (the stand-in knows ids)"
        ));
    }
    let values: Vec<&str> = f["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let hit = |v: &str| node.ids().any(|i| i == v);
    let all = f.get("mode").and_then(Value::as_str) == Some("and");
    let matched = if all {
        values.iter().all(|v| hit(v))
    } else {
        values.iter().any(|v| hit(v))
    };
    match f.get("operator").and_then(Value::as_str).unwrap_or("eq") {
        "eq" => Ok(matched),
        "not_eq" => Ok(!matched),
        other => Err(format!("operator {other} is not supported on ids")),
    }
}
