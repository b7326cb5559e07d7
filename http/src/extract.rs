//! Extractors: what a handler takes from a request, parsed into the domain's types. The
//! layer in `app` settles a request's origin once (its address through the trusted proxies,
//! HTTPS, its ids); these read what it left, and [`SignedIn`] finds the caller.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use wangge_domain::audit::RequestMeta;
use wangge_domain::auth::{AuthState, COOKIE, Caller};

use crate::error::ApiError;

/// The header that carries a request's id: the server's own in every answer; a client's,
/// when it sends one, is kept beside it (never instead of it).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest client request id kept (characters).
const MAX_CLIENT_REQUEST_ID: usize = 64;

/// The signed-in user behind a request (401 without a live session), found from the small
/// [`AuthState`] any application state hands out through `FromRef`.
#[derive(Debug, Clone)]
pub struct SignedIn(pub Caller);

impl<S> FromRequestParts<S> for SignedIn
where
    S: Send + Sync,
    AuthState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let token = token_in_headers(&parts.headers).ok_or(ApiError::Unauthenticated)?;
        let auth = AuthState::from_ref(state);
        Caller::from_token(&auth, &token)
            .await?
            .map(SignedIn)
            .ok_or(ApiError::Unauthenticated)
    }
}

/// The bearer token, or else the session cookie, in request headers.
pub fn token_in_headers(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// Where a change came from, for the audit trail: the request's ids and client address.
#[derive(Debug, Clone)]
pub struct Meta(pub RequestMeta);

impl Meta {
    /// From a request's extensions, as `app`'s layer left them.
    pub fn from_extensions(extensions: &axum::http::Extensions) -> RequestMeta {
        let ClientAddr(addr) = ClientAddr::from_extensions(extensions);
        let ids = extensions
            .get::<RequestIds>()
            .cloned()
            .unwrap_or_else(|| RequestIds {
                server: uuid::Uuid::new_v4().to_string(),
                client: None,
            });
        RequestMeta {
            request_id: ids.server,
            client_request_id: ids.client,
            client_addr: addr
                .map(|a| a.to_string())
                .unwrap_or_else(|| "in-process".into()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(Self::from_extensions(&parts.extensions)))
    }
}

/// A request's ids, set once by the layer in `app`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestIds {
    pub server: String,
    pub client: Option<String>,
}

impl RequestIds {
    /// A new server id, and the client's from `headers` made safe to store.
    pub fn new(headers: &axum::http::HeaderMap) -> Self {
        let client = headers
            .get(REQUEST_ID_HEADER)
            .map(|v| {
                v.as_bytes()
                    .iter()
                    .filter(|b| b.is_ascii_graphic())
                    .take(MAX_CLIENT_REQUEST_ID)
                    .map(|b| char::from(*b))
                    .collect::<String>()
            })
            .filter(|id| !id.is_empty());
        Self {
            server: uuid::Uuid::new_v4().to_string(),
            client,
        }
    }
}

/// The client's address, resolved once per request through the trusted proxies (see
/// `net::TrustedProxies`) by the layer in `app`, so the sign-in throttle and the audit
/// trail see the same one. `None` in-process, where there is no socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

/// A trusted proxy says the request reached it over HTTPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViaHttps(pub bool);

impl ClientAddr {
    /// From a request's extensions: as resolved by `app`'s layer, or else the socket's
    /// peer (a router used without that layer believes no forwarded header).
    pub fn from_extensions(extensions: &axum::http::Extensions) -> Self {
        extensions.get::<ClientAddr>().copied().unwrap_or_else(|| {
            Self(
                extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|ConnectInfo(addr)| addr.ip()),
            )
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ViaHttps {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ViaHttps>()
            .copied()
            .unwrap_or(ViaHttps(false)))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_extensions(&parts.extensions))
    }
}
