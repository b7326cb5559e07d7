//! A plan's cells as edits read and write them: exact geometry (see
//! [`crate::db::geometry::EXACT_DIGITS`]), their revision, and snapshots for undo.

use geo::MultiPolygon;
use sqlx::PgConnection;

use crate::db::geometry::{EXACT_DIGITS, Ewkb, multi_polygon_from_geojson};

/// One cell of a plan, geometry and all.
#[derive(Debug, Clone)]
pub struct Cell {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub village_id: i64,
    pub village_code: String,
    pub revision: i32,
    pub geom: MultiPolygon<f64>,
}

/// Columns for [`Cell`]: `g` is the cell, `v` its village.
const CELL_COLUMNS: &str = "g.id, g.code, g.name, g.village_id, v.code AS village_code, g.revision,
     ST_AsGeoJSON(g.geom, 15) AS geom";

type CellTuple = (i64, String, String, i64, String, i32, String);

fn cell_of(row: CellTuple) -> Result<Cell, sqlx::Error> {
    let (id, code, name, village_id, village_code, revision, geom) = row;
    let geom = multi_polygon_from_geojson(&geom)
        .map_err(|e| sqlx::Error::Decode(format!("grid cell {code}: {e}").into()))?;
    Ok(Cell {
        id,
        code,
        name,
        village_id,
        village_code,
        revision,
        geom,
    })
}

/// The cells of plan `plan_id` with these codes, locked for the edit, in code order.
pub async fn by_codes(
    conn: &mut PgConnection,
    plan_id: i64,
    codes: &[String],
) -> Result<Vec<Cell>, sqlx::Error> {
    debug_assert_eq!(EXACT_DIGITS, 15, "CELL_COLUMNS prints 15 digits");
    let rows: Vec<CellTuple> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CELL_COLUMNS} FROM grid_cell g JOIN admin_unit v ON v.id = g.village_id
         WHERE g.plan_id = $1 AND g.code = ANY ($2) ORDER BY g.code FOR UPDATE OF g"
    )))
    .bind(plan_id)
    .bind(codes)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(cell_of).collect()
}

/// The cells of plan `plan_id` with these ids, locked, in code order.
pub async fn by_ids(
    conn: &mut PgConnection,
    plan_id: i64,
    ids: &[i64],
) -> Result<Vec<Cell>, sqlx::Error> {
    let rows: Vec<CellTuple> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CELL_COLUMNS} FROM grid_cell g JOIN admin_unit v ON v.id = g.village_id
         WHERE g.plan_id = $1 AND g.id = ANY ($2) ORDER BY g.code FOR UPDATE OF g"
    )))
    .bind(plan_id)
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(cell_of).collect()
}

/// The cells of plan `plan_id` an edit of cells `ids` may affect, in code order, not
/// locked: all cells of `villages` (a village's gaps need all its cells) and every cell
/// within `margin_deg` degrees of one of `ids`. (Two lookups joined by a union: as one
/// `OR`, PostgreSQL tested the distance against every cell of the plan, 80 ms an edit.)
pub async fn region(
    conn: &mut PgConnection,
    plan_id: i64,
    ids: &[i64],
    villages: &[i64],
    margin_deg: f64,
) -> Result<Vec<Cell>, sqlx::Error> {
    let rows: Vec<CellTuple> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CELL_COLUMNS} FROM grid_cell g JOIN admin_unit v ON v.id = g.village_id
         WHERE g.id IN (SELECT id FROM grid_cell WHERE plan_id = $1 AND village_id = ANY ($4)
                        UNION
                        SELECT n.id FROM grid_cell t
                        JOIN grid_cell n ON n.plan_id = $1 AND ST_DWithin(t.geom, n.geom, $3)
                        WHERE t.plan_id = $1 AND t.id = ANY ($2))
         ORDER BY g.code"
    )))
    .bind(plan_id)
    .bind(ids)
    .bind(margin_deg)
    .bind(villages)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(cell_of).collect()
}

/// Every cell of plan `plan_id` whose village's code starts with `prefix`, in code order.
pub async fn in_area(
    conn: &mut PgConnection,
    plan_id: i64,
    prefix: &str,
) -> Result<Vec<Cell>, sqlx::Error> {
    let rows: Vec<CellTuple> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CELL_COLUMNS} FROM grid_cell g JOIN admin_unit v ON v.id = g.village_id
         WHERE g.plan_id = $1 AND v.code LIKE $2 || '%'
         ORDER BY g.code"
    )))
    .bind(plan_id)
    .bind(prefix)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(cell_of).collect()
}

/// The cells' rows as they are now, for an edit's `before` or `after`: a JSON array of
/// `{id, code, name, village_id, geom}`, the geometry as hex EWKB (exact, and only ever read
/// back by the database).
pub async fn snapshot(
    conn: &mut PgConnection,
    plan_id: i64,
    ids: &[i64],
) -> Result<serde_json::Value, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce(jsonb_agg(jsonb_build_object(
                    'id', id, 'code', code, 'name', name, 'village_id', village_id,
                    'geom', encode(ST_AsEWKB(geom), 'hex')) ORDER BY id), '[]'::jsonb)
         FROM grid_cell WHERE plan_id = $1 AND id = ANY ($2)",
    )
    .bind(plan_id)
    .bind(ids)
    .fetch_one(conn)
    .await
}

/// Makes the plan's cells among `remove ∪ restore` exactly `restore` (a snapshot): cells
/// named only in `remove` are deleted, the others written back with their ids, each stamped
/// with `revision`. How undo and redo apply an edit's `before` and `after`.
pub async fn restore(
    conn: &mut PgConnection,
    plan_id: i64,
    remove: &serde_json::Value,
    restore: &serde_json::Value,
    revision: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM grid_cell
         WHERE plan_id = $1
           AND id IN (SELECT (c->>'id')::bigint FROM jsonb_array_elements($2) c)
           AND id NOT IN (SELECT (c->>'id')::bigint FROM jsonb_array_elements($3) c)",
    )
    .bind(plan_id)
    .bind(remove)
    .bind(restore)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE grid_cell g
         SET code = c->>'code', name = c->>'name', village_id = (c->>'village_id')::bigint,
             geom = (c->>'geom')::geometry, revision = $3
         FROM jsonb_array_elements($2) c
         WHERE g.plan_id = $1 AND g.id = (c->>'id')::bigint",
    )
    .bind(plan_id)
    .bind(restore)
    .bind(revision)
    .execute(&mut *conn)
    .await?;
    // Codes are unique per plan: a restored cell whose code another holds meanwhile would
    // fail here, which linear history rules out.
    sqlx::query(
        "INSERT INTO grid_cell (id, plan_id, village_id, code, name, geom, revision)
         OVERRIDING SYSTEM VALUE
         SELECT (c->>'id')::bigint, $1, (c->>'village_id')::bigint, c->>'code', c->>'name',
                (c->>'geom')::geometry, $3
         FROM jsonb_array_elements($2) c
         WHERE NOT EXISTS (SELECT 1 FROM grid_cell g WHERE g.id = (c->>'id')::bigint)",
    )
    .bind(plan_id)
    .bind(restore)
    .bind(revision)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes a cell's new geometry (and name), stamped with `revision`.
pub async fn update_geometry(
    conn: &mut PgConnection,
    id: i64,
    geom: &MultiPolygon<f64>,
    revision: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE grid_cell SET geom = $2::geometry, revision = $3 WHERE id = $1")
        .bind(id)
        .bind(Ewkb::multi_polygon(geom))
        .bind(revision)
        .execute(conn)
        .await?;
    Ok(())
}

/// The plan's cells inside `prefix`'s area as GeoJSON with exact coordinates (what an editor
/// moves vertices of), within `bbox` and with these codes when given.
pub async fn feature_collection(
    conn: &mut PgConnection,
    plan_id: i64,
    prefix: &str,
    bbox: Option<[f64; 4]>,
    codes: Option<&[String]>,
) -> Result<String, sqlx::Error> {
    let [a, b, c, d] = crate::db::geojson::bbox_binds(bbox);
    sqlx::query_scalar(
        "SELECT json_build_object('type', 'FeatureCollection', 'features',
                    coalesce(json_agg(f ORDER BY code), '[]'::json))::text
         FROM (SELECT g.code, json_build_object(
                    'type', 'Feature', 'id', g.code,
                    'geometry', ST_AsGeoJSON(g.geom, 15)::json,
                    'properties', json_build_object(
                        'code', g.code, 'name', g.name, 'village_code', v.code,
                        'village_name', v.name, 'revision', g.revision)) AS f
               FROM grid_cell g JOIN admin_unit v ON v.id = g.village_id
               WHERE g.plan_id = $1 AND v.code LIKE $2 || '%'
                 AND ($3::float8 IS NULL OR g.geom && ST_MakeEnvelope($3, $4, $5, $6, 4326))
                 AND ($7::text[] IS NULL OR g.code = ANY ($7))) cells",
    )
    .bind(plan_id)
    .bind(prefix)
    .bind(a)
    .bind(b)
    .bind(c)
    .bind(d)
    .bind(codes)
    .fetch_one(conn)
    .await
}
