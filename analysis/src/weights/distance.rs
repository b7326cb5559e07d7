//! Weights from distances along the sphere between points: the k nearest neighbours
//! ([`Weights::knn`]) and every point within a distance ([`Weights::distance_band`]).
//!
//! Distances are great-circle metres on the sphere of [`crate::sphere`]. The search uses the
//! dispatch crate's bucketed [`PointIndex`] (unit vectors in cubic buckets, read shell by
//! shell), so each query reads only the buckets near its point: O(n · k) overall rather than
//! O(n²). Queries are split over threads in fixed ranges; the answer does not depend on it.

use crate::dispatch::nearest::PointIndex;
use crate::sphere::{LonLat, MEAN_EARTH_RADIUS_M};

use super::{MAX_LOCATIONS, MAX_PAIRS, Weights, WeightsError, thread_count};

/// The largest k for k nearest neighbours.
pub const MAX_K: usize = 100;

/// The widest distance band, in metres (1,000 km).
pub const MAX_DISTANCE_M: f64 = 1_000_000.0;

/// How a neighbour within a distance band is weighted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DistanceWeight {
    /// Every neighbour 1.
    Binary,
    /// 1 / dᵖ with d in metres, as ArcGIS's inverse distance: distances under 1 m count as
    /// 1 m, so coincident points get weight 1 rather than infinity.
    Inverse { power: f64 },
}

/// Rows built for a range of locations: per location its (neighbour, weight), sorted.
type Rows = Vec<Vec<(u32, f64)>>;

impl Weights {
    /// Binary weights to each point's `k` nearest other points along the sphere; among
    /// points at the same distance the lower index comes first. Coincident points are
    /// neighbours at distance 0. Not symmetric: j may be among i's nearest without i being
    /// among j's.
    ///
    /// ```
    /// use wangge_analysis::sphere::LonLat;
    /// use wangge_analysis::weights::Weights;
    /// let p = |lon, lat| LonLat::new(lon, lat).unwrap();
    /// let points = [p(102.50, 24.30), p(102.51, 24.30), p(102.53, 24.30), p(102.60, 24.30)];
    /// let w = Weights::knn(&points, 2)?;
    /// assert_eq!(w.neighbour_indices(0), &[1, 2]);
    /// assert_eq!(w.neighbour_indices(3), &[1, 2]);
    /// # Ok::<(), wangge_analysis::weights::WeightsError>(())
    /// ```
    pub fn knn(points: &[LonLat], k: usize) -> Result<Self, WeightsError> {
        let len = points.len();
        if !(1..=MAX_K).contains(&k) {
            return Err(WeightsError::BadK { k, max: MAX_K });
        }
        if len > MAX_LOCATIONS {
            return Err(WeightsError::TooManyLocations { len });
        }
        if k >= len {
            return Err(WeightsError::KNotBelowLen { k, len });
        }
        // Buckets about twice the expected distance to the k-th neighbour: a query then
        // reads its own and the next shell of buckets, a few dozen points per neighbour.
        let bucket_m =
            2.0 * (k as f64 * spread_area_m2(points) / (std::f64::consts::PI * len as f64)).sqrt();
        let index = build_index(points, bucket_m.max(1.0));
        let rows = in_parallel(len, |i| {
            let mut row: Vec<(u32, f64)> = index
                .nearest(points[i])
                .filter(|&(j, _)| j as usize != i)
                .take(k)
                .map(|(j, _)| (j, 1.0))
                .collect();
            row.sort_unstable_by_key(|&(j, _)| j);
            row
        });
        rows_to_weights(rows)
    }

    /// Weights to every other point within `threshold_m` metres along the sphere (inclusive),
    /// binary or inverse distance. Points with none are islands.
    ///
    /// ```
    /// use wangge_analysis::sphere::LonLat;
    /// use wangge_analysis::weights::{DistanceWeight, Weights};
    /// let p = |lon, lat| LonLat::new(lon, lat).unwrap();
    /// // 0.01° of longitude at 24.3°N is about 1,013 m.
    /// let points = [p(102.50, 24.30), p(102.51, 24.30), p(102.60, 24.30)];
    /// let w = Weights::distance_band(&points, 1_500.0, DistanceWeight::Inverse { power: 1.0 })?;
    /// let (j, weight) = w.neighbours(0).next().unwrap();
    /// assert_eq!(j, 1);
    /// assert!((1.0 / weight - 1_013.5).abs() < 1.0);
    /// assert_eq!(w.islands(), vec![2]);
    /// # Ok::<(), wangge_analysis::weights::WeightsError>(())
    /// ```
    pub fn distance_band(
        points: &[LonLat],
        threshold_m: f64,
        weight: DistanceWeight,
    ) -> Result<Self, WeightsError> {
        let len = points.len();
        if !(threshold_m.is_finite() && threshold_m > 0.0 && threshold_m <= MAX_DISTANCE_M) {
            return Err(WeightsError::BadThreshold(threshold_m));
        }
        if let DistanceWeight::Inverse { power } = weight
            && !(power.is_finite() && power > 0.0 && power <= 4.0)
        {
            return Err(WeightsError::BadPower(power));
        }
        if len > MAX_LOCATIONS {
            return Err(WeightsError::TooManyLocations { len });
        }
        let index = build_index(points, threshold_m.max(1.0));
        let weigh = |metres: f64| match weight {
            DistanceWeight::Binary => 1.0,
            DistanceWeight::Inverse { power } => 1.0 / metres.max(1.0).powf(power),
        };
        let too_many = std::sync::atomic::AtomicUsize::new(0);
        let rows = in_parallel(len, |i| {
            // Once the total passes the cap, the answer is an error: stop collecting.
            if too_many.load(std::sync::atomic::Ordering::Relaxed) > MAX_PAIRS {
                return Vec::new();
            }
            let mut row: Vec<(u32, f64)> = index
                .nearest(points[i])
                .take_while(|&(_, d)| d <= threshold_m)
                .filter(|&(j, _)| j as usize != i)
                .map(|(j, d)| (j, weigh(d)))
                .collect();
            too_many.fetch_add(row.len(), std::sync::atomic::Ordering::Relaxed);
            row.sort_unstable_by_key(|&(j, _)| j);
            row
        });
        if too_many.into_inner() > MAX_PAIRS {
            return Err(WeightsError::TooManyPairs);
        }
        rows_to_weights(rows)
    }
}

/// The area in m² of the lon/lat box around the points (at least 1 m²): enough to size
/// buckets from the points' density.
fn spread_area_m2(points: &[LonLat]) -> f64 {
    let (mut lon0, mut lon1, mut lat0, mut lat1) = (180.0f64, -180.0f64, 90.0f64, -90.0f64);
    for p in points {
        lon0 = lon0.min(p.lon());
        lon1 = lon1.max(p.lon());
        lat0 = lat0.min(p.lat());
        lat1 = lat1.max(p.lat());
    }
    let band = (lat1.to_radians().sin() - lat0.to_radians().sin()).abs();
    let area = MEAN_EARTH_RADIUS_M.powi(2) * (lon1 - lon0).to_radians() * band;
    area.max(1.0)
}

fn build_index(points: &[LonLat], bucket_m: f64) -> PointIndex<u32> {
    let mut index = PointIndex::new(bucket_m);
    for (i, &p) in points.iter().enumerate() {
        index.insert(i as u32, p);
    }
    index
}

/// `row(i)` for every location, the locations split into one contiguous range per thread.
fn in_parallel<F>(len: usize, row: F) -> Rows
where
    F: Fn(usize) -> Vec<(u32, f64)> + Sync,
{
    let threads = thread_count(0).min(len.div_ceil(1_000)).max(1);
    let per = len.div_ceil(threads);
    let row = &row;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t * per..((t + 1) * per).min(len))
                        .map(row)
                        .collect::<Rows>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a weights thread panicked"))
            .collect()
    })
}

fn rows_to_weights(rows: Rows) -> Result<Weights, WeightsError> {
    let total: usize = rows.iter().map(Vec::len).sum();
    if total > MAX_PAIRS {
        return Err(WeightsError::TooManyPairs);
    }
    let mut offsets = Vec::with_capacity(rows.len() + 1);
    let mut neighbours = Vec::with_capacity(total);
    let mut weights = Vec::with_capacity(total);
    offsets.push(0);
    for row in rows {
        for (j, w) in row {
            neighbours.push(j);
            weights.push(w);
        }
        offsets.push(neighbours.len());
    }
    Ok(Weights::from_checked_rows(offsets, neighbours, weights))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use crate::sphere::haversine_m;

    fn points(seed: u64, n: usize) -> Vec<LonLat> {
        let mut rng = Rng::new(seed, 0);
        (0..n)
            .map(|_| LonLat::new(102.3 + 0.5 * rng.unit(), 24.1 + 0.5 * rng.unit()).unwrap())
            .collect()
    }

    #[test]
    fn knn_matches_brute_force_with_ties_by_index() {
        let mut pts = points(3, 1_500);
        // Exact ties: copies of earlier points, and a point equidistant from two others.
        pts[10] = pts[3];
        pts[11] = pts[3];
        for k in [1, 4, 8] {
            let w = Weights::knn(&pts, k).unwrap();
            for i in 0..pts.len() {
                let mut all: Vec<(f64, usize)> = (0..pts.len())
                    .filter(|&j| j != i)
                    .map(|j| (haversine_m(pts[i], pts[j]), j))
                    .collect();
                all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                let mut expected: Vec<u32> = all[..k].iter().map(|&(_, j)| j as u32).collect();
                expected.sort_unstable();
                // Distances computed two ways (chord, haversine) may differ in the last bits;
                // compare sets only where the k-th and (k+1)-th are not within a millimetre.
                if (all[k].0 - all[k - 1].0).abs() > 1e-3 {
                    assert_eq!(w.neighbour_indices(i), expected.as_slice(), "k={k} i={i}");
                }
            }
        }
        let w = Weights::knn(&pts, 2).unwrap();
        // Point 3 and its two copies are each other's nearest (distance 0).
        assert_eq!(w.neighbour_indices(3), &[10, 11]);
        assert_eq!(w.neighbour_indices(11), &[3, 10]);
    }

    #[test]
    fn distance_band_matches_brute_force() {
        let pts = points(5, 800);
        for (threshold, weight) in [
            (1_500.0, DistanceWeight::Binary),
            (3_000.0, DistanceWeight::Inverse { power: 1.0 }),
            (3_000.0, DistanceWeight::Inverse { power: 2.0 }),
        ] {
            let w = Weights::distance_band(&pts, threshold, weight).unwrap();
            for i in 0..pts.len() {
                let expected: Vec<(usize, f64)> = (0..pts.len())
                    .filter(|&j| j != i)
                    .map(|j| (j, haversine_m(pts[i], pts[j])))
                    .filter(|&(_, d)| d <= threshold)
                    .collect();
                let got: Vec<(usize, f64)> = w.neighbours(i).collect();
                assert_eq!(got.len(), expected.len(), "{i}");
                for ((gj, gw), (ej, d)) in got.iter().zip(&expected) {
                    assert_eq!(gj, ej);
                    let ew = match weight {
                        DistanceWeight::Binary => 1.0,
                        DistanceWeight::Inverse { power } => d.max(1.0).powf(-power),
                    };
                    assert!((gw - ew).abs() <= 1e-9 * ew, "{gw} vs {ew}");
                }
            }
        }
    }

    #[test]
    fn bad_parameters_are_refused() {
        let pts = points(1, 5);
        assert_eq!(
            Weights::knn(&pts, 0),
            Err(WeightsError::BadK { k: 0, max: MAX_K })
        );
        assert_eq!(
            Weights::knn(&pts, 5),
            Err(WeightsError::KNotBelowLen { k: 5, len: 5 })
        );
        assert_eq!(
            Weights::distance_band(&pts, -5.0, DistanceWeight::Binary),
            Err(WeightsError::BadThreshold(-5.0))
        );
        assert_eq!(
            Weights::distance_band(&pts, 100.0, DistanceWeight::Inverse { power: f64::NAN })
                .unwrap_err()
                .to_string(),
            "inverse-distance power NaN must be finite and from 0 to 4 (0 exclusive)"
        );
    }
}
