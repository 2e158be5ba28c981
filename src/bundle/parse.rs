//! Validation and field extraction without a DOM, the whole input in memory (`push`, `sync`).
//!
//! Pass 1 walks the bundle with serde_json through the envelope rules (`envelope.rs`) and takes
//! each element of `objects` as a borrowed `RawValue` (a skip, no allocation). Pass 2
//! (`object.rs`) reads that slice again, still hot in cache; the index (`index.rs`) dedupes and
//! resolves references while it is.

use serde::de::{self, DeserializeSeed, SeqAccess};
use serde_json::value::RawValue;

use super::envelope::{self, Sink, Stop, TopSeed, not_bundle};
use super::index::Builder;
use super::object::{check_ends, object_and_ends};
use super::{BundleError, ObjectPosition, Parsed, line_col};

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
    if text
        .bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        return Err(BundleError::Empty);
    }
    let mut st = State {
        text,
        builder: Builder::new(text.len()),
        scratch: Vec::new(),
        failure: None,
        current: None,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let result = TopSeed { sink: &mut st }
        .deserialize(&mut de)
        .and_then(|top| de.end().map(|()| top));
    let top = result.map_err(|e| {
        envelope::failure(
            &e,
            Stop {
                own: st.failure.take(),
                line_col: (e.line(), e.column()),
                current: st.current,
                offset_of: &|line, column| offset_of_line_col(text, line, column),
                position: &|index, offset| position(text, index, offset),
            },
        )
    })?;
    top.check()?;
    st.builder.finish().map_err(not_bundle)
}

impl<'a> Sink<'a> for State<'a> {
    type Raw = &'a RawValue;

    fn objects<A: SeqAccess<'a>>(
        &mut self,
        mut seq: A,
        _: Option<&RawValue>,
    ) -> Result<(), A::Error> {
        loop {
            let index = self.builder.seen();
            self.current = Some(index);
            let Some(raw) = seq.next_element::<&'a RawValue>()? else {
                break;
            };
            let raw = raw.get();
            self.scratch.clear();
            // Only here, not in `object`: `fetch` passes such objects on (DISINFOX's data is
            // not ours to reject), while what is pushed must not carry them.
            let checked = object_and_ends(raw, &mut self.scratch)
                .and_then(|(o, ends)| check_ends(o.id, o.kind, ends).map(|()| o));
            if let Err(reason) = checked.and_then(|o| self.builder.add(o, &self.scratch)) {
                let offset = raw.as_ptr() as usize - self.text.as_ptr() as usize;
                self.failure = Some(BundleError::Object {
                    position: position(self.text, index, Some(offset)),
                    reason,
                });
                return Err(de::Error::custom("bundle stage failure"));
            }
        }
        self.current = None;
        Ok(())
    }

    fn fail(&mut self, error: BundleError) {
        self.failure = Some(error);
    }
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
    use super::super::object::object;
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
