//! `GET /api/v1/facilities`: facilities as GeoJSON points, by kind and area.

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
use wangge_domain::map::facilities;
use wangge_domain::model::FacilityKind;

pub fn router() -> Router<AppState> {
    Router::new().route("/facilities", get(list))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    bbox: Option<Bbox>,
    #[serde(default)]
    limit: Limit,
    kind: Option<FacilityKind>,
}

/// Facilities of units inside the caller's area.
async fn list(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Params(params): Params<ListParams>,
) -> Result<Response, ApiError> {
    let body = facilities::feature_collection(
        &state.pool,
        &caller.area,
        params.kind,
        params.bbox.map(Bbox::corners),
        params.limit.get(),
    )
    .await?;
    Ok(geojson_response(body))
}
