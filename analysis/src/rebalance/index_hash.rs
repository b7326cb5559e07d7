//! A hasher for maps keyed by H3 indexes and unit numbers: the keys come from geometry, not
//! from anyone who could choose them to collide, so SipHash's protection is not needed, and
//! a city's millions of units make its cost show. A multiply-rotate mix per word with a
//! SplitMix64 finish: H3 indexes differ mostly in their middle bits (the low ones are the
//! unused finer digits, all ones), and the finish spreads those over the bits a table uses.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IndexHasher(u64);

const K: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hasher for IndexHasher {
    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(23) ^ x).wrapping_mul(K);
    }

    fn write_u32(&mut self, x: u32) {
        self.write_u64(u64::from(x));
    }

    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }
}

/// A `HashMap` with [`IndexHasher`].
pub(crate) type IndexMap<K, V> = HashMap<K, V, BuildHasherDefault<IndexHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use h3o::{LatLng, Resolution};

    #[test]
    fn neighbouring_hexagons_spread_over_a_table() {
        // A disk of 1,261 resolution-11 hexagons into 2,048 buckets: far from all in a few.
        let centre = LatLng::new(24.3, 102.5)
            .unwrap()
            .to_cell(Resolution::Eleven);
        let mut buckets = vec![0u32; 2048];
        for c in centre.grid_disk::<Vec<_>>(20) {
            let mut h = IndexHasher::default();
            std::hash::Hash::hash(&(7u32, c), &mut h);
            buckets[(h.finish() & 2047) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|&n| n <= 6),
            "{:?}",
            buckets.iter().max()
        );
    }
}
