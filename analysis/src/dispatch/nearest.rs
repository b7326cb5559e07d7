//! Nearest-first search over points on the sphere that move often.
//!
//! Points are kept as unit vectors in cubic buckets of a fixed side (a hash of the bucket's
//! integer coordinates), so moving a point is a removal and an insertion, O(1), with no
//! rebalancing. A search visits the buckets around the query shell by shell: once every
//! bucket within Chebyshev distance `r` of the query's own bucket is read, any point not yet
//! seen lies more than `r` bucket sides away along some axis, so no chord to it is shorter
//! than `r · side`, and every point already found within that chord can be answered in
//! order. When the shells would touch more buckets than exist, the search reads the remaining
//! buckets directly instead. Answers are exact; ties are broken by key.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;

use crate::sphere::{LonLat, chord_squared, chord_to_metres, metres_to_chord};

type Bucket = [i32; 3];

/// Points by key, searchable nearest first.
#[derive(Debug, Clone)]
pub struct PointIndex<K> {
    side: f64,
    buckets: HashMap<Bucket, Vec<(K, [f64; 3])>>,
    len: usize,
}

impl<K: Copy + Eq + Hash + Ord> PointIndex<K> {
    /// An empty index whose buckets are `bucket_m` metres across (a few times the typical
    /// distance between neighbouring points is right: a search then reads few buckets).
    pub fn new(bucket_m: f64) -> Self {
        assert!(bucket_m > 0.0, "buckets need a positive size");
        Self {
            side: metres_to_chord(bucket_m),
            buckets: HashMap::new(),
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn bucket(&self, v: [f64; 3]) -> Bucket {
        v.map(|c| (c / self.side).floor() as i32)
    }

    /// Adds `key` at `at`. The caller keeps each key at one place at a time (remove first).
    pub fn insert(&mut self, key: K, at: LonLat) {
        let v = at.unit_vector();
        self.buckets
            .entry(self.bucket(v))
            .or_default()
            .push((key, v));
        self.len += 1;
    }

    /// Removes `key`, which was inserted at `at`; false if it was not there.
    pub fn remove(&mut self, key: K, at: LonLat) -> bool {
        let bucket = self.bucket(at.unit_vector());
        let Some(points) = self.buckets.get_mut(&bucket) else {
            return false;
        };
        let Some(i) = points.iter().position(|(k, _)| *k == key) else {
            return false;
        };
        points.swap_remove(i);
        if points.is_empty() {
            self.buckets.remove(&bucket);
        }
        self.len -= 1;
        true
    }

    /// Every point, nearest to `from` first, with its distance along the sphere in metres.
    /// Lazy: taking the first few reads only the buckets near `from`.
    pub fn nearest(&self, from: LonLat) -> Nearest<'_, K> {
        let query = from.unit_vector();
        Nearest {
            index: self,
            query,
            centre: self.bucket(query),
            next_shell: 0,
            buckets_read: 0,
            found: BinaryHeap::new(),
            everything_read: self.buckets.is_empty(),
        }
    }
}

/// A found point, ordered so that the heap's top is the nearest (then the smallest key).
#[derive(Debug)]
struct Found<K> {
    chord_squared: f64,
    key: K,
}

impl<K: Ord> Ord for Found<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .chord_squared
            .total_cmp(&self.chord_squared)
            .then_with(|| other.key.cmp(&self.key))
    }
}

impl<K: Ord> PartialOrd for Found<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K: Ord> PartialEq for Found<K> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<K: Ord> Eq for Found<K> {}

/// The iterator returned by [`PointIndex::nearest`]: `(key, metres)`, nearest first.
#[derive(Debug)]
pub struct Nearest<'a, K> {
    index: &'a PointIndex<K>,
    query: [f64; 3],
    centre: Bucket,
    next_shell: i32,
    buckets_read: usize,
    found: BinaryHeap<Found<K>>,
    everything_read: bool,
}

impl<K: Copy + Eq + Hash + Ord> Nearest<'_, K> {
    fn read_bucket(&mut self, bucket: &Bucket) {
        if let Some(points) = self.index.buckets.get(bucket) {
            self.buckets_read += 1;
            for &(key, v) in points {
                self.found.push(Found {
                    chord_squared: chord_squared(self.query, v),
                    key,
                });
            }
        }
    }

    /// Reads the buckets at Chebyshev distance `next_shell` from the centre.
    fn read_next_shell(&mut self) {
        let r = self.next_shell;
        let shell_size = if r == 0 {
            1
        } else {
            (2 * r as usize + 1).pow(3) - (2 * r as usize - 1).pow(3)
        };
        // A shell bigger than what is left costs more than reading what is left.
        if shell_size > self.index.buckets.len() - self.buckets_read {
            self.read_everything_beyond(r - 1);
            return;
        }
        let [cx, cy, cz] = self.centre;
        for dx in -r..=r {
            for dy in -r..=r {
                if dx.abs() == r || dy.abs() == r {
                    for dz in -r..=r {
                        self.read_bucket(&[cx + dx, cy + dy, cz + dz]);
                    }
                } else {
                    self.read_bucket(&[cx + dx, cy + dy, cz - r]);
                    if r != 0 {
                        self.read_bucket(&[cx + dx, cy + dy, cz + r]);
                    }
                }
            }
        }
        self.next_shell += 1;
    }

    /// Reads every bucket farther than `done` shells from the centre.
    fn read_everything_beyond(&mut self, done: i32) {
        let (index, centre) = (self.index, self.centre);
        let far = |b: &&Bucket| (0..3).map(|i| (b[i] - centre[i]).abs()).max() > Some(done);
        for bucket in index.buckets.keys().filter(far) {
            self.read_bucket(bucket);
        }
        self.everything_read = true;
    }
}

impl<K: Copy + Eq + Hash + Ord> Iterator for Nearest<'_, K> {
    type Item = (K, f64);

    fn next(&mut self) -> Option<(K, f64)> {
        loop {
            if let Some(top) = self.found.peek() {
                // Shells 0..next_shell are read: anything unread is farther than this chord.
                let unread_beyond = f64::from(self.next_shell - 1).max(0.0) * self.index.side;
                if self.everything_read || top.chord_squared <= unread_beyond.powi(2) {
                    let top = self.found.pop().expect("peeked");
                    return Some((top.key, chord_to_metres(top.chord_squared.sqrt())));
                }
            } else if self.everything_read {
                return None;
            }
            self.read_next_shell();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sphere::haversine_m;

    /// A small deterministic generator (xorshift), so the tests need no dependency.
    pub(crate) struct Rng(u64);

    impl Rng {
        pub(crate) fn new(seed: u64) -> Self {
            Self(seed.max(1))
        }

        pub(crate) fn unit(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }

        pub(crate) fn point_near_yuxi(&mut self) -> LonLat {
            LonLat::new(101.3 + 1.6 * self.unit(), 23.3 + 1.6 * self.unit()).unwrap()
        }
    }

    fn brute_force(points: &[(u32, LonLat)], from: LonLat) -> Vec<(u32, f64)> {
        let mut all: Vec<_> = points
            .iter()
            .map(|&(k, p)| (k, haversine_m(from, p)))
            .collect();
        all.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        all
    }

    #[test]
    fn answers_every_point_in_order_of_distance() {
        let mut rng = Rng::new(7);
        for bucket_m in [200.0, 2_000.0, 50_000.0] {
            let mut index = PointIndex::new(bucket_m);
            let points: Vec<(u32, LonLat)> =
                (0..2_000).map(|k| (k, rng.point_near_yuxi())).collect();
            for &(k, p) in &points {
                index.insert(k, p);
            }
            for _ in 0..50 {
                let from = rng.point_near_yuxi();
                let expected = brute_force(&points, from);
                let got: Vec<_> = index.nearest(from).collect();
                assert_eq!(got.len(), expected.len());
                for (g, e) in got.iter().zip(&expected) {
                    assert_eq!(g.0, e.0, "bucket {bucket_m} m");
                    assert!((g.1 - e.1).abs() < 1e-3);
                }
            }
        }
    }

    #[test]
    fn moved_points_are_found_where_they_are_now() {
        let mut rng = Rng::new(11);
        let mut index = PointIndex::new(1_000.0);
        let mut points: Vec<(u32, LonLat)> = (0..500).map(|k| (k, rng.point_near_yuxi())).collect();
        for &(k, p) in &points {
            index.insert(k, p);
        }
        for round in 0..2_000 {
            let i = round % points.len();
            let (k, old) = points[i];
            assert!(index.remove(k, old));
            let new = rng.point_near_yuxi();
            index.insert(k, new);
            points[i].1 = new;
        }
        assert!(!index.remove(9_999, LonLat::new(102.0, 24.0).unwrap()));
        assert_eq!(index.len(), points.len());
        for _ in 0..100 {
            let from = rng.point_near_yuxi();
            let got: Vec<_> = index.nearest(from).take(5).map(|(k, _)| k).collect();
            let expected: Vec<_> = brute_force(&points, from)
                .into_iter()
                .take(5)
                .map(|(k, _)| k)
                .collect();
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn far_and_empty_searches_end() {
        let mut index = PointIndex::new(500.0);
        assert_eq!(index.nearest(LonLat::new(0.0, 0.0).unwrap()).next(), None);
        index.insert(1u8, LonLat::new(-179.9, -89.0).unwrap());
        index.insert(2u8, LonLat::new(102.5, 24.3).unwrap());
        let got: Vec<_> = index.nearest(LonLat::new(102.0, 24.0).unwrap()).collect();
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), vec![2, 1]);
        assert!(got[1].1 > 10_000_000.0);
    }
}
