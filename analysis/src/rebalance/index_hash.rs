//! Maps keyed by H3 indexes and unit numbers, hashed by foldhash (already in the tree through
//! hashbrown) instead of SipHash: the keys come from geometry, not from anyone who could
//! choose them to collide, and a city's millions of units make SipHash's cost show. Its fixed
//! seed keeps every run's iteration order, so results do not change from run to run.

use std::collections::HashMap;

/// A `HashMap` with foldhash's fixed-seed hasher.
pub(crate) type IndexMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

#[cfg(test)]
mod tests {
    use foldhash::fast::FixedState;
    use h3o::{LatLng, Resolution};

    #[test]
    fn neighbouring_hexagons_spread_over_a_table() {
        // A disk of 1,261 resolution-11 hexagons into 2,048 buckets: far from all in a few.
        let centre = LatLng::new(24.3, 102.5)
            .unwrap()
            .to_cell(Resolution::Eleven);
        let mut buckets = vec![0u32; 2048];
        for c in centre.grid_disk::<Vec<_>>(20) {
            let h = std::hash::BuildHasher::hash_one(&FixedState::default(), (7u32, c));
            buckets[(h & 2047) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|&n| n <= 6),
            "{:?}",
            buckets.iter().max()
        );
    }
}
