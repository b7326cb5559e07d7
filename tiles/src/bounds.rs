//! Axis-aligned bounding boxes, tile extents, and the tiles covering a box.

use crate::coord::{MAX_ZOOM, TileCoord, tile_fraction, tile_size_3857, tiles_per_axis};
use crate::mercator::{WORLD_EXTENT_3857, mercator_to_lonlat};
use crate::range::TileRange;

/// An axis-aligned box `min_x..=max_x` × `min_y..=max_y`, with finite coordinates and
/// `min <= max` on both axes (a point or a line is a valid, degenerate box).
///
/// The type does not carry units: it holds EPSG:3857 metres when it comes from
/// [`TileCoord::bounds_3857`] and WGS-84 degrees (x = longitude, y = latitude) when it comes
/// from [`TileCoord::bounds_4326`]. A box never crosses the antimeridian; split such a region
/// into two boxes.
///
/// ```
/// use wangge_tiles::Bounds;
///
/// let b = Bounds::new(100.0, 20.0, 104.0, 26.0)?;
/// assert_eq!((b.width(), b.height()), (4.0, 6.0));
/// assert!(b.contains(102.546, 24.352));
/// assert!(Bounds::new(104.0, 20.0, 100.0, 26.0).is_err()); // min_x > max_x
/// # Ok::<(), wangge_tiles::BoundsError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    min_x: f64,
    min_y: f64,
    max_x: f64,
    max_y: f64,
}

/// Why a [`Bounds`] could not be built or used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BoundsError {
    /// A coordinate is NaN or infinite.
    #[error("bounds ({min_x}, {min_y}, {max_x}, {max_y}) have a non-finite coordinate")]
    NonFinite {
        /// `min_x` as given.
        min_x: f64,
        /// `min_y` as given.
        min_y: f64,
        /// `max_x` as given.
        max_x: f64,
        /// `max_y` as given.
        max_y: f64,
    },
    /// The minimum on an axis is greater than the maximum.
    #[error("bounds are inverted: min_{axis} {min} is greater than max_{axis} {max}")]
    Inverted {
        /// `'x'` or `'y'`.
        axis: char,
        /// The minimum as given.
        min: f64,
        /// The maximum as given.
        max: f64,
    },
    /// [`tiles_covering`] was given a box that is not WGS-84 degrees.
    #[error(
        "bounds {bounds:?} are not WGS-84 degrees: longitude must be within [-180, 180] \
         and latitude within [-90, 90]"
    )]
    NotLonLat {
        /// The rejected box.
        bounds: Bounds,
    },
    /// [`tiles_covering`] was asked for a zoom above [`MAX_ZOOM`].
    #[error("zoom {z} is above the maximum zoom {MAX_ZOOM}")]
    ZoomTooHigh {
        /// The rejected zoom level.
        z: u8,
    },
}

impl Bounds {
    /// Builds a box, checking that all coordinates are finite and `min <= max` on both axes.
    ///
    /// # Errors
    ///
    /// [`BoundsError::NonFinite`] or [`BoundsError::Inverted`].
    pub fn new(min_x: f64, min_y: f64, max_x: f64, max_y: f64) -> Result<Bounds, BoundsError> {
        if ![min_x, min_y, max_x, max_y].iter().all(|v| v.is_finite()) {
            return Err(BoundsError::NonFinite {
                min_x,
                min_y,
                max_x,
                max_y,
            });
        }
        if min_x > max_x {
            return Err(BoundsError::Inverted {
                axis: 'x',
                min: min_x,
                max: max_x,
            });
        }
        if min_y > max_y {
            return Err(BoundsError::Inverted {
                axis: 'y',
                min: min_y,
                max: max_y,
            });
        }
        Ok(Bounds {
            min_x,
            min_y,
            max_x,
            max_y,
        })
    }

    /// West edge (smallest x).
    pub fn min_x(&self) -> f64 {
        self.min_x
    }

    /// South edge (smallest y).
    pub fn min_y(&self) -> f64 {
        self.min_y
    }

    /// East edge (largest x).
    pub fn max_x(&self) -> f64 {
        self.max_x
    }

    /// North edge (largest y).
    pub fn max_y(&self) -> f64 {
        self.max_y
    }

    /// `max_x - min_x`, in the box's units; never negative.
    pub fn width(&self) -> f64 {
        self.max_x - self.min_x
    }

    /// `max_y - min_y`, in the box's units; never negative.
    pub fn height(&self) -> f64 {
        self.max_y - self.min_y
    }

    /// Whether the point (`x`, `y`) is inside the box or on its edge.
    ///
    /// ```
    /// use wangge_tiles::Bounds;
    ///
    /// let b = Bounds::new(0.0, 0.0, 10.0, 5.0)?;
    /// assert!(b.contains(10.0, 5.0));
    /// assert!(!b.contains(10.1, 5.0));
    /// # Ok::<(), wangge_tiles::BoundsError>(())
    /// ```
    pub fn contains(&self, x: f64, y: f64) -> bool {
        (self.min_x..=self.max_x).contains(&x) && (self.min_y..=self.max_y).contains(&y)
    }

    /// Whether the two boxes share at least one point; boxes that only touch along an edge
    /// or at a corner intersect.
    ///
    /// ```
    /// use wangge_tiles::Bounds;
    ///
    /// let a = Bounds::new(0.0, 0.0, 10.0, 10.0)?;
    /// assert!(a.intersects(&Bounds::new(10.0, 10.0, 20.0, 20.0)?)); // shared corner
    /// assert!(!a.intersects(&Bounds::new(10.5, 0.0, 20.0, 10.0)?));
    /// # Ok::<(), wangge_tiles::BoundsError>(())
    /// ```
    pub fn intersects(&self, other: &Bounds) -> bool {
        self.min_x <= other.max_x
            && other.min_x <= self.max_x
            && self.min_y <= other.max_y
            && other.min_y <= self.max_y
    }
}

impl TileCoord {
    /// The tile's extent in EPSG:3857 metres.
    ///
    /// Tile edges are computed exactly as multiples of the tile size, so the four
    /// [`children`](TileCoord::children) of a tile share edges bit-for-bit with it and with
    /// each other.
    ///
    /// ```
    /// use wangge_tiles::{TileCoord, WORLD_EXTENT_3857};
    ///
    /// let b = TileCoord::new(1, 1, 0)?.bounds_3857(); // north-east quadrant
    /// assert_eq!((b.min_x(), b.min_y()), (0.0, 0.0));
    /// assert_eq!((b.max_x(), b.max_y()), (WORLD_EXTENT_3857, WORLD_EXTENT_3857));
    /// # Ok::<(), wangge_tiles::TileCoordError>(())
    /// ```
    pub fn bounds_3857(&self) -> Bounds {
        let size = tile_size_3857(self.z());
        let (x, y) = (f64::from(self.x()), f64::from(self.y()));
        Bounds {
            min_x: -WORLD_EXTENT_3857 + x * size,
            min_y: WORLD_EXTENT_3857 - (y + 1.0) * size,
            max_x: -WORLD_EXTENT_3857 + (x + 1.0) * size,
            max_y: WORLD_EXTENT_3857 - y * size,
        }
    }

    /// The tile's extent in WGS-84 degrees (x = longitude, y = latitude).
    ///
    /// Latitudes stay within ±[`MAX_LATITUDE`](crate::MAX_LATITUDE). As with
    /// [`bounds_3857`](TileCoord::bounds_3857), children share edges exactly with their parent.
    ///
    /// ```
    /// use wangge_tiles::{TileCoord, MAX_LATITUDE};
    ///
    /// let b = TileCoord::new(0, 0, 0)?.bounds_4326();
    /// assert_eq!((b.min_x(), b.max_x()), (-180.0, 180.0));
    /// assert!((b.max_y() - MAX_LATITUDE).abs() < 1e-12);
    ///
    /// let yuxi = TileCoord::new(10, 803, 440)?.bounds_4326();
    /// assert_eq!((yuxi.min_x(), yuxi.max_x()), (102.3046875, 102.65625));
    /// assert!(yuxi.contains(102.546, 24.352));
    /// # Ok::<(), wangge_tiles::TileCoordError>(())
    /// ```
    pub fn bounds_4326(&self) -> Bounds {
        let degrees_per_tile = 360.0 / f64::from(tiles_per_axis(self.z()));
        let x = f64::from(self.x());
        let metres = self.bounds_3857();
        let (_, min_y) = mercator_to_lonlat(0.0, metres.min_y);
        let (_, max_y) = mercator_to_lonlat(0.0, metres.max_y);
        Bounds {
            min_x: x * degrees_per_tile - 180.0,
            min_y,
            max_x: (x + 1.0) * degrees_per_tile - 180.0,
            max_y,
        }
    }
}

/// The tiles at zoom `z` whose [`bounds_4326`](TileCoord::bounds_4326) intersect
/// `bounds_4326`, a WGS-84 box in degrees.
///
/// Tiles are closed boxes here, as in [`Bounds::intersects`]: a box that ends exactly on a
/// tile edge also yields the neighbouring tile, so the result errs on the side of too many
/// tiles (the safe side for cache invalidation). Latitudes beyond
/// ±[`MAX_LATITUDE`](crate::MAX_LATITUDE) are clamped like [`TileCoord::containing`] does,
/// so the tile containing any point of the box is always in the range. Renderers that draw
/// features into a buffer around each tile should grow the box by that buffer first.
///
/// # Errors
///
/// [`BoundsError::ZoomTooHigh`] if `z > MAX_ZOOM`; [`BoundsError::NotLonLat`] if the box
/// reaches outside longitude `[-180, 180]` or latitude `[-90, 90]` (for instance EPSG:3857
/// metres passed by mistake).
///
/// ```
/// use wangge_tiles::{tiles_covering, Bounds, TileCoord};
///
/// // A write at one point touches one tile per zoom level.
/// let point = Bounds::new(102.546, 24.352, 102.546, 24.352)?;
/// let tiles: Vec<_> = tiles_covering(&point, 10)?.collect();
/// assert_eq!(tiles, [TileCoord::new(10, 803, 440)?]);
///
/// // The whole world at zoom 1 is its four tiles.
/// let world = Bounds::new(-180.0, -90.0, 180.0, 90.0)?;
/// assert_eq!(tiles_covering(&world, 1)?.count(), 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn tiles_covering(bounds_4326: &Bounds, z: u8) -> Result<TileRange, BoundsError> {
    if z > MAX_ZOOM {
        return Err(BoundsError::ZoomTooHigh { z });
    }
    let b = bounds_4326;
    let lon_ok = |v: f64| (-180.0..=180.0).contains(&v);
    let lat_ok = |v: f64| (-90.0..=90.0).contains(&v);
    if !(lon_ok(b.min_x) && lon_ok(b.max_x) && lat_ok(b.min_y) && lat_ok(b.max_y)) {
        return Err(BoundsError::NotLonLat { bounds: *b });
    }
    // In tile units tile i spans [i, i + 1]; it meets [lo, hi] iff ceil(lo) - 1 <= i <= floor(hi).
    // Rows grow southward, so the north edge gives the smallest row.
    let (west, north) = tile_fraction(b.min_x, b.max_y, z);
    let (east, south) = tile_fraction(b.max_x, b.min_y, z);
    let last = f64::from(tiles_per_axis(z) - 1);
    let first_index = |lo: f64| (lo.ceil() - 1.0).clamp(0.0, last) as u32;
    let last_index = |hi: f64| hi.floor().clamp(0.0, last) as u32;
    Ok(TileRange::new(
        z,
        first_index(west),
        last_index(east),
        first_index(north),
        last_index(south),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mercator::{MAX_LATITUDE, lonlat_to_3857};

    const E: f64 = WORLD_EXTENT_3857;

    fn tile(z: u8, x: u32, y: u32) -> TileCoord {
        TileCoord::new(z, x, y).unwrap()
    }

    fn bounds(min_x: f64, min_y: f64, max_x: f64, max_y: f64) -> Bounds {
        Bounds::new(min_x, min_y, max_x, max_y).unwrap()
    }

    fn edges(b: &Bounds) -> [f64; 4] {
        [b.min_x(), b.min_y(), b.max_x(), b.max_y()]
    }

    /// A spread of tiles: world, quadrants, mid zooms, both poles' rows, max zoom corners.
    fn sample_tiles() -> Vec<TileCoord> {
        let last22 = (1 << 22) - 1;
        vec![
            tile(0, 0, 0),
            tile(1, 0, 0),
            tile(1, 1, 1),
            tile(2, 3, 0),
            tile(5, 17, 9),
            tile(10, 803, 440),
            tile(10, 0, 1023),
            tile(15, 26_000, 14_000),
            tile(21, 2_097_151, 0),
            tile(22, 0, 0),
            tile(22, last22, last22),
            tile(22, 3_291_000, 1_804_000),
        ]
    }

    #[test]
    fn new_rejects_non_finite_and_inverted() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(matches!(
                Bounds::new(bad, 0.0, 1.0, 1.0),
                Err(BoundsError::NonFinite { .. })
            ));
            assert!(matches!(
                Bounds::new(0.0, 0.0, 1.0, bad),
                Err(BoundsError::NonFinite { .. })
            ));
        }
        assert_eq!(
            Bounds::new(2.0, 0.0, 1.0, 1.0),
            Err(BoundsError::Inverted {
                axis: 'x',
                min: 2.0,
                max: 1.0
            })
        );
        assert_eq!(
            Bounds::new(0.0, 3.0, 1.0, 1.0),
            Err(BoundsError::Inverted {
                axis: 'y',
                min: 3.0,
                max: 1.0
            })
        );
        assert_eq!(
            Bounds::new(0.0, 3.0, 1.0, 1.0).unwrap_err().to_string(),
            "bounds are inverted: min_y 3 is greater than max_y 1"
        );
    }

    #[test]
    fn degenerate_boxes_are_valid() {
        let p = bounds(3.0, 4.0, 3.0, 4.0);
        assert_eq!((p.width(), p.height()), (0.0, 0.0));
        assert!(p.contains(3.0, 4.0));
        assert!(!p.contains(3.0, 4.000_001));
    }

    #[test]
    fn accessors_width_and_height() {
        let b = bounds(-3.0, 1.5, 7.0, 2.0);
        assert_eq!(edges(&b), [-3.0, 1.5, 7.0, 2.0]);
        assert_eq!(b.width(), 10.0);
        assert_eq!(b.height(), 0.5);
    }

    #[test]
    fn contains_includes_edges_only() {
        let b = bounds(0.0, 0.0, 10.0, 5.0);
        for (x, y) in [(0.0, 0.0), (10.0, 5.0), (0.0, 5.0), (5.0, 2.5), (10.0, 0.0)] {
            assert!(b.contains(x, y), "({x}, {y})");
        }
        for (x, y) in [
            (-0.1, 2.0),
            (10.1, 2.0),
            (5.0, -0.1),
            (5.0, 5.1),
            (f64::NAN, 1.0),
        ] {
            assert!(!b.contains(x, y), "({x}, {y})");
        }
    }

    #[test]
    fn intersects_is_symmetric_and_inclusive() {
        let a = bounds(0.0, 0.0, 10.0, 10.0);
        let cases = [
            (bounds(5.0, 5.0, 15.0, 15.0), true),   // overlap
            (bounds(2.0, 2.0, 3.0, 3.0), true),     // inside
            (bounds(-5.0, -5.0, 20.0, 20.0), true), // around
            (bounds(10.0, 0.0, 20.0, 10.0), true),  // shared edge
            (bounds(10.0, 10.0, 11.0, 11.0), true), // shared corner
            (bounds(-5.0, 4.0, 15.0, 6.0), true),   // cross shape
            (bounds(11.0, 0.0, 20.0, 10.0), false), // east
            (bounds(0.0, -9.0, 10.0, -1.0), false), // south
            (bounds(11.0, 11.0, 12.0, 12.0), false),
        ];
        for (b, expected) in cases {
            assert_eq!(a.intersects(&b), expected, "{b:?}");
            assert_eq!(b.intersects(&a), expected, "{b:?} (swapped)");
        }
    }

    #[test]
    fn world_tile_bounds_are_the_world() {
        let world = tile(0, 0, 0);
        assert_eq!(edges(&world.bounds_3857()), [-E, -E, E, E]);
        let b = world.bounds_4326();
        assert_eq!((b.min_x(), b.max_x()), (-180.0, 180.0));
        assert!((b.min_y() + MAX_LATITUDE).abs() < 1e-12);
        assert!((b.max_y() - MAX_LATITUDE).abs() < 1e-12);
    }

    #[test]
    fn zoom_one_tiles_are_the_quadrants() {
        assert_eq!(edges(&tile(1, 0, 0).bounds_3857()), [-E, 0.0, 0.0, E]);
        assert_eq!(edges(&tile(1, 1, 0).bounds_3857()), [0.0, 0.0, E, E]);
        assert_eq!(edges(&tile(1, 0, 1).bounds_3857()), [-E, -E, 0.0, 0.0]);
        assert_eq!(edges(&tile(1, 1, 1).bounds_3857()), [0.0, -E, E, 0.0]);

        let ne = tile(1, 1, 0).bounds_4326();
        assert_eq!((ne.min_x(), ne.min_y(), ne.max_x()), (0.0, 0.0, 180.0));
        assert!((ne.max_y() - MAX_LATITUDE).abs() < 1e-12);
    }

    #[test]
    fn yuxi_tile_bounds() {
        let t = tile(10, 803, 440);
        let b = t.bounds_4326();
        // 803 · 360 / 1024 − 180 and 804 · 360 / 1024 − 180, exact in binary.
        assert_eq!((b.min_x(), b.max_x()), (102.3046875, 102.65625));
        // Row 440 spans lat 24.20688962239802..24.527134822597805 (Python, standard formula).
        assert!((b.min_y() - 24.206_889_622_398_02).abs() < 1e-9);
        assert!((b.max_y() - 24.527_134_822_597_805).abs() < 1e-9);
        assert!(b.contains(102.546, 24.352));

        let (x, y) = lonlat_to_3857(102.546, 24.352);
        assert!(t.bounds_3857().contains(x, y));
        // Tile width at zoom 10: 2 · E / 1024 metres.
        assert!((t.bounds_3857().width() - 39_135.758_482_010_24).abs() < 1e-6);
    }

    #[test]
    fn bounds_3857_and_4326_describe_the_same_box() {
        for t in sample_tiles() {
            let m = t.bounds_3857();
            let d = t.bounds_4326();
            let (min_lon, min_lat) = mercator_to_lonlat(m.min_x(), m.min_y());
            let (max_lon, max_lat) = mercator_to_lonlat(m.max_x(), m.max_y());
            for (a, b) in [
                (min_lon, d.min_x()),
                (min_lat, d.min_y()),
                (max_lon, d.max_x()),
                (max_lat, d.max_y()),
            ] {
                assert!((a - b).abs() < 1e-9, "{t}: {a} vs {b}");
            }
            let size = 2.0 * E / f64::from(1u32 << t.z());
            assert!((m.width() - size).abs() < 1e-6 && (m.height() - size).abs() < 1e-6);
        }
    }

    #[test]
    fn children_tile_the_parent_exactly() {
        for parent in sample_tiles() {
            let Some([nw, ne, sw, se]) = parent.children() else {
                continue;
            };
            for bounds_of in [TileCoord::bounds_3857, TileCoord::bounds_4326] {
                let p = bounds_of(&parent);
                let [nw, ne, sw, se] = [nw, ne, sw, se].map(|c| bounds_of(&c));
                let ctx = format!("parent {parent}");
                // Outer edges coincide with the parent's.
                assert_eq!(nw.min_x(), p.min_x(), "{ctx}");
                assert_eq!(sw.min_x(), p.min_x(), "{ctx}");
                assert_eq!(ne.max_x(), p.max_x(), "{ctx}");
                assert_eq!(se.max_x(), p.max_x(), "{ctx}");
                assert_eq!(nw.max_y(), p.max_y(), "{ctx}");
                assert_eq!(ne.max_y(), p.max_y(), "{ctx}");
                assert_eq!(sw.min_y(), p.min_y(), "{ctx}");
                assert_eq!(se.min_y(), p.min_y(), "{ctx}");
                // Inner edges are shared, with no gap or overlap.
                assert_eq!(nw.max_x(), ne.min_x(), "{ctx}");
                assert_eq!(sw.max_x(), se.min_x(), "{ctx}");
                assert_eq!(nw.max_x(), sw.max_x(), "{ctx}");
                assert_eq!(nw.min_y(), sw.max_y(), "{ctx}");
                assert_eq!(ne.min_y(), se.max_y(), "{ctx}");
                assert_eq!(nw.min_y(), ne.min_y(), "{ctx}");
                // The split is strictly inside the parent.
                assert!(p.min_x() < nw.max_x() && nw.max_x() < p.max_x(), "{ctx}");
                assert!(p.min_y() < nw.min_y() && nw.min_y() < p.max_y(), "{ctx}");
            }
        }
    }

    #[test]
    fn tiles_of_a_zoom_partition_the_world() {
        let z = 3;
        let n = 1u32 << z;
        let mut area = 0.0;
        for x in 0..n {
            for y in 0..n {
                let b = tile(z, x, y).bounds_3857();
                area += b.width() * b.height();
                if x + 1 < n {
                    assert_eq!(b.max_x(), tile(z, x + 1, y).bounds_3857().min_x());
                }
                if y + 1 < n {
                    assert_eq!(b.min_y(), tile(z, x, y + 1).bounds_3857().max_y());
                }
            }
        }
        assert!((area - 4.0 * E * E).abs() / (4.0 * E * E) < 1e-12);
    }

    #[test]
    fn covering_a_tiles_shrunk_bounds_is_that_tile() {
        const EPS: f64 = 1e-9; // degrees
        for t in sample_tiles() {
            let b = t.bounds_4326();
            let shrunk = bounds(
                b.min_x() + EPS,
                b.min_y() + EPS,
                b.max_x() - EPS,
                b.max_y() - EPS,
            );
            let range = tiles_covering(&shrunk, t.z()).unwrap();
            assert_eq!(range.tile_count(), 1, "{t}");
            assert_eq!(range.collect::<Vec<_>>(), [t]);
        }
    }

    #[test]
    fn covering_an_exact_edge_includes_the_neighbours() {
        // At zoom 2 columns are 90° wide and row 1/2 meet at the equator, all exact in binary.
        let range = tiles_covering(&bounds(-90.0, 0.0, 0.0, 10.0), 2).unwrap();
        assert_eq!(range.x_range(), 0..=2);
        assert_eq!(range.y_range(), 1..=2);
        // Strictly inside the same cells, only the cells themselves.
        let range = tiles_covering(&bounds(-89.0, 1.0, -1.0, 10.0), 2).unwrap();
        assert_eq!(range.x_range(), 1..=1);
        assert_eq!(range.y_range(), 1..=1);
    }

    #[test]
    fn covering_the_world() {
        let world = bounds(-180.0, -90.0, 180.0, 90.0);
        assert_eq!(
            tiles_covering(&world, 0).unwrap().collect::<Vec<_>>(),
            [tile(0, 0, 0)]
        );
        let all: Vec<_> = tiles_covering(&world, 2).unwrap().collect();
        assert_eq!(all.len(), 16);
        assert!(
            all.windows(2).all(|w| w[0] < w[1]),
            "ascending and distinct"
        );
        assert_eq!(all.first(), Some(&tile(2, 0, 0)));
        assert_eq!(all.last(), Some(&tile(2, 3, 3)));
        let range = tiles_covering(&world, MAX_ZOOM).unwrap();
        assert_eq!(range.tile_count(), 1 << 44);
    }

    #[test]
    fn covering_a_polar_box_gives_the_edge_row() {
        let arctic = bounds(-10.0, 86.0, 10.0, 90.0);
        let range = tiles_covering(&arctic, 4).unwrap();
        assert_eq!(range.y_range(), 0..=0);
        assert_eq!(range.x_range(), 7..=8);
        let antarctic = bounds(-10.0, -90.0, 10.0, -86.0);
        assert_eq!(tiles_covering(&antarctic, 4).unwrap().y_range(), 15..=15);
    }

    #[test]
    fn covering_holds_the_tile_containing_each_point() {
        let mut lat = -90.0;
        while lat <= 90.0 {
            let mut lon = -180.0;
            while lon <= 180.0 {
                for z in [0, 1, 3, 9, 16, MAX_ZOOM] {
                    let t = TileCoord::containing(lon, lat, z).unwrap();
                    let range = tiles_covering(&bounds(lon, lat, lon, lat), z).unwrap();
                    assert!(
                        range.contains(&t),
                        "({lon}, {lat}) z {z}: {t} not in {range:?}"
                    );
                    assert!(range.tile_count() <= 4, "({lon}, {lat}) z {z}");
                }
                lon += 11.25;
            }
            lat += 7.5;
        }
    }

    #[test]
    fn covering_rejects_bad_zoom_and_non_degree_boxes() {
        let b = bounds(0.0, 0.0, 1.0, 1.0);
        assert_eq!(
            tiles_covering(&b, 23).unwrap_err(),
            BoundsError::ZoomTooHigh { z: 23 }
        );
        let metres = tile(10, 803, 440).bounds_3857();
        assert_eq!(
            tiles_covering(&metres, 10).unwrap_err(),
            BoundsError::NotLonLat { bounds: metres }
        );
        for bad in [
            bounds(-181.0, 0.0, 0.0, 1.0),
            bounds(0.0, 0.0, 180.5, 1.0),
            bounds(0.0, -91.0, 1.0, 1.0),
            bounds(0.0, 0.0, 1.0, 90.1),
        ] {
            assert!(matches!(
                tiles_covering(&bad, 3),
                Err(BoundsError::NotLonLat { .. })
            ));
        }
    }
}
