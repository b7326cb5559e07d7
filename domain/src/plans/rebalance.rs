//! Rebalancing a township's, some villages' or some cells' grid in a draft, as one edit.
//!
//! The cells in scope are redrawn from where people live (`wangge_analysis::rebalance`): H3
//! units inside the ground those cells cover (25 m hexagons where people live densely,
//! coarser over a village's empty land), loaded with households (1 each) and the last
//! 12 months' cases (their severity weight × `case_weight`, as in [`super::workload`]),
//! partitioned into contiguous cells nested in villages, balanced within the tolerance,
//! moving as few households as it can, then clipped to the ground the old cells covered
//! (see [`clip_to_ground`]). A new cell that matches an old one keeps its code,
//! name and workers; the others get new codes. The edit is checked and undoable like any
//! other.

use std::collections::BTreeSet;

use geo::MultiPolygon;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use wangge_analysis::rebalance::{self as engine, Params, Point, Target, UnitParams};

use super::edits::{self, Changes, EditOutcome};
use super::workload::{DEFAULT_CASE_WEIGHT, SEVERITY_WEIGHT_SQL};
use super::{PlanError, cells, lock_draft};
use crate::audit::RequestMeta;
use crate::auth::Caller;
use crate::db::geometry::{Ewkb, multi_polygon_from_geojson};

/// What to rebalance, to what.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RebalanceRequest {
    /// The plan revision the planner saw.
    pub revision: i32,
    /// A township's code, or villages' codes, or cells' codes: exactly one.
    pub township: Option<String>,
    pub villages: Option<Vec<String>>,
    pub cells: Option<Vec<String>>,
    /// How many cells to make…
    pub target_cells: Option<usize>,
    /// …or the load each cell should carry (household-equivalents).
    pub target_load: Option<f64>,
    /// Largest accepted deviation from the target, 0.05 unless said.
    pub tolerance: Option<f64>,
    pub case_weight: Option<f64>,
}

/// The edit and the partition's figures.
#[derive(Debug, Serialize)]
pub struct RebalanceOutcome {
    pub edit: EditOutcome,
    pub cells: usize,
    pub target_load: f64,
    pub max_deviation: f64,
    pub tolerance_met: bool,
    pub mean_polsby_popper: f64,
    pub contiguous_share: f64,
    pub households: u64,
    pub households_moved: u64,
    /// Why the tolerance could not be met, when it was not.
    pub shortfalls: Vec<Shortfall>,
}

/// Why a rebalancing fell short of its tolerance, as a planner reads it: by village.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shortfall {
    /// One spot (the households of one small hexagon) weighs more than a whole cell may:
    /// no boundary can cut it.
    HeavyUnit {
        village_code: String,
        village_name: String,
        load: f64,
    },
    /// The village's whole number of cells forces it: its load over the cells it got is
    /// itself this far from the target (`mean_deviation`, −1…∞).
    VillageShare {
        village_code: String,
        village_name: String,
        cells: usize,
        mean_deviation: f64,
    },
    /// The village's households come in blocks too big for the band (its typical unit
    /// carries `typical_load`, more than half the band's width `band_width`): a cell's
    /// load moves in steps too large to land inside it.
    CoarseUnits {
        village_code: Option<String>,
        village_name: Option<String>,
        typical_load: f64,
        band_width: f64,
    },
    /// The search found no further move that helped with a cell still outside the band
    /// (in this village; anywhere when the village is not known).
    Stalled {
        village_code: Option<String>,
        village_name: Option<String>,
    },
}

impl Shortfall {
    /// The engine's reason, its village index made the village's code and name.
    fn from_engine(
        shortfall: &engine::Shortfall,
        unit_village: impl Fn(u32) -> u32,
        village: impl Fn(u32) -> (String, String),
    ) -> Self {
        match *shortfall {
            engine::Shortfall::HeavyUnit { unit, load } => {
                let (village_code, village_name) = village(unit_village(unit));
                Self::HeavyUnit {
                    village_code,
                    village_name,
                    load,
                }
            }
            engine::Shortfall::VillageShare {
                village: v,
                cells,
                mean_deviation,
            } => {
                let (village_code, village_name) = village(v);
                Self::VillageShare {
                    village_code,
                    village_name,
                    cells,
                    mean_deviation,
                }
            }
            engine::Shortfall::CoarseUnits {
                village: v,
                typical_load,
                band_width,
            } => {
                let named = v.map(&village);
                Self::CoarseUnits {
                    village_code: named.as_ref().map(|n| n.0.clone()),
                    village_name: named.map(|n| n.1),
                    typical_load,
                    band_width,
                }
            }
            engine::Shortfall::Stalled { village: v } => {
                let named = v.map(&village);
                Self::Stalled {
                    village_code: named.as_ref().map(|n| n.0.clone()),
                    village_name: named.map(|n| n.1),
                }
            }
        }
    }
}

fn invalid(detail: impl Into<String>) -> PlanError {
    PlanError::Invalid(detail.into())
}

/// Each part's hexagons cut to the ground its village's old cells covered. The parts'
/// outlines and the ground's boundary are noded together, once per village, and polygonized
/// (PostGIS on GEOS); each face goes to the part whose hexagons hold it, and ground no
/// hexagon reached (slivers along the edge, whose hexagon centres lie outside) to the part
/// it shares most boundary with. Every part is then a union of faces of one noding, so two
/// parts' shared edges are the same segments, vertex for vertex; the ground's own vertices
/// stay, so edges along the scope's edge still match the neighbours (overlaying each part
/// with the ground on its own computed the same crossing twice, not always to the same bit,
/// and left spikes where a part's edge ran along the ground's). The outlines are first
/// snapped to the ground: where the ground is itself an earlier rebalancing's hexagon edges,
/// the same corners computed again may differ from the stored ones in the last bit.
async fn clip_to_ground(
    conn: &mut sqlx::PgConnection,
    hexagons: &[MultiPolygon<f64>],
    villages: &[i64],
    cell_ids: &[i64],
) -> Result<Vec<MultiPolygon<f64>>, PlanError> {
    let binds: Vec<Ewkb> = hexagons.iter().map(Ewkb::multi_polygon).collect();
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "WITH parts AS (
             SELECT n AS part, g::geometry AS hex, v AS village
             FROM unnest($1::text[], $2::int8[]) WITH ORDINALITY AS p (g, v, n)
         ), ground AS (
             SELECT village_id AS village, ST_Union(geom) AS geom FROM grid_cell
             WHERE id = ANY ($3) GROUP BY village_id
         ), noded AS (
             SELECT g.village, g.geom AS ground,
                    ST_UnaryUnion(ST_Collect(ST_Boundary(g.geom),
                        ST_Snap((SELECT ST_Collect(ST_Boundary(p.hex)) FROM parts p
                                 WHERE p.village = g.village), g.geom, $4))) AS lines
             FROM ground g
         ), faces AS (
             SELECT n.village, d.geom, ST_PointOnSurface(d.geom) AS inside
             FROM noded n,
                  ST_Dump(ST_Polygonize(ARRAY[n.lines])) d
             WHERE ST_Intersects(n.ground, ST_PointOnSurface(d.geom))
         ), labelled AS (
             SELECT f.village, f.geom,
                    (SELECT p.part FROM parts p
                     WHERE p.village = f.village AND ST_Intersects(p.hex, f.inside)
                     ORDER BY p.part LIMIT 1) AS part
             FROM faces f
         ), assigned AS MATERIALIZED (
             -- Once: inlined, the fallback was worked out twice per face (filter and group).
             SELECT coalesce(l.part,
                    (SELECT k.part FROM labelled k
                     WHERE k.village = l.village AND k.part IS NOT NULL
                     ORDER BY ST_Length(ST_CollectionExtract(ST_Intersection(k.geom, l.geom), 2))
                                DESC,
                              ST_Distance(k.geom, l.geom), k.part
                     LIMIT 1)) AS part,
                    l.geom
             FROM labelled l
         )
         SELECT part, ST_AsGeoJSON(ST_Multi(ST_CollectionExtract(ST_Union(geom), 3)), 15)
         FROM assigned
         WHERE part IS NOT NULL
         GROUP BY part ORDER BY part",
    )
    .bind(&binds)
    .bind(villages)
    .bind(cell_ids)
    .bind(edits::NODE_TOLERANCE_DEG)
    .fetch_all(conn)
    .await?;
    let mut outlines = vec![MultiPolygon::new(Vec::new()); hexagons.len()];
    for (part, text) in rows {
        let geom = multi_polygon_from_geojson(&text)
            .map_err(|e| PlanError::Database(sqlx::Error::Decode(e.into())))?;
        if let Some(slot) = outlines.get_mut(part as usize - 1) {
            *slot = geom;
        }
    }
    Ok(outlines)
}

/// Rebalances the cells in scope of the draft `version`.
pub async fn rebalance(
    pool: &PgPool,
    caller: &Caller,
    version: i32,
    request: &RebalanceRequest,
    meta: &RequestMeta,
) -> Result<RebalanceOutcome, PlanError> {
    let target = match (request.target_cells, request.target_load) {
        (Some(n), None) if (1..=2000).contains(&n) => Target::Cells(n),
        (None, Some(load)) if load.is_finite() && load > 0.0 => Target::LoadPerCell(load),
        _ => {
            return Err(invalid(
                "give target_cells (1 to 2,000) or target_load (positive), one of them",
            ));
        }
    };
    let tolerance = request.tolerance.unwrap_or(0.05);
    if !(0.0..1.0).contains(&tolerance) {
        return Err(invalid("tolerance is between 0 and 1"));
    }
    let case_weight = request.case_weight.unwrap_or(DEFAULT_CASE_WEIGHT);
    if !(0.0..=1000.0).contains(&case_weight) {
        return Err(invalid("case_weight is between 0 and 1000"));
    }
    let mut tx = pool.begin().await?;
    let plan = lock_draft(&mut tx, caller, version).await?;
    edits::check_revision(&plan, request.revision)?;

    // The cells in scope, inside the caller's area.
    let (filter, codes): (&str, Vec<String>) =
        match (&request.township, &request.villages, &request.cells) {
            (Some(t), None, None) => ("t.code = ANY ($3)", vec![t.clone()]),
            (None, Some(v), None) if !v.is_empty() => ("v.code = ANY ($3)", v.clone()),
            (None, None, Some(c)) if !c.is_empty() => ("g.code = ANY ($3)", c.clone()),
            _ => {
                return Err(invalid(
                    "name the cells to rebalance: township, villages or cells, one of them",
                ));
            }
        };
    let scope: Vec<(i64, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT g.id, v.code, g.village_id FROM grid_cell g
         JOIN admin_unit v ON v.id = g.village_id
         JOIN admin_unit t ON t.id = v.parent_id
         WHERE g.plan_id = $1 AND v.code LIKE $2 || '%' AND {filter}
         ORDER BY g.code"
    )))
    .bind(plan.id)
    .bind(&caller.area.prefix)
    .bind(&codes)
    .fetch_all(&mut *tx)
    .await?;
    if scope.is_empty() {
        return Err(invalid(format!(
            "no cells of yours match {}",
            codes.join(", ")
        )));
    }
    let ids: Vec<i64> = scope.iter().map(|c| c.0).collect();
    let current = cells::by_ids(&mut tx, plan.id, &ids).await?;
    // Each village's ground is what its cells in scope cover.
    let grounds: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT g.village_id, v.code, v.name, ST_AsGeoJSON(ST_Multi(ST_Union(g.geom)), 15)
         FROM grid_cell g JOIN admin_unit v ON v.id = g.village_id
         WHERE g.id = ANY ($1) GROUP BY g.village_id, v.code, v.name ORDER BY g.village_id",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    let mut villages: Vec<(u32, MultiPolygon<f64>)> = Vec::new();
    let mut village_ids: Vec<i64> = Vec::new();
    let mut village_names: Vec<(String, String)> = Vec::new();
    for (id, code, name, text) in grounds {
        let geom = multi_polygon_from_geojson(&text)
            .map_err(|e| PlanError::Database(sqlx::Error::Decode(e.into())))?;
        villages.push((village_ids.len() as u32, geom));
        village_ids.push(id);
        village_names.push((code, name));
    }
    let village_key = |id: i64| village_ids.iter().position(|v| *v == id).unwrap_or(0) as u32;
    let old_cells: Vec<(u32, u32, MultiPolygon<f64>)> = current
        .iter()
        .enumerate()
        .map(|(i, c)| (i as u32, village_key(c.village_id), c.geom.clone()))
        .collect();
    // From the cells to the points through the spatial index (a point on an edge between
    // two cells in scope once); as an EXISTS per point, every household of the city was read.
    let points: Vec<(f64, f64, i32, f64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT ST_X(h.geom), ST_Y(h.geom), 1, 1::float8 FROM household h
         WHERE h.id IN (SELECT x.id FROM grid_cell g
                        JOIN household x ON ST_Intersects(g.geom, x.geom)
                        WHERE g.id = ANY ($1))
         UNION ALL
         SELECT ST_X(i.geom), ST_Y(i.geom), 0, ({SEVERITY_WEIGHT_SQL}) * $2::float8
         FROM incident i
         WHERE i.id IN (SELECT x.id FROM grid_cell g
                        JOIN incident x ON ST_Intersects(g.geom, x.geom)
                        WHERE g.id = ANY ($1))
           AND i.reported_at > now() - interval '12 months'"
    )))
    .bind(&ids)
    .bind(case_weight)
    .fetch_all(&mut *tx)
    .await?;
    let points: Vec<Point> = points
        .into_iter()
        .map(|(lon, lat, households, load)| Point {
            lon,
            lat,
            households: households as u32,
            load,
        })
        .collect();

    // Cells stay inside their villages: a cell across a village boundary breaks the rules.
    let params = Params {
        tolerance,
        ..Params::new(target)
    };
    let (hexagons, partition, shortfalls) = tokio::task::spawn_blocking(move || {
        let graph =
            engine::build_units_adaptive(&villages, &old_cells, &points, &UnitParams::default())
                .map_err(|e| invalid(e.to_string()))?;
        let plan = engine::rebalance(&graph, &params).map_err(|e| invalid(e.to_string()))?;
        let hexagons = engine::part_hexagons(&graph, &plan);
        let shortfalls = plan
            .shortfalls
            .iter()
            .map(|s| {
                Shortfall::from_engine(
                    s,
                    |unit| graph.units[unit as usize].village,
                    |v| village_names[v as usize].clone(),
                )
            })
            .collect::<Vec<_>>();
        Ok::<_, PlanError>((hexagons, plan, shortfalls))
    })
    .await
    .map_err(|e| {
        PlanError::Database(sqlx::Error::Protocol(format!("rebalancing stopped: {e}")))
    })??;
    let part_villages: Vec<i64> = partition
        .parts
        .iter()
        .map(|p| {
            p.village
                .map_or(current[0].village_id, |v| village_ids[v as usize])
        })
        .collect();
    let outlines = clip_to_ground(&mut tx, &hexagons, &part_villages, &ids).await?;

    // Parts matched to an old cell keep it (code, name, workers); the rest are new cells.
    let mut changes = Changes::default();
    let mut kept = BTreeSet::new();
    for ((part, outline), &village_id) in partition.parts.iter().zip(outlines).zip(&part_villages) {
        match part.previous_cell.map(|i| &current[i as usize]) {
            Some(old) if kept.insert(old.id) => {
                changes.update.insert(old.id, (outline, None));
            }
            _ => changes
                .insert
                .push((String::new(), String::new(), village_id, outline)),
        }
    }
    for old in &current {
        if !kept.contains(&old.id) {
            changes.delete.insert(old.id);
        }
    }
    // New codes: the village's code and the next free number.
    let mut taken: Vec<String> =
        sqlx::query_scalar("SELECT code FROM grid_cell WHERE plan_id = $1")
            .bind(plan.id)
            .fetch_all(&mut *tx)
            .await?;
    for (code, name, village_id, _) in &mut changes.insert {
        let village = scope
            .iter()
            .find(|c| c.2 == *village_id)
            .map_or_else(String::new, |c| c.1.clone());
        let mut n = 1;
        while taken.contains(&format!("{village}-R{n:02}")) {
            n += 1;
        }
        *code = format!("{village}-R{n:02}");
        *name = format!("新网格 R{n:02}");
        taken.push(code.clone());
    }
    changes.summary = format!(
        "自动均衡 {} 个网格为 {} 个（最大偏差 {:.1}%）",
        current.len(),
        partition.parts.len(),
        partition.max_deviation * 100.0
    );
    let edit = edits::write(
        &mut tx,
        caller,
        &plan,
        request.revision,
        "rebalance",
        changes,
        true,
        meta,
    )
    .await?;
    tx.commit().await?;
    Ok(RebalanceOutcome {
        edit,
        cells: partition.parts.len(),
        target_load: partition.target_load,
        max_deviation: partition.max_deviation,
        tolerance_met: partition.tolerance_met,
        mean_polsby_popper: partition.mean_polsby_popper,
        contiguous_share: partition.contiguous_share(),
        households: partition.households,
        households_moved: partition.households_moved,
        shortfalls,
    })
}
