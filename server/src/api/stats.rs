//! `GET /api/v1/stats/summary`: how many records of every kind the database holds.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::api::AppState;
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new().route("/stats/summary", get(summary))
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct AdminUnitCounts {
    pub city: i64,
    pub county: i64,
    pub township: i64,
    pub village: i64,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub admin_units: AdminUnitCounts,
    pub grid_plans: i64,
    /// Cells of the published plan.
    pub grid_cells: i64,
    pub households: i64,
    pub residents: i64,
    pub facilities: i64,
    pub grid_workers: i64,
    pub incidents: i64,
    pub incident_events: i64,
}

async fn summary(State(state): State<AppState>) -> Result<Json<Summary>, ApiError> {
    let admin_units: AdminUnitCounts = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE level = 'city') AS city,
                count(*) FILTER (WHERE level = 'county') AS county,
                count(*) FILTER (WHERE level = 'township') AS township,
                count(*) FILTER (WHERE level = 'village') AS village
         FROM admin_unit",
    )
    .fetch_one(&state.pool)
    .await?;
    let counts: (i64, i64, i64, i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM grid_plan),
                (SELECT count(*) FROM grid_cell g JOIN grid_plan p ON p.id = g.plan_id
                  WHERE p.status = 'published'),
                (SELECT count(*) FROM household),
                (SELECT count(*) FROM resident),
                (SELECT count(*) FROM facility),
                (SELECT count(*) FROM grid_worker),
                (SELECT count(*) FROM incident),
                (SELECT count(*) FROM incident_event)",
    )
    .fetch_one(&state.pool)
    .await?;
    let (
        grid_plans,
        grid_cells,
        households,
        residents,
        facilities,
        grid_workers,
        incidents,
        incident_events,
    ) = counts;
    Ok(Json(Summary {
        admin_units,
        grid_plans,
        grid_cells,
        households,
        residents,
        facilities,
        grid_workers,
        incidents,
        incident_events,
    }))
}
