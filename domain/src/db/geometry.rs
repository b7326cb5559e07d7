//! The one way geometry crosses the database boundary.
//!
//! Into the database: [`Ewkb`], hex-encoded extended WKB with SRID 4326 stamped in, which
//! PostGIS's geometry input accepts in parameters and in `COPY`. An `Ewkb` binds as text:
//! one is cast where the query takes it (`$1::geometry`); many go as one `text[]`, unnested
//! and each cast (`unnest($1::text[]) AS p (g)` … `g::geometry`), so a batch of points is
//! still one parameter and one round trip. Out of the database: `ST_AsGeoJSON(geom, 7)`, RFC
//! 7946 GeoJSON. Both are longitude/latitude in that order (x = longitude), WGS-84, so no
//! caller ever chooses an axis order or an SRID. (Map bounding boxes, four numbers for
//! `ST_MakeEnvelope` in a `&&` filter, are a query's window rather than a geometry it keeps.)

use geo::{Coord, LineString, MultiPolygon, Point, Polygon};
use sqlx::Postgres;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgHasArrayType, PgTypeInfo};
use wangge_analysis::sphere::LonLat;

/// Decimal places for geometry read back to be changed and written again (grid plan edits):
/// PostGIS prints at most 15, which for longitudes and latitudes of at least 8° in size is
/// finer than half a double's spacing there, so the text parses back to the very same
/// doubles and shared vertices stay shared. Reads for display use 7 (about 1 cm).
pub const EXACT_DIGITS: i32 = 15;

/// A polygon or multipolygon's GeoJSON text (from `ST_AsGeoJSON`) as a multipolygon.
pub fn multi_polygon_from_geojson(text: &str) -> Result<MultiPolygon<f64>, String> {
    let geometry: geojson::Geometry = text.parse().map_err(|e: geojson::Error| e.to_string())?;
    multi_polygon_from(&geometry)
}

/// A parsed polygon or multipolygon GeoJSON geometry as a multipolygon.
pub fn multi_polygon_from(geometry: &geojson::Geometry) -> Result<MultiPolygon<f64>, String> {
    let geometry: geo::Geometry<f64> = geometry
        .try_into()
        .map_err(|e: geojson::Error| e.to_string())?;
    match geometry {
        geo::Geometry::Polygon(p) => Ok(MultiPolygon::new(vec![p])),
        geo::Geometry::MultiPolygon(mp) => Ok(mp),
        other => Err(format!("not a polygon: {other:?}")
            .chars()
            .take(80)
            .collect()),
    }
}

/// WGS-84 longitude/latitude: the only SRID wangge stores.
pub const SRID: u32 = 4326;

const WKB_POINT: u32 = 1;
const WKB_LINESTRING: u32 = 2;
const WKB_POLYGON: u32 = 3;
const WKB_MULTIPOLYGON: u32 = 6;
const EWKB_SRID_FLAG: u32 = 0x2000_0000;

/// A geometry ready to send to PostGIS: hex EWKB, little-endian, SRID 4326.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ewkb(String);

impl Ewkb {
    pub fn point(point: Point<f64>) -> Self {
        let mut w = Writer::with_capacity(50);
        w.header(WKB_POINT, true);
        w.coord(point.0);
        Self(w.finish())
    }

    /// A checked point: how a place from a request, a device or the geocoder is written.
    pub fn lon_lat(point: LonLat) -> Self {
        Self::point(Point::new(point.lon(), point.lat()))
    }

    /// A line (a planner's cut through a cell).
    pub fn line_string(line: &LineString<f64>) -> Self {
        let mut w = Writer::with_capacity(16 + line.0.len() * 16);
        w.header(WKB_LINESTRING, true);
        w.ring(line);
        Self(w.finish())
    }

    pub fn multi_polygon(multi: &MultiPolygon<f64>) -> Self {
        let vertices: usize = multi
            .0
            .iter()
            .map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
            .sum();
        let mut w = Writer::with_capacity(32 + vertices * 32);
        w.header(WKB_MULTIPOLYGON, true);
        w.u32(multi.0.len() as u32);
        for polygon in &multi.0 {
            w.polygon(polygon);
        }
        Self(w.finish())
    }

    /// The hex text, for binding as a parameter or writing into a `COPY` stream.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl sqlx::Type<Postgres> for Ewkb {
    fn type_info() -> PgTypeInfo {
        <str as sqlx::Type<Postgres>>::type_info()
    }
}

impl PgHasArrayType for Ewkb {
    fn array_type_info() -> PgTypeInfo {
        <&str as PgHasArrayType>::array_type_info()
    }
}

impl sqlx::Encode<'_, Postgres> for Ewkb {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <&str as sqlx::Encode<'_, Postgres>>::encode_by_ref(&self.as_str(), buf)
    }
}

struct Writer(String);

impl Writer {
    fn with_capacity(capacity: usize) -> Self {
        Self(String::with_capacity(capacity))
    }

    fn header(&mut self, kind: u32, with_srid: bool) {
        self.0.push_str("01"); // little-endian
        if with_srid {
            self.u32(kind | EWKB_SRID_FLAG);
            self.u32(SRID);
        } else {
            self.u32(kind);
        }
    }

    fn polygon(&mut self, polygon: &Polygon<f64>) {
        self.header(WKB_POLYGON, false);
        self.u32(1 + polygon.interiors().len() as u32);
        self.ring(polygon.exterior());
        for ring in polygon.interiors() {
            self.ring(ring);
        }
    }

    fn ring(&mut self, ring: &LineString<f64>) {
        self.u32(ring.0.len() as u32);
        for c in &ring.0 {
            self.coord(*c);
        }
    }

    fn coord(&mut self, c: Coord<f64>) {
        self.bytes(&c.x.to_le_bytes());
        self.bytes(&c.y.to_le_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }

    fn bytes(&mut self, bytes: &[u8]) {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        for b in bytes {
            self.0.push(HEX[usize::from(b >> 4)] as char);
            self.0.push(HEX[usize::from(b & 0x0F)] as char);
        }
    }

    fn finish(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_matches_postgis_hex_ewkb() {
        // SELECT ST_AsHEXEWKB(ST_SetSRID(ST_MakePoint(1, 2), 4326)) in PostGIS.
        let ewkb = Ewkb::point(Point::new(1.0, 2.0));
        assert_eq!(
            ewkb.as_str(),
            "0101000020E6100000000000000000F03F0000000000000040"
        );
        let checked = LonLat::new(1.0, 2.0).unwrap();
        assert_eq!(Ewkb::lon_lat(checked), ewkb);
    }
}
