//! The rules cases are held to: readable by every signed-in user, changed only by a city-wide
//! administrator, every change audited.
//!
//! * `GET /api/v1/incident-categories`: the categories, with their names and duplicate reach;
//! * `GET /api/v1/incident-deadlines`: hours per severity and tier, the defaults (no
//!   category) and each category's own rules, which take precedence over the defaults;
//! * `PUT /api/v1/incident-deadlines` sets one rule: `{"category", "severity", "tier",
//!   "hours"}`, with `category` null or absent for the default;
//! * `DELETE /api/v1/incident-deadlines?category=&severity=&tier=` drops a category's own
//!   rule, so the default applies to it again;
//! * `PATCH /api/v1/incident-categories/{code}` sets how near in space and time another report
//!   must be to look like a duplicate (`duplicate_radius_m`, `duplicate_window_hours`).
//!
//! A changed deadline applies whenever a case is next given one (a new report, an
//! escalation); open cases keep the deadline they were given, so no clock moves under the
//! people working a case. The defaults cannot be dropped: every case needs a deadline.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{Meta, SignedIn};
use crate::params::{JsonBody, Params};
use crate::respond::run_to_completion;
use crate::state::AppState;
use wangge_domain::audit;
use wangge_domain::auth::{Caller, Role};
use wangge_domain::incidents::intake;
use wangge_domain::model::{IncidentSeverity, IncidentTier};

/// Longest deadline a tier may be given: a year.
pub const MAX_DEADLINE_HOURS: i32 = 8760;
/// Widest duplicate reach (metres), as the database allows.
pub const MAX_DUPLICATE_RADIUS_M: i32 = 50_000;
/// Longest duplicate window (hours), as the database allows.
pub const MAX_DUPLICATE_WINDOW_HOURS: i32 = 8760;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/incident-deadlines",
            get(list_deadlines).put(set_deadline).delete(drop_deadline),
        )
        .route("/incident-categories", get(categories))
        .route("/incident-categories/{code}", patch(set_duplicate_reach))
}

/// Rules bind the whole city, so only an administrator of the whole city changes them.
fn rule_keeper(caller: &Caller) -> Result<(), ApiError> {
    if matches!(caller.role, Role::Admin) && caller.area.level == "city" {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
struct Deadline {
    /// null: the default for every category without a rule of its own.
    #[serde(default)]
    category: Option<String>,
    severity: IncidentSeverity,
    tier: IncidentTier,
    hours: i32,
}

impl Deadline {
    /// How the rule is named in the audit trail: `*` stands for the default.
    fn audit_id(&self) -> String {
        rule_name(self.category.as_deref(), self.severity, self.tier)
    }
}

fn rule_name(category: Option<&str>, severity: IncidentSeverity, tier: IncidentTier) -> String {
    format!("{}/{severity}/{tier}", category.unwrap_or("*"))
}

async fn list_deadlines(
    State(state): State<AppState>,
    SignedIn(_caller): SignedIn,
) -> Result<Json<Vec<Deadline>>, ApiError> {
    let rules = sqlx::query_as(
        "SELECT category, severity, tier, hours FROM incident_deadline
         ORDER BY category NULLS FIRST, severity, tier",
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rules))
}

async fn set_deadline(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    JsonBody(rule): JsonBody<Deadline>,
) -> Result<Json<Deadline>, ApiError> {
    rule_keeper(&caller)?;
    if !(1..=MAX_DEADLINE_HOURS).contains(&rule.hours) {
        return Err(ApiError::InvalidField(format!(
            "hours must be 1..={MAX_DEADLINE_HOURS}"
        )));
    }
    run_to_completion(async move {
        let mut tx = state.pool.begin().await?;
        if let Some(category) = &rule.category {
            intake::category(&mut tx, category).await?;
        }
        let saved: Deadline = sqlx::query_as(
            "INSERT INTO incident_deadline (category, severity, tier, hours)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT ((coalesce(category, '')), severity, tier)
             DO UPDATE SET hours = EXCLUDED.hours
             RETURNING category, severity, tier, hours",
        )
        .bind(&rule.category)
        .bind(rule.severity)
        .bind(rule.tier)
        .bind(rule.hours)
        .fetch_one(&mut *tx)
        .await?;
        let action = format!("set_deadline:{}h", saved.hours);
        audit::record(
            &mut tx,
            &caller.entry(&action, "incident_deadline", saved.audit_id(), &meta),
        )
        .await?;
        tx.commit().await?;
        Ok(Json(saved))
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeadlineKey {
    category: Option<String>,
    severity: IncidentSeverity,
    tier: IncidentTier,
}

async fn drop_deadline(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    Params(key): Params<DeadlineKey>,
) -> Result<StatusCode, ApiError> {
    rule_keeper(&caller)?;
    let Some(category) = key.category else {
        return Err(ApiError::Conflict(
            "a default deadline cannot be dropped (every case needs one); set its hours instead"
                .into(),
        ));
    };
    run_to_completion(async move {
        let mut tx = state.pool.begin().await?;
        let dropped = sqlx::query(
            "DELETE FROM incident_deadline WHERE category = $1 AND severity = $2 AND tier = $3",
        )
        .bind(&category)
        .bind(key.severity)
        .bind(key.tier)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if dropped == 0 {
            return Err(ApiError::NotFound);
        }
        let name = rule_name(Some(&category), key.severity, key.tier);
        audit::record(
            &mut tx,
            &caller.entry("drop_deadline", "incident_deadline", name, &meta),
        )
        .await?;
        tx.commit().await?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReachChange {
    duplicate_radius_m: Option<i32>,
    duplicate_window_hours: Option<i32>,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
struct Category {
    code: String,
    name_zh: String,
    name_en: String,
    duplicate_radius_m: i32,
    duplicate_window_hours: i32,
}

async fn categories(
    State(state): State<AppState>,
    SignedIn(_caller): SignedIn,
) -> Result<Json<Vec<Category>>, ApiError> {
    let rows = sqlx::query_as(
        "SELECT code, name_zh, name_en, duplicate_radius_m, duplicate_window_hours
         FROM incident_category ORDER BY code",
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

async fn set_duplicate_reach(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    Path(code): Path<String>,
    JsonBody(change): JsonBody<ReachChange>,
) -> Result<Json<Category>, ApiError> {
    rule_keeper(&caller)?;
    if change.duplicate_radius_m.is_none() && change.duplicate_window_hours.is_none() {
        return Err(ApiError::InvalidField(
            "nothing to change: give duplicate_radius_m, duplicate_window_hours or both".into(),
        ));
    }
    if let Some(radius) = change.duplicate_radius_m
        && !(1..=MAX_DUPLICATE_RADIUS_M).contains(&radius)
    {
        return Err(ApiError::InvalidField(format!(
            "duplicate_radius_m must be 1..={MAX_DUPLICATE_RADIUS_M}"
        )));
    }
    if let Some(hours) = change.duplicate_window_hours
        && !(1..=MAX_DUPLICATE_WINDOW_HOURS).contains(&hours)
    {
        return Err(ApiError::InvalidField(format!(
            "duplicate_window_hours must be 1..={MAX_DUPLICATE_WINDOW_HOURS}"
        )));
    }
    run_to_completion(async move {
        let mut tx = state.pool.begin().await?;
        let saved: Category = sqlx::query_as(
            "UPDATE incident_category
             SET duplicate_radius_m = coalesce($2, duplicate_radius_m),
                 duplicate_window_hours = coalesce($3, duplicate_window_hours)
             WHERE code = $1
             RETURNING code, name_zh, name_en, duplicate_radius_m, duplicate_window_hours",
        )
        .bind(&code)
        .bind(change.duplicate_radius_m)
        .bind(change.duplicate_window_hours)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(ApiError::NotFound)?;
        let action = format!(
            "set_duplicate_reach:{}m/{}h",
            saved.duplicate_radius_m, saved.duplicate_window_hours
        );
        audit::record(
            &mut tx,
            &caller.entry(&action, "incident_category", saved.code.clone(), &meta),
        )
        .await?;
        tx.commit().await?;
        Ok(Json(saved))
    })
    .await
}
