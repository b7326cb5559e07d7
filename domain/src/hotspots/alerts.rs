//! Alerts when a grid cell becomes a new or an intensifying hot spot.
//!
//! A scan ([`scan`]) runs the emerging hot spot analysis on every grid cell of the published
//! plan (12 months to now, queen contiguity) and keeps each cell's pattern in
//! `grid_cell_pattern`. A cell whose pattern changes *into* new or intensifying hot spot
//! gets one `hotspot_alert` row, with the reason in words; the row's notice reaches the live
//! map of the operators and dispatchers whose area holds the cell ([`crate::live`]). A cell
//! that stays an intensifying hot spot from scan to scan is not alerted again.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;

use super::{AnalysisError, EmergingRequest, Step, Unit};
use crate::auth::{Area, Role};
use crate::tile_layers::TileFilters;

/// The patterns that raise an alert.
pub const ALERTING: [&str; 2] = ["new-hot-spot", "intensifying-hot-spot"];

/// Who is alerted: those who act on the live map.
pub fn is_alerted(role: Role) -> bool {
    matches!(role, Role::Operator | Role::Dispatcher)
}

/// One alert as the live map and the list show it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Alert {
    pub id: i64,
    pub kind: String,
    pub category: String,
    pub grid_cell_code: String,
    pub grid_cell_name: String,
    pub village_code: String,
    pub village_name: String,
    pub reason: String,
    pub at: DateTime<Utc>,
    /// For scoping; not sent.
    #[serde(skip)]
    pub grid_cell_id: i64,
}

const ALERT_SELECT: &str =
    "SELECT a.id, 'emerging-hotspot' AS kind, a.category, g.code AS grid_cell_code,
            g.name AS grid_cell_name, v.code AS village_code, v.name AS village_name, a.reason,
            a.raised_at AS at, a.grid_cell_id
     FROM hotspot_alert a
     JOIN grid_cell g ON g.id = a.grid_cell_id
     JOIN admin_unit v ON v.id = g.village_id";

/// The alerts with these ids, for the live feed.
pub async fn read(pool: &PgPool, ids: &[i64]) -> Result<Vec<Alert>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ALERT_SELECT} WHERE a.id = ANY ($1) ORDER BY a.id"
    )))
    .bind(ids)
    .fetch_all(pool)
    .await
}

/// The latest alerts inside `area`, newest first, and how many there are.
pub async fn list(
    pool: &PgPool,
    area: &Area,
    limit: i64,
) -> Result<(Vec<Alert>, i64), sqlx::Error> {
    let scope = "WHERE v.code LIKE $1 || '%' AND ($2::int8 IS NULL OR a.grid_cell_id = $2)";
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM hotspot_alert a JOIN grid_cell g ON g.id = a.grid_cell_id
         JOIN admin_unit v ON v.id = g.village_id {scope}"
    )))
    .bind(&area.prefix)
    .bind(area.grid_cell_id)
    .fetch_one(pool)
    .await?;
    let items = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ALERT_SELECT} {scope} ORDER BY a.raised_at DESC, a.id DESC LIMIT $3"
    )))
    .bind(&area.prefix)
    .bind(area.grid_cell_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok((items, total))
}

/// The whole city: every grid cell of the published plan.
fn everywhere() -> Area {
    Area {
        level: "city".into(),
        code: String::new(),
        name: String::new(),
        prefix: String::new(),
        grid_cell_id: None,
    }
}

/// Classifies every grid cell as of `now`, records the patterns, and raises an alert for
/// each cell newly in an alerting pattern. Returns the alerts raised.
pub async fn scan(pool: &PgPool, now: DateTime<Utc>) -> Result<Vec<i64>, AnalysisError> {
    let counted = super::count(
        pool,
        &everywhere(),
        Unit::GridCells,
        &TileFilters::default(),
    )
    .await?;
    if counted.units.len() < 3 {
        return Ok(Vec::new());
    }
    let request = EmergingRequest {
        weights: super::default_weights(Unit::GridCells),
        step: Step::Month,
        steps: 12,
        end: now,
        fdr: true,
    };
    let (counted, answer) = tokio::task::spawn_blocking(move || {
        let answer = super::emerging_geojson(&counted, &request)?;
        Ok::<_, AnalysisError>((counted, answer))
    })
    .await
    .map_err(|e| AnalysisError::Invalid(format!("hotspot scan task: {e}")))??;
    let features = answer["features"].as_array().cloned().unwrap_or_default();
    let mut ids = Vec::with_capacity(features.len());
    let mut categories = Vec::with_capacity(features.len());
    let mut reasons = Vec::with_capacity(features.len());
    for (unit, feature) in counted.units.iter().zip(&features) {
        let Some(id) = unit.id else { continue };
        let p = &feature["properties"];
        let category = p["category"].as_str().unwrap_or("no-pattern").to_owned();
        reasons.push(reason(&category, p));
        ids.push(id);
        categories.push(category);
    }
    let mut tx = pool.begin().await?;
    // One scan at a time: two servers scanning together would both see the old pattern.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('wangge_hotspot_scan'))")
        .execute(&mut *tx)
        .await?;
    let raised: Vec<i64> = sqlx::query_scalar(
        "WITH scanned AS (
             SELECT * FROM unnest($1::int8[], $2::text[], $3::text[]) AS s (cell, category, reason)
         ), changed AS (
             SELECT s.* FROM scanned s
             LEFT JOIN grid_cell_pattern p ON p.grid_cell_id = s.cell
             WHERE s.category = ANY ($4) AND p.category IS DISTINCT FROM s.category
         ), raised AS (
             INSERT INTO hotspot_alert (grid_cell_id, category, reason, raised_at)
             SELECT cell, category, reason, $5 FROM changed
             RETURNING id
         )
         SELECT id FROM raised ORDER BY id",
    )
    .bind(&ids)
    .bind(&categories)
    .bind(&reasons)
    .bind(&ALERTING[..])
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO grid_cell_pattern (grid_cell_id, category, since)
         SELECT cell, category, $3 FROM unnest($1::int8[], $2::text[]) AS s (cell, category)
         ON CONFLICT (grid_cell_id) DO UPDATE SET category = EXCLUDED.category,
             since = CASE WHEN grid_cell_pattern.category = EXCLUDED.category
                          THEN grid_cell_pattern.since ELSE EXCLUDED.since END",
    )
    .bind(&ids)
    .bind(&categories)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(raised)
}

/// Why a cell is alerted, in words: this month's and last month's cases and the statistic.
fn reason(category: &str, p: &Value) -> String {
    let counts: Vec<i64> = p["counts"]
        .as_array()
        .map(|c| c.iter().map(|v| v.as_f64().unwrap_or(0.0) as i64).collect())
        .unwrap_or_default();
    let this = counts.last().copied().unwrap_or(0);
    let before = counts
        .len()
        .checked_sub(2)
        .and_then(|i| counts.get(i))
        .copied()
        .unwrap_or(0);
    let hot_months = p["bins"]
        .as_array()
        .map(|b| b.iter().filter(|v| v.as_i64().unwrap_or(0) > 0).count())
        .unwrap_or(0);
    let trend_z = p["trend_z"].as_f64().unwrap_or(0.0);
    let z = p["z"]
        .as_array()
        .and_then(|z| z.last())
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    // Gi* counts the cell with its neighbours: a quiet cell among busy ones is hot too, so
    // the reason says both.
    match category {
        "new-hot-spot" => format!(
            "新热点：本网格及相邻网格近一个月事件显著聚集（Gi* z = {z:.2}），此前11个月均不显著；本网格近一个月{this}件（前一个月{before}件）"
        ),
        _ => format!(
            "加剧热点：近12个月中{hot_months}个月为显著热点，聚集强度持续上升（趋势 z = {trend_z:.2}，本月 Gi* z = {z:.2}）；本网格近一个月{this}件（前一个月{before}件）"
        ),
    }
}

/// Runs [`scan`] every `every` (the first at once), until the runtime stops. Errors are
/// logged and the next round tries again.
pub fn start(pool: PgPool, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let started = std::time::Instant::now();
            match scan(&pool, Utc::now()).await {
                Ok(raised) if !raised.is_empty() => {
                    tracing::info!(count = raised.len(), "hot spot alerts raised");
                }
                Ok(_) => {
                    tracing::debug!(elapsed = ?started.elapsed(), "hot spot scan: nothing new");
                }
                Err(error) => tracing::warn!(%error, "hot spot scan failed"),
            }
        }
    })
}
