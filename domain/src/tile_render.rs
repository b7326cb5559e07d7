//! Rendering one vector tile: the layer's rows read inside the caller's area
//! ([`TileLayer::read`]), encoded as MVT 2.1 by `wangge_tiles`, kept under the size cap.

use std::time::Duration;

use sqlx::PgPool;
use wangge_tiles::mvt::{LayerBuilder, TileBuilder, TileGeometry, Value};
use wangge_tiles::{TileCoord, WORLD_EXTENT_3857, parse_wkb};

use crate::auth::Area;
use crate::tile_cache::{BUFFER, CachedTile, EXTENT};
use crate::tile_layers::{TileFilters, TileLayer};

/// No tile is sent larger than this; past it, the least important features are dropped.
pub const MAX_TILE_BYTES: usize = 500 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum TileError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Geometry or properties the encoder cannot take: a broken invariant, never the caller's.
    #[error("{0}")]
    Encoding(String),
}

/// Reads and encodes one tile inside the caller's area.
pub async fn render(
    pool: &PgPool,
    area: &Area,
    layer: TileLayer,
    coord: TileCoord,
    filters: &TileFilters,
    worker_stale_after: Duration,
) -> Result<CachedTile, TileError> {
    let mut builder = LayerBuilder::new(layer.name(), wangge_tiles::mvt::DEFAULT_EXTENT)
        .map_err(|e| TileError::Encoding(e.to_string()))?;
    if layer.counts_hexagons_at(coord.z()) {
        let cells = crate::heat::count_tile(pool, layer, coord, area, filters).await?;
        crate::heat::add_counts(&mut builder, layer, coord, &cells)
            .map_err(|e| TileError::Encoding(format!("tile encoding: {e}")))?;
    } else if layer == TileLayer::Households && coord.z() >= layer.min_zoom() {
        for (id, lon, lat, cell) in TileLayer::read_households(pool, coord, area).await? {
            let mut values = vec![("id", Value::Int(id))];
            if let Some(cell) = cell {
                values.push(("grid_cell_code", Value::String(cell)));
            }
            add_point(&mut builder, coord, id, lon, lat, &values)?;
        }
        fit(&mut builder, layer, coord);
    } else if layer == TileLayer::Incidents {
        let rows = TileLayer::read_incidents(pool, coord, area, filters).await?;
        for (id, lon, lat, category, severity, status, tier, open, overdue, reported_at) in rows {
            let mut values = vec![
                ("id", Value::Int(id)),
                ("category", Value::String(category)),
                ("severity", Value::String(severity)),
                ("status", Value::String(status)),
            ];
            if let Some(tier) = tier {
                values.push(("tier", Value::String(tier)));
            }
            values.push(("open", Value::Bool(open)));
            if let Some(overdue) = overdue {
                values.push(("overdue", Value::Bool(overdue)));
            }
            values.push(("reported_at", Value::Int(reported_at)));
            add_point(&mut builder, coord, id, lon, lat, &values)?;
        }
        fit(&mut builder, layer, coord);
    } else if coord.z() >= layer.min_zoom() {
        let tile_width_m = 2.0 * WORLD_EXTENT_3857 / f64::from(1u32 << coord.z());
        // One pixel of a 512-pixel tile: invisible, and it keeps low-zoom polygons small.
        let tolerance = tile_width_m / 512.0;
        let rows = layer
            .read(pool, coord, area, tolerance, filters, worker_stale_after)
            .await?;
        for (id, wkb, properties) in rows {
            let Some(wkb) = wkb else { continue };
            let geometry = match parse_wkb(&wkb) {
                Ok(Some(g)) => g,
                Ok(None) => continue,
                Err(e) => return Err(TileError::Encoding(format!("tile geometry: {e}"))),
            };
            let properties: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&properties)
                    .map_err(|e| TileError::Encoding(format!("tile properties: {e}")))?;
            let values: Vec<(&str, Value)> = properties
                .iter()
                .filter_map(|(k, v)| json_value(v).map(|v| (k.as_str(), v)))
                .collect();
            builder
                .add_feature(u64::try_from(id).ok(), &geometry, &values)
                .map_err(|e| TileError::Encoding(format!("tile encoding: {e}")))?;
        }
        fit(&mut builder, layer, coord);
    }
    let mut tile = TileBuilder::new();
    tile.add_layer(builder)
        .map_err(|e| TileError::Encoding(e.to_string()))?;
    Ok(CachedTile::new(tile.encode()))
}

/// Adds a point feature where `ST_AsMVTGeom` would put it: projected, rounded to the grid,
/// and left out past the buffer.
fn add_point(
    builder: &mut LayerBuilder,
    coord: TileCoord,
    id: i64,
    lon: f64,
    lat: f64,
    values: &[(&str, Value)],
) -> Result<(), TileError> {
    let point = coord.project(lon, lat, EXTENT as u32);
    if point
        .iter()
        .any(|v| f64::from(*v) < -BUFFER || f64::from(*v) > EXTENT + BUFFER)
    {
        return Ok(());
    }
    builder
        .add_feature(
            u64::try_from(id).ok(),
            &TileGeometry::Points(vec![point]),
            values,
        )
        .map(|_| ())
        .map_err(|e| TileError::Encoding(format!("tile encoding: {e}")))
}

/// Keeps a tile under [`MAX_TILE_BYTES`]: features come most important first, so they are
/// dropped from the end until it fits.
pub(crate) fn fit(builder: &mut LayerBuilder, layer: TileLayer, coord: TileCoord) {
    while builder.encoded_len() > MAX_TILE_BYTES && builder.feature_count() > 0 {
        let keep = builder.feature_count() / 2;
        tracing::warn!(%layer, tile = %coord, keep, "tile over the size cap; dropping features");
        builder.truncate(keep);
    }
}

/// Tile properties are strings, numbers and booleans; null (e.g. a county's parent) is left
/// out rather than invented.
fn json_value(value: &serde_json::Value) -> Option<Value> {
    match value {
        serde_json::Value::String(s) => Some(Value::String(s.clone())),
        serde_json::Value::Bool(b) => Some(Value::Bool(*b)),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .or_else(|| n.as_f64().map(Value::Double)),
        _ => None,
    }
}
