//! Incidents: `POST /api/v1/incidents` (a report, idempotent with `Idempotency-Key`),
//! `GET /api/v1/incidents` (filtered, paged), `GET /api/v1/incidents/{id}` (details and
//! timeline) and `POST /api/v1/incidents/{id}/actions` (the lifecycle). The categories and
//! deadlines cases are held to are in [`crate::routes::incident_rules`].
//!
//! Reporters are personal data: only dispatchers (who call them back) and grid workers (who
//! visit them) see them, masked unless they ask `?reveal=true`; each such read is audited in
//! the transaction that reads. Other roles get no `reporter` at all.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use wangge_analysis::sphere::LonLat;
use wangge_domain::incidents::actions;
use wangge_domain::incidents::answer::{CreatedAnswer, Details, Page};
use wangge_domain::incidents::filters::IncidentFilters;
use wangge_domain::incidents::idempotency::{self, Claim, Stored};
use wangge_domain::incidents::intake::{self, Channel, Report};
use wangge_domain::incidents::lifecycle::Action;
use wangge_domain::incidents::queue::Job;
use wangge_domain::incidents::read::{self, ListQuery, Nearby, load_details};
use wangge_domain::model::IncidentSeverity;

use crate::error::ApiError;
use crate::extract::{Meta, SignedIn};
use crate::params::{Params, json_from_bytes};
use crate::respond::{run_to_completion, stored_response};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/incidents", get(list).post(create))
        .route("/incidents/possible-duplicates", get(possible_duplicates))
        .route("/incidents/{id}", get(one))
        .route("/incidents/{id}/actions", post(act))
}

const MAX_PAGE: i64 = 200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    /// A status, or `open` for every open one.
    status: Option<String>,
    tier: Option<String>,
    category: Option<String>,
    /// Comma-separated severities.
    severity: Option<String>,
    /// Words in the title or description, or an incident id.
    q: Option<String>,
    /// An administrative unit's code inside the caller's area.
    area: Option<String>,
    overdue: Option<bool>,
    #[serde(default, deserialize_with = "crate::params::optional_instant")]
    since: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "crate::params::optional_instant")]
    until: Option<DateTime<Utc>>,
    limit: Option<i64>,
    offset: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NearbyParams {
    category: String,
    lon: f64,
    lat: f64,
}

/// `GET /api/v1/incidents/possible-duplicates?category=&lon=&lat=`: what a report about to be
/// sent would be told are its possible duplicates, for the report form to show first.
async fn possible_duplicates(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Params(params): Params<NearbyParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let point = LonLat::new(params.lon, params.lat)
        .map_err(|e| ApiError::InvalidParameter(e.to_string()))?;
    let mut conn = state.pool.acquire().await?;
    let items: Vec<Nearby> =
        read::possible_duplicates_near(&mut conn, &caller, &params.category, point).await?;
    Ok(Json(serde_json::json!({ "items": items })))
}

async fn list(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
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
    let filters =
        IncidentFilters::parse(params.status, params.category, params.tier, params.severity)
            .map_err(ApiError::InvalidParameter)?;
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
    let page = read::list(
        &state.pool,
        &caller,
        &ListQuery {
            filters,
            q,
            area: params.area,
            overdue: params.overdue,
            since: params.since,
            until: params.until,
            limit,
            offset,
        },
    )
    .await?;
    Ok(Json(page))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OneParams {
    #[serde(default)]
    reveal: bool,
}

async fn one(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
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
            (Some(lon), Some(lat)) => {
                Some(LonLat::new(lon, lat).map_err(|e| ApiError::InvalidField(e.to_string()))?)
            }
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

async fn create(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !intake::may_report(caller.role) {
        return Err(ApiError::Forbidden);
    }
    let key = idempotency::Key::from_request(
        headers.get(idempotency::HEADER).map(|v| v.as_bytes()),
        "POST",
        "/api/v1/incidents",
        &body,
    )?;
    let report = json_from_bytes::<NewIncident>(&headers, &body)?.into_report()?;
    if report.point.is_some() {
        // Located reports are written in groups, a commit for many (`incidents::queue`).
        let answer = state
            .intake_queue
            .submit(Job {
                caller,
                meta,
                report,
                key,
            })
            .await?;
        return Ok(stored_response(answer));
    }
    run_to_completion(async move {
        let mut tx = state.pool.begin().await?;
        if let Some(key) = &key
            && let Claim::Replay(answer) = idempotency::claim(&mut tx, caller.user_id, key).await?
        {
            return Ok(stored_response(answer));
        }
        let (created, geocoding) =
            read::intake_report(&mut tx, &state.geocoder, &state.cipher, &caller, &report).await?;
        let incident =
            load_details(&mut tx, &state.cipher, &caller, &meta, created.id, None).await?;
        let body = serde_json::to_vec(&CreatedAnswer {
            incident,
            geocoding,
        })
        .map_err(ApiError::internal)?;
        let answer = Stored::created(body, read::location(created.id));
        if let Some(key) = &key {
            idempotency::store(&mut tx, caller.user_id, key, &answer).await?;
        }
        intake::audit_created(&mut tx, &caller, &meta, &created).await?;
        tx.commit().await?;
        Ok(stored_response(answer))
    })
    .await
}

async fn act(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
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
