//! Grid workers (`grid_worker`) as GeoJSON, as the map shows them: last position, status,
//! staleness, caseload and capacity, skills, cells and cover (workers without a position
//! have no geometry). Their phones are not included. Changing a worker is dispatch's
//! (`dispatch::workers`).

use std::time::Duration;

use sqlx::PgPool;

use crate::auth::Area;
use crate::db::geojson::feature_collection_sql;

/// The workers with a cell inside `area` (a grid worker's: their own cell), stale when not
/// seen for `stale_after`, at most `limit` of them: a FeatureCollection's text.
pub async fn feature_collection(
    pool: &PgPool,
    area: &Area,
    stale_after: Duration,
    limit: i64,
) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(feature_collection_sql!(
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
    .bind(&area.prefix)
    .bind(area.grid_cell_id)
    .bind(stale_after.as_secs_f64())
    .bind(limit)
    .fetch_one(pool)
    .await
}
