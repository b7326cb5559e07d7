//! The rules cases are held to: readable by every signed-in user, changed only by a city-wide
//! administrator, every change audited.
//!
//! * `GET /api/v1/incident-categories`: the categories, with their names and duplicate reach;
//! * `GET /api/v1/incident-deadlines`: hours per severity and tier, the defaults (no
//!   category) and each category's own rules, which take precedence over the defaults;
//! * `PUT /api/v1/incident-deadlines` sets one rule: `{"category", "severity", "tier",
//!   "hours"}`, with `category` null or absent for the default;
//! * `DELETE /api/v1/incident-deadlines?category=&severity=&tier=` drops a category's own
//!   rule, so the default applies to it again;
//! * `PATCH /api/v1/incident-categories/{code}` sets how near in space and time another report
//!   must be to look like a duplicate (`duplicate_radius_m`, `duplicate_window_hours`).
//!
//! The rules and their SQL are the domain's (`wangge_domain::incidents::rules`), with what a
//! changed deadline means for open cases.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{Meta, SignedIn};
use crate::params::{JsonBody, Params};
use crate::respond::run_to_completion;
use crate::state::AppState;
use wangge_domain::auth::{Caller, Role};
use wangge_domain::incidents::rules::{self, Category, Deadline, ReachChange};
use wangge_domain::model::{IncidentSeverity, IncidentTier};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/incident-deadlines",
            get(list_deadlines).put(set_deadline).delete(drop_deadline),
        )
        .route("/incident-categories", get(categories))
        .route("/incident-categories/{code}", patch(set_duplicate_reach))
}

/// Rules bind the whole city, so only an administrator of the whole city changes them.
fn rule_keeper(caller: &Caller) -> Result<(), ApiError> {
    if matches!(caller.role, Role::Admin) && caller.area.level == "city" {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

async fn list_deadlines(
    State(state): State<AppState>,
    SignedIn(_caller): SignedIn,
) -> Result<Json<Vec<Deadline>>, ApiError> {
    Ok(Json(rules::deadlines(&state.pool).await?))
}

async fn set_deadline(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    JsonBody(rule): JsonBody<Deadline>,
) -> Result<Json<Deadline>, ApiError> {
    rule_keeper(&caller)?;
    run_to_completion(async move {
        let saved = rules::set_deadline(&state.pool, &caller, &meta, &rule).await?;
        Ok(Json(saved))
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeadlineKey {
    category: Option<String>,
    severity: IncidentSeverity,
    tier: IncidentTier,
}

async fn drop_deadline(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    Params(key): Params<DeadlineKey>,
) -> Result<StatusCode, ApiError> {
    rule_keeper(&caller)?;
    let Some(category) = key.category else {
        return Err(ApiError::Conflict(
            "a default deadline cannot be dropped (every case needs one); set its hours instead"
                .into(),
        ));
    };
    run_to_completion(async move {
        rules::drop_deadline(
            &state.pool,
            &caller,
            &meta,
            &category,
            key.severity,
            key.tier,
        )
        .await?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

async fn categories(
    State(state): State<AppState>,
    SignedIn(_caller): SignedIn,
) -> Result<Json<Vec<Category>>, ApiError> {
    Ok(Json(rules::categories(&state.pool).await?))
}

async fn set_duplicate_reach(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    Path(code): Path<String>,
    JsonBody(change): JsonBody<ReachChange>,
) -> Result<Json<Category>, ApiError> {
    rule_keeper(&caller)?;
    run_to_completion(async move {
        let saved = rules::set_duplicate_reach(&state.pool, &caller, &meta, &code, &change).await?;
        Ok(Json(saved))
    })
    .await
}
