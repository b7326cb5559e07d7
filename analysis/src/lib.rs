//! Pure spatial algorithms for wangge.
//!
//! This crate will hold the algorithms behind hotspot analysis (where incidents cluster,
//! and whether a cluster is significant), dispatch ranking (which grid worker should take an
//! incident, answered from an in-memory index kept in step with committed positions) and grid
//! rebalancing (redrawing grid cells when workload shifts). It also holds [`geocode`], which
//! reads Chinese addresses as people write them into candidate administrative units and a
//! canonical house-number detail: the first half of the address geocoder.
//!
//! Like `wangge-tiles`, it does no I/O: callers hand it plain data and get plain data back,
//! which keeps every algorithm testable and benchmarkable on its own. Distances are in metres
//! on the sphere unless a function says otherwise; coordinates are WGS-84 longitude/latitude.

pub mod dispatch;
pub mod geocode;
pub mod hexbin;
pub mod sphere;
