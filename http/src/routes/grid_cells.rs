//! `GET /api/v1/grid-cells`: the grid cells of the published plan (or of a given plan
//! version) as GeoJSON.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::SignedIn;
use crate::params::{Bbox, Limit, Params};
use crate::respond::geojson_response;
use crate::state::AppState;
use wangge_domain::map::grid_cells;
use wangge_domain::plans;

pub fn router() -> Router<AppState> {
    Router::new().route("/grid-cells", get(list))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    bbox: Option<Bbox>,
    #[serde(default)]
    limit: Limit,
    /// A plan version; the published plan when absent.
    plan: Option<i32>,
}

/// Cells inside the caller's area (a grid worker's: their own cell); a draft plan's only for
/// the planners who see it.
async fn list(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Params(params): Params<ListParams>,
) -> Result<Response, ApiError> {
    // A draft is its planners' alone: to anyone else it does not exist.
    if let Some(version) = params.plan
        && plans::readable_plan_id(&state.pool, &caller, version)
            .await?
            .is_none()
    {
        return Err(ApiError::NotFound);
    }
    let body = grid_cells::feature_collection(
        &state.pool,
        &caller.area,
        params.plan,
        params.bbox.map(Bbox::corners),
        params.limit.get(),
    )
    .await?
    .ok_or(ApiError::NotFound)?;
    Ok(geojson_response(body))
}
