//! Points and distances on the sphere: WGS-84 longitude/latitude in degrees, distances in
//! metres on a sphere of the Earth's mean radius ([`MEAN_EARTH_RADIUS_M`]). Over the tens of
//! kilometres dispatch works at, the sphere is within 0.5% of the ellipsoid, and it is what
//! PostGIS's `geography` distance with `use_spheroid = false` measures.

/// The Earth's mean radius in metres: IUGG's R₁ = (2a + b) / 3 of the WGS-84 ellipsoid, the
/// sphere PostGIS measures `geography` on with `use_spheroid = false`, so distances here
/// agree with the database's (to about 0.03 m in 6,371 km). Not Web Mercator's sphere
/// (`wangge_tiles::WEB_MERCATOR_RADIUS_M`, the equatorial radius, 7 km larger), which only
/// positions tiles; distances on it would come out about 0.1% long.
pub const MEAN_EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Why a pair of numbers is not a place on the globe. The texts reach API clients as they are.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum SphereError {
    #[error("longitude {0} is outside -180..=180")]
    Longitude(f64),
    #[error("latitude {0} is outside -90..=90")]
    Latitude(f64),
}

/// A longitude/latitude pair in WGS-84 degrees (x = longitude), on the globe: the fields are
/// private so that every point was checked by [`LonLat::new`], whether it came from a request,
/// a file or the database.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LonLat {
    lon: f64,
    lat: f64,
}

impl LonLat {
    /// The point, if both numbers are finite and in range.
    ///
    /// ```
    /// use wangge_analysis::sphere::{LonLat, SphereError};
    /// assert!(LonLat::new(102.5, 24.3).is_ok());
    /// // Swapped: 102.5 is no latitude.
    /// assert_eq!(LonLat::new(24.3, 102.5), Err(SphereError::Latitude(102.5)));
    /// ```
    pub fn new(lon: f64, lat: f64) -> Result<Self, SphereError> {
        if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
            return Err(SphereError::Longitude(lon));
        }
        if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
            return Err(SphereError::Latitude(lat));
        }
        Ok(Self { lon, lat })
    }

    pub fn lon(self) -> f64 {
        self.lon
    }

    pub fn lat(self) -> f64 {
        self.lat
    }

    /// The point as a unit vector from the Earth's centre. Straight-line (chord) distances
    /// between unit vectors grow with distances along the sphere, so nearest-first searches
    /// can work in three dimensions without trigonometry per comparison.
    pub fn unit_vector(self) -> [f64; 3] {
        let (lon, lat) = (self.lon.to_radians(), self.lat.to_radians());
        [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
    }
}

/// Great-circle distance in metres between two points (haversine formula).
///
/// ```
/// use wangge_analysis::sphere::{LonLat, haversine_m};
/// // One degree of latitude is about 111.2 km.
/// let d = haversine_m(LonLat::new(102.5, 24.0)?, LonLat::new(102.5, 25.0)?);
/// assert!((d - 111_195.0).abs() < 1.0);
/// # Ok::<(), wangge_analysis::sphere::SphereError>(())
/// ```
pub fn haversine_m(a: LonLat, b: LonLat) -> f64 {
    let (phi1, phi2) = (a.lat.to_radians(), b.lat.to_radians());
    let half_dphi = (phi2 - phi1) / 2.0;
    let half_dlambda = (b.lon - a.lon).to_radians() / 2.0;
    let h = half_dphi.sin().powi(2) + phi1.cos() * phi2.cos() * half_dlambda.sin().powi(2);
    2.0 * MEAN_EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// Squared straight-line distance between two unit vectors.
pub(crate) fn chord_squared(a: [f64; 3], b: [f64; 3]) -> f64 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)
}

/// The distance along the sphere, in metres, for a chord between unit vectors.
pub(crate) fn chord_to_metres(chord: f64) -> f64 {
    2.0 * MEAN_EARTH_RADIUS_M * (chord / 2.0).min(1.0).asin()
}

/// The chord between unit vectors for a distance along the sphere in metres.
pub(crate) fn metres_to_chord(metres: f64) -> f64 {
    2.0 * (metres / (2.0 * MEAN_EARTH_RADIUS_M))
        .min(std::f64::consts::FRAC_PI_2)
        .sin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chord_and_haversine_agree() {
        let a = LonLat::new(102.54, 24.35).unwrap();
        for (lon, lat) in [
            (102.55, 24.36),
            (101.0, 23.0),
            (-70.0, -33.0),
            (102.54, 24.35),
        ] {
            let b = LonLat::new(lon, lat).unwrap();
            let chord = chord_squared(a.unit_vector(), b.unit_vector()).sqrt();
            let along = chord_to_metres(chord);
            assert!(
                (along - haversine_m(a, b)).abs() < 1e-3,
                "{along} vs {lon},{lat}"
            );
            assert!((metres_to_chord(along) - chord).abs() < 1e-12);
        }
    }

    #[test]
    fn only_points_on_the_globe_are_points() {
        for (lon, lat) in [(-180.0, -90.0), (180.0, 90.0), (0.0, 0.0)] {
            assert!(LonLat::new(lon, lat).is_ok(), "{lon},{lat}");
        }
        for (lon, lat, message) in [
            (180.5, 0.0, "longitude 180.5 is outside -180..=180"),
            (f64::NAN, 0.0, "longitude NaN is outside -180..=180"),
            (0.0, -90.5, "latitude -90.5 is outside -90..=90"),
            (0.0, f64::INFINITY, "latitude inf is outside -90..=90"),
        ] {
            let error = LonLat::new(lon, lat).unwrap_err();
            assert_eq!(error.to_string(), message);
        }
    }
}
