//! Access control: signing in and out, sessions and tokens, lockout and rate limits, and
//! every data route scoped to the caller's area in the query itself.

use crate::common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use wangge::AppState;
use wangge::auth::Role;
use wangge::auth::users::{self, AreaCode};
use wangge::config::{AuthConfig, Config, DatabaseConfig, SecureCookie};

use common::{PASSWORD, Reply, TestDb};

/// Every route that serves data; each must refuse a caller without credentials.
const DATA_ROUTES: [&str; 18] = [
    "/api/v1/incidents",
    "/api/v1/incidents/1",
    "/api/v1/incident-categories",
    "/api/v1/incident-deadlines",
    "/api/v1/stats/headline",
    "/api/v1/workers",
    "/api/v1/client-config",
    "/api/v1/live",
    "/tiles/incidents/7/100/55",
    "/style.json",
    "/api/v1/admin-units?level=county",
    "/api/v1/admin-units?level=township",
    "/api/v1/admin-units?level=village",
    "/api/v1/grid-cells",
    "/api/v1/facilities",
    "/api/v1/stats/summary",
    "/api/v1/session",
    "/api/v1/audit",
];

#[derive(Debug)]
struct Server {
    state: AppState,
}

impl Server {
    async fn new(db: &TestDb) -> Self {
        Self::with_auth(db, AuthConfig::default()).await
    }

    async fn with_auth(db: &TestDb, auth: AuthConfig) -> Self {
        let config = Config {
            auth,
            ..Config::for_database(DatabaseConfig::External { url: db.url() })
        };
        Self {
            state: db.state(config).await,
        }
    }

    /// Waits until the server has heard every change committed so far. Sessions ended or
    /// users changed outside the server (here, by the test's SQL or the command line's
    /// functions) reach it through the change feed.
    async fn caught_up(&self) {
        self.state.live.sync(&self.state.pool).await.unwrap();
    }

    /// Runs `sql` outside the server (as the database's owner) and waits until the server
    /// has heard of it.
    async fn change_elsewhere(&self, db: &TestDb, sql: &'static str) {
        sqlx::query(sql).execute(&db.pool).await.unwrap();
        self.caught_up().await;
    }

    /// What `GET /api/v1/session` answers `credential` (a cookie or a bearer token).
    async fn session_status(&self, credential: &str) -> StatusCode {
        self.get("/api/v1/session", Some(credential)).await.status
    }

    async fn send(&self, request: Request<Body>) -> Reply {
        common::send(&self.state, request).await
    }

    async fn get(&self, uri: &str, credential: Option<&str>) -> Reply {
        let mut builder = Request::get(uri);
        if let Some(c) = credential {
            builder = if c.starts_with("wangge_session=") {
                builder.header(header::COOKIE, c)
            } else {
                builder.header(header::AUTHORIZATION, format!("Bearer {c}"))
            };
        }
        self.send(builder.body(Body::empty()).unwrap()).await
    }

    async fn post_json(&self, uri: &str, body: Value, from: Option<SocketAddr>) -> Reply {
        let mut request = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        if let Some(addr) = from {
            request.extensions_mut().insert(ConnectInfo(addr));
        }
        self.send(request).await
    }

    /// A sign-in from socket peer `from` with extra headers (a proxy's forwarded ones).
    async fn sign_in_from(
        &self,
        username: &str,
        password: &str,
        from: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut builder =
            Request::post("/api/v1/session").header(header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut request = builder
            .body(Body::from(
                json!({ "username": username, "password": password }).to_string(),
            ))
            .unwrap();
        let peer = SocketAddr::new(from.parse().unwrap(), 40000);
        request.extensions_mut().insert(ConnectInfo(peer));
        self.send(request).await
    }

    /// Signs in through the API; returns the `name=value` of the session cookie.
    async fn sign_in(&self, username: &str, password: &str) -> Result<String, Reply> {
        let reply = self
            .post_json(
                "/api/v1/session",
                json!({ "username": username, "password": password }),
                None,
            )
            .await;
        if reply.status != StatusCode::OK {
            return Err(reply);
        }
        let cookie = reply.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .to_owned();
        Ok(cookie.split(';').next().unwrap().to_owned())
    }
}

fn problem_type(reply: &Reply) -> String {
    assert_eq!(
        reply.headers[header::CONTENT_TYPE],
        "application/problem+json"
    );
    reply.json()["type"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn data_routes_need_a_session_or_token_but_health_does_not() {
    let db = TestDb::small_demo().await;
    let server = Server::new(&db).await;
    for route in DATA_ROUTES {
        let reply = server.get(route, None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{route}");
        assert_eq!(problem_type(&reply), "/problems/unauthenticated");
        assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Bearer");
        let forged = server.get(route, Some("0123456789abcdef")).await;
        assert_eq!(
            forged.status,
            StatusCode::UNAUTHORIZED,
            "{route} with a made-up token"
        );
    }
    for route in ["/healthz", "/readyz"] {
        assert_eq!(
            server.get(route, None).await.status,
            StatusCode::OK,
            "{route}"
        );
    }
}

#[tokio::test]
async fn a_browser_signs_in_with_an_httponly_cookie_and_out_again() {
    let db = TestDb::small_demo().await;
    db.city_operator().await;
    let server = Server::new(&db).await;

    let reply = server
        .post_json(
            "/api/v1/session",
            json!({ "username": "operator", "password": PASSWORD }),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let set_cookie = reply.headers[header::SET_COOKIE].to_str().unwrap();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(
            set_cookie.contains(attribute),
            "{set_cookie} lacks {attribute}"
        );
    }
    assert_eq!(reply.json()["role"], "operator");
    assert_eq!(reply.json()["area"]["code"], "530400");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    // The database keeps only the token's hash.
    let token = cookie.trim_start_matches("wangge_session=");
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM auth_session WHERE encode(token_hash, 'hex') = $1",
    )
    .bind(token)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(stored, 0, "no session is stored under its plain token");

    assert_eq!(server.session_status(&cookie).await, StatusCode::OK);
    assert_eq!(
        server.get("/api/v1/grid-cells", Some(&cookie)).await.status,
        StatusCode::OK
    );

    let out = server
        .send(
            Request::delete("/api/v1/session")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(
        out.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(
        server.get("/api/v1/grid-cells", Some(&cookie)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn wrong_passwords_and_unknown_users_look_the_same_and_cool_down_after_five() {
    let db = TestDb::small_demo().await;
    db.city_operator().await;
    let server = Server::with_auth(
        &db,
        AuthConfig {
            first_delay: std::time::Duration::from_secs(1),
            ..AuthConfig::default()
        },
    )
    .await;
    let unknown = server.sign_in("nobody", PASSWORD).await.unwrap_err();
    let wrong = server
        .sign_in("operator", "wrong-password")
        .await
        .unwrap_err();
    assert_eq!(
        (unknown.status, wrong.status),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(
        unknown.body, wrong.body,
        "the answer does not tell whether the user exists"
    );
    for _ in 0..4 {
        server
            .sign_in("operator", "wrong-password")
            .await
            .unwrap_err();
    }
    // Five failures in a row from one address: it cools down, even with the right password.
    let cooling = server.sign_in("operator", PASSWORD).await.unwrap_err();
    assert_eq!(cooling.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(problem_type(&cooling), "/problems/too-many-attempts");
    assert_eq!(cooling.headers[header::RETRY_AFTER], "1");
    // Once the cool-down has passed, the right password gets in (and clears the count).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(server.sign_in("operator", PASSWORD).await.is_ok());
    assert!(server.sign_in("operator", "wrong-password").await.is_err());
    assert!(server.sign_in("operator", PASSWORD).await.is_ok());
}

#[tokio::test]
async fn a_stranger_cannot_lock_out_the_owner_and_unknown_names_are_throttled_alike() {
    let db = TestDb::small_demo().await;
    db.city_operator().await;
    let server = Server::with_auth(
        &db,
        AuthConfig {
            first_delay: std::time::Duration::from_secs(60),
            ..AuthConfig::default()
        },
    )
    .await;
    let guard = &server.state.sign_in_guard;
    let denied_rows = async || -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM audit_log WHERE action = 'sign_in' AND outcome = 'denied'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap()
    };
    let stranger = "10.1.1.1";
    let mut answers: Vec<Vec<(StatusCode, String, Vec<u8>)>> = Vec::new();
    for name in ["operator", "nobody"] {
        let mut seen = Vec::new();
        for _ in 0..5 {
            let verified = guard.verifications();
            let reply = server.sign_in_from(name, "guess-1234", stranger, &[]).await;
            assert_eq!(
                guard.verifications(),
                verified + 1,
                "{name}: every admitted attempt verifies a hash"
            );
            seen.push((reply.status, String::new(), reply.body));
        }
        // Cooling down: refused before any verification, with or without the right password,
        // and the refusal is in the audit trail.
        for password in ["guess-1234", PASSWORD] {
            let (verified, rows) = (guard.verifications(), denied_rows().await);
            let reply = server.sign_in_from(name, password, stranger, &[]).await;
            assert_eq!(guard.verifications(), verified, "{name}: no verification");
            assert_eq!(denied_rows().await, rows + 1, "{name}: audited");
            let wait = reply.headers[header::RETRY_AFTER]
                .to_str()
                .unwrap()
                .to_owned();
            seen.push((reply.status, wait, reply.body));
        }
        answers.push(seen);
    }
    assert_eq!(
        answers[0], answers[1],
        "unknown and real names answered alike"
    );
    let statuses: Vec<StatusCode> = answers[0].iter().map(|a| a.0).collect();
    assert_eq!(
        statuses,
        [
            [StatusCode::UNAUTHORIZED; 5].as_slice(),
            [StatusCode::TOO_MANY_REQUESTS; 2].as_slice()
        ]
        .concat()
    );
    assert_eq!(answers[0][5].1, "60");
    // The owner, from their own address, is not locked out.
    let owner = server
        .sign_in_from("operator", PASSWORD, "10.2.2.2", &[])
        .await;
    assert_eq!(owner.status, StatusCode::OK);
    // Nor is the stranger's address kept from other names.
    let other = server
        .sign_in_from("planner", "guess-1234", stranger, &[])
        .await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn clients_of_a_trusted_proxy_are_told_apart_by_the_forwarded_address() {
    let db = TestDb::small_demo().await;
    db.city_operator().await;
    let config = Config {
        trusted_proxies: wangge::net::TrustedProxies::parse("10.0.0.1, 10.8.0.0/16").unwrap(),
        ..Config::for_database(DatabaseConfig::External { url: db.url() })
    };
    let server = Server {
        state: db.state(config).await,
    };
    let via_proxy = |client: &'static str| [("x-forwarded-for", client)];
    for _ in 0..5 {
        let reply = server
            .sign_in_from(
                "operator",
                "guess-1234",
                "10.0.0.1",
                &via_proxy("192.168.1.20"),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let stranger = server
        .sign_in_from("operator", PASSWORD, "10.0.0.1", &via_proxy("192.168.1.20"))
        .await;
    assert_eq!(stranger.status, StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the same proxy (through a second proxy hop) is someone else.
    let owner = server
        .sign_in_from(
            "operator",
            PASSWORD,
            "10.0.0.1",
            &[("x-forwarded-for", "6.6.6.6, 192.168.1.30, 10.8.3.3")],
        )
        .await;
    assert_eq!(owner.status, StatusCode::OK);
    // The audit trail records the same address the throttle used.
    let addrs: Vec<(String, String)> = sqlx::query_as(
        "SELECT outcome, client_addr FROM audit_log WHERE action = 'sign_in' ORDER BY id DESC LIMIT 2",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        addrs,
        [
            ("ok".to_owned(), "192.168.1.30".to_owned()),
            ("denied".to_owned(), "192.168.1.20".to_owned())
        ]
    );
    // From anyone else, a forwarded address is a claim, not an address: a guesser cannot
    // escape its cool-down by writing a new one each time.
    for n in 0..5 {
        let forged = format!("172.16.0.{n}");
        let reply = server
            .sign_in_from(
                "operator",
                "guess-1234",
                "10.9.9.9",
                &[("x-forwarded-for", &forged)],
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let forged = server
        .sign_in_from(
            "operator",
            PASSWORD,
            "10.9.9.9",
            &[("x-forwarded-for", "172.16.0.99")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::TOO_MANY_REQUESTS);
    let recorded: String = sqlx::query_scalar(
        "SELECT client_addr FROM audit_log WHERE action = 'sign_in' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(recorded, "10.9.9.9");
}

#[tokio::test]
async fn the_session_cookie_is_secure_where_the_browser_can_keep_it() {
    let db = TestDb::small_demo().await;
    db.city_operator().await;
    let server_with = async |secure_cookie| {
        let config = Config {
            trusted_proxies: wangge::net::TrustedProxies::parse("10.0.0.1").unwrap(),
            auth: AuthConfig {
                secure_cookie,
                ..AuthConfig::default()
            },
            ..Config::for_database(DatabaseConfig::External { url: db.url() })
        };
        Server {
            state: db.state(config).await,
        }
    };
    let secure = async |server: &Server, from: &str, headers: &[(&str, &str)]| {
        let reply = server
            .sign_in_from("operator", PASSWORD, from, headers)
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        let set_cookie = reply.headers[header::SET_COOKIE].to_str().unwrap();
        set_cookie.split(';').any(|a| a.trim() == "Secure")
    };
    let https = [
        ("x-forwarded-for", "192.168.1.20"),
        ("x-forwarded-proto", "https"),
    ];
    let http = [
        ("x-forwarded-for", "192.168.1.20"),
        ("x-forwarded-proto", "http"),
    ];
    let auto = server_with(SecureCookie::Auto).await;
    assert!(secure(&auto, "127.0.0.1", &[]).await, "loopback http");
    assert!(secure(&auto, "::1", &[]).await, "loopback http (IPv6)");
    assert!(
        !secure(&auto, "192.168.1.20", &[]).await,
        "plain http on the intranet: a Secure cookie would be dropped"
    );
    assert!(
        secure(&auto, "10.0.0.1", &https).await,
        "HTTPS at the proxy"
    );
    assert!(!secure(&auto, "10.0.0.1", &http).await, "http at the proxy");
    assert!(
        !secure(&auto, "192.168.1.21", &https).await,
        "a forwarded scheme counts only from a trusted proxy"
    );
    let always = server_with(SecureCookie::Always).await;
    assert!(secure(&always, "192.168.1.20", &[]).await);
    let never = server_with(SecureCookie::Never).await;
    assert!(!secure(&never, "127.0.0.1", &[]).await);
}

#[tokio::test]
async fn demo_users_keep_their_password_and_sessions_across_starts() {
    let db = TestDb::small_demo().await;
    let meta = wangge::audit::RequestMeta::cli();
    let signs_in = async |password: &str| {
        wangge::auth::session::sign_in(
            &db.pool,
            "dispatcher",
            password,
            wangge::auth::session::SessionKind::Bearer,
            "test",
            &AuthConfig::default(),
            &meta,
        )
        .await
        .ok()
        .map(|issued| issued.token)
    };
    // First start without a password: one is generated for the users made now.
    let first = users::ensure_demo_users(&db.pool, None, &meta)
        .await
        .unwrap();
    let generated = first.generated.clone().expect("a password was generated");
    assert_eq!(first.created.len(), Role::ALL.len());
    let token = signs_in(&generated)
        .await
        .expect("the printed password works");
    let server = Server::new(&db).await;
    // The next starts, without and with that same password: nothing changes, nothing printed.
    for wanted in [None, Some(generated.as_str())] {
        let again = users::ensure_demo_users(&db.pool, wanted, &meta)
            .await
            .unwrap();
        assert_eq!(again, users::DemoUsers::default(), "{wanted:?}");
        server.caught_up().await;
        assert_eq!(server.session_status(&token).await, StatusCode::OK);
    }
    // Asked for another password: set, and the old sessions end.
    let changed = users::ensure_demo_users(&db.pool, Some("another-demo-pass"), &meta)
        .await
        .unwrap();
    assert_eq!(changed.password_set.len(), Role::ALL.len());
    assert_eq!(changed.generated, None);
    server.caught_up().await;
    assert_eq!(
        server.session_status(&token).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(signs_in("another-demo-pass").await.is_some());
    assert!(signs_in(&generated).await.is_none());
}

#[tokio::test]
async fn sign_in_attempts_are_limited_per_client_address() {
    let db = TestDb::small_demo().await;
    db.city_operator().await;
    let server = Server::with_auth(
        &db,
        AuthConfig {
            address_limit: 3,
            ..AuthConfig::default()
        },
    )
    .await;
    let (a, b): (SocketAddr, SocketAddr) = (
        "10.1.1.1:5000".parse().unwrap(),
        "10.1.1.2:5000".parse().unwrap(),
    );
    let attempt = |from| {
        server.post_json(
            "/api/v1/session",
            json!({ "username": "x", "password": "y" }),
            Some(from),
        )
    };
    for _ in 0..3 {
        assert_eq!(attempt(a).await.status, StatusCode::UNAUTHORIZED);
    }
    let limited = attempt(a).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers.contains_key(header::RETRY_AFTER));
    assert_eq!(
        attempt(b).await.status,
        StatusCode::UNAUTHORIZED,
        "another address is still heard"
    );
}

#[tokio::test]
async fn sessions_end_when_idle_or_old_and_tokens_when_old() {
    let db = TestDb::small_demo().await;
    let token = db.city_operator().await;
    let server = Server::new(&db).await;
    let cookie = server.sign_in("operator", PASSWORD).await.unwrap();
    // Idle past the timeout: the cookie session ends, the bearer token does not.
    sqlx::query("UPDATE auth_session SET last_seen_at = now() - interval '31 minutes'")
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        server.session_status(&cookie).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(server.session_status(&token).await, StatusCode::OK);
    // Past its absolute expiry, a token ends too.
    server
        .change_elsewhere(
            &db,
            "UPDATE auth_session SET created_at = now() - interval '40 days', expires_at = now() - interval '1 second'",
        )
        .await;
    assert_eq!(
        server.session_status(&token).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn field_devices_get_bearer_tokens_and_disabled_users_lose_them() {
    let db = TestDb::small_demo().await;
    let cell: String = sqlx::query_scalar("SELECT code FROM grid_cell ORDER BY code LIMIT 1")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    wangge::auth::users::add(
        &db.pool,
        "worker",
        Role::Worker,
        &AreaCode::GridCell(cell.clone()),
        PASSWORD,
        &wangge::audit::RequestMeta::cli(),
    )
    .await
    .unwrap();
    let server = Server::new(&db).await;
    let reply = server
        .post_json(
            "/api/v1/tokens",
            json!({ "username": "worker", "password": PASSWORD, "label": "phone 1" }),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.json()["token_type"], "Bearer");
    assert_eq!(reply.json()["area"]["code"], cell.as_str());
    let token = reply.json()["token"].as_str().unwrap().to_owned();
    let me = server.get("/api/v1/session", Some(&token)).await;
    assert_eq!(me.json()["username"], "worker");
    wangge::auth::users::disable(&db.pool, "worker", &wangge::audit::RequestMeta::cli())
        .await
        .unwrap();
    server.caught_up().await;
    assert_eq!(
        server.session_status(&token).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(
        server.sign_in("worker", PASSWORD).await.is_err(),
        "a disabled user cannot sign in"
    );
}

#[tokio::test]
async fn a_body_with_fields_the_caller_may_not_set_is_refused() {
    let db = TestDb::small_demo().await;
    db.city_operator().await;
    let server = Server::new(&db).await;
    let before: i64 = db.count("auth_session").await;
    for body in [
        json!({ "username": "operator", "password": PASSWORD, "role": "admin" }),
        json!({ "username": "operator" }),
        json!([1, 2]),
    ] {
        let reply = server
            .post_json("/api/v1/session", body.clone(), None)
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(problem_type(&reply), "/problems/malformed-body");
    }
    assert_eq!(db.count("auth_session").await, before, "nothing written");
}

/// A second county (江川区) with one township, village, grid cell, household, facility and
/// incident, so that a neighbouring county's records exist to leak.
async fn add_another_county(db: &TestDb) {
    sqlx::query(
        "WITH city AS (SELECT id FROM admin_unit WHERE level = 'city'),
              county AS (
                  INSERT INTO admin_unit (level, code, name, parent_id, geom)
                  SELECT 'county', '530403', '江川区', id,
                         ST_Multi(ST_MakeEnvelope(102.70, 24.20, 102.80, 24.30, 4326)) FROM city
                  RETURNING id),
              township AS (
                  INSERT INTO admin_unit (level, code, name, parent_id, geom)
                  SELECT 'township', '530403001', '大街街道', id,
                         ST_Multi(ST_MakeEnvelope(102.70, 24.20, 102.80, 24.30, 4326)) FROM county
                  RETURNING id),
              village AS (
                  INSERT INTO admin_unit (level, code, name, parent_id, geom)
                  SELECT 'village', '530403001001', '新街社区居民委员会', id,
                         ST_Multi(ST_MakeEnvelope(102.70, 24.20, 102.80, 24.30, 4326)) FROM township
                  RETURNING id),
              cell AS (
                  INSERT INTO grid_cell (plan_id, village_id, code, name, geom)
                  SELECT p.id, v.id, '530403001001-01', '新街社区第一网格',
                         ST_Multi(ST_MakeEnvelope(102.70, 24.20, 102.80, 24.30, 4326))
                  FROM village v, grid_plan p WHERE p.status = 'published'
                  RETURNING id, village_id),
              household AS (
                  INSERT INTO household (address, size, village_id, geom)
                  SELECT '江川区新街社区1号', 3, village_id, ST_SetSRID(ST_MakePoint(102.75, 24.25), 4326) FROM cell
                  RETURNING id),
              facility AS (
                  INSERT INTO facility (kind, name, admin_unit_id, geom)
                  SELECT 'police_station', '大街派出所', id, ST_SetSRID(ST_MakePoint(102.75, 24.25), 4326) FROM township
                  RETURNING id)
         INSERT INTO incident (category, severity, title, geom, grid_cell_id, village_id, township_id, county_id)
         SELECT 'neighbour', 'minor', '邻里纠纷', ST_SetSRID(ST_MakePoint(102.75, 24.25), 4326),
                cell.id, cell.village_id, township.id, county.id
         FROM cell, township, county, household, facility",
    )
    .execute(&db.pool)
    .await
    .unwrap();
}

/// For each area kind and role, every route answers only what lies inside the area, even
/// when asked for the whole city; the summary equals counts computed here independently.
#[tokio::test]
async fn every_route_for_every_role_answers_only_inside_the_callers_area() {
    let db = TestDb::small_demo().await;
    add_another_county(&db).await;
    let server = Server::new(&db).await;
    let (township, village): (String, String) = sqlx::query_as(
        "SELECT t.code, v.code FROM admin_unit t JOIN admin_unit v ON v.parent_id = t.id
         WHERE t.level = 'township' ORDER BY t.code, v.code LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let (cell_id, cell): (i64, String) = sqlx::query_as(
        "SELECT g.id, g.code FROM grid_cell g JOIN admin_unit v ON v.id = g.village_id
         WHERE v.code = $1 ORDER BY g.code LIMIT 1",
    )
    .bind(&village)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let areas = [
        (
            "county",
            AreaCode::Unit("530402".into()),
            "530402".to_owned(),
            None,
        ),
        (
            "another county",
            AreaCode::Unit("530403".into()),
            "530403".to_owned(),
            None,
        ),
        (
            "township",
            AreaCode::Unit(township.clone()),
            township.clone(),
            None,
        ),
        (
            "village",
            AreaCode::Unit(village.clone()),
            village.clone(),
            None,
        ),
        (
            "grid_cell",
            AreaCode::GridCell(cell.clone()),
            village.clone(),
            Some(cell_id),
        ),
    ];
    let city_bbox = "bbox=100,22,105,26";
    let mut n = 0;
    for (kind, area, prefix, only_cell) in &areas {
        for role in Role::ALL {
            n += 1;
            let token = db.user_token(&format!("u{n}"), role, area.clone()).await;
            let who = format!("{} scoped to a {kind}", role.as_str());
            for level in ["county", "township", "village"] {
                let reply = server
                    .get(
                        &format!("/api/v1/admin-units?level={level}&{city_bbox}"),
                        Some(&token),
                    )
                    .await;
                assert_eq!(reply.status, StatusCode::OK, "{who}");
                for f in reply.json()["features"].as_array().unwrap() {
                    let code = f["properties"]["code"].as_str().unwrap();
                    assert!(
                        code.starts_with(prefix.as_str()),
                        "{who} was shown {level} {code}"
                    );
                }
            }
            let cells = server
                .get(&format!("/api/v1/grid-cells?{city_bbox}"), Some(&token))
                .await;
            let cells = cells.json()["features"].as_array().unwrap().clone();
            assert!(!cells.is_empty(), "{who} sees the cells of their own area");
            for f in &cells {
                assert!(
                    f["properties"]["village_code"]
                        .as_str()
                        .unwrap()
                        .starts_with(prefix.as_str()),
                    "{who}"
                );
                if only_cell.is_some() {
                    assert_eq!(
                        f["properties"]["code"],
                        cell.as_str(),
                        "{who} sees only their cell"
                    );
                }
            }
            let facilities = server
                .get(&format!("/api/v1/facilities?{city_bbox}"), Some(&token))
                .await;
            let ids: Vec<i64> = facilities.json()["features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["properties"]["id"].as_i64().unwrap())
                .collect();
            let outside: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM facility f JOIN admin_unit a ON a.id = f.admin_unit_id
                 WHERE f.id = ANY($1) AND a.code NOT LIKE $2 || '%'",
            )
            .bind(&ids)
            .bind(prefix)
            .fetch_one(&db.pool)
            .await
            .unwrap();
            assert_eq!(outside, 0, "{who} was shown facilities outside their area");

            let summary = server
                .get("/api/v1/stats/summary", Some(&token))
                .await
                .json();
            let (cells_n, incidents_n, households_n): (i64, i64, i64) = sqlx::query_as(
                "SELECT
                   (SELECT count(*) FROM grid_cell g JOIN admin_unit v ON v.id = g.village_id
                     WHERE v.code LIKE $1 || '%' AND ($2::int8 IS NULL OR g.id = $2)),
                   (SELECT count(*) FROM incident i JOIN admin_unit v ON v.id = i.village_id
                     WHERE v.code LIKE $1 || '%' AND ($2::int8 IS NULL OR i.grid_cell_id = $2)),
                   (SELECT count(*) FROM household h JOIN admin_unit v ON v.id = h.village_id
                     WHERE v.code LIKE $1 || '%'
                       AND ($2::int8 IS NULL OR ST_Intersects(h.geom, (SELECT geom FROM grid_cell WHERE id = $2))))",
            )
            .bind(prefix)
            .bind(*only_cell)
            .fetch_one(&db.pool)
            .await
            .unwrap();
            assert_eq!(summary["grid_cells"], cells_n, "{who}");
            assert_eq!(summary["incidents"], incidents_n, "{who}");
            assert_eq!(summary["households"], households_n, "{who}");
            assert!(
                summary["households"].as_i64().unwrap() < db.count("household").await,
                "{who}"
            );

            // Incidents: the list's total is the area's count, every item inside it.
            let list = server
                .get("/api/v1/incidents?limit=200", Some(&token))
                .await
                .json();
            assert_eq!(list["total"], incidents_n, "{who}");
            for item in list["items"].as_array().unwrap() {
                assert!(
                    item["village_code"]
                        .as_str()
                        .unwrap()
                        .starts_with(prefix.as_str()),
                    "{who} listed {item}"
                );
                if only_cell.is_some() {
                    assert_eq!(item["grid_cell_code"], cell.as_str(), "{who}");
                }
            }
            // A record outside the area answers exactly like one that does not exist.
            let outside_id: i64 = sqlx::query_scalar(
                "SELECT i.id FROM incident i JOIN admin_unit v ON v.id = i.village_id
                 WHERE v.code NOT LIKE $1 || '%' OR ($2::int8 IS NOT NULL AND i.grid_cell_id <> $2)
                 ORDER BY i.id LIMIT 1",
            )
            .bind(prefix)
            .bind(*only_cell)
            .fetch_one(&db.pool)
            .await
            .unwrap();
            let outside = server
                .get(&format!("/api/v1/incidents/{outside_id}"), Some(&token))
                .await;
            let missing = server
                .get("/api/v1/incidents/999999999", Some(&token))
                .await;
            assert_eq!(outside.status, StatusCode::NOT_FOUND, "{who}");
            assert_eq!(
                outside.body, missing.body,
                "{who}: outside looks like missing"
            );
            // Reporters only for the roles that call or visit them.
            if let Some(own) = list["items"].as_array().unwrap().first() {
                let detail = server
                    .get(&format!("/api/v1/incidents/{}", own["id"]), Some(&token))
                    .await
                    .json();
                let sees = matches!(role, Role::Dispatcher | Role::Worker);
                assert_eq!(detail.get("reporter").is_some(), sees, "{who}: {detail}");
            }
            // The headline counts the area's open cases only.
            let headline = server
                .get("/api/v1/stats/headline", Some(&token))
                .await
                .json();
            let open_n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM incident i JOIN admin_unit v ON v.id = i.village_id
                 WHERE v.code LIKE $1 || '%' AND ($2::int8 IS NULL OR i.grid_cell_id = $2)
                   AND i.status IN ('reported', 'assigned', 'accepted', 'in_progress')",
            )
            .bind(prefix)
            .bind(*only_cell)
            .fetch_one(&db.pool)
            .await
            .unwrap();
            let by_tier = &headline["open_by_tier"];
            let headline_open: i64 = ["village", "township", "county", "city"]
                .iter()
                .map(|t| by_tier[t].as_i64().unwrap())
                .sum();
            assert_eq!(headline_open, open_n, "{who}");
            // Workers: only those responsible for cells in the area.
            let workers = server.get("/api/v1/workers", Some(&token)).await.json();
            let worker_ids: Vec<i64> = workers["features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["id"].as_i64().unwrap())
                .collect();
            let stray: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM unnest($1::int8[]) w(id) WHERE NOT EXISTS (
                     SELECT 1 FROM grid_worker_cell wc JOIN grid_cell g ON g.id = wc.grid_cell_id
                     JOIN admin_unit v ON v.id = g.village_id
                     WHERE wc.worker_id = w.id AND v.code LIKE $2 || '%'
                       AND ($3::int8 IS NULL OR g.id = $3))",
            )
            .bind(&worker_ids)
            .bind(prefix)
            .bind(*only_cell)
            .fetch_one(&db.pool)
            .await
            .unwrap();
            assert_eq!(stray, 0, "{who} was shown workers outside their area");
            // A tile over both counties holds only the area's incidents.
            let tile = server.get("/tiles/incidents/7/100/55", Some(&token)).await;
            assert_eq!(tile.status, StatusCode::OK, "{who}");
            if !tile.body.is_empty() {
                let reader = mvt_reader::Reader::new(tile.body.clone()).unwrap();
                let tile_ids: Vec<i64> = reader
                    .get_features(0)
                    .unwrap()
                    .iter()
                    .map(|f| f.id.unwrap() as i64)
                    .collect();
                let outside_tile: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM incident i JOIN admin_unit v ON v.id = i.village_id
                     WHERE i.id = ANY($1)
                       AND (v.code NOT LIKE $2 || '%' OR ($3::int8 IS NOT NULL AND i.grid_cell_id <> $3))",
                )
                .bind(&tile_ids)
                .bind(prefix)
                .bind(*only_cell)
                .fetch_one(&db.pool)
                .await
                .unwrap();
                assert_eq!(outside_tile, 0, "{who} saw outside incidents in a tile");
            }
        }
    }
}

/// Sessions are served from memory between look-ups; whatever ends them or changes their
/// user outside this server must still take effect as soon as the server hears of it.
#[tokio::test]
async fn sessions_changed_or_ended_elsewhere_take_effect_when_the_server_hears_of_it() {
    let db = TestDb::small_demo().await;
    let token = db
        .user_token("zhou", Role::Operator, AreaCode::Unit("530400".into()))
        .await;
    let second = db.city_operator().await;
    let server = Server::new(&db).await;
    // Until the listener is connected nothing is cached; make sure it is, so the look-ups
    // below are kept.
    server.caught_up().await;
    for _ in 0..2 {
        let me = server.get("/api/v1/session", Some(&token)).await;
        assert_eq!(me.json()["role"], "operator");
        assert_eq!(me.json()["area"]["code"], "530400");
    }
    // A new role and area, set in SQL: the next request after the notice sees them.
    let county: String = sqlx::query_scalar(
        "SELECT code FROM admin_unit WHERE level = 'county' ORDER BY code LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE app_user SET role = 'planner',
                area_unit_id = (SELECT id FROM admin_unit WHERE code = $1)
         WHERE username = 'zhou'",
    )
    .bind(&county)
    .execute(&db.pool)
    .await
    .unwrap();
    server.caught_up().await;
    let me = server.get("/api/v1/session", Some(&token)).await;
    assert_eq!(me.json()["role"], "planner");
    assert_eq!(me.json()["area"]["code"], county.as_str());
    // Revoked in SQL: dead after the notice; another user's token lives on.
    assert_eq!(server.session_status(&second).await, StatusCode::OK);
    server
        .change_elsewhere(
            &db,
            "UPDATE auth_session SET revoked_at = now()
             WHERE user_id = (SELECT id FROM app_user WHERE username = 'zhou')",
        )
        .await;
    assert_eq!(
        server.session_status(&token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(server.session_status(&second).await, StatusCode::OK);
    // Deleted outright: dead too.
    server
        .change_elsewhere(&db, "DELETE FROM auth_session")
        .await;
    assert_eq!(
        server.session_status(&second).await,
        StatusCode::UNAUTHORIZED
    );
}

/// Signing out through the server ends the session for the very next request.
#[tokio::test]
async fn a_signed_out_token_is_refused_at_once() {
    let db = TestDb::small_demo().await;
    let token = db.city_operator().await;
    let server = Server::new(&db).await;
    server.caught_up().await;
    assert_eq!(server.session_status(&token).await, StatusCode::OK);
    let out = server
        .send(
            Request::delete("/api/v1/session")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        server.session_status(&token).await,
        StatusCode::UNAUTHORIZED
    );
}

/// `[west, south, east, north]` of a grid cell's or unit's outline, as PostGIS boxes it.
async fn outline_box(db: &TestDb, sql: &'static str, code: &str) -> Vec<f64> {
    sqlx::query_scalar(sql)
        .bind(code)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

/// The session's `bbox`, which must be `want` (to a micro-degree).
fn assert_session_box(session: &Value, want: &[f64], what: &str) -> Vec<f64> {
    let got: Vec<f64> = session["bbox"]
        .as_array()
        .unwrap_or_else(|| panic!("no bbox in {session}"))
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(got.len(), 4, "{got:?}");
    for (a, b) in got.iter().zip(want) {
        assert!((a - b).abs() < 1e-6, "{got:?} is not {what}'s box {want:?}");
    }
    got
}

#[tokio::test]
async fn the_session_says_where_the_callers_map_opens_and_which_worker_a_grid_worker_is() {
    let db = TestDb::small_demo().await;
    let server = Server::new(&db).await;
    let (worker, worker_name, cell): (i64, String, String) = sqlx::query_as(
        "SELECT w.id, w.name, g.code FROM grid_worker w
         JOIN grid_worker_cell wc ON wc.worker_id = w.id JOIN grid_cell g ON g.id = wc.grid_cell_id
         WHERE w.user_id IS NULL ORDER BY w.id LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let field = db
        .user_token("field", Role::Worker, AreaCode::GridCell(cell.clone()))
        .await;
    sqlx::query(
        "UPDATE grid_worker SET user_id = (SELECT id FROM app_user WHERE username = 'field'),
                status = 'off_duty' WHERE id = $1",
    )
    .bind(worker)
    .execute(&db.pool)
    .await
    .unwrap();
    let township: String = sqlx::query_scalar(
        "SELECT code FROM admin_unit WHERE level = 'township' ORDER BY code LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let staff = db
        .user_token("staff", Role::Operator, AreaCode::Unit(township.clone()))
        .await;

    let me = server.get("/api/v1/session", Some(&field)).await;
    assert_eq!(me.status, StatusCode::OK);
    let me = me.json();
    assert_eq!(me["worker"]["id"], worker);
    assert_eq!(me["worker"]["name"], worker_name.as_str());
    assert_eq!(me["worker"]["status"], "off_duty");
    let cell_box = outline_box(
        &db,
        "SELECT ARRAY[ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)]::float8[]
         FROM grid_cell WHERE code = $1 AND plan_id = (SELECT id FROM grid_plan WHERE status = 'published')",
        &cell,
    )
    .await;
    let got = assert_session_box(&me, &cell_box, "the cell");
    assert!(got[0] < got[2] && got[1] < got[3]);

    // A township's staff: their township's box, and no worker.
    let me = server.get("/api/v1/session", Some(&staff)).await.json();
    assert!(me["worker"].is_null(), "{me}");
    let township_box = outline_box(
        &db,
        "SELECT ARRAY[ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)]::float8[]
         FROM admin_unit WHERE code = $1",
        &township,
    )
    .await;
    let got = assert_session_box(&me, &township_box, "the township");
    assert_ne!(got, cell_box);
}
