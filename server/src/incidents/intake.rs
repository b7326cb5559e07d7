//! Taking a report in: check it, place it (device GPS, the address register, or only its
//! administrative unit), route it to its grid cell, village, township and county, and write
//! it with its first timeline event and audit row, all in the caller's transaction.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::audit::{self, RequestMeta};
use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::incidents::lifecycle::LonLat;
use crate::model::{IncidentSeverity, LocationMethod};
use crate::personal::Cipher;

/// How the report reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Api,
    Open311,
}

impl Channel {
    fn as_str(self) -> &'static str {
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
    pub channel: Channel,
}

impl Report {
    /// Checks what can be checked without the database.
    pub fn validate(&mut self) -> Result<(), ApiError> {
        let invalid = |m: String| Err(ApiError::InvalidField(m));
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
    // Township and county follow from the village, so the chain is always consistent; a
    // point outside every grid cell (imported grids need not cover everything) still finds
    // its units by their own boundaries.
    let route: Route = sqlx::query_as(
        "WITH pt AS (SELECT ST_SetSRID(ST_MakePoint($1, $2), 4326) AS g),
         cell AS (
             SELECT c.id, c.village_id FROM grid_cell c
             JOIN grid_plan p ON p.id = c.plan_id AND p.status = 'published', pt
             WHERE ST_Intersects(c.geom, pt.g) ORDER BY c.id LIMIT 1),
         village AS (
             SELECT coalesce((SELECT village_id FROM cell),
                             (SELECT a.id FROM admin_unit a, pt WHERE a.level = 'village'
                                AND ST_Intersects(a.geom, pt.g) ORDER BY a.id LIMIT 1)) AS id),
         township AS (
             SELECT coalesce((SELECT a.parent_id FROM admin_unit a, village v WHERE a.id = v.id),
                             (SELECT a.id FROM admin_unit a, pt WHERE a.level = 'township'
                                AND ST_Intersects(a.geom, pt.g) ORDER BY a.id LIMIT 1)) AS id),
         county AS (
             SELECT coalesce((SELECT a.parent_id FROM admin_unit a, township t WHERE a.id = t.id),
                             (SELECT a.id FROM admin_unit a, pt WHERE a.level = 'county'
                                AND ST_Intersects(a.geom, pt.g) ORDER BY a.id LIMIT 1)) AS id)
         SELECT (SELECT id FROM cell) AS grid_cell_id, (SELECT id FROM village) AS village_id,
                (SELECT id FROM township) AS township_id, (SELECT id FROM county) AS county_id,
                coalesce((SELECT a.code FROM admin_unit a
                          WHERE a.id = coalesce((SELECT id FROM village), (SELECT id FROM township),
                                                (SELECT id FROM county))), '') AS area_code",
    )
    .bind(point.lon())
    .bind(point.lat())
    .fetch_one(conn)
    .await?;
    Ok(route.county_id.is_some().then_some(route))
}

/// A placement at an administrative unit's centre, for a report whose address named the unit
/// but no address in it: the case waits for a dispatcher to place it.
pub async fn place_at_unit(conn: &mut PgConnection, unit_id: i64) -> Result<Placement, ApiError> {
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
        point: LonLat::new(lon, lat).map_err(ApiError::internal)?,
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
pub fn check_in_area(caller: &Caller, placement: &Placement) -> Result<(), ApiError> {
    if placement.route.area_code.starts_with(&caller.area.prefix) {
        Ok(())
    } else {
        Err(ApiError::OutsideArea(format!(
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

pub async fn category(conn: &mut PgConnection, code: &str) -> Result<CategoryRule, ApiError> {
    sqlx::query_as(
        "SELECT code, name_zh, duplicate_radius_m, duplicate_window_hours
         FROM incident_category WHERE code = $1",
    )
    .bind(code)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| {
        ApiError::InvalidField(format!(
            "unknown category `{code}`; GET /api/v1/incident-categories lists them"
        ))
    })
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Created {
    pub id: i64,
    pub reported_at: DateTime<Utc>,
    pub open311_token: Uuid,
    pub area_code: String,
    pub method: LocationMethod,
    /// Open cases of the same category close by in space and time, nearest first.
    pub possible_duplicates: Vec<i64>,
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
) -> Result<Created, ApiError> {
    let title = report.title.clone().unwrap_or_else(|| rule.name_zh.clone());
    let token = Uuid::new_v4();
    let (id, reported_at): (i64, DateTime<Utc>) = sqlx::query_as(
        "INSERT INTO incident (category, severity, title, description, geom, grid_cell_id,
                               village_id, township_id, county_id, area_code, due_at,
                               reporter_name_enc, reporter_phone_enc, address, location_method,
                               location_precision_m, channel, reported_by, open311_token)
         VALUES ($1, $2, $3, $4, ST_SetSRID(ST_MakePoint($5, $6), 4326), $7, $8, $9, $10, $11,
                 now() + wangge_deadline($1, $2, 'village'), $12, $13, $14, $15, $16, $17, $18, $19)
         RETURNING id, reported_at",
    )
    .bind(&rule.code)
    .bind(report.severity)
    .bind(&title)
    .bind(&report.description)
    .bind(placement.point.lon())
    .bind(placement.point.lat())
    .bind(placement.route.grid_cell_id)
    .bind(placement.route.village_id)
    .bind(placement.route.township_id)
    .bind(placement.route.county_id)
    .bind(&placement.route.area_code)
    .bind(report.reporter_name.as_deref().map(|n| cipher.seal(n)))
    .bind(report.reporter_phone.as_deref().map(|p| cipher.seal(p)))
    .bind(&report.address)
    .bind(placement.method)
    .bind(placement.precision_m.map(|p| p as f32))
    .bind(report.channel.as_str())
    .bind(caller.user_id)
    .bind(token)
    .fetch_one(&mut *conn)
    .await?;
    let note = match placement.method {
        LocationMethod::Area => "位置待定：请调度员在地图上标定",
        _ => "",
    };
    sqlx::query(
        "INSERT INTO incident_event (incident_id, at, kind, status, tier, actor, note)
         VALUES ($1, $2, 'reported', 'reported', 'village', $3, $4)",
    )
    .bind(id)
    .bind(reported_at)
    .bind(actor(caller))
    .bind(note)
    .execute(&mut *conn)
    .await?;
    let possible_duplicates = if placement.method == LocationMethod::Area {
        Vec::new()
    } else {
        possible_duplicates(conn, id).await?
    };
    Ok(Created {
        id,
        reported_at,
        open311_token: token,
        area_code: placement.route.area_code.clone(),
        method: placement.method,
        possible_duplicates,
    })
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
    let mut entry = caller.entry("create", "incident", created.id.to_string(), meta);
    entry.area_code = &created.area_code;
    audit::record(conn, &entry).await
}

/// How a user appears on a timeline.
pub fn actor(caller: &Caller) -> String {
    format!("user:{}", caller.username)
}

/// Open cases of the same category within the category's radius and time window of case
/// `id`, nearest first (at most 5). Cases placed only by their unit are too vague to compare.
pub async fn possible_duplicates(
    conn: &mut PgConnection,
    id: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT o.id
         FROM incident i
         JOIN incident_category c ON c.code = i.category
         JOIN incident o ON o.category = i.category AND o.id <> i.id
              AND o.status IN ('reported', 'assigned', 'accepted', 'in_progress')
              AND o.location_method <> 'area'
              AND o.reported_at BETWEEN i.reported_at - make_interval(hours => c.duplicate_window_hours)
                                    AND i.reported_at + make_interval(hours => c.duplicate_window_hours)
              AND ST_DWithin(o.geom::geography, i.geom::geography, c.duplicate_radius_m)
         WHERE i.id = $1 AND i.location_method <> 'area'
         ORDER BY ST_Distance(o.geom::geography, i.geom::geography), o.id
         LIMIT 5",
    )
    .bind(id)
    .fetch_all(conn)
    .await
}
