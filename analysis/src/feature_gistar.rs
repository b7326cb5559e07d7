//! Gi* over a GeoJSON feature collection: the engine behind `POST /api/v1/analysis/gistar`
//! and `wangge analyse gistar FILE --value FIELD --weights SPEC`.
//!
//! Input rules, each refusal naming the feature by its position (and its `id`, if any):
//! * 3 to [`MAX_FEATURES`] features, each with a geometry: all Points, or all Polygons /
//!   MultiPolygons (mixing the two kinds is refused; other geometry types are refused);
//! * every coordinate a WGS-84 longitude in −180..=180 and latitude in −90..=90;
//! * the value field present and a finite number. A string holding a decimal number
//!   (`"12"`, `" 3.5 "`) is accepted too, since GeoJSON converted from CSV or spreadsheets
//!   often carries numbers as text; anything else (null, booleans, "n/a", "NaN") is refused.
//!
//! Weights: `queen` and `rook` need polygons (vertex contiguity, see
//! [`Weights::contiguity`]); `knn:K` and `distance:M…` work on points, and on polygons
//! through their centroids (geo's planar centroid in degrees: right to well under a metre
//! for polygons a few kilometres across, wrong for polygons crossing the antimeridian);
//! `ring:K` is for H3 cells and refused here. A feature with no neighbours (an island) is
//! kept, as ArcGIS does after warning: its Gi* compares its own value with the rest, and its
//! `neighbours` is 0 so a caller can warn too.
//!
//! `bin` is ArcGIS's `Gi_Bin` from the analytic p-value (with the FDR correction if asked,
//! [`crate::confidence_bins`]), whatever the permutations say; `p_sim` is reported beside it.

use geo::{Centroid, MultiPolygon};
use geojson::{Feature, FeatureCollection, GeometryValue, JsonValue, feature::Id};

use crate::confidence_bins::confidence_bins;
use crate::gi_star::{GiStarError, GiStarOptions, gi_star};
use crate::sphere::{LonLat, SphereError};
use crate::weights::{Contiguity, Weights, WeightsError, WeightsSpec};

/// The most features one analysis takes.
pub const MAX_FEATURES: usize = 1_000_000;

/// Gi* at one feature, in input order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureResult {
    pub gi: f64,
    pub z: f64,
    pub p: f64,
    pub p_sim: Option<f64>,
    /// ArcGIS's `Gi_Bin`, −3 to 3.
    pub bin: i8,
    /// How many neighbours the weights gave the feature (0: an island).
    pub neighbours: usize,
}

/// A feature as an error names it: its position, and its `id` if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureRef {
    pub index: usize,
    pub id: Option<String>,
}

impl std::fmt::Display for FeatureRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.id {
            Some(id) => write!(f, "feature {} (id {id:?})", self.index),
            None => write!(f, "feature {}", self.index),
        }
    }
}

/// Why the analysis could not run. The texts reach API clients as they are.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FeatureGiStarError {
    #[error("Gi* needs at least 3 features, got {0}")]
    TooFew(usize),
    #[error("{0} features is more than the {MAX_FEATURES} one analysis takes")]
    TooMany(usize),
    #[error("{0} has no geometry")]
    NoGeometry(FeatureRef),
    #[error("{feature} is a {kind}; only Points, Polygons and MultiPolygons are analysed")]
    UnsupportedGeometry {
        feature: FeatureRef,
        kind: &'static str,
    },
    #[error(
        "{feature} is a {kind} but feature 0 is a {first}: features must be all points or all polygons"
    )]
    MixedGeometry {
        feature: FeatureRef,
        kind: &'static str,
        first: &'static str,
    },
    #[error("{0} has an empty or malformed geometry")]
    EmptyGeometry(FeatureRef),
    #[error("{feature} has a coordinate off the globe: {source}")]
    Coordinates {
        feature: FeatureRef,
        source: SphereError,
    },
    #[error("{feature} has no property {field:?}")]
    MissingField { feature: FeatureRef, field: String },
    #[error("{feature} has {field:?} = {value}, which is not a finite number")]
    NotNumeric {
        feature: FeatureRef,
        field: String,
        value: String,
    },
    #[error("{0} weights need polygons; for points use knn:K or distance:M")]
    NeedPolygons(WeightsSpec),
    #[error("{0} weights are for H3 cells; for features use queen, rook, knn:K or distance:M")]
    RingForFeatures(WeightsSpec),
    #[error("{0} results for {1} features")]
    ResultsMismatch(usize, usize),
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error(transparent)]
    GiStar(#[from] GiStarError),
}

fn feature_ref(index: usize, feature: &Feature) -> FeatureRef {
    FeatureRef {
        index,
        id: feature.id.as_ref().map(|id| match id {
            Id::String(s) => s.clone(),
            Id::Number(n) => n.to_string(),
        }),
    }
}

enum Shape {
    Point(LonLat),
    Polygons(MultiPolygon<f64>),
}

fn read_shape(index: usize, feature: &Feature) -> Result<Shape, FeatureGiStarError> {
    let name = || feature_ref(index, feature);
    let geometry = feature
        .geometry
        .as_ref()
        .ok_or_else(|| FeatureGiStarError::NoGeometry(name()))?;
    let check = |position: &[f64]| -> Result<LonLat, FeatureGiStarError> {
        match position {
            [lon, lat, ..] => {
                LonLat::new(*lon, *lat).map_err(|source| FeatureGiStarError::Coordinates {
                    feature: name(),
                    source,
                })
            }
            _ => Err(FeatureGiStarError::EmptyGeometry(name())),
        }
    };
    match &geometry.value {
        GeometryValue::Point { coordinates } => Ok(Shape::Point(check(coordinates.as_slice())?)),
        value @ (GeometryValue::Polygon { .. } | GeometryValue::MultiPolygon { .. }) => {
            let rings: Vec<&Vec<geojson::Position>> = match value {
                GeometryValue::Polygon { coordinates } => coordinates.iter().collect(),
                GeometryValue::MultiPolygon { coordinates } => {
                    coordinates.iter().flatten().collect()
                }
                _ => unreachable!("matched above"),
            };
            if rings.is_empty() || rings.iter().any(|r| r.len() < 4) {
                return Err(FeatureGiStarError::EmptyGeometry(name()));
            }
            for position in rings.into_iter().flatten() {
                check(position.as_slice())?;
            }
            let polygons = match value {
                GeometryValue::Polygon { .. } => {
                    geo::Polygon::<f64>::try_from(value).map(|p| MultiPolygon::new(vec![p]))
                }
                _ => MultiPolygon::<f64>::try_from(value),
            }
            .map_err(|_| FeatureGiStarError::EmptyGeometry(name()))?;
            Ok(Shape::Polygons(polygons))
        }
        other => Err(FeatureGiStarError::UnsupportedGeometry {
            feature: name(),
            kind: other.type_name(),
        }),
    }
}

fn read_value(index: usize, feature: &Feature, field: &str) -> Result<f64, FeatureGiStarError> {
    let value = feature
        .properties
        .as_ref()
        .and_then(|p| p.get(field))
        .ok_or_else(|| FeatureGiStarError::MissingField {
            feature: feature_ref(index, feature),
            field: field.to_owned(),
        })?;
    let number = match value {
        JsonValue::Number(n) => n.as_f64(),
        JsonValue::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match number {
        Some(x) if x.is_finite() => Ok(x),
        _ => Err(FeatureGiStarError::NotNumeric {
            feature: feature_ref(index, feature),
            field: field.to_owned(),
            value: value.to_string().chars().take(40).collect(),
        }),
    }
}

/// Gi* for every feature of `collection`, on the numbers in property `value_field`.
///
/// ```
/// use geojson::FeatureCollection;
/// use wangge_analysis::feature_gistar::gistar_features;
/// use wangge_analysis::gi_star::GiStarOptions;
/// let text = r#"{"type": "FeatureCollection", "features": [
///   {"type": "Feature", "properties": {"n": 9}, "geometry": {"type": "Point", "coordinates": [102.50, 24.30]}},
///   {"type": "Feature", "properties": {"n": 8}, "geometry": {"type": "Point", "coordinates": [102.51, 24.30]}},
///   {"type": "Feature", "properties": {"n": "1"}, "geometry": {"type": "Point", "coordinates": [102.60, 24.30]}},
///   {"type": "Feature", "properties": {"n": 2}, "geometry": {"type": "Point", "coordinates": [102.61, 24.30]}}
/// ]}"#;
/// let collection: FeatureCollection = text.parse()?;
/// let options = GiStarOptions { permutations: 0, ..Default::default() };
/// let results = gistar_features(&collection, "n", &"knn:1".parse()?, &options, false)?;
/// assert!(results[0].z > 0.0 && results[3].z < 0.0);
/// assert_eq!(results[0].neighbours, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn gistar_features(
    collection: &FeatureCollection,
    value_field: &str,
    weights: &WeightsSpec,
    options: &GiStarOptions,
    fdr: bool,
) -> Result<Vec<FeatureResult>, FeatureGiStarError> {
    let features = &collection.features;
    let n = features.len();
    if n < 3 {
        return Err(FeatureGiStarError::TooFew(n));
    }
    if n > MAX_FEATURES {
        return Err(FeatureGiStarError::TooMany(n));
    }
    if let WeightsSpec::Ring { .. } = weights {
        return Err(FeatureGiStarError::RingForFeatures(*weights));
    }
    let mut points = Vec::new();
    let mut polygons = Vec::new();
    let mut values = Vec::with_capacity(n);
    let kind = |f: &Feature| {
        f.geometry
            .as_ref()
            .map_or("nothing", |g| g.value.type_name())
    };
    for (index, feature) in features.iter().enumerate() {
        match read_shape(index, feature)? {
            Shape::Point(p) if polygons.is_empty() => points.push(p),
            Shape::Polygons(p) if points.is_empty() => polygons.push(p),
            _ => {
                return Err(FeatureGiStarError::MixedGeometry {
                    feature: feature_ref(index, feature),
                    kind: kind(feature),
                    first: kind(&features[0]),
                });
            }
        }
        values.push(read_value(index, feature, value_field)?);
    }
    let centres = || -> Result<Vec<LonLat>, FeatureGiStarError> {
        if polygons.is_empty() {
            return Ok(points.clone());
        }
        polygons
            .iter()
            .enumerate()
            .map(|(index, p)| {
                let c = p.centroid().ok_or_else(|| {
                    FeatureGiStarError::EmptyGeometry(feature_ref(index, &features[index]))
                })?;
                LonLat::new(c.x(), c.y()).map_err(|source| FeatureGiStarError::Coordinates {
                    feature: feature_ref(index, &features[index]),
                    source,
                })
            })
            .collect()
    };
    let w = match *weights {
        WeightsSpec::Queen | WeightsSpec::Rook if polygons.is_empty() => {
            return Err(FeatureGiStarError::NeedPolygons(*weights));
        }
        WeightsSpec::Queen => Weights::contiguity(&polygons, Contiguity::Queen)?,
        WeightsSpec::Rook => Weights::contiguity(&polygons, Contiguity::Rook)?,
        WeightsSpec::Knn { k } => Weights::knn(&centres()?, k)?,
        WeightsSpec::DistanceBand {
            threshold_m,
            weight,
        } => Weights::distance_band(&centres()?, threshold_m, weight)?,
        WeightsSpec::Ring { .. } => unreachable!("refused above"),
    };
    let g = gi_star(&values, &w, options)?;
    let z: Vec<f64> = g.iter().map(|g| g.z).collect();
    let p: Vec<f64> = g.iter().map(|g| g.p).collect();
    let bins = confidence_bins(&z, &p, fdr);
    Ok(g.iter()
        .zip(bins)
        .enumerate()
        .map(|(i, (g, bin))| FeatureResult {
            gi: g.gi,
            z: g.z,
            p: g.p,
            p_sim: g.p_sim,
            bin,
            neighbours: w.cardinality(i),
        })
        .collect())
}

/// A copy of `collection` with each feature's results in its properties: `gi`, `gi_z`,
/// `gi_p`, `gi_p_sim` (null without permutations) and `gi_bin`. Existing properties of those
/// names are replaced.
pub fn with_gistar_properties(
    collection: &FeatureCollection,
    results: &[FeatureResult],
) -> Result<FeatureCollection, FeatureGiStarError> {
    if results.len() != collection.features.len() {
        return Err(FeatureGiStarError::ResultsMismatch(
            results.len(),
            collection.features.len(),
        ));
    }
    let mut out = collection.clone();
    for (feature, r) in out.features.iter_mut().zip(results) {
        let properties = feature.properties.get_or_insert_with(Default::default);
        properties.insert("gi".into(), JsonValue::from(r.gi));
        properties.insert("gi_z".into(), JsonValue::from(r.z));
        properties.insert("gi_p".into(), JsonValue::from(r.p));
        properties.insert(
            "gi_p_sim".into(),
            r.p_sim.map_or(JsonValue::Null, JsonValue::from),
        );
        properties.insert("gi_bin".into(), JsonValue::from(r.bin));
    }
    Ok(out)
}

/// The results as CSV text: a header `index,id,gi,z,p,p_sim,bin`, then one row per feature
/// in input order. `id` is empty without one, quoted when it holds a comma, quote or line
/// break, and a text id starting with `=`, `+`, `-`, `@` or a tab gets a leading `'` so a
/// spreadsheet does not run it as a formula. `p_sim` is empty without permutations. Numbers
/// are written in full (the shortest text that reads back to the same `f64`).
///
/// ```
/// use geojson::FeatureCollection;
/// use wangge_analysis::feature_gistar::{FeatureResult, gistar_csv};
/// let collection: FeatureCollection = r#"{"type": "FeatureCollection", "features": [
///   {"type": "Feature", "id": "a,1", "properties": {}, "geometry": null}]}"#.parse()?;
/// let r = FeatureResult { gi: 0.5, z: 2.0, p: 0.0455, p_sim: None, bin: 2, neighbours: 3 };
/// assert_eq!(gistar_csv(&collection, &[r])?, "index,id,gi,z,p,p_sim,bin\n0,\"a,1\",0.5,2,0.0455,,2\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn gistar_csv(
    collection: &FeatureCollection,
    results: &[FeatureResult],
) -> Result<String, FeatureGiStarError> {
    if results.len() != collection.features.len() {
        return Err(FeatureGiStarError::ResultsMismatch(
            results.len(),
            collection.features.len(),
        ));
    }
    let mut out = String::from("index,id,gi,z,p,p_sim,bin\n");
    for (index, (feature, r)) in collection.features.iter().zip(results).enumerate() {
        let id = match &feature.id {
            None => String::new(),
            Some(Id::Number(n)) => n.to_string(),
            Some(Id::String(s)) => {
                let s = if s.starts_with(['=', '+', '-', '@', '\t']) {
                    format!("'{s}")
                } else {
                    s.clone()
                };
                if s.contains([',', '"', '\n', '\r']) {
                    format!("\"{}\"", s.replace('"', "\"\""))
                } else {
                    s
                }
            }
        };
        let p_sim = r.p_sim.map(|p| p.to_string()).unwrap_or_default();
        out.push_str(&format!(
            "{index},{id},{},{},{},{p_sim},{}\n",
            r.gi, r.z, r.p, r.bin
        ));
    }
    Ok(out)
}
