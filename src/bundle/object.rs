//! One STIX object read without a DOM: its JSON text is read again, still hot in cache,
//! taking only `id`, `type`, `modified` and the references; every other value is skipped as a
//! `RawValue` and only re-read when it is a container whose text mentions `_ref`. Used for the
//! elements of a bundle (`parse`, `stream`) and for the embedded well-known objects.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::envelope::{bare_message, show};
use super::escape::escaped_extra;
use super::keys::{Fields, Key, SIGHTING_OF, SOURCE, TARGET, classify};
use super::quick;
use super::{Object, RefSpan};

macro_rules! ignore_scalars {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E: de::Error>(self) -> Result<(), E> {
            Ok(())
        }
    };
}

/// Extract one object from its JSON text; its references are appended to `refs`, and its
/// `refs` span is left empty for the caller to fill. Used for the input's objects and for the
/// embedded well-known objects.
pub(super) fn object<'a>(raw: &'a str, refs: &mut Vec<&'a str>) -> Result<Object<'a>, String> {
    object_and_ends(raw, refs).map(|(o, _)| o)
}

/// [`object`], and which of its end references ([`SOURCE`], …) are present.
pub(super) fn object_and_ends<'a>(
    raw: &'a str,
    refs: &mut Vec<&'a str>,
) -> Result<(Object<'a>, u8), String> {
    let (o, ends) = unmeasured(raw, refs)?;
    let escaped_len = measure(raw)?;
    Ok((Object { escaped_len, ..o }, ends))
}

/// The escaped length of an object's text (see [`Object::escaped_len`]), measured while the
/// text is in cache; only what chunks it needs it (`fetch` does not).
pub(super) fn measure(raw: &str) -> Result<u32, String> {
    u32::try_from(raw.len() + escaped_extra(raw.as_bytes()))
        .map_err(|_| "the object is larger than 4 GiB".to_string())
}

/// [`object_and_ends`] without [`measure`]: the escaped length is left at 0.
pub(super) fn unmeasured<'a>(
    raw: &'a str,
    refs: &mut Vec<&'a str>,
) -> Result<(Object<'a>, u8), String> {
    let first = raw.as_bytes().first().copied().unwrap_or(b' ');
    if first != b'{' {
        return Err(format!("not a JSON object but {}", kind_of(first)));
    }
    let fields = match quick::read(raw, refs) {
        Some(fields) => fields,
        None => by_serde(raw, refs)?,
    };
    let id = fields.id.ok_or(r#"there is no "id""#)?;
    let kind = fields.kind.ok_or(r#"there is no "type""#)?;
    if kind.is_empty() {
        return Err(r#""type" is empty"#.into());
    }
    check_id(id, kind)?;
    Ok((
        Object {
            raw,
            id,
            kind,
            modified: fields.modified,
            refs: RefSpan::default(),
            escaped_len: 0,
        },
        fields.ends,
    ))
}

/// The fields of `raw` as serde_json reads them: the reference for `quick`, and the
/// verdict (with its wording) on whatever `quick` leaves to it.
pub(super) fn by_serde<'a>(raw: &'a str, refs: &mut Vec<&'a str>) -> Result<Fields<'a>, String> {
    let start = refs.len();
    let mut de = serde_json::Deserializer::from_str(raw);
    ObjectSeed { refs }.deserialize(&mut de).map_err(|e| {
        refs.truncate(start);
        bare_message(&e)
    })
}

/// A relationship needs both ends and a sighting what it sighted: OpenCTI's worker raises on
/// one without, and discards the whole chunk that carried it.
pub(super) fn check_ends(id: &str, kind: &str, ends: u8) -> Result<(), String> {
    let required: &[(u8, &str)] = match kind {
        "relationship" => &[(SOURCE, "source_ref"), (TARGET, "target_ref")],
        "sighting" => &[(SIGHTING_OF, "sighting_of_ref")],
        _ => return Ok(()),
    };
    match required.iter().find(|(bit, _)| ends & bit == 0) {
        None => Ok(()),
        Some((_, key)) => Err(format!(
            "{kind} {id} has no \"{key}\"; OpenCTI would discard the whole \
             chunk that carries it: fix or remove this object"
        )),
    }
}

fn check_id(id: &str, kind: &str) -> Result<(), String> {
    let b = id.as_bytes();
    let well_formed =
        b.len() > 38 && &b[b.len() - 38..b.len() - 36] == b"--" && is_uuid(&b[b.len() - 36..]);
    if !well_formed {
        return Err(format!("id {} is not of the form <type>--<uuid>", show(id)));
    }
    if &id[..id.len() - 38] != kind {
        return Err(format!(
            "id {} does not start with its type {}",
            show(id),
            show(kind)
        ));
    }
    Ok(())
}

fn is_uuid(u: &[u8]) -> bool {
    // Per byte: 1 = hex digit, 2 = '-'. Branch-free over the fixed 36 bytes (this runs once per
    // object; a byte loop with early exits was 5% of the stage).
    const CLASS: [u8; 256] = {
        let mut t = [0u8; 256];
        let mut b = 0;
        while b < 256 {
            t[b] = match b as u8 {
                b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => 1,
                b'-' => 2,
                _ => 0,
            };
            b += 1;
        }
        t
    };
    const LAYOUT: [u8; 36] = {
        let mut t = [1u8; 36];
        t[8] = 2;
        t[13] = 2;
        t[18] = 2;
        t[23] = 2;
        t
    };
    let Ok(u) = <&[u8; 36]>::try_from(u) else {
        return false;
    };
    u.iter()
        .zip(LAYOUT)
        .fold(0u8, |bad, (&c, want)| bad | (CLASS[c as usize] ^ want))
        == 0
}

struct KeySeed {
    top: bool,
}

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, k: &str) -> Result<Key, E> {
        Ok(classify(k, self.top))
    }
}

struct ObjectSeed<'s, 'a> {
    refs: &'s mut Vec<&'a str>,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_, 'de> {
    type Value = Fields<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_, 'de> {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a STIX object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Fields::default();
        while let Some(key) = map.next_key_seed(KeySeed { top: true })? {
            let (slot, name) = match key {
                Key::Id => (&mut fields.id, "id"),
                Key::Type => (&mut fields.kind, "type"),
                Key::Modified => (&mut fields.modified, "modified"),
                Key::End(bit) => {
                    let before = self.refs.len();
                    map.next_value_seed(RefSeed { refs: self.refs })?;
                    if self.refs.len() > before {
                        fields.ends |= bit;
                    }
                    continue;
                }
                Key::Ref => {
                    map.next_value_seed(RefSeed { refs: self.refs })?;
                    continue;
                }
                Key::Refs => {
                    map.next_value_seed(RefsSeed { refs: self.refs })?;
                    continue;
                }
                Key::Other => {
                    let raw: &'de RawValue = map.next_value()?;
                    let raw = raw.get();
                    if matches!(raw.as_bytes()[0], b'{' | b'[') && raw.contains("_ref") {
                        let mut de = serde_json::Deserializer::from_str(raw);
                        NestedSeed { refs: self.refs }
                            .deserialize(&mut de)
                            .map_err(|e| de::Error::custom(bare_message(&e)))?;
                    }
                    continue;
                }
            };
            let value = map.next_value_seed(StrSeed(name))?;
            if slot.replace(value).is_some() {
                return Err(de::Error::custom(format_args!("\"{name}\" appears twice")));
            }
        }
        Ok(fields)
    }
}

/// A string that must be a slice of the input. Ids, types and timestamps have no reason to
/// contain escapes, and borrowing is what keeps the stage allocation-free.
struct StrSeed(&'static str);

impl<'de> DeserializeSeed<'de> for StrSeed {
    type Value = &'de str;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<&'de str, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for StrSeed {
    type Value = &'de str;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\" to be a string", self.0)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<&'de str, E> {
        Ok(v)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<&'de str, E> {
        Err(E::custom(format_args!(
            "\"{}\" contains JSON escape sequences, which are not accepted there",
            self.0
        )))
    }
}

/// Value of a `*_ref` key: a string is a reference; anything else is searched for nested ones.
struct RefSeed<'s, 'a> {
    refs: &'s mut Vec<&'a str>,
}

impl<'de> DeserializeSeed<'de> for RefSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RefSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a reference")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        self.refs.push(v);
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(E::custom(
            "a reference contains JSON escape sequences, which are not accepted there",
        ))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        NestedSeed { refs: self.refs }.visit_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        NestedSeed { refs: self.refs }.visit_map(map)
    }
    ignore_scalars!();
}

/// Value of a `*_refs` key: an array's items are treated like `*_ref` values.
struct RefsSeed<'s, 'a> {
    refs: &'s mut Vec<&'a str>,
}

impl<'de> DeserializeSeed<'de> for RefsSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RefsSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("references")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(RefSeed {
                refs: &mut *self.refs,
            })?
            .is_some()
        {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        NestedSeed { refs: self.refs }.visit_map(map)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        RefSeed { refs: self.refs }.visit_borrowed_str(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        RefSeed { refs: self.refs }.visit_str(v)
    }
    ignore_scalars!();
}

/// Any value below the top level: only keys ending in `_ref`/`_refs` matter. Depth is bounded
/// by serde_json's recursion limit (128).
struct NestedSeed<'s, 'a> {
    refs: &'s mut Vec<&'a str>,
}

impl<'de> DeserializeSeed<'de> for NestedSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NestedSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(NestedSeed {
                refs: &mut *self.refs,
            })?
            .is_some()
        {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key_seed(KeySeed { top: false })? {
            let refs = &mut *self.refs;
            match key {
                Key::Ref | Key::End(_) => map.next_value_seed(RefSeed { refs })?,
                Key::Refs => map.next_value_seed(RefsSeed { refs })?,
                _ => map.next_value_seed(NestedSeed { refs })?,
            }
        }
        Ok(())
    }
    fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    ignore_scalars!();
}

fn kind_of(first: u8) -> &'static str {
    match first {
        b'{' => "an object",
        b'[' => "an array",
        b'"' => "a string",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        _ => "a number",
    }
}
