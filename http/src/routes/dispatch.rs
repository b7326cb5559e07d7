//! Dispatch: `GET /api/v1/incidents/{id}/candidates` (ranked workers with reasons, from the
//! in-memory index), `POST /api/v1/incidents/{id}/assignment` (race-safe: the body names the
//! assignee the dispatcher saw, and a case that changed since is a 409 with its present
//! state), `…/assignment/accept` and `…/assignment/decline`; `POST /api/v1/workers/positions`
//! (a batch from field devices), `PUT /api/v1/workers/{id}/status`, `PATCH
//! /api/v1/workers/{id}` (skills, capacity, cover), `GET /api/v1/worker-skills`, and the rules
//! of automatic dispatch (`GET`/`PUT /api/v1/auto-dispatch-rules`, `DELETE …/{id}`).

use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::ApiError;
use crate::extract::{Meta, SignedIn};
use crate::params::{JsonBody, Params};
use crate::respond::run_to_completion;
use crate::state::AppState;
use wangge_domain::audit::{self, RequestMeta};
use wangge_domain::auth::{Caller, Role};
use wangge_domain::dispatch::candidates::{self, Candidates, MAX_LIMIT};
use wangge_domain::dispatch::positions::{self, PositionBatch, Stored};
use wangge_domain::dispatch::{WorkerRow, read_workers};
use wangge_domain::incidents::actions::{self, current_state};
use wangge_domain::incidents::intake;
use wangge_domain::incidents::lifecycle::Action;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/incidents/{id}/candidates", get(candidates))
        .route("/incidents/{id}/assignment", post(assign))
        .route("/incidents/{id}/assignment/{answer}", post(answer))
        .route("/workers/positions", post(report_positions))
        .route("/workers/{id}/status", put(set_status))
        .route("/workers/{id}", axum::routing::patch(update_worker))
        .route("/worker-skills", get(skills))
        .route("/auto-dispatch-rules", get(list_rules).put(put_rule))
        .route(
            "/auto-dispatch-rules/{id}",
            axum::routing::delete(delete_rule),
        )
}

fn id_from(path: &str) -> Result<i64, ApiError> {
    path.parse().map_err(|_| ApiError::NotFound)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CandidateParams {
    limit: Option<usize>,
}

async fn candidates(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    Params(params): Params<CandidateParams>,
) -> Result<Json<Candidates>, ApiError> {
    // Daily dispatch, not the administrator's: they manage users and the system's rules.
    if !matches!(caller.role, Role::Dispatcher | Role::Operator) {
        return Err(ApiError::Forbidden);
    }
    let id = id_from(&id)?;
    let limit = params.limit.unwrap_or(10);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::InvalidParameter(format!(
            "limit must be 1..={MAX_LIMIT}"
        )));
    }
    state.dispatch.ready().await?;
    let subject = candidates::subject(&state.pool, &state.dispatch, &caller, id).await?;
    Ok(Json(candidates::rank_for(
        &state.dispatch,
        subject,
        limit,
        Utc::now().timestamp(),
        Some(&caller.area),
    )))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignmentIn {
    worker_id: i64,
    /// The assignee the dispatcher saw (absent or null: none). If the case has another by
    /// now, nothing changes and the answer is a 409 with the case as it is.
    #[serde(default)]
    replaces: Option<i64>,
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteIn {
    note: Option<String>,
}

/// Does `action` (expecting `expected` as the assignee, when given), then puts the workers
/// whose caseload changed into the index before answering with the case's new state.
async fn act_and_answer(
    state: AppState,
    caller: Caller,
    meta: RequestMeta,
    id: i64,
    action: Action,
    expected: Option<Option<i64>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    run_to_completion(async move {
        let mut tx = state.pool.begin().await?;
        let acted = actions::act_expecting(&mut tx, &caller, &meta, id, &action, expected).await?;
        let rows = read_workers(&mut *tx, Some(&acted.workers())).await?;
        let mut answer = current_state(&mut tx, id).await?;
        answer["previous_assignee_id"] = acted.previous_assignee.into();
        tx.commit().await?;
        state.dispatch.apply(rows);
        // The change notice would drop it too, a moment later: the dispatcher's next
        // request may come first.
        state.dispatch.subjects.forget(&id);
        Ok(Json(answer))
    })
    .await
}

async fn assign(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AssignmentIn>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = id_from(&id)?;
    let action = Action::Assign {
        worker_id: body.worker_id,
        note: body.note,
    };
    act_and_answer(state, caller, meta, id, action, Some(body.replaces)).await
}

/// The assigned worker's answer: `accept` (a note is optional) or `decline` (a note says
/// why; the lifecycle refuses one without).
async fn answer(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    Path((id, answer)): Path<(String, String)>,
    JsonBody(body): JsonBody<NoteIn>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = id_from(&id)?;
    let action = match answer.as_str() {
        "accept" => Action::Accept { note: body.note },
        "decline" => Action::Decline {
            note: body.note.unwrap_or_default(),
        },
        _ => return Err(ApiError::NotFound),
    };
    act_and_answer(state, caller, meta, id, action, None).await
}

async fn report_positions(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    JsonBody(batch): JsonBody<PositionBatch>,
) -> Result<Json<Stored>, ApiError> {
    run_to_completion(async move {
        let stored = positions::store(&state.pool, &state.dispatch, &caller, &meta, &batch).await?;
        Ok(Json(stored))
    })
    .await
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum StatusIn {
    Available,
    Busy,
    OffDuty,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetStatus {
    status: StatusIn,
}

/// Locks worker `id` if `caller` may change them: a grid worker themselves, a dispatcher any
/// worker in their area (daily dispatch: not an administrator's work).
async fn lock_worker(
    conn: &mut sqlx::PgConnection,
    caller: &Caller,
    id: i64,
) -> Result<(), ApiError> {
    let own = caller.role == Role::Worker;
    if !own && caller.role != Role::Dispatcher {
        return Err(ApiError::Forbidden);
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
    found.map(|_| ()).ok_or(ApiError::NotFound)
}

/// Commits `tx` after reading worker `id`, and puts them into the index before answering.
async fn commit_worker(
    state: &AppState,
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    id: i64,
) -> Result<Json<WorkerRow>, ApiError> {
    let row = read_workers(&mut *tx, Some(&[id]))
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    state.dispatch.apply([row.clone()]);
    Ok(Json(row))
}

async fn set_status(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SetStatus>,
) -> Result<Json<WorkerRow>, ApiError> {
    let id = id_from(&id)?;
    run_to_completion(async move {
        let mut tx = state.pool.begin().await?;
        lock_worker(&mut tx, &caller, id).await?;
        let status = match body.status {
            StatusIn::Available => "available",
            StatusIn::Busy => "busy",
            StatusIn::OffDuty => "off_duty",
        };
        sqlx::query("UPDATE grid_worker SET status = $2::worker_status WHERE id = $1")
            .bind(id)
            .bind(status)
            .execute(&mut *tx)
            .await?;
        let action = format!("set_worker_status:{status}");
        audit::record(
            &mut tx,
            &caller.entry(&action, "grid_worker", id.to_string(), &meta),
        )
        .await?;
        commit_worker(&state, tx, id).await
    })
    .await
}

/// Deserialises a field that is present (perhaps as null) into `Some`, so absent and null
/// can be told apart.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkerChange {
    skills: Option<Vec<String>>,
    capacity: Option<i32>,
    /// null removes the cover.
    #[serde(default, deserialize_with = "present")]
    cover_worker_id: Option<Option<i64>>,
}

async fn update_worker(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    Path(id): Path<String>,
    JsonBody(change): JsonBody<WorkerChange>,
) -> Result<Json<WorkerRow>, ApiError> {
    let id = id_from(&id)?;
    if caller.role != Role::Dispatcher {
        return Err(ApiError::Forbidden);
    }
    run_to_completion(async move {
        let mut tx = state.pool.begin().await?;
        lock_worker(&mut tx, &caller, id).await?;
        if let Some(skills) = &change.skills {
            let unknown: Vec<String> = sqlx::query_scalar(
                "SELECT s FROM unnest($1::text[]) AS s
                 WHERE NOT EXISTS (SELECT 1 FROM worker_skill k WHERE k.code = s)",
            )
            .bind(skills)
            .fetch_all(&mut *tx)
            .await?;
            if !unknown.is_empty() {
                return Err(ApiError::InvalidField(format!(
                    "unknown skill {}; GET /api/v1/worker-skills lists them",
                    unknown.join(", ")
                )));
            }
        }
        if let Some(capacity) = change.capacity {
            let caseload: i32 =
                sqlx::query_scalar("SELECT caseload FROM grid_worker WHERE id = $1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
            if !(0..=200).contains(&capacity) {
                return Err(ApiError::InvalidField("capacity must be 0..=200".into()));
            }
            if capacity < caseload {
                return Err(ApiError::InvalidField(format!(
                    "capacity {capacity} is below the {caseload} open cases the worker holds"
                )));
            }
        }
        if let Some(Some(cover)) = change.cover_worker_id {
            if cover == id {
                return Err(ApiError::InvalidField(
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
                return Err(ApiError::InvalidField(format!(
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
            &caller.entry("update_worker", "grid_worker", id.to_string(), &meta),
        )
        .await?;
        commit_worker(&state, tx, id).await
    })
    .await
}

#[derive(Debug, Serialize, sqlx::FromRow)]
struct Skill {
    code: String,
    name_zh: String,
    name_en: String,
}

async fn skills(
    State(state): State<AppState>,
    SignedIn(_caller): SignedIn,
) -> Result<Json<Vec<Skill>>, ApiError> {
    let rows = sqlx::query_as("SELECT code, name_zh, name_en FROM worker_skill ORDER BY code")
        .fetch_all(&state.pool)
        .await?;
    Ok(Json(rows))
}

#[derive(Debug, Serialize, sqlx::FromRow)]
struct Rule {
    id: i64,
    category: Option<String>,
    area_code: String,
    delay_s: i32,
    created_at: chrono::DateTime<Utc>,
}

/// The rules of automatic dispatch are the system's rules as much as dispatch's: dispatchers
/// and administrators manage them.
fn rule_manager(caller: &Caller) -> Result<(), ApiError> {
    if matches!(caller.role, Role::Dispatcher | Role::Admin) {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

/// The rules for units inside the caller's area.
async fn list_rules(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
) -> Result<Json<Vec<Rule>>, ApiError> {
    rule_manager(&caller)?;
    let rules = sqlx::query_as(
        "SELECT id, category, area_code, delay_s, created_at FROM auto_dispatch_rule
         WHERE prefix LIKE $1 || '%' ORDER BY area_code, category NULLS FIRST",
    )
    .bind(&caller.area.prefix)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rules))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleIn {
    /// null: every category.
    category: Option<String>,
    /// A county, township or village code inside the caller's area (or the city's).
    area_code: String,
    delay_s: i32,
}

/// Makes or changes the rule for a category and unit.
async fn put_rule(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    JsonBody(rule): JsonBody<RuleIn>,
) -> Result<Json<Rule>, ApiError> {
    rule_manager(&caller)?;
    if caller.area.grid_cell_id.is_some() {
        return Err(ApiError::Forbidden);
    }
    if !(0..=86_400).contains(&rule.delay_s) {
        return Err(ApiError::InvalidField("delay_s must be 0..=86400".into()));
    }
    run_to_completion(async move {
        let mut tx = state.pool.begin().await?;
        let unit: Option<String> = sqlx::query_scalar(
            "SELECT level::text FROM admin_unit WHERE code = $1 AND code LIKE $2 || '%'",
        )
        .bind(&rule.area_code)
        .bind(&caller.area.prefix)
        .fetch_optional(&mut *tx)
        .await?;
        let unit_inside_area =
            unit.is_some() || (caller.area.level == "city" && rule.area_code == caller.area.code);
        if !unit_inside_area {
            return Err(ApiError::OutsideArea(format!(
                "no administrative unit {} in your area",
                rule.area_code
            )));
        }
        if let Some(category) = &rule.category {
            intake::category(&mut tx, category).await?;
        }
        let saved: Rule = sqlx::query_as(
            "INSERT INTO auto_dispatch_rule (category, area_code, delay_s) VALUES ($1, $2, $3)
             ON CONFLICT ON CONSTRAINT auto_dispatch_rule_once
             DO UPDATE SET delay_s = EXCLUDED.delay_s
             RETURNING id, category, area_code, delay_s, created_at",
        )
        .bind(&rule.category)
        .bind(&rule.area_code)
        .bind(rule.delay_s)
        .fetch_one(&mut *tx)
        .await?;
        let mut entry = caller.entry(
            "set_auto_dispatch_rule",
            "auto_dispatch_rule",
            saved.id.to_string(),
            &meta,
        );
        entry.area_code = &rule.area_code;
        audit::record(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(Json(saved))
    })
    .await
}

async fn delete_rule(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    rule_manager(&caller)?;
    let id = id_from(&id)?;
    run_to_completion(async move {
        let mut tx = state.pool.begin().await?;
        let area: Option<String> = sqlx::query_scalar(
            "DELETE FROM auto_dispatch_rule WHERE id = $1 AND prefix LIKE $2 || '%'
             RETURNING area_code",
        )
        .bind(id)
        .bind(&caller.area.prefix)
        .fetch_optional(&mut *tx)
        .await?;
        let area = area.ok_or(ApiError::NotFound)?;
        let mut entry = caller.entry(
            "delete_auto_dispatch_rule",
            "auto_dispatch_rule",
            id.to_string(),
            &meta,
        );
        entry.area_code = &area;
        audit::record(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(axum::http::StatusCode::NO_CONTENT)
    })
    .await
}
