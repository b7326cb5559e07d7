//! What a reader is told about cases: a list's rows, one case's details and timeline, and the
//! answer to a report. Read by `incidents::read`, sent as JSON by the HTTP layer.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::geocode::Geocoded;

/// One incident in a list: where, what, how far along, and who has it.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Summary {
    pub id: i64,
    pub title: String,
    pub category: String,
    pub severity: String,
    pub status: String,
    pub tier: String,
    pub open: bool,
    pub overdue: bool,
    pub reported_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub lon: f64,
    pub lat: f64,
    pub grid_cell_code: Option<String>,
    pub village_code: Option<String>,
    pub village_name: Option<String>,
    pub township_name: Option<String>,
    pub county_name: Option<String>,
    pub assignee_id: Option<i64>,
    pub assignee_name: Option<String>,
    /// `device`, `geocoded`, `manual`, or `area` (waiting for a dispatcher to place it).
    pub location_method: String,
    /// Metres within which the true place lies, when known.
    pub location_precision_m: Option<f32>,
    pub leader: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Page {
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
    pub items: Vec<Summary>,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct TimelineEvent {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub status: String,
    pub tier: String,
    /// As stored: `user:NAME`, `grid_worker:ID`, `citizen`, `system`, `dispatcher` (the demo).
    pub actor: String,
    /// Who that is: a user's username, a grid worker's name.
    pub actor_name: Option<String>,
    /// Their role (`operator`, `dispatcher`, `worker`, … for users; `grid_worker`), or what
    /// the actor is (`citizen`, `system`).
    pub actor_role: Option<String>,
    pub note: String,
}

#[derive(Debug, Serialize)]
pub struct Reporter {
    pub name: Option<String>,
    pub phone: Option<String>,
    /// True when shown in full.
    pub revealed: bool,
}

#[derive(Debug, Serialize)]
pub struct Details {
    #[serde(flatten)]
    pub summary: Summary,
    pub description: String,
    pub address: Option<String>,
    pub media_url: Option<String>,
    /// `api`, `open311`, `demo` or `simulator`.
    pub channel: String,
    pub resolved_tier: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub duplicate_of: Option<i64>,
    /// Open cases of the same category close by in space and time, nearest first.
    pub possible_duplicates: Vec<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporter: Option<Reporter>,
    pub timeline: Vec<TimelineEvent>,
    /// Photos taken with the report and the resolution, oldest first (their bytes are read
    /// one by one, audited).
    pub photos: Vec<crate::photos::Photo>,
    /// What the caller may do to the case now (`POST …/actions` names), by the same rules
    /// the actions themselves check: a client shows these and no others.
    pub actions: Vec<&'static str>,
}

/// The answer to a report: the case as stored, and how its place was found.
#[derive(Debug, Serialize)]
pub struct CreatedAnswer {
    #[serde(flatten)]
    pub incident: Details,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geocoding: Option<Geocoded>,
}
