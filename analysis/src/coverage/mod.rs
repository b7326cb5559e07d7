//! Validating a grid plan's coverage: the cells of each village should tile it, with no
//! overlap, gap, sliver or mismatched shared edge, every cell a valid polygon inside its
//! village. PostGIS 3.3 (GEOS < 3.12) has no `ST_CoverageInvalidEdges`, so the rules are
//! here, modelled on JTS/GEOS's `CoverageValidator` for the shared edges.
//!
//! [`validate`] answers every problem as an [`Issue`] (what, which cells, where, how big),
//! sorted by kind then keys, and never repairs anything. The rules, one file each:
//! 1. `validity`: OGC-valid geometry with finite, in-range coordinates;
//! 2. `outside_village`: each cell inside its village;
//! 3. `overlap`: no two cells overlap;
//! 4. `gaps`: no hole between a village's cells, and no village area left uncovered;
//! 5. `sliver`: no thin or uncompact cell;
//! 6. `shared_edges`: where cells meet, they share vertices and segments exactly;
//! 7. `disconnected`: a cell is one polygon.
//!
//! # Rules
//! A cell whose geometry is invalid (rule 1) takes part in no other rule: its other problems
//! would be noise until it is fixed. Gaps and uncovered area are not judged in a village
//! with an invalid cell, for the same reason.
//!
//! Measures are taken on an equirectangular plane around the mean latitude of the cells given
//! (see `project`): lengths in metres and areas in square metres within a few tenths of a
//! percent at city scale. Vertices are compared exactly, bit for bit.
//!
//! Performance: cell boxes go into an R-tree; in a clean coverage almost every segment is
//! matched by sorting, so only the coverage's outer edge is searched further, and boolean
//! operations run only on the pairs and cells that need them.

mod disconnected;
mod gaps;
mod issue;
pub mod measure;
mod outside_village;
mod overlap;
mod prepared;
mod project;
mod shared_edges;
mod sliver;
mod validity;

use std::collections::HashSet;

use geo::{BoundingRect, Coord, Geometry, MultiPoint, MultiPolygon, Point, Rect};

pub use issue::{Issue, IssueKind, Named, key_name};
pub use measure::{area_m2, equivalent_width_m, perimeter_m, polsby_popper};
pub use overlap::overlap_min_m2;

use prepared::Prepared;
use project::LocalProjection;

/// A grid cell of the plan being validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// The caller's key for the cell, used in issues and messages.
    pub key: i64,
    /// The key of the village the cell belongs to.
    pub village: i64,
    /// WGS-84 longitude/latitude.
    pub geom: MultiPolygon<f64>,
}

/// A village (administrative unit) the cells should tile.
#[derive(Debug, Clone, PartialEq)]
pub struct Village {
    pub key: i64,
    /// WGS-84 longitude/latitude.
    pub geom: MultiPolygon<f64>,
}

/// How much is too much. Problems at or below these sizes are not reported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerances {
    /// Boundaries closer than this, m, must coincide exactly (rule 6); an overlap must exceed
    /// `edge_m` × 1 m, m² ([`overlap_min_m2`]). Default 0.5.
    pub edge_m: f64,
    /// Smallest gap or uncovered area reported, m². Default 50.
    pub gap_m2: f64,
    /// A cell (part) narrower than this, m, is a sliver ([`equivalent_width_m`]). Default 5.
    pub sliver_min_width_m: f64,
    /// A cell (part) less compact than this (Polsby–Popper 4πA/P², unitless) is a sliver.
    /// Default 0.05 (about a 1:60 rectangle).
    pub sliver_polsby_popper: f64,
    /// Smallest area of a cell outside its village reported, m². Default 10.
    pub outside_village_m2: f64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Self {
            edge_m: 0.5,
            gap_m2: 50.0,
            sliver_min_width_m: 5.0,
            sliver_polsby_popper: 0.05,
            outside_village_m2: 10.0,
        }
    }
}

/// Every problem of the plan, sorted by kind, then cells, village and detail.
///
/// With `focus`, only issues involving one of those cells are answered (an issue without
/// cells, such as an invalid village outline, when it is a focus cell's village), and only
/// the work they need is done: the focus cells, the cells near them, and the cells of (or
/// near) their villages, whose gaps and bare land are judged. The caller passes at least the
/// changed cells, every cell that touches them and every cell of their villages: a cell
/// missing there would look like uncovered land.
pub fn validate(
    cells: &[Cell],
    villages: &[Village],
    focus: Option<&[i64]>,
    tol: &Tolerances,
) -> Vec<Issue> {
    let proj = LocalProjection::around_mean(cells.iter().map(|c| &c.geom));
    let focus: Option<HashSet<i64>> = focus.map(|f| f.iter().copied().collect());
    let in_focus = |key: i64| focus.as_ref().is_none_or(|f| f.contains(&key));
    let boxes: Vec<Option<Rect<f64>>> = cells.iter().map(|c| box_m(&proj, &c.geom)).collect();
    let focus_boxes: Vec<Rect<f64>> = cells
        .iter()
        .zip(&boxes)
        .filter(|(c, _)| in_focus(c.key))
        .filter_map(|(_, b)| *b)
        .collect();
    let focus_villages: HashSet<i64> = cells
        .iter()
        .filter(|c| in_focus(c.key))
        .map(|c| c.village)
        .collect();
    let reach = tol.edge_m.max(0.0);
    // Gaps and bare land are judged over a focus cell's whole village, and name the cells
    // beside them, of any village: every cell near such a village takes part.
    let focus_village_boxes: Vec<Rect<f64>> = villages
        .iter()
        .filter(|v| focus.is_some() && focus_villages.contains(&v.key))
        .filter_map(|v| box_m(&proj, &v.geom))
        .collect();
    let relevant = |i: usize| {
        focus.is_none()
            || in_focus(cells[i].key)
            || focus_villages.contains(&cells[i].village)
            || boxes[i].is_some_and(|b| {
                focus_boxes
                    .iter()
                    .chain(&focus_village_boxes)
                    .any(|f| near(b, *f, reach))
            })
    };

    let mut issues = Vec::new();
    let mut usable = Vec::new();
    let mut villages_with_invalid_cells = HashSet::new();
    for (i, cell) in cells.iter().enumerate() {
        if !relevant(i) {
            continue;
        }
        let found = validity::problems(&cell.geom);
        if found.is_empty() {
            usable.push((cell, in_focus(cell.key)));
        } else {
            villages_with_invalid_cells.insert(cell.village);
            let fallback = villages
                .iter()
                .find(|v| v.key == cell.village)
                .and_then(|v| v.geom.bounding_rect())
                .map(|r| r.center());
            issues.extend(invalid_issues(
                vec![cell.key],
                cell.village,
                found,
                fallback,
            ));
        }
    }
    let mut valid_villages = Vec::new();
    let mut invalid_villages = HashSet::new();
    for v in villages {
        let needed = focus.is_none()
            || focus_villages.contains(&v.key)
            || box_m(&proj, &v.geom)
                .is_some_and(|b| focus_boxes.iter().any(|f| near(b, *f, reach)));
        if !needed {
            continue;
        }
        let found = validity::problems(&v.geom);
        if found.is_empty() {
            valid_villages.push(v);
        } else {
            invalid_villages.insert(v.key);
            issues.extend(invalid_issues(vec![], v.key, found, None));
        }
    }

    let prepared = Prepared::new(
        proj,
        usable,
        valid_villages,
        villages_with_invalid_cells,
        invalid_villages,
    );
    let edges = shared_edges::check(&prepared, tol.edge_m);
    issues.extend(overlap::check(
        &prepared,
        edges.overlap_suspects,
        tol.edge_m,
    ));
    issues.extend(edges.issues);
    issues.extend(outside_village::check(&prepared, tol.outside_village_m2));
    issues.extend(gaps::check(&prepared, tol.gap_m2, tol.edge_m));
    issues.extend(sliver::check(
        &prepared,
        tol.sliver_min_width_m,
        tol.sliver_polsby_popper,
    ));
    issues.extend(disconnected::check(&prepared));

    issues.retain(|i| {
        i.cells.iter().any(|&k| in_focus(k))
            || (i.cells.is_empty()
                && i.village
                    .is_some_and(|v| focus.is_none() || focus_villages.contains(&v)))
    });
    issues.sort_by(issue::issue_order);
    issues
}

/// The geometry's bounding box on the plane, if it has one with finite corners.
fn box_m(proj: &LocalProjection, g: &MultiPolygon<f64>) -> Option<Rect<f64>> {
    let r = g.bounding_rect()?;
    let ok = |c: Coord<f64>| c.x.is_finite() && c.y.is_finite();
    (ok(r.min()) && ok(r.max())).then(|| Rect::new(proj.to_m(r.min()), proj.to_m(r.max())))
}

fn near(a: Rect<f64>, b: Rect<f64>, reach: f64) -> bool {
    a.min().x <= b.max().x + reach
        && b.min().x <= a.max().x + reach
        && a.min().y <= b.max().y + reach
        && b.min().y <= a.max().y + reach
}

/// One issue per reason, at its first place, with every place as a `MultiPoint`.
fn invalid_issues(
    cells: Vec<i64>,
    village: i64,
    found: Vec<validity::Problem>,
    fallback: Option<Coord<f64>>,
) -> Vec<Issue> {
    let mut reasons: Vec<&'static str> = found.iter().map(|p| p.reason).collect();
    reasons.sort_unstable();
    reasons.dedup();
    reasons
        .into_iter()
        .map(|reason| {
            let places: Vec<Point<f64>> = found
                .iter()
                .filter(|p| p.reason == reason)
                .filter_map(|p| p.at.map(Point::from))
                .collect();
            let count = found.iter().filter(|p| p.reason == reason).count();
            let location = places
                .first()
                .copied()
                .or(fallback.map(Point::from))
                .unwrap_or_else(|| Point::new(0.0, 0.0));
            Issue {
                kind: IssueKind::InvalidGeometry,
                cells: cells.clone(),
                village: Some(village),
                location,
                geometry: (!places.is_empty())
                    .then(|| Geometry::MultiPoint(MultiPoint::new(places))),
                measure: count as f64,
                detail: reason.to_string(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
