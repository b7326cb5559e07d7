//! The database: connecting (embedded cluster or `DATABASE_URL`), migrations, the one way
//! geometry crosses the boundary ([`geometry`]), and GeoJSON answers built by PostGIS
//! ([`geojson`]).

pub mod geojson;
pub mod geometry;

use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("connecting to the database failed: {0}")]
    Connect(#[source] sqlx::Error),
    #[error(
        "the PostGIS extension is not installed on the database server; install it with \
         `scripts/install-deps.sh` (Debian package postgresql-15-postgis-3)"
    )]
    PostgisMissing,
    #[error("running migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The database role the server's requests run as (created by the migrations). It may not
/// change the schema, nor update, delete or truncate the audit trail and incident timeline.
pub const APPLICATION_ROLE: &str = "wangge_app";

/// What a pool's connections may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// The login role itself: migrations, imports, the demo loader and the command line.
    Owner,
    /// [`APPLICATION_ROLE`], for serving requests.
    Application,
}

/// Opens a pool. Every connection gets a statement timeout so no request can hold the
/// database indefinitely, and speaks UTC.
pub async fn connect(
    options: PgConnectOptions,
    max_connections: u32,
    privilege: Privilege,
) -> Result<PgPool, DbError> {
    // The role is a startup setting rather than a `SET ROLE` after connecting, so that even a
    // `RESET ROLE` on the connection falls back to it, not to the login role.
    // No JIT: our statements are short or spatial, and the planner's costs for spatial
    // functions are guesses; a rebalancing's clip spent 1 s of its 3.8 s compiling.
    let mut settings = vec![
        ("statement_timeout", "30s"),
        ("timezone", "UTC"),
        ("jit", "off"),
    ];
    if privilege == Privilege::Application {
        settings.push(("role", APPLICATION_ROLE));
    }
    // Bulk loads and ANALYZE are slow by nature; a statement is worth a warning from 10 s.
    let options = options
        .application_name("wangge")
        .options(settings)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(10));
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(DbError::Connect)
}

/// Applies pending migrations; reports a missing PostGIS plainly.
/// Makes the transaction on `conn` a bulk write (the demo's load, an import): no statement
/// timeout, since it may check and write a whole city; the change triggers quiet, since one
/// notice per row made a 100,000-cell import spend most of its time notifying; and instead
/// one notice of kind `event` for all its rows, sent when it commits (`all`: everything may
/// have changed; `grid_plan`: a plan's cells).
pub async fn bulk_write(conn: &mut sqlx::PgConnection, event: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SET LOCAL statement_timeout = 0")
        .execute(&mut *conn)
        .await?;
    sqlx::query("SET LOCAL wangge.bulk_load = 'on'")
        .execute(&mut *conn)
        .await?;
    sqlx::query("SELECT pg_notify('wangge_change', json_build_object('e', $1::text)::text)")
        .bind(event)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    let available: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'postgis')",
    )
    .fetch_one(pool)
    .await
    .map_err(DbError::Connect)?;
    if !available {
        return Err(DbError::PostgisMissing);
    }
    MIGRATOR.run(pool).await?;
    Ok(())
}
