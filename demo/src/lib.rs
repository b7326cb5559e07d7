//! The Yuxi demo city, generated: a deterministic, real-scale data set (divisions from the
//! real lists, grid cells, households, facilities, workers and two years of incidents) as
//! plain data. Pure: `wangge`'s `demo` module loads it and runs the live simulator on it.
//!
//! A crate of its own so that it can be built optimised in every profile: it is the one
//! piece of our own code whose speed the tests and the first command wait on.

pub mod divisions;
pub mod generate;
pub mod hexgrid;
pub mod noise;
pub mod partition;
pub mod rng;

pub use generate::{DemoData, Scale, generate};

/// The seed the demo uses unless told otherwise.
pub const DEFAULT_SEED: u64 = 20_130_201;
