//! Liveness and readiness.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;
use wangge_domain::health;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process is up and serving.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers within two seconds ([`health::ANSWER_WITHIN`]).
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    health::database_ready(&state.pool)
        .await
        .map_err(ApiError::Unavailable)?;
    Ok(Json(json!({ "status": "ready" })))
}
