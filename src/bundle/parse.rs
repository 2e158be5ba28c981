//! Validation and field extraction without a DOM.
//!
//! Pass 1 walks the bundle with serde_json and takes each element of `objects` as a borrowed
//! `RawValue` (a skip, no allocation). Pass 2 reads that slice again, still hot in cache, taking
//! only `id`, `type`, `modified` and the references; every other value is skipped as a
//! `RawValue` and only re-read when it is a container whose text mentions `_ref`.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::chunk::escaped_extra;
use super::complete::Builder;
use super::{BundleError, Object, ObjectPosition, Parsed, RefSpan, line_col};

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

/// Validate `input` as a STIX 2.1 bundle and extract what the stage needs from each object.
pub fn parse(input: &[u8]) -> Result<Parsed<'_>, BundleError> {
    // JSON allows a parser to skip a UTF-8 byte-order mark; some Windows tools write one.
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    // One up-front check is much faster than serde_json validating each borrowed slice.
    let text = std::str::from_utf8(input).map_err(|e| {
        let offset = e.valid_up_to();
        let (line, column) = line_col(input, offset);
        BundleError::NotUtf8 {
            offset,
            line,
            column,
        }
    })?;
    match text
        .bytes()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        None => return Err(BundleError::Empty),
        Some(b'{') => {}
        Some(first) => {
            return Err(match serde_json::from_str::<IgnoredAny>(text) {
                Err(e) => json_error(&e),
                Ok(_) => BundleError::NotBundle {
                    reason: format!("the top level is {}, not an object", kind_of(first)),
                },
            });
        }
    }

    let mut st = State {
        text,
        builder: Builder::new(text.len()),
        scratch: Vec::new(),
        failure: None,
        current: None,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let result = TopSeed { st: &mut st }
        .deserialize(&mut de)
        .and_then(|top| de.end().map(|()| top));
    let top = match result {
        Ok(top) => top,
        Err(e) => {
            return Err(match (st.failure.take(), st.current) {
                (Some(failure), _) => failure,
                // The input ends inside an object: a cut-off document, not a bad object.
                (None, Some(_)) if e.is_eof() => json_error(&e),
                (None, Some(index)) => {
                    let offset = offset_of_line_col(text, e.line(), e.column());
                    BundleError::Object {
                        position: position(text, index, offset),
                        reason: format!("not valid JSON: {}", bare_message(&e)),
                    }
                }
                (None, None) => json_error(&e),
            });
        }
    };
    let kind_ok = match top.kind {
        None => {
            return Err(not_bundle(
                r#"there is no "type": "bundle" at the top level"#,
            ));
        }
        Some(raw) => {
            raw == r#""bundle""# || serde_json::from_str::<String>(raw).is_ok_and(|s| s == "bundle")
        }
    };
    if !kind_ok {
        let raw = top.kind.unwrap_or_default();
        let shown = match plain_string(raw) {
            Some(s) => show(s),
            None => show_json(raw),
        };
        return Err(not_bundle(format!(
            r#""type" is {shown}, expected "bundle""#
        )));
    }
    if !top.has_objects {
        return Err(not_bundle(r#"there is no "objects" array"#));
    }
    st.builder.finish(top.id).map_err(not_bundle)
}

/// Extract one object from its JSON text; its references are appended to `refs`, and its
/// `refs` span is left empty for the caller to fill. Used for the input's objects and for the
/// embedded well-known objects.
pub(super) fn object<'a>(raw: &'a str, refs: &mut Vec<&'a str>) -> Result<Object<'a>, String> {
    object_and_ends(raw, refs).map(|(o, _)| o)
}

/// [`object`], and which of its end references ([`SOURCE`], …) are present.
fn object_and_ends<'a>(raw: &'a str, refs: &mut Vec<&'a str>) -> Result<(Object<'a>, u8), String> {
    let first = raw.as_bytes().first().copied().unwrap_or(b' ');
    if first != b'{' {
        return Err(format!("not a JSON object but {}", kind_of(first)));
    }
    let start = refs.len();
    let mut de = serde_json::Deserializer::from_str(raw);
    let fields = ObjectSeed { refs }.deserialize(&mut de).map_err(|e| {
        refs.truncate(start);
        bare_message(&e)
    })?;
    let escaped_len = u32::try_from(raw.len() + escaped_extra(raw.as_bytes()))
        .map_err(|_| "the object is larger than 4 GiB".to_string())?;
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
            escaped_len,
        },
        fields.ends,
    ))
}

/// A relationship needs both ends and a sighting what it sighted: OpenCTI's worker raises on
/// one without, and discards the whole chunk that carried it.
fn check_ends(id: &str, kind: &str, ends: u8) -> Result<(), String> {
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

struct State<'a> {
    text: &'a str,
    builder: Builder<'a>,
    /// References of the object being read; reused.
    scratch: Vec<&'a str>,
    /// Our own error, more precise than the serde_json error that carried it out.
    failure: Option<BundleError>,
    /// Index of the element of `objects` being read, for positions of JSON syntax errors.
    current: Option<usize>,
}

struct TopLevel<'a> {
    kind: Option<&'a str>,
    id: Option<&'a str>,
    has_objects: bool,
}

struct TopSeed<'s, 'a> {
    st: &'s mut State<'a>,
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_, 'de> {
    type Value = TopLevel<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_, 'de> {
    type Value = TopLevel<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a STIX bundle (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut top = TopLevel {
            kind: None,
            id: None,
            has_objects: false,
        };
        while let Some(key) = map.next_key::<TopKey>()? {
            match key {
                TopKey::Type => {
                    let raw: &RawValue = map.next_value()?;
                    if top.kind.replace(raw.get()).is_some() {
                        return Err(self.fail(not_bundle(r#""type" appears twice"#)));
                    }
                }
                TopKey::Id => {
                    // Optional and never reused (chunks get fresh ids): keep it when plain.
                    let raw: &RawValue = map.next_value()?;
                    top.id = plain_string(raw.get());
                }
                TopKey::Objects => {
                    if top.has_objects {
                        return Err(self.fail(not_bundle(r#""objects" appears twice"#)));
                    }
                    map.next_value_seed(ObjectsSeed { st: &mut *self.st })?;
                    top.has_objects = true;
                }
                TopKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(top)
    }
}

impl TopSeed<'_, '_> {
    fn fail<E: de::Error>(self, e: BundleError) -> E {
        self.st.failure = Some(e);
        E::custom("bundle stage failure")
    }
}

struct ObjectsSeed<'s, 'a> {
    st: &'s mut State<'a>,
}

impl ObjectsSeed<'_, '_> {
    fn not_array<E: de::Error>(self, what: &str) -> Result<(), E> {
        self.st.failure = Some(not_bundle(format!(r#""objects" is {what}, not an array"#)));
        Err(E::custom("bundle stage failure"))
    }
}

impl<'de> DeserializeSeed<'de> for ObjectsSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        // `any`, not `seq`: serde_json reports a non-array to `seq` without asking us.
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ObjectsSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of STIX objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let st = self.st;
        loop {
            let index = st.builder.seen();
            st.current = Some(index);
            let Some(raw) = seq.next_element::<&'de RawValue>()? else {
                break;
            };
            let raw = raw.get();
            st.scratch.clear();
            // Only here, not in `object`: `fetch` passes such objects on (DISINFOX's data is
            // not ours to reject), while what is pushed must not carry them.
            let checked = object_and_ends(raw, &mut st.scratch)
                .and_then(|(o, ends)| check_ends(o.id, o.kind, ends).map(|()| o));
            match checked.and_then(|o| st.builder.add(o, &st.scratch)) {
                Ok(()) => {}
                Err(reason) => {
                    let offset = raw.as_ptr() as usize - st.text.as_ptr() as usize;
                    st.failure = Some(BundleError::Object {
                        position: position(st.text, index, Some(offset)),
                        reason,
                    });
                    return Err(de::Error::custom("bundle stage failure"));
                }
            }
        }
        st.current = None;
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        self.not_array("an object")
    }
    fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<(), E> {
        self.not_array("a string")
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.not_array("a string")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.not_array("a boolean")
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.not_array("a number")
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.not_array("a number")
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.not_array("a number")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.not_array("null")
    }
}

enum TopKey {
    Type,
    Id,
    Objects,
    Other,
}

impl<'de> de::Deserialize<'de> for TopKey {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TopKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, k: &str) -> Result<TopKey, E> {
                Ok(match k {
                    "type" => TopKey::Type,
                    "id" => TopKey::Id,
                    "objects" => TopKey::Objects,
                    _ => TopKey::Other,
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

/// Bits of [`Fields::ends`]: the top-level end references present as strings.
const SOURCE: u8 = 1;
const TARGET: u8 = 2;
const SIGHTING_OF: u8 = 4;

/// How a key of an object is treated.
enum Key {
    Id,
    Type,
    Modified,
    /// A top-level `source_ref`, `target_ref` or `sighting_of_ref`: its bit.
    End(u8),
    Ref,
    Refs,
    Other,
}

fn classify(k: &str, top: bool) -> Key {
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

#[derive(Default)]
struct Fields<'a> {
    id: Option<&'a str>,
    kind: Option<&'a str>,
    modified: Option<&'a str>,
    ends: u8,
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

/// The content of a JSON string literal without escapes, else `None`.
fn plain_string(raw: &str) -> Option<&str> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.contains('\\')).then_some(inner)
}

fn not_bundle(reason: impl Into<String>) -> BundleError {
    BundleError::NotBundle {
        reason: reason.into(),
    }
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

/// A value for a one-line message: JSON-ish quoting (escapes newlines), at most ~80 chars.
fn show(s: &str) -> String {
    const MAX: usize = 80;
    if s.len() <= MAX {
        return format!("{s:?}");
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}…", &s[..end])
}

/// A JSON value for a one-line message: as written, line breaks as spaces, at most ~80 chars.
fn show_json(raw: &str) -> String {
    let one_line: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(81)
        .collect();
    match one_line.char_indices().nth(80) {
        Some((end, _)) => format!("{}…", &one_line[..end]),
        None => one_line,
    }
}

/// serde_json's message without its " at line L column C" suffix.
fn bare_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match full.strip_suffix(&suffix) {
        Some(bare) => bare.to_string(),
        None => full,
    }
}

fn json_error(e: &serde_json::Error) -> BundleError {
    BundleError::NotJson {
        reason: bare_message(e),
        line: e.line(),
        column: e.column(),
    }
}

fn offset_of_line_col(text: &str, line: usize, column: usize) -> Option<usize> {
    if line == 0 {
        return None;
    }
    let line_start = if line == 1 {
        0
    } else {
        text.bytes()
            .enumerate()
            .filter(|&(_, b)| b == b'\n')
            .nth(line - 2)
            .map(|(i, _)| i + 1)?
    };
    Some((line_start + column.saturating_sub(1)).min(text.len()))
}

fn position(text: &str, index: usize, offset: Option<usize>) -> ObjectPosition {
    ObjectPosition {
        index,
        at: offset.map(|o| {
            let (line, column) = line_col(text.as_bytes(), o);
            (o, line, column)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{bundle, id, obj};
    use super::*;

    #[test]
    fn relationships_and_sightings_need_their_ends() {
        let (s, t) = (id("intrusion-set", 2), id("location", 3));
        let refused = [
            (
                "relationship",
                format!(r#""target_ref":"{t}""#),
                "source_ref",
            ),
            (
                "relationship",
                format!(r#""source_ref":"{s}""#),
                "target_ref",
            ),
            (
                "relationship",
                format!(r#""source_ref":null,"target_ref":"{t}""#),
                "source_ref",
            ),
            // Nested keys are references, not ends.
            (
                "relationship",
                format!(r#""source_ref":"{s}","x":{{"target_ref":"{t}"}}"#),
                "target_ref",
            ),
            (
                "sighting",
                format!(r#""where_sighted_refs":["{t}"]"#),
                "sighting_of_ref",
            ),
        ];
        for (kind, extra, missing) in refused {
            let text = bundle(&[obj("note", 9, ""), obj(kind, 1, &extra)]);
            let err = parse(text.as_bytes()).unwrap_err();
            let msg = err.to_string();
            assert!(msg.starts_with("objects[1]"), "{msg}");
            assert!(msg.contains(&id(kind, 1)), "{msg}");
            assert!(msg.contains(&format!("no \"{missing}\"")), "{msg}");
            assert!(!msg.contains('\n'));
        }
        let accepted = [
            (
                "relationship",
                format!(r#""source_ref":"{s}","target_ref":"{t}""#),
            ),
            ("sighting", format!(r#""sighting_of_ref":"{s}""#)),
            ("note", String::new()),
        ];
        for (kind, extra) in accepted {
            let text = bundle(&[obj(kind, 1, &extra)]);
            assert!(parse(text.as_bytes()).is_ok(), "{kind} {extra}");
        }
    }

    fn err(input: &str) -> String {
        match parse(input.as_bytes()) {
            Ok(p) => panic!("accepted {input:?}: {} objects", p.objects.len()),
            Err(e) => {
                let s = e.to_string();
                assert!(!s.contains('\n'), "multi-line message: {s}");
                s
            }
        }
    }

    #[test]
    fn accepts_disinfox_shape() {
        let o = obj(
            "relationship",
            7,
            r#""created_by_ref":"identity--9ac61d58-60f0-40b8-8b96-2f1f4858534b","modified":"2026-11-27T21:51:42.834Z","source_ref":"intrusion-set--0548a93d-e172-56af-847e-3072a50047d8","target_ref":"location--c1257cd0-4b5c-53e7-a3b5-4f7b6aeb6209""#,
        );
        let text = bundle(std::slice::from_ref(&o)) + "\n";
        let p = parse(text.as_bytes()).unwrap();
        assert_eq!(
            p.bundle_id,
            Some("bundle--5d0092c5-5f74-4287-9642-33f4c354e56d")
        );
        assert_eq!(p.objects.len(), 1);
        let x = p.objects[0];
        assert_eq!(x.raw, o);
        assert_eq!(x.id, id("relationship", 7));
        assert_eq!(x.kind, "relationship");
        assert_eq!(x.modified, Some("2026-11-27T21:51:42.834Z"));
        assert_eq!(
            p.refs(&x).collect::<Vec<_>>(),
            [
                "identity--9ac61d58-60f0-40b8-8b96-2f1f4858534b",
                "intrusion-set--0548a93d-e172-56af-847e-3072a50047d8",
                "location--c1257cd0-4b5c-53e7-a3b5-4f7b6aeb6209"
            ]
        );
    }

    #[test]
    fn raw_is_byte_for_byte_even_pretty_printed() {
        let text = "{\n  \"type\": \"bundle\",\n  \"objects\": [\n    {\"type\": \"identity\",\n     \"id\": \"identity--9ac61d58-60f0-40b8-8b96-2f1f4858534b\"}\n  ]\n}\n";
        let p = parse(text.as_bytes()).unwrap();
        assert_eq!(
            p.objects[0].raw,
            "{\"type\": \"identity\",\n     \"id\": \"identity--9ac61d58-60f0-40b8-8b96-2f1f4858534b\"}"
        );
        assert_eq!(p.bundle_id, None);
    }

    #[test]
    fn finds_refs_at_any_depth() {
        let o = obj(
            "attack-pattern",
            1,
            r#""description":"mentions source_ref in text","granular_markings":[{"marking_ref":"marking-definition--00000000-0000-4000-8000-000000000001","selectors":["name"]}],"object_marking_refs":["marking-definition--00000000-0000-4000-8000-000000000002"],"extensions":{"x-ext":{"deep":{"thing_refs":["x--00000000-0000-4000-8000-000000000003",5,null],"n":1.5,"b":true}}},"external_references":[{"source_name":"mitre-attack","url":"https://x/_ref"}],"sample_ref":{"inner_ref":"y--00000000-0000-4000-8000-000000000004"}"#,
        );
        let text = bundle(&[o]);
        let p = parse(text.as_bytes()).unwrap();
        let refs: Vec<&str> = p.refs(&p.objects[0]).collect();
        assert_eq!(
            refs,
            [
                "marking-definition--00000000-0000-4000-8000-000000000001",
                "marking-definition--00000000-0000-4000-8000-000000000002",
                "x--00000000-0000-4000-8000-000000000003",
                "y--00000000-0000-4000-8000-000000000004",
            ]
        );
    }

    #[test]
    fn nested_id_type_modified_are_not_the_objects() {
        let o = obj(
            "note",
            1,
            r#""modified":"2024-01-01T00:00:00.000Z","extensions":{"x_ref_holder":{"id":"zzz","type":"q","modified":"x","a_ref":"q--00000000-0000-4000-8000-000000000009"}}"#,
        );
        let text = bundle(&[o]);
        let p = parse(text.as_bytes()).unwrap();
        assert_eq!(p.objects[0].kind, "note");
        assert_eq!(p.objects[0].modified, Some("2024-01-01T00:00:00.000Z"));
        assert_eq!(p.refs(&p.objects[0]).count(), 1);
    }

    #[test]
    fn rejects_non_json_with_position() {
        assert_eq!(
            err("garbage"),
            "not valid JSON: expected value at line 1, column 1"
        );
        assert_eq!(err("  \n "), "not a STIX bundle: the input is empty");
        assert_eq!(
            err(r#"{"type":"bundle","objects":[]"#),
            "not valid JSON: EOF while parsing an object at line 1, column 29"
        );
        assert_eq!(
            err("{\"type\":\"bundle\",\"objects\":[]} x"),
            "not valid JSON: trailing characters at line 1, column 32"
        );
    }

    #[test]
    fn rejects_invalid_utf8_with_offset() {
        let mut bytes = br#"{"type":"bundle","objects":[]}"#.to_vec();
        bytes.insert(3, 0xff);
        assert_eq!(
            parse(&bytes).unwrap_err(),
            BundleError::NotUtf8 {
                offset: 3,
                line: 1,
                column: 4
            }
        );
    }

    #[test]
    fn rejects_non_bundles() {
        assert_eq!(
            err("[1,2]"),
            "not a STIX bundle: the top level is an array, not an object"
        );
        assert_eq!(
            err("{}"),
            r#"not a STIX bundle: there is no "type": "bundle" at the top level"#
        );
        assert_eq!(
            err(r#"{"type":"indicator","objects":[]}"#),
            r#"not a STIX bundle: "type" is "indicator", expected "bundle""#
        );
        assert_eq!(
            err(r#"{"type":["bundle"],"objects":[]}"#),
            r#"not a STIX bundle: "type" is ["bundle"], expected "bundle""#
        );
        assert_eq!(
            err(r#"{"type":"bundle"}"#),
            r#"not a STIX bundle: there is no "objects" array"#
        );
        assert_eq!(
            err(r#"{"type":"bundle","objects":{"a":1}}"#),
            r#"not a STIX bundle: "objects" is an object, not an array"#
        );
        assert_eq!(
            err(r#"{"type":"bundle","objects":null}"#),
            r#"not a STIX bundle: "objects" is null, not an array"#
        );
        assert_eq!(
            err(r#"{"message":"The token is invalid"}"#),
            r#"not a STIX bundle: there is no "type": "bundle" at the top level"#
        );
    }

    #[test]
    fn rejects_bad_objects_with_index_and_offset() {
        let good = obj("identity", 1, "");
        let text =
            format!(r#"{{"type":"bundle","objects":[{good},{{"type":"identity","id":"foo"}}]}}"#);
        let offset = text.find(r#"{"type":"identity","id":"foo"}"#).unwrap();
        assert_eq!(
            err(&text),
            format!(
                r#"objects[1] at byte {offset} (line 1, column {}): id "foo" is not of the form <type>--<uuid>"#,
                offset + 1
            )
        );
        let cases = [
            (r#"5"#, "not a JSON object but a number"),
            (
                r#"{"id":"identity--00000000-0000-4000-8000-000000000001"}"#,
                r#"there is no "type""#,
            ),
            (r#"{"type":"identity"}"#, r#"there is no "id""#),
            (
                r#"{"type":"","id":"--00000000-0000-4000-8000-000000000001"}"#,
                r#""type" is empty"#,
            ),
            (
                r#"{"type":"identity","id":"tool--00000000-0000-4000-8000-000000000001"}"#,
                r#"id "tool--00000000-0000-4000-8000-000000000001" does not start with its type "identity""#,
            ),
            (
                r#"{"type":"identity","id":"identity--00000000-0000-4000-8000-00000000000g"}"#,
                r#"id "identity--00000000-0000-4000-8000-00000000000g" is not of the form <type>--<uuid>"#,
            ),
            (
                r#"{"type":"identity","id":"identity-00000000-0000-4000-8000-0000000000001"}"#,
                r#"id "identity-00000000-0000-4000-8000-0000000000001" is not of the form <type>--<uuid>"#,
            ),
            (
                r#"{"type":"identity","id":5}"#,
                r#"invalid type: integer `5`, expected "id" to be a string"#,
            ),
            (
                r#"{"type":["identity"],"id":"x"}"#,
                r#"invalid type: sequence, expected "type" to be a string"#,
            ),
            (
                r#"{"type":"identity","id":"identity--00000000-0000-4000-8000-000000000001","id":"identity--00000000-0000-4000-8000-000000000001"}"#,
                r#""id" appears twice"#,
            ),
            (
                r#"{"type":"identity","id":"identity--00000000-0000-4000-8000-00000000000\u0031"}"#,
                r#""id" contains JSON escape sequences, which are not accepted there"#,
            ),
        ];
        for (item, reason) in cases {
            let text = format!(r#"{{"type":"bundle","objects":[{item}]}}"#);
            assert_eq!(
                err(&text),
                format!("objects[0] at byte 28 (line 1, column 29): {reason}"),
                "{item}"
            );
        }
    }

    #[test]
    fn syntax_error_inside_object_names_the_object() {
        let good = obj("identity", 1, "");
        let text =
            format!(r#"{{"type":"bundle","objects":[{good},{{"type":"identity" "id":1}}]}}"#);
        // serde_json stops at the unexpected `"id"`.
        let at = text.find(r#""id":1"#).unwrap();
        assert_eq!(
            err(&text),
            format!(
                "objects[1] at byte {at} (line 1, column {}): not valid JSON: expected `,` or `}}`",
                at + 1
            )
        );
    }

    #[test]
    fn long_values_are_truncated_in_messages() {
        let long = "x".repeat(500);
        let text =
            format!(r#"{{"type":"bundle","objects":[{{"type":"identity","id":"{long}"}}]}}"#);
        let msg = err(&text);
        assert!(msg.len() < 200, "{msg}");
        assert!(msg.contains('…'));
    }

    #[test]
    fn uppercase_uuid_and_extra_top_level_keys_are_fine() {
        let text = r#"{"spec_version":"2.1","type":"bundle","x":{"y":[1,2]},"objects":[{"type":"identity","id":"identity--9AC61D58-60F0-40B8-8B96-2F1F4858534B"}]}"#;
        let p = parse(text.as_bytes()).unwrap();
        assert_eq!(p.len(), 1);
        assert!(!p.is_empty());
    }

    #[test]
    fn well_known_constants_parse() {
        for raw in super::super::WELL_KNOWN {
            let mut refs = Vec::new();
            let o = object(raw, &mut refs).unwrap();
            assert!(o.id.starts_with(o.kind));
        }
    }
}
