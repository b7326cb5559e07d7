//! Rule 6, the core of JTS's `CoverageValidator`/`CoveragePolygonValidator` (Martin Davis,
//! 2022): where two cells meet, they must share their boundary exactly, vertex for vertex.
//!
//! 1. Every segment of every cell is keyed by its two end points (bit for bit, either
//!    direction) and the keys sorted: a segment two cells both have, with their interiors on
//!    opposite sides, is *matched* and fine. Matched with the interiors on the same side, the
//!    two cells overlap: the pair goes to the overlap rule. In a clean coverage every segment
//!    but those on the coverage's outer edge is matched, so the rest is cheap.
//! 2. Each unmatched segment is tested against the segments of other cells within `edge_m`
//!    (an R-tree of cell boxes, then one per cell of segment boxes), as JTS's
//!    `InvalidSegmentDetector` does:
//!    - collinear and overlapping but not equal: `misaligned`;
//!    - touching the other's segment at a point inside this segment (a vertex of the other
//!      cell lies on this edge without being one of its vertices): `unnoded`;
//!    - crossing it, or leaving a shared vertex into the other cell's interior: `crosses`;
//!    - not touching, but running nearly parallel within `edge_m` for longer than `edge_m`
//!      (a near miss: a gap or overlap thinner than the tolerance): `near_miss`.
//!
//!    Segments meeting at a shared vertex at an angle are fine, so are unmatched segments
//!    merely within reach (they are another part of the coverage's outer edge).
//! 3. An unmatched segment whose start vertex is inside another cell is `interior`, with the
//!    segment before it (a cell lying wholly inside another is found this way).
//!
//! The offending segments of both cells of a pair are answered together, one issue per pair,
//! as a `MultiLineString` in lon/lat. Pairs whose segments cross, lie inside, are misaligned or
//! unnoded, or match on the same side, are returned for the overlap rule to measure.
//! Distances are on the local plane, m; equality is exact.

use std::collections::{BTreeMap, BTreeSet};

use geo::{
    Coord, CoordinatePosition, Distance, Euclidean, Line, LineString, MultiLineString, Rect,
    coordinate_position::CoordPos, line_intersection::LineIntersection,
    line_intersection::line_intersection,
};

use super::issue::{Issue, IssueKind};
use super::measure::segment_length;
use super::prepared::{Prepared, SegmentId};

/// What rule 6 found: its issues, and the cell pairs (indices into `Prepared::cells`, lower
/// first) whose interiors may overlap.
#[derive(Debug, Default)]
pub(crate) struct EdgeFindings {
    pub issues: Vec<Issue>,
    pub overlap_suspects: BTreeSet<(usize, usize)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Unmatched,
    Matched,
    Invalid,
}

/// The offending segments of a pair: (cell, ring, segment) and the reasons.
#[derive(Debug, Default)]
struct PairFinding {
    segments: BTreeSet<(usize, u32, u32)>,
    reasons: BTreeSet<&'static str>,
}

/// Whether a pair concerns the caller: one of its cells is in focus.
fn pair_in_focus(p: &Prepared, a: usize, b: usize) -> bool {
    p.cells[a].focus || p.cells[b].focus
}

pub(crate) fn check(p: &Prepared, edge_m: f64) -> EdgeFindings {
    let mut findings = EdgeFindings::default();
    let mut status: Vec<Vec<Vec<Status>>> = p
        .cells
        .iter()
        .map(|c| {
            c.rings
                .iter()
                .map(|r| vec![Status::Unmatched; r.segments()])
                .collect()
        })
        .collect();
    match_segments(p, &mut status, &mut findings.overlap_suspects);

    let mut pairs: BTreeMap<(usize, usize), PairFinding> = BTreeMap::new();
    let mut record = |t: usize, a: usize, seg: SegmentId, reason: &'static str| {
        let f = pairs.entry((t.min(a), t.max(a))).or_default();
        f.segments.insert((t, seg.0, seg.1));
        f.reasons.insert(reason);
    };

    for (t, cell) in p.cells.iter().enumerate() {
        for (r, ring) in cell.rings.iter().enumerate() {
            for (s, state) in status[t][r].iter_mut().enumerate() {
                if *state != Status::Unmatched {
                    continue;
                }
                let seg = Line::new(ring.m[s], ring.m[s + 1]);
                let bbox = Rect::new(seg.start, seg.end);
                for a in p.cells_near(bbox, edge_m) {
                    if a == t || !pair_in_focus(p, t, a) {
                        continue;
                    }
                    for (ar, as_) in p.segments_near(a, bbox, edge_m) {
                        let adj = &p.cells[a].rings[ar as usize].m;
                        if let Some(reason) = classify(seg, adj, as_ as usize, edge_m) {
                            *state = Status::Invalid;
                            record(t, a, (r as u32, s as u32), reason);
                        }
                    }
                }
            }
        }
    }

    // A vertex inside another cell puts both its segments inside it (unless matched).
    for (t, cell) in p.cells.iter().enumerate() {
        for (r, ring) in cell.rings.iter().enumerate() {
            let n = ring.segments();
            for s in 0..n {
                if status[t][r][s] != Status::Unmatched {
                    continue;
                }
                let v = ring.m[s];
                for a in p.cells_near(Rect::new(v, v), 0.0) {
                    if a == t || !pair_in_focus(p, t, a) {
                        continue;
                    }
                    if p.cells[a].m.coordinate_position(&v) == CoordPos::Inside {
                        let prev = (s + n - 1) % n;
                        for i in [s, prev] {
                            if status[t][r][i] == Status::Unmatched {
                                status[t][r][i] = Status::Invalid;
                                record(t, a, (r as u32, i as u32), "interior");
                            }
                        }
                    }
                }
            }
        }
    }

    for ((a, b), f) in pairs {
        if f.reasons.iter().any(|&r| r != "near_miss") {
            findings.overlap_suspects.insert((a, b));
        }
        findings.issues.push(pair_issue(p, a, b, &f));
    }
    findings
}

/// Step 1: marks segments two cells share as matched; same-side matches are overlap suspects.
fn match_segments(
    p: &Prepared,
    status: &mut [Vec<Vec<Status>>],
    suspects: &mut BTreeSet<(usize, usize)>,
) {
    // (end points' bits, lower end first; cell; ring; segment; reversed to sort).
    let mut entries: Vec<([u64; 4], u32, u32, u32, bool)> = Vec::new();
    for (c, cell) in p.cells.iter().enumerate() {
        for (r, ring) in cell.rings.iter().enumerate() {
            for (s, w) in ring.m.windows(2).enumerate() {
                let (a, b) = (bits(w[0]), bits(w[1]));
                let reversed = b < a;
                let (lo, hi) = if reversed { (b, a) } else { (a, b) };
                entries.push((
                    [lo.0, lo.1, hi.0, hi.1],
                    c as u32,
                    r as u32,
                    s as u32,
                    reversed,
                ));
            }
        }
    }
    entries.sort_unstable();
    for group in entries.chunk_by(|x, y| x.0 == y.0) {
        for (i, x) in group.iter().enumerate() {
            for y in &group[i + 1..] {
                if x.1 == y.1 {
                    continue;
                }
                // Interiors lie left of every oriented edge: reversed in one and not in the
                // other means opposite sides.
                if x.4 != y.4 {
                    status[x.1 as usize][x.2 as usize][x.3 as usize] = Status::Matched;
                    status[y.1 as usize][y.2 as usize][y.3 as usize] = Status::Matched;
                } else {
                    let (a, b) = (x.1 as usize, y.1 as usize);
                    if pair_in_focus(p, a, b) {
                        suspects.insert((a.min(b), a.max(b)));
                    }
                    // Not an edge mismatch: the overlap rule reports it.
                    status[a][x.2 as usize][x.3 as usize] = Status::Matched;
                    status[b][y.2 as usize][y.3 as usize] = Status::Matched;
                }
            }
        }
    }
}

fn bits(c: Coord<f64>) -> (u64, u64) {
    // Adding zero turns −0 into +0.
    ((c.x + 0.0).to_bits(), (c.y + 0.0).to_bits())
}

/// Why segment `seg` (unmatched) is invalid against segment `k` of the adjacent ring `adj`
/// (closed, interior on the left), if it is.
fn classify(seg: Line<f64>, adj: &[Coord<f64>], k: usize, tol: f64) -> Option<&'static str> {
    let other = Line::new(adj[k], adj[k + 1]);
    if Euclidean.distance(&seg, &other) > tol {
        return None;
    }
    match line_intersection(seg, other) {
        Some(LineIntersection::Collinear { .. }) => return Some("misaligned"),
        Some(LineIntersection::SinglePoint {
            intersection: x,
            is_proper,
        }) => {
            if is_proper {
                return Some("crosses");
            }
            if x != seg.start && x != seg.end {
                return Some("unnoded");
            }
            let far = if x == seg.start { seg.end } else { seg.start };
            let n = adj.len() - 1;
            let (prev, next) = if x == other.start {
                (adj[(k + n - 1) % n], other.end)
            } else if x == other.end {
                (other.start, adj[(k + 2) % n])
            } else {
                (other.start, other.end)
            };
            if enters_interior(x, prev, next, far) {
                return Some("crosses");
            }
        }
        None => {}
    }
    (tol > 0.0 && nearly_parallel(seg, other, tol)).then_some("near_miss")
}

/// Whether the segment node→b starts into the interior of the corner prev→node→next, the
/// interior being on the left: the directions from next's round counter-clockwise to prev's.
/// A segment along either side of the corner is not inside.
pub(crate) fn enters_interior(
    node: Coord<f64>,
    prev: Coord<f64>,
    next: Coord<f64>,
    b: Coord<f64>,
) -> bool {
    let angle = |c: Coord<f64>| (c.y - node.y).atan2(c.x - node.x);
    let tau = std::f64::consts::TAU;
    let sweep = (angle(prev) - angle(next)).rem_euclid(tau);
    let turn = (angle(b) - angle(next)).rem_euclid(tau);
    turn > 0.0 && turn < sweep
}

/// JTS's `isNearlyParallel`: each segment projected on the other is longer than `tol`, and
/// the projections' ends are within `tol` of each other.
fn nearly_parallel(a: Line<f64>, b: Line<f64>, tol: f64) -> bool {
    let (Some(pa), Some(pb)) = (project(a, b), project(b, a)) else {
        return false;
    };
    if segment_length(pa.start, pa.end) <= tol || segment_length(pb.start, pb.end) <= tol {
        return false;
    }
    let pb = if segment_length(pa.start, pb.end) < segment_length(pa.start, pb.start) {
        Line::new(pb.end, pb.start)
    } else {
        pb
    };
    segment_length(pa.start, pb.start) <= tol && segment_length(pa.end, pb.end) <= tol
}

/// The part of `onto` that `seg` projects onto, if they overlap along `onto`.
fn project(onto: Line<f64>, seg: Line<f64>) -> Option<Line<f64>> {
    let d = onto.delta();
    let len2 = d.x * d.x + d.y * d.y;
    if len2 == 0.0 {
        return None;
    }
    let factor = |c: Coord<f64>| ((c.x - onto.start.x) * d.x + (c.y - onto.start.y) * d.y) / len2;
    let (r0, r1) = (factor(seg.start), factor(seg.end));
    if (r0 >= 1.0 && r1 >= 1.0) || (r0 <= 0.0 && r1 <= 0.0) {
        return None;
    }
    let at = |r: f64| {
        let r = r.clamp(0.0, 1.0);
        Coord {
            x: onto.start.x + r * d.x,
            y: onto.start.y + r * d.y,
        }
    };
    Some(Line::new(at(r0), at(r1)))
}

fn pair_issue(p: &Prepared, a: usize, b: usize, f: &PairFinding) -> Issue {
    let mut lines = Vec::new();
    let (mut total, mut longest) = (0.0, (-1.0, Coord::zero()));
    for &(c, r, s) in &f.segments {
        let ring = &p.cells[c].rings[r as usize];
        let (s, e) = (s as usize, s as usize + 1);
        let len = segment_length(ring.m[s], ring.m[e]);
        total += len;
        if len > longest.0 {
            let mid = Coord {
                x: (ring.m[s].x + ring.m[e].x) / 2.0,
                y: (ring.m[s].y + ring.m[e].y) / 2.0,
            };
            longest = (len, mid);
        }
        lines.push(LineString::new(vec![ring.ll[s], ring.ll[e]]));
    }
    let (ca, cb) = (&p.cells[a], &p.cells[b]);
    let mut cells = vec![ca.key, cb.key];
    cells.sort_unstable();
    Issue {
        kind: IssueKind::UnmatchedEdge,
        cells,
        village: (ca.village == cb.village).then_some(ca.village),
        location: p.proj.point_lon_lat(longest.1),
        geometry: Some(MultiLineString::new(lines).into()),
        measure: total,
        detail: f.reasons.iter().copied().collect::<Vec<_>>().join(","),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coverage::tests::{cell, of_kind, poly_m, rect_m, summary, village};
    use crate::coverage::{Cell, Tolerances, validate};

    fn edges(cells: &[Cell]) -> Vec<Issue> {
        let villages = [village(1, rect_m(-50.0, -50.0, 400.0, 300.0))];
        let issues = validate(cells, &villages, None, &Tolerances::default());
        of_kind(&issues, IssueKind::UnmatchedEdge)
            .into_iter()
            .cloned()
            .collect()
    }

    #[test]
    fn coverage_shared_edge_matches() {
        let cells = [
            cell(1, 1, rect_m(0.0, 0.0, 100.0, 100.0)),
            cell(2, 1, rect_m(100.0, 0.0, 100.0, 100.0)),
        ];
        assert!(edges(&cells).is_empty());
    }

    #[test]
    fn coverage_t_junction_is_unnoded_until_noded() {
        // Cell 1's east edge runs past the corner cells 2 and 3 share at (100, 50).
        let b = cell(2, 1, rect_m(100.0, 0.0, 100.0, 50.0));
        let c = cell(3, 1, rect_m(100.0, 50.0, 100.0, 50.0));
        let unnoded = [
            cell(1, 1, rect_m(0.0, 0.0, 100.0, 100.0)),
            b.clone(),
            c.clone(),
        ];
        let found = edges(&unnoded);
        assert_eq!(
            summary(&found),
            vec![
                (IssueKind::UnmatchedEdge, vec![1, 2]),
                (IssueKind::UnmatchedEdge, vec![1, 3])
            ]
        );
        assert_eq!(found[0].detail, "misaligned,unnoded");
        // The offending segments: cell 1's east edge (100 m) and cell 2's west edge (50 m).
        assert!(
            (found[0].measure - 150.0).abs() < 0.5,
            "{}",
            found[0].measure
        );
        let Some(geo::Geometry::MultiLineString(lines)) = &found[0].geometry else {
            panic!()
        };
        assert_eq!(lines.0.len(), 2);
        // With the vertex added to cell 1, the edges match.
        let noded = [
            cell(
                1,
                1,
                poly_m(&[
                    (0.0, 0.0),
                    (100.0, 0.0),
                    (100.0, 50.0),
                    (100.0, 100.0),
                    (0.0, 100.0),
                ]),
            ),
            b,
            c,
        ];
        assert!(edges(&noded).is_empty());
    }

    #[test]
    fn coverage_near_miss_within_tolerance() {
        // A 0.3 m wide gap between two cells: closer than edge_m, not shared.
        let cells = [
            cell(1, 1, rect_m(0.0, 0.0, 100.0, 100.0)),
            cell(2, 1, rect_m(100.3, 0.0, 100.0, 100.0)),
        ];
        let found = edges(&cells);
        assert_eq!(
            summary(&found),
            vec![(IssueKind::UnmatchedEdge, vec![1, 2])]
        );
        assert_eq!(found[0].detail, "near_miss");
        // 2 m apart is not a near miss (it is a gap, rule 4's business).
        let apart = [
            cell(1, 1, rect_m(0.0, 0.0, 100.0, 100.0)),
            cell(2, 1, rect_m(102.0, 0.0, 100.0, 100.0)),
        ];
        assert!(edges(&apart).is_empty());
    }

    #[test]
    fn coverage_crossing_and_interior_edges() {
        let cells = [
            cell(1, 1, rect_m(0.0, 0.0, 100.0, 100.0)),
            cell(2, 1, rect_m(99.0, 10.0, 100.0, 80.0)),
        ];
        let found = edges(&cells);
        assert_eq!(
            summary(&found),
            vec![(IssueKind::UnmatchedEdge, vec![1, 2])]
        );
        assert!(found[0].detail.contains("crosses"), "{}", found[0].detail);
        // A cell wholly inside another: its vertices are inside.
        let inside = [
            cell(1, 1, rect_m(0.0, 0.0, 100.0, 100.0)),
            cell(2, 1, rect_m(10.0, 10.0, 20.0, 20.0)),
        ];
        let found = edges(&inside);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].detail, "interior");
        assert!((found[0].measure - 80.0).abs() < 0.1);
    }

    #[test]
    fn coverage_corner_meeting_at_an_angle_is_fine() {
        // Two cells meeting only at a shared corner, and a triangle fan around one vertex.
        let corner = [
            cell(1, 1, rect_m(0.0, 0.0, 100.0, 100.0)),
            cell(2, 1, rect_m(100.0, 100.0, 100.0, 100.0)),
        ];
        assert!(edges(&corner).is_empty());
        let fan = [
            cell(1, 1, poly_m(&[(0.0, 0.0), (100.0, 0.0), (50.0, 60.0)])),
            cell(2, 1, poly_m(&[(100.0, 0.0), (100.0, 120.0), (50.0, 60.0)])),
            cell(3, 1, poly_m(&[(50.0, 60.0), (100.0, 120.0), (0.0, 120.0)])),
        ];
        assert!(edges(&fan).is_empty());
    }

    #[test]
    fn coverage_enters_interior_of_a_corner() {
        let c = |x: f64, y: f64| Coord { x, y };
        // Counter-clockwise square's corner at (1, 0): interior between north and west.
        let (node, prev, next) = (c(1.0, 0.0), c(0.0, 0.0), c(1.0, 1.0));
        assert!(enters_interior(node, prev, next, c(0.5, 0.5)));
        assert!(!enters_interior(node, prev, next, c(2.0, 1.0)));
        assert!(!enters_interior(node, prev, next, c(1.0, 2.0)));
        // The same corner walked the other way is reflex: all but the north-west quadrant.
        assert!(enters_interior(node, next, prev, c(0.0, -1.0)));
        assert!(enters_interior(node, next, prev, c(2.0, -1.0)));
        assert!(!enters_interior(node, next, prev, c(0.5, 0.5)));
    }
}
