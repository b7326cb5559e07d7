//! Counties, townships and villages (`admin_unit`) as GeoJSON.

use sqlx::PgPool;

use crate::auth::Area;
use crate::db::geojson::{bbox_binds, feature_collection_sql};
use crate::model::AdminLevel;

/// The units of `level` inside `area` (a grid worker's: their village), within `bbox` when
/// given, at most `limit` of them: a FeatureCollection's text.
pub async fn feature_collection(
    pool: &PgPool,
    area: &Area,
    level: AdminLevel,
    bbox: Option<[f64; 4]>,
    limit: i64,
) -> Result<String, sqlx::Error> {
    let [a, b, c, d] = bbox_binds(bbox);
    sqlx::query_scalar(feature_collection_sql!(
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
    .bind(level)
    .bind(a)
    .bind(b)
    .bind(c)
    .bind(d)
    .bind(&area.prefix)
    .bind(limit)
    .fetch_one(pool)
    .await
}
