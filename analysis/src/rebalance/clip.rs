//! A hexagon cut by an outline, measured without building the cut polygon: its area
//! (Sutherland–Hodgman clipping of the outline's rings by the convex hexagon; the
//! zero-width bridges that method leaves along the hexagon's edges add no area), and its
//! perimeter as the hexagon's edges inside the outline plus the outline's edges inside the
//! hexagon, which the bridges do not touch.
//!
//! Lengths are haversine on the mean Earth radius; areas are on a local equirectangular
//! projection at the hexagon's latitude, which at 25 m hexagons differs from the sphere by
//! far less than the outlines' own precision.

use super::outline_index::{OutlineIndex, Segment};
use crate::sphere::MEAN_EARTH_RADIUS_M;

const M_PER_DEGREE: f64 = MEAN_EARTH_RADIUS_M * std::f64::consts::PI / 180.0;

/// The measures of one hexagon's piece inside an outline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Piece {
    pub(crate) area_m2: f64,
    pub(crate) perimeter_m: f64,
}

/// Great-circle distance in metres between two `[lon, lat]` points.
pub(crate) fn haversine_m(a: [f64; 2], b: [f64; 2]) -> f64 {
    let (p1, p2) = (a[1].to_radians(), b[1].to_radians());
    let dp = p2 - p1;
    let dl = (b[0] - a[0]).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * MEAN_EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

fn cross(o: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
}

/// Twice the signed area (degrees², counter-clockwise positive) of an open or closed ring.
pub(crate) fn signed_area2(ring: &[[f64; 2]]) -> f64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum()
}

/// Square metres per square degree at latitude `lat`.
pub(crate) fn m2_per_degree2(lat: f64) -> f64 {
    M_PER_DEGREE * M_PER_DEGREE * lat.to_radians().cos()
}

/// The hexagon's vertices turned counter-clockwise (clipping below assumes it).
pub(crate) fn counter_clockwise(mut hex: Vec<[f64; 2]>) -> Vec<[f64; 2]> {
    if signed_area2(&hex) < 0.0 {
        hex.reverse();
    }
    hex
}

/// Area in m² of an open ring, on the local projection at `lat`.
pub(crate) fn ring_area_m2(ring: &[[f64; 2]], lat: f64) -> f64 {
    signed_area2(ring).abs() / 2.0 * m2_per_degree2(lat)
}

/// Perimeter in metres of an open ring.
pub(crate) fn ring_perimeter_m(ring: &[[f64; 2]]) -> f64 {
    let n = ring.len();
    (0..n)
        .map(|i| haversine_m(ring[i], ring[(i + 1) % n]))
        .sum()
}

/// The box `[min_lon, min_lat, max_lon, max_lat]` of some points.
pub(crate) fn bbox_of(points: &[[f64; 2]]) -> [f64; 4] {
    points.iter().fold(
        [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ],
        |b, p| {
            [
                b[0].min(p[0]),
                b[1].min(p[1]),
                b[2].max(p[0]),
                b[3].max(p[1]),
            ]
        },
    )
}

/// `ring` (closed or open) clipped by the convex counter-clockwise `hex`.
fn sutherland_hodgman(ring: &[[f64; 2]], hex: &[[f64; 2]]) -> Vec<[f64; 2]> {
    let mut out: Vec<[f64; 2]> = ring.to_vec();
    for i in 0..hex.len() {
        let (c0, c1) = (hex[i], hex[(i + 1) % hex.len()]);
        let input = std::mem::take(&mut out);
        let Some(&last) = input.last() else {
            break;
        };
        let mut prev = last;
        for &p in &input {
            let (ip, iq) = (cross(c0, c1, p) >= 0.0, cross(c0, c1, prev) >= 0.0);
            if ip != iq {
                let (a, b) = (cross(c0, c1, prev), cross(c0, c1, p));
                let t = a / (a - b);
                out.push([
                    prev[0] + t * (p[0] - prev[0]),
                    prev[1] + t * (p[1] - prev[1]),
                ]);
            }
            if ip {
                out.push(p);
            }
            prev = p;
        }
    }
    out
}

/// The part of segment `s` inside the convex counter-clockwise `hex`, as parameters.
fn cyrus_beck(s: Segment, hex: &[[f64; 2]]) -> Option<(f64, f64)> {
    let d = [s.1[0] - s.0[0], s.1[1] - s.0[1]];
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for i in 0..hex.len() {
        let (c0, c1) = (hex[i], hex[(i + 1) % hex.len()]);
        let e = [c1[0] - c0[0], c1[1] - c0[1]];
        let num = e[0] * (s.0[1] - c0[1]) - e[1] * (s.0[0] - c0[0]);
        let den = e[0] * d[1] - e[1] * d[0];
        if den == 0.0 {
            if num < 0.0 {
                return None;
            }
        } else if den > 0.0 {
            t0 = t0.max(-num / den);
        } else {
            t1 = t1.min(-num / den);
        }
        if t0 >= t1 {
            return None;
        }
    }
    Some((t0, t1))
}

fn at(s: Segment, t: f64) -> [f64; 2] {
    [
        s.0[0] + t * (s.1[0] - s.0[0]),
        s.0[1] + t * (s.1[1] - s.0[1]),
    ]
}

/// Metres of segment `a`–`b` inside `outline`, given the outline's edges near it.
pub(crate) fn length_inside_m(
    a: [f64; 2],
    b: [f64; 2],
    outline: &OutlineIndex,
    near: &[Segment],
) -> f64 {
    let s = (a, b);
    let d = [b[0] - a[0], b[1] - a[1]];
    let mut ts = vec![0.0, 1.0];
    for &(p, q) in near {
        let e = [q[0] - p[0], q[1] - p[1]];
        let den = d[0] * e[1] - d[1] * e[0];
        if den == 0.0 {
            continue;
        }
        let t = ((p[0] - a[0]) * e[1] - (p[1] - a[1]) * e[0]) / den;
        let u = ((p[0] - a[0]) * d[1] - (p[1] - a[1]) * d[0]) / den;
        if (0.0..=1.0).contains(&t) && (0.0..=1.0).contains(&u) {
            ts.push(t);
        }
    }
    ts.sort_by(f64::total_cmp);
    ts.windows(2)
        .filter(|w| w[1] > w[0] && outline.contains(at(s, (w[0] + w[1]) / 2.0)))
        .map(|w| haversine_m(at(s, w[0]), at(s, w[1])))
        .sum()
}

/// The outline's edges near a hexagon, or `None` when none comes near it: then the
/// hexagon is wholly inside or wholly outside.
pub(crate) fn edges_near(hex: &[[f64; 2]], outline: &OutlineIndex) -> Option<Vec<Segment>> {
    let near = outline.segments_near(bbox_of(hex));
    (!near.is_empty()).then_some(near)
}

/// Area and perimeter of the piece of the counter-clockwise `hex` inside `outline`, given
/// the outline's edges near it.
pub(crate) fn piece(hex: &[[f64; 2]], outline: &OutlineIndex, near: &[Segment]) -> Piece {
    let lat = hex.iter().map(|p| p[1]).sum::<f64>() / hex.len() as f64;
    let hb = bbox_of(hex);
    let mut area2 = 0.0;
    for (ring, exterior) in &outline.rings {
        let rb = bbox_of(ring);
        if rb[2] < hb[0] || rb[0] > hb[2] || rb[3] < hb[1] || rb[1] > hb[3] {
            continue;
        }
        let clipped = sutherland_hodgman(&ring[..ring.len() - 1], hex);
        let a = signed_area2(&clipped).abs();
        area2 += if *exterior { a } else { -a };
    }
    let hex_edges: f64 = (0..hex.len())
        .map(|i| length_inside_m(hex[i], hex[(i + 1) % hex.len()], outline, near))
        .sum();
    let outline_edges: f64 = near
        .iter()
        .filter_map(|&s| cyrus_beck(s, hex).map(|(t0, t1)| haversine_m(at(s, t0), at(s, t1))))
        .sum();
    Piece {
        area_m2: area2.max(0.0) / 2.0 * m2_per_degree2(lat),
        perimeter_m: hex_edges + outline_edges,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{MultiPolygon, polygon};

    fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> OutlineIndex {
        OutlineIndex::new(&MultiPolygon::new(vec![polygon![
            (x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1),
        ]]))
    }

    #[test]
    fn a_square_cut_in_half_has_half_the_area_and_its_cut_perimeter() {
        // A small square "hexagon" (any convex ring) at the equator, cut by x = 0.0005.
        let hex = counter_clockwise(vec![[0.0, 0.0], [0.001, 0.0], [0.001, 0.001], [0.0, 0.001]]);
        let outline = square(-1.0, -1.0, 0.0005, 1.0);
        let near = edges_near(&hex, &outline).unwrap();
        let p = piece(&hex, &outline, &near);
        let full = ring_area_m2(&hex, 0.0005);
        assert!(
            (p.area_m2 / full - 0.5).abs() < 1e-6,
            "{} of {full}",
            p.area_m2
        );
        let side = haversine_m([0.0, 0.0], [0.001, 0.0]);
        assert!(
            (p.perimeter_m - 3.0 * side).abs() < 0.01 * side,
            "{}",
            p.perimeter_m
        );
        assert!(edges_near(&hex, &square(-1.0, -1.0, 1.0, 1.0)).is_none());
    }
}
