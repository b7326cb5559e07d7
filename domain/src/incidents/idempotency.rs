//! Idempotent writes: a request sent with an `Idempotency-Key` header is answered once; a
//! retry with the same key and the same request gets that first answer again, and never a
//! second incident.
//!
//! The key is claimed by inserting it in the transaction that does the work. A retry racing
//! the first attempt blocks on the key's unique index until that transaction ends: if it
//! committed, the retry replays the stored answer; if it rolled back (the request was
//! refused), the retry claims the key and runs for itself. Keys belong to the user who sent
//! them and are kept for [`KEY_LIFETIME_HOURS`].

use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use crate::incidents::IncidentError;

pub const HEADER: &str = "idempotency-key";
/// How long a key is remembered.
pub const KEY_LIFETIME_HOURS: i32 = 24;

/// A validated `Idempotency-Key` and the fingerprint of the request it came with.
#[derive(Debug, Clone)]
pub struct Key {
    pub key: String,
    pub request_hash: [u8; 32],
}

impl Key {
    /// The request's key, if it sent one (the [`HEADER`]'s value): 1 to 255 visible ASCII
    /// characters.
    pub fn from_request(
        value: Option<&[u8]>,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Option<Key>, IncidentError> {
        let Some(value) = value else {
            return Ok(None);
        };
        let key = std::str::from_utf8(value)
            .ok()
            .map(str::trim)
            .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                IncidentError::InvalidKey(
                    "Idempotency-Key must be 1 to 255 visible ASCII characters".into(),
                )
            })?;
        let mut hash = Sha256::new();
        for part in [method.as_bytes(), path.as_bytes(), body] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        Ok(Some(Key {
            key: key.to_owned(),
            request_hash: hash.finalize().into(),
        }))
    }
}

/// An answer as it was first sent (the HTTP layer turns it into a response).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The HTTP status sent.
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    pub location: Option<String>,
    /// True when this is a retry's copy of an earlier answer.
    pub replayed: bool,
}

impl Stored {
    /// A `201 Created` JSON answer for the resource at `location`.
    pub fn created(body: Vec<u8>, location: String) -> Self {
        Self {
            status: 201,
            content_type: "application/json".into(),
            body,
            location: Some(location),
            replayed: false,
        }
    }
}

/// The outcome of claiming a key.
#[derive(Debug)]
pub enum Claim {
    /// First use: do the work, then [`store`] the answer in the same transaction.
    Fresh,
    /// Already answered: send this again.
    Replay(Stored),
}

/// Claims `key` for `user_id` inside the caller's transaction (see the module comment).
pub async fn claim(
    conn: &mut PgConnection,
    user_id: i64,
    key: &Key,
) -> Result<Claim, IncidentError> {
    claim_many(conn, &[(user_id, key)])
        .await?
        .pop()
        .ok_or_else(|| IncidentError::internal("no claim for a key"))?
}

/// [`claim`] for many keys in a few statements, each `(user_id, key)` once.
pub async fn claim_many(
    conn: &mut PgConnection,
    keys: &[(i64, &Key)],
) -> Result<Vec<Result<Claim, IncidentError>>, IncidentError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let users: Vec<i64> = keys.iter().map(|(u, _)| *u).collect();
    let names: Vec<&str> = keys.iter().map(|(_, k)| k.key.as_str()).collect();
    let hashes: Vec<&[u8]> = keys.iter().map(|(_, k)| &k.request_hash[..]).collect();
    // A key older than its lifetime is forgotten, even if the sweeper has not reached it yet:
    // it is claimed afresh. A key another transaction is claiming holds this insert until
    // that transaction ends.
    let fresh: Vec<(i64, String)> = sqlx::query_as(
        "INSERT INTO idempotency_key AS k (user_id, key, request_hash, status, content_type, body)
         SELECT u, n, h, 0, '', '' FROM unnest($1::int8[], $2::text[], $3::bytea[]) AS t (u, n, h)
         ON CONFLICT (user_id, key) DO UPDATE
             SET request_hash = excluded.request_hash, status = 0, content_type = '', body = '',
                 location = NULL, created_at = now()
             WHERE k.created_at < now() - make_interval(hours => $4)
         RETURNING user_id, key",
    )
    .bind(&users)
    .bind(&names)
    .bind(&hashes)
    .bind(KEY_LIFETIME_HOURS)
    .fetch_all(&mut *conn)
    .await?;
    let fresh: std::collections::HashSet<(i64, String)> = fresh.into_iter().collect();
    type StoredRow = (i64, String, Vec<u8>, i16, String, Vec<u8>, Option<String>);
    let stored: Vec<StoredRow> = if fresh.len() == keys.len() {
        Vec::new()
    } else {
        sqlx::query_as(
            "SELECT k.user_id, k.key, k.request_hash, k.status, k.content_type, k.body, k.location
             FROM idempotency_key k
             JOIN unnest($1::int8[], $2::text[]) AS t (u, n) ON k.user_id = t.u AND k.key = t.n",
        )
        .bind(&users)
        .bind(&names)
        .fetch_all(&mut *conn)
        .await?
    };
    Ok(keys
        .iter()
        .map(|(user, key)| {
            if fresh.contains(&(*user, key.key.clone())) {
                return Ok(Claim::Fresh);
            }
            let (_, _, hash, status, content_type, body, location) = stored
                .iter()
                .find(|s| s.0 == *user && s.1 == key.key)
                .ok_or_else(|| IncidentError::internal("a claimed key vanished"))?;
            replay(key, hash, *status, content_type, body, location)
        })
        .collect())
}

/// The stored answer to `key` again, or a refusal when the request differs.
fn replay(
    key: &Key,
    hash: &[u8],
    status: i16,
    content_type: &str,
    body: &[u8],
    location: &Option<String>,
) -> Result<Claim, IncidentError> {
    if hash != key.request_hash {
        return Err(IncidentError::KeyReused);
    }
    let status = u16::try_from(status)
        .ok()
        .filter(|s| (100..600).contains(s))
        .ok_or_else(|| IncidentError::internal(format!("stored status {status}")))?;
    Ok(Claim::Replay(Stored {
        status,
        content_type: content_type.to_owned(),
        body: body.to_vec(),
        location: location.clone(),
        replayed: true,
    }))
}

/// [`store`] for many answers in one statement.
pub async fn store_many(
    conn: &mut PgConnection,
    answers: &[(i64, &Key, &Stored)],
) -> Result<(), IncidentError> {
    if answers.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE idempotency_key k
         SET status = s.status, content_type = s.content_type, body = s.body, location = s.location
         FROM unnest($1::int8[], $2::text[], $3::int2[], $4::text[], $5::bytea[], $6::text[])
              AS s (user_id, key, status, content_type, body, location)
         WHERE k.user_id = s.user_id AND k.key = s.key",
    )
    .bind(answers.iter().map(|(u, _, _)| *u).collect::<Vec<_>>())
    .bind(
        answers
            .iter()
            .map(|(_, k, _)| k.key.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        answers
            .iter()
            .map(|(_, _, a)| a.status as i16)
            .collect::<Vec<_>>(),
    )
    .bind(
        answers
            .iter()
            .map(|(_, _, a)| a.content_type.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        answers
            .iter()
            .map(|(_, _, a)| a.body.as_slice())
            .collect::<Vec<_>>(),
    )
    .bind(
        answers
            .iter()
            .map(|(_, _, a)| a.location.as_deref())
            .collect::<Vec<_>>(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records the answer to a freshly claimed key, in the transaction that did the work.
pub async fn store(
    conn: &mut PgConnection,
    user_id: i64,
    key: &Key,
    answer: &Stored,
) -> Result<(), IncidentError> {
    store_many(conn, &[(user_id, key, answer)]).await
}

/// Forgets keys past their lifetime; returns how many.
pub async fn sweep(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "DELETE FROM idempotency_key WHERE created_at < now() - make_interval(hours => $1)",
    )
    .bind(KEY_LIFETIME_HOURS)
    .execute(conn)
    .await?
    .rows_affected())
}
