//! wangge's HTTP layer: requests parsed into the domain's types (`wangge-domain`), one router
//! per resource, and the one mapping of errors to problem+json.
//!
//! Where things go: a new route in `routes/` (one file per resource); what a handler takes
//! from a request in `extract` and `params`; how a domain error is answered in `error`.

pub mod app;
pub mod error;
pub mod extract;
pub mod feed;
pub mod params;
pub mod respond;
pub mod routes;
pub mod state;

pub use app::app;
pub use state::AppState;
