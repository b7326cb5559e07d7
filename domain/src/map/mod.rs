//! The map's features as GeoJSON, each answer one FeatureCollection assembled by PostGIS
//! ([`crate::db::geojson`]) inside the reader's area: administrative units, grid cells,
//! facilities and grid workers, one file per table read. A new layer for the map client goes
//! here; its vector tiles are in `tile_layers`. Also the box of an area, which the live feed
//! matches changed layers against.

pub mod admin_units;
pub mod facilities;
pub mod grid_cells;
pub mod workers;

use sqlx::PgPool;

use crate::auth::Area;

/// The lon/lat box (`[min_lon, min_lat, max_lon, max_lat]`) of `area`: its grid cell's, or
/// its unit's; `None` for the city, or a unit with no geometry.
pub async fn area_bbox(pool: &PgPool, area: &Area) -> Result<Option<[f64; 4]>, sqlx::Error> {
    let bbox: Option<Vec<f64>> = sqlx::query_scalar(
        "SELECT ARRAY[ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)]::float8[]
                 FROM (SELECT geom::box2d AS b FROM grid_cell WHERE id = $1
                       UNION ALL
                       SELECT geom::box2d FROM admin_unit WHERE $1::int8 IS NULL AND code = $2) a
                 WHERE b IS NOT NULL",
    )
    .bind(area.grid_cell_id)
    .bind(&area.code)
    .fetch_optional(pool)
    .await?;
    Ok(bbox.and_then(|b| b.try_into().ok()))
}
