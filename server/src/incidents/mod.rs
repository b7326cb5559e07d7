//! Incidents beyond reading them: taking reports in (placed, routed, checked for duplicates,
//! idempotent on retry), moving them through their lifecycle and tiers, and escalating the
//! ones whose deadline passed.

pub mod actions;
pub mod escalation;
pub mod idempotency;
pub mod intake;
pub mod lifecycle;
