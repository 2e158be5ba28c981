//! How the keys of a STIX object are treated, and what is taken from an object: shared by the
//! two readers of an object, serde_json's (`object.rs`) and the quick one (`quick.rs`).

/// Bits of [`Fields::ends`]: the top-level end references present as strings.
pub(super) const SOURCE: u8 = 1;
pub(super) const TARGET: u8 = 2;
pub(super) const SIGHTING_OF: u8 = 4;

/// How a key of an object is treated.
pub(super) enum Key {
    Id,
    Type,
    Modified,
    /// A top-level `source_ref`, `target_ref` or `sighting_of_ref`: its bit.
    End(u8),
    Ref,
    Refs,
    Other,
}

pub(super) fn classify(k: &str, top: bool) -> Key {
    match k {
        "id" if top => Key::Id,
        "type" if top => Key::Type,
        "modified" if top => Key::Modified,
        "source_ref" if top => Key::End(SOURCE),
        "target_ref" if top => Key::End(TARGET),
        "sighting_of_ref" if top => Key::End(SIGHTING_OF),
        _ if k.ends_with("_ref") => Key::Ref,
        _ if k.ends_with("_refs") => Key::Refs,
        _ => Key::Other,
    }
}

/// What is taken from an object (by `object` or `quick`).
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Fields<'a> {
    pub(super) id: Option<&'a str>,
    pub(super) kind: Option<&'a str>,
    pub(super) modified: Option<&'a str>,
    /// Bits: the top-level end references present ([`SOURCE`], …).
    pub(super) ends: u8,
}
