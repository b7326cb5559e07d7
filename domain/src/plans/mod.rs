//! Grid plans: drafts planners copy, edit, rebalance and publish.
//!
//! A plan is a whole city's grid cells under one version number. Exactly one is published
//! (the live map's); drafts are copies of another plan, owned by the area of the planner who
//! made them; archived plans are the ones published before, and still answer by version.
//!
//! Who sees what: planners see every published and archived plan, and the drafts whose area
//! holds theirs or lies within it (a county planner sees a township's drafts; another
//! county's are "not found"). They change a draft only inside their own area. Other roles see
//! the published and archived plans' cells through the map routes, never a draft.
//!
//! - [`cells`]: reading and writing a plan's cells exactly (edits must not move a vertex by
//!   rounding), and their GeoJSON;
//! - [`edits`]: the edits (move a shared vertex, split, merge, move a boundary, add, remove,
//!   rename), versioned with undo and redo, refused when they leave the plan invalid;
//! - [`validate`]: the coverage rules, from `wangge_analysis::coverage`, on a plan's cells;
//! - [`workload`]: each cell's households, residents, weighted cases, area, workers and load;
//! - [`rebalance`]: redrawing a township's, villages' or cells' grid for an even load;
//! - [`diff`]: a draft against the published plan;
//! - [`publish`]: the one switch that makes a draft the live grid.

pub mod cells;
pub mod diff;
pub mod edits;
pub mod publish;
pub mod rebalance;
pub mod validate;
pub mod workload;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use crate::audit::RequestMeta;
use crate::auth::{Caller, Role};

/// What can go wrong with a plan request.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// No such plan, or one the caller may not see.
    #[error("no such plan")]
    NotFound,
    /// A request that names something impossible (a cell that is not there, a line that
    /// does not cross the cell).
    #[error("{0}")]
    Invalid(String),
    /// Something outside the caller's area.
    #[error("{0}")]
    OutsideArea(String),
    /// Only planners work on plans.
    #[error("only planners work on grid plans")]
    Forbidden,
    /// The plan is not in a state for this (editing a published plan, publishing an archived
    /// one, a draft based on a plan that is no longer the published one).
    #[error("{0}")]
    State(String),
    /// Someone changed the same cells first: the caller gets them as they are now.
    #[error("{detail}")]
    Conflict {
        detail: String,
        current: serde_json::Value,
    },
    /// The edit would leave the plan invalid; nothing was written.
    #[error("{detail}")]
    Rejected {
        detail: String,
        issues: serde_json::Value,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The states a plan goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "grid_plan_status", rename_all = "snake_case")]
pub enum PlanStatus {
    Draft,
    Published,
    Archived,
}

/// One plan as the plan list and `GET /plans/{version}` show it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PlanSummary {
    pub version: i32,
    pub name: String,
    pub status: PlanStatus,
    pub revision: i32,
    /// The version it was copied from.
    pub based_on: Option<i32>,
    /// A draft's area (the level, code and name of the unit), `None` for a whole-city plan.
    pub area_code: Option<String>,
    pub area_name: Option<String>,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub archived_at: Option<DateTime<Utc>>,
    pub cells: i64,
    /// Cells of the plan inside the caller's area.
    pub cells_in_area: i64,
    /// Whether the caller may change it (a draft, and a planner's).
    #[sqlx(skip)]
    pub editable: bool,
    #[serde(skip)]
    pub id: i64,
}

/// The plan's row and what the access rules need, selected by `version`; `$1` is the version,
/// `$2` the caller's area prefix.
const SUMMARY_SELECT: &str = "
    SELECT p.id, p.version, p.name, p.status, p.revision, b.version AS based_on,
           a.code AS area_code, a.name AS area_name, u.username AS created_by, p.created_at,
           p.updated_at, p.published_at, p.archived_at,
           (SELECT count(*) FROM grid_cell g WHERE g.plan_id = p.id) AS cells,
           (SELECT count(*) FROM grid_cell g JOIN admin_unit v ON v.id = g.village_id
             WHERE g.plan_id = p.id AND v.code LIKE $2 || '%') AS cells_in_area
    FROM grid_plan p
    LEFT JOIN grid_plan b ON b.id = p.based_on
    LEFT JOIN admin_unit a ON a.id = p.area_unit_id
    LEFT JOIN app_user u ON u.id = p.created_by";

/// Whether a caller may see a plan: published and archived plans to all planners, a draft
/// to planners whose area and the draft's nest (one holds the other).
const VISIBLE: &str = "(p.status <> 'draft' OR a.code IS NULL
      OR a.code LIKE $2 || '%' OR $2 LIKE a.code || '%')";

/// Planners only.
pub fn require_planner(caller: &Caller) -> Result<(), PlanError> {
    if caller.role == Role::Planner {
        Ok(())
    } else {
        Err(PlanError::Forbidden)
    }
}

fn with_editable(mut plan: PlanSummary, caller: &Caller) -> PlanSummary {
    plan.editable = plan.status == PlanStatus::Draft && caller.role == Role::Planner;
    plan
}

/// Every plan the caller may see, newest first.
pub async fn list(pool: &PgPool, caller: &Caller) -> Result<Vec<PlanSummary>, PlanError> {
    require_planner(caller)?;
    let plans: Vec<PlanSummary> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SUMMARY_SELECT} WHERE {VISIBLE} ORDER BY p.version DESC"
    )))
    .bind(0_i32)
    .bind(&caller.area.prefix)
    .fetch_all(pool)
    .await?;
    Ok(plans
        .into_iter()
        .map(|p| with_editable(p, caller))
        .collect())
}

/// Plan `version`, if the caller may see it.
pub async fn get(
    conn: &mut PgConnection,
    caller: &Caller,
    version: i32,
) -> Result<PlanSummary, PlanError> {
    require_planner(caller)?;
    visible(conn, &caller.area.prefix, version)
        .await?
        .map(|p| with_editable(p, caller))
        .ok_or(PlanError::NotFound)
}

/// Plan `version` if an area with this prefix may see it.
pub async fn visible(
    conn: &mut PgConnection,
    prefix: &str,
    version: i32,
) -> Result<Option<PlanSummary>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SUMMARY_SELECT} WHERE p.version = $1 AND {VISIBLE}"
    )))
    .bind(version)
    .bind(prefix)
    .fetch_optional(conn)
    .await
}

/// Whether anyone with this area prefix may read plan `version`'s cells (the map routes'
/// `?plan=`): published and archived plans to everyone, a draft only to planners who see it.
/// `None` when there is no such plan for them.
pub async fn readable_plan_id(
    pool: &PgPool,
    caller: &Caller,
    version: i32,
) -> Result<Option<i64>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let Some(plan) = visible(&mut conn, &caller.area.prefix, version).await? else {
        return Ok(None);
    };
    if plan.status == PlanStatus::Draft && caller.role != Role::Planner {
        return Ok(None);
    }
    Ok(Some(plan.id))
}

/// A new draft: a copy of plan `from` (the published plan when `None`), owned by the caller's
/// area, numbered one past the highest version.
pub async fn create(
    pool: &PgPool,
    caller: &Caller,
    name: &str,
    from: Option<i32>,
    meta: &RequestMeta,
) -> Result<PlanSummary, PlanError> {
    require_planner(caller)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(PlanError::Invalid(
            "a plan's name is 1 to 100 characters".into(),
        ));
    }
    let mut tx = pool.begin().await?;
    let source = match from {
        Some(version) => visible(&mut tx, &caller.area.prefix, version)
            .await?
            .ok_or(PlanError::NotFound)?,
        None => {
            let published: Option<i32> =
                sqlx::query_scalar("SELECT version FROM grid_plan WHERE status = 'published'")
                    .fetch_optional(&mut *tx)
                    .await?;
            let version =
                published.ok_or_else(|| PlanError::State("no plan is published to copy".into()))?;
            visible(&mut tx, &caller.area.prefix, version)
                .await?
                .ok_or(PlanError::NotFound)?
        }
    };
    // Versions are handed out one at a time; the lock ends with the transaction.
    sqlx::query("LOCK TABLE grid_plan IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO grid_plan (version, name, status, based_on, area_unit_id, created_by)
         SELECT (SELECT coalesce(max(version), 0) + 1 FROM grid_plan), $1, 'draft', $2,
                (SELECT id FROM admin_unit WHERE code = $3 AND level::text = $4), $5
         RETURNING id",
    )
    .bind(name)
    .bind(source.id)
    .bind(&caller.area.code)
    .bind(&caller.area.level)
    .bind(caller.user_id)
    .fetch_one(&mut *tx)
    .await?;
    // Thousands of cells copied: the live maps hear of the new plan once, not of each cell
    // (no map shows a draft that did not exist).
    quiet(&mut tx, true).await?;
    sqlx::query(
        "INSERT INTO grid_cell (plan_id, village_id, code, name, geom)
         SELECT $1, village_id, code, name, geom FROM grid_cell WHERE plan_id = $2 ORDER BY id",
    )
    .bind(id)
    .bind(source.id)
    .execute(&mut *tx)
    .await?;
    quiet(&mut tx, false).await?;
    cells_written_in_bulk(&mut tx).await?;
    let version: i32 = sqlx::query_scalar("SELECT version FROM grid_plan WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    crate::audit::record(
        &mut tx,
        &caller.entry(
            "plan.create",
            "grid_plan",
            format!("{version} from {}", source.version),
            meta,
        ),
    )
    .await?;
    let plan = visible(&mut tx, &caller.area.prefix, version)
        .await?
        .ok_or(PlanError::NotFound)?;
    tx.commit().await?;
    Ok(with_editable(plan, caller))
}

/// Turns the change notices of the rows this transaction writes off or back on
/// (`wangge.bulk_load`, until the transaction ends): thousands of cells copied, deleted or
/// re-linked are announced once, by the plan's own notice.
pub(crate) async fn quiet(conn: &mut PgConnection, on: bool) -> Result<(), sqlx::Error> {
    sqlx::query(if on {
        "SET LOCAL wangge.bulk_load = 'on'"
    } else {
        "SET LOCAL wangge.bulk_load = 'off'"
    })
    .execute(conn)
    .await?;
    Ok(())
}

/// After a whole plan's cells are written under a new plan id (a draft copied, a plan
/// imported): refreshes the table's statistics, which still say that plan holds about one
/// cell, so that the first edit's neighbour searches use the spatial index (see migration
/// 20261207000023). ANALYZE counts the calling transaction's own rows.
pub(crate) async fn cells_written_in_bulk(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT wangge_analyze_grid_cells()")
        .execute(conn)
        .await?;
    Ok(())
}

/// Sets a plan's revision after a change to it.
pub(crate) async fn set_revision(
    conn: &mut PgConnection,
    plan_id: i64,
    revision: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE grid_plan SET revision = $2, updated_at = now() WHERE id = $1")
        .bind(plan_id)
        .bind(revision)
        .execute(conn)
        .await?;
    Ok(())
}

/// The draft `version` locked for a change by the caller: seen by them and still a draft.
pub(crate) async fn lock_draft(
    conn: &mut PgConnection,
    caller: &Caller,
    version: i32,
) -> Result<PlanSummary, PlanError> {
    require_planner(caller)?;
    let plan = visible(conn, &caller.area.prefix, version)
        .await?
        .ok_or(PlanError::NotFound)?;
    let status: PlanStatus =
        sqlx::query_scalar("SELECT status FROM grid_plan WHERE id = $1 FOR UPDATE")
            .bind(plan.id)
            .fetch_one(&mut *conn)
            .await?;
    if status != PlanStatus::Draft {
        return Err(PlanError::State(format!(
            "plan {version} is {}: only drafts change",
            status_text(status)
        )));
    }
    Ok(plan)
}

fn status_text(status: PlanStatus) -> &'static str {
    match status {
        PlanStatus::Draft => "a draft",
        PlanStatus::Published => "published",
        PlanStatus::Archived => "archived",
    }
}

/// Deletes the draft `version` and its cells and edits. Only a draft whose area lies inside
/// the caller's may be deleted.
pub async fn delete(
    pool: &PgPool,
    caller: &Caller,
    version: i32,
    meta: &RequestMeta,
) -> Result<(), PlanError> {
    let mut tx = pool.begin().await?;
    let plan = lock_draft(&mut tx, caller, version).await?;
    owns(&plan, caller)?;
    // Its cells go quietly; the plan's own notice drops its tiles from every cache.
    quiet(&mut tx, true).await?;
    sqlx::query("DELETE FROM grid_cell WHERE plan_id = $1")
        .bind(plan.id)
        .execute(&mut *tx)
        .await?;
    quiet(&mut tx, false).await?;
    sqlx::query("DELETE FROM grid_plan WHERE id = $1")
        .bind(plan.id)
        .execute(&mut *tx)
        .await?;
    crate::audit::record(
        &mut tx,
        &caller.entry("plan.delete", "grid_plan", version.to_string(), meta),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Archives the draft `version` (kept, read-only, no longer offered for editing).
pub async fn archive(
    pool: &PgPool,
    caller: &Caller,
    version: i32,
    meta: &RequestMeta,
) -> Result<PlanSummary, PlanError> {
    let mut tx = pool.begin().await?;
    let plan = lock_draft(&mut tx, caller, version).await?;
    owns(&plan, caller)?;
    sqlx::query(
        "UPDATE grid_plan SET status = 'archived', archived_at = now(), updated_at = now()
         WHERE id = $1",
    )
    .bind(plan.id)
    .execute(&mut *tx)
    .await?;
    crate::audit::record(
        &mut tx,
        &caller.entry("plan.archive", "grid_plan", version.to_string(), meta),
    )
    .await?;
    let plan = visible(&mut tx, &caller.area.prefix, version)
        .await?
        .ok_or(PlanError::NotFound)?;
    tx.commit().await?;
    Ok(with_editable(plan, caller))
}

/// Whether the draft's area lies inside the caller's (a draft of a wider area is theirs to
/// edit inside their area, not to delete or publish).
fn owns(plan: &PlanSummary, caller: &Caller) -> Result<(), PlanError> {
    match &plan.area_code {
        Some(code) if !code.starts_with(&caller.area.prefix) => {
            Err(PlanError::OutsideArea(format!(
                "plan {} belongs to {}, which is wider than your area",
                plan.version,
                plan.area_name.as_deref().unwrap_or(code)
            )))
        }
        _ => Ok(()),
    }
}
