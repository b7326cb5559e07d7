//! TileJSON 3.0.0 documents describing a vector tile source.
//!
//! Map clients (MapLibre, OpenLayers) read a TileJSON document to learn the tile URL
//! template, the zoom range, where the data is and which layers and fields the tiles hold.
//! [`TileJson`] is built through checked setters, so a document that exists is valid for the
//! spec's rules on zooms and WGS-84 coordinates, and serialises with `serde` leaving out the
//! optional members that were not set.
//!
//! ```
//! use wangge_tiles::{Bounds, TileJson, VectorLayer};
//!
//! let doc = TileJson::new(["https://example.org/tiles/{z}/{x}/{y}.mvt"])?
//!     .name("wangge grid")
//!     .zoom_range(8, 16)?
//!     .bounds(Bounds::new(102.0, 23.5, 103.5, 25.0)?)?
//!     .center(102.546, 24.352, 12)?
//!     .vector_layer(
//!         VectorLayer::new("cells")
//!             .field("code", "Grid cell code")
//!             .description("Management grid cells"),
//!     )?;
//! let json = serde_json::to_value(&doc)?;
//! assert_eq!(json["tilejson"], "3.0.0");
//! assert_eq!(json["center"], serde_json::json!([102.546, 24.352, 12]));
//! assert_eq!(json["vector_layers"][0]["fields"]["code"], "Grid cell code");
//! assert!(json.get("attribution").is_none()); // unset optionals are left out
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;

use serde::Serialize;

use crate::bounds::Bounds;
use crate::coord::MAX_ZOOM;

/// The TileJSON version this module writes.
pub const TILEJSON_VERSION: &str = "3.0.0";

/// Why a [`TileJson`] or [`VectorLayer`] setting was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TileJsonError {
    /// TileJSON requires at least one tile URL.
    #[error("a TileJSON document needs at least one tile URL")]
    NoTiles,
    /// A zoom level is above [`MAX_ZOOM`].
    #[error("zoom {z} is above the maximum zoom {MAX_ZOOM}")]
    ZoomTooHigh {
        /// The rejected zoom level.
        z: u8,
    },
    /// `minzoom` is greater than `maxzoom`.
    #[error("minzoom {minzoom} is greater than maxzoom {maxzoom}")]
    InvertedZooms {
        /// The minimum zoom given.
        minzoom: u8,
        /// The maximum zoom given.
        maxzoom: u8,
    },
    /// A vector layer's zoom range reaches outside the document's.
    #[error(
        "vector layer {id:?} zooms {minzoom}..={maxzoom} reach outside the tileset's \
         {tileset_minzoom}..={tileset_maxzoom}"
    )]
    LayerZoomsOutside {
        /// The layer id.
        id: String,
        /// The layer's minimum zoom.
        minzoom: u8,
        /// The layer's maximum zoom.
        maxzoom: u8,
        /// The document's minimum zoom.
        tileset_minzoom: u8,
        /// The document's maximum zoom.
        tileset_maxzoom: u8,
    },
    /// A position is not WGS-84 degrees (longitude within `[-180, 180]`, latitude within
    /// `[-90, 90]`, finite).
    #[error("({lon}, {lat}) is not a WGS-84 longitude/latitude")]
    NotLonLat {
        /// Longitude as given.
        lon: f64,
        /// Latitude as given.
        lat: f64,
    },
    /// Two vector layers have the same id.
    #[error("vector layer {id:?} is listed twice")]
    DuplicateLayer {
        /// The repeated id.
        id: String,
    },
}

/// A TileJSON 3.0.0 document for a vector tile source.
///
/// Serialises to the spec's JSON members; `tiles` and `tilejson` are always present,
/// `vector_layers` whenever a layer was added, the rest only when set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TileJson {
    tilejson: &'static str,
    tiles: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attribution: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    minzoom: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maxzoom: Option<u8>,
    /// `[west, south, east, north]` in degrees.
    #[serde(skip_serializing_if = "Option::is_none")]
    bounds: Option<[f64; 4]>,
    /// `[lon, lat, zoom]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    center: Option<(f64, f64, u8)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    vector_layers: Vec<VectorLayer>,
}

impl TileJson {
    /// A document serving the given tile URL templates (with `{z}`, `{x}` and `{y}`
    /// placeholders, XYZ scheme). Clients may spread requests over several URLs.
    ///
    /// # Errors
    ///
    /// [`TileJsonError::NoTiles`] if `tiles` is empty.
    pub fn new<I, S>(tiles: I) -> Result<TileJson, TileJsonError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let tiles: Vec<String> = tiles.into_iter().map(Into::into).collect();
        if tiles.is_empty() {
            return Err(TileJsonError::NoTiles);
        }
        Ok(TileJson {
            tilejson: TILEJSON_VERSION,
            tiles,
            name: None,
            description: None,
            attribution: None,
            minzoom: None,
            maxzoom: None,
            bounds: None,
            center: None,
            vector_layers: Vec::new(),
        })
    }

    /// Sets the human-readable name of the tileset.
    pub fn name(mut self, name: impl Into<String>) -> TileJson {
        self.name = Some(name.into());
        self
    }

    /// Sets the tileset's description.
    pub fn description(mut self, description: impl Into<String>) -> TileJson {
        self.description = Some(description.into());
        self
    }

    /// Sets the attribution shown by the map (clients may render it as HTML).
    pub fn attribution(mut self, attribution: impl Into<String>) -> TileJson {
        self.attribution = Some(attribution.into());
        self
    }

    /// Sets the zoom levels tiles exist for, both inclusive.
    ///
    /// # Errors
    ///
    /// [`TileJsonError::ZoomTooHigh`], [`TileJsonError::InvertedZooms`], or
    /// [`TileJsonError::LayerZoomsOutside`] if an added vector layer's range does not fit.
    pub fn zoom_range(mut self, minzoom: u8, maxzoom: u8) -> Result<TileJson, TileJsonError> {
        check_zooms(minzoom, maxzoom)?;
        for layer in &self.vector_layers {
            layer.check_within(minzoom, maxzoom)?;
        }
        self.minzoom = Some(minzoom);
        self.maxzoom = Some(maxzoom);
        Ok(self)
    }

    /// Sets the area covered, a WGS-84 box in degrees (never crossing the antimeridian).
    ///
    /// # Errors
    ///
    /// [`TileJsonError::NotLonLat`] if a corner is not a longitude/latitude.
    pub fn bounds(mut self, bounds_4326: Bounds) -> Result<TileJson, TileJsonError> {
        let b = bounds_4326;
        check_lonlat(b.min_x(), b.min_y())?;
        check_lonlat(b.max_x(), b.max_y())?;
        self.bounds = Some([b.min_x(), b.min_y(), b.max_x(), b.max_y()]);
        Ok(self)
    }

    /// Sets where a client should open the map: (`lon`, `lat`) in degrees and a zoom level.
    ///
    /// # Errors
    ///
    /// [`TileJsonError::NotLonLat`] or [`TileJsonError::ZoomTooHigh`].
    pub fn center(mut self, lon: f64, lat: f64, zoom: u8) -> Result<TileJson, TileJsonError> {
        check_lonlat(lon, lat)?;
        if zoom > MAX_ZOOM {
            return Err(TileJsonError::ZoomTooHigh { z: zoom });
        }
        self.center = Some((lon, lat, zoom));
        Ok(self)
    }

    /// Appends the description of one layer of the tiles.
    ///
    /// # Errors
    ///
    /// [`TileJsonError::DuplicateLayer`], or [`TileJsonError::LayerZoomsOutside`] if the
    /// document has a zoom range and the layer's does not fit in it.
    pub fn vector_layer(mut self, layer: VectorLayer) -> Result<TileJson, TileJsonError> {
        if self.vector_layers.iter().any(|l| l.id == layer.id) {
            return Err(TileJsonError::DuplicateLayer { id: layer.id });
        }
        if let (Some(min), Some(max)) = (self.minzoom, self.maxzoom) {
            layer.check_within(min, max)?;
        }
        self.vector_layers.push(layer);
        Ok(self)
    }

    /// The tile URL templates.
    pub fn tiles(&self) -> &[String] {
        &self.tiles
    }

    /// The vector layers, in the order added.
    pub fn vector_layers(&self) -> &[VectorLayer] {
        &self.vector_layers
    }
}

/// One entry of TileJSON's `vector_layers`: a layer id (the MVT layer name), its property
/// fields with descriptions, and optionally its own zoom range and description.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VectorLayer {
    id: String,
    /// Field name → description; a map so the JSON is in a stable order. Always present
    /// (the spec requires `fields`, possibly empty).
    fields: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    minzoom: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maxzoom: Option<u8>,
}

impl VectorLayer {
    /// A layer entry for the MVT layer named `id`, with no fields yet.
    pub fn new(id: impl Into<String>) -> VectorLayer {
        VectorLayer {
            id: id.into(),
            fields: BTreeMap::new(),
            description: None,
            minzoom: None,
            maxzoom: None,
        }
    }

    /// Adds (or replaces) a property field and its description.
    pub fn field(mut self, name: impl Into<String>, description: impl Into<String>) -> VectorLayer {
        self.fields.insert(name.into(), description.into());
        self
    }

    /// Sets the layer's description.
    pub fn description(mut self, description: impl Into<String>) -> VectorLayer {
        self.description = Some(description.into());
        self
    }

    /// Sets the zoom levels the layer appears at, both inclusive.
    ///
    /// # Errors
    ///
    /// [`TileJsonError::ZoomTooHigh`] or [`TileJsonError::InvertedZooms`].
    pub fn zoom_range(mut self, minzoom: u8, maxzoom: u8) -> Result<VectorLayer, TileJsonError> {
        check_zooms(minzoom, maxzoom)?;
        self.minzoom = Some(minzoom);
        self.maxzoom = Some(maxzoom);
        Ok(self)
    }

    /// The layer id.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn check_within(&self, tileset_minzoom: u8, tileset_maxzoom: u8) -> Result<(), TileJsonError> {
        let (Some(minzoom), Some(maxzoom)) = (self.minzoom, self.maxzoom) else {
            return Ok(());
        };
        if minzoom < tileset_minzoom || maxzoom > tileset_maxzoom {
            return Err(TileJsonError::LayerZoomsOutside {
                id: self.id.clone(),
                minzoom,
                maxzoom,
                tileset_minzoom,
                tileset_maxzoom,
            });
        }
        Ok(())
    }
}

fn check_zooms(minzoom: u8, maxzoom: u8) -> Result<(), TileJsonError> {
    if maxzoom > MAX_ZOOM {
        return Err(TileJsonError::ZoomTooHigh { z: maxzoom });
    }
    if minzoom > maxzoom {
        return Err(TileJsonError::InvertedZooms { minzoom, maxzoom });
    }
    Ok(())
}

fn check_lonlat(lon: f64, lat: f64) -> Result<(), TileJsonError> {
    if (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat) {
        Ok(())
    } else {
        Err(TileJsonError::NotLonLat { lon, lat })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const URL: &str = "https://example.org/{z}/{x}/{y}.mvt";

    #[test]
    fn minimal_document() {
        let doc = TileJson::new([URL]).unwrap();
        assert_eq!(
            serde_json::to_value(&doc).unwrap(),
            json!({"tilejson": "3.0.0", "tiles": [URL]})
        );
        assert_eq!(doc.tiles(), [URL]);
        assert!(doc.vector_layers().is_empty());
        assert_eq!(
            TileJson::new(Vec::<String>::new()),
            Err(TileJsonError::NoTiles)
        );
    }

    #[test]
    fn full_document() {
        let doc = TileJson::new([URL, "https://b.example.org/{z}/{x}/{y}.mvt"])
            .unwrap()
            .name("grid")
            .description("Management grid")
            .attribution("© wangge")
            .zoom_range(6, 18)
            .unwrap()
            .bounds(Bounds::new(-180.0, -85.0, 180.0, 85.0).unwrap())
            .unwrap()
            .center(102.5, 24.25, 10)
            .unwrap()
            .vector_layer(
                VectorLayer::new("cells")
                    .field("name", "Cell name")
                    .field("code", "Cell code")
                    .zoom_range(8, 18)
                    .unwrap(),
            )
            .unwrap()
            .vector_layer(VectorLayer::new("bare").description("No fields"))
            .unwrap();
        let expected = json!({
            "tilejson": "3.0.0",
            "tiles": [URL, "https://b.example.org/{z}/{x}/{y}.mvt"],
            "name": "grid",
            "description": "Management grid",
            "attribution": "© wangge",
            "minzoom": 6,
            "maxzoom": 18,
            "bounds": [-180.0, -85.0, 180.0, 85.0],
            "center": [102.5, 24.25, 10],
            "vector_layers": [
                {"id": "cells", "fields": {"code": "Cell code", "name": "Cell name"},
                 "minzoom": 8, "maxzoom": 18},
                {"id": "bare", "fields": {}, "description": "No fields"},
            ],
        });
        assert_eq!(serde_json::to_value(&doc).unwrap(), expected);
        // Field order is stable in the text too.
        let text = serde_json::to_string(&doc).unwrap();
        assert!(
            text.starts_with(r#"{"tilejson":"3.0.0","tiles":["#),
            "{text}"
        );
        assert_eq!(doc.vector_layers()[0].id(), "cells");
    }

    #[test]
    fn zoom_checks() {
        let doc = || TileJson::new([URL]).unwrap();
        assert_eq!(
            doc().zoom_range(3, 23).unwrap_err(),
            TileJsonError::ZoomTooHigh { z: 23 }
        );
        assert_eq!(
            doc().zoom_range(9, 8).unwrap_err(),
            TileJsonError::InvertedZooms {
                minzoom: 9,
                maxzoom: 8
            }
        );
        assert_eq!(
            doc().center(0.0, 0.0, 23).unwrap_err(),
            TileJsonError::ZoomTooHigh { z: 23 }
        );
        assert!(VectorLayer::new("a").zoom_range(5, 4).is_err());

        // A layer outside the tileset's range, whichever is set first.
        let layer = VectorLayer::new("a").zoom_range(4, 12).unwrap();
        let err = doc()
            .zoom_range(5, 14)
            .unwrap()
            .vector_layer(layer.clone())
            .unwrap_err();
        assert!(matches!(err, TileJsonError::LayerZoomsOutside { .. }));
        assert_eq!(
            err.to_string(),
            "vector layer \"a\" zooms 4..=12 reach outside the tileset's 5..=14"
        );
        let err = doc()
            .vector_layer(layer.clone())
            .unwrap()
            .zoom_range(5, 14)
            .unwrap_err();
        assert!(matches!(err, TileJsonError::LayerZoomsOutside { .. }));
        assert!(doc().zoom_range(4, 12).unwrap().vector_layer(layer).is_ok());
    }

    #[test]
    fn positions_must_be_lonlat() {
        let doc = || TileJson::new([URL]).unwrap();
        for (lon, lat) in [
            (181.0, 0.0),
            (0.0, -90.5),
            (f64::NAN, 0.0),
            (0.0, f64::INFINITY),
        ] {
            assert!(
                matches!(
                    doc().center(lon, lat, 1),
                    Err(TileJsonError::NotLonLat { .. })
                ),
                "({lon}, {lat})"
            );
        }
        // 3857 metres passed by mistake.
        let metres = Bounds::new(11_000_000.0, 2_700_000.0, 11_500_000.0, 2_800_000.0).unwrap();
        assert!(matches!(
            doc().bounds(metres),
            Err(TileJsonError::NotLonLat { .. })
        ));
    }

    #[test]
    fn duplicate_layers_are_refused() {
        let err = TileJson::new([URL])
            .unwrap()
            .vector_layer(VectorLayer::new("a"))
            .unwrap()
            .vector_layer(VectorLayer::new("a"))
            .unwrap_err();
        assert_eq!(err, TileJsonError::DuplicateLayer { id: "a".into() });
    }
}
