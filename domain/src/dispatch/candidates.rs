//! `GET /api/v1/incidents/{id}/candidates`: the incident is read (one indexed row, kept in
//! memory until the change feed says it changed, and checked against the caller's area); the
//! ranking comes from the in-memory index.

use std::time::Duration;

use serde::Serialize;
use sqlx::PgPool;
use wangge_analysis::dispatch::{Candidate, Group, Reason, Request, Worker, WorkerStatus, rank};
use wangge_analysis::sphere::LonLat;

use crate::auth::{Area, Caller};
use crate::dispatch::Dispatch;
use crate::dispatch::DispatchError;

/// Most candidates one answer lists (workers of the incident's own cell come on top).
pub const MAX_LIMIT: usize = 50;

/// The incident as ranking needs it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Subject {
    pub id: i64,
    pub lon: f64,
    pub lat: f64,
    pub status: String,
    pub category: String,
    pub grid_cell_id: Option<i64>,
    pub township_id: Option<i64>,
    pub assignee_id: Option<i64>,
    /// The skill the category calls for.
    pub skill: Option<String>,
    /// The code of its smallest unit, for the area check.
    #[serde(skip)]
    pub area_code: String,
}

/// The columns of a [`Subject`], from `incident i` joined with `incident_category c`: every
/// query that reads subjects selects these.
macro_rules! subject_columns {
    () => {
        "i.id, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, i.status::text AS status, i.category,
         i.grid_cell_id, i.township_id, i.assignee_id, c.skill, i.area_code"
    };
}
pub(crate) use subject_columns;

/// How long a subject is served from memory at most: every change to an incident drops it
/// at once (by its change notice), but a category's skill changes without one.
const SUBJECT_MAX_AGE: Duration = Duration::from_secs(60);

/// Incident `id` if it is inside the caller's area: from memory when it was read since its
/// last change, else with one indexed read.
pub async fn subject(
    pool: &PgPool,
    dispatch: &Dispatch,
    caller: &Caller,
    id: i64,
) -> Result<Subject, DispatchError> {
    let subject = match dispatch.subjects.get(&id, SUBJECT_MAX_AGE) {
        Some(subject) => subject,
        None => {
            let ticket = dispatch.subjects.ticket();
            let subject: Subject = sqlx::query_as(concat!(
                "SELECT ",
                subject_columns!(),
                " FROM incident i JOIN incident_category c ON c.code = i.category
                 WHERE i.id = $1"
            ))
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(DispatchError::NotFound)?;
            dispatch.subjects.put(ticket, id, subject.clone());
            subject
        }
    };
    let inside = subject.area_code.starts_with(&caller.area.prefix)
        && caller
            .area
            .grid_cell_id
            .is_none_or(|cell| subject.grid_cell_id == Some(cell));
    // Outside the area is the same answer as no such incident.
    if inside {
        Ok(subject)
    } else {
        Err(DispatchError::NotFound)
    }
}

/// A reason, as clients read it: a stable code and what it refers to.
#[derive(Debug, Clone, Serialize)]
pub struct ReasonOut {
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grid_cell_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skill: Option<String>,
    /// For a stale position: its age in seconds (absent when none was ever reported).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_s: Option<i64>,
}

impl ReasonOut {
    fn new(reason: Reason, skill: Option<&str>) -> Self {
        let mut out = Self {
            code: "",
            worker_id: None,
            grid_cell_id: None,
            skill: None,
            age_s: None,
        };
        out.code = match reason {
            Reason::OwnCell => "own_cell",
            Reason::CoverFor(worker) => {
                out.worker_id = Some(worker);
                "cover_for"
            }
            Reason::NeighbourCell(cell) => {
                out.grid_cell_id = Some(cell);
                "neighbour_cell"
            }
            Reason::SameTownship => "same_township",
            Reason::Nearest => "nearest",
            Reason::HasSkill => {
                out.skill = skill.map(str::to_owned);
                "has_skill"
            }
            Reason::LacksSkill => {
                out.skill = skill.map(str::to_owned);
                "lacks_skill"
            }
            Reason::Stale(age) => {
                out.age_s = age;
                "stale"
            }
            Reason::Busy => "busy",
            Reason::OffDuty => "off_duty",
            Reason::AtCapacity => "at_capacity",
        };
        out
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CandidateOut {
    pub rank: usize,
    pub worker_id: i64,
    pub name: String,
    /// own_cell, cover, neighbour_cell, township, beyond, stale or unavailable.
    pub group: &'static str,
    pub status: &'static str,
    /// Along the sphere from the incident to the worker's last position, metres.
    pub distance_m: Option<f64>,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    /// Unix seconds of the last position.
    pub last_seen: Option<i64>,
    pub stale: bool,
    pub caseload: u32,
    pub capacity: u32,
    pub skills: Vec<String>,
    pub reasons: Vec<ReasonOut>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Candidates {
    pub incident: Subject,
    pub stale_after_s: i64,
    pub candidates: Vec<CandidateOut>,
}

pub fn group_name(group: Group) -> &'static str {
    match group {
        Group::OwnCell => "own_cell",
        Group::Cover => "cover",
        Group::NeighbourCell => "neighbour_cell",
        Group::Township => "township",
        Group::Beyond => "beyond",
        Group::Stale => "stale",
        Group::Unavailable => "unavailable",
    }
}

pub fn status_name(status: WorkerStatus) -> &'static str {
    match status {
        WorkerStatus::Available => "available",
        WorkerStatus::Busy => "busy",
        WorkerStatus::OffDuty => "off_duty",
    }
}

/// Ranks the workers for `subject` from the index, as of `now` (Unix seconds); with an
/// `area`, only workers inside it (whom its user may see and assign).
pub fn rank_for(
    dispatch: &Dispatch,
    subject: Subject,
    limit: usize,
    now: i64,
    area: Option<&Area>,
) -> Candidates {
    let stale_after_s = i64::try_from(dispatch.stale_after.as_secs()).unwrap_or(i64::MAX);
    let in_area = area.map(|area| dispatch.in_area(area));
    let admit = |w: &Worker| in_area.as_ref().is_none_or(|inside| inside(w));
    // The database keeps incidents on the globe (`incident_geom_lonlat`): one that is not
    // would have nobody near it.
    let Ok(at) = LonLat::new(subject.lon, subject.lat) else {
        return Candidates {
            incident: subject,
            stale_after_s,
            candidates: Vec::new(),
        };
    };
    let index = dispatch.read();
    let request = Request {
        at,
        cell: subject.grid_cell_id,
        township: subject.township_id,
        skill: subject.skill.as_deref(),
        now,
        stale_after_s,
        limit,
        admit: Some(&admit),
    };
    let ranked: Vec<Candidate> = rank(&index, &request);
    let candidates = ranked
        .into_iter()
        .filter_map(|c| {
            let worker = index.get(c.worker_id)?;
            Some(CandidateOut {
                rank: c.rank,
                worker_id: c.worker_id,
                name: worker.name.clone(),
                group: group_name(c.group),
                status: status_name(worker.status),
                distance_m: c.distance_m.map(|d| (d * 10.0).round() / 10.0),
                lon: worker.position.map(LonLat::lon),
                lat: worker.position.map(LonLat::lat),
                last_seen: worker.seen_at,
                stale: worker.is_stale(now, stale_after_s),
                caseload: c.caseload,
                capacity: c.capacity,
                skills: worker.skills.clone(),
                reasons: c
                    .reasons
                    .iter()
                    .map(|r| ReasonOut::new(*r, request.skill))
                    .collect(),
            })
        })
        .collect();
    drop(index);
    Candidates {
        incident: subject,
        stale_after_s,
        candidates,
    }
}
