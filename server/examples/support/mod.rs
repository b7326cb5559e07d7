//! What the benchmark examples share: their settings from the environment, percentiles, an
//! in-process server on a free port, and a bearer token for the user the scripts create.
#![allow(dead_code)] // Not every benchmark uses every helper.

use std::net::SocketAddr;
use std::time::Duration;

/// The allocator the `wangge` binary runs with, so the in-process server measured is the
/// one deployed.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A whole-number setting from the environment, or `default`.
pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `p` quantile (0–1) of sorted durations, in milliseconds (NaN when there are none).
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3
}

/// Serves `state`'s app on a free local port, in the background; its address.
pub async fn serve(state: wangge::AppState) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let app = wangge::app(state);
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    Ok(address)
}

/// A bearer token for `username` (created by the benchmark's script or the benchmark).
pub async fn bearer(
    pool: &sqlx::PgPool,
    username: &str,
    password: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    Ok(wangge::auth::session::sign_in(
        pool,
        username,
        password,
        wangge::auth::session::SessionKind::Bearer,
        "bench",
        &wangge::config::AuthConfig::default(),
        &wangge::audit::RequestMeta::cli(),
    )
    .await?
    .token)
}
