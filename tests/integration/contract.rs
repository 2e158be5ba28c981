//! Schema contract: every GraphQL document the client can send is valid against the real
//! OpenCTI schema of every release its gate admits, and invalid against the releases before
//! it (so the gate is real). Input objects are checked key by key, since GraphQL validation
//! does not look at variable values.

use std::sync::OnceLock;

use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use disinfox_sync::testing::opencti::documents::{self, ALL, Document};
use disinfox_sync::testing::opencti::version::{self, Version};

/// The committed schemas and the release each one is.
const RELEASES: &[(&str, Version)] = &[
    ("relay-6.0.0.graphql", Version(6, 0, 0)),
    ("relay-6.2.6.graphql", Version(6, 2, 6)),
    ("relay-6.5.7.graphql", Version(6, 5, 7)),
    ("relay-6.9.x.graphql", Version(6, 9, 17)),
    ("relay-7.260510.0.graphql", Version(7, 260510, 0)),
];

/// Each release's parsed schema, parsed once for all tests.
type Schemas = Vec<(Version, Valid<Schema>)>;

fn schemas() -> Option<&'static Schemas> {
    static CACHE: OnceLock<Option<Schemas>> = OnceLock::new();
    CACHE
        .get_or_init(|| {
            let dir = crate::common::shared_dir("opencti-schema")?;
            Some(
                RELEASES
                    .iter()
                    .map(|(file, v)| {
                        let text = std::fs::read_to_string(dir.join(file)).unwrap();
                        let schema = Schema::parse_and_validate(text, *file)
                            .unwrap_or_else(|e| panic!("{file}: {}", e.errors));
                        (*v, schema)
                    })
                    .collect(),
            )
        })
        .as_ref()
}

fn validate(schema: &Valid<Schema>, doc: &Document) -> Result<(), String> {
    ExecutableDocument::parse_and_validate(schema, doc.text, format!("{}.graphql", doc.name))
        .map(|_| ())
        .map_err(|e| e.errors.to_string())
}

#[test]
fn every_document_fits_every_release_its_gate_admits() {
    let Some(schemas) = schemas() else { return };
    let mut checked = 0;
    for doc in ALL {
        for (release, schema) in schemas {
            let result = validate(schema, doc);
            if *release >= doc.since {
                assert!(
                    result.is_ok(),
                    "{} must be valid on {release}: {}",
                    doc.name,
                    result.unwrap_err()
                );
                checked += 1;
            } else {
                assert!(
                    result.is_err(),
                    "{} is gated at {} but {release} accepts it: the gate is wrong",
                    doc.name,
                    doc.since
                );
            }
        }
    }
    assert!(checked >= ALL.len() * 2, "only {checked} checks ran");
}

fn input_fields(schema: &Schema, name: &str) -> Option<(Vec<String>, Vec<String>)> {
    match schema.types.get(name)? {
        ExtendedType::InputObject(obj) => {
            let all = obj.fields.keys().map(|k| k.to_string()).collect();
            let required = obj
                .fields
                .iter()
                .filter(|(_, f)| f.ty.is_non_null() && f.default_value.is_none())
                .map(|(k, _)| k.to_string())
                .collect();
            Some((all, required))
        }
        _ => None,
    }
}

fn check_keys(
    schemas: &[(Version, Valid<Schema>)],
    type_name: &str,
    since: Version,
    value: &serde_json::Value,
) -> usize {
    let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
    let mut n = 0;
    for (release, schema) in schemas.iter().filter(|(r, _)| *r >= since) {
        let (all, required) = input_fields(schema, type_name)
            .unwrap_or_else(|| panic!("{type_name} missing on {release}"));
        for k in &keys {
            assert!(
                all.contains(k),
                "{type_name}.{k} is not defined on {release}"
            );
        }
        for r in &required {
            assert!(
                keys.contains(&r),
                "{type_name}.{r} is required on {release} but not sent"
            );
        }
        n += 1;
    }
    n
}

#[test]
fn input_objects_only_carry_fields_each_release_knows() {
    let Some(schemas) = schemas() else { return };
    let reg = documents::register_input(
        "6a2a1c5e-0b0c-4c4c-9f9f-0123456789ab",
        "DISINFOX",
        &["stix2".into()],
    );
    assert_eq!(
        reg.as_object().unwrap().len(),
        7,
        "exactly the 7 portable register fields"
    );
    assert_eq!(
        check_keys(schemas, "RegisterConnectorInput", Version(6, 0, 0), &reg),
        5
    );
    let info = documents::connector_info(
        "2026-11-29T00:00:00Z",
        Some("2026-11-29T01:00:00Z"),
        false,
        0.0,
        500.0,
    );
    assert_eq!(
        check_keys(
            schemas,
            "ConnectorInfoInput",
            version::CONNECTOR_INFO,
            &info
        ),
        3
    );
    // The marking lookup's filter, and each of its filters.
    let filter = documents::markings_filter(
        &["marking-definition--f79f25d2-8b96-4580-b169-eb7b613a7c31"],
        &["CC-BY-SA-4.0 DISARM Foundation"],
    );
    assert_eq!(
        check_keys(schemas, "FilterGroup", documents::MARKINGS.since, &filter),
        5
    );
    for f in filter["filters"].as_array().unwrap() {
        assert_eq!(
            check_keys(schemas, "Filter", documents::MARKINGS.since, f),
            5
        );
    }
    // The newer register fields are exactly what older releases reject.
    let (old, _) = input_fields(&schemas[0].1, "RegisterConnectorInput").unwrap();
    assert!(!old.contains(&"auto_update".to_owned()));
}

#[test]
fn documents_name_their_operation() {
    for doc in ALL {
        assert!(
            doc.text.contains(&format!(" {} ", doc.name))
                || doc.text.contains(&format!(" {}(", doc.name)),
            "{}",
            doc.name
        );
    }
}

#[test]
fn the_ids_filter_carries_only_fields_each_release_knows() {
    let Some(schemas) = schemas() else { return };
    let group = documents::ids_filter(&["intrusion-set--1", "relationship--2"]);
    let filter = &group["filters"][0];
    assert_eq!(filter["key"], serde_json::json!(["ids"]));
    assert_eq!(
        check_keys(schemas, "FilterGroup", Version(6, 0, 0), &group),
        5
    );
    assert_eq!(check_keys(schemas, "Filter", Version(6, 0, 0), filter), 5);
}
