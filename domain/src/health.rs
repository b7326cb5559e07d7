//! What the readiness probe asks of the system: that the database answers, and soon.

use std::time::Duration;

use sqlx::PgPool;

/// How long the database has to answer before the server counts as not ready.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// Whether the database answers a trivial query within [`ANSWER_WITHIN`]; a pool timeout
/// when it does not.
pub async fn database_ready(pool: &PgPool) -> Result<(), sqlx::Error> {
    let ping = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(pool);
    match tokio::time::timeout(ANSWER_WITHIN, ping).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(sqlx::Error::PoolTimedOut),
    }
}
