//! Incident tile sizes over the whole city, zoom by zoom, and a check that no tile drops a
//! case: below zoom 13 the `incidents` layer counts cases per hexagon, from 13 up it sends
//! each case. Every case with a point lies in exactly one tile of a zoom, so adding up what
//! each tile shows inside its own bounds (counts, or points) must give every case, once.
//!
//! Usage: `scripts/tile-sizes.sh` (a demo database, as the benchmarks). Run it with no
//! server writing to that database: a case added halfway would be counted at some zooms.

use mvt_reader::Reader;
use mvt_reader::feature::Value as Decoded;
use wangge::auth::Area;
use wangge::config::{Config, DatabaseConfig};
use wangge::db::Privilege;
use wangge::tile_layers::{POINTS_FROM_ZOOM, TileLayer};
use wangge_tiles::{Bounds, TileCoord, tiles_covering};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL")?;
    let options: sqlx::postgres::PgConnectOptions = url.parse()?;
    let pool = wangge::db::connect(options, 4, Privilege::Application).await?;
    let state = wangge::AppState::new(
        pool.clone(),
        Config::for_database(DatabaseConfig::External { url }),
    );
    let city = Area {
        level: "city".into(),
        code: "530400".into(),
        name: "玉溪市".into(),
        prefix: Area::unit_prefix("city", "530400"),
        grid_cell_id: None,
    };
    let (cases, x0, y0, x1, y1): (i64, f64, f64, f64, f64) = sqlx::query_as(
        "SELECT count(*), ST_XMin(ST_Extent(geom)), ST_YMin(ST_Extent(geom)),
                ST_XMax(ST_Extent(geom)), ST_YMax(ST_Extent(geom))
         FROM incident WHERE geom IS NOT NULL",
    )
    .fetch_one(&pool)
    .await?;
    println!("{cases} cases with a point; incident tiles over all of them, zoom by zoom");
    println!(
        "{:>4} {:>6} {:>10} {:>10} {:>10} {:>10} {:>16}",
        "zoom", "tiles", "avg KB", "max KB", "avg gz KB", "max gz KB", "cases shown"
    );
    // A hexagon's centre may lie a little beyond the outermost case in it.
    let bounds = Bounds::new(x0 - 0.1, y0 - 0.1, x1 + 0.1, y1 + 0.1)?;
    for z in 6..=POINTS_FROM_ZOOM {
        let range = tiles_covering(&bounds, z)?;
        let (mut n, mut raw, mut gz, mut max_raw, mut max_gz, mut shown) = (0, 0, 0, 0, 0, 0i64);
        for x in range.x_range() {
            for y in range.y_range() {
                let t = TileCoord::new(z, x, y)?;
                let tile = wangge::tile_render::render(
                    &state.pool,
                    &city,
                    TileLayer::Incidents,
                    t,
                    &Default::default(),
                    state.config.worker_stale_after,
                )
                .await?;
                if tile.raw.is_empty() {
                    continue;
                }
                shown += shown_inside(&tile.raw, z < POINTS_FROM_ZOOM)?;
                // Tiles with nothing in them are a few bytes (the empty layer): not counted.
                if tile.raw.len() > 32 {
                    n += 1;
                    raw += tile.raw.len();
                    gz += tile.gzip.len();
                    max_raw = max_raw.max(tile.raw.len());
                    max_gz = max_gz.max(tile.gzip.len());
                }
            }
        }
        let kb = |b: usize| b as f64 / 1024.0;
        println!(
            "{z:>4} {n:>6} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>9} of {cases}",
            kb(raw) / n.max(1) as f64,
            kb(max_raw),
            kb(gz) / n.max(1) as f64,
            kb(max_gz),
            shown
        );
        if shown != cases {
            return Err(format!("zoom {z}: {shown} cases shown of {cases}").into());
        }
    }
    Ok(())
}

/// What a tile shows inside its own bounds (not its buffer): the hexagons' counts, or its
/// points.
fn shown_inside(bytes: &[u8], counted: bool) -> Result<i64, Box<dyn std::error::Error>> {
    let reader = Reader::new(bytes.to_vec()).map_err(|e| format!("{e:?}"))?;
    let mut shown = 0;
    for feature in reader
        .get_features_as::<i32>(0)
        .map_err(|e| format!("{e:?}"))?
    {
        let inside = match &feature.geometry {
            geo_types::Geometry::Point(p) => {
                (0..4096).contains(&p.x()) && (0..4096).contains(&p.y())
            }
            geo_types::Geometry::MultiPoint(mp) => {
                mp.0.iter()
                    .all(|p| (0..4096).contains(&p.x()) && (0..4096).contains(&p.y()))
            }
            _ => false,
        };
        if !inside {
            continue;
        }
        shown += if counted {
            match feature.properties.as_ref().and_then(|p| p.get("count")) {
                Some(Decoded::UInt(n)) => *n as i64,
                Some(Decoded::SInt(n)) | Some(Decoded::Int(n)) => *n,
                other => return Err(format!("a counted point without a count: {other:?}").into()),
            }
        } else {
            1
        };
    }
    Ok(shown)
}
