//! The schema on a real PostGIS: migrations, and the constraints that keep the data honest.

use crate::common;

use common::TestDb;
use geo::{MultiPolygon, Point, polygon};
use wangge::db::geometry::Ewkb;
use wangge::model::{IncidentStatus, open_statuses};

fn square(lon: f64, lat: f64, size: f64) -> Ewkb {
    Ewkb::multi_polygon(&MultiPolygon(vec![polygon![
        (x: lon, y: lat),
        (x: lon + size, y: lat),
        (x: lon + size, y: lat + size),
        (x: lon, y: lat + size),
        (x: lon, y: lat),
    ]]))
}

/// Inserts a unit; returns its id or the database's error message.
async fn insert_unit(
    db: &TestDb,
    level: &str,
    code: &str,
    parent: Option<i64>,
    geom: &str,
) -> Result<i64, String> {
    sqlx::query_scalar(
        "INSERT INTO admin_unit (level, code, name, parent_id, geom)
         VALUES ($1::admin_level, $2, '测试', $3, $4::geometry) RETURNING id",
    )
    .bind(level)
    .bind(code)
    .bind(parent)
    .bind(geom)
    .fetch_one(&db.pool)
    .await
    .map_err(|e| e.to_string())
}

#[tokio::test]
async fn migrations_create_the_schema_with_postgis_and_gist_indexes() {
    let db = TestDb::empty().await;
    let postgis: String = sqlx::query_scalar("SELECT postgis_lib_version()")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(postgis.starts_with('3'), "PostGIS 3, found {postgis}");
    // Every geometry column is SRID 4326 and has a GiST index, but the position history's:
    // it is read by worker and time (its primary key), and a spatial index would cost every
    // one of thousands of fixes a second. Its daily partitions are checked with it.
    let columns: Vec<(String, String, i32)> = sqlx::query_as(
        "SELECT f_table_name::text, f_geometry_column::text, srid FROM geometry_columns
         WHERE f_table_name::text NOT LIKE 'worker_position_%' ORDER BY 1, 2",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let tables: Vec<&str> = columns.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(
        tables,
        [
            "address_point",
            "admin_unit",
            "facility",
            "grid_cell",
            "grid_worker",
            "household",
            "incident",
            "worker_position"
        ]
    );
    for (table, column, srid) in &columns {
        assert_eq!(*srid, 4326, "{table}.{column}");
        if table == "worker_position" {
            continue;
        }
        let indexed: bool = sqlx::query_scalar(
            "SELECT EXISTS (
                 SELECT 1 FROM pg_index i
                 JOIN pg_class t ON t.oid = i.indrelid
                 JOIN pg_class ix ON ix.oid = i.indexrelid
                 JOIN pg_am am ON am.oid = ix.relam
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (i.indkey)
                 WHERE t.relname = $1 AND a.attname = $2 AND am.amname = 'gist')",
        )
        .bind(table)
        .bind(column)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert!(indexed, "{table}.{column} has a GiST index");
    }
    // Applying again is a no-op.
    wangge::db::migrate(&db.pool).await.unwrap();
}

#[tokio::test]
async fn geometry_crosses_the_boundary_as_lon_lat_srid_4326() {
    let db = TestDb::empty().await;
    let (text, srid): (String, i32) =
        sqlx::query_as("SELECT ST_AsText(g), ST_SRID(g) FROM (SELECT $1::geometry g) s")
            .bind(Ewkb::point(Point::new(102.5437, 24.352)).as_str())
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(text, "POINT(102.5437 24.352)");
    assert_eq!(srid, 4326);
    let (kind, area): (String, f64) =
        sqlx::query_as("SELECT GeometryType(g), ST_Area(g) FROM (SELECT $1::geometry g) s")
            .bind(square(102.0, 24.0, 0.5).as_str())
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(kind, "MULTIPOLYGON");
    assert!((area - 0.25).abs() < 1e-12);
    // Many points: one text array, each cast where the query takes it.
    let points: Vec<(String, i32)> = sqlx::query_as(
        "SELECT ST_AsText(g::geometry), ST_SRID(g::geometry)
         FROM unnest($1::text[]) WITH ORDINALITY AS p (g, ord) ORDER BY ord",
    )
    .bind(vec![
        Ewkb::point(Point::new(102.5, 24.25)),
        Ewkb::point(Point::new(-0.125, 51.5)),
    ])
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        points,
        [
            ("POINT(102.5 24.25)".to_owned(), 4326),
            ("POINT(-0.125 51.5)".to_owned(), 4326)
        ]
    );
}

/// "Open" is said in Rust (`IncidentStatus::OPEN`), in the queries (`open_statuses!`) and in
/// the partial index of open cases: for every status of the database's enum the three must
/// agree, and the enum must be Rust's, so a status added to one side alone fails here.
#[tokio::test]
async fn rust_the_queries_and_the_open_index_agree_on_which_statuses_are_open() {
    let db = TestDb::empty().await;
    let in_sql: Vec<(String, bool)> = sqlx::query_as(concat!(
        "SELECT s::text, s IN ",
        open_statuses!(),
        " FROM unnest(enum_range(NULL::incident_status)) AS s"
    ))
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let labels: Vec<&str> = in_sql.iter().map(|(s, _)| s.as_str()).collect();
    let in_rust: Vec<&str> = IncidentStatus::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(labels, in_rust, "incident_status and IncidentStatus differ");
    let predicate: String = sqlx::query_scalar(
        "SELECT pg_get_expr(indpred, indrelid) FROM pg_index
         WHERE indexrelid = 'incident_open_geom_idx'::regclass",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    for (label, open_in_sql) in &in_sql {
        let status: IncidentStatus = label.parse().unwrap();
        assert_eq!(status.is_open(), *open_in_sql, "{label} in the queries");
        assert_eq!(
            status.is_open(),
            predicate.contains(&format!("'{label}'::incident_status")),
            "{label} in the open cases' index: {predicate}"
        );
    }
}

#[tokio::test]
async fn admin_units_must_be_valid_lonlat_well_coded_and_under_the_right_parent() {
    let db = TestDb::empty().await;
    let city = insert_unit(
        &db,
        "city",
        "530400",
        None,
        square(101.0, 23.0, 2.0).as_str(),
    )
    .await
    .unwrap();
    let county = insert_unit(
        &db,
        "county",
        "530402",
        Some(city),
        square(102.0, 24.0, 0.5).as_str(),
    )
    .await
    .unwrap();

    // A self-intersecting "bow tie".
    let bow_tie = "SRID=4326;MULTIPOLYGON(((102 24,102.1 24.1,102.1 24,102 24.1,102 24)))";
    let err = insert_unit(&db, "township", "530402001", Some(county), bow_tie)
        .await
        .unwrap_err();
    assert!(err.contains("admin_unit_geom_valid"), "{err}");
    // Web Mercator metres instead of degrees.
    let err = insert_unit(
        &db,
        "township",
        "530402001",
        Some(county),
        "SRID=3857;MULTIPOLYGON(((0 0,1 0,1 1,0 0)))",
    )
    .await
    .unwrap_err();
    assert!(err.contains("SRID"), "{err}");
    // Latitude/longitude swapped: latitude 102 is out of bounds.
    let err = insert_unit(
        &db,
        "township",
        "530402001",
        Some(county),
        "SRID=4326;MULTIPOLYGON(((24 102,24.1 102,24.1 102.1,24 102)))",
    )
    .await
    .unwrap_err();
    assert!(err.contains("admin_unit_geom_lonlat"), "{err}");
    // A point where a MultiPolygon belongs.
    let err = insert_unit(
        &db,
        "township",
        "530402001",
        Some(county),
        "SRID=4326;POINT(102 24)",
    )
    .await
    .unwrap_err();
    assert!(err.to_lowercase().contains("geometry type"), "{err}");
    // Code of the wrong form for the level.
    let err = insert_unit(
        &db,
        "township",
        "5304020",
        Some(county),
        square(102.0, 24.0, 0.1).as_str(),
    )
    .await
    .unwrap_err();
    assert!(err.contains("admin_unit_code_format"), "{err}");
    // A township directly under the city.
    let err = insert_unit(
        &db,
        "township",
        "530402001",
        Some(city),
        square(102.0, 24.0, 0.1).as_str(),
    )
    .await
    .unwrap_err();
    assert!(err.contains("admin_unit_parent_fk"), "{err}");
    // A county without a parent.
    let err = insert_unit(
        &db,
        "county",
        "530403",
        None,
        square(102.0, 24.0, 0.1).as_str(),
    )
    .await
    .unwrap_err();
    assert!(err.contains("admin_unit_parent_required"), "{err}");
    // The same code twice at one level.
    let err = insert_unit(
        &db,
        "county",
        "530402",
        Some(city),
        square(102.0, 24.0, 0.1).as_str(),
    )
    .await
    .unwrap_err();
    assert!(err.contains("admin_unit_code_unique_per_level"), "{err}");
    // And a good one goes in.
    insert_unit(
        &db,
        "township",
        "530402001",
        Some(county),
        square(102.0, 24.0, 0.1).as_str(),
    )
    .await
    .unwrap();
    assert_eq!(db.count("admin_unit").await, 3);
}

#[tokio::test]
async fn only_one_grid_plan_is_published_at_a_time() {
    let db = TestDb::empty().await;
    sqlx::query("INSERT INTO grid_plan (version, name, status, published_at) VALUES (1, 'a', 'published', now())")
        .execute(&db.pool)
        .await
        .unwrap();
    let err = sqlx::query("INSERT INTO grid_plan (version, name, status, published_at) VALUES (2, 'b', 'published', now())")
        .execute(&db.pool)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("grid_plan_single_published"), "{err}");
    sqlx::query("INSERT INTO grid_plan (version, name) VALUES (2, 'b')")
        .execute(&db.pool)
        .await
        .unwrap();
    // Publishing plan 2 means archiving plan 1 in the same transaction.
    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query("UPDATE grid_plan SET status = 'archived', archived_at = now() WHERE version = 1")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE grid_plan SET status = 'published', published_at = now() WHERE version = 2",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let published: i32 =
        sqlx::query_scalar("SELECT version FROM grid_plan WHERE status = 'published'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(published, 2);
}

#[tokio::test]
async fn the_incident_timeline_is_append_only() {
    let db = TestDb::small_demo().await;
    let before = db.count("incident_event").await;
    for statement in [
        "UPDATE incident_event SET note = 'rewritten' WHERE id = 1",
        "DELETE FROM incident_event WHERE id = 1",
        "TRUNCATE incident_event CASCADE",
    ] {
        let err = sqlx::query(statement)
            .execute(&db.pool)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("append-only"), "{statement}: {err}");
    }
    assert_eq!(db.count("incident_event").await, before);
}

#[tokio::test]
async fn incidents_keep_status_and_resolution_consistent() {
    let db = TestDb::small_demo().await;
    // Marking a case resolved without saying when and at which tier is refused.
    let err = sqlx::query("UPDATE incident SET status = 'resolved' WHERE id = (SELECT min(id) FROM incident WHERE resolved_at IS NULL)")
        .execute(&db.pool)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("incident_resolved_status") || err.contains("incident_resolution"),
        "{err}"
    );
    // Coordinates outside lon/lat bounds are refused.
    let err = sqlx::query("UPDATE incident SET geom = 'SRID=4326;POINT(24.3 102.5)' WHERE id = 1")
        .execute(&db.pool)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("incident_geom_lonlat"), "{err}");
}
