//! Heat maps: incidents counted in H3 hexagons, for the `hexagons` tile layer and for the
//! `incidents` layer below [`crate::tile_layers::POINTS_FROM_ZOOM`].
//!
//! A tile of thousands of case markers is both too big to send and unreadable, and a tile
//! cut down to fit the size cap silently drops cases. Counts per hexagon lose nothing: every
//! case in the caller's area that passes the filters is in exactly one hexagon's count. The
//! hexagons' size follows the zoom ([`resolution_at`]), about 10–25 screen pixels across;
//! which layers count, from which zoom, and which tiles a change makes stale is the layers'
//! business ([`TileLayer::counts_hexagons_at`], [`TileLayer::stale_box`]).
//!
//! The points are read from PostGIS (inside the caller's area, with the tile filters) and
//! counted in Rust with `h3o` (`wangge_analysis::hexbin`): PostgreSQL here has no H3.

use h3o::LatLng;
use sqlx::PgPool;
use wangge_analysis::hexbin::{self, CountedPoint, HexCount};
use wangge_analysis::sphere::LonLat;
use wangge_tiles::mvt::{LayerBuilder, MvtError, Polygon, TileGeometry, Value};
use wangge_tiles::{TileCoord, WORLD_EXTENT_3857};

use crate::auth::Area;
use crate::tile_cache::{BUFFER, EXTENT};
use crate::tile_layers::{TileFilters, TileLayer, resolution_at};

/// Counts the cases of one tile per hexagon, inside the caller's area and the filters.
pub async fn count_tile(
    pool: &PgPool,
    layer: TileLayer,
    coord: TileCoord,
    area: &Area,
    filters: &TileFilters,
) -> Result<Vec<HexCount>, sqlx::Error> {
    let resolution = resolution_at(coord.z());
    let tile_width_m = 2.0 * WORLD_EXTENT_3857 / f64::from(1u32 << coord.z());
    let lat = coord
        .bounds_4326()
        .min_y()
        .abs()
        .min(coord.bounds_4326().max_y().abs());
    // Mercator stretches distances by 1/cos(lat); the largest hexagons are about 1.6 times
    // the average edge, so two of those plus the tile buffer keeps every drawn hexagon whole.
    let hexagon_m = 2.0 * 1.6 * resolution.edge_length_m() / lat.to_radians().cos();
    let margin = (hexagon_m / tile_width_m + BUFFER / EXTENT).min(1.0);
    // `$6` is the margin here, and `$7` (the feature cap) unused.
    let rows: Vec<(f64, f64, bool)> =
        TileLayer::bind_incident_filters(TileLayer::Hexagons.query(coord, area, margin), filters)
            .fetch_all(pool)
            .await?;
    let points: Vec<CountedPoint> = rows
        .into_iter()
        .filter_map(|(lon, lat, open)| {
            LonLat::new(lon, lat)
                .ok()
                .map(|at| CountedPoint { at, open })
        })
        .collect();
    let cells = hexbin::count_by_cell(&points, resolution);
    // Only what this tile draws: hexagons reaching the tile and its buffer, or the points
    // at hexagon centres inside them (each centre is drawn by the tiles around it, once).
    let buffered = buffered_bounds(coord);
    Ok(cells
        .into_iter()
        .filter(|c| {
            if layer == TileLayer::Hexagons {
                let b = hexbin::cell_bounds(c.cell);
                b[0] <= buffered[2]
                    && b[2] >= buffered[0]
                    && b[1] <= buffered[3]
                    && b[3] >= buffered[1]
            } else {
                let centre = LatLng::from(c.cell);
                (buffered[0]..=buffered[2]).contains(&centre.lng())
                    && (buffered[1]..=buffered[3]).contains(&centre.lat())
            }
        })
        .collect())
}

/// The tile's lon/lat box with its buffer.
fn buffered_bounds(coord: TileCoord) -> [f64; 4] {
    let b = coord.bounds_3857();
    let pad = b.width() * BUFFER / EXTENT;
    let (min_lon, min_lat) = wangge_tiles::mercator_to_lonlat(b.min_x() - pad, b.min_y() - pad);
    let (max_lon, max_lat) = wangge_tiles::mercator_to_lonlat(b.max_x() + pad, b.max_y() + pad);
    [min_lon, min_lat, max_lon, max_lat]
}

/// Adds one feature per hexagon to `builder`: the hexagon itself (the `hexagons` layer) or a
/// point at its centre (the `incidents` layer below [`crate::tile_layers::POINTS_FROM_ZOOM`]), each carrying
/// `h3` (the cell's index in hex), `resolution`, `count` and `open_count`. Feature ids are
/// the cells' indexes, stable across tiles and zooms.
pub fn add_counts(
    builder: &mut LayerBuilder,
    layer: TileLayer,
    coord: TileCoord,
    cells: &[HexCount],
) -> Result<(), MvtError> {
    let extent = builder.extent();
    for c in cells {
        let geometry = if layer == TileLayer::Hexagons {
            let ring: Vec<[i32; 2]> = hexbin::cell_ring(c.cell)
                .into_iter()
                .map(|p| coord.project(p.lon(), p.lat(), extent))
                .collect();
            TileGeometry::Polygons(vec![Polygon::new(ring, Vec::new())])
        } else {
            let centre = LatLng::from(c.cell);
            TileGeometry::Points(vec![coord.project(centre.lng(), centre.lat(), extent)])
        };
        let h3 = c.cell.to_string();
        builder.add_feature(
            Some(u64::from(c.cell)),
            &geometry,
            &[
                ("h3", Value::String(h3)),
                (
                    "resolution",
                    Value::Int(i64::from(u8::from(c.cell.resolution()))),
                ),
                ("count", Value::Int(i64::from(c.count))),
                ("open_count", Value::Int(i64::from(c.open))),
            ],
        )?;
    }
    Ok(())
}
