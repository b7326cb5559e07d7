//! Where incidents concentrate, and whether that is chance: counts per place (heat map
//! aggregates), Getis-Ord Gi* hot and cold spots, Local Moran's I clusters and emerging hot
//! spots over time, all inside the caller's area and the incident filters.
//!
//! The database answers the places ([`units`]) and the cases (one row each: where, open or
//! not, its grid cell, village and township, when reported); the counting and the statistics
//! run in Rust (`wangge_analysis`), and the answer is a GeoJSON FeatureCollection with the
//! figures per place.

pub mod alerts;
pub mod units;

use std::collections::HashMap;

use chrono::{DateTime, Months, TimeDelta, Utc};
use h3o::CellIndex;
use serde_json::{Map, Value, json};
use sqlx::PgPool;
use wangge_analysis::gi_star::{GiStar, GiStarError, GiStarOptions, gi_star};
use wangge_analysis::hexbin;
use wangge_analysis::sphere::LonLat;
use wangge_analysis::weights::{Contiguity, Weights, WeightsError, WeightsSpec};

use crate::auth::Area;
use crate::model::open_statuses;
use crate::tile_layers::{TileFilters, TileLayer, incident_filters};

pub use units::{StudyUnit, Unit, UnitError};

/// The cases an analysis reads, in the tile queries' parameter layout so that it shares
/// their filters (`$8..$14`): `$1..$3` and `$6`, `$7` are unused here, `$4` is the area's
/// code prefix and `$5` a grid worker's cell. Cases known only by their unit (no point yet)
/// count in their grid cell, village and township but in no hexagon.
const CASES_SQL: &str = concat!(
    "SELECT ST_X(i.geom), ST_Y(i.geom), i.status IN ",
    open_statuses!(),
    ", i.grid_cell_id, i.village_id, i.township_id, i.reported_at
     FROM incident i
     WHERE i.area_code LIKE $4 || '%'
       AND ($5::int8 IS NULL OR i.grid_cell_id = $5)
       AND $1::int4 IS NOT DISTINCT FROM $1 AND $2::int4 IS NOT DISTINCT FROM $2
       AND $3::int4 IS NOT DISTINCT FROM $3 AND $6::float8 IS NOT DISTINCT FROM $6
       AND $7::int8 IS NOT DISTINCT FROM $7 ",
    incident_filters!()
);

type CaseRow = (
    Option<f64>,
    Option<f64>,
    bool,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    DateTime<Utc>,
);

/// One case as the analyses count it: the index of its unit, open or not, when reported.
#[derive(Debug, Clone, Copy)]
struct Case {
    unit: usize,
    open: bool,
    reported_at: DateTime<Utc>,
}

/// The places of an analysis with their cases.
#[derive(Debug)]
pub struct Counted {
    pub unit: Unit,
    pub units: Vec<StudyUnit>,
    cases: Vec<Case>,
}

impl Counted {
    /// Cases per place, in the order of `units`.
    pub fn counts(&self) -> Vec<f64> {
        let mut counts = vec![0.0; self.units.len()];
        for c in &self.cases {
            counts[c.unit] += 1.0;
        }
        counts
    }

    fn open_counts(&self) -> Vec<i64> {
        let mut open = vec![0; self.units.len()];
        for c in self.cases.iter().filter(|c| c.open) {
            open[c.unit] += 1;
        }
        open
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error(transparent)]
    Units(#[from] units::ReadError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The caller's choice does not fit the data: a 400 with this text.
    #[error("{0}")]
    Invalid(String),
}

impl From<WeightsError> for AnalysisError {
    fn from(e: WeightsError) -> Self {
        AnalysisError::Invalid(e.to_string())
    }
}

impl From<GiStarError> for AnalysisError {
    fn from(e: GiStarError) -> Self {
        AnalysisError::Invalid(e.to_string())
    }
}

impl From<UnitError> for AnalysisError {
    fn from(e: UnitError) -> Self {
        AnalysisError::Units(e.into())
    }
}

/// Reads the places of `unit` in `area` and the cases passing `filters`, each case in its
/// place. Hexagons with cases outside the area's outline (a case on its edge) join in.
pub async fn count(
    pool: &PgPool,
    area: &Area,
    unit: Unit,
    filters: &TileFilters,
) -> Result<Counted, AnalysisError> {
    let mut units = units::read(pool, area, unit).await?;
    let rows: Vec<CaseRow> = TileLayer::bind_incident_filters(
        sqlx::query_as(CASES_SQL)
            .bind(None::<i32>)
            .bind(None::<i32>)
            .bind(None::<i32>)
            .bind(&area.prefix)
            .bind(area.grid_cell_id)
            .bind(None::<f64>)
            .bind(None::<i64>),
        filters,
    )
    .fetch_all(pool)
    .await?;
    let mut cases = Vec::with_capacity(rows.len());
    match unit {
        Unit::Hexagons(resolution) => {
            let mut index: HashMap<CellIndex, usize> = units
                .iter()
                .enumerate()
                .filter_map(|(i, u)| u.code.parse::<CellIndex>().ok().map(|c| (c, i)))
                .collect();
            for (x, y, open, _, _, _, reported_at) in &rows {
                let Some(at) = x.zip(*y).and_then(|(x, y)| LonLat::new(x, y).ok()) else {
                    continue;
                };
                let cell = hexbin::cell_of(at, resolution);
                let next = units.len();
                let i = *index.entry(cell).or_insert(next);
                if i == next {
                    units.push(units::hexagon(cell, 0));
                }
                cases.push(Case {
                    unit: i,
                    open: *open,
                    reported_at: *reported_at,
                });
            }
        }
        Unit::GridCells | Unit::Villages | Unit::Townships => {
            let index: HashMap<i64, usize> = units
                .iter()
                .enumerate()
                .filter_map(|(i, u)| u.id.map(|id| (id, i)))
                .collect();
            for (_, _, open, cell, village, township, reported_at) in &rows {
                let key = match unit {
                    Unit::GridCells => cell,
                    Unit::Villages => village,
                    _ => township,
                };
                if let Some(&i) = key.as_ref().and_then(|k| index.get(k)) {
                    cases.push(Case {
                        unit: i,
                        open: *open,
                        reported_at: *reported_at,
                    });
                }
            }
        }
    }
    if units.len() > units::MAX_UNITS {
        return Err(UnitError::TooMany(units.len()).into());
    }
    Ok(Counted { unit, units, cases })
}

/// The spatial weights between the places: H3 rings for hexagons, contiguity of the
/// outlines or distances between the places' centres for the others.
pub fn weights(counted: &Counted, spec: &WeightsSpec) -> Result<Weights, AnalysisError> {
    let centres = || counted.units.iter().map(|u| u.centre).collect::<Vec<_>>();
    Ok(match (counted.unit, spec) {
        (Unit::Hexagons(_), WeightsSpec::Ring { k }) => {
            let cells: Vec<CellIndex> = counted
                .units
                .iter()
                .filter_map(|u| u.code.parse().ok())
                .collect();
            Weights::h3_ring(&cells, *k)?
        }
        (_, WeightsSpec::Ring { .. }) => {
            return Err(AnalysisError::Invalid(
                "ring:K weights are for H3 hexagons (unit=h3:R); use queen, rook, knn:K or distance:M"
                    .into(),
            ));
        }
        (_, WeightsSpec::Queen) => Weights::contiguity(&polygons(counted), Contiguity::Queen)?,
        (_, WeightsSpec::Rook) => Weights::contiguity(&polygons(counted), Contiguity::Rook)?,
        (_, WeightsSpec::Knn { k }) => Weights::knn(&centres(), *k)?,
        (
            _,
            WeightsSpec::DistanceBand {
                threshold_m,
                weight,
            },
        ) => Weights::distance_band(&centres(), *threshold_m, *weight)?,
    })
}

fn polygons(counted: &Counted) -> Vec<geo::MultiPolygon<f64>> {
    counted.units.iter().map(|u| u.polygons.clone()).collect()
}

/// The weights an analysis uses when the caller names none: the six hexagons around each
/// hexagon, or the places sharing a boundary point.
pub fn default_weights(unit: Unit) -> WeightsSpec {
    match unit {
        Unit::Hexagons(_) => WeightsSpec::Ring { k: 1 },
        _ => WeightsSpec::Queen,
    }
}

/// Per place: the unit's identity, its counts and households, and `extra` figures.
fn feature(u: &StudyUnit, unit: Unit, count: f64, open: i64, extra: Map<String, Value>) -> Value {
    let mut properties = Map::new();
    properties.insert("unit".into(), json!(unit.kind()));
    properties.insert("code".into(), json!(u.code));
    properties.insert("name".into(), json!(u.name));
    properties.insert("count".into(), json!(count as i64));
    properties.insert("open_count".into(), json!(open));
    properties.insert("households".into(), json!(u.households));
    properties.insert(
        "per_1000_households".into(),
        if u.households > 0 {
            json!((count * 1000.0 / u.households as f64 * 100.0).round() / 100.0)
        } else {
            Value::Null
        },
    );
    insert_names(&mut properties, u);
    properties.extend(extra);
    json!({
        "type": "Feature",
        "id": u.code,
        "geometry": u.geometry,
        "properties": properties,
    })
}

/// The places as a FeatureCollection: each with its identity, counts and households, and
/// what `per_place` gives it (its count, which it is handed, and its figures); `members` are
/// added at the top, beside `type`, `unit` and `features`.
fn collection(
    counted: &Counted,
    members: Value,
    per_place: impl Fn(usize, f64) -> (f64, Map<String, Value>),
) -> Value {
    let counts = counted.counts();
    let open = counted.open_counts();
    let features: Vec<Value> = counted
        .units
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let (count, figures) = per_place(i, counts[i]);
            feature(u, counted.unit, count, open[i], figures)
        })
        .collect();
    let mut out = json!({
        "type": "FeatureCollection",
        "unit": counted.unit.to_string(),
        "features": features,
    });
    if let (Some(out), Value::Object(members)) = (out.as_object_mut(), members) {
        out.extend(members);
    }
    out
}

/// Counts per place as a FeatureCollection (the heat map's choropleths).
pub fn aggregates(counted: &Counted) -> Value {
    collection(
        counted,
        json!({ "total": counted.cases.len() }),
        |_, count| (count, Map::new()),
    )
}

/// How a Gi* analysis was asked for.
#[derive(Debug, Clone, Copy)]
pub struct HotspotRequest {
    pub weights: WeightsSpec,
    pub permutations: u32,
    pub seed: u64,
    pub fdr: bool,
}

/// Gi* per place with its confidence bin, in the order of the places.
#[derive(Debug)]
pub struct Hotspots {
    pub results: Vec<GiStar>,
    /// ArcGIS's `Gi_Bin`, −3 to 3.
    pub bins: Vec<i8>,
    pub neighbours: Vec<usize>,
}

impl Hotspots {
    /// The places in a confidence bin (hot or cold at 90% or more).
    pub fn significant(&self) -> Vec<usize> {
        (0..self.bins.len())
            .filter(|&i| self.bins[i] != 0)
            .collect()
    }
}

/// Gi* per place. CPU-bound (permutations): run it off the async threads.
pub fn hotspots(counted: &Counted, request: &HotspotRequest) -> Result<Hotspots, AnalysisError> {
    let counts = counted.counts();
    let w = weights(counted, &request.weights)?;
    let options = GiStarOptions {
        permutations: request.permutations,
        seed: request.seed,
        threads: 2,
        ..GiStarOptions::default()
    };
    let results: Vec<GiStar> = gi_star(&counts, &w, &options)?;
    let z: Vec<f64> = results.iter().map(|r| r.z).collect();
    // Bins from the permutation p-values when drawn (they do not lean on normality, which
    // counts of rare events lack), else from the analytic ones.
    let p: Vec<f64> = results.iter().map(|r| r.p_sim.unwrap_or(r.p)).collect();
    let bins = wangge_analysis::confidence_bins::confidence_bins(&z, &p, request.fdr);
    let neighbours = (0..w.len()).map(|i| w.cardinality(i)).collect();
    Ok(Hotspots {
        results,
        bins,
        neighbours,
    })
}

/// The places with their Gi* figures as a FeatureCollection.
pub fn hotspots_geojson(counted: &Counted, request: &HotspotRequest, h: &Hotspots) -> Value {
    let members = json!({
        "weights": request.weights.to_string(),
        "permutations": request.permutations,
        "seed": request.seed,
        "fdr": request.fdr,
        "total": counted.cases.len(),
    });
    collection(counted, members, |i, count| {
        let r = &h.results[i];
        let mut figures = Map::new();
        figures.insert("gi".into(), json!(r.gi));
        figures.insert("z".into(), json!(r.z));
        figures.insert("p".into(), json!(r.p));
        figures.insert("p_sim".into(), json!(r.p_sim));
        figures.insert("bin".into(), json!(h.bins[i]));
        figures.insert("neighbours".into(), json!(h.neighbours[i]));
        (count, figures)
    })
}

/// A hexagon's number in the request, and the codes and names of its grid cell, village and
/// township.
type PlaceNames = (
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Names the grid cell, village and township at each hexagon's centre for the places
/// `wanted` picks (the significant ones: a table of places needs names, hexagons have none).
pub async fn name_hexagons(
    pool: &PgPool,
    counted: &mut Counted,
    wanted: &[usize],
) -> Result<(), sqlx::Error> {
    if !matches!(counted.unit, Unit::Hexagons(_)) || wanted.is_empty() {
        return Ok(());
    }
    let xs: Vec<f64> = wanted
        .iter()
        .map(|&i| counted.units[i].centre.lon())
        .collect();
    let ys: Vec<f64> = wanted
        .iter()
        .map(|&i| counted.units[i].centre.lat())
        .collect();
    let rows: Vec<PlaceNames> = sqlx::query_as(
        "SELECT u.n, g.code, g.name, v.code, v.name, t.code, t.name
         FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS u (x, y, n)
         CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(u.x, u.y), 4326) AS pt) p
         LEFT JOIN LATERAL (
             SELECT g.code, g.name, g.village_id FROM grid_cell g
             JOIN grid_plan gp ON gp.id = g.plan_id AND gp.status = 'published'
             WHERE ST_Intersects(g.geom, p.pt)
             ORDER BY g.code LIMIT 1) g ON true
         LEFT JOIN LATERAL (
             SELECT a.id FROM admin_unit a
             WHERE g.village_id IS NULL AND a.level = 'village' AND ST_Intersects(a.geom, p.pt)
             ORDER BY a.code LIMIT 1) av ON true
         LEFT JOIN admin_unit v ON v.id = coalesce(g.village_id, av.id)
         LEFT JOIN admin_unit t ON t.id = v.parent_id",
    )
    .bind(&xs)
    .bind(&ys)
    .fetch_all(pool)
    .await?;
    for (n, gc, gn, vc, vn, tc, tn) in rows {
        let Some(&i) = usize::try_from(n - 1).ok().and_then(|k| wanted.get(k)) else {
            continue;
        };
        let u = &mut counted.units[i];
        u.grid_cell = gc.zip(gn);
        u.village = vc.zip(vn);
        u.township = tc.zip(tn);
    }
    Ok(())
}

/// Time steps for emerging hot spots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Week,
    Month,
}

impl std::str::FromStr for Step {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "week" => Ok(Step::Week),
            "month" => Ok(Step::Month),
            _ => Err(format!(
                "unknown step `{}`; the steps are week and month",
                s.chars().take(20).collect::<String>()
            )),
        }
    }
}

/// The start of each of `steps` consecutive steps ending at `end` (exclusive), oldest first.
pub fn step_starts(end: DateTime<Utc>, step: Step, steps: u32) -> Vec<DateTime<Utc>> {
    (1..=steps)
        .rev()
        .map(|k| match step {
            Step::Week => end - TimeDelta::weeks(i64::from(k)),
            Step::Month => end
                .checked_sub_months(Months::new(k))
                .unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
        })
        .collect()
}

impl Counted {
    /// Cases per place and step: `cube[place][step]`, for the steps starting at `starts`
    /// and the last ending at `end`; cases outside them are not counted.
    pub fn cube(&self, starts: &[DateTime<Utc>], end: DateTime<Utc>) -> Vec<Vec<f64>> {
        let mut cube = vec![vec![0.0; starts.len()]; self.units.len()];
        for c in &self.cases {
            if c.reported_at >= end {
                continue;
            }
            // The last step starting at or before the case.
            let k = starts.partition_point(|s| *s <= c.reported_at);
            if k > 0 {
                cube[c.unit][k - 1] += 1.0;
            }
        }
        cube
    }
}

/// Local Moran's I per place (row-standardised weights, as esda), with its quadrant.
pub fn local_moran_geojson(
    counted: &Counted,
    request: &HotspotRequest,
) -> Result<Value, AnalysisError> {
    use wangge_analysis::local_moran::{LocalMoranOptions, Quadrant, local_moran};
    let counts = counted.counts();
    let w = weights(counted, &request.weights)?;
    let options = LocalMoranOptions {
        permutations: request.permutations,
        seed: request.seed,
        threads: 2,
        ..LocalMoranOptions::default()
    };
    let results =
        local_moran(&counts, &w, &options).map_err(|e| AnalysisError::Invalid(e.to_string()))?;
    let members = json!({
        "weights": request.weights.to_string(),
        "permutations": request.permutations,
        "seed": request.seed,
        "total": counted.cases.len(),
    });
    Ok(collection(counted, members, |i, count| {
        let r = &results[i];
        let p = r.p_sim.unwrap_or(r.p);
        let mut figures = Map::new();
        figures.insert("i".into(), json!(r.i));
        figures.insert("z".into(), json!(r.z));
        figures.insert("p".into(), json!(r.p));
        figures.insert("p_sim".into(), json!(r.p_sim));
        let quadrant = match r.quadrant {
            Quadrant::HH => "HH",
            Quadrant::LH => "LH",
            Quadrant::LL => "LL",
            Quadrant::HL => "HL",
        };
        figures.insert("quadrant".into(), json!(quadrant));
        figures.insert("significant".into(), json!(p <= 0.05));
        (count, figures)
    }))
}

/// How an emerging hot spot analysis was asked for.
#[derive(Debug, Clone, Copy)]
pub struct EmergingRequest {
    pub weights: WeightsSpec,
    pub step: Step,
    pub steps: u32,
    /// The end of the last step (exclusive).
    pub end: DateTime<Utc>,
    pub fdr: bool,
}

/// The most time steps an emerging analysis takes (five years of months).
pub const MAX_STEPS: u32 = 60;

/// Emerging hot spots per place: its category, the trend of its Gi* z-scores over the
/// steps, and its bin at each step (oldest first).
pub fn emerging_geojson(
    counted: &Counted,
    request: &EmergingRequest,
) -> Result<Value, AnalysisError> {
    use wangge_analysis::emerging::{EmergingOptions, emerging_hot_spots};
    let starts = step_starts(request.end, request.step, request.steps);
    let cube = counted.cube(&starts, request.end);
    let steps = starts.len();
    let values: Vec<f64> = cube.iter().flatten().copied().collect();
    let w = weights(counted, &request.weights)?;
    let options = EmergingOptions {
        fdr: request.fdr,
        ..EmergingOptions::default()
    };
    let results = emerging_hot_spots(&values, steps, &w, &options)
        .map_err(|e| AnalysisError::Invalid(e.to_string()))?;
    let starts: Vec<String> = starts.iter().map(|s| s.to_rfc3339()).collect();
    let members = json!({
        "weights": request.weights.to_string(),
        "step": match request.step { Step::Week => "week", Step::Month => "month" },
        "steps": starts,
        "end": request.end.to_rfc3339(),
    });
    // A place's count here is its cases within the steps.
    Ok(collection(counted, members, |i, _| {
        let r = &results[i];
        let mut figures = Map::new();
        figures.insert("category".into(), json!(r.pattern.name()));
        figures.insert("trend_z".into(), json!(r.trend.z));
        figures.insert("trend_p".into(), json!(r.trend.p));
        figures.insert("bins".into(), json!(r.bins));
        figures.insert("z".into(), json!(r.z));
        figures.insert("counts".into(), json!(cube[i]));
        (cube[i].iter().sum(), figures)
    }))
}

/// The places of `answer` with a pattern (anything but no pattern), for naming.
pub fn with_pattern(answer: &Value) -> Vec<usize> {
    answer["features"]
        .as_array()
        .map(|features| {
            features
                .iter()
                .enumerate()
                .filter(|(_, f)| f["properties"]["category"] != "no-pattern")
                .map(|(i, _)| i)
                .collect()
        })
        .unwrap_or_default()
}

/// Writes the names [`name_hexagons`] found for the places `named` into `answer`'s features.
pub fn add_names(answer: &mut Value, counted: &Counted, named: &[usize]) {
    let Some(features) = answer["features"].as_array_mut() else {
        return;
    };
    for &i in named {
        let (Some(feature), Some(u)) = (features.get_mut(i), counted.units.get(i)) else {
            continue;
        };
        if let Some(properties) = feature["properties"].as_object_mut() {
            insert_names(properties, u);
        }
    }
}

/// The codes and names of the place's grid cell, village and township, where known.
fn insert_names(properties: &mut Map<String, Value>, u: &StudyUnit) {
    for (key, named) in [
        ("grid_cell", &u.grid_cell),
        ("village", &u.village),
        ("township", &u.township),
    ] {
        if let Some((code, name)) = named {
            properties.insert(format!("{key}_code"), json!(code));
            properties.insert(format!("{key}_name"), json!(name));
        }
    }
}
