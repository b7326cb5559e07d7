//! The map's vector tile layers: what each one shows, from which zoom, how many features a
//! tile may hold, and the PostGIS query that reads one tile of it inside the caller's area.
//!
//! Geometry crosses the database boundary here in tile space: PostGIS transforms to Web
//! Mercator, simplifies, clips to the tile plus its buffer and snaps to the 4096 grid
//! (`ST_AsMVTGeom`), and answers WKB that [`wangge_tiles::wkb`] reads. Properties come as one
//! JSON object per feature and never include personal data.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use h3o::Resolution;
use serde::Serialize;
use sqlx::PgPool;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use wangge_analysis::hexbin;
use wangge_analysis::sphere::LonLat;
use wangge_tiles::TileCoord;

use crate::auth::Area;
use crate::incidents::filters::IncidentFilters;

use crate::model::open_statuses;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TileLayer {
    Counties,
    Townships,
    Villages,
    GridCells,
    Households,
    Facilities,
    Incidents,
    Hexagons,
    Workers,
}

impl TileLayer {
    pub const ALL: [TileLayer; 9] = [
        TileLayer::Counties,
        TileLayer::Townships,
        TileLayer::Villages,
        TileLayer::GridCells,
        TileLayer::Households,
        TileLayer::Facilities,
        TileLayer::Incidents,
        TileLayer::Hexagons,
        TileLayer::Workers,
    ];

    /// The layer's name in URLs and inside its tiles.
    pub fn name(self) -> &'static str {
        match self {
            TileLayer::Counties => "counties",
            TileLayer::Townships => "townships",
            TileLayer::Villages => "villages",
            TileLayer::GridCells => "grid-cells",
            TileLayer::Households => "households",
            TileLayer::Facilities => "facilities",
            TileLayer::Incidents => "incidents",
            TileLayer::Hexagons => "hexagons",
            TileLayer::Workers => "workers",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            TileLayer::Counties => "Counties and districts (县/区)",
            TileLayer::Townships => "Townships and sub-districts (乡镇/街道)",
            TileLayer::Villages => "Villages and communities (村/社区)",
            TileLayer::GridCells => "Grid cells with their open-incident load (网格)",
            TileLayer::Households => "Households, without personal data (户)",
            TileLayer::Facilities => "Service and governance facilities",
            TileLayer::Incidents => {
                "Incidents by status, tier and severity (事件); counts per hexagon below zoom 13"
            }
            TileLayer::Hexagons => "Incidents counted in H3 hexagons sized to the zoom (事件热力)",
            TileLayer::Workers => "Grid workers' last positions and status (网格员)",
        }
    }

    /// Below this zoom the layer's tiles are empty (households would be a smear of dots).
    pub fn min_zoom(self) -> u8 {
        match self {
            TileLayer::Households => 14,
            TileLayer::Villages | TileLayer::GridCells => 8,
            _ => 0,
        }
    }

    /// At most this many features in one tile; the query keeps the most important first.
    pub fn feature_cap(self) -> i64 {
        match self {
            TileLayer::Counties | TileLayer::Townships => 1_000,
            TileLayer::Villages | TileLayer::GridCells | TileLayer::Facilities => 10_000,
            TileLayer::Households | TileLayer::Incidents | TileLayer::Workers => 20_000,
            // Never reached: a tile holds a few hundred hexagons, and counts are never cut.
            TileLayer::Hexagons => 100_000,
        }
    }

    pub fn is_polygonal(self) -> bool {
        matches!(
            self,
            TileLayer::Counties | TileLayer::Townships | TileLayer::Villages | TileLayer::GridCells
        )
    }

    /// The fields a feature carries, for TileJSON's `vector_layers`.
    pub fn fields(self) -> &'static [(&'static str, &'static str)] {
        match self {
            TileLayer::Counties | TileLayer::Townships | TileLayer::Villages => &[
                ("code", "String: the official division code"),
                ("name", "String: the official name"),
                ("level", "String: county, township or village"),
                ("parent_code", "String: the enclosing unit's code"),
            ],
            TileLayer::GridCells => &[
                ("code", "String: the grid cell's code"),
                ("name", "String"),
                ("village_code", "String"),
                ("plan_version", "Number: the grid plan shown"),
                (
                    "open_incidents",
                    "Number: open incidents in the cell (its load)",
                ),
                ("workers", "Number: grid workers responsible for the cell"),
            ],
            TileLayer::Households => &[
                ("id", "Number: the household's id"),
                ("grid_cell_code", "String"),
            ],
            TileLayer::Facilities => &[
                ("id", "Number"),
                ("kind", "String: the facility kind"),
                ("name", "String"),
            ],
            TileLayer::Incidents => &[
                ("id", "Number (below zoom 13: the hexagon's H3 index)"),
                (
                    "h3",
                    "String: below zoom 13, the hexagon counted (H3 index in hex)",
                ),
                (
                    "resolution",
                    "Number: below zoom 13, the hexagon's H3 resolution",
                ),
                ("count", "Number: below zoom 13, cases in the hexagon"),
                (
                    "open_count",
                    "Number: below zoom 13, open cases in the hexagon",
                ),
                ("category", "String: the category code"),
                ("severity", "String: minor, moderate, major or critical"),
                ("status", "String: the lifecycle status"),
                ("tier", "String: village, township, county or city"),
                (
                    "open",
                    "Boolean: not yet resolved, closed, rejected or a duplicate",
                ),
                ("overdue", "Boolean: open past its tier's deadline"),
                ("reported_at", "Number: Unix seconds"),
            ],
            TileLayer::Hexagons => &[
                ("h3", "String: the H3 cell index in hex"),
                (
                    "resolution",
                    "Number: the H3 resolution (finer as the zoom grows)",
                ),
                ("count", "Number: cases in the hexagon passing the filters"),
                ("open_count", "Number: of those, the open ones"),
            ],
            TileLayer::Workers => &[
                ("id", "Number"),
                ("status", "String: available, busy or off_duty"),
                ("stale", "Boolean: last position older than the stale age"),
                ("last_seen", "Number: Unix seconds"),
                ("cell_code", "String: the worker's grid cell"),
            ],
        }
    }

    /// The query reading one tile. Its parameters: `$1..$3` z, x, y; `$4` the caller's area
    /// code prefix; `$5` the caller's grid cell (or NULL); `$6` the simplification tolerance in
    /// metres; `$7` the feature cap; then the layer's own (see [`TileFilters`]). It answers
    /// rows of (id, tile-space WKB, properties as JSON text), most important first; the
    /// households' and the incidents' answer points instead ([`TileLayer::read_households`],
    /// [`TileLayer::read_incidents`]).
    pub fn sql(self) -> &'static str {
        match self {
            TileLayer::Counties | TileLayer::Townships | TileLayer::Villages => concat!(
                tile_envelope!(),
                "SELECT u.id,
                        ST_AsBinary(ST_AsMVTGeom(ST_Simplify(ST_Transform(u.geom, 3857), $6, true),
                                                 t.env, 4096, 64, true)),
                        json_build_object('code', u.code, 'name', u.name, 'level', u.level,
                                          'parent_code', p.code)::text
                 FROM t, admin_unit u
                 LEFT JOIN admin_unit p ON p.id = u.parent_id
                 WHERE u.level = $8::admin_level
                   AND u.geom && t.env4326
                   AND u.code LIKE $4 || '%'
                   AND $5::int8 IS NOT DISTINCT FROM $5
                 ORDER BY u.code
                 LIMIT $7"
            ),
            TileLayer::GridCells => concat!(
                tile_envelope!(),
                "SELECT g.id,
                        ST_AsBinary(ST_AsMVTGeom(ST_Simplify(ST_Transform(g.geom, 3857), $6, true),
                                                 t.env, 4096, 64, true)),
                        json_build_object(
                            'code', g.code, 'name', g.name, 'village_code', v.code,
                            'plan_version', p.version,
                            'open_incidents', (SELECT count(*) FROM incident i
                                               WHERE i.grid_cell_id = g.id
                                                 AND i.status IN ",
                open_statuses!(),
                "),
                            'workers', (SELECT count(*) FROM grid_worker_cell wc
                                        WHERE wc.grid_cell_id = g.id))::text
                 FROM t, grid_cell g
                 JOIN grid_plan p ON p.id = g.plan_id
                 JOIN admin_unit v ON v.id = g.village_id
                 WHERE CASE WHEN $8::int4 IS NULL THEN p.status = 'published'
                            ELSE p.version = $8 END
                   AND g.geom && t.env4326
                   AND v.code LIKE $4 || '%'
                   AND ($5::int8 IS NULL OR g.id = $5)
                   AND $6::float8 IS NOT NULL
                 ORDER BY g.code
                 LIMIT $7"
            ),
            // Rows of (id, lon, lat, grid cell code): placed in the tile in Rust
            // ([`TileLayer::read_households`]), since projecting a point costs less there
            // than building its WKB and properties in SQL and reading them back.
            TileLayer::Households => concat!(
                tile_envelope!(),
                "SELECT h.id, ST_X(h.geom), ST_Y(h.geom), h.grid_cell_code
                 FROM t, household h
                 JOIN admin_unit v ON v.id = h.village_id
                 WHERE h.geom && t.env4326
                   AND v.code LIKE $4 || '%'
                   AND ($5::int8 IS NULL
                        OR h.grid_cell_code = (SELECT code FROM grid_cell WHERE id = $5))
                   AND $6::float8 IS NOT NULL
                 ORDER BY h.id
                 LIMIT $7"
            ),
            TileLayer::Facilities => concat!(
                tile_envelope!(),
                "SELECT f.id,
                        ST_AsBinary(ST_AsMVTGeom(ST_Transform(f.geom, 3857), t.env, 4096, 64, true)),
                        json_build_object('id', f.id, 'kind', f.kind, 'name', f.name)::text
                 FROM t, facility f
                 JOIN admin_unit a ON a.id = f.admin_unit_id
                 WHERE f.geom && t.env4326
                   AND a.code LIKE $4 || '%'
                   AND $5::int8 IS NOT DISTINCT FROM $5
                   AND $6::float8 IS NOT NULL
                 ORDER BY f.id
                 LIMIT $7"
            ),
            // Rows of [`IncidentRow`], placed in the tile in Rust
            // ([`TileLayer::read_incidents`]), as the households are.
            TileLayer::Incidents => concat!(
                tile_envelope!(),
                "SELECT i.id, ST_X(i.geom), ST_Y(i.geom), i.category, i.severity::text,
                        i.status::text, i.tier::text,
                        i.status IN ",
                open_statuses!(),
                ",
                        i.status IN ",
                open_statuses!(),
                " AND i.due_at < now(),
                        extract(epoch FROM i.reported_at)::int8
                 FROM t, incident i
                 WHERE i.geom && t.env4326
                   AND i.area_code LIKE $4 || '%'
                   AND ($5::int8 IS NULL OR i.grid_cell_id = $5)
                   AND $6::float8 IS NOT NULL ",
                incident_filters!(),
                "
                 ORDER BY i.status IN ",
                open_statuses!(),
                " DESC, i.severity DESC, i.reported_at DESC, i.id
                 LIMIT $7"
            ),
            // The cases a counting tile reads: those in the tile and its buffer, widened so
            // that every hexagon drawn in the tile is counted whole: here `$6` is that margin
            // as a fraction of the tile's width (`ST_TileEnvelope`'s `margin`) and `$7` is
            // unused (counts are never cut). Rows: lon, lat, open.
            TileLayer::Hexagons => concat!(
                "WITH t AS (
                     SELECT ST_Transform(ST_Intersection(ST_TileEnvelope($1, $2, $3, margin => $6),
                                                         ST_TileEnvelope(0, 0, 0)), 4326) AS env4326
                 )
                 SELECT ST_X(i.geom), ST_Y(i.geom), i.status IN ",
                open_statuses!(),
                "
                 FROM t, incident i
                 WHERE i.geom && t.env4326
                   AND i.area_code LIKE $4 || '%'
                   AND ($5::int8 IS NULL OR i.grid_cell_id = $5)
                   AND $7::int8 IS NOT NULL ",
                incident_filters!()
            ),
            TileLayer::Workers => concat!(
                tile_envelope!(),
                "SELECT w.id,
                        ST_AsBinary(ST_AsMVTGeom(ST_Transform(w.last_position, 3857),
                                                 t.env, 4096, 64, true)),
                        json_build_object(
                            'id', w.id, 'status', w.status,
                            'stale', w.last_seen_at < now() - make_interval(secs => $8),
                            'last_seen', extract(epoch FROM w.last_seen_at)::int8,
                            'cell_code', c.code)::text
                 FROM t, grid_worker w
                 LEFT JOIN LATERAL (
                     SELECT g.code FROM grid_worker_cell wc JOIN grid_cell g ON g.id = wc.grid_cell_id
                     WHERE wc.worker_id = w.id ORDER BY g.code LIMIT 1) c ON true
                 WHERE w.last_position && t.env4326
                   AND $6::float8 IS NOT NULL
                   AND EXISTS (
                     SELECT 1 FROM grid_worker_cell wc
                     JOIN grid_cell g ON g.id = wc.grid_cell_id
                     JOIN admin_unit v ON v.id = g.village_id
                     WHERE wc.worker_id = w.id
                       AND v.code LIKE $4 || '%'
                       AND ($5::int8 IS NULL OR g.id = $5))
                 ORDER BY w.id
                 LIMIT $7"
            ),
        }
    }
}

/// The tile envelope in Web Mercator (for clipping) and, with the buffer, in lon/lat (for the
/// GiST index on the 4326 columns). The buffered envelope is cut to the world first: past
/// ±180° PostGIS wraps it round, and a tile at the edge would then look nowhere.
macro_rules! tile_envelope {
    () => {
        "WITH t AS (
             SELECT ST_TileEnvelope($1, $2, $3) AS env,
                    ST_Transform(ST_Intersection(ST_TileEnvelope($1, $2, $3, margin => 0.015625),
                                                 ST_TileEnvelope(0, 0, 0)), 4326) AS env4326
         ) "
    };
}
use tile_envelope;

/// The incident filters, `$8..$14`: statuses, open only, categories, tiers, since, until,
/// severities, bound in that order by [`TileLayer::bind_incident_filters`].
macro_rules! incident_filters {
    () => {
        concat!(
            "AND ($8::text[] IS NULL OR i.status::text = ANY ($8))
             AND (NOT $9::bool OR i.status IN ",
            open_statuses!(),
            ")
             AND ($10::text[] IS NULL OR i.category = ANY ($10))
             AND ($11::text[] IS NULL OR i.tier::text = ANY ($11))
             AND ($12::timestamptz IS NULL OR i.reported_at >= $12)
             AND ($13::timestamptz IS NULL OR i.reported_at < $13)
             AND ($14::text[] IS NULL OR i.severity::text = ANY ($14))"
        )
    };
}
pub(crate) use incident_filters;

/// What a tile request filters by beyond its area; each layer reads only its own (the
/// incidents' filters, the grid cells' plan). Canonical (filters sorted, times to the
/// minute), so equal requests key the tile cache alike.
#[derive(Debug, Default, Clone, PartialEq, Eq, Hash)]
pub struct TileFilters {
    pub incidents: IncidentFilters,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// A grid plan version (a draft); the published plan when absent.
    pub plan: Option<i32>,
}

/// One feature as a layer's query answers it: id, tile-space WKB, properties as JSON text.
pub type TileRow = (i64, Option<Vec<u8>>, String);

/// One household as its tile's query answers it: id, longitude, latitude, grid cell code.
pub type HouseholdRow = (i64, f64, f64, Option<String>);

/// One case as its tile's query answers it: id, longitude, latitude, category, severity,
/// status, tier, open, overdue (unknown without a deadline), reported at (Unix seconds).
pub type IncidentRow = (
    i64,
    f64,
    f64,
    String,
    String,
    String,
    Option<String>,
    bool,
    Option<bool>,
    i64,
);

impl TileLayer {
    /// Reads one tile of this layer inside `area`, most important features first: binds the
    /// parameters every layer's [`sql`](Self::sql) takes, then this layer's own, in the order
    /// its SQL numbers them. Not for the point layers, whose rows differ:
    /// [`read_households`](Self::read_households), [`read_incidents`](Self::read_incidents).
    pub async fn read(
        self,
        pool: &PgPool,
        coord: TileCoord,
        area: &Area,
        tolerance_m: f64,
        filters: &TileFilters,
        worker_stale_after: Duration,
    ) -> Result<Vec<TileRow>, sqlx::Error> {
        let query = self.query::<TileRow>(coord, area, tolerance_m);
        let query = match self {
            // `$8`: the administrative level.
            TileLayer::Counties => query.bind("county"),
            TileLayer::Townships => query.bind("township"),
            TileLayer::Villages => query.bind("village"),
            // `$8`: the plan.
            TileLayer::GridCells => query.bind(filters.plan),
            // `$8`: seconds after which a position is stale.
            TileLayer::Workers => query.bind(worker_stale_after.as_secs_f64()),
            TileLayer::Incidents | TileLayer::Hexagons => {
                Self::bind_incident_filters(query, filters)
            }
            TileLayer::Households | TileLayer::Facilities => query,
        };
        query.fetch_all(pool).await
    }

    /// Reads one household tile inside `area`: (id, lon, lat, grid cell code), by id.
    pub async fn read_households(
        pool: &PgPool,
        coord: TileCoord,
        area: &Area,
    ) -> Result<Vec<HouseholdRow>, sqlx::Error> {
        TileLayer::Households
            .query(coord, area, 0.0)
            .fetch_all(pool)
            .await
    }

    /// Reads one incident tile (points, from [`POINTS_FROM_ZOOM`]) inside `area` and the
    /// filters, the open and most severe first.
    pub async fn read_incidents(
        pool: &PgPool,
        coord: TileCoord,
        area: &Area,
        filters: &TileFilters,
    ) -> Result<Vec<IncidentRow>, sqlx::Error> {
        Self::bind_incident_filters(TileLayer::Incidents.query(coord, area, 0.0), filters)
            .fetch_all(pool)
            .await
    }

    /// This layer's [`sql`](Self::sql) with the parameters every layer takes bound
    /// (`$1..$7`): the tile, the area, the simplification tolerance and the feature cap.
    pub(crate) fn query<'q, O>(
        self,
        coord: TileCoord,
        area: &'q Area,
        tolerance_m: f64,
    ) -> QueryAs<'q, sqlx::Postgres, O, PgArguments>
    where
        O: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
    {
        sqlx::query_as(sqlx::AssertSqlSafe(self.sql()))
            .bind(i32::from(coord.z()))
            .bind(coord.x() as i32)
            .bind(coord.y() as i32)
            .bind(&area.prefix)
            .bind(area.grid_cell_id)
            .bind(tolerance_m)
            .bind(self.feature_cap())
    }

    /// Binds `$8..$14`, the incident filters ([`incident_filters!`]).
    pub fn bind_incident_filters<'q, O>(
        query: QueryAs<'q, sqlx::Postgres, O, PgArguments>,
        filters: &TileFilters,
    ) -> QueryAs<'q, sqlx::Postgres, O, PgArguments> {
        query
            .bind(filters.incidents.statuses.clone())
            .bind(filters.incidents.open_only)
            .bind(filters.incidents.categories.clone())
            .bind(filters.incidents.tiers.clone())
            .bind(filters.since)
            .bind(filters.until)
            .bind(filters.incidents.severities.clone())
    }
}

/// From this zoom up the incidents layer sends each case as a point; below it, one point per
/// hexagon with the count of cases in it.
pub const POINTS_FROM_ZOOM: u8 = 13;

/// The H3 resolution whose hexagons are drawn at zoom `z`: an average edge of roughly 8 to
/// 25 pixels of a 512-pixel tile at Yuxi's latitude (about 24° N).
pub fn resolution_at(z: u8) -> Resolution {
    const BY_ZOOM: [Resolution; 23] = [
        Resolution::Zero,   // z0: 1,108 km edges
        Resolution::One,    // z1
        Resolution::One,    // z2
        Resolution::Two,    // z3
        Resolution::Three,  // z4: 60 km, 13 px
        Resolution::Three,  // z5
        Resolution::Four,   // z6: 23 km, 20 px
        Resolution::Five,   // z7: 8.5 km, 15 px
        Resolution::Six,    // z8: 3.2 km, 12 px
        Resolution::Six,    // z9: 23 px
        Resolution::Seven,  // z10: 1.2 km, 17 px
        Resolution::Eight,  // z11: 461 m, 13 px
        Resolution::Eight,  // z12: 26 px
        Resolution::Nine,   // z13: 174 m, 20 px
        Resolution::Ten,    // z14: 66 m, 15 px
        Resolution::Ten,    // z15
        Resolution::Eleven, // z16: 25 m, 23 px
        Resolution::Eleven, // z17
        Resolution::Twelve, // z18
        Resolution::Twelve, // z19
        Resolution::Thirteen,
        Resolution::Thirteen,
        Resolution::Fourteen,
    ];
    BY_ZOOM[usize::from(z.min(22))]
}

impl TileLayer {
    /// Whether this layer's tiles at zoom `z` hold counts per hexagon rather than features
    /// read one by one.
    pub fn counts_hexagons_at(self, z: u8) -> bool {
        match self {
            TileLayer::Hexagons => true,
            TileLayer::Incidents => z < POINTS_FROM_ZOOM,
            _ => false,
        }
    }

    /// The lon/lat box whose tiles at zoom `z` a change inside `bbox` makes stale. A case
    /// counted in a hexagon changes every tile that hexagon reaches, so for counting layers
    /// it is the box of the hexagons holding `bbox`'s corners; for the others, `bbox`.
    pub fn stale_box(self, bbox: [f64; 4], z: u8) -> [f64; 4] {
        if !self.counts_hexagons_at(z) {
            return bbox;
        }
        let resolution = resolution_at(z);
        let mut out = bbox;
        for (lon, lat) in [
            (bbox[0], bbox[1]),
            (bbox[0], bbox[3]),
            (bbox[2], bbox[1]),
            (bbox[2], bbox[3]),
        ] {
            let Ok(at) = LonLat::new(lon, lat) else {
                // The whole-layer box ±180/±90 reaches every tile already.
                return bbox;
            };
            let b = hexbin::cell_bounds(hexbin::cell_of(at, resolution));
            out = [
                out[0].min(b[0]),
                out[1].min(b[1]),
                out[2].max(b[2]),
                out[3].max(b[3]),
            ];
        }
        out
    }
}

impl fmt::Display for TileLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown tile layer `{0}`; the layers are counties, townships, villages, grid-cells, households, facilities, incidents, hexagons and workers"
)]
pub struct UnknownLayer(String);

impl FromStr for TileLayer {
    type Err = UnknownLayer;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TileLayer::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| UnknownLayer(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_layers_are_refused() {
        for layer in TileLayer::ALL {
            assert_eq!(layer.name().parse::<TileLayer>().unwrap(), layer);
        }
        assert!("roads".parse::<TileLayer>().is_err());
    }
}
