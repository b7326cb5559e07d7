//! Weights between H3 cells: each cell's neighbours are the cells of the input within grid
//! distance k of it (H3's `gridDisk`), weight 1.
//!
//! Cells are looked up in a hash map from cell to position, so building is O(n · disk size)
//! (7 cells for k = 1, 331 for k = 10), split over threads in fixed ranges.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use h3o::CellIndex;

use super::{MAX_LOCATIONS, MAX_PAIRS, Weights, WeightsError, thread_count};

/// The widest ring: a k-disk has 3k(k+1)+1 cells, 331 at k = 10.
pub const MAX_RING: u32 = 10;

/// A hasher for cell indices: they are already well spread in their low bits, so one
/// multiply mixes enough, several times faster than SipHash over millions of look-ups.
#[derive(Debug, Default)]
struct CellHasher(u64);

impl Hasher for CellHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3);
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (x ^ (x >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type CellMap = HashMap<u64, u32, BuildHasherDefault<CellHasher>>;

impl Weights {
    /// Binary weights between the given cells within grid distance `k` (1 to [`MAX_RING`]).
    /// All cells must be of one resolution and distinct. Near pentagons the disk is
    /// computed the slow, safe way, so it is right there too.
    ///
    /// ```
    /// use h3o::{LatLng, Resolution};
    /// use wangge_analysis::weights::Weights;
    /// let centre = LatLng::new(24.35, 102.55)?.to_cell(Resolution::Nine);
    /// let cells: Vec<_> = centre.grid_disk::<Vec<_>>(2);
    /// let w = Weights::h3_ring(&cells, 1)?;
    /// let i = cells.iter().position(|&c| c == centre).unwrap();
    /// assert_eq!(w.cardinality(i), 6);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn h3_ring(cells: &[CellIndex], k: u32) -> Result<Self, WeightsError> {
        let len = cells.len();
        if !(1..=MAX_RING).contains(&k) {
            return Err(WeightsError::BadRing { k, max: MAX_RING });
        }
        if len > MAX_LOCATIONS {
            return Err(WeightsError::TooManyLocations { len });
        }
        let disk = 3 * k as usize * (k as usize + 1);
        if len.saturating_mul(disk) > MAX_PAIRS.saturating_mul(4) {
            return Err(WeightsError::TooManyPairs);
        }
        if let Some(first) = cells.first() {
            let expected = first.resolution();
            if let Some((index, c)) = cells
                .iter()
                .enumerate()
                .find(|(_, c)| c.resolution() != expected)
            {
                return Err(WeightsError::MixedResolution {
                    index,
                    found: u8::from(c.resolution()),
                    expected: u8::from(expected),
                });
            }
        }
        let mut positions = CellMap::with_capacity_and_hasher(len, Default::default());
        for (i, &c) in cells.iter().enumerate() {
            if let Some(first) = positions.insert(u64::from(c), i as u32) {
                return Err(WeightsError::DuplicateCell {
                    first: first as usize,
                    second: i,
                });
            }
        }
        let threads = thread_count(0).min(len.div_ceil(10_000)).max(1);
        let per = len.div_ceil(threads);
        let positions = &positions;
        let parts: Vec<(Vec<usize>, Vec<u32>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    scope.spawn(move || {
                        let range = t * per..((t + 1) * per).min(len);
                        let mut counts = Vec::with_capacity(range.len());
                        let mut neighbours = Vec::with_capacity(range.len() * (disk / 2 + 1));
                        let mut row = Vec::with_capacity(disk + 1);
                        for i in range {
                            row.clear();
                            let fast: Option<Vec<CellIndex>> = cells[i].grid_disk_fast(k).collect();
                            let disk_cells = fast
                                .unwrap_or_else(|| cells[i].grid_disk_safe(k).collect::<Vec<_>>());
                            row.extend(
                                disk_cells
                                    .into_iter()
                                    .filter_map(|c| positions.get(&u64::from(c)).copied())
                                    .filter(|&j| j as usize != i),
                            );
                            row.sort_unstable();
                            row.dedup();
                            counts.push(row.len());
                            neighbours.extend_from_slice(&row);
                        }
                        (counts, neighbours)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a weights thread panicked"))
                .collect()
        });
        let total: usize = parts.iter().map(|p| p.1.len()).sum();
        if total > MAX_PAIRS {
            return Err(WeightsError::TooManyPairs);
        }
        let mut offsets = Vec::with_capacity(len + 1);
        let mut neighbours = Vec::with_capacity(total);
        offsets.push(0);
        for (counts, part) in parts {
            for c in counts {
                offsets.push(offsets.last().expect("starts with 0") + c);
            }
            neighbours.extend(part);
        }
        let weights = vec![1.0; neighbours.len()];
        Ok(Weights::from_checked_rows(offsets, neighbours, weights))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use h3o::{LatLng, Resolution};

    #[test]
    fn neighbours_are_present_cells_within_grid_distance() {
        let centre = LatLng::new(24.35, 102.55)
            .unwrap()
            .to_cell(Resolution::Eight);
        // A disk of radius 4 with every third cell left out, so some disks are partial.
        let cells: Vec<CellIndex> = centre
            .grid_disk::<Vec<_>>(4)
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % 3 != 1)
            .map(|(_, c)| c)
            .collect();
        for k in [1, 2] {
            let w = Weights::h3_ring(&cells, k).unwrap();
            for (i, &a) in cells.iter().enumerate() {
                let expected: Vec<u32> = cells
                    .iter()
                    .enumerate()
                    .filter(|&(j, &b)| j != i && a.grid_distance(b).unwrap() <= k as i32)
                    .map(|(j, _)| j as u32)
                    .collect();
                assert_eq!(w.neighbour_indices(i), expected.as_slice(), "k={k} i={i}");
            }
            assert!(w.is_binary());
        }
    }

    #[test]
    fn pentagons_use_the_safe_disk() {
        // Every resolution-0 pentagon's neighbourhood at resolution 2: disks there have
        // five-sided gaps, which the fast path reports and the safe path handles.
        let pentagon = CellIndex::base_cells()
            .find(|c| c.is_pentagon())
            .map(|c| c.center_child(Resolution::Two).unwrap())
            .unwrap();
        let cells: Vec<CellIndex> = pentagon.grid_disk::<Vec<_>>(2);
        let w = Weights::h3_ring(&cells, 1).unwrap();
        let i = cells.iter().position(|&c| c == pentagon).unwrap();
        assert_eq!(w.cardinality(i), 5);
    }

    #[test]
    fn bad_input_is_refused() {
        let a = LatLng::new(24.35, 102.55)
            .unwrap()
            .to_cell(Resolution::Eight);
        let b = LatLng::new(24.35, 102.55)
            .unwrap()
            .to_cell(Resolution::Nine);
        assert_eq!(
            Weights::h3_ring(&[a, b], 1),
            Err(WeightsError::MixedResolution {
                index: 1,
                found: 9,
                expected: 8
            })
        );
        assert_eq!(
            Weights::h3_ring(&[a, a], 1),
            Err(WeightsError::DuplicateCell {
                first: 0,
                second: 1
            })
        );
        assert_eq!(
            Weights::h3_ring(&[a], 11),
            Err(WeightsError::BadRing { k: 11, max: 10 })
        );
    }
}
