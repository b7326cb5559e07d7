//! Sessions and tokens in the database: sign-in (throttled, never locked: see
//! `auth::limiter`), look-up with idle and absolute expiry, revocation.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::limiter::SignInGuard;
use super::{Area, Caller, Role, password, token};
use crate::audit::{self, Entry, Outcome, RequestMeta};
use crate::config::AuthConfig;

/// Why a sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("too many attempts; try again in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A broken invariant: logged, never shown.
    #[error("{0}")]
    Internal(String),
}

impl SignInError {
    fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }
}

/// The idle clock is touched at most this often (seconds): a session's idle expiry may come
/// this much early, and a busy token does not rewrite its session row on every request.
const TOUCH_EVERY_SECS: f64 = 60.0;

/// Resolves a token hash to its live session's user, touching its idle clock.
pub async fn authenticate(
    conn: &mut sqlx::PgConnection,
    token_hash: &[u8; 32],
    config: &AuthConfig,
) -> Result<Option<Caller>, sqlx::Error> {
    let found = read(conn, token_hash, config).await?;
    if found.as_ref().is_some_and(|(_, stale_clock)| *stale_clock) {
        sqlx::query(
            "UPDATE auth_session SET last_seen_at = now()
             WHERE token_hash = $1 AND last_seen_at < now() - make_interval(secs => $2)",
        )
        .bind(&token_hash[..])
        .bind(TOUCH_EVERY_SECS)
        .execute(&mut *conn)
        .await?;
    }
    Ok(found.map(|(caller, _)| caller))
}

/// Whether a token's session still holds, and as whom, without touching its idle clock: an
/// open live socket re-checks its session with this, and must not keep an idle session alive.
pub async fn look_up(
    conn: &mut sqlx::PgConnection,
    token_hash: &[u8; 32],
    config: &AuthConfig,
) -> Result<Option<Caller>, sqlx::Error> {
    Ok(read(conn, token_hash, config)
        .await?
        .map(|(caller, _)| caller))
}

/// The live session's user, and whether its idle clock is due a touch.
async fn read(
    conn: &mut sqlx::PgConnection,
    token_hash: &[u8; 32],
    config: &AuthConfig,
) -> Result<Option<(Caller, bool)>, sqlx::Error> {
    type Row = (
        i64,
        String,
        Role,
        String,
        String,
        String,
        Option<i64>,
        Option<String>,
        DateTime<Utc>,
        bool,
        Option<String>,
    );
    // A read, then a touch only when the clock is a minute old: a field device or an
    // integration sending many requests on one token would otherwise queue every request
    // behind the same row's lock and a commit of its own.
    let row: Option<Row> = sqlx::query_as(
        "SELECT u.id, u.username, u.role,
                COALESCE(au.level::text, 'grid_cell'), COALESCE(au.code, gc.code),
                COALESCE(au.name, gc.name), u.area_grid_cell_id, gv.code, s.expires_at,
                s.last_seen_at < now() - make_interval(secs => $3),
                (SELECT w.name FROM grid_worker w WHERE w.user_id = u.id)
         FROM auth_session s
         JOIN app_user u ON u.id = s.user_id
         LEFT JOIN admin_unit au ON au.id = u.area_unit_id
         LEFT JOIN grid_cell gc ON gc.id = u.area_grid_cell_id
         LEFT JOIN admin_unit gv ON gv.id = gc.village_id
         WHERE s.token_hash = $1
           AND s.revoked_at IS NULL AND s.expires_at > now()
           AND (s.kind = 'bearer' OR s.last_seen_at > now() - make_interval(secs => $2))
           AND u.disabled_at IS NULL",
    )
    .bind(&token_hash[..])
    .bind(config.idle_timeout.as_secs_f64())
    .bind(TOUCH_EVERY_SECS)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(
        |(
            user_id,
            username,
            role,
            level,
            code,
            name,
            grid_cell_id,
            village_code,
            expires_at,
            stale_clock,
            worker_name,
        )| {
            let prefix = match &village_code {
                Some(village) => village.clone(),
                None => Area::unit_prefix(&level, &code),
            };
            let caller = Caller {
                user_id,
                username,
                role,
                area: Area {
                    level,
                    code,
                    name,
                    prefix,
                    grid_cell_id,
                },
                worker_name,
                token_hash: *token_hash,
                expires_at,
            };
            (caller, stale_clock)
        },
    ))
}

/// What kind of credential a successful sign-in issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "session_kind", rename_all = "snake_case")]
pub enum SessionKind {
    /// A browser session in an HttpOnly cookie, with idle and absolute expiry.
    Cookie,
    /// A bearer token for field devices and API clients, with absolute expiry.
    Bearer,
}

/// A new session's token (shown to the client once) and its user.
#[derive(Debug)]
pub struct Issued {
    pub token: String,
    pub caller: Caller,
}

/// One sign-in as it arrived.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub kind: SessionKind,
    /// What a bearer token is for (a device's name).
    pub label: &'a str,
    /// Where it came from (`None`: in-process), as resolved through trusted proxies.
    pub client: Option<IpAddr>,
}

impl Attempt<'_> {
    fn action(&self) -> &'static str {
        match self.kind {
            SessionKind::Cookie => "sign_in",
            SessionKind::Bearer => "issue_token",
        }
    }
}

/// A sign-in through the API: throttled by `guard` (see `auth::limiter`), then checked.
///
/// Unknown names and real ones get the same answers from the same work: a throttled attempt
/// costs one user look-up and one audit row and no password verification, whoever it names;
/// an admitted one costs one look-up, one argon2id verification (against a throwaway hash
/// for an unknown name) and one audit row.
pub async fn sign_in_guarded(
    pool: &PgPool,
    guard: &SignInGuard,
    attempt: &Attempt<'_>,
    config: &AuthConfig,
    meta: &RequestMeta,
) -> Result<Issued, SignInError> {
    if let Err(wait) = guard.admit(attempt.username, attempt.client) {
        let user = user_id(pool, attempt.username).await?;
        let mut conn = pool.acquire().await?;
        audit::record(&mut conn, &denied(user, attempt, meta)).await?;
        return Err(SignInError::Throttled {
            // Rounded up: never invite a retry that is still too early.
            retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        });
    }
    let result = check_and_open(pool, attempt, config, meta, &|| guard.verified()).await;
    match &result {
        Ok(_) => guard.succeeded(attempt.username, attempt.client),
        Err(SignInError::InvalidCredentials) => guard.failed(attempt.username, attempt.client),
        Err(_) => {}
    }
    result
}

/// Checks a username and password; on success opens a session of `kind`. Not throttled:
/// for the command line and tests, which reach the database directly anyway; requests go
/// through [`sign_in_guarded`].
pub async fn sign_in(
    pool: &PgPool,
    username: &str,
    password: &str,
    kind: SessionKind,
    label: &str,
    config: &AuthConfig,
    meta: &RequestMeta,
) -> Result<Issued, SignInError> {
    let attempt = Attempt {
        username,
        password,
        kind,
        label,
        client: None,
    };
    check_and_open(pool, &attempt, config, meta, &|| {}).await
}

async fn user_id(pool: &PgPool, username: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM app_user WHERE username = $1")
        .bind(username)
        .fetch_optional(pool)
        .await
}

/// The audit row of a refused sign-in. What was typed as an unknown username may be
/// anything (even a password): not recorded.
fn denied<'a>(user: Option<i64>, attempt: &Attempt<'a>, meta: &'a RequestMeta) -> Entry<'a> {
    Entry {
        user_id: user,
        username: if user.is_some() {
            attempt.username
        } else {
            "(unknown)"
        },
        role: "",
        action: attempt.action(),
        object_type: "user",
        object_id: user.map(|id| id.to_string()).unwrap_or_default(),
        area_code: "",
        outcome: Outcome::Denied,
        meta,
    }
}

/// Verifies the password (the same argon2id cost for unknown users and wrong passwords,
/// `verified` told each time) and opens a session, or answers `InvalidCredentials`; audited
/// either way.
async fn check_and_open(
    pool: &PgPool,
    attempt: &Attempt<'_>,
    config: &AuthConfig,
    meta: &RequestMeta,
    verified: &(dyn Fn() + Sync),
) -> Result<Issued, SignInError> {
    let user: Option<(i64, String, bool)> = sqlx::query_as(
        "SELECT id, password_hash, disabled_at IS NOT NULL FROM app_user WHERE username = $1",
    )
    .bind(attempt.username)
    .fetch_optional(pool)
    .await?;
    let password = attempt.password.to_owned();
    let (user, matches) = match user {
        None => {
            tokio::task::spawn_blocking(move || password::verify_nobody(&password))
                .await
                .map_err(SignInError::internal)?;
            (None, false)
        }
        Some((user_id, phc, disabled)) => {
            let matches = tokio::task::spawn_blocking(move || password::verify(&password, &phc))
                .await
                .map_err(SignInError::internal)?;
            (Some(user_id), matches && !disabled)
        }
    };
    verified();
    let Some(user_id) = user.filter(|_| matches) else {
        let mut conn = pool.acquire().await?;
        audit::record(&mut conn, &denied(user, attempt, meta)).await?;
        return Err(SignInError::InvalidCredentials);
    };
    let lifetime = match attempt.kind {
        SessionKind::Cookie => config.session_lifetime,
        SessionKind::Bearer => config.token_lifetime,
    };
    let (token, token_hash) = token::generate();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO auth_session (token_hash, user_id, kind, label, expires_at)
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
    )
    .bind(&token_hash[..])
    .bind(user_id)
    .bind(attempt.kind)
    .bind(attempt.label)
    .bind(lifetime.as_secs_f64())
    .execute(&mut *tx)
    .await?;
    let caller = authenticate(&mut tx, &token_hash, config)
        .await?
        .ok_or_else(|| SignInError::internal("a session just created was not found"))?;
    audit::record(
        &mut tx,
        &caller.entry(attempt.action(), "session", attempt.label.to_owned(), meta),
    )
    .await?;
    tx.commit().await?;
    Ok(Issued { token, caller })
}

/// Ends the caller's session.
pub async fn revoke(pool: &PgPool, caller: &Caller, meta: &RequestMeta) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE auth_session SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL",
    )
    .bind(&caller.token_hash[..])
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        &caller.entry("sign_out", "session", String::new(), meta),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
