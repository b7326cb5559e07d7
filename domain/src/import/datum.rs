//! Geodetic datums an import file may use, and conversion to WGS-84.
//!
//! Maps published in China usually carry GCJ-02 coordinates: WGS-84 shifted by a published,
//! deliberately non-linear offset of up to several hundred metres. An importer must be told
//! which datum a file uses; it never guesses.

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Datum {
    /// WGS-84 (EPSG:4326), as GPS receivers report it.
    Wgs84,
    /// GCJ-02, the offset datum of most Chinese web maps; converted to WGS-84 on import.
    Gcj02,
}

impl Datum {
    /// Converts a lon/lat in this datum to WGS-84 lon/lat (degrees).
    pub fn to_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Self::Wgs84 => (lon, lat),
            Self::Gcj02 => gcj02_to_wgs84(lon, lat),
        }
    }
}

const A: f64 = 6_378_245.0; // Krasovsky 1940 semi-major axis, as GCJ-02 uses it
const EE: f64 = 0.006_693_421_622_965_943; // its first eccentricity squared

/// WGS-84 → GCJ-02 (the published forward transform); outside China it is the identity.
pub fn wgs84_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    if !(72.004..=137.8347).contains(&lon) || !(0.8293..=55.8271).contains(&lat) {
        return (lon, lat);
    }
    let (dlon, dlat) = offset(lon - 105.0, lat - 35.0);
    let rad = lat.to_radians();
    let magic = 1.0 - EE * rad.sin().powi(2);
    let sqrt_magic = magic.sqrt();
    let dlat = (dlat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrt_magic) * std::f64::consts::PI);
    let dlon = (dlon * 180.0) / (A / sqrt_magic * rad.cos() * std::f64::consts::PI);
    (lon + dlon, lat + dlat)
}

/// GCJ-02 → WGS-84, by fixed-point iteration of the forward transform (to about 1e-9°, well
/// under a millimetre).
pub fn gcj02_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    let (mut wlon, mut wlat) = (lon, lat);
    for _ in 0..30 {
        let (glon, glat) = wgs84_to_gcj02(wlon, wlat);
        let (elon, elat) = (glon - lon, glat - lat);
        wlon -= elon;
        wlat -= elat;
        if elon.abs() < 1e-10 && elat.abs() < 1e-10 {
            break;
        }
    }
    (wlon, wlat)
}

fn offset(x: f64, y: f64) -> (f64, f64) {
    use std::f64::consts::PI;
    let common = 20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin();
    let mut lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    lat += common * 2.0 / 3.0;
    lat += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    lat += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    let mut lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    lon += common * 2.0 / 3.0;
    lon += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    lon += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    (lon, lat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcj02_offset_in_yuxi_is_hundreds_of_metres_and_inverts() {
        let (lon, lat) = (102.5437, 24.3520);
        let (glon, glat) = wgs84_to_gcj02(lon, lat);
        // The offset is real (tens to hundreds of metres) but bounded.
        let metres = ((glon - lon) * 101_000.0).hypot((glat - lat) * 110_600.0);
        assert!((50.0..900.0).contains(&metres), "offset {metres} m");
        let (blon, blat) = gcj02_to_wgs84(glon, glat);
        assert!((blon - lon).abs() < 1e-8 && (blat - lat).abs() < 1e-8);
        assert_eq!(Datum::Wgs84.to_wgs84(lon, lat), (lon, lat));
    }
}
