//! A fresh starting partition of a group, for when its current cells are no guide to the
//! new ones (far fewer parts than current cells, so most households move whatever the
//! start, or no current cells at all): recursive bisection by sweeps.
//!
//! A region that is to hold k parts is split into sides for ⌊k/2⌋ and ⌈k/2⌉ of them. One
//! side grows from the region's end along its longest direction (the principal axis of its
//! units' centres, weighted by area), always taking the frontier unit furthest back along
//! that axis, until it holds its share of the load; so the cut runs roughly straight across
//! the region, which is what makes the parts compact, and it falls within one unit's load
//! of the share. The side grown is connected by construction; pieces the sweep walls off
//! from the rest (pockets it surrounded) join the grown side, so both sides are connected
//! whenever the region is. Each side is then split the same way, down to single parts.
//!
//! Balance after the sweeps is within about a unit per level; the local search polishes it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::group::Group;

/// The part of each local unit, `k` parts numbered by their lowest unit, every part
/// connected; `None` when the group's graph is not connected (no split can promise
/// connected parts then) or a region ran out of units for its parts.
pub(crate) fn bisect(group: &Group<'_>, k: usize) -> Option<Vec<u32>> {
    let n = group.len();
    if k == 0 || n < k {
        return None;
    }
    let all: Vec<u32> = (0..n as u32).collect();
    let mut sweeper = Sweeper::new(group);
    if !sweeper.connected(group, &all) {
        return None;
    }
    let mut part = vec![u32::MAX; n];
    let mut label = 0u32;
    let mut regions = vec![(all, k)];
    while let Some((units, k)) = regions.pop() {
        if k == 1 {
            for &u in &units {
                part[u as usize] = label;
            }
            label += 1;
            continue;
        }
        let (ka, kb) = (k / 2, k - k / 2);
        let (a, b) = sweeper.split(group, &units, ka, kb)?;
        regions.push((b, kb));
        regions.push((a, ka));
    }
    // Numbered by lowest unit, so the numbering depends on the units alone.
    let mut first = vec![u32::MAX; k];
    for (u, &p) in part.iter().enumerate() {
        first[p as usize] = first[p as usize].min(u as u32);
    }
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by_key(|&p| first[p]);
    let mut new_id = vec![0u32; k];
    for (i, &p) in order.iter().enumerate() {
        new_id[p] = i as u32;
    }
    Some(part.iter().map(|&p| new_id[p as usize]).collect())
}

/// Splits regions of one group by sweeps; see the module doc.
pub(crate) struct Sweeper {
    /// Units' centres, longitude scaled to make degrees of both about equal length.
    xy: Vec<[f64; 2]>,
    scratch: Scratch,
}

impl Sweeper {
    pub(crate) fn new(group: &Group<'_>) -> Self {
        let n = group.len();
        let cos = {
            let lat = (0..n).map(|u| group.unit(u).centre.lat()).sum::<f64>() / n.max(1) as f64;
            lat.to_radians().cos()
        };
        Sweeper {
            xy: (0..n)
                .map(|u| {
                    let c = group.unit(u).centre;
                    [c.lon() * cos, c.lat()]
                })
                .collect(),
            scratch: Scratch {
                side: vec![0; n],
                seen: vec![false; n],
            },
        }
    }

    /// Whether `units` form one piece of the group's graph.
    pub(crate) fn connected(&mut self, group: &Group<'_>, units: &[u32]) -> bool {
        for &u in units {
            self.scratch.side[u as usize] = 2;
        }
        let pieces = component_sizes(group, units, 2, &mut self.scratch).len();
        for &u in units {
            self.scratch.side[u as usize] = 0;
        }
        pieces == 1
    }

    /// Splits the region `units` into a side for `ka` parts and one for `kb`, both
    /// connected, the first holding about `ka / (ka + kb)` of the load; `None` when the
    /// region is not connected or a side would have fewer units than parts.
    pub(crate) fn split(
        &mut self,
        group: &Group<'_>,
        units: &[u32],
        ka: usize,
        kb: usize,
    ) -> Option<(Vec<u32>, Vec<u32>)> {
        self.split_turned(group, units, ka, kb, 0)
    }

    /// [`Self::split`] with the sweep turned `quarter` quarter turns from the region's
    /// longest direction (0 to 3): four cuts to choose from where the straightest is not
    /// the one wanted.
    pub(crate) fn split_turned(
        &mut self,
        group: &Group<'_>,
        units: &[u32],
        ka: usize,
        kb: usize,
        quarter: u8,
    ) -> Option<(Vec<u32>, Vec<u32>)> {
        if units.len() < ka + kb || !self.connected(group, units) {
            return None;
        }
        let [x, y] = principal_axis(group, &self.xy, units);
        let axis = match quarter % 4 {
            0 => [x, y],
            1 => [-y, x],
            2 => [-x, -y],
            _ => [y, -x],
        };
        sweep(group, &self.xy, units, axis, ka, kb, &mut self.scratch)
    }
}

struct Scratch {
    /// 0 outside the region being cut; 1 and 2 its two sides.
    side: Vec<u8>,
    seen: Vec<bool>,
}

/// [`Sweeper::split`] of a region known to be connected, sweeping along `axis`.
fn sweep(
    group: &Group<'_>,
    xy: &[[f64; 2]],
    units: &[u32],
    axis: [f64; 2],
    ka: usize,
    kb: usize,
    scratch: &mut Scratch,
) -> Option<(Vec<u32>, Vec<u32>)> {
    let at = |u: u32| xy[u as usize][0] * axis[0] + xy[u as usize][1] * axis[1];
    let total: f64 = units.iter().map(|&u| group.unit(u as usize).load).sum();
    let share = ka as f64 / (ka + kb) as f64;
    let by_count = total <= 0.0;
    let goal = if by_count {
        share * units.len() as f64
    } else {
        share * total
    };
    for &u in units {
        scratch.side[u as usize] = 2;
    }
    let start = units
        .iter()
        .copied()
        .min_by(|&a, &b| at(a).total_cmp(&at(b)).then(a.cmp(&b)))
        .expect("a region has units");
    // Frontier by position along the axis (smallest first), ties by index.
    let key = |u: u32| (Reverse(ordered(at(u))), Reverse(u));
    let mut frontier = BinaryHeap::from([key(start)]);
    let (mut grown, mut count) = (0.0f64, 0usize);
    while let Some((_, Reverse(u))) = frontier.pop() {
        if scratch.side[u as usize] != 2 {
            continue;
        }
        let w = if by_count {
            1.0
        } else {
            group.unit(u as usize).load
        };
        let must = count < ka;
        let may = units.len() - count > kb;
        // Stop where the next unit would leave the side further from its share than now.
        if !must && (!may || (grown + w - goal).abs() > (grown - goal).abs()) {
            break;
        }
        scratch.side[u as usize] = 1;
        grown += w;
        count += 1;
        for &(v, _) in group.neighbours(u as usize) {
            if scratch.side[v as usize] == 2 {
                frontier.push(key(v));
            }
        }
    }
    // Pockets of the second side walled off from its largest piece join the first.
    let pieces = component_sizes(group, units, 2, scratch);
    if pieces.len() > 1 {
        let main = pieces
            .iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|p| p.0)
            .expect("pieces");
        for &(root, _) in &pieces {
            if root != main {
                relabel(group, root, 2, 1, scratch);
            }
        }
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for &u in units {
        match scratch.side[u as usize] {
            1 => a.push(u),
            _ => b.push(u),
        }
        scratch.side[u as usize] = 0;
    }
    (a.len() >= ka && b.len() >= kb).then_some((a, b))
}

/// The direction along which `units`' centres (weighted by area) spread most.
fn principal_axis(group: &Group<'_>, xy: &[[f64; 2]], units: &[u32]) -> [f64; 2] {
    let weight = |u: u32| group.unit(u as usize).area_m2.max(1.0);
    let total: f64 = units.iter().map(|&u| weight(u)).sum();
    let (mut mx, mut my) = (0.0, 0.0);
    for &u in units {
        let w = weight(u);
        mx += w * xy[u as usize][0];
        my += w * xy[u as usize][1];
    }
    let (mx, my) = (mx / total, my / total);
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for &u in units {
        let w = weight(u);
        let (dx, dy) = (xy[u as usize][0] - mx, xy[u as usize][1] - my);
        sxx += w * dx * dx;
        syy += w * dy * dy;
        sxy += w * dx * dy;
    }
    let theta = 0.5 * (2.0 * sxy).atan2(sxx - syy);
    [theta.cos(), theta.sin()]
}

/// The connected pieces of the units of `units` on side `s`: (lowest-found unit, size).
fn component_sizes(
    group: &Group<'_>,
    units: &[u32],
    s: u8,
    scratch: &mut Scratch,
) -> Vec<(u32, usize)> {
    let mut pieces = Vec::new();
    for &u in units {
        if scratch.side[u as usize] != s || scratch.seen[u as usize] {
            continue;
        }
        scratch.seen[u as usize] = true;
        let mut size = 0;
        let mut queue = VecDeque::from([u]);
        while let Some(x) = queue.pop_front() {
            size += 1;
            for &(v, _) in group.neighbours(x as usize) {
                if scratch.side[v as usize] == s && !scratch.seen[v as usize] {
                    scratch.seen[v as usize] = true;
                    queue.push_back(v);
                }
            }
        }
        pieces.push((u, size));
    }
    for &u in units {
        scratch.seen[u as usize] = false;
    }
    pieces
}

/// Moves the piece of side `from` holding `root` to side `to`.
fn relabel(group: &Group<'_>, root: u32, from: u8, to: u8, scratch: &mut Scratch) {
    scratch.side[root as usize] = to;
    let mut queue = VecDeque::from([root]);
    while let Some(x) = queue.pop_front() {
        for &(v, _) in group.neighbours(x as usize) {
            if scratch.side[v as usize] == from {
                scratch.side[v as usize] = to;
                queue.push_back(v);
            }
        }
    }
}

/// `x` as an integer in the order of `f64::total_cmp`, for the heap.
fn ordered(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::rebalance::units::{Edge, EdgeKind, Unit, UnitGraph};
    use crate::sphere::LonLat;
    use h3o::{LatLng, Resolution};

    /// A disk of resolution-11 hexagons (`radius` rings), one village, no current cells,
    /// each unit's load from `load(i)` (units in H3 index order).
    pub(crate) fn disk(radius: u32, load: impl Fn(usize) -> f64) -> UnitGraph {
        let centre = LatLng::new(24.3, 102.5)
            .unwrap()
            .to_cell(Resolution::Eleven);
        let mut cells: Vec<_> = centre.grid_disk::<Vec<_>>(radius);
        cells.sort_unstable();
        let units: Vec<Unit> = cells
            .iter()
            .enumerate()
            .map(|(i, &cell)| {
                let ll = LatLng::from(cell);
                Unit {
                    cell,
                    village: 1,
                    load: load(i),
                    households: load(i) as u32,
                    current: None,
                    households_by_cell: Vec::new(),
                    area_m2: 2150.0,
                    perimeter_m: 150.0,
                    centre: LonLat::new(ll.lng(), ll.lat()).unwrap(),
                    clipped: false,
                }
            })
            .collect();
        let mut edges = Vec::new();
        for a in 0..cells.len() {
            for b in a + 1..cells.len() {
                if cells[a].is_neighbor_with(cells[b]).unwrap() {
                    edges.push(Edge {
                        a: a as u32,
                        b: b as u32,
                        length_m: 25.0,
                        kind: EdgeKind::Village,
                    });
                }
            }
        }
        UnitGraph {
            resolution: Resolution::Eleven,
            units,
            edges,
            points_outside: 0,
        }
    }

    /// Whether every part is one piece of the group's graph.
    pub(crate) fn connected_parts(g: &Group<'_>, part: &[u32]) -> bool {
        let parts = part.iter().max().map_or(0, |&p| p as usize + 1);
        let mut sweeper = Sweeper::new(g);
        (0..parts as u32).all(|p| {
            let units: Vec<u32> = (0..g.len() as u32)
                .filter(|&u| part[u as usize] == p)
                .collect();
            sweeper.connected(g, &units)
        })
    }

    #[test]
    fn parts_are_connected_and_balanced_to_about_a_unit_per_level() {
        // 1,261 units; every 7th carries 5, the rest 1.
        let graph = disk(20, |i| if i % 7 == 0 { 5.0 } else { 1.0 });
        let g = Group::new(&graph, 0, graph.units.len(), false);
        for k in [2, 3, 7, 15] {
            let part = bisect(&g, k).expect("a connected disk");
            assert_eq!(part.iter().max().copied(), Some(k as u32 - 1));
            assert!(connected_parts(&g, &part), "k = {k}");
            let mut load = vec![0.0; k];
            for (u, &p) in part.iter().enumerate() {
                load[p as usize] += graph.units[u].load;
            }
            let mean = load.iter().sum::<f64>() / k as f64;
            // Four levels of cuts at most, each within about one heavy unit.
            for l in &load {
                assert!((l - mean).abs() <= 4.0 * 5.0, "k = {k}: {load:?}");
            }
            assert_eq!(bisect(&g, k), Some(part), "the same every time");
        }
    }

    #[test]
    fn parts_are_compact() {
        // Two parts of a disk: the cut runs across it, so few edges join the parts (a
        // diameter is 41 hexagons; a ragged cut would cross many more edges).
        let graph = disk(20, |_| 1.0);
        let g = Group::new(&graph, 0, graph.units.len(), false);
        let part = bisect(&g, 2).unwrap();
        let cut = graph
            .edges
            .iter()
            .filter(|e| part[e.a as usize] != part[e.b as usize])
            .count();
        assert!(cut <= 3 * 41, "{cut} edges cut");
    }

    #[test]
    fn a_graph_in_pieces_is_left_to_the_current_cells() {
        let mut graph = disk(3, |_| 1.0);
        // Cut off the first unit.
        graph.edges.retain(|e| e.a != 0);
        let g = Group::new(&graph, 0, graph.units.len(), false);
        assert_eq!(bisect(&g, 2), None);
    }
}
