//! The stand-in's minimal SDL (tests/support/opencti-minimal.graphql) agrees with every real
//! OpenCTI schema in ../shared/opencti-schema/, per version: every type, field, argument, input
//! field and enum value it declares exists there with the same type and default; input objects
//! and field arguments have exactly the real set of keys (so the stand-in rejects exactly what
//! the real server rejects); and no gate is late (what the real schema of a version has, the
//! rendering for that version has too, for everything the template knows).
//!
//! Without ../shared the test prints that it skipped; under CI=true that is a failure.

use std::collections::BTreeSet;
use std::path::PathBuf;

use apollo_compiler::Schema;
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;

use crate::support::opencti::{minimal_schema, render_sdl};

/// Real schema files and the version each one is.
const REAL: &[(&str, &str)] = &[
    ("relay-6.0.0.graphql", "6.0.0"),
    ("relay-6.2.6.graphql", "6.2.6"),
    ("relay-6.5.7.graphql", "6.5.7"),
    ("relay-6.9.x.graphql", "6.9.17"),
    ("relay-7.260510.0.graphql", "7.260510.0"),
];

fn schema_dir() -> Option<PathBuf> {
    crate::common::shared_dir("opencti-schema")
}

fn load_real(dir: &std::path::Path, file: &str) -> Valid<Schema> {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Schema::parse_and_validate(text, &path)
        .unwrap_or_else(|e| panic!("{}: invalid schema:\n{}", path.display(), e.errors))
}

fn kind(t: &ExtendedType) -> &'static str {
    match t {
        ExtendedType::Scalar(_) => "scalar",
        ExtendedType::Object(_) => "type",
        ExtendedType::Interface(_) => "interface",
        ExtendedType::Union(_) => "union",
        ExtendedType::Enum(_) => "enum",
        ExtendedType::InputObject(_) => "input",
    }
}

fn default_text(v: Option<&apollo_compiler::Node<apollo_compiler::ast::Value>>) -> String {
    v.map(|d| d.to_string()).unwrap_or_default()
}

/// Everything `minimal` declares agrees with `real`.
fn agree(minimal: &Schema, real: &Schema, version: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut p = |s: String| problems.push(format!("{version}: {s}"));
    for (root, want) in [
        (&minimal.schema_definition.query, "Query"),
        (&minimal.schema_definition.mutation, "Mutation"),
    ] {
        let real_root = if want == "Query" {
            &real.schema_definition.query
        } else {
            &real.schema_definition.mutation
        };
        let (a, b) = (
            root.as_ref().map(|n| n.to_string()),
            real_root.as_ref().map(|n| n.to_string()),
        );
        if a != b {
            p(format!("root {want}: minimal {a:?}, real {b:?}"));
        }
    }
    for (name, ty) in &minimal.types {
        if ty.is_built_in() {
            continue;
        }
        let Some(real_ty) = real.types.get(name) else {
            p(format!("type {name} does not exist"));
            continue;
        };
        if kind(ty) != kind(real_ty) {
            p(format!(
                "{name} is a {} here but a {} there",
                kind(ty),
                kind(real_ty)
            ));
            continue;
        }
        match (ty, real_ty) {
            (ExtendedType::Object(m), ExtendedType::Object(r)) => {
                for (fname, f) in &m.fields {
                    let Some(rf) = r.fields.get(fname) else {
                        p(format!("field {name}.{fname} does not exist"));
                        continue;
                    };
                    if f.ty.to_string() != rf.ty.to_string() {
                        p(format!(
                            "{name}.{fname}: type {} here, {} there",
                            f.ty, rf.ty
                        ));
                    }
                    let margs: BTreeSet<String> =
                        f.arguments.iter().map(|a| a.name.to_string()).collect();
                    let rargs: BTreeSet<String> =
                        rf.arguments.iter().map(|a| a.name.to_string()).collect();
                    if margs != rargs {
                        p(format!(
                            "{name}.{fname}: arguments {margs:?} here, {rargs:?} there"
                        ));
                    }
                    for a in &f.arguments {
                        if let Some(ra) = rf.arguments.iter().find(|x| x.name == a.name) {
                            if a.ty.to_string() != ra.ty.to_string() {
                                p(format!(
                                    "{name}.{fname}({}): type {} here, {} there",
                                    a.name, a.ty, ra.ty
                                ));
                            }
                            let (d1, d2) = (
                                default_text(a.default_value.as_ref()),
                                default_text(ra.default_value.as_ref()),
                            );
                            if d1 != d2 {
                                p(format!(
                                    "{name}.{fname}({}): default {d1:?} here, {d2:?} there",
                                    a.name
                                ));
                            }
                        }
                    }
                }
            }
            (ExtendedType::InputObject(m), ExtendedType::InputObject(r)) => {
                let mk: BTreeSet<String> = m.fields.keys().map(|k| k.to_string()).collect();
                let rk: BTreeSet<String> = r.fields.keys().map(|k| k.to_string()).collect();
                if mk != rk {
                    p(format!("input {name}: fields {mk:?} here, {rk:?} there"));
                }
                for (fname, f) in &m.fields {
                    if let Some(rf) = r.fields.get(fname) {
                        if f.ty.to_string() != rf.ty.to_string() {
                            p(format!(
                                "{name}.{fname}: type {} here, {} there",
                                f.ty, rf.ty
                            ));
                        }
                        let (d1, d2) = (
                            default_text(f.default_value.as_ref()),
                            default_text(rf.default_value.as_ref()),
                        );
                        if d1 != d2 {
                            p(format!("{name}.{fname}: default {d1:?} here, {d2:?} there"));
                        }
                    }
                }
            }
            (ExtendedType::Enum(m), ExtendedType::Enum(r)) => {
                for value in m.values.keys() {
                    if !r.values.contains_key(value) {
                        p(format!("enum {name}: value {value} does not exist"));
                    }
                }
            }
            (ExtendedType::Interface(m), ExtendedType::Interface(r)) => {
                for (fname, f) in &m.fields {
                    match r.fields.get(fname) {
                        None => p(format!("field {name}.{fname} does not exist")),
                        Some(rf) if f.ty.to_string() != rf.ty.to_string() => p(format!(
                            "{name}.{fname}: type {} here, {} there",
                            f.ty, rf.ty
                        )),
                        Some(_) => {}
                    }
                }
            }
            (ExtendedType::Scalar(_), ExtendedType::Scalar(_)) => {}
            _ => p(format!("{name}: unexpected kind {}", kind(ty))),
        }
    }
    problems
}

/// No gate is late: whatever the template knows (its rendering for the newest version) and
/// the real schema of `version` has, the rendering for `version` has too.
fn no_late_gate(
    everything: &Schema,
    minimal: &Schema,
    real: &Schema,
    version: &str,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, ty) in &everything.types {
        if ty.is_built_in() {
            continue;
        }
        let Some(real_ty) = real.types.get(name) else {
            continue;
        };
        let Some(min_ty) = minimal.types.get(name) else {
            problems.push(format!(
                "{version}: type {name} exists there but is gated out here"
            ));
            continue;
        };
        match (ty, real_ty, min_ty) {
            (ExtendedType::Object(e), ExtendedType::Object(r), ExtendedType::Object(m)) => {
                for (fname, f) in &e.fields {
                    if let Some(rf) = r.fields.get(fname) {
                        match m.fields.get(fname) {
                            None => problems.push(format!(
                                "{version}: {name}.{fname} exists there but is gated out here"
                            )),
                            Some(mf) => {
                                for a in &f.arguments {
                                    let in_real = rf.arguments.iter().any(|x| x.name == a.name);
                                    let in_min = mf.arguments.iter().any(|x| x.name == a.name);
                                    if in_real && !in_min {
                                        problems.push(format!(
                                            "{version}: {name}.{fname}({}) exists there but is gated out here",
                                            a.name
                                        ));
                                    }
                                }
                            }
                        }
                    }
                }
            }
            (
                ExtendedType::InputObject(e),
                ExtendedType::InputObject(r),
                ExtendedType::InputObject(m),
            ) => {
                for fname in e.fields.keys() {
                    if r.fields.contains_key(fname) && !m.fields.contains_key(fname) {
                        problems.push(format!(
                            "{version}: {name}.{fname} exists there but is gated out here"
                        ));
                    }
                }
            }
            (ExtendedType::Enum(e), ExtendedType::Enum(r), ExtendedType::Enum(m)) => {
                for value in e.values.keys() {
                    if r.values.contains_key(value) && !m.values.contains_key(value) {
                        problems.push(format!(
                            "{version}: enum {name}.{value} exists there but is gated out here"
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    problems
}

#[test]
fn minimal_sdl_agrees_with_every_real_schema() {
    let Some(dir) = schema_dir() else {
        return;
    };
    let everything = minimal_schema("99.0.0");
    let mut problems = Vec::new();
    for (file, version) in REAL {
        let real = load_real(&dir, file);
        let minimal = minimal_schema(version);
        problems.extend(agree(&minimal, &real, version));
        problems.extend(no_late_gate(&everything, &minimal, &real, version));
    }
    assert!(
        problems.is_empty(),
        "the minimal SDL disagrees with the real schemas:\n{}",
        problems.join("\n")
    );
}

#[test]
fn known_differences_between_releases_are_gated() {
    // The negative cases listed in ../shared/opencti-schema/README.md, on our renderings.
    let has = |version: &str, needle: &str| render_sdl(version).contains(needle);
    assert!(!has("6.0.0", "stixBundlePush"));
    assert!(has("6.2.6", "stixBundlePush") && !has("6.2.6", "work_id"));
    assert!(
        !has("6.0.0", "connectorInfo")
            && !has("6.2.6", "connectorInfo")
            && has("6.5.7", "connectorInfo")
    );
    assert!(!has("6.0.0", "connector_queue_details") && has("6.2.6", "connector_queue_details"));
    for v in ["6.0.0", "6.2.6", "6.5.7", "6.9.17"] {
        assert!(!has(v, "isMultiPartWork"), "{v}");
    }
    assert!(has("7.260510.0", "isMultiPartWork"));
    for v in ["6.0.0", "6.2.6", "6.5.7"] {
        assert!(!has(v, "auto_update"), "{v}");
    }
    assert!(has("6.9.17", "auto_update"));
    assert!(!has("6.2.6", "draftContext") && has("6.5.7", "draftContext"));
}
