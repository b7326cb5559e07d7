//! Intake benchmark: sustained intake of located reports over HTTP — authenticated, placed in
//! their grid cell, written with their timeline event, idempotency key and audit row, each
//! acknowledged only after a durable commit — beside PostgreSQL's own `pgbench` inserting one
//! row per transaction into a table of the same database, in the same run, alternating.
//!
//! A third run per round sends the same reports to the intake queue in this process, without
//! HTTP (no connection, parsing, sign-in check or answer sent): the ceiling the database work
//! of a report sets, so the gap to pgbench shows what the HTTP layer costs and what the
//! report's own writes (case, timeline, audit, idempotency, duplicate search, placement) do.
//!
//! Usage: `scripts/bench-intake.sh` (it prepares a scratch copy of the demo database).
//! Environment: DATABASE_URL (owner), WANGGE_BENCH_PASSWORD, optional BENCH_SECONDS (20) and
//! BENCH_CLIENTS, the concurrencies to measure (`32,128`). Each is measured for both sides.
//! 128 is what the goal implies: at 2,000 reports a second answered in about 60 ms, some 120
//! reports are in flight at any moment (Little's law); 32 shows the same path lightly loaded.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use wangge::audit::RequestMeta;
use wangge::auth::Caller;
use wangge::config::{Config, DatabaseConfig};
use wangge::db::Privilege;
use wangge::incidents::idempotency::Key;
use wangge::incidents::intake::{Channel, Report};
use wangge::incidents::queue::Job;
use wangge_analysis::sphere::LonLat;

#[path = "support/mod.rs"]
mod support;
use support::{bearer, env_or, percentile_ms as percentile, serve};

const CATEGORIES: [&str; 6] = [
    "neighbour",
    "family",
    "land",
    "labour",
    "property_mgmt",
    "traffic",
];
const SEVERITIES: [&str; 3] = ["minor", "moderate", "major"];

/// One keep-alive HTTP/1.1 connection posting reports until `stop`.
async fn client(
    address: SocketAddr,
    token: Arc<String>,
    points: Arc<Vec<(f64, f64)>>,
    first: usize,
    stop: Arc<AtomicBool>,
) -> std::io::Result<Counts> {
    let stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let mut stream = BufReader::new(stream);
    let (mut created, mut failed, mut latencies) = (0u64, 0u64, Vec::new());
    let mut n = first;
    while !stop.load(Ordering::Relaxed) {
        let body = report_body(&points, n);
        let request = format!(
            "POST /api/v1/incidents HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nIdempotency-Key: bench-{n}-{first}\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let started = Instant::now();
        stream.get_mut().write_all(request.as_bytes()).await?;
        let mut status_line = String::new();
        stream.read_line(&mut status_line).await?;
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            stream.read_line(&mut line).await?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).await?;
        latencies.push(started.elapsed());
        if status_line.starts_with("HTTP/1.1 201") {
            created += 1;
        } else {
            failed += 1;
            if failed <= 3 {
                eprintln!("{}: {}", status_line.trim(), String::from_utf8_lossy(&body));
            }
        }
        n += 1_000_003;
    }
    Ok((created, failed, latencies))
}

/// Per second, run by run, for one concurrency: over HTTP, pgbench, the queue without HTTP.
#[derive(Default)]
struct Figures {
    clients: usize,
    ours: Vec<f64>,
    baseline: Vec<f64>,
    queue: Vec<f64>,
}

struct Run {
    per_second: f64,
    failed: u64,
    p50_ms: f64,
    p99_ms: f64,
}

async fn intake_run(
    address: SocketAddr,
    token: &Arc<String>,
    points: &Arc<Vec<(f64, f64)>>,
    clients: usize,
    seconds: u64,
    run: usize,
) -> Run {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let client = client(
                address,
                Arc::clone(token),
                Arc::clone(points),
                run * 1_000 + c,
                Arc::clone(&stop),
            );
            tokio::spawn(async move { client.await.expect("client I/O") })
        })
        .collect();
    run_for(seconds, &stop, started, tasks).await
}

/// What one client or task counted: created, failed, and each report's latency.
type Counts = (u64, u64, Vec<Duration>);

/// Lets `tasks` run for `seconds` from `started`, stops them, and sums what they counted.
async fn run_for(
    seconds: u64,
    stop: &AtomicBool,
    started: Instant,
    tasks: Vec<tokio::task::JoinHandle<Counts>>,
) -> Run {
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut created, mut failed, mut latencies) = (0, 0, Vec::new());
    for task in tasks {
        let (c, f, l) = task.await.expect("a client task");
        created += c;
        failed += f;
        latencies.extend(l);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    Run {
        per_second: created as f64 / elapsed,
        failed,
        p50_ms: percentile(&latencies, 0.5),
        p99_ms: percentile(&latencies, 0.99),
    }
}

/// The body of the `n`th report: posted over HTTP, and hashed into the in-process run's
/// idempotency key (that run builds the same report itself).
fn report_body(points: &[(f64, f64)], n: usize) -> String {
    let (lon, lat) = points[n % points.len()];
    format!(
        r#"{{"category":"{}","severity":"{}","description":"基准测试上报 {n}","reporter":{{"name":"测试","phone":"13800000000"}},"location":{{"lon":{lon},"lat":{lat},"accuracy_m":10}}}}"#,
        CATEGORIES[n % CATEGORIES.len()],
        SEVERITIES[n % SEVERITIES.len()],
    )
}

/// `tasks` tasks submitting reports to the intake queue directly (no HTTP) until `seconds`
/// pass: each report checked, keyed and answered as the handler does.
async fn in_process_run(
    state: &wangge::AppState,
    caller: &Caller,
    points: &Arc<Vec<(f64, f64)>>,
    tasks: usize,
    seconds: u64,
    run: usize,
) -> Run {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|c| {
            let (state, caller, points, stop) = (
                state.clone(),
                caller.clone(),
                Arc::clone(points),
                Arc::clone(&stop),
            );
            tokio::spawn(async move {
                let (mut created, mut failed, mut latencies) = (0u64, 0u64, Vec::new());
                let first = run * 1_000 + c;
                let mut n = first;
                while !stop.load(Ordering::Relaxed) {
                    let body = report_body(&points, n);
                    let (lon, lat) = points[n % points.len()];
                    let header = format!("bench-queue-{n}-{first}");
                    let started = Instant::now();
                    let key = Key::from_request(
                        Some(header.as_bytes()),
                        "POST",
                        "/api/v1/incidents",
                        body.as_bytes(),
                    )
                    .expect("a valid key");
                    let mut report = Report {
                        category: CATEGORIES[n % CATEGORIES.len()].into(),
                        severity: SEVERITIES[n % SEVERITIES.len()]
                            .parse()
                            .expect("a severity"),
                        title: None,
                        description: format!("基准测试上报 {n}"),
                        reporter_name: Some("测试".into()),
                        reporter_phone: Some("13800000000".into()),
                        point: Some(LonLat::new(lon, lat).expect("a point in range")),
                        accuracy_m: Some(10.0),
                        address: None,
                        media_url: None,
                        channel: Channel::Api,
                    };
                    report.validate().expect("a valid report");
                    let answer = state
                        .intake_queue
                        .submit(Job {
                            caller: caller.clone(),
                            meta: RequestMeta::system(format!("bench-{n}"), "bench"),
                            report,
                            key,
                        })
                        .await;
                    latencies.push(started.elapsed());
                    match answer {
                        Ok(stored) if stored.status == 201 => created += 1,
                        other => {
                            failed += 1;
                            if failed <= 3 {
                                eprintln!("in process: {other:?}");
                            }
                        }
                    }
                    n += 1_000_003;
                }
                (created, failed, latencies)
            })
        })
        .collect();
    run_for(seconds, &stop, started, handles).await
}

/// pgbench: `clients` connections, each transaction one durable single-row insert.
fn pgbench_run(url: &str, script: &str, clients: usize, seconds: u64) -> f64 {
    let output = Command::new("pgbench")
        .args([
            "-n",
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-T",
            &seconds.to_string(),
            "-f",
            script,
            url,
        ])
        .output()
        .expect("run pgbench (postgresql-client)");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "pgbench failed: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("pgbench printed its tps")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL")?;
    let password =
        std::env::var("WANGGE_BENCH_PASSWORD").map_err(|_| "set WANGGE_BENCH_PASSWORD")?;
    let seconds = env_or("BENCH_SECONDS", 20);
    let concurrencies: Vec<usize> = std::env::var("BENCH_CLIENTS")
        .unwrap_or_else(|_| "32,128".into())
        .split(',')
        .map(|c| c.trim().parse())
        .collect::<Result<_, _>>()
        .map_err(|_| "BENCH_CLIENTS is a comma-separated list of client counts")?;
    let options: sqlx::postgres::PgConnectOptions = url.parse()?;
    let owner = wangge::db::connect(options.clone(), 4, Privilege::Owner).await?;

    // The baseline's table: a point and a category per row, with a primary key and a GiST
    // index like the incident table's geometry.
    sqlx::query("DROP TABLE IF EXISTS bench_single_insert")
        .execute(&owner)
        .await?;
    sqlx::query(
        "CREATE TABLE bench_single_insert (
             id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             category text NOT NULL,
             geom geometry(Point, 4326) NOT NULL,
             reported_at timestamptz NOT NULL DEFAULT now())",
    )
    .execute(&owner)
    .await?;
    sqlx::query("CREATE INDEX ON bench_single_insert USING gist (geom)")
        .execute(&owner)
        .await?;
    let script =
        std::env::temp_dir().join(format!("wangge-bench-insert-{}.sql", std::process::id()));
    std::fs::write(
        &script,
        "\\set lon random(1020000, 1030000)\n\\set lat random(240000, 245000)\n\
         INSERT INTO bench_single_insert (category, geom) VALUES ('neighbour', \
         ST_SetSRID(ST_MakePoint(:lon / 10000.0, :lat / 10000.0), 4326));\n",
    )?;

    // Places to report from: random points inside the published grid cells.
    let points: Vec<(f64, f64)> = sqlx::query_as(
        "SELECT ST_X(p.geom), ST_Y(p.geom)
         FROM (SELECT g.geom FROM grid_cell g JOIN grid_plan gp ON gp.id = g.plan_id
               WHERE gp.status = 'published' ORDER BY md5(g.id::text) LIMIT 4000) g
         CROSS JOIN LATERAL ST_Dump(ST_GeneratePoints(g.geom, 5, 42)) AS p",
    )
    .fetch_all(&owner)
    .await?;
    let cells: i64 = sqlx::query_scalar("SELECT count(*) FROM grid_cell")
        .fetch_one(&owner)
        .await?;
    let incidents: i64 = sqlx::query_scalar("SELECT count(*) FROM incident")
        .fetch_one(&owner)
        .await?;

    let pool = wangge::db::connect(options, 16, Privilege::Application).await?;
    let state = wangge::AppState::new(
        pool.clone(),
        Config::for_database(DatabaseConfig::External { url: url.clone() }),
    );
    let address = serve(state.clone()).await?;
    let token = bearer(&pool, "bench-tiles", &password).await?;
    let caller = Caller::from_token(&state.auth, &token)
        .await?
        .ok_or("the bench user's token opens no session")?;
    let token = Arc::new(token);
    let points = Arc::new(points);

    println!(
        "intake benchmark: {cells} grid cells, {incidents} incidents before; {seconds} s per \
         run, alternating; synchronous_commit on, fsync on"
    );
    println!(
        "{:<46} {:>10} {:>9} {:>9} {:>7}",
        "run", "per s", "p50 ms", "p99 ms", "errors"
    );
    let mut results: Vec<Figures> = concurrencies
        .iter()
        .map(|&clients| Figures {
            clients,
            ..Figures::default()
        })
        .collect();
    // Each run's idempotency keys are its own, so no report is a replay of an earlier one.
    let mut run_number = 0;
    // A warm-up, not counted: the scratch copy starts with nothing of it in shared buffers
    // and every page's first change after the copy's checkpoint writes a full page image.
    let warm_up = *concurrencies.iter().max().unwrap_or(&32);
    intake_run(
        address,
        &token,
        &points,
        warm_up,
        seconds.min(10),
        run_number,
    )
    .await;
    for round in 0..2 {
        for Figures {
            clients,
            ours,
            baseline,
            queue,
        } in &mut results
        {
            run_number += 1;
            let clients = *clients;
            let tps = pgbench_run(&url, &script.to_string_lossy(), clients, seconds);
            println!(
                "{:<46} {tps:>10.0}",
                format!(
                    "pgbench single-row insert, {clients} clients ({})",
                    round + 1
                )
            );
            baseline.push(tps);
            let run = intake_run(address, &token, &points, clients, seconds, run_number).await;
            println!(
                "{:<46} {:>10.0} {:>9.1} {:>9.1} {:>7}",
                format!(
                    "wangge POST /api/v1/incidents, {clients} clients ({})",
                    round + 1
                ),
                run.per_second,
                run.p50_ms,
                run.p99_ms,
                run.failed
            );
            ours.push(run.per_second);
            run_number += 1;
            let run = in_process_run(&state, &caller, &points, clients, seconds, run_number).await;
            println!(
                "{:<46} {:>10.0} {:>9.1} {:>9.1} {:>7}",
                format!(
                    "wangge intake queue, no HTTP, {clients} tasks ({})",
                    round + 1
                ),
                run.per_second,
                run.p50_ms,
                run.p99_ms,
                run.failed
            );
            queue.push(run.per_second);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    for Figures {
        clients,
        ours,
        baseline,
        queue,
    } in &results
    {
        println!(
            "{clients} clients, mean: wangge {:.0} incidents/s, pgbench {:.0} inserts/s; \
             ratio wangge / pgbench = {:.2}",
            mean(ours),
            mean(baseline),
            mean(ours) / mean(baseline)
        );
        println!(
            "{clients} clients, mean: intake queue without HTTP {:.0} incidents/s; \
             ratio queue / pgbench = {:.2}, wangge over HTTP / queue = {:.2}",
            mean(queue),
            mean(queue) / mean(baseline),
            mean(ours) / mean(queue)
        );
    }
    sqlx::query("DROP TABLE bench_single_insert")
        .execute(&owner)
        .await?;
    let _ = std::fs::remove_file(&script);
    Ok(())
}
