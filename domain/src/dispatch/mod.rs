//! Dispatch: the in-memory worker index, position ingest, assignment, changing workers
//! ([`workers`]) and the rules of automatic dispatch ([`auto_rules`], applied by [`auto`]).
//!
//! [`Dispatch`] owns a [`WorkerIndex`] (crate `wangge-analysis`) and keeps it exactly in step
//! with committed worker state, in two ways that agree because every committed change to a
//! worker carries a larger version (migration 0009) and the index keeps only the newest:
//! - writers in this process (positions, status, assignment) hand the rows their commit
//!   returned to [`Dispatch::apply`] before they answer, so whoever got the answer finds the
//!   index already holding it;
//! - every other change (another process, a trigger, the simulator) reaches the `LiveHub`
//!   as a notice, which calls [`Dispatch::refresh`] for the workers named.
//!
//! The first load waits until the change listener is up (`LiveHub::sync`), so no change
//! committed after the load's snapshot can be missed; when the listener loses its connection
//! the whole index is loaded again.

pub mod auto;
pub mod auto_rules;
pub mod candidates;
pub mod positions;
pub mod workers;

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;
use wangge_analysis::dispatch::{CellTopology, Worker, WorkerIndex, WorkerStatus};
use wangge_analysis::sphere::LonLat;

use crate::feed_cache::FeedCache;

/// Reads the named workers (all when `ids` is `None`): the one query all loading of the
/// dispatch index goes through.
pub async fn read_workers(
    executor: impl sqlx::PgExecutor<'_>,
    ids: Option<&[i64]>,
) -> Result<Vec<WorkerRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT w.id, w.version, w.name, w.status::text AS status,
           ST_X(w.last_position) AS lon, ST_Y(w.last_position) AS lat,
           extract(epoch FROM w.last_seen_at)::int8 AS seen_at,
           w.caseload, w.capacity, w.skills, w.cover_worker_id,
           coalesce((SELECT array_agg(wc.grid_cell_id ORDER BY wc.grid_cell_id)
                     FROM grid_worker_cell wc WHERE wc.worker_id = w.id), '{}') AS cells
         FROM grid_worker w
         WHERE $1::int8[] IS NULL OR w.id = ANY ($1)",
    )
    .bind(ids)
    .fetch_all(executor)
    .await
}

/// One row of [`read_workers`].
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct WorkerRow {
    pub id: i64,
    pub version: i64,
    pub name: String,
    pub status: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub seen_at: Option<i64>,
    pub caseload: i32,
    pub capacity: i32,
    pub skills: Vec<String>,
    pub cover_worker_id: Option<i64>,
    pub cells: Vec<i64>,
}

impl From<WorkerRow> for Worker {
    fn from(row: WorkerRow) -> Self {
        Worker {
            id: row.id,
            version: row.version,
            status: match row.status.as_str() {
                "available" => WorkerStatus::Available,
                "busy" => WorkerStatus::Busy,
                _ => WorkerStatus::OffDuty,
            },
            // The database keeps positions on the globe (`grid_worker_geom_lonlat`).
            position: row
                .lon
                .zip(row.lat)
                .and_then(|(lon, lat)| LonLat::new(lon, lat).ok()),
            seen_at: row.seen_at,
            caseload: u32::try_from(row.caseload).unwrap_or(0),
            capacity: u32::try_from(row.capacity).unwrap_or(0),
            skills: row.skills,
            cells: row.cells,
            cover: row.cover_worker_id,
            name: row.name,
        }
    }
}

/// A worker's latest position changed by one committed update, from one version to the next.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    pub id: i64,
    /// The version the update replaced.
    pub from_version: i64,
    pub version: i64,
    pub lon: f64,
    pub lat: f64,
    /// As [`read_workers`] gives it: Unix seconds.
    pub seen_at: i64,
}

impl Move {
    /// `worker` with this move made, if `worker` is the version it replaced.
    fn applied_to(&self, worker: &Worker) -> Option<Worker> {
        (worker.version == self.from_version).then(|| Worker {
            version: self.version,
            position: LonLat::new(self.lon, self.lat).ok(),
            seen_at: Some(self.seen_at),
            ..worker.clone()
        })
    }
}

/// A published cell's own code and its village's (what area scoping compares).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellCodes {
    pub code: String,
    pub village: String,
}

/// The published plan's cells with their townships, which cells touch, and each cell's
/// codes.
async fn read_topology(
    pool: &PgPool,
) -> Result<(CellTopology, HashMap<i64, CellCodes>), sqlx::Error> {
    let cells: Vec<(i64, i64, String, String)> = sqlx::query_as(
        "SELECT g.id, v.parent_id, g.code, v.code
         FROM grid_cell g
         JOIN grid_plan p ON p.id = g.plan_id AND p.status = 'published'
         JOIN admin_unit v ON v.id = g.village_id",
    )
    .fetch_all(pool)
    .await?;
    let touching: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT a.id, b.id
         FROM grid_cell a
         JOIN grid_plan p ON p.id = a.plan_id AND p.status = 'published'
         JOIN grid_cell b ON b.plan_id = a.plan_id AND b.id > a.id
                         AND ST_Intersects(a.geom, b.geom)",
    )
    .fetch_all(pool)
    .await?;
    let codes = cells
        .iter()
        .map(|(id, _, code, village)| {
            let codes = CellCodes {
                code: code.clone(),
                village: village.clone(),
            };
            (*id, codes)
        })
        .collect();
    let townships = cells.into_iter().map(|(id, township, _, _)| (id, township));
    Ok((CellTopology::new(townships, touching), codes))
}

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("the dispatch index is still loading")]
    NotReady,
    /// Positions or a request whose content cannot be accepted.
    #[error("{0}")]
    Invalid(String),
    /// The caller's role may not do this.
    #[error("your role may not do this")]
    Forbidden,
    /// No such case or worker in the caller's area.
    #[error("no such resource")]
    NotFound,
    /// A unit outside the caller's area (an automatic dispatch rule's).
    #[error("{0}")]
    OutsideArea(String),
    /// What the incidents module refused (an unknown category).
    #[error(transparent)]
    Incident(#[from] crate::incidents::IncidentError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(Debug)]
pub struct Dispatch {
    index: RwLock<WorkerIndex>,
    /// Each published cell's codes: for keeping rankings inside the asker's area, and for
    /// the live map's worker states.
    cells: RwLock<HashMap<i64, CellCodes>>,
    loaded: watch::Sender<bool>,
    /// Incidents as ranking needs them, read since their last change (see `candidates`).
    pub subjects: FeedCache<i64, candidates::Subject>,
    pub stale_after: Duration,
    pub keep_days: u32,
}

impl Dispatch {
    pub fn new(stale_after: Duration, keep_days: u32) -> Arc<Self> {
        Arc::new(Self {
            index: RwLock::new(WorkerIndex::default()),
            cells: RwLock::new(HashMap::new()),
            loaded: watch::channel(false).0,
            subjects: FeedCache::new(200_000),
            stale_after,
            keep_days,
        })
    }

    /// Loads the index once the change listener is up (`listening` answers when it has caught
    /// up with every commit so far: `LiveHub::sync`, which tells this index of each change
    /// after), and keeps the position history's partitions (created ahead, purged after
    /// `keep_days`) every hour.
    pub fn start<F, Fut>(self: &Arc<Self>, pool: PgPool, listening: F)
    where
        F: Fn(PgPool) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send,
    {
        let (dispatch, loading_pool) = (Arc::clone(self), pool.clone());
        tokio::spawn(async move {
            let pool = loading_pool;
            let mut delay = Duration::from_millis(100);
            loop {
                let loaded = async {
                    listening(pool.clone()).await?;
                    dispatch.reload(&pool).await.map_err(|e| e.to_string())
                };
                match loaded.await {
                    Ok(()) => break,
                    Err(error) => {
                        tracing::warn!(%error, "loading the dispatch index failed; retrying");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(10));
                    }
                }
            }
        });
        let (dispatch, pool) = (Arc::clone(self), pool.clone());
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(3600));
            loop {
                every.tick().await;
                if let Err(error) = positions::keep_partitions(&pool, dispatch.keep_days).await {
                    tracing::error!(%error, "keeping the position history's partitions failed");
                }
            }
        });
    }

    /// Waits (at most 30 s) for the first load.
    pub async fn ready(&self) -> Result<(), DispatchError> {
        let mut loaded = self.loaded.subscribe();
        tokio::time::timeout(Duration::from_secs(30), loaded.wait_for(|l| *l))
            .await
            .map_err(|_| DispatchError::NotReady)?
            .map_err(|_| DispatchError::NotReady)?;
        Ok(())
    }

    pub fn is_loaded(&self) -> bool {
        *self.loaded.borrow()
    }

    /// Reads everything again: the topology and every worker.
    pub async fn reload(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let (topology, cells) = read_topology(pool).await?;
        *self.cells.write().unwrap_or_else(|e| e.into_inner()) = cells;
        let rows = read_workers(pool, None).await?;
        let ids: std::collections::HashSet<i64> = rows.iter().map(|r| r.id).collect();
        {
            let mut index = self.write();
            index.set_topology(topology);
            let gone: Vec<i64> = index.ids().filter(|id| !ids.contains(id)).collect();
            for id in gone {
                index.remove(id);
            }
            for row in rows {
                index.upsert(row.into());
            }
        }
        self.loaded.send_replace(true);
        Ok(())
    }

    /// The grid plan changed: reads the topology again.
    pub async fn reload_topology(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let (topology, cells) = read_topology(pool).await?;
        *self.cells.write().unwrap_or_else(|e| e.into_inner()) = cells;
        self.write().set_topology(topology);
        Ok(())
    }

    /// Reads the named workers again (those no longer there are forgotten), skipping any
    /// whose version in the index is already `known[i]` or newer.
    pub async fn refresh(
        &self,
        pool: &PgPool,
        changed: &[(i64, Option<i64>)],
    ) -> Result<(), sqlx::Error> {
        let stale: Vec<i64> = {
            let index = self.read();
            changed
                .iter()
                .filter(|(id, version)| {
                    !matches!((index.get(*id), version), (Some(w), Some(v)) if w.version >= *v)
                })
                .map(|(id, _)| *id)
                .collect()
        };
        if stale.is_empty() {
            return Ok(());
        }
        let rows = read_workers(pool, Some(&stale)).await?;
        let mut index = self.write();
        for id in &stale {
            if !rows.iter().any(|r| r.id == *id) {
                index.remove(*id);
            }
        }
        for row in rows {
            index.upsert(row.into());
        }
        Ok(())
    }

    /// Rows this process committed: into the index before the writer answers.
    pub fn apply<W: Into<Worker>>(&self, rows: impl IntoIterator<Item = W>) {
        let mut index = self.write();
        for row in rows {
            index.upsert(row.into());
        }
    }

    /// The workers as `moves` leave them, built from the index where it holds exactly the
    /// version each move replaced (nothing else changed in between, so the rest of the row
    /// is known); the ids of the others, which must be read. Called before commit, with the
    /// moved rows locked, and the workers handed to [`Dispatch::apply`] after it.
    pub fn moved(&self, moves: &[Move]) -> (Vec<Worker>, Vec<i64>) {
        let index = self.read();
        let (mut known, mut unknown) = (Vec::with_capacity(moves.len()), Vec::new());
        for m in moves {
            match index.get(m.id).and_then(|w| m.applied_to(w)) {
                Some(worker) => known.push(worker),
                None => unknown.push(m.id),
            }
        }
        (known, unknown)
    }

    /// A test of whether a worker is inside `area`: one of their cells is (the cell itself,
    /// for a grid-cell area). Holds the cells' codes for as long as it lives.
    pub fn in_area<'a>(&'a self, area: &'a crate::auth::Area) -> impl Fn(&Worker) -> bool + 'a {
        let cells = self.cells();
        move |worker| {
            worker.cells.iter().any(|cell| {
                area.grid_cell_id.is_none_or(|own| own == *cell)
                    && cells
                        .get(cell)
                        .is_some_and(|codes| codes.village.starts_with(&area.prefix))
            })
        }
    }

    /// Each published cell's codes, by cell id.
    pub fn cells(&self) -> RwLockReadGuard<'_, HashMap<i64, CellCodes>> {
        self.cells.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn read(&self) -> RwLockReadGuard<'_, WorkerIndex> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, WorkerIndex> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(version: i64) -> Worker {
        Worker {
            id: 7,
            version,
            status: WorkerStatus::Busy,
            position: Some(LonLat::new(102.5, 24.3).unwrap()),
            seen_at: Some(1_000),
            caseload: 2,
            capacity: 5,
            skills: vec!["mediation".into()],
            cells: vec![11, 12],
            cover: Some(9),
            name: "李四".into(),
        }
    }

    fn move_from(from_version: i64) -> Move {
        Move {
            id: 7,
            from_version,
            version: 42,
            lon: 102.6,
            lat: 24.4,
            seen_at: 2_000,
        }
    }

    #[test]
    fn a_move_is_made_only_on_the_version_it_replaced() {
        let moved = move_from(41).applied_to(&worker(41)).unwrap();
        assert_eq!(
            moved,
            Worker {
                version: 42,
                position: Some(LonLat::new(102.6, 24.4).unwrap()),
                seen_at: Some(2_000),
                ..worker(41)
            }
        );
        // The index is behind (a change made elsewhere, not heard yet) or ahead: the
        // rest of the row is not known, so the worker is read instead.
        assert_eq!(move_from(41).applied_to(&worker(40)), None);
        assert_eq!(move_from(41).applied_to(&worker(43)), None);
    }

    #[test]
    fn workers_the_index_holds_at_another_version_are_named_for_reading() {
        let dispatch = Dispatch::new(Duration::from_secs(600), 30);
        dispatch.apply([worker(41)]);
        let (known, unknown) = dispatch.moved(&[
            move_from(41),
            Move {
                id: 8,
                ..move_from(3)
            },
        ]);
        assert_eq!(
            known.iter().map(|w| (w.id, w.version)).collect::<Vec<_>>(),
            [(7, 42)]
        );
        assert_eq!(unknown, [8]);
    }
}
