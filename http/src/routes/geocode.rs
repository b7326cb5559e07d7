//! `GET /api/v1/geocode?q=` (an address to ranked places) and `GET /api/v1/reverse?lon=&lat=`
//! (a point to its units, grid cell and nearest address), for every signed-in user, inside
//! their area.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::SignedIn;
use crate::params::Params;
use crate::state::AppState;
use wangge_analysis::sphere::LonLat;
use wangge_domain::geocode::{self, Geocoded, Reverse};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/geocode", get(forward))
        .route("/reverse", get(reverse))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ForwardParams {
    q: String,
    /// Candidates to answer, 1..=20 (default 5).
    limit: Option<usize>,
}

async fn forward(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Params(params): Params<ForwardParams>,
) -> Result<Json<Geocoded>, ApiError> {
    let q = params.q.trim();
    if q.is_empty() || q.chars().count() > 300 {
        return Err(ApiError::InvalidParameter(
            "q must be an address of 1 to 300 characters".into(),
        ));
    }
    let limit = params.limit.unwrap_or(5);
    if !(1..=20).contains(&limit) {
        return Err(ApiError::InvalidParameter(format!(
            "limit {limit} is outside 1..=20"
        )));
    }
    let mut conn = state.pool.acquire().await?;
    let answer = state
        .geocoder
        .geocode(
            &mut conn,
            q,
            (&caller.area.prefix, caller.area.grid_cell_id),
            limit,
        )
        .await?;
    Ok(Json(answer))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReverseParams {
    lon: f64,
    lat: f64,
}

async fn reverse(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Params(params): Params<ReverseParams>,
) -> Result<Json<Reverse>, ApiError> {
    let point = LonLat::new(params.lon, params.lat)
        .map_err(|e| ApiError::InvalidParameter(e.to_string()))?;
    let mut conn = state.pool.acquire().await?;
    let (route, answer) = geocode::reverse(&mut conn, point)
        .await?
        .ok_or_else(|| ApiError::OutsideArea("the point is outside the city".into()))?;
    let in_cell = caller
        .area
        .grid_cell_id
        .is_none_or(|cell| route.grid_cell_id == Some(cell));
    if !route.area_code.starts_with(&caller.area.prefix) || !in_cell {
        return Err(ApiError::OutsideArea(format!(
            "the point is outside your area ({})",
            caller.area.name
        )));
    }
    Ok(Json(answer))
}
