//! Polygons cut to a tile: from Web Mercator metres (EPSG:3857) to tile coordinates,
//! clipped to the tile and its buffer, snapped to the integer grid. What PostGIS
//! `ST_AsMVTGeom(geom, ST_TileEnvelope(z, x, y), extent, buffer, true)` does for polygons,
//! for geometry held in memory rather than read from the database.
//!
//! Each ring is clipped on its own against the buffered square (Sutherland–Hodgman: the
//! square is convex, so the result is the ring's part inside it, possibly with edges running
//! along the square's sides where the ring left and came back; those lie in the buffer,
//! outside what is drawn). Rings are then snapped to the grid with repeated points dropped;
//! the encoder ([`crate::mvt`]) winds them and drops what has no area left.
//!
//! ```
//! use wangge_tiles::{TileCoord, clip::polygon_in_tile};
//!
//! // A square of 2 × 2 km around Yuxi's centre, and the z12 tile holding its middle.
//! let (cx, cy) = wangge_tiles::lonlat_to_3857(102.5467, 24.3522);
//! let ring = [
//!     [cx - 1000.0, cy - 1000.0], [cx + 1000.0, cy - 1000.0],
//!     [cx + 1000.0, cy + 1000.0], [cx - 1000.0, cy + 1000.0], [cx - 1000.0, cy - 1000.0],
//! ];
//! let tile = TileCoord::containing(102.5467, 24.3522, 12)?;
//! let polygon = polygon_in_tile(&tile, 4096, 64, &ring, &[]).expect("inside the tile");
//! // A z12 tile is about 9.8 km wide here: 2 km is about 840 of its 4096 steps.
//! let xs: Vec<i32> = polygon.exterior.iter().map(|p| p[0]).collect();
//! let width = xs.iter().max().unwrap() - xs.iter().min().unwrap();
//! assert!((800..880).contains(&width), "{width}");
//! // Far from the tile, nothing is left.
//! let far = TileCoord::new(12, 0, 0)?;
//! assert!(polygon_in_tile(&far, 4096, 64, &ring, &[]).is_none());
//! # Ok::<(), wangge_tiles::TileCoordError>(())
//! ```

use crate::TileCoord;
use crate::mvt::Polygon;

/// The polygon with exterior `exterior` and holes `holes` (rings of `[x, y]` in EPSG:3857
/// metres, closed or open, either winding) in `tile`'s coordinates on a grid of `extent`
/// steps, keeping `buffer` steps around the tile. `None` when nothing of the exterior is
/// left inside the buffered tile.
pub fn polygon_in_tile(
    tile: &TileCoord,
    extent: u32,
    buffer: u32,
    exterior: &[[f64; 2]],
    holes: &[&[[f64; 2]]],
) -> Option<Polygon> {
    let b = tile.bounds_3857();
    let scale = f64::from(extent) / b.width();
    let to_tile = |p: &[f64; 2]| [(p[0] - b.min_x()) * scale, (b.max_y() - p[1]) * scale];
    let low = -f64::from(buffer);
    let high = f64::from(extent) + f64::from(buffer);
    let ring_in_tile = |ring: &[[f64; 2]]| -> Option<Vec<[i32; 2]>> {
        let points: Vec<[f64; 2]> = ring.iter().map(to_tile).collect();
        let clipped = clip_ring(points, low, high);
        let snapped = snap(&clipped);
        (snapped.len() >= 3).then_some(snapped)
    };
    let exterior = ring_in_tile(exterior)?;
    let holes = holes.iter().filter_map(|h| ring_in_tile(h)).collect();
    Some(Polygon::new(exterior, holes))
}

/// The part of a ring inside the square `low..=high` on both axes.
fn clip_ring(mut ring: Vec<[f64; 2]>, low: f64, high: f64) -> Vec<[f64; 2]> {
    if ring.len() > 1 && ring.first() == ring.last() {
        ring.pop();
    }
    let inside_all = ring
        .iter()
        .all(|p| (low..=high).contains(&p[0]) && (low..=high).contains(&p[1]));
    if inside_all {
        return ring;
    }
    // One half-plane at a time: x ≥ low, x ≤ high, y ≥ low, y ≤ high.
    for (axis, bound, keep_above) in [
        (0, low, true),
        (0, high, false),
        (1, low, true),
        (1, high, false),
    ] {
        if ring.is_empty() {
            break;
        }
        let inside = |p: &[f64; 2]| {
            if keep_above {
                p[axis] >= bound
            } else {
                p[axis] <= bound
            }
        };
        let mut out = Vec::with_capacity(ring.len() + 4);
        for (i, current) in ring.iter().enumerate() {
            let previous = &ring[(i + ring.len() - 1) % ring.len()];
            match (inside(previous), inside(current)) {
                (true, true) => out.push(*current),
                (true, false) => out.push(crossing(previous, current, axis, bound)),
                (false, true) => {
                    out.push(crossing(previous, current, axis, bound));
                    out.push(*current);
                }
                (false, false) => {}
            }
        }
        ring = out;
    }
    ring
}

/// Where the segment `a`–`b` crosses the line `axis = bound` (the two lie on either side).
fn crossing(a: &[f64; 2], b: &[f64; 2], axis: usize, bound: f64) -> [f64; 2] {
    let t = (bound - a[axis]) / (b[axis] - a[axis]);
    let mut p = [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])];
    p[axis] = bound;
    p
}

/// Rounded to the grid, with consecutive repeats (and a repeated closing point) dropped.
fn snap(ring: &[[f64; 2]]) -> Vec<[i32; 2]> {
    let mut out: Vec<[i32; 2]> = Vec::with_capacity(ring.len());
    for p in ring {
        let q = [p[0].round() as i32, p[1].round() as i32];
        if out.last() != Some(&q) {
            out.push(q);
        }
    }
    while out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Twice the signed area (surveyor's formula) of an open ring.
    fn area2(ring: &[[i32; 2]]) -> i64 {
        (0..ring.len())
            .map(|i| {
                let (a, b) = (ring[i], ring[(i + 1) % ring.len()]);
                i64::from(a[0]) * i64::from(b[1]) - i64::from(b[0]) * i64::from(a[1])
            })
            .sum()
    }

    #[test]
    fn a_ring_inside_is_kept_point_for_point() {
        let ring = vec![[10.0, 10.0], [20.4, 10.0], [20.4, 30.6], [10.0, 10.0]];
        assert_eq!(clip_ring(ring.clone(), -64.0, 4160.0), ring[..3].to_vec());
        assert_eq!(snap(&ring), vec![[10, 10], [20, 10], [20, 31]]);
    }

    #[test]
    fn a_ring_across_a_corner_keeps_the_part_inside() {
        // A square from -100 to 100: the quarter inside 0..=4096 (buffer 0) is 100 × 100.
        let ring = vec![
            [-100.0, -100.0],
            [100.0, -100.0],
            [100.0, 100.0],
            [-100.0, 100.0],
        ];
        let clipped = snap(&clip_ring(ring, 0.0, 4096.0));
        assert_eq!(area2(&clipped).abs(), 2 * 100 * 100, "{clipped:?}");
        assert!(clipped.iter().all(|p| p[0] >= 0 && p[1] >= 0));
    }

    #[test]
    fn a_ring_around_the_tile_becomes_the_buffered_square() {
        let ring = vec![[-1e6, -1e6], [1e6, -1e6], [1e6, 1e6], [-1e6, 1e6]];
        let clipped = snap(&clip_ring(ring, -64.0, 4160.0));
        assert_eq!(area2(&clipped).abs(), 2 * 4224 * 4224);
    }

    #[test]
    fn a_concave_ring_leaving_and_returning_keeps_its_area_inside() {
        // A U open to the top, its arms crossing y = 0: inside y ≥ 0 the U's lower part.
        let ring = vec![
            [0.0, 50.0],
            [0.0, -50.0],
            [10.0, -50.0],
            [10.0, 40.0],
            [20.0, 40.0],
            [20.0, -50.0],
            [30.0, -50.0],
            [30.0, 50.0],
        ];
        let clipped = snap(&clip_ring(ring, 0.0, 4096.0));
        // 30 × 50 minus the notch 10 × 40 (from y = 0 to 40).
        assert_eq!(
            area2(&clipped).abs(),
            2 * (30 * 50 - 10 * 40),
            "{clipped:?}"
        );
    }

    #[test]
    fn a_ring_outside_leaves_nothing() {
        let ring = vec![[5000.0, 5000.0], [6000.0, 5000.0], [6000.0, 6000.0]];
        assert!(clip_ring(ring, -64.0, 4160.0).is_empty());
    }
}
