//! The audit trail: one row per write, in the same transaction, chained so that
//! `wangge audit verify` finds any altered or removed row.

use crate::common;

use std::process::Command;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;
use tower::ServiceExt;
use wangge::audit::{self, AuditError, RequestMeta};
use wangge::auth::Role;
use wangge::auth::users::{self, AreaCode};
use wangge::config::{Config, DatabaseConfig};
use wangge::{AppState, app};

use common::{PASSWORD, TestDb, get_as_bearer};

async fn post(
    state: &AppState,
    uri: &str,
    body: serde_json::Value,
    cookie: Option<&str>,
) -> (StatusCode, Option<String>) {
    let mut builder = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-request-id", "req-under-test");
    if let Some(c) = cookie {
        builder = builder.header(header::COOKIE, c);
    }
    let response = app(state.clone())
        .oneshot(builder.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned());
    (response.status(), cookie)
}

#[tokio::test]
async fn every_write_leaves_exactly_one_audit_row_in_its_transaction() {
    let db = TestDb::small_demo().await;
    let meta = RequestMeta::cli();
    let before = db.count("audit_log").await;
    assert_eq!(before, 1, "the demo load itself is audited");

    users::add(
        &db.pool,
        "zhao",
        Role::Operator,
        &AreaCode::Unit("530402".into()),
        PASSWORD,
        &meta,
    )
    .await
    .unwrap();
    users::add(
        &db.pool,
        "qian",
        Role::Dispatcher,
        &AreaCode::Unit("530402".into()),
        PASSWORD,
        &meta,
    )
    .await
    .unwrap();
    // A refused write (the user exists) leaves no row.
    assert!(
        users::add(
            &db.pool,
            "qian",
            Role::Dispatcher,
            &AreaCode::Unit("530402".into()),
            PASSWORD,
            &meta
        )
        .await
        .is_err()
    );

    let state = db
        .state(Config::for_database(DatabaseConfig::External {
            url: db.url(),
        }))
        .await;
    let (ok, cookie) = post(
        &state,
        "/api/v1/session",
        json!({ "username": "zhao", "password": PASSWORD }),
        None,
    )
    .await;
    assert_eq!(ok, StatusCode::OK);
    let (denied, _) = post(
        &state,
        "/api/v1/session",
        json!({ "username": "zhao", "password": "wrong-one" }),
        None,
    )
    .await;
    assert_eq!(denied, StatusCode::UNAUTHORIZED);
    let (unknown, _) = post(
        &state,
        "/api/v1/session",
        json!({ "username": "my-secret-pass", "password": "x" }),
        None,
    )
    .await;
    assert_eq!(unknown, StatusCode::UNAUTHORIZED);
    let (malformed, _) = post(
        &state,
        "/api/v1/session",
        json!({ "username": "zhao" }),
        None,
    )
    .await;
    assert_eq!(
        malformed,
        StatusCode::UNPROCESSABLE_ENTITY,
        "refused before any write: no row"
    );
    let (token, _) = post(
        &state,
        "/api/v1/tokens",
        json!({ "username": "qian", "password": PASSWORD, "label": "pad" }),
        None,
    )
    .await;
    assert_eq!(token, StatusCode::CREATED);
    let out = app(state.clone())
        .oneshot(
            Request::delete("/api/v1/session")
                .header(header::COOKIE, cookie.unwrap())
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    users::disable(&db.pool, "qian", &meta).await.unwrap();
    users::reset_password(&db.pool, "zhao", "a-new-password", &meta)
        .await
        .unwrap();

    let rows: Vec<(String, String, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT action, outcome, username, area_code, request_id, client_request_id FROM audit_log WHERE id > $1 ORDER BY id",
    )
    .bind(before)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let actions: Vec<(&str, &str)> = rows.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect();
    assert_eq!(
        actions,
        [
            ("add_user", "ok"),
            ("add_user", "ok"),
            ("sign_in", "ok"),
            ("sign_in", "denied"),
            ("sign_in", "denied"),
            ("issue_token", "ok"),
            ("sign_out", "ok"),
            ("disable_user", "ok"),
            ("reset_password", "ok"),
        ]
    );
    let sign_in = &rows[2];
    assert_eq!((sign_in.2.as_str(), sign_in.3.as_str()), ("zhao", "530402"));
    // The request id is the server's own; the one the client sent is kept apart.
    assert!(uuid::Uuid::parse_str(&sign_in.4).is_ok(), "{}", sign_in.4);
    assert_eq!(sign_in.5.as_deref(), Some("req-under-test"));
    assert_eq!(rows[8].5, None, "the command line sends none");
    assert!(
        !rows.iter().any(|r| r.2.contains("my-secret-pass")),
        "what was typed as a username is not kept"
    );
    assert_eq!(audit::verify(&db.pool).await.unwrap(), before + 9);
}

#[tokio::test]
async fn altered_or_deleted_rows_are_found_by_audit_verify() {
    let db = TestDb::small_demo().await;
    for n in 0..5 {
        users::add(
            &db.pool,
            &format!("user{n}"),
            Role::Planner,
            &AreaCode::Unit("530402".into()),
            PASSWORD,
            &RequestMeta::cli(),
        )
        .await
        .unwrap();
    }
    let verify = || {
        Command::new(env!("CARGO_BIN_EXE_wangge"))
            .args(["--database-url", &db.url(), "audit", "verify"])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let ok = verify();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("intact: 6 rows"));

    // The application cannot change or remove rows: the table refuses.
    for statement in [
        "UPDATE audit_log SET username = 'x' WHERE id = 3",
        "DELETE FROM audit_log WHERE id = 3",
        "TRUNCATE audit_log",
    ] {
        let err = sqlx::query(statement)
            .execute(&db.pool)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("append-only"), "{statement}: {err}");
    }
    // Someone with the power to switch the guard off alters a row: found.
    sqlx::query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET object_id = '999' WHERE id = 3")
        .execute(&db.pool)
        .await
        .unwrap();
    let altered = verify();
    assert!(!altered.status.success());
    assert!(
        String::from_utf8_lossy(&altered.stderr).contains("broken at row 3"),
        "{}",
        String::from_utf8_lossy(&altered.stderr)
    );
    let err = audit::verify(&db.pool).await.unwrap_err();
    assert!(matches!(err, AuditError::Broken { id: 3, .. }));

    // Deleting the last row (restoring row 3 first by removing everything after it would
    // still leave the head pointing past the end): found.
    let db2 = TestDb::small_demo().await;
    users::add(
        &db2.pool,
        "solo",
        Role::Planner,
        &AreaCode::Unit("530402".into()),
        PASSWORD,
        &RequestMeta::cli(),
    )
    .await
    .unwrap();
    sqlx::query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        .execute(&db2.pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)")
        .execute(&db2.pool)
        .await
        .unwrap();
    let err = audit::verify(&db2.pool).await.unwrap_err().to_string();
    assert!(err.contains("rows were removed"), "{err}");
    sqlx::query("DELETE FROM audit_log WHERE id = 1")
        .execute(&db2.pool)
        .await
        .unwrap();
    sqlx::query("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
        .execute(&db2.pool)
        .await
        .unwrap();
    users::add(
        &db2.pool,
        "late",
        Role::Planner,
        &AreaCode::Unit("530402".into()),
        PASSWORD,
        &RequestMeta::cli(),
    )
    .await
    .unwrap();
    let err = audit::verify(&db2.pool).await.unwrap_err().to_string();
    assert!(err.contains("row 1 is missing"), "{err}");
}

#[tokio::test]
async fn concurrent_writers_keep_one_unbroken_chain() {
    let db = TestDb::small_demo().await;
    let mut tasks = Vec::new();
    for n in 0..16 {
        let pool = db.pool.clone();
        tasks.push(tokio::spawn(async move {
            users::add(
                &pool,
                &format!("w{n}"),
                Role::Worker,
                &AreaCode::Unit("530402".into()),
                PASSWORD,
                &RequestMeta::cli(),
            )
            .await
            .unwrap();
        }));
    }
    // Groups of rows in one statement, and several statements in one transaction (as group
    // commit writes them), racing each other and the single rows above.
    for n in 0..8 {
        let pool = db.pool.clone();
        tasks.push(tokio::spawn(async move {
            let meta = RequestMeta::cli();
            let mut tx = pool.begin().await.unwrap();
            for statement in 0..2 {
                let entries: Vec<_> = (0..20)
                    .map(|k| {
                        audit::Entry::system(
                            "create",
                            "incident",
                            format!("{n}-{statement}-{k}"),
                            &meta,
                        )
                    })
                    .collect();
                audit::record_many(&mut tx, &entries).await.unwrap();
            }
            tx.commit().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(audit::verify(&db.pool).await.unwrap(), 17 + 8 * 40);
    let (head, newest): (i64, i64) =
        sqlx::query_as("SELECT (SELECT last_id FROM audit_head), (SELECT max(id) FROM audit_log)")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(head, newest, "the head is the newest row");
}

#[tokio::test]
async fn auditors_query_the_trail_by_user_and_area_and_no_one_else_can() {
    let db = TestDb::small_demo().await;
    let meta = RequestMeta::cli();
    let auditor = db
        .user_token("shen", Role::Auditor, AreaCode::Unit("530400".into()))
        .await;
    let operator = db
        .user_token("han", Role::Operator, AreaCode::Unit("530400".into()))
        .await;
    let township: String = sqlx::query_scalar(
        "SELECT code FROM admin_unit WHERE level = 'township' ORDER BY code LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let local = db
        .user_token("yang", Role::Auditor, AreaCode::Unit(township.clone()))
        .await;
    users::disable(&db.pool, "han", &meta).await.unwrap();
    let state = db
        .state(Config::for_database(DatabaseConfig::External {
            url: db.url(),
        }))
        .await;
    let (status, rows) = get_as_bearer(&state, &auditor, "/api/v1/audit?user=shen").await;
    assert_eq!(status, StatusCode::OK);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "shen's own token issue: {rows:?}");
    assert_eq!(rows[0]["action"], "issue_token");
    let (_, all) = get_as_bearer(&state, &auditor, "/api/v1/audit?object_type=user").await;
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "disable_user"),
        "city-wide auditors see system rows"
    );
    // A township auditor sees only rows of their township: yang's own sign-in.
    let (_, mine) = get_as_bearer(&state, &local, "/api/v1/audit").await;
    let mine = mine.as_array().unwrap();
    assert!(!mine.is_empty());
    assert!(
        mine.iter().all(|r| r["area_code"]
            .as_str()
            .unwrap()
            .starts_with(township.as_str())),
        "{mine:?}"
    );
    // Operators may not read the trail (han is disabled: use a fresh operator).
    let other = db
        .user_token("lu", Role::Operator, AreaCode::Unit("530400".into()))
        .await;
    let (status, _) = get_as_bearer(&state, &other, "/api/v1/audit").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = get_as_bearer(&state, &operator, "/api/v1/audit").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a disabled user's token is dead"
    );
    let (status, _) = get_as_bearer(&state, &auditor, "/api/v1/audit?limit=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_application_role_cannot_rewrite_history_even_with_triggers_off() {
    let db = TestDb::small_demo().await;
    // The owner turns the append-only triggers off: only the grants stand in the way now,
    // so a failure below is the privilege check, not the trigger.
    for table in ["audit_log", "incident_event"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {table} DISABLE TRIGGER USER"
        )))
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let app = db.app_pool().await;
    let mut conn = app.acquire().await.unwrap();
    // `RESET ROLE` falls back to the role given at connection start, not the owner.
    sqlx::query("RESET ROLE").execute(&mut *conn).await.unwrap();
    let role: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(role, wangge::db::APPLICATION_ROLE);

    let audit_rows = db.count("audit_log").await;
    let events = db.count("incident_event").await;
    for statement in [
        "UPDATE audit_log SET outcome = 'ok'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "UPDATE audit_head SET last_id = 0",
        "UPDATE incident_event SET note = 'rewritten'",
        "DELETE FROM incident_event",
        "TRUNCATE incident_event CASCADE",
        "ALTER TABLE audit_log DISABLE TRIGGER USER",
        "DROP TABLE audit_log",
        "CREATE TABLE shadow (id int)",
    ] {
        let err = sqlx::query(statement)
            .execute(&mut *conn)
            .await
            .expect_err(statement)
            .to_string();
        assert!(
            err.contains("permission denied") || err.contains("must be owner"),
            "{statement}: {err}"
        );
    }
    assert_eq!(db.count("audit_log").await, audit_rows);
    assert_eq!(db.count("incident_event").await, events);

    for table in ["audit_log", "incident_event"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {table} ENABLE TRIGGER USER"
        )))
        .execute(&db.pool)
        .await
        .unwrap();
    }
    // What the server does need still works: appending to the trail, which moves the head
    // through the owner's chaining trigger.
    let meta = RequestMeta::cli();
    audit::record(
        &mut conn,
        &audit::Entry::system("probe", "test", "1".into(), &meta),
    )
    .await
    .unwrap();
    assert_eq!(db.count("audit_log").await, audit_rows + 1);
    drop(conn);
    audit::verify(&db.pool).await.expect("the chain is intact");
}

/// Sends `method uri` as `token` with `headers`: the status, and the server's request id.
async fn send_as(
    state: &AppState,
    method: &str,
    uri: &str,
    token: &str,
    body: serde_json::Value,
    headers: &[(&str, &[u8])],
) -> (StatusCode, String) {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, header::HeaderValue::from_bytes(value).unwrap());
    }
    let response = app(state.clone())
        .oneshot(builder.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    (response.status(), id)
}

#[tokio::test]
async fn every_refused_write_leaves_one_denied_row_and_reads_none() {
    let db = TestDb::small_demo().await;
    let state = db.default_state().await;
    let operator = db.city_operator().await;
    let case: i64 = sqlx::query_scalar("SELECT min(id) FROM incident WHERE status = 'reported'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let rows_of = async |request_id: &str| -> Vec<(String, String, String, String, String)> {
        sqlx::query_as(
            "SELECT username, role, action, object_id, outcome FROM audit_log
             WHERE request_id = $1",
        )
        .bind(request_id)
        .fetch_all(&db.pool)
        .await
        .unwrap()
    };
    let refused = [
        (
            "POST",
            format!("/api/v1/incidents/{case}/actions"),
            json!({"action": "assign", "worker_id": 1}),
            "POST /api/v1/incidents/{id}/actions",
        ),
        (
            "PATCH",
            "/api/v1/incident-categories/land".to_owned(),
            json!({"duplicate_radius_m": 10}),
            "PATCH /api/v1/incident-categories/{code}",
        ),
        (
            "PUT",
            "/api/v1/incident-deadlines".to_owned(),
            json!({"severity": "minor", "tier": "village", "hours": 5}),
            "PUT /api/v1/incident-deadlines",
        ),
    ];
    for (method, uri, body, action) in refused {
        let (status, id) = send_as(&state, method, &uri, &operator, body, &[]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}");
        assert_eq!(
            rows_of(&id).await,
            [(
                "operator".to_owned(),
                "operator".to_owned(),
                action.to_owned(),
                uri.clone(),
                "denied".to_owned()
            )],
            "{uri}: exactly one row"
        );
    }
    // A refused read is no write: no row.
    let (status, id) = send_as(
        &state,
        "GET",
        &format!("/api/v1/incidents/{case}?reveal=true"),
        &operator,
        json!(null),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(rows_of(&id).await.is_empty());
    assert!(audit::verify(&db.pool).await.is_ok());
}

#[tokio::test]
async fn the_client_cannot_choose_the_request_id_only_add_its_own() {
    let db = TestDb::small_demo().await;
    let state = db.default_state().await;
    let operator = db.city_operator().await;
    let before: i64 = sqlx::query_scalar("SELECT max(id) FROM audit_log")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let case: i64 = sqlx::query_scalar("SELECT min(id) FROM incident WHERE status = 'reported'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let mut long = b"  spoofed id\t\xe4\xb8\xad ".to_vec();
    long.extend(std::iter::repeat_n(b'x', 200));
    for client_id in [b"bf6e9c1a-the-previous-rows-id".as_slice(), &long, b"  "] {
        let (status, server_id) = send_as(
            &state,
            "POST",
            &format!("/api/v1/incidents/{case}/actions"),
            &operator,
            json!({"action": "assign", "worker_id": 1}),
            &[("x-request-id", client_id)],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(uuid::Uuid::parse_str(&server_id).is_ok(), "{server_id}");
        let (request_id, client_request_id): (String, Option<String>) = sqlx::query_as(
            "SELECT request_id, client_request_id FROM audit_log ORDER BY id DESC LIMIT 1",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(request_id, server_id, "the answer names the row");
        let expected: Option<String> = match client_id.len() {
            2 => None,
            n if n > 64 => Some(format!("spoofedid{}", "x".repeat(55))),
            _ => Some(String::from_utf8(client_id.to_vec()).unwrap()),
        };
        assert_eq!(client_request_id, expected);
    }
    // Rows with and without a client's id chain and verify; a row without one hashes exactly
    // as every row did before the column existed.
    assert!(audit::verify(&db.pool).await.is_ok());
    let unchanged: bool = sqlx::query_scalar(
        "SELECT bool_and(audit_canonical(a) = concat_ws(E'\\x1f', a.id::text,
                    to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                    coalesce(a.user_id::text, ''), a.username, a.role, a.action, a.object_type,
                    a.object_id, a.area_code, a.outcome, a.request_id, a.client_addr))
         FROM audit_log a WHERE a.client_request_id IS NULL",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(unchanged);
    // An altered client id is found like any other alteration.
    sqlx::query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET client_request_id = 'other' WHERE id = $1 + 1")
        .bind(before)
        .execute(&db.pool)
        .await
        .unwrap();
    let err = audit::verify(&db.pool).await.unwrap_err();
    assert!(
        matches!(err, AuditError::Broken { id, .. } if id == before + 1),
        "{err}"
    );
}
