//! wangge: the spatial backend and live map for grid-based community governance.
//!
//! The crate is both the `wangge` binary's engine and a library, so tests drive the whole HTTP
//! application in-process through [`app`]. See `ARCHITECTURE.md` at the repository root for the
//! code map and the path a request takes.

pub mod api;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod dispatch;
pub mod embedded;
pub mod error;
pub mod feed_cache;
pub mod geocode;
pub mod import;
pub mod incidents;
pub mod live;
pub mod model;
pub mod net;
pub mod personal;
pub mod tile_cache;
pub mod tile_layers;

pub use api::{AppState, app};
pub use config::Config;
