//! A draft against the published plan, inside the caller's area: which cells change, who
//! moves (households, workers), and the figures before and after, the last 12 months of
//! cases counted into the draft's cells as if it had been the grid all along.

use serde::Serialize;
use sqlx::PgConnection;

use super::workload::{self, Summary};

/// Outlines no vertex of which is further than this (degrees, about 1 mm) from the other's
/// are the same place.
pub const SAME_PLACE_DEG: f64 = 1e-8;

/// How the draft differs.
#[derive(Debug, Serialize)]
pub struct Diff {
    pub draft_version: i32,
    pub published_version: i32,
    /// Codes only in the draft, only in the published plan, in both with another outline,
    /// in both with another name.
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub reshaped: Vec<String>,
    pub renamed: Vec<String>,
    /// Households whose cell (by code) would change, and the largest flows.
    pub households_moving: i64,
    pub flows: Vec<Flow>,
    /// Workers whose cell would be gone, with the draft cell they would be moved to.
    pub workers_moving: Vec<WorkerMove>,
    pub before: Summary,
    pub after: Summary,
    /// Each changed cell's load and deviation before and after.
    pub cells: Vec<CellChange>,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Flow {
    pub from: Option<String>,
    pub to: Option<String>,
    pub households: i64,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct WorkerMove {
    pub worker_id: i64,
    pub from: String,
    pub to: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CellChange {
    pub code: String,
    pub change: &'static str,
    pub load_before: Option<f64>,
    pub load_after: Option<f64>,
    pub deviation_before: Option<f64>,
    pub deviation_after: Option<f64>,
    pub cases_before: Option<i64>,
    pub cases_after: Option<i64>,
}

/// The codes that differ between two plans inside the area: added, removed, reshaped,
/// renamed. Reshaped means another outline: a neighbour that only took a vertex on its
/// edge where a split's cut meets it, its vertices nudged by GEOS's rounding by less than
/// [`SAME_PLACE_DEG`], covers the same ground and is not counted.
pub async fn changed_codes(
    conn: &mut PgConnection,
    draft_id: i64,
    published_id: i64,
    prefix: &str,
) -> Result<[Vec<String>; 4], sqlx::Error> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "WITH d AS (SELECT g.* FROM grid_cell g JOIN admin_unit v ON v.id = g.village_id
                    WHERE g.plan_id = $1 AND v.code LIKE $3 || '%'),
              p AS (SELECT g.* FROM grid_cell g JOIN admin_unit v ON v.id = g.village_id
                    WHERE g.plan_id = $2 AND v.code LIKE $3 || '%')
         SELECT CASE WHEN p.id IS NULL THEN 'added'
                     WHEN d.id IS NULL THEN 'removed'
                     WHEN (ST_AsEWKB(d.geom) <> ST_AsEWKB(p.geom)
                           AND ST_HausdorffDistance(d.geom, p.geom) > $4)
                          OR d.village_id <> p.village_id THEN 'reshaped'
                     ELSE 'renamed' END,
                coalesce(d.code, p.code)
         FROM d FULL JOIN p ON p.code = d.code
         WHERE p.id IS NULL OR d.id IS NULL
            OR (ST_AsEWKB(d.geom) <> ST_AsEWKB(p.geom)
                AND ST_HausdorffDistance(d.geom, p.geom) > $4)
            OR d.village_id <> p.village_id OR d.name <> p.name
         ORDER BY 2",
    )
    .bind(draft_id)
    .bind(published_id)
    .bind(prefix)
    .bind(SAME_PLACE_DEG)
    .fetch_all(conn)
    .await?;
    let mut out: [Vec<String>; 4] = Default::default();
    for (change, code) in rows {
        let slot = match change.as_str() {
            "added" => 0,
            "removed" => 1,
            "reshaped" => 2,
            _ => 3,
        };
        out[slot].push(code);
    }
    Ok(out)
}

/// The diff of the draft `draft_id` (version `draft_version`) against the published plan.
pub async fn diff(
    conn: &mut PgConnection,
    cache: &workload::WorkloadCache,
    draft_id: i64,
    draft_version: i32,
    prefix: &str,
    case_weight: f64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<Diff>, sqlx::Error> {
    let published: Option<(i64, i32)> =
        sqlx::query_as("SELECT id, version FROM grid_plan WHERE status = 'published'")
            .fetch_optional(&mut *conn)
            .await?;
    let Some((published_id, published_version)) = published else {
        return Ok(None);
    };
    let [added, removed, reshaped, renamed] =
        changed_codes(conn, draft_id, published_id, prefix).await?;
    let moved: Vec<String> = added
        .iter()
        .chain(&removed)
        .chain(&reshaped)
        .cloned()
        .collect();
    // Households in any changed cell of either plan, each in its cell of both.
    let flows: Vec<Flow> = sqlx::query_as(
        "WITH h AS (
             SELECT DISTINCT h.id, h.geom FROM household h
             JOIN grid_cell g ON g.plan_id IN ($1, $2) AND g.code = ANY ($3)
                             AND ST_Intersects(g.geom, h.geom)
         ), placed AS MATERIALIZED (
             -- (Materialised, so each household's two look-ups run once, not again for the
             -- filter: a third less time on a city's diff.)
             SELECT h.id,
                    (SELECT g.code FROM grid_cell g WHERE g.plan_id = $2
                       AND ST_Intersects(g.geom, h.geom) ORDER BY g.id LIMIT 1) AS before,
                    (SELECT g.code FROM grid_cell g WHERE g.plan_id = $1
                       AND ST_Intersects(g.geom, h.geom) ORDER BY g.id LIMIT 1) AS after
             FROM h
         )
         SELECT before AS from, after AS to, count(*) AS households
         FROM placed WHERE before IS DISTINCT FROM after
         GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
    )
    .bind(draft_id)
    .bind(published_id)
    .bind(&moved)
    .fetch_all(&mut *conn)
    .await?;
    let households_moving = flows.iter().map(|f| f.households).sum();
    let workers_moving: Vec<WorkerMove> = sqlx::query_as(
        "SELECT wc.worker_id, p.code AS from,
                (SELECT d.code FROM grid_cell d WHERE d.plan_id = $1
                   AND ST_Intersects(d.geom, p.geom)
                 ORDER BY ST_Area(ST_Intersection(d.geom, p.geom)) DESC, d.code LIMIT 1) AS to
         FROM grid_cell p JOIN grid_worker_cell wc ON wc.grid_cell_id = p.id
         WHERE p.plan_id = $2 AND p.code = ANY ($3)
           AND NOT EXISTS (SELECT 1 FROM grid_cell d WHERE d.plan_id = $1 AND d.code = p.code)
         ORDER BY p.code, wc.worker_id",
    )
    .bind(draft_id)
    .bind(published_id)
    .bind(&removed)
    .fetch_all(&mut *conn)
    .await?;
    let before_cells = workload::cells(conn, cache, published_id, prefix, case_weight, now).await?;
    let after_cells = workload::cells(conn, cache, draft_id, prefix, case_weight, now).await?;
    let before = workload::summary(&before_cells, case_weight);
    let after = workload::summary(&after_cells, case_weight);
    let mut cells = Vec::new();
    for (codes, change) in [
        (&added, "added"),
        (&removed, "removed"),
        (&reshaped, "reshaped"),
        (&renamed, "renamed"),
    ] {
        for code in codes {
            let b = before_cells.iter().find(|c| &c.code == code);
            let a = after_cells.iter().find(|c| &c.code == code);
            cells.push(CellChange {
                code: code.clone(),
                change,
                load_before: b.map(|c| c.load),
                load_after: a.map(|c| c.load),
                deviation_before: b.and_then(|c| c.deviation),
                deviation_after: a.and_then(|c| c.deviation),
                cases_before: b.map(|c| c.cases),
                cases_after: a.map(|c| c.cases),
            });
        }
    }
    Ok(Some(Diff {
        draft_version,
        published_version,
        added,
        removed,
        reshaped,
        renamed,
        households_moving,
        flows,
        workers_moving,
        before,
        after,
        cells,
    }))
}
