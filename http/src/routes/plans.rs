//! Grid plans for planners: `GET/POST /api/v1/plans`, one plan's summary, cells (exact
//! GeoJSON for editing), workload, issues, diff against the published plan, edits with undo
//! and redo, rebalancing, archive, delete and publish.
//!
//! Every route is the planners' (403 for other roles); a plan the caller may not see is a
//! 404, as if it did not exist.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use wangge_domain::plans::{
    self, PlanSummary, cells, diff, edits, publish, rebalance, validate, workload,
};

use crate::error::ApiError;
use crate::extract::{Meta, SignedIn};
use crate::params::{Bbox, JsonBody, Params};
use crate::respond::{geojson_response, run_to_completion};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/plans", get(list).post(create))
        .route("/plans/{version}", get(one).delete(delete))
        .route("/plans/{version}/cells", get(plan_cells))
        .route("/plans/{version}/workload", get(plan_workload))
        .route("/plans/{version}/issues", get(issues))
        .route("/plans/{version}/diff", get(plan_diff))
        .route("/plans/{version}/edits", get(history).post(edit))
        .route("/plans/{version}/undo", post(undo))
        .route("/plans/{version}/redo", post(redo))
        .route("/plans/{version}/rebalance", post(rebalance_route))
        .route("/plans/{version}/archive", post(archive))
        .route("/plans/{version}/publish", post(publish_route))
}

/// A plan version from the path: a positive whole number.
fn version_from(text: &str) -> Result<i32, ApiError> {
    text.parse::<i32>().ok().filter(|v| *v > 0).ok_or_else(|| {
        ApiError::InvalidParameter(format!(
            "plan version `{text}` is not a positive whole number"
        ))
    })
}

async fn list(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
) -> Result<Json<Vec<PlanSummary>>, ApiError> {
    Ok(Json(plans::list(&state.pool, &caller).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPlan {
    name: String,
    /// The version to copy; the published plan when absent.
    from: Option<i32>,
}

async fn create(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    JsonBody(body): JsonBody<NewPlan>,
) -> Result<Response, ApiError> {
    plans::require_planner(&caller)?;
    run_to_completion(async move {
        let plan = plans::create(&state.pool, &caller, &body.name, body.from, &meta).await?;
        let location = format!("/api/v1/plans/{}", plan.version);
        Ok((
            StatusCode::CREATED,
            [(axum::http::header::LOCATION, location)],
            Json(plan),
        )
            .into_response())
    })
    .await
}

async fn one(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(version): Path<String>,
) -> Result<Json<PlanSummary>, ApiError> {
    let version = version_from(&version)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(plans::get(&mut conn, &caller, version).await?))
}

async fn delete(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    Path(version): Path<String>,
) -> Result<StatusCode, ApiError> {
    let version = version_from(&version)?;
    plans::require_planner(&caller)?;
    run_to_completion(async move {
        plans::delete(&state.pool, &caller, version, &meta).await?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

async fn archive(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    Path(version): Path<String>,
) -> Result<Json<PlanSummary>, ApiError> {
    let version = version_from(&version)?;
    plans::require_planner(&caller)?;
    run_to_completion(async move {
        Ok(Json(
            plans::archive(&state.pool, &caller, version, &meta).await?,
        ))
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CellParams {
    bbox: Option<Bbox>,
    /// Comma-separated cell codes.
    codes: Option<String>,
}

/// The plan's cells in the caller's area with exact coordinates (15 decimals), which an
/// editor sends back in `move_vertex`.
async fn plan_cells(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(version): Path<String>,
    Params(params): Params<CellParams>,
) -> Result<Response, ApiError> {
    let version = version_from(&version)?;
    let mut conn = state.pool.acquire().await?;
    let plan = plans::get(&mut conn, &caller, version).await?;
    let codes: Option<Vec<String>> = params
        .codes
        .map(|c| c.split(',').map(|s| s.trim().to_owned()).collect());
    let body = cells::feature_collection(
        &mut conn,
        plan.id,
        &caller.area.prefix,
        params.bbox.map(Bbox::corners),
        codes.as_deref(),
    )
    .await?;
    Ok(geojson_response(body))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkloadParams {
    case_weight: Option<f64>,
}

fn case_weight(asked: Option<f64>) -> Result<f64, ApiError> {
    let weight = asked.unwrap_or(workload::DEFAULT_CASE_WEIGHT);
    if !(0.0..=1000.0).contains(&weight) {
        return Err(ApiError::InvalidParameter(format!(
            "case_weight {weight} is not between 0 and 1000"
        )));
    }
    Ok(weight)
}

/// Each cell's workload in the caller's area, and the plan's figures.
async fn plan_workload(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(version): Path<String>,
    Params(params): Params<WorkloadParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let version = version_from(&version)?;
    let weight = case_weight(params.case_weight)?;
    let mut conn = state.pool.acquire().await?;
    let plan = plans::get(&mut conn, &caller, version).await?;
    let cells = workload::cells(
        &mut conn,
        &state.workload,
        plan.id,
        &caller.area.prefix,
        weight,
        Utc::now(),
    )
    .await?;
    let summary = workload::summary(&cells, weight);
    Ok(Json(serde_json::json!({
        "version": version,
        "summary": summary,
        "cells": cells,
    })))
}

/// Every issue of the plan's cells in the caller's area.
async fn issues(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(version): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let version = version_from(&version)?;
    let mut conn = state.pool.acquire().await?;
    let plan = plans::get(&mut conn, &caller, version).await?;
    let cells = cells::in_area(&mut conn, plan.id, &caller.area.prefix).await?;
    let issues = validate::check_all(&mut conn, cells).await?;
    let errors = issues.iter().filter(|i| i.severity == "error").count();
    Ok(Json(serde_json::json!({
        "version": version,
        "errors": errors,
        "warnings": issues.len() - errors,
        "issues": issues,
    })))
}

async fn plan_diff(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(version): Path<String>,
    Params(params): Params<WorkloadParams>,
) -> Result<Json<diff::Diff>, ApiError> {
    let version = version_from(&version)?;
    let weight = case_weight(params.case_weight)?;
    let mut conn = state.pool.acquire().await?;
    let plan = plans::get(&mut conn, &caller, version).await?;
    let answer = diff::diff(
        &mut conn,
        &state.workload,
        plan.id,
        version,
        &caller.area.prefix,
        weight,
        Utc::now(),
    )
    .await?
    .ok_or_else(|| ApiError::Conflict("no plan is published to compare with".into()))?;
    Ok(Json(answer))
}

async fn history(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(version): Path<String>,
) -> Result<Json<Vec<edits::HistoryEntry>>, ApiError> {
    let version = version_from(&version)?;
    Ok(Json(edits::history(&state.pool, &caller, version).await?))
}

async fn edit(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    Path(version): Path<String>,
    JsonBody(body): JsonBody<edits::EditRequest>,
) -> Result<Json<edits::EditOutcome>, ApiError> {
    let version = version_from(&version)?;
    plans::require_planner(&caller)?;
    run_to_completion(async move {
        Ok(Json(
            edits::apply(&state.pool, &caller, version, &body, &meta).await?,
        ))
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    revision: i32,
}

async fn undo(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    Path(version): Path<String>,
    JsonBody(body): JsonBody<Step>,
) -> Result<Json<edits::EditOutcome>, ApiError> {
    let version = version_from(&version)?;
    plans::require_planner(&caller)?;
    run_to_completion(async move {
        Ok(Json(
            edits::undo(&state.pool, &caller, version, body.revision, &meta).await?,
        ))
    })
    .await
}

async fn redo(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    Path(version): Path<String>,
    JsonBody(body): JsonBody<Step>,
) -> Result<Json<edits::EditOutcome>, ApiError> {
    let version = version_from(&version)?;
    plans::require_planner(&caller)?;
    run_to_completion(async move {
        Ok(Json(
            edits::redo(&state.pool, &caller, version, body.revision, &meta).await?,
        ))
    })
    .await
}

async fn rebalance_route(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    Path(version): Path<String>,
    JsonBody(body): JsonBody<rebalance::RebalanceRequest>,
) -> Result<Json<rebalance::RebalanceOutcome>, ApiError> {
    let version = version_from(&version)?;
    plans::require_planner(&caller)?;
    run_to_completion(async move {
        Ok(Json(
            rebalance::rebalance(&state.pool, &caller, version, &body, &meta).await?,
        ))
    })
    .await
}

async fn publish_route(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    Path(version): Path<String>,
) -> Result<Json<publish::Published>, ApiError> {
    let version = version_from(&version)?;
    plans::require_planner(&caller)?;
    run_to_completion(async move {
        Ok(Json(
            publish::publish(&state.pool, &caller, version, &meta).await?,
        ))
    })
    .await
}
