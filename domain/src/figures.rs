//! The figures leaders read, inside an area: resolution by unit, category or period (reported,
//! resolved by tier, the share resolved at township level or below, open, overdue, median
//! hours), cases resolved per grid worker, and per unit of a tier. The HTTP layer checks the
//! parameters and writes JSON or CSV.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::auth::Area;
use crate::model::{IncidentTier, open_statuses};

/// A half-open span of instants, either end open.
pub type Span = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// What resolution figures are grouped by: the SQL of the key, from an incident `i` and the
/// moment `{ts}` that places it in a period, and of the key's name given the key `k`. Only
/// [`Grouping::parse`] makes one, from its fixed list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grouping {
    key: &'static str,
    name: &'static str,
}

impl Grouping {
    /// `county`, `township`, `village`, `grid_cell`, `category`, `month`, `week` or `day`.
    pub fn parse(by: &str) -> Option<Self> {
        let (key, name) = match by {
            "county" => (
                "(SELECT code FROM admin_unit WHERE id = i.county_id)",
                "(SELECT name FROM admin_unit WHERE code = k)",
            ),
            "township" => (
                "(SELECT code FROM admin_unit WHERE id = i.township_id)",
                "(SELECT name FROM admin_unit WHERE code = k)",
            ),
            "village" => (
                "(SELECT code FROM admin_unit WHERE id = i.village_id)",
                "(SELECT name FROM admin_unit WHERE code = k)",
            ),
            "grid_cell" => (
                "(SELECT code FROM grid_cell WHERE id = i.grid_cell_id)",
                // Codes repeat across plans: the newest plan's name.
                "(SELECT name FROM grid_cell WHERE code = k ORDER BY plan_id DESC LIMIT 1)",
            ),
            "category" => (
                "i.category",
                "(SELECT name_zh FROM incident_category WHERE code = k)",
            ),
            "month" => ("to_char({ts} AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM')", "k"),
            "week" => (
                "to_char({ts} AT TIME ZONE 'Asia/Shanghai', 'IYYY-\"W\"IW')",
                "k",
            ),
            "day" => (
                "to_char({ts} AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')",
                "k",
            ),
            _ => return None,
        };
        Some(Self { key, name })
    }
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct ResolutionRow {
    /// A unit's or cell's code, a category, or a period; null for cases not yet placed in a
    /// unit of that level.
    pub key: Option<String>,
    pub name: Option<String>,
    pub reported: i64,
    pub resolved: i64,
    pub resolved_village: i64,
    pub resolved_township: i64,
    pub resolved_county: i64,
    pub resolved_city: i64,
    /// Resolved at village or township tier, of all resolved; null when none were.
    pub share_township_or_below: Option<f64>,
    pub open: i64,
    pub overdue: i64,
    pub median_hours_to_resolve: Option<f64>,
    #[serde(skip)]
    pub is_total: bool,
}

/// Resolution figures grouped `by`, the total row apart.
pub async fn resolution(
    pool: &PgPool,
    area: &Area,
    by: Grouping,
    (start, end): Span,
    category: Option<&str>,
) -> Result<(Vec<ResolutionRow>, Option<ResolutionRow>), sqlx::Error> {
    let Grouping { key, name } = by;
    let key_at = |ts: &str| key.replace("{ts}", ts);
    let sql = format!(
        "WITH scoped AS (
             SELECT i.* FROM incident i
             WHERE i.area_code LIKE $1 || '%' AND ($2::int8 IS NULL OR i.grid_cell_id = $2)
               AND ($5::text IS NULL OR i.category = $5)
         ), facts AS (
             SELECT {reported_key} AS k, true AS is_report,
                    i.status IN {open_statuses} AS open,
                    i.status IN {open_statuses}
                        AND coalesce(i.due_at < now(), false) AS overdue,
                    NULL::incident_tier AS tier, NULL::float8 AS hours
             FROM scoped i
             WHERE ($3::timestamptz IS NULL OR i.reported_at >= $3)
               AND ($4::timestamptz IS NULL OR i.reported_at < $4)
             UNION ALL
             SELECT {resolved_key}, false, false, false, i.resolved_tier,
                    extract(epoch FROM i.resolved_at - i.reported_at)::float8 / 3600
             FROM scoped i
             WHERE i.resolved_at IS NOT NULL
               AND ($3::timestamptz IS NULL OR i.resolved_at >= $3)
               AND ($4::timestamptz IS NULL OR i.resolved_at < $4)
         ), grouped AS (
             SELECT k, grouping(k) = 1 AS is_total,
                    count(*) FILTER (WHERE is_report) AS reported,
                    count(*) FILTER (WHERE NOT is_report) AS resolved,
                    count(*) FILTER (WHERE tier = 'village') AS resolved_village,
                    count(*) FILTER (WHERE tier = 'township') AS resolved_township,
                    count(*) FILTER (WHERE tier = 'county') AS resolved_county,
                    count(*) FILTER (WHERE tier = 'city') AS resolved_city,
                    count(*) FILTER (WHERE open) AS open,
                    count(*) FILTER (WHERE overdue) AS overdue,
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) AS median_hours_to_resolve
             FROM facts GROUP BY GROUPING SETS ((k), ())
         )
         SELECT k AS key, CASE WHEN is_total THEN NULL ELSE {name} END AS name,
                reported, resolved, resolved_village, resolved_township, resolved_county,
                resolved_city,
                CASE WHEN resolved > 0
                     THEN (resolved_village + resolved_township)::float8 / resolved END
                    AS share_township_or_below,
                open, overdue, median_hours_to_resolve, is_total
         FROM grouped ORDER BY is_total, k NULLS LAST",
        reported_key = key_at("i.reported_at"),
        resolved_key = key_at("i.resolved_at"),
        open_statuses = open_statuses!(),
    );
    let mut rows: Vec<ResolutionRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&area.prefix)
        .bind(area.grid_cell_id)
        .bind(start)
        .bind(end)
        .bind(category)
        .fetch_all(pool)
        .await?;
    let total = rows
        .iter()
        .position(|r| r.is_total)
        .map(|at| rows.remove(at));
    Ok((rows, total))
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct MediatorRow {
    pub worker_id: i64,
    pub worker_name: String,
    /// The cells the worker serves.
    pub grid_cell_codes: String,
    pub village_name: Option<String>,
    pub resolved: i64,
    pub resolved_at_village: i64,
}

/// Cases resolved per grid worker, most first.
pub async fn mediators(
    pool: &PgPool,
    area: &Area,
    (start, end): Span,
    category: Option<&str>,
) -> Result<Vec<MediatorRow>, sqlx::Error> {
    let rows: Vec<MediatorRow> = sqlx::query_as(
        "SELECT w.id AS worker_id, w.name AS worker_name,
                coalesce((SELECT string_agg(g.code, ' ' ORDER BY g.code) FROM grid_worker_cell wc
                          JOIN grid_cell g ON g.id = wc.grid_cell_id WHERE wc.worker_id = w.id), '')
                    AS grid_cell_codes,
                (SELECT v.name FROM grid_worker_cell wc JOIN grid_cell g ON g.id = wc.grid_cell_id
                 JOIN admin_unit v ON v.id = g.village_id WHERE wc.worker_id = w.id
                 ORDER BY g.code LIMIT 1) AS village_name,
                count(*) AS resolved,
                count(*) FILTER (WHERE i.resolved_tier = 'village') AS resolved_at_village
         FROM incident i JOIN grid_worker w ON w.id = i.assignee_id
         WHERE i.resolved_at IS NOT NULL
           AND i.area_code LIKE $1 || '%' AND ($2::int8 IS NULL OR i.grid_cell_id = $2)
           AND ($3::timestamptz IS NULL OR i.resolved_at >= $3)
           AND ($4::timestamptz IS NULL OR i.resolved_at < $4)
           AND ($5::text IS NULL OR i.category = $5)
         GROUP BY w.id, w.name
         ORDER BY resolved DESC, w.id",
    )
    .bind(&area.prefix)
    .bind(area.grid_cell_id)
    .bind(start)
    .bind(end)
    .bind(category)
    .fetch_all(pool)
    .await?;
    Ok(rows)
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct MediatedRow {
    pub code: String,
    pub name: String,
    /// Cases resolved while this unit's tier held them.
    pub resolved: i64,
}

/// Cases resolved at the tier `level`, per unit of that tier.
pub async fn mediated(
    pool: &PgPool,
    area: &Area,
    level: IncidentTier,
    (start, end): Span,
    category: Option<&str>,
) -> Result<Vec<MediatedRow>, sqlx::Error> {
    let unit = match level {
        IncidentTier::Village => "i.village_id",
        IncidentTier::Township => "i.township_id",
        IncidentTier::County => "i.county_id",
        IncidentTier::City => {
            "(SELECT id FROM admin_unit WHERE level = 'city' ORDER BY id LIMIT 1)"
        }
    };
    let sql = format!(
        "SELECT u.code, u.name, count(*) AS resolved
         FROM incident i JOIN admin_unit u ON u.id = {unit}
         WHERE i.resolved_tier::text = $5
           AND i.area_code LIKE $1 || '%' AND ($2::int8 IS NULL OR i.grid_cell_id = $2)
           AND ($3::timestamptz IS NULL OR i.resolved_at >= $3)
           AND ($4::timestamptz IS NULL OR i.resolved_at < $4)
           AND ($6::text IS NULL OR i.category = $6)
         GROUP BY u.code, u.name ORDER BY u.code"
    );
    let rows: Vec<MediatedRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&area.prefix)
        .bind(area.grid_cell_id)
        .bind(start)
        .bind(end)
        .bind(level.as_str())
        .bind(category)
        .fetch_all(pool)
        .await?;
    Ok(rows)
}
