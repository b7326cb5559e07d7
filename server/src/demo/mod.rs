//! The Yuxi demo: the city `wangge-demo` generates, loaded in one transaction, and the
//! simulator that keeps it alive.

pub mod load;
pub mod simulator;

use chrono::{DurationRound, TimeDelta, Utc};
use sqlx::PgPool;

pub use wangge_demo::{
    DEFAULT_SEED, DemoData, Scale, divisions, generate, hexgrid, noise, partition, rng,
};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Load(#[from] load::LoadError),
    #[error("reading the demo's state failed: {0}")]
    Database(#[from] sqlx::Error),
}

/// A description of the demo already loaded in this database, if any.
pub async fn loaded_demo(pool: &PgPool) -> Result<Option<String>, DemoError> {
    Ok(sqlx::query_scalar(
        "SELECT detail::text FROM dataset_load WHERE kind = 'demo' ORDER BY id DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?)
}

/// Generates the demo (its history ending at the current hour) and loads it.
pub async fn generate_and_load(
    pool: &PgPool,
    scale: Scale,
    seed: u64,
    cipher: &wangge_domain::personal::Cipher,
    progress: &mut dyn FnMut(&str),
) -> Result<String, DemoError> {
    let reference = Utc::now()
        .duration_trunc(TimeDelta::hours(1))
        .unwrap_or_else(|_| Utc::now());
    let data = tokio::task::block_in_place(|| generate(scale, seed, reference));
    progress(&format!(
        "generated {} units, {} grid cells, {} households",
        data.units.len(),
        data.grid_cells.len(),
        data.households.len()
    ));
    load::load(pool, &data, cipher, progress).await?;
    Ok(format!(
        "{} administrative units, {} grid cells, {} households, {} facilities, {} grid workers, {} incidents",
        data.units.len(),
        data.grid_cells.len(),
        data.households.len(),
        data.facilities.len(),
        data.workers.len(),
        data.incidents.len()
    ))
}
