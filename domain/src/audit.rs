//! The audit trail: who did what to which object, in which area, with what outcome, from
//! which request and address. Rows are written in the same transaction as the change they
//! record, chained by hash in the database (migration `…_audit.sql`), and checked by
//! [`verify`] (`wangge audit verify`), which rebuilds every hash independently. Auditors
//! read it through [`read`].

pub mod read;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

/// Where a change came from: the server's id for the request, the id the client gave it (if
/// any), and the client's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestMeta {
    pub request_id: String,
    /// As the client sent it in `x-request-id`, cut to 64 visible ASCII characters; it
    /// proves nothing (anyone may send anything) and only helps find a client's own log line.
    pub client_request_id: Option<String>,
    pub client_addr: String,
}

impl RequestMeta {
    /// A change made from the command line.
    pub fn cli() -> Self {
        Self::system(format!("cli-{}", uuid::Uuid::new_v4().simple()), "cli")
    }

    /// A change the server makes by itself (`request_id` names the job), from `origin`.
    pub fn system(request_id: String, origin: &str) -> Self {
        Self {
            request_id,
            client_request_id: None,
            client_addr: origin.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Refused: bad credentials, not allowed.
    Denied,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Denied => "denied",
        }
    }
}

/// One audit row to write.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub user_id: Option<i64>,
    pub username: &'a str,
    pub role: &'a str,
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: String,
    pub area_code: &'a str,
    pub outcome: Outcome,
    pub meta: &'a RequestMeta,
}

impl<'a> Entry<'a> {
    /// A change made by the system itself (the command line, the demo loader).
    pub fn system(
        action: &'a str,
        object_type: &'a str,
        object_id: String,
        meta: &'a RequestMeta,
    ) -> Self {
        Self {
            user_id: None,
            username: "system",
            role: "system",
            action,
            object_type,
            object_id,
            area_code: "",
            outcome: Outcome::Ok,
            meta,
        }
    }
}

/// Writes an audit row on `conn`, normally inside the transaction of the change.
pub async fn record(conn: &mut PgConnection, entry: &Entry<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        // id, at and the hashes are set by the chaining trigger.
        "INSERT INTO audit_log (user_id, username, role, action, object_type, object_id, area_code,
                                outcome, request_id, client_addr, client_request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(entry.user_id)
    .bind(entry.username)
    .bind(entry.role)
    .bind(entry.action)
    .bind(entry.object_type)
    .bind(&entry.object_id)
    .bind(entry.area_code)
    .bind(entry.outcome.as_str())
    .bind(&entry.meta.request_id)
    .bind(&entry.meta.client_addr)
    .bind(&entry.meta.client_request_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes several audit rows in one statement, chained in the order given.
pub async fn record_many(
    conn: &mut PgConnection,
    entries: &[Entry<'_>],
) -> Result<(), sqlx::Error> {
    if entries.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&Entry<'_>) -> String| entries.iter().map(f).collect::<Vec<String>>();
    sqlx::query(
        "INSERT INTO audit_log (user_id, username, role, action, object_type, object_id, area_code,
                                outcome, request_id, client_addr, client_request_id)
         SELECT u, n, r, a, ot, oi, ac, o, ri, ca, cri
         FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
              WITH ORDINALITY AS e (u, n, r, a, ot, oi, ac, o, ri, ca, cri, ord)
         ORDER BY ord",
    )
    .bind(
        entries
            .iter()
            .map(|e| e.user_id)
            .collect::<Vec<Option<i64>>>(),
    )
    .bind(column(|e| e.username.to_owned()))
    .bind(column(|e| e.role.to_owned()))
    .bind(column(|e| e.action.to_owned()))
    .bind(column(|e| e.object_type.to_owned()))
    .bind(column(|e| e.object_id.clone()))
    .bind(column(|e| e.area_code.to_owned()))
    .bind(column(|e| e.outcome.as_str().to_owned()))
    .bind(column(|e| e.meta.request_id.clone()))
    .bind(column(|e| e.meta.client_addr.clone()))
    .bind(
        entries
            .iter()
            .map(|e| e.meta.client_request_id.clone())
            .collect::<Vec<Option<String>>>(),
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("the audit trail is broken at row {id}: {reason}")]
    Broken { id: i64, reason: String },
    #[error("reading the audit trail failed: {0}")]
    Database(#[from] sqlx::Error),
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    at: DateTime<Utc>,
    user_id: Option<i64>,
    username: String,
    role: String,
    action: String,
    object_type: String,
    object_id: String,
    area_code: String,
    outcome: String,
    request_id: String,
    client_addr: String,
    client_request_id: Option<String>,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl Row {
    /// The same text as the database's `audit_canonical`. The client's request id (added
    /// later, migration 0013) joins only when present, so rows written before it hash as
    /// they always did.
    fn canonical(&self) -> String {
        let mut fields = vec![
            self.id.to_string(),
            self.at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            self.user_id.map(|u| u.to_string()).unwrap_or_default(),
            self.username.clone(),
            self.role.clone(),
            self.action.clone(),
            self.object_type.clone(),
            self.object_id.clone(),
            self.area_code.clone(),
            self.outcome.clone(),
            self.request_id.clone(),
            self.client_addr.clone(),
        ];
        fields.extend(self.client_request_id.clone());
        fields.join("\u{1f}")
    }
}

/// Checks the whole chain: ids run 1, 2, 3, … with no gap, each row's `prev_hash` is the
/// previous row's hash, each hash matches the row's content, and the head names the last row.
/// Returns the number of rows checked.
pub async fn verify(pool: &PgPool) -> Result<i64, AuditError> {
    use futures_util::TryStreamExt;
    // One snapshot for the rows and the head: on a live system rows keep arriving, and a
    // head read after the rows would look like rows went missing.
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let mut rows = sqlx::query_as::<_, Row>("SELECT * FROM audit_log ORDER BY id").fetch(&mut *tx);
    let mut expected_id = 1i64;
    let mut previous = vec![0u8; 32];
    while let Some(row) = rows.try_next().await? {
        let broken = |reason: String| AuditError::Broken { id: row.id, reason };
        if row.id != expected_id {
            return Err(AuditError::Broken {
                id: expected_id,
                reason: format!("row {expected_id} is missing (next is {})", row.id),
            });
        }
        if row.prev_hash != previous {
            return Err(broken("it does not follow the previous row's hash".into()));
        }
        let mut hasher = Sha256::new();
        hasher.update(&previous);
        hasher.update(row.canonical().as_bytes());
        let hash = hasher.finalize().to_vec();
        if hash != row.hash {
            return Err(broken(
                "its content does not match its hash (it was altered)".into(),
            ));
        }
        previous = hash;
        expected_id += 1;
    }
    drop(rows);
    let (last_id, last_hash): (i64, Vec<u8>) =
        sqlx::query_as("SELECT last_id, last_hash FROM audit_head")
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    if last_id != expected_id - 1 || last_hash != previous {
        return Err(AuditError::Broken {
            id: last_id,
            reason: format!(
                "the trail ends at row {} but {last_id} were written (rows were removed)",
                expected_id - 1
            ),
        });
    }
    Ok(expected_id - 1)
}
