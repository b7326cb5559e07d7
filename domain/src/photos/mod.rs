//! Photos of a case ("随手拍"): taken with a report or with its resolution, by the people who
//! report and work cases (operators, dispatchers, grid workers), inside their area.
//!
//! A photo is checked and stripped of its location metadata ([`picture`]) before anything is
//! written, then kept in the database with its thumbnail, in one transaction with its audit
//! row. The same photo sent again (a retry after a lost answer) is the photo already kept, not
//! a second one. A case holds at most [`MAX_PHOTOS_PER_CASE`]; a photo is at most
//! [`MAX_PHOTO_BYTES`]. Reading a photo or its thumbnail is allowed to whoever may read the
//! case and audited like personal data (a face, a house number, a licence plate).

pub mod picture;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

use crate::audit::{self, RequestMeta};
use crate::auth::{Caller, Role};
use crate::model::IncidentStatus;
use picture::PictureError;

/// Largest photo accepted, bytes (a phone's full-size JPEG or HEIC is 2–6 MB).
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;
/// Most photos a case holds, report and resolution together (nine, as the apps show them).
pub const MAX_PHOTOS_PER_CASE: i64 = 9;

/// When a photo was taken: with the report, or as proof of the resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Report,
    Resolution,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Report => "report",
            Stage::Resolution => "resolution",
        }
    }
}

/// A kept photo, without its bytes.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Photo {
    pub id: i64,
    pub incident_id: i64,
    pub stage: String,
    pub content_type: String,
    pub size: i32,
    pub width: Option<i32>,
    pub height: Option<i32>,
    /// The reporter asked to keep where and when it was taken.
    pub location_kept: bool,
    pub uploaded_by: String,
    pub uploaded_at: DateTime<Utc>,
    /// Where the photo is read.
    pub url: String,
    /// Where its thumbnail is read; none for a HEIC.
    pub thumbnail_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    #[error("a photo is at most {MAX_PHOTO_BYTES} bytes; this one is {0}")]
    TooLarge(usize),
    #[error("an empty body is not a photo")]
    Empty,
    #[error("a case holds at most {MAX_PHOTOS_PER_CASE} photos")]
    TooMany,
    #[error(transparent)]
    Picture(#[from] PictureError),
    #[error("no such case or photo")]
    NotFound,
    #[error("your role may not add photos to cases")]
    Forbidden,
    /// The case is finished: nothing more is added to it.
    #[error("the case is {0}: no more photos are added to it")]
    Finished(&'static str),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Internal(String),
}

const PHOTO_COLUMNS: &str = "p.id, p.incident_id, p.stage, p.content_type, p.size, p.width,
     p.height, p.location_kept, p.uploaded_by, p.uploaded_at,
     '/api/v1/incidents/' || p.incident_id || '/photos/' || p.id AS url,
     CASE WHEN p.thumbnail IS NOT NULL
          THEN '/api/v1/incidents/' || p.incident_id || '/photos/' || p.id || '/thumbnail'
     END AS thumbnail_url";

/// Case `id` if `caller` may see it: its area code and status (locked with `lock`).
async fn case_in_area(
    conn: &mut PgConnection,
    caller: &Caller,
    id: i64,
    lock: bool,
) -> Result<(String, IncidentStatus), PhotoError> {
    let sql = format!(
        "SELECT area_code, status FROM incident
         WHERE id = $1 AND area_code LIKE $2 || '%' AND ($3::int8 IS NULL OR grid_cell_id = $3)
         {}",
        if lock { "FOR UPDATE" } else { "" }
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(&caller.area.prefix)
        .bind(caller.area.grid_cell_id)
        .fetch_optional(conn)
        .await?
        .ok_or(PhotoError::NotFound)
}

/// Adds a photo to case `id`: the photo kept, and whether it is new (false: the same bytes
/// were sent before and that photo is answered).
pub async fn upload(
    pool: &PgPool,
    caller: &Caller,
    meta: &RequestMeta,
    id: i64,
    stage: Stage,
    keep_location: bool,
    bytes: Vec<u8>,
) -> Result<(Photo, bool), PhotoError> {
    if !matches!(
        caller.role,
        Role::Operator | Role::Dispatcher | Role::Worker
    ) {
        return Err(PhotoError::Forbidden);
    }
    if bytes.is_empty() {
        return Err(PhotoError::Empty);
    }
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(PhotoError::TooLarge(bytes.len()));
    }
    let sha256 = Sha256::digest(&bytes).to_vec();
    // Decoding takes a core for a moment: off the async workers.
    let prepared = tokio::task::spawn_blocking(move || picture::prepare(&bytes, keep_location))
        .await
        .map_err(|e| PhotoError::Internal(e.to_string()))??;

    let mut tx = pool.begin().await?;
    let (area_code, status) = case_in_area(&mut tx, caller, id, true).await?;
    if matches!(
        status,
        IncidentStatus::Closed | IncidentStatus::Rejected | IncidentStatus::Duplicate
    ) {
        return Err(PhotoError::Finished(status.as_str()));
    }
    let by_sha = format!(
        "SELECT {PHOTO_COLUMNS} FROM incident_photo p WHERE p.incident_id = $1 AND p.sha256 = $2"
    );
    let existing: Option<Photo> = sqlx::query_as(sqlx::AssertSqlSafe(by_sha))
        .bind(id)
        .bind(&sha256)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(photo) = existing {
        return Ok((photo, false));
    }
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM incident_photo WHERE incident_id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    if count >= MAX_PHOTOS_PER_CASE {
        return Err(PhotoError::TooMany);
    }
    let insert = format!(
        "WITH p AS (
             INSERT INTO incident_photo (incident_id, stage, content_type, bytes, thumbnail,
                                         width, height, size, sha256, location_kept, uploaded_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             RETURNING *)
         SELECT {PHOTO_COLUMNS} FROM p"
    );
    let size =
        i32::try_from(prepared.bytes.len()).map_err(|e| PhotoError::Internal(e.to_string()))?;
    let photo: Photo = sqlx::query_as(sqlx::AssertSqlSafe(insert))
        .bind(id)
        .bind(stage.as_str())
        .bind(prepared.format.content_type())
        .bind(&prepared.bytes)
        .bind(&prepared.thumbnail)
        .bind(prepared.width.and_then(|w| i32::try_from(w).ok()))
        .bind(prepared.height.and_then(|h| i32::try_from(h).ok()))
        .bind(size)
        .bind(&sha256)
        .bind(keep_location)
        .bind(crate::incidents::intake::actor(caller))
        .fetch_one(&mut *tx)
        .await?;
    let mut entry = caller.entry("photo.upload", "incident_photo", photo.id.to_string(), meta);
    entry.area_code = &area_code;
    audit::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok((photo, true))
}

/// The photos of case `id`, oldest first, if `caller` may see the case.
pub async fn list(
    conn: &mut PgConnection,
    caller: &Caller,
    id: i64,
) -> Result<Vec<Photo>, PhotoError> {
    case_in_area(conn, caller, id, false).await?;
    of_case(conn, id).await.map_err(PhotoError::from)
}

/// The photos of case `id` (the caller already checked), oldest first.
pub async fn of_case(conn: &mut PgConnection, id: i64) -> Result<Vec<Photo>, sqlx::Error> {
    let sql = format!(
        "SELECT {PHOTO_COLUMNS} FROM incident_photo p WHERE p.incident_id = $1 ORDER BY p.id"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_all(conn)
        .await
}

/// A photo of case `id` (or its thumbnail) for `caller`: its media type and bytes, the
/// reading audited.
pub async fn read(
    pool: &PgPool,
    caller: &Caller,
    meta: &RequestMeta,
    id: i64,
    photo_id: i64,
    thumbnail: bool,
) -> Result<(String, Vec<u8>), PhotoError> {
    let mut tx = pool.begin().await?;
    let (area_code, _) = case_in_area(&mut tx, caller, id, false).await?;
    let found: Option<(String, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT CASE WHEN $3 THEN 'image/jpeg' ELSE content_type END,
                CASE WHEN $3 THEN thumbnail ELSE bytes END
         FROM incident_photo WHERE id = $1 AND incident_id = $2",
    )
    .bind(photo_id)
    .bind(id)
    .bind(thumbnail)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((content_type, Some(bytes))) = found else {
        return Err(PhotoError::NotFound);
    };
    let action = if thumbnail {
        "photo.read_thumbnail"
    } else {
        "photo.read"
    };
    let mut entry = caller.entry(action, "incident_photo", photo_id.to_string(), meta);
    entry.area_code = &area_code;
    audit::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok((content_type, bytes))
}
