//! wangge: the spatial backend and live map for grid-based community governance.
//!
//! This crate is the top of the stack: the `wangge` binary's command line ([`cli`]), the
//! embedded PostgreSQL it can run ([`embedded`]) and the demo city ([`demo`]). Below it,
//! `wangge-http` (routes, extractors, problem+json) and `wangge-domain` (the rules and their
//! SQL), whose modules are re-exported here so that tests and examples name one crate. See
//! `ARCHITECTURE.md` at the repository root for the code map and the path a request takes.

pub mod cli;
pub mod demo;
pub mod embedded;

pub use wangge_domain::{
    Config, audit, auth, config, db, dispatch, feed_cache, geocode, heat, hotspots, import,
    incidents, live, memory_tiles, model, net, personal, render_slots, tile_cache, tile_layers,
    tile_render,
};
pub use wangge_http::{AppState, app, error, extract, params, respond, routes, state};
