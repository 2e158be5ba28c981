//! A quicker reading of one object's JSON text, for the objects DISINFOX actually sends: it
//! takes what `object.rs` takes (`id`, `type`, `modified`, the references, the end
//! references present) in one pass of its own, strings found a block at a time, with none of
//! serde's generic machinery per key and value.
//!
//! It only ever says yes to text serde_json accepts, and then it has taken exactly what
//! serde_json's reading takes: wherever the two could differ, or the text is wrong, it says
//! `None` and serde_json reads the text instead, and words any refusal. So it is stricter
//! than serde_json on purpose:
//! - a key, a reference, `id`, `type` or `modified` with an escape sequence;
//! - a `\u` escape that is a lone surrogate (serde_json lets it pass where it only skips a
//!   value, and refuses it where it reads one);
//! - a number with an exponent or more than 15 digits (range checks differ the same way);
//! - nesting deeper than [`MAX_DEPTH`], `id`, `type` or `modified` twice, or bytes after the
//!   object.

use super::block::{BLOCK, masks};
use super::keys::{Fields, Key, classify};

/// Deeper than this, serde_json decides (its own limit is 128).
const MAX_DEPTH: u32 = 100;

/// Longest number taken here: 15 significant digits read the same as any `f64`.
const MAX_DIGITS: usize = 15;

/// `Some` with the fields of the object `raw`, its references appended to `refs`; `None`
/// (and `refs` as it was) where serde_json has to read it.
pub(super) fn read<'a>(raw: &'a str, refs: &mut Vec<&'a str>) -> Option<Fields<'a>> {
    let start = refs.len();
    let mut reader = Reader {
        raw,
        s: raw.as_bytes(),
        i: 0,
        depth: 0,
        refs,
    };
    let fields = reader.top();
    if fields.is_none() || reader.i != reader.s.len() {
        reader.refs.truncate(start);
        return None;
    }
    fields
}

struct Reader<'a, 'r> {
    raw: &'a str,
    s: &'a [u8],
    i: usize,
    depth: u32,
    refs: &'r mut Vec<&'a str>,
}

/// What a value is read for.
#[derive(Clone, Copy)]
enum Role {
    /// A `*_ref` value: a string is a reference.
    Ref,
    /// A `*_refs` value: an array's items are `*_ref` values.
    Refs,
    /// Anything else: only the keys inside matter.
    Nested,
}

impl<'a> Reader<'a, '_> {
    fn top(&mut self) -> Option<Fields<'a>> {
        let mut fields = Fields::default();
        if self.open(b'{', b'}')? {
            return Some(fields);
        }
        loop {
            let key = self.key(true)?;
            match key {
                Key::Id => put(&mut fields.id, self.plain_string()?)?,
                Key::Type => put(&mut fields.kind, self.plain_string()?)?,
                Key::Modified => put(&mut fields.modified, self.plain_string()?)?,
                Key::End(bit) => {
                    let before = self.refs.len();
                    self.value(Role::Ref)?;
                    if self.refs.len() > before {
                        fields.ends |= bit;
                    }
                }
                Key::Ref => self.value(Role::Ref)?,
                Key::Refs => self.value(Role::Refs)?,
                Key::Other => self.value(Role::Nested)?,
            }
            if self.next(b'}')? {
                return Some(fields);
            }
        }
    }

    /// `"key":`, classified; `None` for a key with an escape sequence.
    fn key(&mut self, top: bool) -> Option<Key> {
        self.ws();
        self.expect(b'"')?;
        let (from, to, escaped) = self.string_body()?;
        if escaped {
            return None;
        }
        let key = classify(self.raw.get(from..to)?, top);
        self.ws();
        self.expect(b':')?;
        self.ws();
        Some(key)
    }

    fn value(&mut self, role: Role) -> Option<()> {
        self.ws();
        match (*self.s.get(self.i)?, role) {
            (b'"', Role::Ref | Role::Refs) => {
                let r = self.plain_string()?;
                self.refs.push(r);
            }
            (b'"', Role::Nested) => {
                self.i += 1;
                self.string_body()?;
            }
            (b'[', Role::Refs) => self.array(Role::Ref)?,
            (b'[', _) => self.array(Role::Nested)?,
            (b'{', _) => self.object()?,
            _ => self.scalar()?,
        }
        Some(())
    }

    /// An object below the top: `*_ref` and `*_refs` keys are references wherever they are.
    fn object(&mut self) -> Option<()> {
        if self.open(b'{', b'}')? {
            return Some(());
        }
        loop {
            let role = match self.key(false)? {
                Key::Ref | Key::End(_) => Role::Ref,
                Key::Refs => Role::Refs,
                _ => Role::Nested,
            };
            self.value(role)?;
            if self.next(b'}')? {
                return Some(());
            }
        }
    }

    fn array(&mut self, items: Role) -> Option<()> {
        if self.open(b'[', b']')? {
            return Some(());
        }
        loop {
            self.value(items)?;
            if self.next(b']')? {
                return Some(());
            }
        }
    }

    /// Consumes `open` and counts the level; `Some(true)` when `close` follows at once (then
    /// consumed, and the level left).
    fn open(&mut self, open: u8, close: u8) -> Option<bool> {
        self.ws();
        self.expect(open)?;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        self.next_is(close)
    }

    /// After a member: `Some(false)` after a comma, `Some(true)` at `close` (the level left).
    fn next(&mut self, close: u8) -> Option<bool> {
        if self.next_is(close)? {
            return Some(true);
        }
        self.expect(b',')?;
        Some(false)
    }

    fn next_is(&mut self, close: u8) -> Option<bool> {
        self.ws();
        if *self.s.get(self.i)? == close {
            self.i += 1;
            self.depth -= 1;
            return Some(true);
        }
        Some(false)
    }

    /// A string with no escape sequence, as a slice of the text.
    fn plain_string(&mut self) -> Option<&'a str> {
        self.ws();
        self.expect(b'"')?;
        let (from, to, escaped) = self.string_body()?;
        if escaped {
            return None;
        }
        self.raw.get(from..to)
    }

    /// From just after an opening quote to just after the closing one: the content's bounds
    /// and whether it holds an escape sequence.
    fn string_body(&mut self) -> Option<(usize, usize, bool)> {
        let from = self.i;
        let mut i = self.i;
        let mut escaped = false;
        loop {
            let at = match self.s.get(i..i + BLOCK) {
                Some(block) => {
                    let m = masks(block.try_into().ok()?);
                    let stop = m.quote | m.backslash | m.control;
                    if stop == 0 {
                        i += BLOCK;
                        continue;
                    }
                    i + stop.trailing_zeros() as usize
                }
                None => {
                    i + self.s[i..]
                        .iter()
                        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?
                }
            };
            match self.s[at] {
                b'"' => {
                    self.i = at + 1;
                    return Some((from, at, escaped));
                }
                b'\\' => {
                    i = self.escape(at + 1)?;
                    escaped = true;
                }
                _ => return None,
            }
        }
    }

    /// The escape sequence whose letter is at `i`; where it ends.
    fn escape(&self, i: usize) -> Option<usize> {
        match *self.s.get(i)? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(i + 1),
            b'u' => {
                let unit = self.hex4(i + 1)?;
                match unit {
                    0xd800..=0xdbff => {
                        // A leading surrogate: a trailing one must follow.
                        let next = self.s.get(i + 5..i + 7)?;
                        let low = self.hex4(i + 7)?;
                        (next == b"\\u" && (0xdc00..=0xdfff).contains(&low)).then_some(i + 11)
                    }
                    0xdc00..=0xdfff => None,
                    _ => Some(i + 5),
                }
            }
            _ => None,
        }
    }

    fn hex4(&self, i: usize) -> Option<u16> {
        self.s.get(i..i + 4)?.iter().try_fold(0u16, |n, &b| {
            Some(n << 4 | char::from(b).to_digit(16)? as u16)
        })
    }

    /// `true`, `false`, `null` or a number of the plain kind (see the module's notes).
    fn scalar(&mut self) -> Option<()> {
        let rest = &self.s[self.i..];
        for word in [&b"true"[..], b"false", b"null"] {
            if rest.starts_with(word) {
                self.i += word.len();
                return Some(());
            }
        }
        self.number()
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?`, at most [`MAX_DIGITS`] digits.
    fn number(&mut self) -> Option<()> {
        let s = self.s;
        let mut i = self.i;
        if s.get(i) == Some(&b'-') {
            i += 1;
        }
        let int = digits(s, i);
        if int == 0 || (int > 1 && s[i] == b'0') {
            return None;
        }
        i += int;
        let mut frac = 0;
        if s.get(i) == Some(&b'.') {
            frac = digits(s, i + 1);
            if frac == 0 {
                return None;
            }
            i += 1 + frac;
        }
        if int + frac > MAX_DIGITS || matches!(s.get(i), Some(b'e' | b'E')) {
            return None;
        }
        self.i = i;
        Some(())
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        (self.s.get(self.i) == Some(&b)).then(|| self.i += 1)
    }
}

/// How many ASCII digits start at `i`.
fn digits(s: &[u8], i: usize) -> usize {
    s.get(i..).map_or(0, |rest| {
        rest.iter().take_while(|b| b.is_ascii_digit()).count()
    })
}

/// Sets a field read once; a second one is serde_json's to refuse.
fn put<'a>(slot: &mut Option<&'a str>, value: &'a str) -> Option<()> {
    slot.replace(value).is_none().then_some(())
}

#[cfg(test)]
mod tests {
    use super::super::generator::{GenOptions, generate};
    use super::super::object::by_serde;
    use super::*;

    /// The verdict on `raw`: `quick` says nothing serde_json would not, and takes the same.
    fn agree(raw: &str) -> bool {
        let (mut quick_refs, mut serde_refs) = (Vec::new(), Vec::new());
        let quick = read(raw, &mut quick_refs);
        let serde = by_serde(raw, &mut serde_refs);
        match (quick, serde) {
            (Some(q), Ok(s)) => {
                assert_eq!(q, s, "{raw}");
                assert_eq!(quick_refs, serde_refs, "{raw}");
                true
            }
            (Some(q), Err(e)) => panic!("quick took {q:?} where serde_json says {e}: {raw}"),
            (None, _) => {
                assert!(quick_refs.is_empty(), "{raw}");
                false
            }
        }
    }

    #[test]
    fn generated_objects_are_read_as_serde_json_reads_them() {
        let g = generate(&GenOptions::new(300));
        let raws = g.raws();
        let quick = raws.iter().filter(|raw| agree(raw)).count();
        // The fast way is the common way: all but the objects with a key or a reference
        // escaped, if any.
        assert!(quick * 100 >= raws.len() * 99, "{quick} of {}", raws.len());
    }

    #[test]
    fn real_disinfox_objects_are_read_as_serde_json_reads_them() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/disinfox");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).expect("the shared fixtures") {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            for o in v["objects"].as_array().into_iter().flatten() {
                let compact = serde_json::to_string(o).unwrap();
                let pretty = serde_json::to_string_pretty(o).unwrap();
                assert!(agree(&compact), "{compact}");
                assert!(agree(&pretty), "{pretty}");
                seen += 1;
            }
        }
        assert!(seen > 10, "only {seen} objects in the fixtures");
    }

    /// Each case: does `quick` take it (`true`), or leave it to serde_json?
    #[test]
    fn hard_cases_are_taken_or_left_as_designed() {
        let id = "identity--8f7a3c1e-9b2d-4e5f-a6b7-c8d9e0f1a2b3";
        let o = |rest: &str| format!(r#"{{"type":"identity","id":"{id}"{rest}}}"#);
        let cases: &[(String, bool)] = &[
            (o(""), true),
            (
                o(r#","description":"a \"quote\", \\ and \n\t\/ \u00e9 \ud83d\ude00""#),
                true,
            ),
            (
                o(r#","x":[1,-0,0.5,-12.25,true,false,null,{},[],"s"]"#),
                true,
            ),
            (
                o(r#","created_by_ref":"identity--1","object_refs":["a--1",{"b_ref":"c--2"}]"#),
                true,
            ),
            (
                o(r#","ext":{"k":[{"deep_refs":["d--3"]}],"n":{"source_ref":"e--4"}}"#),
                true,
            ),
            (o(r#","source_ref":"x--1","target_ref":{"z":1}"#), true),
            (
                o(r#","target_ref":"x--2","sighting_of_ref":["y--3"]"#),
                true,
            ),
            (o(" \n ,\t\"a\" : [ 1 , 2 ] ").replace('{', "{ "), true),
            // Left to serde_json: it refuses these, or could read them otherwise.
            (o(r#","x":"\ud800""#), false),
            (o(r#","x":"\udc00""#), false),
            (o(r#","x":"\ud800\u0041""#), false),
            (o(r#","x":"\q""#), false),
            (o(r#","x":"\u12""#), false),
            (o(",\"x\":\"a\u{1}b\""), false),
            (o(r#","x":1e5"#), false),
            (o(r#","x":1234567890123456"#), false),
            (o(r#","x":01"#), false),
            (o(r#","x":1."#), false),
            (o(r#","x":.5"#), false),
            (o(r#","x":-"#), false),
            (o(r#","x":tru"#), false),
            (o(r#","x":[1,]"#), false),
            (o(r#","x":{"a":1,}"#), false),
            (o(r#","x":[1 2]"#), false),
            (o(r#","x"1"#), false),
            (o(r#","#), false),
            (o(r#","created_by_ref":"identity\u002d-1""#), false),
            (o(r#","\u0078_ref":"a--1""#), false),
            (o(r#","type":"identity""#), false),
            (o(r#","modified":1"#), false),
            (format!("{} ", o("")), false),
            (format!("{}}}", o("")), false),
            (
                o(&format!(r#","x":{}{}"#, "[".repeat(120), "]".repeat(120))),
                false,
            ),
        ];
        for (raw, taken) in cases {
            assert_eq!(agree(raw), *taken, "{raw}");
        }
    }

    /// Every byte of valid objects changed to each byte that matters to JSON: whatever
    /// `quick` still takes, serde_json takes the same way (`agree` panics otherwise).
    #[test]
    fn corrupted_objects_are_never_taken_where_serde_json_differs() {
        let g = generate(&GenOptions::new(3));
        let swaps = b"\"\\{}[],:0-.eE+tfnu \x01a";
        for raw in g.raws().iter().take(12) {
            let bytes = raw.as_bytes();
            for at in 0..bytes.len() {
                for &b in swaps {
                    let mut v = bytes.to_vec();
                    v[at] = b;
                    if let Ok(text) = String::from_utf8(v) {
                        agree(&text);
                    }
                }
            }
        }
    }
}
