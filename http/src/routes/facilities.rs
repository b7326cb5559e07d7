//! `GET /api/v1/facilities`: facilities as GeoJSON points, by kind and area.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::SignedIn;
use crate::params::{Bbox, Limit, Params, bbox_binds};
use crate::respond::{feature_collection_sql, geojson_response};
use crate::state::AppState;
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
    let [a, b, c, d] = bbox_binds(params.bbox);
    let body: String = sqlx::query_scalar(feature_collection_sql!(
        "SELECT f.id AS sort_key, json_build_object(
                        'type', 'Feature',
                        'id', f.id,
                        'geometry', ST_AsGeoJSON(f.geom, 6)::json,
                        'properties', json_build_object('id', f.id, 'kind', f.kind, 'name', f.name)
                    ) AS feature
             FROM facility f
             JOIN admin_unit a ON a.id = f.admin_unit_id
             WHERE ($1::facility_kind IS NULL OR f.kind = $1)
               AND ($2::float8 IS NULL OR f.geom && ST_MakeEnvelope($2, $3, $4, $5, 4326))
               AND a.code LIKE $6 || '%'",
        "$7"
    ))
    .bind(params.kind)
    .bind(a)
    .bind(b)
    .bind(c)
    .bind(d)
    .bind(&caller.area.prefix)
    .bind(params.limit.get())
    .fetch_one(&state.pool)
    .await?;
    Ok(geojson_response(body))
}
