//! What the token's user may import into, checked before anything is pushed: the markings the
//! bundle carries must be usable by that user, and the user must not work inside a draft.
//!
//! Markings (every release; `opencti-graphql/src/database/middleware`, `inputResolveRefs`, read
//! at 6.9.17): unless the user has `BYPASS`, every marking of an object must be among the
//! user's `allowed_marking`, or the import throws MissingReferenceError "User trying to create
//! the data has missing markings" on every try; the object is dropped, and every relationship
//! to it with it. A marking the bundle defines and OpenCTI lacks is created by the import
//! (`domain/markingDefinition.js`, `addAllowedMarkingDefinition`), yet granted only to the
//! groups with `auto_new_marking` (`updateGroupsAfterAddingMarking`): a user can create a
//! marking it may then not use. The built-in "Connectors" group has `auto_new_marking`
//! (`database/data-initialization.js`).
//!
//! Drafts (`MeUser.draftContext`, 6.4.0+): a user inside a draft imports into the draft, not
//! into the knowledge base (opencti-async-import.md §4).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::connector::Platform;
use super::documents as doc;
use super::graphql::Graphql;
use super::version;
use crate::bundle::DISARM_MARKING;
use crate::error::{Error, Result};

/// A marking as OpenCTI stores it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Marking {
    /// The internal id, which `inputResolveRefs` compares.
    pub id: String,
    /// The standard id and `x_opencti_stix_ids`: the STIX ids it is found by.
    pub stix_ids: Vec<String>,
    pub definition: Definition,
}

/// `definition_type` and `definition`, from which OpenCTI derives a marking's standard id.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Definition {
    pub kind: String,
    pub text: String,
}

/// The draft a user works in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Draft {
    pub id: String,
    pub name: String,
}

/// What the token's user may import into.
#[derive(Clone, Debug, Default)]
pub(crate) struct Access {
    pub user_name: String,
    /// `BYPASS` skips the marking check (`isBypassUser`: the exact capability name).
    pub bypass: bool,
    pub allowed: Vec<Marking>,
    /// The names of the user's groups, and whether one of them gets every new marking.
    pub groups: Vec<String>,
    pub auto_new_marking: bool,
    pub draft: Option<Draft>,
}

/// A marking a bundle carries: referenced by `objects` objects, maybe defined in the bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Carried {
    pub id: String,
    pub objects: usize,
    pub defined: Option<Definition>,
}

impl Access {
    /// One query: allowed markings, groups and (6.4.0+) the draft context.
    pub(crate) fn read(gql: &Graphql, platform: &Platform) -> Result<Access> {
        let document = if platform.version >= version::DRAFT_CONTEXT {
            &doc::ACCESS_WITH_DRAFT
        } else {
            &doc::ACCESS
        };
        let data = gql.run(document, json!({}))?;
        let me = data.get("me").cloned().unwrap_or(Value::Null);
        let groups: Vec<&Value> = me
            .pointer("/groups/edges")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("node"))
            .collect();
        Ok(Access {
            user_name: platform.user_name.clone(),
            bypass: platform.capabilities.iter().any(|c| c == "BYPASS"),
            allowed: list(&me, "/allowed_marking").iter().map(marking).collect(),
            groups: groups.iter().filter_map(|g| text(g, "name")).collect(),
            auto_new_marking: groups
                .iter()
                .any(|g| g.get("auto_new_marking").and_then(Value::as_bool) == Some(true)),
            draft: me
                .get("draftContext")
                .filter(|d| d.is_object())
                .map(|d| Draft {
                    id: text(d, "id").unwrap_or_default(),
                    name: text(d, "name").unwrap_or_default(),
                }),
        })
    }

    /// For commands that push: read, and refuse a user inside a draft (exit 78).
    pub(crate) fn for_import(gql: &Graphql, platform: &Platform) -> Result<Access> {
        let access = Access::read(gql, platform)?;
        access.require_no_draft()?;
        Ok(access)
    }

    pub(crate) fn require_no_draft(&self) -> Result<()> {
        let Some(d) = &self.draft else {
            return Ok(());
        };
        Err(Error::Config(format!(
            "the token's user '{}' works inside the OpenCTI draft '{}' ({}): every push would be imported into that draft, not into the knowledge base; leave the draft in OpenCTI's UI (as that user), or use a connector user without a draft context",
            self.user_name, d.name, d.id
        ))
        .into())
    }

    /// Exit 78 when OpenCTI would refuse objects for the markings they carry (`push`, `sync`:
    /// what the bundle names; `check`: what DISINFOX carries).
    pub(crate) fn require(&self, gql: &Graphql, carried: &[Carried]) -> Result<()> {
        if self.bypass {
            return Ok(());
        }
        let unsure: Vec<&Carried> = carried.iter().filter(|c| !self.allows(c)).collect();
        if unsure.is_empty() {
            return Ok(());
        }
        let existing = lookup(gql, &unsure)?;
        match self.refusal(&unsure, &existing) {
            None => Ok(()),
            Some(why) => Err(Error::Config(why).into()),
        }
    }

    fn allows(&self, c: &Carried) -> bool {
        self.allowed.iter().any(|m| same(c, m))
    }

    /// The one-line reason OpenCTI would drop objects, if it would.
    fn refusal(&self, unsure: &[&Carried], existing: &[Marking]) -> Option<String> {
        let mut not_allowed = Vec::new();
        let mut not_granted = Vec::new();
        for c in unsure {
            match existing.iter().find(|m| same(c, m)) {
                Some(m) if self.allowed.iter().any(|a| a.id == m.id) => {}
                Some(m) => not_allowed.push(describe(c, Some(&m.definition))),
                // Not in OpenCTI and not in the bundle: imported without it after the retries.
                None if c.defined.is_none() || self.auto_new_marking => {}
                None => not_granted.push(describe(c, c.defined.as_ref())),
            }
        }
        if not_allowed.is_empty() && not_granted.is_empty() {
            return None;
        }
        let objects: usize = unsure.iter().map(|c| c.objects).sum();
        let groups = match self.groups.as_slice() {
            [] => "the connector user's group".to_owned(),
            names => format!("the connector user's group ({})", names.join(", ")),
        };
        let mut parts = Vec::new();
        if !not_allowed.is_empty() {
            parts.push(format!(
                "{} exist(s) in OpenCTI but not among the user's allowed markings; grant it to {groups} (Settings > Security > Groups > allowed markings)",
                not_allowed.join(", ")
            ));
        }
        if !not_granted.is_empty() {
            parts.push(format!(
                "{} is not in OpenCTI yet and this import would create it, but none of the user's groups is granted new markings; turn on \"Automatically authorize access to new markings\" (auto_new_marking) for {groups}, or create the marking and grant it to that group",
                not_granted.join(", ")
            ));
        }
        let dropped = match objects {
            0 => "every object carrying them".to_owned(),
            n => format!("up to {n} object(s)"),
        };
        Some(format!(
            "OpenCTI would drop {dropped}, and every relationship to them, because the token's user '{}' may not use their marking(s): {}; then run again",
            self.user_name,
            parts.join("; ")
        ))
    }
}

/// The markings DISINFOX's data carries (its attack-patterns: DISARM's, completed by the stage).
pub(crate) fn carried_by_disinfox() -> Vec<Carried> {
    let raw: Value = serde_json::from_str(DISARM_MARKING).unwrap_or(Value::Null);
    vec![Carried {
        id: text(&raw, "id").unwrap_or_default(),
        objects: 0,
        defined: definition_of(&raw),
    }]
}

/// The markings a bundle's objects name, gathered object by object (while each is in cache).
pub(crate) struct MarkingScan {
    key: memchr::memmem::Finder<'static>,
    refs: BTreeMap<String, usize>,
    defined: BTreeMap<String, Definition>,
}

impl Default for MarkingScan {
    fn default() -> Self {
        MarkingScan {
            key: memchr::memmem::Finder::new(b"\"object_marking_refs\""),
            refs: BTreeMap::new(),
            defined: BTreeMap::new(),
        }
    }
}

impl MarkingScan {
    pub(crate) fn observe(&mut self, kind: &str, id: &str, raw: &str) {
        let is_marking = kind == "marking-definition";
        // Cheap filter first: most objects name no marking.
        if !is_marking && self.key.find(raw.as_bytes()).is_none() {
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(raw) else {
            return;
        };
        if is_marking && let Some(d) = definition_of(&v) {
            self.defined.insert(id.to_owned(), d);
        }
        for id in list(&v, "/object_marking_refs")
            .iter()
            .filter_map(Value::as_str)
        {
            match self.refs.get_mut(id) {
                Some(n) => *n += 1,
                None => {
                    self.refs.insert(id.to_owned(), 1);
                }
            }
        }
    }

    /// Every marking named, with its definition when the bundle has the marking-definition.
    pub(crate) fn finish(self) -> Vec<Carried> {
        let MarkingScan { refs, defined, .. } = self;
        refs.into_iter()
            .map(|(id, objects)| Carried {
                defined: defined.get(id.as_str()).cloned(),
                id,
                objects,
            })
            .collect()
    }
}

/// The same marking: by STIX id, or by the definition OpenCTI derives its standard id from.
fn same(c: &Carried, m: &Marking) -> bool {
    m.id == c.id
        || m.stix_ids.contains(&c.id)
        || c.defined.as_ref().is_some_and(|d| *d == m.definition)
}

fn describe(c: &Carried, d: Option<&Definition>) -> String {
    let what = d.map_or(String::new(), |d| format!(" ({} \"{}\")", d.kind, d.text));
    let on = if c.objects > 0 {
        format!(" on {} object(s)", c.objects)
    } else {
        String::new()
    };
    format!("marking {}{what}{on}", c.id)
}

/// The platform's markings among `unsure`, in one query.
fn lookup(gql: &Graphql, unsure: &[&Carried]) -> Result<Vec<Marking>> {
    let ids: Vec<&str> = unsure.iter().map(|c| c.id.as_str()).collect();
    let definitions: Vec<&str> = unsure
        .iter()
        .filter_map(|c| c.defined.as_ref().map(|d| d.text.as_str()))
        .collect();
    let data = gql.run(
        &doc::MARKINGS,
        json!({ "filters": doc::markings_filter(&ids, &definitions) }),
    )?;
    Ok(list(&data, "/markingDefinitions/edges")
        .iter()
        .filter_map(|e| e.get("node"))
        .map(marking)
        .collect())
}

fn marking(v: &Value) -> Marking {
    let mut stix_ids: Vec<String> = text(v, "standard_id").into_iter().collect();
    stix_ids.extend(
        list(v, "/x_opencti_stix_ids")
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned),
    );
    Marking {
        id: text(v, "id").unwrap_or_default(),
        stix_ids,
        definition: Definition {
            kind: text(v, "definition_type").unwrap_or_default(),
            text: text(v, "definition").unwrap_or_default(),
        },
    }
}

/// The definition OpenCTI stores for a STIX marking-definition, as pycti's importer derives it
/// (`pycti/entities/opencti_marking_definition.py`, `import_from_stix2`, 6.9.17).
fn definition_of(v: &Value) -> Option<Definition> {
    let s = |k: &str| text(v, k);
    let (kind, text) =
        if let (Some(k), Some(d)) = (s("x_opencti_definition_type"), s("x_opencti_definition")) {
            (k, Some(d))
        } else if let Some(k) = s("definition_type") {
            let inner = v
                .pointer(&format!("/definition/{k}"))
                .and_then(Value::as_str);
            let given = v.get("definition").and_then(Value::as_str).or(inner);
            if k == "tlp" {
                let tlp = inner.map(|t| format!("TLP:{}", t.to_uppercase()));
                ("TLP".to_owned(), tlp.or_else(|| s("name")))
            } else {
                (k, given.map(str::to_owned).or_else(|| s("name")))
            }
        } else {
            let name = s("name")?;
            let kind = name.split_once(':').map_or("statement", |(k, _)| k);
            (kind.to_owned(), Some(name))
        };
    let text = text?;
    let text = if text == "TLP:WHITE" {
        "TLP:CLEAR".to_owned()
    } else {
        text
    };
    Some(Definition { kind, text })
}

fn list<'v>(v: &'v Value, pointer: &str) -> &'v [Value] {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disarm() -> Carried {
        carried_by_disinfox().remove(0)
    }

    fn stored(id: &str, stix: &str, kind: &str, text: &str) -> Marking {
        Marking {
            id: id.into(),
            stix_ids: vec![stix.into()],
            definition: Definition {
                kind: kind.into(),
                text: text.into(),
            },
        }
    }

    #[test]
    fn definitions_follow_pycti() {
        let d = disarm().defined.unwrap();
        assert_eq!(d.kind, "statement");
        assert_eq!(d.text, "CC-BY-SA-4.0 DISARM Foundation");
        let tlp = json!({"definition_type": "tlp", "definition": {"tlp": "white"}});
        assert_eq!(definition_of(&tlp).unwrap().text, "TLP:CLEAR");
        let named = json!({"name": "PAP:RED"});
        assert_eq!(definition_of(&named).unwrap().kind, "PAP");
        assert_eq!(definition_of(&json!({})), None);
    }

    #[test]
    fn a_marking_in_opencti_but_not_allowed_is_refused() {
        let c = disarm();
        let access = Access {
            user_name: "connector".into(),
            groups: vec!["Importers".into()],
            ..Access::default()
        };
        let existing = [stored("m1", &c.id, "statement", "x")];
        let why = access.refusal(&[&c], &existing).expect("refused");
        assert!(why.contains(&c.id) && why.contains("Importers"), "{why}");
        assert!(
            why.contains("not among the user's allowed markings"),
            "{why}"
        );
        assert!(why.contains("drop every object carrying them"), "{why}");
        let on_three = Carried {
            objects: 3,
            ..disarm()
        };
        let why = access.refusal(&[&on_three], &existing).unwrap();
        assert!(
            why.contains("drop up to 3 object(s)") && why.contains("on 3 object(s)"),
            "{why}"
        );
        // Allowed by internal id once granted.
        let granted = Access {
            allowed: existing.to_vec(),
            ..access
        };
        assert!(granted.allows(&c));
        assert_eq!(granted.refusal(&[&c], &existing), None);
    }

    #[test]
    fn a_new_marking_needs_a_group_granted_new_markings() {
        let c = disarm();
        let mut access = Access::default();
        let why = access.refusal(&[&c], &[]).expect("refused");
        assert!(why.contains("auto_new_marking"), "{why}");
        access.auto_new_marking = true;
        assert_eq!(access.refusal(&[&c], &[]), None);
        // A marking neither in OpenCTI nor in the bundle is left out, not refused.
        let dangling = Carried {
            defined: None,
            ..disarm()
        };
        assert_eq!(Access::default().refusal(&[&dangling], &[]), None);
    }

    #[test]
    fn the_same_definition_is_the_same_marking() {
        let c = disarm();
        let by_hand = stored(
            "m2",
            "marking-definition--00000000-0000-4000-8000-000000000001",
            "statement",
            "CC-BY-SA-4.0 DISARM Foundation",
        );
        assert!(same(&c, &by_hand));
        let access = Access {
            allowed: vec![by_hand],
            ..Access::default()
        };
        assert!(access.allows(&c));
    }

    #[test]
    fn a_draft_is_refused_with_its_name() {
        let access = Access {
            user_name: "connector".into(),
            draft: Some(Draft {
                id: "d1".into(),
                name: "Review".into(),
            }),
            ..Access::default()
        };
        let e = access.require_no_draft().unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("'Review'") && text.contains("leave the draft"),
            "{text}"
        );
        assert_eq!(
            e.downcast_ref::<Error>().map(Error::code),
            Some(crate::exit_codes::ExitCode::Config)
        );
    }
}
