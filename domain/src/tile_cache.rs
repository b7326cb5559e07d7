//! Cached vector tiles that are never stale.
//!
//! There is no time-to-live: a tile stays cached until a change touches it. Every committed
//! change to something a layer shows arrives (through [`crate::live`]) as the lon/lat box it
//! touched; [`TileCache::invalidate`] drops, at every zoom, exactly the cached tiles whose
//! area (with the tile buffer, since a tile also draws features just beyond its edge) meets
//! that box; for a layer counting cases per hexagon, the box of the hexagons holding it at
//! that zoom ([`TileLayer::stale_box`]), since a new case changes its hexagon's count
//! wherever the hexagon is drawn.
//!
//! A tile built from a snapshot read before a change, but finished after the change was
//! invalidated, must not enter the cache. Readers take a [`Generation`] before they query and
//! [`TileCache::insert`] refuses the tile if any invalidation since then touched it.
//!
//! A draft grid plan's cells are tiled as variants of the grid-cells layer (`?plan=`); an
//! edit to a draft drops only that draft's variants ([`TileCache::invalidate_plan`]), so a
//! planner at work leaves the published grid's cached tiles alone.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use std::io::Write;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use wangge_tiles::{Bounds, MAX_ZOOM, lonlat_to_3857, mercator_to_lonlat, tiles_covering};

use crate::tile_layers::{TileFilters, TileLayer};

/// Tile-space buffer around each tile, in 1/4096ths of its width (what `ST_AsMVTGeom` keeps).
pub const BUFFER: f64 = 64.0;
pub const EXTENT: f64 = 4096.0;

/// How many invalidations are remembered for refusing late inserts; a reader older than that
/// simply does not cache its tile.
const LOG_LENGTH: usize = 4096;

/// The whole world as a lon/lat box.
const WORLD: [f64; 4] = [-180.0, -90.0, 180.0, 90.0];

/// A cached tile: the MVT bytes, gzipped once, and its ETag.
#[derive(Debug, Clone)]
pub struct CachedTile {
    pub raw: Bytes,
    pub gzip: Bytes,
    pub etag: String,
}

impl CachedTile {
    /// A freshly encoded tile, gzipped once, with its ETag (the start of its SHA-256).
    pub fn new(raw: Vec<u8>) -> Self {
        let digest = Sha256::digest(&raw);
        let etag = format!(
            "\"{}\"",
            digest[..12]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let gzip = if raw.is_empty() {
            Vec::new()
        } else {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(&raw).expect("writing to memory");
            encoder.finish().expect("writing to memory")
        };
        Self {
            raw: Bytes::from(raw),
            gzip: Bytes::from(gzip),
            etag,
        }
    }
}

/// Who a tile was read for and how it was filtered: the caller's area (code prefix and, for
/// a grid worker, cell) and the layer's filters. Tiles differ by these and nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TileVariant {
    pub area_prefix: String,
    pub grid_cell_id: Option<i64>,
    pub filters: TileFilters,
}

/// Where a tile sits: layer and z/x/y.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileAddress {
    pub layer: TileLayer,
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

/// The invalidation counter a reader saw before it queried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation(u64);

#[derive(Debug)]
struct Slot {
    tile: CachedTile,
    last_used: u64,
}

/// The variants of one tile (the caller's scope and filters), by key.
type Variants = HashMap<TileVariant, Slot>;

#[derive(Debug, Default)]
struct Inner {
    /// Per layer and zoom, per (x, y), the tile's variants.
    tiles: HashMap<(TileLayer, u8), HashMap<(u32, u32), Variants>>,
    bytes: usize,
    generation: u64,
    /// Recent invalidations: (generation after it, layer, lon/lat box, the one plan it
    /// touched or `None` for every variant).
    log: VecDeque<(u64, TileLayer, [f64; 4], Option<i32>)>,
    clock: u64,
    hits: u64,
    misses: u64,
}

/// The cache, bounded in bytes; the least recently used tiles go first when it is full.
#[derive(Debug)]
pub struct TileCache {
    inner: Mutex<Inner>,
    budget_bytes: usize,
}

/// What the cache holds, for `/readyz`-style reporting and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub tiles: usize,
    pub bytes: usize,
    pub hits: u64,
    pub misses: u64,
}

impl TileCache {
    pub fn new(budget_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            budget_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves only cached copies behind; keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn generation(&self) -> Generation {
        Generation(self.lock().generation)
    }

    /// Whether the tile is cached, before serving it takes a wait: counts a miss when it is
    /// not, and nothing when it is (the [`get`](Self::get) that serves it counts the hit).
    pub fn holds(&self, address: TileAddress, variant: &TileVariant) -> bool {
        let mut inner = self.lock();
        let held = inner
            .tiles
            .get(&(address.layer, address.z))
            .and_then(|by_xy| by_xy.get(&(address.x, address.y)))
            .is_some_and(|variants| variants.contains_key(variant));
        if !held {
            inner.misses += 1;
        }
        held
    }

    pub fn get(&self, address: TileAddress, variant: &TileVariant) -> Option<CachedTile> {
        let mut inner = self.lock();
        inner.clock += 1;
        let clock = inner.clock;
        let found = inner
            .tiles
            .get_mut(&(address.layer, address.z))
            .and_then(|by_xy| by_xy.get_mut(&(address.x, address.y)))
            .and_then(|variants| variants.get_mut(variant))
            .map(|slot| {
                slot.last_used = clock;
                slot.tile.clone()
            });
        match found {
            Some(_) => inner.hits += 1,
            None => inner.misses += 1,
        }
        found
    }

    /// Caches a tile built from data read after `seen`, unless a change since then touched it.
    /// Returns whether it was cached.
    pub fn insert(
        &self,
        address: TileAddress,
        variant: &TileVariant,
        tile: CachedTile,
        seen: Generation,
    ) -> bool {
        let mut inner = self.lock();
        if inner.generation != seen.0 {
            let oldest_remembered = inner.log.front().map_or(u64::MAX, |e| e.0);
            if oldest_remembered > seen.0 + 1 {
                return false;
            }
            let touched = inner.log.iter().any(|(generation, layer, bbox, plan)| {
                *generation > seen.0
                    && *layer == address.layer
                    && plan.is_none_or(|p| variant.filters.plan == Some(p))
                    && touches(layer.stale_box(*bbox, address.z), address)
            });
            if touched {
                return false;
            }
        }
        inner.clock += 1;
        let size = tile.raw.len() + tile.gzip.len();
        let slot = Slot {
            tile,
            last_used: inner.clock,
        };
        let previous = inner
            .tiles
            .entry((address.layer, address.z))
            .or_default()
            .entry((address.x, address.y))
            .or_default()
            .insert(variant.clone(), slot);
        inner.bytes += size;
        if let Some(old) = previous {
            inner.bytes -= old.tile.raw.len() + old.tile.gzip.len();
        }
        if inner.bytes > self.budget_bytes {
            evict(&mut inner, self.budget_bytes * 3 / 4);
        }
        true
    }

    /// Drops every cached tile of `layer`, at every zoom, that shows anything inside the
    /// lon/lat box `[min_lon, min_lat, max_lon, max_lat]`.
    pub fn invalidate(&self, layer: TileLayer, bbox: [f64; 4]) {
        self.drop_tiles(layer, bbox, None);
    }

    /// Drops every cached tile of a layer (a whole plan published, a bulk load).
    pub fn invalidate_layer(&self, layer: TileLayer) {
        self.invalidate(layer, WORLD);
    }

    /// Drops the cached tiles of draft plan `version` (read with `?plan=version`) that show
    /// anything inside `bbox` (`None`: anywhere); other variants of the same tiles stay.
    pub fn invalidate_plan(&self, layer: TileLayer, bbox: Option<[f64; 4]>, version: i32) {
        self.drop_tiles(layer, bbox.unwrap_or(WORLD), Some(version));
    }

    fn drop_tiles(&self, layer: TileLayer, bbox: [f64; 4], plan: Option<i32>) {
        let mut inner = self.lock();
        inner.generation += 1;
        let generation = inner.generation;
        inner.log.push_back((generation, layer, bbox, plan));
        if inner.log.len() > LOG_LENGTH {
            inner.log.pop_front();
        }
        let mut freed = 0;
        // Removes a tile's variants: all of them, or only the plan's.
        let mut drop_variants = |variants: &mut Variants| -> bool {
            match plan {
                None => {
                    freed += variants_size(variants);
                    true
                }
                Some(p) => {
                    variants.retain(|variant, slot| {
                        let keep = variant.filters.plan != Some(p);
                        if !keep {
                            freed += slot.tile.raw.len() + slot.tile.gzip.len();
                        }
                        keep
                    });
                    variants.is_empty()
                }
            }
        };
        for z in 0..=MAX_ZOOM {
            let Some(by_xy) = inner.tiles.get_mut(&(layer, z)) else {
                continue;
            };
            if by_xy.is_empty() {
                continue;
            }
            let Some(range) = buffered_range(layer.stale_box(bbox, z), z) else {
                continue;
            };
            // Enumerate whichever is smaller: the tiles the box covers, or those cached.
            if range.tile_count() <= by_xy.len() as u64 {
                for x in range.x_range() {
                    for y in range.y_range() {
                        if let Some(variants) = by_xy.get_mut(&(x, y))
                            && drop_variants(variants)
                        {
                            by_xy.remove(&(x, y));
                        }
                    }
                }
            } else {
                by_xy.retain(|&(x, y), variants| {
                    let inside = range.x_range().contains(&x) && range.y_range().contains(&y);
                    !(inside && drop_variants(variants))
                });
            }
        }
        inner.bytes -= freed;
    }

    pub fn stats(&self) -> CacheStats {
        let inner = self.lock();
        CacheStats {
            tiles: inner
                .tiles
                .values()
                .flat_map(|by_xy| by_xy.values())
                .map(HashMap::len)
                .sum(),
            bytes: inner.bytes,
            hits: inner.hits,
            misses: inner.misses,
        }
    }
}

fn variants_size(variants: &Variants) -> usize {
    variants
        .values()
        .map(|s| s.tile.raw.len() + s.tile.gzip.len())
        .sum()
}

/// Removes the least recently used tiles until the cache holds at most `target` bytes.
fn evict(inner: &mut Inner, target: usize) {
    let mut ages: Vec<u64> = inner
        .tiles
        .values()
        .flat_map(|by_xy| by_xy.values())
        .flat_map(|variants| variants.values().map(|s| s.last_used))
        .collect();
    ages.sort_unstable();
    let mut bytes = inner.bytes;
    let mut cutoff = 0;
    let sizes: HashMap<u64, usize> = inner
        .tiles
        .values()
        .flat_map(|by_xy| by_xy.values())
        .flat_map(|variants| variants.values())
        .map(|s| (s.last_used, s.tile.raw.len() + s.tile.gzip.len()))
        .collect();
    for age in ages {
        if bytes <= target {
            break;
        }
        bytes -= sizes.get(&age).copied().unwrap_or(0);
        cutoff = age;
    }
    for by_xy in inner.tiles.values_mut() {
        for variants in by_xy.values_mut() {
            variants.retain(|_, slot| slot.last_used > cutoff);
        }
        by_xy.retain(|_, variants| !variants.is_empty());
    }
    inner.bytes = bytes;
}

/// The tiles at zoom `z` whose buffered area meets the box.
fn buffered_range(bbox: [f64; 4], z: u8) -> Option<wangge_tiles::TileRange> {
    let (x0, y0) = lonlat_to_3857(bbox[0], bbox[1]);
    let (x1, y1) = lonlat_to_3857(bbox[2], bbox[3]);
    let tile_width = 2.0 * wangge_tiles::WORLD_EXTENT_3857 / f64::from(1u32 << z);
    let pad = tile_width * BUFFER / EXTENT;
    let (min_lon, min_lat) = mercator_to_lonlat(x0 - pad, y0 - pad);
    let (max_lon, max_lat) = mercator_to_lonlat(x1 + pad, y1 + pad);
    let bounds = Bounds::new(
        min_lon.max(-180.0),
        min_lat.max(-wangge_tiles::MAX_LATITUDE),
        max_lon.min(180.0),
        max_lat.min(wangge_tiles::MAX_LATITUDE),
    )
    .ok()?;
    tiles_covering(&bounds, z).ok()
}

fn touches(bbox: [f64; 4], address: TileAddress) -> bool {
    buffered_range(bbox, address.z).is_some_and(|range| {
        range.x_range().contains(&address.x) && range.y_range().contains(&address.y)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v() -> TileVariant {
        TileVariant {
            area_prefix: "5304".into(),
            grid_cell_id: None,
            filters: TileFilters::default(),
        }
    }

    fn tile(bytes: &[u8]) -> CachedTile {
        CachedTile {
            raw: Bytes::copy_from_slice(bytes),
            gzip: Bytes::new(),
            etag: "\"x\"".into(),
        }
    }

    fn address(z: u8, lon: f64, lat: f64) -> TileAddress {
        let coord = wangge_tiles::TileCoord::containing(lon, lat, z).unwrap();
        TileAddress {
            layer: TileLayer::Incidents,
            z,
            x: coord.x(),
            y: coord.y(),
        }
    }

    #[test]
    fn a_change_drops_the_tiles_showing_it_at_every_zoom_and_no_others() {
        let cache = TileCache::new(1 << 20);
        let (lon, lat) = (102.546, 24.352);
        for z in 0..=MAX_ZOOM {
            let g = cache.generation();
            assert!(cache.insert(address(z, lon, lat), &v(), tile(b"a"), g));
            // A tile far away (another county) at the same zoom.
            assert!(cache.insert(address(z, 101.6, 23.6), &v(), tile(b"b"), g));
        }
        cache.invalidate(TileLayer::Incidents, [lon, lat, lon, lat]);
        for z in 0..=MAX_ZOOM {
            assert!(cache.get(address(z, lon, lat), &v()).is_none(), "zoom {z}");
        }
        // At low zoom the far place is in the same tile; where it is not, its tile survives.
        let mut survivors = 0;
        for z in 0..=MAX_ZOOM {
            if address(z, 101.6, 23.6) != address(z, lon, lat) {
                assert!(
                    cache.get(address(z, 101.6, 23.6), &v()).is_some(),
                    "zoom {z}"
                );
                survivors += 1;
            }
        }
        assert!(survivors >= 14);
    }

    #[test]
    fn another_layer_is_untouched() {
        let cache = TileCache::new(1 << 20);
        let a = address(12, 102.5, 24.3);
        let workers = TileAddress {
            layer: TileLayer::Workers,
            ..a
        };
        let g = cache.generation();
        cache.insert(a, &v(), tile(b"a"), g);
        cache.insert(workers, &v(), tile(b"w"), g);
        cache.invalidate(TileLayer::Incidents, [102.5, 24.3, 102.5, 24.3]);
        assert!(cache.get(a, &v()).is_none());
        assert!(cache.get(workers, &v()).is_some());
    }

    #[test]
    fn a_point_just_past_the_edge_drops_the_neighbour_that_draws_it_in_its_buffer() {
        let cache = TileCache::new(1 << 20);
        let z = 14;
        let t = wangge_tiles::TileCoord::new(z, 12_860, 7_000).unwrap();
        let b = t.bounds_4326();
        let neighbour_point = b.max_x() + b.width() * 0.5 / EXTENT; // half a pixel east
        let address = TileAddress {
            layer: TileLayer::Incidents,
            z,
            x: t.x(),
            y: t.y(),
        };
        cache.insert(address, &v(), tile(b"a"), cache.generation());
        let mid_lat = (b.min_y() + b.max_y()) / 2.0;
        cache.invalidate(
            TileLayer::Incidents,
            [neighbour_point, mid_lat, neighbour_point, mid_lat],
        );
        assert!(cache.get(address, &v()).is_none());
    }

    #[test]
    fn a_tile_read_before_a_change_that_touched_it_is_not_cached() {
        let cache = TileCache::new(1 << 20);
        let a = address(12, 102.5, 24.3);
        let before = cache.generation();
        cache.invalidate(TileLayer::Incidents, [102.5, 24.3, 102.5, 24.3]);
        assert!(!cache.insert(a, &v(), tile(b"stale"), before));
        // A change elsewhere does not stop it.
        let before = cache.generation();
        cache.invalidate(TileLayer::Incidents, [101.6, 23.6, 101.6, 23.6]);
        assert!(cache.insert(a, &v(), tile(b"fresh"), before));
    }

    #[test]
    fn a_draft_edit_drops_that_drafts_tiles_and_leaves_the_published_grid_and_other_drafts() {
        let cache = TileCache::new(1 << 20);
        let cells = |plan: Option<i32>| TileVariant {
            filters: TileFilters {
                plan,
                ..TileFilters::default()
            },
            ..v()
        };
        let a = TileAddress {
            layer: TileLayer::GridCells,
            ..address(13, 102.5, 24.3)
        };
        let g = cache.generation();
        for plan in [None, Some(2), Some(3)] {
            assert!(cache.insert(a, &cells(plan), tile(b"c"), g));
        }
        cache.invalidate_plan(TileLayer::GridCells, Some([102.5, 24.3, 102.5, 24.3]), 2);
        assert!(cache.get(a, &cells(Some(2))).is_none());
        assert!(cache.get(a, &cells(None)).is_some(), "the published grid");
        assert!(cache.get(a, &cells(Some(3))).is_some(), "another draft");
        assert_eq!(cache.stats().bytes, 2);
        // A read of draft 3 begun before the edit of draft 2 is still cached; one of draft 2 is not.
        let before = cache.generation();
        cache.invalidate_plan(TileLayer::GridCells, None, 2);
        assert!(!cache.insert(a, &cells(Some(2)), tile(b"stale"), before));
        assert!(cache.insert(a, &cells(Some(3)), tile(b"fresh"), before));
        // A change to the published grid drops every variant.
        cache.invalidate(TileLayer::GridCells, [102.5, 24.3, 102.5, 24.3]);
        assert!(cache.get(a, &cells(None)).is_none());
        assert!(cache.get(a, &cells(Some(3))).is_none());
        assert_eq!(cache.stats().bytes, 0);
    }

    #[test]
    fn the_byte_budget_evicts_the_least_recently_used() {
        let cache = TileCache::new(1000);
        let g = cache.generation();
        let places: Vec<TileAddress> = (0..11)
            .map(|i| address(14, 102.0 + f64::from(i) * 0.1, 24.3))
            .collect();
        for &a in &places[..10] {
            assert!(cache.insert(a, &v(), tile(&[0; 100]), g));
        }
        assert!(cache.get(places[0], &v()).is_some()); // now the most recently used
        cache.insert(places[10], &v(), tile(&[0; 100]), g); // over budget: back to 3/4 of it
        assert!(cache.stats().bytes <= 750);
        assert!(cache.get(places[0], &v()).is_some());
        assert!(cache.get(places[10], &v()).is_some());
        assert!(
            cache.get(places[1], &v()).is_none(),
            "the least recently used went first"
        );
    }
}
