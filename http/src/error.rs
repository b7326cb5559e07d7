//! API errors and their one mapping to `application/problem+json` (RFC 9457).
//!
//! Every handler returns [`ApiError`]; this is the only place an error becomes a response, so
//! each kind has one stable `type` URI and a 5xx never carries internals (they go to the log,
//! tagged with an id the client also gets). The domain's errors (one type per module, none
//! of which knows HTTP) become `ApiError`s here, by the `From` impls at the foot.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use wangge_domain::auth::session::SignInError;
use wangge_domain::dispatch::DispatchError;
use wangge_domain::households::HouseholdError;
use wangge_domain::incidents::IncidentError;
use wangge_domain::incidents::lifecycle::Refusal;
use wangge_domain::photos::PhotoError;
use wangge_domain::photos::picture::PictureError;
use wangge_domain::tile_render::TileError;

/// What a 503 for want of the database tells the client to wait before trying again.
const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 2;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query parameter or path segment that does not parse or is out of range.
    #[error("{0}")]
    InvalidParameter(String),
    /// A request body that is not what the endpoint takes.
    #[error("{0}")]
    MalformedBody(String),
    /// A well-formed body whose content cannot be accepted (an unknown category, an empty
    /// description, a leader for a minor case).
    #[error("{0}")]
    InvalidField(String),
    /// A place outside the city, or outside the caller's area.
    #[error("{0}")]
    OutsideArea(String),
    /// The action does not fit the resource's present state (someone may have moved it first).
    #[error("{0}")]
    Conflict(String),
    /// A conflict answered with the resource's present state, so the client can show who won.
    #[error("{detail}")]
    ConflictWith {
        detail: String,
        current: serde_json::Value,
    },
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    /// A grid plan edit or publication the coverage rules refuse, with each issue.
    #[error("{detail}")]
    InvalidPlan {
        detail: String,
        issues: serde_json::Value,
    },
    /// A body larger than the endpoint takes.
    #[error("{0}")]
    TooLarge(String),
    /// A body of a kind the endpoint does not take (a photo that is not JPEG, PNG or HEIC).
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("no such resource")]
    NotFound,
    #[error("sign in first: this needs a session cookie or a bearer token")]
    Unauthenticated,
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("too many attempts; try again in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("your role may not do this")]
    Forbidden,
    /// A browser page of another origin tried to open a WebSocket with the user's cookie.
    #[error("this page's origin may not open the live feed: {0}")]
    CrossOrigin(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// A part of the server that is still starting (it answers once ready).
    #[error("{0}")]
    Starting(String),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn internal(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(error.into())
    }

    /// The problem+json body for this error. A 5xx's cause goes to the log under an id; the
    /// body carries only the id.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        let (detail, error_id) = if let Self::Unavailable(cause) = self {
            // While the database is down every request fails alike: one line now and then,
            // not one per request, so the log still shows what else happened meanwhile.
            unavailable_logged(cause);
            (Some(self.to_string()), None)
        } else if status.is_server_error() {
            let id = uuid::Uuid::new_v4().to_string();
            tracing::error!(error = ?self, error_id = %id, "request failed");
            (None, Some(id))
        } else {
            (Some(self.to_string()), None)
        };
        Problem {
            kind: format!("/problems/{}", self.slug()),
            title: self.title(),
            status: status.as_u16(),
            detail,
            error_id,
            current: match self {
                Self::ConflictWith { current, .. } => Some(current.clone()),
                _ => None,
            },
            issues: match self {
                Self::InvalidPlan { issues, .. } => Some(issues.clone()),
                _ => None,
            },
        }
    }

    /// The stable problem type slug; the `type` member is `/problems/{slug}`.
    pub fn slug(&self) -> &'static str {
        match self {
            Self::InvalidParameter(_) => "invalid-parameter",
            Self::MalformedBody(_) => "malformed-body",
            Self::InvalidField(_) => "invalid-field",
            Self::OutsideArea(_) => "outside-area",
            Self::Conflict(_) | Self::ConflictWith { .. } => "conflict",
            Self::IdempotencyKeyReused => "idempotency-key-reused",
            Self::InvalidPlan { .. } => "invalid-plan",
            Self::TooLarge(_) => "too-large",
            Self::UnsupportedMediaType(_) => "unsupported-media-type",
            Self::NotFound => "not-found",
            Self::Unauthenticated => "unauthenticated",
            Self::InvalidCredentials => "invalid-credentials",
            Self::TooManyAttempts { .. } => "too-many-attempts",
            Self::Forbidden => "forbidden",
            Self::CrossOrigin(_) => "cross-origin",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::Unavailable(_) | Self::Starting(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidParameter(_) => StatusCode::BAD_REQUEST,
            Self::MalformedBody(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::InvalidField(_)
            | Self::OutsideArea(_)
            | Self::IdempotencyKeyReused
            | Self::InvalidPlan { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict(_) | Self::ConflictWith { .. } => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Unauthenticated | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Forbidden | Self::CrossOrigin(_) => StatusCode::FORBIDDEN,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unavailable(_) | Self::Starting(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::InvalidParameter(_) => "Invalid parameter",
            Self::MalformedBody(_) => "Malformed request body",
            Self::InvalidField(_) => "Invalid field",
            Self::OutsideArea(_) => "Outside the area",
            Self::Conflict(_) | Self::ConflictWith { .. } => "Conflict",
            Self::IdempotencyKeyReused => "Idempotency key reused",
            Self::InvalidPlan { .. } => "Invalid grid plan",
            Self::TooLarge(_) => "Too large",
            Self::UnsupportedMediaType(_) => "Unsupported media type",
            Self::NotFound => "Not found",
            Self::Unauthenticated => "Authentication required",
            Self::InvalidCredentials => "Invalid credentials",
            Self::TooManyAttempts { .. } => "Too many attempts",
            Self::Forbidden => "Forbidden",
            Self::CrossOrigin(_) => "Cross-origin request refused",
            Self::MethodNotAllowed => "Method not allowed",
            Self::Unavailable(_) | Self::Starting(_) => "Service unavailable",
            Self::Internal(_) => "Internal server error",
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        // Deadlock or serialisation failure: two requests raced for the same records, and the
        // database undid this one. Nothing was written; the client may try again.
        if let Some(code) = error.as_database_error().and_then(|e| e.code())
            && (code == "40P01" || code == "40001")
        {
            return Self::Conflict("the records changed at the same moment; try again".into());
        }
        // Values PostgreSQL cannot hold (a NUL in text, a time beyond its calendar) are
        // refused at the boundary; this catches one that slipped past as the client's error.
        if let Some(code) = error.as_database_error().and_then(|e| e.code())
            && matches!(code.as_ref(), "22021" | "22P05" | "22008")
        {
            tracing::warn!(sqlstate = %code, "a value the database cannot hold got past the boundary checks");
            return Self::InvalidParameter("a value is outside what the database can hold".into());
        }
        match error {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                Self::Unavailable(error)
            }
            other => Self::Internal(Box::new(other)),
        }
    }
}

/// Requests answered 503 for want of the database since the last line about it.
static UNAVAILABLE_SINCE_LOGGED: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(0);
/// When the last line was written (seconds since the Unix epoch).
static UNAVAILABLE_LOGGED_AT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// At most one line this often while the database stays unavailable.
const UNAVAILABLE_LOG_EVERY_SECS: u64 = 10;

fn unavailable_logged(cause: &sqlx::Error) {
    use std::sync::atomic::Ordering::Relaxed;
    let refused = UNAVAILABLE_SINCE_LOGGED.fetch_add(1, Relaxed) + 1;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = UNAVAILABLE_LOGGED_AT.load(Relaxed);
    if now >= last + UNAVAILABLE_LOG_EVERY_SECS
        && UNAVAILABLE_LOGGED_AT
            .compare_exchange(last, now, Relaxed, Relaxed)
            .is_ok()
    {
        UNAVAILABLE_SINCE_LOGGED.store(0, Relaxed);
        tracing::warn!(error = %cause, refused, "the database is unavailable; requests are answered 503");
    }
}

/// The body of an `application/problem+json` response.
#[derive(Debug, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_id: Option<String>,
    /// For conflicts: the resource as it is now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<serde_json::Value>,
    /// For a refused plan edit: each rule broken, with its place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issues: Option<serde_json::Value>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let problem = self.problem();
        let retry_after = match &self {
            Self::TooManyAttempts { retry_after_secs } => Some(*retry_after_secs),
            // An embedded database that died is started again within a second or two.
            Self::Unavailable(_) => Some(UNAVAILABLE_RETRY_AFTER_SECS),
            _ => None,
        };
        let mut response = (status, axum::Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<IncidentError> for ApiError {
    fn from(error: IncidentError) -> Self {
        match error {
            IncidentError::Invalid(detail) => Self::InvalidField(detail),
            IncidentError::InvalidKey(detail) => Self::InvalidParameter(detail),
            IncidentError::UnknownAddress(_) => Self::InvalidParameter(error.to_string()),
            IncidentError::OutsideArea(detail) => Self::OutsideArea(detail),
            IncidentError::Refused(refusal) => refusal.into(),
            IncidentError::Moved { detail, current } => Self::ConflictWith { detail, current },
            IncidentError::NotFound => Self::NotFound,
            IncidentError::Forbidden => Self::Forbidden,
            IncidentError::KeyReused => Self::IdempotencyKeyReused,
            IncidentError::Database(error) => error.into(),
            IncidentError::Internal(detail) => Self::internal(detail),
        }
    }
}

impl From<PhotoError> for ApiError {
    fn from(error: PhotoError) -> Self {
        match error {
            PhotoError::TooLarge(_) => Self::TooLarge(error.to_string()),
            PhotoError::Picture(PictureError::Unknown) => {
                Self::UnsupportedMediaType(error.to_string())
            }
            PhotoError::Empty | PhotoError::Picture(_) => Self::InvalidField(error.to_string()),
            PhotoError::TooMany | PhotoError::Finished(_) => Self::Conflict(error.to_string()),
            PhotoError::NotFound => Self::NotFound,
            PhotoError::Forbidden => Self::Forbidden,
            PhotoError::Database(error) => error.into(),
            PhotoError::Internal(detail) => Self::internal(detail),
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Role { .. } | Refusal::NotAssignee => Self::Forbidden,
            Refusal::State { .. } | Refusal::Moved(_) => Self::Conflict(refusal.to_string()),
            Refusal::Invalid(message) => Self::InvalidField(message),
        }
    }
}

impl From<DispatchError> for ApiError {
    fn from(error: DispatchError) -> Self {
        match error {
            DispatchError::NotReady => Self::Starting(error.to_string()),
            DispatchError::Invalid(detail) => Self::InvalidField(detail),
            DispatchError::Forbidden => Self::Forbidden,
            DispatchError::NotFound => Self::NotFound,
            DispatchError::OutsideArea(detail) => Self::OutsideArea(detail),
            DispatchError::Incident(error) => error.into(),
            DispatchError::Database(error) => error.into(),
        }
    }
}

impl From<SignInError> for ApiError {
    fn from(error: SignInError) -> Self {
        match error {
            SignInError::InvalidCredentials => Self::InvalidCredentials,
            SignInError::Throttled { retry_after_secs } => {
                Self::TooManyAttempts { retry_after_secs }
            }
            SignInError::Database(error) => error.into(),
            SignInError::Internal(detail) => Self::internal(detail),
        }
    }
}

impl From<TileError> for ApiError {
    fn from(error: TileError) -> Self {
        match error {
            TileError::Database(error) => error.into(),
            TileError::Encoding(detail) => Self::internal(detail),
        }
    }
}

impl From<HouseholdError> for ApiError {
    fn from(error: HouseholdError) -> Self {
        match error {
            HouseholdError::NotFound => Self::NotFound,
            HouseholdError::Database(error) => error.into(),
            HouseholdError::Internal(detail) => Self::internal(detail),
        }
    }
}

impl From<wangge_domain::plans::PlanError> for ApiError {
    fn from(error: wangge_domain::plans::PlanError) -> Self {
        match error {
            wangge_domain::plans::PlanError::NotFound => ApiError::NotFound,
            wangge_domain::plans::PlanError::Invalid(detail) => ApiError::InvalidField(detail),
            wangge_domain::plans::PlanError::OutsideArea(detail) => ApiError::OutsideArea(detail),
            wangge_domain::plans::PlanError::Forbidden => ApiError::Forbidden,
            wangge_domain::plans::PlanError::State(detail) => ApiError::Conflict(detail),
            wangge_domain::plans::PlanError::Conflict { detail, current } => {
                ApiError::ConflictWith { detail, current }
            }
            wangge_domain::plans::PlanError::Rejected { detail, issues } => {
                ApiError::InvalidPlan { detail, issues }
            }
            wangge_domain::plans::PlanError::Database(e) => e.into(),
        }
    }
}
