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

/// Two hashes of `bytes` in one pass, one per seed: 128 bits that tell ids apart for the stage
/// on disk (see `staged::ingest::Keyer`).
pub(crate) fn hash_pair(seeds: (u64, u64), bytes: &[u8]) -> u128 {
    let (mut a, mut b) = (IdHasher(seeds.0), IdHasher(seeds.1));
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let word = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        a.mix(word);
        b.mix(word);
    }
    let mut last = [0u8; 8];
    let rest = chunks.remainder();
    last[..rest.len()].copy_from_slice(rest);
    // The length goes in last, so that ids differing only by trailing zero bytes differ.
    let word = u64::from_le_bytes(last) ^ ((bytes.len() as u64) << 56);
    a.mix(word);
    b.mix(word);
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

impl IdBuildHasher {
    /// The seed, for [`hash_pair`].
    pub(crate) fn seed(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::id;
    use super::*;

    #[test]
    fn hash_pair_tells_similar_ids_apart() {
        let (a, b) = (IdBuildHasher::default(), IdBuildHasher::default());
        let seeds = (a.seed(), b.seed());
        let keys: std::collections::HashSet<u128> = (0..10_000)
            .map(|n| hash_pair(seeds, id("relationship", n).as_bytes()))
            .chain([hash_pair(seeds, b""), hash_pair(seeds, b"\0")])
            .collect();
        assert_eq!(keys.len(), 10_002);
        // Each half alone spreads the ids too.
        let low: std::collections::HashSet<u64> = keys.iter().map(|&k| k as u64 >> 50).collect();
        assert!(low.len() > 6_000, "{}", low.len());
    }

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
