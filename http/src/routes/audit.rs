//! `GET /api/v1/audit`: the audit trail, for auditors, by user, object, area and time.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::SignedIn;
use crate::params::Params;
use crate::state::AppState;
use wangge_domain::auth::Role;

/// Most rows one request returns.
const MAX_LIMIT: i64 = 1000;

pub fn router() -> Router<AppState> {
    Router::new().route("/audit", get(list))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    user: Option<String>,
    object_type: Option<String>,
    object_id: Option<String>,
    /// An official code: rows in that unit and below.
    area: Option<String>,

    #[serde(default, deserialize_with = "crate::params::optional_instant")]
    from: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "crate::params::optional_instant")]
    to: Option<DateTime<Utc>>,
    limit: Option<i64>,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
struct AuditRow {
    id: i64,
    at: DateTime<Utc>,
    username: String,
    role: String,
    action: String,
    object_type: String,
    object_id: String,
    area_code: String,
    outcome: String,
    request_id: String,
    /// The id the client sent, if any (the server's own is `request_id`).
    client_request_id: Option<String>,
    client_addr: String,
}

/// Rows in the auditor's area, newest first. A city-wide auditor also sees the system's
/// own rows (imports, the demo load, user management from the command line).
async fn list(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Params(params): Params<ListParams>,
) -> Result<Json<Vec<AuditRow>>, ApiError> {
    if caller.role != Role::Auditor {
        return Err(ApiError::Forbidden);
    }
    let limit = params.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::InvalidParameter(format!(
            "limit must be 1 to {MAX_LIMIT}"
        )));
    }
    let city_wide = caller.area.level == "city";
    let rows = sqlx::query_as(
        "SELECT id, at, username, role, action, object_type, object_id, area_code, outcome,
                request_id, client_request_id, client_addr
         FROM audit_log
         WHERE (area_code LIKE $1 || '%' AND area_code <> '' OR ($2 AND area_code = ''))
           AND ($3::text IS NULL OR username = $3)
           AND ($4::text IS NULL OR object_type = $4)
           AND ($5::text IS NULL OR object_id = $5)
           AND ($6::text IS NULL OR area_code LIKE $6 || '%')
           AND ($7::timestamptz IS NULL OR at >= $7)
           AND ($8::timestamptz IS NULL OR at < $8)
         ORDER BY id DESC
         LIMIT $9",
    )
    .bind(&caller.area.prefix)
    .bind(city_wide)
    .bind(params.user)
    .bind(params.object_type)
    .bind(params.object_id)
    .bind(params.area)
    .bind(params.from)
    .bind(params.to)
    .bind(limit)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}
