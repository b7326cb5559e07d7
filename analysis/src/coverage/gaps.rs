//! Rule 4: a village's cells leave no hole between them, and no part of the village bare.
//!
//! The village's cells are dissolved (geo's `unary_union`, on the plane). A hole in that
//! union, enclosed by cells but covered by none, larger than `gap_m2` is a `Gap`; village area
//! outside the union's shells (village minus the union with its holes filled), larger than
//! `gap_m2` per piece, is `Uncovered`, which a caller may treat as a warning (land no grid
//! worker looks after, often along the village's edge). Each names the cells within `edge_m`
//! of it. A gap thinner than `edge_m` along a shared edge is also rule 6's near miss; here it
//! counts only once it adds up to `gap_m2`.
//!
//! Not judged: a village with an invalid cell (the cell is missing from the union, and its
//! place would look like a gap), and, with a focus, villages without a focus cell.

use std::collections::BTreeSet;

use geo::{
    Area, BooleanOps, Distance, Euclidean, Geometry, InteriorPoint, LineString, MultiPolygon,
    Polygon, Rect, unary_union,
};

use super::issue::{Issue, IssueKind};
use super::prepared::Prepared;

pub(crate) fn check(p: &Prepared, gap_m2: f64, edge_m: f64) -> Vec<Issue> {
    let judged: BTreeSet<i64> = p
        .cells
        .iter()
        .filter(|c| c.focus)
        .map(|c| c.village)
        .collect();
    let all_focus = p.cells.iter().all(|c| c.focus);
    let mut issues = Vec::new();
    for village in &p.villages {
        if (!all_focus && !judged.contains(&village.key))
            || p.villages_with_invalid_cells.contains(&village.key)
        {
            continue;
        }
        let members: Vec<usize> = (0..p.cells.len())
            .filter(|&i| p.cells[i].village == village.key)
            .collect();
        if members.is_empty() && !all_focus {
            continue;
        }
        let union = unary_union(members.iter().map(|&i| &p.cells[i].m));
        for hole in union.0.iter().flat_map(|poly| poly.interiors()) {
            let gap = Polygon::new(hole.clone(), vec![]);
            let area = gap.unsigned_area();
            if area > gap_m2 {
                let near = bordering(p, &members, hole, edge_m);
                issues.push(issue(
                    p,
                    IssueKind::Gap,
                    village.key,
                    near,
                    gap.into(),
                    area,
                ));
            }
        }
        let filled = MultiPolygon::new(
            union
                .0
                .iter()
                .map(|poly| Polygon::new(poly.exterior().clone(), vec![]))
                .collect(),
        );
        for piece in village.m.difference(&filled) {
            let area = piece.unsigned_area();
            if area > gap_m2 {
                let everyone: Vec<usize> = (0..p.cells.len()).collect();
                let near = bordering(p, &everyone, piece.exterior(), edge_m);
                issues.push(issue(
                    p,
                    IssueKind::Uncovered,
                    village.key,
                    near,
                    piece.into(),
                    area,
                ));
            }
        }
    }
    issues
}

/// Keys of the `candidates` cells within `edge_m` of `ring`, ascending.
fn bordering(p: &Prepared, candidates: &[usize], ring: &LineString<f64>, edge_m: f64) -> Vec<i64> {
    let Some(bbox) = geo::BoundingRect::bounding_rect(ring) else {
        return vec![];
    };
    let near: BTreeSet<usize> = p
        .cells_near(Rect::new(bbox.min(), bbox.max()), edge_m)
        .into_iter()
        .collect();
    let mut keys: Vec<i64> = candidates
        .iter()
        .filter(|i| near.contains(i))
        .map(|&i| &p.cells[i])
        .filter(|c| {
            c.m.0
                .iter()
                .any(|poly| Euclidean.distance(ring, poly) <= edge_m)
        })
        .map(|c| c.key)
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

fn issue(
    p: &Prepared,
    kind: IssueKind,
    village: i64,
    cells: Vec<i64>,
    place: MultiPolygon<f64>,
    area: f64,
) -> Issue {
    let at = place
        .interior_point()
        .map(|pt| pt.0)
        .or_else(|| geo::BoundingRect::bounding_rect(&place).map(|r| r.center()))
        .unwrap_or_default();
    Issue {
        kind,
        cells,
        village: Some(village),
        location: p.proj.point_lon_lat(at),
        geometry: Some(p.proj.geometry_lon_lat(Geometry::MultiPolygon(place))),
        measure: area,
        detail: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use crate::coverage::tests::{lattice, of_kind, rect_m, summary, tiling, village};
    use crate::coverage::{IssueKind, Tolerances, validate};

    fn gaps(
        cells: &[crate::coverage::Cell],
        outline: geo::MultiPolygon<f64>,
    ) -> Vec<crate::coverage::Issue> {
        let issues = validate(cells, &[village(1, outline)], None, &Tolerances::default());
        issues
            .into_iter()
            .filter(|i| matches!(i.kind, IssueKind::Gap | IssueKind::Uncovered))
            .collect()
    }

    #[test]
    fn coverage_hole_between_cells_is_a_gap() {
        // A 3 × 3 tiling of 100 m squares with the middle cell missing: a 10,000 m² gap.
        let mut cells = tiling(&lattice(3, 3, 100.0, |_, _| (0.0, 0.0)));
        cells.remove(4);
        let found = gaps(&cells, rect_m(0.0, 0.0, 300.0, 300.0));
        // The corner neighbours touch it only at a point, but they are within reach too.
        assert_eq!(
            summary(&found),
            vec![(IssueKind::Gap, vec![1, 2, 3, 4, 6, 7, 8, 9])]
        );
        assert!((found[0].measure - 10_000.0).abs() < 10.0);
        let all = tiling(&lattice(3, 3, 100.0, |_, _| (0.0, 0.0)));
        assert!(gaps(&all, rect_m(0.0, 0.0, 300.0, 300.0)).is_empty());
    }

    #[test]
    fn coverage_small_gap_is_tolerated() {
        // Cell 5 shrunk by 0.2 m on its east side: a 20 m² gap, under 50 m².
        let mut cells = tiling(&lattice(3, 3, 100.0, |_, _| (0.0, 0.0)));
        cells[4].geom = rect_m(100.0, 100.0, 99.8, 100.0);
        assert!(gaps(&cells, rect_m(0.0, 0.0, 300.0, 300.0)).is_empty());
        // Shrunk by 2 m: 200 m², between cells 5 and 6, closed by 2 and 8 along 2 m each.
        cells[4].geom = rect_m(100.0, 100.0, 98.0, 100.0);
        let found = gaps(&cells, rect_m(0.0, 0.0, 300.0, 300.0));
        assert_eq!(
            summary(&found),
            vec![(IssueKind::Gap, vec![2, 3, 5, 6, 8, 9])]
        );
        assert!((found[0].measure - 200.0).abs() < 1.0);
    }

    #[test]
    fn coverage_village_edge_left_bare_is_uncovered() {
        let cells = tiling(&lattice(3, 3, 100.0, |_, _| (0.0, 0.0)));
        // The village reaches 20 m further east than the cells: 6,000 m² bare.
        let found = gaps(&cells, rect_m(0.0, 0.0, 320.0, 300.0));
        assert_eq!(summary(&found), vec![(IssueKind::Uncovered, vec![3, 6, 9])]);
        assert!((found[0].measure - 6_000.0).abs() < 10.0);
        // A village with no cell at all is bare everywhere.
        let issues = validate(
            &cells,
            &[
                village(1, rect_m(0.0, 0.0, 300.0, 300.0)),
                village(2, rect_m(0.0, 400.0, 100.0, 100.0)),
            ],
            None,
            &Tolerances::default(),
        );
        let bare = of_kind(&issues, IssueKind::Uncovered);
        assert_eq!(bare.len(), 1);
        assert_eq!((bare[0].village, bare[0].cells.len()), (Some(2), 0));
    }
}
