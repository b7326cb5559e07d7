//! `GET /api/v1/workers`: grid workers inside the caller's area, with their last position,
//! status, staleness, caseload and capacity, skills and cover, as GeoJSON (workers without a position have no geometry).
//! Workers' phones are not included.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::SignedIn;
use crate::params::{Limit, Params};
use crate::respond::geojson_response;
use crate::state::AppState;
use wangge_domain::map::workers;

pub fn router() -> Router<AppState> {
    Router::new().route("/workers", get(list))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    #[serde(default)]
    limit: Limit,
}

async fn list(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Params(params): Params<ListParams>,
) -> Result<Response, ApiError> {
    let body = workers::feature_collection(
        &state.pool,
        &caller.area,
        state.config.worker_stale_after,
        params.limit.get(),
    )
    .await?;
    Ok(geojson_response(body))
}
