//! Automatic escalation: a case still open when its tier's deadline passes goes one tier up
//! (village → township → county → city) with the new tier's deadline, a timeline event and
//! an audit row. At the city it stays overdue: nothing is pushed further up.

use std::time::Duration;

use sqlx::PgPool;

use crate::audit::{self, Entry, RequestMeta};
use crate::incidents::idempotency;
use crate::model::open_statuses;

/// Cases escalated in one transaction at most; the rest wait for the next round.
const BATCH: i64 = 500;

/// Escalates every overdue open case below the city; returns their ids.
pub async fn escalate_overdue(pool: &PgPool) -> Result<Vec<i64>, sqlx::Error> {
    let mut escalated = Vec::new();
    loop {
        let mut tx = pool.begin().await?;
        // SKIP LOCKED: a case a user is acting on right now is left for the next round, and
        // two servers sweeping at once never escalate the same case twice.
        let rows: Vec<(i64, String)> = sqlx::query_as(concat!(
            "WITH due AS (
                 -- The next tier: the enum's values are in order, village first.
                 SELECT id, (enum_range(NULL::incident_tier))
                                [array_position(enum_range(NULL::incident_tier), tier) + 1] AS next
                 FROM incident
                 WHERE status IN ",
            open_statuses!(),
            "
                   AND due_at < now() AND tier <> 'city'
                 ORDER BY due_at, id LIMIT $1
                 FOR UPDATE SKIP LOCKED
             ), up AS (
                 UPDATE incident i SET
                     tier = due.next,
                     due_at = now() + wangge_deadline(i.category, i.severity, due.next),
                     updated_at = now()
                 FROM due WHERE i.id = due.id
                 RETURNING i.id, i.status, i.tier, i.area_code
             ), events AS (
                 INSERT INTO incident_event (incident_id, kind, status, tier, actor, note)
                 SELECT id, 'escalated', status, tier, 'system', '超过办理时限，自动升级' FROM up
             )
             SELECT id, area_code FROM up ORDER BY id"
        ))
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        let meta = RequestMeta::system(
            format!("escalation-{}", uuid::Uuid::new_v4().simple()),
            "system",
        );
        for (id, area_code) in &rows {
            let mut entry = Entry::system("auto_escalate", "incident", id.to_string(), &meta);
            entry.area_code = area_code;
            audit::record(&mut tx, &entry).await?;
        }
        tx.commit().await?;
        let done = (rows.len() as i64) < BATCH;
        escalated.extend(rows.into_iter().map(|(id, _)| id));
        if done {
            return Ok(escalated);
        }
    }
}

/// Runs [`escalate_overdue`] and forgets expired idempotency keys every `every`, until the
/// runtime stops. Errors are logged and the next round tries again.
pub fn start(pool: PgPool, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match escalate_overdue(&pool).await {
                Ok(ids) if !ids.is_empty() => {
                    tracing::info!(count = ids.len(), "escalated overdue cases");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "escalation round failed"),
            }
            match pool.acquire().await {
                Ok(mut conn) => {
                    if let Err(error) = idempotency::sweep(&mut conn).await {
                        tracing::warn!(%error, "idempotency sweep failed");
                    }
                }
                Err(error) => tracing::warn!(%error, "idempotency sweep failed"),
            }
        }
    })
}
