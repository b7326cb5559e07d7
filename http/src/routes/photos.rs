//! Photos of a case: `POST /api/v1/incidents/{id}/photos?stage=report|resolution
//! [&keep_location=true]` with the image as the body (JPEG, PNG or HEIC, at most
//! [`MAX_PHOTO_BYTES`]; the format is read from the bytes), `GET …/photos` (the list),
//! `GET …/photos/{photo}` and `…/thumbnail` (the bytes, audited). The rules are
//! [`wangge_domain::photos`]'s.
//!
//! The upload route takes a larger body than the rest of the API, so [`crate::app`] mounts
//! this router outside the 1 MiB limit; the body is read here up to the photo limit.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use wangge_domain::photos::{self, MAX_PHOTO_BYTES, Photo, Stage};

use crate::error::ApiError;
use crate::extract::{Meta, SignedIn};
use crate::params::Params;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/incidents/{id}/photos", get(list).post(upload))
        .route("/api/v1/incidents/{id}/photos/{photo}", get(photo))
        .route(
            "/api/v1/incidents/{id}/photos/{photo}/thumbnail",
            get(thumbnail),
        )
}

fn id(text: &str) -> Result<i64, ApiError> {
    text.parse().map_err(|_| ApiError::NotFound)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadParams {
    stage: Option<Stage>,
    #[serde(default)]
    keep_location: bool,
}

async fn upload(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    Path(case): Path<String>,
    Params(params): Params<UploadParams>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let case = id(&case)?;
    let too_large = || {
        ApiError::TooLarge(format!(
            "a photo is at most {MAX_PHOTO_BYTES} bytes ({} MiB)",
            MAX_PHOTO_BYTES / (1024 * 1024)
        ))
    };
    // A declared length over the limit is refused before any of the body is read.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_PHOTO_BYTES) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, MAX_PHOTO_BYTES)
        .await
        .map_err(|e| {
            if e.to_string().contains("length limit") {
                too_large()
            } else {
                ApiError::MalformedBody(format!("the photo could not be read: {e}"))
            }
        })?;
    let stage = params.stage.unwrap_or(Stage::Report);
    let (photo, created) = photos::upload(
        &state.pool,
        &caller,
        &meta,
        case,
        stage,
        params.keep_location,
        bytes.to_vec(),
    )
    .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let location = HeaderValue::from_str(&photo.url).map_err(ApiError::internal)?;
    Ok((status, [(header::LOCATION, location)], Json(photo)).into_response())
}

async fn list(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(case): Path<String>,
) -> Result<Json<Vec<Photo>>, ApiError> {
    let case = id(&case)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(photos::list(&mut conn, &caller, case).await?))
}

async fn photo(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    Path((case, photo)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    serve(state, caller, meta, &case, &photo, false).await
}

async fn thumbnail(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    Path((case, photo)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    serve(state, caller, meta, &case, &photo, true).await
}

async fn serve(
    state: AppState,
    caller: wangge_domain::auth::Caller,
    meta: wangge_domain::audit::RequestMeta,
    case: &str,
    photo: &str,
    thumbnail: bool,
) -> Result<Response, ApiError> {
    let (case, photo) = (id(case)?, id(photo)?);
    let (content_type, bytes) =
        photos::read(&state.pool, &caller, &meta, case, photo, thumbnail).await?;
    let content_type = HeaderValue::from_str(&content_type).map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            // Personal data: kept by no shared cache, and shown only as the image it is.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-cache"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        bytes,
    )
        .into_response())
}
