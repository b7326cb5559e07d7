//! The atomic units new grid cells are made of: H3 hexagons clipped to their village, with
//! the load and households inside each, the current cell each lies in, and which units
//! touch and along how many metres.
//!
//! A village's units are the hexagons whose centre lies in its outline, plus every hexagon
//! holding one of its points, so no household is lost to a hexagon whose centre is across
//! the boundary. The hexagons' corners come from H3's vertex indexes, so neighbouring
//! hexagons share bit-identical corners and their outlines dissolve exactly.

use std::collections::HashMap;

use geo::MultiPolygon;
use h3o::geom::{ContainmentMode, TilerBuilder};
use h3o::{CellIndex, LatLng, Resolution};

use super::clip::{self, Piece};
use super::outline_index::{BoxGrid, OutlineIndex};
use super::threads;
use crate::sphere::LonLat;

/// The resolution units are built at unless asked otherwise: about 2,150 m² a hexagon,
/// 25 m an edge, fine enough that cell boundaries follow streets of houses.
pub const DEFAULT_RESOLUTION: Resolution = Resolution::Eleven;

/// The resolutions units may be built at: 9 (0.1 km²) to 12 (300 m²).
pub const RESOLUTIONS: std::ops::RangeInclusive<u8> = 9..=12;

/// At most this many units in one graph (indices are `u32`; a city at resolution 12 is
/// about 50 million).
pub const MAX_UNITS: usize = 60_000_000;

/// Something located that carries load: a household (`households: 1`, its workload as
/// `load`) or an incident (`households: 0`, its severity weight as `load`). The caller
/// decides what a load is; units only add them up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// WGS-84 longitude, degrees.
    pub lon: f64,
    /// WGS-84 latitude, degrees.
    pub lat: f64,
    pub households: u32,
    /// Finite and ≥ 0, in whatever unit the caller chose.
    pub load: f64,
}

/// One atomic unit: an H3 hexagon's piece inside one village.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub cell: CellIndex,
    /// The village key it belongs to.
    pub village: u32,
    /// The sum of its points' loads.
    pub load: f64,
    pub households: u32,
    /// The current cell holding its centre (among its village's cells first), else the
    /// one holding most of its households, else the nearest; `None` without current cells.
    pub current: Option<u32>,
    /// Its households by the current cell each lies in (cell key, households), cell key
    /// order; households in no current cell are left out.
    pub households_by_cell: Vec<(u32, u32)>,
    /// Area of the clipped piece, m².
    pub area_m2: f64,
    /// Perimeter of the clipped piece, m.
    pub perimeter_m: f64,
    /// The hexagon's centre (which a clipped piece need not hold).
    pub centre: LonLat,
    /// Whether the village outline cuts the hexagon.
    pub clipped: bool,
}

/// Why two units are neighbours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EdgeKind {
    /// Two units of one village sharing part of a hexagon edge inside it; the length is
    /// exact (to the outline's precision).
    Village,
    /// Units of two villages meeting at the village boundary (pieces of one hexagon, or
    /// neighbouring hexagons both cut by the boundary). The length is an estimate: a
    /// hexagon edge for pieces of one hexagon, half of one otherwise.
    CrossVillage,
    /// A link of length 0 joining a piece of a village that its units do not connect (an
    /// exclave, or a sliver the outline cuts off) to the nearest unit of the village's
    /// largest piece, so that every village's units form one connected graph.
    Bridge,
}

/// A neighbour pair, `a < b`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Edge {
    pub a: u32,
    pub b: u32,
    /// Shared boundary, m (0 for a bridge).
    pub length_m: f64,
    pub kind: EdgeKind,
}

/// The units of some villages and their adjacency.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitGraph {
    pub resolution: Resolution,
    /// Sorted by village key, then H3 index.
    pub units: Vec<Unit>,
    /// Sorted by `(a, b)`; each pair once.
    pub edges: Vec<Edge>,
    /// Points in no village, given to the nearest unit.
    pub points_outside: usize,
}

/// How to build units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitParams {
    /// One of [`RESOLUTIONS`].
    pub resolution: Resolution,
    /// Worker threads; 0 for one per core. The graph does not depend on it.
    pub threads: usize,
}

impl Default for UnitParams {
    fn default() -> Self {
        UnitParams {
            resolution: DEFAULT_RESOLUTION,
            threads: 0,
        }
    }
}

/// Why units could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnitsError {
    #[error("resolution {0} is outside 9 to 12")]
    Resolution(u8),
    #[error("village {0} is given twice")]
    DuplicateVillage(u32),
    #[error("point {0} has a coordinate out of range or not finite")]
    BadPoint(usize),
    #[error("point {0} has a load that is negative or not finite")]
    BadLoad(usize),
    #[error("{0} units is more than {MAX_UNITS}; choose a coarser resolution")]
    TooMany(usize),
    #[error("tiling village {village}: {message}")]
    Tiling { village: u32, message: String },
}

/// The units of `villages` (key, WGS-84 outline) at `params.resolution`, with the load and
/// households of `points`, the current cells `cells` (cell key, village key, outline) each
/// unit lies in, and their adjacency.
///
/// Guarantees: every point is counted in exactly one unit (the unit of its own hexagon in
/// the village holding it; a point in no village goes to the unit whose centre is nearest),
/// so loads and households add up; units are sorted and the result does not depend on the
/// thread count; within a village the units with [`EdgeKind::Village`] and
/// [`EdgeKind::Bridge`] edges form one connected graph. Limits: a hexagon's piece is
/// measured, not built; a village smaller than a hexagon with no points has no unit; a
/// point on the boundary of two villages goes to the first by key.
///
/// ```
/// use geo::{MultiPolygon, polygon};
/// use wangge_analysis::rebalance::{Point, UnitParams, build_units};
/// let square = MultiPolygon::new(vec![polygon![
///     (x: 102.500, y: 24.300), (x: 102.505, y: 24.300),
///     (x: 102.505, y: 24.305), (x: 102.500, y: 24.305),
/// ]]);
/// let points = [Point { lon: 102.502, lat: 24.302, households: 1, load: 1.0 }];
/// let graph = build_units(&[(7, square.clone())], &[(1, 7, square)], &points, &UnitParams::default())?;
/// assert!(graph.units.len() > 50); // about 0.25 km² in 2,150 m² hexagons
/// assert_eq!(graph.units.iter().map(|u| u.households).sum::<u32>(), 1);
/// assert!(graph.units.iter().all(|u| u.current == Some(1)));
/// # Ok::<(), wangge_analysis::rebalance::UnitsError>(())
/// ```
pub fn build_units(
    villages: &[(u32, MultiPolygon<f64>)],
    cells: &[(u32, u32, MultiPolygon<f64>)],
    points: &[Point],
    params: &UnitParams,
) -> Result<UnitGraph, UnitsError> {
    let resolution = params.resolution;
    if !RESOLUTIONS.contains(&u8::from(resolution)) {
        return Err(UnitsError::Resolution(u8::from(resolution)));
    }
    for (i, p) in points.iter().enumerate() {
        if LonLat::new(p.lon, p.lat).is_err() {
            return Err(UnitsError::BadPoint(i));
        }
        if !(p.load.is_finite() && p.load >= 0.0) {
            return Err(UnitsError::BadLoad(i));
        }
    }
    let mut order: Vec<usize> = (0..villages.len()).collect();
    order.sort_by_key(|&i| villages[i].0);
    if let Some(w) = order
        .windows(2)
        .find(|w| villages[w[0]].0 == villages[w[1]].0)
    {
        return Err(UnitsError::DuplicateVillage(villages[w[0]].0));
    }
    let threads = params.threads;
    let village_keys: Vec<u32> = order.iter().map(|&i| villages[i].0).collect();
    let outlines: Vec<OutlineIndex> =
        threads::map(&order, threads, |_, &i| OutlineIndex::new(&villages[i].1));
    let cell_outlines: Vec<OutlineIndex> =
        threads::map(cells, threads, |_, c| OutlineIndex::new(&c.2));
    // The hexagons whose centre each village holds.
    let tiled: Vec<Result<Vec<CellIndex>, UnitsError>> =
        threads::map(&outlines, threads, |v, o| {
            centres_inside(o, resolution).map_err(|message| UnitsError::Tiling {
                village: village_keys[v],
                message,
            })
        });
    let mut keys: Vec<(u32, CellIndex)> = Vec::new();
    for (v, cells_of) in tiled.into_iter().enumerate() {
        keys.extend(cells_of?.into_iter().map(|c| (v as u32, c)));
    }

    // Where each point is: its village, hexagon and current cell.
    let village_grid = BoxGrid::new(outlines.iter().map(|o| o.bbox), 0.02);
    let cell_grid = BoxGrid::new(cell_outlines.iter().map(|o| o.bbox), 0.02);
    let located: Vec<(Option<u32>, CellIndex, Option<u32>)> = {
        let chunks: Vec<&[Point]> = points.chunks(8192).collect();
        threads::map(&chunks, threads, |_, chunk| {
            chunk
                .iter()
                .map(|p| {
                    let at = [p.lon, p.lat];
                    let village = village_grid
                        .candidates(at)
                        .iter()
                        .copied()
                        .find(|&v| outlines[v as usize].contains(at));
                    let cell = LatLng::new(p.lat, p.lon)
                        .expect("checked above")
                        .to_cell(resolution);
                    let current = cell_grid
                        .candidates(at)
                        .iter()
                        .copied()
                        .find(|&c| cell_outlines[c as usize].contains(at));
                    (village, cell, current)
                })
                .collect::<Vec<_>>()
        })
        .into_iter()
        .flatten()
        .collect()
    };
    keys.extend(located.iter().filter_map(|&(v, c, _)| v.map(|v| (v, c))));
    keys.sort_unstable();
    keys.dedup();
    if keys.len() > MAX_UNITS {
        return Err(UnitsError::TooMany(keys.len()));
    }
    let by_key: HashMap<(u32, CellIndex), u32> = keys
        .iter()
        .enumerate()
        .map(|(i, &k)| (k, i as u32))
        .collect();
    let mut by_cell: HashMap<CellIndex, Vec<u32>> = HashMap::new();
    for (i, &(_, c)) in keys.iter().enumerate() {
        by_cell.entry(c).or_default().push(i as u32);
    }
    let centres: Vec<[f64; 2]> = keys
        .iter()
        .map(|&(_, c)| {
            let ll = LatLng::from(c);
            [ll.lng(), ll.lat()]
        })
        .collect();

    // Loads and households, and who holds which current cell's households.
    let mut load = vec![0.0; keys.len()];
    let mut households = vec![0u32; keys.len()];
    let mut by_current: Vec<Vec<(u32, u32)>> = vec![Vec::new(); keys.len()];
    let mut points_outside = 0;
    for (p, &(village, cell, current)) in points.iter().zip(&located) {
        let unit = match village {
            Some(v) => by_key[&(v, cell)],
            None => {
                points_outside += 1;
                match nearest_unit(cell, [p.lon, p.lat], &by_cell, &centres) {
                    Some(u) => u,
                    None => continue,
                }
            }
        };
        let u = unit as usize;
        load[u] += p.load;
        households[u] += p.households;
        if let (Some(c), true) = (current, p.households > 0) {
            let key = cells[c as usize].0;
            match by_current[u].iter_mut().find(|(k, _)| *k == key) {
                Some(entry) => entry.1 += p.households,
                None => by_current[u].push((key, p.households)),
            }
        }
    }

    // Each village's range of units, for its geometry, edges and current cells.
    let mut ranges: Vec<(usize, usize)> = vec![(0, 0); outlines.len()];
    let mut start = 0;
    for (v, range) in ranges.iter_mut().enumerate() {
        let end = start + keys[start..].partition_point(|k| k.0 == v as u32);
        *range = (start, end);
        start = end;
    }
    let hexes: Vec<Vec<[f64; 2]>> = {
        let chunks: Vec<&[(u32, CellIndex)]> = keys.chunks(4096).collect();
        threads::map(&chunks, threads, |_, chunk| {
            chunk.iter().map(|&(_, c)| corners(c)).collect::<Vec<_>>()
        })
        .into_iter()
        .flatten()
        .collect()
    };
    let pieces: Vec<Vec<(Piece, bool)>> = threads::map(&ranges, threads, |v, &(s, e)| {
        (s..e)
            .map(|u| measure(keys[u].1, &hexes[u], &outlines[v]))
            .collect()
    });
    let pieces: Vec<(Piece, bool)> = pieces.into_iter().flatten().collect();

    let clipped_by_cell: HashMap<CellIndex, Vec<u32>> = {
        let mut m: HashMap<CellIndex, Vec<u32>> = HashMap::new();
        for (i, &(_, c)) in keys.iter().enumerate() {
            if pieces[i].1 {
                m.entry(c).or_default().push(i as u32);
            }
        }
        m
    };
    let cells_of_village: HashMap<u32, Vec<u32>> = {
        let mut m: HashMap<u32, Vec<u32>> = HashMap::new();
        for (i, c) in cells.iter().enumerate() {
            m.entry(c.1).or_default().push(i as u32);
        }
        m
    };
    let per_village: Vec<(Vec<Edge>, Vec<Option<u32>>)> =
        threads::map(&ranges, threads, |v, &(s, e)| {
            let mut edges = village_edges(
                v as u32,
                (s, e),
                &keys,
                &by_key,
                &pieces,
                &hexes,
                &outlines[v],
            );
            edges.extend(cross_edges(s, e, &keys, &clipped_by_cell));
            bridge(s, e, &centres, &mut edges);
            let own: &[u32] = cells_of_village
                .get(&village_keys[v])
                .map_or(&[], Vec::as_slice);
            let current = (s..e)
                .map(|u| {
                    current_cell(
                        centres[u],
                        &by_current[u],
                        own,
                        cells,
                        &cell_outlines,
                        &cell_grid,
                    )
                })
                .collect();
            (edges, current)
        });
    let mut edges = Vec::new();
    let mut current = Vec::with_capacity(keys.len());
    for (e, c) in per_village {
        edges.extend(e);
        current.extend(c);
    }
    edges.sort_by_key(|e| (e.a, e.b));
    edges.dedup_by_key(|e| (e.a, e.b));

    let units = keys
        .iter()
        .enumerate()
        .map(|(i, &(v, cell))| {
            let mut households_by_cell = std::mem::take(&mut by_current[i]);
            households_by_cell.sort_unstable();
            Unit {
                cell,
                village: village_keys[v as usize],
                load: load[i],
                households: households[i],
                current: current[i],
                households_by_cell,
                area_m2: pieces[i].0.area_m2,
                perimeter_m: pieces[i].0.perimeter_m,
                centre: LonLat::new(centres[i][0], centres[i][1]).expect("an H3 centre"),
                clipped: pieces[i].1,
            }
        })
        .collect();
    Ok(UnitGraph {
        resolution,
        units,
        edges,
        points_outside,
    })
}

/// The hexagon's corners from its vertex indexes (bit-identical to its neighbours'),
/// counter-clockwise.
pub(crate) fn corners(cell: CellIndex) -> Vec<[f64; 2]> {
    clip::counter_clockwise(
        cell.vertexes()
            .map(|v| {
                let ll = LatLng::from(v);
                [ll.lng(), ll.lat()]
            })
            .collect(),
    )
}

/// The hexagons at `resolution` whose centre `outline` holds: its bounding box tiled by
/// h3o (its polygon tiler is far slower on detailed outlines), each centre then tested.
fn centres_inside(
    outline: &OutlineIndex,
    resolution: Resolution,
) -> Result<Vec<CellIndex>, String> {
    let b = outline.bbox;
    if !(b[0] < b[2] && b[1] < b[3]) {
        return Ok(Vec::new());
    }
    let rect = geo::Rect::new(
        geo::coord! { x: b[0], y: b[1] },
        geo::coord! { x: b[2], y: b[3] },
    );
    let mut tiler = TilerBuilder::new(resolution)
        .containment_mode(ContainmentMode::ContainsCentroid)
        .build();
    tiler.add(rect.to_polygon()).map_err(|e| e.to_string())?;
    let mut inside: Vec<CellIndex> = tiler
        .into_coverage()
        .filter(|c| {
            let ll = LatLng::from(*c);
            outline.contains([ll.lng(), ll.lat()])
        })
        .collect();
    inside.sort_unstable();
    inside.dedup();
    Ok(inside)
}

/// The piece of `cell` inside `outline`, and whether the outline cuts it.
fn measure(cell: CellIndex, hex: &[[f64; 2]], outline: &OutlineIndex) -> (Piece, bool) {
    match clip::edges_near(hex, outline) {
        None => {
            let lat = LatLng::from(cell).lat();
            let inside = outline.contains(hex[0]);
            let piece = Piece {
                area_m2: if inside {
                    clip::ring_area_m2(hex, lat)
                } else {
                    0.0
                },
                perimeter_m: if inside {
                    clip::ring_perimeter_m(hex)
                } else {
                    0.0
                },
            };
            (piece, false)
        }
        Some(near) => (clip::piece(hex, outline, &near), true),
    }
}

/// Edges between units `s..e` (one village) whose hexagons share an edge inside the
/// village.
fn village_edges(
    v: u32,
    (s, e): (usize, usize),
    keys: &[(u32, CellIndex)],
    by_key: &HashMap<(u32, CellIndex), u32>,
    pieces: &[(Piece, bool)],
    hexes: &[Vec<[f64; 2]>],
    outline: &OutlineIndex,
) -> Vec<Edge> {
    let mut edges = Vec::new();
    for u in s..e {
        let cell = keys[u].1;
        let mine = &hexes[u];
        for n in cell.grid_disk::<Vec<_>>(1) {
            if n <= cell {
                continue;
            }
            let Some(&w) = by_key.get(&(v, n)) else {
                continue;
            };
            let theirs = &hexes[w as usize];
            let shared: Vec<[f64; 2]> = mine
                .iter()
                .copied()
                .filter(|p| theirs.iter().any(|q| q[0] == p[0] && q[1] == p[1]))
                .collect();
            let [a, b] = shared[..] else {
                continue;
            };
            let length = if pieces[u].1 || pieces[w as usize].1 {
                let near = outline.segments_near(clip::bbox_of(&[a, b]));
                clip::length_inside_m(a, b, outline, &near)
            } else {
                clip::haversine_m(a, b)
            };
            if length > 0.0 {
                edges.push(Edge {
                    a: u as u32,
                    b: w,
                    length_m: length,
                    kind: EdgeKind::Village,
                });
            }
        }
    }
    edges
}

/// Edges from clipped units `s..e` (one village) to clipped units of other villages in the
/// same or a neighbouring hexagon, each pair found from its lower index.
fn cross_edges(
    s: usize,
    e: usize,
    keys: &[(u32, CellIndex)],
    clipped_by_cell: &HashMap<CellIndex, Vec<u32>>,
) -> Vec<Edge> {
    let mut edges = Vec::new();
    for u in s..e {
        let (v, cell) = keys[u];
        let Some(here) = clipped_by_cell.get(&cell) else {
            continue;
        };
        if !here.contains(&(u as u32)) {
            continue;
        }
        let edge_m = cell.edges().next().map_or(0.0, |d| d.length_m());
        for n in cell.grid_disk::<Vec<_>>(1) {
            for &w in clipped_by_cell.get(&n).map_or(&[][..], Vec::as_slice) {
                if w as usize > u && keys[w as usize].0 != v {
                    edges.push(Edge {
                        a: u as u32,
                        b: w,
                        length_m: if n == cell { edge_m } else { edge_m / 2.0 },
                        kind: EdgeKind::CrossVillage,
                    });
                }
            }
        }
    }
    edges
}

/// Joins every piece of units `s..e` that village edges leave apart to the largest piece,
/// by a bridge between the nearest centres.
fn bridge(s: usize, e: usize, centres: &[[f64; 2]], edges: &mut Vec<Edge>) {
    let n = e - s;
    if n < 2 {
        return;
    }
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for edge in edges.iter().filter(|e| e.kind == EdgeKind::Village) {
        let (a, b) = (
            find(&mut parent, edge.a as usize - s),
            find(&mut parent, edge.b as usize - s),
        );
        if a != b {
            parent[a.max(b)] = a.min(b);
        }
    }
    let roots: Vec<usize> = (0..n).map(|x| find(&mut parent, x)).collect();
    let mut sizes: HashMap<usize, usize> = HashMap::new();
    for &r in &roots {
        *sizes.entry(r).or_default() += 1;
    }
    if sizes.len() < 2 {
        return;
    }
    // The largest piece, the lowest root among equals.
    let main = sizes
        .iter()
        .max_by_key(|&(&r, &size)| (size, std::cmp::Reverse(r)))
        .map(|(&r, _)| r)
        .expect("two pieces");
    let in_main: Vec<usize> = (0..n).filter(|&x| roots[x] == main).collect();
    let mut others: Vec<usize> = sizes.keys().copied().filter(|&r| r != main).collect();
    others.sort_unstable();
    for r in others {
        let mut best = (f64::INFINITY, 0, 0);
        for x in (0..n).filter(|&x| roots[x] == r) {
            for &y in &in_main {
                let d = clip::haversine_m(centres[s + x], centres[s + y]);
                if d < best.0 {
                    best = (d, x, y);
                }
            }
        }
        let (a, b) = ((s + best.1) as u32, (s + best.2) as u32);
        edges.push(Edge {
            a: a.min(b),
            b: a.max(b),
            length_m: 0.0,
            kind: EdgeKind::Bridge,
        });
    }
}

/// The unit whose centre is nearest `at`, searched ring by ring around `cell`.
fn nearest_unit(
    cell: CellIndex,
    at: [f64; 2],
    by_cell: &HashMap<CellIndex, Vec<u32>>,
    centres: &[[f64; 2]],
) -> Option<u32> {
    let closest = |candidates: &mut dyn Iterator<Item = u32>| {
        candidates
            .map(|u| (clip::haversine_m(at, centres[u as usize]), u))
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
            .map(|(_, u)| u)
    };
    let within = |k: u32| -> Vec<u32> {
        cell.grid_disk::<Vec<_>>(k)
            .iter()
            .flat_map(|c| by_cell.get(c).into_iter().flatten().copied())
            .collect()
    };
    for k in 1..=8u32 {
        if !within(k).is_empty() {
            // A centre one ring further out may still be nearer the point than those found.
            return closest(&mut within(k + 1).into_iter());
        }
    }
    closest(&mut (0..centres.len() as u32))
}

/// The current cell of a unit centred at `centre`; see [`Unit::current`].
fn current_cell(
    centre: [f64; 2],
    households_by_cell: &[(u32, u32)],
    own: &[u32],
    cells: &[(u32, u32, MultiPolygon<f64>)],
    outlines: &[OutlineIndex],
    grid: &BoxGrid,
) -> Option<u32> {
    if let Some(&c) = own.iter().find(|&&c| outlines[c as usize].contains(centre)) {
        return Some(cells[c as usize].0);
    }
    let own_keys: Vec<u32> = own.iter().map(|&c| cells[c as usize].0).collect();
    let most = |only_own: bool| {
        households_by_cell
            .iter()
            .filter(|(k, _)| !only_own || own_keys.contains(k))
            .max_by_key(|&&(k, n)| (n, std::cmp::Reverse(k)))
            .map(|&(k, _)| k)
    };
    if let Some(k) = most(true) {
        return Some(k);
    }
    let cos = centre[1].to_radians().cos();
    if let Some(&c) = own.iter().min_by(|&&a, &&b| {
        let (da, db) = (
            outlines[a as usize].distance2(centre, cos),
            outlines[b as usize].distance2(centre, cos),
        );
        da.total_cmp(&db).then(a.cmp(&b))
    }) {
        return Some(cells[c as usize].0);
    }
    if let Some(&c) = grid
        .candidates(centre)
        .iter()
        .find(|&&c| outlines[c as usize].contains(centre))
    {
        return Some(cells[c as usize].0);
    }
    most(false)
}
