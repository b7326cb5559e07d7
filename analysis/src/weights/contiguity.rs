//! Contiguity weights for polygons, as libpysal's vertex-based `Queen` and `Rook`: two
//! polygons are queen neighbours when they share at least one vertex, rook neighbours when
//! they share an edge (two vertices consecutive in a ring of each, in either direction).
//!
//! Vertices match on their exact coordinates (the bits of both `f64`s, with −0 read as 0),
//! as libpysal's do: polygons cut from one coverage share vertices exactly. Two polygons
//! that touch along a line where only one of them has a vertex (a T-junction) are not rook
//! neighbours, here as there. All rings count, holes included, so an island polygon inside
//! a hole neighbours the polygon around it.
//!
//! Each vertex (or edge) is listed with its polygon, the list is sorted, and polygons that
//! share an entry become neighbours: O(V log V) in the number of vertices, not pairwise.

use geo::MultiPolygon;

use super::{MAX_LOCATIONS, Weights, WeightsError};

/// Which shared boundary makes two polygons neighbours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contiguity {
    /// At least one shared vertex.
    Queen,
    /// At least one shared edge.
    Rook,
}

type Vertex = (u64, u64);

fn vertex(c: geo::Coord<f64>) -> Vertex {
    // Adding zero turns −0 into +0, so the two zeros hash alike.
    ((c.x + 0.0).to_bits(), (c.y + 0.0).to_bits())
}

impl Weights {
    /// Binary contiguity weights between polygons.
    ///
    /// ```
    /// use geo::{MultiPolygon, polygon};
    /// use wangge_analysis::weights::{Contiguity, Weights};
    /// // Three unit squares in a row, and one touching the third only at a corner.
    /// let square = |x: f64, y: f64| MultiPolygon::new(vec![polygon![
    ///     (x: x, y: y), (x: x + 1.0, y: y), (x: x + 1.0, y: y + 1.0), (x: x, y: y + 1.0),
    /// ]]);
    /// let polygons = [square(0.0, 0.0), square(1.0, 0.0), square(2.0, 0.0), square(3.0, 1.0)];
    /// let queen = Weights::contiguity(&polygons, Contiguity::Queen)?;
    /// let rook = Weights::contiguity(&polygons, Contiguity::Rook)?;
    /// assert_eq!(queen.neighbour_indices(2), &[1, 3]);
    /// assert_eq!(rook.neighbour_indices(2), &[1]);
    /// assert_eq!(rook.islands(), vec![3]);
    /// # Ok::<(), wangge_analysis::weights::WeightsError>(())
    /// ```
    pub fn contiguity(
        polygons: &[MultiPolygon<f64>],
        rule: Contiguity,
    ) -> Result<Self, WeightsError> {
        let len = polygons.len();
        if len > MAX_LOCATIONS {
            return Err(WeightsError::TooManyLocations { len });
        }
        let pairs = match rule {
            Contiguity::Queen => {
                let mut entries: Vec<(Vertex, u32)> = Vec::new();
                for (i, p) in polygons.iter().enumerate() {
                    for ring in rings(p) {
                        entries.extend(ring.coords().map(|&c| (vertex(c), i as u32)));
                    }
                }
                sharing_pairs(entries)
            }
            Contiguity::Rook => {
                let mut entries: Vec<((Vertex, Vertex), u32)> = Vec::new();
                for (i, p) in polygons.iter().enumerate() {
                    for ring in rings(p) {
                        for line in ring.lines() {
                            let (a, b) = (vertex(line.start), vertex(line.end));
                            if a != b {
                                entries.push(((a.min(b), a.max(b)), i as u32));
                            }
                        }
                    }
                }
                sharing_pairs(entries)
            }
        };
        Weights::from_pairs(len, pairs)
    }
}

fn rings(p: &MultiPolygon<f64>) -> impl Iterator<Item = &geo::LineString<f64>> {
    p.0.iter()
        .flat_map(|poly| std::iter::once(poly.exterior()).chain(poly.interiors()))
}

/// Every ordered pair of distinct polygons listed under the same key.
fn sharing_pairs<K: Ord + Copy>(mut entries: Vec<(K, u32)>) -> Vec<(u32, u32)> {
    entries.sort_unstable();
    entries.dedup();
    let mut pairs = Vec::new();
    let mut start = 0;
    while start < entries.len() {
        let key = entries[start].0;
        let end = start + entries[start..].partition_point(|e| e.0 == key);
        let group = &entries[start..end];
        for a in group {
            for b in group {
                if a.1 != b.1 {
                    pairs.push((a.1, b.1));
                }
            }
        }
        start = end;
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{LineString, Polygon};

    fn square(x: f64, y: f64, side: f64) -> MultiPolygon<f64> {
        MultiPolygon::new(vec![Polygon::new(
            LineString::from(vec![
                (x, y),
                (x + side, y),
                (x + side, y + side),
                (x, y + side),
                (x, y),
            ]),
            vec![],
        )])
    }

    /// The brute-force reading of the definitions: every pair of polygons, every vertex or
    /// every edge compared.
    fn brute_force(polygons: &[MultiPolygon<f64>], rule: Contiguity) -> Vec<Vec<u32>> {
        let coords = |p: &MultiPolygon<f64>| -> Vec<Vec<(f64, f64)>> {
            p.0.iter()
                .flat_map(|poly| std::iter::once(poly.exterior()).chain(poly.interiors()))
                .map(|ring| ring.coords().map(|c| (c.x, c.y)).collect())
                .collect()
        };
        let mut out = vec![Vec::new(); polygons.len()];
        for i in 0..polygons.len() {
            for j in 0..polygons.len() {
                if i == j {
                    continue;
                }
                let (ri, rj) = (coords(&polygons[i]), coords(&polygons[j]));
                let touch = match rule {
                    Contiguity::Queen => ri
                        .iter()
                        .flatten()
                        .any(|a| rj.iter().flatten().any(|b| a == b)),
                    Contiguity::Rook => ri.iter().any(|ra| {
                        ra.windows(2).any(|ea| {
                            rj.iter().any(|rb| {
                                rb.windows(2).any(|eb| {
                                    ea[0] != ea[1]
                                        && ((ea[0] == eb[0] && ea[1] == eb[1])
                                            || (ea[0] == eb[1] && ea[1] == eb[0]))
                                })
                            })
                        })
                    }),
                };
                if touch {
                    out[i].push(j as u32);
                }
            }
        }
        out
    }

    #[test]
    fn a_grid_of_squares_matches_the_definitions() {
        // A 6 × 5 lattice of unit squares, with one square missing and one shifted by half
        // a side (so it shares no vertex with its left neighbour... but its corners lie on
        // the edges of the squares above and below: T-junctions, neither queen nor rook).
        let mut polygons = Vec::new();
        for row in 0..5 {
            for col in 0..6 {
                if (row, col) == (2, 3) {
                    continue;
                }
                let dy = if (row, col) == (4, 5) { 0.5 } else { 0.0 };
                polygons.push(square(f64::from(col), f64::from(row) + dy, 1.0));
            }
        }
        for rule in [Contiguity::Queen, Contiguity::Rook] {
            let w = Weights::contiguity(&polygons, rule).unwrap();
            let expected = brute_force(&polygons, rule);
            for (i, e) in expected.iter().enumerate() {
                assert_eq!(w.neighbour_indices(i), e.as_slice(), "{rule:?} {i}");
            }
        }
        // Interior square (row 1, col 1) = index 7: 8 queen neighbours, 4 rook.
        let queen = Weights::contiguity(&polygons, Contiguity::Queen).unwrap();
        let rook = Weights::contiguity(&polygons, Contiguity::Rook).unwrap();
        assert_eq!(queen.cardinality(7), 8);
        assert_eq!(rook.cardinality(7), 4);
    }

    #[test]
    fn negative_zero_and_holes_and_reversed_edges() {
        // Square B is drawn clockwise with −0.0 where A has 0.0: still rook neighbours.
        let a = square(-1.0, 0.0, 1.0);
        let b = MultiPolygon::new(vec![Polygon::new(
            LineString::from(vec![
                (-0.0, 0.0),
                (-0.0, 1.0),
                (1.0, 1.0),
                (1.0, 0.0),
                (-0.0, 0.0),
            ]),
            vec![],
        )]);
        // C has a hole exactly where D sits.
        let c = MultiPolygon::new(vec![Polygon::new(
            LineString::from(vec![
                (10.0, 10.0),
                (14.0, 10.0),
                (14.0, 14.0),
                (10.0, 14.0),
                (10.0, 10.0),
            ]),
            vec![LineString::from(vec![
                (11.0, 11.0),
                (12.0, 11.0),
                (12.0, 12.0),
                (11.0, 12.0),
                (11.0, 11.0),
            ])],
        )]);
        let d = square(11.0, 11.0, 1.0);
        let w = Weights::contiguity(&[a, b, c, d], Contiguity::Rook).unwrap();
        assert_eq!(w.neighbour_indices(0), &[1]);
        assert_eq!(w.neighbour_indices(2), &[3]);
        assert_eq!(w.neighbour_indices(3), &[2]);
    }
}
