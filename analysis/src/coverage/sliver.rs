//! Rule 5: no sliver. Each polygon part of a cell is measured on the plane: Polsby–Popper
//! compactness 4πA/P² below `sliver_polsby_popper`, or a width below `sliver_min_width_m`,
//! makes it a sliver. The width is that of the rectangle with the part's area and perimeter
//! ([`super::measure::equivalent_width_m`]): exact for rectangles, close for any strip, but an
//! estimate for a compact cell with one thin arm (the arm barely moves A and P). `measure`
//! is that width in m; `detail` gives `part`, `polsby_popper` and `width_m`.

use geo::{Geometry, InteriorPoint, MultiPolygon};

use super::issue::{Issue, IssueKind};
use super::measure::{compactness, planar_area, planar_perimeter, rectangle_width};
use super::prepared::Prepared;

pub(crate) fn check(p: &Prepared, min_width_m: f64, min_polsby_popper: f64) -> Vec<Issue> {
    let mut issues = Vec::new();
    for cell in p.cells.iter().filter(|c| c.focus) {
        for (i, part) in cell.m.0.iter().enumerate() {
            let part = MultiPolygon::new(vec![part.clone()]);
            let (a, per) = (planar_area(&part), planar_perimeter(&part));
            let (pp, width) = (compactness(a, per), rectangle_width(a, per));
            if pp >= min_polsby_popper && width >= min_width_m {
                continue;
            }
            let at = part
                .interior_point()
                .map(|pt| pt.0)
                .unwrap_or_else(|| cell.bbox.center());
            issues.push(Issue {
                kind: IssueKind::Sliver,
                cells: vec![cell.key],
                village: Some(cell.village),
                location: p.proj.point_lon_lat(at),
                geometry: Some(p.proj.geometry_lon_lat(Geometry::MultiPolygon(part))),
                measure: width,
                detail: format!("part={i};polsby_popper={pp:.3};width_m={width:.2}"),
            });
        }
    }
    issues
}

#[cfg(test)]
mod tests {
    use crate::coverage::tests::{cell, poly_m, rect_m, summary, village};
    use crate::coverage::{IssueKind, Tolerances, validate};

    fn slivers(cells: &[crate::coverage::Cell]) -> Vec<crate::coverage::Issue> {
        let villages = [village(1, rect_m(-10.0, -10.0, 2000.0, 2000.0))];
        let issues = validate(cells, &villages, None, &Tolerances::default());
        issues
            .into_iter()
            .filter(|i| i.kind == IssueKind::Sliver)
            .collect()
    }

    #[test]
    fn coverage_compact_cells_are_not_slivers() {
        assert!(slivers(&[cell(1, 1, rect_m(0.0, 0.0, 100.0, 100.0))]).is_empty());
        // 1:10 is elongated but not a sliver (Polsby–Popper 0.26).
        assert!(slivers(&[cell(1, 1, rect_m(0.0, 0.0, 50.0, 500.0))]).is_empty());
    }

    #[test]
    fn coverage_narrow_cell_is_a_sliver() {
        // 4 m × 100 m: compact enough by Polsby–Popper (0.116) but narrower than 5 m.
        let found = slivers(&[cell(1, 1, rect_m(0.0, 0.0, 4.0, 100.0))]);
        assert_eq!(summary(&found), vec![(IssueKind::Sliver, vec![1])]);
        assert!(
            (found[0].measure - 4.0).abs() < 0.05,
            "{}",
            found[0].measure
        );
        assert!(
            found[0]
                .detail
                .starts_with("part=0;polsby_popper=0.116;width_m=4.00"),
            "{}",
            found[0].detail
        );
        // 10 m × 1,000 m is wide enough but 1:100 (Polsby–Popper 0.031).
        let found = slivers(&[cell(1, 1, rect_m(0.0, 0.0, 10.0, 1000.0))]);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].detail.contains("polsby_popper=0.031"),
            "{}",
            found[0].detail
        );
        // A thin triangle.
        let found = slivers(&[cell(1, 1, poly_m(&[(0.0, 0.0), (300.0, 0.0), (0.0, 3.0)]))]);
        assert_eq!(found.len(), 1);
    }
}
