//! Changes as they commit: the source of fresh tiles and of the live feed.
//!
//! PostgreSQL triggers (migration 0006) send a notification on channel `wangge_change` for
//! every committed change to something the map shows; notifications arrive after commit and in
//! commit order, whoever made the change. The [`LiveHub`] listens, and for each group of
//! notifications:
//! 1. drops exactly the cached tiles the changes touch ([`TileCache::invalidate`]);
//! 2. reads the changed incidents' and workers' current state and publishes it as one
//!    numbered [`Batch`] to live clients, keeping recent batches so a client that reconnects
//!    resumes after the last one it saw;
//! 3. releases anyone waiting in [`LiveHub::sync`] for their own write to be applied.
//!
//! Batch numbers are per server process (its `epoch`): a client reconnecting to another
//! process, or after a gap longer than the kept history, is told to reload (`resync`). If the
//! listening connection drops, notifications may have been missed, so everything cached is
//! dropped and every client is told to reload.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::auth::cache::SessionCache;
use crate::dispatch::candidates::status_name;
use crate::dispatch::{CellCodes, Dispatch};
use crate::model::open_statuses;
use crate::tile_cache::TileCache;
use crate::tile_layers::TileLayer;

pub const CHANNEL: &str = "wangge_change";

/// Batches kept for clients resuming after a short disconnection.
const HISTORY: usize = 2048;

/// Batches a client may fall behind before it is dropped (it reconnects and resumes).
pub const CLIENT_BACKLOG: usize = 256;

/// One notification, as the triggers write it.
#[derive(Debug, Clone, Deserialize)]
struct Notification {
    e: String,
    id: Option<i64>,
    /// The lon/lat box of the old and new geometry.
    b: Option<[f64; 4]>,
    /// For incidents: the box of their grid cell(s), whose load changed.
    c: Option<[f64; 4]>,
    /// For workers: the committed version.
    v: Option<i64>,
    token: Option<String>,
    /// For deleted incidents: the area code and grid cell they had (migration 0012).
    a: Option<String>,
    g: Option<i64>,
    /// For grid cells and plans: the draft plan (version) the change is confined to
    /// (migration 0016); `None` when it touches the published grid.
    p: Option<i32>,
}

/// An incident as live clients see it (nothing personal).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct IncidentState {
    pub id: i64,
    pub lon: f64,
    pub lat: f64,
    pub category: String,
    pub severity: String,
    pub status: String,
    pub tier: String,
    pub open: bool,
    pub overdue: bool,
    pub reported_at: i64,
    pub updated_at: i64,
    pub grid_cell_code: Option<String>,
    pub village_code: Option<String>,
    /// The finest unit holding the case (its village once placed): what scoping reads.
    pub area_code: String,
    /// How the place is known: `device`, `geocoded`, `manual`, or `area` (waiting to be placed).
    pub location_method: String,
    #[serde(skip)]
    pub grid_cell_id: Option<i64>,
}

/// A grid worker as live clients see them (no name or phone).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct WorkerState {
    pub id: i64,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub status: String,
    pub stale: bool,
    pub last_seen: Option<i64>,
    pub cell_code: Option<String>,
    /// Open cases held, and the most the worker may hold.
    pub caseload: i32,
    pub capacity: i32,
    #[serde(skip)]
    pub cell_ids: Vec<i64>,
    #[serde(skip)]
    pub village_codes: Vec<String>,
}

/// A record gone from the database, and where it was: only clients who could see it there
/// are told.
#[derive(Debug, Clone, PartialEq)]
pub struct Removed {
    pub id: i64,
    /// The (village or finer) unit codes it lay in, each with its grid cell if it had one.
    /// Empty when unknown: then only city-wide clients are told.
    pub places: Vec<(String, Option<i64>)>,
}

/// Tiles of a layer changed inside `bbox` (lon/lat), or anywhere when `None`; only those of
/// draft plan `plan` when it is set (only its planners are told).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerChange {
    pub layer: TileLayer,
    pub bbox: Option<[f64; 4]>,
    pub plan: Option<i32>,
}

/// What changed between two batch numbers.
#[derive(Debug, Default)]
pub struct Batch {
    pub seq: u64,
    pub incidents: Vec<IncidentState>,
    pub removed_incidents: Vec<Removed>,
    pub workers: Vec<WorkerState>,
    pub removed_workers: Vec<Removed>,
    /// Other layers whose tiles changed, and where (their clients refresh them).
    pub layers: Vec<LayerChange>,
    /// Hot spot alerts raised.
    pub alerts: Vec<crate::hotspots::alerts::Alert>,
    /// Changes may have been missed: clients reload everything.
    pub resync: bool,
}

#[derive(Debug)]
struct History {
    seq: u64,
    batches: VecDeque<Arc<Batch>>,
}

/// Where a client starts: what it missed, or a reload.
#[derive(Debug)]
pub enum Resume {
    /// The batches after the client's last one (possibly none).
    Replay(Vec<Arc<Batch>>),
    /// Too old, or another process: reload everything.
    Resync,
}

#[derive(Debug)]
pub struct LiveHub {
    epoch: String,
    history: Mutex<History>,
    sender: broadcast::Sender<Arc<Batch>>,
    waiters: Mutex<HashMap<String, oneshot::Sender<()>>>,
    cache: Arc<TileCache>,
    /// Serialises applying groups of changes (the listener and the deadline sweep).
    applying: tokio::sync::Mutex<()>,
    stale_after: Duration,
    /// Told when administrative units change, so addresses are read with the new ones.
    geocoder: std::sync::OnceLock<Arc<crate::geocode::Geocoder>>,
    /// Told of every worker change, so dispatch ranks with committed state.
    dispatch: std::sync::OnceLock<Arc<crate::dispatch::Dispatch>>,
    /// Told of every change to the layers kept in memory, as the tile cache is.
    memory_tiles: std::sync::OnceLock<Arc<crate::memory_tiles::MemoryTiles>>,
    /// Whether the listener is connected: a sync point announced before it is would never
    /// be heard.
    listening: tokio::sync::watch::Sender<bool>,
    /// Rounds of [`LiveHub::tiles_current`], shared by the callers that arrive together.
    barrier: Mutex<Barrier>,
    /// Wakes the listener to send a round.
    barrier_wanted: tokio::sync::Notify,
    barrier_heard: tokio::sync::watch::Sender<u64>,
}

/// Barrier rounds: the newest one a caller waits for, and the newest one sent. The newest
/// heard back is [`LiveHub::barrier_heard`].
#[derive(Debug, Default)]
struct Barrier {
    wanted: u64,
    sent: u64,
}

impl LiveHub {
    pub fn new(cache: Arc<TileCache>, stale_after: Duration) -> Arc<Self> {
        let (sender, _) = broadcast::channel(CLIENT_BACKLOG);
        Arc::new(Self {
            epoch: uuid::Uuid::new_v4().simple().to_string()[..12].to_owned(),
            history: Mutex::new(History {
                seq: 0,
                batches: VecDeque::new(),
            }),
            sender,
            waiters: Mutex::new(HashMap::new()),
            cache,
            applying: tokio::sync::Mutex::new(()),
            stale_after,
            geocoder: std::sync::OnceLock::new(),
            dispatch: std::sync::OnceLock::new(),
            memory_tiles: std::sync::OnceLock::new(),
            listening: tokio::sync::watch::Sender::new(false),
            barrier: Mutex::new(Barrier::default()),
            barrier_wanted: tokio::sync::Notify::new(),
            barrier_heard: tokio::sync::watch::Sender::new(0),
        })
    }

    /// Has `geocoder` forget its gazetteer whenever administrative units change.
    pub fn on_admin_units_changed(&self, geocoder: Arc<crate::geocode::Geocoder>) {
        let _ = self.geocoder.set(geocoder);
    }

    /// Has `dispatch` read again every worker a change notice names (before anyone waiting
    /// in [`LiveHub::sync`] is released), and everything when anything may have changed.
    pub fn on_workers_changed(&self, dispatch: Arc<crate::dispatch::Dispatch>) {
        let _ = self.dispatch.set(dispatch);
    }

    /// Has `memory_tiles` read again what each change to its layers touches (marked before
    /// anyone waiting at the read barrier is released), and everything when anything may
    /// have changed.
    pub fn on_static_layers_changed(&self, memory_tiles: Arc<crate::memory_tiles::MemoryTiles>) {
        let _ = self.memory_tiles.set(memory_tiles);
    }

    /// Whether it was reloaded.
    async fn reload_dispatch(&self, pool: &PgPool, topology_only: bool) -> bool {
        let Some(dispatch) = self.dispatch.get() else {
            return false;
        };
        let reloaded = if topology_only {
            dispatch.reload_topology(pool).await
        } else {
            dispatch.reload(pool).await
        };
        if let Err(error) = &reloaded {
            tracing::error!(%error, "reloading the dispatch index failed");
        }
        reloaded.is_ok()
    }

    async fn admin_units_changed(&self) {
        if let Some(geocoder) = self.geocoder.get() {
            geocoder.invalidate().await;
        }
    }

    /// Starts listening for changes, and sweeping for deadlines and positions that go stale
    /// with the passing of time alone. Both end when the runtime does.
    ///
    /// `sessions` hears of ended sessions the moment their notices arrive, ahead of the
    /// batches, and is told whether notices are being heard at all.
    pub fn start(self: &Arc<Self>, pool: PgPool, sessions: Arc<SessionCache>) {
        let (sender, receiver) = mpsc::channel(100_000);
        tokio::spawn(listen(pool.clone(), sender, sessions, Arc::clone(self)));
        tokio::spawn(apply_loop(Arc::clone(self), pool.clone(), receiver));
        tokio::spawn(sweep(Arc::clone(self), pool));
    }

    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    pub fn seq(&self) -> u64 {
        self.lock_history().seq
    }

    fn lock_history(&self) -> std::sync::MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Subscribes, and says what a client that last saw `after` of `epoch` missed.
    pub fn subscribe(
        &self,
        resume_from: Option<(&str, u64)>,
    ) -> (u64, Resume, broadcast::Receiver<Arc<Batch>>) {
        // Under the history lock, so no batch is both missed by the replay and the receiver.
        let history = self.lock_history();
        let receiver = self.sender.subscribe();
        let resume = match resume_from {
            None => Resume::Replay(Vec::new()),
            Some((epoch, after)) if epoch == self.epoch && after <= history.seq => {
                let oldest_kept = history.batches.front().map_or(history.seq + 1, |b| b.seq);
                if after + 1 >= oldest_kept || after == history.seq {
                    Resume::Replay(
                        history
                            .batches
                            .iter()
                            .filter(|b| b.seq > after)
                            .cloned()
                            .collect(),
                    )
                } else {
                    Resume::Resync
                }
            }
            Some(_) => Resume::Resync,
        };
        (history.seq, resume, receiver)
    }

    /// Waits until every change committed before this call has been applied: cached tiles
    /// dropped and the batch published. A handler calls it after its own write commits, so
    /// the caller's next read sees the write.
    ///
    /// A `sync` notice with a new token goes round; the applier releases the caller once the
    /// changes before it have been applied.
    pub async fn sync(&self, pool: &PgPool) -> Result<(), SyncError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut listening = self.listening.subscribe();
        if tokio::time::timeout_at(deadline, listening.wait_for(|l| *l))
            .await
            .is_err()
        {
            return Err(SyncError::Timeout);
        }
        let token = uuid::Uuid::new_v4().simple().to_string();
        let (tx, rx) = oneshot::channel();
        self.waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.clone(), tx);
        // Notifications are delivered in commit order: once this one is seen, every change
        // committed before it has been seen too.
        let payload = serde_json::json!({ "e": "sync", "token": token }).to_string();
        // Committed without waiting for the disk: the notice is delivered at commit either
        // way, and a lost one is worth nothing after a crash. Tokens are ours (hex), quoted
        // all the same.
        let sent = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "BEGIN; SET LOCAL synchronous_commit = off; SELECT pg_notify({}, {}); COMMIT",
            quote_literal(CHANNEL),
            quote_literal(&payload)
        )))
        .execute(pool)
        .await;
        if let Err(e) = sent {
            self.waiters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&token);
            return Err(SyncError::Database(e));
        }
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(())) => Ok(()),
            _ => {
                self.waiters
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&token);
                Err(SyncError::Timeout)
            }
        }
    }

    /// Drops the cached tiles a notice makes stale, as the listener reads it: notices come in
    /// commit order, so once a barrier's own notice is read every change committed before it
    /// has left the cache (see [`LiveHub::tiles_current`]).
    fn invalidate_tiles(&self, n: &Notification) {
        for change in tiles_touched(n) {
            if let (None, Some(memory)) = (change.plan, self.memory_tiles.get()) {
                memory.changed(change.layer, change.bbox);
            }
            match (change.bbox, change.plan) {
                (bbox, Some(draft)) => self.cache.invalidate_plan(change.layer, bbox, draft),
                (Some(b), None) => self.cache.invalidate(change.layer, b),
                (None, None) => self.cache.invalidate_layer(change.layer),
            }
        }
    }

    /// Whether the listener is connected now: while it is, a tile put in the cache is
    /// dropped by any later change.
    pub fn is_listening(&self) -> bool {
        *self.listening.borrow()
    }

    /// Waits until the tile cache holds nothing older than the moment of the call: every
    /// change committed before it, by any process on the database, has dropped its tiles.
    /// A tile read after a write (this instance's or another's, a script's, psql's) so
    /// always shows it.
    ///
    /// The listener itself sends the barrier: a notice on its own connection, which comes
    /// back to it in commit order behind every change committed before it. Callers arriving
    /// together share one; each waits for the first sent after it arrived. Dropping the wait
    /// halfway (a map moving on aborts its tile requests) holds up nobody.
    pub async fn tiles_current(&self) -> Result<(), SyncError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let target = {
            let mut barrier = self.barrier_lock();
            let target = barrier.sent + 1;
            barrier.wanted = barrier.wanted.max(target);
            target
        };
        self.barrier_wanted.notify_one();
        let mut heard = self.barrier_heard.subscribe();
        match tokio::time::timeout_at(deadline, heard.wait_for(|h| *h >= target)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(SyncError::Timeout),
        }
    }

    /// The next barrier round the listener should send, if a caller is waiting for one.
    fn next_round(&self) -> Option<u64> {
        let mut barrier = self.barrier_lock();
        (barrier.wanted > barrier.sent).then(|| {
            barrier.sent = barrier.wanted;
            barrier.sent
        })
    }

    /// The listener's connection changed: rounds sent on the old one will never be heard.
    /// Sent again on the new one, after the caller has dropped everything cached.
    fn resend_rounds(&self) {
        let mut barrier = self.barrier_lock();
        barrier.sent = *self.barrier_heard.borrow();
        if barrier.wanted > barrier.sent {
            self.barrier_wanted.notify_one();
        }
    }

    /// This process's barrier round, from a `barrier` notice's token (`epoch:round`); other
    /// processes' rounds are theirs.
    fn own_round(&self, token: &str) -> Option<u64> {
        let (epoch, round) = token.split_once(':')?;
        (epoch == self.epoch).then(|| round.parse().ok()).flatten()
    }

    fn barrier_lock(&self) -> std::sync::MutexGuard<'_, Barrier> {
        self.barrier.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Everything may have changed (the listener reconnected): drop every cached tile and
    /// tell every client to reload.
    fn everything_changed(&self) {
        for layer in TileLayer::ALL {
            self.cache.invalidate_layer(layer);
        }
        if let Some(memory) = self.memory_tiles.get() {
            memory.everything_changed();
        }
        self.publish(Batch {
            resync: true,
            ..Batch::default()
        });
    }

    fn publish(&self, mut batch: Batch) {
        let mut history = self.lock_history();
        history.seq += 1;
        batch.seq = history.seq;
        let batch = Arc::new(batch);
        history.batches.push_back(Arc::clone(&batch));
        if history.batches.len() > HISTORY {
            history.batches.pop_front();
        }
        // No receivers is fine: nobody is watching.
        let _ = self.sender.send(batch);
    }

    async fn apply(&self, pool: &PgPool, notifications: Vec<Notification>) {
        let _applying = self.applying.lock().await;
        let mut incident_ids = BTreeSet::new();
        let mut worker_ids = BTreeSet::new();
        let mut worker_versions = Vec::new();
        // Workers named by a notice without a version (deleted, gone stale): the index is not
        // told of those by version, so they are read.
        let mut unversioned = BTreeSet::new();
        let mut plan_changed = false;
        let mut layers = Vec::new();
        // Where deleted incidents were, as their notices say.
        let mut incident_places: HashMap<i64, (String, Option<i64>)> = HashMap::new();
        let mut tokens = Vec::new();
        let mut everything = false;
        let mut alert_ids = Vec::new();
        for n in notifications {
            let c = n.c;
            match n.e.as_str() {
                "sync" => tokens.extend(n.token),
                // The listener has told the session cache already.
                "auth" => {}
                "all" => {
                    everything = true;
                    self.admin_units_changed().await;
                }
                // The listener dropped the tiles each notice touches as it read it
                // (`invalidate_tiles`); what is left is telling clients.
                "incident" => {
                    incident_ids.extend(n.id);
                    if let (Some(id), Some(area)) = (n.id, n.a) {
                        incident_places.insert(id, (area, n.g));
                    }
                    if let Some(c) = c {
                        layers.push(LayerChange {
                            layer: TileLayer::GridCells,
                            bbox: Some(c),
                            plan: None,
                        });
                    }
                }
                "hotspot_alert" => alert_ids.extend(n.id),
                "worker" => {
                    worker_ids.extend(n.id);
                    worker_versions.extend(n.id.map(|id| (id, n.v)));
                    if n.v.is_none() {
                        unversioned.extend(n.id);
                    }
                }
                "grid_plan" | "admin_unit" | "grid_cell" | "household" | "facility" => {
                    // A draft coming, going or edited changes nothing anyone but its
                    // planners sees.
                    if n.e == "grid_plan" && n.p.is_none() {
                        plan_changed = true;
                    }
                    if n.e == "admin_unit" {
                        self.admin_units_changed().await;
                    }
                    layers.extend(tiles_touched(&n));
                }
                other => tracing::warn!(kind = other, "unknown change notification"),
            }
        }
        // Whether the dispatch index now holds every changed worker at least as the notices
        // name them, so the live map's states can be built from it.
        let mut index_current = false;
        // Where the changed workers were before this change, for those it removes.
        let worker_places = self
            .dispatch
            .get()
            .map(|dispatch| worker_places(dispatch, &worker_ids))
            .unwrap_or_default();
        if everything {
            self.reload_dispatch(pool, false).await;
        } else {
            let topology_current = !plan_changed || self.reload_dispatch(pool, true).await;
            if let Some(dispatch) = self.dispatch.get()
                && !worker_versions.is_empty()
            {
                index_current = match dispatch.refresh(pool, &worker_versions).await {
                    Ok(()) => topology_current && dispatch.is_loaded(),
                    Err(error) => {
                        tracing::error!(%error, "reading changed workers for dispatch failed; reloading");
                        self.reload_dispatch(pool, false).await && topology_current
                    }
                };
            }
        }
        if everything {
            self.everything_changed();
        } else if !incident_ids.is_empty() || !worker_ids.is_empty() || !layers.is_empty() {
            let incident_ids: Vec<i64> = incident_ids.into_iter().collect();
            let worker_ids: Vec<i64> = worker_ids.into_iter().collect();
            let (mut known, mut removed_workers, to_read) = match self.dispatch.get() {
                Some(dispatch) if index_current => {
                    let (versioned, mut unknown): (Vec<i64>, Vec<i64>) =
                        worker_ids.iter().partition(|id| !unversioned.contains(id));
                    let (states, gone, undescribed) =
                        worker_states(dispatch, &versioned, Utc::now().timestamp());
                    unknown.extend(undescribed);
                    (states, gone, unknown)
                }
                _ => (Vec::new(), Vec::new(), worker_ids.clone()),
            };
            match self.read_states(pool, &incident_ids, &to_read).await {
                Ok((incidents, read)) => {
                    let removed_incidents = missing(&incident_ids, incidents.iter().map(|i| i.id))
                        .into_iter()
                        .map(|id| Removed {
                            id,
                            places: incident_places.remove(&id).into_iter().collect(),
                        })
                        .collect();
                    removed_workers.extend(missing(&to_read, read.iter().map(|w| w.id)));
                    removed_workers.sort_unstable();
                    let removed_workers = removed_workers
                        .into_iter()
                        .map(|id| Removed {
                            id,
                            places: worker_places.get(&id).cloned().unwrap_or_default(),
                        })
                        .collect();
                    known.extend(read);
                    known.sort_unstable_by_key(|w| w.id);
                    let workers = known;
                    self.publish(Batch {
                        incidents,
                        removed_incidents,
                        workers,
                        removed_workers,
                        layers,
                        ..Batch::default()
                    });
                }
                Err(e) => {
                    // The tiles are already dropped; clients cannot be told what changed.
                    tracing::warn!(error = %e, "reading changed records failed; clients reload");
                    self.publish(Batch {
                        resync: true,
                        ..Batch::default()
                    });
                }
            }
        }
        if !alert_ids.is_empty() {
            match crate::hotspots::alerts::read(pool, &alert_ids).await {
                Ok(alerts) => self.publish(Batch {
                    alerts,
                    ..Batch::default()
                }),
                Err(error) => tracing::warn!(%error, "reading raised alerts failed"),
            }
        }
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        for token in tokens {
            if let Some(waiter) = waiters.remove(&token) {
                let _ = waiter.send(());
            }
        }
    }

    async fn read_states(
        &self,
        pool: &PgPool,
        incident_ids: &[i64],
        worker_ids: &[i64],
    ) -> Result<(Vec<IncidentState>, Vec<WorkerState>), sqlx::Error> {
        let incidents = if incident_ids.is_empty() {
            Vec::new()
        } else {
            sqlx::query_as::<_, IncidentState>(concat!(
                "SELECT i.id, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, i.category,
                        i.severity::text, i.status::text, i.tier::text,
                        i.status IN ",
                open_statuses!(),
                " AS open,
                        i.status IN ",
                open_statuses!(),
                "
                            AND coalesce(i.due_at < now(), false) AS overdue,
                        extract(epoch FROM i.reported_at)::int8 AS reported_at,
                        extract(epoch FROM i.updated_at)::int8 AS updated_at,
                        g.code AS grid_cell_code, v.code AS village_code, i.area_code,
                        i.location_method::text, i.grid_cell_id
                 FROM incident i
                 LEFT JOIN grid_cell g ON g.id = i.grid_cell_id
                 LEFT JOIN admin_unit v ON v.id = i.village_id
                 WHERE i.id = ANY ($1)
                 ORDER BY i.id"
            ))
            .bind(incident_ids)
            .fetch_all(pool)
            .await?
        };
        let workers = if worker_ids.is_empty() {
            Vec::new()
        } else {
            sqlx::query_as::<_, WorkerState>(
                "SELECT w.id, ST_X(w.last_position) AS lon, ST_Y(w.last_position) AS lat,
                        w.status::text,
                        coalesce(w.last_seen_at < now() - make_interval(secs => $2), true) AS stale,
                        extract(epoch FROM w.last_seen_at)::int8 AS last_seen,
                        (array_agg(g.code ORDER BY g.code))[1] AS cell_code,
                        w.caseload, w.capacity,
                        coalesce(array_agg(g.id ORDER BY g.code) FILTER (WHERE g.id IS NOT NULL),
                                 '{}') AS cell_ids,
                        coalesce(array_agg(v.code ORDER BY g.code) FILTER (WHERE v.code IS NOT NULL),
                                 '{}') AS village_codes
                 FROM grid_worker w
                 LEFT JOIN grid_worker_cell wc ON wc.worker_id = w.id
                 LEFT JOIN grid_cell g ON g.id = wc.grid_cell_id
                 LEFT JOIN admin_unit v ON v.id = g.village_id
                 WHERE w.id = ANY ($1)
                 GROUP BY w.id
                 ORDER BY w.id",
            )
            .bind(worker_ids)
            .bind(self.stale_after.as_secs_f64())
            .fetch_all(pool)
            .await?
        };
        Ok((incidents, workers))
    }
}

/// The live map's states of the workers `ids`, built from the dispatch index once it holds
/// them as their notices name them: the states, the ids the index no longer has (deleted),
/// and the ids it cannot describe exactly, to be read from the database: a worker with a
/// cell outside the published plan, or within two seconds of going stale (the index keeps
/// whole seconds; the database's own clock decides those).
fn worker_states(
    dispatch: &Dispatch,
    ids: &[i64],
    now: i64,
) -> (Vec<WorkerState>, Vec<i64>, Vec<i64>) {
    let stale_after_s = i64::try_from(dispatch.stale_after.as_secs()).unwrap_or(i64::MAX);
    let (index, cells) = (dispatch.read(), dispatch.cells());
    let (mut states, mut gone, mut unknown) = (Vec::new(), Vec::new(), Vec::new());
    for &id in ids {
        let Some(worker) = index.get(id) else {
            gone.push(id);
            continue;
        };
        let near_the_edge = worker
            .seen_at
            .is_some_and(|seen| (now - seen - stale_after_s).abs() <= 2);
        let codes: Option<Vec<(i64, &CellCodes)>> = worker
            .cells
            .iter()
            .map(|cell| cells.get(cell).map(|c| (*cell, c)))
            .collect();
        let Some(mut codes) = codes.filter(|_| !near_the_edge) else {
            unknown.push(id);
            continue;
        };
        codes.sort_by(|a, b| a.1.code.cmp(&b.1.code));
        states.push(WorkerState {
            id,
            lon: worker.position.map(|p| p.lon()),
            lat: worker.position.map(|p| p.lat()),
            status: status_name(worker.status).to_owned(),
            stale: worker.is_stale(now, stale_after_s),
            last_seen: worker.seen_at,
            cell_code: codes.first().map(|(_, c)| c.code.clone()),
            caseload: i32::try_from(worker.caseload).unwrap_or(i32::MAX),
            capacity: i32::try_from(worker.capacity).unwrap_or(i32::MAX),
            cell_ids: codes.iter().map(|(id, _)| *id).collect(),
            village_codes: codes.iter().map(|(_, c)| c.village.clone()).collect(),
        });
    }
    (states, gone, unknown)
}

/// The places (village code and cell) of the workers `ids` as the dispatch index holds them.
fn worker_places(
    dispatch: &Dispatch,
    ids: &BTreeSet<i64>,
) -> HashMap<i64, Vec<(String, Option<i64>)>> {
    let (index, cells) = (dispatch.read(), dispatch.cells());
    ids.iter()
        .filter_map(|&id| {
            let worker = index.get(id)?;
            let places = worker
                .cells
                .iter()
                .filter_map(|cell| cells.get(cell).map(|c| (c.village.clone(), Some(*cell))))
                .collect();
            Some((id, places))
        })
        .collect()
}

fn missing(asked: &[i64], found: impl Iterator<Item = i64>) -> Vec<i64> {
    let found: BTreeSet<i64> = found.collect();
    asked
        .iter()
        .copied()
        .filter(|id| !found.contains(id))
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("announcing the sync point failed: {0}")]
    Database(#[source] sqlx::Error),
    #[error("the change listener did not catch up within 10 s")]
    Timeout,
}

/// What the listener passes on to the applier.
#[derive(Debug)]
enum Heard {
    Change(Box<Notification>),
    /// The connection dropped: notifications may have been missed.
    Lost,
}

/// Gathers changes for [`GATHER`] after the first of a group arrives, so a busy city makes a
/// batch per transaction or so (a simulator's step moves hundreds of workers in one) rather
/// than one per notification, then applies them. Short: it is part of every change's way to
/// the screen, and of every write's answer (`sync`).
const GATHER: Duration = Duration::from_millis(25);

async fn apply_loop(hub: Arc<LiveHub>, pool: PgPool, mut heard: mpsc::Receiver<Heard>) {
    while let Some(first) = heard.recv().await {
        tokio::time::sleep(GATHER).await;
        let mut notifications = Vec::new();
        let mut lost = false;
        let mut take = |h: Heard| match h {
            Heard::Change(n) => notifications.push(*n),
            Heard::Lost => lost = true,
        };
        take(first);
        while let Ok(h) = heard.try_recv() {
            take(h);
        }
        if lost {
            hub.everything_changed();
            hub.reload_dispatch(&pool, false).await;
        }
        hub.apply(&pool, notifications).await;
    }
}

/// Listens for as long as the runtime runs, reconnecting when the connection drops.
async fn listen(
    pool: PgPool,
    heard: mpsc::Sender<Heard>,
    sessions: Arc<SessionCache>,
    hub: Arc<LiveHub>,
) {
    let mut connected_before = false;
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for changes; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "cannot listen for changes; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        // The connection writes nothing but barrier notices, which are delivered at commit
        // either way and worth nothing after a crash: no waiting for the disk.
        if let Err(e) = sqlx::query("SET synchronous_commit = off")
            .execute(&mut listener)
            .await
        {
            tracing::warn!(error = %e, "cannot listen for changes; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        // Whatever changed while nobody listened is unknown. The tiles go before anyone can
        // pass a barrier on this connection; the rest follows in the applier.
        if connected_before {
            for layer in TileLayer::ALL {
                hub.cache.invalidate_layer(layer);
            }
            if let Some(memory) = hub.memory_tiles.get() {
                memory.everything_changed();
            }
            if heard.send(Heard::Lost).await.is_err() {
                return;
            }
        }
        connected_before = true;
        sessions.set_listening(true);
        if let Some(dispatch) = hub.dispatch.get() {
            dispatch.subjects.set_listening(true);
        }
        hub.resend_rounds();
        hub.listening.send_replace(true);
        loop {
            // Waiting for a notice is cancel-safe: a round sent meanwhile loses none.
            let received = tokio::select! {
                biased;
                received = listener.try_recv() => received,
                () = hub.barrier_wanted.notified() => {
                    let Some(round) = hub.next_round() else { continue };
                    let token = format!("{}:{round}", hub.epoch);
                    let payload = serde_json::json!({ "e": "barrier", "token": token }).to_string();
                    // Any notice arriving meanwhile is kept for `try_recv`.
                    let sent = sqlx::query("SELECT pg_notify($1, $2)")
                        .bind(CHANNEL)
                        .bind(payload)
                        .execute(&mut listener)
                        .await;
                    if let Err(e) = sent {
                        tracing::warn!(error = %e, "change listener failed; reconnecting");
                        break;
                    }
                    continue;
                }
            };
            let notification = match received {
                Ok(Some(n)) => n,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "change listener failed; reconnecting");
                    break;
                }
            };
            match serde_json::from_str::<Notification>(notification.payload()) {
                Ok(n) => {
                    // Before anything else is read, so a request after the change (or after a
                    // sync that follows it) never meets the ended session or a stale tile.
                    drop_cached(&n, &sessions, hub.dispatch.get().map(|d| &d.subjects));
                    hub.invalidate_tiles(&n);
                    if n.e == "barrier" {
                        if let Some(round) = n.token.as_deref().and_then(|t| hub.own_round(t)) {
                            hub.barrier_heard
                                .send_modify(|heard| *heard = (*heard).max(round));
                        }
                        continue;
                    }
                    if heard.send(Heard::Change(Box::new(n))).await.is_err() {
                        return;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "unreadable change notification"),
            }
        }
        sessions.set_listening(false);
        if let Some(dispatch) = hub.dispatch.get() {
            dispatch.subjects.set_listening(false);
        }
        hub.listening.send_replace(false);
        if heard.send(Heard::Lost).await.is_err() {
            return;
        }
    }
}

/// The tiles a notice makes stale: each layer, the box within it (`None`: all of it), and
/// the draft plan they are confined to.
fn tiles_touched(n: &Notification) -> Vec<LayerChange> {
    let (b, c) = (n.b, n.c);
    let every = |layer: TileLayer, bbox: Option<[f64; 4]>| LayerChange {
        layer,
        bbox,
        plan: None,
    };
    let boxed = |layers: &'static [TileLayer], bbox: Option<[f64; 4]>| {
        layers
            .iter()
            .filter(move |_| bbox.is_some())
            .map(move |layer| every(*layer, bbox))
    };
    match (n.e.as_str(), n.p) {
        // Only the draft's own tiles; no household lies in a draft's cell.
        ("grid_cell", Some(draft)) => b
            .map(|bbox| LayerChange {
                layer: TileLayer::GridCells,
                bbox: Some(bbox),
                plan: Some(draft),
            })
            .into_iter()
            .collect(),
        ("grid_plan", Some(draft)) => vec![LayerChange {
            layer: TileLayer::GridCells,
            bbox: None,
            plan: Some(draft),
        }],
        ("incident", _) => boxed(&[TileLayer::Incidents, TileLayer::Hexagons], b)
            .chain(boxed(&[TileLayer::GridCells], c))
            .collect(),
        ("worker", _) => boxed(&[TileLayer::Workers], b).collect(),
        // A household's cell code comes from the cell it lies in.
        ("grid_cell", None) => boxed(&[TileLayer::GridCells, TileLayer::Households], b).collect(),
        ("grid_plan", None) => [TileLayer::GridCells, TileLayer::Households]
            .into_iter()
            .map(|layer| every(layer, None))
            .collect(),
        ("admin_unit", _) => boxed(
            &[
                TileLayer::Counties,
                TileLayer::Townships,
                TileLayer::Villages,
                TileLayer::GridCells,
            ],
            b,
        )
        .collect(),
        ("household", _) => boxed(&[TileLayer::Households], b).collect(),
        ("facility", _) => boxed(&[TileLayer::Facilities], b).collect(),
        ("all", _) => TileLayer::ALL
            .into_iter()
            .map(|layer| every(layer, None))
            .collect(),
        _ => Vec::new(),
    }
}

/// What a notice ends in the caches served without a database round trip: a user's sessions
/// (a whole user's, or all when units change the callers' areas) and the incidents dispatch
/// ranks for.
fn drop_cached(
    n: &Notification,
    sessions: &SessionCache,
    subjects: Option<&crate::feed_cache::FeedCache<i64, crate::dispatch::candidates::Subject>>,
) {
    // A draft plan's notices change no session and no case.
    if n.e == "grid_plan" && n.p.is_some() {
        return;
    }
    match (n.e.as_str(), n.id) {
        ("auth", Some(user)) => sessions.forget_user(user),
        ("auth", None) | ("admin_unit" | "grid_plan" | "all", _) => sessions.forget_all(),
        _ => {}
    }
    if let Some(subjects) = subjects {
        match (n.e.as_str(), n.id) {
            ("incident", Some(id)) => subjects.forget(&id),
            ("incident", None) | ("grid_plan" | "all", _) => subjects.forget_all(),
            _ => {}
        }
    }
}

/// Time alone turns cases overdue and positions stale; both show on the map, so their tiles
/// must go too. Every 15 s, each record that crossed its line since the last sweep is
/// announced like any other change.
async fn sweep(hub: Arc<LiveHub>, pool: PgPool) {
    let mut interval = tokio::time::interval(Duration::from_secs(15));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut since: Option<chrono::DateTime<chrono::Utc>> = None;
    loop {
        interval.tick().await;
        let result = sqlx::query_scalar::<_, chrono::DateTime<chrono::Utc>>(concat!(
            "WITH now AS (SELECT now() AS t),
             overdue AS (
                 SELECT pg_notify($1, json_build_object(
                            'e', 'incident', 'id', i.id, 'b', wangge_box(i.geom, NULL),
                            'c', wangge_box(g.geom, NULL))::text)
                 FROM incident i LEFT JOIN grid_cell g ON g.id = i.grid_cell_id, now
                 WHERE $2::timestamptz IS NOT NULL
                   AND i.status IN ",
            open_statuses!(),
            "
                   AND i.due_at > $2 AND i.due_at <= now.t),
             stale AS (
                 SELECT pg_notify($1, json_build_object(
                            'e', 'worker', 'id', w.id,
                            'b', wangge_box(w.last_position, NULL))::text)
                 FROM grid_worker w, now
                 WHERE $2::timestamptz IS NOT NULL
                   AND w.last_seen_at + make_interval(secs => $3) > $2
                   AND w.last_seen_at + make_interval(secs => $3) <= now.t)
             SELECT now.t FROM now
             WHERE (SELECT count(*) FROM overdue) + (SELECT count(*) FROM stale) >= 0"
        ))
        .bind(CHANNEL)
        .bind(since)
        .bind(hub.stale_after.as_secs_f64())
        .fetch_one(&pool)
        .await;
        match result {
            Ok(now) => since = Some(now),
            Err(e) => tracing::warn!(error = %e, "deadline sweep failed; retrying"),
        }
    }
}

/// A string as an SQL literal (standard-conforming strings: only `'` is special).
fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
