//! The rules of automatic dispatch (`auto_dispatch_rule`): after how long an untouched new
//! case of a category (or any) in a unit is assigned by itself. Listing, setting and
//! deleting them, each change audited; [`super::auto`] applies them. Who may manage them is
//! the caller's to check.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::audit::{self, RequestMeta};
use crate::auth::{Area, Caller};
use crate::dispatch::DispatchError;
use crate::incidents::intake;

/// Longest delay a rule may have: a day.
pub const MAX_DELAY_S: i32 = 86_400;

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Rule {
    pub id: i64,
    pub category: Option<String>,
    pub area_code: String,
    pub delay_s: i32,
    pub created_at: DateTime<Utc>,
}

/// A rule as it is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleIn {
    /// null: every category.
    pub category: Option<String>,
    /// A county, township or village code inside the caller's area (or the city's).
    pub area_code: String,
    pub delay_s: i32,
}

/// The rules for units inside `area`.
pub async fn list(pool: &PgPool, area: &Area) -> Result<Vec<Rule>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, category, area_code, delay_s, created_at FROM auto_dispatch_rule
         WHERE prefix LIKE $1 || '%' ORDER BY area_code, category NULLS FIRST",
    )
    .bind(&area.prefix)
    .fetch_all(pool)
    .await
}

/// Makes or changes the rule for a category and unit inside the caller's area, audited; the
/// rule as saved.
pub async fn set(
    pool: &PgPool,
    caller: &Caller,
    meta: &RequestMeta,
    rule: &RuleIn,
) -> Result<Rule, DispatchError> {
    if !(0..=MAX_DELAY_S).contains(&rule.delay_s) {
        return Err(DispatchError::Invalid(format!(
            "delay_s must be 0..={MAX_DELAY_S}"
        )));
    }
    let mut tx = pool.begin().await?;
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
        return Err(DispatchError::OutsideArea(format!(
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
        meta,
    );
    entry.area_code = &rule.area_code;
    audit::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(saved)
}

/// Deletes rule `id` if it is for a unit inside the caller's area, audited.
pub async fn delete(
    pool: &PgPool,
    caller: &Caller,
    meta: &RequestMeta,
    id: i64,
) -> Result<(), DispatchError> {
    let mut tx = pool.begin().await?;
    let area: Option<String> = sqlx::query_scalar(
        "DELETE FROM auto_dispatch_rule WHERE id = $1 AND prefix LIKE $2 || '%'
             RETURNING area_code",
    )
    .bind(id)
    .bind(&caller.area.prefix)
    .fetch_optional(&mut *tx)
    .await?;
    let area = area.ok_or(DispatchError::NotFound)?;
    let mut entry = caller.entry(
        "delete_auto_dispatch_rule",
        "auto_dispatch_rule",
        id.to_string(),
        meta,
    );
    entry.area_code = &area;
    audit::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(())
}
