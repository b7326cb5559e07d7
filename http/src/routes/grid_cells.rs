//! `GET /api/v1/grid-cells`: the grid cells of the published plan (or of a given plan
//! version) as GeoJSON.

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

/// Cells inside the caller's area (a grid worker's: their own cell).
async fn list(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Params(params): Params<ListParams>,
) -> Result<Response, ApiError> {
    let [a, b, c, d] = bbox_binds(params.bbox);
    let plan_id: Option<i64> = match params.plan {
        Some(version) => sqlx::query_scalar("SELECT id FROM grid_plan WHERE version = $1")
            .bind(version)
            .fetch_optional(&state.pool)
            .await?
            .ok_or(ApiError::NotFound)
            .map(Some)?,
        None => {
            sqlx::query_scalar("SELECT id FROM grid_plan WHERE status = 'published'")
                .fetch_optional(&state.pool)
                .await?
        }
    };
    let body: String = sqlx::query_scalar(feature_collection_sql!(
        "SELECT g.code AS sort_key, json_build_object(
                        'type', 'Feature',
                        'id', g.code,
                        'geometry', ST_AsGeoJSON(g.geom, 6)::json,
                        'properties', json_build_object(
                            'code', g.code, 'name', g.name, 'village_code', v.code,
                            'plan_version', p.version)
                    ) AS feature
             FROM grid_cell g
             JOIN grid_plan p ON p.id = g.plan_id
             JOIN admin_unit v ON v.id = g.village_id
             WHERE g.plan_id = $1
               AND ($2::float8 IS NULL OR g.geom && ST_MakeEnvelope($2, $3, $4, $5, 4326))
               AND v.code LIKE $6 || '%'
               AND ($7::int8 IS NULL OR g.id = $7)",
        "$8"
    ))
    .bind(plan_id)
    .bind(a)
    .bind(b)
    .bind(c)
    .bind(d)
    .bind(&caller.area.prefix)
    .bind(caller.area.grid_cell_id)
    .bind(params.limit.get())
    .fetch_one(&state.pool)
    .await?;
    Ok(geojson_response(body))
}
