//! Geocoding against the address register: an address as people write it becomes ranked
//! candidates with scores, and the best one places a report if it is good enough.
//!
//! Two steps. [`Gazetteer::parse`] (pure, in `wangge-analysis`) normalises the text and reads
//! the administrative chain out of it — county, township, village, each possibly omitted,
//! abbreviated or mistyped — leaving the detail (`3组45号`, `荷花东路12号`). PostgreSQL's
//! `pg_trgm` then ranks the register's addresses in the candidate villages by the similarity
//! of their detail. The register (`address_point`) holds one row per distinct address of a
//! village, with its detail in the same canonical form, rebuilt from households by
//! [`rebuild_register`] after every load or import.
//!
//! Reverse geocoding answers the units, grid cell and nearest address of a point.

use std::sync::Arc;

use geo::Point;
use serde::Serialize;
use sqlx::PgConnection;
use tokio::sync::RwLock;
use wangge_analysis::geocode::{Gazetteer, Level, Unit};
use wangge_analysis::sphere::LonLat;

use crate::auth::Caller;
use crate::db::geometry::Ewkb;
use crate::incidents::IncidentError;
use crate::incidents::intake::{self, Placement, Route};
use crate::model::LocationMethod;

/// A candidate scoring at least this places a report by itself.
pub const ACCEPT_SCORE: f64 = 0.8;
/// Addresses read per candidate village set before scoring.
const CANDIDATE_ROWS: i64 = 50;
/// The precision (metres) given to a geocoded place: the register holds the centre of the
/// households at an address, which in a village is within a few tens of metres.
const ADDRESS_PRECISION_M: f64 = 30.0;

/// The gazetteer, built from the administrative units on first use and rebuilt after they
/// change.
#[derive(Debug, Default)]
pub struct Geocoder {
    gazetteer: RwLock<Option<Arc<Gazetteer>>>,
    /// Bumped by every invalidation: a gazetteer built from units read before a change is
    /// used once but not kept.
    generation: std::sync::atomic::AtomicU64,
}

/// One place an address may be.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub address: String,
    pub lon: f64,
    pub lat: f64,
    /// 0..=1: how sure we are.
    pub score: f64,
    pub village_code: String,
    pub village_name: String,
    #[serde(skip)]
    pub village_id: i64,
}

/// An administrative unit read out of the address.
#[derive(Debug, Clone, Serialize)]
pub struct PlaceCandidate {
    pub level: &'static str,
    pub code: String,
    pub name: String,
    pub score: f64,
    #[serde(skip)]
    pub unit_id: i64,
}

/// The answer to a geocoding query.
#[derive(Debug, Clone, Serialize)]
pub struct Geocoded {
    pub query: String,
    /// The detail left after the place names, normalised (`3组45号`).
    pub detail: String,
    pub places: Vec<PlaceCandidate>,
    /// Best first.
    pub candidates: Vec<Candidate>,
    /// True when the best candidate is good enough to place a report by itself.
    pub accepted: bool,
}

fn level_str(level: Level) -> &'static str {
    match level {
        Level::City => "city",
        Level::County => "county",
        Level::Township => "township",
        Level::Village => "village",
    }
}

impl Geocoder {
    /// Forgets the gazetteer; the next query rebuilds it (after administrative units change).
    pub async fn invalidate(&self) {
        let mut cached = self.gazetteer.write().await;
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        *cached = None;
    }

    pub async fn gazetteer(&self, conn: &mut PgConnection) -> Result<Arc<Gazetteer>, sqlx::Error> {
        if let Some(g) = self.gazetteer.read().await.as_ref() {
            return Ok(Arc::clone(g));
        }
        let generation = self.generation.load(std::sync::atomic::Ordering::SeqCst);
        let built = Arc::new(load_gazetteer(conn).await?);
        let mut cached = self.gazetteer.write().await;
        if self.generation.load(std::sync::atomic::Ordering::SeqCst) == generation {
            *cached = Some(Arc::clone(&built));
        }
        Ok(built)
    }

    /// Ranked candidates for `query` inside the area with code prefix `prefix` (and, for a
    /// grid worker, inside their cell).
    pub async fn geocode(
        &self,
        conn: &mut PgConnection,
        query: &str,
        (prefix, cell): (&str, Option<i64>),
        limit: usize,
    ) -> Result<Geocoded, IncidentError> {
        let gazetteer = self.gazetteer(conn).await?;
        let parsed = gazetteer.parse(query);
        // The city alone says nothing the area does not: search by detail alone.
        let narrowing: Vec<_> = parsed
            .places
            .iter()
            .filter(|p| p.level != Level::City)
            .collect();
        let place_ids: Vec<i64> = narrowing.iter().map(|p| p.unit_id).collect();
        let place_scores: Vec<f64> = narrowing.iter().map(|p| p.score).collect();
        let place_details: Vec<&str> = narrowing.iter().map(|p| p.detail.as_str()).collect();
        let places: Vec<PlaceCandidate> = sqlx::query_as::<_, (i64, String, String)>(
            "SELECT id, code, name FROM admin_unit WHERE id = ANY ($1) AND code LIKE $2 || '%'",
        )
        .bind(&place_ids)
        .bind(prefix)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .filter_map(|(id, code, name)| {
            let p = parsed.places.iter().find(|p| p.unit_id == id)?;
            Some(PlaceCandidate {
                level: level_str(p.level),
                code,
                name,
                score: p.score,
                unit_id: id,
            })
        })
        .collect();
        let mut places = places;
        places.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.code.cmp(&b.code)));

        let mut candidates = Vec::new();
        if !parsed.detail.is_empty() {
            // Each register address in the villages of the places read, with the place's
            // score; with no place read, the whole area by trigram index.
            type Row = (
                String,
                f64,
                f64,
                f64,
                f64,
                String,
                String,
                i64,
                String,
                String,
            );
            let rows: Vec<Row> = if place_ids.is_empty() {
                sqlx::query_as(
                    "SELECT a.address, ST_X(a.geom), ST_Y(a.geom), similarity(a.detail, $1)::float8,
                            0.0::float8, v.code, v.name, v.id, a.detail, $1
                     FROM address_point a JOIN admin_unit v ON v.id = a.village_id
                     WHERE a.detail % $1 AND v.code LIKE $2 || '%'
                       AND ($4::int8 IS NULL
                            OR ST_Intersects(a.geom, (SELECT geom FROM grid_cell WHERE id = $4)))
                     ORDER BY similarity(a.detail, $1) DESC, a.id LIMIT $3",
                )
                .bind(&parsed.detail)
                .bind(prefix)
                .bind(CANDIDATE_ROWS)
                .bind(cell)
                .fetch_all(&mut *conn)
                .await?
            } else {
                sqlx::query_as(
                    // Each village of a place read (the village itself, or every village of a
                    // township or county), with the best place's score and detail.
                    "WITH place AS (
                         SELECT * FROM unnest($1::int8[], $2::float8[], $3::text[]) AS p (id, score, detail)
                     ), village AS (
                         SELECT DISTINCT ON (v.id) v.id, v.code, v.name, p.score, p.detail
                         FROM place p JOIN admin_unit u ON u.id = p.id
                         JOIN admin_unit v ON v.level = 'village'
                              AND (v.id = u.id OR v.parent_id = u.id
                                   OR v.parent_id IN (SELECT t.id FROM admin_unit t WHERE t.parent_id = u.id))
                         WHERE v.code LIKE $4 || '%'
                         ORDER BY v.id, p.score DESC
                     )
                     SELECT a.address, ST_X(a.geom), ST_Y(a.geom), similarity(a.detail, v.detail)::float8,
                            v.score, v.code, v.name, v.id, a.detail, v.detail
                     FROM village v JOIN address_point a ON a.village_id = v.id
                     WHERE $6::int8 IS NULL
                        OR ST_Intersects(a.geom, (SELECT geom FROM grid_cell WHERE id = $6))
                     ORDER BY v.score + similarity(a.detail, v.detail) DESC, a.id
                     LIMIT $5",
                )
                .bind(&place_ids)
                .bind(&place_scores)
                .bind(&place_details)
                .bind(prefix)
                .bind(CANDIDATE_ROWS)
                .bind(cell)
                .fetch_all(&mut *conn)
                .await?
            };
            candidates = rows
                .into_iter()
                .map(
                    |(
                        address,
                        lon,
                        lat,
                        similarity,
                        place_score,
                        village_code,
                        village_name,
                        village_id,
                        detail,
                        wanted,
                    )| {
                        let detail_score = if detail == wanted {
                            1.0
                        } else {
                            let numbers_agree = numbers(&detail) == numbers(&wanted);
                            0.7 * similarity + if numbers_agree { 0.25 } else { 0.0 }
                        };
                        let score = if place_ids.is_empty() {
                            0.75 * detail_score
                        } else {
                            0.4 * place_score + 0.6 * detail_score
                        };
                        Candidate {
                            address,
                            lon,
                            lat,
                            score: (score * 1000.0).round() / 1000.0,
                            village_code,
                            village_name,
                            village_id,
                        }
                    },
                )
                .collect();
            candidates.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.address.cmp(&b.address)));
            candidates.truncate(limit);
        }
        let accepted = candidates.first().is_some_and(|best| {
            best.score >= ACCEPT_SCORE
                // Two equally good answers far apart: a person must choose.
                && !candidates[1..].iter().any(|c| {
                    best.score - c.score < 0.02 && c.village_id != best.village_id
                })
        });
        Ok(Geocoded {
            query: query.to_owned(),
            detail: parsed.detail,
            places,
            candidates,
            accepted,
        })
    }
}

/// The digits of a detail in order (`3组45号` → [3, 45]): a number that differs is another
/// house, however similar the rest.
fn numbers(detail: &str) -> Vec<u32> {
    detail
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect()
}

async fn load_gazetteer(conn: &mut PgConnection) -> Result<Gazetteer, sqlx::Error> {
    let rows: Vec<(i64, crate::model::AdminLevel, String, String, Option<i64>)> =
        sqlx::query_as("SELECT id, level, code, name, parent_id FROM admin_unit ORDER BY id")
            .fetch_all(conn)
            .await?;
    Ok(Gazetteer::new(
        rows.into_iter()
            .map(|(id, level, code, name, parent_id)| Unit {
                id,
                level: match level {
                    crate::model::AdminLevel::City => Level::City,
                    crate::model::AdminLevel::County => Level::County,
                    crate::model::AdminLevel::Township => Level::Township,
                    crate::model::AdminLevel::Village => Level::Village,
                },
                code,
                name,
                parent_id,
            })
            .collect(),
    ))
}

/// Where a report given only by its address goes: the best candidate if accepted; else the
/// best place read (its centre, waiting for a dispatcher); else the caller's own area.
pub async fn placement(
    conn: &mut PgConnection,
    geocoded: &Geocoded,
    caller: &Caller,
) -> Result<Placement, IncidentError> {
    if geocoded.accepted
        && let Some(best) = geocoded.candidates.first()
    {
        let point = LonLat::new(best.lon, best.lat).map_err(IncidentError::internal)?;
        if let Some(route) = intake::route_point(conn, point).await? {
            return Ok(Placement {
                point,
                method: LocationMethod::Geocoded,
                precision_m: Some(ADDRESS_PRECISION_M),
                route,
            });
        }
    }
    // A grid worker's unplaced report stays in their own cell, where they can follow it.
    if let Some(cell) = caller.area.grid_cell_id {
        return intake::place_at_cell(conn, cell).await;
    }
    if let Some(place) = geocoded.places.first() {
        return intake::place_at_unit(conn, place.unit_id).await;
    }
    // Nothing read: the case goes to the reporter's own area, to be placed by hand.
    let unit_id: Option<i64> =
        sqlx::query_scalar("SELECT id FROM admin_unit WHERE code = $1 AND level <> 'city'")
            .bind(&caller.area.code)
            .fetch_optional(&mut *conn)
            .await?;
    match unit_id {
        Some(id) => intake::place_at_unit(conn, id).await,
        None => city_placement(conn).await,
    }
}

/// The city's centre, for a report read as nothing more precise than the city.
async fn city_placement(conn: &mut PgConnection) -> Result<Placement, IncidentError> {
    let (lon, lat, precision, code): (f64, f64, f64, String) = sqlx::query_as(
        "SELECT ST_X(p), ST_Y(p), sqrt(ST_Area(u.geom::geography) / pi()), u.code
         FROM admin_unit u CROSS JOIN LATERAL ST_PointOnSurface(u.geom) AS p
         WHERE u.level = 'city' ORDER BY u.id LIMIT 1",
    )
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| IncidentError::Invalid("no city is loaded to place the report in".into()))?;
    Ok(Placement {
        point: LonLat::new(lon, lat).map_err(IncidentError::internal)?,
        method: LocationMethod::Area,
        precision_m: Some(precision),
        route: Route {
            grid_cell_id: None,
            village_id: None,
            township_id: None,
            county_id: None,
            area_code: code,
        },
    })
}

/// What a point is in: its units, grid cell and nearest register address.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Reverse {
    pub lon: f64,
    pub lat: f64,
    pub county_code: Option<String>,
    pub county_name: Option<String>,
    pub township_code: Option<String>,
    pub township_name: Option<String>,
    pub village_code: Option<String>,
    pub village_name: Option<String>,
    pub grid_cell_code: Option<String>,
    pub grid_cell_name: Option<String>,
    pub nearest_address: Option<String>,
    /// Metres to the nearest address.
    pub nearest_address_distance_m: Option<f64>,
}

/// Reverse geocoding; `None` outside the city.
pub async fn reverse(
    conn: &mut PgConnection,
    point: LonLat,
) -> Result<Option<(Route, Reverse)>, sqlx::Error> {
    let Some(route) = intake::route_point(conn, point).await? else {
        return Ok(None);
    };
    let answer: Reverse = sqlx::query_as(
        "WITH pt AS (SELECT $1::geometry AS g),
         near AS (
             SELECT a.address, ST_Distance(a.geom::geography, pt.g::geography) AS d
             FROM address_point a, pt
             WHERE ($2::int8 IS NULL OR a.village_id = $2)
             ORDER BY a.geom <-> pt.g LIMIT 1)
         SELECT ST_X(pt.g) AS lon, ST_Y(pt.g) AS lat,
                c.code AS county_code, c.name AS county_name,
                t.code AS township_code, t.name AS township_name,
                v.code AS village_code, v.name AS village_name,
                g.code AS grid_cell_code, g.name AS grid_cell_name,
                (SELECT address FROM near) AS nearest_address,
                (SELECT d FROM near) AS nearest_address_distance_m
         FROM pt
         LEFT JOIN admin_unit c ON c.id = $3
         LEFT JOIN admin_unit t ON t.id = $4
         LEFT JOIN admin_unit v ON v.id = $2
         LEFT JOIN grid_cell g ON g.id = $5",
    )
    .bind(Ewkb::lon_lat(point))
    .bind(route.village_id)
    .bind(route.county_id)
    .bind(route.township_id)
    .bind(route.grid_cell_id)
    .fetch_one(conn)
    .await?;
    Ok(Some((route, answer)))
}

/// Rebuilds the address register from households, for the given villages or all of them:
/// one row per distinct address of a village, at the centre of its households.
pub async fn rebuild_register(
    conn: &mut PgConnection,
    villages: Option<&[i64]>,
) -> Result<u64, sqlx::Error> {
    let gazetteer = load_gazetteer(conn).await?;
    sqlx::query("DELETE FROM address_point WHERE $1::int8[] IS NULL OR village_id = ANY ($1)")
        .bind(villages)
        .execute(&mut *conn)
        .await?;
    let rows: Vec<(i64, String, f64, f64, i64)> = sqlx::query_as(
        "SELECT h.village_id, h.address, ST_X(c), ST_Y(c), n
         FROM (SELECT village_id, address, ST_Centroid(ST_Collect(geom)) AS c, count(*) AS n
               FROM household
               WHERE $1::int8[] IS NULL OR village_id = ANY ($1)
               GROUP BY village_id, address) h",
    )
    .bind(villages)
    .fetch_all(&mut *conn)
    .await?;
    let mut written = 0;
    for chunk in rows.chunks(20_000) {
        let mut ids = Vec::with_capacity(chunk.len());
        let mut addresses = Vec::with_capacity(chunk.len());
        let mut details = Vec::with_capacity(chunk.len());
        let mut points = Vec::with_capacity(chunk.len());
        let mut counts = Vec::with_capacity(chunk.len());
        for (village_id, address, lon, lat, n) in chunk {
            ids.push(*village_id);
            details.push(gazetteer.detail_of(*village_id, address));
            addresses.push(address.as_str());
            // The centre of stored households, so on the globe: no check to repeat.
            points.push(Ewkb::point(Point::new(*lon, *lat)));
            counts.push(*n as i32);
        }
        written += sqlx::query(
            "INSERT INTO address_point (village_id, address, detail, households, geom)
             SELECT v, a, d, n, g::geometry
             FROM unnest($1::int8[], $2::text[], $3::text[], $4::int4[], $5::text[])
                  AS r (v, a, d, n, g)",
        )
        .bind(&ids)
        .bind(&addresses)
        .bind(&details)
        .bind(&counts)
        .bind(&points)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(written)
}
