//! Positions from field devices: checked as a whole (one bad fix refuses the batch and
//! nothing is written), kept in the day-partitioned history, and the newest fix of each
//! worker made their latest position (an older fix arriving late only joins the history).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use wangge_analysis::dispatch::Worker;
use wangge_analysis::sphere::LonLat;

use crate::audit::{self, RequestMeta};
use crate::auth::{Caller, Role};
use crate::db::geometry::Ewkb;
use crate::dispatch::DispatchError;
use crate::dispatch::{Dispatch, Move, read_workers};

/// Most fixes in one batch.
pub const MAX_BATCH: usize = 5_000;
/// A device clock this far ahead of ours is still believed.
const CLOCK_SKEW_SECS: i64 = 300;

/// One fix as a device sends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PositionIn {
    pub worker_id: i64,
    /// When the device took the fix (RFC 3339, with its offset).
    pub at: DateTime<Utc>,
    pub lon: f64,
    pub lat: f64,
    /// Radius in metres within which the worker is.
    #[serde(default)]
    pub accuracy_m: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PositionBatch {
    pub positions: Vec<PositionIn>,
}

/// What a stored batch did.
#[derive(Debug, Clone, Serialize)]
pub struct Stored {
    /// Fixes in the batch.
    pub received: usize,
    /// Fixes new to the history (a resent fix is not stored twice).
    pub stored: u64,
    /// Workers whose latest position moved.
    pub latest: usize,
}

/// A fix that passed its checks.
struct Fix {
    worker_id: i64,
    at: DateTime<Utc>,
    point: LonLat,
    accuracy_m: Option<f32>,
}

fn check(
    batch: &PositionBatch,
    keep_days: u32,
    now: DateTime<Utc>,
) -> Result<Vec<Fix>, DispatchError> {
    if batch.positions.is_empty() {
        return Err(DispatchError::Invalid("`positions` is empty".into()));
    }
    if batch.positions.len() > MAX_BATCH {
        return Err(DispatchError::Invalid(format!(
            "{} positions in one batch; send at most {MAX_BATCH}",
            batch.positions.len()
        )));
    }
    let oldest = now - chrono::Duration::days(i64::from(keep_days));
    let newest = now + chrono::Duration::seconds(CLOCK_SKEW_SECS);
    let mut fixes = Vec::with_capacity(batch.positions.len());
    let mut problems = Vec::new();
    for (i, p) in batch.positions.iter().enumerate() {
        let point = LonLat::new(p.lon, p.lat).map_err(|e| e.to_string());
        let accuracy = p.accuracy_m.map(|a| {
            if a.is_finite() && (0.0..=100_000.0).contains(&a) {
                Ok(a as f32)
            } else {
                Err(format!("accuracy_m {a} is outside 0..=100000"))
            }
        });
        let problem = match (point, accuracy.transpose()) {
            (Err(e), _) | (_, Err(e)) => Some(e),
            _ if p.at < oldest => Some(format!(
                "taken at {} — older than the {keep_days} days of history kept",
                p.at.to_rfc3339()
            )),
            _ if p.at > newest => Some(format!(
                "taken at {} — in the future (this server's time is {})",
                p.at.to_rfc3339(),
                now.to_rfc3339()
            )),
            (Ok(point), Ok(accuracy_m)) => {
                fixes.push(Fix {
                    worker_id: p.worker_id,
                    at: p.at,
                    point,
                    accuracy_m,
                });
                None
            }
        };
        if let Some(problem) = problem {
            problems.push(format!("positions[{i}]: {problem}"));
        }
    }
    if problems.is_empty() {
        Ok(fixes)
    } else {
        let more = problems.len().saturating_sub(10);
        problems.truncate(10);
        let mut detail = problems.join("; ");
        if more > 0 {
            detail.push_str(&format!("; and {more} more"));
        }
        Err(DispatchError::Invalid(detail))
    }
}

/// The workers among `ids` that `caller` may report positions for: a grid worker their own
/// device, a dispatcher or administrator (a device gateway) any worker in their area.
async fn allowed_workers(
    conn: &mut PgConnection,
    caller: &Caller,
    ids: &[i64],
) -> Result<Vec<i64>, DispatchError> {
    if !matches!(caller.role, Role::Worker | Role::Dispatcher | Role::Admin) {
        return Err(DispatchError::Forbidden);
    }
    Ok(sqlx::query_scalar(
        "SELECT w.id FROM grid_worker w
         WHERE w.id = ANY ($1)
           AND CASE WHEN $2 THEN w.user_id = $3
                    ELSE EXISTS (SELECT 1 FROM grid_worker_cell wc
                                 JOIN grid_cell g ON g.id = wc.grid_cell_id
                                 JOIN admin_unit v ON v.id = g.village_id
                                 WHERE wc.worker_id = w.id AND v.code LIKE $4 || '%'
                                   AND ($5::int8 IS NULL OR g.id = $5)) END",
    )
    .bind(ids)
    .bind(caller.role == Role::Worker)
    .bind(caller.user_id)
    .bind(&caller.area.prefix)
    .bind(caller.area.grid_cell_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Stores a batch for `caller`; the index holds the new latest positions before this returns.
pub async fn store(
    pool: &PgPool,
    dispatch: &Dispatch,
    caller: &Caller,
    meta: &RequestMeta,
    batch: &PositionBatch,
) -> Result<Stored, DispatchError> {
    let fixes = check(batch, dispatch.keep_days, Utc::now())?;
    let mut ids: Vec<i64> = fixes.iter().map(|f| f.worker_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut tx = pool.begin().await?;
    let allowed = allowed_workers(&mut tx, caller, &ids).await?;
    if allowed.len() != ids.len() {
        let refused: Vec<String> = ids
            .iter()
            .filter(|id| !allowed.contains(id))
            .map(i64::to_string)
            .collect();
        return Err(if caller.role == Role::Worker {
            DispatchError::Invalid(format!(
                "a grid worker reports only their own position; not worker {}",
                refused.join(", ")
            ))
        } else {
            DispatchError::Invalid(format!(
                "no grid worker {} in your area",
                refused.join(", ")
            ))
        });
    }
    let (stored, moves) = write_fixes(&mut tx, &fixes).await?;
    // The index already holds the version each move replaced, unless a change made
    // elsewhere has not reached it yet: only those workers are read again.
    let (mut workers, unknown) = dispatch.moved(&moves);
    if !unknown.is_empty() {
        let rows = read_workers(&mut *tx, Some(&unknown)).await?;
        workers.extend(rows.into_iter().map(Worker::from));
    }
    let object_id = format!("{} positions of {} workers", fixes.len(), ids.len());
    audit::record(
        &mut tx,
        &caller.entry("report_positions", "grid_worker", object_id, meta),
    )
    .await?;
    tx.commit().await?;
    let latest = moves.len();
    dispatch.apply(workers);
    Ok(Stored {
        received: fixes.len(),
        stored: u64::try_from(stored).unwrap_or(0),
        latest,
    })
}

/// Writes the fixes to the history and the newest of each worker, where newer than what
/// they have, as their latest position: how many fixes were new to the history, and the
/// workers moved, each with the version it replaced (read under the row lock, so no other
/// change comes between the two).
async fn write_fixes(
    conn: &mut PgConnection,
    fixes: &[Fix],
) -> Result<(i64, Vec<Move>), sqlx::Error> {
    let moves: Vec<MoveRow> = sqlx::query_as(
        "WITH fix AS (
             SELECT worker_id, at, geom::geometry AS geom, accuracy_m
             FROM unnest($1::int8[], $2::timestamptz[], $3::text[], $4::float4[])
                  AS f (worker_id, at, geom, accuracy_m)
         ), kept AS (
             INSERT INTO worker_position (worker_id, at, geom, accuracy_m)
             SELECT worker_id, at, geom, accuracy_m FROM fix
             ON CONFLICT DO NOTHING
             RETURNING 1
         ), newest AS (
             SELECT DISTINCT ON (worker_id) * FROM fix ORDER BY worker_id, at DESC
         ), locked AS (
             -- In id order, so batches naming the same workers queue instead of deadlocking.
             SELECT w.id, w.version FROM grid_worker w
             WHERE w.id IN (SELECT worker_id FROM newest)
             ORDER BY w.id FOR NO KEY UPDATE
         ), moved AS (
             UPDATE grid_worker w
             SET last_position = n.geom,
                 last_seen_at = n.at, last_accuracy_m = n.accuracy_m
             FROM newest n JOIN locked l ON l.id = n.worker_id
             WHERE w.id = n.worker_id AND (w.last_seen_at IS NULL OR w.last_seen_at < n.at)
             RETURNING w.id, l.version AS from_version, w.version,
                       ST_X(w.last_position) AS lon, ST_Y(w.last_position) AS lat,
                       extract(epoch FROM w.last_seen_at)::int8 AS seen_at
         )
         -- The count rides on every row, and on one row of nulls when nobody moved.
         SELECT (SELECT count(*) FROM kept) AS stored, m.*
         FROM (SELECT 1) one LEFT JOIN moved m ON true",
    )
    .bind(fixes.iter().map(|f| f.worker_id).collect::<Vec<_>>())
    .bind(fixes.iter().map(|f| f.at).collect::<Vec<_>>())
    .bind(
        fixes
            .iter()
            .map(|f| Ewkb::lon_lat(f.point))
            .collect::<Vec<_>>(),
    )
    .bind(fixes.iter().map(|f| f.accuracy_m).collect::<Vec<_>>())
    .fetch_all(&mut *conn)
    .await?;
    let stored = moves.first().map_or(0, |m| m.stored);
    let moves = moves
        .into_iter()
        .filter_map(|m| {
            Some(Move {
                id: m.id?,
                from_version: m.from_version?,
                version: m.version?,
                lon: m.lon?,
                lat: m.lat?,
                seen_at: m.seen_at?,
            })
        })
        .collect();
    Ok((stored, moves))
}

/// A row of [`write_fixes`]: nulls but for `stored` when nobody moved.
#[derive(sqlx::FromRow)]
struct MoveRow {
    stored: i64,
    id: Option<i64>,
    from_version: Option<i64>,
    version: Option<i64>,
    lon: Option<f64>,
    lat: Option<f64>,
    seen_at: Option<i64>,
}

/// Creates the coming days' partitions of the position history and drops those older than
/// `keep_days`.
pub async fn keep_partitions(pool: &PgPool, keep_days: u32) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT wangge_worker_position_partitions($1, 2)")
        .bind(i32::try_from(keep_days).unwrap_or(i32::MAX))
        .execute(pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(json: &str) -> PositionBatch {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn one_bad_fix_refuses_the_batch_and_says_which() {
        let now = Utc::now();
        let ok = format!(
            r#"{{"worker_id":1,"at":"{}","lon":102.5,"lat":24.3}}"#,
            now.to_rfc3339()
        );
        let future = format!(
            r#"{{"worker_id":1,"at":"{}","lon":102.5,"lat":24.3}}"#,
            (now + chrono::Duration::hours(1)).to_rfc3339()
        );
        let old = format!(
            r#"{{"worker_id":1,"at":"{}","lon":102.5,"lat":24.3}}"#,
            (now - chrono::Duration::days(31)).to_rfc3339()
        );
        let lat_first = format!(
            r#"{{"worker_id":1,"at":"{}","lon":24.3,"lat":102.5}}"#,
            now.to_rfc3339()
        );
        let accuracy = format!(
            r#"{{"worker_id":1,"at":"{}","lon":102.5,"lat":24.3,"accuracy_m":-1}}"#,
            now.to_rfc3339()
        );
        assert_eq!(
            check(&batch(&format!(r#"{{"positions":[{ok}]}}"#)), 30, now)
                .unwrap()
                .len(),
            1
        );
        for (bad, says) in [
            (&future, "in the future"),
            (&old, "older than the 30 days"),
            (&lat_first, "latitude 102.5"),
            (&accuracy, "accuracy_m -1"),
        ] {
            let error = check(&batch(&format!(r#"{{"positions":[{ok},{bad}]}}"#)), 30, now)
                .err()
                .unwrap();
            let text = error.to_string();
            assert!(text.starts_with("positions[1]: "), "{text}");
            assert!(text.contains(says), "{text}");
        }
        assert!(check(&batch(r#"{"positions":[]}"#), 30, now).is_err());
    }
}
