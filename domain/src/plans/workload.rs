//! Each cell's workload in a plan, and the plan's balance and shape figures.
//!
//! Per cell: households and residents whose point lies in it, the cases reported inside it
//! in the last 12 months weighted by severity, its area, and the workers looking after it.
//! A plan's cells are new outlines, so every count is by place, never by a stored link; the
//! workers are those of the published cell with the same code (a draft's new cells have
//! none until published and staffed).
//!
//! Load, in household-equivalents: `households + case_weight × Σ severity weight` with
//! severity weights minor 1, moderate 2, major 4, critical 8 and `case_weight` 5 unless
//! asked (one minor case a year is about as much work as five households). The target per
//! worker is the area's whole load over its workers; a cell's deviation is its load per
//! worker against that target. Compactness is Polsby-Popper, 4πA/P² (1 for a circle), on
//! the ellipsoid.

use serde::Serialize;
use sqlx::PgConnection;

/// One minor case a year weighs as many households as this, unless asked otherwise.
pub const DEFAULT_CASE_WEIGHT: f64 = 5.0;

/// The severity weights, as SQL over an `incident` row `i`.
pub const SEVERITY_WEIGHT_SQL: &str = "CASE i.severity WHEN 'minor' THEN 1 WHEN 'moderate' THEN 2
     WHEN 'major' THEN 4 WHEN 'critical' THEN 8 END";

/// A cell's figures.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CellLoad {
    pub code: String,
    pub name: String,
    pub village_code: String,
    pub village_name: String,
    pub households: i64,
    pub residents: i64,
    pub cases: i64,
    /// Σ severity weights of the cases.
    pub weighted_cases: f64,
    pub area_km2: f64,
    pub workers: i64,
    pub load: f64,
    /// Load per worker against the target, −1…∞ (0 is on target); `None` without workers.
    pub deviation: Option<f64>,
    pub polsby_popper: f64,
    /// Separate pieces (1 for a contiguous cell).
    pub parts: i32,
    /// Square metres of the cell outside its village.
    pub outside_village_m2: f64,
}

/// The plan's figures over the area.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub cells: usize,
    pub households: i64,
    pub residents: i64,
    pub cases: i64,
    pub workers: i64,
    pub load: f64,
    pub case_weight: f64,
    /// Load per worker if all were even.
    pub target_per_worker: Option<f64>,
    /// The largest |deviation| of a staffed cell.
    pub max_abs_deviation: Option<f64>,
    /// Staffed cells within ±5% and ±20% of the target.
    pub within_5_percent: usize,
    pub within_20_percent: usize,
    pub unstaffed: usize,
    pub mean_polsby_popper: f64,
    pub non_contiguous: usize,
    pub crossing_village: usize,
}

/// The workload of plan `plan_id`'s cells inside `prefix`'s area, within `bbox` if given.
pub async fn cells(
    conn: &mut PgConnection,
    plan_id: i64,
    prefix: &str,
    case_weight: f64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<CellLoad>, sqlx::Error> {
    let mut cells: Vec<CellLoad> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH c AS (
             SELECT g.id, g.code, g.name, g.geom, v.code AS village_code, v.name AS village_name,
                    v.geom AS village_geom
             FROM grid_cell g JOIN admin_unit v ON v.id = g.village_id
             WHERE g.plan_id = $1 AND v.code LIKE $2 || '%'
         )
         SELECT c.code, c.name, c.village_code, c.village_name,
                coalesce(h.households, 0) AS households, coalesce(h.residents, 0) AS residents,
                coalesce(i.cases, 0) AS cases, coalesce(i.weighted, 0)::float8 AS weighted_cases,
                ST_Area(c.geom::geography) / 1e6 AS area_km2,
                coalesce(w.workers, 0) AS workers,
                0::float8 AS load, NULL::float8 AS deviation,
                CASE WHEN ST_Perimeter(c.geom::geography) > 0
                     THEN 4 * pi() * ST_Area(c.geom::geography)
                          / ST_Perimeter(c.geom::geography) ^ 2 ELSE 0 END AS polsby_popper,
                ST_NumGeometries(c.geom) AS parts,
                coalesce(ST_Area(ST_Difference(c.geom, c.village_geom)::geography), 0)
                    AS outside_village_m2
         FROM c
         LEFT JOIN LATERAL (
             SELECT count(*) AS households, sum(h.size) AS residents
             FROM household h WHERE ST_Intersects(c.geom, h.geom)) h ON true
         LEFT JOIN LATERAL (
             SELECT count(*) AS cases, sum({SEVERITY_WEIGHT_SQL}) AS weighted
             FROM incident i
             WHERE ST_Intersects(c.geom, i.geom)
               AND i.reported_at > $3 - interval '12 months' AND i.reported_at <= $3) i ON true
         LEFT JOIN LATERAL (
             SELECT count(DISTINCT wc.worker_id) AS workers
             FROM grid_cell pc
             JOIN grid_plan pp ON pp.id = pc.plan_id AND pp.status = 'published'
             JOIN grid_worker_cell wc ON wc.grid_cell_id = pc.id
             WHERE pc.code = c.code) w ON true
         ORDER BY c.code"
    )))
    .bind(plan_id)
    .bind(prefix)
    .bind(now)
    .fetch_all(conn)
    .await?;
    let (load, workers) = cells.iter_mut().fold((0.0, 0), |(load, workers), c| {
        c.load = c.households as f64 + case_weight * c.weighted_cases;
        (load + c.load, workers + c.workers)
    });
    if workers > 0 {
        let target = load / workers as f64;
        for c in &mut cells {
            if c.workers > 0 && target > 0.0 {
                c.deviation = Some(c.load / c.workers as f64 / target - 1.0);
            }
        }
    }
    Ok(cells)
}

/// The figures over `cells`.
pub fn summary(cells: &[CellLoad], case_weight: f64) -> Summary {
    let workers: i64 = cells.iter().map(|c| c.workers).sum();
    let load: f64 = cells.iter().map(|c| c.load).sum();
    let deviations: Vec<f64> = cells.iter().filter_map(|c| c.deviation).collect();
    Summary {
        cells: cells.len(),
        households: cells.iter().map(|c| c.households).sum(),
        residents: cells.iter().map(|c| c.residents).sum(),
        cases: cells.iter().map(|c| c.cases).sum(),
        workers,
        load,
        case_weight,
        target_per_worker: (workers > 0).then(|| load / workers as f64),
        max_abs_deviation: deviations.iter().map(|d| d.abs()).reduce(f64::max),
        within_5_percent: deviations.iter().filter(|d| d.abs() <= 0.05).count(),
        within_20_percent: deviations.iter().filter(|d| d.abs() <= 0.20).count(),
        unstaffed: cells.iter().filter(|c| c.workers == 0).count(),
        mean_polsby_popper: if cells.is_empty() {
            0.0
        } else {
            cells.iter().map(|c| c.polsby_popper).sum::<f64>() / cells.len() as f64
        },
        non_contiguous: cells.iter().filter(|c| c.parts > 1).count(),
        crossing_village: cells.iter().filter(|c| c.outside_village_m2 > 10.0).count(),
    }
}
