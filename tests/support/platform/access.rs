//! The token's user as OpenCTI resolves it for an import — the markings it may use, its groups
//! and the draft it works in — and the platform's markings. Shared by the GraphQL side (`me`,
//! `markingDefinitions`) and the workers, so that what the client reads is what the workers
//! then enforce.
//!
//! Rules, read at 6.9.17 (`G` = `opencti-platform/opencti-graphql/src`):
//! - `G/database/middleware.ts`, `inputResolveRefs`: unless the user has `BYPASS`, an object
//!   whose markings are not all in the user's `allowed_marking` throws MissingReferenceError
//!   "User trying to create the data has missing markings", on every try;
//! - `G/domain/markingDefinition.js`, `addAllowedMarkingDefinition`: a marking is created out of
//!   any draft (`draft_context: ''`), and only on creation granted to the groups with
//!   `auto_new_marking` (`updateGroupsAfterAddingMarking`); the standard id of a marking comes
//!   from its definition type and definition (`G/schema/identifier.js`), so a marking with the
//!   same definition is the same marking (an upsert);
//! - `MeUser.draftContext` (6.4.0+): a user inside a draft imports into it.

use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};

/// One marking of the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMarking {
    pub internal_id: String,
    /// The STIX id it was created with (kept in `x_opencti_stix_ids`).
    pub stix_id: String,
    pub definition_type: String,
    pub definition: String,
    /// Among the user's `allowed_marking`.
    pub allowed: bool,
}

/// The user's groups, draft, and the platform's markings.
#[derive(Debug, Clone)]
pub struct Directory {
    pub markings: Vec<StoredMarking>,
    /// Group name and `auto_new_marking`.
    pub groups: Vec<(String, bool)>,
    /// The draft the user works in: id and name.
    pub draft: Option<(String, String)>,
}

impl Default for Directory {
    /// OpenCTI's built-in "Connectors" group, which gets every new marking.
    fn default() -> Self {
        Directory {
            markings: Vec::new(),
            groups: vec![("Connectors".into(), true)],
            draft: None,
        }
    }
}

/// The directory, shared by the stand-in and its platform.
pub type SharedDirectory = Arc<Mutex<Directory>>;

pub fn lock(d: &SharedDirectory) -> MutexGuard<'_, Directory> {
    d.lock().unwrap_or_else(|p| p.into_inner())
}

fn text(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// `definition_type` and `definition` as pycti's importer derives them for a statement or TLP.
fn definition_of(obj: &Value) -> (String, String) {
    let kind = text(obj, "definition_type");
    let inner = obj
        .pointer(&format!("/definition/{kind}"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if kind == "tlp" {
        ("TLP".into(), format!("TLP:{}", inner.to_uppercase()))
    } else {
        (kind, inner.to_owned())
    }
}

impl Directory {
    /// The marking a STIX id (or internal id) names, if the platform has it.
    pub fn find(&self, id: &str) -> Option<&StoredMarking> {
        self.markings
            .iter()
            .find(|m| m.stix_id == id || m.internal_id == id)
    }

    /// A marking an administrator created (and granted to the user's group or not).
    pub fn add(&mut self, stix_id: &str, definition_type: &str, definition: &str, allowed: bool) {
        let n = self.markings.len();
        self.markings.push(StoredMarking {
            internal_id: format!("0000beef-0000-4000-8000-{n:012x}"),
            stix_id: stix_id.into(),
            definition_type: definition_type.into(),
            definition: definition.into(),
            allowed,
        });
    }

    /// `addAllowedMarkingDefinition` for an imported marking-definition: an upsert when the
    /// id or the definition is known, else a creation granted when a group has
    /// `auto_new_marking`.
    pub fn create(&mut self, obj: &Value) {
        let id = text(obj, "id");
        let (kind, def) = definition_of(obj);
        let known = self
            .markings
            .iter()
            .any(|m| m.stix_id == id || (m.definition_type == kind && m.definition == def));
        if !known {
            let granted = self.groups.iter().any(|(_, auto)| *auto);
            self.add(&id, &kind, &def, granted);
        }
    }

    /// `inputResolveRefs`' marking check: the first marking of `obj` the platform has and the
    /// user may not use.
    pub fn refused_marking(&self, obj: &Value, bypass: bool) -> Option<String> {
        if bypass {
            return None;
        }
        obj.get("object_marking_refs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .find(|r| self.find(r).is_some_and(|m| !m.allowed))
            .map(str::to_owned)
    }

    fn marking_json(m: &StoredMarking) -> Value {
        json!({
            "__typename": "MarkingDefinition",
            "id": m.internal_id,
            // Derived from the definition, not the STIX id it was created with.
            "standard_id": format!("marking-definition--{}", m.internal_id),
            "x_opencti_stix_ids": [m.stix_id],
            "definition_type": m.definition_type,
            "definition": m.definition,
        })
    }

    /// `allowed_marking`, `groups` and `draftContext` of `me` (a BYPASS user is allowed all).
    pub fn me_fields(&self, bypass: bool) -> Vec<(&'static str, Value)> {
        let allowed: Vec<Value> = self
            .markings
            .iter()
            .filter(|m| bypass || m.allowed)
            .map(Self::marking_json)
            .collect();
        let edges: Vec<Value> = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, (name, auto))| {
                json!({"__typename": "GroupEdge", "cursor": format!("{i}"), "node": {
                    "__typename": "Group", "id": format!("group-{i}"), "name": name, "auto_new_marking": auto,
                }})
            })
            .collect();
        let draft = self.draft.as_ref().map_or(
            Value::Null,
            |(id, name)| json!({"__typename": "DraftWorkspace", "id": id, "name": name}),
        );
        vec![
            ("allowed_marking", Value::Array(allowed)),
            (
                "groups",
                json!({"__typename": "GroupConnection", "edges": edges}),
            ),
            ("draftContext", draft),
        ]
    }

    /// `markingDefinitions(filters:)` with the filters the client sends: `ids` (internal id,
    /// standard id, `x_opencti_stix_ids`) and `definition`, in an `or` group.
    pub fn lookup(&self, filters: &Value) -> Value {
        let values = |key: &str| -> Vec<String> {
            filters
                .get("filters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|f| f.pointer("/key/0").and_then(Value::as_str) == Some(key))
                .flat_map(|f| f.get("values").and_then(Value::as_array).cloned())
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        };
        let (ids, defs) = (values("ids"), values("definition"));
        let edges: Vec<Value> = self
            .markings
            .iter()
            .filter(|m| {
                ids.contains(&m.stix_id)
                    || ids.contains(&m.internal_id)
                    || defs.contains(&m.definition)
            })
            .map(|m| json!({"__typename": "MarkingDefinitionEdge", "cursor": m.internal_id, "node": Self::marking_json(m)}))
            .collect();
        json!({"__typename": "MarkingDefinitionConnection", "edges": edges})
    }
}
