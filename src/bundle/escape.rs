//! JSON-string escaping as serde_json writes it: how many bytes escaping adds (measured while
//! an object is hot in cache, see `object.rs`) and writing escaped text. A chunk travels as a
//! GraphQL `String` variable, so its size is its escaped size.

/// The frame of a chunk around its objects: `HEAD` uuid `MID` objects `TAIL`.
pub(super) const HEAD: &str = r#"{"type":"bundle","id":"bundle--"#;
pub(super) const UUID_LEN: usize = 36;
pub(super) const MID: &str = r#"","objects":["#;
pub(super) const TAIL: &str = "]}";

/// Escape sequence for each byte as serde_json writes it: 0 = verbatim, `u` = `\u00XX`,
/// anything else = backslash + that byte.
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = b'u';
        b += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// Bytes that escaping adds to the byte `b`: 0, 1 (`\"`, `\\`, `\n`, …) or 5 (`\u00XX`).
#[inline]
pub(super) fn byte_extra(b: u8) -> usize {
    match ESCAPE[b as usize] {
        0 => 0,
        b'u' => 5,
        _ => 1,
    }
}

/// Bytes that escaping adds to `s` (surrounding quotes not included).
pub(super) fn escaped_extra(s: &[u8]) -> usize {
    // Fixed-size blocks with u8 lane counters (flushed before they can overflow): LLVM turns
    // this into SIMD compares and adds.
    const BLOCK: usize = 64;
    let mut extra = 0usize;
    let mut control = 0u8;
    let mut blocks = s.chunks_exact(BLOCK);
    let mut lanes = [0u8; BLOCK];
    for (n, block) in (&mut blocks).enumerate() {
        for (lane, &b) in lanes.iter_mut().zip(block) {
            *lane += u8::from(b == b'"') + u8::from(b == b'\\');
            control |= u8::from(b < 0x20);
        }
        if n % 127 == 126 {
            extra += lanes.iter().map(|&l| usize::from(l)).sum::<usize>();
            lanes = [0; BLOCK];
        }
    }
    extra += lanes.iter().map(|&l| usize::from(l)).sum::<usize>();
    for &b in blocks.remainder() {
        extra += usize::from(b == b'"') + usize::from(b == b'\\');
        control |= u8::from(b < 0x20);
    }
    if control != 0 {
        extra += s
            .iter()
            .filter(|&&b| b < 0x20)
            .map(|&b| if ESCAPE[b as usize] == b'u' { 5 } else { 1 })
            .sum::<usize>();
    }
    extra
}

/// Whether any byte of the 8 in `w` needs escaping: a quote, a backslash or a control byte
/// (the classic "has a zero byte" and "has a byte less than n" word tricks).
#[inline]
fn word_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    (zero_byte(w ^ (ONES * u64::from(b'"')))
        | zero_byte(w ^ (ONES * u64::from(b'\\')))
        | below_space)
        != 0
}

#[inline]
fn write_byte(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match ESCAPE[b as usize] {
        0 => out.push(b),
        b'u' => {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        }
        e => out.extend_from_slice(&[b'\\', e]),
    }
}

/// Appends `s` escaped. Eight bytes at a time: a word with nothing to escape (most of them
/// in STIX text) is copied whole, with no per-byte work and no call to `memcpy` for a short
/// run; the other words are escaped into a small buffer on the stack and appended at once.
/// (Measured on the 43 MB 10k answer cut in 430-byte pieces: about 40 % less time than a byte
/// loop that copies the runs between escapes, and the stack buffer about 10 % less than
/// pushing the bytes of such a word one by one.)
pub(super) fn write_escaped(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len());
    let mut words = s.chunks_exact(8);
    for w in &mut words {
        let word = u64::from_le_bytes(w.try_into().expect("chunks_exact(8)"));
        if word_needs_escape(word) {
            let mut buf = [0u8; 48];
            let n = w.iter().fold(0, |n, &b| n + escape_into(&mut buf[n..], b));
            out.extend_from_slice(&buf[..n]);
        } else {
            out.extend_from_slice(w);
        }
    }
    words.remainder().iter().for_each(|&b| write_byte(out, b));
}

/// Writes `b` escaped at the start of `buf` (room for six bytes); returns how many.
#[inline]
fn escape_into(buf: &mut [u8], b: u8) -> usize {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match ESCAPE[b as usize] {
        0 => {
            buf[0] = b;
            1
        }
        b'u' => {
            buf[..6].copy_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
            6
        }
        e => {
            buf[0] = b'\\';
            buf[1] = e;
            2
        }
    }
}

pub(super) fn envelope_raw() -> usize {
    HEAD.len() + UUID_LEN + MID.len() + TAIL.len()
}

pub(super) fn envelope_escaped() -> usize {
    2 + envelope_raw()
        + escaped_extra(HEAD.as_bytes())
        + escaped_extra(MID.as_bytes())
        + escaped_extra(TAIL.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte that needs escaping, at every offset of a word and around word bounds,
    /// matches serde_json's output.
    #[test]
    fn every_special_byte_at_every_offset_matches_serde_json() {
        let specials = (0u8..0x20).chain([b'"', b'\\']);
        for special in specials {
            for at in 0..24 {
                let mut s = vec![b'a'; 24];
                s[at] = special;
                s.push(0x7f);
                let text = String::from_utf8(s).unwrap();
                let mut out = vec![b'"'];
                write_escaped(&mut out, text.as_bytes());
                out.push(b'"');
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    serde_json::to_string(&text).unwrap(),
                    "byte {special:#04x} at {at}"
                );
            }
        }
    }

    #[test]
    fn word_test_sees_exactly_the_bytes_that_need_escaping() {
        for b in 0..=255u8 {
            for at in 0..8 {
                let mut w = [b'a'; 8];
                w[at] = b;
                // Neighbours that sit next to the thresholds of the word tricks.
                for fill in [b' ', b'!', b'#', b'[', b']', 0x80, 0xff] {
                    let mut v = [fill; 8];
                    v[at] = b;
                    let want = v.iter().any(|&x| ESCAPE[x as usize] != 0);
                    assert_eq!(word_needs_escape(u64::from_le_bytes(v)), want, "{v:?}");
                }
                let want = ESCAPE[b as usize] != 0;
                assert_eq!(word_needs_escape(u64::from_le_bytes(w)), want, "{w:?}");
            }
        }
    }
}
