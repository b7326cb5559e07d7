//! Dispatch on a real PostGIS with the small demo: positions kept (and refused whole), the
//! ranking rules as a dispatcher sees them through the API (own cell, neighbours, township,
//! beyond; stale never first; skills; cover), races of concurrent assignment with exactly
//! one winner, accept and decline, and the in-memory index against a brute-force scan.

use crate::common;

use axum::http::{Method, StatusCode};
use chrono::{Duration, Utc};
use serde_json::{Value, json};
use wangge::auth::Role;
use wangge::auth::users::AreaCode;
use wangge::config::{Config, DatabaseConfig};
use wangge_analysis::sphere::{LonLat, haversine_m};

use common::{Reply, TestDb, call};

async fn state(db: &TestDb) -> wangge::AppState {
    let config = Config::for_database(DatabaseConfig::External { url: db.url() });
    let state = db.state(config).await;
    state
        .dispatch
        .ready()
        .await
        .expect("the dispatch index loads");
    state
}

/// `POST /api/v1/incidents/{incident}/assignment` with `body`.
async fn assign(state: &wangge::AppState, token: &str, incident: i64, body: Value) -> Reply {
    let uri = format!("/api/v1/incidents/{incident}/assignment");
    call(state, token, Method::POST, &uri, Some(&body)).await
}

/// A token of a dispatcher for the township of `incident`.
async fn township_dispatcher(db: &TestDb, name: &str, incident: i64) -> String {
    let township: String =
        sqlx::query_scalar("SELECT left(area_code, 9) FROM incident WHERE id = $1")
            .bind(incident)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    db.user_token(name, Role::Dispatcher, AreaCode::Unit(township))
        .await
}

async fn dispatcher(db: &TestDb, name: &str) -> String {
    db.user_token(name, Role::Dispatcher, AreaCode::Unit("530400".into()))
        .await
}

/// Waits until every change committed so far (by SQL behind the server's back, too) has
/// reached the dispatch index.
async fn settle(state: &wangge::AppState) {
    state.live.sync(&state.pool).await.unwrap();
}

/// A point `east_m` metres east of `from`.
fn east_of(from: (f64, f64), east_m: f64) -> (f64, f64) {
    let degrees = east_m / (111_195.0 * from.1.to_radians().cos());
    (from.0 + degrees, from.1)
}

async fn place(state: &wangge::AppState, token: &str, worker: i64, at: (f64, f64)) {
    let reply = call(
        state,
        token,
        Method::POST,
        "/api/v1/workers/positions",
        Some(&json!({"positions": [{
            "worker_id": worker, "at": Utc::now().to_rfc3339(),
            "lon": at.0, "lat": at.1, "accuracy_m": 5.0
        }]})),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
}

async fn report(state: &wangge::AppState, token: &str, at: (f64, f64), category: &str) -> i64 {
    let reply = call(
        state,
        token,
        Method::POST,
        "/api/v1/incidents",
        Some(&json!({
            "category": category, "severity": "moderate",
            "description": "医患双方就治疗费用发生争执",
            "location": {"lon": at.0, "lat": at.1}
        })),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()["id"].as_i64().unwrap()
}

/// The whole answer of `GET …/candidates?limit=10`: the case as ranked, and the ranking.
async fn ranking(state: &wangge::AppState, token: &str, incident: i64) -> Value {
    let reply = call(
        state,
        token,
        Method::GET,
        &format!("/api/v1/incidents/{incident}/candidates?limit=10"),
        None,
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()
}

async fn candidates(state: &wangge::AppState, token: &str, incident: i64) -> Vec<Value> {
    ranking(state, token, incident).await["candidates"]
        .as_array()
        .unwrap()
        .clone()
}

fn first(list: &[Value]) -> (i64, String) {
    (
        list[0]["worker_id"].as_i64().unwrap(),
        list[0]["group"].as_str().unwrap().to_owned(),
    )
}

fn group_of(list: &[Value], worker: i64) -> Option<String> {
    list.iter()
        .find(|c| c["worker_id"] == worker)
        .map(|c| c["group"].as_str().unwrap().to_owned())
}

/// Workers around one published cell: (point in the cell, own worker, neighbour-cell worker,
/// two other workers of the township, a worker of another township).
struct Scene {
    point: (f64, f64),
    own: i64,
    neighbour: i64,
    township: [i64; 2],
    beyond: i64,
}

async fn scene(db: &TestDb) -> Scene {
    let (cell, neighbour_cell, lon, lat): (i64, i64, f64, f64) = sqlx::query_as(
        "SELECT c.id, n.id, ST_X(ST_PointOnSurface(c.geom)), ST_Y(ST_PointOnSurface(c.geom))
         FROM grid_cell c
         JOIN grid_plan p ON p.id = c.plan_id AND p.status = 'published'
         JOIN grid_cell n ON n.plan_id = c.plan_id AND n.id <> c.id AND ST_Intersects(c.geom, n.geom)
         WHERE EXISTS (SELECT 1 FROM grid_worker_cell wc WHERE wc.grid_cell_id = c.id)
           AND EXISTS (SELECT 1 FROM grid_worker_cell wc WHERE wc.grid_cell_id = n.id
                       AND wc.worker_id NOT IN (SELECT worker_id FROM grid_worker_cell
                                                WHERE grid_cell_id = c.id))
         ORDER BY c.id, n.id LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let own: i64 =
        sqlx::query_scalar("SELECT min(worker_id) FROM grid_worker_cell WHERE grid_cell_id = $1")
            .bind(cell)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let neighbour: i64 = sqlx::query_scalar(
        "SELECT min(worker_id) FROM grid_worker_cell WHERE grid_cell_id = $2
           AND worker_id NOT IN (SELECT worker_id FROM grid_worker_cell WHERE grid_cell_id = $1)",
    )
    .bind(cell)
    .bind(neighbour_cell)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    // Workers none of whose cells is the incident's cell or touches it.
    let near_cells = "SELECT n.id FROM grid_cell c JOIN grid_cell n
                          ON n.plan_id = c.plan_id AND ST_Intersects(c.geom, n.geom)
                      WHERE c.id = $1";
    let township: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT DISTINCT wc.worker_id FROM grid_worker_cell wc
         JOIN grid_cell g ON g.id = wc.grid_cell_id
         JOIN admin_unit v ON v.id = g.village_id
         WHERE v.parent_id = (SELECT v2.parent_id FROM grid_cell g2
                              JOIN admin_unit v2 ON v2.id = g2.village_id WHERE g2.id = $1)
           AND NOT EXISTS (SELECT 1 FROM grid_worker_cell o WHERE o.worker_id = wc.worker_id
                           AND o.grid_cell_id IN ({near_cells}))
         ORDER BY 1 LIMIT 2"
    )))
    .bind(cell)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let beyond: i64 = sqlx::query_scalar(
        "SELECT min(wc.worker_id) FROM grid_worker_cell wc
         JOIN grid_cell g ON g.id = wc.grid_cell_id
         JOIN admin_unit v ON v.id = g.village_id
         WHERE v.parent_id <> (SELECT v2.parent_id FROM grid_cell g2
                               JOIN admin_unit v2 ON v2.id = g2.village_id WHERE g2.id = $1)",
    )
    .bind(cell)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(township.len(), 2, "the demo township has other workers");
    Scene {
        point: (lon, lat),
        own,
        neighbour,
        township: [township[0], township[1]],
        beyond,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candidates_follow_the_ranking_rules() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = dispatcher(&db, "dispatcher").await;
    let s = scene(&db).await;
    let chosen = [s.own, s.neighbour, s.township[0], s.township[1], s.beyond];

    // Everyone else is off duty; the chosen are available with room and no skills. This is
    // written behind the server's back: the index learns it from the change feed.
    sqlx::query(
        "UPDATE grid_worker SET status = CASE WHEN id = ANY ($1) THEN 'available' ELSE 'off_duty' END::worker_status,
                capacity = greatest(caseload + 5, capacity),
                skills = '{}'",
    )
    .bind(&chosen[..])
    .execute(&db.pool)
    .await
    .unwrap();
    settle(&state).await;

    // The farther the group, the nearer the worker stands: groups still come first.
    place(&state, &token, s.own, east_of(s.point, 3_000.0)).await;
    place(&state, &token, s.neighbour, east_of(s.point, 2_000.0)).await;
    place(&state, &token, s.township[0], east_of(s.point, 1_000.0)).await;
    place(&state, &token, s.township[1], east_of(s.point, 1_500.0)).await;
    place(&state, &token, s.beyond, east_of(s.point, 100.0)).await;
    let incident = report(&state, &token, s.point, "medical").await;

    let list = candidates(&state, &token, incident).await;
    let order: Vec<(i64, &str)> = list
        .iter()
        .take(5)
        .map(|c| {
            (
                c["worker_id"].as_i64().unwrap(),
                c["group"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        order,
        vec![
            (s.own, "own_cell"),
            (s.neighbour, "neighbour_cell"),
            (s.township[0], "township"),
            (s.township[1], "township"),
            (s.beyond, "beyond"),
        ],
        "{list:#?}"
    );
    assert_eq!(list[0]["rank"], 1);
    assert_eq!(list[0]["reasons"][0]["code"], "own_cell");
    let metres = list[0]["distance_m"].as_f64().unwrap();
    assert!((metres - 3_000.0).abs() < 5.0, "{metres}");

    // A township's dispatcher sees (and may assign) only the township's workers.
    let local = township_dispatcher(&db, "township-dispatcher", incident).await;
    let seen: Vec<i64> = candidates(&state, &local, incident)
        .await
        .iter()
        .map(|c| c["worker_id"].as_i64().unwrap())
        .collect();
    assert!(
        seen.contains(&s.own) && seen.contains(&s.township[0]),
        "{seen:?}"
    );
    assert!(!seen.contains(&s.beyond), "{seen:?}");

    // Skills order workers within a group: the farther township worker knows medical disputes.
    let reply = call(
        &state,
        &token,
        Method::PATCH,
        &format!("/api/v1/workers/{}", s.township[1]),
        Some(&json!({"skills": ["medical", "mediation"]})),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let list = candidates(&state, &token, incident).await;
    let township: Vec<i64> = list
        .iter()
        .filter(|c| c["group"] == "township")
        .map(|c| c["worker_id"].as_i64().unwrap())
        .collect();
    assert_eq!(township, vec![s.township[1], s.township[0]]);
    assert!(list.iter().any(|c| {
        c["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "has_skill" && r["skill"] == "medical")
    }));

    // A stale position is never first, even for the cell's own worker.
    sqlx::query("UPDATE grid_worker SET last_seen_at = now() - interval '2 hours' WHERE id = $1")
        .bind(s.own)
        .execute(&db.pool)
        .await
        .unwrap();
    settle(&state).await;
    let list = candidates(&state, &token, incident).await;
    assert_eq!(first(&list), (s.neighbour, "neighbour_cell".into()));
    assert_eq!(group_of(&list, s.own).as_deref(), Some("stale"));
    let stale = list.iter().find(|c| c["worker_id"] == s.own).unwrap();
    assert!(stale["stale"].as_bool().unwrap());
    // Two hours, give or take the rounding of timestamps to whole seconds.
    assert!(
        stale["reasons"][1]["age_s"].as_i64().unwrap() >= 7_199,
        "{stale}"
    );

    // Away with a named cover: the cover takes the cell's place at the top.
    place(&state, &token, s.own, east_of(s.point, 3_000.0)).await;
    let reply = call(
        &state,
        &token,
        Method::PATCH,
        &format!("/api/v1/workers/{}", s.own),
        Some(&json!({"cover_worker_id": s.beyond})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = call(
        &state,
        &token,
        Method::PUT,
        &format!("/api/v1/workers/{}/status", s.own),
        Some(&json!({"status": "off_duty"})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let list = candidates(&state, &token, incident).await;
    assert_eq!(first(&list), (s.beyond, "cover".into()));
    assert_eq!(list[0]["reasons"][0]["code"], "cover_for");
    assert_eq!(list[0]["reasons"][0]["worker_id"], s.own);
    assert_eq!(group_of(&list, s.own).as_deref(), Some("unavailable"));

    // Assigning an off-duty worker is refused with the worker's state.
    let reply = assign(&state, &token, incident, json!({"worker_id": s.own})).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.json()["current"]["cover_worker_id"], s.beyond);

    // Candidates are for dispatchers and operators, inside their area.
    let worker = db
        .user_token(
            "cell-worker",
            Role::Worker,
            AreaCode::GridCell(cell_code(&db, s.own).await),
        )
        .await;
    let reply = call(
        &state,
        &worker,
        Method::GET,
        &format!("/api/v1/incidents/{incident}/candidates"),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let elsewhere = db
        .user_token(
            "d2",
            Role::Dispatcher,
            AreaCode::Unit(other_township(&db, incident).await),
        )
        .await;
    let reply = call(
        &state,
        &elsewhere,
        Method::GET,
        &format!("/api/v1/incidents/{incident}/candidates"),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

async fn cell_code(db: &TestDb, worker: i64) -> String {
    sqlx::query_scalar(
        "SELECT g.code FROM grid_worker_cell wc JOIN grid_cell g ON g.id = wc.grid_cell_id
         WHERE wc.worker_id = $1 ORDER BY g.code LIMIT 1",
    )
    .bind(worker)
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

/// The code of a township other than the one case `incident` is in.
async fn other_township(db: &TestDb, incident: i64) -> String {
    sqlx::query_scalar(
        "SELECT code FROM admin_unit WHERE level = 'township'
         AND code <> (SELECT left(area_code, 9) FROM incident WHERE id = $1) ORDER BY code LIMIT 1",
    )
    .bind(incident)
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

/// `n` new open cases nobody holds, where the demo's first cases are.
async fn unassigned_cases(db: &TestDb, n: i64) -> Vec<i64> {
    sqlx::query_scalar(
        "INSERT INTO incident (category, severity, title, geom, grid_cell_id, village_id,
                               township_id, county_id, area_code)
         SELECT category, severity, title, geom, grid_cell_id, village_id, township_id,
                county_id, area_code
         FROM incident WHERE location_method <> 'area' ORDER BY id LIMIT $1
         RETURNING id",
    )
    .bind(n)
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_assignments_have_exactly_one_winner() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let (a, b) = (
        dispatcher(&db, "dispatcher-a").await,
        dispatcher(&db, "dispatcher-b").await,
    );
    let workers: Vec<i64> = sqlx::query_scalar(
        "UPDATE grid_worker SET status = 'available', capacity = 200
         WHERE id IN (SELECT id FROM grid_worker ORDER BY id LIMIT 5) RETURNING id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let cases = unassigned_cases(&db, 500).await;
    assert_eq!(cases.len(), 500);
    settle(&state).await;
    let assign_as = |token: &str, case: i64, worker: i64| {
        let (state, token) = (state.clone(), token.to_owned());
        async move {
            assign(
                &state,
                &token,
                case,
                json!({"worker_id": worker, "note": "就近交办"}),
            )
            .await
        }
    };

    // 250 races: two dispatchers give the same case to different workers at once.
    for (i, &case) in cases[..250].iter().enumerate() {
        let (wa, wb) = (workers[i % 2], workers[2 + i % 2]);
        let (ra, rb) = tokio::join!(assign_as(&a, case, wa), assign_as(&b, case, wb));
        let (winner, loser, winner_worker) = match (ra.status, rb.status) {
            (StatusCode::OK, StatusCode::CONFLICT) => (ra, rb, wa),
            (StatusCode::CONFLICT, StatusCode::OK) => (rb, ra, wb),
            other => panic!(
                "race {i}: {other:?} {} {}",
                String::from_utf8_lossy(&ra.body),
                String::from_utf8_lossy(&rb.body)
            ),
        };
        assert_eq!(winner.json()["assignee_id"], winner_worker);
        let problem = loser.json();
        assert_eq!(problem["type"], "/problems/conflict");
        assert_eq!(
            problem["current"]["assignee_id"], winner_worker,
            "the loser sees who won"
        );
        assert_eq!(problem["current"]["status"], "assigned");
    }

    // 250 races: one worker with room for one more case, two cases given to them at once.
    let worker = workers[4];
    for (i, pair) in cases[250..].chunks(2).enumerate() {
        sqlx::query("UPDATE grid_worker SET capacity = caseload + 1 WHERE id = $1")
            .bind(worker)
            .execute(&db.pool)
            .await
            .unwrap();
        let (ra, rb) = tokio::join!(
            assign_as(&a, pair[0], worker),
            assign_as(&b, pair[1], worker)
        );
        let statuses = [ra.status, rb.status];
        assert!(
            statuses.contains(&StatusCode::OK) && statuses.contains(&StatusCode::CONFLICT),
            "race {i}: {statuses:?}"
        );
        let loser = if ra.status == StatusCode::CONFLICT {
            ra
        } else {
            rb
        };
        let current = &loser.json()["current"];
        assert_eq!(current["worker_id"], worker);
        assert_eq!(
            current["caseload"], current["capacity"],
            "the loser sees the worker full"
        );
    }

    // The counts hold: every case has one assignee, and caseloads match the cases.
    let (held, counted): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT sum(caseload) FROM grid_worker),
                (SELECT count(*) FROM incident WHERE assignee_id IS NOT NULL
                   AND status IN ('assigned', 'accepted', 'in_progress'))",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(held, counted);
    let events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM incident_event WHERE kind = 'assigned' AND incident_id = ANY ($1)",
    )
    .bind(&cases)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        events,
        250 + 125,
        "one timeline event per winning assignment"
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'assign' AND object_id = ANY ($1)",
    )
    .bind(cases.iter().map(|c| c.to_string()).collect::<Vec<_>>())
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(audited, 250 + 125);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_accept_and_decline_their_own_cases_and_reassignment_names_the_holder() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = dispatcher(&db, "dispatcher").await;
    let cases = unassigned_cases(&db, 2).await;
    let (mine, other): (i64, i64) = sqlx::query_as(
        "SELECT min(id), max(id) FROM (SELECT id FROM grid_worker ORDER BY id LIMIT 2) w",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE grid_worker SET status = 'available', capacity = caseload + 3 WHERE id IN ($1, $2)",
    )
    .bind(mine)
    .bind(other)
    .execute(&db.pool)
    .await
    .unwrap();
    let me = db
        .user_token(
            "me",
            Role::Worker,
            AreaCode::GridCell(cell_code(&db, mine).await),
        )
        .await;
    sqlx::query("UPDATE grid_worker SET user_id = (SELECT id FROM app_user WHERE username = 'me') WHERE id = $1")
        .bind(mine)
        .execute(&db.pool)
        .await
        .unwrap();
    let caseload = |id: i64| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i32>("SELECT caseload FROM grid_worker WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let before = caseload(mine).await;
    let assign_case = |case: i64, worker: i64, replaces: Option<i64>| {
        let (state, token) = (state.clone(), token.clone());
        async move {
            assign(
                &state,
                &token,
                case,
                json!({"worker_id": worker, "replaces": replaces}),
            )
            .await
        }
    };
    assert_eq!(
        assign_case(cases[0], mine, None).await.status,
        StatusCode::OK
    );
    assert_eq!(caseload(mine).await, before + 1);
    assert_eq!(
        state.dispatch.read().get(mine).unwrap().caseload,
        (before + 1) as u32
    );

    // A stale view (no assignee) is a conflict; naming the holder reassigns.
    let stale = assign_case(cases[0], other, None).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(stale.json()["current"]["assignee_id"], mine);
    let moved = assign_case(cases[0], other, Some(mine)).await;
    assert_eq!(moved.status, StatusCode::OK);
    assert_eq!(moved.json()["previous_assignee_id"], mine);
    assert_eq!(caseload(mine).await, before);
    let kinds: Vec<String> = sqlx::query_scalar(
        "SELECT kind::text FROM incident_event WHERE incident_id = $1 ORDER BY id",
    )
    .bind(cases[0])
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(
        kinds.ends_with(&["assigned".to_owned(), "reassigned".to_owned()]),
        "{kinds:?}"
    );

    // A worker answers for their own cases only.
    let path = |case: i64, what: &str| format!("/api/v1/incidents/{case}/assignment/{what}");
    let reply = call(
        &state,
        &me,
        Method::POST,
        &path(cases[0], "accept"),
        Some(&json!({})),
    )
    .await;
    assert!(
        matches!(reply.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
        "{}",
        reply.status
    );
    assert_eq!(
        assign_case(cases[1], mine, None).await.status,
        StatusCode::OK
    );
    let reply = call(
        &state,
        &me,
        Method::POST,
        &path(cases[1], "decline"),
        Some(&json!({})),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "declining needs a note"
    );
    let reply = call(
        &state,
        &me,
        Method::POST,
        &path(cases[1], "decline"),
        Some(&json!({"note": "本人在县里培训，无法前往"})),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.json()["status"], "reported");
    assert_eq!(reply.json()["assignee_id"], Value::Null);
    assert_eq!(caseload(mine).await, before);
    assert_eq!(
        state.dispatch.read().get(mine).unwrap().caseload,
        before as u32
    );

    assert_eq!(
        assign_case(cases[1], mine, None).await.status,
        StatusCode::OK
    );
    let reply = call(
        &state,
        &me,
        Method::POST,
        &path(cases[1], "accept"),
        Some(&json!({})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["status"], "accepted");

    // Joining and leaving a cell are changes to the worker: the index follows both.
    let cell: i64 = sqlx::query_scalar(
        "SELECT min(id) FROM grid_cell WHERE id NOT IN
             (SELECT grid_cell_id FROM grid_worker_cell WHERE worker_id = $1)",
    )
    .bind(mine)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    for (sql, holds) in [
        (
            "INSERT INTO grid_worker_cell (worker_id, grid_cell_id) VALUES ($1, $2)",
            true,
        ),
        (
            "UPDATE grid_worker_cell SET grid_cell_id = $2 WHERE worker_id = $1 AND grid_cell_id = $2",
            true,
        ),
        (
            "DELETE FROM grid_worker_cell WHERE worker_id = $1 AND grid_cell_id = $2",
            false,
        ),
    ] {
        let before = state.dispatch.read().get(mine).unwrap().version;
        sqlx::query(sql)
            .bind(mine)
            .bind(cell)
            .execute(&db.pool)
            .await
            .unwrap();
        settle(&state).await;
        let index = state.dispatch.read();
        let worker = index.get(mine).unwrap();
        assert!(worker.version > before, "{sql}");
        assert_eq!(worker.cells.contains(&cell), holds, "{sql}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_are_kept_whole_or_refused_whole() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = dispatcher(&db, "dispatcher").await;
    let workers: Vec<i64> = sqlx::query_scalar("SELECT id FROM grid_worker ORDER BY id LIMIT 3")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let now = Utc::now();
    let fix = |w: i64, minutes_ago: i64, lon: f64| {
        json!({"worker_id": w, "at": (now - Duration::minutes(minutes_ago)).to_rfc3339(),
               "lon": lon, "lat": 24.35, "accuracy_m": 6.5})
    };
    let history = || async { db.count("worker_position").await };
    let post = |body: Value| {
        let (state, token) = (state.clone(), token.clone());
        async move {
            call(
                &state,
                &token,
                Method::POST,
                "/api/v1/workers/positions",
                Some(&body),
            )
            .await
        }
    };

    // One bad fix refuses the whole batch, naming it; nothing is written.
    let audit_before = db.count("audit_log").await;
    for bad in [
        json!({"worker_id": workers[0], "at": now.to_rfc3339(), "lon": 24.35, "lat": 102.5}),
        json!({"worker_id": workers[0], "at": (now + Duration::hours(1)).to_rfc3339(), "lon": 102.5, "lat": 24.35}),
        json!({"worker_id": workers[0], "at": (now - Duration::days(40)).to_rfc3339(), "lon": 102.5, "lat": 24.35}),
        json!({"worker_id": 999_999_999, "at": now.to_rfc3339(), "lon": 102.5, "lat": 24.35}),
        json!({"worker_id": workers[0], "at": "yesterday", "lon": 102.5, "lat": 24.35}),
    ] {
        let reply = post(json!({"positions": [fix(workers[1], 1, 102.5), bad]})).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(reply.content_type(), "application/problem+json");
        assert_eq!(history().await, 0);
    }
    assert_eq!(db.count("audit_log").await, audit_before);

    // A good batch: all kept, the newest fix of each worker becomes their position.
    let batch = json!({"positions": [
        fix(workers[0], 10, 102.50), fix(workers[0], 5, 102.51), fix(workers[0], 7, 102.52),
        fix(workers[1], 3, 102.60),
    ]});
    let reply = post(batch.clone()).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(
        reply.json(),
        json!({"received": 4, "stored": 4, "latest": 2})
    );
    let lon: f64 = sqlx::query_scalar("SELECT ST_X(last_position) FROM grid_worker WHERE id = $1")
        .bind(workers[0])
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(lon, 102.51);
    let indexed = state
        .dispatch
        .read()
        .get(workers[0])
        .unwrap()
        .position
        .unwrap();
    assert_eq!(
        indexed.lon(),
        102.51,
        "the index has the position before the answer"
    );
    // The whole worker as the database has it, not only the position: the index builds the
    // moved worker from the version it held.
    let in_database = wangge::dispatch::read_workers(&db.pool, Some(&workers[..2]))
        .await
        .unwrap();
    for row in in_database {
        let id = row.id;
        let expected: wangge_analysis::dispatch::Worker = row.into();
        assert_eq!(state.dispatch.read().get(id), Some(&expected));
    }

    // Sent again (a device retrying): nothing new. A late, older fix joins the history only.
    assert_eq!(
        post(batch).await.json(),
        json!({"received": 4, "stored": 0, "latest": 0})
    );
    let late = post(json!({"positions": [fix(workers[0], 60, 102.9)]})).await;
    assert_eq!(
        late.json(),
        json!({"received": 1, "stored": 1, "latest": 0})
    );
    assert_eq!(history().await, 5);
    assert_eq!(db.count("audit_log").await, audit_before + 3);

    // A grid worker reports for themselves only.
    let worker = db
        .user_token(
            "me",
            Role::Worker,
            AreaCode::GridCell(cell_code(&db, workers[2]).await),
        )
        .await;
    sqlx::query("UPDATE grid_worker SET user_id = (SELECT id FROM app_user WHERE username = 'me') WHERE id = $1")
        .bind(workers[2])
        .execute(&db.pool)
        .await
        .unwrap();
    let for_other = json!({"positions": [fix(workers[1], 0, 102.7)]});
    let reply = call(
        &state,
        &worker,
        Method::POST,
        "/api/v1/workers/positions",
        Some(&for_other),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let own = json!({"positions": [fix(workers[2], 0, 102.7)]});
    let reply = call(
        &state,
        &worker,
        Method::POST,
        "/api/v1/workers/positions",
        Some(&own),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let operator = db.city_operator().await;
    let reply = call(
        &state,
        &operator,
        Method::POST,
        "/api/v1/workers/positions",
        Some(&own),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);

    // History is kept by day; days older than the kept age are dropped whole.
    let two_days = json!({"positions": [fix(workers[1], 2 * 24 * 60, 102.6)]});
    assert_eq!(post(two_days).await.status, StatusCode::OK);
    assert_eq!(history().await, 7);
    sqlx::query("SELECT wangge_worker_position_partitions(1, 2)")
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(history().await, 6);
    let app_cannot_delete = sqlx::query("DELETE FROM worker_position")
        .execute(&state.pool)
        .await;
    assert!(
        app_cannot_delete.is_err(),
        "the history is append-only for the server"
    );
}

/// The index's nearest eligible worker against a brute-force scan of every worker read from
/// the database, for 10,000 random points over the demo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_agrees_with_brute_force() {
    let scale = match std::env::var("WANGGE_DISPATCH_SCALE").as_deref() {
        Ok("full") => wangge::demo::Scale::Full,
        _ => wangge::demo::Scale::Small,
    };
    let db = TestDb::demo(scale).await;
    // Fresh positions for most workers, some stale, busy or full, so eligibility matters.
    sqlx::query(
        "UPDATE grid_worker SET
             last_seen_at = now() - make_interval(secs => CASE WHEN id % 7 = 0 THEN 3600 ELSE id % 300 END),
             status = CASE WHEN id % 5 = 0 THEN 'busy' ELSE 'available' END::worker_status,
             capacity = CASE WHEN id % 11 = 0 THEN caseload ELSE caseload + 2 END",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let state = state(&db).await;
    let rows: Vec<(i64, f64, f64, bool)> = sqlx::query_as(
        "SELECT id, ST_X(last_position), ST_Y(last_position),
                status = 'available' AND caseload < capacity
                    AND last_seen_at >= now() - interval '10 minutes'
         FROM grid_worker WHERE last_position IS NOT NULL",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let eligible: Vec<(i64, LonLat)> = rows
        .iter()
        .filter(|r| r.3)
        .map(|r| (r.0, LonLat::new(r.1, r.2).unwrap()))
        .collect();
    assert!(eligible.len() > 100 && eligible.len() < rows.len());
    let (xmin, ymin, xmax, ymax): (f64, f64, f64, f64) = sqlx::query_as(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
         FROM (SELECT ST_Extent(geom) AS e FROM grid_cell) x",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let now = Utc::now().timestamp();
    let stale_after = state.dispatch.stale_after.as_secs() as i64;
    let index = state.dispatch.read();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut unit = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut agree = 0;
    for _ in 0..10_000 {
        let at = LonLat::new(xmin + (xmax - xmin) * unit(), ymin + (ymax - ymin) * unit()).unwrap();
        let brute = eligible
            .iter()
            .map(|(id, p)| (*id, haversine_m(at, *p)))
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
            .unwrap();
        let found = index.nearest_eligible(at, now, stale_after).unwrap();
        assert_eq!(
            found.0, brute.0,
            "at {at:?}: index {found:?}, brute force {brute:?}"
        );
        assert!((found.1 - brute.1).abs() < 0.01);
        agree += 1;
    }
    assert_eq!(agree, 10_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untouched_cases_go_to_the_top_candidate_where_a_rule_says_so() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = dispatcher(&db, "dispatcher").await;
    let s = scene(&db).await;
    sqlx::query(
        "UPDATE grid_worker SET status = CASE WHEN id = ANY ($1) THEN 'available' ELSE 'off_duty' END::worker_status,
                capacity = greatest(caseload + 5, capacity)",
    )
    .bind(&[s.own, s.neighbour][..])
    .execute(&db.pool)
    .await
    .unwrap();
    settle(&state).await;
    place(&state, &token, s.own, east_of(s.point, 800.0)).await;
    place(&state, &token, s.neighbour, east_of(s.point, 50.0)).await;

    // Without a rule nothing happens; a case reported before the rule is left alone too.
    let before_rule = report(&state, &token, s.point, "medical").await;
    let pass = || wangge::dispatch::auto::run_once(&state.pool, &state.dispatch);
    assert!(pass().await.unwrap().is_empty());
    let county =
        sqlx::query_scalar::<_, String>("SELECT left(area_code, 6) FROM incident WHERE id = $1")
            .bind(before_rule)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    // Rules are kept through the API, inside the caller's area.
    let rule = |area: &str| json!({"category": "medical", "area_code": area, "delay_s": 0});
    let rules = "/api/v1/auto-dispatch-rules";
    let operator = db.city_operator().await;
    let refused = call(&state, &operator, Method::PUT, rules, Some(&rule(&county))).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let local = township_dispatcher(&db, "township-dispatcher", before_rule).await;
    let outside = call(&state, &local, Method::PUT, rules, Some(&rule(&county))).await;
    assert_eq!(
        outside.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the county is wider"
    );
    let mut unknown = rule(&county);
    unknown["category"] = json!("weather");
    let reply = call(&state, &token, Method::PUT, rules, Some(&unknown)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        db.count("auto_dispatch_rule").await,
        0,
        "refused rules write nothing"
    );
    // The whole city and the county: a case of the county follows the county's rule.
    for (area, delay) in [("530400", 86_400), (county.as_str(), 0)] {
        let mut body = rule(area);
        body["delay_s"] = json!(delay);
        let reply = call(&state, &token, Method::PUT, rules, Some(&body)).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
    }
    let listed = call(&state, &token, Method::GET, rules, None).await.json();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let city_rule = listed[0]["id"].as_i64().unwrap();
    assert_eq!(listed[0]["area_code"], "530400");
    let city_rule_path = format!("{rules}/{city_rule}");
    let reply = call(&state, &local, Method::DELETE, &city_rule_path, None).await;
    assert_eq!(
        reply.status,
        StatusCode::NOT_FOUND,
        "not the township dispatcher's rule"
    );
    let untouched = report(&state, &token, s.point, "medical").await;
    let touched = report(&state, &token, s.point, "medical").await;
    let other_category = report(&state, &token, s.point, "neighbour").await;
    let reply = call(
        &state,
        &token,
        Method::POST,
        &format!("/api/v1/incidents/{touched}/actions"),
        Some(&json!({"action": "note", "note": "调度员已电话联系当事人"})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);

    let assigned = pass().await.unwrap();
    assert_eq!(
        assigned,
        vec![(untouched, s.own)],
        "the cell's own worker, though farther"
    );
    let (status, actor): (String, String) = sqlx::query_as(
        "SELECT i.status::text, e.actor FROM incident i
         JOIN incident_event e ON e.incident_id = i.id AND e.kind = 'assigned'
         WHERE i.id = $1",
    )
    .bind(untouched)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), actor.as_str()), ("assigned", "system"));
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'auto_assign' AND object_id = $1",
    )
    .bind(untouched.to_string())
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
    for left in [before_rule, touched, other_category] {
        let status: String = sqlx::query_scalar("SELECT status::text FROM incident WHERE id = $1")
            .bind(left)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(status, "reported", "case {left} is left to people");
    }
    assert!(
        pass().await.unwrap().is_empty(),
        "a second pass finds nothing more"
    );

    // Without the county's rule, the city's day-long delay applies: nothing is due yet.
    let county_rule = listed[1]["id"].as_i64().unwrap();
    let reply = call(
        &state,
        &token,
        Method::DELETE,
        &format!("{rules}/{county_rule}"),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    report(&state, &token, s.point, "medical").await;
    assert!(pass().await.unwrap().is_empty());
}

/// The case behind the candidates is kept in memory between requests; a change to it, made
/// through this server or behind its back, is what the next ranking sees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candidates_rank_the_case_as_it_is_now() {
    let db = TestDb::small_demo().await;
    let token = dispatcher(&db, "he").await;
    let state = state(&db).await;
    let scene = scene(&db).await;
    let incident = report(&state, &token, scene.point, "medical").await;
    settle(&state).await;
    let ask = || ranking(&state, &token, incident);
    assert_eq!(ask().await["incident"]["status"], "reported");
    assert_eq!(ask().await["incident"]["status"], "reported", "asked twice");
    // Assigned through the server: the very next answer shows it.
    let assigned = assign(&state, &token, incident, json!({ "worker_id": scene.own })).await;
    assert_eq!(assigned.status, StatusCode::OK);
    let now = ask().await;
    assert_eq!(now["incident"]["status"], "assigned");
    assert_eq!(now["incident"]["assignee_id"], scene.own);
    // Moved behind the server's back (to the place of another township's worker): once the
    // change notice is in, the ranking is for the new place.
    let moved_to: (f64, f64) = sqlx::query_as(
        "SELECT ST_X(ST_PointOnSurface(g.geom)), ST_Y(ST_PointOnSurface(g.geom))
         FROM grid_worker_cell wc JOIN grid_cell g ON g.id = wc.grid_cell_id
         WHERE wc.worker_id = $1 ORDER BY g.id LIMIT 1",
    )
    .bind(scene.beyond)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE incident SET geom = ST_SetSRID(ST_MakePoint($2, $3), 4326) WHERE id = $1")
        .bind(incident)
        .bind(moved_to.0)
        .bind(moved_to.1)
        .execute(&db.pool)
        .await
        .unwrap();
    settle(&state).await;
    let now = ask().await;
    let (lon, lat) = (
        now["incident"]["lon"].as_f64().unwrap(),
        now["incident"]["lat"].as_f64().unwrap(),
    );
    assert!(
        (lon - moved_to.0).abs() < 1e-9 && (lat - moved_to.1).abs() < 1e-9,
        "{now}"
    );
    // Taken out of a township dispatcher's area (as a redrawn boundary might): gone from
    // their view once the notice is in.
    let local = township_dispatcher(&db, "lin", incident).await;
    let uri = format!("/api/v1/incidents/{incident}/candidates");
    let reply = call(&state, &local, Method::GET, &uri, None).await;
    assert_eq!(reply.status, StatusCode::OK, "inside their township");
    sqlx::query("UPDATE incident SET area_code = $2 WHERE id = $1")
        .bind(incident)
        .bind(other_township(&db, incident).await)
        .execute(&db.pool)
        .await
        .unwrap();
    settle(&state).await;
    let reply = call(&state, &local, Method::GET, &uri, None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn administrators_keep_the_rules_but_do_not_dispatch() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let admin = db
        .user_token("admin", Role::Admin, AreaCode::Unit("530400".into()))
        .await;
    let dispatcher = dispatcher(&db, "dispatcher").await;
    let incident = unassigned_cases(&db, 1).await[0];
    let worker: i64 = sqlx::query_scalar("SELECT min(worker_id) FROM grid_worker_cell")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let candidates = format!("/api/v1/incidents/{incident}/candidates");
    let status = format!("/api/v1/workers/{worker}/status");
    let settings = format!("/api/v1/workers/{worker}");
    let daily: [(Method, &str, Option<Value>); 4] = [
        (Method::GET, &candidates, None),
        (Method::PUT, &status, Some(json!({"status": "busy"}))),
        (Method::PATCH, &settings, Some(json!({"capacity": 9}))),
        (
            Method::POST,
            &format!("/api/v1/incidents/{incident}/assignment"),
            Some(json!({"worker_id": worker})),
        ),
    ];
    for (method, uri, body) in &daily {
        let reply = call(&state, &admin, method.clone(), uri, body.as_ref()).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "admin: {method} {uri}");
    }
    // Unchanged by the refusals; then the dispatcher does the same work.
    let (worker_status, capacity): (String, i32) =
        sqlx::query_as("SELECT status::text, capacity FROM grid_worker WHERE id = $1")
            .bind(worker)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_ne!((worker_status.as_str(), capacity), ("busy", 9));
    for (method, uri, body) in &daily[..3] {
        let reply = call(&state, &dispatcher, method.clone(), uri, body.as_ref()).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "dispatcher: {method} {uri}: {}",
            String::from_utf8_lossy(&reply.body)
        );
    }
    // The rules of automatic dispatch are the system's: administrators keep them.
    let rules = "/api/v1/auto-dispatch-rules";
    let rule = json!({"category": null, "area_code": "530400", "delay_s": 600});
    let reply = call(&state, &admin, Method::PUT, rules, Some(&rule)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let listed = call(&state, &admin, Method::GET, rules, None).await;
    assert_eq!(listed.json().as_array().unwrap().len(), 1);
}
