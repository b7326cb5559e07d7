//! Reading a GeoJSON FeatureCollection of (Multi)Polygons feature by feature, so that each
//! bad feature gets its own error with its index.

use geo::{Coord, LineString, MultiPolygon, Polygon};
use geojson::{GeometryValue, JsonObject, Position};
use serde_json::Value;

use super::{ImportError, Problem, datum::Datum, problem};
use crate::db::geometry::Ewkb;

/// A feature that passed the checks that need no database.
#[derive(Debug, Clone)]
pub struct ParsedFeature {
    /// Position in the file's `features` array, 0-based.
    pub index: usize,
    pub code: String,
    pub name: String,
    pub properties: JsonObject,
    /// The geometry as a MultiPolygon in WGS-84.
    pub ewkb: Ewkb,
}

/// The most features one file may hold: a whole province's grid (Yuxi has 5,162 cells) with
/// room to spare.
pub const MAX_FEATURES: usize = 200_000;
/// The most vertices one feature may have: a county surveyed at 1:2,000 has tens of
/// thousands; more is a file to simplify before importing.
pub const MAX_VERTICES_PER_FEATURE: usize = 100_000;
/// The longest name or code, in characters (official names are under 30).
pub const MAX_NAME_CHARS: usize = 100;
/// The smallest area of each polygon part, in square metres: anything smaller is a digitising
/// artefact, not a place anyone is responsible for.
pub const MIN_PART_AREA_M2: f64 = 10.0;
/// The least mean width of each polygon part (twice its area over its perimeter, which for a
/// thin strip is its width), in metres: a sliver left between two neighbours' outlines.
pub const MIN_PART_WIDTH_M: f64 = 1.0;

/// CRS names that mean WGS-84 longitude/latitude.
const LONLAT_CRS: [&str; 3] = [
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "urn:ogc:def:crs:EPSG::4326",
    "EPSG:4326",
];

/// Parses the collection; returns the features that passed and the problems of those that
/// did not. The first of `code_keys` present in a feature's properties is its code.
pub fn parse_feature_collection(
    text: &str,
    datum: Datum,
    code_keys: &[&str],
) -> Result<(Vec<ParsedFeature>, Vec<Problem>), ImportError> {
    let root: Value =
        serde_json::from_str(text).map_err(|e| ImportError::NotFeatureCollection(e.to_string()))?;
    if root.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(ImportError::NotFeatureCollection(
            "its top-level `type` is not \"FeatureCollection\"".into(),
        ));
    }
    if let Some(crs) = root.get("crs") {
        let name = crs
            .pointer("/properties/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !LONLAT_CRS.contains(&name) {
            return Err(ImportError::NotFeatureCollection(format!(
                "its crs `{name}` is not WGS-84 longitude/latitude (EPSG:4326); reproject it first"
            )));
        }
    }
    let Some(features) = root.get("features").and_then(Value::as_array) else {
        return Err(ImportError::NotFeatureCollection(
            "it has no `features` array".into(),
        ));
    };
    if features.len() > MAX_FEATURES {
        return Err(ImportError::NotFeatureCollection(format!(
            "it has {} features; one file may hold at most {MAX_FEATURES}: split it",
            features.len()
        )));
    }
    let mut parsed = Vec::with_capacity(features.len());
    let mut problems = Vec::new();
    for (index, feature) in features.iter().enumerate() {
        match parse_feature(index, feature, datum, code_keys) {
            Ok(f) => parsed.push(f),
            Err(messages) => problems.extend(messages.into_iter().map(|m| problem(index, m))),
        }
    }
    Ok((parsed, problems))
}

fn parse_feature(
    index: usize,
    feature: &Value,
    datum: Datum,
    code_keys: &[&str],
) -> Result<ParsedFeature, Vec<String>> {
    let mut messages = Vec::new();
    if feature.get("type").and_then(Value::as_str) != Some("Feature") {
        return Err(vec!["its `type` is not \"Feature\"".into()]);
    }
    let properties = feature
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let code = code_keys
        .iter()
        .find_map(|k| properties.get(*k))
        .and_then(|v| match v {
            Value::String(s) => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
    let name = properties
        .get("name")
        .and_then(Value::as_str)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    if code.is_none() {
        messages.push(format!("it has no `{}` property", code_keys.join("` or `")));
    }
    if name.is_none() {
        messages.push("it has no non-empty `name` property".into());
    }
    for (what, text) in [("code", &code), ("name", &name)] {
        let Some(text) = text else { continue };
        if text.contains('\0') {
            messages.push(format!("its {what} contains a NUL character"));
        } else if text.chars().count() > MAX_NAME_CHARS {
            messages.push(format!(
                "its {what} has {} characters; at most {MAX_NAME_CHARS}",
                text.chars().count()
            ));
        }
    }
    let geometry = match feature.get("geometry") {
        None | Some(Value::Null) => Err("it has no geometry".to_owned()),
        Some(g) => serde_json::from_value::<geojson::Geometry>(g.clone())
            .map_err(|e| format!("its geometry is malformed: {e}"))
            .and_then(|g| polygons(&g.value, datum)),
    };
    match (geometry, code, name) {
        (Ok(multi), Some(code), Some(name)) if messages.is_empty() => Ok(ParsedFeature {
            index,
            code,
            name,
            properties,
            ewkb: Ewkb::multi_polygon(&multi),
        }),
        (geometry, _, _) => {
            if let Err(m) = geometry {
                messages.push(m);
            }
            Err(messages)
        }
    }
}

/// The geometry as a MultiPolygon in WGS-84, if it is a well-formed (Multi)Polygon.
fn polygons(value: &GeometryValue, datum: Datum) -> Result<MultiPolygon<f64>, String> {
    let rings_list: Vec<&Vec<Vec<Position>>> = match value {
        GeometryValue::Polygon { coordinates } => vec![coordinates],
        GeometryValue::MultiPolygon { coordinates } => coordinates.iter().collect(),
        other => {
            return Err(format!(
                "its geometry is a {}, not a Polygon or MultiPolygon",
                other.type_name()
            ));
        }
    };
    if rings_list.is_empty() {
        return Err("its MultiPolygon is empty".into());
    }
    let vertices: usize = rings_list
        .iter()
        .flat_map(|rings| rings.iter())
        .map(Vec::len)
        .sum();
    if vertices > MAX_VERTICES_PER_FEATURE {
        return Err(format!(
            "it has {vertices} vertices; at most {MAX_VERTICES_PER_FEATURE} (simplify it first)"
        ));
    }
    let mut result = Vec::with_capacity(rings_list.len());
    for (p, rings) in rings_list.iter().enumerate() {
        let Some((outer, inner)) = rings.split_first() else {
            return Err(format!("polygon {p} has no rings"));
        };
        let exterior = ring(outer, datum).map_err(|e| format!("polygon {p}, outer ring: {e}"))?;
        let interiors = inner
            .iter()
            .enumerate()
            .map(|(h, r)| ring(r, datum).map_err(|e| format!("polygon {p}, hole {h}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        result.push(Polygon::new(exterior, interiors));
    }
    Ok(MultiPolygon(result))
}

fn ring(positions: &[Position], datum: Datum) -> Result<LineString<f64>, String> {
    if positions.len() < 4 {
        return Err(format!(
            "it has {} positions; a ring needs at least 4",
            positions.len()
        ));
    }
    let mut coords = Vec::with_capacity(positions.len());
    for (i, position) in positions.iter().enumerate() {
        let p = position.as_slice();
        if !(2..=3).contains(&p.len()) {
            return Err(format!(
                "position {i} has {} numbers; expected longitude, latitude",
                p.len()
            ));
        }
        let (lon, lat) = (p[0], p[1]);
        check_lonlat(lon, lat).map_err(|e| format!("position {i}: {e}"))?;
        let (lon, lat) = datum.to_wgs84(lon, lat);
        coords.push(Coord { x: lon, y: lat });
    }
    if positions
        .first()
        .map(Position::as_slice)
        .map(|p| (p[0], p[1]))
        != positions
            .last()
            .map(Position::as_slice)
            .map(|p| (p[0], p[1]))
    {
        return Err("it is not closed (its first and last positions differ)".into());
    }
    Ok(LineString(coords))
}

/// Checks that a pair is a finite longitude, latitude in range, and says plainly when it
/// looks like latitude, longitude or projected metres instead.
pub fn check_lonlat(lon: f64, lat: f64) -> Result<(), String> {
    if !lon.is_finite() || !lat.is_finite() {
        return Err(format!("({lon}, {lat}) is not a pair of finite numbers"));
    }
    if (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat) {
        return Ok(());
    }
    if (-90.0..=90.0).contains(&lon) && (-180.0..=180.0).contains(&lat) {
        return Err(format!(
            "({lon}, {lat}) has latitude {lat} out of range: it looks like latitude, longitude; \
             GeoJSON and wangge need longitude, latitude"
        ));
    }
    if lon.abs() > 1000.0 || lat.abs() > 1000.0 {
        return Err(format!(
            "({lon}, {lat}) is out of longitude/latitude range: it looks like projected metres; \
             reproject to WGS-84 longitude/latitude"
        ));
    }
    Err(format!("({lon}, {lat}) is out of longitude/latitude range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lonlat_checks_name_the_mistake() {
        assert!(check_lonlat(102.5, 24.3).is_ok());
        assert!(
            check_lonlat(24.3, 102.5)
                .unwrap_err()
                .contains("looks like latitude, longitude")
        );
        assert!(
            check_lonlat(11_415_000.0, 2_795_000.0)
                .unwrap_err()
                .contains("projected metres")
        );
        assert!(check_lonlat(f64::NAN, 1.0).is_err());
    }
}
