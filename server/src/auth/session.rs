//! Sessions and tokens in the database: sign-in with lockout, look-up with idle and absolute
//! expiry, revocation.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{Area, Caller, Role, password, token};
use crate::audit::{self, Entry, Outcome, RequestMeta};
use crate::config::AuthConfig;
use crate::error::ApiError;

/// The idle clock is touched at most this often (seconds): a session's idle expiry may come
/// this much early, and a busy token does not rewrite its session row on every request.
const TOUCH_EVERY_SECS: f64 = 60.0;

/// Resolves a token hash to its live session's user, touching its idle clock.
pub async fn authenticate(
    conn: &mut sqlx::PgConnection,
    token_hash: &[u8; 32],
    config: &AuthConfig,
) -> Result<Option<Caller>, ApiError> {
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
) -> Result<Option<Caller>, ApiError> {
    Ok(read(conn, token_hash, config)
        .await?
        .map(|(caller, _)| caller))
}

/// The live session's user, and whether its idle clock is due a touch.
async fn read(
    conn: &mut sqlx::PgConnection,
    token_hash: &[u8; 32],
    config: &AuthConfig,
) -> Result<Option<(Caller, bool)>, ApiError> {
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
    );
    // A read, then a touch only when the clock is a minute old: a field device or an
    // integration sending many requests on one token would otherwise queue every request
    // behind the same row's lock and a commit of its own.
    let row: Option<Row> = sqlx::query_as(
        "SELECT u.id, u.username, u.role,
                COALESCE(au.level::text, 'grid_cell'), COALESCE(au.code, gc.code),
                COALESCE(au.name, gc.name), u.area_grid_cell_id, gv.code, s.expires_at,
                s.last_seen_at < now() - make_interval(secs => $3)
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

/// Checks a username and password; on success opens a session of `kind`.
///
/// Failures are counted per user; after `config.max_failures` in a row the user is locked
/// for `config.lockout`. Unknown users and wrong passwords are indistinguishable to the
/// caller and take the same time.
pub async fn sign_in(
    pool: &PgPool,
    username: &str,
    password: &str,
    kind: SessionKind,
    label: &str,
    config: &AuthConfig,
    meta: &RequestMeta,
) -> Result<Issued, ApiError> {
    let action = match kind {
        SessionKind::Cookie => "sign_in",
        SessionKind::Bearer => "issue_token",
    };
    let user: Option<(i64, String, Option<DateTime<Utc>>, bool)> = sqlx::query_as(
        "SELECT id, password_hash, locked_until, disabled_at IS NOT NULL FROM app_user WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(pool)
    .await?;
    let password = password.to_owned();
    let Some((user_id, phc, locked_until, disabled)) = user else {
        tokio::task::spawn_blocking(move || password::verify_nobody(&password))
            .await
            .map_err(ApiError::internal)?;
        // What was typed as a username may be anything (even a password): not recorded.
        let mut conn = pool.acquire().await?;
        let mut entry = Entry::system(action, "user", String::new(), meta);
        entry.username = "(unknown)";
        entry.role = "";
        entry.outcome = Outcome::Denied;
        audit::record(&mut conn, &entry).await?;
        return Err(ApiError::InvalidCredentials);
    };
    if let Some(until) = locked_until.filter(|until| *until > Utc::now()) {
        let wait = (until - Utc::now()).num_seconds().max(1) as u64;
        return Err(ApiError::TooManyAttempts {
            retry_after_secs: wait,
        });
    }
    let matches = tokio::task::spawn_blocking(move || password::verify(&password, &phc))
        .await
        .map_err(ApiError::internal)?;
    let denied = |user_id: i64| Entry {
        user_id: Some(user_id),
        username,
        role: "",
        action,
        object_type: "user",
        object_id: user_id.to_string(),
        area_code: "",
        outcome: Outcome::Denied,
        meta,
    };
    if !matches || disabled {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "UPDATE app_user SET
                 failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END,
                 locked_until = CASE WHEN failed_logins + 1 >= $2 THEN now() + make_interval(secs => $3)
                                     ELSE locked_until END
             WHERE id = $1",
        )
        .bind(user_id)
        .bind(config.max_failures as i32)
        .bind(config.lockout.as_secs_f64())
        .execute(&mut *tx)
        .await?;
        audit::record(&mut tx, &denied(user_id)).await?;
        tx.commit().await?;
        return Err(ApiError::InvalidCredentials);
    }
    let lifetime = match kind {
        SessionKind::Cookie => config.session_lifetime,
        SessionKind::Bearer => config.token_lifetime,
    };
    let (token, token_hash) = token::generate();
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE app_user SET failed_logins = 0, locked_until = NULL WHERE id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO auth_session (token_hash, user_id, kind, label, expires_at)
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
    )
    .bind(&token_hash[..])
    .bind(user_id)
    .bind(kind)
    .bind(label)
    .bind(lifetime.as_secs_f64())
    .execute(&mut *tx)
    .await?;
    let caller = authenticate(&mut tx, &token_hash, config)
        .await?
        .ok_or_else(|| ApiError::internal("a session just created was not found"))?;
    audit::record(
        &mut tx,
        &caller.entry(action, "session", label.to_owned(), meta),
    )
    .await?;
    tx.commit().await?;
    Ok(Issued { token, caller })
}

/// Ends the caller's session.
pub async fn revoke(pool: &PgPool, caller: &Caller, meta: &RequestMeta) -> Result<(), ApiError> {
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
