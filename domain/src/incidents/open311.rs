//! Cases as Open311 GeoReport v2 reads and files them: the request rows a list or a look-up
//! answers, a request found by its token, and a report placed at a register address. The
//! HTTP layer writes them in the spec's JSON or XML.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use wangge_analysis::sphere::LonLat;

use crate::auth::{Area, Caller};
use crate::incidents::IncidentError;
use crate::incidents::intake::{self, Placement, Report};
use crate::model::{LocationMethod, open_statuses};
use crate::personal::Cipher;

/// Most requests one list answers.
pub const MAX_REQUESTS: i64 = 1000;

/// Which requests a list wants.
#[derive(Debug, Default)]
pub struct RequestFilter {
    pub ids: Option<Vec<i64>>,
    pub codes: Option<Vec<String>>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// `Some(true)`: open only; `Some(false)`: closed only.
    pub open: Option<bool>,
}

impl RequestFilter {
    /// The requests with these ids.
    pub fn ids(ids: Vec<i64>) -> Self {
        Self {
            ids: Some(ids),
            ..Self::default()
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct RequestRow {
    pub id: i64,
    pub status: String,
    pub category: String,
    pub category_name: String,
    pub description: String,
    pub agency: Option<String>,
    pub status_notes: Option<String>,
    pub reported_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub address: Option<String>,
    pub media_url: Option<String>,
    pub lon: f64,
    pub lat: f64,
    pub tier: String,
    pub assignee_id: Option<i64>,
    pub assignee_name: Option<String>,
    pub grid_cell_code: Option<String>,
    pub leader: Option<String>,
    pub location_method: String,
}

/// Requests matching `filter` in `area`, newest first.
pub async fn requests(
    conn: &mut PgConnection,
    area: &Area,
    filter: &RequestFilter,
) -> Result<Vec<RequestRow>, sqlx::Error> {
    let rows: Vec<RequestRow> = sqlx::query_as(concat!(
        "SELECT i.id, i.status::text, i.category, c.name_zh AS category_name, i.description,
                CASE i.tier WHEN 'village' THEN v.name WHEN 'township' THEN t.name
                            WHEN 'county' THEN co.name
                            ELSE (SELECT name FROM admin_unit WHERE level = 'city' ORDER BY id LIMIT 1)
                END AS agency,
                -- Only notes meant for the reporter: how the case ended. Working notes stay
                -- inside (they may name people).
                (SELECT e.note FROM incident_event e WHERE e.incident_id = i.id AND e.note <> ''
                   AND e.kind IN ('resolved', 'closed', 'rejected', 'marked_duplicate')
                 ORDER BY e.at DESC, e.id DESC LIMIT 1) AS status_notes,
                i.reported_at, i.updated_at, i.due_at, i.address, i.media_url,
                ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, i.tier::text,
                i.assignee_id, w.name AS assignee_name, g.code AS grid_cell_code, i.leader,
                i.location_method::text
         FROM incident i
         JOIN incident_category c ON c.code = i.category
         LEFT JOIN admin_unit v ON v.id = i.village_id
         LEFT JOIN admin_unit t ON t.id = i.township_id
         LEFT JOIN admin_unit co ON co.id = i.county_id
         LEFT JOIN grid_worker w ON w.id = i.assignee_id
         LEFT JOIN grid_cell g ON g.id = i.grid_cell_id
         WHERE i.area_code LIKE $1 || '%' AND ($2::int8 IS NULL OR i.grid_cell_id = $2)
           AND ($3::int8[] IS NULL OR i.id = ANY ($3))
           AND ($4::text[] IS NULL OR i.category = ANY ($4))
           AND ($5::timestamptz IS NULL OR i.reported_at >= $5)
           AND ($6::timestamptz IS NULL OR i.reported_at <= $6)
           AND ($7::bool IS NULL
                OR (i.status IN ",
        open_statuses!(),
        ") = $7)
         ORDER BY i.reported_at DESC, i.id DESC
         LIMIT $8"
    ))
    .bind(&area.prefix)
    .bind(area.grid_cell_id)
    .bind(&filter.ids)
    .bind(&filter.codes)
    .bind(filter.start)
    .bind(filter.end)
    .bind(filter.open)
    .bind(MAX_REQUESTS)
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

/// The id of the request a token was given for, in `area`.
pub async fn id_by_token(
    pool: &PgPool,
    area: &Area,
    token: uuid::Uuid,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM incident WHERE open311_token = $1 AND area_code LIKE $2 || '%'
           AND ($3::int8 IS NULL OR grid_cell_id = $3)",
    )
    .bind(token)
    .bind(&area.prefix)
    .bind(area.grid_cell_id)
    .fetch_optional(pool)
    .await
}

/// Intake at a register address given by id (the spec's `address_id`).
pub async fn intake_at_address(
    conn: &mut PgConnection,
    cipher: &Cipher,
    caller: &Caller,
    report: &Report,
    address_id: i64,
) -> Result<intake::Created, IncidentError> {
    let rule = intake::category(conn, &report.category).await?;
    let found: Option<(f64, f64, String)> =
        sqlx::query_as("SELECT ST_X(geom), ST_Y(geom), address FROM address_point WHERE id = $1")
            .bind(address_id)
            .fetch_optional(&mut *conn)
            .await?;
    let (lon, lat, address) = found.ok_or(IncidentError::UnknownAddress(address_id))?;
    let point = LonLat::new(lon, lat).map_err(IncidentError::internal)?;
    let route = intake::route_point(conn, point)
        .await?
        .ok_or_else(|| IncidentError::OutsideArea("the address is outside the city".into()))?;
    let placement = Placement {
        point,
        method: LocationMethod::Geocoded,
        precision_m: Some(30.0),
        route,
    };
    intake::check_in_area(caller, &placement)?;
    let mut report = report.clone();
    report.address = Some(address);
    intake::create(conn, caller, cipher, &report, &rule, &placement).await
}
