//! Incidents: `POST /api/v1/incidents` (a report, idempotent with `Idempotency-Key`),
//! `GET /api/v1/incidents` (filtered, paged), `GET /api/v1/incidents/{id}` (details and
//! timeline) and `POST /api/v1/incidents/{id}/actions` (the lifecycle). The categories and
//! deadlines cases are held to are in [`crate::api::incident_rules`].
//!
//! Reporters are personal data: only dispatchers (who call them back) and grid workers (who
//! visit them) see them, masked unless they ask `?reveal=true`; each such read is audited in
//! the transaction that reads. Other roles get no `reporter` at all.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use crate::api::params::{IncidentFilters, Params, json_from_bytes};
use crate::api::{AppState, run_to_completion};
use crate::audit::{self, RequestMeta};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::geocode::{self, Geocoded};
use crate::incidents::actions;
use crate::incidents::idempotency::{self, Claim, Stored};
use crate::incidents::intake::{self, Channel, NewCase, Report};
use crate::incidents::lifecycle::{Action, LonLat};
use crate::model::IncidentSeverity;
use crate::personal::{Cipher, mask_name, mask_phone};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/incidents", get(list).post(create))
        .route("/incidents/{id}", get(one))
        .route("/incidents/{id}/actions", post(act))
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
    #[serde(default, deserialize_with = "crate::api::params::optional_instant")]
    since: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "crate::api::params::optional_instant")]
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
    /// `device`, `geocoded`, `manual`, or `area` (waiting for a dispatcher to place it).
    location_method: String,
    /// Metres within which the true place lies, when known.
    location_precision_m: Option<f32>,
    leader: Option<String>,
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
                i.assignee_id, w.name AS assignee_name,
                i.location_method::text, i.location_precision_m, i.leader
         FROM incident i
         LEFT JOIN admin_unit v ON v.id = i.village_id
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
        "WHERE i.area_code LIKE $1 || '%'
           AND ($2::int8 IS NULL OR i.grid_cell_id = $2)
           AND ($3::text[] IS NULL OR i.status::text = ANY ($3))
           AND (NOT $4::bool OR i.status IN ('reported', 'assigned', 'accepted', 'in_progress'))
           AND ($5::text[] IS NULL OR i.tier::text = ANY ($5))
           AND ($6::text[] IS NULL OR i.category = ANY ($6))
           AND ($7::text IS NULL OR i.title LIKE $7 OR i.description LIKE $7 OR i.id = $8)
           AND ($9::text IS NULL OR i.area_code LIKE $9 || '%')
           AND ($10::bool IS NULL OR (i.status IN ('reported', 'assigned', 'accepted', 'in_progress')
                                      AND coalesce(i.due_at < now(), false)) = $10)
           AND ($11::timestamptz IS NULL OR i.reported_at >= $11)
           AND ($12::timestamptz IS NULL OR i.reported_at < $12) ";
    let count_sql = format!("SELECT count(*) FROM incident i {filters}");
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
pub(crate) struct Details {
    #[serde(flatten)]
    summary: Summary,
    description: String,
    address: Option<String>,
    media_url: Option<String>,
    /// `api`, `open311`, `demo` or `simulator`.
    channel: String,
    resolved_tier: Option<String>,
    resolved_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    duplicate_of: Option<i64>,
    /// Open cases of the same category close by in space and time, nearest first.
    possible_duplicates: Vec<i64>,
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
        let details = load_details(
            &mut tx,
            &state.cipher,
            &caller,
            &meta,
            id,
            Some(params.reveal),
        )
        .await?;
        tx.commit().await?;
        Ok(details)
    })
    .await?;
    Ok(Json(details))
}

/// One case as `caller` may see it, with its timeline. With `reveal` (false: masked, true:
/// in full) the reporter is included for the roles that handle personal data, and reading
/// them is audited on `conn`: call this inside the transaction that answers.
pub(crate) async fn load_details(
    conn: &mut PgConnection,
    cipher: &Cipher,
    caller: &Caller,
    meta: &RequestMeta,
    id: i64,
    reveal: Option<bool>,
) -> Result<Details, ApiError> {
    let summary: Summary = sqlx::query_as(sqlx::AssertSqlSafe(concat!(
        summary_select!(),
        "WHERE i.id = $1 AND i.area_code LIKE $2 || '%'
           AND ($3::int8 IS NULL OR i.grid_cell_id = $3)"
    )))
    .bind(id)
    .bind(&caller.area.prefix)
    .bind(caller.area.grid_cell_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(ApiError::NotFound)?;
    type Rest = (
        String,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        Option<i64>,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
        String,
    );
    let (
        description,
        address,
        media_url,
        channel,
        resolved_tier,
        resolved_at,
        closed_at,
        duplicate_of,
        name_enc,
        phone_enc,
        area_code,
    ): Rest = sqlx::query_as(
        "SELECT description, address, media_url, channel, resolved_tier::text, resolved_at, closed_at,
                duplicate_of, reporter_name_enc, reporter_phone_enc, area_code
         FROM incident WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let timeline: Vec<TimelineEvent> = sqlx::query_as(
        "SELECT at, kind::text, status::text, tier::text, actor, note
         FROM incident_event WHERE incident_id = $1 ORDER BY at, id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let possible_duplicates = if summary.open {
        intake::possible_duplicates(conn, caller, id).await?
    } else {
        Vec::new()
    };
    let reporter = if let Some(reveal) = reveal
        && caller.role.handles_personal_data()
    {
        let open = |sealed: Option<Vec<u8>>| -> Result<Option<String>, ApiError> {
            sealed
                .map(|s| cipher.open(&s).map_err(ApiError::internal))
                .transpose()
        };
        let (name, phone) = (open(name_enc)?, open(phone_enc)?);
        let action = if reveal {
            "reveal_reporter"
        } else {
            "read_reporter"
        };
        let mut entry = caller.entry(action, "incident", id.to_string(), meta);
        entry.area_code = &area_code;
        audit::record(conn, &entry).await?;
        Some(if reveal {
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
    Ok(Details {
        summary,
        description,
        address,
        media_url,
        channel,
        resolved_tier,
        resolved_at,
        closed_at,
        duplicate_of,
        possible_duplicates,
        reporter,
        timeline,
    })
}

/// A report as the native API takes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewIncident {
    category: String,
    severity: IncidentSeverity,
    title: Option<String>,
    description: String,
    reporter: Option<NewReporter>,
    location: NewLocation,
    /// A link to a photo or video of the matter.
    media_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewReporter {
    name: Option<String>,
    phone: Option<String>,
}

/// A point, an address, or both (the point places the case; the address is kept).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewLocation {
    lon: Option<f64>,
    lat: Option<f64>,
    /// The device's accuracy, metres.
    accuracy_m: Option<f64>,
    address: Option<String>,
}

impl NewIncident {
    fn into_report(self) -> Result<Report, ApiError> {
        let point = match (self.location.lon, self.location.lat) {
            (Some(lon), Some(lat)) => Some(LonLat::new(lon, lat).map_err(ApiError::InvalidField)?),
            (None, None) => None,
            _ => {
                return Err(ApiError::InvalidField("lon and lat go together".into()));
            }
        };
        let (reporter_name, reporter_phone) = match self.reporter {
            Some(r) => (r.name, r.phone),
            None => (None, None),
        };
        let mut report = Report {
            category: self.category,
            severity: self.severity,
            title: self.title,
            description: self.description,
            reporter_name,
            reporter_phone,
            point,
            accuracy_m: self.location.accuracy_m,
            address: self.location.address,
            media_url: self.media_url,
            channel: Channel::Api,
        };
        report.validate()?;
        Ok(report)
    }
}

/// The answer to a report: the case as stored, and how its place was found.
#[derive(Debug, Serialize)]
struct CreatedAnswer {
    #[serde(flatten)]
    incident: Details,
    #[serde(skip_serializing_if = "Option::is_none")]
    geocoding: Option<Geocoded>,
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !intake::may_report(caller.role) {
        return Err(ApiError::Forbidden);
    }
    let key = idempotency::Key::from_request(&headers, "POST", "/api/v1/incidents", &body)?;
    let report = json_from_bytes::<NewIncident>(&headers, &body)?.into_report()?;
    if report.point.is_some() {
        // Located reports are written in groups, a commit for many (see intake_queue).
        return state
            .intake_queue
            .submit(crate::api::intake_queue::Job {
                caller,
                meta,
                report,
                key,
            })
            .await;
    }
    run_to_completion(async move {
        let mut tx = state.pool.begin().await?;
        if let Some(key) = &key
            && let Claim::Replay(answer) = idempotency::claim(&mut tx, caller.user_id, key).await?
        {
            return Ok(answer);
        }
        let (created, geocoding) = intake_report(&mut tx, &state, &caller, &report).await?;
        let incident =
            load_details(&mut tx, &state.cipher, &caller, &meta, created.id, None).await?;
        let answer = Stored {
            status: StatusCode::CREATED,
            content_type: "application/json".into(),
            body: serde_json::to_vec(&CreatedAnswer {
                incident,
                geocoding,
            })
            .map_err(ApiError::internal)?,
            location: Some(format!("/api/v1/incidents/{}", created.id)),
        };
        if let Some(key) = &key {
            idempotency::store(&mut tx, caller.user_id, key, &answer).await?;
        }
        intake::audit_created(&mut tx, &caller, &meta, &created).await?;
        tx.commit().await?;
        Ok(answer.into_response())
    })
    .await
}

/// The answers to reports just written (without their reporters, which the callers just
/// sent), in their order: built from what was written and what the insert returned, so they
/// need no second read; `tests/intake.rs` checks them against a later read.
pub(crate) fn created_answers(
    written: &[(&NewCase<'_>, &intake::Created)],
) -> Result<Vec<Stored>, ApiError> {
    written
        .iter()
        .map(|(case, created)| {
            let summary = Summary {
                id: created.id,
                title: case.title().to_owned(),
                category: case.rule.code.clone(),
                severity: case.report.severity.as_str().to_owned(),
                status: "reported".into(),
                tier: "village".into(),
                open: true,
                overdue: created.due_at.is_some_and(|due| due < created.reported_at),
                reported_at: created.reported_at,
                updated_at: created.reported_at,
                due_at: created.due_at,
                lon: case.placement.point.lon(),
                lat: case.placement.point.lat(),
                grid_cell_code: created.names.grid_cell_code.clone(),
                village_code: created.names.village_code.clone(),
                village_name: created.names.village_name.clone(),
                township_name: created.names.township_name.clone(),
                county_name: created.names.county_name.clone(),
                assignee_id: None,
                assignee_name: None,
                location_method: case.placement.method.as_str().to_owned(),
                location_precision_m: case.placement.precision_m.map(|p| p as f32),
                leader: None,
            };
            let incident = Details {
                summary,
                description: case.report.description.clone(),
                address: case.report.address.clone(),
                media_url: case.report.media_url.clone(),
                channel: case.report.channel.as_str().to_owned(),
                resolved_tier: None,
                resolved_at: None,
                closed_at: None,
                duplicate_of: None,
                possible_duplicates: created.possible_duplicates.clone(),
                reporter: None,
                timeline: vec![TimelineEvent {
                    at: created.reported_at,
                    kind: "reported".into(),
                    status: "reported".into(),
                    tier: "village".into(),
                    actor: intake::actor(case.caller),
                    note: String::new(),
                }],
            };
            Ok(Stored {
                status: StatusCode::CREATED,
                content_type: "application/json".into(),
                body: serde_json::to_vec(&CreatedAnswer {
                    incident,
                    geocoding: None,
                })
                .map_err(ApiError::internal)?,
                location: Some(format!("/api/v1/incidents/{}", created.id)),
            })
        })
        .collect()
}

/// Places, routes and writes a checked report (both intake APIs come through here).
pub(crate) async fn intake_report(
    conn: &mut PgConnection,
    state: &AppState,
    caller: &Caller,
    report: &Report,
) -> Result<(intake::Created, Option<Geocoded>), ApiError> {
    let rule = intake::category(conn, &report.category).await?;
    let (placement, geocoding) = match (report.point, &report.address) {
        (Some(point), _) => {
            let route = intake::route_point(conn, point)
                .await?
                .ok_or_else(|| ApiError::OutsideArea("the place is outside the city".into()))?;
            let placement = intake::Placement {
                point,
                method: crate::model::LocationMethod::Device,
                precision_m: report.accuracy_m,
                route,
            };
            (placement, None)
        }
        (None, Some(address)) => {
            let geocoded = state
                .geocoder
                .geocode(
                    conn,
                    address,
                    (&caller.area.prefix, caller.area.grid_cell_id),
                    5,
                )
                .await?;
            let placement = geocode::placement(conn, &geocoded, caller).await?;
            (placement, Some(geocoded))
        }
        (None, None) => {
            return Err(ApiError::InvalidField(
                "a location is required: a point (lon/lat), an address, or both".into(),
            ));
        }
    };
    intake::check_in_area(caller, &placement)?;
    let created = intake::create(conn, caller, &state.cipher, report, &rule, &placement).await?;
    Ok((created, geocoding))
}

async fn act(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Details>, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound)?;
    let action: Action = json_from_bytes(&headers, &body)?;
    let details = run_to_completion(async move {
        let mut tx = state.pool.begin().await?;
        actions::act(&mut tx, &caller, &meta, id, &action).await?;
        let details = load_details(&mut tx, &state.cipher, &caller, &meta, id, None).await?;
        tx.commit().await?;
        // Before answering, not when the change notice arrives: candidates asked next must
        // see the case as it is now.
        state.dispatch.subjects.forget(&id);
        Ok(details)
    })
    .await?;
    Ok(Json(details))
}
