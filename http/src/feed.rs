//! What one live client is sent: the part of each batch its scope may see, merged per record
//! into `changes` messages (see `routes::live` for the protocol), each built once for every
//! client with the same scope and window of batches.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use serde_json::json;
use wangge_domain::hotspots::alerts::Alert;
use wangge_domain::live::{Batch, IncidentState, LayerChange, Removed, WorkerState};
use wangge_domain::tile_layers::TileLayer;

/// What one caller may see of a batch.
#[derive(Debug)]
pub(crate) struct Scope {
    pub(crate) prefix: String,
    pub(crate) grid_cell_id: Option<i64>,
    /// A city-wide caller sees everything, even what is gone from an unknown place.
    pub(crate) city: bool,
    /// The lon/lat box of the caller's area, for changes known only by their box (layers).
    pub(crate) bbox: Option<[f64; 4]>,
    /// Whether the caller's role is told of hot spot alerts.
    pub(crate) alerted: bool,
    /// Whether the caller may read draft plans (is told when one changes).
    pub(crate) planner: bool,
}

impl Scope {
    /// What makes two scopes see the same of every batch (the box follows from the area).
    fn key(&self) -> ScopeKey {
        ScopeKey {
            prefix: self.prefix.clone(),
            grid_cell_id: self.grid_cell_id,
            city: self.city,
            alerted: self.alerted,
            planner: self.planner,
        }
    }

    fn sees_place(&self, code: &str, cell: Option<i64>) -> bool {
        code.starts_with(&self.prefix) && self.grid_cell_id.is_none_or(|c| cell == Some(c))
    }

    fn sees_incident(&self, i: &IncidentState) -> bool {
        self.sees_place(&i.area_code, i.grid_cell_id)
    }

    fn sees_worker(&self, w: &WorkerState) -> bool {
        w.village_codes
            .iter()
            .zip(&w.cell_ids)
            .any(|(v, c)| self.sees_place(v, Some(*c)))
    }

    /// Whether the caller could have seen a record now gone.
    fn saw(&self, removed: &Removed) -> bool {
        if removed.places.is_empty() {
            return self.city;
        }
        removed
            .places
            .iter()
            .any(|(code, cell)| self.sees_place(code, *cell))
    }

    /// Whether a layer's change may show in the caller's area (boxes meet); a draft's only
    /// to planners.
    fn sees_layer(&self, change: &LayerChange) -> bool {
        if change.plan.is_some() && !self.planner {
            return false;
        }
        match (change.bbox, self.bbox) {
            _ if self.city => true,
            (None, _) => true,
            (Some(b), Some(a)) => b[0] <= a[2] && a[0] <= b[2] && b[1] <= a[3] && a[1] <= b[3],
            (Some(_), None) => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ScopeKey {
    prefix: String,
    grid_cell_id: Option<i64>,
    city: bool,
    alerted: bool,
    planner: bool,
}

/// The `changes` messages of the newest batches, each built once for all the sockets whose
/// scope and window of batches are the same (a city's operators, a cell's devices): a
/// message is a function of the two. Only windows ending at the newest batch seen are kept.
#[derive(Debug, Default)]
pub struct SharedMessages {
    newest: std::sync::Mutex<Newest>,
}

/// The newest batch's number, and the messages of windows ending there by scope and first
/// batch (`None`: nothing for that scope).
#[derive(Debug, Default)]
struct Newest {
    last: u64,
    messages: HashMap<(ScopeKey, u64), Option<Utf8Bytes>>,
}

impl SharedMessages {
    /// The message for `scope` of `window` (consecutive batches), `None` when nothing in
    /// them is the scope's.
    pub(crate) fn of(
        &self,
        scope: &Scope,
        window: &[Arc<Batch>],
        epoch: &str,
    ) -> Option<Utf8Bytes> {
        let (first, last) = (window.first()?.seq, window.last()?.seq);
        let key = (scope.key(), first);
        {
            let newest = self.lock();
            if newest.last == last
                && let Some(message) = newest.messages.get(&key)
            {
                return message.clone();
            }
        }
        let mut pending = Pending::default();
        for batch in window {
            pending.add(batch, scope);
        }
        let message =
            (!pending.is_empty()).then(|| Utf8Bytes::from(pending.take_message(epoch, last)));
        let mut newest = self.lock();
        if last > newest.last {
            *newest = Newest {
                last,
                messages: HashMap::new(),
            };
        }
        if newest.last == last {
            newest.messages.insert(key, message.clone());
        }
        message
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Newest> {
        self.newest.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Changes gathered for the next message, the latest state of each record winning.
#[derive(Default)]
struct Pending {
    incidents: BTreeMap<i64, Option<IncidentState>>,
    workers: BTreeMap<i64, Option<WorkerState>>,
    layers: BTreeSet<TileLayer>,
    /// Draft plans (versions) whose cells changed.
    plans: BTreeSet<i32>,
    alerts: BTreeMap<i64, Alert>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.incidents.is_empty()
            && self.workers.is_empty()
            && self.layers.is_empty()
            && self.plans.is_empty()
            && self.alerts.is_empty()
    }

    fn add(&mut self, batch: &Batch, scope: &Scope) {
        for i in &batch.incidents {
            if scope.sees_incident(i) {
                self.incidents.insert(i.id, Some(i.clone()));
            } else if self.incidents.contains_key(&i.id) {
                // It left the area: the client drops it.
                self.incidents.insert(i.id, None);
            }
        }
        for removed in &batch.removed_incidents {
            if scope.saw(removed) {
                self.incidents.insert(removed.id, None);
            }
        }
        for w in &batch.workers {
            if scope.sees_worker(w) {
                self.workers.insert(w.id, Some(w.clone()));
            }
        }
        for removed in &batch.removed_workers {
            if scope.saw(removed) {
                self.workers.insert(removed.id, None);
            }
        }
        for change in batch.layers.iter().filter(|c| scope.sees_layer(c)) {
            match change.plan {
                Some(draft) => self.plans.insert(draft),
                None => self.layers.insert(change.layer),
            };
        }
        for alert in &batch.alerts {
            if scope.alerted && scope.sees_place(&alert.village_code, Some(alert.grid_cell_id)) {
                self.alerts.insert(alert.id, alert.clone());
            }
        }
    }

    fn take_message(&mut self, epoch: &str, seq: u64) -> String {
        let pending = std::mem::take(self);
        let (incidents, removed_incidents) = split(pending.incidents);
        let (workers, removed_workers) = split(pending.workers);
        json!({
            "type": "changes",
            "epoch": epoch,
            "seq": seq,
            "incidents": incidents,
            "removed_incidents": removed_incidents,
            "workers": workers,
            "removed_workers": removed_workers,
            "layers": pending.layers,
            "plans": pending.plans,
            "alerts": pending.alerts.into_values().collect::<Vec<_>>(),
        })
        .to_string()
    }
}

fn split<T>(records: BTreeMap<i64, Option<T>>) -> (Vec<T>, Vec<i64>) {
    let mut present = Vec::new();
    let mut removed = Vec::new();
    for (id, record) in records {
        match record {
            Some(r) => present.push(r),
            None => removed.push(id),
        }
    }
    (present, removed)
}
