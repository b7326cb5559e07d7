//! Automatic dispatch: a new located case that a rule covers (`auto_dispatch_rule`, by
//! category and area) and that nobody has touched within the rule's delay is assigned to its
//! top-ranked worker — one who can take it now (own cell, cover, neighbour, township or
//! nearest; never a stale, busy, off-duty or full one). Anything a user does to the case
//! first (assigning, declining, a note, an escalation) is an intervention, and the case is
//! left to people. Each assignment is on the timeline and in the audit, as `system`.

use std::time::Duration;

use chrono::Utc;
use sqlx::PgPool;

use crate::audit::{self, Entry, RequestMeta};
use crate::dispatch::candidates::{self, Subject};
use crate::dispatch::{Dispatch, read_workers};

/// Cases looked at in one pass at most; the rest wait for the next.
const BATCH: i64 = 200;

/// Cases due for automatic dispatch now, oldest first, as ranking needs them.
async fn due(pool: &PgPool) -> Result<Vec<Subject>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        candidates::subject_columns!(),
        " FROM incident i
         JOIN incident_category c ON c.code = i.category
         JOIN LATERAL (
             SELECT r.delay_s, r.created_at FROM auto_dispatch_rule r
             WHERE (r.category IS NULL OR r.category = i.category)
               AND i.area_code LIKE r.prefix || '%'
             ORDER BY length(r.prefix) DESC, r.category NULLS LAST
             LIMIT 1) r ON true
         WHERE i.status = 'reported' AND i.assignee_id IS NULL AND i.location_method <> 'area'
           AND i.reported_at >= r.created_at
           AND i.reported_at <= now() - make_interval(secs => r.delay_s)
           AND NOT EXISTS (SELECT 1 FROM incident_event e
                           WHERE e.incident_id = i.id AND e.kind NOT IN ('reported', 'located'))
         ORDER BY i.reported_at, i.id
         LIMIT $1"
    ))
    .bind(BATCH)
    .fetch_all(pool)
    .await
}

/// Assigns `incident` to `worker` if both are still as ranked: the case untouched and
/// unassigned, the worker available with room. False when either moved meanwhile.
async fn assign(
    pool: &PgPool,
    dispatch: &Dispatch,
    incident: i64,
    worker: i64,
    why: &str,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let case: Option<(String, String)> = sqlx::query_as(
        "SELECT i.tier::text, i.area_code FROM incident i
         WHERE i.id = $1 AND i.status = 'reported' AND i.assignee_id IS NULL
           AND NOT EXISTS (SELECT 1 FROM incident_event e
                           WHERE e.incident_id = i.id AND e.kind NOT IN ('reported', 'located'))
         FOR UPDATE SKIP LOCKED",
    )
    .bind(incident)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((tier, area_code)) = case else {
        return Ok(false);
    };
    let name: Option<String> = sqlx::query_scalar(
        "SELECT name FROM grid_worker
         WHERE id = $1 AND status = 'available' AND caseload < capacity
         FOR NO KEY UPDATE",
    )
    .bind(worker)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(name) = name else {
        return Ok(false);
    };
    sqlx::query(
        "UPDATE incident SET status = 'assigned', assignee_id = $2, updated_at = now() WHERE id = $1",
    )
    .bind(incident)
    .bind(worker)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO incident_event (incident_id, kind, status, tier, actor, note)
         VALUES ($1, 'assigned', 'assigned', $2::incident_tier, 'system', $3)",
    )
    .bind(incident)
    .bind(&tier)
    .bind(format!("自动派单：交办给网格员 {name}（#{worker}），{why}"))
    .execute(&mut *tx)
    .await?;
    let meta = RequestMeta::system(
        format!("auto-dispatch-{}", uuid::Uuid::new_v4().simple()),
        "system",
    );
    let mut entry = Entry::system("auto_assign", "incident", incident.to_string(), &meta);
    entry.area_code = &area_code;
    audit::record(&mut tx, &entry).await?;
    let rows = read_workers(&mut *tx, Some(&[worker])).await?;
    tx.commit().await?;
    dispatch.apply(rows);
    dispatch.subjects.forget(&incident);
    Ok(true)
}

/// One pass: assigns every due case it can; returns the (case, worker) pairs assigned.
pub async fn run_once(pool: &PgPool, dispatch: &Dispatch) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    let mut assigned = Vec::new();
    for subject in due(pool).await? {
        let id = subject.id;
        let ranked = candidates::rank_for(dispatch, subject, 1, Utc::now().timestamp(), None);
        let Some(top) = ranked.candidates.first() else {
            continue;
        };
        let why = match top.group {
            "own_cell" => "本网格负责人",
            "cover" => "代班网格员",
            "neighbour_cell" => "相邻网格",
            "township" => "同乡镇",
            "beyond" => "就近",
            // Nobody who can take it now: it waits for a dispatcher (or the next pass).
            _ => continue,
        };
        if assign(pool, dispatch, id, top.worker_id, why).await? {
            assigned.push((id, top.worker_id));
        }
    }
    Ok(assigned)
}

/// Runs a pass every `every` for as long as the runtime runs.
pub fn start(pool: PgPool, dispatch: std::sync::Arc<Dispatch>, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if dispatch.ready().await.is_err() {
                continue;
            }
            match run_once(&pool, &dispatch).await {
                Ok(done) if !done.is_empty() => {
                    tracing::info!(cases = done.len(), "assigned automatically");
                }
                Ok(_) => {}
                Err(error) => tracing::error!(%error, "automatic dispatch failed"),
            }
        }
    });
}
