//! Where a JSON object ends, found chunk by chunk without parsing it: braces and brackets are
//! counted outside strings, and strings are skipped to their closing quote. Used by `stream`
//! to cut the elements of `objects` out of its buffer as slices, which serde_json then reads at
//! slice speed (`object.rs`) instead of one byte per call through a reader.
//!
//! The scanner only finds boundaries: it does not judge the JSON. An element it cuts is read
//! in full by serde_json afterwards, and whatever it is unsure of (anything but an object, or
//! nesting deeper than [`MAX_DEPTH`]) is left to the slow path, which gives the verdict.

/// Deeper than this, an element goes the slow way: serde_json's recursion limit (128) counts the
/// bundle's own two levels there, and not in a slice read alone.
pub(super) const MAX_DEPTH: u32 = 100;

/// A scan that can stop at the end of the bytes at hand and go on when more arrive.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Scan {
    /// How many bytes of the element were looked at.
    pub(super) seen: usize,
    /// What escaping adds to the bytes seen (quotes, backslashes, control bytes), counted on
    /// the way: exact for the valid JSON the element must be to be used (a control byte
    /// inside a string, which escaping would also count, makes serde_json refuse it).
    pub(super) extra: usize,
    depth: u32,
    in_string: bool,
    escaped: bool,
}

/// What the bytes at hand say about the element that starts at their first byte.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Found {
    /// The element is `bytes[..n]`.
    End(usize),
    /// More bytes are needed.
    More,
    /// Not an object, or too deep: the slow path decides.
    Unsure,
}

/// Classes of bytes outside strings.
const PLAIN: u8 = 0;
const OPEN: u8 = 1;
const CLOSE: u8 = 2;
const QUOTE: u8 = 3;

static CLASS: [u8; 256] = {
    let mut t = [PLAIN; 256];
    t[b'{' as usize] = OPEN;
    t[b'[' as usize] = OPEN;
    t[b'}' as usize] = CLOSE;
    t[b']' as usize] = CLOSE;
    t[b'"' as usize] = QUOTE;
    t
};

use super::block::{BLOCK, masks};
use super::escape::byte_extra;

/// How far one step of the scan got.
enum Step {
    /// Go on from this position.
    To(usize),
    Found(Found),
}

impl Scan {
    /// Goes on over `bytes` (the element's bytes from its first one, the part seen before
    /// included).
    pub(super) fn next(&mut self, bytes: &[u8]) -> Found {
        if self.seen == 0 {
            match bytes.first() {
                None => return Found::More,
                Some(b'{') => {}
                Some(_) => return Found::Unsure,
            }
        }
        let mut i = self.seen;
        while i < bytes.len() {
            let block = match bytes.get(i..i + BLOCK) {
                Some(b) if !self.escaped => self.block(b.try_into().expect("a block"), i),
                _ => None,
            };
            let step = block.unwrap_or_else(|| self.bytes(bytes, i, bytes.len().min(i + BLOCK)));
            match step {
                Step::To(next) => i = next,
                Step::Found(found) => {
                    if let Found::End(n) = found {
                        self.seen = n;
                    }
                    return found;
                }
            }
        }
        self.seen = i;
        Found::More
    }

    /// The 32 bytes at `at` all at once; `None` when they hold a backslash or a control byte,
    /// which the byte path counts and skips the way it always has.
    fn block(&mut self, block: &[u8; BLOCK], at: usize) -> Option<Step> {
        let m = masks(block);
        if m.backslash | m.control != 0 {
            return None;
        }
        // Bit i: byte i is inside a string, its opening quote included, its closing one not
        // (the parity of the quotes up to it, with no backslash to escape any).
        let mut inside = m.quote;
        for shift in [1, 2, 4, 8, 16] {
            inside ^= inside << shift;
        }
        if self.in_string {
            inside = !inside;
        }
        let mut structural = (m.open | m.close) & !inside;
        while structural != 0 {
            let bit = structural.trailing_zeros();
            structural &= structural - 1;
            if m.open >> bit & 1 == 1 {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Some(Step::Found(Found::Unsure));
                }
            } else {
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 {
                    let upto = u32::MAX >> (31 - bit);
                    self.extra += (m.quote & upto).count_ones() as usize;
                    return Some(Step::Found(Found::End(at + bit as usize + 1)));
                }
            }
        }
        self.extra += m.quote.count_ones() as usize;
        self.in_string = inside >> 31 == 1;
        Some(Step::To(at + BLOCK))
    }

    /// Byte by byte from `i` to at least `limit` (a string is skipped whole, wherever it
    /// ends).
    fn bytes(&mut self, bytes: &[u8], mut i: usize, limit: usize) -> Step {
        while i < limit {
            if self.in_string {
                match skip_string(&bytes[i..], self.escaped, &mut self.extra) {
                    Ok(n) => {
                        i += n;
                        self.in_string = false;
                        self.escaped = false;
                    }
                    Err(escaped) => {
                        self.escaped = escaped;
                        i = bytes.len();
                    }
                }
                continue;
            }
            let b = bytes[i];
            i += 1;
            match CLASS[b as usize] {
                OPEN => {
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        return Step::Found(Found::Unsure);
                    }
                }
                CLOSE => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Step::Found(Found::End(i));
                    }
                }
                QUOTE => {
                    self.in_string = true;
                    self.extra += 1;
                }
                _ => self.extra += byte_extra(b),
            }
        }
        Step::To(i)
    }
}

/// Skips the inside of a string up to and including its closing quote: `Ok(bytes skipped)`, or
/// `Err(ends on a backslash)` when the string goes on past `bytes`. Adds to `extra` what
/// escaping adds to the quotes and backslashes on the way.
fn skip_string(bytes: &[u8], escaped: bool, extra: &mut usize) -> Result<usize, bool> {
    let mut i = usize::from(escaped);
    if i > bytes.len() {
        return Err(true);
    }
    if escaped {
        *extra += usize::from(matches!(bytes[0], b'"' | b'\\'));
    }
    while let Some(at) = memchr::memchr2(b'"', b'\\', &bytes[i..]) {
        let at = i + at;
        *extra += 1;
        if bytes[at] == b'"' {
            return Ok(at + 1);
        }
        // A backslash: the next byte is escaped, whatever it is.
        i = at + 2;
        if i > bytes.len() {
            return Err(true);
        }
        *extra += usize::from(matches!(bytes[at + 1], b'"' | b'\\'));
    }
    Err(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(text: &str) -> Found {
        Scan::default().next(text.as_bytes())
    }

    #[test]
    fn ends_at_the_matching_brace() {
        let text = r#"{"a":"x}\"]{","b":[{"c":[]}],"d":"\\"},{"next":1}"#;
        let end = text.find("},{").unwrap() + 1;
        assert_eq!(whole(text), Found::End(end));
    }

    #[test]
    fn goes_on_across_any_split() {
        let text = r#"{"a":"x}\"]{","b":[{"c":[]}],"d":"\\\\"}  "#;
        let end = text.trim_end().len();
        for cut in 0..text.len() {
            let mut scan = Scan::default();
            let first = scan.next(&text.as_bytes()[..cut]);
            let found = if first == Found::More {
                scan.next(text.as_bytes())
            } else {
                first
            };
            assert_eq!(found, Found::End(end), "cut at {cut}");
        }
    }

    /// What the scan counts is what escaping adds, however the element is cut.
    #[test]
    fn counts_what_escaping_adds_across_any_split() {
        let text = "{\"a\":\"x}\\\"]{\",\n\t\"b\":[{\"c\":[]}],\r\"d\":\"\\\\\\u00e9\\n\"}";
        let want = super::super::escape::escaped_extra(text.as_bytes());
        for cut in 0..text.len() {
            let mut scan = Scan::default();
            if scan.next(&text.as_bytes()[..cut]) == Found::More {
                scan.next(text.as_bytes());
            }
            assert_eq!(scan.extra, want, "cut at {cut}: {text}");
        }
        assert_eq!(
            serde_json::to_string(text).unwrap().len(),
            text.len() + 2 + want
        );
    }

    #[test]
    fn leaves_non_objects_and_deep_nesting_to_the_slow_path() {
        assert_eq!(whole("[1]"), Found::Unsure);
        assert_eq!(whole("1"), Found::Unsure);
        assert_eq!(whole(""), Found::More);
        let deep = "{\"a\":".to_owned() + &"[".repeat(MAX_DEPTH as usize) + "]";
        assert_eq!(whole(&deep), Found::Unsure);
        assert_eq!(whole(r#"{"a":"#), Found::More);
    }

    /// Elements long enough for whole blocks, strings full of braces and brackets, a
    /// backslash now and then: the block path and the byte path agree with each other and
    /// with escaping, at every cut.
    #[test]
    fn blocks_and_bytes_agree_on_varied_elements() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut pick = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let pieces = [
            r#""k":"v""#,
            r#""s":"}]{[""#,
            r#""a":[1,{"b":"]"}]"#,
            r#""e":"\"}""#,
            r#""t":"2024-01-01T00:00:00.000Z""#,
            r#""l":[[],{}]"#,
            r#""x":"\\""#,
            "\"w\":\n\t1",
        ];
        for round in 0..300 {
            let n = 1 + pick(12);
            let body: Vec<&str> = (0..n).map(|_| pieces[pick(pieces.len())]).collect();
            let text = format!("{{{}}},{{\"next\":1}}", body.join(","));
            let end = text.find(",{\"next\"").unwrap();
            let want = super::super::escape::escaped_extra(&text.as_bytes()[..end]);
            for cut in (0..=text.len()).step_by(1 + round % 7) {
                let mut scan = Scan::default();
                let mut found = scan.next(&text.as_bytes()[..cut]);
                if found == Found::More {
                    found = scan.next(text.as_bytes());
                }
                assert_eq!(found, Found::End(end), "cut at {cut}: {text}");
                assert_eq!(scan.extra, want, "cut at {cut}: {text}");
            }
        }
    }
}
