//! Each part's outline: the union of its hexagons, clipped to its village.
//!
//! The union is exact: hexagons are built from H3's vertex indexes, so an edge two hexagons
//! of a part share appears in both with bit-identical ends and cancels, and what is left
//! chains into rings (each corner meets at most one boundary edge of a part, as three
//! hexagons meet there and any two of them share an edge). The clip to the village is
//! geo's boolean intersection. Two parts' unions share their common edges exactly; after
//! the clip, points where those edges cross the village outline are computed from the same
//! segments on both sides.

use std::collections::HashMap;

use geo::{BooleanOps, LineString, MultiPolygon, Polygon};

use super::summary::Plan;
use super::threads;
use super::units::{UnitGraph, corners};

type Vertex = (u64, u64);
type Ring = Vec<[f64; 2]>;

fn key(p: [f64; 2]) -> Vertex {
    ((p[0] + 0.0).to_bits(), (p[1] + 0.0).to_bits())
}

fn coord(v: Vertex) -> [f64; 2] {
    [f64::from_bits(v.0), f64::from_bits(v.1)]
}

/// The outline of each part of `plan` (index = part), as WGS-84 MultiPolygons: its
/// hexagons' union clipped to the outline of the village each unit belongs to (`villages`
/// as given to [`super::build_units`]). A part whose units span villages is the union of
/// its pieces in each.
///
/// Guarantees: parts of one village do not overlap (their hexagons are distinct and share
/// edges exactly); outlines lie inside their villages. Limits: the area of a village in
/// hexagons that are units of other villages only (a sliver with no points whose hexagon
/// centre is across the boundary) belongs to no part.
pub fn outlines(
    graph: &UnitGraph,
    plan: &Plan,
    villages: &[(u32, MultiPolygon<f64>)],
) -> Vec<MultiPolygon<f64>> {
    let outline_of: HashMap<u32, &MultiPolygon<f64>> =
        villages.iter().map(|(k, m)| (*k, m)).collect();
    let mut by_part: Vec<Vec<u32>> = vec![Vec::new(); plan.parts.len()];
    for (u, &p) in plan.assignment.iter().enumerate() {
        by_part[p as usize].push(u as u32);
    }
    threads::map(&by_part, 0, |_, units| {
        let mut by_village: Vec<(u32, Vec<u32>)> = Vec::new();
        for &u in units {
            let v = graph.units[u as usize].village;
            match by_village.iter_mut().find(|(k, _)| *k == v) {
                Some(entry) => entry.1.push(u),
                None => by_village.push((v, vec![u])),
            }
        }
        let mut pieces: Vec<MultiPolygon<f64>> = by_village
            .into_iter()
            .map(|(v, us)| {
                let hexes = dissolve(us.iter().map(|&u| graph.units[u as usize].cell));
                match outline_of.get(&v) {
                    Some(village) => hexes.intersection(*village),
                    None => hexes,
                }
            })
            .collect();
        match pieces.len() {
            0 => MultiPolygon::new(Vec::new()),
            1 => pieces.pop().expect("one piece"),
            _ => geo::unary_union(pieces.iter()),
        }
    })
}

/// Each part's hexagons dissolved into one outline, unclipped (index = part): the edges
/// between parts are hexagon edges, vertex for vertex the same on both sides. For callers
/// that clip to the village themselves with an overlay that keeps the outline's own
/// vertices (PostGIS), where [`outlines`]' clip would round them. A part spanning villages
/// (no nesting) is its villages' dissolved hexagons side by side, since villages may have
/// units of different resolutions ([`super::build_units_adaptive`]) whose edges do not
/// cancel.
pub fn part_hexagons(graph: &UnitGraph, plan: &Plan) -> Vec<MultiPolygon<f64>> {
    let mut by_part: Vec<Vec<u32>> = vec![Vec::new(); plan.parts.len()];
    for (u, &p) in plan.assignment.iter().enumerate() {
        by_part[p as usize].push(u as u32);
    }
    by_part
        .iter()
        .map(|units| {
            let mut villages: Vec<u32> = units
                .iter()
                .map(|&u| graph.units[u as usize].village)
                .collect();
            villages.sort_unstable();
            villages.dedup();
            let polygons = villages.into_iter().flat_map(|v| {
                dissolve(
                    units
                        .iter()
                        .map(|&u| &graph.units[u as usize])
                        .filter(|unit| unit.village == v)
                        .map(|unit| unit.cell),
                )
                .0
            });
            MultiPolygon::new(polygons.collect())
        })
        .collect()
}

/// The union of distinct H3 cells, by cancelling shared edges.
pub(crate) fn dissolve(cells: impl Iterator<Item = h3o::CellIndex>) -> MultiPolygon<f64> {
    let mut edges: HashMap<Vertex, Vertex> = HashMap::new();
    let mut reverse_seen: std::collections::HashSet<(Vertex, Vertex)> = Default::default();
    let mut all: Vec<(Vertex, Vertex)> = Vec::new();
    for cell in cells {
        let c = corners(cell);
        for i in 0..c.len() {
            all.push((key(c[i]), key(c[(i + 1) % c.len()])));
        }
    }
    for &(a, b) in &all {
        reverse_seen.insert((a, b));
    }
    for &(a, b) in &all {
        if !reverse_seen.contains(&(b, a)) {
            edges.insert(a, b);
        }
    }
    let mut starts: Vec<Vertex> = edges.keys().copied().collect();
    starts.sort_unstable();
    let mut rings: Vec<Vec<[f64; 2]>> = Vec::new();
    for s in starts {
        let Some(mut next) = edges.remove(&s) else {
            continue;
        };
        let mut ring = vec![coord(s)];
        while next != s {
            ring.push(coord(next));
            match edges.remove(&next) {
                Some(n) => next = n,
                None => break,
            }
        }
        if ring.len() >= 3 {
            rings.push(ring);
        }
    }
    let (mut outer, mut holes): (Vec<_>, Vec<_>) = rings
        .into_iter()
        .partition(|r| super::clip::signed_area2(r) > 0.0);
    outer.sort_by(|a, b| super::clip::signed_area2(a).total_cmp(&super::clip::signed_area2(b)));
    let mut polygons: Vec<(Ring, Vec<Ring>)> = outer.into_iter().map(|r| (r, Vec::new())).collect();
    for hole in holes.drain(..) {
        // The smallest exterior holding it (exteriors are sorted by area).
        if let Some(p) = polygons.iter_mut().find(|(r, _)| ring_contains(r, hole[0])) {
            p.1.push(hole);
        }
    }
    let line = |r: Vec<[f64; 2]>| {
        let mut coords: Vec<geo::Coord<f64>> =
            r.iter().map(|p| geo::coord! { x: p[0], y: p[1] }).collect();
        coords.push(coords[0]);
        LineString::new(coords)
    };
    MultiPolygon::new(
        polygons
            .into_iter()
            .map(|(r, hs)| Polygon::new(line(r), hs.into_iter().map(line).collect()))
            .collect(),
    )
}

fn ring_contains(ring: &[[f64; 2]], p: [f64; 2]) -> bool {
    let mut inside = false;
    let n = ring.len();
    for i in 0..n {
        let (a, b) = (ring[i], ring[(i + 1) % n]);
        if (a[1] > p[1]) != (b[1] > p[1]) {
            let x = a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0]);
            if x > p[0] {
                inside = !inside;
            }
        }
    }
    inside
}
