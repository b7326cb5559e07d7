//! Rule 7: a cell is one contiguous polygon. A multipolygon of several parts (valid, so they
//! meet at most at points) is `Disconnected`: `measure` is the area of every part but the
//! largest, m², `geometry` those parts, `detail` `parts=<n>`. One worker cannot walk between
//! parts that touch only at a corner either, so they count as separate.

use geo::{Area, Geometry, InteriorPoint, MultiPolygon};

use super::issue::{Issue, IssueKind};
use super::prepared::Prepared;

pub(crate) fn check(p: &Prepared) -> Vec<Issue> {
    let mut issues = Vec::new();
    for cell in p.cells.iter().filter(|c| c.focus && c.m.0.len() > 1) {
        let mut parts: Vec<_> = cell
            .m
            .0
            .iter()
            .map(|poly| (poly.unsigned_area(), poly))
            .collect();
        // Largest first; ties keep the given order so the answer is repeatable.
        parts.sort_by(|a, b| b.0.total_cmp(&a.0));
        let minor = MultiPolygon::new(parts[1..].iter().map(|(_, poly)| (*poly).clone()).collect());
        let at = parts[1]
            .1
            .interior_point()
            .map(|pt| pt.0)
            .unwrap_or_else(|| cell.bbox.center());
        issues.push(Issue {
            kind: IssueKind::Disconnected,
            cells: vec![cell.key],
            village: Some(cell.village),
            location: p.proj.point_lon_lat(at),
            geometry: Some(p.proj.geometry_lon_lat(Geometry::MultiPolygon(minor))),
            measure: parts[1..].iter().map(|(a, _)| a).sum(),
            detail: format!("parts={}", parts.len()),
        });
    }
    issues
}

#[cfg(test)]
mod tests {
    use geo::MultiPolygon;

    use crate::coverage::tests::{cell, rect_m, summary, village};
    use crate::coverage::{IssueKind, Tolerances, validate};

    fn disconnected(geom: MultiPolygon<f64>) -> Vec<crate::coverage::Issue> {
        let villages = [village(1, rect_m(-10.0, -10.0, 500.0, 500.0))];
        let issues = validate(&[cell(1, 1, geom)], &villages, None, &Tolerances::default());
        issues
            .into_iter()
            .filter(|i| i.kind == IssueKind::Disconnected)
            .collect()
    }

    #[test]
    fn coverage_one_part_is_connected() {
        assert!(disconnected(rect_m(0.0, 0.0, 100.0, 100.0)).is_empty());
    }

    #[test]
    fn coverage_two_parts_are_disconnected() {
        let mut parts = rect_m(0.0, 0.0, 100.0, 100.0);
        parts.0.extend(rect_m(200.0, 0.0, 20.0, 10.0).0);
        let found = disconnected(parts);
        assert_eq!(summary(&found), vec![(IssueKind::Disconnected, vec![1])]);
        assert!((found[0].measure - 200.0).abs() < 0.5);
        assert_eq!(found[0].detail, "parts=2");
        assert!(found[0].location.x() > crate::coverage::tests::ll(200.0, 0.0).x);
        // Meeting at a corner is still two parts.
        let mut corner = rect_m(0.0, 0.0, 100.0, 100.0);
        corner.0.extend(rect_m(100.0, 100.0, 50.0, 50.0).0);
        assert_eq!(disconnected(corner).len(), 1);
    }
}
