//! The published grid's cells in memory, tiled without the database: a cold `grid-cells`
//! tile is cut from here (an R-tree of the cells, simplified and clipped in Rust) rather than
//! read from PostGIS. Drafts are still read from the database.
//!
//! The memory follows the same notices that drop cached tiles ([`CellTiles::changed`], from
//! the listener, for every change to the grid-cells layer). A change with a box marks the
//! box pending; a background task reads the cells meeting the pending boxes again (outline,
//! names, open cases, workers) and swaps them in, clearing only the marks it read for, so a
//! change that comes in meanwhile stays pending. A change without a box (a plan published,
//! everything) or a lost listener marks everything pending, and the task reads all cells
//! again. A tile meeting anything pending is rendered from the database instead. Read after
//! the read barrier ([`crate::live::LiveHub::tiles_current`]), the memory so shows every
//! change committed before the request, as the database would.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use geo::{MultiPolygon, Simplify};
use rstar::{AABB, RTree, primitives::GeomWithData};
use sqlx::PgPool;
use wangge_tiles::mvt::{LayerBuilder, TileBuilder, TileGeometry, Value};
use wangge_tiles::{TileCoord, WORLD_EXTENT_3857, clip::polygon_in_tile, lonlat_to_3857};

use crate::auth::Area;
use crate::model::open_statuses;
use crate::tile_cache::{BUFFER, CachedTile, EXTENT};
use crate::tile_layers::TileLayer;
use crate::tile_render::TileError;

/// How long pending changes gather before they are read: changes come in bursts (a report,
/// its routing, its assignment), and one read serves the burst.
const GATHER: Duration = Duration::from_millis(50);

/// One cell of the published plan, as its tile feature shows it.
#[derive(Debug)]
struct Cell {
    id: i64,
    code: String,
    name: String,
    village_code: String,
    plan_version: i32,
    open_incidents: i64,
    workers: i64,
    /// Polygons as rings of `[x, y]` in EPSG:3857 metres.
    outline_3857: MultiPolygon<f64>,
    /// Its lon/lat box, to match the boxes of change notices.
    box_4326: [f64; 4],
    /// The outline simplified for each zoom from the grid cells' first, made when first
    /// asked for: a cell spans many tiles of a zoom, and simplifying it is most of a tile's
    /// work.
    simplified: [OnceLock<Vec<Rings>>; ZOOMS],
}

/// A polygon's exterior and holes, as rings of `[x, y]` in EPSG:3857 metres.
type Rings = (Vec<[f64; 2]>, Vec<Vec<[f64; 2]>>);

/// Zooms from the layer's first to the last.
const ZOOMS: usize = (wangge_tiles::MAX_ZOOM - FIRST_ZOOM + 1) as usize;
const FIRST_ZOOM: u8 = 8;

impl Cell {
    /// The outline simplified by one pixel of a 512-pixel tile at zoom `z`, as the
    /// database's tiles are.
    fn simplified(&self, z: u8) -> &[Rings] {
        let slot =
            &self.simplified[usize::from(z.clamp(FIRST_ZOOM, wangge_tiles::MAX_ZOOM) - FIRST_ZOOM)];
        slot.get_or_init(|| {
            let tolerance = 2.0 * WORLD_EXTENT_3857 / f64::from(1u32 << z) / 512.0;
            let ring = |r: &geo::LineString<f64>| -> Vec<[f64; 2]> {
                r.0.iter().map(|c| [c.x, c.y]).collect()
            };
            self.outline_3857
                .0
                .iter()
                .map(|polygon| {
                    let simple = polygon.simplify(tolerance);
                    (
                        ring(simple.exterior()),
                        simple.interiors().iter().map(ring).collect(),
                    )
                })
                .collect()
        })
    }
}

/// The cells, by id, and an R-tree of their Web Mercator boxes.
#[derive(Debug, Default)]
struct Cells {
    by_id: HashMap<i64, Arc<Cell>>,
    tree: RTree<GeomWithData<rstar::primitives::Rectangle<[f64; 2]>, i64>>,
}

impl Cells {
    fn new(by_id: HashMap<i64, Arc<Cell>>) -> Self {
        let entries = by_id
            .values()
            .filter_map(|cell| {
                let r = cell
                    .outline_3857
                    .0
                    .iter()
                    .flat_map(|p| p.exterior().0.iter());
                let (mut min, mut max) = ([f64::MAX; 2], [f64::MIN; 2]);
                for c in r {
                    min = [min[0].min(c.x), min[1].min(c.y)];
                    max = [max[0].max(c.x), max[1].max(c.y)];
                }
                (min[0] <= max[0]).then(|| {
                    GeomWithData::new(
                        rstar::primitives::Rectangle::from_corners(min, max),
                        cell.id,
                    )
                })
            })
            .collect();
        Self {
            by_id,
            tree: RTree::bulk_load(entries),
        }
    }
}

/// What is pending: boxes marked by changes not yet read, or everything.
#[derive(Debug, Default)]
struct State {
    cells: Option<Arc<Cells>>,
    /// Changes not yet read: a mark (in order) and its lon/lat box.
    pending: Vec<(u64, [f64; 4])>,
    /// Everything is to be read again, as of this mark.
    all_pending: Option<u64>,
    next_mark: u64,
}

/// The published grid's cells in memory (see the module documentation).
#[derive(Debug, Default)]
pub struct CellTiles {
    state: Mutex<State>,
    wake: tokio::sync::Notify,
}

impl CellTiles {
    /// Starts the task that reads the cells, all of them first.
    pub fn start(self: &Arc<Self>, pool: PgPool) {
        self.everything_changed();
        let me = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                let work = me.has_pending();
                if !work {
                    me.wake.notified().await;
                    continue;
                }
                tokio::time::sleep(GATHER).await;
                if let Err(error) = me.refresh(&pool).await {
                    tracing::warn!(%error, "reading grid cells for tiles failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn has_pending(&self) -> bool {
        let state = self.lock();
        state.all_pending.is_some() || !state.pending.is_empty()
    }

    /// A change to the published grid-cells layer inside `bbox` (lon/lat), or anywhere.
    pub fn changed(&self, bbox: Option<[f64; 4]>) {
        {
            let mut state = self.lock();
            state.next_mark += 1;
            let mark = state.next_mark;
            match bbox {
                Some(b) => state.pending.push((mark, b)),
                None => state.all_pending = Some(mark),
            }
        }
        self.wake.notify_one();
    }

    /// Everything may have changed (notices were missed, or nothing was read yet).
    pub fn everything_changed(&self) {
        self.changed(None);
    }

    /// Reads again what is pending and swaps it in, clearing the marks it read for.
    async fn refresh(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let (upto, all, boxes, current) = {
            let state = self.lock();
            (
                state.next_mark,
                state.all_pending.is_some() || state.cells.is_none(),
                state.pending.iter().map(|(_, b)| *b).collect::<Vec<_>>(),
                state.cells.clone(),
            )
        };
        let rows = read(pool, (!all).then_some(&boxes[..])).await?;
        let mut by_id = match (&current, all) {
            (Some(cells), false) => {
                let mut by_id = cells.by_id.clone();
                // What the read covers is replaced whole: cells gone from those boxes go.
                by_id.retain(|_, cell| !boxes.iter().any(|b| meets(&cell.box_4326, b)));
                by_id
            }
            _ => HashMap::new(),
        };
        for cell in rows {
            by_id.insert(cell.id, Arc::new(cell));
        }
        let cells = Arc::new(Cells::new(by_id));
        let mut state = self.lock();
        state.cells = Some(cells);
        state.pending.retain(|(mark, _)| *mark > upto);
        if state.all_pending.is_some_and(|mark| mark <= upto) {
            state.all_pending = None;
        }
        Ok(())
    }

    /// The `grid-cells` tile of the published plan inside `area`, from memory; `None` when
    /// the memory cannot tell (not read yet, or a change it has not read meets the tile).
    /// Call it after the read barrier.
    pub fn render(&self, coord: TileCoord, area: &Area) -> Option<Result<CachedTile, TileError>> {
        let tile_box = buffered_box_4326(coord);
        let cells = {
            let state = self.lock();
            if state.all_pending.is_some() || state.pending.iter().any(|(_, b)| meets(b, &tile_box))
            {
                return None;
            }
            Arc::clone(state.cells.as_ref()?)
        };
        Some(encode(&cells, coord, area))
    }
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

/// Encodes the cells meeting the tile, inside the area, in the order and with the
/// properties of the database's tile ([`TileLayer::sql`]).
fn encode(cells: &Cells, coord: TileCoord, area: &Area) -> Result<CachedTile, TileError> {
    let layer = TileLayer::GridCells;
    let mut builder = LayerBuilder::new(layer.name(), EXTENT as u32)
        .map_err(|e| TileError::Encoding(e.to_string()))?;
    if coord.z() >= layer.min_zoom() {
        let b = coord.bounds_3857();
        let margin = b.width() * BUFFER / EXTENT;
        let window = AABB::from_corners(
            [b.min_x() - margin, b.min_y() - margin],
            [b.max_x() + margin, b.max_y() + margin],
        );
        let mut found: Vec<&Arc<Cell>> = cells
            .tree
            .locate_in_envelope_intersecting(&window)
            .filter_map(|entry| cells.by_id.get(&entry.data))
            .filter(|cell| {
                cell.village_code.starts_with(&area.prefix)
                    && area.grid_cell_id.is_none_or(|id| id == cell.id)
            })
            .collect();
        found.sort_by(|a, b| a.code.cmp(&b.code));
        found.truncate(usize::try_from(layer.feature_cap()).unwrap_or(usize::MAX));
        for cell in found {
            let polygons: Vec<_> = cell
                .simplified(coord.z())
                .iter()
                .filter_map(|(exterior, holes)| {
                    let holes: Vec<&[[f64; 2]]> = holes.iter().map(Vec::as_slice).collect();
                    polygon_in_tile(&coord, EXTENT as u32, BUFFER as u32, exterior, &holes)
                })
                .collect();
            if polygons.is_empty() {
                continue;
            }
            let properties = [
                ("code", Value::String(cell.code.clone())),
                ("name", Value::String(cell.name.clone())),
                ("village_code", Value::String(cell.village_code.clone())),
                ("plan_version", Value::Int(i64::from(cell.plan_version))),
                ("open_incidents", Value::Int(cell.open_incidents)),
                ("workers", Value::Int(cell.workers)),
            ];
            builder
                .add_feature(
                    u64::try_from(cell.id).ok(),
                    &TileGeometry::Polygons(polygons),
                    &properties,
                )
                .map_err(|e| TileError::Encoding(format!("tile encoding: {e}")))?;
        }
        crate::tile_render::fit(&mut builder, layer, coord);
    }
    let mut tile = TileBuilder::new();
    tile.add_layer(builder)
        .map_err(|e| TileError::Encoding(e.to_string()))?;
    Ok(CachedTile::new(tile.encode()))
}

/// Reads the published plan's cells meeting any of `boxes` (lon/lat), or all of them.
async fn read(pool: &PgPool, boxes: Option<&[[f64; 4]]>) -> Result<Vec<Cell>, sqlx::Error> {
    type Row = (i64, String, String, String, i32, i64, i64, String);
    let (xmin, ymin, xmax, ymax): (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) = match boxes {
        Some(boxes) => (
            boxes.iter().map(|b| b[0]).collect(),
            boxes.iter().map(|b| b[1]).collect(),
            boxes.iter().map(|b| b[2]).collect(),
            boxes.iter().map(|b| b[3]).collect(),
        ),
        None => Default::default(),
    };
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT g.id, g.code, g.name, v.code, p.version,
                (SELECT count(*) FROM incident i
                 WHERE i.grid_cell_id = g.id AND i.status IN {}),
                (SELECT count(*) FROM grid_worker_cell wc WHERE wc.grid_cell_id = g.id),
                ST_AsGeoJSON(g.geom, 9)
         FROM grid_cell g
         JOIN grid_plan p ON p.id = g.plan_id AND p.status = 'published'
         JOIN admin_unit v ON v.id = g.village_id
         WHERE $1::bool
            OR EXISTS (SELECT 1 FROM unnest($2::float8[], $3::float8[], $4::float8[], $5::float8[])
                           AS b (xmin, ymin, xmax, ymax)
                       WHERE g.geom && ST_MakeEnvelope(b.xmin, b.ymin, b.xmax, b.ymax, 4326))",
        open_statuses!()
    )))
    .bind(boxes.is_none())
    .bind(xmin)
    .bind(ymin)
    .bind(xmax)
    .bind(ymax)
    .fetch_all(pool)
    .await?;
    let mut cells = Vec::with_capacity(rows.len());
    for (id, code, name, village_code, plan_version, open_incidents, workers, geojson) in rows {
        let outline = crate::db::geometry::multi_polygon_from_geojson(&geojson)
            .map_err(|e| sqlx::Error::Decode(format!("grid cell {id}: {e}").into()))?;
        let mut box_4326 = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        for c in outline.0.iter().flat_map(|p| p.exterior().0.iter()) {
            box_4326 = [
                box_4326[0].min(c.x),
                box_4326[1].min(c.y),
                box_4326[2].max(c.x),
                box_4326[3].max(c.y),
            ];
        }
        let outline_3857 = geo::MapCoords::map_coords(&outline, |c| {
            let (x, y) = lonlat_to_3857(c.x, c.y);
            geo::Coord { x, y }
        });
        cells.push(Cell {
            id,
            code,
            name,
            village_code,
            plan_version,
            open_incidents,
            workers,
            outline_3857,
            box_4326,
            simplified: Default::default(),
        });
    }
    Ok(cells)
}
