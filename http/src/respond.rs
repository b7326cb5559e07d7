//! Helpers the handlers share: running a write to its end, and sending GeoJSON built by
//! PostGIS (the SQL that builds it is the domain's `db::geojson`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use wangge_domain::incidents::idempotency::Stored;

use crate::error::ApiError;

/// Runs a write to its end even if the client goes away: axum drops a handler whose client
/// disconnected, and a transaction cancelled halfway can leave its pooled connection idle in
/// a transaction (sqlx issues 4385 and 4393). A spawned task is not cancelled with it.
pub async fn run_to_completion<T: Send + 'static>(
    work: impl Future<Output = Result<T, ApiError>> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::spawn(work).await.map_err(ApiError::internal)?
}

/// A GeoJSON FeatureCollection assembled by PostGIS, sent as is.
pub fn geojson_response(body: String) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/geo+json"),
    );
    response
}

/// An answer as it was stored for its `Idempotency-Key`, marked when it is a retry's copy.
pub fn stored_response(answer: Stored) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, answer.body).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&answer.content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Some(value) = answer.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, value);
    }
    if answer.replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}
