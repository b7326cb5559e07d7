//! The live map on a real PostGIS: vector tiles read back by an independent decoder
//! (`mvt-reader`), their scoping, a cache that a committed change empties at every zoom, the
//! live WebSocket feed with resumption, and the demo simulator.

use crate::common;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures_util::{SinkExt, StreamExt};
use geo_types::Geometry;
use mvt_reader::Reader;
use mvt_reader::feature::Value as Decoded;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use wangge::AppState;
use wangge::auth::Role;
use wangge::auth::users::AreaCode;
use wangge::config::{Config, DatabaseConfig};
use wangge::tile_layers::{POINTS_FROM_ZOOM, resolution_at};
use wangge_tiles::TileCoord;

use common::{Reply, TestDb, send};

/// One decoded feature: id, properties, and its geometry's tile coordinates.
#[derive(Debug, Clone)]
struct Feature {
    id: Option<u64>,
    properties: BTreeMap<String, Decoded>,
    points: Vec<[i32; 2]>,
}

fn decode(bytes: &[u8]) -> Vec<Feature> {
    if bytes.is_empty() {
        return Vec::new();
    }
    let reader = Reader::new(bytes.to_vec()).expect("mvt-reader decodes the tile");
    let names = reader.get_layer_names().unwrap();
    assert_eq!(names.len(), 1, "one layer per tile: {names:?}");
    let meta = reader.get_layer_metadata().unwrap();
    assert_eq!(meta[0].extent, 4096);
    assert_eq!(meta[0].version, 2);
    reader
        .get_features_as::<i32>(0)
        .unwrap()
        .into_iter()
        .map(|f| {
            let points = match &f.geometry {
                Geometry::MultiPoint(mp) => mp.0.iter().map(|p| [p.x(), p.y()]).collect(),
                Geometry::Point(p) => vec![[p.x(), p.y()]],
                Geometry::MultiPolygon(mp) => {
                    mp.0.iter()
                        .flat_map(|p| p.exterior().0.iter().map(|c| [c.x, c.y]))
                        .collect()
                }
                other => panic!("unexpected geometry {other:?}"),
            };
            Feature {
                id: f.id,
                properties: f.properties.unwrap_or_default().into_iter().collect(),
                points,
            }
        })
        .collect()
}

async fn get(state: &AppState, token: &str, uri: &str) -> Reply {
    send(
        state,
        Request::get(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

async fn tile(
    state: &AppState,
    token: &str,
    layer: &str,
    t: TileCoord,
    query: &str,
) -> Vec<Feature> {
    let reply = get(
        state,
        token,
        &format!("/tiles/{layer}/{}/{}/{}{query}", t.z(), t.x(), t.y()),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.content_type(), "application/vnd.mapbox-vector-tile");
    decode(&reply.body)
}

/// Below [`POINTS_FROM_ZOOM`] an incidents tile counts cases per hexagon: the count of the
/// hexagon holding (lon, lat), 0 when the tile has none there.
fn hexagon_count(features: &[Feature], t: TileCoord, lon: f64, lat: f64) -> i64 {
    let cell = h3o::LatLng::new(lat, lon)
        .unwrap()
        .to_cell(resolution_at(t.z()));
    features
        .iter()
        .find(|f| f.id == Some(u64::from(cell)))
        .map_or(0, |f| {
            assert_eq!(text(f, "h3"), cell.to_string());
            number(f, "count")
        })
}

fn ids(features: &[Feature]) -> HashSet<u64> {
    features.iter().filter_map(|f| f.id).collect()
}

fn text(f: &Feature, key: &str) -> String {
    match f.properties.get(key) {
        Some(Decoded::String(s)) => s.clone(),
        other => panic!("{key} is {other:?}"),
    }
}

fn number(f: &Feature, key: &str) -> i64 {
    match f.properties.get(key) {
        Some(Decoded::UInt(n)) => *n as i64,
        Some(Decoded::SInt(n)) => *n,
        Some(Decoded::Int(n)) => *n,
        other => panic!("{key} is {other:?}"),
    }
}

async fn state(db: &TestDb) -> AppState {
    db.state(Config::for_database(DatabaseConfig::External {
        url: db.url(),
    }))
    .await
}

/// The rows of `table` (as `r`) in tile `t`, each as `columns` followed by the point's tile
/// coordinates where `ST_AsMVTGeom` puts it (buffer 64 of 4,096): what a point layer's tile
/// must hold.
async fn placed_by_postgis<T>(db: &TestDb, t: TileCoord, table: &str, columns: &str) -> Vec<T>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {columns}, ST_X(m)::int4, ST_Y(m)::int4
         FROM {table} r,
              ST_AsMVTGeom(ST_Transform(r.geom, 3857), ST_TileEnvelope($1, $2, $3), 4096, 64, true) m
         WHERE r.geom && ST_Transform(ST_TileEnvelope($1, $2, $3, margin => 0.015625), 4326)
           AND m IS NOT NULL"
    )))
    .bind(i32::from(t.z()))
    .bind(t.x() as i32)
    .bind(t.y() as i32)
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

/// A point well inside a grid cell of the published plan, with the cell's ids, and the
/// township it lies in.
async fn cell_point(db: &TestDb, nth: i64) -> (f64, f64, i64, i64, i64, i64, String) {
    sqlx::query_as(
        "SELECT ST_X(p), ST_Y(p), g.id, v.id, t.id, t.parent_id, t.code
         FROM (SELECT g.*, ST_PointOnSurface(g.geom) AS p FROM grid_cell g ORDER BY g.code
               OFFSET $1 LIMIT 1) g
         JOIN admin_unit v ON v.id = g.village_id
         JOIN admin_unit t ON t.id = v.parent_id",
    )
    .bind(nth)
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

/// The code of a township with grid cells, other than the given one.
async fn another_township(db: &TestDb, township: &str) -> String {
    sqlx::query_scalar(
        "SELECT t.code FROM grid_cell g
         JOIN admin_unit v ON v.id = g.village_id
         JOIN admin_unit t ON t.id = v.parent_id
         WHERE t.code <> $1 ORDER BY g.code LIMIT 1",
    )
    .bind(township)
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

/// Reports an incident straight into the database, as any writer might.
async fn insert_incident(db: &TestDb, nth_cell: i64) -> (i64, f64, f64) {
    let (lon, lat, cell, village, township, county, _) = cell_point(db, nth_cell).await;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO incident (category, severity, title, geom, grid_cell_id, village_id,
                               township_id, county_id, due_at)
         VALUES ('neighbour', 'major', '测试事件', ST_SetSRID(ST_MakePoint($1, $2), 4326),
                 $3, $4, $5, $6, now() + interval '1 day')
         RETURNING id",
    )
    .bind(lon)
    .bind(lat)
    .bind(cell)
    .bind(village)
    .bind(township)
    .bind(county)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    (id, lon, lat)
}

#[tokio::test]
async fn every_layer_decodes_with_only_map_fields_inside_the_callers_area() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = db.city_operator().await;
    let (lon, lat, ..) = cell_point(&db, 0).await;
    let counts = ["h3", "resolution", "count", "open_count"];
    let allowed: BTreeMap<&str, &[&str]> = BTreeMap::from([
        ("counties", &["code", "name", "level", "parent_code"][..]),
        ("townships", &["code", "name", "level", "parent_code"][..]),
        ("villages", &["code", "name", "level", "parent_code"][..]),
        (
            "grid-cells",
            &[
                "code",
                "name",
                "village_code",
                "plan_version",
                "open_incidents",
                "workers",
            ][..],
        ),
        ("households", &["id", "grid_cell_code"][..]),
        ("facilities", &["id", "kind", "name"][..]),
        (
            "incidents",
            &[
                "id",
                "category",
                "severity",
                "status",
                "tier",
                "open",
                "overdue",
                "reported_at",
            ][..],
        ),
        (
            "workers",
            &["id", "status", "stale", "last_seen", "cell_code"][..],
        ),
        ("hexagons", &counts[..]),
    ]);
    for (layer, fields) in &allowed {
        // Households show from zoom 14; the others at 10 and 14.
        for z in [10, 14] {
            let t = TileCoord::containing(lon, lat, z).unwrap();
            let features = tile(&state, &token, layer, t, "").await;
            if *layer == "households" && z < 14 {
                assert!(features.is_empty(), "households below zoom 14");
                continue;
            }
            assert!(!features.is_empty(), "{layer} at {t}");
            // Below zoom 13 the incidents are counted per hexagon.
            let fields = if *layer == "incidents" && z < POINTS_FROM_ZOOM {
                &counts[..]
            } else {
                fields
            };
            for f in &features {
                for key in f.properties.keys() {
                    assert!(fields.contains(&key.as_str()), "{layer} carries `{key}`");
                }
                if *layer == "hexagons" {
                    // A hexagon is drawn whole wherever it reaches the tile and its buffer.
                    let (min, max) =
                        f.points
                            .iter()
                            .fold(([i32::MAX; 2], [i32::MIN; 2]), |(lo, hi), p| {
                                (
                                    [lo[0].min(p[0]), lo[1].min(p[1])],
                                    [hi[0].max(p[0]), hi[1].max(p[1])],
                                )
                            });
                    assert!(
                        min[0] <= 4096 + 64
                            && max[0] >= -64
                            && min[1] <= 4096 + 64
                            && max[1] >= -64,
                        "hexagon {min:?}..{max:?} does not reach the tile"
                    );
                    continue;
                }
                for p in &f.points {
                    assert!(
                        (-64..=4096 + 64).contains(&p[0]) && (-64..=4096 + 64).contains(&p[1]),
                        "{layer} point {p:?} outside the tile and its buffer"
                    );
                }
            }
        }
    }
    // The cell tile's features are the cells PostGIS finds in that tile, with their codes.
    let t = TileCoord::containing(lon, lat, 12).unwrap();
    let cells = tile(&state, &token, "grid-cells", t, "").await;
    let expected: Vec<String> = sqlx::query_scalar(
        "SELECT g.code FROM grid_cell g
         WHERE g.geom && ST_Transform(ST_TileEnvelope($1, $2, $3), 4326)
           AND ST_Intersects(ST_Transform(g.geom, 3857), ST_TileEnvelope($1, $2, $3))
         ORDER BY g.code",
    )
    .bind(i32::from(t.z()))
    .bind(t.x() as i32)
    .bind(t.y() as i32)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let mut got: Vec<String> = cells.iter().map(|f| text(f, "code")).collect();
    got.sort();
    // Cells only in the buffer also come along; every cell in the tile proper must.
    for code in &expected {
        assert!(got.contains(code), "cell {code} missing from {t}");
    }
    // The load is the count of the cell's open incidents.
    for f in &cells {
        let open: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM incident i JOIN grid_cell g ON g.id = i.grid_cell_id
             WHERE g.code = $1 AND i.status IN ('reported', 'assigned', 'accepted', 'in_progress')",
        )
        .bind(text(f, "code"))
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(number(f, "open_incidents"), open);
    }
    // The household tile: every household in the tile and its buffer, each with its cell,
    // placed where ST_AsMVTGeom would put it.
    let t = TileCoord::containing(lon, lat, 15).unwrap();
    let homes = tile(&state, &token, "households", t, "").await;
    let mut expected: Vec<(i64, Option<String>, i32, i32)> =
        placed_by_postgis(&db, t, "household", "r.id, r.grid_cell_code").await;
    expected.sort();
    assert!(!expected.is_empty(), "households at {t}");
    let mut got: Vec<(i64, Option<String>, i32, i32)> = homes
        .iter()
        .map(|f| {
            let code = f
                .properties
                .get("grid_cell_code")
                .map(|_| text(f, "grid_cell_code"));
            (f.id.unwrap() as i64, code, f.points[0][0], f.points[0][1])
        })
        .collect();
    got.sort();
    assert_eq!(got, expected);
    // The incident tile likewise: each case where ST_AsMVTGeom puts it, as it stands.
    let t = TileCoord::containing(lon, lat, 13).unwrap();
    let cases = tile(&state, &token, "incidents", t, "").await;
    let mut expected: Vec<(i64, String, String, bool, i32, i32)> = placed_by_postgis(
        &db,
        t,
        "incident",
        "r.id, r.status::text, r.category,
         r.status IN ('reported', 'assigned', 'accepted', 'in_progress')",
    )
    .await;
    assert!(!expected.is_empty(), "cases at {t}");
    let mut got: Vec<(i64, String, String, bool, i32, i32)> = cases
        .iter()
        .map(|f| {
            let open = matches!(f.properties.get("open"), Some(Decoded::Bool(true)));
            (
                f.id.unwrap() as i64,
                text(f, "status"),
                text(f, "category"),
                open,
                f.points[0][0],
                f.points[0][1],
            )
        })
        .collect();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn tiles_hold_only_what_lies_in_the_callers_area() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let (lon, lat, _, _, _, _, township) = cell_point(&db, 0).await;
    let other_township = another_township(&db, &township).await;
    let own = db
        .user_token("own", Role::Operator, AreaCode::Unit(township.clone()))
        .await;
    let other = db
        .user_token("other", Role::Operator, AreaCode::Unit(other_township))
        .await;
    let t = TileCoord::containing(lon, lat, POINTS_FROM_ZOOM).unwrap();
    let mine = tile(&state, &own, "incidents", t, "").await;
    assert!(!mine.is_empty());
    let in_township: HashSet<u64> = sqlx::query_scalar::<_, i64>(
        "SELECT i.id FROM incident i JOIN admin_unit t ON t.id = i.township_id WHERE t.code = $1",
    )
    .bind(&township)
    .fetch_all(&db.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|id| id as u64)
    .collect();
    assert!(ids(&mine).is_subset(&in_township));
    let theirs = tile(&state, &other, "incidents", t, "").await;
    assert!(ids(&theirs).is_disjoint(&in_township));
    // A grid worker sees their own cell's incidents only.
    let cell_code: String = sqlx::query_scalar("SELECT code FROM grid_cell ORDER BY code LIMIT 1")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let worker = db
        .user_token("wk", Role::Worker, AreaCode::GridCell(cell_code.clone()))
        .await;
    let in_cell: HashSet<u64> = sqlx::query_scalar::<_, i64>(
        "SELECT i.id FROM incident i JOIN grid_cell g ON g.id = i.grid_cell_id WHERE g.code = $1",
    )
    .bind(&cell_code)
    .fetch_all(&db.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|id| id as u64)
    .collect();
    let seen = ids(&tile(&state, &worker, "incidents", t, "").await);
    assert_eq!(seen, in_cell.intersection(&ids(&mine)).copied().collect());
}

#[tokio::test]
async fn bad_tile_requests_are_400_problems() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = db.city_operator().await;
    for uri in [
        "/tiles/incidents/23/0/0",
        "/tiles/incidents/3/8/0",
        "/tiles/incidents/3/0/8",
        "/tiles/incidents/a/0/0",
        "/tiles/incidents/-1/0/0",
        "/tiles/roads/3/0/0",
        "/tiles/roads",
        "/tiles/incidents/3/0/0?status=lost",
        "/tiles/incidents/3/0/0?tier=galaxy",
        "/tiles/incidents/3/0/0?since=yesterday",
        "/tiles/incidents/3/0/0?colour=red",
        "/tiles/workers/3/0/0?status=open",
        "/tiles/incidents/3/0/0?plan=2",
    ] {
        let reply = get(&state, &token, uri).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(reply.content_type(), "application/problem+json", "{uri}");
        assert_eq!(reply.json()["type"], "/problems/invalid-parameter", "{uri}");
    }
    // Without credentials: 401, like every data route.
    let reply = send(
        &state,
        Request::get("/tiles/incidents/3/0/0")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tiles_are_gzipped_and_revalidate_by_etag() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = db.city_operator().await;
    let (lon, lat, ..) = cell_point(&db, 0).await;
    let t = TileCoord::containing(lon, lat, 11).unwrap();
    let uri = format!("/tiles/grid-cells/{}/{}/{}", t.z(), t.x(), t.y());
    let plain = get(&state, &token, &uri).await;
    let etag = plain.headers[header::ETAG].to_str().unwrap().to_owned();
    assert!(
        plain.headers[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("no-cache")
    );
    let gzipped = send(
        &state,
        Request::get(&uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::ACCEPT_ENCODING, "gzip")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(gzipped.headers[header::CONTENT_ENCODING], "gzip");
    let mut inflated = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&gzipped.body[..]),
        &mut inflated,
    )
    .unwrap();
    assert_eq!(inflated, plain.body);
    let revalidated = send(
        &state,
        Request::get(&uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::IF_NONE_MATCH, &etag)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
    assert!(revalidated.body.is_empty());
}

#[tokio::test]
async fn a_committed_change_reaches_every_zoom_and_leaves_other_tiles_cached() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = db.city_operator().await;
    let (lon, lat, ..) = cell_point(&db, 3).await;
    let far = cell_point(&db, 200).await;
    // Read (and so cache) the tiles at every zoom, and one far away at high zoom.
    let zooms: Vec<TileCoord> = (0..=22)
        .map(|z| TileCoord::containing(lon, lat, z).unwrap())
        .collect();
    let mut counts_before = Vec::new();
    for &t in &zooms {
        let features = tile(&state, &token, "incidents", t, "?status=open").await;
        counts_before.push(hexagon_count(&features, t, lon, lat));
    }
    let far_tile = TileCoord::containing(far.0, far.1, 16).unwrap();
    assert_ne!(far_tile, zooms[16]);
    let far_before = tile(&state, &token, "incidents", far_tile, "?status=open").await;
    let cells_tile = TileCoord::containing(lon, lat, 13).unwrap();
    let cell_code: String = sqlx::query_scalar("SELECT code FROM grid_cell WHERE id = $1")
        .bind(cell_point(&db, 3).await.2)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let load = |features: &[Feature]| -> i64 {
        let cell = features
            .iter()
            .find(|f| text(f, "code") == cell_code)
            .expect("the cell is in its tile");
        number(cell, "open_incidents")
    };
    let load_before = load(&tile(&state, &token, "grid-cells", cells_tile, "").await);

    let (id, ..) = insert_incident(&db, 3).await;
    state.live.sync(&state.pool).await.unwrap();
    let hits_before = state.tile_cache.stats().hits;
    for (&t, before) in zooms.iter().zip(counts_before) {
        let features = tile(&state, &token, "incidents", t, "?status=open").await;
        if t.z() < POINTS_FROM_ZOOM {
            assert_eq!(
                hexagon_count(&features, t, lon, lat),
                before + 1,
                "new incident not counted in its hexagon at {t}"
            );
        } else {
            assert!(
                ids(&features).contains(&(id as u64)),
                "new incident missing at {t}"
            );
        }
    }
    assert_eq!(
        state.tile_cache.stats().hits,
        hits_before,
        "every tile showing the change was rebuilt, none served from the cache"
    );
    // The far tile was not touched: it comes from the cache, unchanged.
    let far_after = tile(&state, &token, "incidents", far_tile, "?status=open").await;
    assert_eq!(state.tile_cache.stats().hits, hits_before + 1);
    assert_eq!(ids(&far_after), ids(&far_before));
    // The cell's load went up by one.
    let load_after = load(&tile(&state, &token, "grid-cells", cells_tile, "").await);
    assert_eq!(load_after, load_before + 1);

    // Moving it: gone from the old place at high zoom, present at the new one.
    sqlx::query("UPDATE incident SET geom = ST_SetSRID(ST_MakePoint($2, $3), 4326) WHERE id = $1")
        .bind(id)
        .bind(far.0)
        .bind(far.1)
        .execute(&db.pool)
        .await
        .unwrap();
    state.live.sync(&state.pool).await.unwrap();
    assert!(
        !ids(&tile(&state, &token, "incidents", zooms[16], "?status=open").await)
            .contains(&(id as u64))
    );
    assert!(
        ids(&tile(&state, &token, "incidents", far_tile, "?status=open").await)
            .contains(&(id as u64))
    );
}

/// Point features alike: ids, properties and places, in order (the first difference shown).
fn same_points(memory: &[Feature], database: &[Feature], which: &str) {
    // A point within rounding of the buffer's edge may fall either side of it.
    let off_edge = |features: &[Feature]| -> Vec<Feature> {
        features
            .iter()
            .filter(|f| !f.points[0].iter().any(|v| *v == -64 || *v == 4096 + 64))
            .cloned()
            .collect()
    };
    let (memory, database) = (&off_edge(memory)[..], &off_edge(database)[..]);
    let key = |f: &Feature| (f.id, f.properties.clone(), f.points.clone());
    for (m, d) in memory.iter().zip(database) {
        assert_eq!(key(m), key(d), "households at {which}: memory, database");
    }
    assert_eq!(memory.len(), database.len(), "households at {which}");
}

/// The published grid's cells and the households are tiled from memory; those tiles are the
/// database's: the same features in the same order with the same properties, outlines
/// agreeing to within the simplification's tolerance and points exactly, for a city-wide
/// caller and a grid worker's one cell, at every zoom over the demo. A committed change is
/// in the memory's next tile.
#[tokio::test]
async fn layers_tiled_from_memory_are_the_databases_tiles() {
    use wangge::auth::Area;
    use wangge::tile_layers::{TileFilters, TileLayer};

    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let (lon, lat, cell_id, ..) = cell_point(&db, 3).await;
    let city = Area {
        level: "city".into(),
        code: "530400".into(),
        name: "玉溪市".into(),
        prefix: "5304".into(),
        grid_cell_id: None,
    };
    let cell_code: String = sqlx::query_scalar("SELECT code FROM grid_cell WHERE id = $1")
        .bind(cell_id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let one_cell = Area {
        level: "grid_cell".into(),
        code: cell_code,
        name: String::new(),
        prefix: "5304".into(),
        grid_cell_id: Some(cell_id),
    };
    let from_memory_of = async |layer: TileLayer, coord: TileCoord, area: &Area| -> Vec<u8> {
        for _ in 0..200 {
            state.live.tiles_current().await.unwrap();
            if let Some(tile) = state.memory_tiles.render(layer, coord, area) {
                return tile.unwrap().raw.to_vec();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the memory never caught up for {coord}");
    };
    let from_database_of = async |layer: TileLayer, coord: TileCoord, area: &Area| -> Vec<u8> {
        wangge::tile_render::render(
            &state.pool,
            area,
            layer,
            coord,
            &TileFilters::default(),
            Duration::from_secs(600),
        )
        .await
        .unwrap()
        .raw
        .to_vec()
    };
    let from_memory = async |coord, area| from_memory_of(TileLayer::GridCells, coord, area).await;
    let from_database =
        async |coord, area| from_database_of(TileLayer::GridCells, coord, area).await;
    let extent: (f64, f64, f64, f64) = sqlx::query_as(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
         FROM (SELECT ST_Extent(geom) AS e FROM grid_cell) x",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let mut tiles = Vec::new();
    for z in 8..=12 {
        let nw = TileCoord::containing(extent.0, extent.3, z).unwrap();
        let se = TileCoord::containing(extent.2, extent.1, z).unwrap();
        for x in nw.x()..=se.x() {
            for y in nw.y()..=se.y() {
                tiles.push((TileCoord::new(z, x, y).unwrap(), &city));
            }
        }
    }
    for z in 13..=18 {
        tiles.push((TileCoord::containing(lon, lat, z).unwrap(), &city));
        tiles.push((TileCoord::containing(lon, lat, z).unwrap(), &one_cell));
    }
    let bbox = |f: &Feature| {
        let xs = f.points.iter().map(|p| p[0]);
        let ys = f.points.iter().map(|p| p[1]);
        [
            xs.clone().min().unwrap(),
            ys.clone().min().unwrap(),
            xs.max().unwrap(),
            ys.max().unwrap(),
        ]
    };
    // One pixel of a 512-pixel tile is 8 units: what simplifying may move an outline. A cell
    // reaching no further than that into the tile may be drawn by one and not the other.
    let tolerance = 8 + 2;
    let clearly_in_tile = |b: [i32; 4]| {
        b[2] > tolerance && b[0] < 4096 - tolerance && b[3] > tolerance && b[1] < 4096 - tolerance
    };
    let mut features_seen = 0;
    for (coord, area) in tiles {
        let memory = decode(&from_memory(coord, area).await);
        let database = decode(&from_database(coord, area).await);
        let by_id = |features: &[Feature]| -> BTreeMap<u64, Feature> {
            features
                .iter()
                .map(|f| (f.id.unwrap(), f.clone()))
                .collect()
        };
        let (m, d) = (by_id(&memory), by_id(&database));
        for (one, other, which) in [(&m, &d, "memory"), (&d, &m, "database")] {
            for (id, f) in one {
                assert!(
                    other.contains_key(id) || !clearly_in_tile(bbox(f)),
                    "cell {id} at {coord} ({}) only from the {which}: {:?}",
                    area.level,
                    bbox(f)
                );
            }
        }
        let order = |features: &[Feature], other: &BTreeMap<u64, Feature>| -> Vec<u64> {
            features
                .iter()
                .filter_map(|f| f.id)
                .filter(|id| other.contains_key(id))
                .collect()
        };
        assert_eq!(
            order(&memory, &d),
            order(&database, &m),
            "the order at {coord}"
        );
        for (id, fm) in &m {
            let Some(fd) = d.get(id) else { continue };
            assert_eq!(fm.properties, fd.properties, "cell {id} at {coord}");
            // Compared where they are drawn: the buffer only continues outlines past the edge.
            let drawn = |b: [i32; 4]| b.map(|v| v.clamp(0, 4096));
            let (bm, bd) = (drawn(bbox(fm)), drawn(bbox(fd)));
            assert!(
                bm.iter().zip(&bd).all(|(a, b)| (a - b).abs() <= tolerance),
                "cell {id} at {coord}: {bm:?} from memory, {bd:?} from the database"
            );
            features_seen += 1;
        }
    }
    assert!(features_seen > 100, "{features_seen} features compared");

    // Households: the very same tiles, point for point.
    let mut households_seen = 0;
    for z in 14..=18 {
        for area in [&city, &one_cell] {
            let coord = TileCoord::containing(lon, lat, z).unwrap();
            let memory = decode(&from_memory_of(TileLayer::Households, coord, area).await);
            let database = decode(&from_database_of(TileLayer::Households, coord, area).await);
            same_points(&memory, &database, &format!("{coord} ({})", area.level));
            households_seen += memory.len();
        }
    }
    assert!(
        households_seen > 20,
        "{households_seen} households compared"
    );
    // One moved by hand is in the memory's next tile where it now stands.
    let coord = TileCoord::containing(lon, lat, 15).unwrap();
    let moved: i64 = sqlx::query_scalar(
        "UPDATE household SET geom = ST_SetSRID(ST_MakePoint($1, $2), 4326)
         WHERE id = (SELECT min(id) FROM household WHERE grid_cell_code IS DISTINCT FROM $3)
         RETURNING id",
    )
    .bind(lon)
    .bind(lat)
    .bind(&one_cell.code)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let memory = decode(&from_memory_of(TileLayer::Households, coord, &one_cell).await);
    assert!(ids(&memory).contains(&(moved as u64)));
    let database = decode(&from_database_of(TileLayer::Households, coord, &one_cell).await);
    same_points(&memory, &database, "after the move");

    // A new case in the cell: the memory's next tile counts it, as the database's does.
    let coord = TileCoord::containing(lon, lat, 14).unwrap();
    let open = |features: &[Feature]| -> i64 {
        let cell = features
            .iter()
            .find(|f| f.id == Some(cell_id as u64))
            .unwrap();
        number(cell, "open_incidents")
    };
    let before = open(&decode(&from_memory(coord, &city).await));
    insert_incident(&db, 3).await;
    let after = open(&decode(&from_memory(coord, &city).await));
    assert_eq!(after, before + 1);
    assert_eq!(open(&decode(&from_database(coord, &city).await)), after);
}

/// Hexagon tiles count cases: a new case changes the count of the hexagon it falls in, in
/// every tile that hexagon reaches, and leaves every other cached tile as it was.
#[tokio::test]
async fn a_new_case_changes_its_hexagons_tiles_and_nothing_else() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = db.city_operator().await;
    let (lon, lat, ..) = cell_point(&db, 3).await;
    let z = 11;
    let here = TileCoord::containing(lon, lat, z).unwrap();
    // Two tiles away: no hexagon of this zoom (about 1 km) reaches from here to there.
    let there = TileCoord::new(z, here.x() + 2, here.y()).unwrap();
    let count_here = |features: &[Feature]| hexagon_count(features, here, lon, lat);
    let before = count_here(&tile(&state, &token, "hexagons", here, "").await);
    let there_before = tile(&state, &token, "hexagons", there, "").await;
    insert_incident(&db, 3).await;
    state.live.sync(&state.pool).await.unwrap();
    let hits = state.tile_cache.stats().hits;
    assert_eq!(
        count_here(&tile(&state, &token, "hexagons", here, "").await),
        before + 1
    );
    assert_eq!(
        state.tile_cache.stats().hits,
        hits,
        "the hexagon's tile was rebuilt"
    );
    let there_after = tile(&state, &token, "hexagons", there, "").await;
    assert_eq!(
        state.tile_cache.stats().hits,
        hits + 1,
        "the far tile came from the cache"
    );
    assert_eq!(ids(&there_after), ids(&there_before));
    // The hexagon's polygon holds the case: H3's own answer for the point.
    let features = tile(&state, &token, "hexagons", here, "").await;
    let cell = h3o::LatLng::new(lat, lon)
        .unwrap()
        .to_cell(resolution_at(z));
    let hexagon = features
        .iter()
        .find(|f| f.id == Some(u64::from(cell)))
        .expect("the case's hexagon is in its tile");
    assert_eq!(
        number(hexagon, "resolution"),
        i64::from(u8::from(resolution_at(z)))
    );
    assert_eq!(hexagon.points.len(), 7, "a closed hexagon ring");
}

/// A client that writes and then reads at once (a script, QGIS, a second tab) finds its
/// write in the tile, whoever made it: through the API, or straight into the database. The
/// tile was read (so cached) just before each write.
#[tokio::test]
async fn a_write_is_in_the_very_next_tile_read() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = db.city_operator().await;
    for round in 0..100 {
        let nth = round % 25;
        let (lon, lat, ..) = cell_point(&db, nth).await;
        let t = TileCoord::containing(lon, lat, 12 + (round % 3) as u8).unwrap();
        let before = hexagon_count(
            &tile(&state, &token, "incidents", t, "?status=open").await,
            t,
            lon,
            lat,
        );
        let id = if round % 2 == 0 {
            let reply = common::call(
                &state,
                &token,
                axum::http::Method::POST,
                "/api/v1/incidents",
                Some(&serde_json::json!({
                    "category": "neighbour", "severity": "minor",
                    "description": format!("写后即读 {round}"),
                    "location": { "lon": lon, "lat": lat },
                })),
            )
            .await;
            assert_eq!(reply.status, StatusCode::CREATED);
            reply.json()["id"].as_i64().unwrap()
        } else {
            insert_incident(&db, nth).await.0
        };
        let features = tile(&state, &token, "incidents", t, "?status=open").await;
        if t.z() < POINTS_FROM_ZOOM {
            assert_eq!(
                hexagon_count(&features, t, lon, lat),
                before + 1,
                "round {round}: case {id} not counted in {t} read right after it was written"
            );
        } else {
            assert!(
                ids(&features).contains(&(id as u64)),
                "round {round}: case {id} missing from {t} read right after it was written"
            );
        }
    }
}

/// A tile request dropped while its barrier is out (a map moving on aborts its tile
/// requests) leaves the next request to get through, not to wait on a round nobody finishes.
#[tokio::test]
async fn a_tile_request_dropped_halfway_does_not_hold_up_the_next() {
    use futures_util::FutureExt;
    let db = TestDb::empty().await;
    let state = state(&db).await;
    state.live.sync(&state.pool).await.unwrap();
    for _ in 0..5 {
        let mut dropped = Box::pin(state.live.tiles_current());
        assert!(
            dropped.as_mut().now_or_never().is_none(),
            "the barrier is out once polled"
        );
        drop(dropped);
        state
            .live
            .tiles_current()
            .await
            .expect("the next request passes its barrier");
    }
}

/// The listener's connection dropping loses the barrier rounds sent on it and any notices
/// on their way: a request waiting at the barrier gets through once the listener is back,
/// and a change committed meanwhile is in the next tile read.
#[tokio::test]
async fn a_lost_listener_loses_no_change_and_holds_up_no_tile() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = db.city_operator().await;
    let (lon, lat, ..) = cell_point(&db, 4).await;
    let t = TileCoord::containing(lon, lat, 14).unwrap();
    for _ in 0..3 {
        // Cached, and the listener has sent a barrier round of its own.
        tile(&state, &token, "incidents", t, "?status=open").await;
        state.live.tiles_current().await.unwrap();
        let killed: i64 = sqlx::query_scalar(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()
               AND query = 'SELECT pg_notify($1, $2)'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(
            killed, 1,
            "the listener's connection, found by its last statement"
        );
        let waiting = tokio::spawn({
            let state = state.clone();
            async move { state.live.tiles_current().await }
        });
        let (id, ..) = insert_incident(&db, 4).await;
        waiting
            .await
            .unwrap()
            .expect("the barrier is passed once the listener is back");
        let features = tile(&state, &token, "incidents", t, "?status=open").await;
        assert!(
            ids(&features).contains(&(id as u64)),
            "case {id}, committed while nobody listened, missing from {t}"
        );
    }
}

/// Time filters that differ by seconds share one tile: counting `since` up second by second
/// cannot make the server render a new tile each time.
#[tokio::test]
async fn time_filters_within_a_minute_share_a_cached_tile() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = db.city_operator().await;
    let (lon, lat, ..) = cell_point(&db, 3).await;
    let t = TileCoord::containing(lon, lat, 13).unwrap();
    let first = tile(
        &state,
        &token,
        "incidents",
        t,
        "?since=2026-01-01T10:00:05Z",
    )
    .await;
    let hits = state.tile_cache.stats().hits;
    let same_minute = tile(
        &state,
        &token,
        "incidents",
        t,
        "?since=2026-01-01T10:00:47Z",
    )
    .await;
    assert_eq!(
        state.tile_cache.stats().hits,
        hits + 1,
        "served from the cache"
    );
    assert_eq!(ids(&first), ids(&same_minute));
    tile(
        &state,
        &token,
        "incidents",
        t,
        "?since=2026-01-01T10:01:00Z",
    )
    .await;
    assert_eq!(
        state.tile_cache.stats().hits,
        hits + 1,
        "the next minute is a tile of its own"
    );
}

#[tokio::test]
async fn tilejson_and_style_describe_every_layer() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = db.city_operator().await;
    let style = get(&state, &token, "/style.json").await.json();
    assert_eq!(style["version"], 8);
    let sources = style["sources"].as_object().unwrap();
    for layer in [
        "counties",
        "townships",
        "villages",
        "grid-cells",
        "households",
        "facilities",
        "incidents",
        "workers",
    ] {
        assert!(sources.contains_key(layer), "{layer}");
        let tilejson = get(&state, &token, &format!("/tiles/{layer}")).await.json();
        assert_eq!(tilejson["tilejson"], "3.0.0");
        assert_eq!(tilejson["vector_layers"][0]["id"], layer);
        assert!(
            tilejson["tiles"][0]
                .as_str()
                .unwrap()
                .ends_with(&format!("/tiles/{layer}/{{z}}/{{x}}/{{y}}"))
        );
    }
    // Filters carry through to the tile URLs.
    let filtered = get(&state, &token, "/tiles/incidents?status=open")
        .await
        .json();
    assert!(
        filtered["tiles"][0]
            .as_str()
            .unwrap()
            .ends_with("?status=open")
    );
    // No glyphs or sprites: the style needs no internet.
    assert!(style.get("glyphs").is_none());
}

/// A real server on a free port, for WebSocket clients.
async fn serve(state: AppState) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            wangge::app(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    address
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(address: SocketAddr, token: &str, query: &str) -> Socket {
    let mut request = format!("ws://{address}/api/v1/live{query}")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket
}

async fn next_json(socket: &mut Socket) -> Option<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return Some(serde_json::from_str(&text).unwrap()),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

/// Waits for a `changes` message naming draft plans; returns it.
async fn plans_changed(socket: &mut Socket) -> Option<Value> {
    for _ in 0..50 {
        let message = next_json(socket).await?;
        if message["type"] == "changes"
            && message["plans"].as_array().is_some_and(|p| !p.is_empty())
        {
            return Some(message);
        }
    }
    None
}

/// Waits for a `changes` message holding the incident; returns it.
async fn changes_with(socket: &mut Socket, id: i64) -> Value {
    for _ in 0..50 {
        let message = next_json(socket).await.expect("a message");
        if message["type"] == "changes"
            && message["incidents"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["id"] == id)
        {
            return message;
        }
    }
    panic!("incident {id} never arrived");
}

#[tokio::test]
async fn the_live_feed_pushes_changes_in_the_area_and_resumes_without_gaps() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let address = serve(state.clone()).await;
    let token = db.city_operator().await;
    let (.., township) = cell_point(&db, 3).await;
    let other_township = another_township(&db, &township).await;
    let outsider = db
        .user_token("outsider", Role::Operator, AreaCode::Unit(other_township))
        .await;

    let mut socket = connect(address, &token, "").await;
    let hello = next_json(&mut socket).await.unwrap();
    assert_eq!(hello["type"], "hello");
    let epoch = hello["epoch"].as_str().unwrap().to_owned();
    let mut outside = connect(address, &outsider, "").await;
    assert_eq!(next_json(&mut outside).await.unwrap()["type"], "hello");

    let (first, lon, lat) = insert_incident(&db, 3).await;
    let message = changes_with(&mut socket, first).await;
    let pushed = message["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == first)
        .unwrap()
        .clone();
    assert_eq!(pushed["status"], "reported");
    assert_eq!(pushed["open"], true);
    assert!((pushed["lon"].as_f64().unwrap() - lon).abs() < 1e-9);
    assert!((pushed["lat"].as_f64().unwrap() - lat).abs() < 1e-9);
    assert!(pushed.get("title").is_none() && pushed.get("reporter").is_none());
    let seen = message["seq"].as_u64().unwrap();
    socket.close(None).await.unwrap();

    // Someone in another township hears nothing of it.
    while let Some(m) = tokio::time::timeout(Duration::from_millis(800), next_json(&mut outside))
        .await
        .ok()
        .flatten()
    {
        if m["type"] == "changes" {
            assert!(
                !m["incidents"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|i| i["id"] == first),
                "an outsider was sent {first}"
            );
        }
    }

    // While disconnected, another change; resuming brings exactly that one.
    let (second, ..) = insert_incident(&db, 3).await;
    state.live.sync(&state.pool).await.unwrap();
    let mut resumed = connect(address, &token, &format!("?epoch={epoch}&after={seen}")).await;
    assert_eq!(next_json(&mut resumed).await.unwrap()["type"], "hello");
    let replay = next_json(&mut resumed).await.unwrap();
    assert_eq!(replay["type"], "changes");
    let replayed: Vec<i64> = replay["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        replayed,
        vec![second],
        "missed exactly the second, not the first again"
    );

    // Another process's numbering (or one too old) means reload.
    let mut stranger = connect(address, &token, "?epoch=someoneelse&after=3").await;
    assert_eq!(next_json(&mut stranger).await.unwrap()["type"], "hello");
    assert_eq!(next_json(&mut stranger).await.unwrap()["type"], "resync");
}

#[tokio::test]
async fn the_simulator_reports_walks_and_progresses_cases_through_ordinary_writes() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let incidents = db.count("incident").await;
    let events = db.count("incident_event").await;
    let audit_rows = db.count("audit_log").await;
    let seen_before: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT max(last_seen_at) FROM grid_worker")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let simulator = wangge::demo::simulator::start(
        state.pool.clone(),
        state.cipher.clone(),
        wangge::demo::simulator::SimulatorConfig {
            reports_per_day: 2_000.0,
            speed: 600.0,
            ..Default::default()
        },
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    simulator.abort();
    let _ = simulator.await;
    let new_incidents = db.count("incident").await - incidents;
    assert!(new_incidents >= 20, "{new_incidents} reports in 4 s");
    // Every new report lies in the grid cell it was routed to, with its deadline.
    let misplaced: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM incident i JOIN grid_cell g ON g.id = i.grid_cell_id
         WHERE i.id > $1 AND (NOT ST_Intersects(g.geom, i.geom) OR i.due_at IS NULL
                              OR i.reporter_name_enc IS NULL)",
    )
    .bind(incidents)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(misplaced, 0);
    assert!(db.count("incident_event").await > events + new_incidents);
    assert!(db.count("audit_log").await > audit_rows);
    let seen_after: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT max(last_seen_at) FROM grid_worker")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(seen_after > seen_before, "workers walked");
    let strayed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM grid_worker w
         WHERE w.last_seen_at > $1 AND NOT EXISTS (
             SELECT 1 FROM grid_worker_cell wc JOIN grid_cell g ON g.id = wc.grid_cell_id
             WHERE wc.worker_id = w.id AND ST_Intersects(g.geom, w.last_position))",
    )
    .bind(seen_before)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(strayed, 0, "walkers stay inside their cells");
    wangge::audit::verify(&db.pool)
        .await
        .expect("the audit chain holds");
}

/// A small demo served with its dispatch index loaded, and a city-wide dispatcher's token (a
/// device gateway).
async fn gateway() -> (TestDb, AppState, SocketAddr, String) {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    state.dispatch.ready().await.unwrap();
    let address = serve(state.clone()).await;
    let token = db
        .user_token("gateway", Role::Dispatcher, AreaCode::Unit("530400".into()))
        .await;
    (db, state, address, token)
}

#[tokio::test]
async fn a_device_sends_its_positions_over_the_live_socket() {
    let (db, _state, address, token) = gateway().await;
    let worker: i64 = sqlx::query_scalar("SELECT min(id) FROM grid_worker")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let mut socket = connect(address, &token, "").await;
    assert_eq!(next_json(&mut socket).await.unwrap()["type"], "hello");
    let now = chrono::Utc::now().to_rfc3339();

    // A bad fix: an error tagged with the message's id, the endpoint's problem, nothing kept.
    let bad = serde_json::json!({"type": "positions", "id": "b1", "positions": [
        {"worker_id": worker, "at": now, "lon": 24.35, "lat": 102.55}]});
    socket.send(Message::text(bad.to_string())).await.unwrap();
    let answer = next_json(&mut socket).await.unwrap();
    assert_eq!(answer["type"], "error");
    assert_eq!(answer["id"], "b1");
    assert_eq!(answer["problem"]["type"], "/problems/invalid-field");
    assert_eq!(answer["problem"]["status"], 422);
    assert_eq!(db.count("worker_position").await, 0);
    socket
        .send(Message::text("{\"type\":\"chat\"}"))
        .await
        .unwrap();
    let answer = next_json(&mut socket).await.unwrap();
    assert_eq!(answer["problem"]["type"], "/problems/malformed-body");

    // A good one: stored, acknowledged, and back on the feed as the worker's new place.
    let good = serde_json::json!({"type": "positions", "id": 7, "positions": [
        {"worker_id": worker, "at": now, "lon": 102.5501, "lat": 24.3502, "accuracy_m": 4}]});
    socket.send(Message::text(good.to_string())).await.unwrap();
    let mut acknowledged = false;
    let mut moved = false;
    for _ in 0..50 {
        let message = next_json(&mut socket).await.expect("a message");
        if message["type"] == "positions_stored" {
            assert_eq!(message["id"], 7);
            assert_eq!(message["stored"], 1);
            assert_eq!(message["latest"], 1);
            acknowledged = true;
        }
        if message["type"] == "changes"
            && message["workers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w["id"] == worker && (w["lon"].as_f64().unwrap() - 102.5501).abs() < 1e-9)
        {
            moved = true;
        }
        if acknowledged && moved {
            break;
        }
    }
    assert!(
        acknowledged && moved,
        "acknowledged {acknowledged}, on the feed {moved}"
    );
    assert_eq!(db.count("worker_position").await, 1);
}

/// The worker states the feed pushes are the database's, field by field: a new position, a
/// position old enough to be stale, a status changed and a cell added behind the server's
/// back (the first cell by code is the one shown).
#[tokio::test]
async fn the_feed_shows_workers_as_the_database_has_them() {
    let (db, state, address, token) = gateway().await;
    let workers: Vec<i64> = sqlx::query_scalar(
        "SELECT w.id FROM grid_worker w WHERE w.status = 'available'
           AND EXISTS (SELECT 1 FROM grid_worker_cell wc WHERE wc.worker_id = w.id)
         ORDER BY w.id DESC LIMIT 3",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(workers.len(), 3);
    let mut socket = connect(address, &token, "").await;
    assert_eq!(next_json(&mut socket).await.unwrap()["type"], "hello");

    let now = chrono::Utc::now();
    let fix = |worker: i64, minutes_ago: i64, lon: f64| {
        serde_json::json!({"worker_id": worker,
            "at": (now - chrono::Duration::minutes(minutes_ago)).to_rfc3339(),
            "lon": lon, "lat": 24.3502, "accuracy_m": 4})
    };
    let positions = serde_json::json!({"type": "positions", "id": 1, "positions": [
        fix(workers[0], 0, 102.5501), fix(workers[1], 1, 102.5502), fix(workers[2], 25, 102.5503)]});
    socket
        .send(Message::text(positions.to_string()))
        .await
        .unwrap();
    sqlx::query("UPDATE grid_worker SET status = 'off_duty' WHERE id = $1")
        .bind(workers[1])
        .execute(&db.pool)
        .await
        .unwrap();
    // A cell whose code sorts before every cell the worker has.
    let added = sqlx::query(
        "INSERT INTO grid_worker_cell (worker_id, grid_cell_id)
         SELECT $1, g.id FROM grid_cell g JOIN grid_plan p ON p.id = g.plan_id
         WHERE p.status = 'published' AND g.code < (
             SELECT min(c.code) FROM grid_worker_cell wc JOIN grid_cell c ON c.id = wc.grid_cell_id
             WHERE wc.worker_id = $1)
         ORDER BY g.code LIMIT 1",
    )
    .bind(workers[0])
    .execute(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        added.rows_affected(),
        1,
        "no cell sorts before the worker's"
    );
    state.live.sync(&state.pool).await.unwrap();

    // The last state pushed of each, once the feed has gone quiet.
    let mut pushed: BTreeMap<i64, Value> = BTreeMap::new();
    while let Ok(Some(message)) =
        tokio::time::timeout(Duration::from_secs(1), next_json(&mut socket)).await
    {
        if message["type"] == "changes" {
            for worker in message["workers"].as_array().unwrap() {
                pushed.insert(worker["id"].as_i64().unwrap(), worker.clone());
            }
        }
    }
    let expected: Vec<Value> = sqlx::query_scalar(
        "SELECT json_build_object(
                    'id', w.id, 'lon', ST_X(w.last_position), 'lat', ST_Y(w.last_position),
                    'status', w.status, 'stale', w.last_seen_at < now() - interval '10 minutes',
                    'last_seen', extract(epoch FROM w.last_seen_at)::int8,
                    'cell_code', (SELECT min(g.code) FROM grid_worker_cell wc
                                  JOIN grid_cell g ON g.id = wc.grid_cell_id
                                  WHERE wc.worker_id = w.id),
                    'caseload', w.caseload, 'capacity', w.capacity)
         FROM grid_worker w WHERE w.id = ANY ($1) ORDER BY array_position($1, w.id)",
    )
    .bind(&workers)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(expected[1]["status"], "off_duty");
    assert!(
        expected[2]["stale"] == true && expected[0]["stale"] == false,
        "one stale, one fresh"
    );
    for want in expected {
        let id = want["id"].as_i64().unwrap();
        let got = pushed
            .get(&id)
            .unwrap_or_else(|| panic!("worker {id} never pushed"));
        assert_eq!(got, &want, "worker {id}");
    }
}

/// Reads until the server closes the socket; the close code (None if it just went away or
/// nothing came within 30 s).
async fn close_code(socket: &mut Socket) -> Option<u16> {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), socket.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

/// Waits for the answer to the positions message `id`, passing over feed messages.
async fn positions_answer(socket: &mut Socket, id: i64) -> Value {
    for _ in 0..100 {
        let message = next_json(socket).await.expect("an answer");
        if message["id"] == id {
            return message;
        }
    }
    panic!("positions {id} never answered");
}

/// One fix of the first worker, now.
async fn one_fix(db: &TestDb, id: i64) -> Message {
    let worker: i64 = sqlx::query_scalar("SELECT min(id) FROM grid_worker")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let at = (chrono::Utc::now() - chrono::Duration::milliseconds(id)).to_rfc3339();
    Message::text(
        serde_json::json!({"type": "positions", "id": id, "positions": [
            {"worker_id": worker, "at": at, "lon": 102.5501, "lat": 24.3502}]})
        .to_string(),
    )
}

/// Signing out ends that session's sockets at once (4401) and nothing sent on them after it
/// is stored; the user's other sessions keep theirs. Revoking a session in the database, and
/// giving a user another role, end theirs too.
#[tokio::test]
async fn a_socket_ends_with_its_session() {
    let (db, state, address, token) = gateway().await;
    let other_token = wangge::auth::session::sign_in(
        &db.pool,
        "gateway",
        common::PASSWORD,
        wangge::auth::session::SessionKind::Bearer,
        "second device",
        &wangge::config::AuthConfig::default(),
        &wangge::audit::RequestMeta::cli(),
    )
    .await
    .unwrap()
    .token;
    let mut signed_out = connect(address, &token, "").await;
    assert_eq!(next_json(&mut signed_out).await.unwrap()["type"], "hello");
    let mut other = connect(address, &other_token, "").await;
    assert_eq!(next_json(&mut other).await.unwrap()["type"], "hello");

    let reply = common::call(
        &state,
        &token,
        axum::http::Method::DELETE,
        "/api/v1/session",
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    // The socket may already be closing: a failed send is fine, a stored fix is not.
    let _ = signed_out.send(one_fix(&db, 1).await).await;
    assert_eq!(close_code(&mut signed_out).await, Some(4401));

    // The same user's other session keeps its socket, and can still send.
    other.send(one_fix(&db, 2).await).await.unwrap();
    assert_eq!(
        positions_answer(&mut other, 2).await["type"],
        "positions_stored"
    );
    assert_eq!(
        db.count("worker_position").await,
        1,
        "only the live session's fix is kept"
    );

    // Revoked behind the server's back (another server, psql): its notice ends the socket.
    sqlx::query("UPDATE auth_session SET revoked_at = now() WHERE label = 'second device'")
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(close_code(&mut other).await, Some(4401));

    // A session that still holds but whose user now has another role.
    let watcher = db
        .user_token("watcher", Role::Dispatcher, AreaCode::Unit("530400".into()))
        .await;
    let mut watching = connect(address, &watcher, "").await;
    assert_eq!(next_json(&mut watching).await.unwrap()["type"], "hello");
    sqlx::query("UPDATE app_user SET role = 'operator' WHERE username = 'watcher'")
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(close_code(&mut watching).await, Some(4401));
}

/// A browser session left idle past its timeout ends its socket too: the socket does not
/// keep it alive, and no notice announces it.
#[tokio::test]
async fn an_idle_sessions_socket_is_closed() {
    let db = TestDb::small_demo().await;
    let mut config = Config::for_database(DatabaseConfig::External { url: db.url() });
    config.auth.idle_timeout = Duration::from_secs(4);
    let state = db.state(config.clone()).await;
    let address = serve(state).await;
    db.user_token("idler", Role::Operator, AreaCode::Unit("530400".into()))
        .await;
    let cookie = wangge::auth::session::sign_in(
        &db.pool,
        "idler",
        common::PASSWORD,
        wangge::auth::session::SessionKind::Cookie,
        "browser",
        &config.auth,
        &wangge::audit::RequestMeta::cli(),
    )
    .await
    .unwrap()
    .token;
    let mut request = format!("ws://{address}/api/v1/live")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        header::COOKIE,
        format!("wangge_session={cookie}").parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(next_json(&mut socket).await.unwrap()["type"], "hello");
    assert_eq!(close_code(&mut socket).await, Some(4401));
}

/// A message over the HTTP body limit (1 MiB) closes the socket with 1009, unread.
#[tokio::test]
async fn a_message_over_the_body_limit_closes_the_socket() {
    let (_db, _state, address, token) = gateway().await;
    let mut socket = connect(address, &token, "").await;
    assert_eq!(next_json(&mut socket).await.unwrap()["type"], "hello");
    let huge = format!(
        "{{\"type\":\"positions\",\"id\":1,\"positions\":[],\"pad\":\"{}\"}}",
        "x".repeat(11 << 20)
    );
    let _ = socket.send(Message::text(huge)).await;
    assert_eq!(close_code(&mut socket).await, Some(1009));
}

#[tokio::test]
async fn a_flood_of_messages_closes_the_socket() {
    let (_db, _state, address, token) = gateway().await;
    let mut socket = connect(address, &token, "").await;
    assert_eq!(next_json(&mut socket).await.unwrap()["type"], "hello");
    // Ten times the burst, faster than any device: sent before the first is answered. (The
    // answers are not read meanwhile.)
    for _ in 0..200 {
        if socket
            .send(Message::text("{\"type\":\"chat\"}"))
            .await
            .is_err()
        {
            break;
        }
    }
    assert_eq!(close_code(&mut socket).await, Some(1008));
}

/// A page of another origin may not open the feed with the user's cookie; the server's own
/// pages and clients that are not browsers (no `Origin`) may.
#[tokio::test]
async fn the_live_socket_refuses_other_origins() {
    let (_db, _state, address, token) = gateway().await;
    let with_origin = |origin: String| {
        let mut request = format!("ws://{address}/api/v1/live")
            .into_client_request()
            .unwrap();
        let headers = request.headers_mut();
        headers.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        headers.insert(header::ORIGIN, origin.parse().unwrap());
        request
    };
    for origin in [
        "http://evil.example".to_owned(),
        format!("http://{}:1", address.ip()),
        "null".to_owned(),
    ] {
        match tokio_tungstenite::connect_async(with_origin(origin.clone())).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), StatusCode::FORBIDDEN, "{origin}");
                assert_eq!(
                    response.headers()[header::CONTENT_TYPE],
                    "application/problem+json"
                );
                let body: Value =
                    serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
                assert_eq!(body["type"], "/problems/cross-origin");
            }
            other => panic!("{origin}: {other:?}"),
        }
    }
    let (mut socket, _) =
        tokio_tungstenite::connect_async(with_origin(format!("http://{address}")))
            .await
            .unwrap();
    assert_eq!(next_json(&mut socket).await.unwrap()["type"], "hello");
}

/// A client hears of a deleted case, and of changed tiles of other layers, only when they were
/// in its area: a grid cell's client hears nothing of another cell far from it, while a
/// city-wide client hears both.
#[tokio::test]
async fn removed_records_and_layer_changes_reach_only_their_area() {
    let (db, state, address, city) = gateway().await;
    let (.., near_cell, _, _, _, _) = cell_point(&db, 3).await;
    // A cell whose box does not meet cell 3's, with its ordinal for `insert_incident`.
    let (far_code, far_nth): (String, i64) = sqlx::query_as(
        "SELECT code, n - 1 FROM (
             SELECT g.code, g.geom, row_number() OVER (ORDER BY g.code) AS n FROM grid_cell g) g
         WHERE NOT g.geom && (SELECT geom FROM grid_cell WHERE id = $1)
         ORDER BY code DESC LIMIT 1",
    )
    .bind(near_cell)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let far = db
        .user_token("far", Role::Operator, AreaCode::GridCell(far_code.clone()))
        .await;
    let mut city_socket = connect(address, &city, "").await;
    assert_eq!(next_json(&mut city_socket).await.unwrap()["type"], "hello");
    let mut far_socket = connect(address, &far, "").await;
    assert_eq!(next_json(&mut far_socket).await.unwrap()["type"], "hello");

    // A case reported and deleted in cell 3, and a facility there changed.
    let (gone, ..) = insert_incident(&db, 3).await;
    state.live.sync(&state.pool).await.unwrap();
    sqlx::query("DELETE FROM incident WHERE id = $1")
        .bind(gone)
        .execute(&db.pool)
        .await
        .unwrap();
    // A facility outside the far cell's box (its client is told of layers by box).
    let facility: i64 = sqlx::query_scalar(
        "UPDATE facility SET name = name WHERE id = (
             SELECT f.id FROM facility f
             WHERE NOT f.geom && (SELECT geom FROM grid_cell WHERE code = $1)
             ORDER BY f.id LIMIT 1)
         RETURNING id",
    )
    .bind(&far_code)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(facility > 0);
    state.live.sync(&state.pool).await.unwrap();

    // The city hears both.
    let (mut removed, mut facilities) = (false, false);
    while !(removed && facilities) {
        let m = next_json(&mut city_socket)
            .await
            .expect("the city hears of both");
        if m["type"] == "changes" {
            removed |= m["removed_incidents"]
                .as_array()
                .unwrap()
                .contains(&gone.into());
            facilities |= m["layers"]
                .as_array()
                .unwrap()
                .contains(&"facilities".into());
        }
    }
    // Then a case in the far cell: everything the far client is sent up to it is checked.
    let (marker, ..) = insert_incident(&db, far_nth).await;
    loop {
        let m = next_json(&mut far_socket)
            .await
            .expect("the far client hears of its case");
        if m["type"] != "changes" {
            continue;
        }
        assert!(
            !m["removed_incidents"]
                .as_array()
                .unwrap()
                .contains(&gone.into()),
            "told of a case outside its area: {m}"
        );
        assert!(
            !m["layers"]
                .as_array()
                .unwrap()
                .contains(&"facilities".into()),
            "told of facilities outside its area: {m}"
        );
        if m["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == marker)
        {
            break;
        }
    }
}

/// Alerts carried by the messages a socket receives within a few seconds of quiet.
async fn alerts_heard(socket: &mut Socket) -> Vec<Value> {
    let mut alerts = Vec::new();
    while let Some(message) = next_json(socket).await {
        if let Some(list) = message["alerts"].as_array() {
            alerts.extend(list.iter().cloned());
        }
    }
    alerts
}

/// A grid cell becoming a hot spot raises one alert, with its reason, on the live map of the
/// operators and dispatchers of its area, and nobody else's; the next scan raises none.
#[tokio::test]
async fn a_cell_becoming_a_hot_spot_alerts_its_areas_operators_once() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let address = serve(state.clone()).await;
    let (_, _, cell, _, _, _, township) = cell_point(&db, 40).await;
    let code: String = sqlx::query_scalar("SELECT code FROM grid_cell WHERE id = $1")
        .bind(cell)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let other_township = another_township(&db, &township).await;
    let own = db
        .user_token("own", Role::Dispatcher, AreaCode::Unit(township.clone()))
        .await;
    let other = db
        .user_token("other", Role::Operator, AreaCode::Unit(other_township))
        .await;
    let planner = db
        .user_token("plan", Role::Planner, AreaCode::Unit(township))
        .await;
    let now = common::reference_time();
    // The demo's own hot spots raise their alerts first, before anyone listens.
    wangge::hotspots::alerts::scan(&state.pool, now)
        .await
        .unwrap();
    let mut sockets = Vec::new();
    for token in [&own, &other, &planner] {
        let mut socket = connect(address, token, "").await;
        next_json(&mut socket).await.expect("a first message");
        sockets.push(socket);
    }
    common::plant_cases(&db, cell, now, 80).await;
    let raised = wangge::hotspots::alerts::scan(&state.pool, now)
        .await
        .unwrap();
    let (id, category, reason): (i64, String, String) =
        sqlx::query_as("SELECT id, category, reason FROM hotspot_alert WHERE grid_cell_id = $1")
            .bind(cell)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(raised.contains(&id));
    assert!(wangge::hotspots::alerts::ALERTING.contains(&category.as_str()));
    assert!(
        reason.contains("本网格近一个月8"),
        "the planted cases are counted: {reason}"
    );

    let heard = alerts_heard(&mut sockets[0]).await;
    let alert = heard
        .iter()
        .find(|a| a["grid_cell_code"] == code.as_str())
        .unwrap_or_else(|| panic!("the cell's dispatcher was alerted: {heard:?}"));
    assert_eq!(alert["id"], id);
    assert_eq!(alert["category"], category.as_str());
    assert_eq!(alert["reason"], reason.as_str());
    assert!(alert["village_name"].is_string() && alert["at"].is_string());
    let elsewhere = alerts_heard(&mut sockets[1]).await;
    assert!(
        elsewhere
            .iter()
            .all(|a| a["grid_cell_code"] != code.as_str()),
        "another township's operator is not told"
    );
    assert!(
        alerts_heard(&mut sockets[2]).await.is_empty(),
        "planners are not alerted"
    );

    // Once: the cell is still a hot spot at the next scan, and nothing new is raised for it.
    let again = wangge::hotspots::alerts::scan(&state.pool, now)
        .await
        .unwrap();
    assert!(!again.contains(&id));
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM hotspot_alert WHERE grid_cell_id = $1")
            .bind(cell)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(count, 1);

    let listed = get(&state, &own, "/api/v1/analysis/alerts").await;
    assert_eq!(listed.status, StatusCode::OK);
    let listed = listed.json();
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == id)
    );
    let refused = get(&state, &planner, "/api/v1/analysis/alerts").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn publishing_a_plan_reloads_every_connected_map_and_serves_the_new_grid() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let address = serve(state.clone()).await;
    let operator = db.city_operator().await;
    let planner = db
        .user_token(
            "planner-live",
            Role::Planner,
            AreaCode::Unit("530400".into()),
        )
        .await;
    let (lon, lat, cell_id, ..) = cell_point(&db, 3).await;
    let code: String = sqlx::query_scalar("SELECT code FROM grid_cell WHERE id = $1")
        .bind(cell_id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let t = TileCoord::containing(lon, lat, 15).unwrap();
    let uri = format!("/tiles/grid-cells/15/{}/{}", t.x(), t.y());
    let codes = |reply: Reply| -> HashSet<String> {
        decode(&reply.body)
            .iter()
            .map(|f| text(f, "code"))
            .collect()
    };
    let before = codes(get(&state, &operator, &uri).await);
    assert!(before.contains(&code), "{before:?}");
    let mut socket = connect(address, &operator, "").await;
    assert_eq!(next_json(&mut socket).await.unwrap()["type"], "hello");
    let mut planner_socket = connect(address, &planner, "").await;
    assert_eq!(
        next_json(&mut planner_socket).await.unwrap()["type"],
        "hello"
    );

    let json = |reply: Reply| -> Value { serde_json::from_slice(&reply.body).unwrap() };
    let draft = json(
        common::call(
            &state,
            &planner,
            axum::http::Method::POST,
            "/api/v1/plans",
            Some(&serde_json::json!({"name": "实时测试"})),
        )
        .await,
    );
    let version = draft["version"].as_i64().unwrap();
    state.live.sync(&state.pool).await.unwrap();
    let created = plans_changed(&mut planner_socket).await;
    assert_eq!(
        created.map(|m| m["plans"].clone()),
        Some(serde_json::json!([version])),
        "planners hear of a new draft"
    );
    let split = common::call(
        &state,
        &planner,
        axum::http::Method::POST,
        &format!("/api/v1/plans/{version}/edits"),
        Some(
            &serde_json::json!({"revision": 0, "op": "split", "cell": code,
            "line": [[lon - 0.05, lat], [lon, lat], [lon + 0.05, lat]]}),
        ),
    )
    .await;
    assert_eq!(
        split.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&split.body)
    );
    state.live.sync(&state.pool).await.unwrap();

    // Editing a draft is told to planners as that draft's change, and the published grid's
    // tiles stay as they are: not re-read, and no other map reloads them.
    let layers = |message: &Value| -> Vec<String> {
        message["layers"]
            .as_array()
            .map(|l| l.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    };
    let told = plans_changed(&mut planner_socket)
        .await
        .expect("the planner hears of the draft's edit");
    assert_eq!(told["plans"], serde_json::json!([version]));
    assert!(!layers(&told).contains(&"grid-cells".to_owned()), "{told}");
    let hits = state.tile_cache.stats().hits;
    assert_eq!(codes(get(&state, &operator, &uri).await), before);
    assert_eq!(
        state.tile_cache.stats().hits,
        hits + 1,
        "the published grid's tile is still cached"
    );

    let published = common::call(
        &state,
        &planner,
        axum::http::Method::POST,
        &format!("/api/v1/plans/{version}/publish"),
        None,
    )
    .await;
    assert_eq!(published.status, StatusCode::OK);
    state.live.sync(&state.pool).await.unwrap();

    // The connected map is told to reload everything.
    let mut resynced = false;
    for _ in 0..50 {
        match next_json(&mut socket).await {
            Some(message) if message["type"] == "resync" => {
                resynced = true;
                break;
            }
            Some(message) => {
                // Nothing of the draft before it was published.
                assert!(
                    !layers(&message).contains(&"grid-cells".to_owned()),
                    "{message}"
                );
                assert!(
                    message["plans"].as_array().is_none_or(Vec::is_empty),
                    "{message}"
                );
            }
            None => break,
        }
    }
    assert!(resynced, "a connected map hears of the new plan");
    // And the tile it reloads is the new grid's, from the new plan.
    let tile = get(&state, &operator, &uri).await;
    let features = decode(&tile.body);
    let after: HashSet<String> = features.iter().map(|f| text(f, "code")).collect();
    assert!(after.contains(&format!("{code}-2")), "{after:?}");
    assert!(
        features
            .iter()
            .all(|f| number(f, "plan_version") == version),
        "every cell on the map is the new plan's"
    );
}
