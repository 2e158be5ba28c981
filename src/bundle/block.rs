//! The byte classes of 32 bytes at once: what the escaper (`escape.rs`) and the scanner
//! (`scan.rs`) look for, one bit per byte. JSON text as DISINFOX sends it has a quote every 12
//! bytes or so; finding them a block at a time and walking the bits replaces a search (or a
//! table lookup) per byte or per string.

/// Bytes per block.
pub(super) const BLOCK: usize = 32;

/// Bit `i` of each mask says whether byte `i` of the block is of that class.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Masks {
    /// `"`
    pub(super) quote: u32,
    /// `\`
    pub(super) backslash: u32,
    /// `{` or `[`
    pub(super) open: u32,
    /// `}` or `]`
    pub(super) close: u32,
    /// Below 0x20.
    pub(super) control: u32,
}

/// The masks of `block`.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(super) fn masks(block: &[u8; BLOCK]) -> Masks {
    let (lo, hi) = block.split_at(BLOCK / 2);
    // SAFETY: `half` needs SSE2 only, which is part of the x86_64 baseline: every CPU that
    // can run an x86_64 binary has it.
    let (lo, hi) = unsafe { (half(lo), half(hi)) };
    let join = |l: u32, h: u32| l | h << 16;
    Masks {
        quote: join(lo.quote, hi.quote),
        backslash: join(lo.backslash, hi.backslash),
        open: join(lo.open, hi.open),
        close: join(lo.close, hi.close),
        control: join(lo.control, hi.control),
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
pub(super) fn masks(block: &[u8; BLOCK]) -> Masks {
    word_masks(block)
}

/// The masks of 16 bytes (`bytes.len()` is 16), each class one compare of all of them.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn half(bytes: &[u8]) -> Masks {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set_epi64x,
        _mm_set1_epi8,
    };
    let word = |i: usize| i64::from_le_bytes(bytes[i..i + 8].try_into().expect("16 bytes"));
    let v = _mm_set_epi64x(word(8), word(0));
    let is = |b: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8));
    let bits = |m: __m128i| _mm_movemask_epi8(m) as u32;
    Masks {
        quote: bits(is(b'"')),
        backslash: bits(is(b'\\')),
        open: bits(_mm_or_si128(is(b'{'), is(b'['))),
        close: bits(_mm_or_si128(is(b'}'), is(b']'))),
        // Unsigned `b < 0x20` is `max(b, 0x1f) == 0x1f`.
        control: bits(_mm_cmpeq_epi8(
            _mm_max_epu8(v, _mm_set1_epi8(0x1f)),
            _mm_set1_epi8(0x1f),
        )),
    }
}

/// [`masks`] eight bytes at a time in plain integer arithmetic, for other targets.
#[cfg(any(test, not(target_arch = "x86_64")))]
pub(super) fn word_masks(block: &[u8; BLOCK]) -> Masks {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const ONES: u64 = 0x0101_0101_0101_0101;
    // The top bit of each byte, exactly: set where the byte is 0 (no carry crosses bytes).
    let zero = |v: u64| !(((v & LOW7) + LOW7) | v) & HIGH;
    // Gathers the top bits of the eight bytes into the low eight bits.
    let gather = |m: u64| ((m >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32;
    let mut m = Masks::default();
    for (i, w) in block.chunks_exact(8).enumerate() {
        let v = u64::from_le_bytes(w.try_into().expect("chunks_exact(8)"));
        let is = |b: u8| zero(v ^ (ONES * u64::from(b)));
        let below_space = !(((v & LOW7) + ONES * (0x80 - 0x20)) | v) & HIGH;
        let shift = 8 * i;
        m.quote |= gather(is(b'"')) << shift;
        m.backslash |= gather(is(b'\\')) << shift;
        m.open |= gather(is(b'{') | is(b'[')) << shift;
        m.close |= gather(is(b'}') | is(b']')) << shift;
        m.control |= gather(below_space) << shift;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_bytes(block: &[u8; BLOCK]) -> Masks {
        let mask = |f: &dyn Fn(u8) -> bool| {
            block
                .iter()
                .enumerate()
                .filter(|(_, b)| f(**b))
                .fold(0u32, |m, (i, _)| m | 1 << i)
        };
        Masks {
            quote: mask(&|b| b == b'"'),
            backslash: mask(&|b| b == b'\\'),
            open: mask(&|b| b == b'{' || b == b'['),
            close: mask(&|b| b == b'}' || b == b']'),
            control: mask(&|b| b < 0x20),
        }
    }

    #[test]
    fn masks_see_exactly_each_class_at_every_position() {
        for b in 0..=255u8 {
            for at in 0..BLOCK {
                // Neighbours that sit next to the thresholds of the comparisons.
                for fill in [b'a', b' ', b'!', b'#', b'[', b'}', 0x1f, 0x80, 0xff] {
                    let mut block = [fill; BLOCK];
                    block[at] = b;
                    let want = by_bytes(&block);
                    assert_eq!(masks(&block), want, "{block:?}");
                    assert_eq!(word_masks(&block), want, "{block:?}");
                }
            }
        }
    }
}
