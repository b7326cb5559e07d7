//! Dispatch: which grid worker should take an incident.
//!
//! [`WorkerIndex`] holds every worker's latest committed state in memory, with a
//! nearest-first [`nearest::PointIndex`] over their positions; [`rank`] orders the workers
//! for one incident (own cell, cover, neighbouring cells, township, nearest beyond) and says
//! why. Distances are metres along the sphere; times are Unix seconds.

mod index;
pub mod nearest;
mod rank;

pub use index::{CellTopology, Worker, WorkerIndex, WorkerStatus};
pub use rank::{Admit, CASELOAD_PENALTY_M, Candidate, Group, Reason, Request, rank};
