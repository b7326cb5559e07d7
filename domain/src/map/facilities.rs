//! Facilities (`facility`) as GeoJSON points, by kind and area.

use sqlx::PgPool;

use crate::auth::Area;
use crate::db::geojson::{bbox_binds, feature_collection_sql};
use crate::model::FacilityKind;

/// The facilities (of `kind`, when given) of units inside `area`, within `bbox` when given,
/// at most `limit` of them: a FeatureCollection's text.
pub async fn feature_collection(
    pool: &PgPool,
    area: &Area,
    kind: Option<FacilityKind>,
    bbox: Option<[f64; 4]>,
    limit: i64,
) -> Result<String, sqlx::Error> {
    let [a, b, c, d] = bbox_binds(bbox);
    sqlx::query_scalar(feature_collection_sql!(
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
    .bind(kind)
    .bind(a)
    .bind(b)
    .bind(c)
    .bind(d)
    .bind(&area.prefix)
    .bind(limit)
    .fetch_one(pool)
    .await
}
