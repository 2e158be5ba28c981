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

pub(super) fn write_escaped(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        let e = ESCAPE[b as usize];
        if e == 0 {
            continue;
        }
        out.extend_from_slice(&s[start..i]);
        if e == b'u' {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.push(b'\\');
            out.push(e);
        }
        start = i + 1;
    }
    out.extend_from_slice(&s[start..]);
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
