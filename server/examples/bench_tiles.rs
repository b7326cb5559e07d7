//! Tile benchmark: wangge's tile path against PostGIS's own encoder, side by side.
//!
//! For each layer and zoom, the same tiles (around the city centre) are produced three ways
//! in the same run, interleaved tile by tile so machine noise hits all three alike:
//! - `wangge cold`: the layer query, WKB read and MVT encoded in Rust (`tiles` crate), no cache;
//! - `wangge cached`: the same request through the app, answered from the tile cache;
//! - `ST_AsMVT`: baseline, the identical layer query with PostGIS encoding the tile itself.
//!
//! Below zoom 13 wangge's incidents tile counts cases per hexagon; its baseline there is
//! the point tile (every case) that the counts replaced.
//!
//! Usage: `scripts/bench-tiles.sh`, which starts a demo database and a bench user for it.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, header};
use http_body_util::BodyExt;
use tower::ServiceExt;
use wangge::auth::Area;
use wangge::config::{Config, DatabaseConfig};
use wangge::db::Privilege;
use wangge::tile_layers::TileLayer;
use wangge_tiles::{TileCoord, WORLD_EXTENT_3857};

#[path = "support/mod.rs"]
mod support;
use support::bearer;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL")?;
    let options: sqlx::postgres::PgConnectOptions = url.parse()?;
    let pool = wangge::db::connect(options, 4, Privilege::Application).await?;
    // A city-wide operator the script created, so cached tiles go through the real route.
    let password =
        std::env::var("WANGGE_BENCH_PASSWORD").map_err(|_| "set WANGGE_BENCH_PASSWORD")?;
    let token = bearer(&pool, "bench-tiles", &password).await?;
    let state = wangge::AppState::new(
        pool.clone(),
        Config::for_database(DatabaseConfig::External { url }),
    );
    let app = wangge::app(state.clone());
    let city = Area {
        level: "city".into(),
        code: "530400".into(),
        name: "玉溪市".into(),
        prefix: Area::unit_prefix("city", "530400"),
        grid_cell_id: None,
    };
    // Where people live: the median household, so the tiles around it are the busy ones.
    let (lon, lat): (f64, f64) = sqlx::query_as(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ST_X(geom)),
                percentile_cont(0.5) WITHIN GROUP (ORDER BY ST_Y(geom))
         FROM household",
    )
    .fetch_one(&pool)
    .await?;
    println!(
        "tiles around lon {lon:.4}, lat {lat:.4}; times in ms. cold: the layer query and Rust \
         encoding; cached: the whole HTTP route (token check included) from the cache; \
         ratios: ST_AsMVT p50 / wangge p50"
    );
    println!(
        "{:<11} {:>2} {:>5} {:>9} | {:>8} {:>8} | {:>8} {:>8} | {:>8} {:>8} | {:>6} {:>6}",
        "layer",
        "z",
        "tiles",
        "avg KB",
        "cold p50",
        "p95",
        "cache p50",
        "p95",
        "ST_AsMVT",
        "p95",
        "cold×",
        "cache×"
    );
    let layers = [
        (TileLayer::GridCells, vec![9, 11, 13]),
        (TileLayer::Villages, vec![9, 11]),
        (TileLayer::Households, vec![14, 15]),
        (TileLayer::Incidents, vec![9, 12, 14]),
        (TileLayer::Workers, vec![9, 12]),
    ];
    for (layer, zooms) in layers {
        for z in zooms {
            let centre = TileCoord::containing(lon, lat, z)?;
            let mut tiles = Vec::new();
            for dx in -2i64..=2 {
                for dy in -2i64..=2 {
                    let x = (i64::from(centre.x()) + dx) as u32;
                    let y = (i64::from(centre.y()) + dy) as u32;
                    tiles.push(TileCoord::new(z, x, y)?);
                }
            }
            let (mut cold, mut cached, mut baseline) = (Vec::new(), Vec::new(), Vec::new());
            let mut bytes = 0usize;
            for _round in 0..2 {
                for &t in &tiles {
                    let started = Instant::now();
                    let ours = wangge::tile_render::render(
                        &state.pool,
                        &city,
                        layer,
                        t,
                        &Default::default(),
                        state.config.worker_stale_after,
                    )
                    .await?
                    .raw;
                    cold.push(started.elapsed());
                    bytes += ours.len();

                    let uri = format!("/tiles/{}/{}/{}/{}", layer.name(), t.z(), t.x(), t.y());
                    let request = || {
                        Request::get(&uri)
                            .header(header::AUTHORIZATION, format!("Bearer {token}"))
                            .body(Body::empty())
                            .unwrap()
                    };
                    // Fill the cache, then time a hit.
                    app.clone()
                        .oneshot(request())
                        .await?
                        .into_body()
                        .collect()
                        .await?;
                    let started = Instant::now();
                    let response = app.clone().oneshot(request()).await?;
                    response.into_body().collect().await?;
                    cached.push(started.elapsed());

                    let tolerance = 2.0 * WORLD_EXTENT_3857 / f64::from(1u32 << t.z()) / 512.0;
                    // The point layers' queries answer points, placed in the tile by wangge;
                    // PostGIS places them here.
                    let points = |properties: &str| {
                        format!(
                            "WITH rows AS ({}) SELECT ST_AsMVT(q, '{}', 4096, 'geom', 'id')
                             FROM (SELECT id, {properties}, ST_AsMVTGeom(
                                       ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4326), 3857),
                                       ST_TileEnvelope($1, $2, $3), 4096, 64, true) AS geom
                                   FROM rows AS r (id, lon, lat, {properties})) q",
                            layer.sql(),
                            layer.name()
                        )
                    };
                    let sql = match layer {
                        TileLayer::Households => points("grid_cell_code"),
                        TileLayer::Incidents => {
                            points("category, severity, status, tier, open, overdue, reported_at")
                        }
                        _ => format!(
                            "WITH rows AS ({}) SELECT ST_AsMVT(q, '{}', 4096, 'geom', 'id')
                             FROM (SELECT id, ST_GeomFromWKB(wkb) AS geom, props::jsonb AS props
                                   FROM rows AS r (id, wkb, props)) q",
                            layer.sql(),
                            layer.name()
                        ),
                    };
                    let query = sqlx::query_scalar::<_, Vec<u8>>(sqlx::AssertSqlSafe(sql))
                        .bind(i32::from(t.z()))
                        .bind(t.x() as i32)
                        .bind(t.y() as i32)
                        .bind(&city.prefix)
                        .bind(None::<i64>)
                        .bind(tolerance)
                        .bind(layer.feature_cap());
                    let query = match layer {
                        TileLayer::Villages => query.bind("village"),
                        TileLayer::GridCells => query.bind(None::<i32>),
                        TileLayer::Workers => query.bind(600.0f64),
                        TileLayer::Incidents => query
                            .bind(None::<Vec<String>>)
                            .bind(false)
                            .bind(None::<Vec<String>>)
                            .bind(None::<Vec<String>>)
                            .bind(None::<chrono::DateTime<chrono::Utc>>)
                            .bind(None::<chrono::DateTime<chrono::Utc>>)
                            .bind(None::<Vec<String>>),
                        _ => query,
                    };
                    let started = Instant::now();
                    let _ = query.fetch_one(&pool).await?;
                    baseline.push(started.elapsed());
                }
            }
            for v in [&mut cold, &mut cached, &mut baseline] {
                v.sort();
            }
            let (c50, k50, b50) = (
                percentile(&cold, 0.5),
                percentile(&cached, 0.5),
                percentile(&baseline, 0.5),
            );
            println!(
                "{:<11} {:>2} {:>5} {:>9.1} | {:>8.2} {:>8.2} | {:>8.3} {:>8.3} | {:>8.2} {:>8.2} | {:>6.2} {:>6.0}",
                layer.name(),
                z,
                tiles.len(),
                bytes as f64 / cold.len() as f64 / 1024.0,
                ms(c50),
                ms(percentile(&cold, 0.95)),
                ms(k50),
                ms(percentile(&cached, 0.95)),
                ms(b50),
                ms(percentile(&baseline, 0.95)),
                b50.as_secs_f64() / c50.as_secs_f64(),
                b50.as_secs_f64() / k50.as_secs_f64(),
            );
        }
    }
    Ok(())
}
