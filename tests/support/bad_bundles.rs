//! Inputs that are not valid bundles, each with one problem, and the words its message must
//! hold. `push`, `sync` and `fetch` must refuse each with the same message (the unit test in
//! `src/bundle/stream.rs` and `tests/integration/verdicts.rs` both read this table).

/// A valid object of `kind` with the uuid tail `n`.
fn object(kind: &str, n: u32, extra: &str) -> String {
    format!(r#"{{"id":"{kind}--00000000-0000-4000-8000-{n:012}","type":"{kind}"{extra}}}"#)
}

fn bundle(objects: &[String]) -> String {
    format!(
        r#"{{"id":"bundle--00000000-0000-4000-8000-000000000000","objects":[{}],"type":"bundle"}}"#,
        objects.join(",")
    )
}

/// `(name, input, words the message holds, structural)`: structural means the input is not a
/// bundle at all (a peer's answer like that is a protocol error, 76) rather than a bundle with
/// a bad object in it (65).
pub fn table() -> Vec<(&'static str, Vec<u8>, &'static str, bool)> {
    let good = bundle(&[object("intrusion-set", 1, ""), object("identity", 2, "")]);
    let pretty = format!(
        "{{\n  \"type\": \"bundle\",\n  \"objects\": [\n    {},\n    {}\n  ]\n}}\n",
        object("identity", 1, ""),
        r#"{"id": "nope", "type": "identity"}"#
    );
    let mut not_utf8_inside = good.clone().into_bytes();
    let at = not_utf8_inside
        .windows(8)
        .position(|w| w == b"identity")
        .unwrap();
    not_utf8_inside[at + 2] = 0xff;
    let mut bom_array = b"\xEF\xBB\xBF".to_vec();
    bom_array.extend_from_slice(b"[1]");
    vec![
        ("nothing", b"".to_vec(), "the input is empty", true),
        (
            "white space",
            b" \n\t\r\n".to_vec(),
            "the input is empty",
            true,
        ),
        (
            "an HTML page",
            b"<html>".to_vec(),
            "not valid JSON: expected value at line 1, column 1",
            true,
        ),
        (
            "an array",
            b"[1]".to_vec(),
            "the top level is an array, not an object",
            true,
        ),
        (
            "a string",
            b"\"bundle\"".to_vec(),
            "the top level is a string",
            true,
        ),
        ("null", b"null".to_vec(), "the top level is null", true),
        (
            "a number",
            b"42\n".to_vec(),
            "the top level is a number",
            true,
        ),
        (
            "a byte-order mark and an array",
            bom_array,
            "the top level is an array",
            true,
        ),
        (
            "an array cut off",
            b"[1, 2".to_vec(),
            "not valid JSON: EOF while parsing a list",
            true,
        ),
        (
            "no type",
            br#"{"incidents":[],"page":1}"#.to_vec(),
            r#"there is no "type": "bundle""#,
            true,
        ),
        (
            "another type",
            br#"{"objects":[],"type":"report"}"#.to_vec(),
            r#""type" is "report", expected "bundle""#,
            true,
        ),
        (
            "a type that is a number",
            br#"{"objects":[],"type":1}"#.to_vec(),
            r#""type" is 1, expected "bundle""#,
            true,
        ),
        (
            "type twice",
            br#"{"type":"bundle","type":"bundle","objects":[]}"#.to_vec(),
            r#""type" appears twice"#,
            true,
        ),
        (
            "no objects",
            br#"{"type":"bundle","id":"bundle--1"}"#.to_vec(),
            r#"there is no "objects" array"#,
            true,
        ),
        (
            "objects is an object",
            br#"{"type":"bundle","objects":{}}"#.to_vec(),
            r#""objects" is an object, not an array"#,
            true,
        ),
        (
            "objects is a string",
            br#"{"type":"bundle","objects":"x"}"#.to_vec(),
            r#""objects" is a string, not an array"#,
            true,
        ),
        (
            "objects twice",
            br#"{"type":"bundle","objects":[],"objects":[]}"#.to_vec(),
            r#""objects" appears twice"#,
            true,
        ),
        (
            "cut off",
            good.as_bytes()[..good.len() / 2].to_vec(),
            "not valid JSON: EOF while parsing",
            true,
        ),
        (
            "text after the bundle",
            format!("{good}\nx").into_bytes(),
            "not valid JSON: trailing characters at line 2, column 1",
            true,
        ),
        (
            "not UTF-8 in an object",
            not_utf8_inside,
            "not UTF-8 text: invalid byte at offset",
            true,
        ),
        (
            "not UTF-8 outside",
            b"{\"type\":\"bundle\",\xff}".to_vec(),
            "not UTF-8 text: invalid byte at offset 17 (line 1, column 18)",
            true,
        ),
        (
            "a bad id",
            bundle(&[
                object("identity", 1, ""),
                r#"{"id":"nope","type":"identity"}"#.into(),
            ])
            .into_bytes(),
            r#"objects[1] at byte 138 (line 1, column 139): id "nope" is not of the form <type>--<uuid>"#,
            false,
        ),
        (
            "a bad id, pretty-printed",
            pretty.into_bytes(),
            r#"objects[1] at byte 120 (line 5, column 5): id "nope""#,
            false,
        ),
        (
            "an element that is a number",
            bundle(&["17".into()]).into_bytes(),
            "objects[0] at byte 64 (line 1, column 65): not a JSON object but a number",
            false,
        ),
        (
            "an object without a type",
            bundle(&[r#"{"id":"identity--00000000-0000-4000-8000-000000000001"}"#.into()])
                .into_bytes(),
            "objects[0]",
            false,
        ),
        (
            "an id of another type",
            bundle(&[object("identity", 1, "").replacen(
                "\"type\":\"identity\"",
                "\"type\":\"malware\"",
                1,
            )])
            .into_bytes(),
            "objects[0] at byte 64",
            false,
        ),
        (
            "a syntax error in an object",
            bundle(&[r#"{"id":"x--1","type":"x",}"#.into()]).into_bytes(),
            "objects[0]",
            false,
        ),
    ]
}
