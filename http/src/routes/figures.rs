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
use chrono::{NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::SignedIn;
use crate::params::Params;
use crate::state::AppState;
use wangge_domain::figures::{self, Grouping, ResolutionRow, Span};
use wangge_domain::model::IncidentTier;

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
    let grouping = Grouping::parse(&by).ok_or_else(|| {
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
    let (rows, total) = figures::resolution(
        &state.pool,
        &caller.area,
        grouping,
        (start, end),
        params.category.as_deref(),
    )
    .await?;
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
    let rows = figures::mediators(
        &state.pool,
        &caller.area,
        (start, end),
        params.category.as_deref(),
    )
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

async fn mediated(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Params(params): Params<Common>,
) -> Result<Response, ApiError> {
    let level = params.level.clone().unwrap_or_else(|| "village".into());
    let tier: IncidentTier = level.parse().map_err(|_| {
        ApiError::InvalidParameter(format!(
            "level `{level}`: expected village, township, county or city"
        ))
    })?;
    if params.by.is_some() {
        return Err(ApiError::InvalidParameter(
            "by is for /stats/resolution".into(),
        ));
    }
    let (start, end) = period(&params)?;
    let csv = wants_csv(&params)?;
    let rows = figures::mediated(
        &state.pool,
        &caller.area,
        tier,
        (start, end),
        params.category.as_deref(),
    )
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
