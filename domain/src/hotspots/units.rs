//! The places an analysis counts incidents in: H3 hexagons covering the caller's area, or
//! the grid cells (published plan), villages or townships inside it, with their households.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use h3o::geom::{ContainmentMode, TilerBuilder};
use h3o::{CellIndex, Resolution};
use sqlx::PgPool;
use wangge_analysis::hexbin::{self, CountedPoint};
use wangge_analysis::sphere::LonLat;

use crate::auth::Area;
use crate::db::geometry::multi_polygon_from;

/// What incidents are counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    Hexagons(Resolution),
    GridCells,
    Villages,
    Townships,
}

/// The H3 resolutions an analysis may use: from about 250 km² (5) to 0.1 km² (9) per
/// hexagon; finer ones over a city are millions of cells.
pub const RESOLUTIONS: std::ops::RangeInclusive<u8> = 5..=9;

/// At most this many units in one analysis: a city at resolution 9 is about 140,000.
pub const MAX_UNITS: usize = 200_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error(
        "unknown unit `{0}`; the units are h3:5 … h3:9 (H3 hexagons), grid-cell, village and township"
    )]
    Unknown(String),
    #[error("the area holds {0} units at this size, more than {MAX_UNITS}: choose a coarser unit")]
    TooMany(usize),
}

impl FromStr for Unit {
    type Err = UnitError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "grid-cell" => Ok(Unit::GridCells),
            "village" => Ok(Unit::Villages),
            "township" => Ok(Unit::Townships),
            _ => s
                .strip_prefix("h3:")
                .and_then(|r| r.parse::<u8>().ok())
                .filter(|r| RESOLUTIONS.contains(r))
                .and_then(|r| Resolution::try_from(r).ok())
                .map(Unit::Hexagons)
                .ok_or_else(|| UnitError::Unknown(s.chars().take(40).collect())),
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unit::Hexagons(r) => write!(f, "h3:{}", u8::from(*r)),
            Unit::GridCells => f.write_str("grid-cell"),
            Unit::Villages => f.write_str("village"),
            Unit::Townships => f.write_str("township"),
        }
    }
}

impl Unit {
    /// The `unit` property of each feature: `h3`, `grid-cell`, `village` or `township`.
    pub fn kind(self) -> &'static str {
        match self {
            Unit::Hexagons(_) => "h3",
            Unit::GridCells => "grid-cell",
            Unit::Villages => "village",
            Unit::Townships => "township",
        }
    }
}

/// A code and a name.
pub type Named = (String, String);

/// One place of the analysis.
#[derive(Debug, Clone)]
pub struct StudyUnit {
    /// The unit's code (an H3 index in hex for hexagons).
    pub code: String,
    pub name: String,
    /// Its outline, as GeoJSON geometry (lon/lat).
    pub geometry: geojson::Geometry,
    /// The same outline for spatial weights.
    pub polygons: geo::MultiPolygon<f64>,
    /// A point inside it (a hexagon's centre, a polygon's point on surface).
    pub centre: LonLat,
    pub households: i64,
    pub grid_cell: Option<Named>,
    pub village: Option<Named>,
    pub township: Option<Named>,
    /// The database id the incidents refer to (grid cell, village or township); `None` for
    /// hexagons, which incidents are placed in by their point.
    pub id: Option<i64>,
}

type UnitRow = (
    i64,
    String,
    String,
    String,
    f64,
    f64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// The units of `unit` inside `area`, in code order.
pub async fn read(pool: &PgPool, area: &Area, unit: Unit) -> Result<Vec<StudyUnit>, ReadError> {
    let rows: Vec<UnitRow> = match unit {
        Unit::Hexagons(resolution) => return hexagons(pool, area, resolution).await,
        // Households are linked to villages; a cell's are those inside its outline.
        Unit::GridCells => {
            sqlx::query_as(
                "SELECT g.id, g.code, g.name, ST_AsGeoJSON(g.geom, 7),
                        ST_X(ST_PointOnSurface(g.geom)), ST_Y(ST_PointOnSurface(g.geom)),
                        (SELECT count(*) FROM household h
                         WHERE h.village_id = g.village_id AND ST_Intersects(g.geom, h.geom)),
                        v.code, v.name, t.code, t.name
                 FROM grid_cell g
                 JOIN grid_plan p ON p.id = g.plan_id AND p.status = 'published'
                 JOIN admin_unit v ON v.id = g.village_id
                 JOIN admin_unit t ON t.id = v.parent_id
                 WHERE v.code LIKE $1 || '%' AND ($2::int8 IS NULL OR g.id = $2)
                 ORDER BY g.code",
            )
            .bind(&area.prefix)
            .bind(area.grid_cell_id)
            .fetch_all(pool)
            .await?
        }
        Unit::Villages | Unit::Townships => {
            let level = if unit == Unit::Villages {
                "village"
            } else {
                "township"
            };
            sqlx::query_as(
                "SELECT u.id, u.code, u.name, ST_AsGeoJSON(u.geom, 7),
                        ST_X(ST_PointOnSurface(u.geom)), ST_Y(ST_PointOnSurface(u.geom)),
                        (SELECT count(*) FROM household h JOIN admin_unit hv ON hv.id = h.village_id
                         WHERE hv.code LIKE u.code || '%'),
                        NULL::text, NULL::text, t.code, t.name
                 FROM admin_unit u
                 LEFT JOIN admin_unit t ON t.id = u.parent_id AND u.level = 'village'
                 WHERE u.level = $3::admin_level AND u.code LIKE $1 || '%'
                   AND u.geom IS NOT NULL AND $2::int8 IS NULL
                 ORDER BY u.code",
            )
            .bind(&area.prefix)
            .bind(area.grid_cell_id)
            .bind(level)
            .fetch_all(pool)
            .await?
        }
    };
    let mut units = Vec::with_capacity(rows.len());
    for (id, code, name, geometry, x, y, households, vcode, vname, tcode, tname) in rows {
        let geometry: geojson::Geometry = geometry
            .parse()
            .map_err(|e| ReadError::Geometry(format!("{code}: {e}")))?;
        let polygons = multi_polygon_from(&geometry)
            .map_err(|e| ReadError::Geometry(format!("{code}: {e}")))?;
        let centre = LonLat::new(x, y).map_err(|e| ReadError::Geometry(format!("{code}: {e}")))?;
        let (village, township) = match unit {
            Unit::GridCells => (vcode.zip(vname), tcode.zip(tname)),
            Unit::Villages => (Some((code.clone(), name.clone())), tcode.zip(tname)),
            _ => (None, Some((code.clone(), name.clone()))),
        };
        let grid_cell = (unit == Unit::GridCells).then(|| (code.clone(), name.clone()));
        units.push(StudyUnit {
            code,
            name,
            geometry,
            polygons,
            centre,
            households,
            grid_cell,
            village,
            township,
            id: Some(id),
        });
    }
    Ok(units)
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Unit(#[from] UnitError),
    /// A stored outline the analysis cannot read: a broken invariant, never the caller's.
    #[error("unreadable outline {0}")]
    Geometry(String),
}

/// The hexagons covering the caller's area (its outline, or its grid cell's), each with the
/// households whose point lies in it.
async fn hexagons(
    pool: &PgPool,
    area: &Area,
    resolution: Resolution,
) -> Result<Vec<StudyUnit>, ReadError> {
    // The outlines of the area: its own unit's, or for the city its counties'.
    let outlines: Vec<String> = sqlx::query_scalar(
        "SELECT ST_AsGeoJSON(geom, 7) FROM grid_cell WHERE id = $2
         UNION ALL
         SELECT ST_AsGeoJSON(geom, 7) FROM admin_unit
         WHERE $2::int8 IS NULL AND geom IS NOT NULL
           AND CASE WHEN $3 = 'city' THEN level = 'county' AND code LIKE $1 || '%'
                    ELSE code = $4 AND level::text = $3 END",
    )
    .bind(&area.prefix)
    .bind(area.grid_cell_id)
    .bind(&area.level)
    .bind(&area.code)
    .fetch_all(pool)
    .await?;
    let mut areas = Vec::new();
    for outline in &outlines {
        let geometry: geojson::Geometry = outline
            .parse()
            .map_err(|e| ReadError::Geometry(format!("area outline: {e}")))?;
        areas.push(multi_polygon_from(&geometry).map_err(ReadError::Geometry)?);
    }
    let mut cells = cover(&areas, resolution)?;
    let households: Vec<(f64, f64)> = sqlx::query_as(
        "SELECT ST_X(h.geom), ST_Y(h.geom) FROM household h
         JOIN admin_unit v ON v.id = h.village_id
         WHERE v.code LIKE $1 || '%'
           AND ($2::int8 IS NULL
                OR ST_Intersects(h.geom, (SELECT geom FROM grid_cell WHERE id = $2)))",
    )
    .bind(&area.prefix)
    .bind(area.grid_cell_id)
    .fetch_all(pool)
    .await?;
    let points: Vec<CountedPoint> = households
        .into_iter()
        .filter_map(|(x, y)| LonLat::new(x, y).ok())
        .map(|at| CountedPoint { at, open: false })
        .collect();
    let per_cell: HashMap<CellIndex, u32> = hexbin::count_by_cell(&points, resolution)
        .into_iter()
        .map(|c| (c.cell, c.count))
        .collect();
    // Households just over the outline's edge keep their hexagon.
    cells.extend(per_cell.keys().copied());
    cells.sort_unstable();
    cells.dedup();
    if cells.len() > MAX_UNITS {
        return Err(UnitError::TooMany(cells.len()).into());
    }
    Ok(cells
        .into_iter()
        .map(|cell| hexagon(cell, per_cell.get(&cell).copied().unwrap_or(0)))
        .collect())
}

/// The hexagons whose centre lies in one of `areas`. h3o's own polygon tiler took 38 s on
/// Yuxi's nine county outlines (12,000 vertices) at resolution 7 here, so it only tiles
/// their bounding box, and each candidate's centre is tested against the outlines (after
/// their boxes): 0.7 s for the city at resolution 8 in a debug build.
fn cover(
    areas: &[geo::MultiPolygon<f64>],
    resolution: Resolution,
) -> Result<Vec<CellIndex>, ReadError> {
    use geo::{BoundingRect, Intersects};
    let boxes: Vec<geo::Rect<f64>> = areas.iter().filter_map(|a| a.bounding_rect()).collect();
    let Some(first) = boxes.first().copied() else {
        return Ok(Vec::new());
    };
    let bbox = boxes.iter().fold(first, |a, r| {
        geo::Rect::new(
            geo::coord! { x: a.min().x.min(r.min().x), y: a.min().y.min(r.min().y) },
            geo::coord! { x: a.max().x.max(r.max().x), y: a.max().y.max(r.max().y) },
        )
    });
    let mut tiler = TilerBuilder::new(resolution)
        .containment_mode(ContainmentMode::Covers)
        .build();
    tiler
        .add(bbox.to_polygon())
        .map_err(|e| ReadError::Geometry(format!("area outline: {e}")))?;
    // Half the box is typically inside the outlines.
    if tiler.coverage_size_hint() > MAX_UNITS * 10 {
        return Err(UnitError::TooMany(tiler.coverage_size_hint() / 2).into());
    }
    Ok(tiler
        .into_coverage()
        .filter(|cell| {
            let centre = h3o::LatLng::from(*cell);
            let point = geo::Point::new(centre.lng(), centre.lat());
            areas
                .iter()
                .zip(&boxes)
                .any(|(area, b)| b.intersects(&point) && area.intersects(&point))
        })
        .collect())
}

/// A hexagon as a study unit.
pub fn hexagon(cell: CellIndex, households: u32) -> StudyUnit {
    let mut ring: Vec<[f64; 2]> = hexbin::cell_ring(cell)
        .into_iter()
        .map(|p| [p.lon(), p.lat()])
        .collect();
    if let Some(first) = ring.first().copied() {
        ring.push(first);
    }
    let polygon = geo::Polygon::new(
        ring.iter()
            .map(|p| geo::coord! { x: p[0], y: p[1] })
            .collect(),
        Vec::new(),
    );
    let centre = h3o::LatLng::from(cell);
    StudyUnit {
        code: cell.to_string(),
        name: cell.to_string(),
        geometry: geojson::Geometry::new(geojson::GeometryValue::Polygon {
            coordinates: vec![ring.iter().map(|p| geojson::Position::from(*p)).collect()],
        }),
        polygons: geo::MultiPolygon::new(vec![polygon]),
        centre: LonLat::new(centre.lng(), centre.lat()).expect("an H3 centre is a place"),
        households: i64::from(households),
        grid_cell: None,
        village: None,
        township: None,
        id: None,
    }
}
