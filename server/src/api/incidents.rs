//! Incidents as the command centre reads them: `GET /api/v1/incidents` (filtered, paged),
//! `GET /api/v1/incidents/{id}` (details and timeline) and `GET /api/v1/incident-categories`.
//!
//! Reporters are personal data: only dispatchers (who call them back) and grid workers (who
//! visit them) see them, masked unless they ask `?reveal=true`; each such read is audited in
//! the transaction that reads. Other roles get no `reporter` at all.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::api::params::{IncidentFilters, Params};
use crate::api::{AppState, run_to_completion};
use crate::audit::{self, RequestMeta};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::personal::{mask_name, mask_phone};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/incidents", get(list))
        .route("/incidents/{id}", get(one))
        .route("/incident-categories", get(categories))
}

const OPEN: &str = "('reported', 'assigned', 'accepted', 'in_progress')";
const MAX_PAGE: i64 = 200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    /// A status, or `open` for every open one.
    status: Option<String>,
    tier: Option<String>,
    category: Option<String>,
    /// Words in the title or description, or an incident id.
    q: Option<String>,
    /// An administrative unit's code inside the caller's area.
    area: Option<String>,
    overdue: Option<bool>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// One incident in a list: where, what, how far along, and who has it.
#[derive(Debug, Serialize, sqlx::FromRow)]
struct Summary {
    id: i64,
    title: String,
    category: String,
    severity: String,
    status: String,
    tier: String,
    open: bool,
    overdue: bool,
    reported_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    due_at: Option<DateTime<Utc>>,
    lon: f64,
    lat: f64,
    grid_cell_code: Option<String>,
    village_code: Option<String>,
    village_name: Option<String>,
    township_name: Option<String>,
    county_name: Option<String>,
    assignee_id: Option<i64>,
    assignee_name: Option<String>,
}

#[derive(Debug, Serialize)]
struct Page {
    total: i64,
    limit: i64,
    offset: i64,
    items: Vec<Summary>,
}

macro_rules! summary_select {
    () => {
        "SELECT i.id, i.title, i.category, i.severity::text, i.status::text, i.tier::text,
                i.status IN ('reported', 'assigned', 'accepted', 'in_progress') AS open,
                i.status IN ('reported', 'assigned', 'accepted', 'in_progress')
                    AND coalesce(i.due_at < now(), false) AS overdue,
                i.reported_at, i.updated_at, i.due_at,
                ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
                g.code AS grid_cell_code, v.code AS village_code, v.name AS village_name,
                t.name AS township_name, c.name AS county_name,
                i.assignee_id, w.name AS assignee_name
         FROM incident i
         JOIN admin_unit v ON v.id = i.village_id
         LEFT JOIN admin_unit t ON t.id = i.township_id
         LEFT JOIN admin_unit c ON c.id = i.county_id
         LEFT JOIN grid_cell g ON g.id = i.grid_cell_id
         LEFT JOIN grid_worker w ON w.id = i.assignee_id "
    };
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Params(params): Params<ListParams>,
) -> Result<Json<Page>, ApiError> {
    let limit = params.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::InvalidParameter(format!(
            "limit {limit} is outside 1..={MAX_PAGE}"
        )));
    }
    let offset = params.offset.unwrap_or(0);
    if !(0..=100_000).contains(&offset) {
        return Err(ApiError::InvalidParameter(format!(
            "offset {offset} is outside 0..=100000"
        )));
    }
    let wanted = IncidentFilters::parse(params.status, params.category, params.tier)?;
    if let Some(area) = &params.area
        && !(area.len() <= 12 && area.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(ApiError::InvalidParameter(format!(
            "area `{area}` is not a division code"
        )));
    }
    let q = params
        .q
        .map(|q| q.trim().to_owned())
        .filter(|q| !q.is_empty());
    if q.as_ref().is_some_and(|q| q.chars().count() > 100) {
        return Err(ApiError::InvalidParameter(
            "q is longer than 100 characters".into(),
        ));
    }
    let q_id: Option<i64> = q.as_deref().and_then(|q| q.parse().ok());
    // Words are matched literally: LIKE's wildcards in them are escaped.
    let q_pattern = q.map(|q| {
        format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let filters =
        "WHERE v.code LIKE $1 || '%'
           AND ($2::int8 IS NULL OR i.grid_cell_id = $2)
           AND ($3::text[] IS NULL OR i.status::text = ANY ($3))
           AND (NOT $4::bool OR i.status IN ('reported', 'assigned', 'accepted', 'in_progress'))
           AND ($5::text[] IS NULL OR i.tier::text = ANY ($5))
           AND ($6::text[] IS NULL OR i.category = ANY ($6))
           AND ($7::text IS NULL OR i.title LIKE $7 OR i.description LIKE $7 OR i.id = $8)
           AND ($9::text IS NULL OR v.code LIKE $9 || '%')
           AND ($10::bool IS NULL OR (i.status IN ('reported', 'assigned', 'accepted', 'in_progress')
                                      AND coalesce(i.due_at < now(), false)) = $10)
           AND ($11::timestamptz IS NULL OR i.reported_at >= $11)
           AND ($12::timestamptz IS NULL OR i.reported_at < $12) ";
    let count_sql = format!(
        "SELECT count(*) FROM incident i JOIN admin_unit v ON v.id = i.village_id {filters}"
    );
    let items_sql = format!(
        "{} {filters} ORDER BY (i.status IN {OPEN}) DESC, coalesce(i.due_at < now(), false) DESC,
                     i.severity DESC, i.reported_at DESC, i.id DESC
         LIMIT $13 OFFSET $14",
        summary_select!()
    );
    macro_rules! bind_filters {
        ($query:expr) => {
            $query
                .bind(&caller.area.prefix)
                .bind(caller.area.grid_cell_id)
                .bind(&wanted.statuses)
                .bind(wanted.open_only)
                .bind(&wanted.tiers)
                .bind(&wanted.categories)
                .bind(&q_pattern)
                .bind(q_id)
                .bind(&params.area)
                .bind(params.overdue)
                .bind(params.since)
                .bind(params.until)
        };
    }
    let total: i64 = bind_filters!(sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql)))
        .fetch_one(&state.pool)
        .await?;
    let items: Vec<Summary> = bind_filters!(sqlx::query_as(sqlx::AssertSqlSafe(items_sql)))
        .bind(limit)
        .bind(offset)
        .fetch_all(&state.pool)
        .await?;
    Ok(Json(Page {
        total,
        limit,
        offset,
        items,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OneParams {
    #[serde(default)]
    reveal: bool,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
struct TimelineEvent {
    at: DateTime<Utc>,
    kind: String,
    status: String,
    tier: String,
    actor: String,
    note: String,
}

#[derive(Debug, Serialize)]
struct Reporter {
    name: Option<String>,
    phone: Option<String>,
    /// True when shown in full.
    revealed: bool,
}

#[derive(Debug, Serialize)]
struct Details {
    #[serde(flatten)]
    summary: Summary,
    description: String,
    resolved_tier: Option<String>,
    resolved_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reporter: Option<Reporter>,
    timeline: Vec<TimelineEvent>,
}

async fn one(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<String>,
    Params(params): Params<OneParams>,
) -> Result<Json<Details>, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound)?;
    if params.reveal && !caller.role.handles_personal_data() {
        return Err(ApiError::Forbidden);
    }
    let details = run_to_completion(async move {
        let mut tx = state.pool.begin().await?;
        let summary: Summary = sqlx::query_as(sqlx::AssertSqlSafe(concat!(
            summary_select!(),
            "WHERE i.id = $1 AND v.code LIKE $2 || '%'
               AND ($3::int8 IS NULL OR i.grid_cell_id = $3)"
        )))
        .bind(id)
        .bind(&caller.area.prefix)
        .bind(caller.area.grid_cell_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(ApiError::NotFound)?;
        type Rest = (
            String,
            Option<String>,
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
        );
        let (description, resolved_tier, resolved_at, closed_at, name_enc, phone_enc): Rest =
            sqlx::query_as(
                "SELECT description, resolved_tier::text, resolved_at, closed_at,
                        reporter_name_enc, reporter_phone_enc
                 FROM incident WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let timeline: Vec<TimelineEvent> = sqlx::query_as(
            "SELECT at, kind::text, status::text, tier::text, actor, note
             FROM incident_event WHERE incident_id = $1 ORDER BY at, id",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        let reporter = if caller.role.handles_personal_data() {
            let open = |sealed: Option<Vec<u8>>| -> Result<Option<String>, ApiError> {
                sealed
                    .map(|s| state.cipher.open(&s).map_err(ApiError::internal))
                    .transpose()
            };
            let (name, phone) = (open(name_enc)?, open(phone_enc)?);
            let action = if params.reveal {
                "reveal_reporter"
            } else {
                "read_reporter"
            };
            let mut entry = caller.entry(action, "incident", id.to_string(), &meta);
            let area = summary.village_code.clone().unwrap_or_default();
            entry.area_code = &area;
            audit::record(&mut tx, &entry).await?;
            Some(if params.reveal {
                Reporter {
                    name,
                    phone,
                    revealed: true,
                }
            } else {
                Reporter {
                    name: name.as_deref().map(mask_name),
                    phone: phone.as_deref().map(mask_phone),
                    revealed: false,
                }
            })
        } else {
            None
        };
        tx.commit().await?;
        Ok(Details {
            summary,
            description,
            resolved_tier,
            resolved_at,
            closed_at,
            reporter,
            timeline,
        })
    })
    .await?;
    Ok(Json(details))
}

#[derive(Debug, Serialize, sqlx::FromRow)]
struct Category {
    code: String,
    name_zh: String,
    name_en: String,
}

async fn categories(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<Category>>, ApiError> {
    let rows = sqlx::query_as("SELECT code, name_zh, name_en FROM incident_category ORDER BY code")
        .fetch_all(&state.pool)
        .await?;
    Ok(Json(rows))
}
