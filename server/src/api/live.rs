//! `GET /api/v1/live`: the live feed (WebSocket) of incident and worker changes inside the
//! caller's area.
//!
//! Messages are JSON text frames:
//! - `{"type":"hello","epoch":E,"seq":N}` first;
//! - `{"type":"changes","epoch":E,"seq":N,"incidents":[…],"workers":[…],"removed_incidents":[…],
//!   "removed_workers":[…],"layers":[…]}` at most every [`FLUSH_EVERY`], merged per record;
//! - `{"type":"resync","epoch":E,"seq":N}` when the client must reload everything;
//! - `{"type":"heartbeat","epoch":E,"seq":N}` when nothing in the area changed for a while,
//!   so the resume point still moves.
//!
//! A field device may also send its positions over the same socket:
//! `{"type":"positions","id":T,"positions":[…]}` (the body of `POST /api/v1/workers/positions`,
//! with a tag `id` of its choosing) is stored exactly as that endpoint stores it, and answered
//! `{"type":"positions_stored","id":T,"received":N,"stored":N,"latest":N}` or
//! `{"type":"error","id":T,"problem":{…}}` (the problem+json the endpoint would answer).
//!
//! A client reconnects with `?epoch=E&after=N` and gets exactly what it missed. A client that
//! falls [`crate::live::CLIENT_BACKLOG`] batches behind, or cannot take a message within
//! [`SEND_TIMEOUT`], is disconnected (close code 1013) rather than buffered without bound.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::api::AppState;
use crate::api::params::Params;
use crate::audit::RequestMeta;
use crate::auth::Caller;
use crate::dispatch::positions::{PositionBatch, PositionIn};
use crate::error::ApiError;
use crate::live::{Batch, IncidentState, Resume, WorkerState};
use crate::tile_layers::TileLayer;

/// At most this many messages a second per client, however busy the city.
pub const FLUSH_EVERY: Duration = Duration::from_millis(250);
pub const SEND_TIMEOUT: Duration = Duration::from_secs(5);
const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);

pub fn router() -> Router<AppState> {
    Router::new().route("/live", get(live))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LiveParams {
    epoch: Option<String>,
    after: Option<u64>,
}

async fn live(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Params(params): Params<LiveParams>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let resume_from = match (params.epoch, params.after) {
        (Some(epoch), Some(after)) => Some((epoch, after)),
        (None, None) => None,
        _ => {
            return Err(ApiError::InvalidParameter(
                "epoch and after go together".into(),
            ));
        }
    };
    Ok(upgrade.on_upgrade(move |socket| serve(socket, state, caller, meta, resume_from)))
}

/// What one caller may see of a batch.
struct Scope {
    prefix: String,
    grid_cell_id: Option<i64>,
}

impl Scope {
    fn sees_incident(&self, i: &IncidentState) -> bool {
        i.area_code.starts_with(&self.prefix)
            && self.grid_cell_id.is_none_or(|c| i.grid_cell_id == Some(c))
    }

    fn sees_worker(&self, w: &WorkerState) -> bool {
        w.village_codes
            .iter()
            .zip(&w.cell_ids)
            .any(|(v, c)| v.starts_with(&self.prefix) && self.grid_cell_id.is_none_or(|g| g == *c))
    }
}

/// Changes gathered for the next message, the latest state of each record winning.
#[derive(Default)]
struct Pending {
    incidents: BTreeMap<i64, Option<IncidentState>>,
    workers: BTreeMap<i64, Option<WorkerState>>,
    layers: BTreeSet<TileLayer>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.incidents.is_empty() && self.workers.is_empty() && self.layers.is_empty()
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
        for id in &batch.removed_incidents {
            self.incidents.insert(*id, None);
        }
        for w in &batch.workers {
            if scope.sees_worker(w) {
                self.workers.insert(w.id, Some(w.clone()));
            }
        }
        for id in &batch.removed_workers {
            self.workers.insert(*id, None);
        }
        self.layers.extend(batch.layers.iter().copied());
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

async fn send(socket: &mut WebSocket, text: String) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await,
        Ok(Ok(()))
    )
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Incoming {
    Positions {
        #[serde(default)]
        id: serde_json::Value,
        positions: Vec<PositionIn>,
    },
}

/// Stores what a client sent (positions) and says how it went, as the HTTP endpoint would.
async fn answer_message(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    text: &str,
) -> String {
    let incoming: Result<Incoming, _> = serde_json::from_str(text);
    let (id, stored) = match incoming {
        Err(e) => (
            serde_json::Value::Null,
            Err(ApiError::MalformedBody(format!(
                "not a message this socket takes: {e}"
            ))),
        ),
        Ok(Incoming::Positions { id, positions }) => {
            let batch = PositionBatch { positions };
            let stored = crate::dispatch::positions::store(
                &state.pool,
                &state.dispatch,
                caller,
                meta,
                &batch,
            )
            .await;
            (id, stored)
        }
    };
    match stored {
        Ok(stored) => json!({
            "type": "positions_stored", "id": id, "received": stored.received,
            "stored": stored.stored, "latest": stored.latest,
        })
        .to_string(),
        Err(error) => json!({"type": "error", "id": id, "problem": error.problem()}).to_string(),
    }
}

async fn serve(
    mut socket: WebSocket,
    state: AppState,
    caller: Caller,
    meta: RequestMeta,
    resume_from: Option<(String, u64)>,
) {
    let hub = Arc::clone(&state.live);
    let epoch = hub.epoch().to_owned();
    let scope = Scope {
        prefix: caller.area.prefix.clone(),
        grid_cell_id: caller.area.grid_cell_id,
    };
    let (current, resume, mut receiver) = hub.subscribe(
        resume_from
            .as_ref()
            .map(|(epoch, after)| (epoch.as_str(), *after)),
    );
    let hello = json!({ "type": "hello", "epoch": epoch, "seq": current }).to_string();
    if !send(&mut socket, hello).await {
        return;
    }
    let mut pending = Pending::default();
    let mut seq = current;
    match resume {
        Resume::Resync => {
            let text = json!({ "type": "resync", "epoch": epoch, "seq": current }).to_string();
            if !send(&mut socket, text).await {
                return;
            }
        }
        Resume::Replay(batches) => {
            for batch in batches {
                pending.add(&batch, &scope);
            }
            if !pending.is_empty() {
                let text = pending.take_message(&epoch, current);
                if !send(&mut socket, text).await {
                    return;
                }
            }
        }
    }
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sent_seq = seq;
    let mut last_sent = tokio::time::Instant::now();
    let session_end = (caller.expires_at - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    let session_end = tokio::time::sleep(session_end);
    tokio::pin!(session_end);
    loop {
        tokio::select! {
            received = receiver.recv() => match received {
                Ok(batch) => {
                    if batch.seq <= seq {
                        continue;
                    }
                    seq = batch.seq;
                    if batch.resync {
                        pending = Pending::default();
                        let text = json!({ "type": "resync", "epoch": epoch, "seq": seq }).to_string();
                        if !send(&mut socket, text).await {
                            return;
                        }
                        sent_seq = seq;
                        last_sent = tokio::time::Instant::now();
                    } else {
                        pending.add(&batch, &scope);
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    close(&mut socket, 1013, "too slow: reconnect with epoch and after").await;
                    return;
                }
                Err(RecvError::Closed) => return,
            },
            _ = flush.tick() => {
                if !pending.is_empty() {
                    let text = pending.take_message(&epoch, seq);
                    if !send(&mut socket, text).await {
                        return;
                    }
                    sent_seq = seq;
                    last_sent = tokio::time::Instant::now();
                } else if seq > sent_seq && last_sent.elapsed() >= HEARTBEAT_EVERY {
                    let text = json!({ "type": "heartbeat", "epoch": epoch, "seq": seq }).to_string();
                    if !send(&mut socket, text).await {
                        return;
                    }
                    sent_seq = seq;
                    last_sent = tokio::time::Instant::now();
                }
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(Message::Text(text))) => {
                    let answer = answer_message(&state, &caller, &meta, text.as_str()).await;
                    if !send(&mut socket, answer).await {
                        return;
                    }
                }
                // Pings are answered by the library.
                Some(Ok(_)) => {}
            },
            () = &mut session_end => {
                close(&mut socket, 1008, "session expired").await;
                return;
            }
        }
    }
}
