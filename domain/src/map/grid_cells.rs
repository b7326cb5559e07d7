//! Grid cells (`grid_cell`) of the published plan, or of a given plan version, as GeoJSON.

use sqlx::PgPool;

use crate::auth::Area;
use crate::db::geojson::{bbox_binds, feature_collection_sql};

/// The cells of plan `version` (the published plan's when `None`) inside `area` (a grid
/// worker's: their own cell), within `bbox` when given, at most `limit` of them: a
/// FeatureCollection's text. `None` when there is no plan `version`.
pub async fn feature_collection(
    pool: &PgPool,
    area: &Area,
    version: Option<i32>,
    bbox: Option<[f64; 4]>,
    limit: i64,
) -> Result<Option<String>, sqlx::Error> {
    let [a, b, c, d] = bbox_binds(bbox);
    let plan_id: Option<i64> = match version {
        Some(version) => {
            let found = sqlx::query_scalar("SELECT id FROM grid_plan WHERE version = $1")
                .bind(version)
                .fetch_optional(pool)
                .await?;
            match found {
                Some(id) => Some(id),
                None => return Ok(None),
            }
        }
        None => {
            sqlx::query_scalar("SELECT id FROM grid_plan WHERE status = 'published'")
                .fetch_optional(pool)
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
    .bind(&area.prefix)
    .bind(area.grid_cell_id)
    .bind(limit)
    .fetch_one(pool)
    .await?;
    Ok(Some(body))
}
