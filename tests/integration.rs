//! The server's integration tests, one binary: each file beside this one is a module (run one
//! with `cargo test -p wangge --test integration <module>::`). One binary links once where
//! twenty linked twenty times: most of what the test crates cost to build.
//! `scripts/run-tests.sh` runs the modules side by side, each in its own process.

mod common;

mod analysis;
mod api;
mod audit;
mod auth;
mod cli;
mod crash;
mod demo;
mod dispatch;
mod embedded;
mod figures;
mod geocode;
mod headline;
mod import;
mod incidents;
mod intake;
mod live;
mod open311;
mod personal;
mod photos;
mod plans;
mod schema;
mod structure;
