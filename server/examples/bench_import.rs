//! Import benchmark: a grid of 100,000 cells (`BENCH_CELLS`) in 100 villages, imported by
//! `wangge import grid-cells` (every check: geometry, validity, slivers, nesting in villages,
//! overlaps; one transaction), beside the floor PostgreSQL itself sets: `COPY` of the same
//! geometries into a bare table with a spatial index and no checks. Two rounds each,
//! alternating, in one run.
//!
//! Usage: `scripts/bench-import.sh`, which starts an empty private database for it.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use wangge::db::Privilege;
use wangge::import::{self, Datum};
use wangge::model::AdminLevel;

#[path = "support/mod.rs"]
mod support;
use support::env_or;

/// Villages in a 10 × 10 block, each 0.05° square, south-west corner here.
const ORIGIN: (f64, f64) = (102.3, 24.2);
const VILLAGE_DEG: f64 = 0.05;

fn square(lon: f64, lat: f64, w: f64, h: f64) -> String {
    format!(
        "[[[{lon},{lat}],[{},{lat}],[{},{}],[{lon},{}],[{lon},{lat}]]]",
        lon + w,
        lon + w,
        lat + h,
        lat + h
    )
}

fn collection(features: &[String]) -> String {
    format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        features.join(",")
    )
}

fn unit(code: &str, name: &str, ring: &str) -> String {
    format!(
        r#"{{"type":"Feature","properties":{{"code":"{code}","name":"{name}"}},"geometry":{{"type":"Polygon","coordinates":{ring}}}}}"#
    )
}

/// The cells of `villages` villages, each cut into `per_village` cells in rows of 25.
fn grid_file(villages: usize, per_village: usize) -> (String, Vec<String>) {
    let (cols, rows) = (25, per_village.div_ceil(25));
    let (w, h) = (VILLAGE_DEG / cols as f64, VILLAGE_DEG / rows as f64);
    let mut features = Vec::with_capacity(villages * per_village);
    let mut ewkb = Vec::with_capacity(villages * per_village);
    for v in 0..villages {
        let (vlon, vlat) = (
            ORIGIN.0 + (v % 10) as f64 * VILLAGE_DEG,
            ORIGIN.1 + (v / 10) as f64 * VILLAGE_DEG,
        );
        for c in 0..per_village {
            let (lon, lat) = (vlon + (c % cols) as f64 * w, vlat + (c / cols) as f64 * h);
            let mut feature = String::new();
            write!(
                feature,
                r#"{{"type":"Feature","properties":{{"code":"B-{v}-{c}","name":"网格{c}","village_code":"530402001{:03}"}},"geometry":{{"type":"Polygon","coordinates":{}}}}}"#,
                v + 1,
                square(lon, lat, w, h)
            )
            .unwrap();
            features.push(feature);
            ewkb.push(
                wangge::db::geometry::Ewkb::multi_polygon(&geo::MultiPolygon(vec![
                    geo::Polygon::new(
                        geo::LineString::from(vec![
                            (lon, lat),
                            (lon + w, lat),
                            (lon + w, lat + h),
                            (lon, lat + h),
                            (lon, lat),
                        ]),
                        vec![],
                    ),
                ]))
                .as_str()
                .to_owned(),
            );
        }
    }
    (collection(&features), ewkb)
}

/// The floor: the same geometries into a bare indexed table by `COPY`, nothing checked.
async fn copy_floor(pool: &sqlx::PgPool, ewkb: &[String]) -> Result<Duration, sqlx::Error> {
    let started = Instant::now();
    let mut conn = pool.acquire().await?;
    sqlx::query("DROP TABLE IF EXISTS bench_floor")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "CREATE TABLE bench_floor (code text, name text, village_code text, geom geometry(MultiPolygon, 4326))",
    )
    .execute(&mut *conn)
    .await?;
    let mut copy = conn
        .copy_in_raw("COPY bench_floor FROM STDIN (FORMAT text)")
        .await?;
    let mut rows = String::with_capacity(ewkb.len() * 200);
    for (i, hex) in ewkb.iter().enumerate() {
        writeln!(rows, "B-{i}\t网格\t530402001001\t{hex}").unwrap();
    }
    copy.send(rows.as_bytes()).await?;
    copy.finish().await?;
    sqlx::query("CREATE INDEX ON bench_floor USING gist (geom)")
        .execute(&mut *conn)
        .await?;
    Ok(started.elapsed())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The import's progress lines, with the seconds each step took.
    wangge::cli::init_logging();
    let url = std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL")?;
    let cells = env_or("BENCH_CELLS", 100_000) as usize;
    let per_village = cells.div_ceil(100);
    let pool = wangge::db::connect(url.parse()?, 4, Privilege::Owner).await?;
    wangge::db::migrate(&pool).await?;

    let city = collection(&[unit("530400", "玉溪市", &square(100.5, 23.0, 3.5, 2.5))]);
    let county = collection(&[unit("530402", "红塔区", &square(102.2, 24.1, 0.7, 0.7))]);
    let township = collection(&[unit(
        "530402001",
        "玉兴街道",
        &square(102.25, 24.15, 0.6, 0.6),
    )]);
    let villages: Vec<String> = (0..100)
        .map(|v| {
            unit(
                &format!("530402001{:03}", v + 1),
                &format!("村{v}"),
                &square(
                    ORIGIN.0 + (v % 10) as f64 * VILLAGE_DEG,
                    ORIGIN.1 + (v / 10) as f64 * VILLAGE_DEG,
                    VILLAGE_DEG,
                    VILLAGE_DEG,
                ),
            )
        })
        .collect();
    for (file, level) in [
        (city, AdminLevel::City),
        (county, AdminLevel::County),
        (township, AdminLevel::Township),
        (collection(&villages), AdminLevel::Village),
    ] {
        import::import_admin_units(&pool, &file, level, Datum::Wgs84).await?;
    }
    let (file, ewkb) = grid_file(100, per_village);
    println!(
        "{} cells in 100 villages, a {:.1} MB GeoJSON file; seconds per import",
        ewkb.len(),
        file.len() as f64 / 1e6
    );
    println!(
        "{:<6} {:>14} {:>14} {:>8}",
        "round", "wangge import", "COPY floor", "ratio"
    );
    for round in 1..=2 {
        let started = Instant::now();
        let report = import::import_grid_cells(&pool, &file, 1 + round, Datum::Wgs84).await?;
        let ours = started.elapsed();
        assert_eq!(report.rows, ewkb.len());
        let floor = copy_floor(&pool, &ewkb).await?;
        println!(
            "{round:<6} {:>14.2} {:>14.2} {:>8.2}",
            ours.as_secs_f64(),
            floor.as_secs_f64(),
            ours.as_secs_f64() / floor.as_secs_f64()
        );
    }
    println!("ratio: wangge's import time / the COPY floor's, in the same run");
    Ok(())
}
