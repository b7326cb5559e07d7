//! Reading the audit trail: the rows an auditor may see, by user, object, area and time.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::auth::Area;

/// What to look for: each filter given narrows the rows; `limit` is checked by the caller.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub user: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    /// An official code: rows in that unit and below.
    pub area: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: i64,
}

/// One row of the trail as an auditor reads it.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub username: String,
    pub role: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub area_code: String,
    pub outcome: String,
    pub request_id: String,
    /// The id the client sent, if any (the server's own is `request_id`).
    pub client_request_id: Option<String>,
    pub client_addr: String,
}

/// Rows in `area` that `filter` asks for, newest first. A city-wide area also holds the
/// system's own rows (imports, the demo load, user management from the command line).
pub async fn list(
    pool: &PgPool,
    area: &Area,
    filter: &Filter,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    let city_wide = area.level == "city";
    sqlx::query_as(
        "SELECT id, at, username, role, action, object_type, object_id, area_code, outcome,
                request_id, client_request_id, client_addr
         FROM audit_log
         WHERE (area_code LIKE $1 || '%' AND area_code <> '' OR ($2 AND area_code = ''))
           AND ($3::text IS NULL OR username = $3)
           AND ($4::text IS NULL OR object_type = $4)
           AND ($5::text IS NULL OR object_id = $5)
           AND ($6::text IS NULL OR area_code LIKE $6 || '%')
           AND ($7::timestamptz IS NULL OR at >= $7)
           AND ($8::timestamptz IS NULL OR at < $8)
         ORDER BY id DESC
         LIMIT $9",
    )
    .bind(&area.prefix)
    .bind(city_wide)
    .bind(&filter.user)
    .bind(&filter.object_type)
    .bind(&filter.object_id)
    .bind(&filter.area)
    .bind(filter.from)
    .bind(filter.to)
    .bind(filter.limit)
    .fetch_all(pool)
    .await
}
