//! One router per resource, each in a file of its own: a new route goes in the file of the
//! resource it serves (or a new file, merged in `app`).

pub mod admin_units;
pub mod analysis;
pub mod audit;
pub mod dispatch;
pub mod facilities;
pub mod figures;
pub mod geocode;
pub mod grid_cells;
pub mod health;
pub mod households;
pub mod incident_rules;
pub mod incidents;
pub mod live;
pub mod open311;
pub mod photos;
pub mod plans;
pub mod session;
pub mod stats;
pub mod tiles;
pub mod workers;
