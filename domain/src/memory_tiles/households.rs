//! The households in memory, as the `households` layer shows them: a point, its id and the
//! grid cell it lies in (nothing personal). Points are placed in each tile in Rust, where
//! `ST_AsMVTGeom` would put them.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::PgPool;
use wangge_tiles::mvt::{LayerBuilder, TileGeometry, Value};
use wangge_tiles::{TileCoord, lonlat_to_3857};

use super::{MemoryLayer, bind_boxes, in_boxes};
use crate::auth::Area;
use crate::tile_cache::{BUFFER, EXTENT};
use crate::tile_layers::TileLayer;
use crate::tile_render::TileError;

/// The `households` layer.
#[derive(Debug)]
pub struct Households;

/// One household, as its tile feature shows it.
#[derive(Debug)]
pub struct Household {
    id: i64,
    lon_lat: [f64; 2],
    /// In EPSG:3857 metres.
    xy: [f64; 2],
    /// Shared between the households of a village and of a cell.
    village_code: Arc<str>,
    grid_cell_code: Option<Arc<str>>,
}

impl MemoryLayer for Households {
    type Feature = Household;
    const LAYER: TileLayer = TileLayer::Households;

    async fn read(
        pool: &PgPool,
        boxes: Option<&[[f64; 4]]>,
    ) -> Result<Vec<Household>, sqlx::Error> {
        let rows: Vec<(i64, String, f64, f64, Option<String>)> = bind_boxes(
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT h.id, v.code, ST_X(h.geom), ST_Y(h.geom), h.grid_cell_code
                 FROM household h
                 JOIN admin_unit v ON v.id = h.village_id
                 WHERE {}",
                in_boxes("h.geom")
            ))),
            boxes,
        )
        .fetch_all(pool)
        .await?;
        let mut codes: HashMap<String, Arc<str>> = HashMap::new();
        let mut intern = |code: String| -> Arc<str> {
            Arc::clone(
                codes
                    .entry(code)
                    .or_insert_with_key(|code| Arc::from(code.as_str())),
            )
        };
        Ok(rows
            .into_iter()
            .map(|(id, village_code, lon, lat, cell)| {
                let (x, y) = lonlat_to_3857(lon, lat);
                Household {
                    id,
                    lon_lat: [lon, lat],
                    xy: [x, y],
                    village_code: intern(village_code),
                    grid_cell_code: cell.map(&mut intern),
                }
            })
            .collect())
    }

    fn id(household: &Household) -> i64 {
        household.id
    }

    fn box_4326(household: &Household) -> [f64; 4] {
        let [lon, lat] = household.lon_lat;
        [lon, lat, lon, lat]
    }

    fn box_3857(household: &Household) -> ([f64; 2], [f64; 2]) {
        (household.xy, household.xy)
    }

    fn in_area(household: &Household, area: &Area) -> bool {
        // A grid cell's area is named by the cell's code.
        household.village_code.starts_with(&area.prefix)
            && (area.grid_cell_id.is_none()
                || household.grid_cell_code.as_deref() == Some(area.code.as_str()))
    }

    fn order(a: &Household, b: &Household) -> std::cmp::Ordering {
        a.id.cmp(&b.id)
    }

    fn add(
        household: &Household,
        coord: TileCoord,
        builder: &mut LayerBuilder,
    ) -> Result<(), TileError> {
        let b = coord.bounds_3857();
        let scale = EXTENT / b.width();
        let (x, y) = (
            ((household.xy[0] - b.min_x()) * scale).round(),
            ((b.max_y() - household.xy[1]) * scale).round(),
        );
        // As ST_AsMVTGeom clips: points past the buffer are left out.
        if [x, y].iter().any(|v| *v < -BUFFER || *v > EXTENT + BUFFER) {
            return Ok(());
        }
        let mut values = vec![("id", Value::Int(household.id))];
        if let Some(cell) = &household.grid_cell_code {
            values.push(("grid_cell_code", Value::String(cell.to_string())));
        }
        builder
            .add_feature(
                u64::try_from(household.id).ok(),
                &TileGeometry::Points(vec![[x as i32, y as i32]]),
                &values,
            )
            .map(|_| ())
            .map_err(|e| TileError::Encoding(format!("tile encoding: {e}")))
    }
}
