//! Pure tile utilities for wangge's vector tile server.
//!
//! This crate holds the map-tile code the server needs, with no I/O:
//!
//! * tile arithmetic: which tile a point falls in, what area a tile covers, and which tiles
//!   a changed area touches (so the server can invalidate cached tiles after a write);
//! * [`clip`]: polygons in Web Mercator metres cut to a tile, as `ST_AsMVTGeom` does (for
//!   the grid cells tiled from memory);
//! * [`mvt`]: a Mapbox Vector Tile 2.1 encoder (hand-written protobuf, no code generator)
//!   that cleans and rewinds geometries to the spec's rules and tracks the encoded size so
//!   the server can keep tiles under a byte budget;
//! * [`wkb`]: a defensive reader for the WKB that PostGIS `ST_AsBinary(ST_AsMVTGeom(...))`
//!   returns, producing the encoder's tile-space geometry;
//! * [`tilejson`]: TileJSON 3.0.0 documents describing the tile source to map clients.
//!
//! # Conventions
//!
//! * Tiles use the XYZ ("slippy map") scheme over Web Mercator: at zoom `z` there are
//!   `2^z × 2^z` tiles, `x` grows eastward from 180° W and `y` grows southward from the top of
//!   the map. Zoom levels run from 0 to [`MAX_ZOOM`] (22).
//! * Projected coordinates are EPSG:3857 metres; the world is the square
//!   ±[`WORLD_EXTENT_3857`] on both axes.
//! * Geographic coordinates are WGS-84 (EPSG:4326) degrees, always in longitude, latitude
//!   order. Latitudes beyond ±[`MAX_LATITUDE`] (≈ 85.05112878°) are clamped to it.
//! * Tile-space coordinates (MVT geometry) are integers from the tile's top-left corner,
//!   `x` to the right and `y` **down**, `0..extent` (usually [`DEFAULT_EXTENT`], 4096).
//! * Values are validated when built: a [`TileCoord`] or [`Bounds`] that exists is valid.
//!   Each module has one error enum saying exactly what was wrong.
//!
//! # Example
//!
//! ```
//! use wangge_tiles::{tiles_covering, Bounds, TileCoord};
//!
//! // The zoom-10 tile holding Yuxi city centre (lon 102.546°, lat 24.352°).
//! let tile = TileCoord::containing(102.546, 24.352, 10)?;
//! assert_eq!(tile.to_string(), "10/803/440");
//!
//! // Its extent in EPSG:3857 metres, e.g. for ST_TileEnvelope-style clipping.
//! let extent = tile.bounds_3857();
//! assert!((extent.width() - 39_135.758).abs() < 1e-3);
//!
//! // Tiles at zoom 12 touched by an edit inside a small lon/lat box.
//! let edited = Bounds::new(102.50, 24.30, 102.60, 24.40)?;
//! let stale: Vec<TileCoord> = tiles_covering(&edited, 12)?.collect();
//! assert!(stale.contains(&TileCoord::containing(102.546, 24.352, 12)?));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bounds;
pub mod clip;
mod coord;
mod mercator;
pub mod mvt;
mod range;
pub mod tilejson;
pub mod wkb;

pub use bounds::{Bounds, BoundsError, tiles_covering};
pub use coord::{MAX_ZOOM, TileCoord, TileCoordError};
pub use mercator::{
    MAX_LATITUDE, WEB_MERCATOR_RADIUS_M, WORLD_EXTENT_3857, lonlat_to_3857, mercator_to_lonlat,
};
pub use mvt::{DEFAULT_EXTENT, LayerBuilder, MvtError, Polygon, TileBuilder, TileGeometry, Value};
pub use range::TileRange;
pub use tilejson::{TileJson, TileJsonError, VectorLayer};
pub use wkb::{WkbError, parse_wkb};

#[cfg(test)]
mod test_support;
