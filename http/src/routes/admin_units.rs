//! `GET /api/v1/admin-units`: counties, townships and villages as GeoJSON.

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
use wangge_domain::map::admin_units;
use wangge_domain::model::AdminLevel;

pub fn router() -> Router<AppState> {
    Router::new().route("/admin-units", get(list))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    level: AdminLevel,
    bbox: Option<Bbox>,
    #[serde(default)]
    limit: Limit,
}

/// Units inside the caller's area (a grid worker's: their village).
async fn list(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Params(params): Params<ListParams>,
) -> Result<Response, ApiError> {
    let body = admin_units::feature_collection(
        &state.pool,
        &caller.area,
        params.level,
        params.bbox.map(Bbox::corners),
        params.limit.get(),
    )
    .await?;
    Ok(geojson_response(body))
}
