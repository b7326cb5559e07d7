//! Incidents as the command centre reads them: filters checked against counts computed here,
//! the timeline, reporters hidden or masked by role with every reading audited, and the
//! headline figures.

use crate::common;

use axum::http::StatusCode;
use serde_json::json;
use wangge::auth::Role;
use wangge::auth::users::AreaCode;
use wangge::config::{Config, DatabaseConfig};

use common::{TestDb, get_as_bearer};

async fn state(db: &TestDb) -> wangge::AppState {
    db.state(Config::for_database(DatabaseConfig::External {
        url: db.url(),
    }))
    .await
}

async fn scalar(db: &TestDb, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&db.pool).await.unwrap()
}

#[tokio::test]
async fn list_filters_match_counts_computed_independently() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = db.city_operator().await;
    let cases = [
        ("", "SELECT count(*) FROM incident"),
        (
            "status=open",
            "SELECT count(*) FROM incident WHERE status IN ('reported', 'assigned', 'accepted', 'in_progress')",
        ),
        (
            "status=closed",
            "SELECT count(*) FROM incident WHERE status = 'closed'",
        ),
        (
            "tier=county",
            "SELECT count(*) FROM incident WHERE tier = 'county'",
        ),
        (
            "category=land",
            "SELECT count(*) FROM incident WHERE category = 'land'",
        ),
        (
            "overdue=true",
            "SELECT count(*) FROM incident WHERE status IN ('reported', 'assigned', 'accepted', 'in_progress') AND due_at < now()",
        ),
        (
            "status=open&tier=village&category=neighbour",
            "SELECT count(*) FROM incident WHERE status IN ('reported', 'assigned', 'accepted', 'in_progress') AND tier = 'village' AND category = 'neighbour'",
        ),
    ];
    for (query, sql) in cases {
        let (status, page) =
            get_as_bearer(&state, &token, &format!("/api/v1/incidents?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert_eq!(page["total"], scalar(&db, sql).await, "{query}");
        assert!(page["items"].as_array().unwrap().len() <= 50);
    }
    // Paging walks the same ordered list without overlap.
    let (_, first) = get_as_bearer(&state, &token, "/api/v1/incidents?limit=5").await;
    let (_, second) = get_as_bearer(&state, &token, "/api/v1/incidents?limit=5&offset=5").await;
    let ids = |p: &serde_json::Value| -> Vec<i64> {
        p["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(ids(&first).len(), 5);
    assert!(ids(&first).iter().all(|id| !ids(&second).contains(id)));
    // Search finds by id, and by words with LIKE's wildcards taken literally.
    let some_id = ids(&first)[0];
    let (_, by_id) = get_as_bearer(&state, &token, &format!("/api/v1/incidents?q={some_id}")).await;
    assert!(ids(&by_id).contains(&some_id));
    let (_, wildcard) = get_as_bearer(&state, &token, "/api/v1/incidents?q=%25").await;
    assert_eq!(wildcard["total"], 0);
    for bad in [
        "status=lost",
        "tier=galaxy",
        "tier=village,galaxy",
        "category=Land",
        "limit=0",
        "limit=201",
        "offset=-1",
        "area=abc",
        "since=yesterday",
        "colour=red",
    ] {
        let (status, problem) =
            get_as_bearer(&state, &token, &format!("/api/v1/incidents?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(problem["type"], "/problems/invalid-parameter", "{bad}");
    }
}

#[tokio::test]
async fn details_carry_the_timeline_and_reporters_only_for_roles_that_need_them() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let id: i64 = scalar(
        &db,
        "SELECT min(id) FROM incident WHERE reporter_name_enc IS NOT NULL",
    )
    .await;
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM incident_event WHERE incident_id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let city = AreaCode::Unit("530400".into());
    let operator = db.user_token("op", Role::Operator, city.clone()).await;
    let dispatcher = db.user_token("di", Role::Dispatcher, city.clone()).await;
    let uri = format!("/api/v1/incidents/{id}");

    let audit_before = db.count("audit_log").await;
    let (status, seen) = get_as_bearer(&state, &operator, &uri).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen["timeline"].as_array().unwrap().len() as i64, events);
    assert!(
        seen.get("reporter").is_none(),
        "an operator sees no reporter"
    );
    assert_eq!(
        db.count("audit_log").await,
        audit_before,
        "nothing personal was read"
    );
    let (status, _) = get_as_bearer(&state, &operator, &format!("{uri}?reveal=true")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (_, masked) = get_as_bearer(&state, &dispatcher, &uri).await;
    let phone = masked["reporter"]["phone"].as_str().unwrap();
    assert!(phone.contains("****") && phone.len() == 11, "{phone}");
    assert_eq!(masked["reporter"]["revealed"], false);
    let (_, revealed) = get_as_bearer(&state, &dispatcher, &format!("{uri}?reveal=true")).await;
    let full = revealed["reporter"]["phone"].as_str().unwrap();
    assert!(
        full.len() == 11 && full.bytes().all(|b| b.is_ascii_digit()),
        "{full}"
    );
    assert_eq!(&full[..3], &phone[..3]);
    assert_eq!(&full[7..], &phone[7..]);
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE id > (SELECT max(id) - 2 FROM audit_log) ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(actions, ["read_reporter", "reveal_reporter"]);
    assert_eq!(db.count("audit_log").await, audit_before + 2);
}

#[tokio::test]
async fn the_headline_counts_this_china_month_by_tier() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = db.city_operator().await;
    let (status, headline) = get_as_bearer(&state, &token, "/api/v1/stats/headline").await;
    assert_eq!(status, StatusCode::OK);
    let (resolved, low): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE resolved_tier IN ('village', 'township'))
         FROM incident
         WHERE resolved_at >= date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(headline["resolved_this_month"], resolved);
    assert_eq!(headline["resolved_at_township_or_below"], low);
    if resolved > 0 {
        let share = headline["share_at_township_or_below"].as_f64().unwrap();
        assert!((share - low as f64 / resolved as f64).abs() < 1e-12);
    }
    assert_eq!(
        headline["overdue"],
        scalar(&db, "SELECT count(*) FROM incident WHERE status IN ('reported', 'assigned', 'accepted', 'in_progress') AND due_at < now()").await
    );
    assert_eq!(
        headline["open_by_tier"]["township"],
        scalar(&db, "SELECT count(*) FROM incident WHERE status IN ('reported', 'assigned', 'accepted', 'in_progress') AND tier = 'township'").await
    );
    let (_, categories) = get_as_bearer(&state, &token, "/api/v1/incident-categories").await;
    assert_eq!(categories.as_array().unwrap().len(), 12);
    assert!(categories[0]["name_zh"].is_string() && categories[0]["name_en"].is_string());
}

#[tokio::test]
async fn a_grid_worker_moves_only_their_own_cases_not_a_colleagues_in_the_same_cell() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    // A case waiting in a cell with two workers, each with a sign-in of their own.
    let (case, cell, assignee, colleague): (i64, String, i64, i64) = sqlx::query_as(
        "SELECT i.id, g.code, min(wc.worker_id), max(wc.worker_id)
         FROM incident i JOIN grid_cell g ON g.id = i.grid_cell_id
         JOIN grid_worker_cell wc ON wc.grid_cell_id = g.id
         WHERE i.status = 'reported'
         GROUP BY i.id, g.code HAVING count(*) >= 2 ORDER BY i.id LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let mut tokens = Vec::new();
    for (name, worker) in [("assignee", assignee), ("colleague", colleague)] {
        tokens.push(
            db.user_token(name, Role::Worker, AreaCode::GridCell(cell.clone()))
                .await,
        );
        sqlx::query(
            "UPDATE grid_worker SET user_id = (SELECT id FROM app_user WHERE username = $1)
             WHERE id = $2",
        )
        .bind(name)
        .bind(worker)
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let (mine, theirs) = (&tokens[0], &tokens[1]);
    // Assigned to the first.
    sqlx::query("UPDATE grid_worker SET capacity = caseload + 5 WHERE id = $1")
        .bind(assignee)
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE incident SET status = 'assigned', assignee_id = $1 WHERE id = $2")
        .bind(assignee)
        .bind(case)
        .execute(&db.pool)
        .await
        .unwrap();
    let act = async |token: &str, action: &str| {
        let body = serde_json::json!({ "action": action });
        common::call(
            &state,
            token,
            axum::http::Method::POST,
            &format!("/api/v1/incidents/{case}/actions"),
            Some(&body),
        )
        .await
    };
    let status = async || -> String {
        sqlx::query_scalar("SELECT status::text FROM incident WHERE id = $1")
            .bind(case)
            .fetch_one(&db.pool)
            .await
            .unwrap()
    };
    // What each is offered is what the server then allows: the case panel shows only these.
    let offered = async |token: &str| -> Vec<String> {
        let (status, case) =
            get_as_bearer(&state, token, &format!("/api/v1/incidents/{case}")).await;
        assert_eq!(status, StatusCode::OK);
        case["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect()
    };
    for (step, after) in [
        ("accept", "accepted"),
        ("start", "in_progress"),
        ("resolve", "resolved"),
    ] {
        assert!(
            offered(mine).await.iter().any(|a| a == step),
            "assignee: {step}"
        );
        assert!(
            !offered(theirs).await.iter().any(|a| a == step),
            "colleague: {step}"
        );
        let refused = act(theirs, step).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "colleague: {step}");
        assert_eq!(refused.json()["type"], "/problems/forbidden");
        let reply = act(mine, step).await;
        assert_eq!(reply.status, StatusCode::OK, "assignee: {step}");
        assert_eq!(status().await, after);
    }
    // A dispatcher still moves anyone's case.
    let dispatcher = db
        .user_token("di", Role::Dispatcher, AreaCode::Unit("530400".into()))
        .await;
    assert_eq!(offered(&dispatcher).await, ["close", "reopen", "note"]);
    assert_eq!(act(&dispatcher, "close").await.status, StatusCode::OK);
    assert_eq!(offered(&dispatcher).await, ["note"]);
    assert_eq!(offered(mine).await, ["note"]);

    // The timeline names who did what: users by name and role, grid workers by name.
    let (_, details) =
        get_as_bearer(&state, &dispatcher, &format!("/api/v1/incidents/{case}")).await;
    let timeline = details["timeline"].as_array().unwrap();
    let by = |kind: &str| {
        let e = timeline.iter().rfind(|e| e["kind"] == kind).unwrap();
        (e["actor_name"].clone(), e["actor_role"].clone())
    };
    // A grid worker's sign-in by the worker's name, not the account's.
    let assignee_name: String = sqlx::query_scalar("SELECT name FROM grid_worker WHERE id = $1")
        .bind(assignee)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(by("accepted"), (json!(assignee_name), json!("worker")));
    assert_eq!(by("closed"), (json!("di"), json!("dispatcher")));
    let (worker_case, worker_name): (i64, String) = sqlx::query_as(
        "SELECT e.incident_id, w.name FROM incident_event e
         JOIN grid_worker w ON e.actor = 'grid_worker:' || w.id ORDER BY e.id LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let (_, details) = get_as_bearer(
        &state,
        &dispatcher,
        &format!("/api/v1/incidents/{worker_case}"),
    )
    .await;
    let event = details["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["actor"].as_str().unwrap().starts_with("grid_worker:"))
        .unwrap()
        .clone();
    assert_eq!(event["actor_name"], worker_name.as_str());
    assert_eq!(event["actor_role"], "grid_worker");
}

#[tokio::test]
async fn a_report_form_sees_its_possible_duplicates_before_sending() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let operator = db.city_operator().await;
    // A first caller's report, placed on the map.
    let (category, lon, lat, township): (String, f64, f64, String) = sqlx::query_as(
        "SELECT 'neighbour', ST_X(p), ST_Y(p), t.code
         FROM (SELECT ST_PointOnSurface(g.geom) AS p, v.parent_id FROM grid_cell g
               JOIN grid_plan pl ON pl.id = g.plan_id AND pl.status = 'published'
               JOIN admin_unit v ON v.id = g.village_id ORDER BY g.code LIMIT 1) c
         JOIN admin_unit t ON t.id = c.parent_id",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let report = async |lon: f64| {
        let reply = common::call(
            &state,
            &operator,
            axum::http::Method::POST,
            "/api/v1/incidents",
            Some(&json!({
                "category": category, "severity": "minor", "description": "邻居噪音扰民",
                "location": {"lon": lon, "lat": lat}
            })),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED);
        reply.json()
    };
    let id = report(lon).await["id"].as_i64().unwrap();
    let ask = async |token: &str, category: &str, lon: f64, lat: f64| {
        get_as_bearer(
            &state,
            token,
            &format!(
                "/api/v1/incidents/possible-duplicates?category={category}&lon={lon}&lat={lat}"
            ),
        )
        .await
    };
    // About 20 m away: found, with its distance and what the list shows of it.
    let (status, near) = ask(&operator, &category, lon + 0.0002, lat).await;
    assert_eq!(status, StatusCode::OK, "{near}");
    let items = near["items"].as_array().unwrap();
    let found = items
        .iter()
        .find(|i| i["id"] == id)
        .expect("the case nearby");
    let d = found["distance_m"].as_f64().unwrap();
    assert!((15.0..25.0).contains(&d), "{d} m");
    assert_eq!(found["status"], "reported");
    assert!(found["title"].is_string());
    assert!(
        items
            .windows(2)
            .all(|w| w[0]["distance_m"].as_f64() <= w[1]["distance_m"].as_f64())
    );
    // What a report sent from there would be told: the same cases.
    let written = report(lon + 0.0002).await;
    let ids = |v: &serde_json::Value| -> Vec<i64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_i64().unwrap())
            .collect()
    };
    let listed: Vec<i64> = items.iter().map(|i| i["id"].as_i64().unwrap()).collect();
    assert_eq!(listed, ids(&written["possible_duplicates"]));
    // Another category there, or the same far away: nothing.
    let other: String = sqlx::query_scalar(
        "SELECT code FROM incident_category WHERE code <> $1 ORDER BY code LIMIT 1",
    )
    .bind(&category)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let (_, none) = ask(&operator, &other, lon, lat).await;
    assert!(
        none["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["id"] != id)
    );
    let (_, far) = ask(&operator, &category, lon + 0.5, lat).await;
    assert!(
        far["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["id"] != id)
    );
    // Someone of another township does not learn of it.
    let other_township: String = sqlx::query_scalar(
        "SELECT code FROM admin_unit WHERE level = 'township' AND code <> $1 ORDER BY code LIMIT 1",
    )
    .bind(&township)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let outsider = db
        .user_token("elsewhere", Role::Operator, AreaCode::Unit(other_township))
        .await;
    let (_, hidden) = ask(&outsider, &category, lon, lat).await;
    assert!(
        hidden["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["id"] != id)
    );
    // Bad input is a clear 4xx.
    assert_eq!(
        ask(&operator, &category, 200.0, lat).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        ask(&operator, "no-such", lon, lat).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}
