//! What a rebalancing is asked for: the target and its tolerance, nesting, threads.

/// How many cells to make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// Exactly this many cells; the target load is the total over the count.
    Cells(usize),
    /// Cells for this load each (in the points' load unit): each village with nesting (the
    /// whole graph without) gets the count (≥ 1) whose load per cell is nearest it in
    /// relative terms. Deviations are measured from it.
    LoadPerCell(f64),
}

/// What to rebalance to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    pub target: Target,
    /// Largest accepted |load / target − 1|; 0.05 by default.
    pub tolerance: f64,
    /// Whether every cell lies in one village (default true).
    pub nest_in_villages: bool,
    /// Worker threads (villages in parallel); 0 for one per core. Results do not depend on
    /// it.
    pub threads: usize,
    /// Balancing moves per group at most; 0 for 50 per unit plus 1,000.
    pub max_moves: usize,
}

impl Params {
    /// `target` with the defaults: ±5%, nested, every core.
    pub fn new(target: Target) -> Self {
        Params {
            target,
            tolerance: 0.05,
            nest_in_villages: true,
            threads: 0,
            max_moves: 0,
        }
    }
}
