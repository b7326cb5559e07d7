//! Edits to a draft's cells, one transaction each: versioned, undoable, and refused when
//! they would leave the plan invalid.
//!
//! Every edit names the plan revision the planner saw. The plan row is locked for the edit
//! (edits of one plan take turns); cells the edit touches that changed after that revision
//! make it a conflict, answered with those cells as they are now, so of two planners editing
//! the same cells one wins and the other sees why. Edits of different cells both go through.
//!
//! Geometry work is PostGIS's (split, union, difference on GEOS's robust overlay), read back
//! exactly. After an edit, the touched cells and their neighbours are snapped to each other
//! within [`NODE_TOLERANCE_DEG`], which puts a new vertex on a neighbour's edge into that
//! neighbour too, so shared edges keep matching vertex for vertex. The coverage rules then
//! run on the touched cells and what is around them; an issue that was not there before the
//! edit refuses it (nothing is written), with each issue's reason and place.

use std::collections::{BTreeMap, BTreeSet};

use geo::{Coord, LineString, MultiPolygon};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};

use super::cells::{self, Cell};
use super::validate;
use super::{PlanError, PlanSummary, lock_draft};
use crate::audit::RequestMeta;
use crate::auth::Caller;
use crate::db::geometry::{Ewkb, multi_polygon_from_geojson};

/// How far apart (degrees, about 0.1 mm) two vertices may be and still be one vertex, or a
/// vertex from an edge and still lie on it.
pub const NODE_TOLERANCE_DEG: f64 = 1e-9;

/// How close (degrees, about 1 cm) a `move_vertex`'s `from` must be to a vertex: an editor
/// sends back the coordinates it was given, which may have passed through a float32.
pub const VERTEX_MATCH_DEG: f64 = 1e-7;

/// One edit, as the API and the command line take it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Edit {
    /// Moves the vertex at `from` to `to` in every cell that has it, so neighbours follow.
    MoveVertex {
        from: [f64; 2],
        to: [f64; 2],
    },
    /// Cuts `cell` in two along `line`, which must cross it from outside to outside; the
    /// larger part keeps the cell's code, the other becomes `new_code` / `new_name`.
    Split {
        cell: String,
        line: Vec<[f64; 2]>,
        new_code: Option<String>,
        new_name: Option<String>,
    },
    /// Joins `cells` (all of one village, together one piece) into `into` (the first when
    /// absent).
    Merge {
        cells: Vec<String>,
        into: Option<String>,
    },
    /// Redraws the boundary between two neighbouring cells along `line`, which must cross
    /// their union from outside to outside.
    MoveBoundary {
        cells: Vec<String>,
        line: Vec<[f64; 2]>,
    },
    /// A new cell over `polygon` (a ring of lon/lat points), clipped to its village and taken
    /// from the cells it overlaps.
    AddCell {
        code: String,
        name: String,
        village: String,
        polygon: Vec<[f64; 2]>,
    },
    /// Removes `cell`, its area joined to `into` (a neighbour) or left uncovered.
    RemoveCell {
        cell: String,
        into: Option<String>,
    },
    Rename {
        cell: String,
        name: String,
    },
}

impl Edit {
    fn kind(&self) -> &'static str {
        match self {
            Edit::MoveVertex { .. } => "move_vertex",
            Edit::Split { .. } => "split",
            Edit::Merge { .. } => "merge",
            Edit::MoveBoundary { .. } => "move_boundary",
            Edit::AddCell { .. } => "add_cell",
            Edit::RemoveCell { .. } => "remove_cell",
            Edit::Rename { .. } => "rename",
        }
    }
}

/// An edit and the plan revision its author saw. (Unknown fields are refused by [`Edit`]:
/// serde cannot deny them on a struct that flattens another.)
#[derive(Debug, Clone, Deserialize)]
pub struct EditRequest {
    pub revision: i32,
    #[serde(flatten)]
    pub edit: Edit,
}

/// What an accepted edit, undo or redo answers.
#[derive(Debug, Serialize)]
pub struct EditOutcome {
    /// The plan's revision now.
    pub revision: i32,
    pub kind: String,
    pub summary: String,
    /// The cells the edit wrote, as they are now (exact GeoJSON).
    pub changed: serde_json::Value,
    /// Codes of cells that no longer exist.
    pub removed: Vec<String>,
    /// Issues that do not refuse an edit (area of a village no cell covers).
    pub warnings: serde_json::Value,
}

/// One line of a plan's edit history.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct HistoryEntry {
    pub revision: i32,
    pub kind: String,
    pub summary: String,
    pub username: Option<String>,
    pub at: chrono::DateTime<chrono::Utc>,
    pub undone: bool,
}

/// What an edit does to the cells, before it is written.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    /// New geometry (and maybe name) of existing cells, by id.
    pub update: BTreeMap<i64, (MultiPolygon<f64>, Option<String>)>,
    /// New cells: code, name, village id, geometry.
    pub insert: Vec<(String, String, i64, MultiPolygon<f64>)>,
    pub delete: BTreeSet<i64>,
    pub summary: String,
}

fn invalid(detail: impl Into<String>) -> PlanError {
    PlanError::Invalid(detail.into())
}

fn checked_coord([lon, lat]: [f64; 2]) -> Result<Coord<f64>, PlanError> {
    if !lon.is_finite() || !lat.is_finite() || !(-180.0..=180.0).contains(&lon) {
        return Err(invalid(format!("longitude {lon} is not a longitude")));
    }
    if !(-90.0..=90.0).contains(&lat) {
        return Err(invalid(format!("latitude {lat} is not a latitude")));
    }
    Ok(Coord { x: lon, y: lat })
}

fn checked_line(points: &[[f64; 2]]) -> Result<LineString<f64>, PlanError> {
    if points.len() < 2 || points.len() > 10_000 {
        return Err(invalid("a line has 2 to 10,000 points"));
    }
    Ok(LineString::new(
        points
            .iter()
            .map(|p| checked_coord(*p))
            .collect::<Result<_, _>>()?,
    ))
}

fn checked_code(code: &str) -> Result<(), PlanError> {
    if code.is_empty()
        || code.len() > 40
        || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(invalid(format!(
            "cell code {code:?} is not 1 to 40 letters, digits and hyphens"
        )));
    }
    Ok(())
}

fn checked_name(name: &str) -> Result<String, PlanError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid("a cell's name is 1 to 100 characters"));
    }
    Ok(name.to_owned())
}

/// Applies one edit to the draft `version`.
pub async fn apply(
    pool: &PgPool,
    caller: &Caller,
    version: i32,
    request: &EditRequest,
    meta: &RequestMeta,
) -> Result<EditOutcome, PlanError> {
    let mut tx = pool.begin().await?;
    let plan = lock_draft(&mut tx, caller, version).await?;
    check_revision(&plan, request.revision)?;
    let changes = plan_changes(&mut tx, &plan, &request.edit).await?;
    let geometry_changed = !matches!(request.edit, Edit::Rename { .. });
    let outcome = write(
        &mut tx,
        caller,
        &plan,
        request.revision,
        request.edit.kind(),
        changes,
        geometry_changed,
        meta,
    )
    .await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Refuses a revision the plan never had.
pub(crate) fn check_revision(plan: &PlanSummary, revision: i32) -> Result<(), PlanError> {
    if revision > plan.revision || revision < 0 {
        return Err(invalid(format!(
            "revision {revision} is not one plan {} has had (it is at {})",
            plan.version, plan.revision
        )));
    }
    Ok(())
}

/// Writes an edit's changes into the locked draft, checks them and records the edit; the
/// caller commits.
#[allow(clippy::too_many_arguments)] // One edit's whole context; a struct would only rename it.
pub(crate) async fn write(
    tx: &mut PgConnection,
    caller: &Caller,
    plan: &PlanSummary,
    revision: i32,
    kind: &str,
    mut changes: Changes,
    geometry_changed: bool,
    meta: &RequestMeta,
) -> Result<EditOutcome, PlanError> {
    let version = plan.version;
    let touched: Vec<i64> = changes
        .update
        .keys()
        .chain(changes.delete.iter())
        .copied()
        .collect();
    let touched_cells = cells::by_ids(&mut *tx, plan.id, &touched).await?;
    check_current(&mut *tx, plan, &touched_cells, revision).await?;
    check_area(caller, &touched_cells)?;
    if !changes.insert.is_empty() {
        let villages: Vec<i64> = changes.insert.iter().map(|c| c.2).collect();
        let codes: Vec<String> = sqlx::query_scalar(
            "SELECT code FROM admin_unit WHERE id = ANY ($1) AND code NOT LIKE $2 || '%'",
        )
        .bind(&villages)
        .bind(&caller.area.prefix)
        .fetch_all(&mut *tx)
        .await?;
        if let Some(code) = codes.first() {
            return Err(PlanError::OutsideArea(format!(
                "village {code} is outside your area"
            )));
        }
    }

    check_valid(&mut *tx, &touched_cells, &changes).await?;
    let new_revision = plan.revision + 1;
    // The region the rules look at, before the edit, for telling new issues from old.
    let margin = 0.002;
    let mut villages: Vec<i64> = touched_cells.iter().map(|c| c.village_id).collect();
    villages.extend(changes.insert.iter().map(|c| c.2));
    villages.sort_unstable();
    villages.dedup();
    let region_before = cells::region(&mut *tx, plan.id, &touched, &villages, margin).await?;
    let before = cells::snapshot(&mut *tx, plan.id, &touched).await?;

    for (id, (geom, name)) in &changes.update {
        cells::update_geometry(&mut *tx, *id, geom, new_revision).await?;
        if let Some(name) = name {
            sqlx::query("UPDATE grid_cell SET name = $2 WHERE id = $1")
                .bind(id)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
    }
    let mut written: Vec<i64> = changes.update.keys().copied().collect();
    for (code, name, village_id, geom) in &changes.insert {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO grid_cell (plan_id, village_id, code, name, geom, revision)
             VALUES ($1, $2, $3, $4, $5::geometry, $6) RETURNING id",
        )
        .bind(plan.id)
        .bind(village_id)
        .bind(code)
        .bind(name)
        .bind(Ewkb::multi_polygon(geom))
        .bind(new_revision)
        .fetch_one(&mut *tx)
        .await
        .map_err(
            |e| match e.as_database_error().and_then(|d| d.constraint()) {
                Some("grid_cell_code_unique_per_plan") => {
                    invalid(format!("plan {version} already has a cell {code}"))
                }
                _ => PlanError::Database(e),
            },
        )?;
        written.push(id);
    }
    let removed_codes: Vec<String> = touched_cells
        .iter()
        .filter(|c| changes.delete.contains(&c.id))
        .map(|c| c.code.clone())
        .collect();
    if !changes.delete.is_empty() {
        let ids: Vec<i64> = changes.delete.iter().copied().collect();
        sqlx::query("DELETE FROM grid_cell WHERE id = ANY ($1)")
            .bind(&ids)
            .execute(&mut *tx)
            .await?;
    }
    // Geometry changed: node the changed cells and their neighbours to each other.
    let geometry_changed = geometry_changed && !written.is_empty();
    if geometry_changed {
        let noded = node_neighbours(&mut *tx, plan.id, &written, new_revision).await?;
        // A neighbour that takes a vertex is part of the edit (its undo restores it); it
        // must be current too.
        let extra: Vec<i64> = noded
            .into_iter()
            .filter(|id| !written.contains(id) && !touched.contains(id))
            .collect();
        if !extra.is_empty() {
            let neighbours: Vec<Cell> = region_before
                .iter()
                .filter(|c| extra.contains(&c.id))
                .cloned()
                .collect();
            check_current(&mut *tx, plan, &neighbours, revision).await?;
            // Not checked against the caller's area: snapping moves a vertex by at most
            // NODE_TOLERANCE_DEG, so a neighbour across the area's edge keeps its shape and
            // only takes the vertex where the new edge meets it.
            written.extend(extra);
        }
    }
    let mut all_ids: Vec<i64> = written.clone();
    all_ids.extend(changes.delete.iter().copied());
    all_ids.sort_unstable();
    all_ids.dedup();
    // `before` must also hold the neighbours that took a vertex, as they were.
    let before = if all_ids.len() > touched.len() {
        let ids: Vec<i64> = all_ids
            .iter()
            .copied()
            .filter(|id| !touched.contains(id))
            .collect();
        let mut extra = snapshot_of(&region_before, &ids);
        if let (Some(list), Some(more)) = (before.as_array().cloned(), extra.as_array_mut()) {
            let mut list = list;
            list.append(more);
            serde_json::Value::Array(list)
        } else {
            before
        }
    } else {
        before
    };
    let after = cells::snapshot(&mut *tx, plan.id, &written).await?;

    let warnings = if geometry_changed || !changes.delete.is_empty() {
        let region_after = cells::region(&mut *tx, plan.id, &all_ids, &villages, margin).await?;
        let verdict = validate::compare(&mut *tx, &region_before, &region_after, &all_ids).await?;
        if !verdict.new_errors.is_empty() {
            let detail = format!(
                "the edit would leave the plan invalid: {}",
                verdict
                    .new_errors
                    .iter()
                    .map(|i| i.message.clone())
                    .collect::<Vec<_>>()
                    .join("；")
            );
            return Err(PlanError::Rejected {
                detail,
                issues: serde_json::to_value(&verdict.new_errors)
                    .unwrap_or(serde_json::Value::Null),
            });
        }
        serde_json::to_value(&verdict.new_warnings).unwrap_or(serde_json::Value::Null)
    } else {
        serde_json::json!([])
    };

    // A new edit ends the redo stack.
    sqlx::query("DELETE FROM grid_plan_edit WHERE plan_id = $1 AND undone_at IS NOT NULL")
        .bind(plan.id)
        .execute(&mut *tx)
        .await?;
    let summary = std::mem::take(&mut changes.summary);
    sqlx::query(
        "INSERT INTO grid_plan_edit (plan_id, revision, kind, summary, before, after, user_id)
         VALUES ($1, $2, $3::grid_plan_edit_kind, $4, $5, $6, $7)",
    )
    .bind(plan.id)
    .bind(new_revision)
    .bind(kind)
    .bind(&summary)
    .bind(&before)
    .bind(&after)
    .bind(caller.user_id)
    .execute(&mut *tx)
    .await?;
    super::set_revision(&mut *tx, plan.id, new_revision).await?;
    crate::audit::record(
        &mut *tx,
        &caller.entry(
            "plan.edit",
            "grid_plan",
            format!("{version}@{new_revision} {kind}"),
            meta,
        ),
    )
    .await?;
    let changed = changed_cells(&mut *tx, plan.id, &written).await?;
    Ok(EditOutcome {
        revision: new_revision,
        kind: kind.to_owned(),
        summary,
        changed,
        removed: removed_codes,
        warnings,
    })
}

/// Refuses new outlines that are not valid polygons before they are written (the table
/// would refuse them with a bare constraint error): the reason and the place, from PostGIS.
async fn check_valid(
    conn: &mut PgConnection,
    touched: &[Cell],
    changes: &Changes,
) -> Result<(), PlanError> {
    let code_of = |id: &i64| {
        touched
            .iter()
            .find(|c| c.id == *id)
            .map_or_else(|| id.to_string(), |c| c.code.clone())
    };
    let outlines = changes
        .update
        .iter()
        .map(|(id, (geom, _))| (code_of(id), geom))
        .chain(
            changes
                .insert
                .iter()
                .map(|(code, _, _, geom)| (code.clone(), geom)),
        );
    let mut issues = Vec::new();
    for (code, geom) in outlines {
        let (valid, reason, lon, lat): (bool, Option<String>, Option<f64>, Option<f64>) =
            sqlx::query_as(
                "SELECT (d).valid, (d).reason, ST_X((d).location), ST_Y((d).location)
                 FROM (SELECT ST_IsValidDetail($1::geometry) AS d) x",
            )
            .bind(Ewkb::multi_polygon(geom))
            .fetch_one(&mut *conn)
            .await?;
        if !valid {
            let reason = reason.unwrap_or_default();
            issues.push(serde_json::json!({
                "kind": "invalid_geometry", "severity": "error", "cells": [code],
                "village": null, "location": [lon, lat], "geometry": null, "measure": 1.0,
                "message": format!("网格 {code} 的边界无效：{reason}"),
                "message_en": format!("cell {code}'s outline is invalid: {reason}"),
            }));
        }
    }
    if issues.is_empty() {
        return Ok(());
    }
    Err(PlanError::Rejected {
        detail: format!(
            "the edit would leave the plan invalid: {}",
            issues
                .iter()
                .filter_map(|i| i["message"].as_str())
                .collect::<Vec<_>>()
                .join("；")
        ),
        issues: serde_json::Value::Array(issues),
    })
}

/// The rows of `ids` among `cells` as a snapshot (for cells read before the edit).
fn snapshot_of(cells: &[Cell], ids: &[i64]) -> serde_json::Value {
    serde_json::Value::Array(
        cells
            .iter()
            .filter(|c| ids.contains(&c.id))
            .map(|c| {
                serde_json::json!({
                    "id": c.id, "code": c.code, "name": c.name, "village_id": c.village_id,
                    "geom": Ewkb::multi_polygon(&c.geom).as_str(),
                })
            })
            .collect(),
    )
}

async fn changed_cells(
    conn: &mut PgConnection,
    plan_id: i64,
    ids: &[i64],
) -> Result<serde_json::Value, sqlx::Error> {
    let codes: Vec<String> =
        sqlx::query_scalar("SELECT code FROM grid_cell WHERE plan_id = $1 AND id = ANY ($2)")
            .bind(plan_id)
            .bind(ids)
            .fetch_all(&mut *conn)
            .await?;
    let text = cells::feature_collection(conn, plan_id, "", None, Some(&codes)).await?;
    Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

/// Refuses the edit when a cell it touches changed after `revision`, answering those cells
/// as they are now.
async fn check_current(
    conn: &mut PgConnection,
    plan: &PlanSummary,
    touched: &[Cell],
    revision: i32,
) -> Result<(), PlanError> {
    let stale: Vec<String> = touched
        .iter()
        .filter(|c| c.revision > revision)
        .map(|c| c.code.clone())
        .collect();
    if stale.is_empty() {
        return Ok(());
    }
    let cells = cells::feature_collection(conn, plan.id, "", None, Some(&stale)).await?;
    Err(PlanError::Conflict {
        detail: format!(
            "cells {} changed after revision {revision} (the plan is at revision {}): \
             look at them again and redo the edit",
            stale.join(", "),
            plan.revision
        ),
        current: serde_json::json!({
            "revision": plan.revision,
            "cells": serde_json::from_str::<serde_json::Value>(&cells)
                .unwrap_or(serde_json::Value::Null),
        }),
    })
}

fn check_area(caller: &Caller, touched: &[Cell]) -> Result<(), PlanError> {
    match touched
        .iter()
        .find(|c| !c.village_code.starts_with(&caller.area.prefix))
    {
        Some(cell) => Err(PlanError::OutsideArea(format!(
            "cell {} is outside your area",
            cell.code
        ))),
        None => Ok(()),
    }
}

/// The cell `code` of the plan, or a clear refusal.
async fn one(conn: &mut PgConnection, plan_id: i64, code: &str) -> Result<Cell, PlanError> {
    cells::by_codes(conn, plan_id, &[code.to_owned()])
        .await?
        .pop()
        .ok_or_else(|| invalid(format!("the plan has no cell {code}")))
}

/// Reads PostGIS's answer (exact GeoJSON texts) as multipolygons.
fn polygons(texts: Vec<String>) -> Result<Vec<MultiPolygon<f64>>, PlanError> {
    texts
        .iter()
        .map(|t| multi_polygon_from_geojson(t).map_err(|e| PlanError::Database(decode(e))))
        .collect()
}

fn decode(e: String) -> sqlx::Error {
    sqlx::Error::Decode(e.into())
}

/// The pieces `geom` (one polygon) falls into along `line`, largest first.
async fn split_pieces(
    conn: &mut PgConnection,
    geom: &MultiPolygon<f64>,
    line: &LineString<f64>,
) -> Result<Vec<MultiPolygon<f64>>, PlanError> {
    let texts: Vec<String> = sqlx::query_scalar(
        "SELECT ST_AsGeoJSON(ST_Multi(d.geom), 15)
         FROM ST_Dump(ST_Split(ST_GeometryN($1::geometry, 1), $2::geometry)) d
         ORDER BY ST_Area(d.geom) DESC",
    )
    .bind(Ewkb::multi_polygon(geom))
    .bind(Ewkb::line_string(line))
    .fetch_all(conn)
    .await?;
    polygons(texts)
}

async fn union_of(
    conn: &mut PgConnection,
    geoms: &[&MultiPolygon<f64>],
) -> Result<MultiPolygon<f64>, PlanError> {
    let binds: Vec<Ewkb> = geoms.iter().map(|g| Ewkb::multi_polygon(g)).collect();
    let text: String = sqlx::query_scalar(
        "SELECT ST_AsGeoJSON(ST_Multi(ST_Union(g::geometry)), 15) FROM unnest($1::text[]) AS p (g)",
    )
    .bind(&binds)
    .fetch_one(conn)
    .await?;
    polygons(vec![text]).map(|mut v| v.remove(0))
}

/// A free code for a part split off `code`: `code-2`, `code-3`, …
async fn free_code(conn: &mut PgConnection, plan_id: i64, code: &str) -> Result<String, PlanError> {
    for n in 2..1000 {
        let candidate = format!("{code}-{n}");
        if candidate.len() > 40 {
            break;
        }
        let taken: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM grid_cell WHERE plan_id = $1 AND code = $2)",
        )
        .bind(plan_id)
        .bind(&candidate)
        .fetch_one(&mut *conn)
        .await?;
        if !taken {
            return Ok(candidate);
        }
    }
    Err(invalid(format!(
        "no free code after {code}: name the new cell"
    )))
}

/// What the edit changes, computed but not written.
async fn plan_changes(
    conn: &mut PgConnection,
    plan: &PlanSummary,
    edit: &Edit,
) -> Result<Changes, PlanError> {
    let mut changes = Changes::default();
    match edit {
        Edit::MoveVertex { from, to } => {
            let from = checked_coord(*from)?;
            let to = checked_coord(*to)?;
            let found = cells_with_vertex(conn, plan.id, from).await?;
            if found.is_empty() {
                return Err(invalid(format!(
                    "no cell has a vertex at {:.7}, {:.7}",
                    from.x, from.y
                )));
            }
            let mut codes = Vec::new();
            for cell in found {
                let mut geom = cell.geom.clone();
                move_vertex(&mut geom, from, to);
                codes.push(cell.code.clone());
                changes.update.insert(cell.id, (geom, None));
            }
            changes.summary = format!("移动 {} 的共用顶点", codes.join("、"));
        }
        Edit::Split {
            cell,
            line,
            new_code,
            new_name,
        } => {
            let line = checked_line(line)?;
            let target = one(conn, plan.id, cell).await?;
            if target.geom.0.len() != 1 {
                return Err(invalid(format!(
                    "cell {cell} is in {} pieces: merge or redraw it before splitting",
                    target.geom.0.len()
                )));
            }
            let pieces = split_pieces(conn, &target.geom, &line).await?;
            if pieces.len() != 2 {
                return Err(invalid(format!(
                    "the line must cut cell {cell} in two, crossing it once from outside to \
                     outside (it makes {} pieces)",
                    pieces.len()
                )));
            }
            let code = match new_code {
                Some(code) => {
                    checked_code(code)?;
                    code.clone()
                }
                None => free_code(conn, plan.id, cell).await?,
            };
            let name = match new_name {
                Some(name) => checked_name(name)?,
                None => format!("{}（分）", target.name),
            };
            let mut pieces = pieces.into_iter();
            let (kept, split_off) = (pieces.next(), pieces.next());
            if let (Some(kept), Some(split_off)) = (kept, split_off) {
                changes.update.insert(target.id, (kept, None));
                changes
                    .insert
                    .push((code.clone(), name, target.village_id, split_off));
            }
            changes.summary = format!("将 {cell} 拆分出 {code}");
        }
        Edit::Merge { cells: codes, into } => {
            if codes.len() < 2 {
                return Err(invalid("a merge takes at least two cells"));
            }
            let into = into.clone().unwrap_or_else(|| codes[0].clone());
            if !codes.contains(&into) {
                return Err(invalid(format!("{into} is not among the cells merged")));
            }
            let found = cells::by_codes(conn, plan.id, codes).await?;
            let missing: Vec<&String> = codes
                .iter()
                .filter(|code| !found.iter().any(|c| &c.code == *code))
                .collect();
            if !missing.is_empty() {
                return Err(invalid(format!("the plan has no cell {}", missing[0])));
            }
            if found.iter().any(|c| c.village_id != found[0].village_id) {
                return Err(invalid(
                    "cells of different villages cannot be merged: cells nest in villages",
                ));
            }
            let geoms: Vec<&MultiPolygon<f64>> = found.iter().map(|c| &c.geom).collect();
            let merged = union_of(conn, &geoms).await?;
            if merged.0.len() != 1 {
                return Err(invalid(format!(
                    "cells {} do not make one piece together: merge neighbours",
                    codes.join(", ")
                )));
            }
            for cell in &found {
                if cell.code == into {
                    changes.update.insert(cell.id, (merged.clone(), None));
                } else {
                    changes.delete.insert(cell.id);
                }
            }
            changes.summary = format!("合并 {} 为 {into}", codes.join("、"));
        }
        Edit::MoveBoundary { cells: codes, line } => {
            let line = checked_line(line)?;
            let [a, b] = codes.as_slice() else {
                return Err(invalid("moving a boundary takes two cells"));
            };
            let ca = one(conn, plan.id, a).await?;
            let cb = one(conn, plan.id, b).await?;
            if ca.village_id != cb.village_id {
                return Err(invalid(
                    "a boundary between villages is the villages' own: it does not move here",
                ));
            }
            let merged = union_of(conn, &[&ca.geom, &cb.geom]).await?;
            if merged.0.len() != 1 {
                return Err(invalid(format!("cells {a} and {b} are not neighbours")));
            }
            let pieces = split_pieces(conn, &merged, &line).await?;
            if pieces.len() != 2 {
                return Err(invalid(format!(
                    "the new boundary must cut cells {a} and {b} in two, crossing them once \
                     from outside to outside (it makes {} pieces)",
                    pieces.len()
                )));
            }
            // Each keeps the piece that holds more of what it had.
            let overlap: f64 = sqlx::query_scalar(
                "SELECT ST_Area(ST_Intersection($1::geometry, $2::geometry))
                      - ST_Area(ST_Intersection($3::geometry, $2::geometry))",
            )
            .bind(Ewkb::multi_polygon(&pieces[0]))
            .bind(Ewkb::multi_polygon(&ca.geom))
            .bind(Ewkb::multi_polygon(&pieces[1]))
            .fetch_one(&mut *conn)
            .await?;
            let (pa, pb) = if overlap >= 0.0 {
                (pieces[0].clone(), pieces[1].clone())
            } else {
                (pieces[1].clone(), pieces[0].clone())
            };
            changes.update.insert(ca.id, (pa, None));
            changes.update.insert(cb.id, (pb, None));
            changes.summary = format!("调整 {a} 与 {b} 的边界");
        }
        Edit::AddCell {
            code,
            name,
            village,
            polygon,
        } => {
            checked_code(code)?;
            let name = checked_name(name)?;
            let mut ring: Vec<Coord<f64>> = polygon
                .iter()
                .map(|p| checked_coord(*p))
                .collect::<Result<_, _>>()?;
            if ring.len() < 3 || ring.len() > 10_000 {
                return Err(invalid("a new cell's outline has 3 to 10,000 points"));
            }
            if ring.first() != ring.last() {
                ring.push(ring[0]);
            }
            let drawn = MultiPolygon::new(vec![geo::Polygon::new(LineString::new(ring), vec![])]);
            let village_id: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM admin_unit WHERE code = $1 AND level = 'village'",
            )
            .bind(village)
            .fetch_optional(&mut *conn)
            .await?;
            let village_id =
                village_id.ok_or_else(|| invalid(format!("there is no village {village}")))?;
            // The drawn outline must itself be valid; the rules check the rest.
            let (valid, reason): (bool, String) =
                sqlx::query_as("SELECT ST_IsValid($1::geometry), ST_IsValidReason($1::geometry)")
                    .bind(Ewkb::multi_polygon(&drawn))
                    .fetch_one(&mut *conn)
                    .await?;
            if !valid {
                return Err(invalid(format!(
                    "the new cell's outline is invalid: {reason}"
                )));
            }
            let text: Option<String> = sqlx::query_scalar(
                "SELECT ST_AsGeoJSON(ST_Multi(ST_CollectionExtract(
                            ST_Intersection($1::geometry, v.geom), 3)), 15)
                 FROM admin_unit v WHERE v.id = $2
                   AND NOT ST_IsEmpty(ST_CollectionExtract(ST_Intersection($1::geometry, v.geom), 3))",
            )
            .bind(Ewkb::multi_polygon(&drawn))
            .bind(village_id)
            .fetch_optional(&mut *conn)
            .await?;
            let Some(text) = text else {
                return Err(invalid(format!(
                    "the new cell's outline does not reach into village {village}"
                )));
            };
            let new = polygons(vec![text])?.remove(0);
            // Taken from the cells it overlaps.
            let taken: Vec<(i64, String, Option<String>)> = sqlx::query_as(
                "SELECT g.id, g.code,
                        CASE WHEN NOT ST_IsEmpty(d) THEN ST_AsGeoJSON(ST_Multi(d), 15) END
                 FROM grid_cell g,
                      LATERAL (SELECT ST_CollectionExtract(ST_Difference(g.geom, $2::geometry), 3) AS d) x
                 WHERE g.plan_id = $1 AND ST_Intersects(g.geom, $2::geometry)
                   AND ST_Area(ST_Intersection(g.geom, $2::geometry)) > 0
                 ORDER BY g.id",
            )
            .bind(plan.id)
            .bind(Ewkb::multi_polygon(&new))
            .fetch_all(&mut *conn)
            .await?;
            for (id, taken_code, rest) in taken {
                match rest {
                    Some(rest) => {
                        let rest = polygons(vec![rest])?.remove(0);
                        changes.update.insert(id, (rest, None));
                    }
                    None => {
                        return Err(invalid(format!(
                            "the new cell would cover all of cell {taken_code}: merge or \
                             remove it instead"
                        )));
                    }
                }
            }
            changes.insert.push((code.clone(), name, village_id, new));
            changes.summary = format!("新增网格 {code}");
        }
        Edit::RemoveCell { cell, into } => {
            let target = one(conn, plan.id, cell).await?;
            match into {
                Some(into) => {
                    let keeper = one(conn, plan.id, into).await?;
                    if keeper.village_id != target.village_id {
                        return Err(invalid("a cell's area goes to a cell of the same village"));
                    }
                    let merged = union_of(conn, &[&keeper.geom, &target.geom]).await?;
                    if merged.0.len() != 1 {
                        return Err(invalid(format!(
                            "cells {cell} and {into} are not neighbours"
                        )));
                    }
                    changes.update.insert(keeper.id, (merged, None));
                    changes.delete.insert(target.id);
                    changes.summary = format!("删除 {cell}，并入 {into}");
                }
                None => {
                    changes.delete.insert(target.id);
                    changes.summary = format!("删除 {cell}");
                }
            }
        }
        Edit::Rename { cell, name } => {
            let name = checked_name(name)?;
            let target = one(conn, plan.id, cell).await?;
            changes
                .update
                .insert(target.id, (target.geom.clone(), Some(name.clone())));
            changes.summary = format!("{cell} 改名为 {name}");
        }
    }
    Ok(changes)
}

/// The plan's cells with a vertex within [`VERTEX_MATCH_DEG`] of `at`, locked.
async fn cells_with_vertex(
    conn: &mut PgConnection,
    plan_id: i64,
    at: Coord<f64>,
) -> Result<Vec<Cell>, sqlx::Error> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM grid_cell
         WHERE plan_id = $1 AND geom && ST_Expand(ST_SetSRID(ST_Point($2, $3), 4326), $4)",
    )
    .bind(plan_id)
    .bind(at.x)
    .bind(at.y)
    .bind(VERTEX_MATCH_DEG)
    .fetch_all(&mut *conn)
    .await?;
    let found = cells::by_ids(conn, plan_id, &ids).await?;
    Ok(found
        .into_iter()
        .filter(|c| {
            coords(&c.geom).any(|v| {
                (v.x - at.x).abs() <= VERTEX_MATCH_DEG && (v.y - at.y).abs() <= VERTEX_MATCH_DEG
            })
        })
        .collect())
}

fn coords(geom: &MultiPolygon<f64>) -> impl Iterator<Item = Coord<f64>> + '_ {
    geom.0.iter().flat_map(|p| {
        std::iter::once(p.exterior())
            .chain(p.interiors())
            .flat_map(|r| r.0.iter().copied())
    })
}

/// Moves every vertex of `geom` within [`VERTEX_MATCH_DEG`] of `from` to `to` (rings stay
/// closed: their first and last points move together).
fn move_vertex(geom: &mut MultiPolygon<f64>, from: Coord<f64>, to: Coord<f64>) {
    let near = |v: &Coord<f64>| {
        (v.x - from.x).abs() <= VERTEX_MATCH_DEG && (v.y - from.y).abs() <= VERTEX_MATCH_DEG
    };
    for polygon in &mut geom.0 {
        polygon.exterior_mut(|ring| {
            for v in &mut ring.0 {
                if near(v) {
                    *v = to;
                }
            }
        });
        polygon.interiors_mut(|rings| {
            for ring in rings {
                for v in &mut ring.0 {
                    if near(v) {
                        *v = to;
                    }
                }
            }
        });
    }
}

/// Snaps the cells `ids` and every cell touching them to each other, so that a vertex one
/// has on another's edge becomes the other's vertex too. Returns the ids whose geometry
/// changed (any of `ids` included).
async fn node_neighbours(
    conn: &mut PgConnection,
    plan_id: i64,
    ids: &[i64],
    revision: i32,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH written AS (
             SELECT id, geom FROM grid_cell WHERE plan_id = $1 AND id = ANY ($2)
         ), near AS (
             -- A join, so the spatial index finds the neighbours (as a correlated EXISTS,
             -- every cell of the plan was tested).
             SELECT DISTINCT g.id, g.geom FROM written w
             JOIN grid_cell g ON g.plan_id = $1 AND ST_DWithin(w.geom, g.geom, $3)
         ), others AS (
             -- A written cell takes every neighbour's vertices on its edges, a neighbour
             -- only the written cells': old flaws between two untouched cells stay theirs.
             -- Found through the spatial index too, rather than by testing each near cell
             -- against every other.
             SELECT n.id, ST_Collect(o.geom) AS geom FROM near n
             JOIN grid_cell o ON o.plan_id = $1 AND o.id <> n.id
                             AND ST_DWithin(o.geom, n.geom, $3)
             WHERE n.id = ANY ($2) OR o.id = ANY ($2)
             GROUP BY n.id
         ), snapped AS (
             SELECT n.id, n.geom AS old, ST_Multi(ST_Snap(n.geom, o.geom, $3)) AS new
             FROM near n JOIN others o ON o.id = n.id
         )
         UPDATE grid_cell g SET geom = s.new, revision = $4
         FROM snapped s
         WHERE g.id = s.id AND s.new IS NOT NULL AND ST_AsEWKB(s.old) <> ST_AsEWKB(s.new)
         RETURNING g.id",
    )
    .bind(plan_id)
    .bind(ids)
    .bind(NODE_TOLERANCE_DEG)
    .bind(revision)
    .fetch_all(conn)
    .await
}

/// Undoes the plan's latest edit that is not undone. `revision` must be the plan's revision
/// now: undoing is about the whole plan's last step, so it needs the planner to have seen it.
pub async fn undo(
    pool: &PgPool,
    caller: &Caller,
    version: i32,
    revision: i32,
    meta: &RequestMeta,
) -> Result<EditOutcome, PlanError> {
    step(pool, caller, version, revision, meta, true).await
}

/// Redoes the edit undone last.
pub async fn redo(
    pool: &PgPool,
    caller: &Caller,
    version: i32,
    revision: i32,
    meta: &RequestMeta,
) -> Result<EditOutcome, PlanError> {
    step(pool, caller, version, revision, meta, false).await
}

async fn step(
    pool: &PgPool,
    caller: &Caller,
    version: i32,
    revision: i32,
    meta: &RequestMeta,
    undo: bool,
) -> Result<EditOutcome, PlanError> {
    let mut tx = pool.begin().await?;
    let plan = lock_draft(&mut tx, caller, version).await?;
    if revision != plan.revision {
        let history = history_of(&mut tx, plan.id).await?;
        return Err(PlanError::Conflict {
            detail: format!(
                "plan {version} is at revision {}, not {revision}: someone edited it meanwhile",
                plan.revision
            ),
            current: serde_json::json!({ "revision": plan.revision, "history": history }),
        });
    }
    let row: Option<(i64, String, String, serde_json::Value, serde_json::Value)> =
        sqlx::query_as(if undo {
            "SELECT id, kind::text, summary, before, after FROM grid_plan_edit
             WHERE plan_id = $1 AND undone_at IS NULL ORDER BY revision DESC LIMIT 1"
        } else {
            "SELECT id, kind::text, summary, before, after FROM grid_plan_edit
             WHERE plan_id = $1 AND undone_at IS NOT NULL ORDER BY revision LIMIT 1"
        })
        .bind(plan.id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some((edit_id, kind, summary, before, after)) = row else {
        return Err(PlanError::State(if undo {
            "nothing to undo".into()
        } else {
            "nothing to redo".into()
        }));
    };
    // The cells the step writes must be in the caller's area (of a county's draft, a
    // township planner undoes only their own township's edits); a neighbour across the
    // area's edge that only took a vertex (the same place before and after) does not count.
    let outside: Option<String> = sqlx::query_scalar(
        "WITH b AS (SELECT (c->>'id')::bigint AS id, (c->>'village_id')::bigint AS village,
                           (c->>'geom')::geometry AS geom FROM jsonb_array_elements($1) c),
              a AS (SELECT (c->>'id')::bigint AS id, (c->>'village_id')::bigint AS village,
                           (c->>'geom')::geometry AS geom FROM jsonb_array_elements($2) c)
         SELECT v.code FROM b FULL JOIN a ON a.id = b.id
         JOIN admin_unit v ON v.id = coalesce(a.village, b.village)
         WHERE v.code NOT LIKE $3 || '%'
           AND (a.id IS NULL OR b.id IS NULL OR a.village <> b.village
                OR ST_HausdorffDistance(a.geom, b.geom) > $4)
         LIMIT 1",
    )
    .bind(&before)
    .bind(&after)
    .bind(&caller.area.prefix)
    .bind(super::diff::SAME_PLACE_DEG)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(code) = outside {
        return Err(PlanError::OutsideArea(format!(
            "the last edit changed village {code}, outside your area"
        )));
    }
    let new_revision = plan.revision + 1;
    let (remove, restore) = if undo {
        (&after, &before)
    } else {
        (&before, &after)
    };
    cells::restore(&mut tx, plan.id, remove, restore, new_revision).await?;
    sqlx::query(if undo {
        "UPDATE grid_plan_edit SET undone_at = now() WHERE id = $1"
    } else {
        "UPDATE grid_plan_edit SET undone_at = NULL WHERE id = $1"
    })
    .bind(edit_id)
    .execute(&mut *tx)
    .await?;
    super::set_revision(&mut tx, plan.id, new_revision).await?;
    let action = if undo { "plan.undo" } else { "plan.redo" };
    crate::audit::record(
        &mut tx,
        &caller.entry(
            action,
            "grid_plan",
            format!("{version}@{new_revision} {kind}"),
            meta,
        ),
    )
    .await?;
    let ids = |v: &serde_json::Value| -> Vec<i64> {
        v.as_array()
            .map(|a| a.iter().filter_map(|c| c["id"].as_i64()).collect())
            .unwrap_or_default()
    };
    let kept = ids(restore);
    let removed: Vec<String> = remove
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|c| !kept.contains(&c["id"].as_i64().unwrap_or(-1)))
                .filter_map(|c| c["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let changed = changed_cells(&mut tx, plan.id, &kept).await?;
    tx.commit().await?;
    Ok(EditOutcome {
        revision: new_revision,
        kind,
        summary: if undo {
            format!("撤销：{summary}")
        } else {
            format!("重做：{summary}")
        },
        changed,
        removed,
        warnings: serde_json::json!([]),
    })
}

async fn history_of(
    conn: &mut PgConnection,
    plan_id: i64,
) -> Result<Vec<HistoryEntry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.revision, e.kind::text AS kind, e.summary, u.username, e.created_at AS at,
                e.undone_at IS NOT NULL AS undone
         FROM grid_plan_edit e LEFT JOIN app_user u ON u.id = e.user_id
         WHERE e.plan_id = $1 ORDER BY e.revision DESC LIMIT 200",
    )
    .bind(plan_id)
    .fetch_all(conn)
    .await
}

/// The plan's edits, newest first (at most 200).
pub async fn history(
    pool: &PgPool,
    caller: &Caller,
    version: i32,
) -> Result<Vec<HistoryEntry>, PlanError> {
    let mut conn = pool.acquire().await?;
    let plan = super::get(&mut conn, caller, version).await?;
    Ok(history_of(&mut conn, plan.id).await?)
}
