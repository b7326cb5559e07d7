//! The coverage rules (`wangge_analysis::coverage`) on a plan's cells: what an edit is
//! checked against, and a plan's whole list of issues.
//!
//! Errors refuse an edit: invalid geometry, a cell outside its village, overlaps, gaps
//! inside a village's covered area, slivers, shared edges that do not match, a cell in
//! pieces. A village's area that no cell covers is a warning: mountains and lakes are often
//! left out of every grid cell on purpose.

use std::collections::{BTreeMap, BTreeSet};

use geo::MultiPolygon;
use serde::Serialize;
use sqlx::PgConnection;
use wangge_analysis::coverage::{self, IssueKind, Named, Tolerances};

use super::cells::Cell;
use crate::db::geometry::multi_polygon_from_geojson;

/// One issue as the API answers it.
#[derive(Debug, Clone, Serialize)]
pub struct Issue {
    /// The rule's stable code (`overlap`, `gap`, `unmatched_edge`, …).
    pub kind: &'static str,
    /// `error` refuses an edit, `warning` does not.
    pub severity: &'static str,
    /// The cells' codes.
    pub cells: Vec<String>,
    pub village: Option<String>,
    /// Where to look: longitude, latitude.
    pub location: [f64; 2],
    /// Exactly where: the overlap, the gap, the edges that do not match (GeoJSON).
    pub geometry: Option<serde_json::Value>,
    /// Metres or square metres, by kind.
    pub measure: f64,
    pub message: String,
    pub message_en: String,
}

/// Whether an issue of this kind refuses an edit.
fn is_error(kind: IssueKind) -> bool {
    !matches!(kind, IssueKind::Uncovered)
}

/// The villages' outlines, exactly.
pub async fn villages(
    conn: &mut PgConnection,
    ids: &[i64],
) -> Result<Vec<coverage::Village>, sqlx::Error> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, ST_AsGeoJSON(geom, 15) FROM admin_unit WHERE id = ANY ($1) ORDER BY id",
    )
    .bind(ids)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(key, text)| {
            let geom: MultiPolygon<f64> = multi_polygon_from_geojson(&text)
                .map_err(|e| sqlx::Error::Decode(format!("village {key}: {e}").into()))?;
            Ok(coverage::Village { key, geom })
        })
        .collect()
}

/// The rules over `cells` (and their villages), answered with codes and words. For an
/// edit's region: a few villages' cells, checked in milliseconds on the calling thread.
pub async fn check(conn: &mut PgConnection, cells: &[Cell]) -> Result<Vec<Issue>, sqlx::Error> {
    let villages = villages(conn, &village_ids(cells)).await?;
    Ok(run(cells, &villages))
}

/// [`check`] for a whole area's cells, on a blocking thread (a city's plan takes seconds).
pub async fn check_all(
    conn: &mut PgConnection,
    cells: Vec<Cell>,
) -> Result<Vec<Issue>, sqlx::Error> {
    let villages = villages(conn, &village_ids(&cells)).await?;
    tokio::task::spawn_blocking(move || run(&cells, &villages))
        .await
        .map_err(|e| sqlx::Error::Protocol(format!("validation stopped: {e}")))
}

fn village_ids(cells: &[Cell]) -> Vec<i64> {
    let mut ids: Vec<i64> = cells.iter().map(|c| c.village_id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn run(cells: &[Cell], villages: &[coverage::Village]) -> Vec<Issue> {
    let village_codes: BTreeMap<i64, String> = cells
        .iter()
        .map(|c| (c.village_id, c.village_code.clone()))
        .collect();
    let codes: BTreeMap<i64, String> = cells.iter().map(|c| (c.id, c.code.clone())).collect();
    let input: Vec<coverage::Cell> = cells
        .iter()
        .map(|c| coverage::Cell {
            key: c.id,
            village: c.village_id,
            geom: c.geom.clone(),
        })
        .collect();
    let found = coverage::validate(&input, villages, None, &Tolerances::default());
    let code = |key: i64| codes.get(&key).cloned().unwrap_or_else(|| key.to_string());
    let name = |n: Named| match n {
        Named::Cell(key) => code(key),
        Named::Village(key) => village_codes
            .get(&key)
            .cloned()
            .unwrap_or_else(|| key.to_string()),
    };
    found
        .into_iter()
        .map(|issue| Issue {
            kind: issue.kind.code(),
            severity: if is_error(issue.kind) {
                "error"
            } else {
                "warning"
            },
            cells: issue.cells.iter().map(|k| code(*k)).collect(),
            village: issue.village.and_then(|v| village_codes.get(&v).cloned()),
            location: [issue.location.x(), issue.location.y()],
            geometry: issue
                .geometry
                .as_ref()
                .map(|g| serde_json::to_value(geojson::Geometry::from(g)).unwrap_or_default()),
            measure: issue.measure,
            message: issue.message_zh(name),
            message_en: issue.message_en(name),
        })
        .collect()
}

/// What an edit did to the rules: the issues after it that were not there before.
#[derive(Debug)]
pub struct Verdict {
    pub new_errors: Vec<Issue>,
    pub new_warnings: Vec<Issue>,
}

/// An issue's identity for telling new from old: its rule, its cells, its village and, for
/// issues of no cell, roughly where.
type Identity = (String, Vec<String>, Option<String>, Option<(i64, i64)>);

fn identity(issue: &Issue) -> Identity {
    let place = issue.cells.is_empty().then(|| {
        (
            (issue.location[0] * 1e4).round() as i64,
            (issue.location[1] * 1e4).round() as i64,
        )
    });
    let mut cells = issue.cells.clone();
    cells.sort();
    (issue.kind.to_owned(), cells, issue.village.clone(), place)
}

/// The issues of `after` (the region once edited) that `before` did not have, among those
/// that concern the edit: a cell it wrote or removed, or a village it touched.
pub async fn compare(
    conn: &mut PgConnection,
    before: &[Cell],
    after: &[Cell],
    edited: &[i64],
) -> Result<Verdict, sqlx::Error> {
    // One read of the villages for both sides: the region's villages do not change.
    let cells: Vec<Cell> = before.iter().chain(after).cloned().collect();
    let villages = villages(conn, &village_ids(&cells)).await?;
    let old: BTreeSet<_> = run(before, &villages).iter().map(identity).collect();
    let edited_codes: BTreeSet<&str> = before
        .iter()
        .chain(after)
        .filter(|c| edited.contains(&c.id))
        .map(|c| c.code.as_str())
        .collect();
    let edited_villages: BTreeSet<&str> = before
        .iter()
        .chain(after)
        .filter(|c| edited.contains(&c.id))
        .map(|c| c.village_code.as_str())
        .collect();
    let mut verdict = Verdict {
        new_errors: Vec::new(),
        new_warnings: Vec::new(),
    };
    for issue in run(after, &villages) {
        // A gap left by a removed cell names the cells around it, not the removed one: an
        // issue of an edited village counts too (only new ones are kept anyway).
        let concerns = issue
            .cells
            .iter()
            .any(|c| edited_codes.contains(c.as_str()))
            || issue
                .village
                .as_deref()
                .is_some_and(|v| edited_villages.contains(v));
        if !concerns || old.contains(&identity(&issue)) {
            continue;
        }
        if issue.severity == "error" {
            verdict.new_errors.push(issue);
        } else {
            verdict.new_warnings.push(issue);
        }
    }
    Ok(verdict)
}
