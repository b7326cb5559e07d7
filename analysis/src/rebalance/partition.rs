//! The partition: units into cells that are contiguous, compact, nested in villages,
//! balanced within a tolerance, and that move as few households as they can from their
//! current cell.
//!
//! With nesting, the cells are first shared among villages ([`apportion`]); each village is
//! then partitioned on its own, on as many threads as asked, with the same result on any
//! number of them. A group starts from its current cells ([`initial`]), or afresh
//! ([`bisect`]) when they could keep few households in place anyway, and is improved by
//! moves of boundary units ([`local_search`]), aiming first at the village's mean and then,
//! where that leaves a cell outside, at anything within the tolerance. A village left
//! outside is reported with why: its share of cells, units too coarse for the band (its
//! typical unit over half the band's width), or the search stalling.

use super::apportion::{ApportionError, apportion};
use super::bisect::bisect;
use super::group::{self, Group};
use super::initial::initial;
use super::local_search::{Band, improve};
use super::params::{Params, Target};
use super::summary::{Plan, Shortfall, summarise};
use super::threads;
use super::units::UnitGraph;

/// Why there is no plan at all (an unreachable tolerance is not an error: see
/// [`Plan::tolerance_met`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RebalanceError {
    #[error("there are no units to partition")]
    NoUnits,
    #[error("a plan needs at least one cell")]
    NoCells,
    #[error("the tolerance must be finite and between 0 and 1, not {0}")]
    BadTolerance(f64),
    #[error("the load per cell must be finite and positive, not {0}")]
    BadLoadPerCell(f64),
    #[error("{cells} cells for {villages} villages with units: too few to nest, turn nesting off")]
    TooFewCellsToNest { cells: usize, villages: usize },
    #[error("{cells} cells from {units} units: a cell needs a unit")]
    TooFewUnits { cells: usize, units: usize },
}

/// Partitions `graph`'s units into cells per `params`.
///
/// Guarantees: every unit gets a part; each part is one connected piece of the unit graph
/// when its group's graph is connected (always with nesting, where bridges join a village's
/// pieces; without nesting, villages joined only through cross-village edges), and
/// [`super::PartSummary::contiguous`] reports it either way; with nesting each part lies in
/// one village; the same input gives the same plan on any thread count. Balance is sought,
/// not promised: when it cannot be reached (a unit heavier than the band, a village whose
/// share of cells forces a deviation, units too coarse to tune a cell within the band, or
/// the search stalling) the plan still comes back, with [`Plan::tolerance_met`] false and
/// the reasons in [`Plan::shortfalls`].
pub fn rebalance(graph: &UnitGraph, params: &Params) -> Result<Plan, RebalanceError> {
    if graph.units.is_empty() {
        return Err(RebalanceError::NoUnits);
    }
    if !(params.tolerance.is_finite() && (0.0..1.0).contains(&params.tolerance)) {
        return Err(RebalanceError::BadTolerance(params.tolerance));
    }
    let total: f64 = graph.units.iter().map(|u| u.load).sum();
    // Groups: each village's range of units, or everything.
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    if params.nest_in_villages {
        let mut s = 0;
        while s < graph.units.len() {
            let v = graph.units[s].village;
            let e = s + graph.units[s..].partition_point(|u| u.village == v);
            ranges.push((s, e));
            s = e;
        }
    } else {
        ranges.push((0, graph.units.len()));
    }
    let loads: Vec<f64> = ranges
        .iter()
        .map(|&(s, e)| graph.units[s..e].iter().map(|u| u.load).sum())
        .collect();
    let sizes: Vec<usize> = ranges.iter().map(|&(s, e)| e - s).collect();
    let (counts, target_load) = match params.target {
        Target::Cells(0) => return Err(RebalanceError::NoCells),
        Target::Cells(n) => {
            let counts = apportion(&loads, &sizes, n).map_err(|e| match e {
                ApportionError::TooFewCells { cells, villages } => {
                    RebalanceError::TooFewCellsToNest { cells, villages }
                }
                ApportionError::TooFewUnits { cells, units } => {
                    RebalanceError::TooFewUnits { cells, units }
                }
                ApportionError::BadLoad => RebalanceError::NoUnits,
            })?;
            (counts, if total > 0.0 { total / n as f64 } else { 1.0 })
        }
        Target::LoadPerCell(l) => {
            if !(l.is_finite() && l > 0.0) {
                return Err(RebalanceError::BadLoadPerCell(l));
            }
            let counts = loads
                .iter()
                .zip(&sizes)
                .map(|(&load, &units)| nearest_count(load, l).min(units))
                .collect();
            (counts, l)
        }
    };
    let cap = |n: usize| {
        if params.max_moves > 0 {
            params.max_moves
        } else {
            50 * n + 1000
        }
    };
    let work: Vec<(usize, (usize, usize))> =
        counts.iter().copied().zip(ranges.iter().copied()).collect();
    let solved: Vec<(Vec<u32>, bool, usize, Option<f64>)> =
        threads::map(&work, params.threads, |_, &(k, (s, e))| {
            let g = Group::new(graph, s, e, !params.nest_in_villages);
            let mut part = start(&g, k);
            let parts = part.iter().max().map_or(0, |&p| p as usize + 1);
            let cell_of = group::match_cells(group::overlap(&g, &part), parts);
            let part_of_cell: std::collections::HashMap<u32, u32> = cell_of
                .iter()
                .enumerate()
                .filter_map(|(p, c)| c.map(|c| (c, p as u32)))
                .collect();
            let home = (0..g.len())
                .map(|u| {
                    g.unit(u)
                        .households_by_cell
                        .iter()
                        .filter_map(|&(c, h)| part_of_cell.get(&c).map(|&p| (p, h)))
                        .collect()
                })
                .collect();
            let group_load: f64 = (0..g.len()).map(|u| g.unit(u).load).sum();
            let aim = if parts > 0 {
                group_load / parts as f64
            } else {
                0.0
            };
            let room = params.tolerance * target_load - (aim - target_load).abs();
            // The search first aims at the village's own mean: within the room its share
            // leaves (where the share already breaks the tolerance, within a tenth of the
            // tolerance: chasing exact equality there costs many tiny moves and buys nothing
            // the flag does not already say). Aiming at the middle keeps every part clear
            // of the band's edges, which is what leaves a walled-in part a neighbour to
            // pass load to. Then, where that left a part outside the tolerance itself, the
            // band is the tolerance: any load within it will do, on either side of the
            // mean.
            let narrow = Band::around(aim, room.max(0.1 * params.tolerance * target_load));
            let bands = if room > 0.0 {
                let tolerance = Band {
                    aim,
                    lo: target_load * (1.0 - params.tolerance),
                    hi: target_load * (1.0 + params.tolerance),
                };
                vec![narrow, tolerance]
            } else {
                vec![narrow]
            };
            let outcome = improve(&g, &mut part, parts, home, &bands, cap(e - s));
            let stuck = outcome.stuck && room > 0.0;
            // Why it stuck: units too coarse for the band, or the search.
            let typical = typical_load(&g);
            let width = 2.0 * params.tolerance * target_load;
            let coarse = (stuck && typical > COARSE * width).then_some(typical);
            (part, stuck, outcome.moves, coarse)
        });

    let mut assignment = Vec::with_capacity(graph.units.len());
    let mut offset = 0u32;
    let mut stalled = Vec::new();
    let mut moves = 0;
    for (i, (part, stuck, m, coarse)) in solved.into_iter().enumerate() {
        let parts = part.iter().max().map_or(0, |&p| p + 1);
        assignment.extend(part.iter().map(|&p| p + offset));
        if stuck {
            let village = if params.nest_in_villages {
                Some(graph.units[ranges[i].0].village)
            } else {
                None
            };
            stalled.push(match coarse {
                Some(typical_load) => Shortfall::CoarseUnits {
                    village,
                    typical_load,
                    band_width: 2.0 * params.tolerance * target_load,
                },
                None => Shortfall::Stalled { village },
            });
        }
        moves += m;
        offset += parts;
    }
    let mut plan = summarise(graph, assignment, target_load, params);
    plan.moves = moves;
    for (i, (&k, &(s, _))) in counts.iter().zip(&ranges).enumerate() {
        let mean = loads[i] / k as f64;
        if params.nest_in_villages && (mean / target_load - 1.0).abs() > params.tolerance {
            plan.shortfalls.push(Shortfall::VillageShare {
                village: graph.units[s].village,
                cells: k,
                mean_deviation: mean / target_load - 1.0,
            });
        }
    }
    for (u, unit) in graph.units.iter().enumerate() {
        if unit.load > target_load * (1.0 + params.tolerance) {
            plan.shortfalls.push(Shortfall::HeavyUnit {
                unit: u as u32,
                load: unit.load,
            });
        }
    }
    if !plan.tolerance_met {
        plan.shortfalls.extend(stalled);
    }
    Ok(plan)
}

/// The partition a group's search starts from: its current cells, merged or split to `k`
/// ([`initial`]), unless even the best `k` of them could keep fewer than half its households
/// where they are; then most households move whatever the start, and a fresh compact,
/// balanced partition ([`bisect`]) is the better start (it needs a connected group).
fn start(g: &Group<'_>, k: usize) -> Vec<u32> {
    let mut by_cell: std::collections::HashMap<u32, u64> = Default::default();
    let mut households = 0u64;
    for u in 0..g.len() {
        let unit = g.unit(u);
        households += u64::from(unit.households);
        for &(c, h) in &unit.households_by_cell {
            *by_cell.entry(c).or_default() += u64::from(h);
        }
    }
    let mut sizes: Vec<u64> = by_cell.into_values().collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    let keepable: u64 = sizes.iter().take(k).sum();
    if 2 * keepable < households
        && let Some(part) = bisect(g, k)
    {
        return part;
    }
    initial(g, k)
}

/// How heavy a group's typical unit may be, as a share of the band's width, before a part
/// left outside the band is put down to the units rather than the search: a part's load
/// then changes in steps of more than half the band, and landing in it is luck.
const COARSE: f64 = 0.5;

/// The load of the unit a typical unit of load lies in: Σ load² / Σ load over the group's
/// units (0 without load). Unlike the heaviest unit, one block of flats does not make it.
fn typical_load(g: &Group<'_>) -> f64 {
    let (mut sum, mut squares) = (0.0, 0.0);
    for u in 0..g.len() {
        let l = g.unit(u).load;
        sum += l;
        squares += l * l;
    }
    if sum > 0.0 { squares / sum } else { 0.0 }
}

/// The count of cells (≥ 1) whose load each is nearest `per_cell` in relative terms.
fn nearest_count(load: f64, per_cell: f64) -> usize {
    let k = (load / per_cell).floor().max(1.0) as usize;
    let dev = |k: usize| (load / k as f64 / per_cell - 1.0).abs();
    if dev(k + 1) < dev(k) { k + 1 } else { k }
}
