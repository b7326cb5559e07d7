//! Fixtures for the rules' tests (lon/lat polygons laid out in metres near the city, at
//! 102.5° E, 24.35° N), and tests of whole plans.

use geo::{Coord, LineString, MultiPolygon, Polygon};

use super::{Cell, Issue, IssueKind, Tolerances, Village, validate};

pub(crate) const LON: f64 = 102.5;
pub(crate) const LAT: f64 = 24.35;

/// Degrees for a point `x` m east and `y` m north of (LON, LAT).
pub(crate) fn ll(x: f64, y: f64) -> Coord<f64> {
    let ky = 1.0 / 111_195.08;
    Coord {
        x: LON + x * ky / LAT.to_radians().cos(),
        y: LAT + y * ky,
    }
}

/// A polygon through points given in metres (closed for you).
pub(crate) fn poly_m(points: &[(f64, f64)]) -> MultiPolygon<f64> {
    ring_poly(points.iter().map(|&(x, y)| ll(x, y)).collect())
}

pub(crate) fn ring_poly(mut coords: Vec<Coord<f64>>) -> MultiPolygon<f64> {
    coords.push(coords[0]);
    MultiPolygon::new(vec![Polygon::new(LineString::new(coords), vec![])])
}

/// A w × h m rectangle with its south-west corner at (x, y) m.
pub(crate) fn rect_m(x: f64, y: f64, w: f64, h: f64) -> MultiPolygon<f64> {
    poly_m(&[(x, y), (x + w, y), (x + w, y + h), (x, y + h)])
}

pub(crate) fn cell(key: i64, village: i64, geom: MultiPolygon<f64>) -> Cell {
    Cell { key, village, geom }
}

pub(crate) fn village(key: i64, geom: MultiPolygon<f64>) -> Village {
    Village { key, geom }
}

/// The lattice of an `nx` × `ny` tiling of `size` m squares: vertex (i, j) at (i·size, j·size)
/// m, moved by `jitter(i, j)` m (interior vertices only, so the outline stays a rectangle).
pub(crate) fn lattice(
    nx: usize,
    ny: usize,
    size: f64,
    jitter: impl Fn(usize, usize) -> (f64, f64),
) -> Vec<Vec<Coord<f64>>> {
    (0..=nx)
        .map(|i| {
            (0..=ny)
                .map(|j| {
                    let (dx, dy) = if i == 0 || j == 0 || i == nx || j == ny {
                        (0.0, 0.0)
                    } else {
                        jitter(i, j)
                    };
                    ll(i as f64 * size + dx, j as f64 * size + dy)
                })
                .collect()
        })
        .collect()
}

/// Cell (i, j) of a lattice, key j·nx + i + 1, all in village 1: neighbours share their
/// vertices bit for bit, since they take them from one lattice.
pub(crate) fn tiling(v: &[Vec<Coord<f64>>]) -> Vec<Cell> {
    let (nx, ny) = (v.len() - 1, v[0].len() - 1);
    let mut cells = Vec::new();
    for j in 0..ny {
        for i in 0..nx {
            let ring = vec![v[i][j], v[i + 1][j], v[i + 1][j + 1], v[i][j + 1]];
            cells.push(cell((j * nx + i + 1) as i64, 1, ring_poly(ring)));
        }
    }
    cells
}

/// Kinds and cells of the issues, for compact assertions.
pub(crate) fn summary(issues: &[Issue]) -> Vec<(IssueKind, Vec<i64>)> {
    issues.iter().map(|i| (i.kind, i.cells.clone())).collect()
}

pub(crate) fn of_kind(issues: &[Issue], kind: IssueKind) -> Vec<&Issue> {
    issues.iter().filter(|i| i.kind == kind).collect()
}

/// A deterministic jitter in ±`amp` m.
pub(crate) fn wobble(amp: f64) -> impl Fn(usize, usize) -> (f64, f64) {
    move |i, j| {
        let h = |k: usize| ((k as f64 * 12.9898).sin() * 43_758.545).fract();
        (amp * h(i * 131 + j * 7 + 1), amp * h(i * 17 + j * 313 + 5))
    }
}

#[test]
fn coverage_valid_tiling_has_no_issue() {
    let cells = tiling(&lattice(10, 10, 100.0, |_, _| (0.0, 0.0)));
    let villages = [village(1, rect_m(0.0, 0.0, 1000.0, 1000.0))];
    let issues = validate(&cells, &villages, None, &Tolerances::default());
    assert!(issues.is_empty(), "{:?}", summary(&issues));
}

#[test]
fn coverage_jittered_tiling_has_no_issue() {
    let cells = tiling(&lattice(10, 10, 100.0, wobble(30.0)));
    let villages = [village(1, rect_m(0.0, 0.0, 1000.0, 1000.0))];
    let issues = validate(&cells, &villages, None, &Tolerances::default());
    assert!(issues.is_empty(), "{:?}", summary(&issues));
}

#[test]
fn coverage_one_vertex_moved_in_one_cell_is_caught() {
    let v = lattice(4, 4, 100.0, wobble(20.0));
    let mut cells = tiling(&v);
    // Cell (1, 1) (key 6) moves its corner at lattice (2, 2) 3 m north-east; its three other
    // neighbours there keep theirs.
    let moved = Coord {
        x: v[2][2].x + 3.0 * (ll(1.0, 0.0).x - LON),
        y: v[2][2].y + 3.0 * (ll(0.0, 1.0).y - LAT),
    };
    cells[5].geom = ring_poly(vec![v[1][1], v[2][1], moved, v[1][2]]);
    let villages = [village(1, rect_m(0.0, 0.0, 400.0, 400.0))];
    let issues = validate(&cells, &villages, None, &Tolerances::default());
    let edges = of_kind(&issues, IssueKind::UnmatchedEdge);
    assert!(!edges.is_empty(), "{:?}", summary(&issues));
    assert!(edges.iter().all(|i| i.cells.contains(&6)));
    assert!(
        !of_kind(&issues, IssueKind::Overlap).is_empty(),
        "{:?}",
        summary(&issues)
    );
}

#[test]
fn coverage_focus_reports_only_focus_cells() {
    let v = lattice(4, 4, 100.0, |_, _| (0.0, 0.0));
    let mut cells = tiling(&v);
    // Cells 1 and 16 both stick out of the village's south-west and north-east corners.
    cells[0].geom = rect_m(-20.0, 0.0, 120.0, 100.0);
    cells[15].geom = rect_m(300.0, 300.0, 120.0, 100.0);
    let villages = [village(1, rect_m(0.0, 0.0, 400.0, 400.0))];
    let all = validate(&cells, &villages, None, &Tolerances::default());
    let outside: Vec<_> = of_kind(&all, IssueKind::OutsideVillage)
        .iter()
        .map(|i| i.cells.clone())
        .collect();
    assert_eq!(outside, vec![vec![1], vec![16]]);
    let focused = validate(&cells, &villages, Some(&[16]), &Tolerances::default());
    assert!(!focused.is_empty());
    assert!(
        focused.iter().all(|i| i.cells.contains(&16)),
        "{:?}",
        summary(&focused)
    );
}

#[test]
fn coverage_results_are_sorted_and_repeatable() {
    let v = lattice(3, 3, 100.0, |_, _| (0.0, 0.0));
    let mut cells = tiling(&v);
    cells[4].geom = rect_m(90.0, 90.0, 120.0, 120.0);
    let villages = [village(1, rect_m(0.0, 0.0, 300.0, 300.0))];
    let a = validate(&cells, &villages, None, &Tolerances::default());
    cells.reverse();
    let b = validate(&cells, &villages, None, &Tolerances::default());
    assert_eq!(summary(&a), summary(&b));
    let mut sorted = a.clone();
    sorted.sort_by(super::issue::issue_order);
    assert_eq!(a, sorted);
}
