//! The HTTP API, driven in-process against a real PostGIS.

use crate::common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use wangge::app;
use wangge::config::{Config, DatabaseConfig};

use common::{Reply, TestDb};

/// A GET as the given bearer token (or none).
async fn get_as(db: &TestDb, token: Option<&str>, uri: &str) -> Reply {
    let mut builder = Request::get(uri);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request(db, builder.body(Body::empty()).unwrap()).await
}

/// A GET as a city-wide operator.
async fn get(db: &TestDb, uri: &str) -> Reply {
    get_as(db, Some(&operator_token(db).await), uri).await
}

/// A bearer token of a city-wide operator.
async fn operator_token(db: &TestDb) -> String {
    match sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM app_user WHERE username = 'operator')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap()
    {
        // One operator per test database, signed in afresh for each request.
        true => {
            wangge::auth::session::sign_in(
                &db.pool,
                "operator",
                common::PASSWORD,
                wangge::auth::session::SessionKind::Bearer,
                "test",
                &Default::default(),
                &wangge::audit::RequestMeta::cli(),
            )
            .await
            .unwrap()
            .token
        }
        false => db.city_operator().await,
    }
}

async fn request(db: &TestDb, request: Request<Body>) -> Reply {
    let config = Config::for_database(DatabaseConfig::External { url: db.url() });
    send(db.state(config).await, request).await
}

async fn send(state: wangge::AppState, request: Request<Body>) -> Reply {
    common::send(&state, request).await
}

/// A problem+json reply with the given status and stable type.
fn assert_problem(reply: &Reply, status: StatusCode, slug: &str) {
    assert_eq!(
        reply.status,
        status,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.content_type(), "application/problem+json");
    let problem = reply.json();
    assert_eq!(problem["type"], format!("/problems/{slug}"));
    assert_eq!(problem["status"], status.as_u16());
    assert!(problem["title"].is_string());
}

fn features(reply: &Reply) -> Vec<Value> {
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.content_type(), "application/geo+json");
    let collection = reply.json();
    assert_eq!(collection["type"], "FeatureCollection");
    collection["features"].as_array().unwrap().clone()
}

#[tokio::test]
async fn health_and_readiness() {
    let db = TestDb::empty().await;
    let reply = get_as(&db, None, "/healthz").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["status"], "ok");
    let reply = get_as(&db, None, "/readyz").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["status"], "ready");
}

#[tokio::test]
async fn readiness_fails_cleanly_when_the_database_is_gone() {
    let db = TestDb::empty().await;
    let state = db
        .state(Config::for_database(DatabaseConfig::External {
            url: db.url(),
        }))
        .await;
    state.pool.close().await;
    let reply = send(state, Request::get("/readyz").body(Body::empty()).unwrap()).await;
    assert_problem(&reply, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    let text = String::from_utf8_lossy(&reply.body);
    assert!(
        !text.contains("Pool"),
        "a 5xx body never carries internals: {text}"
    );
    // The same for every request while the database is down: it says so, and when to retry.
    assert_eq!(reply.json()["detail"], "the database is unavailable");
    assert_eq!(reply.headers[header::RETRY_AFTER], "2");
}

#[tokio::test]
async fn admin_units_by_level_are_rfc7946_features_with_names_and_parents() {
    let db = TestDb::small_demo().await;
    let counties = features(&get(&db, "/api/v1/admin-units?level=county").await);
    assert_eq!(counties.len(), 1);
    let hongta = &counties[0];
    assert_eq!(hongta["id"], "530402");
    assert_eq!(hongta["properties"]["name"], "红塔区");
    assert_eq!(hongta["properties"]["level"], "county");
    assert_eq!(hongta["properties"]["parent_code"], "530400");
    assert_eq!(hongta["geometry"]["type"], "MultiPolygon");
    // RFC 7946: longitude first, outer rings counter-clockwise.
    let ring = hongta["geometry"]["coordinates"][0][0].as_array().unwrap();
    let first = ring[0].as_array().unwrap();
    let (lon, lat) = (first[0].as_f64().unwrap(), first[1].as_f64().unwrap());
    assert!(
        (101.0..104.0).contains(&lon) && (23.0..26.0).contains(&lat),
        "lon/lat order: {lon},{lat}"
    );
    let signed_area: f64 = ring
        .windows(2)
        .map(|w| {
            let (a, b) = (w[0].as_array().unwrap(), w[1].as_array().unwrap());
            a[0].as_f64().unwrap() * b[1].as_f64().unwrap()
                - b[0].as_f64().unwrap() * a[1].as_f64().unwrap()
        })
        .sum();
    assert!(signed_area > 0.0, "outer ring is counter-clockwise");

    let townships = features(&get(&db, "/api/v1/admin-units?level=township").await);
    assert_eq!(townships.len(), db_count(&db, "township").await);
    assert_eq!(
        townships.len(),
        11,
        "红塔区 has 11 townships/streets in the 2023 list"
    );
    assert!(
        townships
            .iter()
            .all(|t| t["properties"]["parent_code"] == "530402")
    );
    let villages = features(&get(&db, "/api/v1/admin-units?level=village").await);
    assert_eq!(villages.len(), 105);
    assert!(
        villages
            .iter()
            .any(|v| v["properties"]["name"] == "荷花社区居民委员会")
    );
}

async fn db_count(db: &TestDb, level: &str) -> usize {
    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM admin_unit WHERE level = $1::admin_level")
        .bind(level)
        .fetch_one(&db.pool)
        .await
        .unwrap() as usize
}

#[tokio::test]
async fn bbox_selects_what_intersects_it() {
    let db = TestDb::small_demo().await;
    // A small box around one grid cell's interior point.
    let (lon, lat): (f64, f64) = sqlx::query_as(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid_cell ORDER BY code LIMIT 1) s",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let bbox = format!(
        "{},{},{},{}",
        lon - 0.0001,
        lat - 0.0001,
        lon + 0.0001,
        lat + 0.0001
    );
    let expected: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM grid_cell WHERE geom && ST_MakeEnvelope($1, $2, $3, $4, 4326)",
    )
    .bind(lon - 0.0001)
    .bind(lat - 0.0001)
    .bind(lon + 0.0001)
    .bind(lat + 0.0001)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let cells = features(&get(&db, &format!("/api/v1/grid-cells?bbox={bbox}")).await);
    assert!(!cells.is_empty());
    assert_eq!(cells.len() as i64, expected);
    let all = features(&get(&db, "/api/v1/grid-cells").await);
    assert_eq!(all.len() as i64, db.count("grid_cell").await);
    assert!(cells.len() < all.len());
    let cell = &all[0];
    for key in ["code", "name", "village_code", "plan_version"] {
        assert!(!cell["properties"][key].is_null(), "grid cell has {key}");
    }
    // Outside the city: nothing.
    let none = features(&get(&db, "/api/v1/admin-units?level=village&bbox=0,0,1,1").await);
    assert!(none.is_empty());
}

#[tokio::test]
async fn grid_cells_of_an_unknown_plan_are_404() {
    let db = TestDb::small_demo().await;
    assert_problem(
        &get(&db, "/api/v1/grid-cells?plan=99").await,
        StatusCode::NOT_FOUND,
        "not-found",
    );
    let plan1 = features(&get(&db, "/api/v1/grid-cells?plan=1").await);
    assert_eq!(plan1.len() as i64, db.count("grid_cell").await);
}

#[tokio::test]
async fn facilities_filter_by_kind() {
    let db = TestDb::small_demo().await;
    let all = features(&get(&db, "/api/v1/facilities").await);
    assert_eq!(all.len() as i64, db.count("facility").await);
    let centres = features(&get(&db, "/api/v1/facilities?kind=governance_centre").await);
    assert_eq!(centres.len(), 11, "one governance centre per township");
    assert!(centres.iter().all(|f| {
        f["properties"]["kind"] == "governance_centre"
            && f["geometry"]["type"] == "Point"
            && f["properties"]["name"]
                .as_str()
                .unwrap()
                .ends_with("综治维稳信访中心")
    }));
}

#[tokio::test]
async fn summary_counts_every_kind_of_record() {
    let db = TestDb::small_demo().await;
    let token = operator_token(&db).await;
    // One server for both calls, as in production: what it keeps between them is tested too.
    let state = db
        .state(Config::for_database(DatabaseConfig::External {
            url: db.url(),
        }))
        .await;
    let summary_now = async || {
        let request = Request::get("/api/v1/stats/summary")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        send(state.clone(), request).await
    };
    let reply = summary_now().await;
    assert_eq!(reply.status, StatusCode::OK);
    let summary = reply.json();
    assert_eq!(summary["admin_units"]["county"], 1);
    assert_eq!(summary["admin_units"]["township"], 11);
    assert_eq!(summary["admin_units"]["village"], 105);
    for (key, table) in [
        ("grid_cells", "grid_cell"),
        ("households", "household"),
        ("residents", "resident"),
        ("facilities", "facility"),
        ("grid_workers", "grid_worker"),
        ("incidents", "incident"),
        ("incident_events", "incident_event"),
    ] {
        assert_eq!(summary[key], db.count(table).await, "{key}");
    }
    assert!(summary["households"].as_i64().unwrap() > 100_000);

    // Households, residents and facilities are kept between calls: a new household with
    // its resident and a new facility are counted on the next call all the same.
    sqlx::query(
        "WITH v AS (SELECT id FROM admin_unit WHERE level = 'village' ORDER BY code LIMIT 1),
              h AS (INSERT INTO household (address, size, village_id, geom)
                    SELECT '新户 1 号', 1, id, ST_SetSRID(ST_MakePoint(102.5, 24.3), 4326) FROM v
                    RETURNING id),
              r AS (INSERT INTO resident (household_id, name) SELECT id, '新住户' FROM h)
         INSERT INTO facility (kind, name, admin_unit_id, geom)
         SELECT 'police_station', '新派出所', id, ST_SetSRID(ST_MakePoint(102.5, 24.3), 4326)
         FROM v",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let again = summary_now().await.json();
    for key in ["households", "residents", "facilities"] {
        assert_eq!(
            again[key].as_i64().unwrap(),
            summary[key].as_i64().unwrap() + 1,
            "{key}"
        );
    }
}

#[tokio::test]
async fn bad_parameters_are_400_problems_never_500() {
    let db = TestDb::small_demo().await;
    for uri in [
        "/api/v1/admin-units",
        "/api/v1/admin-units?level=province",
        "/api/v1/admin-units?level=county&bbox=1,2,3",
        "/api/v1/admin-units?level=county&bbox=24.0,102.1,24.8,102.9",
        "/api/v1/admin-units?level=county&bbox=NaN,1,2,3",
        "/api/v1/admin-units?level=county&bbox=3,0,1,1",
        "/api/v1/admin-units?level=county&colour=red",
        "/api/v1/grid-cells?plan=abc",
        "/api/v1/grid-cells?bbox=181,0,182,1",
        "/api/v1/facilities?kind=castle",
        "/api/v1/grid-cells?bbox=98,20,104,26",
        "/api/v1/grid-cells?limit=0",
        "/api/v1/grid-cells?limit=10001",
        "/api/v1/facilities?limit=-1",
    ] {
        assert_problem(
            &get(&db, uri).await,
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
        );
    }
}

/// Values PostgreSQL cannot hold (a year far outside its calendar, a NUL character) are
/// refused at the boundary as 400s, on every route that reads them; a body carrying a NUL is
/// refused and writes nothing.
#[tokio::test]
async fn times_out_of_range_and_nul_characters_are_400_not_500() {
    let db = TestDb::small_demo().await;
    let state = db.default_state().await;
    let operator = db.city_operator().await;
    let auditor = db
        .user_token(
            "shen",
            wangge::auth::Role::Auditor,
            wangge::auth::users::AreaCode::Unit("530400".into()),
        )
        .await;
    let far = "-200000-01-01T00:00:00Z";
    for (token, uri) in [
        (&operator, format!("/api/v1/incidents?since={far}")),
        (
            &operator,
            "/api/v1/incidents?until=%2B200000-01-01T00:00:00Z".to_owned(),
        ),
        (&operator, "/api/v1/incidents?q=%00".to_owned()),
        (
            &operator,
            "/api/v1/incidents?q=a%00b&status=open".to_owned(),
        ),
        (
            &operator,
            format!("/tiles/incidents/10/812/440?since={far}"),
        ),
        (
            &operator,
            "/tiles/incidents/10/812/440?category=%00".to_owned(),
        ),
        (
            &operator,
            "/api/v1/stats/resolution?by=county&from=-200000-01-01".to_owned(),
        ),
        (
            &operator,
            "/api/v1/stats/mediators?to=9999-12-31".to_owned(),
        ),
        (&operator, "/api/v1/geocode?q=%E7%8E%89%00".to_owned()),
        (&auditor, format!("/api/v1/audit?from={far}")),
        (&auditor, "/api/v1/audit?user=%00".to_owned()),
    ] {
        let (status, body) = common::get_as_bearer(&state, token, &uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_eq!(body["type"], "/problems/invalid-parameter", "{uri}");
    }
    // Open311 answers in the spec's shape, still a 400.
    for uri in [
        format!("/open311/v2/requests.json?api_key={operator}&start_date=-200000-01-01T00:00:00Z"),
        format!("/open311/v2/requests.json?api_key={operator}&status=%00"),
    ] {
        let (status, body) = common::get_as_bearer(&state, &operator, &uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
    }
    let before = db.count("incident").await;
    let reply = common::call(
        &state,
        &operator,
        axum::http::Method::POST,
        "/api/v1/incidents",
        Some(&serde_json::json!({
            "category": "neighbour", "severity": "minor", "description": "a\u{0}b",
            "location": { "lon": 102.55, "lat": 24.35 },
        })),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.json()["type"], "/problems/malformed-body");
    assert_eq!(db.count("incident").await, before, "nothing written");
}

#[tokio::test]
async fn answers_past_the_feature_cap_say_they_are_truncated() {
    let db = TestDb::small_demo().await;
    let cells = db.count("grid_cell").await;
    let whole = get(&db, "/api/v1/grid-cells").await;
    assert_eq!(features(&whole).len() as i64, cells);
    assert_eq!(whole.json()["numberReturned"], cells);
    assert_eq!(whole.json()["truncated"], false);

    let capped = get(&db, "/api/v1/grid-cells?limit=3").await;
    let first_three: Vec<Value> = features(&whole).into_iter().take(3).collect();
    assert_eq!(
        features(&capped),
        first_three,
        "the first three in code order"
    );
    assert_eq!(capped.json()["numberReturned"], 3);
    assert_eq!(capped.json()["truncated"], true);

    let exact = get(&db, &format!("/api/v1/grid-cells?limit={cells}")).await;
    assert_eq!(exact.json()["truncated"], false);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let db = TestDb::empty().await;
    assert_problem(
        &get_as(&db, None, "/api/v1/no-such-thing").await,
        StatusCode::NOT_FOUND,
        "not-found",
    );
    let post = Request::post("/api/v1/admin-units?level=county")
        .body(Body::empty())
        .unwrap();
    assert_problem(
        &request(&db, post).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
    );
}

#[tokio::test]
async fn responses_are_gzipped_for_clients_that_accept_it() {
    let db = TestDb::small_demo().await;
    let token = db.city_operator().await;
    let config = Config::for_database(DatabaseConfig::External { url: db.url() });
    let response = app(db.state(config).await)
        .oneshot(
            Request::get("/api/v1/grid-cells")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::ACCEPT_ENCODING, "gzip")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
}

#[tokio::test]
async fn the_built_map_client_is_served_at_the_root_for_any_page_path() {
    let db = TestDb::empty().await;
    let dir = std::env::temp_dir().join(format!("wangge-client-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><title>网格</title>").unwrap();
    let config = Config {
        client_dir: dir.clone(),
        ..Config::for_database(DatabaseConfig::External { url: db.url() })
    };
    for path in ["/", "/some/view"] {
        let response = app(db.state(config.clone()).await)
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert!(String::from_utf8_lossy(&body).contains("网格"));
    }
    // API paths are never answered with the page.
    let response = app(db.state(config).await)
        .oneshot(Request::get("/api/v1/nothing").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    std::fs::remove_dir_all(&dir).unwrap();
}
