//! Reading cases as a caller may see them: the filtered list, one case with its timeline
//! (the reporter audited when shown), and the answers to reports just written.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use wangge_analysis::sphere::{LonLat, MEAN_EARTH_RADIUS_M};

use crate::audit::{self, RequestMeta};
use crate::auth::Caller;
use crate::geocode::{self, Geocoded, Geocoder};
use crate::incidents::IncidentError;
use crate::incidents::answer::{CreatedAnswer, Details, Page, Reporter, Summary, TimelineEvent};
use crate::incidents::filters::IncidentFilters;
use crate::incidents::idempotency::Stored;
use crate::incidents::intake::{self, NewCase, Report};
use crate::incidents::lifecycle::{self, Actor, Case};
use crate::model::{IncidentSeverity, IncidentStatus, IncidentTier, open_statuses};
use crate::personal::{Cipher, mask_name, mask_phone};

/// Where a case is read (the `Location` of a report's answer).
pub fn location(id: i64) -> String {
    format!("/api/v1/incidents/{id}")
}

macro_rules! summary_select {
    () => {
        concat!(
            "SELECT i.id, i.title, i.category, i.severity::text, i.status::text, i.tier::text,
                i.status IN ",
            open_statuses!(),
            " AS open,
                i.status IN ",
            open_statuses!(),
            "
                    AND coalesce(i.due_at < now(), false) AS overdue,
                i.reported_at, i.updated_at, i.due_at,
                ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
                g.code AS grid_cell_code, v.code AS village_code, v.name AS village_name,
                t.name AS township_name, c.name AS county_name,
                i.assignee_id, w.name AS assignee_name,
                i.location_method::text, i.location_precision_m, i.leader
         FROM incident i
         LEFT JOIN admin_unit v ON v.id = i.village_id
         LEFT JOIN admin_unit t ON t.id = i.township_id
         LEFT JOIN admin_unit c ON c.id = i.county_id
         LEFT JOIN grid_cell g ON g.id = i.grid_cell_id
         LEFT JOIN grid_worker w ON w.id = i.assignee_id "
        )
    };
}

/// A list's filters and page, checked by the caller (the HTTP layer parses them).
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filters: IncidentFilters,
    /// Words in the title or description, or an incident id.
    pub q: Option<String>,
    /// An administrative unit's code inside the caller's area.
    pub area: Option<String>,
    pub overdue: Option<bool>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: i64,
    pub offset: i64,
}

/// The cases in `caller`'s area that `query` asks for: open ones first, the overdue first
/// among them, then by severity and age.
pub async fn list(pool: &PgPool, caller: &Caller, query: &ListQuery) -> Result<Page, sqlx::Error> {
    let (limit, offset, wanted) = (query.limit, query.offset, &query.filters);
    let q = query.q.clone();
    let q_id: Option<i64> = q.as_deref().and_then(|q| q.parse().ok());
    // Words are matched literally: LIKE's wildcards in them are escaped.
    let q_pattern = q.map(|q| {
        format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let filters = concat!(
        "WHERE i.area_code LIKE $1 || '%'
           AND ($2::int8 IS NULL OR i.grid_cell_id = $2)
           AND ($3::text[] IS NULL OR i.status::text = ANY ($3))
           AND (NOT $4::bool OR i.status IN ",
        open_statuses!(),
        ")
           AND ($5::text[] IS NULL OR i.tier::text = ANY ($5))
           AND ($6::text[] IS NULL OR i.category = ANY ($6))
           AND ($7::text IS NULL OR i.title LIKE $7 OR i.description LIKE $7 OR i.id = $8)
           AND ($9::text IS NULL OR i.area_code LIKE $9 || '%')
           AND ($10::bool IS NULL OR (i.status IN ",
        open_statuses!(),
        "
                                      AND coalesce(i.due_at < now(), false)) = $10)
           AND ($11::timestamptz IS NULL OR i.reported_at >= $11)
           AND ($12::timestamptz IS NULL OR i.reported_at < $12)
           AND ($13::text[] IS NULL OR i.severity::text = ANY ($13)) "
    );
    let count_sql = format!("SELECT count(*) FROM incident i {filters}");
    let items_sql = format!(
        "{} {filters} ORDER BY (i.status IN {open}) DESC, coalesce(i.due_at < now(), false) DESC,
                     i.severity DESC, i.reported_at DESC, i.id DESC
         LIMIT $14 OFFSET $15",
        summary_select!(),
        open = open_statuses!()
    );
    macro_rules! bind_filters {
        ($query:expr) => {
            $query
                .bind(&caller.area.prefix)
                .bind(caller.area.grid_cell_id)
                .bind(&wanted.statuses)
                .bind(wanted.open_only)
                .bind(&wanted.tiers)
                .bind(&wanted.categories)
                .bind(&q_pattern)
                .bind(q_id)
                .bind(&query.area)
                .bind(query.overdue)
                .bind(query.since)
                .bind(query.until)
                .bind(&wanted.severities)
        };
    }
    let total: i64 = bind_filters!(sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql)))
        .fetch_one(pool)
        .await?;
    let items: Vec<Summary> = bind_filters!(sqlx::query_as(sqlx::AssertSqlSafe(items_sql)))
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
    Ok(Page {
        total,
        limit,
        offset,
        items,
    })
}

/// One case as `caller` may see it, with its timeline. With `reveal` (false: masked, true:
/// in full) the reporter is included for the roles that handle personal data, and reading
/// them is audited on `conn`: call this inside the transaction that answers.
pub async fn load_details(
    conn: &mut PgConnection,
    cipher: &Cipher,
    caller: &Caller,
    meta: &RequestMeta,
    id: i64,
    reveal: Option<bool>,
) -> Result<Details, IncidentError> {
    let summary: Summary = sqlx::query_as(sqlx::AssertSqlSafe(concat!(
        summary_select!(),
        "WHERE i.id = $1 AND i.area_code LIKE $2 || '%'
           AND ($3::int8 IS NULL OR i.grid_cell_id = $3)"
    )))
    .bind(id)
    .bind(&caller.area.prefix)
    .bind(caller.area.grid_cell_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(IncidentError::NotFound)?;
    type Rest = (
        String,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        Option<i64>,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
        String,
    );
    let (
        description,
        address,
        media_url,
        channel,
        resolved_tier,
        resolved_at,
        closed_at,
        duplicate_of,
        name_enc,
        phone_enc,
        area_code,
    ): Rest = sqlx::query_as(
        "SELECT description, address, media_url, channel, resolved_tier::text, resolved_at, closed_at,
                duplicate_of, reporter_name_enc, reporter_phone_enc, area_code
         FROM incident WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let timeline: Vec<TimelineEvent> = sqlx::query_as(
        "SELECT e.at, e.kind::text, e.status::text, e.tier::text, e.actor,
                coalesce(uw.name, u.username, w.name) AS actor_name,
                coalesce(u.role::text, CASE WHEN w.id IS NOT NULL THEN 'grid_worker' END,
                         CASE WHEN e.actor IN ('citizen', 'system', 'dispatcher') THEN e.actor END)
                  AS actor_role,
                e.note
         FROM incident_event e
         LEFT JOIN app_user u ON e.actor LIKE 'user:%' AND u.username = substr(e.actor, 6)
         LEFT JOIN grid_worker uw ON uw.user_id = u.id
         LEFT JOIN grid_worker w
           ON w.id = CASE WHEN e.actor ~ '^grid_worker:[0-9]{1,18}$'
                          THEN substr(e.actor, 13)::int8 END
         WHERE e.incident_id = $1 ORDER BY e.at, e.id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let actions = {
        let (status, tier, severity, assignee_id): (
            IncidentStatus,
            IncidentTier,
            IncidentSeverity,
            Option<i64>,
        ) = sqlx::query_as(
            "SELECT status, tier, severity, assignee_id FROM incident WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
        let worker_id = caller.own_worker(&mut *conn).await?.map(|w| w.id);
        let case = Case {
            status,
            tier,
            severity,
            assignee_id,
        };
        lifecycle::available(
            &case,
            Actor {
                role: caller.role,
                worker_id,
            },
        )
    };
    let possible_duplicates = if summary.open {
        intake::possible_duplicates(conn, caller, id).await?
    } else {
        Vec::new()
    };
    let reporter = if let Some(reveal) = reveal
        && caller.role.handles_personal_data()
    {
        let open = |sealed: Option<Vec<u8>>| -> Result<Option<String>, IncidentError> {
            sealed
                .map(|s| cipher.open(&s).map_err(IncidentError::internal))
                .transpose()
        };
        let (name, phone) = (open(name_enc)?, open(phone_enc)?);
        let action = if reveal {
            "reveal_reporter"
        } else {
            "read_reporter"
        };
        let mut entry = caller.entry(action, "incident", id.to_string(), meta);
        entry.area_code = &area_code;
        audit::record(conn, &entry).await?;
        Some(if reveal {
            Reporter {
                name,
                phone,
                revealed: true,
            }
        } else {
            Reporter {
                name: name.as_deref().map(mask_name),
                phone: phone.as_deref().map(mask_phone),
                revealed: false,
            }
        })
    } else {
        None
    };
    Ok(Details {
        summary,
        description,
        address,
        media_url,
        channel,
        resolved_tier,
        resolved_at,
        closed_at,
        duplicate_of,
        possible_duplicates,
        reporter,
        timeline,
        photos: crate::photos::of_case(conn, id).await?,
        actions,
    })
}

/// An open case near a place about to be reported, and how far from it (m, on the sphere).
#[derive(Debug, Serialize)]
pub struct Nearby {
    #[serde(flatten)]
    pub summary: Summary,
    pub distance_m: f64,
}

/// What a report of `category` at `point` sent now would be told are its possible
/// duplicates, before it is sent: the open cases of that category within the category's
/// radius and time window that `caller` may see, nearest first, at most 5 (the same rules
/// as a written report's `possible_duplicates`).
pub async fn possible_duplicates_near(
    conn: &mut PgConnection,
    caller: &Caller,
    category: &str,
    point: LonLat,
) -> Result<Vec<Nearby>, IncidentError> {
    let rule = intake::category(conn, category).await?;
    let near: Vec<(i64, f64)> = sqlx::query_as(concat!(
        "WITH p AS (SELECT ST_SetSRID(ST_MakePoint($2, $3), 4326) AS geom)
         SELECT o.id, ST_Distance(o.geom::geography, p.geom::geography, false)
         FROM incident o, p
         WHERE o.category = $1 AND o.status IN ",
        open_statuses!(),
        "
           AND o.location_method <> 'area'
           AND o.reported_at >= now() - make_interval(hours => $5)
           AND ST_DWithin(o.geom, p.geom, degrees($4 / ($6::float8 * cos(radians($3)))))
           AND ST_DWithin(o.geom::geography, p.geom::geography, $4, false)
           AND o.area_code LIKE $7 || '%' AND ($8::int8 IS NULL OR o.grid_cell_id = $8)
         -- By distance alone, as a written report's search (`intake::duplicates_of`).
         ORDER BY o.geom <-> p.geom
         LIMIT 5"
    ))
    .bind(&rule.code)
    .bind(point.lon())
    .bind(point.lat())
    .bind(f64::from(rule.duplicate_radius_m))
    .bind(rule.duplicate_window_hours)
    .bind(MEAN_EARTH_RADIUS_M)
    .bind(&caller.area.prefix)
    .bind(caller.area.grid_cell_id)
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<i64> = near.iter().map(|(id, _)| *id).collect();
    let mut summaries: Vec<Summary> = sqlx::query_as(sqlx::AssertSqlSafe(concat!(
        summary_select!(),
        "WHERE i.id = ANY ($1)"
    )))
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut found: Vec<Nearby> = near
        .into_iter()
        .filter_map(|(id, distance_m)| {
            let at = summaries.iter().position(|s| s.id == id)?;
            Some(Nearby {
                summary: summaries.swap_remove(at),
                distance_m,
            })
        })
        .collect();
    found.sort_by(|a, b| {
        a.distance_m
            .total_cmp(&b.distance_m)
            .then(a.summary.id.cmp(&b.summary.id))
    });
    Ok(found)
}

/// The answers to reports just written (without their reporters, which the callers just
/// sent), in their order: built from what was written and what the insert returned, so they
/// need no second read; `tests/intake.rs` checks them against a later read.
pub fn created_answers(
    written: &[(&NewCase<'_>, &intake::Created)],
) -> Result<Vec<Stored>, IncidentError> {
    written
        .iter()
        .map(|(case, created)| {
            let summary = Summary {
                id: created.id,
                title: case.title().to_owned(),
                category: case.rule.code.clone(),
                severity: case.report.severity.as_str().to_owned(),
                status: "reported".into(),
                tier: "village".into(),
                open: true,
                overdue: created.due_at.is_some_and(|due| due < created.reported_at),
                reported_at: created.reported_at,
                updated_at: created.reported_at,
                due_at: created.due_at,
                lon: case.placement.point.lon(),
                lat: case.placement.point.lat(),
                grid_cell_code: created.names.grid_cell_code.clone(),
                village_code: created.names.village_code.clone(),
                village_name: created.names.village_name.clone(),
                township_name: created.names.township_name.clone(),
                county_name: created.names.county_name.clone(),
                assignee_id: None,
                assignee_name: None,
                location_method: case.placement.method.as_str().to_owned(),
                location_precision_m: case.placement.precision_m.map(|p| p as f32),
                leader: None,
            };
            let incident = Details {
                summary,
                description: case.report.description.clone(),
                address: case.report.address.clone(),
                media_url: case.report.media_url.clone(),
                channel: case.report.channel.as_str().to_owned(),
                resolved_tier: None,
                resolved_at: None,
                closed_at: None,
                duplicate_of: None,
                possible_duplicates: created.possible_duplicates.clone(),
                reporter: None,
                timeline: vec![TimelineEvent {
                    at: created.reported_at,
                    kind: "reported".into(),
                    status: "reported".into(),
                    tier: "village".into(),
                    actor: intake::actor(case.caller),
                    actor_name: Some(
                        case.caller
                            .worker_name
                            .clone()
                            .unwrap_or_else(|| case.caller.username.clone()),
                    ),
                    actor_role: Some(case.caller.role.as_str().to_owned()),
                    note: String::new(),
                }],
                photos: Vec::new(),
                actions: lifecycle::available(
                    &Case {
                        status: IncidentStatus::Reported,
                        tier: IncidentTier::Village,
                        severity: case.report.severity,
                        assignee_id: None,
                    },
                    // Whose worker the caller is matters only for a case assigned to them.
                    case.caller.role.into(),
                ),
            };
            let body = serde_json::to_vec(&CreatedAnswer {
                incident,
                geocoding: None,
            })
            .map_err(IncidentError::internal)?;
            Ok(Stored::created(body, location(created.id)))
        })
        .collect()
}

/// Places, routes and writes a checked report (both intake APIs come through here).
pub async fn intake_report(
    conn: &mut PgConnection,
    geocoder: &Geocoder,
    cipher: &Cipher,
    caller: &Caller,
    report: &Report,
) -> Result<(intake::Created, Option<Geocoded>), IncidentError> {
    let rule = intake::category(conn, &report.category).await?;
    let (placement, geocoding) = match (report.point, &report.address) {
        (Some(point), _) => {
            let route = intake::route_point(conn, point).await?.ok_or_else(|| {
                IncidentError::OutsideArea("the place is outside the city".into())
            })?;
            let placement = intake::Placement {
                point,
                method: crate::model::LocationMethod::Device,
                precision_m: report.accuracy_m,
                route,
            };
            (placement, None)
        }
        (None, Some(address)) => {
            let geocoded = geocoder
                .geocode(
                    conn,
                    address,
                    (&caller.area.prefix, caller.area.grid_cell_id),
                    5,
                )
                .await?;
            let placement = geocode::placement(conn, &geocoded, caller).await?;
            (placement, Some(geocoded))
        }
        (None, None) => {
            return Err(IncidentError::Invalid(
                "a location is required: a point (lon/lat), an address, or both".into(),
            ));
        }
    };
    intake::check_in_area(caller, &placement)?;
    let created = intake::create(conn, caller, cipher, report, &rule, &placement).await?;
    Ok((created, geocoding))
}
