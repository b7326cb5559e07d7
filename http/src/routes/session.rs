//! Signing in and out: `POST/GET/DELETE /api/v1/session` (browser sessions in an HttpOnly
//! cookie) and `POST /api/v1/tokens` (bearer tokens for field devices and API clients).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{ClientAddr, Meta, SignedIn, ViaHttps};
use crate::params::JsonBody;
use crate::respond::run_to_completion;
use crate::state::AppState;
use wangge_domain::auth::session::{self, Attempt, SessionKind};
use wangge_domain::auth::{Area, COOKIE, Caller, OwnWorker, Role};
use wangge_domain::map;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/session", get(current).post(sign_in).delete(sign_out))
        .route("/tokens", post(issue_token))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    username: String,
    password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    username: String,
    password: String,
    /// What the token is for (a device's name), shown in session lists.
    #[serde(default)]
    label: String,
}

/// Who is signed in, as the client sees it.
#[derive(Debug, Serialize)]
struct SessionInfo {
    username: String,
    role: Role,
    area: Area,
    /// The area's lon/lat box `[west, south, east, north]`: where the map opens.
    bbox: Option<[f64; 4]>,
    /// For a grid worker: the worker they are (their status, the id their positions carry).
    worker: Option<OwnWorker>,
    expires_at: DateTime<Utc>,
}

impl SessionInfo {
    async fn of(state: &AppState, caller: &Caller) -> Result<Self, ApiError> {
        Ok(Self {
            username: caller.username.clone(),
            role: caller.role,
            area: caller.area.clone(),
            bbox: map::area_bbox(&state.pool, &caller.area).await?,
            worker: caller.own_worker(&state.pool).await?,
            expires_at: caller.expires_at,
        })
    }
}

async fn current(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
) -> Result<Json<SessionInfo>, ApiError> {
    Ok(Json(SessionInfo::of(&state, &caller).await?))
}

async fn sign_in(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ViaHttps(https): ViaHttps,
    Meta(meta): Meta,
    JsonBody(credentials): JsonBody<Credentials>,
) -> Result<Response, ApiError> {
    let auth = &state.config.auth;
    let issued = run_to_completion({
        let (pool, guard, auth) = (
            state.pool.clone(),
            state.sign_in_guard.clone(),
            auth.clone(),
        );
        async move {
            let attempt = Attempt {
                username: &credentials.username,
                password: &credentials.password,
                kind: SessionKind::Cookie,
                label: "browser",
                client,
            };
            Ok(session::sign_in_guarded(&pool, &guard, &attempt, &auth, &meta).await?)
        }
    })
    .await?;
    let cookie = format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        issued.token,
        auth.session_lifetime.as_secs(),
        if auth.secure_cookie.secure_for(client, https) {
            "; Secure"
        } else {
            ""
        }
    );
    let mut response = Json(SessionInfo::of(&state, &issued.caller).await?).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn sign_out(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
) -> Result<Response, ApiError> {
    let pool = state.pool.clone();
    let revoked = caller.clone();
    run_to_completion(async move { Ok(session::revoke(&pool, &revoked, &meta).await?) }).await?;
    // At once, not when the feed brings the notice: the client may send its next request now.
    state.sessions.forget_token(&caller.token_hash);
    let clear = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&clear).map_err(ApiError::internal)?,
    );
    Ok(response)
}

#[derive(Debug, Serialize)]
struct IssuedToken {
    token: String,
    token_type: &'static str,
    expires_at: DateTime<Utc>,
    username: String,
    role: Role,
    area: Area,
}

async fn issue_token(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Meta(meta): Meta,
    JsonBody(request): JsonBody<TokenRequest>,
) -> Result<Response, ApiError> {
    let label = request.label.chars().take(100).collect::<String>();
    let issued = run_to_completion({
        let (pool, guard, auth) = (
            state.pool.clone(),
            state.sign_in_guard.clone(),
            state.config.auth.clone(),
        );
        async move {
            let attempt = Attempt {
                username: &request.username,
                password: &request.password,
                kind: SessionKind::Bearer,
                label: &label,
                client,
            };
            Ok(session::sign_in_guarded(&pool, &guard, &attempt, &auth, &meta).await?)
        }
    })
    .await?;
    let body = IssuedToken {
        token: issued.token,
        token_type: "Bearer",
        expires_at: issued.caller.expires_at,
        username: issued.caller.username,
        role: issued.caller.role,
        area: issued.caller.area,
    };
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
