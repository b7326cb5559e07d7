//! What can go wrong with a case: the incidents module's one error type. The HTTP layer maps
//! each kind to its problem+json (`wangge-http`'s `error.rs`); nothing here knows a status.

use crate::incidents::lifecycle::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    /// A report or action whose content cannot be accepted (an unknown category, an empty
    /// description, a leader for a minor case).
    #[error("{0}")]
    Invalid(String),
    /// An `Idempotency-Key` header that is not one.
    #[error("{0}")]
    InvalidKey(String),
    /// A register address (Open311's `address_id`) that does not exist.
    #[error("no address {0}")]
    UnknownAddress(i64),
    /// A place outside the city, or outside the caller's area.
    #[error("{0}")]
    OutsideArea(String),
    /// The state machine said no.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Someone moved the case first: the refusal, and the case as it is now.
    #[error("{detail}")]
    Moved {
        detail: String,
        current: serde_json::Value,
    },
    /// No such case in the caller's area.
    #[error("no such case")]
    NotFound,
    /// The caller's role may not do this.
    #[error("your role may not do this")]
    Forbidden,
    #[error("this Idempotency-Key was already used with a different request")]
    KeyReused,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A broken invariant: logged, never shown.
    #[error("{0}")]
    Internal(String),
}

impl IncidentError {
    pub fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }
}
