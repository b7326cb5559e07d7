//! Layers that change seldom, tiled from memory rather than read from the database: the
//! published grid's cells ([`grid_cells`]) and the households ([`households`]). A cold tile
//! of either is cut from an R-tree in memory (outlines simplified and clipped in Rust,
//! points placed in Rust); drafts, and every other layer, are read from PostGIS.
//!
//! A layer is read in full when `wangge serve` starts, or else when a tile of it is first
//! asked for (tiles asked for while it is read come from PostGIS). The memory then follows the notices that drop
//! cached tiles ([`MemoryTiles::changed`], from the
//! listener, for every change to these layers). A change with a box marks the box pending;
//! a background task reads the features meeting the pending boxes again and swaps them in,
//! clearing only the marks it read for, so a change that comes in meanwhile stays pending. A
//! change without a box (a plan published, everything) or a lost listener marks the whole
//! layer pending, and the task reads all of it again. A tile meeting anything pending is
//! rendered from the database instead. Read after the read barrier
//! ([`crate::live::LiveHub::tiles_current`]), the memory so shows every change committed
//! before the request, as the database would.

pub mod grid_cells;
pub mod households;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use sqlx::PgPool;
use wangge_tiles::TileCoord;
use wangge_tiles::mvt::{LayerBuilder, TileBuilder};

use crate::auth::Area;
use crate::tile_cache::{BUFFER, CachedTile, EXTENT};
use crate::tile_layers::TileLayer;
use crate::tile_render::TileError;

/// How long pending changes gather before they are read: changes come in bursts (a report,
/// its routing, its assignment), and one read serves the burst.
const GATHER: Duration = Duration::from_millis(50);

/// A layer kept in memory: how its features are read, found and encoded.
pub trait MemoryLayer: Send + Sync + 'static {
    type Feature: Send + Sync + 'static;
    const LAYER: TileLayer;

    /// Reads the features meeting any of `boxes` (lon/lat), or all of them.
    fn read(
        pool: &PgPool,
        boxes: Option<&[[f64; 4]]>,
    ) -> impl Future<Output = Result<Vec<Self::Feature>, sqlx::Error>> + Send;
    fn id(feature: &Self::Feature) -> i64;
    /// Its lon/lat box, to match the boxes of change notices.
    fn box_4326(feature: &Self::Feature) -> [f64; 4];
    /// Its box in EPSG:3857 metres (min, max), to find it from a tile.
    fn box_3857(feature: &Self::Feature) -> ([f64; 2], [f64; 2]);
    /// Whether a caller of `area` sees it.
    fn in_area(feature: &Self::Feature, area: &Area) -> bool;
    /// The order features are added to a tile in (the database query's).
    fn order(a: &Self::Feature, b: &Self::Feature) -> std::cmp::Ordering;
    /// Adds the feature to the tile (nothing if nothing of it is left inside).
    fn add(
        feature: &Self::Feature,
        coord: TileCoord,
        builder: &mut LayerBuilder,
    ) -> Result<(), TileError>;
}

/// The features, by id, and an R-tree of their Web Mercator boxes.
struct Features<L: MemoryLayer> {
    by_id: HashMap<i64, Arc<L::Feature>>,
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, i64>>,
}

impl<L: MemoryLayer> Features<L> {
    fn new(by_id: HashMap<i64, Arc<L::Feature>>) -> Self {
        let entries = by_id
            .values()
            .map(|f| {
                let (min, max) = L::box_3857(f);
                GeomWithData::new(Rectangle::from_corners(min, max), L::id(f))
            })
            .collect();
        Self {
            by_id,
            tree: RTree::bulk_load(entries),
        }
    }
}

/// What is read, and what is pending: boxes marked by changes not yet read, or all.
struct State<L: MemoryLayer> {
    /// Whether a tile of the layer has been asked for: until then nothing is read or kept.
    wanted: bool,
    features: Option<Arc<Features<L>>>,
    /// Changes not yet read: a mark (in order) and its lon/lat box.
    pending: Vec<(u64, [f64; 4])>,
    /// Everything is to be read again, as of this mark.
    all_pending: Option<u64>,
    next_mark: u64,
}

/// One layer in memory (see the module documentation).
pub struct Store<L: MemoryLayer> {
    state: Mutex<State<L>>,
    wake: tokio::sync::Notify,
}

impl<L: MemoryLayer> std::fmt::Debug for Store<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("layer", &L::LAYER).finish()
    }
}

impl<L: MemoryLayer> Default for Store<L> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                wanted: false,
                features: None,
                pending: Vec::new(),
                all_pending: None,
                next_mark: 0,
            }),
            wake: tokio::sync::Notify::new(),
        }
    }
}

impl<L: MemoryLayer> Store<L> {
    /// Starts the task that reads the layer: all of it once a tile of it is first asked
    /// for (a server, or a test, that never shows households never holds them), then what
    /// changes.
    fn start(self: &Arc<Self>, pool: PgPool) {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                if !me.has_pending() {
                    me.wake.notified().await;
                    continue;
                }
                tokio::time::sleep(GATHER).await;
                if let Err(error) = me.refresh(&pool).await {
                    tracing::warn!(%error, layer = %L::LAYER, "reading a layer for tiles failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<L>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn has_pending(&self) -> bool {
        let state = self.lock();
        state.wanted && (state.all_pending.is_some() || !state.pending.is_empty())
    }

    /// Starts keeping the layer: all of it is read (once), then what changes.
    fn want(&self) {
        {
            let mut state = self.lock();
            if state.wanted {
                return;
            }
            state.wanted = true;
            state.next_mark += 1;
            state.all_pending = Some(state.next_mark);
        }
        self.wake.notify_one();
    }

    /// A change to the layer inside `bbox` (lon/lat), or anywhere.
    fn changed(&self, bbox: Option<[f64; 4]>) {
        {
            let mut state = self.lock();
            if !state.wanted {
                // Nothing kept yet; the first read will read everything.
                return;
            }
            state.next_mark += 1;
            let mark = state.next_mark;
            match bbox {
                Some(b) => state.pending.push((mark, b)),
                None => state.all_pending = Some(mark),
            }
        }
        self.wake.notify_one();
    }

    /// Reads again what is pending and swaps it in, clearing the marks it read for.
    async fn refresh(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let (upto, all, boxes, current) = {
            let state = self.lock();
            (
                state.next_mark,
                state.all_pending.is_some() || state.features.is_none(),
                state.pending.iter().map(|(_, b)| *b).collect::<Vec<_>>(),
                state.features.clone(),
            )
        };
        let read = L::read(pool, (!all).then_some(&boxes[..])).await?;
        let mut by_id = match (&current, all) {
            (Some(features), false) => {
                let mut by_id = features.by_id.clone();
                // What the read covers is replaced whole: features gone from those boxes go.
                by_id.retain(|_, f| !boxes.iter().any(|b| meets(&L::box_4326(f), b)));
                by_id
            }
            _ => HashMap::with_capacity(read.len()),
        };
        for feature in read {
            by_id.insert(L::id(&feature), Arc::new(feature));
        }
        let features = Arc::new(Features::new(by_id));
        let mut state = self.lock();
        state.features = Some(features);
        state.pending.retain(|(mark, _)| *mark > upto);
        if state.all_pending.is_some_and(|mark| mark <= upto) {
            state.all_pending = None;
        }
        Ok(())
    }

    /// What the memory holds for the tile, unless it cannot tell: not read yet (asked for
    /// from now on), or a change it has not read meets the tile.
    fn current_for(&self, coord: TileCoord) -> Option<Arc<Features<L>>> {
        let tile_box = buffered_box_4326(coord);
        let state = self.lock();
        if !state.wanted {
            drop(state);
            self.want();
            return None;
        }
        if state.all_pending.is_some() || state.pending.iter().any(|(_, b)| meets(b, &tile_box)) {
            return None;
        }
        state.features.clone()
    }

    /// The tile inside `area`, from memory; `None` when the memory cannot tell. Call it
    /// after the read barrier.
    fn render(&self, coord: TileCoord, area: &Area) -> Option<Result<CachedTile, TileError>> {
        let features = self.current_for(coord)?;
        Some(encode(&features, coord, area))
    }
}

/// Encodes the features meeting the tile and its buffer, inside the area, in the layer's
/// order, at most its cap, under the size cap.
fn encode<L: MemoryLayer>(
    features: &Features<L>,
    coord: TileCoord,
    area: &Area,
) -> Result<CachedTile, TileError> {
    let layer = L::LAYER;
    let mut builder = LayerBuilder::new(layer.name(), EXTENT as u32)
        .map_err(|e| TileError::Encoding(e.to_string()))?;
    if coord.z() >= layer.min_zoom() {
        let b = coord.bounds_3857();
        // The buffer and one step more: where a feature lands is decided by its rounded
        // place, as in the database's tiles.
        let margin = b.width() * (BUFFER + 1.0) / EXTENT;
        let window = AABB::from_corners(
            [b.min_x() - margin, b.min_y() - margin],
            [b.max_x() + margin, b.max_y() + margin],
        );
        let mut found: Vec<&Arc<L::Feature>> = features
            .tree
            .locate_in_envelope_intersecting(&window)
            .filter_map(|entry| features.by_id.get(&entry.data))
            .filter(|f| L::in_area(f, area))
            .collect();
        found.sort_by(|a, b| L::order(a, b));
        found.truncate(usize::try_from(layer.feature_cap()).unwrap_or(usize::MAX));
        for feature in found {
            L::add(feature, coord, &mut builder)?;
        }
        crate::tile_render::fit(&mut builder, layer, coord);
    }
    let mut tile = TileBuilder::new();
    tile.add_layer(builder)
        .map_err(|e| TileError::Encoding(e.to_string()))?;
    Ok(CachedTile::new(tile.encode()))
}

/// The tile's lon/lat box with its buffer.
fn buffered_box_4326(coord: TileCoord) -> [f64; 4] {
    let b = coord.bounds_4326();
    let (dx, dy) = (
        b.width() * BUFFER / EXTENT,
        (b.max_y() - b.min_y()) * BUFFER / EXTENT,
    );
    [
        b.min_x() - dx,
        b.min_y() - dy,
        b.max_x() + dx,
        b.max_y() + dy,
    ]
}

fn meets(a: &[f64; 4], b: &[f64; 4]) -> bool {
    a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3]
}

/// The condition a layer's read puts on its geometry `column`: inside one of the boxes
/// bound by [`bind_boxes`] (`$1..$5`), or anywhere when there are none.
fn in_boxes(column: &str) -> String {
    format!(
        "($1::bool OR EXISTS (
             SELECT 1 FROM unnest($2::float8[], $3::float8[], $4::float8[], $5::float8[])
                 AS b (xmin, ymin, xmax, ymax)
             WHERE {column} && ST_MakeEnvelope(b.xmin, b.ymin, b.xmax, b.ymax, 4326)))"
    )
}

/// Binds `$1..$5` of [`in_boxes`]: whether everything is read, and the boxes as four arrays.
fn bind_boxes<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    boxes: Option<&[[f64; 4]]>,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    let column =
        |i: usize| -> Vec<f64> { boxes.unwrap_or_default().iter().map(|b| b[i]).collect() };
    query
        .bind(boxes.is_none())
        .bind(column(0))
        .bind(column(1))
        .bind(column(2))
        .bind(column(3))
}

/// The layers kept in memory.
#[derive(Debug, Default)]
pub struct MemoryTiles {
    grid_cells: Arc<Store<grid_cells::GridCells>>,
    households: Arc<Store<households::Households>>,
}

impl MemoryTiles {
    /// Starts keeping each layer (read in full when a tile of it is first asked for, then
    /// what changes).
    pub fn start(&self, pool: PgPool) {
        self.grid_cells.start(pool.clone());
        self.households.start(pool);
    }

    /// A change to `layer` inside `bbox` (lon/lat), or anywhere; other layers are not kept.
    pub fn changed(&self, layer: TileLayer, bbox: Option<[f64; 4]>) {
        match layer {
            TileLayer::GridCells => self.grid_cells.changed(bbox),
            TileLayer::Households => self.households.changed(bbox),
            _ => {}
        }
    }

    /// Everything may have changed (notices were missed).
    pub fn everything_changed(&self) {
        self.grid_cells.changed(None);
        self.households.changed(None);
    }

    /// The tile of `layer` inside `area` from memory, if the layer is kept and the memory
    /// can tell (see [`Store::render`]). Call it after the read barrier.
    pub fn render(
        &self,
        layer: TileLayer,
        coord: TileCoord,
        area: &Area,
    ) -> Option<Result<CachedTile, TileError>> {
        match layer {
            TileLayer::GridCells => self.grid_cells.render(coord, area),
            TileLayer::Households => self.households.render(coord, area),
            _ => None,
        }
    }

    /// Reads every layer now, rather than when a tile of it is first asked for.
    pub fn read_all_now(&self) {
        self.grid_cells.want();
        self.households.want();
    }

    /// Whether the memory could serve this tile of `layer` now: worth passing the read
    /// barrier for (it is asked again after it, by [`MemoryTiles::render`]).
    pub fn may_render(&self, layer: TileLayer, coord: TileCoord) -> bool {
        match layer {
            TileLayer::GridCells => self.grid_cells.current_for(coord).is_some(),
            TileLayer::Households => self.households.current_for(coord).is_some(),
            _ => false,
        }
    }
}
