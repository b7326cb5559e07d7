//! Counts for the command centre: how many records of every kind an area holds, and the
//! headline strip (open cases by tier, overdue, this month's share resolved at township
//! level or below).

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;
use sqlx::PgPool;

use crate::auth::Area;
use crate::model::open_statuses;

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct AdminUnitCounts {
    pub city: i64,
    pub county: i64,
    pub township: i64,
    pub village: i64,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub admin_units: AdminUnitCounts,
    pub grid_plans: i64,
    /// Cells of the published plan in the caller's area.
    pub grid_cells: i64,
    pub households: i64,
    pub residents: i64,
    pub facilities: i64,
    pub grid_workers: i64,
    pub incidents: i64,
    pub incident_events: i64,
}

/// The counts that only imports and the demo change (units, households, residents,
/// facilities), by area, kept while the four tables' change counts (migrations 0017 and 0018)
/// stay where they were read. The rest is counted on every call.
#[derive(Debug, Default)]
pub struct SummaryCache {
    inner: Mutex<HashMap<AreaKey, (Stamps, Fixed)>>,
}

/// An area's prefix and, for a grid worker, their cell.
type AreaKey = (String, Option<i64>);
/// The change counts of admin_unit, facility, household and resident, in that order.
type Stamps = Vec<i64>;

#[derive(Debug, Clone, sqlx::FromRow)]
struct Fixed {
    city: i64,
    county: i64,
    township: i64,
    village: i64,
    households: i64,
    residents: i64,
    facilities: i64,
}

/// More areas than a city has users: past it, start again.
const CACHE_AREAS: usize = 10_000;

impl SummaryCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AreaKey, (Stamps, Fixed)>> {
        // Poisoned only by a panic mid-insert: the counts themselves are whole.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Counts inside `area` (a grid worker's: their own cell).
pub async fn summary(
    pool: &PgPool,
    cache: &SummaryCache,
    area: &Area,
) -> Result<Summary, sqlx::Error> {
    let prefix = &area.prefix;
    let cell = area.grid_cell_id;
    let key = (prefix.clone(), cell);
    // Read before the counts, so counts are never older than the stamps they are kept under.
    let stamps: Stamps = sqlx::query_scalar(
        "SELECT n FROM wangge_change_count
         WHERE name IN ('admin_unit', 'facility', 'household', 'resident') ORDER BY name",
    )
    .fetch_all(pool)
    .await?;
    let known = cache
        .lock()
        .get(&key)
        .filter(|(at, _)| *at == stamps)
        .map(|(_, fixed)| fixed.clone());
    let fixed = match known {
        Some(fixed) => fixed,
        None => {
            // Records hang off villages; a grid-cell area narrows them to the cell.
            let fixed: Fixed = sqlx::query_as(
                "WITH villages AS MATERIALIZED (
                     SELECT id FROM admin_unit WHERE level = 'village' AND code LIKE $1 || '%'
                 ), households AS NOT MATERIALIZED (
                     SELECT h.id FROM household h
                     WHERE h.village_id IN (SELECT id FROM villages)
                       AND ($2::int8 IS NULL OR EXISTS (
                           SELECT 1 FROM grid_cell g WHERE g.id = $2
                             AND ST_Intersects(g.geom, h.geom)))
                 )
                 SELECT count(*) FILTER (WHERE level = 'city') AS city,
                        count(*) FILTER (WHERE level = 'county') AS county,
                        count(*) FILTER (WHERE level = 'township') AS township,
                        count(*) FILTER (WHERE level = 'village') AS village,
                        (SELECT count(*) FROM households) AS households,
                        (SELECT count(*) FROM resident
                         WHERE household_id IN (SELECT id FROM households)) AS residents,
                        (SELECT count(*) FROM facility f JOIN admin_unit a ON a.id = f.admin_unit_id
                         WHERE a.code LIKE $1 || '%') AS facilities
                 FROM admin_unit WHERE code LIKE $1 || '%'",
            )
            .bind(prefix)
            .bind(cell)
            .fetch_one(pool)
            .await?;
            let mut kept = cache.lock();
            if kept.len() >= CACHE_AREAS {
                kept.clear();
            }
            kept.insert(key, (stamps, fixed.clone()));
            fixed
        }
    };
    let counts: (i64, i64, i64, i64, i64) = sqlx::query_as(
        "WITH cells AS (
             SELECT g.id FROM grid_cell g JOIN grid_plan p ON p.id = g.plan_id
             JOIN admin_unit v ON v.id = g.village_id
             WHERE p.status = 'published' AND v.code LIKE $1 || '%'
               AND ($2::int8 IS NULL OR g.id = $2)
         ), incidents AS NOT MATERIALIZED (
             SELECT i.id FROM incident i
             WHERE i.area_code LIKE $1 || '%'
               AND ($2::int8 IS NULL OR i.grid_cell_id = $2)
         )
         SELECT (SELECT count(*) FROM grid_plan),
                (SELECT count(*) FROM cells),
                (SELECT count(DISTINCT wc.worker_id) FROM grid_worker_cell wc
                  WHERE wc.grid_cell_id IN (SELECT id FROM cells)),
                (SELECT count(*) FROM incidents),
                (SELECT count(*) FROM incident_event WHERE incident_id IN (SELECT id FROM incidents))",
    )
    .bind(prefix)
    .bind(cell)
    .fetch_one(pool)
    .await?;
    let (grid_plans, grid_cells, grid_workers, incidents, incident_events) = counts;
    Ok(Summary {
        admin_units: AdminUnitCounts {
            city: fixed.city,
            county: fixed.county,
            township: fixed.township,
            village: fixed.village,
        },
        grid_plans,
        grid_cells,
        households: fixed.households,
        residents: fixed.residents,
        facilities: fixed.facilities,
        grid_workers,
        incidents,
        incident_events,
    })
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct OpenByTier {
    pub village: i64,
    pub township: i64,
    pub county: i64,
    pub city: i64,
}

/// What the command centre's headline strip shows, inside the caller's area.
#[derive(Debug, Serialize)]
pub struct Headline {
    pub open_by_tier: OpenByTier,
    /// Open past their tier's deadline.
    pub overdue: i64,
    /// The calendar month in China Standard Time, e.g. `2026-11`.
    pub month: String,
    pub resolved_this_month: i64,
    pub resolved_at_township_or_below: i64,
    /// The domain's headline figure ("over 80% resolved at township level or below"); null
    /// when nothing was resolved this month yet.
    pub share_at_township_or_below: Option<f64>,
}

/// The headline strip's figures inside `area`.
pub async fn headline(pool: &PgPool, area: &Area) -> Result<Headline, sqlx::Error> {
    let prefix = &area.prefix;
    let cell = area.grid_cell_id;
    let open_by_tier: OpenByTier = sqlx::query_as(concat!(
        "SELECT count(*) FILTER (WHERE i.tier = 'village') AS village,
                count(*) FILTER (WHERE i.tier = 'township') AS township,
                count(*) FILTER (WHERE i.tier = 'county') AS county,
                count(*) FILTER (WHERE i.tier = 'city') AS city
         FROM incident i
         WHERE i.status IN ",
        open_statuses!(),
        "
           AND i.area_code LIKE $1 || '%' AND ($2::int8 IS NULL OR i.grid_cell_id = $2)"
    ))
    .bind(prefix)
    .bind(cell)
    .fetch_one(pool)
    .await?;
    // The month is China Standard Time's: a case resolved at 01:00 CST on the 1st belongs to
    // the new month, though it is still the previous day in UTC.
    let (overdue, month, resolved, low): (i64, String, i64, i64) = sqlx::query_as(concat!(
        "WITH m AS (SELECT date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai') AS start)
         SELECT
             count(*) FILTER (WHERE i.status IN ",
        open_statuses!(),
        "
                                AND i.due_at < now()),
             to_char((SELECT start FROM m), 'YYYY-MM'),
             count(*) FILTER (WHERE i.resolved_at AT TIME ZONE 'Asia/Shanghai' >= (SELECT start FROM m)),
             count(*) FILTER (WHERE i.resolved_at AT TIME ZONE 'Asia/Shanghai' >= (SELECT start FROM m)
                                AND i.resolved_tier IN ('village', 'township'))
         FROM incident i
         WHERE i.area_code LIKE $1 || '%' AND ($2::int8 IS NULL OR i.grid_cell_id = $2)"
    ))
    .bind(prefix)
    .bind(cell)
    .fetch_one(pool)
    .await?;
    Ok(Headline {
        open_by_tier,
        overdue,
        month,
        resolved_this_month: resolved,
        resolved_at_township_or_below: low,
        share_at_township_or_below: (resolved > 0).then(|| low as f64 / resolved as f64),
    })
}
