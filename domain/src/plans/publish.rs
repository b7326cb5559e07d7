//! Publishing a draft: one transaction that makes it the live grid.
//!
//! The draft must be based on the plan published now (else someone published meanwhile and
//! the draft would silently undo their work), its changes must lie inside the publisher's
//! area, and its changed cells must pass the coverage rules. Then, together: every worker's
//! cells, every grid worker's account area and every open case are linked to the draft's
//! cells (a cell's same-code successor, else the one over most of its area; an open case to
//! the cell its point lies in), hot spot patterns follow their codes (so publishing raises
//! no alert by itself), the old plan is archived and the draft published. The live maps hear
//! `{"e":"all"}` once, at commit, and reload everything. Closed cases keep the cells they
//! were closed in: the archived plan still answers for them, and figures by cell code stay
//! comparable from plan to plan.

use serde::Serialize;
use sqlx::PgPool;

use super::cells;
use super::diff::changed_codes;
use super::validate;
use super::{PlanError, PlanSummary, lock_draft, owns};
use crate::audit::RequestMeta;
use crate::auth::Caller;
use crate::model::open_statuses;

/// What publishing did.
#[derive(Debug, Serialize)]
pub struct Published {
    pub version: i32,
    pub archived_version: i32,
    pub changed_cells: usize,
    pub worker_links: u64,
    pub user_areas: u64,
    pub open_cases: u64,
}

/// Publishes the draft `version`.
pub async fn publish(
    pool: &PgPool,
    caller: &Caller,
    version: i32,
    meta: &RequestMeta,
) -> Result<Published, PlanError> {
    let mut tx = pool.begin().await?;
    let draft: PlanSummary = lock_draft(&mut tx, caller, version).await?;
    owns(&draft, caller)?;
    let published: Option<(i64, i32)> =
        sqlx::query_as("SELECT id, version FROM grid_plan WHERE status = 'published' FOR UPDATE")
            .fetch_optional(&mut *tx)
            .await?;
    let (old_id, old_version) =
        published.ok_or_else(|| PlanError::State("no plan is published".into()))?;
    if draft.based_on != Some(old_version) {
        return Err(PlanError::State(format!(
            "plan {version} was drawn from version {}, but version {old_version} is published \
             now: start a new draft from it",
            draft
                .based_on
                .map_or_else(|| "none".to_owned(), |v| v.to_string())
        )));
    }
    // Every change must be the publisher's to make.
    let [added, removed, reshaped, renamed] = changed_codes(&mut tx, draft.id, old_id, "").await?;
    let [a, r, s, n] = changed_codes(&mut tx, draft.id, old_id, &caller.area.prefix).await?;
    let outside = added.len() + removed.len() + reshaped.len() + renamed.len()
        - (a.len() + r.len() + s.len() + n.len());
    if outside > 0 {
        return Err(PlanError::OutsideArea(format!(
            "plan {version} changes {outside} cells outside your area"
        )));
    }
    let changed: Vec<String> = added.iter().chain(&reshaped).cloned().collect();
    if !changed.is_empty() {
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM grid_cell WHERE plan_id = $1 AND code = ANY ($2)")
                .bind(draft.id)
                .bind(&changed)
                .fetch_all(&mut *tx)
                .await?;
        let villages: Vec<i64> =
            sqlx::query_scalar("SELECT DISTINCT village_id FROM grid_cell WHERE id = ANY ($1)")
                .bind(&ids)
                .fetch_all(&mut *tx)
                .await?;
        let region = cells::region(&mut tx, draft.id, &ids, &villages, 0.002).await?;
        let errors: Vec<validate::Issue> = validate::check(&mut tx, &region)
            .await?
            .into_iter()
            .filter(|i| i.severity == "error" && i.cells.iter().any(|c| changed.contains(c)))
            .collect();
        if !errors.is_empty() {
            return Err(PlanError::Rejected {
                detail: format!(
                    "plan {version} does not pass the rules: {}",
                    errors
                        .iter()
                        .map(|i| i.message.clone())
                        .collect::<Vec<_>>()
                        .join("；")
                ),
                issues: serde_json::to_value(&errors).unwrap_or_default(),
            });
        }
    }

    // Thousands of links change: one notice at the end instead of one per row.
    super::quiet(&mut tx, true).await?;
    // Old cell → new cell: the same code, else the new cell over most of the old one.
    sqlx::query(
        "CREATE TEMPORARY TABLE plan_successor ON COMMIT DROP AS
         SELECT o.id AS old_id,
                coalesce((SELECT d.id FROM grid_cell d WHERE d.plan_id = $2 AND d.code = o.code),
                         (SELECT d.id FROM grid_cell d WHERE d.plan_id = $2
                            AND ST_Intersects(d.geom, o.geom)
                          ORDER BY ST_Area(ST_Intersection(d.geom, o.geom)) DESC, d.code
                          LIMIT 1)) AS new_id
         FROM grid_cell o WHERE o.plan_id = $1",
    )
    .bind(old_id)
    .bind(draft.id)
    .execute(&mut *tx)
    .await?;
    let worker_links = sqlx::query(
        "WITH moved AS (
             DELETE FROM grid_worker_cell wc USING plan_successor s
             WHERE wc.grid_cell_id = s.old_id AND s.new_id IS NOT NULL
             RETURNING wc.worker_id, s.new_id
         )
         INSERT INTO grid_worker_cell (worker_id, grid_cell_id)
         SELECT DISTINCT worker_id, new_id FROM moved
         ON CONFLICT DO NOTHING",
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let user_areas = sqlx::query(
        "UPDATE app_user u SET area_grid_cell_id = s.new_id
         FROM plan_successor s
         WHERE u.area_grid_cell_id = s.old_id AND s.new_id IS NOT NULL",
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let open_cases = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE incident i
         SET grid_cell_id = coalesce(
                 (SELECT d.id FROM grid_cell d WHERE d.plan_id = $1
                    AND ST_Intersects(d.geom, i.geom) ORDER BY d.id LIMIT 1),
                 (SELECT s.new_id FROM plan_successor s WHERE s.old_id = i.grid_cell_id))
         WHERE i.status IN {}
           AND i.grid_cell_id IN (SELECT id FROM grid_cell WHERE plan_id = $2)",
        open_statuses!()
    )))
    .bind(draft.id)
    .bind(old_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query(
        "INSERT INTO grid_cell_pattern
         SELECT d.id, p.category, p.since
         FROM grid_cell_pattern p
         JOIN grid_cell o ON o.id = p.grid_cell_id AND o.plan_id = $1
         JOIN grid_cell d ON d.plan_id = $2 AND d.code = o.code
         ON CONFLICT DO NOTHING",
    )
    .bind(old_id)
    .bind(draft.id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE grid_plan SET status = 'archived', archived_at = now(), updated_at = now()
         WHERE id = $1",
    )
    .bind(old_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE grid_plan SET status = 'published', published_at = now(), updated_at = now()
         WHERE id = $1",
    )
    .bind(draft.id)
    .execute(&mut *tx)
    .await?;
    // Households keep their cell's code where a cell kept its code, village and outline;
    // under the cells redrawn, added or removed they are looked up again.
    sqlx::query(
        "SELECT wangge_relink_households(array(
             SELECT n.geom FROM grid_cell n WHERE n.plan_id = $1 AND NOT EXISTS (
                 SELECT 1 FROM grid_cell o WHERE o.plan_id = $2 AND o.code = n.code
                    AND o.village_id = n.village_id AND o.geom = n.geom)
             UNION ALL
             SELECT o.geom FROM grid_cell o WHERE o.plan_id = $2 AND NOT EXISTS (
                 SELECT 1 FROM grid_cell n WHERE n.plan_id = $1 AND n.code = o.code
                    AND n.village_id = o.village_id AND n.geom = o.geom)))",
    )
    .bind(draft.id)
    .bind(old_id)
    .execute(&mut *tx)
    .await?;
    super::quiet(&mut tx, false).await?;
    sqlx::query("SELECT pg_notify('wangge_change', '{\"e\":\"all\"}')")
        .execute(&mut *tx)
        .await?;
    crate::audit::record(
        &mut tx,
        &caller.entry(
            "plan.publish",
            "grid_plan",
            format!("{version} replacing {old_version}"),
            meta,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Published {
        version,
        archived_version: old_version,
        changed_cells: added.len() + removed.len() + reshaped.len() + renamed.len(),
        worker_links,
        user_areas,
        open_cases,
    })
}
