//! `GET /api/v1/audit`: the audit trail, for auditors, by user, object, area and time.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::SignedIn;
use crate::params::Params;
use crate::state::AppState;
use wangge_domain::audit::read::{self, AuditRow, Filter};
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
    let filter = Filter {
        user: params.user,
        object_type: params.object_type,
        object_id: params.object_id,
        area: params.area,
        from: params.from,
        to: params.to,
        limit,
    };
    let rows = read::list(&state.pool, &caller.area, &filter).await?;
    Ok(Json(rows))
}
