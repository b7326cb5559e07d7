//! `GET /api/v1/admin-units`: counties, townships and villages as GeoJSON.

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
    let [a, b, c, d] = bbox_binds(params.bbox);
    let body: String = sqlx::query_scalar(feature_collection_sql!(
        "SELECT u.code AS sort_key, json_build_object(
                        'type', 'Feature',
                        'id', u.code,
                        'geometry', ST_AsGeoJSON(u.geom, 6)::json,
                        'properties', json_build_object(
                            'code', u.code, 'name', u.name, 'level', u.level,
                            'parent_code', p.code)
                    ) AS feature
             FROM admin_unit u
             LEFT JOIN admin_unit p ON p.id = u.parent_id
             WHERE u.level = $1
               AND ($2::float8 IS NULL OR u.geom && ST_MakeEnvelope($2, $3, $4, $5, 4326))
               AND u.code LIKE $6 || '%'",
        "$7"
    ))
    .bind(params.level)
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
