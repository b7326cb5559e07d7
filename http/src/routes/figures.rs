//! The figures leaders read, inside the caller's area, as JSON or CSV (`format=csv`, UTF-8
//! with a byte-order mark so that spreadsheet programs read the Chinese right):
//!
//! * `GET /api/v1/stats/resolution?by=…` — reported, resolved, resolved by tier and the share
//!   resolved at township level or below (the domain's "over 80%"), open and overdue, and the
//!   median hours to resolve; by county, township, village, grid cell, category, month, week
//!   or day, with a total;
//! * `GET /api/v1/stats/mediators` — cases resolved per grid worker (一案一补);
//! * `GET /api/v1/stats/mediated?level=…` — cases resolved at a tier, per unit of that tier.
//!
//! Periods are China Standard Time calendar days, `from` and `to` both included. A case counts
//! as reported in the period of its report and as resolved in the period of its resolution;
//! open and overdue are as of now, among the cases reported in the period.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::SignedIn;
use crate::params::Params;
use crate::state::AppState;
use wangge_domain::model::open_statuses;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/stats/resolution", get(resolution))
        .route("/stats/mediators", get(mediators))
        .route("/stats/mediated", get(mediated))
}

/// `from`/`to` as CST days, a category, and the answer's format.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Common {
    by: Option<String>,
    level: Option<String>,
    #[serde(default, deserialize_with = "crate::params::optional_day")]
    from: Option<NaiveDate>,
    #[serde(default, deserialize_with = "crate::params::optional_day")]
    to: Option<NaiveDate>,
    category: Option<String>,
    format: Option<String>,
}

/// A half-open span of instants, either end open.
type Span = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The period as UTC instants: [start of `from`, start of the day after `to`).
fn period(params: &Common) -> Result<Span, ApiError> {
    if let (Some(from), Some(to)) = (params.from, params.to)
        && to < from
    {
        return Err(ApiError::InvalidParameter("`to` is before `from`".into()));
    }
    let cst = chrono::FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset");
    let start_of = |day: NaiveDate| {
        cst.from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight exists"))
            .single()
            .map(|t| t.with_timezone(&Utc))
    };
    Ok((
        params.from.and_then(start_of),
        params.to.and_then(|d| d.succ_opt()).and_then(start_of),
    ))
}

fn wants_csv(params: &Common) -> Result<bool, ApiError> {
    match params.format.as_deref() {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(other) => Err(ApiError::InvalidParameter(format!(
            "format `{other}`: expected json or csv"
        ))),
    }
}

/// A table as CSV, with a byte-order mark for spreadsheet programs.
fn csv_response(name: &str, header: &[&str], rows: Vec<Vec<String>>) -> Result<Response, ApiError> {
    let mut writer = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    writer.write_record(header).map_err(ApiError::internal)?;
    // A cell starting with = + - @ is a formula to a spreadsheet: names are shown as text.
    let as_text = |cell: &String| {
        if cell.starts_with(['=', '+', '-', '@']) {
            format!("'{cell}")
        } else {
            cell.clone()
        }
    };
    for row in rows {
        writer
            .write_record(row.iter().map(as_text))
            .map_err(ApiError::internal)?;
    }
    let body = writer.into_inner().map_err(ApiError::internal)?;
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.csv\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

fn number(value: Option<f64>) -> String {
    value.map(|v| format!("{v:.4}")).unwrap_or_default()
}

/// The SQL of a grouping key, from an incident `i` and the moment `ts` that places it in a
/// period. Chosen from this fixed list only.
fn group_key(by: &str) -> Option<(&'static str, &'static str)> {
    // (key expression, name expression given the key `k`)
    Some(match by {
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
    })
}

#[derive(Debug, Serialize, sqlx::FromRow)]
struct ResolutionRow {
    /// A unit's or cell's code, a category, or a period; null for cases not yet placed in a
    /// unit of that level.
    key: Option<String>,
    name: Option<String>,
    reported: i64,
    resolved: i64,
    resolved_village: i64,
    resolved_township: i64,
    resolved_county: i64,
    resolved_city: i64,
    /// Resolved at village or township tier, of all resolved; null when none were.
    share_township_or_below: Option<f64>,
    open: i64,
    overdue: i64,
    median_hours_to_resolve: Option<f64>,
    #[serde(skip)]
    is_total: bool,
}

#[derive(Debug, Serialize)]
struct Resolution {
    by: String,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    rows: Vec<ResolutionRow>,
    total: Option<ResolutionRow>,
}

async fn resolution(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Params(params): Params<Common>,
) -> Result<Response, ApiError> {
    let by = params.by.clone().unwrap_or_else(|| "county".into());
    let (key, name) = group_key(&by).ok_or_else(|| {
        ApiError::InvalidParameter(format!(
            "by `{by}`: expected county, township, village, grid_cell, category, month, week or day"
        ))
    })?;
    if params.level.is_some() {
        return Err(ApiError::InvalidParameter(
            "level is for /stats/mediated".into(),
        ));
    }
    let (start, end) = period(&params)?;
    let csv = wants_csv(&params)?;
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
        .bind(&caller.area.prefix)
        .bind(caller.area.grid_cell_id)
        .bind(start)
        .bind(end)
        .bind(&params.category)
        .fetch_all(&state.pool)
        .await?;
    let total = rows
        .iter()
        .position(|r| r.is_total)
        .map(|at| rows.remove(at));
    if csv {
        let header = [
            "key",
            "name",
            "reported",
            "resolved",
            "resolved_village",
            "resolved_township",
            "resolved_county",
            "resolved_city",
            "share_township_or_below",
            "open",
            "overdue",
            "median_hours_to_resolve",
        ];
        let line = |r: &ResolutionRow, key: String, name: String| {
            vec![
                key,
                name,
                r.reported.to_string(),
                r.resolved.to_string(),
                r.resolved_village.to_string(),
                r.resolved_township.to_string(),
                r.resolved_county.to_string(),
                r.resolved_city.to_string(),
                number(r.share_township_or_below),
                r.open.to_string(),
                r.overdue.to_string(),
                number(r.median_hours_to_resolve),
            ]
        };
        let mut lines: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                line(
                    r,
                    r.key.clone().unwrap_or_default(),
                    r.name.clone().unwrap_or_else(|| "（未定位）".into()),
                )
            })
            .collect();
        if let Some(total) = &total {
            lines.push(line(total, "total".into(), "合计".into()));
        }
        return csv_response(&format!("resolution-by-{by}"), &header, lines);
    }
    Ok(Json(Resolution {
        by,
        from: params.from,
        to: params.to,
        rows,
        total,
    })
    .into_response())
}

#[derive(Debug, Serialize, sqlx::FromRow)]
struct MediatorRow {
    worker_id: i64,
    worker_name: String,
    /// The cells the worker serves.
    grid_cell_codes: String,
    village_name: Option<String>,
    resolved: i64,
    resolved_at_village: i64,
}

async fn mediators(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Params(params): Params<Common>,
) -> Result<Response, ApiError> {
    if params.by.is_some() || params.level.is_some() {
        return Err(ApiError::InvalidParameter(
            "mediators take from, to, category and format".into(),
        ));
    }
    let (start, end) = period(&params)?;
    let csv = wants_csv(&params)?;
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
    .bind(&caller.area.prefix)
    .bind(caller.area.grid_cell_id)
    .bind(start)
    .bind(end)
    .bind(&params.category)
    .fetch_all(&state.pool)
    .await?;
    if csv {
        let lines = rows
            .iter()
            .map(|r| {
                vec![
                    r.worker_id.to_string(),
                    r.worker_name.clone(),
                    r.grid_cell_codes.clone(),
                    r.village_name.clone().unwrap_or_default(),
                    r.resolved.to_string(),
                    r.resolved_at_village.to_string(),
                ]
            })
            .collect();
        return csv_response(
            "cases-per-mediator",
            &[
                "worker_id",
                "worker_name",
                "grid_cell_codes",
                "village_name",
                "resolved",
                "resolved_at_village",
            ],
            lines,
        );
    }
    Ok(Json(rows).into_response())
}

#[derive(Debug, Serialize, sqlx::FromRow)]
struct MediatedRow {
    code: String,
    name: String,
    /// Cases resolved while this unit's tier held them.
    resolved: i64,
}

async fn mediated(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Params(params): Params<Common>,
) -> Result<Response, ApiError> {
    let level = params.level.clone().unwrap_or_else(|| "village".into());
    let unit = match level.as_str() {
        "village" => "i.village_id",
        "township" => "i.township_id",
        "county" => "i.county_id",
        "city" => "(SELECT id FROM admin_unit WHERE level = 'city' ORDER BY id LIMIT 1)",
        other => {
            return Err(ApiError::InvalidParameter(format!(
                "level `{other}`: expected village, township, county or city"
            )));
        }
    };
    if params.by.is_some() {
        return Err(ApiError::InvalidParameter(
            "by is for /stats/resolution".into(),
        ));
    }
    let (start, end) = period(&params)?;
    let csv = wants_csv(&params)?;
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
        .bind(&caller.area.prefix)
        .bind(caller.area.grid_cell_id)
        .bind(start)
        .bind(end)
        .bind(&level)
        .bind(&params.category)
        .fetch_all(&state.pool)
        .await?;
    if csv {
        let lines = rows
            .iter()
            .map(|r| vec![r.code.clone(), r.name.clone(), r.resolved.to_string()])
            .collect();
        return csv_response(
            &format!("cases-mediated-by-{level}"),
            &["code", "name", "resolved"],
            lines,
        );
    }
    Ok(Json(rows).into_response())
}
