//! The published plan's grid cells in memory, as the `grid-cells` layer shows them: outline,
//! names, open cases and workers. Outlines are simplified once per zoom (when first asked
//! for) and clipped to each tile in Rust ([`wangge_tiles::clip`]).

use std::sync::OnceLock;

use geo::{MultiPolygon, Simplify};
use sqlx::PgPool;
use wangge_tiles::mvt::{LayerBuilder, TileGeometry, Value};
use wangge_tiles::{MAX_ZOOM, TileCoord, WORLD_EXTENT_3857, clip::polygon_in_tile, lonlat_to_3857};

use super::{MemoryLayer, bind_boxes, in_boxes};
use crate::auth::Area;
use crate::model::open_statuses;
use crate::tile_cache::{BUFFER, EXTENT};
use crate::tile_layers::TileLayer;
use crate::tile_render::TileError;

/// The `grid-cells` layer of the published plan.
#[derive(Debug)]
pub struct GridCells;

/// One cell, as its tile feature shows it.
#[derive(Debug)]
pub struct Cell {
    id: i64,
    code: String,
    name: String,
    village_code: String,
    plan_version: i32,
    open_incidents: i64,
    workers: i64,
    /// Polygons in EPSG:3857 metres.
    outline_3857: MultiPolygon<f64>,
    box_4326: [f64; 4],
    box_3857: ([f64; 2], [f64; 2]),
    /// The outline simplified for each zoom from the layer's first, made when first asked
    /// for: a cell spans many tiles of a zoom, and simplifying it was most of a tile's work.
    simplified: [OnceLock<Vec<Rings>>; ZOOMS],
}

/// A polygon's exterior and holes, as rings of `[x, y]` in EPSG:3857 metres.
type Rings = (Vec<[f64; 2]>, Vec<Vec<[f64; 2]>>);

const FIRST_ZOOM: u8 = 8;
const ZOOMS: usize = (MAX_ZOOM - FIRST_ZOOM + 1) as usize;

impl Cell {
    /// The outline simplified by one pixel of a 512-pixel tile at zoom `z`, as the
    /// database's tiles are.
    fn simplified(&self, z: u8) -> &[Rings] {
        let z = z.clamp(FIRST_ZOOM, MAX_ZOOM);
        self.simplified[usize::from(z - FIRST_ZOOM)].get_or_init(|| {
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

impl MemoryLayer for GridCells {
    type Feature = Cell;
    const LAYER: TileLayer = TileLayer::GridCells;

    async fn read(pool: &PgPool, boxes: Option<&[[f64; 4]]>) -> Result<Vec<Cell>, sqlx::Error> {
        type Row = (i64, String, String, String, i32, i64, i64, String);
        let rows: Vec<Row> = bind_boxes(
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT g.id, g.code, g.name, v.code, p.version,
                    (SELECT count(*) FROM incident i
                     WHERE i.grid_cell_id = g.id AND i.status IN {}),
                    (SELECT count(*) FROM grid_worker_cell wc WHERE wc.grid_cell_id = g.id),
                    ST_AsGeoJSON(g.geom, 9)
             FROM grid_cell g
             JOIN grid_plan p ON p.id = g.plan_id AND p.status = 'published'
             JOIN admin_unit v ON v.id = g.village_id
             WHERE {}",
                open_statuses!(),
                in_boxes("g.geom")
            ))),
            boxes,
        )
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
            let (x0, y0) = lonlat_to_3857(box_4326[0], box_4326[1]);
            let (x1, y1) = lonlat_to_3857(box_4326[2], box_4326[3]);
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
                box_3857: ([x0, y0], [x1, y1]),
                simplified: Default::default(),
            });
        }
        Ok(cells)
    }

    fn id(cell: &Cell) -> i64 {
        cell.id
    }

    fn box_4326(cell: &Cell) -> [f64; 4] {
        cell.box_4326
    }

    fn box_3857(cell: &Cell) -> ([f64; 2], [f64; 2]) {
        cell.box_3857
    }

    fn in_area(cell: &Cell, area: &Area) -> bool {
        cell.village_code.starts_with(&area.prefix)
            && area.grid_cell_id.is_none_or(|id| id == cell.id)
    }

    fn order(a: &Cell, b: &Cell) -> std::cmp::Ordering {
        a.code.cmp(&b.code)
    }

    fn add(cell: &Cell, coord: TileCoord, builder: &mut LayerBuilder) -> Result<(), TileError> {
        let polygons: Vec<_> = cell
            .simplified(coord.z())
            .iter()
            .filter_map(|(exterior, holes)| {
                let holes: Vec<&[[f64; 2]]> = holes.iter().map(Vec::as_slice).collect();
                polygon_in_tile(&coord, EXTENT as u32, BUFFER as u32, exterior, &holes)
            })
            .collect();
        if polygons.is_empty() {
            return Ok(());
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
            .map(|_| ())
            .map_err(|e| TileError::Encoding(format!("tile encoding: {e}")))
    }
}
