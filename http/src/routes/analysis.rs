//! Heat maps and hotspots over the incidents in the caller's area:
//! `GET /api/v1/analysis/aggregates` (counts per place), `/hotspots` (Getis-Ord Gi*),
//! `/local-moran` (Local Moran's I), `/emerging` (emerging hot spots); and
//! `POST /api/v1/analysis/gistar`, Gi* on the caller's own FeatureCollection.
//!
//! Places are H3 hexagons (`unit=h3:5`…`h3:9`), grid cells, villages or townships; the
//! incident filters are the tiles' (`status`, `category`, `tier`, `severity`, `since`,
//! `until`). Statistics run on a blocking thread, at most two analyses per user at once
//! (the tile renders' slots), so no caller can tie up the server's cores.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use wangge_analysis::feature_gistar::{gistar_csv, gistar_features, with_gistar_properties};
use wangge_analysis::gi_star::GiStarOptions;
use wangge_analysis::weights::WeightsSpec;
use wangge_domain::hotspots::{self, AnalysisError, Counted, HotspotRequest, Unit};
use wangge_domain::incidents::filters::IncidentFilters;
use wangge_domain::tile_layers::TileFilters;

use crate::error::ApiError;
use crate::extract::SignedIn;
use crate::params::{Params, json_from_bytes};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/analysis/aggregates", get(aggregates))
        .route("/analysis/hotspots", get(hotspots_route))
        .route("/analysis/local-moran", get(local_moran))
        .route("/analysis/emerging", get(emerging))
        .route("/analysis/gistar", post(gistar))
        .route("/analysis/alerts", get(alerts_list))
}

/// At most this many permutations per analysis: 9,999 gives p-values down to 0.0001.
const MAX_PERMUTATIONS: u32 = 9_999;

/// The permutations asked for: 999 unless said, at most [`MAX_PERMUTATIONS`].
fn permutations(asked: Option<u32>) -> Result<u32, ApiError> {
    let permutations = asked.unwrap_or(999);
    if permutations > MAX_PERMUTATIONS {
        return Err(ApiError::InvalidParameter(format!(
            "permutations {permutations} is more than {MAX_PERMUTATIONS}"
        )));
    }
    Ok(permutations)
}

/// What an analysis of the incidents takes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnalysisParams {
    /// `h3:R`, `grid-cell`, `village` or `township`; `h3:8` when absent.
    unit: Option<String>,
    status: Option<String>,
    category: Option<String>,
    tier: Option<String>,
    severity: Option<String>,
    #[serde(default, deserialize_with = "crate::params::optional_instant")]
    since: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "crate::params::optional_instant")]
    until: Option<DateTime<Utc>>,
    weights: Option<String>,
    permutations: Option<u32>,
    seed: Option<u64>,
    fdr: Option<bool>,
    /// Emerging hot spots: `week` or `month` (the default).
    step: Option<String>,
    /// Emerging hot spots: how many steps, ending at `until` or now (default 12).
    steps: Option<u32>,
}

impl AnalysisParams {
    fn unit(&self) -> Result<Unit, ApiError> {
        self.unit
            .as_deref()
            .unwrap_or("h3:8")
            .parse()
            .map_err(|e: hotspots::UnitError| ApiError::InvalidParameter(e.to_string()))
    }

    fn filters(&self) -> Result<TileFilters, ApiError> {
        let incidents = IncidentFilters::parse(
            self.status.clone(),
            self.category.clone(),
            self.tier.clone(),
            self.severity.clone(),
        )
        .map_err(ApiError::InvalidParameter)?;
        if let (Some(since), Some(until)) = (self.since, self.until)
            && since >= until
        {
            return Err(ApiError::InvalidParameter(
                "since must be before until".into(),
            ));
        }
        Ok(TileFilters {
            incidents,
            since: self.since,
            until: self.until,
            plan: None,
        })
    }

    fn hotspot_request(&self, unit: Unit) -> Result<HotspotRequest, ApiError> {
        let weights = match &self.weights {
            Some(text) => text
                .parse::<WeightsSpec>()
                .map_err(|e| ApiError::InvalidParameter(e.to_string()))?,
            None => hotspots::default_weights(unit),
        };
        Ok(HotspotRequest {
            weights,
            permutations: permutations(self.permutations)?,
            seed: self.seed.unwrap_or(1),
            fdr: self.fdr.unwrap_or(true),
        })
    }
}

impl From<AnalysisError> for ApiError {
    fn from(error: AnalysisError) -> Self {
        match error {
            AnalysisError::Invalid(detail) => ApiError::InvalidParameter(detail),
            AnalysisError::Units(hotspots::units::ReadError::Unit(e)) => {
                ApiError::InvalidParameter(e.to_string())
            }
            AnalysisError::Units(hotspots::units::ReadError::Database(e))
            | AnalysisError::Database(e) => e.into(),
            AnalysisError::Units(e) => ApiError::internal(e.to_string()),
        }
    }
}

fn geojson(value: &serde_json::Value) -> Response {
    let mut response = axum::Json(value).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/geo+json"),
    );
    response
}

/// Runs CPU-bound work off the async threads.
async fn compute<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AnalysisError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(format!("analysis task: {e}")))?
        .map_err(ApiError::from)
}

async fn counted(
    state: &AppState,
    caller: &wangge_domain::auth::Caller,
    params: &AnalysisParams,
) -> Result<Counted, ApiError> {
    let unit = params.unit()?;
    let filters = params.filters()?;
    Ok(hotspots::count(&state.pool, &caller.area, unit, &filters).await?)
}

/// Counts per place: `count`, `open_count`, `households`, `per_1000_households`.
async fn aggregates(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Params(params): Params<AnalysisParams>,
) -> Result<Response, ApiError> {
    if params.weights.is_some() || params.permutations.is_some() || params.seed.is_some() {
        return Err(ApiError::InvalidParameter(
            "weights, permutations and seed are for the statistics, not the counts".into(),
        ));
    }
    let _slot = state.tile_renders.acquire(caller.user_id).await;
    let counted = counted(&state, &caller, &params).await?;
    Ok(geojson(&hotspots::aggregates(&counted)))
}

/// Getis-Ord Gi* per place, with ArcGIS's confidence bins.
async fn hotspots_route(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Params(params): Params<AnalysisParams>,
) -> Result<Response, ApiError> {
    let request = params.hotspot_request(params.unit()?)?;
    let _slot = state.tile_renders.acquire(caller.user_id).await;
    let counted = counted(&state, &caller, &params).await?;
    let (mut counted, results) = compute(move || {
        let results = hotspots::hotspots(&counted, &request)?;
        Ok((counted, results))
    })
    .await?;
    // Significant hexagons are named by the grid cell and village at their centre.
    hotspots::name_hexagons(&state.pool, &mut counted, &results.significant()).await?;
    Ok(geojson(&hotspots::hotspots_geojson(
        &counted, &request, &results,
    )))
}

/// Local Moran's I per place: `i`, `p_sim`, `quadrant` (HH, LH, LL, HL), `significant`.
async fn local_moran(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Params(params): Params<AnalysisParams>,
) -> Result<Response, ApiError> {
    let request = params.hotspot_request(params.unit()?)?;
    let _slot = state.tile_renders.acquire(caller.user_id).await;
    let counted = counted(&state, &caller, &params).await?;
    let answer = compute(move || hotspots::local_moran_geojson(&counted, &request)).await?;
    Ok(geojson(&answer))
}

/// Emerging hot spots per place over `steps` weeks or months: `category`, `trend_z`,
/// `trend_p`, `bins` and `counts` per step (oldest first).
async fn emerging(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Params(params): Params<AnalysisParams>,
) -> Result<Response, ApiError> {
    let unit = params.unit()?;
    let step = params
        .step
        .as_deref()
        .unwrap_or("month")
        .parse::<hotspots::Step>()
        .map_err(ApiError::InvalidParameter)?;
    let steps = params.steps.unwrap_or(12);
    if !(3..=hotspots::MAX_STEPS).contains(&steps) {
        return Err(ApiError::InvalidParameter(format!(
            "steps {steps} is outside 3..={}",
            hotspots::MAX_STEPS
        )));
    }
    if params.permutations.is_some() || params.seed.is_some() {
        return Err(ApiError::InvalidParameter(
            "emerging hot spots use analytic Gi* per step: no permutations or seed".into(),
        ));
    }
    let weights = params.hotspot_request(unit)?.weights;
    let request = hotspots::EmergingRequest {
        weights,
        step,
        steps,
        end: params.until.unwrap_or_else(Utc::now),
        fdr: params.fdr.unwrap_or(true),
    };
    let _slot = state.tile_renders.acquire(caller.user_id).await;
    let counted = counted(&state, &caller, &params).await?;
    let (mut counted, mut answer) = compute(move || {
        let answer = hotspots::emerging_geojson(&counted, &request)?;
        Ok((counted, answer))
    })
    .await?;
    let named = hotspots::with_pattern(&answer);
    hotspots::name_hexagons(&state.pool, &mut counted, &named).await?;
    hotspots::add_names(&mut answer, &counted, &named);
    Ok(geojson(&answer))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertParams {
    limit: Option<i64>,
}

/// The hot spot alerts raised in the caller's area, newest first, for the roles alerted.
async fn alerts_list(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Params(params): Params<AlertParams>,
) -> Result<Response, ApiError> {
    if !hotspots::alerts::is_alerted(caller.role) {
        return Err(ApiError::Forbidden);
    }
    let limit = params.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::InvalidParameter(format!(
            "limit {limit} is outside 1..=500"
        )));
    }
    let (items, total) = hotspots::alerts::list(&state.pool, &caller.area, limit).await?;
    Ok(axum::Json(serde_json::json!({ "items": items, "total": total })).into_response())
}

/// `POST /api/v1/analysis/gistar?value=FIELD&weights=…`: Gi* on any FeatureCollection of
/// polygons or points with a numeric field, each feature's figures in input order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GiStarParams {
    value: String,
    weights: String,
    permutations: Option<u32>,
    seed: Option<u64>,
    fdr: Option<bool>,
    /// `geojson` (the collection with `gi`, `gi_z`, `gi_p`, `gi_p_sim`, `gi_bin` added) or
    /// `csv`.
    format: Option<String>,
}

async fn gistar(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Params(params): Params<GiStarParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let weights: WeightsSpec =
        params
            .weights
            .parse()
            .map_err(|e: wangge_analysis::weights::WeightsSpecError| {
                ApiError::InvalidParameter(e.to_string())
            })?;
    let permutations = permutations(params.permutations)?;
    let csv = match params.format.as_deref() {
        None | Some("geojson") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::InvalidParameter(format!(
                "unknown format `{}`; the formats are geojson and csv",
                other.chars().take(20).collect::<String>()
            )));
        }
    };
    let collection: geojson::FeatureCollection = json_from_bytes(&headers, &body)?;
    let options = GiStarOptions {
        permutations,
        seed: params.seed.unwrap_or(1),
        threads: 2,
        ..GiStarOptions::default()
    };
    let fdr = params.fdr.unwrap_or(true);
    let field = params.value;
    let _slot = state.tile_renders.acquire(caller.user_id).await;
    let answer = tokio::task::spawn_blocking(move || {
        let results = gistar_features(&collection, &field, &weights, &options, fdr)
            .map_err(|e| ApiError::InvalidField(e.to_string()))?;
        if csv {
            gistar_csv(&collection, &results)
                .map(|text| {
                    let mut response = text.into_response();
                    response.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/csv; charset=utf-8"),
                    );
                    response
                })
                .map_err(|e| ApiError::internal(e.to_string()))
        } else {
            with_gistar_properties(&collection, &results)
                .map_err(|e| ApiError::internal(e.to_string()))
                .and_then(|out| {
                    serde_json::to_value(&out).map_err(|e| ApiError::internal(e.to_string()))
                })
                .map(|out| geojson(&out))
        }
    })
    .await
    .map_err(|e| ApiError::internal(format!("analysis task: {e}")))??;
    Ok(answer)
}
