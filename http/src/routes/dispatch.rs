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
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{Meta, SignedIn};
use crate::params::{JsonBody, Params};
use crate::respond::run_to_completion;
use crate::state::AppState;
use wangge_analysis::dispatch::WorkerStatus;
use wangge_domain::audit::RequestMeta;
use wangge_domain::auth::{Caller, Role};
use wangge_domain::dispatch::auto_rules::{self, Rule, RuleIn};
use wangge_domain::dispatch::candidates::{self, Candidates, MAX_LIMIT};
use wangge_domain::dispatch::positions::{self, PositionBatch, Stored};
use wangge_domain::dispatch::workers::{self, Skill, WorkerChange};
use wangge_domain::dispatch::{WorkerRow, read_workers};
use wangge_domain::incidents::actions::{self, current_state};
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

async fn set_status(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SetStatus>,
) -> Result<Json<WorkerRow>, ApiError> {
    let id = id_from(&id)?;
    let status = match body.status {
        StatusIn::Available => WorkerStatus::Available,
        StatusIn::Busy => WorkerStatus::Busy,
        StatusIn::OffDuty => WorkerStatus::OffDuty,
    };
    // Who may change whom (themselves, or a dispatcher any worker of their area) is checked
    // where the worker is locked.
    run_to_completion(async move {
        let row =
            workers::set_status(&state.pool, &state.dispatch, &caller, &meta, id, status).await?;
        Ok(Json(row))
    })
    .await
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
        let row =
            workers::update(&state.pool, &state.dispatch, &caller, &meta, id, &change).await?;
        Ok(Json(row))
    })
    .await
}

async fn skills(
    State(state): State<AppState>,
    SignedIn(_caller): SignedIn,
) -> Result<Json<Vec<Skill>>, ApiError> {
    Ok(Json(workers::skills(&state.pool).await?))
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
    Ok(Json(auto_rules::list(&state.pool, &caller.area).await?))
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
    run_to_completion(async move {
        let saved = auto_rules::set(&state.pool, &caller, &meta, &rule).await?;
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
        auto_rules::delete(&state.pool, &caller, &meta, id).await?;
        Ok(axum::http::StatusCode::NO_CONTENT)
    })
    .await
}
