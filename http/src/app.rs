//! The whole application: every resource's router under one set of layers.

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;
use wangge_domain::audit as audit_trail;
use wangge_domain::auth::Caller;
use wangge_domain::net::Forwarded;

use crate::error::ApiError;
use crate::extract::{
    ClientAddr, Meta, REQUEST_ID_HEADER, RequestIds, SignedIn, ViaHttps, token_in_headers,
};
use crate::respond::run_to_completion;
use crate::routes::{
    admin_units, analysis, audit, dispatch, facilities, figures, geocode, grid_cells, health,
    households, incident_rules, incidents, live, open311, photos, plans, session, stats, tiles,
    workers,
};
use crate::state::{AppState, MAX_BODY_BYTES};

/// The whole application. Tests drive it in-process with `tower::ServiceExt::oneshot`.
pub fn app(state: AppState) -> Router {
    let client_dir = state.config.client_dir.clone();
    let index = client_dir.join("index.html");

    let api = Router::new()
        .merge(admin_units::router())
        .merge(grid_cells::router())
        .merge(facilities::router())
        .merge(stats::router())
        .merge(analysis::router())
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
        .merge(plans::router())
        .route("/client-config", axum::routing::get(client_config))
        .fallback(not_found);

    let router = Router::new()
        .merge(health::router())
        .merge(tiles::router())
        .merge(open311::router())
        .nest("/api/v1", api)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        // Photos are larger than any other body: their route reads up to its own limit.
        .merge(photos::router())
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
    let forwarded = forwarded_lines(request.headers());
    let resolved = state.config.trusted_proxies.resolve(peer, &forwarded);
    let ids = RequestIds::new(request.headers());
    let id = HeaderValue::from_str(&ids.server).expect("a UUID is a valid header value");
    request.headers_mut().insert(REQUEST_ID_HEADER, id.clone());
    let extensions = request.extensions_mut();
    extensions.insert(ClientAddr(resolved.client));
    extensions.insert(ViaHttps(resolved.https));
    extensions.insert(ids);
    let mut response = next.run(request).await;
    response.headers_mut().insert(REQUEST_ID_HEADER, id);
    response
}

/// A request's forwarding headers as text (lines that are not text prove nothing).
fn forwarded_lines(headers: &axum::http::HeaderMap) -> Forwarded<'_> {
    let lines = |name| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    };
    Forwarded {
        forwarded_for: lines("x-forwarded-for"),
        forwarded_proto: lines("x-forwarded-proto"),
    }
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
    let token = token_in_headers(request.headers());
    let meta = Meta::from_extensions(request.extensions());
    let response = next.run(request).await;
    if response.status() != StatusCode::FORBIDDEN {
        return response;
    }
    let written = run_to_completion(async move {
        let caller = match token {
            Some(token) => Caller::from_token(&state.auth, &token).await.ok().flatten(),
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
    _caller: SignedIn,
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
