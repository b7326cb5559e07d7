//! Open311 GeoReport v2, checked field by field against the spec (wiki.open311.org/GeoReport_v2)
//! in both formats: services and their definitions, posting requests (by point, address and
//! address id), listing them with the spec's filters against counts computed here, tokens,
//! extended attributes, idempotent retries, and the spec's error shape.

use crate::common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use wangge::auth::Role;
use wangge::auth::users::AreaCode;
use wangge::config::{Config, DatabaseConfig};

use common::{Reply, TestDb, send};

async fn state(db: &TestDb) -> wangge::AppState {
    db.state(Config::for_database(DatabaseConfig::External {
        url: db.url(),
    }))
    .await
}

async fn get(state: &wangge::AppState, uri: &str) -> Reply {
    send(state, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn post_form(
    state: &wangge::AppState,
    uri: &str,
    form: &[(&str, &str)],
    key: Option<&str>,
) -> Reply {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut request =
        Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    send(state, request.body(Body::from(body)).unwrap()).await
}

/// A W3C date-time with an explicit offset, as the spec requires.
fn is_w3c(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok() && s.ends_with("+08:00"))
}

async fn point_in_a_cell(db: &TestDb) -> (f64, f64) {
    sqlx::query_as(
        "SELECT ST_X(p), ST_Y(p) FROM grid_cell g
         CROSS JOIN LATERAL ST_PointOnSurface(g.geom) AS p ORDER BY g.id OFFSET 30 LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn services_and_their_definitions_follow_the_spec_in_json_and_xml() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let categories: Vec<(String, String)> =
        sqlx::query_as("SELECT code, name_zh FROM incident_category ORDER BY code")
            .fetch_all(&db.pool)
            .await
            .unwrap();

    let reply = get(&state, "/open311/v2/services.json").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.content_type().starts_with("application/json"));
    let services = reply.json();
    let services = services.as_array().unwrap();
    assert_eq!(services.len(), categories.len());
    for (service, (code, name)) in services.iter().zip(&categories) {
        let keys: Vec<&str> = service
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for key in [
            "service_code",
            "service_name",
            "description",
            "metadata",
            "type",
            "keywords",
            "group",
        ] {
            assert!(keys.contains(&key), "{key} missing from {service}");
        }
        assert_eq!(service["service_code"], code.as_str());
        assert_eq!(service["service_name"], name.as_str());
        assert!(service["metadata"].is_boolean());
        assert!(["realtime", "batch", "blackbox"].contains(&service["type"].as_str().unwrap()));
    }

    let reply = get(&state, "/open311/v2/services.xml").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.content_type().starts_with("text/xml"));
    let text = String::from_utf8(reply.body.clone()).unwrap();
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    let doc = roxmltree::Document::parse(&text).unwrap();
    assert_eq!(doc.root_element().tag_name().name(), "services");
    let codes: Vec<&str> = doc
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("service"))
        .map(|s| {
            s.children()
                .find(|c| c.has_tag_name("service_code"))
                .unwrap()
                .text()
                .unwrap()
        })
        .collect();
    assert_eq!(
        codes,
        categories.iter().map(|c| c.0.as_str()).collect::<Vec<_>>()
    );

    let definition = get(&state, "/open311/v2/services/land.json").await.json();
    assert_eq!(definition["service_code"], "land");
    let attribute = &definition["attributes"][0];
    assert_eq!(attribute["code"], "severity");
    assert_eq!(attribute["variable"], true);
    assert_eq!(attribute["datatype"], "singlevaluelist");
    assert!(attribute["required"].is_boolean());
    assert!(attribute["order"].is_number());
    let keys: Vec<&str> = attribute["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["minor", "moderate", "major", "critical"]);
    let xml = get(&state, "/open311/v2/services/land.xml").await;
    let text = String::from_utf8(xml.body).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    assert_eq!(doc.root_element().tag_name().name(), "service_definition");
    let values = doc
        .descendants()
        .filter(|n| n.has_tag_name("value"))
        .count();
    assert_eq!(values, 4);

    let missing = get(&state, "/open311/v2/services/ufo.json").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()[0]["code"], 404);
    assert!(missing.json()[0]["description"].is_string());
}

#[tokio::test]
async fn a_posted_request_is_an_incident_readable_by_id_and_by_token() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let api_key = db
        .user_token("app-12345", Role::Operator, AreaCode::Unit("530400".into()))
        .await;
    let (lon, lat) = point_in_a_cell(&db).await;
    let (lon_s, lat_s) = (lon.to_string(), lat.to_string());
    let reply = post_form(
        &state,
        "/open311/v2/requests.json",
        &[
            ("api_key", &api_key),
            ("jurisdiction_id", "530400"),
            ("service_code", "environment"),
            ("lat", &lat_s),
            ("long", &lon_s),
            ("description", "河道有人倾倒垃圾，气味难闻"),
            ("first_name", "小红"),
            ("last_name", "李"),
            ("phone", "13900001111"),
            ("attribute[severity]", "major"),
            ("account_id", "citizen-88"),
            ("media_url", "https://media.example.org/open311/7.jpg"),
        ],
        None,
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let created = reply.json();
    let created = &created[0];
    let id = created["service_request_id"].as_str().unwrap().to_owned();
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(created["service_notice"].is_string());
    assert_eq!(created["account_id"], "citizen-88");

    // Stored as an incident of ours, routed, with the severity attribute and the reporter sealed.
    let (severity, channel, cell, name_enc): (String, String, Option<i64>, Vec<u8>) = sqlx::query_as(
        "SELECT severity::text, channel, grid_cell_id, reporter_name_enc FROM incident WHERE id = $1",
    )
    .bind(id.parse::<i64>().unwrap())
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((severity.as_str(), channel.as_str()), ("major", "open311"));
    assert!(cell.is_some());
    assert!(!String::from_utf8_lossy(&name_enc).contains("李小红"));

    let one = get(
        &state,
        &format!("/open311/v2/requests/{id}.json?api_key={api_key}"),
    )
    .await;
    assert_eq!(one.status, StatusCode::OK);
    let request = &one.json()[0];
    let spec_fields = [
        "service_request_id",
        "status",
        "status_notes",
        "service_name",
        "service_code",
        "description",
        "agency_responsible",
        "service_notice",
        "requested_datetime",
        "updated_datetime",
        "expected_datetime",
        "address",
        "address_id",
        "zipcode",
        "lat",
        "long",
        "media_url",
    ];
    for field in spec_fields {
        assert!(request.get(field).is_some(), "{field} missing");
    }
    assert_eq!(request["service_request_id"], id.as_str());
    assert_eq!(
        request["media_url"],
        "https://media.example.org/open311/7.jpg"
    );
    assert_eq!(request["status"], "open");
    assert_eq!(request["service_code"], "environment");
    assert_eq!(request["service_name"], "环境污染纠纷");
    assert!((request["lat"].as_f64().unwrap() - lat).abs() < 1e-9);
    assert!((request["long"].as_f64().unwrap() - lon).abs() < 1e-9);
    for field in [
        "requested_datetime",
        "updated_datetime",
        "expected_datetime",
    ] {
        assert!(is_w3c(&request[field]), "{field}: {}", request[field]);
    }
    assert!(
        request["agency_responsible"].as_str().unwrap().len() > 1,
        "the village holding it"
    );
    assert!(
        request.get("extended_attributes").is_none(),
        "only with extensions=true"
    );
    // Personal data never leaves through Open311.
    assert!(
        !one.body
            .windows("13900001111".len())
            .any(|w| w == b"13900001111")
    );

    let extended = get(
        &state,
        &format!("/open311/v2/requests/{id}.json?api_key={api_key}&extensions=true"),
    )
    .await
    .json();
    let extra = &extended[0]["extended_attributes"];
    assert_eq!(extra["tier"], "village");
    assert_eq!(extra["status"], "reported");
    assert!(extra.get("assignee_id").is_some());

    let by_token = get(
        &state,
        &format!("/open311/v2/tokens/{token}.json?api_key={api_key}"),
    )
    .await
    .json();
    assert_eq!(by_token[0]["service_request_id"], id.as_str());
    assert_eq!(by_token[0]["token"], token.as_str());

    let xml = get(
        &state,
        &format!("/open311/v2/requests/{id}.xml?api_key={api_key}"),
    )
    .await;
    let text = String::from_utf8(xml.body).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    assert_eq!(doc.root_element().tag_name().name(), "service_requests");
    let request = doc
        .root_element()
        .children()
        .find(|n| n.has_tag_name("request"))
        .unwrap();
    let field = |name: &str| {
        request
            .children()
            .find(|n| n.has_tag_name(name))
            .map(|n| n.text().unwrap_or(""))
    };
    for name in spec_fields {
        assert!(field(name).is_some(), "{name} missing from XML");
    }
    assert_eq!(field("service_request_id"), Some(id.as_str()));
    assert_eq!(field("status"), Some("open"));

    // Working notes stay inside; how the case ended reaches the citizen.
    let incident_id: i64 = id.parse().unwrap();
    let dispatcher = db
        .user_token(
            "dispatcher",
            Role::Dispatcher,
            AreaCode::Unit("530400".into()),
        )
        .await;
    for (action, note) in [
        ("note", "已联系反映人李小红 13900001111"),
        ("resolve", "已督促清理河道"),
    ] {
        let request = Request::post(format!("/api/v1/incidents/{incident_id}/actions"))
            .header(header::AUTHORIZATION, format!("Bearer {dispatcher}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                serde_json::json!({"action": action, "note": note}).to_string(),
            ))
            .unwrap();
        assert_eq!(
            send(&state, request).await.status,
            StatusCode::OK,
            "{action}"
        );
    }
    let after = get(
        &state,
        &format!("/open311/v2/requests/{id}.json?api_key={api_key}"),
    )
    .await;
    assert_eq!(after.json()[0]["status_notes"], "已督促清理河道");
    assert!(!String::from_utf8_lossy(&after.body).contains("13900001111"));

    // Resolved in our lifecycle is closed in the spec's, with no expected time any more.
    let again = after.json();
    assert_eq!(again[0]["status"], "closed");
    assert!(again[0]["expected_datetime"].is_null());
}

#[tokio::test]
async fn requests_are_posted_by_address_and_address_id_and_retried_idempotently() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let api_key = db
        .user_token("app", Role::Operator, AreaCode::Unit("530400".into()))
        .await;
    let (address_id, address, village): (i64, String, i64) = sqlx::query_as(
        "SELECT id, address, village_id FROM address_point ORDER BY id OFFSET 77 LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let id_text = address_id.to_string();
    let by_id = post_form(
        &state,
        "/open311/v2/requests.json",
        &[
            ("api_key", &api_key),
            ("service_code", "neighbour"),
            ("address_id", &id_text),
            ("description", "噪音"),
        ],
        None,
    )
    .await;
    assert_eq!(
        by_id.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&by_id.body)
    );
    let incident: i64 = by_id.json()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let (stored_address, stored_village, method): (String, i64, String) = sqlx::query_as(
        "SELECT address, village_id, location_method::text FROM incident WHERE id = $1",
    )
    .bind(incident)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        (stored_address.as_str(), stored_village, method.as_str()),
        (address.as_str(), village, "geocoded")
    );

    let form = [
        ("api_key", api_key.as_str()),
        ("service_code", "neighbour"),
        ("address_string", address.as_str()),
        ("description", "吵架"),
    ];
    let before = db.count("incident").await;
    let first = post_form(
        &state,
        "/open311/v2/requests.xml",
        &form,
        Some("app-retry-1"),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let retry = post_form(
        &state,
        "/open311/v2/requests.xml",
        &form,
        Some("app-retry-1"),
    )
    .await;
    assert_eq!(retry.body, first.body);
    assert_eq!(retry.headers["idempotent-replayed"], "true");
    assert_eq!(db.count("incident").await, before + 1);
    let text = String::from_utf8(first.body).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let created = doc
        .descendants()
        .find(|n| n.has_tag_name("service_request_id"))
        .unwrap()
        .text()
        .unwrap();
    let village_of: i64 = sqlx::query_scalar("SELECT village_id FROM incident WHERE id = $1")
        .bind(created.parse::<i64>().unwrap())
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        village_of, village,
        "the address string was geocoded to its village"
    );
}

#[tokio::test]
async fn list_filters_match_counts_computed_independently() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let api_key = db
        .user_token("app", Role::Operator, AreaCode::Unit("530400".into()))
        .await;
    // The demo's history ends before today; the window covers it explicitly.
    let all = "start_date=2024-01-01T00:00:00%2B08:00&end_date=2027-01-01T00:00:00%2B08:00";
    let cases = [
        (all.to_owned(), "SELECT count(*) FROM incident"),
        (
            format!("{all}&status=open"),
            "SELECT count(*) FROM incident WHERE status IN ('reported', 'assigned', 'accepted', 'in_progress')",
        ),
        (
            format!("{all}&status=closed"),
            "SELECT count(*) FROM incident WHERE status NOT IN ('reported', 'assigned', 'accepted', 'in_progress')",
        ),
        (
            format!("{all}&status=open,closed&service_code=land,debt"),
            "SELECT count(*) FROM incident WHERE category IN ('land', 'debt')",
        ),
        (
            "start_date=2026-10-01T00:00:00%2B08:00&end_date=2026-10-08T00:00:00%2B08:00"
                .to_owned(),
            "SELECT count(*) FROM incident WHERE reported_at >= '2026-10-01T00:00:00+08:00' AND reported_at <= '2026-10-08T00:00:00+08:00'",
        ),
        (
            String::new(),
            "SELECT count(*) FROM incident WHERE reported_at >= now() - interval '90 days'",
        ),
    ];
    for (query, sql) in cases {
        let expected: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&db.pool)
            .await
            .unwrap();
        let reply = get(
            &state,
            &format!("/open311/v2/requests.json?api_key={api_key}&{query}"),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{query}");
        let got = reply.json().as_array().unwrap().len() as i64;
        assert_eq!(got, expected.min(1000), "{query}");
    }
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM incident ORDER BY id LIMIT 3")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    // With ids, the other filters are ignored (the spec's rule).
    let reply = get(&state, &format!("/open311/v2/requests.json?api_key={api_key}&service_request_id={list}&status=open&service_code=none")).await.json();
    let mut got: Vec<i64> = reply
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["service_request_id"].as_str().unwrap().parse().unwrap())
        .collect();
    got.sort_unstable();
    assert_eq!(got, ids);
}

#[tokio::test]
async fn errors_take_the_specs_shape_and_write_nothing() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let api_key = db
        .user_token("app", Role::Operator, AreaCode::Unit("530400".into()))
        .await;
    let planner = db
        .user_token("planner", Role::Planner, AreaCode::Unit("530400".into()))
        .await;
    let (lon, lat) = point_in_a_cell(&db).await;
    let (lon, lat) = (lon.to_string(), lat.to_string());
    type Form<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(&str, Form, StatusCode)> = vec![
        (
            "no api_key",
            vec![("service_code", "land"), ("lat", &lat), ("long", &lon)],
            StatusCode::UNAUTHORIZED,
        ),
        (
            "bad api_key",
            vec![
                ("api_key", "nope"),
                ("service_code", "land"),
                ("lat", &lat),
                ("long", &lon),
            ],
            StatusCode::UNAUTHORIZED,
        ),
        (
            "a role that does not report",
            vec![
                ("api_key", &planner),
                ("service_code", "land"),
                ("lat", &lat),
                ("long", &lon),
            ],
            StatusCode::FORBIDDEN,
        ),
        (
            "no service_code",
            vec![("api_key", &api_key), ("lat", &lat), ("long", &lon)],
            StatusCode::BAD_REQUEST,
        ),
        (
            "unknown service_code",
            vec![
                ("api_key", &api_key),
                ("service_code", "ufo"),
                ("lat", &lat),
                ("long", &lon),
            ],
            StatusCode::BAD_REQUEST,
        ),
        (
            "no location",
            vec![("api_key", &api_key), ("service_code", "land")],
            StatusCode::BAD_REQUEST,
        ),
        (
            "lat without long",
            vec![
                ("api_key", &api_key),
                ("service_code", "land"),
                ("lat", &lat),
            ],
            StatusCode::BAD_REQUEST,
        ),
        (
            "lat not a number",
            vec![
                ("api_key", &api_key),
                ("service_code", "land"),
                ("lat", "north"),
                ("long", &lon),
            ],
            StatusCode::BAD_REQUEST,
        ),
        (
            "outside the city",
            vec![
                ("api_key", &api_key),
                ("service_code", "land"),
                ("lat", "39.9"),
                ("long", "116.4"),
            ],
            StatusCode::BAD_REQUEST,
        ),
        (
            "unknown attribute",
            vec![
                ("api_key", &api_key),
                ("service_code", "land"),
                ("lat", &lat),
                ("long", &lon),
                ("attribute[colour]", "red"),
            ],
            StatusCode::BAD_REQUEST,
        ),
        (
            "bad severity",
            vec![
                ("api_key", &api_key),
                ("service_code", "land"),
                ("lat", &lat),
                ("long", &lon),
                ("attribute[severity]", "huge"),
            ],
            StatusCode::BAD_REQUEST,
        ),
        (
            "other jurisdiction",
            vec![
                ("api_key", &api_key),
                ("jurisdiction_id", "110000"),
                ("service_code", "land"),
                ("lat", &lat),
                ("long", &lon),
            ],
            StatusCode::BAD_REQUEST,
        ),
        (
            "unknown address_id",
            vec![
                ("api_key", &api_key),
                ("service_code", "land"),
                ("address_id", "999999999"),
            ],
            StatusCode::BAD_REQUEST,
        ),
    ];
    let before = [
        db.count("incident").await,
        db.count("incident_event").await,
        db.count("idempotency_key").await,
    ];
    for (what, form, status) in cases {
        for format in ["json", "xml"] {
            let reply = post_form(
                &state,
                &format!("/open311/v2/requests.{format}"),
                &form,
                Some(what),
            )
            .await;
            assert_eq!(
                reply.status,
                status,
                "{what} ({format}): {}",
                String::from_utf8_lossy(&reply.body)
            );
            if format == "json" {
                let errors = reply.json();
                assert_eq!(errors[0]["code"], status.as_u16(), "{what}");
                assert!(!errors[0]["description"].as_str().unwrap().is_empty());
            } else {
                let text = String::from_utf8(reply.body).unwrap();
                let doc = roxmltree::Document::parse(&text).unwrap();
                assert_eq!(doc.root_element().tag_name().name(), "errors");
                let code = doc
                    .descendants()
                    .find(|n| n.has_tag_name("code"))
                    .unwrap()
                    .text()
                    .unwrap();
                assert_eq!(code, status.as_u16().to_string());
            }
        }
    }
    let after = [
        db.count("incident").await,
        db.count("incident_event").await,
        db.count("idempotency_key").await,
    ];
    assert_eq!(after, before);
    // Reading needs a key too, and bad filters are 400s.
    assert_eq!(
        get(&state, "/open311/v2/requests.json").await.status,
        StatusCode::UNAUTHORIZED
    );
    for query in [
        "status=pending",
        "start_date=yesterday",
        "start_date=2026-02-01T00:00:00Z&end_date=2026-01-01T00:00:00Z",
    ] {
        let reply = get(
            &state,
            &format!("/open311/v2/requests.json?api_key={api_key}&{query}"),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.json()[0]["code"], 400);
    }
    assert_eq!(
        get(&state, "/open311/v2/requests.csv").await.status,
        StatusCode::NOT_FOUND
    );
}
