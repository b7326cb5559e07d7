//! `GET /api/v1/stats/summary`: how many records of every kind the database holds;
//! `GET /api/v1/stats/headline`: the command centre's headline strip. The counts are read by
//! [`wangge_domain::stats`].

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use wangge_domain::stats::{self, Headline, Summary};

use crate::error::ApiError;
use crate::extract::SignedIn;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/stats/summary", get(summary))
        .route("/stats/headline", get(headline))
}

/// Counts inside the caller's area (a grid worker's: their own cell).
async fn summary(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
) -> Result<Json<Summary>, ApiError> {
    Ok(Json(
        stats::summary(&state.pool, &state.summary, &caller.area).await?,
    ))
}

async fn headline(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
) -> Result<Json<Headline>, ApiError> {
    Ok(Json(stats::headline(&state.pool, &caller.area).await?))
}
