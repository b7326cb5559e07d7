//! The figures of a plan: each part's load, size, shape and contiguity, the largest
//! deviation from the target, and how many households changed cell.
//!
//! Households moved: each part is matched to the current cell it shares the most households
//! with, one to one, greedily (most shared first); a household is moved when the part its
//! unit is in is not matched to the current cell its point lies in. Households in no
//! current cell are never counted as moved.

use std::collections::{HashMap, VecDeque};

use super::group;
use super::params::Params;
use super::units::{EdgeKind, UnitGraph};

/// One part (new cell) of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PartSummary {
    /// The village all its units lie in; `None` when they span several.
    pub village: Option<u32>,
    pub load: f64,
    pub households: u64,
    pub units: usize,
    /// Sum of its units' clipped areas, m².
    pub area_m2: f64,
    /// Its units' perimeters less twice the boundary they share with each other, m.
    pub perimeter_m: f64,
    /// 4πA/P²: 1 for a disc, about 0.9 for a hexagon, towards 0 for a ragged shape.
    pub polsby_popper: f64,
    /// Whether its units form one piece of the unit graph (edges of any kind when cells do
    /// not nest; village edges and bridges when they do).
    pub contiguous: bool,
    /// load / target − 1.
    pub deviation: f64,
    /// The current cell it was matched to, if any.
    pub previous_cell: Option<u32>,
}

/// Why a plan falls short of the tolerance.
#[derive(Debug, Clone, PartialEq)]
pub enum Shortfall {
    /// A unit heavier than the tolerance allows a whole cell to be.
    HeavyUnit { unit: u32, load: f64 },
    /// A village whose load over the cells it got is itself outside the tolerance.
    VillageShare {
        village: u32,
        cells: usize,
        mean_deviation: f64,
    },
    /// The search stopped with a part still outside the band, and the group's units are
    /// too coarse to expect better: its typical unit (the one the average unit of load lies
    /// in, Σ load² / Σ load) carries more than half the band's width, so a cell's load moves
    /// in steps too large to land in the band but by luck. Finer units would help (see
    /// [`super::build_units_adaptive`]); `village` is `None` without nesting.
    CoarseUnits {
        village: Option<u32>,
        typical_load: f64,
        /// The band's width in load: twice the tolerance times the target load.
        band_width: f64,
    },
    /// The search found no further move that helped (or hit its cap) with a part still
    /// outside the band, though the units are fine enough; `village` is `None` without
    /// nesting.
    Stalled { village: Option<u32> },
}

/// A rebalanced partition and its figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The part of each unit (graph order).
    pub assignment: Vec<u32>,
    pub parts: Vec<PartSummary>,
    /// The load every part aims at.
    pub target_load: f64,
    pub tolerance: f64,
    /// max |load / target − 1| over parts.
    pub max_deviation: f64,
    pub mean_polsby_popper: f64,
    /// Households whose unit's part is not matched to their current cell.
    pub households_moved: u64,
    pub households: u64,
    /// Whether every part is within the tolerance.
    pub tolerance_met: bool,
    /// Why it is not, when it is not (possibly several reasons).
    pub shortfalls: Vec<Shortfall>,
    /// Unit moves the local search made.
    pub moves: usize,
}

impl Plan {
    /// The share of parts that are contiguous, 0 to 1.
    pub fn contiguous_share(&self) -> f64 {
        if self.parts.is_empty() {
            return 1.0;
        }
        self.parts.iter().filter(|p| p.contiguous).count() as f64 / self.parts.len() as f64
    }
}

/// The figures of `assignment` on `graph`.
pub(crate) fn summarise(
    graph: &UnitGraph,
    assignment: Vec<u32>,
    target_load: f64,
    params: &Params,
) -> Plan {
    let parts = assignment.iter().max().map_or(0, |&p| p as usize + 1);
    let counts_edge = |kind: EdgeKind| !params.nest_in_villages || kind != EdgeKind::CrossVillage;
    let mut sums = vec![
        PartSummary {
            village: None,
            load: 0.0,
            households: 0,
            units: 0,
            area_m2: 0.0,
            perimeter_m: 0.0,
            polsby_popper: 0.0,
            contiguous: true,
            deviation: 0.0,
            previous_cell: None,
        };
        parts
    ];
    let mut village: Vec<Option<Option<u32>>> = vec![None; parts];
    for (u, &p) in assignment.iter().enumerate() {
        let unit = &graph.units[u];
        let s = &mut sums[p as usize];
        s.load += unit.load;
        s.households += u64::from(unit.households);
        s.units += 1;
        s.area_m2 += unit.area_m2;
        s.perimeter_m += unit.perimeter_m;
        village[p as usize] = match village[p as usize] {
            None => Some(Some(unit.village)),
            Some(Some(v)) if v == unit.village => Some(Some(v)),
            _ => Some(None),
        };
    }
    let mut adjacency: Vec<Vec<u32>> = vec![Vec::new(); graph.units.len()];
    for e in &graph.edges {
        if assignment[e.a as usize] == assignment[e.b as usize] {
            sums[assignment[e.a as usize] as usize].perimeter_m -= 2.0 * e.length_m;
            if counts_edge(e.kind) {
                adjacency[e.a as usize].push(e.b);
                adjacency[e.b as usize].push(e.a);
            }
        }
    }
    // Contiguity: one search per part from its first unit.
    let mut reached = vec![false; graph.units.len()];
    let mut first: Vec<Option<usize>> = vec![None; parts];
    for (u, &p) in assignment.iter().enumerate() {
        first[p as usize].get_or_insert(u);
    }
    let mut reach_count = vec![0usize; parts];
    for (p, start) in first.iter().enumerate() {
        let Some(start) = *start else { continue };
        reached[start] = true;
        let mut queue = VecDeque::from([start]);
        while let Some(u) = queue.pop_front() {
            reach_count[p] += 1;
            for &v in &adjacency[u] {
                if !reached[v as usize] {
                    reached[v as usize] = true;
                    queue.push_back(v as usize);
                }
            }
        }
    }
    // Matching to current cells, over all parts at once.
    let mut overlap: HashMap<(u32, u32), u64> = HashMap::new();
    for (u, &p) in assignment.iter().enumerate() {
        for &(c, h) in &graph.units[u].households_by_cell {
            *overlap.entry((p, c)).or_default() += u64::from(h);
        }
    }
    let cell_of = group::match_cells(
        overlap.iter().map(|(&(p, c), &h)| (p, c, h)).collect(),
        parts,
    );
    let mut moved = 0u64;
    for (u, &p) in assignment.iter().enumerate() {
        for &(c, h) in &graph.units[u].households_by_cell {
            if cell_of[p as usize] != Some(c) {
                moved += u64::from(h);
            }
        }
    }
    for (p, s) in sums.iter_mut().enumerate() {
        s.village = village[p].flatten();
        s.contiguous = reach_count[p] == s.units;
        s.perimeter_m = s.perimeter_m.max(0.0);
        s.polsby_popper = if s.perimeter_m > 0.0 {
            4.0 * std::f64::consts::PI * s.area_m2 / (s.perimeter_m * s.perimeter_m)
        } else {
            0.0
        };
        s.deviation = s.load / target_load - 1.0;
        s.previous_cell = cell_of[p];
    }
    let max_deviation = sums.iter().map(|s| s.deviation.abs()).fold(0.0, f64::max);
    let mean_polsby_popper = if parts > 0 {
        sums.iter().map(|s| s.polsby_popper).sum::<f64>() / parts as f64
    } else {
        0.0
    };
    Plan {
        assignment,
        parts: sums,
        target_load,
        tolerance: params.tolerance,
        max_deviation,
        mean_polsby_popper,
        households_moved: moved,
        households: graph.units.iter().map(|u| u64::from(u.households)).sum(),
        tolerance_met: max_deviation <= params.tolerance + 1e-9,
        shortfalls: Vec::new(),
        moves: 0,
    }
}
