//! Vector tiles: `GET /tiles/{layer}/{z}/{x}/{y}` (Mapbox Vector Tile 2.1), `GET /tiles/{layer}`
//! (TileJSON 3.0) and `GET /style.json` (a MapLibre style using them all).
//!
//! Tiles are read inside the caller's area, cached per area and filters in
//! [`wangge_domain::tile_cache`], and dropped from the cache by the changes that touch them.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use wangge_tiles::{MAX_ZOOM, TileCoord, TileJson, VectorLayer};

use crate::error::ApiError;
use crate::extract::SignedIn;
use crate::params::Params;
use crate::state::AppState;
use wangge_domain::auth::{Area, Caller};
use wangge_domain::incidents::filters::IncidentFilters;
use wangge_domain::tile_cache::{CachedTile, Generation, TileAddress, TileVariant};
use wangge_domain::tile_layers::{TileFilters, TileLayer};
use wangge_domain::tile_render::{self, TileError};

pub const MVT_CONTENT_TYPE: &str = "application/vnd.mapbox-vector-tile";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tiles/{layer}", get(tilejson))
        .route("/tiles/{layer}/{z}/{x}/{y}", get(tile))
        .route("/style.json", get(style))
}

/// Filters a tile URL may carry: the incidents' and the grid plan's.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TileParams {
    /// Comma-separated statuses, or `open` for every open one.
    status: Option<String>,
    /// Comma-separated category codes.
    category: Option<String>,
    /// Comma-separated tiers.
    tier: Option<String>,
    /// Comma-separated severities.
    severity: Option<String>,
    #[serde(default, deserialize_with = "crate::params::optional_instant")]
    since: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "crate::params::optional_instant")]
    until: Option<DateTime<Utc>>,
    /// A grid plan version (a draft); the published plan when absent.
    plan: Option<i32>,
}

impl TileParams {
    /// The filters `layer` takes, validated: another layer's filter is refused.
    fn filters_for(self, layer: TileLayer) -> Result<TileFilters, ApiError> {
        let params = self;
        let incident_filters = params.status.is_some()
            || params.category.is_some()
            || params.tier.is_some()
            || params.severity.is_some()
            || params.since.is_some()
            || params.until.is_some();
        if incident_filters && !matches!(layer, TileLayer::Incidents | TileLayer::Hexagons) {
            return Err(ApiError::InvalidParameter(format!(
                "status, category, tier, severity, since and until filter the incidents and \
                 hexagons layers, not {layer}"
            )));
        }
        if params.plan.is_some() && layer != TileLayer::GridCells {
            return Err(ApiError::InvalidParameter(format!(
                "plan selects the grid-cells layer's plan, not {layer}'s"
            )));
        }
        let incidents =
            IncidentFilters::parse(params.status, params.category, params.tier, params.severity)
                .map_err(ApiError::InvalidParameter)?;
        // Whole minutes: filters that differ by seconds would each need a tile of their own,
        // and anyone could keep the server rendering by counting them up.
        let (since, until) = (params.since.map(to_minute), params.until.map(to_minute));
        if let (Some(since), Some(until)) = (since, until)
            && since >= until
        {
            return Err(ApiError::InvalidParameter(
                "since must be before until".into(),
            ));
        }
        Ok(TileFilters {
            incidents,
            since,
            until,
            plan: params.plan,
        })
    }
}

/// The start of the minute holding `at`.
fn to_minute(at: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{DurationRound, TimeDelta};
    at.duration_trunc(TimeDelta::minutes(1)).unwrap_or(at)
}

/// `z/x/y` parsed into a valid tile, or a 400 saying what is wrong.
fn tile_coord(z: &str, x: &str, y: &str) -> Result<TileCoord, ApiError> {
    let number = |what: &str, text: &str| -> Result<u32, ApiError> {
        text.parse::<u32>().map_err(|_| {
            ApiError::InvalidParameter(format!("tile {what} `{text}` is not a whole number"))
        })
    };
    let z = number("zoom", z)?;
    let z = u8::try_from(z)
        .ok()
        .filter(|z| *z <= MAX_ZOOM)
        .ok_or_else(|| {
            ApiError::InvalidParameter(format!("zoom {z} is beyond the maximum {MAX_ZOOM}"))
        })?;
    TileCoord::new(z, number("x", x)?, number("y", y)?)
        .map_err(|e| ApiError::InvalidParameter(e.to_string()))
}

async fn tile(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path((layer, z, x, y)): Path<(String, String, String, String)>,
    Params(params): Params<TileParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let layer: TileLayer =
        layer
            .parse()
            .map_err(|e: wangge_domain::tile_layers::UnknownLayer| {
                ApiError::InvalidParameter(e.to_string())
            })?;
    let coord = tile_coord(&z, &x, &y)?;
    let filters = params.filters_for(layer)?;
    // A draft is its planners' alone: to anyone else it does not exist.
    if let Some(version) = filters.plan
        && wangge_domain::plans::readable_plan_id(&state.pool, &caller, version)
            .await?
            .is_none()
    {
        return Err(ApiError::NotFound);
    }
    let address = TileAddress {
        layer,
        z: coord.z(),
        x: coord.x(),
        y: coord.y(),
    };
    let variant = TileVariant {
        area_prefix: caller.area.prefix.clone(),
        grid_cell_id: caller.area.grid_cell_id,
        filters,
    };
    // A tile rendered now reads the database as it is, so it shows every change committed
    // before this request. A cached one does only once every such change has dropped its
    // tiles: the read barrier. Without the listener a tile is rendered and not kept (a
    // change then would not drop it).
    let listening = state.live.is_listening();
    let cached = match cached_current(&state, address, &variant, listening).await {
        Some(tile) => tile,
        None => match from_memory(&state, address, &caller.area, &variant, listening).await {
            Some((tile, seen)) => {
                let tile = tile?;
                state
                    .tile_cache
                    .insert(address, &variant, tile.clone(), seen);
                tile
            }
            None => render(&state, &caller, address, coord, &variant, listening).await?,
        },
    };
    Ok(tile_response(&cached, &headers))
}

/// Renders a tile from the database, with one of the caller's render slots, and keeps it
/// if nothing changed meanwhile.
async fn render(
    state: &AppState,
    caller: &Caller,
    address: TileAddress,
    coord: TileCoord,
    variant: &TileVariant,
    listening: bool,
) -> Result<CachedTile, ApiError> {
    let _slot = state.tile_renders.acquire(caller.user_id).await;
    // Another request of this user may have rendered it while this one waited.
    if let Some(tile) = cached_current(state, address, variant, listening).await {
        return Ok(tile);
    }
    let seen = state.tile_cache.generation();
    let tile = tile_render::render(
        &state.tile_pool,
        &caller.area,
        address.layer,
        coord,
        &variant.filters,
        state.config.worker_stale_after,
    )
    .await?;
    if listening {
        // Not kept if a change came in since `seen` (or the listener lost its connection):
        // the tile may predate it.
        state
            .tile_cache
            .insert(address, variant, tile.clone(), seen);
    }
    Ok(tile)
}

/// A layer kept in memory (the published grid's cells, the households) tiled from there,
/// past the read barrier (the memory is current once every earlier change has been heard),
/// with the cache generation it was read at; `None` for other layers, drafts, or when the
/// memory cannot tell.
async fn from_memory(
    state: &AppState,
    address: TileAddress,
    area: &Area,
    variant: &TileVariant,
    listening: bool,
) -> Option<(Result<CachedTile, TileError>, Generation)> {
    let coord = TileCoord::new(address.z, address.x, address.y).ok()?;
    // No barrier round trip for a tile the memory could not serve anyway.
    if !listening
        || variant.filters.plan.is_some()
        || !state.memory_tiles.may_render(address.layer, coord)
    {
        return None;
    }
    if let Err(error) = state.live.tiles_current().await {
        tracing::warn!(%error, layer = %address.layer, "tile read from the database: cannot tell whether memory is current");
        return None;
    }
    let seen = state.tile_cache.generation();
    Some((state.memory_tiles.render(address.layer, coord, area)?, seen))
}

/// The cached tile, once the read barrier has shown that no change committed before now
/// has yet to drop it; `None` to render it.
async fn cached_current(
    state: &AppState,
    address: TileAddress,
    variant: &TileVariant,
    listening: bool,
) -> Option<CachedTile> {
    if !listening {
        return None;
    }
    // Nothing cached: nothing to wait for.
    if !state.tile_cache.holds(address, variant) {
        return None;
    }
    match state.live.tiles_current().await {
        // Looked up again: the barrier may have dropped it.
        Ok(()) => state.tile_cache.get(address, variant),
        Err(error) => {
            tracing::warn!(%error, "tile rendered afresh: cannot tell whether the cached one is stale");
            None
        }
    }
}

fn tile_response(tile: &CachedTile, request: &HeaderMap) -> Response {
    let etag = HeaderValue::from_str(&tile.etag).expect("an ETag is hex in quotes");
    let matches = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == tile.etag || t.trim() == "*")
        });
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, etag);
    // Private: a tile shows the caller's area. no-cache: always revalidate, since the tile
    // changes when the city does; an unchanged tile costs a 304.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Accept-Encoding, Cookie, Authorization"),
    );
    if matches {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(MVT_CONTENT_TYPE),
    );
    let gzip_accepted = request
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    if gzip_accepted && !tile.gzip.is_empty() {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        (headers, tile.gzip.clone()).into_response()
    } else {
        (headers, tile.raw.clone()).into_response()
    }
}

/// The scheme and host the client reached us by, for absolute URLs in TileJSON and styles.
fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
        })
        .unwrap_or("127.0.0.1:8080");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

async fn tilejson(
    SignedIn(caller): SignedIn,
    Path(layer): Path<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    Params(params): Params<TileParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let _ = caller;
    let layer: TileLayer =
        layer
            .parse()
            .map_err(|e: wangge_domain::tile_layers::UnknownLayer| {
                ApiError::InvalidParameter(e.to_string())
            })?;
    params.filters_for(layer)?;
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    Ok(axum::Json(layer_tilejson(layer, &origin(&headers), &query)?).into_response())
}

fn layer_tilejson(layer: TileLayer, origin: &str, query: &str) -> Result<TileJson, ApiError> {
    let internal = |e: wangge_tiles::TileJsonError| ApiError::internal(e.to_string());
    let mut vector_layer = VectorLayer::new(layer.name())
        .description(layer.description())
        .zoom_range(layer.min_zoom(), MAX_ZOOM)
        .map_err(internal)?;
    for (name, description) in layer.fields() {
        vector_layer = vector_layer.field(*name, *description);
    }
    TileJson::new([format!(
        "{origin}/tiles/{}/{{z}}/{{x}}/{{y}}{query}",
        layer.name()
    )])
    .map_err(internal)?
    .name(layer.name())
    .description(layer.description())
    .attribution("wangge; divisions: National Bureau of Statistics of China")
    .zoom_range(layer.min_zoom(), MAX_ZOOM)
    .map_err(internal)?
    .vector_layer(vector_layer)
    .map_err(internal)
}

/// A MapLibre style using every layer: no basemap, no glyphs (so it needs no internet).
async fn style(SignedIn(caller): SignedIn, headers: HeaderMap) -> Result<Response, ApiError> {
    let _ = caller;
    let origin = origin(&headers);
    let mut sources = serde_json::Map::new();
    for layer in TileLayer::ALL {
        sources.insert(
            layer.name().to_owned(),
            json!({ "type": "vector", "url": format!("{origin}/tiles/{}", layer.name()) }),
        );
    }
    let open = json!(["==", ["get", "open"], true]);
    let style = json!({
        "version": 8,
        "name": "wangge",
        "center": [102.55, 24.35],
        "zoom": 9,
        "sources": sources,
        "layers": [
            { "id": "background", "type": "background", "paint": { "background-color": "#f4f1ea" } },
            { "id": "grid-cells-load", "type": "fill", "source": "grid-cells", "source-layer": "grid-cells",
              "paint": { "fill-color": ["interpolate", ["linear"], ["get", "open_incidents"],
                                         0, "#eef6ee", 2, "#fde9a8", 5, "#f6a05a", 10, "#d7301f"],
                         "fill-opacity": 0.6 } },
            { "id": "incidents-heat", "type": "heatmap", "source": "incidents", "source-layer": "incidents",
              "maxzoom": 13, "filter": ["has", "count"],
              "paint": { "heatmap-weight": ["interpolate", ["linear"], ["get", "count"], 0, 0, 50, 1],
                         "heatmap-radius": 18, "heatmap-opacity": 0.7 } },
            { "id": "hexagons", "type": "fill", "source": "hexagons", "source-layer": "hexagons",
              "minzoom": 13,
              "paint": { "fill-color": ["interpolate", ["linear"], ["get", "count"],
                                         1, "#fff3b0", 10, "#f6a05a", 50, "#d7301f"],
                         "fill-opacity": 0.55 } },
            { "id": "grid-cells-outline", "type": "line", "source": "grid-cells", "source-layer": "grid-cells",
              "paint": { "line-color": "#8aa08a", "line-width": 0.5 } },
            { "id": "villages-outline", "type": "line", "source": "villages", "source-layer": "villages",
              "paint": { "line-color": "#6b8e6b", "line-width": 0.8 } },
            { "id": "townships-outline", "type": "line", "source": "townships", "source-layer": "townships",
              "paint": { "line-color": "#4a6a8a", "line-width": 1.4 } },
            { "id": "counties-outline", "type": "line", "source": "counties", "source-layer": "counties",
              "paint": { "line-color": "#233b5d", "line-width": 2.4 } },
            { "id": "households", "type": "circle", "source": "households", "source-layer": "households",
              "minzoom": 14, "paint": { "circle-radius": 1.5, "circle-color": "#9a8c7a" } },
            { "id": "facilities", "type": "circle", "source": "facilities", "source-layer": "facilities",
              "paint": { "circle-radius": 4, "circle-color": "#2b6cb0", "circle-stroke-color": "#fff",
                         "circle-stroke-width": 1 } },
            { "id": "incidents", "type": "circle", "source": "incidents", "source-layer": "incidents",
              "filter": open,
              "paint": {
                  "circle-radius": ["match", ["get", "tier"], "city", 9, "county", 8, "township", 6.5, 5],
                  "circle-color": ["match", ["get", "status"],
                                   "reported", "#e53e3e", "assigned", "#dd6b20",
                                   "accepted", "#d69e2e", "in_progress", "#3182ce", "#718096"],
                  "circle-stroke-color": ["case", ["get", "overdue"], "#000000", "#ffffff"],
                  "circle-stroke-width": ["case", ["get", "overdue"], 2.5, 1] } },
            { "id": "workers", "type": "circle", "source": "workers", "source-layer": "workers",
              "paint": {
                  "circle-radius": 4,
                  "circle-color": ["case", ["get", "stale"], "#a0aec0",
                                   ["match", ["get", "status"], "available", "#38a169",
                                    "busy", "#805ad5", "#a0aec0"]],
                  "circle-stroke-color": "#ffffff", "circle-stroke-width": 1 } }
        ]
    });
    Ok(axum::Json(style).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_coordinates_out_of_range_are_refused_with_the_reason() {
        assert!(tile_coord("10", "803", "440").is_ok());
        for (z, x, y) in [
            ("23", "0", "0"),
            ("3", "8", "0"),
            ("3", "0", "8"),
            ("-1", "0", "0"),
            ("a", "0", "0"),
            ("3", "1.5", "0"),
            ("99999999999", "0", "0"),
        ] {
            assert!(tile_coord(z, x, y).is_err(), "{z}/{x}/{y}");
        }
    }

    #[test]
    fn filters_belong_to_their_layer_and_are_canonical() {
        let params = |status: &str| TileParams {
            status: Some(status.into()),
            ..TileParams::default()
        };
        let a = params("resolved,reported")
            .filters_for(TileLayer::Incidents)
            .unwrap();
        let b = params("reported,resolved")
            .filters_for(TileLayer::Incidents)
            .unwrap();
        assert_eq!(a, b, "equal filters key the cache alike");
        assert!(params("lost").filters_for(TileLayer::Incidents).is_err());
        assert!(params("open").filters_for(TileLayer::Workers).is_err());
        let plan = TileParams {
            plan: Some(2),
            ..TileParams::default()
        };
        assert!(plan.filters_for(TileLayer::Incidents).is_err());
    }
}
