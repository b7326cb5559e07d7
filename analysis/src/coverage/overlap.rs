//! Rule 3: no two cells' interiors overlap by more than `edge_m` × 1 m (0.5 m² by default: a
//! sliver of overlap thinner than the edge tolerance along a metre is noise from rounding; a
//! vertex moved 0.4 m into a 100 m neighbour already makes 20 m²).
//!
//! Only pairs rule 6 suspects are intersected (their boundaries cross, lie inside one
//! another, are misaligned or unnoded, or match with the interiors on the same side): two
//! interiors overlapping by any area must show one of these, and in a clean coverage there is
//! none, so the boolean intersection (geo's, on i_overlay) runs only where something is
//! wrong. Areas are on the local plane, m².

use geo::{Area, BooleanOps, Geometry, InteriorPoint};

use super::issue::{Issue, IssueKind};
use super::prepared::Prepared;

/// The smallest overlap reported, m², for an edge tolerance of `edge_m` metres.
pub fn overlap_min_m2(edge_m: f64) -> f64 {
    edge_m * 1.0
}

pub(crate) fn check(
    p: &Prepared,
    suspects: impl IntoIterator<Item = (usize, usize)>,
    edge_m: f64,
) -> Vec<Issue> {
    let mut issues = Vec::new();
    for (a, b) in suspects {
        let (ca, cb) = (&p.cells[a], &p.cells[b]);
        let overlap = ca.m.intersection(&cb.m);
        let area = overlap.unsigned_area();
        if area <= overlap_min_m2(edge_m) {
            continue;
        }
        let largest = overlap
            .0
            .iter()
            .max_by(|x, y| x.unsigned_area().total_cmp(&y.unsigned_area()));
        let Some(at) = largest.and_then(|l| l.interior_point()) else {
            continue;
        };
        let mut cells = vec![ca.key, cb.key];
        cells.sort_unstable();
        issues.push(Issue {
            kind: IssueKind::Overlap,
            cells,
            village: (ca.village == cb.village).then_some(ca.village),
            location: p.proj.point_lon_lat(at.0),
            geometry: Some(p.proj.geometry_lon_lat(Geometry::MultiPolygon(overlap))),
            measure: area,
            detail: String::new(),
        });
    }
    issues
}

#[cfg(test)]
mod tests {
    use crate::coverage::tests::{cell, of_kind, rect_m, summary, village};
    use crate::coverage::{IssueKind, Tolerances, validate};

    fn overlaps(cells: &[crate::coverage::Cell]) -> Vec<crate::coverage::Issue> {
        let villages = [village(1, rect_m(-50.0, -50.0, 400.0, 300.0))];
        let issues = validate(cells, &villages, None, &Tolerances::default());
        of_kind(&issues, IssueKind::Overlap)
            .into_iter()
            .cloned()
            .collect()
    }

    #[test]
    fn coverage_overlap_is_measured() {
        // Cell 2 reaches 3 m into cell 1 along 100 m: 300 m².
        let cells = [
            cell(1, 1, rect_m(0.0, 0.0, 100.0, 100.0)),
            cell(2, 1, rect_m(97.0, 0.0, 100.0, 100.0)),
        ];
        let found = overlaps(&cells);
        assert_eq!(summary(&found), vec![(IssueKind::Overlap, vec![1, 2])]);
        assert!(
            (found[0].measure - 300.0).abs() < 1.0,
            "{}",
            found[0].measure
        );
        assert!(matches!(
            found[0].geometry,
            Some(geo::Geometry::MultiPolygon(_))
        ));
        let (x, y) = (found[0].location.x(), found[0].location.y());
        let (lo, hi) = (
            crate::coverage::tests::ll(97.0, 0.0),
            crate::coverage::tests::ll(100.0, 100.0),
        );
        assert!(x > lo.x && x < hi.x && y > lo.y && y < hi.y, "{x} {y}");
    }

    #[test]
    fn coverage_touching_cells_do_not_overlap() {
        let cells = [
            cell(1, 1, rect_m(0.0, 0.0, 100.0, 100.0)),
            cell(2, 1, rect_m(100.0, 0.0, 100.0, 100.0)),
        ];
        assert!(overlaps(&cells).is_empty());
    }

    #[test]
    fn coverage_duplicate_and_contained_cells_overlap() {
        let dup = [
            cell(1, 1, rect_m(0.0, 0.0, 100.0, 100.0)),
            cell(2, 1, rect_m(0.0, 0.0, 100.0, 100.0)),
        ];
        let found = overlaps(&dup);
        assert_eq!(found.len(), 1);
        assert!((found[0].measure - 10_000.0).abs() < 10.0);
        let inside = [
            cell(1, 1, rect_m(0.0, 0.0, 100.0, 100.0)),
            cell(2, 1, rect_m(10.0, 10.0, 20.0, 20.0)),
        ];
        let found = overlaps(&inside);
        assert_eq!(found.len(), 1);
        assert!((found[0].measure - 400.0).abs() < 1.0);
    }

    #[test]
    fn coverage_overlap_below_threshold_is_only_an_edge_issue() {
        // 0.004 m × 100 m = 0.4 m², under edge_m × 1 m = 0.5 m².
        let cells = [
            cell(1, 1, rect_m(0.0, 0.0, 100.0, 100.0)),
            cell(2, 1, rect_m(99.996, 0.0, 100.0, 100.0)),
        ];
        assert!(overlaps(&cells).is_empty());
        let villages = [village(1, rect_m(-50.0, -50.0, 400.0, 300.0))];
        let issues = validate(&cells, &villages, None, &Tolerances::default());
        assert_eq!(of_kind(&issues, IssueKind::UnmatchedEdge).len(), 1);
    }
}
