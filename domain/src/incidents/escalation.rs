//! Automatic escalation: a case still open when its tier's deadline passes goes one tier up
//! (village → township → county → city) with the new tier's deadline, a timeline event and
//! an audit row. At the city it stays overdue: nothing is pushed further up.
//!
//! Deadlines are watched by a running server: each round of the sweep records when it ran
//! (`deadline_watch`). A deadline that passed while no server was running was missed by
//! nobody's choice (nobody could see the case come due, nor record work on it), so at
//! start-up, before its first round, a server gives every open case whose deadline passed
//! since the last recorded round (or at all, on a database no server has swept yet, such as a
//! freshly loaded demo) and that has not changed since the start, its tier's full time again
//! from the start, with a note in its timeline and an audit row ([`resume_after_outage`]).
//! A stop shorter than [`OUTAGE`] is a restart, not an outage: nothing is extended. Deadlines
//! missed while a server runs escalate as before.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
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

/// A server stopped for longer than this was down: deadlines that passed meanwhile are
/// restarted by [`resume_after_outage`].
pub const OUTAGE: TimeDelta = TimeDelta::minutes(5);

/// Records that the sweep ran at the database's now.
pub async fn record_sweep(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO deadline_watch (only_row, swept_at) VALUES (true, now())
         ON CONFLICT (only_row) DO UPDATE SET swept_at = excluded.swept_at",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// At start-up (`started`, the moment the server started): the open cases whose deadline
/// passed while no server swept (after the last recorded sweep, or ever if none was recorded)
/// and that have not changed since `started` get their tier's full time again from `started`,
/// with a timeline note and an audit row. Nothing happens after a stop shorter than
/// [`OUTAGE`]. Returns the cases' ids.
pub async fn resume_after_outage(
    pool: &PgPool,
    started: DateTime<Utc>,
) -> Result<Vec<i64>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let last: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT swept_at FROM deadline_watch WHERE only_row FOR UPDATE")
            .fetch_optional(&mut *tx)
            .await?
            .flatten();
    if last.is_some_and(|last| started - last < OUTAGE) {
        return Ok(Vec::new());
    }
    let note = match last {
        Some(last) => format!(
            "服务停止期间({} 至 {})超过办理时限，非人为延误，自恢复运行起重新计算本级办理时限",
            china_time(last),
            china_time(started)
        ),
        None => format!(
            "载入时已超过办理时限，此前无人值守，自 {} 起重新计算本级办理时限",
            china_time(started)
        ),
    };
    let rows: Vec<(i64, String)> = sqlx::query_as(concat!(
        "WITH due AS (
             SELECT id FROM incident
             WHERE status IN ",
        open_statuses!(),
        "
               AND due_at < $1 AND ($2::timestamptz IS NULL OR due_at >= $2)
               AND updated_at < $1
             FOR UPDATE SKIP LOCKED
         ), moved AS (
             UPDATE incident i SET due_at = $1 + wangge_deadline(i.category, i.severity, i.tier)
             FROM due WHERE i.id = due.id
             RETURNING i.id, i.status, i.tier, i.area_code
         ), events AS (
             INSERT INTO incident_event (incident_id, kind, status, tier, actor, note)
             SELECT id, 'note', status, tier, 'system', $3 FROM moved
         )
         SELECT id, area_code FROM moved ORDER BY id"
    ))
    .bind(started)
    .bind(last)
    .bind(&note)
    .fetch_all(&mut *tx)
    .await?;
    let meta = RequestMeta::system(
        format!("deadline-restart-{}", uuid::Uuid::new_v4().simple()),
        "system",
    );
    for (id, area_code) in &rows {
        let mut entry = Entry::system("restart_deadline", "incident", id.to_string(), &meta);
        entry.area_code = area_code;
        audit::record(&mut tx, &entry).await?;
    }
    tx.commit().await?;
    Ok(rows.into_iter().map(|(id, _)| id).collect())
}

fn china_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8 is an offset"))
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// At start-up [`resume_after_outage`], then every `every` runs [`escalate_overdue`], records
/// the sweep and forgets expired idempotency keys, until the runtime stops. Errors are logged
/// and the next round tries again.
pub fn start(pool: PgPool, every: Duration) -> tokio::task::JoinHandle<()> {
    let started = Utc::now();
    tokio::spawn(async move {
        match resume_after_outage(&pool, started).await {
            Ok(ids) if !ids.is_empty() => tracing::info!(
                count = ids.len(),
                "deadlines that passed while no server ran restarted from now"
            ),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "restarting deadlines after an outage failed"),
        }
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
            if let Err(error) = record_sweep(&pool).await {
                tracing::warn!(%error, "recording the sweep failed");
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
