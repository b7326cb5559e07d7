//! The atomic units new grid cells are made of: H3 hexagons clipped to their village, with
//! the load and households inside each, the current cell each lies in, and which units
//! touch and along how many metres.
//!
//! A village's units are the hexagons whose centre lies in its outline, plus every hexagon
//! holding one of its points, so no household is lost to a hexagon whose centre is across
//! the boundary. The hexagons' corners come from H3's vertex indexes, so neighbouring
//! hexagons share bit-identical corners and their outlines dissolve exactly. All of a
//! village's hexagons have one resolution: the one asked for, or with
//! [`build_units_adaptive`] the coarsest its households allow (see `detail.rs`), so
//! within a village edges and outlines stay exact; only edges between villages of
//! different resolutions are estimates.

use std::collections::HashMap;

use geo::MultiPolygon;
use h3o::geom::{ContainmentMode, TilerBuilder};
use h3o::{CellIndex, LatLng, Resolution, VertexIndex};

use super::clip::{self, Piece};
use super::detail::RESOLUTIONS;
use super::index_hash::IndexMap;
use super::outline_index::{BoxGrid, OutlineIndex};
use super::threads;
use crate::sphere::LonLat;

/// The resolution units are built at unless asked otherwise: about 2,150 m² a hexagon,
/// 25 m an edge, fine enough that cell boundaries follow streets of houses.
pub const DEFAULT_RESOLUTION: Resolution = Resolution::Eleven;

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
    /// The resolution asked for: every unit's with [`build_units`]; with
    /// [`build_units_adaptive`] the finer of it and the finest any village was given.
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
    /// One of [`RESOLUTIONS`]: every unit's with [`build_units`], the starting point of the
    /// rule with [`build_units_adaptive`].
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
    build(villages, cells, points, params, false)
}

/// [`build_units`], with each village's units as fine as its load needs: at
/// `params.resolution` where people live densely, coarser (down to 9) where a village would
/// have more than 300 hexagons per current cell and 2 per household, for as long as its
/// heaviest unit stays within 20% of its mean load per current cell (or no heavier than at
/// `params.resolution`); finer (up to 12) where its typical unit would hold more than 3% of
/// its mean load per current cell (blocks of flats), as long as the hexagons stay within the
/// same count. The graph's `resolution` is then the finer of the one asked for and the
/// finest any unit has.
///
/// Guarantees as [`build_units`]'; in addition every unit of one village has one resolution,
/// chosen from the village's own outline, points and current cells (so a village's units
/// do not depend on its neighbours), and coarsening never makes a unit heavier than the
/// rule allows. Cross-village edges between villages of different resolutions are
/// estimated from the hexagons' sizes and centres.
///
/// ```
/// use geo::{MultiPolygon, polygon};
/// use wangge_analysis::rebalance::{Point, UnitParams, build_units, build_units_adaptive};
/// // About 4.5 km² with a dozen households 300 m apart: no need for 2,000 units.
/// let village = MultiPolygon::new(vec![polygon![
///     (x: 102.50, y: 24.30), (x: 102.52, y: 24.30),
///     (x: 102.52, y: 24.32), (x: 102.50, y: 24.32),
/// ]]);
/// let points: Vec<Point> = (0..12)
///     .map(|i| Point { lon: 102.501 + 0.003 * (i % 6) as f64, lat: 24.305 + 0.003 * (i / 6) as f64, households: 1, load: 1.0 })
///     .collect();
/// let cells = [(1, 7, village.clone())];
/// let fine = build_units(&[(7, village.clone())], &cells, &points, &UnitParams::default())?;
/// let adaptive = build_units_adaptive(&[(7, village)], &cells, &points, &UnitParams::default())?;
/// assert!(adaptive.units.len() * 5 < fine.units.len());
/// assert_eq!(adaptive.units.iter().map(|u| u.households).sum::<u32>(), 12);
/// # Ok::<(), wangge_analysis::rebalance::UnitsError>(())
/// ```
pub fn build_units_adaptive(
    villages: &[(u32, MultiPolygon<f64>)],
    cells: &[(u32, u32, MultiPolygon<f64>)],
    points: &[Point],
    params: &UnitParams,
) -> Result<UnitGraph, UnitsError> {
    build(villages, cells, points, params, true)
}

fn build(
    villages: &[(u32, MultiPolygon<f64>)],
    cells: &[(u32, u32, MultiPolygon<f64>)],
    points: &[Point],
    params: &UnitParams,
    adaptive: bool,
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

    // Where each point is: its village, hexagon (at the finest resolution) and current cell.
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
    let cells_of_village: HashMap<u32, Vec<u32>> = {
        let mut m: HashMap<u32, Vec<u32>> = HashMap::new();
        for (i, c) in cells.iter().enumerate() {
            m.entry(c.1).or_default().push(i as u32);
        }
        m
    };
    // Each village's resolution, then the hexagons whose centre it holds.
    let res_of: Vec<Resolution> = if adaptive {
        use super::detail::Located;
        let mut mine: Vec<Vec<Located>> = vec![Vec::new(); outlines.len()];
        for (p, &(v, c, _)) in points.iter().zip(&located) {
            if let Some(v) = v {
                mine[v as usize].push((c, p.load, p.households, [p.lon, p.lat]));
            }
        }
        let work: Vec<(&OutlineIndex, Vec<Located>)> = outlines.iter().zip(mine).collect();
        threads::map(&work, threads, |v, (o, pts)| {
            let current = cells_of_village.get(&village_keys[v]).map_or(0, Vec::len);
            super::detail::resolution(o, pts, current, resolution)
        })
    } else {
        vec![resolution; outlines.len()]
    };
    type Tiled = Vec<(CellIndex, [f64; 2])>;
    let tiled: Vec<Result<Tiled, UnitsError>> = threads::map(&outlines, threads, |v, o| {
        centres_inside(o, res_of[v]).map_err(|message| UnitsError::Tiling {
            village: village_keys[v],
            message,
        })
    });
    // Units with their centres where tiling found them already (a hexagon's centre is the
    // costliest thing about it after its corners); NaN for those only points found.
    let mut entries: Vec<(u32, CellIndex, [f64; 2])> = Vec::new();
    for (v, cells_of) in tiled.into_iter().enumerate() {
        entries.extend(cells_of?.into_iter().map(|(c, at)| (v as u32, c, at)));
    }
    // The hexagon holding the point at its village's resolution (not the parent of its
    // finest one, which need not hold it: children spill over their parent's edge).
    let unit_cell = |v: u32, c: CellIndex, p: &Point| {
        let r = res_of[v as usize];
        if r == resolution {
            c
        } else {
            LatLng::new(p.lat, p.lon).expect("checked above").to_cell(r)
        }
    };
    entries.extend(
        located
            .iter()
            .zip(points)
            .filter_map(|(&(v, c, _), p)| v.map(|v| (v, unit_cell(v, c, p), [f64::NAN; 2]))),
    );
    entries.sort_unstable_by_key(|&(v, c, at)| (v, c, at[0].is_nan()));
    entries.dedup_by_key(|e| (e.0, e.1));
    let keys: Vec<(u32, CellIndex)> = entries.iter().map(|&(v, c, _)| (v, c)).collect();
    if keys.len() > MAX_UNITS {
        return Err(UnitsError::TooMany(keys.len()));
    }
    let by_key: IndexMap<(u32, CellIndex), u32> = keys
        .iter()
        .enumerate()
        .map(|(i, &k)| (k, i as u32))
        .collect();
    let mut by_cell: IndexMap<CellIndex, Vec<u32>> = IndexMap::default();
    for (i, &(_, c)) in keys.iter().enumerate() {
        by_cell.entry(c).or_default().push(i as u32);
    }
    let centres: Vec<[f64; 2]> = entries
        .iter()
        .map(|&(_, c, at)| {
            if at[0].is_nan() {
                let ll = LatLng::from(c);
                [ll.lng(), ll.lat()]
            } else {
                at
            }
        })
        .collect();
    drop(entries);

    // Loads and households, and who holds which current cell's households.
    let mut load = vec![0.0; keys.len()];
    let mut households = vec![0u32; keys.len()];
    let mut by_current: Vec<Vec<(u32, u32)>> = vec![Vec::new(); keys.len()];
    let mut points_outside = 0;
    let mut others: Vec<Resolution> = res_of
        .iter()
        .copied()
        .filter(|&r| r != resolution)
        .collect();
    others.sort_unstable();
    others.dedup();
    for (p, &(village, cell, current)) in points.iter().zip(&located) {
        let unit = match village {
            Some(v) => by_key[&(v, unit_cell(v, cell, p))],
            None => {
                points_outside += 1;
                match nearest_unit(cell, &others, [p.lon, p.lat], &by_cell, &centres) {
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
            // Three hexagons share each corner, and neighbours are mostly near in H3
            // order: each corner's position is worked out once per chunk.
            let mut seen: IndexMap<VertexIndex, [f64; 2]> = IndexMap::default();
            chunk
                .iter()
                .map(|&(_, c)| corners_with(c, &mut seen))
                .collect::<Vec<_>>()
        })
        .into_iter()
        .flatten()
        .collect()
    };
    let pieces: Vec<Vec<(Piece, bool)>> = threads::map(&ranges, threads, |v, &(s, e)| {
        (s..e)
            .map(|u| measure(centres[u][1], &hexes[u], &outlines[v]))
            .collect()
    });
    let pieces: Vec<(Piece, bool)> = pieces.into_iter().flatten().collect();

    let clipped = ClippedIndex::new(&keys, &pieces, &centres);
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
            edges.extend(clipped.edges(s, e, &keys));
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
        resolution: res_of.iter().copied().fold(resolution, Resolution::max),
        units,
        edges,
        points_outside,
    })
}

/// The hexagon's corners from its vertex indexes (bit-identical to its neighbours'),
/// counter-clockwise.
pub(crate) fn corners(cell: CellIndex) -> Vec<[f64; 2]> {
    corners_with(cell, &mut IndexMap::default())
}

/// [`corners`], reusing and keeping corner positions in `seen`.
fn corners_with(cell: CellIndex, seen: &mut IndexMap<VertexIndex, [f64; 2]>) -> Vec<[f64; 2]> {
    clip::counter_clockwise(
        cell.vertexes()
            .map(|v| {
                *seen.entry(v).or_insert_with(|| {
                    let ll = LatLng::from(v);
                    [ll.lng(), ll.lat()]
                })
            })
            .collect(),
    )
}

/// The hexagons at `resolution` whose centre `outline` holds: its bounding box tiled by
/// h3o (its polygon tiler is far slower on detailed outlines), each centre then tested.
fn centres_inside(
    outline: &OutlineIndex,
    resolution: Resolution,
) -> Result<Vec<(CellIndex, [f64; 2])>, String> {
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
    let mut inside: Vec<(CellIndex, [f64; 2])> = tiler
        .into_coverage()
        .filter_map(|c| {
            let ll = LatLng::from(c);
            let at = [ll.lng(), ll.lat()];
            outline.contains(at).then_some((c, at))
        })
        .collect();
    inside.sort_unstable_by_key(|x| x.0);
    inside.dedup_by_key(|x| x.0);
    Ok(inside)
}

/// The piece of the hexagon `hex` (centred at latitude `lat`) inside `outline`, and
/// whether the outline cuts it.
fn measure(lat: f64, hex: &[[f64; 2]], outline: &OutlineIndex) -> (Piece, bool) {
    match clip::edges_near(hex, outline) {
        None => {
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
    by_key: &IndexMap<(u32, CellIndex), u32>,
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

/// The clipped units (those the village outline cuts), by their hexagon's ancestor at the
/// coarsest resolution any of them has: where units of neighbouring villages meet.
struct ClippedIndex<'a> {
    coarsest: Resolution,
    mixed: bool,
    by_cell: IndexMap<CellIndex, Vec<u32>>,
    centres: &'a [[f64; 2]],
}

impl<'a> ClippedIndex<'a> {
    fn new(keys: &[(u32, CellIndex)], pieces: &[(Piece, bool)], centres: &'a [[f64; 2]]) -> Self {
        let clipped = || (0..keys.len()).filter(|&i| pieces[i].1);
        let coarsest = clipped()
            .map(|i| keys[i].1.resolution())
            .min()
            .unwrap_or(Resolution::Zero);
        let mixed = clipped().any(|i| keys[i].1.resolution() != coarsest);
        let mut by_cell: IndexMap<CellIndex, Vec<u32>> = IndexMap::default();
        for i in clipped() {
            let at = keys[i].1.parent(coarsest).expect("coarser");
            by_cell.entry(at).or_default().push(i as u32);
        }
        ClippedIndex {
            coarsest,
            mixed,
            by_cell,
            centres,
        }
    }

    /// Edges from clipped units `s..e` (one village) to clipped units of other villages in
    /// the same or a neighbouring hexagon, each pair found from its lower index. Between
    /// hexagons of different resolutions, those whose centres are closer than their edge
    /// lengths (their circumradii) together.
    fn edges(&self, s: usize, e: usize, keys: &[(u32, CellIndex)]) -> Vec<Edge> {
        let mut edges = Vec::new();
        for u in s..e {
            let (v, cell) = keys[u];
            let Some(at) = cell.parent(self.coarsest) else {
                continue;
            };
            let Some(here) = self.by_cell.get(&at) else {
                continue;
            };
            if !here.contains(&(u as u32)) {
                continue;
            }
            let res = cell.resolution();
            let edge_m = res.edge_length_m();
            let reach = if self.mixed { 2 } else { 1 };
            for n in at.grid_disk::<Vec<_>>(reach) {
                for &w in self.by_cell.get(&n).map_or(&[][..], Vec::as_slice) {
                    let (wv, wc) = keys[w as usize];
                    if w as usize <= u || wv == v {
                        continue;
                    }
                    let length_m = if wc.resolution() == res {
                        if wc == cell {
                            edge_m
                        } else if cell.is_neighbor_with(wc).unwrap_or(false) {
                            edge_m / 2.0
                        } else {
                            continue;
                        }
                    } else {
                        let theirs = wc.resolution().edge_length_m();
                        let d = clip::haversine_m(self.centres[u], self.centres[w as usize]);
                        if d > edge_m + theirs {
                            continue;
                        }
                        edge_m.min(theirs) / 2.0
                    };
                    edges.push(Edge {
                        a: u as u32,
                        b: w,
                        length_m,
                        kind: EdgeKind::CrossVillage,
                    });
                }
            }
        }
        edges
    }
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

/// The unit whose centre is nearest `at`, searched ring by ring around `cell` (with the
/// parents or children of each ring's hexagons at the `other` resolutions units have).
fn nearest_unit(
    cell: CellIndex,
    other: &[Resolution],
    at: [f64; 2],
    by_cell: &IndexMap<CellIndex, Vec<u32>>,
    centres: &[[f64; 2]],
) -> Option<u32> {
    let closest = |candidates: &mut dyn Iterator<Item = u32>| {
        candidates
            .map(|u| (clip::haversine_m(at, centres[u as usize]), u))
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
            .map(|(_, u)| u)
    };
    let within = |k: u32| -> Vec<u32> {
        let mut found: Vec<u32> = cell
            .grid_disk::<Vec<_>>(k)
            .iter()
            .flat_map(|&c| {
                let at = other.iter().flat_map(move |&r| {
                    let parent = c.parent(r).into_iter();
                    let children = (r > c.resolution()).then(|| c.children(r));
                    parent.chain(children.into_iter().flatten())
                });
                std::iter::once(c).chain(at)
            })
            .flat_map(|c| by_cell.get(&c).into_iter().flatten().copied())
            .collect();
        found.sort_unstable();
        found.dedup();
        found
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

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    /// A crowded village (west) beside a large, nearly empty one (east).
    fn two_villages() -> (Vec<(u32, MultiPolygon<f64>)>, Vec<Point>) {
        let west = MultiPolygon::new(vec![polygon![
            (x: 102.500, y: 24.300), (x: 102.510, y: 24.300),
            (x: 102.510, y: 24.330), (x: 102.500, y: 24.330),
        ]]);
        let east = MultiPolygon::new(vec![polygon![
            (x: 102.510, y: 24.300), (x: 102.560, y: 24.300),
            (x: 102.560, y: 24.330), (x: 102.510, y: 24.330),
        ]]);
        let mut points: Vec<Point> = (0..3000)
            .map(|i| Point {
                lon: 102.5003 + 0.0094 * ((i % 50) as f64 / 50.0),
                lat: 24.3003 + 0.0294 * ((i / 50) as f64 / 60.0),
                households: 1,
                load: 1.0,
            })
            .collect();
        points.extend((0..20).map(|i| Point {
            lon: 102.52 + 0.0015 * i as f64,
            lat: 24.315,
            households: 1,
            load: 1.0,
        }));
        (vec![(1, west), (2, east)], points)
    }

    #[test]
    fn adaptive_units_are_coarse_only_where_few_live_and_lose_nothing() {
        let (villages, points) = two_villages();
        let cells: Vec<(u32, u32, MultiPolygon<f64>)> = villages
            .iter()
            .map(|(k, m)| (10 + k, *k, m.clone()))
            .collect();
        let params = UnitParams {
            resolution: Resolution::Eleven,
            threads: 1,
        };
        let g = build_units_adaptive(&villages, &cells, &points, &params).unwrap();
        let res = |v: u32| {
            let mut r: Vec<u8> = g
                .units
                .iter()
                .filter(|u| u.village == v)
                .map(|u| u8::from(u.cell.resolution()))
                .collect();
            r.dedup();
            r
        };
        assert_eq!(res(1), vec![11], "the crowded village stays fine");
        assert_eq!(res(2).len(), 1, "one resolution per village");
        assert!(res(2)[0] < 11, "the empty one is coarser");
        assert_eq!(g.units.iter().map(|u| u.households).sum::<u32>(), 3020);
        // Each village's units are one connected graph by village edges and bridges.
        for v in [1, 2] {
            let ids: Vec<usize> = (0..g.units.len())
                .filter(|&u| g.units[u].village == v)
                .collect();
            let mut seen = vec![false; g.units.len()];
            let mut stack = vec![ids[0]];
            seen[ids[0]] = true;
            let mut reached = 0;
            while let Some(u) = stack.pop() {
                reached += 1;
                for e in &g.edges {
                    if e.kind == EdgeKind::CrossVillage {
                        continue;
                    }
                    let (a, b) = (e.a as usize, e.b as usize);
                    let other = if a == u {
                        b
                    } else if b == u {
                        a
                    } else {
                        continue;
                    };
                    if !seen[other] {
                        seen[other] = true;
                        stack.push(other);
                    }
                }
            }
            assert_eq!(reached, ids.len(), "village {v}");
        }
        // The villages meet across resolutions.
        assert!(g.edges.iter().any(|e| e.kind == EdgeKind::CrossVillage
            && g.units[e.a as usize].cell.resolution() != g.units[e.b as usize].cell.resolution()));
        let threaded = UnitParams {
            threads: 3,
            ..params
        };
        assert_eq!(
            build_units_adaptive(&villages, &cells, &points, &threaded).unwrap(),
            g
        );
        // Uniform building is unchanged: every unit at the resolution asked for.
        let uniform = build_units(&villages, &cells, &points, &params).unwrap();
        assert!(
            uniform
                .units
                .iter()
                .all(|u| u.cell.resolution() == Resolution::Eleven)
        );
        assert!(uniform.units.len() > 2 * g.units.len());
    }
}
