//! Live feed benchmark: how long after a change commits an operator sees it, over the
//! WebSocket feed, beside the baseline of a client polling the incident list once a second.
//! Both watch the same changes in the same run, while the demo simulator keeps the city busy.
//!
//! Usage: `scripts/bench-live.sh` (it starts a demo database and a bench user).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use wangge::config::{Config, DatabaseConfig};
use wangge::db::Privilege;

#[path = "support/mod.rs"]
mod support;
use support::{bearer, serve};

const CHANGES: usize = 40;

fn summary(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3;
    (at(0.5), at(0.99))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL")?;
    let password =
        std::env::var("WANGGE_BENCH_PASSWORD").map_err(|_| "set WANGGE_BENCH_PASSWORD")?;
    let options: sqlx::postgres::PgConnectOptions = url.parse()?;
    let pool = wangge::db::connect(options, 8, Privilege::Application).await?;
    let state = wangge::AppState::new(
        pool.clone(),
        Config::for_database(DatabaseConfig::External { url }),
    );
    let simulator = wangge::demo::simulator::start(
        pool.clone(),
        state.cipher.clone(),
        wangge::demo::simulator::SimulatorConfig::default(),
    );
    let address = serve(state.clone()).await?;
    let token = bearer(&pool, "bench-tiles", &password).await?;
    let mut request = format!("ws://{address}/api/v1/live").into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;

    let (mut live, mut polled) = (Vec::new(), Vec::new());
    let mut messages = 0usize;
    for _ in 0..CHANGES {
        // A new report in a random cell, written as any client would write it.
        let committed_at;
        let id: i64 = {
            let mut tx = pool.begin().await?;
            let id = sqlx::query_scalar(
                "INSERT INTO incident (category, severity, title, geom, grid_cell_id, village_id,
                                       township_id, county_id, due_at)
                 SELECT 'neighbour', 'minor', '基准测试', ST_PointOnSurface(g.geom), g.id, v.id,
                        t.id, t.parent_id, now() + interval '1 day'
                 FROM grid_cell g JOIN admin_unit v ON v.id = g.village_id
                 JOIN admin_unit t ON t.id = v.parent_id
                 ORDER BY random() LIMIT 1 RETURNING id",
            )
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            committed_at = Instant::now();
            id
        };
        // Live: the first message that carries it.
        let live_seen = loop {
            let Some(Ok(Message::Text(text))) =
                tokio::time::timeout(Duration::from_secs(10), socket.next()).await?
            else {
                continue;
            };
            messages += 1;
            let value: serde_json::Value = serde_json::from_str(&text)?;
            if value["incidents"]
                .as_array()
                .is_some_and(|a| a.iter().any(|i| i["id"] == id))
            {
                break committed_at.elapsed();
            }
        };
        live.push(live_seen);
        // Baseline: a client polling the newest reports once a second, starting at a random
        // phase of its cycle as a real poller would be.
        let phase = Duration::from_millis(u64::from(rand_ms(id)));
        let poll_started = committed_at + phase;
        tokio::time::sleep_until(tokio::time::Instant::from_std(poll_started)).await;
        loop {
            if poll_sees(address, &token, id).await? {
                polled.push(committed_at.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    simulator.abort();
    let (l50, l99) = summary(live);
    let (p50, p99) = summary(polled);
    println!("{CHANGES} reports committed while the simulator ran; {messages} live messages read");
    println!("commit → seen, ms     p50      p99");
    println!("live feed        {l50:>8.1} {l99:>8.1}");
    println!("polling 1/s      {p50:>8.1} {p99:>8.1}");
    println!(
        "ratio (polling / live)  p50 {:.1}×, p99 {:.1}×",
        p50 / l50,
        p99 / l99
    );
    Ok(())
}

/// A pseudo-random poll phase in 0..1000 ms, from the report's id.
fn rand_ms(id: i64) -> u32 {
    ((id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54) as u32 % 1000
}

/// A tiny HTTP/1.1 GET of the newest reports, asking whether `id` is among them.
async fn poll_sees(
    address: SocketAddr,
    token: &str,
    id: i64,
) -> Result<bool, Box<dyn std::error::Error>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let request = format!(
        "GET /api/v1/incidents?status=reported&limit=50 HTTP/1.1\r\nHost: {address}\r\n\
         Authorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    Ok(String::from_utf8_lossy(&response).contains(&format!("\"id\":{id},")))
}
