//! The HTTP application: one router per resource module, merged by [`app`].

mod admin_units;
mod audit;
mod dispatch;
mod facilities;
mod figures;
mod geocode;
mod grid_cells;
mod health;
mod households;
mod incident_rules;
mod incidents;
pub mod intake_queue;
mod live;
mod open311;
pub mod params;
pub mod session;
mod stats;
pub mod tiles;
mod workers;

use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use sqlx::PgPool;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

use crate::audit::{self as audit_trail, REQUEST_ID_HEADER, RequestIds, RequestMeta};
use crate::auth::cache::SessionCache;
use crate::auth::limiter::SignInGuard;
use crate::config::Config;
use crate::dispatch::Dispatch;
use crate::error::ApiError;
use crate::geocode::Geocoder;
use crate::live::LiveHub;
use crate::personal::Cipher;
use crate::tile_cache::TileCache;

/// Largest request body accepted anywhere (bytes), and largest message on the live socket.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<Config>,
    /// Sign-in throttling per client address and per (username, address).
    pub sign_in_guard: Arc<SignInGuard>,
    /// Seals and opens personal data.
    pub cipher: Cipher,
    /// Vector tiles, kept until a change touches them.
    pub tile_cache: Arc<TileCache>,
    /// Committed changes: drops stale tiles, feeds live clients.
    pub live: Arc<LiveHub>,
    /// Addresses to places, with the gazetteer of administrative units.
    pub geocoder: Arc<Geocoder>,
    /// Located reports, written in groups.
    pub intake_queue: Arc<intake_queue::IntakeQueue>,
    /// Grid workers in memory, for ranking candidates.
    pub dispatch: Arc<Dispatch>,
    /// Sessions looked up moments ago, dropped when the change feed says they ended.
    pub sessions: Arc<SessionCache>,
    /// Tiles being rendered, per user.
    pub tile_renders: Arc<tiles::RenderSlots>,
}

impl AppState {
    /// The state, the change listener behind live tiles and the live feed, and the escalation
    /// of overdue cases (both spawned on the current Tokio runtime, so call this inside one).
    pub fn new(pool: PgPool, config: Config) -> Self {
        let sign_in_guard = Arc::new(SignInGuard::new(&config.auth));
        let cipher = Cipher::new(&config.data_key);
        let tile_cache = Arc::new(TileCache::new(config.tile_cache_bytes));
        let live = LiveHub::new(Arc::clone(&tile_cache), config.worker_stale_after);
        let sessions = Arc::new(SessionCache::default());
        let geocoder = Arc::new(Geocoder::default());
        let intake_queue = intake_queue::IntakeQueue::start(pool.clone(), cipher.clone());
        live.on_admin_units_changed(Arc::clone(&geocoder));
        let dispatch = Dispatch::new(config.worker_stale_after, config.position_keep_days);
        live.on_workers_changed(Arc::clone(&dispatch));
        // After everything the listener tells is registered with it.
        live.start(pool.clone(), Arc::clone(&sessions));
        dispatch.start(pool.clone(), Arc::clone(&live));
        if let Some(every) = config.escalation_every {
            crate::dispatch::auto::start(pool.clone(), Arc::clone(&dispatch), every);
        }
        if let Some(every) = config.escalation_every {
            crate::incidents::escalation::start(pool.clone(), every);
        }
        Self {
            pool,
            config: Arc::new(config),
            sign_in_guard,
            cipher,
            tile_cache,
            live,
            geocoder,
            intake_queue,
            dispatch,
            sessions,
            tile_renders: Arc::default(),
        }
    }
}

/// The whole application. Tests drive it in-process with `tower::ServiceExt::oneshot`.
pub fn app(state: AppState) -> Router {
    let client_dir = state.config.client_dir.clone();
    let index = client_dir.join("index.html");

    let api = Router::new()
        .merge(admin_units::router())
        .merge(grid_cells::router())
        .merge(facilities::router())
        .merge(stats::router())
        .merge(figures::router())
        .merge(session::router())
        .merge(audit::router())
        .merge(households::router())
        .merge(live::router())
        .merge(incidents::router())
        .merge(incident_rules::router())
        .merge(workers::router())
        .merge(dispatch::router())
        .merge(geocode::router())
        .route("/client-config", axum::routing::get(client_config))
        .fallback(not_found);

    let router = Router::new()
        .merge(health::router())
        .merge(tiles::router())
        .merge(open311::router())
        .nest("/api/v1", api)
        // On the routes (not the fallbacks), so the route's pattern names the action.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            audit_forbidden_writes,
        ));
    // The map client is a single page: any other path gets its index.html. Without a built
    // client, other paths are plain 404 problems.
    let router = if index.exists() {
        router.fallback_service(
            ServeDir::new(&client_dir)
                .append_index_html_on_directories(true)
                .fallback(ServeFile::new(index)),
        )
    } else {
        router.fallback(not_found)
    };
    router
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone())
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(CompressionLayer::new())
        // Spans name the path without the query: Open311 clients may put an api_key there.
        // Failures are not logged here: `ApiError` logs each 5xx once, with its id and cause.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &axum::http::Request<axum::body::Body>| {
                    tracing::debug_span!("request", method = %request.method(), path = %request.uri().path())
                })
                .on_failure(()),
        )
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(state, request_origin))
}

/// Where a request came from, settled once for everything after it: the client's address
/// through the trusted proxies (the sign-in throttle and the audit trail read the same one),
/// whether it came over HTTPS, and the request's ids. The id is always the server's own, in
/// the answer's `x-request-id` too; a client's id is only kept beside it.
async fn request_origin(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let resolved = state
        .config
        .trusted_proxies
        .resolve(peer, request.headers());
    let ids = RequestIds::new(request.headers());
    let id = HeaderValue::from_str(&ids.server).expect("a UUID is a valid header value");
    request.headers_mut().insert(REQUEST_ID_HEADER, id.clone());
    let extensions = request.extensions_mut();
    extensions.insert(session::ClientAddr(resolved.client));
    extensions.insert(session::ViaHttps(resolved.https));
    extensions.insert(ids);
    let mut response = next.run(request).await;
    response.headers_mut().insert(REQUEST_ID_HEADER, id);
    response
}

/// Every write refused with 403 leaves an audit row (outcome `denied`), written here for
/// all routes rather than by each handler, which therefore never audits its own 403. The
/// action is the method and the route's pattern; the object, the path asked for (without the
/// query, where Open311 clients may put their key).
async fn audit_forbidden_writes(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let action = format!(
        "{} {}",
        request.method(),
        request
            .extensions()
            .get::<MatchedPath>()
            .map_or_else(|| request.uri().path(), MatchedPath::as_str)
    );
    let path: String = request.uri().path().chars().take(200).collect();
    let token = crate::auth::token_in_headers(request.headers());
    let meta = RequestMeta::from_extensions(request.extensions());
    let response = next.run(request).await;
    if response.status() != StatusCode::FORBIDDEN {
        return response;
    }
    let written = run_to_completion(async move {
        let caller = match token {
            Some(token) => crate::auth::Caller::from_token(&state, &token).await.ok(),
            None => None,
        };
        let mut entry = match &caller {
            Some(caller) => caller.entry(&action, "request", path, &meta),
            None => audit_trail::Entry {
                username: "(anonymous)",
                role: "",
                ..audit_trail::Entry::system(&action, "request", path, &meta)
            },
        };
        entry.outcome = audit_trail::Outcome::Denied;
        let mut conn = state.pool.acquire().await?;
        audit_trail::record(&mut conn, &entry).await?;
        Ok(())
    })
    .await;
    if let Err(error) = written {
        // The refusal stands: nothing was written, so nothing escapes the trail.
        tracing::error!(%error, "auditing a refused write failed");
    }
    response
}

/// What the map client needs to know of the deployment: the basemap, if there is one.
async fn client_config(
    axum::extract::State(state): axum::extract::State<AppState>,
    _caller: crate::auth::Caller,
) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "basemap": state.config.basemap }))
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("handler panicked").into_response()
}

/// Runs a write to its end even if the client goes away: axum drops a handler whose client
/// disconnected, and a transaction cancelled halfway can leave its pooled connection idle in
/// a transaction (sqlx issues 4385 and 4393). A spawned task is not cancelled with it.
pub(crate) async fn run_to_completion<T: Send + 'static>(
    work: impl Future<Output = Result<T, ApiError>> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::spawn(work).await.map_err(ApiError::internal)?
}

/// SQL answering one row, one column: the text of a GeoJSON FeatureCollection of the
/// `feature` column of the given query, in the order of its `sort_key` column.
macro_rules! feature_collection_sql {
    // `$limit` names the bind parameter holding the cap ([`params::Limit`]); one row past it
    // is read so that the answer can say it was truncated.
    ($features:literal, $limit:literal) => {
        concat!(
            "SELECT json_build_object(
                 'type', 'FeatureCollection',
                 'features', COALESCE(
                     json_agg(f.feature ORDER BY f.sort_key) FILTER (WHERE f.n <= ",
            $limit,
            "),
                     '[]'::json),
                 'numberReturned', LEAST(count(*), ",
            $limit,
            "),
                 'truncated', count(*) > ",
            $limit,
            "
             )::text
             FROM (SELECT i.*, row_number() OVER (ORDER BY i.sort_key) AS n
                   FROM (",
            $features,
            ") i ORDER BY i.sort_key LIMIT ",
            $limit,
            " + 1) f"
        )
    };
}
pub(crate) use feature_collection_sql;

/// A GeoJSON FeatureCollection assembled by PostGIS, sent as is.
pub(crate) fn geojson_response(body: String) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/geo+json"),
    );
    response
}
