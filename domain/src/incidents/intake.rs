//! Taking a report in: check it, place it (device GPS, the address register, or only its
//! administrative unit), route it to its grid cell, village, township and county, and write
//! it with its first timeline event and audit row, all in the caller's transaction.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;
use wangge_analysis::sphere::{LonLat, MEAN_EARTH_RADIUS_M};

use crate::audit::{self, RequestMeta};
use crate::auth::{Caller, Role};
use crate::db::geometry::Ewkb;
use crate::incidents::IncidentError;
use crate::model::{IncidentSeverity, LocationMethod, open_statuses};
use crate::personal::Cipher;

/// How the report reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Api,
    Open311,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Api => "api",
            Channel::Open311 => "open311",
        }
    }
}

/// Longest description (characters).
pub const MAX_DESCRIPTION_CHARS: usize = 4000;
/// Longest title (characters).
pub const MAX_TITLE_CHARS: usize = 120;

/// A report as the caller sent it, before it is placed.
#[derive(Debug, Clone)]
pub struct Report {
    pub category: String,
    pub severity: IncidentSeverity,
    pub title: Option<String>,
    pub description: String,
    pub reporter_name: Option<String>,
    pub reporter_phone: Option<String>,
    pub point: Option<LonLat>,
    /// The device's stated accuracy (metres), with a point.
    pub accuracy_m: Option<f64>,
    pub address: Option<String>,
    /// A link to a photo or video of the matter (http or https).
    pub media_url: Option<String>,
    pub channel: Channel,
}

impl Report {
    /// Checks what can be checked without the database.
    pub fn validate(&mut self) -> Result<(), IncidentError> {
        let invalid = |m: String| Err(IncidentError::Invalid(m));
        self.description = self.description.trim().to_owned();
        if self.description.is_empty() {
            return invalid("a description is required".into());
        }
        if self.description.chars().count() > MAX_DESCRIPTION_CHARS {
            return invalid(format!(
                "the description is longer than {MAX_DESCRIPTION_CHARS} characters"
            ));
        }
        self.title = self
            .title
            .take()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());
        if self
            .title
            .as_ref()
            .is_some_and(|t| t.chars().count() > MAX_TITLE_CHARS)
        {
            return invalid(format!(
                "the title is longer than {MAX_TITLE_CHARS} characters"
            ));
        }
        self.address = self
            .address
            .take()
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty());
        if self
            .address
            .as_ref()
            .is_some_and(|a| a.chars().count() > 300)
        {
            return invalid("the address is longer than 300 characters".into());
        }
        self.media_url = self
            .media_url
            .take()
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty());
        if let Some(url) = &self.media_url
            && !(url.len() <= 2048
                && (url.starts_with("http://") || url.starts_with("https://"))
                && url.len() > "https://".len()
                && !url.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return invalid("media_url must be an http or https link of at most 2048 bytes".into());
        }
        if self.point.is_none() && self.address.is_none() {
            return invalid(
                "a location is required: a point (lon/lat), an address, or both".into(),
            );
        }
        if let Some(accuracy) = self.accuracy_m
            && !(accuracy.is_finite() && (0.0..=100_000.0).contains(&accuracy))
        {
            return invalid(format!("accuracy {accuracy} m is outside 0..=100000"));
        }
        for (what, value, max) in [
            ("reporter name", &mut self.reporter_name, 50),
            ("reporter phone", &mut self.reporter_phone, 30),
        ] {
            *value = value
                .take()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty());
            if value.as_ref().is_some_and(|v| v.chars().count() > max) {
                return invalid(format!("the {what} is longer than {max} characters"));
            }
        }
        Ok(())
    }
}

/// Roles that take reports in: operators and dispatchers (calls, walk-ins, integrations)
/// and grid workers (from the field).
pub fn may_report(role: Role) -> bool {
    matches!(role, Role::Operator | Role::Dispatcher | Role::Worker)
}

/// Where a report goes: its place, how it is known, and the units holding it.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub point: LonLat,
    pub method: LocationMethod,
    pub precision_m: Option<f64>,
    pub route: Route,
}

/// The grid cell (of the published plan) and units a place falls in.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Route {
    pub grid_cell_id: Option<i64>,
    pub village_id: Option<i64>,
    pub township_id: Option<i64>,
    pub county_id: Option<i64>,
    /// The finest unit's code: what area scoping reads.
    pub area_code: String,
}

/// The cell and units holding `point`, or `None` outside every county of the city.
pub async fn route_point(
    conn: &mut PgConnection,
    point: LonLat,
) -> Result<Option<Route>, sqlx::Error> {
    Ok(route_points(conn, &[point]).await?.pop().flatten())
}

/// [`route_point`] for many points in one statement, in their order.
pub async fn route_points(
    conn: &mut PgConnection,
    points: &[LonLat],
) -> Result<Vec<Option<Route>>, sqlx::Error> {
    // Township and county follow from the village, so the chain is always consistent; a
    // point outside every grid cell (imported grids need not cover everything) still finds
    // its units by their own boundaries.
    let rows: Vec<(i64, Route)> = sqlx::query_as::<_, RouteRow>(
        "WITH pt AS (
             SELECT ord, g::geometry AS g
             FROM unnest($1::text[]) WITH ORDINALITY AS p (g, ord)
         ), v AS (
             SELECT pt.ord, pt.g, cell.id AS grid_cell_id,
                    coalesce(cell.village_id, (
                        SELECT a.id FROM admin_unit a WHERE a.level = 'village'
                           AND ST_Intersects(a.geom, pt.g) ORDER BY a.id LIMIT 1)) AS village_id
             FROM pt LEFT JOIN LATERAL (
                 SELECT c.id, c.village_id FROM grid_cell c
                 JOIN grid_plan p ON p.id = c.plan_id AND p.status = 'published'
                 WHERE ST_Intersects(c.geom, pt.g) ORDER BY c.id LIMIT 1) cell ON true
         ), t AS (
             SELECT v.*, coalesce((SELECT a.parent_id FROM admin_unit a WHERE a.id = v.village_id), (
                        SELECT a.id FROM admin_unit a WHERE a.level = 'township'
                           AND ST_Intersects(a.geom, v.g) ORDER BY a.id LIMIT 1)) AS township_id
             FROM v
         ), c AS (
             SELECT t.*, coalesce((SELECT a.parent_id FROM admin_unit a WHERE a.id = t.township_id), (
                        SELECT a.id FROM admin_unit a WHERE a.level = 'county'
                           AND ST_Intersects(a.geom, t.g) ORDER BY a.id LIMIT 1)) AS county_id
             FROM t
         )
         -- The code by key, row by row: a join here was planned as a hash of every unit,
         -- read whole for each group of reports.
         SELECT c.ord, c.grid_cell_id, c.village_id, c.township_id, c.county_id,
                coalesce((SELECT a.code FROM admin_unit a
                          WHERE a.id = coalesce(c.village_id, c.township_id, c.county_id)), '')
                    AS area_code
         FROM c
         ORDER BY c.ord",
    )
    .bind(points.iter().map(|p| Ewkb::lon_lat(*p)).collect::<Vec<_>>())
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|r| (r.ord, r.route))
    .collect();
    Ok(rows
        .into_iter()
        .map(|(_, route)| route.county_id.is_some().then_some(route))
        .collect())
}

#[derive(sqlx::FromRow)]
struct RouteRow {
    ord: i64,
    #[sqlx(flatten)]
    route: Route,
}

/// A placement at a grid cell's centre, for a grid worker's report whose address was not
/// found: it is in their cell (they report from it), waiting for a dispatcher to place it.
pub async fn place_at_cell(
    conn: &mut PgConnection,
    cell_id: i64,
) -> Result<Placement, IncidentError> {
    let (lon, lat, precision): (f64, f64, f64) = sqlx::query_as(
        "SELECT ST_X(p), ST_Y(p), sqrt(ST_Area(c.geom::geography) / pi())
         FROM grid_cell c CROSS JOIN LATERAL ST_PointOnSurface(c.geom) AS p WHERE c.id = $1",
    )
    .bind(cell_id)
    .fetch_one(&mut *conn)
    .await?;
    let point = LonLat::new(lon, lat).map_err(IncidentError::internal)?;
    let route = route_point(conn, point)
        .await?
        .ok_or_else(|| IncidentError::internal("a grid cell's centre is outside the city"))?;
    Ok(Placement {
        point,
        method: LocationMethod::Area,
        precision_m: Some(precision),
        route: Route {
            grid_cell_id: Some(cell_id),
            ..route
        },
    })
}

/// A placement at an administrative unit's centre, for a report whose address named the unit
/// but no address in it: the case waits for a dispatcher to place it.
pub async fn place_at_unit(
    conn: &mut PgConnection,
    unit_id: i64,
) -> Result<Placement, IncidentError> {
    let (lon, lat, precision, village, township, county, code): (
        f64,
        f64,
        f64,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        String,
    ) = sqlx::query_as(
        // The point on surface, not the centroid: a crescent-shaped village's centroid can lie
        // in its neighbour. Precision: the radius of a disc of the unit's area.
        "SELECT ST_X(p), ST_Y(p), sqrt(ST_Area(u.geom::geography) / pi()),
                CASE u.level WHEN 'village' THEN u.id END,
                CASE u.level WHEN 'village' THEN u.parent_id WHEN 'township' THEN u.id END,
                CASE u.level WHEN 'village' THEN t.parent_id WHEN 'township' THEN u.parent_id
                             WHEN 'county' THEN u.id END,
                u.code
         FROM admin_unit u
         LEFT JOIN admin_unit t ON t.id = u.parent_id
         CROSS JOIN LATERAL ST_PointOnSurface(u.geom) AS p
         WHERE u.id = $1",
    )
    .bind(unit_id)
    .fetch_one(conn)
    .await?;
    Ok(Placement {
        point: LonLat::new(lon, lat).map_err(IncidentError::internal)?,
        method: LocationMethod::Area,
        precision_m: Some(precision),
        route: Route {
            grid_cell_id: None,
            village_id: village,
            township_id: township,
            county_id: county,
            area_code: code,
        },
    })
}

/// Checks that a placement is inside the caller's area: nobody files cases they could not see.
pub fn check_in_area(caller: &Caller, placement: &Placement) -> Result<(), IncidentError> {
    let in_cell = caller
        .area
        .grid_cell_id
        .is_none_or(|cell| placement.route.grid_cell_id == Some(cell));
    if placement.route.area_code.starts_with(&caller.area.prefix) && in_cell {
        Ok(())
    } else {
        Err(IncidentError::OutsideArea(format!(
            "the place is outside your area ({})",
            caller.area.name
        )))
    }
}

/// A category's name and how near another report must be to look like a duplicate.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CategoryRule {
    pub code: String,
    pub name_zh: String,
    pub duplicate_radius_m: i32,
    pub duplicate_window_hours: i32,
}

pub async fn category(conn: &mut PgConnection, code: &str) -> Result<CategoryRule, IncidentError> {
    categories(conn, &[code.to_owned()])
        .await?
        .remove(code)
        .ok_or_else(|| {
            IncidentError::Invalid(format!(
                "unknown category `{code}`; GET /api/v1/incident-categories lists them"
            ))
        })
}

/// The rules of the categories among `codes` that exist, by code.
pub async fn categories(
    conn: &mut PgConnection,
    codes: &[String],
) -> Result<std::collections::HashMap<String, CategoryRule>, sqlx::Error> {
    let rules: Vec<CategoryRule> = sqlx::query_as(
        "SELECT code, name_zh, duplicate_radius_m, duplicate_window_hours
         FROM incident_category WHERE code = ANY ($1)",
    )
    .bind(codes)
    .fetch_all(conn)
    .await?;
    Ok(rules.into_iter().map(|r| (r.code.clone(), r)).collect())
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Created {
    pub id: i64,
    pub reported_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub open311_token: Uuid,
    /// The codes and names of the cell and units it was routed to, for the answer.
    pub names: RouteNames,
    pub area_code: String,
    pub method: LocationMethod,
    /// Open cases of the same category close by in space and time, nearest first.
    pub possible_duplicates: Vec<i64>,
}

/// The codes and names of a route's cell and units, as a case's summary shows them.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct RouteNames {
    pub grid_cell_code: Option<String>,
    pub village_code: Option<String>,
    pub village_name: Option<String>,
    pub township_name: Option<String>,
    pub county_name: Option<String>,
}

#[derive(sqlx::FromRow)]
struct InsertedRow {
    open311_token: Uuid,
    id: i64,
    reported_at: DateTime<Utc>,
    due_at: Option<DateTime<Utc>>,
    #[sqlx(flatten)]
    names: RouteNames,
}

/// A checked, placed report ready to be written.
#[derive(Debug, Clone, Copy)]
pub struct NewCase<'a> {
    pub caller: &'a Caller,
    pub report: &'a Report,
    pub rule: &'a CategoryRule,
    pub placement: &'a Placement,
}

impl NewCase<'_> {
    /// The title given, or the category's name.
    pub fn title(&self) -> &str {
        self.report.title.as_deref().unwrap_or(&self.rule.name_zh)
    }
}

/// Writes a checked, placed report with its first timeline event. The caller writes its
/// audit row with [`audit_created`] as the transaction's last statement.
pub async fn create(
    conn: &mut PgConnection,
    caller: &Caller,
    cipher: &Cipher,
    report: &Report,
    rule: &CategoryRule,
    placement: &Placement,
) -> Result<Created, IncidentError> {
    let case = NewCase {
        caller,
        report,
        rule,
        placement,
    };
    create_many(conn, cipher, &[case])
        .await?
        .pop()
        .ok_or_else(|| IncidentError::internal("an insert returned no row"))
}

/// [`create`] for many reports in a few statements, in their order.
pub async fn create_many(
    conn: &mut PgConnection,
    cipher: &Cipher,
    cases: &[NewCase<'_>],
) -> Result<Vec<Created>, IncidentError> {
    if cases.is_empty() {
        return Ok(Vec::new());
    }
    // In time order, so the token index grows at one end; 62 or more random bits keep them
    // unguessable.
    let tokens: Vec<Uuid> = cases.iter().map(|_| Uuid::now_v7()).collect();
    macro_rules! column {
        ($f:expr) => {
            cases.iter().map($f).collect::<Vec<_>>()
        };
    }
    let note = |c: &NewCase<'_>| match c.placement.method {
        LocationMethod::Area => "位置待定：请调度员在地图上标定",
        _ => "",
    };
    // One statement writes the cases and their first timeline events, and answers with the
    // names of their units, so the answer needs no second read.
    let rows: Vec<InsertedRow> = sqlx::query_as(
        "WITH i AS (
         INSERT INTO incident (category, severity, title, description, geom, grid_cell_id,
                               village_id, township_id, county_id, area_code, due_at,
                               reporter_name_enc, reporter_phone_enc, address, location_method,
                               location_precision_m, channel, reported_by, open311_token,
                               media_url)
         SELECT r.category, r.severity::incident_severity, r.title, r.description,
                r.geom::geometry, r.cell, r.village, r.township,
                r.county, r.area, now() + wangge_deadline(r.category, r.severity::incident_severity, 'village'),
                r.name_enc, r.phone_enc, r.address, r.method::location_method, r.precision,
                r.channel, r.reported_by, r.token, r.media_url
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                     $6::int8[], $7::int8[], $8::int8[], $9::int8[], $10::text[], $11::bytea[],
                     $12::bytea[], $13::text[], $14::text[], $15::float4[], $16::text[],
                     $17::int8[], $18::uuid[], $21::text[])
              WITH ORDINALITY AS r (category, severity, title, description, geom, cell,
                                    village, township, county, area, name_enc, phone_enc,
                                    address, method, precision, channel, reported_by, token,
                                    media_url, ord)
         ORDER BY r.ord
         RETURNING open311_token, id, reported_at, due_at, grid_cell_id, village_id,
                   township_id, county_id
         ), e AS (
         INSERT INTO incident_event (incident_id, at, kind, status, tier, actor, note)
         SELECT i.id, i.reported_at, 'reported', 'reported', 'village', r.actor, r.note
         FROM i JOIN unnest($18::uuid[], $19::text[], $20::text[]) AS r (token, actor, note)
              ON r.token = i.open311_token)
         -- Names by key, row by row: as joins, EXPLAIN of a group of 23 showed hashes of
         -- every unit and every grid cell read whole, 4 of the statement's 10 ms.
         SELECT i.open311_token, i.id, i.reported_at, i.due_at,
                (SELECT g.code FROM grid_cell g WHERE g.id = i.grid_cell_id) AS grid_cell_code,
                (SELECT v.code FROM admin_unit v WHERE v.id = i.village_id) AS village_code,
                (SELECT v.name FROM admin_unit v WHERE v.id = i.village_id) AS village_name,
                (SELECT t.name FROM admin_unit t WHERE t.id = i.township_id) AS township_name,
                (SELECT c.name FROM admin_unit c WHERE c.id = i.county_id) AS county_name
         FROM i",
    )
    .bind(column!(|c| c.rule.code.clone()))
    .bind(column!(|c| c.report.severity.as_str()))
    .bind(column!(|c| c.title().to_owned()))
    .bind(column!(|c| c.report.description.clone()))
    .bind(column!(|c| Ewkb::lon_lat(c.placement.point)))
    .bind(column!(|c| c.placement.route.grid_cell_id))
    .bind(column!(|c| c.placement.route.village_id))
    .bind(column!(|c| c.placement.route.township_id))
    .bind(column!(|c| c.placement.route.county_id))
    .bind(column!(|c| c.placement.route.area_code.clone()))
    .bind(column!(|c| c.report.reporter_name.as_deref().map(|n| cipher.seal(n))))
    .bind(column!(|c| c.report.reporter_phone.as_deref().map(|p| cipher.seal(p))))
    .bind(column!(|c| c.report.address.clone()))
    .bind(column!(|c| c.placement.method.as_str()))
    .bind(column!(|c| c.placement.precision_m.map(|p| p as f32)))
    .bind(column!(|c| c.report.channel.as_str()))
    .bind(column!(|c| c.caller.user_id))
    .bind(&tokens)
    .bind(column!(|c| actor(c.caller)))
    .bind(column!(|c| note(c).to_owned()))
    .bind(column!(|c| c.report.media_url.clone()))
    .fetch_all(&mut *conn)
    .await?;
    let mut inserted: std::collections::HashMap<Uuid, InsertedRow> =
        rows.into_iter().map(|r| (r.open311_token, r)).collect();
    let mut created = Vec::with_capacity(cases.len());
    for (case, token) in cases.iter().zip(&tokens) {
        let row = inserted
            .remove(token)
            .ok_or_else(|| IncidentError::internal("an inserted incident was not returned"))?;
        created.push(Created {
            id: row.id,
            reported_at: row.reported_at,
            due_at: row.due_at,
            open311_token: *token,
            names: row.names,
            area_code: case.placement.route.area_code.clone(),
            method: case.placement.method,
            possible_duplicates: Vec::new(),
        });
    }
    // Duplicates among the cases reported before each (the same answer a report sent alone
    // would get).
    let asked: Vec<(i64, &Caller)> = created
        .iter()
        .zip(cases)
        .map(|(c, case)| (c.id, case.caller))
        .collect();
    let pairs = duplicates_of(conn, &asked, true).await?;
    for (id, duplicate) in pairs {
        if let Some(c) = created.iter_mut().find(|c| c.id == id) {
            c.possible_duplicates.push(duplicate);
        }
    }
    Ok(created)
}

/// The audit row of a created incident. Audit rows are hash-chained, so writing one holds
/// the chain's head until commit: written last, it holds it for the commit alone and
/// concurrent reports do not queue behind each other's other work.
pub async fn audit_created(
    conn: &mut PgConnection,
    caller: &Caller,
    meta: &RequestMeta,
    created: &Created,
) -> Result<(), sqlx::Error> {
    audit_created_many(conn, &[(caller, meta, created)]).await
}

/// [`audit_created`] for many, chained in the order given.
pub async fn audit_created_many(
    conn: &mut PgConnection,
    created: &[(&Caller, &RequestMeta, &Created)],
) -> Result<(), sqlx::Error> {
    let entries: Vec<audit::Entry<'_>> = created
        .iter()
        .map(|(caller, meta, c)| {
            let mut entry = caller.entry("create", "incident", c.id.to_string(), meta);
            entry.area_code = &c.area_code;
            entry
        })
        .collect();
    audit::record_many(conn, &entries).await
}

/// How a user appears on a timeline.
pub fn actor(caller: &Caller) -> String {
    format!("user:{}", caller.username)
}

/// Open cases of the same category within the category's radius and time window of case
/// `id`, nearest first (at most 5), inside `caller`'s area.
pub async fn possible_duplicates(
    conn: &mut PgConnection,
    caller: &Caller,
    id: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    Ok(duplicates_of(conn, &[(id, caller)], false)
        .await?
        .into_iter()
        .map(|(_, d)| d)
        .collect())
}

/// For each case (and the caller asking), the open cases of its category within the
/// category's radius and time window that the caller may see: `(case, possible duplicate)`
/// pairs, at most 5 a case, nearest first. The five are the nearest in degrees, which at
/// Yuxi's latitude count a metre east about 9% more than a metre north; with more than five
/// candidates in reach, the fifth may be one a little farther on the ground than another.
/// With `earlier_only`, only cases reported before it (what a report sent alone would find).
/// Cases placed only by their unit are too vague to compare.
async fn duplicates_of(
    conn: &mut PgConnection,
    cases: &[(i64, &Caller)],
    earlier_only: bool,
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT i.id, d.id
         FROM unnest($1::int8[], $2::text[], $3::int8[]) WITH ORDINALITY AS s (id, prefix, cell, ord)
         JOIN incident i ON i.id = s.id
         JOIN incident_category c ON c.code = i.category
         CROSS JOIN LATERAL (
             SELECT o.id, o.geom FROM incident o
             WHERE o.category = i.category
               AND CASE WHEN $4 THEN o.id < i.id ELSE o.id <> i.id END
               AND o.status IN ",
        open_statuses!(),
        "
               AND o.location_method <> 'area'
               AND o.reported_at >= i.reported_at - make_interval(hours => c.duplicate_window_hours)
               AND ($4 OR o.reported_at <= i.reported_at + make_interval(hours => c.duplicate_window_hours))
               -- In degrees first, so the GiST index finds the few near ones: the angle the
               -- radius spans along the parallel, on the sphere of radius $5 that the next
               -- test measures on (a degree of longitude is the shorter one, so the circle
               -- in degrees holds every case within the metres).
               AND ST_DWithin(o.geom, i.geom,
                              degrees(c.duplicate_radius_m / ($5::float8 * cos(radians(ST_Y(i.geom))))))
               -- On the sphere: the radius is a rule of thumb, and the spheroid's 0.5% more
               -- precision cost a fifth of this search.
               AND ST_DWithin(o.geom::geography, i.geom::geography, c.duplicate_radius_m, false)
               -- Only cases the caller may see.
               AND o.area_code LIKE s.prefix || '%' AND (s.cell IS NULL OR o.grid_cell_id = s.cell)
             -- Nearest on the map first, from the index of open cases, so the search stops
             -- at the fifth; those five are then ordered by their distance on the ground.
             -- By distance alone: a second key (the id) made the planner read and sort
             -- every candidate in reach (EXPLAIN, 23 reports with 37 candidates each: 4.9 ms
             -- against 2.0 ms). Among cases at exactly the same distance, the index's order
             -- decides which is fifth. The form's question (`possible_duplicates_near`) orders
             -- the same way.
             ORDER BY o.geom <-> i.geom
             LIMIT 5) d
         WHERE i.location_method <> 'area'
         ORDER BY s.ord, ST_Distance(d.geom::geography, i.geom::geography, false), d.id"
    ))
    .bind(cases.iter().map(|(id, _)| *id).collect::<Vec<_>>())
    .bind(cases.iter().map(|(_, c)| c.area.prefix.as_str()).collect::<Vec<_>>())
    .bind(cases.iter().map(|(_, c)| c.area.grid_cell_id).collect::<Vec<_>>())
    .bind(earlier_only)
    .bind(MEAN_EARTH_RADIUS_M)
    .fetch_all(conn)
    .await
}
