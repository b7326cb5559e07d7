//! `wangge import`: real-world boundaries go in whole; every kind of bad feature is refused with its
//! index and reason, and nothing is written.

use crate::common;

use common::TestDb;
use serde_json::{Value, json};
use wangge::import::{self, Datum, ImportError};
use wangge::model::AdminLevel;

/// Real-world boundaries that may ship with the project: China and the five countries of
/// mainland Southeast Asia from Natural Earth (public domain; see `tests/data/README.md`), each
/// given a county code under the test city, since the importer takes official codes.
fn natural_earth_as_counties() -> (String, Vec<(String, String)>) {
    let text = include_str!("data/natural_earth_10m_mainland_southeast_asia.geojson");
    let mut collection: Value = serde_json::from_str(text).unwrap();
    let mut named = Vec::new();
    for (i, feature) in collection["features"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        let code = format!("5304{:02}", 21 + i);
        let properties = feature["properties"].as_object_mut().unwrap();
        named.push((
            code.clone(),
            properties["name"].as_str().unwrap().to_owned(),
        ));
        properties.insert("code".into(), json!(code));
    }
    (collection.to_string(), named)
}

/// Every vertex of every ring of a GeoJSON (Multi)Polygon.
fn vertex_count(geometry: &Value) -> usize {
    match geometry["type"].as_str().unwrap() {
        "Polygon" => geometry["coordinates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|ring| ring.as_array().unwrap().len())
            .sum(),
        "MultiPolygon" => geometry["coordinates"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|polygon| polygon.as_array().unwrap())
            .map(|ring| ring.as_array().unwrap().len())
            .sum(),
        other => panic!("{other}"),
    }
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
async fn real_world_boundaries_import_whole() {
    let db = TestDb::empty().await;
    with_city(&db).await;
    let (file, named) = natural_earth_as_counties();

    // Three of the six outlines cross themselves where the source's quantisation pinched a
    // coastline: each is named with the place PostGIS found, and nothing is written.
    let err = import::import_admin_units(&db.pool, &file, AdminLevel::County, Datum::Wgs84)
        .await
        .unwrap_err();
    let ImportError::Invalid { problems, .. } = err else {
        panic!("{err}")
    };
    let refused: Vec<&str> = problems.iter().map(|p| named[p.index].1.as_str()).collect();
    assert_eq!(refused, ["Myanmar", "China", "Vietnam"], "{problems:?}");
    assert!(
        problems
            .iter()
            .all(|p| p.message.contains("Self-intersection[")),
        "{problems:?}"
    );
    assert_eq!(
        db.count("admin_unit").await,
        1,
        "only the city: nothing written"
    );

    // The valid ones import whole.
    let mut collection: Value = serde_json::from_str(&file).unwrap();
    collection["features"]
        .as_array_mut()
        .unwrap()
        .retain(|f| !refused.contains(&f["properties"]["name"].as_str().unwrap()));
    let file = collection.to_string();
    let named: Vec<&(String, String)> = named
        .iter()
        .filter(|(_, name)| !refused.contains(&name.as_str()))
        .collect();
    let report = import::import_admin_units(&db.pool, &file, AdminLevel::County, Datum::Wgs84)
        .await
        .unwrap();
    assert_eq!(report.rows, 3);

    let stored: Vec<(String, String, i64, f64)> = sqlx::query_as(
        "SELECT code, name, ST_NPoints(geom)::int8, ST_Area(geom::geography) / 1e6
         FROM admin_unit WHERE level = 'county' ORDER BY code",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let source: Value = serde_json::from_str(&file).unwrap();
    for ((code, name, points, area_km2), feature) in
        stored.iter().zip(source["features"].as_array().unwrap())
    {
        assert_eq!(
            (code, name),
            (
                &feature["properties"]["code"].as_str().unwrap().to_owned(),
                &feature["properties"]["name"].as_str().unwrap().to_owned()
            )
        );
        assert_eq!(
            *points as usize,
            vertex_count(&feature["geometry"]),
            "{name}: every vertex kept, none simplified away"
        );
        // Each country's area as its government states it (km², land and inland water), which
        // a boundary drawn at 1:10m matches to a few percent (Laos's comes out 3.7% short). A
        // swapped axis or a datum mix-up would be off by far more.
        let official = match name.as_str() {
            "Laos" => 236_800.0,
            "Thailand" => 513_120.0,
            "Cambodia" => 181_035.0,
            other => panic!("unexpected {other}"),
        };
        assert!(
            (area_km2 - official).abs() / official < 0.05,
            "{name}: {area_km2:.0} km² against {official:.0} km²"
        );
    }
    // Neighbours share their borders exactly: no two overlap.
    let overlaps: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM admin_unit a JOIN admin_unit b ON a.id < b.id
         WHERE a.level = 'county' AND b.level = 'county' AND ST_Relate(a.geom, b.geom, '2********')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(overlaps, 0);

    // Importing the same file again is refused as a whole: every code already exists.
    let err = import::import_admin_units(&db.pool, &file, AdminLevel::County, Datum::Wgs84)
        .await
        .unwrap_err();
    let ImportError::Invalid { problems, .. } = err else {
        panic!("{err}")
    };
    assert_eq!(problems.len(), named.len());
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

/// Stated limits: a name too long, a NUL, too many vertices, slivers by area and by width,
/// too many features. Each is refused naming the feature and the limit; nothing is written.
#[tokio::test]
async fn limits_are_stated_and_slivers_refused() {
    let db = TestDb::empty().await;
    with_city(&db).await;
    // Metres to degrees near 24°N.
    let (m_lat, m_lon) = (1.0 / 111_195.0, 1.0 / (111_195.0 * 0.9135));
    let rectangle = |width_m: f64, length_m: f64| {
        let (dx, dy) = (length_m * m_lon, width_m * m_lat);
        json!({ "type": "Polygon", "coordinates": [[[102.0, 24.0], [102.0 + dx, 24.0], [102.0 + dx, 24.0 + dy], [102.0, 24.0 + dy], [102.0, 24.0]]] })
    };
    let many_vertices = {
        // A circle of 200,000 vertices: valid, and far past the limit.
        let n = 200_000;
        let mut ring: Vec<Value> = (0..n)
            .map(|i| {
                let a = i as f64 / n as f64 * std::f64::consts::TAU;
                json!([102.5 + 0.1 * a.cos(), 24.5 + 0.1 * a.sin()])
            })
            .collect();
        ring.push(ring[0].clone());
        json!({ "type": "Polygon", "coordinates": [ring] })
    };
    let cases: Vec<(&str, Value, String)> = vec![
        (
            "a name of a million characters",
            feature("530403", &"长".repeat(1_000_000), square(102.0, 24.0, 0.1)),
            format!("1000000 characters; at most {}", import::MAX_NAME_CHARS),
        ),
        (
            "a NUL in a name",
            feature("530403", "红\u{0}塔", square(102.0, 24.0, 0.1)),
            "its name contains a NUL character".into(),
        ),
        (
            "200,000 vertices",
            feature("530403", "多", many_vertices),
            format!("at most {}", import::MAX_VERTICES_PER_FEATURE),
        ),
        (
            "a strip one millimetre wide",
            feature("530403", "缝", rectangle(0.001, 1_000.0)),
            "sliver".into(),
        ),
        (
            "a strip half a metre wide",
            feature("530403", "缝", rectangle(0.5, 1_000.0)),
            "m wide on average".into(),
        ),
        (
            "a speck of two metres by two",
            feature("530403", "点", rectangle(2.0, 2.0)),
            format!("less than {} m²", import::MIN_PART_AREA_M2),
        ),
    ];
    for (what, bad, expected) in cases {
        let file = collection(vec![feature("530402", "好", rectangle(1.5, 1_000.0)), bad]);
        let err = import::import_admin_units(&db.pool, &file, AdminLevel::County, Datum::Wgs84)
            .await
            .expect_err(what);
        let ImportError::Invalid { problems, .. } = &err else {
            panic!("{what}: {err}")
        };
        assert!(
            problems.iter().all(|p| p.index == 1) && problems[0].message.contains(&expected),
            "{what}: expected feature 1 refused with `{expected}`, got {problems:?}"
        );
        assert_eq!(db.count("admin_unit").await, 1, "{what}: nothing written");
    }

    let features: Vec<Value> = (0..=import::MAX_FEATURES)
        .map(|_| json!({ "type": "Feature" }))
        .collect();
    let err = import::import_admin_units(
        &db.pool,
        &collection(features),
        AdminLevel::County,
        Datum::Wgs84,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("at most {}", import::MAX_FEATURES)),
        "{err}"
    );
}

/// An import runs as long as it needs: the statement timeout that guards requests does not
/// cut a city's file off halfway.
#[tokio::test]
async fn a_large_import_is_not_cut_off_by_the_statement_timeout() {
    let db = TestDb::small_demo().await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("SET statement_timeout = '1ms'")
                    .execute(conn)
                    .await
                    .map(|_| ())
            })
        })
        .connect(&db.url())
        .await
        .unwrap();
    let (village_code, lon, lat) = first_village_interior(&db).await;
    // A 40 × 40 block of cells about 4 m across (170 m in all) inside one village.
    let size = 0.00004;
    let cells: Vec<Value> = (0..1_600)
        .map(|i| {
            let (col, row) = ((i % 40) as f64, (i / 40) as f64);
            json!({ "type": "Feature",
                    "properties": { "code": format!("T-{i}"), "name": "块", "village_code": village_code },
                    "geometry": square(lon - 0.0008 + col * size, lat - 0.0008 + row * size, size) })
        })
        .collect();
    let report = import::import_grid_cells(&pool, &collection(cells), 2, Datum::Wgs84)
        .await
        .unwrap();
    assert_eq!(report.rows, 1_600);
}
