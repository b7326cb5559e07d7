//! Heat maps and hotspots on a real PostGIS: counts per place inside the caller's area and
//! the filters, Gi* and Local Moran's I over them, emerging hot spots from planted cases,
//! `POST /api/v1/analysis/gistar` and `wangge analyse gistar` on a collection of one's own.
//! The statistics themselves are checked against independent computations in
//! `analysis/tests` and the modules' unit tests; here, what a caller relies on end to end.

use crate::common;

use std::collections::HashMap;
use std::process::Command;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use wangge::AppState;
use wangge::auth::Role;
use wangge::auth::users::AreaCode;
use wangge::config::{Config, DatabaseConfig};

use common::{TestDb, call};

async fn state(db: &TestDb) -> AppState {
    db.state(Config::for_database(DatabaseConfig::External {
        url: db.url(),
    }))
    .await
}

async fn get(state: &AppState, token: &str, uri: &str) -> (StatusCode, Value) {
    let reply = call(state, token, Method::GET, uri, None).await;
    let body = reply.json();
    (reply.status, body)
}

fn features(answer: &Value) -> &Vec<Value> {
    answer["features"].as_array().expect("a FeatureCollection")
}

fn sum(answer: &Value, key: &str) -> i64 {
    features(answer)
        .iter()
        .map(|f| f["properties"][key].as_i64().unwrap_or(0))
        .sum()
}

async fn scalar(db: &TestDb, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&db.pool).await.unwrap()
}

#[tokio::test]
async fn counts_per_place_add_up_to_the_cases_in_the_area_and_filters() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = db.city_operator().await;
    let placed = scalar(&db, "SELECT count(*) FROM incident WHERE geom IS NOT NULL").await;
    let all = scalar(&db, "SELECT count(*) FROM incident").await;
    for unit in ["h3:7", "h3:8", "grid-cell", "village", "township"] {
        let (status, answer) = get(
            &state,
            &token,
            &format!("/api/v1/analysis/aggregates?unit={unit}"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let counted = sum(&answer, "count");
        if unit.starts_with("h3") {
            // Every case with a place is in exactly one hexagon.
            assert_eq!(counted, placed, "{unit}");
        } else {
            assert!(
                counted <= all && counted >= all * 9 / 10,
                "{unit}: {counted} of {all}"
            );
        }
        for f in features(&answer) {
            let p = &f["properties"];
            assert_eq!(p["unit"], if unit.starts_with("h3") { "h3" } else { unit });
            assert!(p["open_count"].as_i64().unwrap() <= p["count"].as_i64().unwrap());
            let households = p["households"].as_i64().unwrap();
            match p["per_1000_households"].as_f64() {
                Some(rate) => {
                    let expected = p["count"].as_f64().unwrap() * 1000.0 / households as f64;
                    assert!((rate - expected).abs() < 0.01, "{p}");
                }
                None => assert_eq!(households, 0),
            }
            assert!(f["geometry"]["type"].as_str().unwrap().ends_with("Polygon"));
        }
    }
    // Per grid cell, each count is the database's own.
    let (_, cells) = get(&state, &token, "/api/v1/analysis/aggregates?unit=grid-cell").await;
    let by_code: HashMap<String, i64> = sqlx::query_as::<_, (String, i64)>(
        "SELECT g.code, count(i.id) FROM grid_cell g LEFT JOIN incident i ON i.grid_cell_id = g.id
         GROUP BY g.code",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    for f in features(&cells) {
        let code = f["properties"]["code"].as_str().unwrap();
        assert_eq!(
            f["properties"]["count"].as_i64(),
            by_code.get(code).copied()
        );
    }
    // The filters narrow the counts exactly as the database does.
    let (_, major) = get(
        &state,
        &token,
        "/api/v1/analysis/aggregates?unit=h3:8&severity=major,critical&status=open",
    )
    .await;
    let expected = scalar(
        &db,
        "SELECT count(*) FROM incident WHERE geom IS NOT NULL
           AND severity IN ('major', 'critical')
           AND status IN ('reported', 'assigned', 'accepted', 'in_progress')",
    )
    .await;
    assert_eq!(sum(&major, "count"), expected);
    assert!(expected > 0 && expected < placed);
}

#[tokio::test]
async fn a_grid_workers_hexagons_count_only_their_cells_cases() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let (cell_id, cell_code): (i64, String) = sqlx::query_as(
        "SELECT g.id, g.code FROM grid_cell g JOIN incident i ON i.grid_cell_id = g.id
         GROUP BY g.id ORDER BY count(*) DESC LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let worker = db
        .user_token("wk", Role::Worker, AreaCode::GridCell(cell_code))
        .await;
    let in_cell = sqlx::query_scalar::<_, i64>(
        "SELECT count(*) FROM incident WHERE grid_cell_id = $1 AND geom IS NOT NULL",
    )
    .bind(cell_id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let (status, answer) = get(&state, &worker, "/api/v1/analysis/aggregates?unit=h3:9").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(sum(&answer, "count"), in_cell);
    // The hexagon tiles say the same: each hexagon met in the tiles covering the cell at
    // zoom 12, counted once, adds up to the cell's cases.
    let (x0, y0, x1, y1): (f64, f64, f64, f64) = sqlx::query_as(
        "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)
         FROM grid_cell WHERE id = $1",
    )
    .bind(cell_id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let range =
        wangge_tiles::tiles_covering(&wangge_tiles::Bounds::new(x0, y0, x1, y1).unwrap(), 12)
            .unwrap();
    let mut hexagons: HashMap<u64, i64> = HashMap::new();
    for x in range.x_range() {
        for y in range.y_range() {
            let reply = call(
                &state,
                &worker,
                Method::GET,
                &format!("/tiles/hexagons/12/{x}/{y}"),
                None,
            )
            .await;
            assert_eq!(reply.status, StatusCode::OK);
            if reply.body.is_empty() {
                continue;
            }
            let reader = mvt_reader::Reader::new(reply.body.clone()).unwrap();
            for feature in reader.get_features_as::<i32>(0).unwrap() {
                let count = match feature.properties.as_ref().and_then(|p| p.get("count")) {
                    Some(mvt_reader::feature::Value::UInt(n)) => *n as i64,
                    Some(
                        mvt_reader::feature::Value::SInt(n) | mvt_reader::feature::Value::Int(n),
                    ) => *n,
                    other => panic!("a hexagon without a count: {other:?}"),
                };
                hexagons.insert(feature.id.unwrap(), count);
            }
        }
    }
    assert_eq!(hexagons.values().sum::<i64>(), in_cell);
    let township: String = sqlx::query_scalar(
        "SELECT t.code FROM grid_cell g JOIN admin_unit v ON v.id = g.village_id
         JOIN admin_unit t ON t.id = v.parent_id WHERE g.id = $1",
    )
    .bind(cell_id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let operator = db
        .user_token("op", Role::Operator, AreaCode::Unit(township))
        .await;
    let (_, wider) = get(&state, &operator, "/api/v1/analysis/aggregates?unit=h3:9").await;
    assert!(
        sum(&wider, "count") > in_cell,
        "the township holds more than one cell's cases"
    );
}

#[tokio::test]
async fn hotspots_bin_places_by_confidence_reproducibly() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = db.city_operator().await;
    let uri = "/api/v1/analysis/hotspots?unit=grid-cell&weights=queen&permutations=199&seed=7";
    let (status, first) = get(&state, &token, uri).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["weights"], "queen");
    assert_eq!(first["permutations"], 199);
    let (_, again) = get(&state, &token, uri).await;
    assert_eq!(first, again, "the same seed gives the same answer");
    let mut hot = 0;
    for f in features(&first) {
        let p = &f["properties"];
        let (z, bin) = (p["z"].as_f64().unwrap(), p["bin"].as_i64().unwrap());
        let p_sim = p["p_sim"].as_f64().unwrap();
        assert!((1.0 / 200.0..=1.0).contains(&p_sim));
        // A bin's sign is its z-score's, and a significant bin needs p_sim ≤ 0.10.
        if bin != 0 {
            assert_eq!(bin.signum(), z.signum() as i64, "{p}");
            assert!(p_sim <= 0.10, "{p}");
            assert!(p["grid_cell_code"].is_string() && p["village_name"].is_string());
        }
        hot += i64::from(bin > 0);
    }
    assert!(hot > 0, "the demo's busy town centre is a hot spot");
    // Hexagons take H3 rings by default, and significant ones are named by their place.
    let (status, hexagons) = get(
        &state,
        &token,
        "/api/v1/analysis/hotspots?unit=h3:8&permutations=99",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{hexagons}");
    assert_eq!(hexagons["weights"], "ring:1");
    let named = features(&hexagons)
        .iter()
        .filter(|f| f["properties"]["bin"].as_i64() > Some(0))
        .filter(|f| f["properties"]["village_name"].is_string())
        .count();
    assert!(named > 0);
    // Local Moran's I: quadrants follow the value and its neighbours' against the mean.
    let (status, moran) = get(
        &state,
        &token,
        "/api/v1/analysis/local-moran?unit=village&permutations=99",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{moran}");
    let counts: Vec<f64> = features(&moran)
        .iter()
        .map(|f| f["properties"]["count"].as_f64().unwrap())
        .collect();
    let mean = counts.iter().sum::<f64>() / counts.len() as f64;
    for f in features(&moran) {
        let p = &f["properties"];
        let quadrant = p["quadrant"].as_str().unwrap();
        let high = p["count"].as_f64().unwrap() > mean;
        assert!(
            (high && (quadrant == "HH" || quadrant == "HL"))
                || (!high && (quadrant == "LL" || quadrant == "LH")),
            "{p}"
        );
    }
}

#[tokio::test]
async fn bad_analysis_requests_are_400_problems() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = db.city_operator().await;
    for uri in [
        "/api/v1/analysis/aggregates?unit=h3:12",
        "/api/v1/analysis/aggregates?unit=parish",
        "/api/v1/analysis/aggregates?severity=huge",
        "/api/v1/analysis/aggregates?weights=queen",
        "/api/v1/analysis/hotspots?unit=grid-cell&weights=ring:1",
        "/api/v1/analysis/hotspots?weights=knn:0",
        "/api/v1/analysis/hotspots?permutations=100000",
        "/api/v1/analysis/hotspots?since=2026-10-01T00:00:00Z&until=2026-09-01T00:00:00Z",
        "/api/v1/analysis/emerging?steps=2",
        "/api/v1/analysis/emerging?step=decade",
        "/api/v1/analysis/emerging?permutations=9",
        "/api/v1/analysis/hotspots?unit=h3:9&colour=red",
    ] {
        let reply = call(&state, &token, Method::GET, uri, None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(reply.content_type(), "application/problem+json", "{uri}");
        assert!(
            reply.json()["detail"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{uri}"
        );
    }
    let reply = common::send(
        &state,
        axum::http::Request::get("/api/v1/analysis/hotspots")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

/// Cases planted in one grid cell in the last month make it a new or intensifying hot spot
/// in the last step, and the trend of that cell is up.
#[tokio::test]
async fn planted_cases_make_an_emerging_hot_spot() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = db.city_operator().await;
    let until = common::reference_time();
    let (cell, code): (i64, String) =
        sqlx::query_as("SELECT id, code FROM grid_cell ORDER BY code OFFSET 40 LIMIT 1")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    common::plant_cases(&db, cell, until, 80).await;
    let (status, answer) = get(
        &state,
        &token,
        &format!(
            "/api/v1/analysis/emerging?unit=grid-cell&step=month&steps=12&until={}",
            until.to_rfc3339().replace('+', "%2B")
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["steps"].as_array().unwrap().len(), 12);
    let planted = features(&answer)
        .iter()
        .find(|f| f["properties"]["code"] == code.as_str())
        .expect("the cell is in the answer");
    let p = &planted["properties"];
    let bins = p["bins"].as_array().unwrap();
    assert_eq!(bins.len(), 12);
    assert!(bins.last().unwrap().as_i64().unwrap() > 0, "{p}");
    assert!(
        p["counts"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .as_f64()
            .unwrap()
            >= 80.0
    );
    let category = p["category"].as_str().unwrap();
    assert!(
        category.ends_with("-hot-spot") && category != "historical-hot-spot",
        "{category}"
    );
}

/// A 4×4 lattice of squares with a high corner: the answer's z-scores are Ord and Getis's
/// formula with queen weights, computed here from the lattice directly.
fn lattice() -> (Value, Vec<f64>) {
    let values = [
        9.0, 8.0, 2.0, 1.0, //
        7.0, 6.0, 1.0, 0.0, //
        2.0, 1.0, 1.0, 2.0, //
        1.0, 0.0, 2.0, 1.0,
    ];
    // Neighbours share corners computed once per grid point, so their coordinates are equal
    // to the bit, as in a file written by a GIS.
    let corner = |i: i32, j: i32| [102.5 + f64::from(i) * 0.01, 24.3 + f64::from(j) * 0.01];
    let features: Vec<Value> = (0..16)
        .map(|k| {
            let (c, r) = (k % 4, k / 4);
            json!({
                "type": "Feature", "id": format!("sq{k}"),
                "properties": { "load": values[k as usize] },
                "geometry": { "type": "Polygon", "coordinates": [[
                    corner(c, r), corner(c + 1, r), corner(c + 1, r + 1), corner(c, r + 1),
                    corner(c, r)]] }
            })
        })
        .collect();
    let n = 16.0;
    let mean = values.iter().sum::<f64>() / n;
    let s = (values.iter().map(|v| v * v).sum::<f64>() / n - mean * mean).sqrt();
    let z = (0..16i32)
        .map(|k| {
            // Queen neighbours and the square itself, each weight 1.
            let (r, c) = (k / 4, k % 4);
            let mut lag = 0.0;
            let mut w = 0.0;
            for dr in -1..=1 {
                for dc in -1..=1 {
                    let (rr, cc) = (r + dr, c + dc);
                    if (0..4).contains(&rr) && (0..4).contains(&cc) {
                        lag += values[(rr * 4 + cc) as usize];
                        w += 1.0;
                    }
                }
            }
            (lag - mean * w) / (s * ((n * w - w * w) / (n - 1.0)).sqrt())
        })
        .collect();
    (
        json!({ "type": "FeatureCollection", "features": features }),
        z,
    )
}

#[tokio::test]
async fn gistar_answers_on_any_feature_collection_in_input_order() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = db.city_operator().await;
    let (collection, z) = lattice();
    let reply = call(
        &state,
        &token,
        Method::POST,
        "/api/v1/analysis/gistar?value=load&weights=queen&permutations=99&seed=3",
        Some(&collection),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let answer = reply.json();
    for (k, f) in features(&answer).iter().enumerate() {
        assert_eq!(f["id"], format!("sq{k}"), "input order");
        let got = f["properties"]["gi_z"].as_f64().unwrap();
        assert!((got - z[k]).abs() < 1e-9, "square {k}: {got} vs {}", z[k]);
        assert!(f["properties"]["gi_p_sim"].is_number());
        assert_eq!(
            f["properties"]["load"],
            collection["features"][k]["properties"]["load"]
        );
    }
    assert!(features(&answer)[0]["properties"]["gi_bin"].as_i64() > Some(0));
    // As CSV: a header and one row per feature, in input order.
    let reply = call(
        &state,
        &token,
        Method::POST,
        "/api/v1/analysis/gistar?value=load&weights=queen&permutations=0&format=csv",
        Some(&collection),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.content_type().starts_with("text/csv"));
    let text = String::from_utf8(reply.body.clone()).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows[0], "index,id,gi,z,p,p_sim,bin");
    assert_eq!(rows.len(), 17);
    assert!(rows[5].starts_with("4,sq4,"));
    // Bad input is a clear 4xx naming the feature.
    let mut broken = collection.clone();
    broken["features"][5]["properties"]["load"] = json!("many");
    for (uri, body, status) in [
        (
            "/api/v1/analysis/gistar?value=load&weights=queen",
            broken.clone(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/analysis/gistar?value=absent&weights=queen",
            collection.clone(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/analysis/gistar?value=load&weights=ring:1",
            collection.clone(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/analysis/gistar?value=load&weights=hexes",
            collection.clone(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/analysis/gistar?value=load&weights=queen&format=xml",
            collection.clone(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/analysis/gistar?value=load&weights=queen",
            json!({"type": "Point"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let reply = call(&state, &token, Method::POST, uri, Some(&body)).await;
        assert_eq!(
            reply.status,
            status,
            "{uri}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(reply.content_type(), "application/problem+json");
    }
    let reply = call(
        &state,
        &token,
        Method::POST,
        "/api/v1/analysis/gistar?value=load&weights=queen",
        Some(&broken),
    )
    .await;
    assert!(
        reply.json()["detail"]
            .as_str()
            .unwrap()
            .contains("feature 5"),
        "{}",
        reply.json()
    );
}

#[test]
fn the_cli_runs_gistar_on_a_file_without_a_database() {
    let (collection, z) = lattice();
    let dir = std::env::temp_dir().join(format!("wangge-gistar-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("lattice.geojson");
    std::fs::write(&file, collection.to_string()).unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wangge"))
            .args(["analyse", "gistar"])
            .arg(&file)
            .args(args)
            // Not reachable: the command must not need a database.
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
            .output()
            .unwrap()
    };
    let out = run(&[
        "--value",
        "load",
        "--weights",
        "queen",
        "--permutations",
        "0",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    for (k, f) in features(&answer).iter().enumerate() {
        assert!((f["properties"]["gi_z"].as_f64().unwrap() - z[k]).abs() < 1e-9);
    }
    let csv = run(&[
        "--value",
        "load",
        "--weights",
        "rook",
        "--format",
        "csv",
        "--seed",
        "5",
    ]);
    assert!(csv.status.success());
    let again = run(&[
        "--value",
        "load",
        "--weights",
        "rook",
        "--format",
        "csv",
        "--seed",
        "5",
    ]);
    assert_eq!(csv.stdout, again.stdout, "reproducible under a seed");
    assert_eq!(String::from_utf8_lossy(&csv.stdout).lines().count(), 17);
    let bad = run(&["--value", "load", "--weights", "knn:0"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("knn"));
    let missing = run(&["--value", "nothing", "--weights", "queen"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("feature 0"));
    std::fs::remove_dir_all(&dir).unwrap();
}
