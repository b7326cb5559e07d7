//! Changing grid workers (`grid_worker`): their status (by themselves or a dispatcher), their
//! skills, capacity and cover (by a dispatcher), each change audited and put into the dispatch
//! index before the answer; and the skills there are (`worker_skill`). Positions are
//! [`super::positions`]'; workers as the map shows them, `map::workers`.

use serde::{Deserialize, Deserializer, Serialize};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use wangge_analysis::dispatch::WorkerStatus;

use crate::audit::{self, RequestMeta};
use crate::auth::{Caller, Role};
use crate::dispatch::candidates::status_name;
use crate::dispatch::{Dispatch, DispatchError, WorkerRow, read_workers};

/// Locks worker `id` if `caller` may change them: a grid worker themselves, a dispatcher any
/// worker in their area (daily dispatch: not an administrator's work).
async fn lock(conn: &mut PgConnection, caller: &Caller, id: i64) -> Result<(), DispatchError> {
    let own = caller.role == Role::Worker;
    if !own && caller.role != Role::Dispatcher {
        return Err(DispatchError::Forbidden);
    }
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT w.id FROM grid_worker w
         WHERE w.id = $1
           AND CASE WHEN $2 THEN w.user_id = $3
                    ELSE EXISTS (SELECT 1 FROM grid_worker_cell wc
                                 JOIN grid_cell g ON g.id = wc.grid_cell_id
                                 JOIN admin_unit v ON v.id = g.village_id
                                 WHERE wc.worker_id = w.id AND v.code LIKE $4 || '%') END
         FOR NO KEY UPDATE",
    )
    .bind(id)
    .bind(own)
    .bind(caller.user_id)
    .bind(&caller.area.prefix)
    .fetch_optional(&mut *conn)
    .await?;
    found.map(|_| ()).ok_or(DispatchError::NotFound)
}

/// Commits `tx` after reading worker `id`, and puts them into the index before answering.
async fn commit(
    dispatch: &Dispatch,
    mut tx: Transaction<'static, Postgres>,
    id: i64,
) -> Result<WorkerRow, DispatchError> {
    let row = read_workers(&mut *tx, Some(&[id]))
        .await?
        .pop()
        .ok_or(DispatchError::NotFound)?;
    tx.commit().await?;
    dispatch.apply([row.clone()]);
    Ok(row)
}

/// Sets worker `id`'s status, audited; the worker as committed.
pub async fn set_status(
    pool: &PgPool,
    dispatch: &Dispatch,
    caller: &Caller,
    meta: &RequestMeta,
    id: i64,
    status: WorkerStatus,
) -> Result<WorkerRow, DispatchError> {
    let mut tx = pool.begin().await?;
    lock(&mut tx, caller, id).await?;
    let status = status_name(status);
    sqlx::query("UPDATE grid_worker SET status = $2::worker_status WHERE id = $1")
        .bind(id)
        .bind(status)
        .execute(&mut *tx)
        .await?;
    let action = format!("set_worker_status:{status}");
    audit::record(
        &mut tx,
        &caller.entry(&action, "grid_worker", id.to_string(), meta),
    )
    .await?;
    commit(dispatch, tx, id).await
}

/// Deserialises a field that is present (perhaps as null) into `Some`, so absent and null
/// can be told apart.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// What a dispatcher changes of a worker; what is absent stays.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerChange {
    pub skills: Option<Vec<String>>,
    pub capacity: Option<i32>,
    /// null removes the cover.
    #[serde(default, deserialize_with = "present")]
    pub cover_worker_id: Option<Option<i64>>,
}

/// Changes worker `id`'s skills, capacity or cover, audited; the worker as committed. Known
/// skills only, a capacity of 0 to 200 and not below the cases the worker holds, and a cover
/// who is another worker of the caller's area.
pub async fn update(
    pool: &PgPool,
    dispatch: &Dispatch,
    caller: &Caller,
    meta: &RequestMeta,
    id: i64,
    change: &WorkerChange,
) -> Result<WorkerRow, DispatchError> {
    let mut tx = pool.begin().await?;
    lock(&mut tx, caller, id).await?;
    if let Some(skills) = &change.skills {
        let unknown: Vec<String> = sqlx::query_scalar(
            "SELECT s FROM unnest($1::text[]) AS s
                 WHERE NOT EXISTS (SELECT 1 FROM worker_skill k WHERE k.code = s)",
        )
        .bind(skills)
        .fetch_all(&mut *tx)
        .await?;
        if !unknown.is_empty() {
            return Err(DispatchError::Invalid(format!(
                "unknown skill {}; GET /api/v1/worker-skills lists them",
                unknown.join(", ")
            )));
        }
    }
    if let Some(capacity) = change.capacity {
        let caseload: i32 = sqlx::query_scalar("SELECT caseload FROM grid_worker WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        if !(0..=200).contains(&capacity) {
            return Err(DispatchError::Invalid("capacity must be 0..=200".into()));
        }
        if capacity < caseload {
            return Err(DispatchError::Invalid(format!(
                "capacity {capacity} is below the {caseload} open cases the worker holds"
            )));
        }
    }
    if let Some(Some(cover)) = change.cover_worker_id {
        if cover == id {
            return Err(DispatchError::Invalid(
                "a worker cannot cover for themselves".into(),
            ));
        }
        let in_area: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM grid_worker_cell wc
                                JOIN grid_cell g ON g.id = wc.grid_cell_id
                                JOIN admin_unit v ON v.id = g.village_id
                                WHERE wc.worker_id = $1 AND v.code LIKE $2 || '%')",
        )
        .bind(cover)
        .bind(&caller.area.prefix)
        .fetch_one(&mut *tx)
        .await?;
        if !in_area {
            return Err(DispatchError::Invalid(format!(
                "no grid worker {cover} in your area"
            )));
        }
    }
    sqlx::query(
        "UPDATE grid_worker SET
                 skills = coalesce($2, skills),
                 capacity = coalesce($3, capacity),
                 cover_worker_id = CASE WHEN $4 THEN $5 ELSE cover_worker_id END
             WHERE id = $1",
    )
    .bind(id)
    .bind(&change.skills)
    .bind(change.capacity)
    .bind(change.cover_worker_id.is_some())
    .bind(change.cover_worker_id.flatten())
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        &caller.entry("update_worker", "grid_worker", id.to_string(), meta),
    )
    .await?;
    commit(dispatch, tx, id).await
}

/// A skill a worker may have and a category may call for.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Skill {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
}

/// Every skill, by code.
pub async fn skills(pool: &PgPool) -> Result<Vec<Skill>, sqlx::Error> {
    sqlx::query_as("SELECT code, name_zh, name_en FROM worker_skill ORDER BY code")
        .fetch_all(pool)
        .await
}
