//! Counting points in H3 hexagons: the heat map's aggregate.
//!
//! Each point falls in exactly one H3 cell at a resolution, so counts per cell add up to the
//! number of points: nothing is dropped however many points there are, which is what makes
//! hexagons the low-zoom stand-in for thousands of incident markers.
//!
//! ```
//! use h3o::Resolution;
//! use wangge_analysis::hexbin::{CountedPoint, count_by_cell};
//! use wangge_analysis::sphere::LonLat;
//!
//! let town = LonLat::new(102.546, 24.352)?;
//! let points = [
//!     CountedPoint { at: town, open: true },
//!     CountedPoint { at: town, open: false },
//!     CountedPoint { at: LonLat::new(102.9, 24.6)?, open: true },
//! ];
//! let cells = count_by_cell(&points, Resolution::Seven);
//! assert_eq!(cells.len(), 2);
//! assert_eq!(cells.iter().map(|c| c.count).sum::<u32>(), 3);
//! assert_eq!(cells.iter().map(|c| c.open).sum::<u32>(), 2);
//! # Ok::<(), wangge_analysis::sphere::SphereError>(())
//! ```

use std::collections::HashMap;

use h3o::{CellIndex, LatLng, Resolution};

use crate::sphere::LonLat;

/// A point to count, and whether it is still open (the map shows both totals).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CountedPoint {
    pub at: LonLat,
    pub open: bool,
}

/// One hexagon's totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HexCount {
    pub cell: CellIndex,
    pub count: u32,
    pub open: u32,
}

/// The H3 cell holding a point.
pub fn cell_of(at: LonLat, resolution: Resolution) -> CellIndex {
    LatLng::new(at.lat(), at.lon())
        .expect("a LonLat is a valid place")
        .to_cell(resolution)
}

/// Counts `points` per H3 cell at `resolution`, in cell order.
pub fn count_by_cell(points: &[CountedPoint], resolution: Resolution) -> Vec<HexCount> {
    let mut counts: HashMap<CellIndex, (u32, u32)> = HashMap::new();
    for point in points {
        let entry = counts.entry(cell_of(point.at, resolution)).or_default();
        entry.0 += 1;
        entry.1 += u32::from(point.open);
    }
    let mut cells: Vec<HexCount> = counts
        .into_iter()
        .map(|(cell, (count, open))| HexCount { cell, count, open })
        .collect();
    cells.sort_unstable_by_key(|c| c.cell);
    cells
}

/// The cell's boundary as lon/lat vertices (open ring, counter-clockwise as H3 gives them).
pub fn cell_ring(cell: CellIndex) -> Vec<LonLat> {
    cell.boundary()
        .iter()
        .filter_map(|ll| LonLat::new(ll.lng(), ll.lat()).ok())
        .collect()
}

/// The lon/lat box `[min_lon, min_lat, max_lon, max_lat]` around the cell's boundary.
///
/// A cell crossing the antimeridian gets a box spanning every longitude, which only ever
/// errs on the side of covering too much.
pub fn cell_bounds(cell: CellIndex) -> [f64; 4] {
    let ring = cell_ring(cell);
    let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    for p in &ring {
        b = [
            b[0].min(p.lon()),
            b[1].min(p.lat()),
            b[2].max(p.lon()),
            b[3].max(p.lat()),
        ];
    }
    if b[2] - b[0] > 180.0 {
        b[0] = -180.0;
        b[2] = 180.0;
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sphere::haversine_m;

    #[test]
    fn every_point_is_counted_once_in_the_cell_that_holds_it() {
        let mut points = Vec::new();
        for i in 0..2_000 {
            let f = f64::from(i);
            points.push(CountedPoint {
                at: LonLat::new(
                    102.3 + (f * 0.618).fract() * 0.6,
                    24.1 + (f * 0.414).fract() * 0.5,
                )
                .unwrap(),
                open: i % 3 == 0,
            });
        }
        let cells = count_by_cell(&points, Resolution::Seven);
        assert_eq!(cells.iter().map(|c| c.count).sum::<u32>(), 2_000);
        assert_eq!(cells.iter().map(|c| c.open).sum::<u32>(), 667);
        // Each cell counts the points lying inside its boundary, which are all within about
        // one edge of its centre (the circumradius of a hexagon is its edge).
        for c in &cells {
            let centre = LatLng::from(c.cell);
            let centre = LonLat::new(centre.lng(), centre.lat()).unwrap();
            let inside: Vec<&CountedPoint> = points
                .iter()
                .filter(|p| cell_of(p.at, Resolution::Seven) == c.cell)
                .collect();
            assert_eq!(inside.len() as u32, c.count);
            let edge = Resolution::Seven.edge_length_m();
            for p in inside {
                assert!(
                    haversine_m(p.at, centre) < edge * 1.3,
                    "point far from its cell"
                );
            }
        }
        assert!(cells.windows(2).all(|w| w[0].cell < w[1].cell));
    }

    #[test]
    fn a_cells_box_holds_its_boundary_and_centre() {
        let cell = cell_of(LonLat::new(102.546, 24.352).unwrap(), Resolution::Six);
        let b = cell_bounds(cell);
        let centre = LatLng::from(cell);
        assert!(b[0] < centre.lng() && centre.lng() < b[2]);
        assert!(b[1] < centre.lat() && centre.lat() < b[3]);
        assert_eq!(cell_ring(cell).len(), 6);
    }
}
