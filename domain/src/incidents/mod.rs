//! Incidents beyond reading them: taking reports in (placed, routed, checked for duplicates,
//! idempotent on retry), moving them through their lifecycle and tiers, and escalating the
//! ones whose deadline passed; and the rules they are held to (deadlines, duplicate reach:
//! [`rules`]).

pub mod actions;
pub mod answer;
pub mod error;
pub mod escalation;
pub mod filters;
pub mod idempotency;
pub mod intake;
pub mod lifecycle;
pub mod open311;
pub mod queue;
pub mod read;
pub mod rules;

pub use error::IncidentError;
