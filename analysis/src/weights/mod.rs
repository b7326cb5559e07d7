//! Spatial weights: for each location, its neighbours j ≠ i and their weights w_ij, stored
//! compressed by row (CSR). Built from polygons ([`Weights::contiguity`]), points on the
//! sphere ([`Weights::knn`], [`Weights::distance_band`]), H3 cells ([`Weights::h3_ring`]) or
//! given lists ([`Weights::from_neighbours`]); [`WeightsSpec`] is the text form a request
//! or a command line names them by.
//!
//! Weights need not be symmetric (k nearest neighbours are not). A location with no
//! neighbours is an island ([`Weights::islands`]); the statistics say what they do with one.

mod contiguity;
mod distance;
mod h3_ring;
mod spec;

pub use contiguity::Contiguity;
pub use distance::{DistanceWeight, MAX_DISTANCE_M, MAX_K};
pub use h3_ring::MAX_RING;
pub use spec::{WeightsSpec, WeightsSpecError};

/// The most locations a weights object holds: indices are stored as `u32`, and a
/// space-time cube of 1,000,000 locations × 50 steps still fits.
pub const MAX_LOCATIONS: usize = 100_000_000;

/// The most neighbour pairs a weights object holds (12 bytes each, so 1.2 GB at most):
/// a distance band wide enough to pass this is a mistake, not an analysis.
pub const MAX_PAIRS: usize = 100_000_000;

/// Why weights could not be built. The texts reach API clients as they are.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeightsError {
    #[error("{len} locations is more than the {MAX_LOCATIONS} weights can hold")]
    TooManyLocations { len: usize },
    #[error("more than {MAX_PAIRS} neighbour pairs; choose a smaller distance or k")]
    TooManyPairs,
    #[error("location {location} names neighbour {neighbour}, but there are only {len} locations")]
    NeighbourOutOfRange {
        location: usize,
        neighbour: usize,
        len: usize,
    },
    #[error(
        "location {location} names itself as a neighbour (the self weight is the statistic's business)"
    )]
    SelfNeighbour { location: usize },
    #[error("location {location} names neighbour {neighbour} twice")]
    DuplicateNeighbour { location: usize, neighbour: usize },
    #[error(
        "location {location} gives neighbour {neighbour} the weight {weight}; weights must be finite and positive"
    )]
    BadWeight {
        location: usize,
        neighbour: usize,
        weight: f64,
    },
    #[error("k = {k} nearest neighbours needs k from 1 to {max}")]
    BadK { k: usize, max: usize },
    #[error("k = {k} nearest neighbours needs more than k locations, got {len}")]
    KNotBelowLen { k: usize, len: usize },
    #[error("distance threshold {0} m must be finite and positive")]
    BadThreshold(f64),
    #[error("inverse-distance power {0} must be finite and from 0 to 4 (0 exclusive)")]
    BadPower(f64),
    #[error("grid ring {k} needs k from 1 to {max}")]
    BadRing { k: u32, max: u32 },
    #[error(
        "cell {index} is at resolution {found}, but cell 0 is at {expected}: grid distances need one resolution"
    )]
    MixedResolution {
        index: usize,
        found: u8,
        expected: u8,
    },
    #[error("cells {first} and {second} are the same cell")]
    DuplicateCell { first: usize, second: usize },
}

/// Which weights a statistic uses: as built (binary or inverse distance), or divided by each
/// location's total so every row sums to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transform {
    /// The weights as they are (ArcGIS's Hot Spot Analysis; esda's `transform='B'` for
    /// binary weights).
    #[default]
    AsGiven,
    /// Row-standardised (esda's `transform='R'`).
    Row,
}

/// Sparse spatial weights: per location its neighbours, sorted by index, with their weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    offsets: Vec<usize>,
    neighbours: Vec<u32>,
    weights: Vec<f64>,
}

impl Weights {
    /// Weights from one list per location of `(neighbour, weight)`. Each neighbour must be
    /// another location, named once, with a finite positive weight; lists may be empty
    /// (islands) and need not be symmetric.
    ///
    /// ```
    /// use wangge_analysis::weights::Weights;
    /// // A path 0 – 1 – 2.
    /// let w = Weights::from_neighbours(vec![vec![(1, 1.0)], vec![(2, 1.0), (0, 1.0)], vec![(1, 1.0)]])?;
    /// assert_eq!(w.neighbours(1).collect::<Vec<_>>(), vec![(0, 1.0), (2, 1.0)]);
    /// assert!(w.islands().is_empty());
    /// # Ok::<(), wangge_analysis::weights::WeightsError>(())
    /// ```
    pub fn from_neighbours(lists: Vec<Vec<(usize, f64)>>) -> Result<Self, WeightsError> {
        let len = lists.len();
        if len > MAX_LOCATIONS {
            return Err(WeightsError::TooManyLocations { len });
        }
        let total: usize = lists.iter().map(Vec::len).sum();
        if total > MAX_PAIRS {
            return Err(WeightsError::TooManyPairs);
        }
        let mut offsets = Vec::with_capacity(len + 1);
        let mut neighbours = Vec::with_capacity(total);
        let mut weights = Vec::with_capacity(total);
        offsets.push(0);
        for (location, mut list) in lists.into_iter().enumerate() {
            list.sort_by_key(|&(j, _)| j);
            for (k, &(neighbour, weight)) in list.iter().enumerate() {
                if neighbour >= len {
                    return Err(WeightsError::NeighbourOutOfRange {
                        location,
                        neighbour,
                        len,
                    });
                }
                if neighbour == location {
                    return Err(WeightsError::SelfNeighbour { location });
                }
                if k > 0 && list[k - 1].0 == neighbour {
                    return Err(WeightsError::DuplicateNeighbour {
                        location,
                        neighbour,
                    });
                }
                if !(weight.is_finite() && weight > 0.0) {
                    return Err(WeightsError::BadWeight {
                        location,
                        neighbour,
                        weight,
                    });
                }
                neighbours.push(neighbour as u32);
                weights.push(weight);
            }
            offsets.push(neighbours.len());
        }
        Ok(Self {
            offsets,
            neighbours,
            weights,
        })
    }

    /// Weights from rows already checked by a builder in this module: sorted, distinct,
    /// not self, in range, positive.
    pub(crate) fn from_checked_rows(
        offsets: Vec<usize>,
        neighbours: Vec<u32>,
        weights: Vec<f64>,
    ) -> Self {
        debug_assert_eq!(offsets.last(), Some(&neighbours.len()));
        debug_assert_eq!(neighbours.len(), weights.len());
        Self {
            offsets,
            neighbours,
            weights,
        }
    }

    /// Binary weights from a list of directed pairs `(i, j)`, which may repeat: the pairs
    /// are sorted and deduplicated into rows. Pairs must be in range and not `(i, i)`.
    pub(crate) fn from_pairs(len: usize, mut pairs: Vec<(u32, u32)>) -> Result<Self, WeightsError> {
        pairs.sort_unstable();
        pairs.dedup();
        if pairs.len() > MAX_PAIRS {
            return Err(WeightsError::TooManyPairs);
        }
        let mut offsets = vec![0usize; len + 1];
        for &(i, j) in &pairs {
            debug_assert!(i != j && (j as usize) < len);
            offsets[i as usize + 1] += 1;
        }
        for i in 0..len {
            offsets[i + 1] += offsets[i];
        }
        let neighbours = pairs.iter().map(|&(_, j)| j).collect::<Vec<_>>();
        let weights = vec![1.0; neighbours.len()];
        Ok(Self::from_checked_rows(offsets, neighbours, weights))
    }

    /// The number of locations.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Location `i`'s neighbours and their weights, in increasing order of index.
    pub fn neighbours(&self, i: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        self.neighbour_indices(i)
            .iter()
            .zip(self.neighbour_weights(i))
            .map(|(&j, &w)| (j as usize, w))
    }

    /// Location `i`'s neighbours' indices, increasing.
    pub fn neighbour_indices(&self, i: usize) -> &[u32] {
        &self.neighbours[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Location `i`'s neighbours' weights, in the order of [`Self::neighbour_indices`].
    pub fn neighbour_weights(&self, i: usize) -> &[f64] {
        &self.weights[self.offsets[i]..self.offsets[i + 1]]
    }

    /// How many neighbours location `i` has.
    pub fn cardinality(&self, i: usize) -> usize {
        self.offsets[i + 1] - self.offsets[i]
    }

    /// The largest number of neighbours any location has.
    pub fn max_cardinality(&self) -> usize {
        self.offsets
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or(0)
    }

    /// The number of (location, neighbour) pairs.
    pub fn pairs(&self) -> usize {
        self.neighbours.len()
    }

    /// The locations with no neighbours, increasing.
    pub fn islands(&self) -> Vec<usize> {
        (0..self.len())
            .filter(|&i| self.cardinality(i) == 0)
            .collect()
    }

    /// True when every weight is 1.
    pub fn is_binary(&self) -> bool {
        self.weights.iter().all(|&w| w == 1.0)
    }
}

/// The number of threads to use when a caller says 0 (all the machine offers).
pub(crate) fn thread_count(requested: usize) -> usize {
    if requested > 0 {
        requested
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_checked() {
        let bad = [
            (vec![vec![(3, 1.0)], vec![], vec![]], "names neighbour 3"),
            (vec![vec![(0, 1.0)], vec![], vec![]], "names itself"),
            (vec![vec![(1, 1.0), (1, 2.0)], vec![], vec![]], "twice"),
            (vec![vec![(1, 0.0)], vec![], vec![]], "the weight 0"),
            (vec![vec![(1, f64::NAN)], vec![], vec![]], "the weight NaN"),
        ];
        for (lists, message) in bad {
            let error = Weights::from_neighbours(lists).unwrap_err().to_string();
            assert!(error.contains(message), "{error}");
        }
        let w = Weights::from_neighbours(vec![vec![(2, 0.5)], vec![], vec![(0, 2.0)]]).unwrap();
        assert_eq!(w.islands(), vec![1]);
        assert_eq!(w.max_cardinality(), 1);
        assert_eq!(w.pairs(), 2);
        assert!(!w.is_binary());
        assert_eq!(w.neighbours(2).collect::<Vec<_>>(), vec![(0, 2.0)]);
    }

    #[test]
    fn pairs_become_sorted_binary_rows() {
        let w = Weights::from_pairs(3, vec![(2, 0), (0, 2), (0, 1), (0, 2)]).unwrap();
        assert_eq!(w.neighbour_indices(0), &[1, 2]);
        assert_eq!(w.neighbour_indices(1), &[] as &[u32]);
        assert_eq!(w.neighbour_indices(2), &[0]);
        assert!(w.is_binary());
    }
}
