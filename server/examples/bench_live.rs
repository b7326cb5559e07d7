//! Live feed benchmark: how long after a report commits every one of many operators sees it
//! over the WebSocket feed, beside the baseline of a client polling the incident list once a
//! second. Both watch the same reports in the same run, while the demo simulator keeps the
//! city busy (workers walking, reports coming in and being handled).
//!
//! Settings (environment): `WANGGE_BENCH_CLIENTS` sockets (5,000), each a city-wide operator,
//! so each must receive every report; `WANGGE_BENCH_REPORTS` reports (50), one every
//! `WANGGE_BENCH_REPORT_MS` (200 ms). A client that falls behind is closed by the server
//! (1013) and counted as lagging; a report a client never sees within 10 s is counted missed.
//!
//! Usage: `scripts/bench-live.sh` (it starts a demo database and a bench user).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use wangge::config::{Config, DatabaseConfig};
use wangge::db::Privilege;

#[path = "support/mod.rs"]
mod support;
use support::{bearer, env_or, percentile_ms, serve};

/// A report being watched for: its id as the feed writes it, and when it committed.
struct Watched {
    needle: Vec<u8>,
    committed: Instant,
}

#[derive(Default)]
struct Tally {
    /// Commit → seen, one per client per report.
    seen: Mutex<Vec<Duration>>,
    messages: AtomicUsize,
    bytes: AtomicUsize,
    lagging: AtomicUsize,
    dropped: AtomicUsize,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL")?;
    let password =
        std::env::var("WANGGE_BENCH_PASSWORD").map_err(|_| "set WANGGE_BENCH_PASSWORD")?;
    let clients = env_or("WANGGE_BENCH_CLIENTS", 5000) as usize;
    let reports = env_or("WANGGE_BENCH_REPORTS", 50) as usize;
    let every = Duration::from_millis(env_or("WANGGE_BENCH_REPORT_MS", 200));
    let options: sqlx::postgres::PgConnectOptions = url.parse()?;
    let pool = wangge::db::connect(options, 8, Privilege::Application).await?;
    let state = wangge::AppState::new(
        pool.clone(),
        Config::for_database(DatabaseConfig::External { url }),
    );
    let address = serve(state.clone()).await?;
    let token = bearer(&pool, "bench-tiles", &password).await?;

    let watched: Arc<RwLock<Vec<Watched>>> = Arc::default();
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let connect_started = Instant::now();
    let mut sockets = Vec::with_capacity(clients);
    // A few hundred handshakes at a time, as a city's clients come back after a restart.
    for chunk in (0..clients).collect::<Vec<_>>().chunks(200) {
        let opened = futures_util::future::join_all(chunk.iter().map(|_| open(address, &token)));
        for socket in opened.await {
            sockets.push(socket?);
        }
    }
    let connect_took = connect_started.elapsed();
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|socket| {
            let (watched, tally, stop) = (watched.clone(), tally.clone(), stop.clone());
            tokio::spawn(read(socket, watched, tally, stop, reports))
        })
        .collect();

    let simulator = wangge::demo::simulator::start(
        pool.clone(),
        state.cipher.clone(),
        wangge::demo::simulator::SimulatorConfig::default(),
    );
    // Let the simulator's first steps (and its catching up) pass before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut polled = Vec::new();
    let mut pollers = Vec::new();
    let mut next = tokio::time::Instant::now();
    for _ in 0..reports {
        tokio::time::sleep_until(next).await;
        next += every;
        // A new report in a random cell, written as any client would write it.
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO incident (category, severity, title, geom, grid_cell_id, village_id,
                                   township_id, county_id, due_at)
             SELECT 'neighbour', 'minor', '基准测试', ST_PointOnSurface(g.geom), g.id, v.id,
                    t.id, t.parent_id, now() + interval '1 day'
             FROM grid_cell g JOIN admin_unit v ON v.id = g.village_id
             JOIN admin_unit t ON t.id = v.parent_id
             ORDER BY random() LIMIT 1 RETURNING id",
        )
        .fetch_one(&pool)
        .await?;
        let committed = Instant::now();
        watched.write().unwrap().push(Watched {
            needle: format!("\"id\":{id},").into_bytes(),
            committed,
        });
        // Baseline: a client polling the newest reports once a second, starting at a random
        // phase of its cycle as a real poller would be.
        let token = token.clone();
        pollers.push(tokio::spawn(async move {
            let phase = Duration::from_millis(u64::from(rand_ms(id)));
            tokio::time::sleep_until(tokio::time::Instant::from_std(committed + phase)).await;
            loop {
                if poll_sees(address, &token, id).await.unwrap_or(false) {
                    return committed.elapsed();
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }));
    }
    for poller in pollers {
        polled.push(poller.await?);
    }
    // Every client has had at least 10 s for the last report.
    let last = watched.read().unwrap().last().map(|w| w.committed);
    if let Some(last) = last {
        tokio::time::sleep_until(tokio::time::Instant::from_std(
            last + Duration::from_secs(10),
        ))
        .await;
    }
    stop.store(true, Ordering::Relaxed);
    simulator.abort();
    let mut seen_by_all = 0;
    for reader in readers {
        seen_by_all += usize::from(reader.await? == reports);
    }

    let mut live = std::mem::take(&mut *tally.seen.lock().unwrap());
    live.sort();
    polled.sort();
    let expected = clients * reports;
    let (l50, l95, l99) = (
        percentile_ms(&live, 0.5),
        percentile_ms(&live, 0.95),
        percentile_ms(&live, 0.99),
    );
    let (p50, p95, p99) = (
        percentile_ms(&polled, 0.5),
        percentile_ms(&polled, 0.95),
        percentile_ms(&polled, 0.99),
    );
    println!(
        "{clients} city-wide clients connected in {:.1} s; {reports} reports, one every {} ms, \
         while the simulator ran",
        connect_took.as_secs_f64(),
        every.as_millis()
    );
    println!(
        "live feed: {} of {expected} deliveries ({} missed); {seen_by_all} of {clients} clients \
         saw every report; {} closed as lagging, {} dropped otherwise",
        live.len(),
        expected - live.len(),
        tally.lagging.load(Ordering::Relaxed),
        tally.dropped.load(Ordering::Relaxed),
    );
    println!(
        "{} messages, {:.1} MB sent to the clients in all",
        tally.messages.load(Ordering::Relaxed),
        tally.bytes.load(Ordering::Relaxed) as f64 / 1e6
    );
    println!("commit → seen, ms               p50      p95      p99");
    println!("live feed, {clients:>5} clients   {l50:>8.1} {l95:>8.1} {l99:>8.1}");
    println!("polling 1/s, one client   {p50:>8.1} {p95:>8.1} {p99:>8.1}");
    println!(
        "ratio (polling / live)    p50 {:.1}×, p95 {:.1}×, p99 {:.1}×",
        p50 / l50,
        p95 / l95,
        p99 / l99
    );
    Ok(())
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(address: SocketAddr, token: &str) -> Result<Socket, Box<dyn std::error::Error>> {
    let mut request = format!("ws://{address}/api/v1/live").into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    Ok(tokio_tungstenite::connect_async(request).await?.0)
}

/// Reads one client's messages until told to stop; how many of the reports it saw.
async fn read(
    mut socket: Socket,
    watched: Arc<RwLock<Vec<Watched>>>,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    reports: usize,
) -> usize {
    let mut seen = vec![false; reports];
    let mut times = Vec::with_capacity(reports);
    while !stop.load(Ordering::Relaxed) {
        let message = match tokio::time::timeout(Duration::from_millis(500), socket.next()).await {
            Err(_) => continue,
            Ok(Some(Ok(message))) => message,
            Ok(_) => {
                tally.dropped.fetch_add(1, Ordering::Relaxed);
                break;
            }
        };
        let text = match message {
            Message::Text(text) => text,
            Message::Close(frame) => {
                let counter = match frame {
                    Some(f) if u16::from(f.code) == 1013 => &tally.lagging,
                    _ => &tally.dropped,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                break;
            }
            _ => continue,
        };
        tally.messages.fetch_add(1, Ordering::Relaxed);
        tally.bytes.fetch_add(text.len(), Ordering::Relaxed);
        let bytes = text.as_bytes();
        for (k, w) in watched.read().unwrap().iter().enumerate() {
            if !seen[k] && in_incidents(bytes, &w.needle) {
                seen[k] = true;
                times.push(w.committed.elapsed());
            }
        }
    }
    tally.seen.lock().unwrap().extend(&times);
    times.len()
}

/// Whether `needle` (an id) is in the message's incidents, not among its workers or alerts,
/// whose ids are other sequences.
fn in_incidents(message: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find_iter(message, needle).any(|at| {
        let before = &message[..at];
        let incidents = memchr::memmem::rfind(before, b"\"incidents\":[");
        let others = [
            &b"\"workers\":["[..],
            b"\"alerts\":[",
            b"\"removed_incidents\":[",
        ]
        .iter()
        .filter_map(|key| memchr::memmem::rfind(before, key))
        .max();
        incidents.is_some_and(|i| others.is_none_or(|o| i > o))
    })
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
