//! Dispatch benchmark on the full demo topped up to 10,000 grid workers: while 1,000 position
//! updates a second stream in over HTTP, recommendation latency of `GET
//! /api/v1/incidents/{id}/candidates` beside the same question answered by PostGIS's KNN
//! operator (`<->`, the nearest available workers by index), in the same run, alternating;
//! then sustained position ingest over HTTP in batches beside a plain batched `UPDATE` of the
//! latest positions; and the index's nearest worker against a brute-force scan.
//!
//! Usage: `scripts/bench-dispatch.sh` (it prepares a scratch copy of the demo database).
//! Environment: DATABASE_URL (owner), WANGGE_BENCH_PASSWORD, optional BENCH_SECONDS (15),
//! BENCH_WORKERS (10000), BENCH_STREAM (position updates per second while recommending, 1000),
//! BENCH_CLIENTS (concurrent recommendation clients, 4), BENCH_BATCH (ingest batch, 500).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use geo::Point;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use wangge::auth::Role;
use wangge::auth::users::AreaCode;
use wangge::config::{Config, DatabaseConfig};
use wangge::db::Privilege;
use wangge::db::geometry::Ewkb;
use wangge_analysis::sphere::{LonLat, SphereError, haversine_m};

#[path = "support/mod.rs"]
mod support;
use support::{bearer, env_or, percentile_ms as percentile, serve};

/// A small deterministic generator, so runs draw the same incidents and moves.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One keep-alive HTTP/1.1 connection.
struct Http {
    stream: BufReader<TcpStream>,
    token: Arc<String>,
}

impl Http {
    async fn connect(address: SocketAddr, token: Arc<String>) -> std::io::Result<Self> {
        let stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream: BufReader::new(stream),
            token,
        })
    }

    /// Sends one request; the status code and the body.
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: &str,
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.token,
            body.len()
        );
        self.stream.get_mut().write_all(request.as_bytes()).await?;
        let mut status_line = String::new();
        self.stream.read_line(&mut status_line).await?;
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line).await?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut answer = vec![0u8; length];
        self.stream.read_exact(&mut answer).await?;
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok((status, answer))
    }
}

/// Workers and where they stand (their cell's point), for moving them about.
#[derive(Clone)]
struct Worker {
    id: i64,
    home: (f64, f64),
}

/// A batch of `n` fixes for workers of share `share` of `shares` (each sender moves its own
/// workers, as each device gateway forwards its own devices).
fn positions_body(
    workers: &[Worker],
    rng: &mut Rng,
    n: usize,
    share: usize,
    shares: usize,
) -> String {
    let now = Utc::now().to_rfc3339();
    let fixes: Vec<String> = (0..n)
        .map(|_| {
            let w = pick(workers, rng, share, shares);
            let lon = w.home.0 + (rng.unit() - 0.5) * 0.004;
            let lat = w.home.1 + (rng.unit() - 0.5) * 0.004;
            format!(
                r#"{{"worker_id":{},"at":"{now}","lon":{lon:.6},"lat":{lat:.6},"accuracy_m":8}}"#,
                w.id
            )
        })
        .collect();
    format!(r#"{{"positions":[{}]}}"#, fixes.join(","))
}

fn pick<'a>(workers: &'a [Worker], rng: &mut Rng, share: usize, shares: usize) -> &'a Worker {
    let per_share = workers.len() / shares;
    &workers[share * per_share + (rng.next() % per_share as u64) as usize]
}

/// Streams `per_second` position updates in batches of 50 until `stop`; the count sent.
async fn stream_positions(
    address: SocketAddr,
    token: Arc<String>,
    workers: Arc<Vec<Worker>>,
    per_second: u64,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) {
    if per_second == 0 {
        return;
    }
    let mut http = Http::connect(address, token).await.expect("connect");
    let mut rng = Rng(0x5eed_1234);
    // Batches of 50, twenty a second: one sender keeps up (a batch takes a few ms).
    let batch = 50u64;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(batch as f64 / per_second as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let body = positions_body(&workers, &mut rng, batch as usize, 0, 1);
        let (status, answer) = http
            .send("POST", "/api/v1/workers/positions", &body)
            .await
            .expect("post");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
        sent.fetch_add(batch, Ordering::Relaxed);
    }
}

/// The baseline: the nearest available workers with room and a fresh position, by PostGIS's
/// KNN index order, for one incident.
const KNN: &str = "SELECT w.id, ST_Distance(w.last_position::geography, i.geom::geography, false)
     FROM incident i
     CROSS JOIN LATERAL (
         SELECT w.id, w.last_position FROM grid_worker w
         WHERE w.status = 'available' AND w.caseload < w.capacity
           AND w.last_seen_at >= now() - interval '10 minutes'
         ORDER BY w.last_position <-> i.geom LIMIT 10) w
     WHERE i.id = $1";

struct Latencies {
    count: usize,
    p50: f64,
    p99: f64,
    max: f64,
}

fn summarise(mut all: Vec<Duration>) -> Latencies {
    all.sort();
    Latencies {
        count: all.len(),
        p50: percentile(&all, 0.5),
        p99: percentile(&all, 0.99),
        max: all.last().map_or(f64::NAN, |d| d.as_secs_f64() * 1e3),
    }
}

/// `clients` loops, each asking for one incident after another, for `seconds`.
async fn recommend_run(
    how: &str,
    address: SocketAddr,
    token: &Arc<String>,
    pool: &sqlx::PgPool,
    incidents: &Arc<Vec<i64>>,
    clients: usize,
    seconds: u64,
) -> Latencies {
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (token, pool, incidents, stop) = (
                Arc::clone(token),
                pool.clone(),
                Arc::clone(incidents),
                Arc::clone(&stop),
            );
            let how = how.to_owned();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut http = Http::connect(address, token).await.expect("connect");
                let mut n = c * 7919;
                while !stop.load(Ordering::Relaxed) {
                    let id = incidents[n % incidents.len()];
                    n += 1;
                    let started = Instant::now();
                    if how == "wangge" {
                        let (status, body) = http
                            .send(
                                "GET",
                                &format!("/api/v1/incidents/{id}/candidates?limit=10"),
                                "",
                            )
                            .await
                            .expect("get");
                        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
                    } else {
                        let rows: Vec<(i64, f64)> = sqlx::query_as(KNN)
                            .bind(id)
                            .fetch_all(&pool)
                            .await
                            .expect("knn");
                        std::hint::black_box(rows);
                    }
                    latencies.push(started.elapsed());
                }
                latencies
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client"));
    }
    summarise(all)
}

/// Position ingest as fast as `clients` connections can post batches of `batch`: updates/s.
async fn ingest_run(
    address: SocketAddr,
    token: &Arc<String>,
    workers: &Arc<Vec<Worker>>,
    clients: usize,
    batch: usize,
    seconds: u64,
) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (token, workers, stop) =
                (Arc::clone(token), Arc::clone(workers), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut http = Http::connect(address, token).await.expect("connect");
                let mut rng = Rng(0xabcdef + c as u64);
                let mut sent = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let body = positions_body(&workers, &mut rng, batch, c, clients);
                    let (status, answer) = http
                        .send("POST", "/api/v1/workers/positions", &body)
                        .await
                        .expect("post");
                    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
                    sent += batch as u64;
                }
                sent
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut sent = 0;
    for t in tasks {
        sent += t.await.expect("client");
    }
    sent as f64 / started.elapsed().as_secs_f64()
}

/// The baseline for ingest: the latest positions alone, by a batched `UPDATE` straight into
/// the database (no HTTP, no history, no audit), from `clients` connections.
async fn raw_update_run(
    pool: &sqlx::PgPool,
    workers: &Arc<Vec<Worker>>,
    clients: usize,
    batch: usize,
    seconds: u64,
) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (pool, workers, stop) = (pool.clone(), Arc::clone(workers), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut rng = Rng(0x1234 + c as u64);
                let mut sent = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut ids = Vec::with_capacity(batch);
                    let mut points = Vec::with_capacity(batch);
                    for _ in 0..batch {
                        let w = pick(&workers, &mut rng, c, clients);
                        ids.push(w.id);
                        points.push(Ewkb::point(Point::new(
                            w.home.0 + (rng.unit() - 0.5) * 0.004,
                            w.home.1 + (rng.unit() - 0.5) * 0.004,
                        )));
                    }
                    sqlx::query(
                        "UPDATE grid_worker w SET last_position = f.g::geometry, last_seen_at = now()
                         FROM (SELECT DISTINCT ON (id) * FROM unnest($1::int8[], $2::text[])
                               AS f (id, g)) f
                         WHERE w.id = f.id",
                    )
                    .bind(&ids)
                    .bind(&points)
                    .execute(&pool)
                    .await
                    .expect("update");
                    sent += batch as u64;
                }
                sent
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut sent = 0;
    for t in tasks {
        sent += t.await.expect("client");
    }
    sent as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL")?;
    let password =
        std::env::var("WANGGE_BENCH_PASSWORD").map_err(|_| "set WANGGE_BENCH_PASSWORD")?;
    let seconds = env_or("BENCH_SECONDS", 15);
    let target_workers = env_or("BENCH_WORKERS", 10_000) as i64;
    let stream = env_or("BENCH_STREAM", 1_000);
    let clients = env_or("BENCH_CLIENTS", 4) as usize;
    let batch = env_or("BENCH_BATCH", 500) as usize;
    let options: sqlx::postgres::PgConnectOptions = url.parse()?;
    let owner = wangge::db::connect(options.clone(), 4, Privilege::Owner).await?;

    // Top up to the target number of workers, one cell each, and put everyone on duty at a
    // point of their cell, seen just now: 80% available, 10% busy, 10% off duty.
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM grid_worker")
        .fetch_one(&owner)
        .await?;
    if existing < target_workers {
        sqlx::query(
            "WITH cells AS (
                 SELECT g.id, row_number() OVER (ORDER BY md5(g.id::text)) - 1 AS n, count(*) OVER () AS total
                 FROM grid_cell g JOIN grid_plan p ON p.id = g.plan_id AND p.status = 'published'),
             added AS (
                 INSERT INTO grid_worker (name, status)
                 SELECT '基准网格员' || s, 'available' FROM generate_series(1, $1) AS s
                 RETURNING id)
             INSERT INTO grid_worker_cell (worker_id, grid_cell_id)
             SELECT a.id, c.id FROM (SELECT id, row_number() OVER (ORDER BY id) AS k FROM added) a
             JOIN cells c ON c.n = a.k % c.total",
        )
        .bind(target_workers - existing)
        .execute(&owner)
        .await?;
    }
    sqlx::query(
        "UPDATE grid_worker w SET
             last_position = p.geom, last_seen_at = now(),
             status = CASE WHEN w.id % 10 = 0 THEN 'busy' WHEN w.id % 10 = 1 THEN 'off_duty'
                           ELSE 'available' END::worker_status,
             capacity = greatest(w.capacity, w.caseload + 1)
         FROM (SELECT DISTINCT ON (wc.worker_id) wc.worker_id, ST_PointOnSurface(g.geom) AS geom
               FROM grid_worker_cell wc JOIN grid_cell g ON g.id = wc.grid_cell_id
               ORDER BY wc.worker_id, g.id) p
         WHERE p.worker_id = w.id",
    )
    .execute(&owner)
    .await?;
    sqlx::query("ANALYZE grid_worker").execute(&owner).await?;
    let workers: Vec<Worker> = sqlx::query_as::<_, (i64, f64, f64)>(
        "SELECT id, ST_X(last_position), ST_Y(last_position) FROM grid_worker
         WHERE last_position IS NOT NULL ORDER BY id",
    )
    .fetch_all(&owner)
    .await?
    .into_iter()
    .map(|(id, lon, lat)| Worker {
        id,
        home: (lon, lat),
    })
    .collect();
    let workers = Arc::new(workers);
    let incidents: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM incident WHERE location_method <> 'area' ORDER BY md5(id::text) LIMIT 5000",
    )
    .fetch_all(&owner)
    .await?;
    let incidents = Arc::new(incidents);
    let cells: i64 = sqlx::query_scalar("SELECT count(*) FROM grid_cell")
        .fetch_one(&owner)
        .await?;

    match wangge::auth::users::add(
        &owner,
        "bench-dispatch",
        Role::Dispatcher,
        &AreaCode::Unit("530400".into()),
        &password,
        &wangge::audit::RequestMeta::cli(),
    )
    .await
    {
        Ok(()) | Err(wangge::auth::users::UserError::Exists(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let pool = wangge::db::connect(options, 16, Privilege::Application).await?;
    let state = wangge::AppState::new(
        pool.clone(),
        Config::for_database(DatabaseConfig::External { url: url.clone() }),
    );
    let dispatch = Arc::clone(&state.dispatch);
    let loading = Instant::now();
    dispatch.ready().await?;
    let loaded_in = loading.elapsed();
    let address = serve(state).await?;
    let token = bearer(&pool, "bench-dispatch", &password).await?;
    let token = Arc::new(token);

    println!(
        "dispatch benchmark: {cells} grid cells, {} workers with positions, {} incidents asked \
         about; index loaded in {:.2} s",
        workers.len(),
        incidents.len(),
        loaded_in.as_secs_f64()
    );
    println!(
        "recommendations: {clients} clients, {seconds} s per run, while {stream} position updates/s stream in over HTTP"
    );
    println!(
        "{:<54} {:>8} {:>8} {:>8} {:>8}",
        "run", "count", "p50 ms", "p99 ms", "max ms"
    );

    // Warm-up, not counted.
    recommend_run("wangge", address, &token, &pool, &incidents, clients, 3).await;
    recommend_run("knn", address, &token, &pool, &incidents, clients, 3).await;
    let mut ours_p99 = Vec::new();
    let mut knn_p99 = Vec::new();
    let mut ours_p50 = Vec::new();
    let mut knn_p50 = Vec::new();
    let mut streamed_rate = Vec::new();
    for round in 1..=2 {
        for how in ["knn", "wangge"] {
            let stop = Arc::new(AtomicBool::new(false));
            let sent = Arc::new(AtomicU64::new(0));
            let streamer = tokio::spawn(stream_positions(
                address,
                Arc::clone(&token),
                Arc::clone(&workers),
                stream,
                Arc::clone(&stop),
                Arc::clone(&sent),
            ));
            let started = Instant::now();
            let l = recommend_run(how, address, &token, &pool, &incidents, clients, seconds).await;
            stop.store(true, Ordering::Relaxed);
            streamer.await?;
            let rate = sent.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
            streamed_rate.push(rate);
            let label = if how == "wangge" {
                format!("wangge GET …/candidates (HTTP, index) ({round})")
            } else {
                format!("PostGIS KNN <-> top 10 (SQL only) ({round})")
            };
            println!(
                "{label:<54} {:>8} {:>8.3} {:>8.3} {:>8.2}   [{rate:.0} positions/s streamed]",
                l.count, l.p50, l.p99, l.max
            );
            if how == "wangge" {
                ours_p99.push(l.p99);
                ours_p50.push(l.p50);
            } else {
                knn_p99.push(l.p99);
                knn_p50.push(l.p50);
            }
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "recommendation, mean of runs: wangge p50 {:.3} ms, p99 {:.3} ms; KNN p50 {:.3} ms, p99 {:.3} ms; \
         ratio p99 wangge / KNN = {:.2}",
        mean(&ours_p50),
        mean(&ours_p99),
        mean(&knn_p50),
        mean(&knn_p99),
        mean(&ours_p99) / mean(&knn_p99)
    );

    // The ranking alone, in this process, without HTTP or the incident's read.
    let now = Utc::now().timestamp();
    let mut rng = Rng(77);
    let (xmin, ymin, xmax, ymax): (f64, f64, f64, f64) = sqlx::query_as(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM grid_cell) x",
    )
    .fetch_one(&owner)
    .await?;
    let mut alone = Vec::new();
    for _ in 0..10_000 {
        let at = LonLat::new(
            xmin + (xmax - xmin) * rng.unit(),
            ymin + (ymax - ymin) * rng.unit(),
        )?;
        let started = Instant::now();
        let index = dispatch.read();
        let ranked = wangge_analysis::dispatch::rank(
            &index,
            &wangge_analysis::dispatch::Request {
                at,
                cell: None,
                township: None,
                skill: Some("mediation"),
                now,
                stale_after_s: 600,
                limit: 10,
                admit: None,
            },
        );
        drop(index);
        alone.push(started.elapsed());
        std::hint::black_box(ranked);
    }
    let l = summarise(alone);
    println!(
        "{:<54} {:>8} {:>8.3} {:>8.3} {:>8.2}",
        "ranking alone, in memory (nearest 10, no cell)", l.count, l.p50, l.p99, l.max
    );

    // Correctness on this data: the index's nearest eligible worker against every worker.
    let rows: Vec<(i64, f64, f64)> = sqlx::query_as(
        "SELECT id, ST_X(last_position), ST_Y(last_position) FROM grid_worker
         WHERE status = 'available' AND caseload < capacity
           AND last_seen_at >= now() - interval '10 minutes'",
    )
    .fetch_all(&owner)
    .await?;
    let rows = rows
        .into_iter()
        .map(|(id, lon, lat)| Ok((id, LonLat::new(lon, lat)?)))
        .collect::<Result<Vec<_>, SphereError>>()?;
    let now = Utc::now().timestamp();
    let mut agree = 0;
    {
        let index = dispatch.read();
        for _ in 0..10_000 {
            let at = LonLat::new(
                xmin + (xmax - xmin) * rng.unit(),
                ymin + (ymax - ymin) * rng.unit(),
            )?;
            let brute = rows
                .iter()
                .map(|&(id, point)| (id, haversine_m(at, point)))
                .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
            if brute.map(|b| b.0) == index.nearest_eligible(at, now, 600).map(|f| f.0) {
                agree += 1;
            }
        }
    }
    println!(
        "nearest eligible worker, index vs brute force over {} eligible workers: {agree} of 10000 random points agree",
        rows.len()
    );

    println!("position ingest: {clients} clients, batches of {batch}, {seconds} s per run");
    let mut ours = Vec::new();
    let mut raw = Vec::new();
    for round in 1..=2 {
        let r = raw_update_run(&pool, &workers, clients, batch, seconds).await;
        println!(
            "{:<54} {r:>8.0} updates/s",
            format!("plain batched UPDATE of latest (SQL only) ({round})")
        );
        raw.push(r);
        let o = ingest_run(address, &token, &workers, clients, batch, seconds).await;
        println!(
            "{:<54} {o:>8.0} updates/s",
            format!("wangge POST /workers/positions (HTTP) ({round})")
        );
        ours.push(o);
    }
    println!(
        "position ingest, mean: wangge {:.0} updates/s, plain UPDATE {:.0} updates/s; ratio = {:.2}",
        mean(&ours),
        mean(&raw),
        mean(&ours) / mean(&raw)
    );
    println!(
        "streamed while recommending: {:.0} positions/s on average",
        mean(&streamed_rate)
    );
    Ok(())
}
