//! Who is calling, and what they may see: users, roles, areas, sessions and bearer tokens.
//!
//! Every request but health checks, signing in and the client's files carries a session
//! cookie or a bearer token; [`Caller`] turns it into the user, their role and their [`Area`].
//! Handlers pass the area into their SQL, so scoping happens in the query itself.

pub mod cache;
pub mod limiter;
pub mod password;
pub mod session;
pub mod token;
pub mod users;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::config::AuthConfig;

/// The name of the session cookie.
pub const COOKIE: &str = "wangge_session";

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "user_role", rename_all = "snake_case")]
pub enum Role {
    /// Command-centre operator: watches the live map.
    Operator,
    /// Assigns incidents to grid workers.
    Dispatcher,
    /// Redraws grid boundaries.
    Planner,
    /// Grid worker (网格员): works one grid cell.
    Worker,
    /// Reads the audit trail.
    Auditor,
    /// Manages users.
    Admin,
}

impl Role {
    /// Roles whose work needs people's names, ID numbers and phones (residents, reporters):
    /// grid workers visit them, dispatchers call them. Others never see them at all or see
    /// them masked, and only these may ask for them in full.
    pub fn handles_personal_data(self) -> bool {
        matches!(self, Role::Worker | Role::Dispatcher)
    }

    pub const ALL: [Role; 6] = [
        Self::Operator,
        Self::Dispatcher,
        Self::Planner,
        Self::Worker,
        Self::Auditor,
        Self::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Dispatcher => "dispatcher",
            Self::Planner => "planner",
            Self::Worker => "worker",
            Self::Auditor => "auditor",
            Self::Admin => "admin",
        }
    }
}

/// The part of the city a user may see and act in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Area {
    /// `city`, `county`, `township`, `village` or `grid_cell`.
    pub level: String,
    /// The unit's official code, or the grid cell's code.
    pub code: String,
    pub name: String,
    /// Units and records whose (village) code starts with this are inside the area.
    #[serde(skip)]
    pub prefix: String,
    /// For a grid-cell area: only this cell.
    #[serde(skip)]
    pub grid_cell_id: Option<i64>,
}

impl Area {
    /// The code prefix of an administrative unit's area: official codes nest by prefix,
    /// except the city's (`530400`), whose counties share its first four digits.
    pub fn unit_prefix(level: &str, code: &str) -> String {
        if level == "city" {
            code.get(..4).unwrap_or(code).to_owned()
        } else {
            code.to_owned()
        }
    }
}

/// The signed-in user behind a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub area: Area,
    /// For a grid worker's sign-in: the worker's name, which the timeline shows for what
    /// they did (a username is an account, not a person).
    pub worker_name: Option<String>,
    /// The hash of the token that authenticated this request.
    pub token_hash: [u8; 32],
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl Caller {
    /// An audit row for something this caller did.
    pub fn entry<'a>(
        &'a self,
        action: &'a str,
        object_type: &'a str,
        object_id: String,
        meta: &'a crate::audit::RequestMeta,
    ) -> crate::audit::Entry<'a> {
        crate::audit::Entry {
            user_id: Some(self.user_id),
            username: &self.username,
            role: self.role.as_str(),
            action,
            object_type,
            object_id,
            area_code: &self.area.code,
            outcome: crate::audit::Outcome::Ok,
            meta,
        }
    }
}

/// What finding the caller behind a token needs: the database, the session cache and the
/// session rules. Small, so the HTTP layer can hand it to every extractor.
#[derive(Debug, Clone)]
pub struct AuthState {
    pub pool: PgPool,
    pub sessions: Arc<cache::SessionCache>,
    pub config: Arc<AuthConfig>,
}

/// The grid worker a grid worker's sign-in is, as their own screen shows them.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct OwnWorker {
    pub id: i64,
    pub name: String,
    /// `available`, `busy` or `off_duty`.
    pub status: String,
}

impl Caller {
    /// The grid worker this sign-in is (none for other roles, or a sign-in bound to no
    /// worker): the assignee whose cases it works, the worker its positions move.
    pub async fn own_worker<'e>(
        &self,
        db: impl sqlx::PgExecutor<'e>,
    ) -> Result<Option<OwnWorker>, sqlx::Error> {
        if self.role != Role::Worker {
            return Ok(None);
        }
        sqlx::query_as(
            "SELECT id, name, status::text AS status FROM grid_worker WHERE user_id = $1",
        )
        .bind(self.user_id)
        .fetch_optional(db)
        .await
    }

    /// The user behind a presented token (bearer token, session cookie or Open311 api_key),
    /// or `None` when it opens no live session.
    ///
    /// Served from the session cache when it was looked up lately (see [`cache`]); a quarter
    /// of the idle timeout at most, so the idle clock is touched well before it runs out.
    pub async fn from_token(auth: &AuthState, token: &str) -> Result<Option<Self>, sqlx::Error> {
        let hash = token::hash(token);
        let max_age = cache::MAX_AGE.min(auth.config.idle_timeout / 4);
        if let Some(caller) = auth.sessions.get(&hash, max_age) {
            return Ok(Some(caller));
        }
        let ticket = auth.sessions.ticket();
        let mut conn = auth.pool.acquire().await?;
        let caller = session::authenticate(&mut conn, &hash, &auth.config).await?;
        if let Some(caller) = &caller {
            auth.sessions.put(ticket, caller);
        }
        Ok(caller)
    }
}
