//! wangge's domain: the rules of grid-based community governance and the SQL that keeps them.
//!
//! Everything here works on a `sqlx` connection or in memory and knows nothing of HTTP: the
//! HTTP layer (`wangge-http`) parses requests into these types and maps these errors to
//! problem+json; the binary (`wangge`) runs both. A new query goes in the module that owns
//! its table; a pure algorithm goes in `wangge-analysis` or `wangge-tiles`.

pub mod audit;
pub mod auth;
pub mod config;
pub mod db;
pub mod dispatch;
pub mod feed_cache;
pub mod figures;
pub mod geocode;
pub mod health;
pub mod heat;
pub mod hotspots;
pub mod households;
pub mod import;
pub mod incidents;
pub mod live;
pub mod map;
pub mod memory_tiles;
pub mod model;
pub mod net;
pub mod personal;
pub mod photos;
pub mod plans;
pub mod render_slots;
pub mod stats;
pub mod tile_cache;
pub mod tile_layers;
pub mod tile_render;

pub use config::Config;
