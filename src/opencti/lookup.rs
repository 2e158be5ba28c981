//! Which objects OpenCTI holds: batched look-ups by id, for `verify`.
//!
//! One request asks for up to [`BATCH`] ids with the filter key `ids`, which the platform
//! expands to `internal_id`, `standard_id` and `x_opencti_stix_ids`
//! (opencti-graphql `src/utils/filtering/filtering-resolution.ts`,
//! `adaptFilterToIdsFilterKey`, 6.x). OpenCTI derives its own `standard_id` for most types,
//! relationships included, and keeps the id an object came with in `x_opencti_stix_ids`: an
//! answer is matched back through both. A page holds at most 5,000 nodes
//! (`ES_MAX_PAGINATION`, `src/database/engine.js`); the look-up follows `pageInfo` anyway, since
//! several of our ids can name one node and one id could match several.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::Graphql;
use super::connector::Platform;
use super::documents::{self, Document};
use crate::error::{Error, Result};

/// Ids per request, and nodes per page: well under the platform's 5,000.
pub(crate) const BATCH: usize = 500;

/// Pages one batch may take before the answer is taken for a loop.
const MAX_PAGES: usize = 64;

/// The capability the three queries need (`@auth(for: [KNOWLEDGE])`; a substring match, so
/// any `KNOWLEDGE_*` capability carries it).
pub(crate) const KNOWLEDGE: &str = "KNOWLEDGE";

/// Which query knows a STIX type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Family {
    Objects,
    Relationships,
    Sightings,
}

impl Family {
    /// `None` for what OpenCTI keeps outside its knowledge (markings, extension definitions,
    /// language contents): not looked up.
    pub(crate) fn of(kind: &str) -> Option<Family> {
        match kind {
            "relationship" => Some(Family::Relationships),
            "sighting" => Some(Family::Sightings),
            "marking-definition" | "extension-definition" | "language-content" => None,
            _ => Some(Family::Objects),
        }
    }

    fn document(self) -> (&'static Document, &'static str) {
        match self {
            Family::Objects => (&documents::LOOKUP_OBJECTS, "stixCoreObjects"),
            Family::Relationships => (&documents::LOOKUP_RELATIONSHIPS, "stixCoreRelationships"),
            Family::Sightings => (&documents::LOOKUP_SIGHTINGS, "stixSightingRelationships"),
        }
    }
}

/// Exit 77, before anything is fetched, when the token cannot read knowledge.
pub(crate) fn require_knowledge(platform: &Platform) -> Result<()> {
    if platform.has(KNOWLEDGE) {
        return Ok(());
    }
    Err(Error::Permission(format!(
        "the token's user '{}' lacks the {KNOWLEDGE} capability (Access knowledge), which verify needs to read what OpenCTI holds: give the user the \"Connector\" role, or a role with Knowledge access",
        platform.user_name
    ))
    .into())
}

/// The ids of `ids` (all of one family) that OpenCTI holds; `requests` counts the look-ups.
pub(crate) fn held<'a>(
    gql: &Graphql,
    family: Family,
    ids: &[&'a str],
    requests: &mut usize,
) -> Result<HashSet<&'a str>> {
    let mut found = HashSet::new();
    for batch in ids.chunks(BATCH) {
        let wanted: HashSet<&str> = batch.iter().copied().collect();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let (nodes, next) = page(gql, family, batch, after.as_deref())?;
            *requests += 1;
            for node in &nodes {
                for id in node_ids(node) {
                    if let Some(ours) = wanted.get(id) {
                        found.insert(*ours);
                    }
                }
            }
            match next {
                Some(cursor) if after.as_deref() != Some(cursor.as_str()) => after = Some(cursor),
                _ => break,
            }
        }
    }
    Ok(found)
}

/// One page: its nodes and the cursor of the next page, if there is one.
fn page(
    gql: &Graphql,
    family: Family,
    batch: &[&str],
    after: Option<&str>,
) -> Result<(Vec<Value>, Option<String>)> {
    let (doc, field) = family.document();
    let data = gql.run(
        doc,
        json!({ "filters": documents::ids_filter(batch), "first": BATCH, "after": after }),
    )?;
    let connection = &data[field];
    if connection.is_null() {
        return Err(
            Error::Protocol(format!("OpenCTI answered {} without {field}", doc.name)).into(),
        );
    }
    let nodes = connection["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("node").cloned())
        .collect();
    let info = &connection["pageInfo"];
    let next = match (info["hasNextPage"].as_bool(), info["endCursor"].as_str()) {
        (Some(true), Some(c)) if !c.is_empty() => Some(c.to_owned()),
        _ => None,
    };
    Ok((nodes, next))
}

/// Every id a node answers to: its own, its `standard_id` and the ids it was imported with.
fn node_ids(node: &Value) -> impl Iterator<Item = &str> {
    let own = ["id", "standard_id"]
        .into_iter()
        .filter_map(|k| node.get(k).and_then(Value::as_str));
    let kept = node
        .get("x_opencti_stix_ids")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    own.chain(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_by_type() {
        assert_eq!(Family::of("intrusion-set"), Some(Family::Objects));
        assert_eq!(Family::of("relationship"), Some(Family::Relationships));
        assert_eq!(Family::of("sighting"), Some(Family::Sightings));
        assert_eq!(Family::of("marking-definition"), None);
    }

    #[test]
    fn a_node_answers_to_its_original_id() {
        let node = json!({"id": "internal", "standard_id": "intrusion-set--derived",
            "x_opencti_stix_ids": ["intrusion-set--original"]});
        let ids: Vec<&str> = node_ids(&node).collect();
        assert_eq!(
            ids,
            [
                "internal",
                "intrusion-set--derived",
                "intrusion-set--original"
            ]
        );
    }
}
