//! Taking reports in and working them, on a real PostGIS with the small demo: placement and
//! routing checked against PostGIS's own answers, idempotent retries (sequential and racing),
//! every kind of bad report refused with nothing written, the lifecycle and its conflicts,
//! escalation when a deadline passes, duplicates suggested, addresses geocoded or left for a
//! dispatcher to place.

use crate::common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use wangge::auth::Role;
use wangge::auth::users::AreaCode;
use wangge::config::{Config, DatabaseConfig};
use wangge_analysis::sphere::MEAN_EARTH_RADIUS_M;

use common::{Reply, TestDb, call, send};

async fn state(db: &TestDb) -> wangge::AppState {
    state_with(db, |_| {}).await
}

async fn state_with(db: &TestDb, adjust: impl FnOnce(&mut Config)) -> wangge::AppState {
    let mut config = Config::for_database(DatabaseConfig::External { url: db.url() });
    adjust(&mut config);
    db.state(config).await
}

async fn post(
    state: &wangge::AppState,
    token: &str,
    uri: &str,
    body: &Value,
    key: Option<&str>,
) -> Reply {
    let mut request = Request::post(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    send(state, request.body(Body::from(body.to_string())).unwrap()).await
}

async fn dispatcher(db: &TestDb) -> String {
    db.user_token(
        "dispatcher",
        Role::Dispatcher,
        AreaCode::Unit("530400".into()),
    )
    .await
}

/// A point inside a published grid cell, as PostGIS places it: (lon, lat, cell code,
/// village code).
async fn point_in_a_cell(db: &TestDb, nth: i64) -> (f64, f64, String, String) {
    sqlx::query_as(
        "SELECT ST_X(p), ST_Y(p), g.code, v.code
         FROM grid_cell g JOIN grid_plan gp ON gp.id = g.plan_id AND gp.status = 'published'
         JOIN admin_unit v ON v.id = g.village_id
         CROSS JOIN LATERAL ST_PointOnSurface(g.geom) AS p
         ORDER BY g.id OFFSET $1 LIMIT 1",
    )
    .bind(nth)
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

fn report_at(lon: f64, lat: f64) -> Value {
    json!({
        "category": "neighbour",
        "severity": "moderate",
        "description": "两户因宅基地边界发生争执",
        "reporter": {"name": "王小明", "phone": "13812345678"},
        "location": {"lon": lon, "lat": lat, "accuracy_m": 8.0}
    })
}

/// Rows in every table a report writes to.
async fn written(db: &TestDb) -> [i64; 4] {
    [
        db.count("incident").await,
        db.count("incident_event").await,
        db.count("audit_log").await,
        db.count("idempotency_key").await,
    ]
}

#[tokio::test]
async fn a_located_report_lands_in_its_grid_cell_with_its_deadline() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = dispatcher(&db).await;
    let (lon, lat, cell, village) = point_in_a_cell(&db, 17).await;
    let before = written(&db).await;

    let mut sent = report_at(lon, lat);
    sent["media_url"] = json!("https://media.example.org/p/42.jpg");
    let reply = post(&state, &token, "/api/v1/incidents", &sent, None).await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let body = reply.json();
    let id = body["id"].as_i64().unwrap();
    assert_eq!(
        reply.headers[header::LOCATION],
        format!("/api/v1/incidents/{id}").as_str()
    );
    assert_eq!(body["grid_cell_code"], cell.as_str());
    assert_eq!(body["village_code"], village.as_str());
    assert_eq!(body["status"], "reported");
    assert_eq!(body["tier"], "village");
    assert_eq!(body["location_method"], "device");
    assert_eq!(body["location_precision_m"], 8.0);
    assert_eq!(body["channel"], "api");
    assert_eq!(body["media_url"], "https://media.example.org/p/42.jpg");
    assert_eq!(
        body["title"], "邻里纠纷",
        "the title defaults to the category's name"
    );
    // The answer does not echo the reporter back; reading it later shows it masked.
    assert!(body.get("reporter").is_none());
    let kinds: Vec<&str> = body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["reported"]);

    // Routing agrees with PostGIS's containment, unit by unit, and the deadline is the
    // village tier's for the category and severity.
    let (township_ok, county_ok, due_hours): (bool, bool, f64) = sqlx::query_as(
        "SELECT t.id = i.township_id AND ST_Intersects(t.geom, i.geom),
                c.id = i.county_id AND ST_Intersects(c.geom, i.geom),
                extract(epoch FROM i.due_at - i.reported_at)::float8 / 3600
         FROM incident i
         JOIN admin_unit v ON v.id = i.village_id
         JOIN admin_unit t ON t.id = v.parent_id
         JOIN admin_unit c ON c.id = t.parent_id
         WHERE i.id = $1",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(township_ok && county_ok);
    let expected: i32 = sqlx::query_scalar(
        "SELECT hours FROM incident_deadline
         WHERE category IS NULL AND severity = 'moderate' AND tier = 'village'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!((due_hours - f64::from(expected)).abs() < 1e-6);
    // One incident, one event, one audit row.
    let after = written(&db).await;
    assert_eq!(after[0] - before[0], 1);
    assert_eq!(after[1] - before[1], 1);
    assert_eq!(after[2] - before[2], 1);
    let (_, read) = common::get_as_bearer(&state, &token, &format!("/api/v1/incidents/{id}")).await;
    // The answer is built without reading the case back: it says what a later read says.
    for (field, value) in body.as_object().unwrap() {
        assert_eq!(
            &read[field], value,
            "the answer's `{field}` differs from a read"
        );
    }
    assert_eq!(read["reporter"]["revealed"], false);
    assert_eq!(read["reporter"]["phone"], "138****5678");
    assert_eq!(
        written(&db).await[2] - after[2],
        1,
        "reading the reporter is audited"
    );
    // The reporter is sealed at rest.
    let sealed: Vec<u8> =
        sqlx::query_scalar("SELECT reporter_phone_enc FROM incident WHERE id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(!String::from_utf8_lossy(&sealed).contains("13812345678"));
}

#[tokio::test]
async fn a_retried_report_with_the_same_key_is_answered_once() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = dispatcher(&db).await;
    let (lon, lat, _, _) = point_in_a_cell(&db, 3).await;
    let body = report_at(lon, lat);
    let before = db.count("incident").await;

    let first = post(
        &state,
        &token,
        "/api/v1/incidents",
        &body,
        Some("device-42-report-7"),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = post(
        &state,
        &token,
        "/api/v1/incidents",
        &body,
        Some("device-42-report-7"),
    )
    .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.json()["id"], first.json()["id"]);
    assert_eq!(
        again.headers[header::LOCATION],
        first.headers[header::LOCATION]
    );
    assert_eq!(db.count("incident").await, before + 1);

    // The same key with another report is refused, and writes nothing.
    let mut other = body.clone();
    other["description"] = json!("另一件事");
    let reused = post(
        &state,
        &token,
        "/api/v1/incidents",
        &other,
        Some("device-42-report-7"),
    )
    .await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reused.json()["type"], "/problems/idempotency-key-reused");
    assert_eq!(db.count("incident").await, before + 1);

    // Another user's identical key is theirs alone.
    let second_user = db
        .user_token(
            "dispatcher2",
            Role::Dispatcher,
            AreaCode::Unit("530400".into()),
        )
        .await;
    let theirs = post(
        &state,
        &second_user,
        "/api/v1/incidents",
        &body,
        Some("device-42-report-7"),
    )
    .await;
    assert_eq!(theirs.status, StatusCode::CREATED);
    assert_ne!(theirs.json()["id"], first.json()["id"]);

    // A key past its lifetime is forgotten, even before the sweeper removes it: the same
    // key then files a new report, and a retry of that one replays it.
    sqlx::query("UPDATE idempotency_key SET created_at = now() - interval '25 hours'")
        .execute(&db.pool)
        .await
        .unwrap();
    let anew = post(
        &state,
        &token,
        "/api/v1/incidents",
        &other,
        Some("device-42-report-7"),
    )
    .await;
    assert_eq!(anew.status, StatusCode::CREATED);
    assert!(anew.headers.get("idempotent-replayed").is_none());
    assert_ne!(anew.json()["id"], first.json()["id"]);
    let retried = post(
        &state,
        &token,
        "/api/v1/incidents",
        &other,
        Some("device-42-report-7"),
    )
    .await;
    assert_eq!(retried.headers["idempotent-replayed"], "true");
    assert_eq!(retried.json()["id"], anew.json()["id"]);
    assert_eq!(db.count("incident").await, before + 3);
}

#[tokio::test]
async fn racing_retries_with_one_key_create_one_incident() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = dispatcher(&db).await;
    let (lon, lat, _, _) = point_in_a_cell(&db, 5).await;
    let body = report_at(lon, lat);
    let before = db.count("incident").await;
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let (state, token, body) = (state.clone(), token.clone(), body.clone());
            tokio::spawn(async move {
                post(
                    &state,
                    &token,
                    "/api/v1/incidents",
                    &body,
                    Some("flaky-network-1"),
                )
                .await
            })
        })
        .collect();
    let mut ids = Vec::new();
    for attempt in attempts {
        let reply = attempt.await.unwrap();
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        ids.push(reply.json()["id"].as_i64().unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every attempt got the one incident");
    assert_eq!(db.count("incident").await, before + 1);
}

#[tokio::test]
async fn bad_reports_are_refused_and_write_nothing() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = dispatcher(&db).await;
    let (lon, lat, _, _) = point_in_a_cell(&db, 9).await;
    let good = report_at(lon, lat);
    let with = |path: &[&str], value: Value| {
        let mut body = good.clone();
        let mut at = &mut body;
        for key in &path[..path.len() - 1] {
            at = &mut at[*key];
        }
        at[path[path.len() - 1]] = value;
        body
    };
    let without_location = {
        let mut body = good.clone();
        body.as_object_mut().unwrap().remove("location");
        body
    };
    let cases: Vec<(&str, Value, StatusCode, &str)> = vec![
        (
            "no location",
            without_location,
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed-body",
        ),
        (
            "empty location",
            with(&["location"], json!({})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
        ),
        (
            "lon without lat",
            with(&["location"], json!({"lon": lon})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
        ),
        (
            "longitude off the globe",
            with(&["location", "lon"], json!(200.0)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
        ),
        (
            "latitude off the globe",
            with(&["location", "lat"], json!(-91.0)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
        ),
        (
            "outside the city (Beijing)",
            with(&["location"], json!({"lon": 116.39, "lat": 39.9})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "outside-area",
        ),
        (
            "swapped lon/lat",
            with(&["location"], json!({"lon": lat, "lat": lon})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
        ),
        (
            "unknown category",
            with(&["category"], json!("ufo")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
        ),
        (
            "unknown severity",
            with(&["severity"], json!("apocalyptic")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed-body",
        ),
        (
            "empty description",
            with(&["description"], json!("   ")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
        ),
        (
            "a media link that is not http(s)",
            with(&["media_url"], json!("javascript:alert(1)")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
        ),
        (
            "unknown field",
            with(&["priority"], json!(1)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed-body",
        ),
        (
            "negative accuracy",
            with(&["location", "accuracy_m"], json!(-5)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
        ),
    ];
    let before = written(&db).await;
    for (n, (what, body, status, kind)) in cases.into_iter().enumerate() {
        // Each with a key of its own: a refused request must not keep its key either.
        let key = format!("bad-report-{n}");
        let reply = post(&state, &token, "/api/v1/incidents", &body, Some(&key)).await;
        assert_eq!(
            reply.status,
            status,
            "{what}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(reply.content_type(), "application/problem+json", "{what}");
        assert_eq!(reply.json()["type"], format!("/problems/{kind}"), "{what}");
        assert_eq!(written(&db).await, before, "{what} wrote something");
    }
    // Not JSON at all, and JSON sent as something else.
    for (content_type, body) in [
        ("application/json", "{\"category\": "),
        ("text/plain", "hello"),
    ] {
        let request = Request::post("/api/v1/incidents")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        let reply = send(&state, request).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.json()["type"], "/problems/malformed-body");
    }
    // A place inside the city but outside the caller's township.
    let township: String = sqlx::query_scalar(
        "SELECT t.code FROM admin_unit t WHERE t.level = 'township'
           AND NOT ST_Intersects(t.geom, ST_SetSRID(ST_MakePoint($1, $2), 4326))
         ORDER BY t.code LIMIT 1",
    )
    .bind(lon)
    .bind(lat)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let local = db
        .user_token(
            "township-operator",
            Role::Operator,
            AreaCode::Unit(township),
        )
        .await;
    let planner = db
        .user_token("planner", Role::Planner, AreaCode::Unit("530400".into()))
        .await;
    let before = written(&db).await;
    let reply = post(&state, &local, "/api/v1/incidents", &good, None).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.json()["type"], "/problems/outside-area");
    // Roles that do not take reports in.
    let reply = post(&state, &planner, "/api/v1/incidents", &good, None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let [incidents, events, audit_rows, keys] = before;
    assert_eq!(
        written(&db).await,
        [incidents, events, audit_rows + 1, keys],
        "the refusal's own audit row, and nothing else"
    );
}

/// Runs `action` on case `id` and returns the answer.
async fn act(state: &wangge::AppState, token: &str, id: i64, action: Value) -> Reply {
    post(
        state,
        token,
        &format!("/api/v1/incidents/{id}/actions"),
        &action,
        None,
    )
    .await
}

/// Reports `body` as `token` and returns the new case as answered.
async fn filed(state: &wangge::AppState, token: &str, body: &Value) -> Value {
    let reply = post(state, token, "/api/v1/incidents", body, None).await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()
}

/// Reports `body` as `token` and returns the new case's id.
async fn report(state: &wangge::AppState, token: &str, body: &Value) -> i64 {
    filed(state, token, body).await["id"].as_i64().unwrap()
}

/// Puts case `id`'s deadline a minute in the past.
async fn make_overdue(db: &TestDb, id: i64) {
    sqlx::query("UPDATE incident SET due_at = now() - interval '1 minute' WHERE id = $1")
        .bind(id)
        .execute(&db.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_case_moves_through_its_lifecycle_and_refuses_what_does_not_fit() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = dispatcher(&db).await;
    let (lon, lat, cell, _) = point_in_a_cell(&db, 11).await;
    let created = post(
        &state,
        &token,
        "/api/v1/incidents",
        &report_at(lon, lat),
        None,
    )
    .await;
    let id = created.json()["id"].as_i64().unwrap();
    let worker_id: i64 = sqlx::query_scalar(
        "SELECT wc.worker_id FROM grid_worker_cell wc JOIN grid_cell g ON g.id = wc.grid_cell_id
         WHERE g.code = $1 ORDER BY wc.worker_id LIMIT 1",
    )
    .bind(&cell)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let worker = db
        .user_token(
            "cell-worker",
            Role::Worker,
            AreaCode::GridCell(cell.clone()),
        )
        .await;
    // Their sign-in is that grid worker's: only the assignee works a case.
    sqlx::query(
        "UPDATE grid_worker SET user_id = (SELECT id FROM app_user WHERE username = 'cell-worker')
         WHERE id = $1",
    )
    .bind(worker_id)
    .execute(&db.pool)
    .await
    .unwrap();

    // Workers do not assign; accepting needs an assignment.
    assert_eq!(
        act(
            &state,
            &worker,
            id,
            json!({"action": "assign", "worker_id": worker_id})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let early = act(&state, &worker, id, json!({"action": "accept"})).await;
    assert_eq!(early.status, StatusCode::CONFLICT);
    assert_eq!(early.json()["type"], "/problems/conflict");

    let steps = [
        (
            &token,
            json!({"action": "assign", "worker_id": worker_id, "note": "就近交办"}),
            "assigned",
        ),
        (&worker, json!({"action": "accept"}), "accepted"),
        (&worker, json!({"action": "start"}), "in_progress"),
        (
            &worker,
            json!({"action": "note", "note": "已入户了解情况"}),
            "in_progress",
        ),
        (
            &worker,
            json!({"action": "resolve", "note": "双方达成调解协议"}),
            "resolved",
        ),
        (&token, json!({"action": "close"}), "closed"),
    ];
    for (who, action, status) in steps {
        let reply = act(&state, who, id, action.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{action}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(reply.json()["status"], status, "{action}");
    }
    let details = act(
        &state,
        &token,
        id,
        json!({"action": "note", "note": "回访满意"}),
    )
    .await
    .json();
    assert_eq!(details["assignee_id"], worker_id);
    assert_eq!(details["resolved_tier"], "village");
    let timeline: Vec<(String, String)> = details["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let kinds: Vec<&str> = timeline.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "reported", "assigned", "accepted", "started", "note", "resolved", "closed", "note"
        ]
    );
    assert_eq!(timeline[2].1, "user:cell-worker");
    // A closed case cannot be resolved or escalated again.
    for action in [json!({"action": "resolve"}), json!({"action": "escalate"})] {
        let reply = act(&state, &token, id, action).await;
        assert_eq!(reply.status, StatusCode::CONFLICT);
    }
    // Every action was audited in its transaction.
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE object_type = 'incident' AND object_id = $1
           AND action IN ('assign', 'accept', 'start', 'note', 'resolve', 'close')",
    )
    .bind(id.to_string())
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(audited, 7);
}

#[tokio::test]
async fn rejection_duplicates_and_leaders_follow_their_rules() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = dispatcher(&db).await;
    let (lon, lat, _, _) = point_in_a_cell(&db, 21).await;
    let first = filed(&state, &token, &report_at(lon, lat)).await;
    let first_id = first["id"].as_i64().unwrap();

    // A second report of the same kind 40 m away is suggested as a duplicate of the first;
    // another category at the same place, or the same one 5 km away, is not.
    let near = filed(&state, &token, &report_at(lon + 0.0004, lat)).await;
    assert_eq!(near["possible_duplicates"], json!([first_id]));
    let mut other_kind = report_at(lon, lat);
    other_kind["category"] = json!("traffic");
    let other_kind = filed(&state, &token, &other_kind).await;
    assert_eq!(other_kind["possible_duplicates"], json!([]));

    let near_id = near["id"].as_i64().unwrap();
    let marked = act(
        &state,
        &token,
        near_id,
        json!({"action": "mark_duplicate", "of": first_id}),
    )
    .await;
    assert_eq!(marked.status, StatusCode::OK);
    assert_eq!(marked.json()["status"], "duplicate");
    assert_eq!(marked.json()["duplicate_of"], first_id);
    let itself = act(
        &state,
        &token,
        first_id,
        json!({"action": "mark_duplicate", "of": first_id}),
    )
    .await;
    assert_eq!(itself.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Rejecting needs a reason.
    let other_id = other_kind["id"].as_i64().unwrap();
    let bare = act(&state, &token, other_id, json!({"action": "reject"})).await;
    assert_eq!(bare.status, StatusCode::UNPROCESSABLE_ENTITY);
    let rejected = act(
        &state,
        &token,
        other_id,
        json!({"action": "reject", "note": "不属于矛盾纠纷"}),
    )
    .await;
    assert_eq!(rejected.json()["status"], "rejected");

    // A leader owns major cases only.
    let minor = act(
        &state,
        &token,
        first_id,
        json!({"action": "lead", "leader": "张副县长"}),
    )
    .await;
    assert_eq!(minor.status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut major = report_at(lon, lat);
    major["severity"] = json!("major");
    major["category"] = json!("land");
    let major_id = report(&state, &token, &major).await;
    let led = act(
        &state,
        &token,
        major_id,
        json!({"action": "lead", "leader": "张副县长"}),
    )
    .await;
    assert_eq!(led.status, StatusCode::OK);
    assert_eq!(led.json()["leader"], "张副县长");
}

#[tokio::test]
async fn an_overdue_case_climbs_one_tier_with_a_new_deadline_and_stops_at_the_city() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = dispatcher(&db).await;
    let (lon, lat, _, _) = point_in_a_cell(&db, 2).await;
    let mut body = report_at(lon, lat);
    body["category"] = json!("medical");
    body["severity"] = json!("major");
    let id = report(&state, &token, &body).await;

    // Not due yet: nothing moves.
    let moved = wangge::incidents::escalation::escalate_overdue(&db.pool)
        .await
        .unwrap();
    assert!(!moved.contains(&id));

    let hours = |tier: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i32>(
                "SELECT hours FROM incident_deadline
                 WHERE category = 'medical' AND severity = 'major' AND tier = $1::incident_tier",
            )
            .bind(tier)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    for tier in ["township", "county", "city"] {
        make_overdue(&db, id).await;
        let moved = wangge::incidents::escalation::escalate_overdue(&db.pool)
            .await
            .unwrap();
        assert!(moved.contains(&id), "{tier}");
        let (now_tier, left): (String, f64) = sqlx::query_as(
            "SELECT tier::text, extract(epoch FROM due_at - now())::float8 / 3600 FROM incident WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(now_tier, tier);
        // The new tier's own (medical, major) deadline, from now.
        let expected = f64::from(hours(tier).await);
        assert!(
            (left - expected).abs() < 0.1,
            "{tier}: {left} h left, expected {expected}"
        );
    }
    // At the city an overdue case stays overdue: nothing is pushed further up.
    make_overdue(&db, id).await;
    let moved = wangge::incidents::escalation::escalate_overdue(&db.pool)
        .await
        .unwrap();
    assert!(!moved.contains(&id));
    let details = common::get_as_bearer(&state, &token, &format!("/api/v1/incidents/{id}"))
        .await
        .1;
    assert_eq!(details["tier"], "city");
    assert_eq!(details["overdue"], true);
    let escalations: Vec<&Value> = details["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "escalated")
        .collect();
    assert_eq!(escalations.len(), 3);
    assert!(escalations.iter().all(|e| e["actor"] == "system"));
    // Resolving now records the tier that finally solved it.
    let resolved = act(&state, &token, id, json!({"action": "resolve"}))
        .await
        .json();
    assert_eq!(resolved["resolved_tier"], "city");
}

#[tokio::test]
async fn the_server_escalates_overdue_cases_by_itself() {
    let db = TestDb::small_demo().await;
    let state = state_with(&db, |c| {
        c.escalation_every = Some(Duration::from_millis(100))
    })
    .await;
    let token = dispatcher(&db).await;
    let (lon, lat, _, _) = point_in_a_cell(&db, 4).await;
    let id = report(&state, &token, &report_at(lon, lat)).await;
    make_overdue(&db, id).await;
    let mut tier = String::new();
    for _ in 0..200 {
        tier = sqlx::query_scalar("SELECT tier::text FROM incident WHERE id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        if tier != "village" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(tier, "township");
}

#[tokio::test]
async fn a_worker_escalates_by_hand_and_the_case_is_seen_one_tier_up() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = dispatcher(&db).await;
    let (lon, lat, cell, _) = point_in_a_cell(&db, 6).await;
    let id = report(&state, &token, &report_at(lon, lat)).await;
    let worker = db
        .user_token("cell-worker", Role::Worker, AreaCode::GridCell(cell))
        .await;
    let reply = act(
        &state,
        &worker,
        id,
        json!({"action": "escalate", "note": "涉及多个村，村级无法调处"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["tier"], "township");
    let (status, list) = common::get_as_bearer(
        &state,
        &token,
        "/api/v1/incidents?tier=township&status=open",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == id)
    );
}

#[tokio::test]
async fn an_address_is_geocoded_or_left_for_a_dispatcher_to_place() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = dispatcher(&db).await;
    let (address, village_code): (String, String) = sqlx::query_as(
        "SELECT a.address, v.code FROM address_point a JOIN admin_unit v ON v.id = a.village_id
         ORDER BY a.id OFFSET 1234 LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let body = json!({
        "category": "property_mgmt", "severity": "minor", "description": "楼道堆放杂物",
        "location": {"address": address}
    });
    let reply = post(&state, &token, "/api/v1/incidents", &body, None).await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let placed = reply.json();
    assert_eq!(placed["location_method"], "geocoded");
    assert_eq!(placed["village_code"], village_code.as_str());
    assert_eq!(placed["address"], address.as_str());
    assert_eq!(placed["geocoding"]["accepted"], true);
    assert!(placed["grid_cell_code"].is_string());

    // An address naming a township but nothing in it: the case waits at the township's
    // centre, seen by that township, until a dispatcher places it.
    let (township_name, township_code): (String, String) = sqlx::query_as(
        "SELECT name, code FROM admin_unit WHERE level = 'township' ORDER BY code LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let body = json!({
        "category": "neighbour", "severity": "minor", "description": "噪音扰民",
        "location": {"address": format!("{township_name}某处")}
    });
    let vague = filed(&state, &token, &body).await;
    assert_eq!(vague["location_method"], "area");
    assert!(vague["grid_cell_code"].is_null());
    let id = vague["id"].as_i64().unwrap();
    let area_code: String = sqlx::query_scalar("SELECT area_code FROM incident WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(area_code, township_code);

    let (lon, lat, cell, _) = point_in_a_cell(&db, 0).await;
    let placed = act(
        &state,
        &token,
        id,
        json!({"action": "place", "location": {"lon": lon, "lat": lat}}),
    )
    .await;
    assert_eq!(
        placed.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&placed.body)
    );
    let placed = placed.json();
    assert_eq!(placed["location_method"], "manual");
    assert_eq!(placed["grid_cell_code"], cell.as_str());
    assert_eq!(
        placed["timeline"].as_array().unwrap().last().unwrap()["kind"],
        "located"
    );
}

#[tokio::test]
async fn a_grid_worker_files_reports_in_their_own_cell_and_follows_them() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let (lon, lat, cell, _) = point_in_a_cell(&db, 8).await;
    let (other_lon, other_lat, _, _) = point_in_a_cell(&db, 9).await;
    let worker = db
        .user_token(
            "cell-worker",
            Role::Worker,
            AreaCode::GridCell(cell.clone()),
        )
        .await;
    // From their cell: written and readable by them.
    let reply = post(
        &state,
        &worker,
        "/api/v1/incidents",
        &report_at(lon, lat),
        None,
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let id = reply.json()["id"].as_i64().unwrap();
    let (status, _) =
        common::get_as_bearer(&state, &worker, &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    // In another cell: refused, since they could not follow it.
    let reply = post(
        &state,
        &worker,
        "/api/v1/incidents",
        &report_at(other_lon, other_lat),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.json()["type"], "/problems/outside-area");
    // An address not in the register: the case waits in their own cell to be placed.
    let body = json!({
        "category": "neighbour", "severity": "minor", "description": "邻居噪音",
        "location": {"address": "村口大榕树旁边"}
    });
    let reply = post(&state, &worker, "/api/v1/incidents", &body, None).await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let vague = reply.json();
    assert_eq!(vague["location_method"], "area");
    assert_eq!(vague["grid_cell_code"], cell.as_str());
}

#[tokio::test]
async fn escalating_a_case_that_already_moved_is_a_conflict() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = dispatcher(&db).await;
    let (lon, lat, _, _) = point_in_a_cell(&db, 12).await;
    let id = report(&state, &token, &report_at(lon, lat)).await;
    // The deadline moved it first.
    make_overdue(&db, id).await;
    wangge::incidents::escalation::escalate_overdue(&db.pool)
        .await
        .unwrap();
    let stale = act(
        &state,
        &token,
        id,
        json!({"action": "escalate", "from": "village"}),
    )
    .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    let tier: String = sqlx::query_scalar("SELECT tier::text FROM incident WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(tier, "township", "not pushed a second tier");
    let fresh = act(
        &state,
        &token,
        id,
        json!({"action": "escalate", "from": "township"}),
    )
    .await;
    assert_eq!(fresh.json()["tier"], "county");
}

/// A user who administers the whole city.
async fn city_admin(db: &TestDb) -> String {
    db.user_token("admin", Role::Admin, AreaCode::Unit("530400".into()))
        .await
}

/// Hours between case `id`'s report and its deadline.
async fn hours_given(db: &TestDb, id: i64) -> f64 {
    sqlx::query_scalar(
        "SELECT extract(epoch FROM due_at - reported_at)::float8 / 3600 FROM incident WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

/// The deadline rules as the database holds them, in the API's order and shape.
async fn deadline_rules(db: &TestDb) -> Value {
    let rows: Vec<(Option<String>, String, String, i32)> = sqlx::query_as(
        // By the enums' own order (qualified: the bare names would sort the text).
        "SELECT d.category, d.severity::text, d.tier::text, d.hours FROM incident_deadline d
         ORDER BY d.category NULLS FIRST, d.severity, d.tier",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(category, severity, tier, hours)| {
            json!({"category": category, "severity": severity, "tier": tier, "hours": hours})
        })
        .collect()
}

#[tokio::test]
async fn a_city_admin_sets_deadlines_and_new_cases_are_given_them() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = dispatcher(&db).await;
    let admin = city_admin(&db).await;
    let (lon, lat, _, _) = point_in_a_cell(&db, 5).await;

    // Everyone signed in reads the rules; every severity and tier has a default.
    let listed = call(
        &state,
        &token,
        Method::GET,
        "/api/v1/incident-deadlines",
        None,
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.json(), deadline_rules(&db).await);
    let defaults = listed
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["category"].is_null())
        .count();
    assert_eq!(defaults, 4 * 4);

    // The default for moderate cases at the village tier: 5 h.
    let rule = json!({"severity": "moderate", "tier": "village", "hours": 5});
    let set = call(
        &state,
        &admin,
        Method::PUT,
        "/api/v1/incident-deadlines",
        Some(&rule),
    )
    .await;
    assert_eq!(
        set.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&set.body)
    );
    assert_eq!(
        set.json(),
        json!({"category": null, "severity": "moderate", "tier": "village", "hours": 5})
    );
    let under_default = report(&state, &token, &report_at(lon, lat)).await;
    assert!((hours_given(&db, under_default).await - 5.0).abs() < 1e-6);

    // Neighbour disputes get 3 h of their own; other categories keep the default.
    let own =
        json!({"category": "neighbour", "severity": "moderate", "tier": "village", "hours": 3});
    let set = call(
        &state,
        &admin,
        Method::PUT,
        "/api/v1/incident-deadlines",
        Some(&own),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK);
    assert_eq!(set.json(), own);
    let neighbour = report(&state, &token, &report_at(lon, lat)).await;
    assert!((hours_given(&db, neighbour).await - 3.0).abs() < 1e-6);
    let mut traffic = report_at(lon, lat);
    traffic["category"] = json!("traffic");
    let traffic = report(&state, &token, &traffic).await;
    assert!((hours_given(&db, traffic).await - 5.0).abs() < 1e-6);
    // Setting it again changes it in place rather than adding a second rule.
    let own_later =
        json!({"category": "neighbour", "severity": "moderate", "tier": "village", "hours": 2});
    let rules_before = db.count("incident_deadline").await;
    let set = call(
        &state,
        &admin,
        Method::PUT,
        "/api/v1/incident-deadlines",
        Some(&own_later),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK);
    assert_eq!(db.count("incident_deadline").await, rules_before);

    // Dropping the category's rule brings the default back; open cases keep what they got.
    let uri = "/api/v1/incident-deadlines?category=neighbour&severity=moderate&tier=village";
    let dropped = call(&state, &admin, Method::DELETE, uri, None).await;
    assert_eq!(dropped.status, StatusCode::NO_CONTENT);
    let after_drop = report(&state, &token, &report_at(lon, lat)).await;
    assert!((hours_given(&db, after_drop).await - 5.0).abs() < 1e-6);
    assert!((hours_given(&db, neighbour).await - 3.0).abs() < 1e-6);
    let again = call(&state, &admin, Method::DELETE, uri, None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    let audited: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT username, action, object_type, object_id FROM audit_log
         WHERE object_type = 'incident_deadline' ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let audited: Vec<(&str, &str, &str, &str)> = audited
        .iter()
        .map(|(u, a, t, o)| (u.as_str(), a.as_str(), t.as_str(), o.as_str()))
        .collect();
    assert_eq!(
        audited,
        [
            (
                "admin",
                "set_deadline:5h",
                "incident_deadline",
                "*/moderate/village"
            ),
            (
                "admin",
                "set_deadline:3h",
                "incident_deadline",
                "neighbour/moderate/village"
            ),
            (
                "admin",
                "set_deadline:2h",
                "incident_deadline",
                "neighbour/moderate/village"
            ),
            (
                "admin",
                "drop_deadline",
                "incident_deadline",
                "neighbour/moderate/village"
            ),
        ]
    );
}

/// Due east is where the search's first, coarse test in degrees is tightest: a report there
/// just inside the reach is still suggested. The reach is measured on the sphere of the
/// Earth's mean radius; a degree taken from the equatorial radius (7 km longer) made that
/// test miss the last 0.1% of it.
#[tokio::test]
async fn a_report_just_inside_the_duplicate_reach_due_east_is_suggested() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = dispatcher(&db).await;
    let admin = city_admin(&db).await;
    let (lon, lat, _, _) = point_in_a_cell(&db, 33).await;
    let uri = "/api/v1/incident-categories/neighbour";
    let body = json!({"duplicate_radius_m": 100});
    let reach = call(&state, &admin, Method::PATCH, uri, Some(&body)).await;
    assert_eq!(reach.status, StatusCode::OK);
    let first = report(&state, &token, &report_at(lon, lat)).await;
    let east = (99.95 / (MEAN_EARTH_RADIUS_M * lat.to_radians().cos())).to_degrees();
    let near = filed(&state, &token, &report_at(lon + east, lat)).await;
    assert_eq!(near["possible_duplicates"], json!([first]));
}

#[tokio::test]
async fn a_city_admin_sets_how_near_a_report_must_be_to_look_like_a_duplicate() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = dispatcher(&db).await;
    let admin = city_admin(&db).await;
    let (lon, lat, _, _) = point_in_a_cell(&db, 33).await;
    let reach = |body: Value| {
        let (state, admin) = (state.clone(), admin.clone());
        async move {
            let uri = "/api/v1/incident-categories/neighbour";
            call(&state, &admin, Method::PATCH, uri, Some(&body)).await
        }
    };

    // 20 m: a report about 40 m east of the first is another matter.
    let window_before: i32 = sqlx::query_scalar(
        "SELECT duplicate_window_hours FROM incident_category WHERE code = 'neighbour'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let narrowed = reach(json!({"duplicate_radius_m": 20})).await;
    assert_eq!(
        narrowed.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&narrowed.body)
    );
    assert_eq!(narrowed.json()["duplicate_radius_m"], 20);
    assert_eq!(narrowed.json()["duplicate_window_hours"], window_before);
    let first = report(&state, &token, &report_at(lon, lat)).await;
    let apart = filed(&state, &token, &report_at(lon + 0.0004, lat)).await;
    assert_eq!(apart["possible_duplicates"], json!([]));

    // 100 m: the same place now looks like both earlier reports, nearest first.
    assert_eq!(
        reach(json!({"duplicate_radius_m": 100})).await.status,
        StatusCode::OK
    );
    let near = filed(&state, &token, &report_at(lon + 0.0004, lat)).await;
    assert_eq!(near["possible_duplicates"], json!([apart["id"], first]));

    // A one-hour window: a first report two hours old is out of it.
    assert_eq!(
        reach(json!({"duplicate_window_hours": 1})).await.status,
        StatusCode::OK
    );
    sqlx::query("UPDATE incident SET reported_at = reported_at - interval '2 hours', updated_at = updated_at - interval '2 hours', due_at = due_at - interval '2 hours' WHERE id = $1")
        .bind(first)
        .execute(&db.pool)
        .await
        .unwrap();
    let later = filed(&state, &token, &report_at(lon, lat)).await;
    let suggested = later["possible_duplicates"].as_array().unwrap();
    assert!(!suggested.contains(&json!(first)), "{suggested:?}");
    assert!(suggested.contains(&apart["id"]), "{suggested:?}");

    let (_, categories) =
        common::get_as_bearer(&state, &token, "/api/v1/incident-categories").await;
    let neighbour = categories
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "neighbour")
        .unwrap();
    assert_eq!(neighbour["duplicate_radius_m"], 100);
    assert_eq!(neighbour["duplicate_window_hours"], 1);
    let audited: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE object_type = 'incident_category' AND object_id = 'neighbour' ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        audited,
        [
            format!("set_duplicate_reach:20m/{window_before}h"),
            format!("set_duplicate_reach:100m/{window_before}h"),
            "set_duplicate_reach:100m/1h".to_owned(),
        ]
    );
}

#[tokio::test]
async fn rules_are_changed_only_by_a_city_admin_and_bad_ones_change_nothing() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let admin = city_admin(&db).await;
    let county_admin = db
        .user_token("county-admin", Role::Admin, AreaCode::Unit("530402".into()))
        .await;
    let dispatcher = dispatcher(&db).await;
    let rules = || async {
        (
            deadline_rules(&db).await,
            sqlx::query_as::<_, (String, i32, i32)>(
                "SELECT code, duplicate_radius_m, duplicate_window_hours FROM incident_category ORDER BY code",
            )
            .fetch_all(&db.pool)
            .await
            .unwrap(),
            db.count("audit_log").await,
        )
    };
    let mut before = rules().await;
    let good = json!({"severity": "minor", "tier": "county", "hours": 1});
    let drop_uri = "/api/v1/incident-deadlines?category=medical&severity=major&tier=village";

    // Who, method, URI, body, and the status and problem type expected.
    type Refusal<'a> = (&'a str, Method, &'a str, Option<Value>, StatusCode, &'a str);
    let refused: Vec<Refusal> = vec![
        (
            "dispatcher",
            Method::PUT,
            "/api/v1/incident-deadlines",
            Some(good.clone()),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "county admin",
            Method::PUT,
            "/api/v1/incident-deadlines",
            Some(good.clone()),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "county admin",
            Method::DELETE,
            drop_uri,
            None,
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "dispatcher",
            Method::PATCH,
            "/api/v1/incident-categories/land",
            Some(json!({"duplicate_radius_m": 10})),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "admin",
            Method::PUT,
            "/api/v1/incident-deadlines",
            Some(json!({"severity": "minor", "tier": "county", "hours": 0})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
        ),
        (
            "admin",
            Method::PUT,
            "/api/v1/incident-deadlines",
            Some(json!({"severity": "minor", "tier": "county", "hours": 8761})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
        ),
        (
            "admin",
            Method::PUT,
            "/api/v1/incident-deadlines",
            Some(json!({"category": "nope", "severity": "minor", "tier": "county", "hours": 4})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
        ),
        (
            "admin",
            Method::PUT,
            "/api/v1/incident-deadlines",
            Some(json!({"severity": "huge", "tier": "county", "hours": 4})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed-body",
        ),
        (
            "admin",
            Method::PUT,
            "/api/v1/incident-deadlines",
            Some(json!({"severity": "minor", "tier": "planet", "hours": 4})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed-body",
        ),
        (
            "admin",
            Method::PUT,
            "/api/v1/incident-deadlines",
            Some(json!({"severity": "minor", "tier": "county"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed-body",
        ),
        (
            "admin",
            Method::PUT,
            "/api/v1/incident-deadlines",
            Some(json!({"severity": "minor", "tier": "county", "hours": 4, "area": "530402"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed-body",
        ),
        (
            "admin",
            Method::PUT,
            "/api/v1/incident-deadlines",
            Some(json!("minor")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed-body",
        ),
        (
            "admin",
            Method::DELETE,
            "/api/v1/incident-deadlines?severity=major&tier=village",
            None,
            StatusCode::CONFLICT,
            "conflict",
        ),
        (
            "admin",
            Method::DELETE,
            "/api/v1/incident-deadlines?category=land&severity=major&tier=village",
            None,
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        (
            "admin",
            Method::DELETE,
            "/api/v1/incident-deadlines?category=medical&severity=major&tier=moon",
            None,
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
        ),
        (
            "admin",
            Method::PATCH,
            "/api/v1/incident-categories/land",
            Some(json!({"duplicate_radius_m": 0})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
        ),
        (
            "admin",
            Method::PATCH,
            "/api/v1/incident-categories/land",
            Some(json!({"duplicate_radius_m": 50001})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
        ),
        (
            "admin",
            Method::PATCH,
            "/api/v1/incident-categories/land",
            Some(json!({"duplicate_window_hours": 0})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
        ),
        (
            "admin",
            Method::PATCH,
            "/api/v1/incident-categories/land",
            Some(json!({})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
        ),
        (
            "admin",
            Method::PATCH,
            "/api/v1/incident-categories/land",
            Some(json!({"name_zh": "土地"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed-body",
        ),
        (
            "admin",
            Method::PATCH,
            "/api/v1/incident-categories/nope",
            Some(json!({"duplicate_radius_m": 10})),
            StatusCode::NOT_FOUND,
            "not-found",
        ),
    ];
    for (who, method, uri, body, status, problem) in refused {
        let token = match who {
            "admin" => &admin,
            "county admin" => &county_admin,
            _ => &dispatcher,
        };
        let what = format!("{who} {method} {uri} {body:?}");
        let reply = call(&state, token, method, uri, body.as_ref()).await;
        assert_eq!(
            reply.status,
            status,
            "{what}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(reply.content_type(), "application/problem+json", "{what}");
        assert_eq!(
            reply.json()["type"],
            format!("/problems/{problem}"),
            "{what}"
        );
        if status == StatusCode::FORBIDDEN {
            // Refused writes are audited (outcome denied): one row, nothing else.
            before.2 += 1;
        }
        assert_eq!(rules().await, before, "{what} changed something");
    }

    // A body that is not JSON at all, or not declared as JSON.
    for content_type in ["application/json", "text/plain"] {
        let request = Request::put("/api/v1/incident-deadlines")
            .header(header::AUTHORIZATION, format!("Bearer {admin}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from("{\"severity\": \"minor\", \"tier\""))
            .unwrap();
        let reply = send(&state, request).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{content_type}"
        );
        assert_eq!(rules().await, before);
    }
}
