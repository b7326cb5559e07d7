//! The rules cases are held to (`incident_deadline`, `incident_category`): deadlines in hours
//! per severity and tier, the defaults (no category) and each category's own, which take
//! precedence; and each category's duplicate reach. Reading them, and changing them with an
//! audit row in the same transaction. Who may change them is the caller's to check.
//!
//! A changed deadline applies whenever a case is next given one (a new report, an
//! escalation); open cases keep the deadline they were given, so no clock moves under the
//! people working a case. The defaults cannot be dropped: every case needs a deadline.

use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::audit::{self, RequestMeta};
use crate::auth::Caller;
use crate::incidents::IncidentError;
use crate::incidents::intake;
use crate::model::{IncidentSeverity, IncidentTier};

/// Longest deadline a tier may be given: a year.
pub const MAX_DEADLINE_HOURS: i32 = 8760;
/// Widest duplicate reach (metres), as the database allows.
pub const MAX_DUPLICATE_RADIUS_M: i32 = 50_000;
/// Longest duplicate window (hours), as the database allows.
pub const MAX_DUPLICATE_WINDOW_HOURS: i32 = 8760;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct Deadline {
    /// null: the default for every category without a rule of its own.
    #[serde(default)]
    pub category: Option<String>,
    pub severity: IncidentSeverity,
    pub tier: IncidentTier,
    pub hours: i32,
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

/// Every deadline rule, the defaults first.
pub async fn deadlines(pool: &PgPool) -> Result<Vec<Deadline>, sqlx::Error> {
    sqlx::query_as(
        "SELECT category, severity, tier, hours FROM incident_deadline
         ORDER BY category NULLS FIRST, severity, tier",
    )
    .fetch_all(pool)
    .await
}

/// Makes or changes a deadline rule, audited; the rule as saved.
pub async fn set_deadline(
    pool: &PgPool,
    caller: &Caller,
    meta: &RequestMeta,
    rule: &Deadline,
) -> Result<Deadline, IncidentError> {
    if !(1..=MAX_DEADLINE_HOURS).contains(&rule.hours) {
        return Err(IncidentError::Invalid(format!(
            "hours must be 1..={MAX_DEADLINE_HOURS}"
        )));
    }
    let mut tx = pool.begin().await?;
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
        &caller.entry(&action, "incident_deadline", saved.audit_id(), meta),
    )
    .await?;
    tx.commit().await?;
    Ok(saved)
}

/// Drops a category's own rule, audited, so the default applies to it again. Not found when
/// it has none.
pub async fn drop_deadline(
    pool: &PgPool,
    caller: &Caller,
    meta: &RequestMeta,
    category: &str,
    severity: IncidentSeverity,
    tier: IncidentTier,
) -> Result<(), IncidentError> {
    let mut tx = pool.begin().await?;
    let dropped = sqlx::query(
        "DELETE FROM incident_deadline WHERE category = $1 AND severity = $2 AND tier = $3",
    )
    .bind(category)
    .bind(severity)
    .bind(tier)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if dropped == 0 {
        return Err(IncidentError::NotFound);
    }
    let name = rule_name(Some(category), severity, tier);
    audit::record(
        &mut tx,
        &caller.entry("drop_deadline", "incident_deadline", name, meta),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A category with its names and duplicate reach.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Category {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub duplicate_radius_m: i32,
    pub duplicate_window_hours: i32,
}

/// Every category, by code.
pub async fn categories(pool: &PgPool) -> Result<Vec<Category>, sqlx::Error> {
    sqlx::query_as(
        "SELECT code, name_zh, name_en, duplicate_radius_m, duplicate_window_hours
         FROM incident_category ORDER BY code",
    )
    .fetch_all(pool)
    .await
}

/// Whether a category with this code exists.
pub async fn category_exists(pool: &PgPool, code: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM incident_category WHERE code = $1)")
        .bind(code)
        .fetch_one(pool)
        .await
}

/// How near in space and time another report must be to look like a duplicate: either or
/// both.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReachChange {
    pub duplicate_radius_m: Option<i32>,
    pub duplicate_window_hours: Option<i32>,
}

impl ReachChange {
    /// Something to change, and inside what the database allows.
    fn check(&self) -> Result<(), IncidentError> {
        if self.duplicate_radius_m.is_none() && self.duplicate_window_hours.is_none() {
            return Err(IncidentError::Invalid(
                "nothing to change: give duplicate_radius_m, duplicate_window_hours or both".into(),
            ));
        }
        if let Some(radius) = self.duplicate_radius_m
            && !(1..=MAX_DUPLICATE_RADIUS_M).contains(&radius)
        {
            return Err(IncidentError::Invalid(format!(
                "duplicate_radius_m must be 1..={MAX_DUPLICATE_RADIUS_M}"
            )));
        }
        if let Some(hours) = self.duplicate_window_hours
            && !(1..=MAX_DUPLICATE_WINDOW_HOURS).contains(&hours)
        {
            return Err(IncidentError::Invalid(format!(
                "duplicate_window_hours must be 1..={MAX_DUPLICATE_WINDOW_HOURS}"
            )));
        }
        Ok(())
    }
}

/// Changes category `code`'s duplicate reach, audited; the category as saved. Not found
/// when there is no such category.
pub async fn set_duplicate_reach(
    pool: &PgPool,
    caller: &Caller,
    meta: &RequestMeta,
    code: &str,
    change: &ReachChange,
) -> Result<Category, IncidentError> {
    change.check()?;
    let mut tx = pool.begin().await?;
    let saved: Category = sqlx::query_as(
        "UPDATE incident_category
             SET duplicate_radius_m = coalesce($2, duplicate_radius_m),
                 duplicate_window_hours = coalesce($3, duplicate_window_hours)
             WHERE code = $1
             RETURNING code, name_zh, name_en, duplicate_radius_m, duplicate_window_hours",
    )
    .bind(code)
    .bind(change.duplicate_radius_m)
    .bind(change.duplicate_window_hours)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(IncidentError::NotFound)?;
    let action = format!(
        "set_duplicate_reach:{}m/{}h",
        saved.duplicate_radius_m, saved.duplicate_window_hours
    );
    audit::record(
        &mut tx,
        &caller.entry(&action, "incident_category", saved.code.clone(), meta),
    )
    .await?;
    tx.commit().await?;
    Ok(saved)
}
