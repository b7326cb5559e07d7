//! Rule 1: each geometry is a valid OGC (multi)polygon, with every coordinate finite and
//! within longitude/latitude range, and the answer says where it is not.
//!
//! geo 0.33 has a `Validation` trait, but it names no place, compares every segment of a ring
//! with every other (90,000 pairs for a 300-vertex cell), and lets spikes and rings that
//! touch themselves at a vertex through. Here the segments of all rings are swept once in
//! order of x, and each candidate pair is intersected with geo's robust
//! `line_intersection`, which also gives the place. Checks, on the coordinates as given
//! (degrees; exact predicates, no projection):
//! - `empty`, `non_finite_coordinate`, `coordinate_out_of_range`, `too_few_points` (a ring
//!   with fewer than 3 distinct vertices; geo closes every ring on construction, so an
//!   unclosed ring cannot reach us);
//! - `self_intersection`: a ring crossing or touching itself, a spike (an edge doubling back);
//! - `rings_cross`, `rings_touch_on_line`: a polygon's rings may meet only at points;
//! - `parts_overlap`, `parts_touch_on_line`: a multipolygon's parts may meet only at points,
//!   and none may lie inside another (nested shells count as overlap);
//! - `hole_outside_shell`, `nested_holes`.
//!
//! Not checked: an interior cut in two by rings touching at two or more points (GEOS's
//! "interior is disconnected"); geo's validation does not check it either. Consecutive
//! repeated vertices are allowed, as OGC allows them.

use geo::{
    Coord, CoordinatePosition, LineString, MultiPolygon, Polygon, coordinate_position::CoordPos,
    line_intersection::LineIntersection, line_intersection::line_intersection,
};

/// One reason a geometry is invalid, and where (lon/lat; none for an empty geometry).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Problem {
    pub reason: &'static str,
    pub at: Option<Coord<f64>>,
}

fn problem(reason: &'static str, at: Coord<f64>) -> Problem {
    Problem {
        reason,
        at: Some(at),
    }
}

/// Every problem found, in the order found; empty when the geometry is valid.
pub(crate) fn problems(g: &MultiPolygon<f64>) -> Vec<Problem> {
    if g.0.is_empty() || g.0.iter().all(|p| p.exterior().0.is_empty()) {
        return vec![Problem {
            reason: "empty",
            at: None,
        }];
    }
    let coords = coordinate_problems(g);
    if !coords.is_empty() {
        return coords;
    }
    // Rings without their consecutive repeats, so every segment has a length.
    let rings: Vec<Vec<Vec<Coord<f64>>>> =
        g.0.iter()
            .map(|p| {
                std::iter::once(p.exterior())
                    .chain(p.interiors())
                    .map(deduplicated)
                    .collect()
            })
            .collect();
    let mut found = Vec::new();
    for ring in rings.iter().flatten() {
        // A closed ring of n distinct vertices has n + 1 coordinates.
        if ring.len() < 4 {
            found.push(problem(
                "too_few_points",
                ring.first().copied().unwrap_or_default(),
            ));
        }
    }
    if !found.is_empty() {
        return found;
    }
    found.extend(crossing_problems(&rings));
    if found.is_empty() {
        found.extend(containment_problems(g));
    }
    // A vertex touching another segment meets it from both of its own segments.
    let mut seen = std::collections::HashSet::new();
    found.retain(|p| seen.insert((p.reason, p.at.map(|c| (c.x.to_bits(), c.y.to_bits())))));
    found
}

fn deduplicated(ring: &LineString<f64>) -> Vec<Coord<f64>> {
    let mut out: Vec<Coord<f64>> = Vec::with_capacity(ring.0.len());
    for &c in &ring.0 {
        if out.last() != Some(&c) {
            out.push(c);
        }
    }
    out
}

fn coordinate_problems(g: &MultiPolygon<f64>) -> Vec<Problem> {
    let mut found = Vec::new();
    let mut last_good = None;
    for ring in
        g.0.iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
    {
        for &c in &ring.0 {
            if !(c.x.is_finite() && c.y.is_finite()) {
                // The place of a NaN is unknowable; the vertex before it is the nearest known.
                found.push(Problem {
                    reason: "non_finite_coordinate",
                    at: last_good,
                });
            } else if !(-180.0..=180.0).contains(&c.x) || !(-90.0..=90.0).contains(&c.y) {
                let clamped = Coord {
                    x: c.x.clamp(-180.0, 180.0),
                    y: c.y.clamp(-90.0, 90.0),
                };
                found.push(problem("coordinate_out_of_range", clamped));
            } else {
                last_good = Some(c);
            }
        }
    }
    found
}

struct Segment {
    a: Coord<f64>,
    b: Coord<f64>,
    part: usize,
    ring: usize,
    index: usize,
    ring_segments: usize,
}

impl Segment {
    fn min_x(&self) -> f64 {
        self.a.x.min(self.b.x)
    }
    fn adjacent(&self, other: &Segment) -> bool {
        let (i, j, n) = (self.index, other.index, self.ring_segments);
        i.abs_diff(j) == 1 || i.abs_diff(j) == n - 1
    }
}

fn crossing_problems(rings: &[Vec<Vec<Coord<f64>>>]) -> Vec<Problem> {
    let mut segments = Vec::new();
    for (part, poly) in rings.iter().enumerate() {
        for (ring, coords) in poly.iter().enumerate() {
            let n = coords.len() - 1;
            for (index, w) in coords.windows(2).enumerate() {
                segments.push(Segment {
                    a: w[0],
                    b: w[1],
                    part,
                    ring,
                    index,
                    ring_segments: n,
                });
            }
        }
    }
    segments.sort_by(|s, t| s.min_x().total_cmp(&t.min_x()));
    let mut found = Vec::new();
    for (i, s) in segments.iter().enumerate() {
        let max_x = s.a.x.max(s.b.x);
        let (s_lo, s_hi) = (s.a.y.min(s.b.y), s.a.y.max(s.b.y));
        for t in &segments[i + 1..] {
            if t.min_x() > max_x {
                break;
            }
            if t.a.y.max(t.b.y) < s_lo || t.a.y.min(t.b.y) > s_hi {
                continue;
            }
            let Some(x) = line_intersection(geo::Line::new(s.a, s.b), geo::Line::new(t.a, t.b))
            else {
                continue;
            };
            let (at, collinear, proper) = match x {
                LineIntersection::SinglePoint {
                    intersection,
                    is_proper,
                } => (intersection, false, is_proper),
                LineIntersection::Collinear { intersection } => (intersection.start, true, false),
            };
            let reason = if s.part != t.part {
                if collinear {
                    Some("parts_touch_on_line")
                } else if proper {
                    Some("parts_overlap")
                } else {
                    None
                }
            } else if s.ring != t.ring {
                if collinear {
                    Some("rings_touch_on_line")
                } else if proper {
                    Some("rings_cross")
                } else {
                    None
                }
            } else if s.adjacent(t) {
                // Neighbours in a ring share a vertex; only doubling back along each other
                // (a spike) is wrong.
                collinear.then_some("self_intersection")
            } else {
                Some("self_intersection")
            };
            if let Some(reason) = reason {
                found.push(problem(reason, at));
            }
        }
    }
    found
}

/// Rings that do not cross can still be on the wrong side of each other: checked at a vertex
/// of each that is not on the other's boundary.
fn containment_problems(g: &MultiPolygon<f64>) -> Vec<Problem> {
    let mut found = Vec::new();
    for poly in &g.0 {
        let shell = Polygon::new(poly.exterior().clone(), vec![]);
        let holes: Vec<Polygon<f64>> = poly
            .interiors()
            .iter()
            .map(|h| Polygon::new(h.clone(), vec![]))
            .collect();
        for (i, hole) in poly.interiors().iter().enumerate() {
            if let Some((c, CoordPos::Outside)) = position_off_boundary(hole, &shell) {
                found.push(problem("hole_outside_shell", c));
            }
            for (j, other) in holes.iter().enumerate() {
                if i != j
                    && let Some((c, CoordPos::Inside)) = position_off_boundary(hole, other)
                {
                    found.push(problem("nested_holes", c));
                }
            }
        }
    }
    for (i, a) in g.0.iter().enumerate() {
        for (j, b) in g.0.iter().enumerate() {
            if i != j
                && let Some((c, CoordPos::Inside)) = position_off_boundary(b.exterior(), a)
            {
                found.push(problem("parts_overlap", c));
            }
        }
    }
    found
}

/// The first vertex of `ring` not on `poly`'s boundary, and where it lies.
fn position_off_boundary(
    ring: &LineString<f64>,
    poly: &Polygon<f64>,
) -> Option<(Coord<f64>, CoordPos)> {
    ring.0
        .iter()
        .find_map(|c| match poly.coordinate_position(c) {
            CoordPos::OnBoundary => None,
            pos => Some((*c, pos)),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Validation, polygon};

    fn reasons(g: &MultiPolygon<f64>) -> Vec<&'static str> {
        problems(g).iter().map(|p| p.reason).collect()
    }

    fn mp(p: Polygon<f64>) -> MultiPolygon<f64> {
        MultiPolygon::new(vec![p])
    }

    // Degrees near the city: 0.001° is about 100 m.
    const X: f64 = 102.5;
    const Y: f64 = 24.35;
    const D: f64 = 0.001;

    fn square(x: f64, y: f64, s: f64) -> Polygon<f64> {
        polygon![(x: x, y: y), (x: x + s, y: y), (x: x + s, y: y + s), (x: x, y: y + s)]
    }

    #[test]
    fn coverage_valid_squares_pass() {
        let g = mp(square(X, Y, D));
        assert!(problems(&g).is_empty());
        assert!(g.is_valid());
        // A hole touching the shell at one point is valid.
        let holed = mp(Polygon::new(
            square(X, Y, 4.0 * D).exterior().clone(),
            vec![LineString::from(vec![
                (X, Y + 2.0 * D),
                (X + D, Y + D),
                (X + 2.0 * D, Y + 2.0 * D),
                (X + D, Y + 3.0 * D),
                (X, Y + 2.0 * D),
            ])],
        ));
        assert!(problems(&holed).is_empty(), "{:?}", problems(&holed));
        assert!(holed.is_valid());
        // Repeated vertices are allowed; two parts meeting at a corner too.
        let repeated =
            mp(polygon![(x: X, y: Y), (x: X + D, y: Y), (x: X + D, y: Y), (x: X + D, y: Y + D)]);
        assert!(problems(&repeated).is_empty());
        let corner = MultiPolygon::new(vec![square(X, Y, D), square(X + D, Y + D, D)]);
        assert!(problems(&corner).is_empty());
    }

    #[test]
    fn coverage_bow_tie_is_located() {
        // Crosses itself at the square's centre.
        let g =
            mp(polygon![(x: X, y: Y), (x: X + D, y: Y + D), (x: X + D, y: Y), (x: X, y: Y + D)]);
        let found = problems(&g);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].reason, "self_intersection");
        let at = found[0].at.unwrap();
        assert!((at.x - (X + D / 2.0)).abs() < 1e-12 && (at.y - (Y + D / 2.0)).abs() < 1e-12);
        assert!(!g.is_valid());
    }

    #[test]
    fn coverage_spike_and_self_touch_fail() {
        // An edge that goes out and comes back along itself.
        let spike = mp(polygon![
            (x: X, y: Y), (x: X + D, y: Y), (x: X + 2.0 * D, y: Y), (x: X + D, y: Y),
            (x: X + D, y: Y + D), (x: X, y: Y + D)
        ]);
        assert!(
            reasons(&spike).contains(&"self_intersection"),
            "{:?}",
            reasons(&spike)
        );
        // The shell touching itself at a vertex (an inverted hole).
        let touch = mp(polygon![
            (x: X, y: Y), (x: X + 4.0 * D, y: Y), (x: X + 4.0 * D, y: Y + 4.0 * D),
            (x: X + 2.0 * D, y: Y), (x: X, y: Y + 4.0 * D)
        ]);
        assert_eq!(reasons(&touch), vec!["self_intersection"]);
    }

    #[test]
    fn coverage_coordinates_and_points() {
        let nan = mp(polygon![(x: X, y: Y), (x: f64::NAN, y: Y), (x: X + D, y: Y + D)]);
        let found = problems(&nan);
        assert_eq!(found[0].reason, "non_finite_coordinate");
        assert_eq!(found[0].at, Some(Coord { x: X, y: Y }));
        // Latitude first: 102.5 is no latitude.
        let swapped = mp(polygon![(x: Y, y: X), (x: Y + D, y: X), (x: Y + D, y: X + D)]);
        assert!(
            reasons(&swapped)
                .iter()
                .all(|r| *r == "coordinate_out_of_range")
        );
        let line = mp(polygon![(x: X, y: Y), (x: X + D, y: Y), (x: X, y: Y)]);
        assert_eq!(reasons(&line), vec!["too_few_points"]);
        assert_eq!(reasons(&MultiPolygon::new(vec![])), vec!["empty"]);
    }

    #[test]
    fn coverage_invalid_cell_is_reported_and_left_out() {
        use crate::coverage::tests::{cell, rect_m, summary, village};
        use crate::coverage::{IssueKind, Tolerances, validate};
        let bow_tie =
            mp(polygon![(x: X, y: Y), (x: X + D, y: Y + D), (x: X + D, y: Y), (x: X, y: Y + D)]);
        // The bow tie also overlaps cell 2, but only its invalidity is reported.
        let cells = [
            cell(1, 1, bow_tie),
            cell(2, 1, rect_m(0.0, 0.0, 100.0, 100.0)),
        ];
        let villages = [village(1, rect_m(-10.0, -10.0, 300.0, 300.0))];
        let issues = validate(&cells, &villages, None, &Tolerances::default());
        let invalid: Vec<_> = issues
            .iter()
            .filter(|i| i.kind == IssueKind::InvalidGeometry)
            .collect();
        assert_eq!(
            summary(&issues).iter().filter(|s| s.1.contains(&1)).count(),
            1,
            "{:?}",
            summary(&issues)
        );
        assert_eq!(invalid[0].detail, "self_intersection");
        assert!((invalid[0].location.x() - (X + D / 2.0)).abs() < 1e-12);
        assert!(
            invalid[0]
                .message_zh(crate::coverage::key_name)
                .contains("边界自相交")
        );
        // Fixed, it is measured like any other cell.
        let cells = [
            cell(1, 1, mp(square(X, Y, D))),
            cell(2, 1, rect_m(0.0, 0.0, 100.0, 100.0)),
        ];
        let issues = validate(&cells, &villages, None, &Tolerances::default());
        assert!(issues.iter().all(|i| i.kind != IssueKind::InvalidGeometry));
    }

    #[test]
    fn coverage_rings_and_parts() {
        let shell = square(X, Y, 4.0 * D).exterior().clone();
        let outside_hole = mp(Polygon::new(
            shell.clone(),
            vec![square(X + 5.0 * D, Y, D).exterior().clone()],
        ));
        assert_eq!(reasons(&outside_hole), vec!["hole_outside_shell"]);
        assert!(!outside_hole.is_valid());
        let crossing_hole = mp(Polygon::new(
            shell.clone(),
            vec![square(X + 3.0 * D, Y + D, 2.0 * D).exterior().clone()],
        ));
        assert!(
            reasons(&crossing_hole).contains(&"rings_cross"),
            "{:?}",
            reasons(&crossing_hole)
        );
        let nested = mp(Polygon::new(
            shell.clone(),
            vec![
                square(X + D, Y + D, 2.0 * D).exterior().clone(),
                square(X + 1.5 * D, Y + 1.5 * D, 0.5 * D).exterior().clone(),
            ],
        ));
        assert_eq!(reasons(&nested), vec!["nested_holes"]);
        let nested_shells = MultiPolygon::new(vec![square(X, Y, 4.0 * D), square(X + D, Y + D, D)]);
        assert_eq!(reasons(&nested_shells), vec!["parts_overlap"]);
        assert!(!nested_shells.is_valid());
        let side_by_side = MultiPolygon::new(vec![square(X, Y, D), square(X + D, Y, D)]);
        let found = reasons(&side_by_side);
        assert!(
            !found.is_empty() && found.iter().all(|r| *r == "parts_touch_on_line"),
            "{found:?}"
        );
        assert!(!side_by_side.is_valid());
    }
}
