//! Managing users: `wangge user add | list | disable | reset-password`, and the demo's users.

use sqlx::PgPool;

use super::{Role, password};
use crate::audit::{self, Entry, RequestMeta};

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("no user named `{0}`")]
    NoSuchUser(String),
    #[error("a user named `{0}` already exists")]
    Exists(String),
    #[error(
        "`{0}` is not a username: use 2 to 40 lowercase letters, digits, '.', '_' or '-', starting with a letter"
    )]
    BadUsername(String),
    #[error("no administrative unit or grid cell has the code `{0}`")]
    NoSuchArea(String),
    #[error("{0}")]
    WeakPassword(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Where a new user works: a unit's official code or a grid cell's code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AreaCode {
    Unit(String),
    GridCell(String),
}

/// One row of `wangge user list`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserSummary {
    pub username: String,
    pub role: Role,
    pub area: String,
    pub disabled: bool,
}

fn valid_username(name: &str) -> bool {
    let mut chars = name.chars();
    (2..=40).contains(&name.len())
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
}

/// Resolves an area code to (admin unit id, grid cell id), one of them set.
async fn area_ids(pool: &PgPool, area: &AreaCode) -> Result<(Option<i64>, Option<i64>), UserError> {
    match area {
        AreaCode::Unit(code) => {
            let id: Option<i64> = sqlx::query_scalar("SELECT id FROM admin_unit WHERE code = $1")
                .bind(code)
                .fetch_optional(pool)
                .await?;
            id.map(|id| (Some(id), None))
                .ok_or_else(|| UserError::NoSuchArea(code.clone()))
        }
        AreaCode::GridCell(code) => {
            let id: Option<i64> = sqlx::query_scalar(
                "SELECT g.id FROM grid_cell g JOIN grid_plan p ON p.id = g.plan_id
                 WHERE g.code = $1 ORDER BY (p.status = 'published') DESC, p.version DESC LIMIT 1",
            )
            .bind(code)
            .fetch_optional(pool)
            .await?;
            id.map(|id| (None, Some(id)))
                .ok_or_else(|| UserError::NoSuchArea(code.clone()))
        }
    }
}

/// Adds a user with the given password.
pub async fn add(
    pool: &PgPool,
    username: &str,
    role: Role,
    area: &AreaCode,
    password: &str,
    meta: &RequestMeta,
) -> Result<(), UserError> {
    if !valid_username(username) {
        return Err(UserError::BadUsername(username.to_owned()));
    }
    if let Some(why) = password::weakness(password) {
        return Err(UserError::WeakPassword(why));
    }
    let (unit, cell) = area_ids(pool, area).await?;
    let phc = hash_off_thread(password).await;
    let mut tx = pool.begin().await?;
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO app_user (username, role, area_unit_id, area_grid_cell_id, password_hash)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING RETURNING id",
    )
    .bind(username)
    .bind(role)
    .bind(unit)
    .bind(cell)
    .bind(phc)
    .fetch_optional(&mut *tx)
    .await?;
    let id = id.ok_or_else(|| UserError::Exists(username.to_owned()))?;
    audit::record(
        &mut tx,
        &Entry::system("add_user", "user", id.to_string(), meta),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn list(pool: &PgPool) -> Result<Vec<UserSummary>, UserError> {
    Ok(sqlx::query_as(
        "SELECT u.username, u.role, COALESCE(au.code || ' ' || au.name, 'grid cell ' || gc.code) AS area,
                u.disabled_at IS NOT NULL AS disabled
         FROM app_user u
         LEFT JOIN admin_unit au ON au.id = u.area_unit_id
         LEFT JOIN grid_cell gc ON gc.id = u.area_grid_cell_id
         ORDER BY u.username",
    )
    .fetch_all(pool)
    .await?)
}

/// Disables a user and ends all their sessions.
pub async fn disable(pool: &PgPool, username: &str, meta: &RequestMeta) -> Result<(), UserError> {
    let mut tx = pool.begin().await?;
    let id: Option<i64> = sqlx::query_scalar(
        "UPDATE app_user SET disabled_at = COALESCE(disabled_at, now()) WHERE username = $1 RETURNING id",
    )
    .bind(username)
    .fetch_optional(&mut *tx)
    .await?;
    end_sessions_and_audit(tx, id, username, "disable_user", meta).await
}

/// Sets a new password and ends all the user's sessions. (The lockout columns it clears are
/// no longer set: sign-in is throttled in memory, see `auth::limiter`.)
pub async fn reset_password(
    pool: &PgPool,
    username: &str,
    password: &str,
    meta: &RequestMeta,
) -> Result<(), UserError> {
    if let Some(why) = password::weakness(password) {
        return Err(UserError::WeakPassword(why));
    }
    let phc = hash_off_thread(password).await;
    let mut tx = pool.begin().await?;
    let id: Option<i64> = sqlx::query_scalar(
        "UPDATE app_user SET password_hash = $2, password_changed_at = now(), failed_logins = 0,
                             locked_until = NULL
         WHERE username = $1 RETURNING id",
    )
    .bind(username)
    .bind(phc)
    .fetch_optional(&mut *tx)
    .await?;
    end_sessions_and_audit(tx, id, username, "reset_password", meta).await
}

/// Finishes a change to user `id` (`None`: there is no such user): ends all their sessions,
/// audits `action`, and commits.
async fn end_sessions_and_audit(
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    id: Option<i64>,
    username: &str,
    action: &str,
    meta: &RequestMeta,
) -> Result<(), UserError> {
    let id = id.ok_or_else(|| UserError::NoSuchUser(username.to_owned()))?;
    sqlx::query(
        "UPDATE auth_session SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        &Entry::system(action, "user", id.to_string(), meta),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What [`ensure_demo_users`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoUsers {
    /// Users made now.
    pub created: Vec<String>,
    /// Users whose password was set to the one asked for (their sessions ended).
    pub password_set: Vec<String>,
    /// The password generated now for the users made now (none was asked for).
    pub generated: Option<String>,
}

/// The demo's users, one per role and named after it: the whole city, except `worker`, who
/// works the first grid cell of the published plan.
///
/// Made once. A user who exists keeps what they have (password, sessions, tokens, disabled or
/// not) across restarts, unless `wanted` is a password they do not have: then it is set
/// (which ends their sessions). Users made now get `wanted`, or one password generated now.
pub async fn ensure_demo_users(
    pool: &PgPool,
    wanted: Option<&str>,
    meta: &RequestMeta,
) -> Result<DemoUsers, UserError> {
    if let Some(why) = wanted.and_then(password::weakness) {
        return Err(UserError::WeakPassword(why));
    }
    let city: String = sqlx::query_scalar(
        "SELECT code FROM admin_unit WHERE level = 'city' ORDER BY code LIMIT 1",
    )
    .fetch_one(pool)
    .await?;
    let cell: String = sqlx::query_scalar(
        "SELECT g.code FROM grid_cell g JOIN grid_plan p ON p.id = g.plan_id
         WHERE p.status = 'published' ORDER BY g.code LIMIT 1",
    )
    .fetch_one(pool)
    .await?;
    let mut done = DemoUsers::default();
    for role in Role::ALL {
        let name = role.as_str();
        let phc: Option<String> =
            sqlx::query_scalar("SELECT password_hash FROM app_user WHERE username = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?;
        match (phc, wanted) {
            (None, _) => {
                let area = if role == Role::Worker {
                    AreaCode::GridCell(cell.clone())
                } else {
                    AreaCode::Unit(city.clone())
                };
                let chosen = match wanted {
                    Some(given) => given.to_owned(),
                    None => done
                        .generated
                        .get_or_insert_with(password::generate)
                        .clone(),
                };
                add(pool, name, role, &area, &chosen, meta).await?;
                done.created.push(name.to_owned());
            }
            (Some(phc), Some(given)) => {
                let given_owned = given.to_owned();
                let same =
                    tokio::task::spawn_blocking(move || password::verify(&given_owned, &phc))
                        .await
                        .expect("verifying does not panic");
                if !same {
                    reset_password(pool, name, given, meta).await?;
                    done.password_set.push(name.to_owned());
                }
            }
            (Some(_), None) => {}
        }
    }
    // The demo's `worker` signs in as the first grid worker of their cell.
    let me: i64 = sqlx::query_scalar("SELECT id FROM app_user WHERE username = 'worker'")
        .fetch_one(pool)
        .await?;
    let target: Option<i64> = sqlx::query_scalar(
        "SELECT wc.worker_id FROM grid_worker_cell wc
         JOIN grid_cell g ON g.id = wc.grid_cell_id
         JOIN grid_plan p ON p.id = g.plan_id AND p.status = 'published'
         WHERE g.code = $1 ORDER BY wc.worker_id LIMIT 1",
    )
    .bind(&cell)
    .fetch_optional(pool)
    .await?;
    if let Some(target) = target {
        sqlx::query("UPDATE grid_worker SET user_id = NULL WHERE user_id = $1 AND id <> $2")
            .bind(me)
            .bind(target)
            .execute(pool)
            .await?;
        sqlx::query(
            "UPDATE grid_worker SET user_id = $1 WHERE id = $2 AND user_id IS DISTINCT FROM $1",
        )
        .bind(me)
        .bind(target)
        .execute(pool)
        .await?;
    }
    Ok(done)
}

async fn hash_off_thread(password: &str) -> String {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .expect("hashing does not panic")
}

/// A user's id, name, role, area (level, code, name), grid cell, its village's code, and the
/// name of the grid worker the user is (if one).
type CallerRow = (
    i64,
    String,
    super::Role,
    String,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
);

/// The enabled user `username` as a caller, for the command line acting in their name (the
/// same role and area rules as their requests, the same audit rows). No session: the token
/// hash is zero and it expires in a day.
pub async fn caller(pool: &PgPool, username: &str) -> Result<super::Caller, UserError> {
    let row: Option<CallerRow> = sqlx::query_as(
        "SELECT u.id, u.username, u.role,
                    COALESCE(au.level::text, 'grid_cell'), COALESCE(au.code, gc.code),
                    COALESCE(au.name, gc.name), u.area_grid_cell_id, gv.code,
                    (SELECT w.name FROM grid_worker w WHERE w.user_id = u.id)
             FROM app_user u
             LEFT JOIN admin_unit au ON au.id = u.area_unit_id
             LEFT JOIN grid_cell gc ON gc.id = u.area_grid_cell_id
             LEFT JOIN admin_unit gv ON gv.id = gc.village_id
             WHERE u.username = $1 AND u.disabled_at IS NULL",
    )
    .bind(username)
    .fetch_optional(pool)
    .await?;
    let (user_id, username, role, level, code, name, grid_cell_id, village_code, worker_name) =
        row.ok_or_else(|| UserError::NoSuchUser(username.to_owned()))?;
    let prefix = match &village_code {
        Some(village) => village.clone(),
        None => super::Area::unit_prefix(&level, &code),
    };
    Ok(super::Caller {
        user_id,
        username,
        role,
        area: super::Area {
            level,
            code,
            name,
            prefix,
            grid_cell_id,
        },
        worker_name,
        token_hash: [0; 32],
        expires_at: chrono::Utc::now() + chrono::TimeDelta::days(1),
    })
}
