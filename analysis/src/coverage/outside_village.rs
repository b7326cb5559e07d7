//! Rule 2: each cell lies inside its village. The part of a cell outside its village's
//! outline (geo's boolean difference, on the local plane) is an `OutsideVillage` issue when
//! larger than `outside_village_m2`; when that part is most of the cell and most of the cell
//! lies in one other village, the cell is in the wrong village (`WrongVillage`,
//! `lies_in_village=<key>`). A village key that names no village given is `WrongVillage`
//! with `unknown_village`; one whose outline is invalid is reported as such, and its cells
//! are not measured against it.

use geo::{
    Area, BooleanOps, CoordinatePosition, Geometry, InteriorPoint, Intersects, MultiPolygon,
    coordinate_position::CoordPos,
};

use super::issue::{Issue, IssueKind};
use super::prepared::{Prepared, PreparedCell};

pub(crate) fn check(p: &Prepared, outside_m2: f64) -> Vec<Issue> {
    let mut issues = Vec::new();
    for cell in p.cells.iter().filter(|c| c.focus) {
        let Some(&vi) = p.village_index.get(&cell.village) else {
            if !p.invalid_villages.contains(&cell.village) {
                issues.push(issue(
                    p,
                    cell,
                    IssueKind::WrongVillage,
                    None,
                    0.0,
                    "unknown_village".into(),
                ));
            }
            continue;
        };
        let village = &p.villages[vi];
        if !cell.bbox.intersects(&village.bbox) {
            let area = cell.m.unsigned_area();
            issues.push(wrong_or_outside(p, cell, cell.m.clone(), area));
            continue;
        }
        // Most cells touch no part of their village's outline: then they are wholly inside
        // or wholly outside, and one vertex tells which, without a boolean operation.
        if !p.village_outline_meets(vi, cell.bbox) {
            let vertex = cell.rings[0].m[0];
            if village.m.coordinate_position(&vertex) == CoordPos::Inside {
                continue;
            }
        }
        let outside = cell.m.difference(&village.m);
        let area = outside.unsigned_area();
        if area > outside_m2 {
            issues.push(wrong_or_outside(p, cell, outside, area));
        }
    }
    issues
}

fn wrong_or_outside(
    p: &Prepared,
    cell: &PreparedCell,
    outside: MultiPolygon<f64>,
    area: f64,
) -> Issue {
    let cell_area = cell.m.unsigned_area();
    if area > 0.5 * cell_area {
        let best = p
            .villages
            .iter()
            .filter(|v| v.key != cell.village && v.bbox.intersects(&cell.bbox))
            .map(|v| (cell.m.intersection(&v.m).unsigned_area(), v.key))
            .max_by(|x, y| x.0.total_cmp(&y.0).then(y.1.cmp(&x.1)));
        if let Some((inside, key)) = best
            && inside > 0.5 * cell_area
        {
            return issue(
                p,
                cell,
                IssueKind::WrongVillage,
                Some(outside),
                area,
                format!("lies_in_village={key}"),
            );
        }
    }
    issue(
        p,
        cell,
        IssueKind::OutsideVillage,
        Some(outside),
        area,
        String::new(),
    )
}

fn issue(
    p: &Prepared,
    cell: &PreparedCell,
    kind: IssueKind,
    outside: Option<MultiPolygon<f64>>,
    area: f64,
    detail: String,
) -> Issue {
    let place = outside
        .as_ref()
        .filter(|o| !o.0.is_empty())
        .unwrap_or(&cell.m);
    let largest = place
        .0
        .iter()
        .max_by(|x, y| x.unsigned_area().total_cmp(&y.unsigned_area()));
    let at = largest
        .and_then(|l| l.interior_point())
        .map(|pt| pt.0)
        .unwrap_or_else(|| cell.bbox.center());
    Issue {
        kind,
        cells: vec![cell.key],
        village: Some(cell.village),
        location: p.proj.point_lon_lat(at),
        geometry: outside.map(|o| p.proj.geometry_lon_lat(Geometry::MultiPolygon(o))),
        measure: area,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use crate::coverage::tests::{cell, rect_m, summary, village};
    use crate::coverage::{IssueKind, Tolerances, validate};

    fn outside(cells: &[crate::coverage::Cell]) -> Vec<crate::coverage::Issue> {
        let villages = [
            village(1, rect_m(0.0, 0.0, 200.0, 100.0)),
            village(2, rect_m(200.0, 0.0, 200.0, 100.0)),
        ];
        let issues = validate(cells, &villages, None, &Tolerances::default());
        issues
            .into_iter()
            .filter(|i| matches!(i.kind, IssueKind::OutsideVillage | IssueKind::WrongVillage))
            .collect()
    }

    #[test]
    fn coverage_cell_inside_its_village() {
        assert!(outside(&[cell(1, 1, rect_m(0.0, 0.0, 200.0, 100.0))]).is_empty());
        // 2 m × 4 m = 8 m² outside is within the 10 m² allowed.
        assert!(outside(&[cell(1, 1, rect_m(-2.0, 0.0, 50.0, 4.0))]).is_empty());
    }

    #[test]
    fn coverage_cell_outside_its_village() {
        // 5 m × 100 m over the west edge.
        let found = outside(&[cell(1, 1, rect_m(-5.0, 0.0, 105.0, 100.0))]);
        assert_eq!(summary(&found), vec![(IssueKind::OutsideVillage, vec![1])]);
        assert!(
            (found[0].measure - 500.0).abs() < 1.0,
            "{}",
            found[0].measure
        );
        assert!(found[0].location.x() < crate::coverage::tests::LON);
        assert_eq!(found[0].village, Some(1));
    }

    #[test]
    fn coverage_cell_in_the_wrong_village() {
        let found = outside(&[cell(1, 1, rect_m(250.0, 0.0, 100.0, 100.0))]);
        assert_eq!(summary(&found), vec![(IssueKind::WrongVillage, vec![1])]);
        assert_eq!(found[0].detail, "lies_in_village=2");
        let unknown = outside(&[cell(1, 9, rect_m(0.0, 0.0, 100.0, 100.0))]);
        assert_eq!(summary(&unknown), vec![(IssueKind::WrongVillage, vec![1])]);
        assert_eq!(unknown[0].detail, "unknown_village");
    }
}
