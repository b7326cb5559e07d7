//! `wangge import`: real boundaries go in; every kind of bad feature is refused with its
//! index and reason, and nothing is written.

mod common;

use common::TestDb;
use serde_json::{Value, json};
use wangge::import::{self, Datum, ImportError};
use wangge::model::AdminLevel;

/// The 9 real county boundaries of Yuxi. Their licence forbids shipping them, so they are
/// read from the shared folder beside the project, never copied into it.
fn real_counties() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/yuxi_counties_geotoolcn_datav2026_wgs84.geojson");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the real county boundaries are expected at {} ({e})",
            path.display()
        )
    })
}

fn city_collection() -> String {
    // A city outline covering all of Yuxi, as a planner's file would give it.
    json!({
        "type": "FeatureCollection",
        "features": [{
            "type": "Feature",
            "properties": { "code": "530400", "name": "玉溪市" },
            "geometry": { "type": "Polygon", "coordinates": [[[100.5, 23.0], [104.0, 23.0], [104.0, 25.5], [100.5, 25.5], [100.5, 23.0]]] }
        }]
    })
    .to_string()
}

fn square(lon: f64, lat: f64, size: f64) -> Value {
    json!({ "type": "Polygon", "coordinates": [[[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]] })
}

fn feature(code: &str, name: &str, geometry: Value) -> Value {
    json!({ "type": "Feature", "properties": { "code": code, "name": name }, "geometry": geometry })
}

fn collection(features: Vec<Value>) -> String {
    json!({ "type": "FeatureCollection", "features": features }).to_string()
}

/// The first village's code and a point inside it.
async fn first_village_interior(db: &TestDb) -> (String, f64, f64) {
    sqlx::query_as(
        "SELECT v.code, ST_X(c), ST_Y(c)
         FROM admin_unit v, LATERAL (SELECT ST_PointOnSurface(v.geom) c) p
         WHERE v.level = 'village' ORDER BY v.code LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

async fn with_city(db: &TestDb) {
    import::import_admin_units(&db.pool, &city_collection(), AdminLevel::City, Datum::Wgs84)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_real_county_boundaries_import() {
    let db = TestDb::empty().await;
    with_city(&db).await;
    let report =
        import::import_admin_units(&db.pool, &real_counties(), AdminLevel::County, Datum::Wgs84)
            .await
            .unwrap();
    assert_eq!(report.rows, 9);
    let (count, area_km2, overlaps): (i64, f64, i64) = sqlx::query_as(
        "SELECT count(*), sum(ST_Area(geom::geography)) / 1e6,
                (SELECT count(*) FROM admin_unit a JOIN admin_unit b ON a.id < b.id
                   AND a.level = 'county' AND b.level = 'county' AND ST_Relate(a.geom, b.geom, '2********'))
         FROM admin_unit WHERE level = 'county'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(count, 9);
    // The data's notes give about 14,938 km² for the nine.
    assert!((area_km2 - 14_938.0).abs() < 150.0, "area {area_km2} km²");
    assert_eq!(overlaps, 0);
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM admin_unit WHERE level = 'county' ORDER BY code")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(names[0], "红塔区");
    // Importing the same file again is refused as a whole: every code already exists.
    let err =
        import::import_admin_units(&db.pool, &real_counties(), AdminLevel::County, Datum::Wgs84)
            .await
            .unwrap_err();
    let ImportError::Invalid { problems, .. } = err else {
        panic!("{err}")
    };
    assert_eq!(problems.len(), 9);
    assert!(
        problems
            .iter()
            .all(|p| p.message.contains("already exists"))
    );
}

#[tokio::test]
async fn gcj02_files_are_shifted_to_wgs84() {
    let db = TestDb::empty().await;
    with_city(&db).await;
    let (glon, glat) = import::wgs84_to_gcj02(102.5, 24.3);
    let shifted = json!({ "type": "Polygon", "coordinates": [[[glon, glat], [glon + 0.1, glat], [glon + 0.1, glat + 0.1], [glon, glat + 0.1], [glon, glat]]] });
    import::import_admin_units(
        &db.pool,
        &collection(vec![feature("530402", "红塔区", shifted)]),
        AdminLevel::County,
        Datum::Gcj02,
    )
    .await
    .unwrap();
    let (lon, lat): (f64, f64) = sqlx::query_as("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 1) p FROM admin_unit WHERE code = '530402') s")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(
        (lon - 102.5).abs() < 1e-6 && (lat - 24.3).abs() < 1e-6,
        "{lon},{lat}"
    );
}

/// Each kind of bad feature, alone among good ones, is named by index and nothing is written.
#[tokio::test]
async fn every_kind_of_bad_feature_is_refused_and_nothing_is_written() {
    let db = TestDb::empty().await;
    with_city(&db).await;
    let good = |code: &str| feature(code, "好", square(102.0, 24.0, 0.1));
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "unclosed ring",
            feature(
                "530403",
                "x",
                json!({ "type": "Polygon", "coordinates": [[[102.0, 24.0], [102.1, 24.0], [102.1, 24.1], [102.0, 24.1]]] }),
            ),
            "not closed",
        ),
        (
            "too few positions",
            feature(
                "530403",
                "x",
                json!({ "type": "Polygon", "coordinates": [[[102.0, 24.0], [102.1, 24.0], [102.0, 24.0]]] }),
            ),
            "at least 4",
        ),
        (
            "self-intersection",
            feature(
                "530403",
                "x",
                json!({ "type": "Polygon", "coordinates": [[[102.0, 24.0], [102.1, 24.1], [102.1, 24.0], [102.0, 24.1], [102.0, 24.0]]] }),
            ),
            "invalid geometry: Self-intersection",
        ),
        (
            "lat/lon order",
            feature("530403", "x", square(24.0, 102.0, 0.1)),
            "looks like latitude, longitude",
        ),
        (
            "projected metres",
            feature("530403", "x", square(11_400_000.0, 2_790_000.0, 100.0)),
            "projected metres",
        ),
        (
            "out of range",
            feature("530403", "x", square(200.0, 24.0, 0.1)),
            "out of longitude/latitude range",
        ),
        (
            "not a polygon",
            feature(
                "530403",
                "x",
                json!({ "type": "Point", "coordinates": [102.0, 24.0] }),
            ),
            "not a Polygon or MultiPolygon",
        ),
        (
            "no geometry",
            json!({ "type": "Feature", "properties": { "code": "530403", "name": "x" }, "geometry": null }),
            "no geometry",
        ),
        (
            "malformed geometry",
            feature(
                "530403",
                "x",
                json!({ "type": "Polygon", "coordinates": "oops" }),
            ),
            "malformed",
        ),
        (
            "no code",
            json!({ "type": "Feature", "properties": { "name": "x" }, "geometry": square(102.0, 24.0, 0.1) }),
            "no `code` or `adcode` property",
        ),
        (
            "no name",
            json!({ "type": "Feature", "properties": { "code": "530403" }, "geometry": square(102.0, 24.0, 0.1) }),
            "no non-empty `name`",
        ),
        (
            "bad code",
            feature("5304031", "x", square(102.0, 24.0, 0.1)),
            "not a 6-digit county code",
        ),
        ("duplicate code", good("530402"), "more than once"),
        (
            "parent missing",
            feature("530503", "x", square(102.0, 24.0, 0.1)),
            "parent city `530500` is not in the database",
        ),
    ];
    for (what, bad, expected) in cases {
        let file = collection(vec![good("530402"), bad, good("530424")]);
        let err = import::import_admin_units(&db.pool, &file, AdminLevel::County, Datum::Wgs84)
            .await
            .expect_err(what);
        let ImportError::Invalid { problems, .. } = &err else {
            panic!("{what}: {err}")
        };
        assert!(
            problems
                .iter()
                .any(|p| p.index == 1 && p.message.contains(expected)),
            "{what}: expected feature 1 to be refused with `{expected}`, got {problems:?}"
        );
        assert!(
            problems.iter().all(|p| p.index == 1),
            "{what}: only feature 1 is bad: {problems:?}"
        );
        assert!(err.to_string().contains("nothing was imported"));
        assert_eq!(
            db.count("admin_unit").await,
            1,
            "{what}: nothing written (only the city)"
        );
    }
    // Not a FeatureCollection at all.
    for text in [
        "{",
        "[]",
        r#"{"type":"Feature"}"#,
        r#"{"type":"FeatureCollection"}"#,
        r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:3857"}},"features":[]}"#,
    ] {
        let err = import::import_admin_units(&db.pool, text, AdminLevel::County, Datum::Wgs84)
            .await
            .unwrap_err();
        assert!(
            matches!(err, ImportError::NotFeatureCollection(_)),
            "{text}: {err}"
        );
    }
    assert_eq!(db.count("admin_unit").await, 1);
}

#[tokio::test]
async fn grid_cells_must_nest_in_their_village_and_not_overlap() {
    let db = TestDb::small_demo().await;
    let (village_code, lon, lat) = first_village_interior(&db).await;
    let cell = |code: &str, lon: f64, lat: f64, size: f64| json!({ "type": "Feature", "properties": { "code": code, "name": "新网格", "village_code": village_code }, "geometry": square(lon, lat, size) });
    let tiny = 0.0004;
    // Two cells that overlap.
    let err = import::import_grid_cells(
        &db.pool,
        &collection(vec![
            cell("N-1", lon - tiny / 2.0, lat - tiny / 2.0, tiny),
            cell("N-2", lon - tiny / 4.0, lat - tiny / 4.0, tiny),
        ]),
        2,
        Datum::Wgs84,
    )
    .await
    .unwrap_err();
    let ImportError::Invalid { problems, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        problems
            .iter()
            .any(|p| p.index == 0 && p.message.contains("overlaps feature 1")),
        "{problems:?}"
    );
    // A cell far outside its village.
    let err = import::import_grid_cells(
        &db.pool,
        &collection(vec![cell("N-3", 101.0, 23.0, tiny)]),
        2,
        Datum::Wgs84,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("not within its village"), "{err}");
    assert_eq!(
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM grid_plan")
            .fetch_one(&db.pool)
            .await
            .unwrap(),
        1
    );
    // A good one becomes a draft plan.
    let report = import::import_grid_cells(
        &db.pool,
        &collection(vec![cell("N-1", lon - tiny / 2.0, lat - tiny / 2.0, tiny)]),
        2,
        Datum::Wgs84,
    )
    .await
    .unwrap();
    assert_eq!(report.rows, 1);
    let status: String = sqlx::query_scalar("SELECT status::text FROM grid_plan WHERE version = 2")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(status, "draft");
    let err = import::import_grid_cells(
        &db.pool,
        &collection(vec![cell("N-9", lon, lat, tiny)]),
        2,
        Datum::Wgs84,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ImportError::PlanExists(2)));
}

#[tokio::test]
async fn households_csv_rows_are_checked_line_by_line() {
    let db = TestDb::small_demo().await;
    let (village_code, lon, lat) = first_village_interior(&db).await;
    let before = db.count("household").await;
    let bad = format!(
        "address,size,village_code,lon,lat\n\
         好地址1号,3,{village_code},{lon},{lat}\n\
         ,3,{village_code},{lon},{lat}\n\
         坏地址2号,0,{village_code},{lon},{lat}\n\
         坏地址3号,3,{village_code},{lat},{lon}\n\
         坏地址4号,3,999999999999,{lon},{lat}\n\
         坏地址5号,3,{village_code},101.0,23.0\n"
    );
    let err = import::import_households(&db.pool, &bad, Datum::Wgs84)
        .await
        .unwrap_err();
    let ImportError::Invalid { problems, .. } = &err else {
        panic!("{err}")
    };
    let lines: Vec<usize> = problems.iter().map(|p| p.index).collect();
    assert_eq!(lines, vec![3, 4, 5, 6], "{problems:?}");
    assert_eq!(db.count("household").await, before, "nothing written");
    // Line 7 (outside its village) is caught once the others are fixed.
    let err = import::import_households(&db.pool, &format!(
        "address,size,village_code,lon,lat\n好地址1号,3,{village_code},{lon},{lat}\n坏地址5号,3,{village_code},101.0,23.0\n"
    ), Datum::Wgs84).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("line 3: the point lies outside its village"),
        "{err}"
    );
    let report = import::import_households(
        &db.pool,
        &format!("address,size,village_code,lon,lat\n好地址1号,3,{village_code},{lon},{lat}\n"),
        Datum::Wgs84,
    )
    .await
    .unwrap();
    assert_eq!(report.rows, 1);
    assert_eq!(db.count("household").await, before + 1);
    let err = import::import_households(&db.pool, "addr,size\nx,1\n", Datum::Wgs84)
        .await
        .unwrap_err();
    assert!(matches!(err, ImportError::Csv(_)));
}
