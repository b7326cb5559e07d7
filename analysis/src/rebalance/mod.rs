//! Grid rebalancing: redrawing grid cells when workload shifts.
//!
//! Cells are made of small atomic units, H3 hexagons clipped to their village
//! ([`build_units`]), so that new boundaries follow where people live;
//! [`build_units_adaptive`] builds each village only as fine as its households need (25 m
//! hexagons in a crowded neighbourhood, coarser over empty hillsides, which is what makes a
//! whole city quick; 9 m ones among blocks of flats, where 25 m would be too coarse a step
//! to tune a cell by). [`rebalance`] partitions the units into N cells (or cells of a target
//! load) that are contiguous, compact, nested in villages, balanced within a tolerance (±5%
//! by default) and that move as few households as they can from their current cell: cells
//! are shared among villages ([`apportion`]); each village starts from its current cells
//! (or, when those could keep few households in place anyway, from a fresh recursive
//! bisection into compact parts of equal load), and boundary units move between
//! neighbouring cells until loads are within the band: one at a time, or where no single
//! move helps a connected bite of one cell taken by its neighbour, load passed along a
//! chain of cells, and last two cells cut again as one. Contiguity is kept by every step,
//! not repaired after. The [`Plan`] says honestly when the tolerance cannot be met, and why
//! ([`Shortfall`]: a unit heavier than the band, a village's share of cells, units too
//! coarse for the band, or the search stalling). [`outlines`] draws each
//! new cell.
//!
//! Pure: plain data in and out, no I/O; villages run in parallel with results that do not
//! depend on the thread count.
//!
//! ```
//! use geo::{MultiPolygon, polygon};
//! use wangge_analysis::rebalance::{Params, Point, Target, UnitParams, build_units, rebalance};
//! // One village of about 0.5 km × 0.5 km, now one cell, with households spread over it.
//! let village = MultiPolygon::new(vec![polygon![
//!     (x: 102.500, y: 24.300), (x: 102.505, y: 24.300),
//!     (x: 102.505, y: 24.305), (x: 102.500, y: 24.305),
//! ]]);
//! let points: Vec<Point> = (0..400)
//!     .map(|i| Point {
//!         lon: 102.5001 + 0.00024 * (i % 20) as f64,
//!         lat: 24.3001 + 0.00024 * (i / 20) as f64,
//!         households: 1,
//!         load: 1.0,
//!     })
//!     .collect();
//! let graph = build_units(&[(1, village.clone())], &[(10, 1, village)], &points, &UnitParams::default())?;
//! let plan = rebalance(&graph, &Params::new(Target::Cells(2)))?;
//! assert_eq!(plan.parts.len(), 2);
//! assert!(plan.parts.iter().all(|p| p.contiguous));
//! assert!(plan.tolerance_met, "largest deviation {}", plan.max_deviation);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod apportion;
mod bisect;
mod clip;
mod detail;
mod group;
mod index_hash;
mod initial;
mod local_search;
mod outline;
mod outline_index;
mod params;
mod partition;
mod summary;
mod threads;
mod units;

pub use apportion::{ApportionError, apportion};
pub use detail::RESOLUTIONS;
pub use outline::{outlines, part_hexagons};
pub use params::{Params, Target};
pub use partition::{RebalanceError, rebalance};
pub use summary::{PartSummary, Plan, Shortfall};
pub use units::{
    DEFAULT_RESOLUTION, Edge, EdgeKind, MAX_UNITS, Point, Unit, UnitGraph, UnitParams, UnitsError,
    build_units, build_units_adaptive,
};

impl UnitGraph {
    /// Makes `plan`'s parts the current cells (cell key = part index), so the next
    /// rebalancing counts households moved from this plan: how a plan is kept while loads
    /// change.
    pub fn adopt(&mut self, plan: &Plan) {
        for (unit, &p) in self.units.iter_mut().zip(&plan.assignment) {
            unit.current = Some(p);
            unit.households_by_cell = if unit.households > 0 {
                vec![(p, unit.households)]
            } else {
                Vec::new()
            };
        }
    }
}
