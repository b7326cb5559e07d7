//! The test harness: a fresh PostgreSQL + PostGIS database per test, cloned from templates
//! that are migrated (and, for demo tests, loaded) once per cluster.
//!
//! The cluster is `WANGGE_TEST_DATABASE_URL` (a URL of any database on a server where the
//! test role may create databases), which `scripts/test.sh` sets after starting a private
//! cluster with `wangge db start`. Without it, the harness starts an embedded cluster of its
//! own in the system's temporary folder and leaves it running for the next run. Templates are
//! keyed by the migrations only: after changing the demo generator or loader, run the tests
//! through `scripts/test.sh` (a new cluster each time) or drop the `wangge_tpl_*` databases.

#![allow(dead_code)]

use std::sync::OnceLock;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};
use wangge::auth::Role;
use wangge::auth::session::{self, SessionKind};
use wangge::auth::users::{self, AreaCode};
use wangge::config::AuthConfig;
use wangge::demo::{self, Scale};

/// A response of the in-process app, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: axum::http::StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON; panics, showing the body, when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The Content-Type, or "" when there is none.
    pub fn content_type(&self) -> &str {
        self.headers
            .get(axum::http::header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }
}

/// Sends one request through the in-process app and reads the whole answer.
pub async fn send(
    state: &wangge::AppState,
    request: axum::http::Request<axum::body::Body>,
) -> Reply {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let response = wangge::app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: body.to_vec(),
    }
}

/// `method` on `uri` through the in-process app as a bearer token, with a JSON body if given.
pub async fn call(
    state: &wangge::AppState,
    token: &str,
    method: axum::http::Method,
    uri: &str,
    body: Option<&serde_json::Value>,
) -> Reply {
    let request = axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .header(axum::http::header::AUTHORIZATION, format!("Bearer {token}"))
        .header(axum::http::header::CONTENT_TYPE, "application/json");
    let body = body.map_or_else(axum::body::Body::empty, |b| {
        axum::body::Body::from(b.to_string())
    });
    send(state, request.body(body).unwrap()).await
}

/// A GET through the in-process app as a bearer token: the status and the JSON body (null
/// when the body is not JSON).
pub async fn get_as_bearer(
    state: &wangge::AppState,
    token: &str,
    uri: &str,
) -> (axum::http::StatusCode, serde_json::Value) {
    let request = axum::http::Request::get(uri)
        .header(axum::http::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let reply = send(state, request).await;
    (
        reply.status,
        serde_json::from_slice(&reply.body).unwrap_or_default(),
    )
}

/// The key the test templates' personal data is sealed with.
pub fn test_key() -> wangge::personal::DataKey {
    wangge::personal::DataKey::from_hex(&"5a".repeat(32)).unwrap()
}

/// The password of every user the tests create.
pub const PASSWORD: &str = "test-password-2026";

/// The fixed end of the demo's history in tests, so their data never depends on the clock.
pub fn reference_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

/// The server's warnings and errors go to the test's captured output, so that a failing
/// test shows the cause of a 500 (logged under its `error_id`) and any slow statement, not
/// only the answer. `RUST_LOG` overrides the level.
fn log_to_test_output() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // The first test to get here installs it; for the others it is there already.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// Where the test cluster is, found (or started) once per test binary.
fn server_options() -> &'static PgConnectOptions {
    static OPTIONS: OnceLock<PgConnectOptions> = OnceLock::new();
    OPTIONS.get_or_init(|| {
        if let Ok(url) = std::env::var("WANGGE_TEST_DATABASE_URL") {
            return url.parse().expect("WANGGE_TEST_DATABASE_URL is a valid URL");
        }
        // Start (or reuse) an embedded cluster on a runtime of its own: the options outlive
        // any one test's runtime.
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async {
                let dir = std::env::temp_dir().join("wangge-test-cluster");
                let cluster = wangge::embedded::EmbeddedPostgres::start(&dir)
                    .await
                    .expect("start an embedded test cluster (is PostGIS installed? run scripts/install-deps.sh)");
                let url = cluster.url_for("postgres");
                cluster.detach();
                url.parse::<PgConnectOptions>().unwrap()
            })
        })
        .join()
        .unwrap()
    })
}

fn options_for(database: &str) -> PgConnectOptions {
    server_options().clone().database(database)
}

async fn maintenance() -> PgConnection {
    options_for("postgres")
        .connect()
        .await
        .expect("connect to the test cluster")
}

async fn database_exists(conn: &mut PgConnection, name: &str) -> bool {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(conn)
        .await
        .unwrap()
}

/// A short hash of the migrations, so a template built from older ones is never used.
fn migrations_hash() -> String {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for m in wangge::db::MIGRATOR.iter() {
        for b in m.checksum.iter().chain(m.version.to_le_bytes().iter()) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01B3);
        }
    }
    format!("{:012x}", h & 0xFFFF_FFFF_FFFF)
}

/// Builds template `name` once per cluster (serialised across processes by an advisory lock).
async fn ensure_template(name: &str, fill: impl AsyncFnOnce(&PgPool)) {
    let mut conn = maintenance().await;
    sqlx::query("SELECT pg_advisory_lock(77001)")
        .execute(&mut conn)
        .await
        .unwrap();
    if !database_exists(&mut conn, name).await {
        let building = format!("{name}_building");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {building} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {building}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(options_for(&building))
            .await
            .unwrap();
        wangge::db::migrate(&pool)
            .await
            .expect("migrations apply to a fresh database");
        fill(&pool).await;
        pool.close().await;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {building} RENAME TO {name}"
        )))
        .execute(&mut conn)
        .await
        .unwrap();
    }
    sqlx::query("SELECT pg_advisory_unlock(77001)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

/// A database of its own for one test, dropped when the value is.
#[derive(Debug)]
pub struct TestDb {
    pub pool: PgPool,
    pub name: String,
}

impl TestDb {
    /// A fresh, migrated, empty database.
    pub async fn empty() -> Self {
        let template = format!("wangge_tpl_{}", migrations_hash());
        ensure_template(&template, async |_| {}).await;
        Self::from_template(&template).await
    }

    /// A fresh database holding the small (one-county) demo.
    pub async fn small_demo() -> Self {
        Self::demo(Scale::Small).await
    }

    /// A fresh database holding the demo at `scale` (the full one takes minutes to build the
    /// first time on a cluster).
    #[allow(dead_code)] // Not every test file uses every scale.
    pub async fn demo(scale: Scale) -> Self {
        let name = match scale {
            Scale::Small => "small",
            Scale::Full => "full",
        };
        let template = format!("wangge_tpl_{name}_{}", migrations_hash());
        ensure_template(&template, async |pool| {
            let data = demo::generate(scale, demo::DEFAULT_SEED, reference_time());
            let cipher = wangge::personal::Cipher::new(&test_key());
            demo::load::load(pool, &data, &cipher, &mut |_| {})
                .await
                .expect("the small demo loads");
        })
        .await;
        Self::from_template(&template).await
    }

    /// A fresh database with nothing in it, not even PostGIS: what `wangge migrate` meets
    /// on a new server.
    pub async fn bare() -> Self {
        Self::from_template("template0").await
    }

    async fn from_template(template: &str) -> Self {
        log_to_test_output();
        let name = format!("wangge_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = maintenance().await;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE {name} TEMPLATE {template}"
        )))
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
        // Without JIT, as the server's own connections (`wangge::db::connect`).
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options_for(&name).options([("jit", "off")]))
            .await
            .unwrap();
        Self { pool, name }
    }

    /// A pool connected as the application role, as the server's requests are: what the
    /// in-process app under test must use, so that a missing grant fails the test.
    pub async fn app_pool(&self) -> PgPool {
        wangge::db::connect(
            options_for(&self.name),
            8,
            wangge::db::Privilege::Application,
        )
        .await
        .expect("connect as the application role")
    }

    /// The in-process app's state for this database, connected as the application role and
    /// holding the key the templates' personal data is sealed with.
    pub async fn state(&self, config: wangge::config::Config) -> wangge::AppState {
        let config = wangge::config::Config {
            data_key: test_key(),
            ..config
        };
        wangge::AppState::new(self.app_pool().await, config)
    }

    /// The in-process app's state with the default configuration for this database.
    pub async fn default_state(&self) -> wangge::AppState {
        self.state(wangge::config::Config::for_database(
            wangge::config::DatabaseConfig::External { url: self.url() },
        ))
        .await
    }

    /// A URL of this test's database, for running the `wangge` binary against it.
    pub fn url(&self) -> String {
        options_for(&self.name).to_url_lossy().to_string()
    }

    /// Adds a user and returns a bearer token for them.
    pub async fn user_token(&self, username: &str, role: Role, area: AreaCode) -> String {
        users::add(
            &self.pool,
            username,
            role,
            &area,
            PASSWORD,
            &wangge::audit::RequestMeta::cli(),
        )
        .await
        .unwrap();
        session::sign_in(
            &self.pool,
            username,
            PASSWORD,
            SessionKind::Bearer,
            "test",
            &AuthConfig::default(),
            &wangge::audit::RequestMeta::cli(),
        )
        .await
        .unwrap()
        .token
    }

    /// A bearer token of a command-centre operator for the whole city.
    pub async fn city_operator(&self) -> String {
        self.user_token("operator", Role::Operator, AreaCode::Unit("530400".into()))
            .await
    }

    /// A URL of this test's database in libpq's form, for PostgreSQL's own tools.
    pub fn libpq_url(&self) -> String {
        let o = options_for(&self.name);
        let host = match o.get_socket() {
            Some(dir) => dir.display().to_string(),
            None => o.get_host().to_owned(),
        };
        format!(
            "postgres://{}@localhost/{}?host={host}&port={}",
            o.get_username(),
            self.name,
            o.get_port()
        )
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Dropped inside a test's runtime: do the async cleanup on a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut conn) = options_for("postgres").connect().await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                }
            });
        })
        .join();
    }
}

/// Reports `n` cases at one point of grid cell `cell`, spread over the 20 days before `at`,
/// straight into the database: a cluster for the hot spot analyses to find.
pub async fn plant_cases(db: &TestDb, cell: i64, at: DateTime<Utc>, n: i32) {
    sqlx::query(
        "INSERT INTO incident (category, severity, title, geom, grid_cell_id, village_id,
                               township_id, county_id, due_at, reported_at)
         SELECT 'neighbour', 'minor', '聚集' || k, ST_PointOnSurface(g.geom), g.id, v.id, t.id,
                t.parent_id, $2 + interval '30 days', $2 - make_interval(days => k % 20 + 1)
         FROM grid_cell g JOIN admin_unit v ON v.id = g.village_id
         JOIN admin_unit t ON t.id = v.parent_id, generate_series(1, $3) k
         WHERE g.id = $1",
    )
    .bind(cell)
    .bind(at)
    .bind(n)
    .execute(&db.pool)
    .await
    .unwrap();
}
