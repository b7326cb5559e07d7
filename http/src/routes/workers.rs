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
use crate::respond::{feature_collection_sql, geojson_response};
use crate::state::AppState;

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
    let body: String = sqlx::query_scalar(feature_collection_sql!(
        "SELECT w.id AS sort_key, json_build_object(
                    'type', 'Feature',
                    'id', w.id,
                    'geometry', ST_AsGeoJSON(w.last_position, 6)::json,
                    'properties', json_build_object(
                        'id', w.id, 'name', w.name, 'status', w.status,
                        'stale', coalesce(w.last_seen_at < now() - make_interval(secs => $3), true),
                        'last_seen_at', w.last_seen_at,
                        'cell_codes', (SELECT array_agg(g.code ORDER BY g.code)
                                       FROM grid_worker_cell wc JOIN grid_cell g ON g.id = wc.grid_cell_id
                                       WHERE wc.worker_id = w.id),
                        'caseload', w.caseload, 'capacity', w.capacity, 'skills', w.skills,
                        'cover_worker_id', w.cover_worker_id)
                ) AS feature
         FROM grid_worker w
         WHERE EXISTS (
             SELECT 1 FROM grid_worker_cell wc
             JOIN grid_cell g ON g.id = wc.grid_cell_id
             JOIN admin_unit v ON v.id = g.village_id
             WHERE wc.worker_id = w.id AND v.code LIKE $1 || '%'
               AND ($2::int8 IS NULL OR g.id = $2))",
        "$4"
    ))
    .bind(&caller.area.prefix)
    .bind(caller.area.grid_cell_id)
    .bind(state.config.worker_stale_after.as_secs_f64())
    .bind(params.limit.get())
    .fetch_one(&state.pool)
    .await?;
    Ok(geojson_response(body))
}
