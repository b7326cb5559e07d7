//! The local plane every coverage measure is taken on: an equirectangular projection around
//! the data's mean latitude, x east and y north in metres on the sphere of
//! [`MEAN_EARTH_RADIUS_M`].
//!
//! Over a city (tens of kilometres) the east–west scale drifts from the true one by about
//! tan(φ₀)·Δφ: 0.2% at 24° N for ±0.25° of latitude, so areas and lengths are within a few
//! tenths of a percent, which tolerances of metres and square metres do not notice. The map
//! is injective on a city's coordinates (a subtraction that is exact, then one rounding), so
//! two vertices are equal in metres exactly when they are equal in degrees: matching shared
//! vertices bit for bit survives the projection.

use geo::{Coord, Geometry, MapCoords, MultiPolygon};

use crate::sphere::MEAN_EARTH_RADIUS_M;

/// Degrees of longitude/latitude ↔ metres east/north of an origin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LocalProjection {
    lon0: f64,
    lat0: f64,
    /// Metres per degree of longitude at the origin's latitude.
    kx: f64,
    /// Metres per degree of latitude.
    ky: f64,
}

impl LocalProjection {
    /// The plane tangent at (`lon0`, `lat0`), in degrees.
    pub(crate) fn around(lon0: f64, lat0: f64) -> Self {
        let ky = MEAN_EARTH_RADIUS_M * std::f64::consts::PI / 180.0;
        Self {
            lon0,
            lat0,
            kx: ky * lat0.to_radians().cos(),
            ky,
        }
    }

    /// The plane around the mean of the centres of the geometries' bounding boxes; the
    /// origin (0, 0) when there is none with finite coordinates.
    pub(crate) fn around_mean<'a>(geoms: impl IntoIterator<Item = &'a MultiPolygon<f64>>) -> Self {
        let (mut lon, mut lat, mut n) = (0.0, 0.0, 0.0);
        for g in geoms {
            if let Some(r) = geo::BoundingRect::bounding_rect(g) {
                let c = r.center();
                if c.x.is_finite() && c.y.is_finite() {
                    lon += c.x;
                    lat += c.y;
                    n += 1.0;
                }
            }
        }
        if n == 0.0 {
            Self::around(0.0, 0.0)
        } else {
            Self::around(lon / n, lat / n)
        }
    }

    /// Metres east and north of the origin.
    pub(crate) fn to_m(self, c: Coord<f64>) -> Coord<f64> {
        Coord {
            x: (c.x - self.lon0) * self.kx,
            y: (c.y - self.lat0) * self.ky,
        }
    }

    /// Back to longitude/latitude.
    pub(crate) fn to_lon_lat(self, c: Coord<f64>) -> Coord<f64> {
        Coord {
            x: c.x / self.kx + self.lon0,
            y: c.y / self.ky + self.lat0,
        }
    }

    pub(crate) fn multi_polygon_m(&self, g: &MultiPolygon<f64>) -> MultiPolygon<f64> {
        g.map_coords(|c| self.to_m(c))
    }

    pub(crate) fn geometry_lon_lat(&self, g: Geometry<f64>) -> Geometry<f64> {
        g.map_coords(|c| self.to_lon_lat(c))
    }

    pub(crate) fn point_lon_lat(&self, c: Coord<f64>) -> geo::Point<f64> {
        self.to_lon_lat(c).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_projection_scales_and_round_trips() {
        let p = LocalProjection::around(102.5, 24.35);
        let m = p.to_m(Coord {
            x: 102.501,
            y: 24.351,
        });
        // 0.001° of latitude is 111.2 m; of longitude, that times cos 24.35°.
        assert!((m.y - 111.195).abs() < 0.01, "{m:?}");
        assert!(
            (m.x - 111.195 * 24.35f64.to_radians().cos()).abs() < 0.01,
            "{m:?}"
        );
        let back = p.to_lon_lat(m);
        assert!((back.x - 102.501).abs() < 1e-12 && (back.y - 24.351).abs() < 1e-12);
    }
}
