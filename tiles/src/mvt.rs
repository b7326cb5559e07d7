//! A Mapbox Vector Tile (MVT) 2.1 encoder.
//!
//! The protobuf wire format is written by hand (it needs only varints, fixed 64-bit doubles
//! and length-delimited fields), so the crate needs no protobuf library or code generator at
//! build or run time.
//!
//! Geometries come in as [`TileGeometry`], already in tile space: integer coordinates with
//! `(0, 0)` at the tile's top-left corner, `x` growing to the right and `y` growing
//! **downward**, `0..extent` on both axes (coordinates slightly outside belong to the render
//! buffer and are kept). That is what PostGIS `ST_AsMVTGeom` produces; [`crate::wkb`] reads
//! its output.
//!
//! The encoder enforces the rules of the specification itself rather than trusting its input:
//!
//! * consecutive repeated points are dropped from lines and rings (a `LineTo` must move);
//! * a ring's closing point is not written (`ClosePath` closes it);
//! * exterior rings are wound to a positive surveyor's-formula area in tile coordinates
//!   (clockwise on screen, since `y` points down) and holes to a negative one, reversing
//!   rings as needed;
//! * rings with fewer than 3 distinct points or zero area are dropped, holes go with a
//!   dropped exterior, lines with fewer than 2 distinct points are dropped, and a feature
//!   left with no geometry is skipped;
//! * keys and values are stored once per layer; layers without features are left out.
//!
//! ```
//! use wangge_tiles::mvt::{LayerBuilder, Polygon, TileBuilder, TileGeometry, Value, DEFAULT_EXTENT};
//!
//! let mut cells = LayerBuilder::new("cells", DEFAULT_EXTENT)?;
//! // A square given counter-clockwise on screen: the encoder rewinds it.
//! let square = Polygon::new(vec![[0, 0], [0, 100], [100, 100], [100, 0]], vec![]);
//! let added = cells.add_feature(
//!     Some(7),
//!     &TileGeometry::Polygons(vec![square]),
//!     &[("name", Value::from("A-01")), ("households", Value::Int(42))],
//! )?;
//! assert!(added);
//! // A line that never moves is skipped, not an error.
//! assert!(!cells.add_feature(None, &TileGeometry::Lines(vec![vec![[5, 5], [5, 5]]]), &[])?);
//! assert_eq!(cells.feature_count(), 1);
//!
//! let mut tile = TileBuilder::new();
//! tile.add_layer(cells)?;
//! let bytes = tile.encode();
//! assert_eq!(bytes.len(), tile.encoded_len());
//! assert!(TileBuilder::new().encode().is_empty()); // an empty tile is zero bytes
//! # Ok::<(), wangge_tiles::mvt::MvtError>(())
//! ```

use std::collections::{HashMap, HashSet};

/// The usual number of integer coordinate steps across a tile (MVT's default extent), on
/// both axes.
pub const DEFAULT_EXTENT: u32 = 4096;

/// The largest count a geometry command can carry: the count has 29 bits.
const MAX_COMMAND_COUNT: usize = (1 << 29) - 1;

/// Geometry command ids (spec 4.3.1).
const MOVE_TO: u32 = 1;
const LINE_TO: u32 = 2;
const CLOSE_PATH: u32 = 7;

/// Protobuf wire types used here.
const WIRE_VARINT: u32 = 0;
const WIRE_FIXED64: u32 = 1;
const WIRE_LEN: u32 = 2;

/// `Tile.layers`.
const TILE_LAYERS: u32 = 3;
/// `Layer` fields.
const LAYER_NAME: u32 = 1;
const LAYER_FEATURES: u32 = 2;
const LAYER_KEYS: u32 = 3;
const LAYER_VALUES: u32 = 4;
const LAYER_EXTENT: u32 = 5;
const LAYER_VERSION: u32 = 15;
/// `Feature` fields.
const FEATURE_ID: u32 = 1;
const FEATURE_TAGS: u32 = 2;
const FEATURE_TYPE: u32 = 3;
const FEATURE_GEOMETRY: u32 = 4;
/// `Value` fields (`float_value` = 2 and `int_value` = 4 are never written).
const VALUE_STRING: u32 = 1;
const VALUE_DOUBLE: u32 = 3;
const VALUE_UINT: u32 = 5;
const VALUE_SINT: u32 = 6;
const VALUE_BOOL: u32 = 7;

/// The MVT version written in every layer.
const MVT_VERSION: u32 = 2;

/// A feature property value.
///
/// Integers are written the way PostGIS `ST_AsMVT` writes them: `uint_value` when
/// non-negative, `sint_value` (zigzag, so small negative numbers stay short) when negative.
/// Doubles are written as `double_value`; two doubles are the same value when their bit
/// patterns are equal (so `0.0` and `-0.0` are distinct and a NaN matches itself).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A UTF-8 string.
    String(String),
    /// A 64-bit float.
    Double(f64),
    /// A signed 64-bit integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Double(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}

/// How a [`Value`] is deduplicated: doubles by bit pattern, so that the key has `Eq`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ValueKey {
    String(String),
    Double(u64),
    Int(i64),
    Bool(bool),
}

impl ValueKey {
    fn of(value: &Value) -> ValueKey {
        match value {
            Value::String(s) => ValueKey::String(s.clone()),
            Value::Double(d) => ValueKey::Double(d.to_bits()),
            Value::Int(i) => ValueKey::Int(*i),
            Value::Bool(b) => ValueKey::Bool(*b),
        }
    }
}

/// One polygon in tile coordinates: an exterior ring and zero or more holes.
///
/// Rings may be given closed (last point equal to the first) or open, in either winding
/// order: the encoder normalises both.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Polygon {
    /// The outer boundary.
    pub exterior: Vec<[i32; 2]>,
    /// Holes inside the exterior.
    pub holes: Vec<Vec<[i32; 2]>>,
}

impl Polygon {
    /// A polygon from its exterior ring and holes.
    pub fn new(exterior: Vec<[i32; 2]>, holes: Vec<Vec<[i32; 2]>>) -> Polygon {
        Polygon { exterior, holes }
    }
}

/// A feature's geometry in tile coordinates (`[x, y]`, `y` growing downward, `0..extent`
/// inside the tile).
///
/// Each variant is the multi-geometry of its kind; a single point, line or polygon is a
/// one-element list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TileGeometry {
    /// One or more points (an MVT `POINT` feature).
    Points(Vec<[i32; 2]>),
    /// One or more line strings (an MVT `LINESTRING` feature).
    Lines(Vec<Vec<[i32; 2]>>),
    /// One or more polygons (an MVT `POLYGON` feature).
    Polygons(Vec<Polygon>),
}

/// Why a layer, feature or tile could not be encoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MvtError {
    /// Layer names must be non-empty (the spec requires a name, and clients select layers
    /// by it).
    #[error("layer name is empty")]
    EmptyLayerName,
    /// The extent must be at least 1.
    #[error("layer {layer:?} has extent 0")]
    ZeroExtent {
        /// The layer's name.
        layer: String,
    },
    /// A tile may not hold two layers with the same name.
    #[error("the tile already has a layer named {layer:?}")]
    DuplicateLayer {
        /// The repeated name.
        layer: String,
    },
    /// A feature may not carry the same property key twice.
    #[error("property key {key:?} appears more than once in one feature")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
    /// The step between two consecutive points does not fit the 32-bit signed delta MVT
    /// stores.
    #[error("the step from {from:?} to {to:?} does not fit a 32-bit MVT delta")]
    DeltaOverflow {
        /// The previous point (the cursor).
        from: [i32; 2],
        /// The next point.
        to: [i32; 2],
    },
    /// A single geometry command would need a count above 2^29 − 1 points.
    #[error("{count} points in one geometry command; at most {MAX_COMMAND_COUNT} fit")]
    TooManyPoints {
        /// The number of points asked for.
        count: usize,
    },
    /// The layer's key or value table would exceed `u32` indices.
    #[error("layer {layer:?} has too many distinct keys or values")]
    TableFull {
        /// The layer's name.
        layer: String,
    },
}

/// MVT `GeomType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GeomType {
    Point = 1,
    LineString = 2,
    Polygon = 3,
}

/// A feature whose geometry and tags are already in MVT form; kept unencoded so
/// [`LayerBuilder::truncate`] can renumber its tags.
#[derive(Debug, Clone)]
struct Feature {
    id: Option<u64>,
    kind: GeomType,
    tags: Vec<u32>,
    geometry: Vec<u32>,
}

impl Feature {
    /// Bytes of the `Feature` message body.
    fn body_len(&self) -> usize {
        let mut len = 0;
        if let Some(id) = self.id {
            len += field_len_varint(FEATURE_ID, id);
        }
        len += field_len_packed(FEATURE_TAGS, &self.tags);
        len += field_len_varint(FEATURE_TYPE, self.kind as u64);
        len += field_len_packed(FEATURE_GEOMETRY, &self.geometry);
        len
    }

    fn write(&self, out: &mut Vec<u8>) {
        if let Some(id) = self.id {
            put_field_varint(out, FEATURE_ID, id);
        }
        put_field_packed(out, FEATURE_TAGS, &self.tags);
        put_field_varint(out, FEATURE_TYPE, self.kind as u64);
        put_field_packed(out, FEATURE_GEOMETRY, &self.geometry);
    }
}

/// Builds one layer of a tile: its name, extent, deduplicated key and value tables, and
/// encoded features.
///
/// Features are kept in the order added. Sizes are tracked as features are added, so
/// [`encoded_len`](LayerBuilder::encoded_len) is cheap and a caller can stop adding, or
/// [`truncate`](LayerBuilder::truncate), once a tile reaches its size budget.
///
/// ```
/// use wangge_tiles::mvt::{LayerBuilder, TileGeometry, Value};
///
/// let mut layer = LayerBuilder::new("poi", 4096)?;
/// layer.add_feature(Some(1), &TileGeometry::Points(vec![[10, 20]]), &[("kind", "school".into())])?;
/// layer.add_feature(Some(2), &TileGeometry::Points(vec![[30, 40]]), &[("kind", "school".into())])?;
/// assert_eq!(layer.feature_count(), 2);
/// let two = layer.encoded_len();
/// layer.truncate(1);
/// assert!(layer.encoded_len() < two);
/// # Ok::<(), wangge_tiles::mvt::MvtError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LayerBuilder {
    name: String,
    extent: u32,
    keys: Vec<String>,
    key_index: HashMap<String, u32>,
    values: Vec<Value>,
    value_index: HashMap<ValueKey, u32>,
    features: Vec<Feature>,
    /// Running sums of the encoded `keys`, `values` and `features` fields, in bytes.
    keys_len: usize,
    values_len: usize,
    features_len: usize,
}

impl LayerBuilder {
    /// An empty layer called `name` whose tile is `extent` coordinate steps wide and high
    /// (usually [`DEFAULT_EXTENT`]).
    ///
    /// # Errors
    ///
    /// [`MvtError::EmptyLayerName`] or [`MvtError::ZeroExtent`].
    pub fn new(name: impl Into<String>, extent: u32) -> Result<LayerBuilder, MvtError> {
        let name = name.into();
        if name.is_empty() {
            return Err(MvtError::EmptyLayerName);
        }
        if extent == 0 {
            return Err(MvtError::ZeroExtent { layer: name });
        }
        Ok(LayerBuilder {
            name,
            extent,
            keys: Vec::new(),
            key_index: HashMap::new(),
            values: Vec::new(),
            value_index: HashMap::new(),
            features: Vec::new(),
            keys_len: 0,
            values_len: 0,
            features_len: 0,
        })
    }

    /// The layer's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The layer's extent, in coordinate steps across the tile.
    pub fn extent(&self) -> u32 {
        self.extent
    }

    /// How many features the layer holds.
    pub fn feature_count(&self) -> usize {
        self.features.len()
    }

    /// Whether the layer has no features (it is then left out of the tile).
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// Adds one feature and returns `true`, or returns `false` and leaves the layer
    /// unchanged when nothing of `geometry` is left after cleaning (see the [module
    /// docs](self)).
    ///
    /// `id` is written when given; the spec asks that ids be unique within a layer, which is
    /// the caller's business. `properties` must not repeat a key.
    ///
    /// # Errors
    ///
    /// [`MvtError::DuplicateKey`], [`MvtError::DeltaOverflow`] (points more than `i32::MAX`
    /// apart), [`MvtError::TooManyPoints`] or [`MvtError::TableFull`]. The layer is unchanged
    /// after an error.
    pub fn add_feature(
        &mut self,
        id: Option<u64>,
        geometry: &TileGeometry,
        properties: &[(&str, Value)],
    ) -> Result<bool, MvtError> {
        let Some((kind, commands)) = encode_geometry(geometry)? else {
            return Ok(false);
        };
        let mut seen = HashSet::with_capacity(properties.len());
        for (key, _) in properties {
            if !seen.insert(*key) {
                return Err(MvtError::DuplicateKey {
                    key: (*key).to_owned(),
                });
            }
        }
        let new_keys = properties
            .iter()
            .filter(|(k, _)| !self.key_index.contains_key(*k))
            .count();
        let new_values: HashSet<ValueKey> = properties
            .iter()
            .map(|(_, v)| ValueKey::of(v))
            .filter(|v| !self.value_index.contains_key(v))
            .collect();
        let fits = |len: usize, extra: usize| u32::try_from(len + extra).is_ok();
        if !fits(self.keys.len(), new_keys) || !fits(self.values.len(), new_values.len()) {
            return Err(MvtError::TableFull {
                layer: self.name.clone(),
            });
        }

        let mut tags = Vec::with_capacity(properties.len() * 2);
        for (key, value) in properties {
            tags.push(self.intern_key(key));
            tags.push(self.intern_value(value));
        }
        let feature = Feature {
            id,
            kind,
            tags,
            geometry: commands,
        };
        self.features_len += field_len_bytes(LAYER_FEATURES, feature.body_len());
        self.features.push(feature);
        Ok(true)
    }

    /// Keeps only the first `len` features (no-op if there are fewer) and removes keys and
    /// values no other feature uses, so the layer shrinks as if the dropped features had
    /// never been added. Meant for enforcing a tile size budget.
    pub fn truncate(&mut self, len: usize) {
        if len >= self.features.len() {
            return;
        }
        self.features.truncate(len);
        let old_keys = std::mem::take(&mut self.keys);
        let old_values = std::mem::take(&mut self.values);
        self.key_index.clear();
        self.value_index.clear();
        self.keys_len = 0;
        self.values_len = 0;
        self.features_len = 0;
        let mut features = std::mem::take(&mut self.features);
        for feature in &mut features {
            for pair in feature.tags.chunks_exact_mut(2) {
                pair[0] = self.intern_key(&old_keys[pair[0] as usize]);
                pair[1] = self.intern_value(&old_values[pair[1] as usize]);
            }
            self.features_len += field_len_bytes(LAYER_FEATURES, feature.body_len());
        }
        self.features = features;
    }

    /// The number of bytes this layer adds to an encoded tile: 0 when it has no features.
    pub fn encoded_len(&self) -> usize {
        if self.features.is_empty() {
            0
        } else {
            field_len_bytes(TILE_LAYERS, self.body_len())
        }
    }

    /// Bytes of the `Layer` message body.
    fn body_len(&self) -> usize {
        field_len_bytes(LAYER_NAME, self.name.len())
            + self.features_len
            + self.keys_len
            + self.values_len
            + field_len_varint(LAYER_EXTENT, u64::from(self.extent))
            + field_len_varint(LAYER_VERSION, u64::from(MVT_VERSION))
    }

    /// Writes the `Layer` message body, fields in field-number order.
    fn write(&self, out: &mut Vec<u8>) {
        put_field_bytes(out, LAYER_NAME, self.name.as_bytes());
        for feature in &self.features {
            put_key(out, LAYER_FEATURES, WIRE_LEN);
            put_varint(out, feature.body_len() as u64);
            feature.write(out);
        }
        for key in &self.keys {
            put_field_bytes(out, LAYER_KEYS, key.as_bytes());
        }
        for value in &self.values {
            put_key(out, LAYER_VALUES, WIRE_LEN);
            put_varint(out, value_body_len(value) as u64);
            write_value(out, value);
        }
        put_field_varint(out, LAYER_EXTENT, u64::from(self.extent));
        put_field_varint(out, LAYER_VERSION, u64::from(MVT_VERSION));
    }

    /// The index of `key` in the key table, adding it if new. The caller has checked that
    /// the table has room.
    fn intern_key(&mut self, key: &str) -> u32 {
        if let Some(&i) = self.key_index.get(key) {
            return i;
        }
        let i = self.keys.len() as u32;
        self.keys_len += field_len_bytes(LAYER_KEYS, key.len());
        self.keys.push(key.to_owned());
        self.key_index.insert(key.to_owned(), i);
        i
    }

    /// The index of `value` in the value table, adding it if new. The caller has checked
    /// that the table has room.
    fn intern_value(&mut self, value: &Value) -> u32 {
        let key = ValueKey::of(value);
        if let Some(&i) = self.value_index.get(&key) {
            return i;
        }
        let i = self.values.len() as u32;
        self.values_len += field_len_bytes(LAYER_VALUES, value_body_len(value));
        self.values.push(value.clone());
        self.value_index.insert(key, i);
        i
    }
}

/// Builds a whole tile from layers.
///
/// ```
/// use wangge_tiles::mvt::{LayerBuilder, MvtError, TileBuilder, TileGeometry};
///
/// let mut tile = TileBuilder::new();
/// let mut roads = LayerBuilder::new("roads", 4096)?;
/// roads.add_feature(None, &TileGeometry::Lines(vec![vec![[0, 0], [4096, 4096]]]), &[])?;
/// tile.add_layer(roads)?;
/// tile.add_layer(LayerBuilder::new("empty", 4096)?)?; // left out of the encoding
/// assert_eq!(
///     tile.add_layer(LayerBuilder::new("roads", 4096)?),
///     Err(MvtError::DuplicateLayer { layer: "roads".into() })
/// );
///
/// // Enforce a size budget by dropping features from the end of a layer.
/// let budget = 10;
/// while tile.encoded_len() > budget {
///     let roads = tile.layer_mut("roads").unwrap();
///     let n = roads.feature_count();
///     roads.truncate(n - 1);
/// }
/// assert!(tile.encode().is_empty());
/// # Ok::<(), MvtError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct TileBuilder {
    layers: Vec<LayerBuilder>,
}

impl TileBuilder {
    /// A tile with no layers.
    pub fn new() -> TileBuilder {
        TileBuilder::default()
    }

    /// Appends a layer; layers are encoded in the order added.
    ///
    /// # Errors
    ///
    /// [`MvtError::DuplicateLayer`] if a layer of the same name is already there (the spec
    /// forbids two).
    pub fn add_layer(&mut self, layer: LayerBuilder) -> Result<(), MvtError> {
        if self.layers.iter().any(|l| l.name == layer.name) {
            return Err(MvtError::DuplicateLayer { layer: layer.name });
        }
        self.layers.push(layer);
        Ok(())
    }

    /// The layers, in the order added (including empty ones, which are not encoded).
    pub fn layers(&self) -> &[LayerBuilder] {
        &self.layers
    }

    /// The layer called `name`, to add or drop features after it was added.
    pub fn layer_mut(&mut self, name: &str) -> Option<&mut LayerBuilder> {
        self.layers.iter_mut().find(|l| l.name == name)
    }

    /// Exactly `self.encode().len()`, computed without encoding.
    pub fn encoded_len(&self) -> usize {
        self.layers.iter().map(LayerBuilder::encoded_len).sum()
    }

    /// The encoded tile (protobuf bytes, not compressed). Layers without features are left
    /// out, so a tile without features is empty.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        for layer in self.layers.iter().filter(|l| !l.is_empty()) {
            put_key(&mut out, TILE_LAYERS, WIRE_LEN);
            put_varint(&mut out, layer.body_len() as u64);
            layer.write(&mut out);
        }
        debug_assert_eq!(out.len(), self.encoded_len());
        out
    }
}

// ---------------------------------------------------------------------------------------
// Geometry

/// Appends command integers for a feature's geometry, keeping the cursor across parts as the
/// spec requires (each delta is from the previous point of the same feature).
#[derive(Debug, Default)]
struct CommandWriter {
    out: Vec<u32>,
    cursor: [i32; 2],
}

impl CommandWriter {
    fn command(&mut self, id: u32, count: usize) -> Result<(), MvtError> {
        if count > MAX_COMMAND_COUNT {
            return Err(MvtError::TooManyPoints { count });
        }
        self.out.push(id | ((count as u32) << 3));
        Ok(())
    }

    fn points(&mut self, points: &[[i32; 2]]) -> Result<(), MvtError> {
        for &p in points {
            let dx = i64::from(p[0]) - i64::from(self.cursor[0]);
            let dy = i64::from(p[1]) - i64::from(self.cursor[1]);
            let (Ok(dx), Ok(dy)) = (i32::try_from(dx), i32::try_from(dy)) else {
                return Err(MvtError::DeltaOverflow {
                    from: self.cursor,
                    to: p,
                });
            };
            self.out.push(zigzag32(dx));
            self.out.push(zigzag32(dy));
            self.cursor = p;
        }
        Ok(())
    }

    /// `MoveTo` the first point, `LineTo` the rest; `points` has at least 2 entries.
    fn path(&mut self, points: &[[i32; 2]]) -> Result<(), MvtError> {
        self.command(MOVE_TO, 1)?;
        self.points(&points[..1])?;
        self.command(LINE_TO, points.len() - 1)?;
        self.points(&points[1..])
    }
}

/// The geometry as MVT commands, or `None` when nothing drawable is left after cleaning.
fn encode_geometry(geometry: &TileGeometry) -> Result<Option<(GeomType, Vec<u32>)>, MvtError> {
    let mut w = CommandWriter::default();
    let kind = match geometry {
        TileGeometry::Points(points) => {
            if points.is_empty() {
                return Ok(None);
            }
            // Repeated points are legal in a multi-point (each is its own MoveTo parameter).
            w.command(MOVE_TO, points.len())?;
            w.points(points)?;
            GeomType::Point
        }
        TileGeometry::Lines(lines) => {
            for line in lines {
                let line = dedup_consecutive(line);
                if line.len() >= 2 {
                    w.path(&line)?;
                }
            }
            GeomType::LineString
        }
        TileGeometry::Polygons(polygons) => {
            for polygon in polygons {
                let Some(exterior) = clean_ring(&polygon.exterior, true) else {
                    continue; // its holes go with it
                };
                w.path(&exterior)?;
                w.command(CLOSE_PATH, 1)?;
                for hole in &polygon.holes {
                    if let Some(hole) = clean_ring(hole, false) {
                        w.path(&hole)?;
                        w.command(CLOSE_PATH, 1)?;
                    }
                }
            }
            GeomType::Polygon
        }
    };
    Ok((!w.out.is_empty()).then_some((kind, w.out)))
}

/// `points` without consecutive repeats.
fn dedup_consecutive(points: &[[i32; 2]]) -> Vec<[i32; 2]> {
    let mut out: Vec<[i32; 2]> = Vec::with_capacity(points.len());
    for &p in points {
        if out.last() != Some(&p) {
            out.push(p);
        }
    }
    out
}

/// Twice the ring's signed area by the surveyor's (shoelace) formula, in tile units².
/// Positive means clockwise on screen (tile `y` grows downward). `i128` cannot overflow for
/// any ring that fits in memory.
fn doubled_area(ring: &[[i32; 2]]) -> i128 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let [x1, y1] = ring[i];
            let [x2, y2] = ring[(i + 1) % n];
            i128::from(x1) * i128::from(y2) - i128::from(x2) * i128::from(y1)
        })
        .sum()
}

/// The ring open (no closing point), without consecutive repeats, wound to a positive area
/// if `exterior` and a negative one otherwise; `None` if fewer than 3 distinct points or
/// zero area remain.
fn clean_ring(ring: &[[i32; 2]], exterior: bool) -> Option<Vec<[i32; 2]>> {
    let mut ring = dedup_consecutive(ring);
    while ring.len() > 1 && ring.first() == ring.last() {
        ring.pop();
    }
    if ring.len() < 3 {
        return None;
    }
    let area = doubled_area(&ring);
    if area == 0 {
        return None;
    }
    if (area > 0) != exterior {
        // Keep the starting point, reverse the direction.
        ring[1..].reverse();
    }
    Some(ring)
}

// ---------------------------------------------------------------------------------------
// Protobuf writing

fn zigzag32(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn varint_len(v: u64) -> usize {
    // Each byte carries 7 bits; 0 still takes one byte.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key_len(field: u32) -> usize {
    varint_len(u64::from(field << 3))
}

fn put_key(out: &mut Vec<u8>, field: u32, wire_type: u32) {
    put_varint(out, u64::from((field << 3) | wire_type));
}

fn field_len_varint(field: u32, v: u64) -> usize {
    key_len(field) + varint_len(v)
}

fn put_field_varint(out: &mut Vec<u8>, field: u32, v: u64) {
    put_key(out, field, WIRE_VARINT);
    put_varint(out, v);
}

/// A length-delimited field whose payload is `len` bytes.
fn field_len_bytes(field: u32, len: usize) -> usize {
    key_len(field) + varint_len(len as u64) + len
}

fn put_field_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(out, field, WIRE_LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn packed_payload_len(values: &[u32]) -> usize {
    values.iter().map(|&v| varint_len(u64::from(v))).sum()
}

/// A packed repeated `uint32` field; absent (0 bytes) when empty, as proto2 writes it.
fn field_len_packed(field: u32, values: &[u32]) -> usize {
    if values.is_empty() {
        0
    } else {
        field_len_bytes(field, packed_payload_len(values))
    }
}

fn put_field_packed(out: &mut Vec<u8>, field: u32, values: &[u32]) {
    if values.is_empty() {
        return;
    }
    put_key(out, field, WIRE_LEN);
    put_varint(out, packed_payload_len(values) as u64);
    for &v in values {
        put_varint(out, u64::from(v));
    }
}

/// Bytes of a `Value` message body: exactly one field is set.
fn value_body_len(value: &Value) -> usize {
    match value {
        Value::String(s) => field_len_bytes(VALUE_STRING, s.len()),
        Value::Double(_) => key_len(VALUE_DOUBLE) + 8,
        Value::Int(i) if *i >= 0 => field_len_varint(VALUE_UINT, *i as u64),
        Value::Int(i) => field_len_varint(VALUE_SINT, zigzag64(*i)),
        Value::Bool(b) => field_len_varint(VALUE_BOOL, u64::from(*b)),
    }
}

fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::String(s) => put_field_bytes(out, VALUE_STRING, s.as_bytes()),
        Value::Double(d) => {
            put_key(out, VALUE_DOUBLE, WIRE_FIXED64);
            out.extend_from_slice(&d.to_le_bytes());
        }
        Value::Int(i) if *i >= 0 => put_field_varint(out, VALUE_UINT, *i as u64),
        Value::Int(i) => put_field_varint(out, VALUE_SINT, zigzag64(*i)),
        Value::Bool(b) => put_field_varint(out, VALUE_BOOL, u64::from(*b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::SplitMix;

    fn poly(exterior: &[[i32; 2]], holes: &[&[[i32; 2]]]) -> Polygon {
        Polygon::new(
            exterior.to_vec(),
            holes.iter().map(|h| h.to_vec()).collect(),
        )
    }

    fn commands(geometry: &TileGeometry) -> Option<Vec<u32>> {
        encode_geometry(geometry).unwrap().map(|(_, c)| c)
    }

    #[test]
    fn varints_match_protobuf() {
        let cases: [(u64, &[u8]); 6] = [
            (0, &[0]),
            (1, &[1]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (300, &[0xac, 0x02]),
            (
                u64::MAX,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ];
        for (v, bytes) in cases {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out, bytes, "{v}");
            assert_eq!(varint_len(v), bytes.len(), "{v}");
        }
    }

    #[test]
    fn zigzag_matches_protobuf() {
        assert_eq!(zigzag32(0), 0);
        assert_eq!(zigzag32(-1), 1);
        assert_eq!(zigzag32(1), 2);
        assert_eq!(zigzag32(-2), 3);
        assert_eq!(zigzag32(i32::MAX), u32::MAX - 1);
        assert_eq!(zigzag32(i32::MIN), u32::MAX);
        assert_eq!(zigzag64(-1), 1);
        assert_eq!(zigzag64(i64::MIN), u64::MAX);
    }

    /// The examples of spec 4.3.5.
    #[test]
    fn spec_examples() {
        assert_eq!(
            commands(&TileGeometry::Points(vec![[25, 17]])),
            Some(vec![9, 50, 34])
        );
        assert_eq!(
            commands(&TileGeometry::Points(vec![[5, 7], [3, 2]])),
            Some(vec![17, 10, 14, 3, 9])
        );
        assert_eq!(
            commands(&TileGeometry::Lines(vec![vec![[2, 2], [2, 10], [10, 10]]])),
            Some(vec![9, 4, 4, 18, 0, 16, 16, 0])
        );
        assert_eq!(
            commands(&TileGeometry::Lines(vec![
                vec![[2, 2], [2, 10], [10, 10]],
                vec![[1, 1], [3, 5]],
            ])),
            Some(vec![9, 4, 4, 18, 0, 16, 16, 0, 9, 17, 17, 10, 4, 8])
        );
        assert_eq!(
            commands(&TileGeometry::Polygons(vec![poly(
                &[[3, 6], [8, 12], [20, 34]],
                &[]
            )])),
            Some(vec![9, 6, 12, 18, 10, 12, 24, 44, 15])
        );
        // Multi-polygon with a hole (spec 4.3.5.7), given closed as GeoJSON would.
        let tile = TileGeometry::Polygons(vec![
            poly(&[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]], &[]),
            poly(
                &[[11, 11], [20, 11], [20, 20], [11, 20], [11, 11]],
                &[&[[13, 13], [13, 17], [17, 17], [17, 13], [13, 13]]],
            ),
        ]);
        assert_eq!(
            commands(&tile),
            Some(vec![
                9, 0, 0, 26, 20, 0, 0, 20, 19, 0, 15, 9, 22, 2, 26, 18, 0, 0, 18, 17, 0, 15, 9, 4,
                13, 26, 0, 8, 8, 0, 0, 7, 15
            ])
        );
    }

    #[test]
    fn rings_are_rewound() {
        // Counter-clockwise on screen (negative area) exterior, clockwise hole.
        let tile = TileGeometry::Polygons(vec![poly(
            &[[0, 0], [0, 10], [10, 10], [10, 0]],
            &[&[[2, 2], [8, 2], [8, 8], [2, 8]]],
        )]);
        let (kind, _) = encode_geometry(&tile).unwrap().unwrap();
        assert_eq!(kind, GeomType::Polygon);
        assert_eq!(
            clean_ring(&[[0, 0], [0, 10], [10, 10], [10, 0]], true).unwrap(),
            [[0, 0], [10, 0], [10, 10], [0, 10]]
        );
        assert_eq!(
            clean_ring(&[[2, 2], [8, 2], [8, 8], [2, 8]], false).unwrap(),
            [[2, 2], [2, 8], [8, 8], [8, 2]]
        );
        assert!(doubled_area(&[[0, 0], [10, 0], [10, 10], [0, 10]]) > 0);
    }

    #[test]
    fn degenerate_rings_and_lines_are_dropped() {
        // Repeated points only.
        assert_eq!(
            clean_ring(&[[1, 1], [1, 1], [2, 2], [2, 2], [1, 1]], true),
            None
        );
        // Collinear: zero area.
        assert_eq!(clean_ring(&[[0, 0], [5, 5], [10, 10]], true), None);
        // Back and forth.
        assert_eq!(clean_ring(&[[0, 0], [5, 0], [0, 0], [5, 0]], true), None);
        assert_eq!(clean_ring(&[], true), None);
        // Repeats and closing points are removed from a valid ring.
        assert_eq!(
            clean_ring(
                &[[0, 0], [0, 0], [4, 0], [4, 4], [4, 4], [0, 0], [0, 0]],
                true
            )
            .unwrap(),
            [[0, 0], [4, 0], [4, 4]]
        );

        assert_eq!(commands(&TileGeometry::Points(vec![])), None);
        assert_eq!(commands(&TileGeometry::Lines(vec![])), None);
        assert_eq!(
            commands(&TileGeometry::Lines(vec![
                vec![[3, 3], [3, 3], [3, 3]],
                vec![]
            ])),
            None
        );
        assert_eq!(commands(&TileGeometry::Polygons(vec![])), None);
        // A dropped exterior takes its (valid) hole with it.
        assert_eq!(
            commands(&TileGeometry::Polygons(vec![poly(
                &[[0, 0], [10, 0], [20, 0]],
                &[&[[2, 2], [2, 8], [8, 8], [8, 2]]]
            )])),
            None
        );
        // A degenerate hole is dropped, the polygon kept.
        assert_eq!(
            commands(&TileGeometry::Polygons(vec![poly(
                &[[0, 0], [4, 0], [4, 4]],
                &[&[[1, 1], [1, 1]]]
            )])),
            Some(vec![9, 0, 0, 18, 8, 0, 0, 8, 15])
        );
        // Repeated points inside a line are dropped; the valid line of a pair survives.
        assert_eq!(
            commands(&TileGeometry::Lines(vec![
                vec![[7, 7]],
                vec![[2, 2], [2, 2], [2, 10], [2, 10]],
            ])),
            Some(vec![9, 4, 4, 10, 0, 16])
        );
    }

    #[test]
    fn deltas_that_overflow_are_errors() {
        let far = TileGeometry::Lines(vec![vec![[i32::MIN, 0], [i32::MAX, 0]]]);
        assert_eq!(
            encode_geometry(&far),
            Err(MvtError::DeltaOverflow {
                from: [i32::MIN, 0],
                to: [i32::MAX, 0]
            })
        );
        // Large but representable steps are fine.
        let ok = TileGeometry::Points(vec![[i32::MIN, i32::MAX]]);
        assert_eq!(commands(&ok), Some(vec![9, u32::MAX, u32::MAX - 1]));
    }

    #[test]
    fn layer_validation() {
        assert_eq!(
            LayerBuilder::new("", 4096).unwrap_err(),
            MvtError::EmptyLayerName
        );
        assert_eq!(
            LayerBuilder::new("x", 0).unwrap_err(),
            MvtError::ZeroExtent { layer: "x".into() }
        );
        let mut layer = LayerBuilder::new("x", 512).unwrap();
        let point = TileGeometry::Points(vec![[1, 1]]);
        let err = layer
            .add_feature(None, &point, &[("a", Value::Int(1)), ("a", Value::Int(2))])
            .unwrap_err();
        assert_eq!(err, MvtError::DuplicateKey { key: "a".into() });
        assert_eq!(
            err.to_string(),
            "property key \"a\" appears more than once in one feature"
        );
        assert!(layer.is_empty());
        assert_eq!(layer.keys.len(), 0, "a failed add leaves no keys behind");
        assert_eq!((layer.name(), layer.extent()), ("x", 512));
    }

    #[test]
    fn keys_and_values_are_deduplicated() {
        let mut layer = LayerBuilder::new("x", 4096).unwrap();
        let point = TileGeometry::Points(vec![[1, 1]]);
        let props = [
            ("s", Value::from("a")),
            ("d", Value::Double(1.5)),
            ("i", Value::Int(-3)),
            ("b", Value::Bool(true)),
            ("z", Value::Double(0.0)),
            ("nz", Value::Double(-0.0)),
            ("nan", Value::Double(f64::NAN)),
        ];
        for _ in 0..3 {
            assert!(layer.add_feature(None, &point, &props).unwrap());
        }
        assert_eq!(layer.keys.len(), 7);
        assert_eq!(
            layer.values.len(),
            7,
            "0.0 and -0.0 differ, NaN matches itself"
        );
        // Same string under another key, and Int(1) vs Double(1.0) vs Bool(true).
        layer
            .add_feature(
                None,
                &point,
                &[
                    ("other", "a".into()),
                    ("one", Value::Int(1)),
                    ("f", Value::Double(1.0)),
                ],
            )
            .unwrap();
        assert_eq!(layer.keys.len(), 10);
        assert_eq!(layer.values.len(), 9);
        assert_eq!(layer.features[3].tags, [7, 0, 8, 7, 9, 8]);
    }

    #[test]
    fn skipped_features_leave_the_layer_unchanged() {
        let mut layer = LayerBuilder::new("x", 4096).unwrap();
        let line = TileGeometry::Lines(vec![vec![[0, 0], [0, 0]]]);
        assert!(
            !layer
                .add_feature(Some(1), &line, &[("k", Value::Int(1))])
                .unwrap()
        );
        assert_eq!(layer.feature_count(), 0);
        assert_eq!(layer.keys.len() + layer.values.len(), 0);
        assert_eq!(layer.encoded_len(), 0);
    }

    #[test]
    fn value_encodings() {
        let encode = |v: Value| {
            let mut out = Vec::new();
            write_value(&mut out, &v);
            assert_eq!(out.len(), value_body_len(&v));
            out
        };
        assert_eq!(encode(Value::Int(5)), [0x28, 5]);
        assert_eq!(encode(Value::Int(-1)), [0x30, 1]);
        assert_eq!(encode(Value::Bool(true)), [0x38, 1]);
        assert_eq!(encode(Value::from("hi")), [0x0a, 2, b'h', b'i']);
        let mut double = vec![0x19];
        double.extend_from_slice(&1.5f64.to_le_bytes());
        assert_eq!(encode(Value::Double(1.5)), double);
        assert_eq!(encode(Value::Int(i64::MIN)).len(), 11);
        assert_eq!(encode(Value::Int(i64::MAX)).len(), 10);
    }

    #[test]
    fn tile_bytes_for_a_minimal_layer() {
        let mut layer = LayerBuilder::new("a", 4096).unwrap();
        layer
            .add_feature(Some(1), &TileGeometry::Points(vec![[25, 17]]), &[])
            .unwrap();
        let mut tile = TileBuilder::new();
        tile.add_layer(layer).unwrap();
        let feature = [0x08, 1, 0x18, 1, 0x22, 3, 9, 50, 34];
        let mut body = vec![0x0a, 1, b'a', 0x12, feature.len() as u8];
        body.extend_from_slice(&feature);
        body.extend_from_slice(&[0x28, 0x80, 0x20, 0x78, 2]);
        let mut expected = vec![0x1a, body.len() as u8];
        expected.extend_from_slice(&body);
        assert_eq!(tile.encode(), expected);
    }

    /// A coordinate: mostly inside the tile, sometimes in the buffer or far outside.
    fn coord(rng: &mut SplitMix) -> i32 {
        match rng.below(10) {
            0 => rng.next() as i32 / 4,
            1 => rng.below(5000) as i32 - 450,
            _ => rng.below(40) as i32 * 100,
        }
    }

    fn ring(rng: &mut SplitMix) -> Vec<[i32; 2]> {
        (0..rng.below(7))
            .map(|_| [coord(rng), coord(rng)])
            .collect()
    }

    #[test]
    fn encoded_len_is_exact_and_truncate_matches_a_fresh_build() {
        let mut rng = SplitMix(7);
        for round in 0..40 {
            let mut full = LayerBuilder::new(format!("layer{round}"), 4096).unwrap();
            let mut features = Vec::new();
            for _ in 0..rng.below(30) {
                let geometry = match rng.below(3) {
                    0 => TileGeometry::Points(
                        (0..rng.below(4))
                            .map(|_| [coord(&mut rng), coord(&mut rng)])
                            .collect(),
                    ),
                    1 => TileGeometry::Lines((0..rng.below(3)).map(|_| ring(&mut rng)).collect()),
                    _ => TileGeometry::Polygons(
                        (0..rng.below(3))
                            .map(|_| {
                                Polygon::new(
                                    ring(&mut rng),
                                    (0..rng.below(3)).map(|_| ring(&mut rng)).collect(),
                                )
                            })
                            .collect(),
                    ),
                };
                let props: Vec<(String, Value)> = (0..rng.below(4))
                    .map(|k| {
                        let v = match rng.below(4) {
                            0 => Value::String(format!("s{}", rng.below(5))),
                            1 => Value::Double(rng.below(5) as f64 / 2.0),
                            2 => Value::Int(rng.below(2000) as i64 - 1000),
                            _ => Value::Bool(rng.below(2) == 0),
                        };
                        (format!("k{k}"), v)
                    })
                    .collect();
                let id = (rng.below(2) == 0).then(|| rng.next());
                let props_ref: Vec<(&str, Value)> =
                    props.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
                if full.add_feature(id, &geometry, &props_ref).unwrap() {
                    features.push((id, geometry, props));
                }
            }
            let mut tile = TileBuilder::new();
            tile.add_layer(full.clone()).unwrap();
            assert_eq!(tile.encode().len(), tile.encoded_len());

            let keep = rng.below(features.len() as u64 + 1) as usize;
            let mut fresh = LayerBuilder::new(full.name(), 4096).unwrap();
            for (id, geometry, props) in &features[..keep] {
                let props: Vec<(&str, Value)> =
                    props.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
                assert!(fresh.add_feature(*id, geometry, &props).unwrap());
            }
            full.truncate(keep);
            assert_eq!(full.feature_count(), keep);
            assert_eq!(full.encoded_len(), fresh.encoded_len());
            let encode = |layer: LayerBuilder| {
                let mut tile = TileBuilder::new();
                tile.add_layer(layer).unwrap();
                tile.encode()
            };
            assert_eq!(encode(full), encode(fresh));
        }
    }

    #[test]
    fn tile_with_only_empty_layers_is_empty() {
        let mut tile = TileBuilder::new();
        tile.add_layer(LayerBuilder::new("a", 4096).unwrap())
            .unwrap();
        tile.add_layer(LayerBuilder::new("b", 256).unwrap())
            .unwrap();
        assert_eq!(tile.encoded_len(), 0);
        assert!(tile.encode().is_empty());
        assert_eq!(tile.layers().len(), 2);
        assert!(tile.layer_mut("b").is_some());
        assert!(tile.layer_mut("c").is_none());
    }
}
