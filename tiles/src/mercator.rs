//! Spherical ("Web") Mercator projection between WGS-84 degrees (EPSG:4326) and
//! EPSG:3857 metres.
//!
//! EPSG:3857 projects the WGS-84 longitude/latitude onto a sphere of radius
//! [`WEB_MERCATOR_RADIUS_M`]. The projected world is the square
//! `[-WORLD_EXTENT_3857, WORLD_EXTENT_3857]²` in metres, reached at latitude
//! ±[`MAX_LATITUDE`]; the poles themselves project to infinity, so latitudes beyond that
//! limit are clamped to it.

/// Radius of the EPSG:3857 sphere, in metres: WGS-84's semi-major (equatorial) axis, which
/// the projection's definition fixes; tiles line up with every other Web Mercator map only
/// with this exact value. Not the radius to measure distances with: the Earth's mean radius
/// is 7 km smaller (`wangge_analysis::sphere::MEAN_EARTH_RADIUS_M`), and Web Mercator metres
/// are not ground metres anyway (they stretch by 1/cos(latitude)).
pub const WEB_MERCATOR_RADIUS_M: f64 = 6_378_137.0;

/// Half the width of the projected EPSG:3857 world, in metres (`π × WEB_MERCATOR_RADIUS_M`).
///
/// The world square runs from `-WORLD_EXTENT_3857` to `WORLD_EXTENT_3857` on both axes.
///
/// ```
/// use wangge_tiles::{WEB_MERCATOR_RADIUS_M, WORLD_EXTENT_3857};
///
/// assert_eq!(WORLD_EXTENT_3857, std::f64::consts::PI * WEB_MERCATOR_RADIUS_M);
/// ```
pub const WORLD_EXTENT_3857: f64 = 20_037_508.342_789_244;

/// The latitude, in degrees, where Web Mercator's `y` reaches [`WORLD_EXTENT_3857`]
/// (`atan(sinh(π))`, ≈ 85.05112878°).
///
/// Tiles cover latitudes from `-MAX_LATITUDE` to `MAX_LATITUDE`; points beyond are clamped.
pub const MAX_LATITUDE: f64 = 85.051_128_779_806_6;

/// Projects a WGS-84 point (`lon`, `lat` in degrees) to EPSG:3857 `(x, y)` in metres.
///
/// `lat` is clamped to ±[`MAX_LATITUDE`] first, so any latitude in `[-90, 90]` lands inside
/// the projected world square (the poles map onto its top and bottom edges). Longitude is
/// projected linearly without wrapping: `lon` outside `[-180, 180]` gives `x` outside
/// ±[`WORLD_EXTENT_3857`]. Non-finite input gives non-finite output.
///
/// ```
/// use wangge_tiles::{lonlat_to_3857, WORLD_EXTENT_3857};
///
/// assert_eq!(lonlat_to_3857(0.0, 0.0), (0.0, 0.0));
///
/// let (x, y) = lonlat_to_3857(180.0, 90.0); // the pole is clamped to the world's top edge
/// assert!((x - WORLD_EXTENT_3857).abs() < 1e-6);
/// assert!((y - WORLD_EXTENT_3857).abs() < 1e-6);
/// ```
pub fn lonlat_to_3857(lon: f64, lat: f64) -> (f64, f64) {
    let lat = lat.clamp(-MAX_LATITUDE, MAX_LATITUDE);
    let x = WEB_MERCATOR_RADIUS_M * lon.to_radians();
    let y = WEB_MERCATOR_RADIUS_M * lat.to_radians().tan().asinh();
    (x, y)
}

/// Unprojects EPSG:3857 `(x, y)` in metres to WGS-84 `(lon, lat)` in degrees.
///
/// The inverse of [`lonlat_to_3857`] for latitudes within ±[`MAX_LATITUDE`]. No clamping
/// is done: `x` outside ±[`WORLD_EXTENT_3857`] gives `lon` outside `[-180, 180]`, and `y`
/// outside it gives `|lat|` above `MAX_LATITUDE` (always below 90).
///
/// ```
/// use wangge_tiles::{mercator_to_lonlat, MAX_LATITUDE, WORLD_EXTENT_3857};
///
/// let (lon, lat) = mercator_to_lonlat(WORLD_EXTENT_3857, -WORLD_EXTENT_3857);
/// assert!((lon - 180.0).abs() < 1e-9);
/// assert!((lat + MAX_LATITUDE).abs() < 1e-9);
/// ```
pub fn mercator_to_lonlat(x: f64, y: f64) -> (f64, f64) {
    let lon = (x / WEB_MERCATOR_RADIUS_M).to_degrees();
    let lat = (y / WEB_MERCATOR_RADIUS_M).sinh().atan().to_degrees();
    (lon, lat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_consistent() {
        assert!((WORLD_EXTENT_3857 - std::f64::consts::PI * WEB_MERCATOR_RADIUS_M).abs() < 1e-8);
        let top = std::f64::consts::PI.sinh().atan().to_degrees();
        assert!((MAX_LATITUDE - top).abs() < 1e-12);
    }

    #[test]
    fn known_projected_values() {
        let (x, y) = lonlat_to_3857(-180.0, -MAX_LATITUDE);
        assert!((x + WORLD_EXTENT_3857).abs() < 1e-6, "x = {x}");
        assert!((y + WORLD_EXTENT_3857).abs() < 1e-6, "y = {y}");

        // Yuxi city centre; reference computed independently (Python, same standard formula
        // x = R·λ, y = R·asinh(tan φ)).
        let (x, y) = lonlat_to_3857(102.546, 24.352);
        assert!((x - 11_415_368.502_887_031).abs() < 1e-6, "x = {x}");
        assert!((y - 2_796_359.881_606_871).abs() < 1e-6, "y = {y}");
    }

    #[test]
    fn latitude_is_clamped_to_the_world_square() {
        for lat in [MAX_LATITUDE, 85.06, 89.999, 90.0] {
            let (_, y) = lonlat_to_3857(0.0, lat);
            assert!(y.is_finite());
            assert!((y - WORLD_EXTENT_3857).abs() < 1e-6, "lat {lat} -> y {y}");
            let (_, y) = lonlat_to_3857(0.0, -lat);
            assert!(
                (y + WORLD_EXTENT_3857).abs() < 1e-6,
                "lat {} -> y {y}",
                -lat
            );
        }
    }

    #[test]
    fn lonlat_round_trips_through_3857() {
        let mut lat = -MAX_LATITUDE;
        while lat <= MAX_LATITUDE {
            let mut lon = -180.0;
            while lon <= 180.0 {
                let (x, y) = lonlat_to_3857(lon, lat);
                let (lon2, lat2) = mercator_to_lonlat(x, y);
                assert!((lon - lon2).abs() < 1e-9, "lon {lon} -> {lon2}");
                assert!((lat - lat2).abs() < 1e-9, "lat {lat} -> {lat2}");
                lon += 7.3;
            }
            lat += 0.97;
        }
    }

    #[test]
    fn non_finite_input_is_not_made_finite() {
        let (x, y) = lonlat_to_3857(f64::NAN, 0.0);
        assert!(x.is_nan() && y == 0.0);
        let (x, y) = lonlat_to_3857(0.0, f64::NAN);
        assert!(x == 0.0 && y.is_nan());
    }
}
