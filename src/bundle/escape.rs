//! JSON-string escaping as serde_json writes it: how many bytes escaping adds (measured while
//! an object is hot in cache, see `object.rs`) and writing escaped text. A chunk travels as a
//! GraphQL `String` variable, so its size is its escaped size.

use super::block::{BLOCK, masks};

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

#[inline]
fn write_byte(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match ESCAPE[b as usize] {
        0 => out.push(b),
        b'u' => out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(b >> 4)],
            HEX[usize::from(b & 0xf)],
        ]),
        e => out.extend_from_slice(&[b'\\', e]),
    }
}

/// Appends `s` escaped, a block of 32 bytes at a time. STIX text as DISINFOX sends it has a
/// quote every 12 bytes or so and next to no control byte, so a block is mostly runs cut by
/// quotes: each run is copied as a fixed 32-byte piece and cut back, a vector move where a
/// copy of the run's own length would be a call to `memcpy`; the last bytes are a padded
/// block too. (On the 43 MB 10k answer cut in 430-byte pieces, three runs in a row: 21.3 –
/// 23.7 ms against 43.2 – 45.1 ms for the previous loop, which tested 8 bytes at a time and
/// escaped any word with a quote, and the tail, byte by byte.)
pub(super) fn write_escaped(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + s.len() / 4 + BLOCK);
    let mut blocks = s.chunks_exact(BLOCK);
    for block in &mut blocks {
        escape_block(out, block.try_into().expect("chunks_exact(BLOCK)"), BLOCK);
    }
    let rest = blocks.remainder();
    if !rest.is_empty() {
        // Padded with spaces, which need no escaping.
        let mut last = [b' '; BLOCK];
        last[..rest.len()].copy_from_slice(rest);
        escape_block(out, &last, rest.len());
    }
}

/// Appends the first `len` bytes of `block` escaped (the others are padding).
#[inline]
fn escape_block(out: &mut Vec<u8>, block: &[u8; BLOCK], len: usize) {
    let m = masks(block);
    let mut quotes = m.quote | m.backslash;
    if m.control != 0 {
        block[..len].iter().for_each(|&b| write_byte(out, b));
        return;
    }
    if quotes == 0 && len == BLOCK {
        out.extend_from_slice(block);
        return;
    }
    // Padded so that a full piece can start anywhere in the block.
    let mut padded = [0u8; 2 * BLOCK];
    padded[..BLOCK].copy_from_slice(block);
    let mut run = 0;
    while quotes != 0 {
        let at = quotes.trailing_zeros() as usize;
        quotes &= quotes - 1;
        put_run(out, &padded, run, at);
        out.push(b'\\');
        // The quote or backslash itself opens the next run.
        run = at;
    }
    put_run(out, &padded, run, len);
}

/// Appends `padded[from..to]` (`to - from` ≤ 32) as a fixed 32-byte copy cut back.
#[inline]
fn put_run(out: &mut Vec<u8>, padded: &[u8; 2 * BLOCK], from: usize, to: usize) {
    let keep = out.len() + (to - from);
    let piece: &[u8; BLOCK] = padded[from..from + BLOCK]
        .try_into()
        .expect("a run starts inside its block");
    out.extend_from_slice(piece);
    out.truncate(keep);
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

    /// Every byte that needs escaping, at every offset of a block and around block bounds,
    /// alone and next to another, matches serde_json's output.
    #[test]
    fn every_special_byte_at_every_offset_matches_serde_json() {
        let specials: Vec<u8> = (0u8..0x20).chain([b'"', b'\\']).collect();
        for &special in &specials {
            for at in 0..80 {
                for (next, gap) in [
                    (None, 0),
                    (Some(b'"'), 1),
                    (Some(b'\\'), 31),
                    (Some(0x1f), 32),
                ] {
                    let mut s = vec![b'a'; 80];
                    s[at] = special;
                    if let Some(n) = next {
                        s[(at + gap) % 80] = n;
                    }
                    s.push(0x7f);
                    let text = String::from_utf8(s).unwrap();
                    let mut out = vec![b'"'];
                    write_escaped(&mut out, text.as_bytes());
                    out.push(b'"');
                    assert_eq!(
                        String::from_utf8(out).unwrap(),
                        serde_json::to_string(&text).unwrap(),
                        "byte {special:#04x} at {at}, then {next:?} {gap} later"
                    );
                }
            }
        }
    }

    /// Text with a quote every few bytes, as STIX is, and runs of them, in every length
    /// around a block.
    #[test]
    fn dense_quotes_match_serde_json() {
        let unit = r#"{"a":"b\\c","type":"x","e":[""]}"#;
        let long = unit.repeat(9);
        for len in 0..long.len() {
            let text = &long[..len];
            let mut out = b"<".to_vec();
            write_escaped(&mut out, text.as_bytes());
            let want = serde_json::to_string(text).unwrap();
            assert_eq!(
                &out[1..],
                &want.as_bytes()[1..want.len() - 1],
                "length {len}"
            );
        }
    }
}
