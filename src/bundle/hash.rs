//! The hash of ids, shared by the id index and the dangling-reference set.

use std::hash::{BuildHasher, Hasher};

/// Hasher for ids. SipHash showed up in the profile on million-object bundles; ids are short
/// and fairly random, so a multiply-fold hash with a per-process random seed is enough.
#[derive(Clone, Copy)]
pub(crate) struct IdBuildHasher(u64);

impl Default for IdBuildHasher {
    fn default() -> Self {
        IdBuildHasher(std::hash::RandomState::new().hash_one(0x5eed_u64) | 1)
    }
}

impl BuildHasher for IdBuildHasher {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher(self.0)
    }
}

pub(crate) struct IdHasher(u64);

const FOLD: u64 = 0x9e37_79b9_7f4a_7c15;

impl IdHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(23) ^ word).wrapping_mul(FOLD);
    }
}

impl Hasher for IdHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.mix(u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(buf) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }

    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::id;
    use super::*;

    #[test]
    fn id_hasher_spreads_similar_ids() {
        let b = IdBuildHasher::default();
        let hashes: std::collections::HashSet<u64> = (0..10_000)
            .map(|n| b.hash_one(id("relationship", n).as_str()) >> 50)
            .collect();
        // 14 top bits, 10k keys: a decent hash fills most of the 16k buckets' worth.
        assert!(hashes.len() > 6_000, "{}", hashes.len());
    }
}
