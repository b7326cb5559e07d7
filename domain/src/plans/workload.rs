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
//!
//! A city-wide planner's plan has thousands of cells and an edit changes a few: the figures
//! that depend only on a cell's outline, its village and the households (households,
//! residents, area, shape, parts, ground outside the village) are kept in a
//! [`WorkloadCache`] by the outline's hash and thrown away when households or
//! administrative units change (the stamps of migration 0017); cases and workers move all
//! the time and are counted on every call.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

/// One minor case a year weighs as many households as this, unless asked otherwise.
pub const DEFAULT_CASE_WEIGHT: f64 = 5.0;

/// The severity weights, as SQL over an `incident` row `i`.
pub const SEVERITY_WEIGHT_SQL: &str = "CASE i.severity WHEN 'minor' THEN 1 WHEN 'moderate' THEN 2
     WHEN 'major' THEN 4 WHEN 'critical' THEN 8 END";

/// A cell's figures.
#[derive(Debug, Clone, Serialize)]
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

/// What a cell's outline, its village and the households make of it.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
struct Shape {
    households: i64,
    residents: i64,
    area_km2: f64,
    polsby_popper: f64,
    parts: i32,
    outside_village_m2: f64,
}

/// Past cells' [`Shape`]s, by outline hash and village, valid while the stamps of the
/// households and the administrative units stay where they were read.
#[derive(Debug, Default)]
pub struct WorkloadCache {
    inner: Mutex<(Stamps, Shapes)>,
}

/// The households' and the units' change counts the shapes were read under.
type Stamps = Option<(i64, i64)>;
/// Shapes by outline hash and village.
type Shapes = HashMap<(Uuid, i64), Shape>;

/// More outlines than a few cities' plans and their drafts: past it, start again.
const CACHE_CELLS: usize = 200_000;

impl WorkloadCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, (Stamps, Shapes)> {
        // Poisoned only by a panic mid-insert: the figures themselves are whole.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The shapes known under `stamps` (forgetting all when the stamps moved), and the keys
    /// not known.
    fn known(&self, stamps: (i64, i64), keys: &[(Uuid, i64)]) -> Shapes {
        let mut inner = self.lock();
        if inner.0 != Some(stamps) || inner.1.len() > CACHE_CELLS {
            *inner = (Some(stamps), HashMap::new());
        }
        keys.iter()
            .filter_map(|k| inner.1.get(k).map(|s| (*k, *s)))
            .collect()
    }

    fn keep(&self, stamps: (i64, i64), shapes: &[((Uuid, i64), Shape)]) {
        let mut inner = self.lock();
        if inner.0 == Some(stamps) {
            inner.1.extend(shapes.iter().copied());
        }
    }
}

/// A cell as read on every call: names, the outline's hash, cases and workers.
#[derive(sqlx::FromRow)]
struct CellRow {
    id: i64,
    code: String,
    name: String,
    village_id: i64,
    village_code: String,
    village_name: String,
    outline: Uuid,
    cases: i64,
    weighted_cases: f64,
    workers: i64,
}

/// The workload of plan `plan_id`'s cells inside `prefix`'s area.
pub async fn cells(
    conn: &mut PgConnection,
    cache: &WorkloadCache,
    plan_id: i64,
    prefix: &str,
    case_weight: f64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<CellLoad>, sqlx::Error> {
    // Read before the shapes, so a shape is never older than the stamps it is kept under.
    let stamps: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT n FROM wangge_change_count WHERE name = 'household'),
                (SELECT n FROM wangge_change_count WHERE name = 'admin_unit')",
    )
    .fetch_one(&mut *conn)
    .await?;
    let rows: Vec<CellRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH c AS (
             SELECT g.id, g.code, g.name, g.geom, g.village_id, v.code AS village_code,
                    v.name AS village_name
             FROM grid_cell g JOIN admin_unit v ON v.id = g.village_id
             WHERE g.plan_id = $1 AND v.code LIKE $2 || '%'
         )
         SELECT c.id, c.code, c.name, c.village_id, c.village_code, c.village_name,
                md5(ST_AsEWKB(c.geom))::uuid AS outline,
                coalesce(i.cases, 0) AS cases, coalesce(i.weighted, 0)::float8 AS weighted_cases,
                coalesce(w.workers, 0) AS workers
         FROM c
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
    .fetch_all(&mut *conn)
    .await?;
    let keys: Vec<(Uuid, i64)> = rows.iter().map(|r| (r.outline, r.village_id)).collect();
    let mut shapes = cache.known(stamps, &keys);
    let missing: Vec<i64> = rows
        .iter()
        .filter(|r| !shapes.contains_key(&(r.outline, r.village_id)))
        .map(|r| r.id)
        .collect();
    if !missing.is_empty() {
        let computed: Vec<(i64, Shape)> = sqlx::query_as::<_, (i64, i64, i64, f64, f64, i32, f64)>(
            "SELECT g.id, coalesce(h.households, 0), coalesce(h.residents, 0),
                    ST_Area(g.geom::geography) / 1e6,
                    CASE WHEN ST_Perimeter(g.geom::geography) > 0
                         THEN 4 * pi() * ST_Area(g.geom::geography)
                              / ST_Perimeter(g.geom::geography) ^ 2 ELSE 0 END,
                    ST_NumGeometries(g.geom),
                    coalesce(ST_Area(ST_Difference(g.geom, v.geom)::geography), 0)
             FROM grid_cell g JOIN admin_unit v ON v.id = g.village_id
             LEFT JOIN LATERAL (
                 SELECT count(*) AS households, sum(h.size) AS residents
                 FROM household h WHERE ST_Intersects(g.geom, h.geom)) h ON true
             WHERE g.id = ANY ($1)",
        )
        .bind(&missing)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(
            |(id, households, residents, area_km2, polsby_popper, parts, outside)| {
                let shape = Shape {
                    households,
                    residents,
                    area_km2,
                    polsby_popper,
                    parts,
                    outside_village_m2: outside,
                };
                (id, shape)
            },
        )
        .collect();
        let by_id: HashMap<i64, Shape> = computed.into_iter().collect();
        let new: Vec<((Uuid, i64), Shape)> = rows
            .iter()
            .filter_map(|r| by_id.get(&r.id).map(|s| ((r.outline, r.village_id), *s)))
            .collect();
        cache.keep(stamps, &new);
        shapes.extend(new);
    }
    let mut cells: Vec<CellLoad> = rows
        .into_iter()
        .filter_map(|r| {
            // (A cell deleted between the two reads has no shape: it is gone.)
            let shape = shapes.get(&(r.outline, r.village_id))?;
            Some(CellLoad {
                code: r.code,
                name: r.name,
                village_code: r.village_code,
                village_name: r.village_name,
                households: shape.households,
                residents: shape.residents,
                cases: r.cases,
                weighted_cases: r.weighted_cases,
                area_km2: shape.area_km2,
                workers: r.workers,
                load: 0.0,
                deviation: None,
                polsby_popper: shape.polsby_popper,
                parts: shape.parts,
                outside_village_m2: shape.outside_village_m2,
            })
        })
        .collect();
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
