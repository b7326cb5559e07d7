//! Tile coordinates in the XYZ ("slippy map") scheme.

use std::fmt;
use std::str::FromStr;

use crate::mercator::{WORLD_EXTENT_3857, lonlat_to_3857};

/// The highest zoom level a [`TileCoord`] may have.
///
/// At zoom 22 a tile is about 9.55 m wide at the equator (EPSG:3857 metres), finer than
/// any data wangge serves.
pub const MAX_ZOOM: u8 = 22;

/// The address of one map tile: zoom `z`, column `x`, row `y`.
///
/// Uses the XYZ ("slippy map") scheme over Web Mercator (EPSG:3857): at zoom `z` the world is
/// a grid of `2^z × 2^z` tiles, `x` counts columns eastward from the antimeridian (180° W) and
/// `y` counts rows southward from the top of the map (`y = 0` is the northernmost row, unlike
/// TMS). A `TileCoord` always satisfies `z <= MAX_ZOOM`, `x < 2^z` and `y < 2^z`.
///
/// Ordering is by `z`, then `x`, then `y`.
///
/// ```
/// use wangge_tiles::TileCoord;
///
/// let tile = TileCoord::new(10, 803, 440)?;
/// assert_eq!((tile.z(), tile.x(), tile.y()), (10, 803, 440));
/// assert_eq!(tile.to_string(), "10/803/440");
/// assert_eq!("10/803/440".parse::<TileCoord>()?, tile);
///
/// assert!(TileCoord::new(1, 2, 0).is_err()); // zoom 1 has columns 0 and 1 only
/// # Ok::<(), wangge_tiles::TileCoordError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileCoord {
    z: u8,
    x: u32,
    y: u32,
}

/// Why a [`TileCoord`] could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TileCoordError {
    /// The zoom level is above [`MAX_ZOOM`].
    #[error("zoom {z} is above the maximum zoom {MAX_ZOOM}")]
    ZoomTooHigh {
        /// The rejected zoom level.
        z: u8,
    },
    /// The column is not below `limit` (`2^z`).
    #[error("x {x} is out of range at zoom {z}: must be less than {limit}")]
    XOutOfRange {
        /// The zoom level.
        z: u8,
        /// The rejected column.
        x: u32,
        /// The number of columns at this zoom, `2^z`; valid columns are `0..limit`.
        limit: u32,
    },
    /// The row is not below `limit` (`2^z`).
    #[error("y {y} is out of range at zoom {z}: must be less than {limit}")]
    YOutOfRange {
        /// The zoom level.
        z: u8,
        /// The rejected row.
        y: u32,
        /// The number of rows at this zoom, `2^z`; valid rows are `0..limit`.
        limit: u32,
    },
    /// A longitude or latitude given to [`TileCoord::containing`] is NaN or infinite.
    #[error("point ({lon}, {lat}) is not finite")]
    NonFinitePoint {
        /// Longitude as given, in degrees.
        lon: f64,
        /// Latitude as given, in degrees.
        lat: f64,
    },
    /// A point given to [`TileCoord::containing`] is not a WGS-84 longitude/latitude.
    #[error(
        "point ({lon}, {lat}) is not WGS-84 degrees: longitude must be within [-180, 180] \
         and latitude within [-90, 90]"
    )]
    PointOutOfRange {
        /// Longitude as given, in degrees.
        lon: f64,
        /// Latitude as given, in degrees.
        lat: f64,
    },
    /// A string is not of the form `z/x/y` with decimal integers.
    #[error("invalid tile coordinate {input:?}: {reason}")]
    Parse {
        /// The rejected input.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Number of tiles along each axis at zoom `z` (`2^z`); `z` must be at most [`MAX_ZOOM`].
pub(crate) fn tiles_per_axis(z: u8) -> u32 {
    debug_assert!(z <= MAX_ZOOM);
    1 << z
}

/// Width (and height) of one tile at zoom `z`, in EPSG:3857 metres. Exact up to the
/// rounding of `WORLD_EXTENT_3857`, since it is that value scaled by a power of two.
pub(crate) fn tile_size_3857(z: u8) -> f64 {
    2.0 * WORLD_EXTENT_3857 / f64::from(tiles_per_axis(z))
}

/// Position of a WGS-84 point in tile units at zoom `z`: the integer parts are the column and
/// row of the tile containing it. Latitude is clamped to the Mercator limit, so `fy` is within
/// `[0, 2^z]` up to rounding; `fx` is within `[0, 2^z]` for `lon` in `[-180, 180]`.
pub(crate) fn tile_fraction(lon: f64, lat: f64, z: u8) -> (f64, f64) {
    let n = f64::from(tiles_per_axis(z));
    let fx = (lon + 180.0) / 360.0 * n;
    let (_, y) = lonlat_to_3857(0.0, lat);
    let fy = (WORLD_EXTENT_3857 - y) / tile_size_3857(z);
    (fx, fy)
}

impl TileCoord {
    /// Builds a tile coordinate, checking `z <= MAX_ZOOM`, `x < 2^z` and `y < 2^z`.
    ///
    /// ```
    /// use wangge_tiles::{TileCoord, TileCoordError};
    ///
    /// assert!(TileCoord::new(22, (1 << 22) - 1, 0).is_ok());
    /// assert_eq!(TileCoord::new(23, 0, 0), Err(TileCoordError::ZoomTooHigh { z: 23 }));
    /// assert_eq!(
    ///     TileCoord::new(3, 8, 0),
    ///     Err(TileCoordError::XOutOfRange { z: 3, x: 8, limit: 8 })
    /// );
    /// ```
    pub fn new(z: u8, x: u32, y: u32) -> Result<TileCoord, TileCoordError> {
        if z > MAX_ZOOM {
            return Err(TileCoordError::ZoomTooHigh { z });
        }
        let limit = tiles_per_axis(z);
        if x >= limit {
            return Err(TileCoordError::XOutOfRange { z, x, limit });
        }
        if y >= limit {
            return Err(TileCoordError::YOutOfRange { z, y, limit });
        }
        Ok(TileCoord { z, x, y })
    }

    /// The tile at zoom `z` containing the WGS-84 point (`lon`, `lat`), in degrees.
    ///
    /// Latitudes beyond ±[`MAX_LATITUDE`](crate::MAX_LATITUDE) (≈ 85.05112878°) are clamped
    /// to it, so polar points fall in the top or bottom row. A point on a shared tile edge
    /// belongs to the tile east and south of it (tiles are closed on their west and north
    /// edges), except on the east and south edges of the world, which belong to the last
    /// column and row.
    ///
    /// # Errors
    ///
    /// [`TileCoordError::ZoomTooHigh`] if `z > MAX_ZOOM`, [`TileCoordError::NonFinitePoint`]
    /// if either coordinate is NaN or infinite, and [`TileCoordError::PointOutOfRange`] if
    /// `lon` is outside `[-180, 180]` or `lat` outside `[-90, 90]` (often swapped axes).
    ///
    /// ```
    /// use wangge_tiles::TileCoord;
    ///
    /// // Yuxi city centre.
    /// let tile = TileCoord::containing(102.546, 24.352, 10)?;
    /// assert_eq!(tile, TileCoord::new(10, 803, 440)?);
    ///
    /// // The north pole is clamped into the top row.
    /// assert_eq!(TileCoord::containing(0.0, 90.0, 1)?, TileCoord::new(1, 1, 0)?);
    ///
    /// assert!(TileCoord::containing(24.352, 102.546, 10).is_err()); // swapped lon/lat
    /// # Ok::<(), wangge_tiles::TileCoordError>(())
    /// ```
    pub fn containing(lon: f64, lat: f64, z: u8) -> Result<TileCoord, TileCoordError> {
        if z > MAX_ZOOM {
            return Err(TileCoordError::ZoomTooHigh { z });
        }
        if !lon.is_finite() || !lat.is_finite() {
            return Err(TileCoordError::NonFinitePoint { lon, lat });
        }
        if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
            return Err(TileCoordError::PointOutOfRange { lon, lat });
        }
        let last = tiles_per_axis(z) - 1;
        let (fx, fy) = tile_fraction(lon, lat, z);
        // `as` saturates negative values at 0; `min` keeps the east/south world edges in range.
        let x = (fx.floor() as u32).min(last);
        let y = (fy.floor() as u32).min(last);
        Ok(TileCoord { z, x, y })
    }

    /// Zoom level, `0..=MAX_ZOOM`.
    pub fn z(&self) -> u8 {
        self.z
    }

    /// Column, counted eastward from 180° W; `0..2^z`.
    pub fn x(&self) -> u32 {
        self.x
    }

    /// Row, counted southward from the top (north) of the map; `0..2^z`.
    pub fn y(&self) -> u32 {
        self.y
    }

    /// Where a lon/lat point falls in this tile's own coordinates, `0..extent` inside the
    /// tile (x eastward, y southward, as MVT geometry is written), rounded to the grid.
    /// Points outside the tile land outside `0..extent`: the encoder keeps them, and clients
    /// clip, which is how features near an edge are drawn whole across the seam.
    ///
    /// ```
    /// use wangge_tiles::TileCoord;
    ///
    /// let tile = TileCoord::new(1, 1, 0)?; // north-east quadrant
    /// assert_eq!(tile.project(0.0, 0.0, 4096), [0, 4096]);
    /// assert_eq!(tile.project(90.0, 0.0, 4096), [2048, 4096]);
    /// assert_eq!(tile.project(-90.0, 0.0, 4096), [-2048, 4096]);
    /// # Ok::<(), wangge_tiles::TileCoordError>(())
    /// ```
    pub fn project(&self, lon: f64, lat: f64, extent: u32) -> [i32; 2] {
        let b = self.bounds_3857();
        let (x, y) = lonlat_to_3857(lon, lat);
        let scale = f64::from(extent) / b.width();
        [
            ((x - b.min_x()) * scale).round() as i32,
            ((b.max_y() - y) * scale).round() as i32,
        ]
    }

    /// The tile one zoom level up that contains this one, or `None` at zoom 0.
    ///
    /// ```
    /// use wangge_tiles::TileCoord;
    ///
    /// let tile = TileCoord::new(10, 803, 440)?;
    /// assert_eq!(tile.parent(), Some(TileCoord::new(9, 401, 220)?));
    /// assert_eq!(TileCoord::new(0, 0, 0)?.parent(), None);
    /// # Ok::<(), wangge_tiles::TileCoordError>(())
    /// ```
    pub fn parent(&self) -> Option<TileCoord> {
        let z = self.z.checked_sub(1)?;
        Some(TileCoord {
            z,
            x: self.x / 2,
            y: self.y / 2,
        })
    }

    /// The four tiles one zoom level down that exactly cover this one, or `None` at
    /// [`MAX_ZOOM`].
    ///
    /// Order: north-west, north-east, south-west, south-east.
    ///
    /// ```
    /// use wangge_tiles::TileCoord;
    ///
    /// let [nw, ne, sw, se] = TileCoord::new(0, 0, 0)?.children().unwrap();
    /// assert_eq!(nw, TileCoord::new(1, 0, 0)?);
    /// assert_eq!(ne, TileCoord::new(1, 1, 0)?);
    /// assert_eq!(sw, TileCoord::new(1, 0, 1)?);
    /// assert_eq!(se, TileCoord::new(1, 1, 1)?);
    /// assert_eq!(TileCoord::new(22, 0, 0)?.children(), None);
    /// # Ok::<(), wangge_tiles::TileCoordError>(())
    /// ```
    pub fn children(&self) -> Option<[TileCoord; 4]> {
        if self.z >= MAX_ZOOM {
            return None;
        }
        let (z, x, y) = (self.z + 1, self.x * 2, self.y * 2);
        Some([
            TileCoord { z, x, y },
            TileCoord { z, x: x + 1, y },
            TileCoord { z, x, y: y + 1 },
            TileCoord {
                z,
                x: x + 1,
                y: y + 1,
            },
        ])
    }
}

impl fmt::Display for TileCoord {
    /// Formats as `z/x/y`, the path form used in tile URLs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.z, self.x, self.y)
    }
}

impl FromStr for TileCoord {
    type Err = TileCoordError;

    /// Parses `z/x/y`: three unsigned decimal integers (no signs, spaces or file extension),
    /// then validates them as [`TileCoord::new`] does.
    ///
    /// ```
    /// use wangge_tiles::{TileCoord, TileCoordError};
    ///
    /// assert_eq!("3/2/5".parse::<TileCoord>()?, TileCoord::new(3, 2, 5)?);
    /// assert!(matches!("3/2".parse::<TileCoord>(), Err(TileCoordError::Parse { .. })));
    /// assert!(matches!("3/2/8".parse::<TileCoord>(), Err(TileCoordError::YOutOfRange { .. })));
    /// # Ok::<(), TileCoordError>(())
    /// ```
    fn from_str(s: &str) -> Result<TileCoord, TileCoordError> {
        let fail = |reason| TileCoordError::Parse {
            input: s.to_owned(),
            reason,
        };
        let mut parts = s.split('/');
        let (Some(z), Some(x), Some(y), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(fail("expected three '/'-separated parts z/x/y"));
        };
        let is_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if !is_digits(z) || !is_digits(x) || !is_digits(y) {
            return Err(fail("z, x and y must be unsigned decimal integers"));
        }
        let z = z
            .parse::<u8>()
            .map_err(|_| fail("zoom is far above the maximum zoom 22"))?;
        let x = x
            .parse::<u32>()
            .map_err(|_| fail("x does not fit in 32 bits"))?;
        let y = y
            .parse::<u32>()
            .map_err(|_| fail("y does not fit in 32 bits"))?;
        TileCoord::new(z, x, y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mercator::MAX_LATITUDE;

    fn tile(z: u8, x: u32, y: u32) -> TileCoord {
        TileCoord::new(z, x, y).unwrap()
    }

    #[test]
    fn accepts_the_largest_valid_values() {
        let last = (1 << 22) - 1;
        let t = tile(22, last, last);
        assert_eq!((t.z(), t.x(), t.y()), (22, last, last));
    }

    #[test]
    fn rejects_zoom_above_max() {
        assert_eq!(
            TileCoord::new(23, 0, 0),
            Err(TileCoordError::ZoomTooHigh { z: 23 })
        );
        assert_eq!(
            TileCoord::new(u8::MAX, 0, 0),
            Err(TileCoordError::ZoomTooHigh { z: 255 })
        );
    }

    #[test]
    fn rejects_x_and_y_at_two_to_the_z() {
        for z in 0..=MAX_ZOOM {
            let limit = 1u32 << z;
            assert!(TileCoord::new(z, limit - 1, limit - 1).is_ok(), "z {z}");
            assert_eq!(
                TileCoord::new(z, limit, 0),
                Err(TileCoordError::XOutOfRange { z, x: limit, limit })
            );
            assert_eq!(
                TileCoord::new(z, 0, limit),
                Err(TileCoordError::YOutOfRange { z, y: limit, limit })
            );
        }
        assert_eq!(
            TileCoord::new(4, u32::MAX, 0),
            Err(TileCoordError::XOutOfRange {
                z: 4,
                x: u32::MAX,
                limit: 16
            })
        );
    }

    #[test]
    fn zoom_zero_has_exactly_one_tile() {
        assert!(TileCoord::new(0, 0, 0).is_ok());
        assert!(TileCoord::new(0, 1, 0).is_err());
        assert!(TileCoord::new(0, 0, 1).is_err());
        for (lon, lat) in [
            (-180.0, 90.0),
            (180.0, -90.0),
            (0.0, 0.0),
            (102.546, 24.352),
        ] {
            assert_eq!(TileCoord::containing(lon, lat, 0).unwrap(), tile(0, 0, 0));
        }
    }

    #[test]
    fn error_messages_name_the_problem_and_the_bound() {
        let msg = TileCoord::new(5, 32, 0).unwrap_err().to_string();
        assert_eq!(msg, "x 32 is out of range at zoom 5: must be less than 32");
        let msg = TileCoord::new(5, 0, 40).unwrap_err().to_string();
        assert_eq!(msg, "y 40 is out of range at zoom 5: must be less than 32");
        let msg = TileCoord::new(23, 0, 0).unwrap_err().to_string();
        assert_eq!(msg, "zoom 23 is above the maximum zoom 22");
    }

    #[test]
    fn display_and_parse_round_trip() {
        for t in [tile(0, 0, 0), tile(10, 803, 440), tile(22, 4_194_303, 17)] {
            let s = t.to_string();
            assert_eq!(s, format!("{}/{}/{}", t.z(), t.x(), t.y()));
            assert_eq!(s.parse::<TileCoord>().unwrap(), t);
        }
        assert_eq!("07/003/000".parse::<TileCoord>().unwrap(), tile(7, 3, 0));
    }

    #[test]
    fn parse_rejects_malformed_strings() {
        for s in [
            "",
            "1",
            "1/0",
            "1/0/0/",
            "1/0/0/0",
            "/1/0/0",
            "a/0/0",
            "1/0/b",
            "-1/0/0",
            "+1/0/0",
            " 1/0/0",
            "1/0/0 ",
            "1//0",
            "1.0/0/0",
            "1/0/0.pbf",
            "300/0/0",
            "22/99999999999/0",
        ] {
            match s.parse::<TileCoord>() {
                Err(TileCoordError::Parse { input, .. }) => assert_eq!(input, s),
                other => panic!("{s:?} parsed as {other:?}"),
            }
        }
    }

    #[test]
    fn parse_reports_range_errors_from_new() {
        assert_eq!(
            "23/0/0".parse::<TileCoord>(),
            Err(TileCoordError::ZoomTooHigh { z: 23 })
        );
        assert_eq!(
            "2/4/0".parse::<TileCoord>(),
            Err(TileCoordError::XOutOfRange {
                z: 2,
                x: 4,
                limit: 4
            })
        );
        assert_eq!(
            "2/0/4".parse::<TileCoord>(),
            Err(TileCoordError::YOutOfRange {
                z: 2,
                y: 4,
                limit: 4
            })
        );
    }

    #[test]
    fn parent_halves_the_coordinates() {
        assert_eq!(tile(3, 5, 6).parent(), Some(tile(2, 2, 3)));
        assert_eq!(tile(1, 1, 0).parent(), Some(tile(0, 0, 0)));
        assert_eq!(tile(0, 0, 0).parent(), None);
    }

    #[test]
    fn children_are_the_four_quadrants_in_order() {
        assert_eq!(
            tile(1, 1, 0).children(),
            Some([tile(2, 2, 0), tile(2, 3, 0), tile(2, 2, 1), tile(2, 3, 1)])
        );
        for t in [tile(0, 0, 0), tile(5, 17, 9), tile(21, 2_097_151, 0)] {
            let kids = t.children().unwrap();
            for k in kids {
                assert_eq!(k.parent(), Some(t));
            }
        }
        assert_eq!(tile(22, 0, 0).children(), None);
    }

    #[test]
    fn containing_yuxi_at_zoom_10() {
        // Hand computation with the standard slippy-map formula, n = 2^10 = 1024:
        //   x = floor((102.546 + 180) / 360 · n) = floor(0.784850 · 1024) = floor(803.686) = 803
        //   φ = 24.352° = 0.425023 rad; asinh(tan φ) = ln(tan φ + sec φ)
        //     = ln(0.452557 + 1.097662) = ln(1.550219) = 0.438396
        //   y = floor((1 − 0.438396 / π) / 2 · n) = floor(0.430227 · 1024) = floor(440.547) = 440
        // Cross-check: tile 10/803/440 spans lon 102.3046875..102.65625 (= 803·360/1024 − 180
        // and 804·360/1024 − 180), which contains 102.546.
        assert_eq!(
            TileCoord::containing(102.546, 24.352, 10),
            Ok(tile(10, 803, 440))
        );
    }

    #[test]
    fn containing_quadrants_at_zoom_1() {
        assert_eq!(TileCoord::containing(-90.0, 45.0, 1), Ok(tile(1, 0, 0)));
        assert_eq!(TileCoord::containing(90.0, 45.0, 1), Ok(tile(1, 1, 0)));
        assert_eq!(TileCoord::containing(-90.0, -45.0, 1), Ok(tile(1, 0, 1)));
        assert_eq!(TileCoord::containing(90.0, -45.0, 1), Ok(tile(1, 1, 1)));
        // On the shared edges the point goes east and south.
        assert_eq!(TileCoord::containing(0.0, 0.0, 1), Ok(tile(1, 1, 1)));
    }

    #[test]
    fn containing_clamps_to_the_world_edges() {
        for z in [0, 1, 10, MAX_ZOOM] {
            let last = (1u32 << z) - 1;
            assert_eq!(TileCoord::containing(-180.0, 90.0, z), Ok(tile(z, 0, 0)));
            assert_eq!(
                TileCoord::containing(-180.0, MAX_LATITUDE, z),
                Ok(tile(z, 0, 0))
            );
            assert_eq!(
                TileCoord::containing(180.0, -90.0, z),
                Ok(tile(z, last, last))
            );
            assert_eq!(
                TileCoord::containing(180.0, -MAX_LATITUDE, z),
                Ok(tile(z, last, last))
            );
            assert_eq!(TileCoord::containing(0.0, 85.06, z).map(|t| t.y()), Ok(0));
        }
    }

    #[test]
    fn containing_rejects_bad_input() {
        assert_eq!(
            TileCoord::containing(0.0, 0.0, 23),
            Err(TileCoordError::ZoomTooHigh { z: 23 })
        );
        for (lon, lat) in [
            (f64::NAN, 0.0),
            (0.0, f64::NAN),
            (f64::INFINITY, 0.0),
            (0.0, f64::NEG_INFINITY),
        ] {
            assert!(matches!(
                TileCoord::containing(lon, lat, 5),
                Err(TileCoordError::NonFinitePoint { .. })
            ));
        }
        for (lon, lat) in [(180.1, 0.0), (-181.0, 0.0), (0.0, 90.5), (0.0, -91.0)] {
            assert_eq!(
                TileCoord::containing(lon, lat, 5),
                Err(TileCoordError::PointOutOfRange { lon, lat })
            );
        }
    }

    #[test]
    fn containing_agrees_with_parent() {
        // The tile containing a point at zoom z is the parent of the one at z + 1.
        for (lon, lat) in [(102.546, 24.352), (-73.9857, 40.7484), (151.2153, -33.8568)] {
            for z in 0..MAX_ZOOM {
                let fine = TileCoord::containing(lon, lat, z + 1).unwrap();
                let coarse = TileCoord::containing(lon, lat, z).unwrap();
                assert_eq!(fine.parent(), Some(coarse), "({lon}, {lat}) z {z}");
            }
        }
    }
}
