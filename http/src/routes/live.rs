//! `GET /api/v1/live`: the live feed (WebSocket) of incident and worker changes inside the
//! caller's area.
//!
//! Messages are JSON text frames:
//! - `{"type":"hello","epoch":E,"seq":N}` first;
//! - `{"type":"changes","epoch":E,"seq":N,"incidents":[…],"workers":[…],"removed_incidents":[…],
//!   "removed_workers":[…],"layers":[…],"plans":[…]}` at most every [`FLUSH_EVERY`], merged per
//!   record (`plans`: the draft plans whose cells changed, told only to planners);
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
//! falls [`wangge_domain::live::CLIENT_BACKLOG`] batches behind, or cannot take a message within
//! [`SEND_TIMEOUT`], is disconnected (close code 1013) rather than buffered without bound.
//!
//! A socket lives only as long as its session: when the session ends (signed out, revoked,
//! expired, idle too long, the user disabled) or its user's name, role or area changes, the
//! socket is closed with [`SESSION_ENDED`] (4401), and nothing it sends after that is stored.
//! The session cache's news ([`wangge_domain::auth::cache::SessionNews`]) makes each socket of that
//! user check its session at once; every [`RECHECK_EVERY`] it checks anyway (the idle clock
//! runs out without any news). Messages from the client are at most [`MAX_BODY_BYTES`]
//! (else 1009) and [`MESSAGE_BURST`] at once, [`MESSAGES_PER_SECOND`] on average (else
//! 1008). A browser may only open the socket from the server's own origin (403 otherwise).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::uri::Authority;
use axum::http::{Uri, header};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::error::ApiError;
use crate::extract::{Meta, SignedIn};
use crate::feed::Scope;
use crate::params::Params;
use crate::state::{AppState, MAX_BODY_BYTES};
use wangge_domain::audit::RequestMeta;
use wangge_domain::auth::cache::{self, SessionNews};
use wangge_domain::auth::session;
use wangge_domain::auth::{Caller, Role};
use wangge_domain::dispatch::positions::{PositionBatch, PositionIn};
use wangge_domain::hotspots::alerts;
use wangge_domain::live::{Batch, Resume};
use wangge_domain::map;

/// At most one message this often per client, however busy the city. A change waits at most
/// this long behind the one sent before it; the first after a quiet spell goes at once.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);
pub const SEND_TIMEOUT: Duration = Duration::from_secs(5);
const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);

/// The close code for "your session is over": the map client shows its sign-in page
/// instead of reconnecting. In the 4000–4999 range applications own; 401 for HTTP's meaning.
pub const SESSION_ENDED: u16 = 4401;
/// Closing because a message was larger than [`MAX_BODY_BYTES`] (RFC 6455: "too big").
const TOO_BIG: u16 = 1009;
/// Closing because the client sent messages faster than allowed (RFC 6455: policy violation).
const POLICY: u16 = 1008;
/// Closing because the session could not be checked (the database failed); the client
/// reconnects, which checks it again.
const INTERNAL: u16 = 1011;

/// A socket checks its session at least this often, news or not (at most a quarter of the
/// idle timeout, as the session cache), so an idle session's socket ends soon after it.
pub const RECHECK_EVERY: Duration = cache::MAX_AGE;

/// Messages a client may send at once: a field device that was offline sends what it held.
pub const MESSAGE_BURST: f64 = 20.0;
/// Messages a second a client may send on average. A device sends a batch of positions every
/// few seconds (a gateway, many workers' fixes in one message), so this leaves it ten times
/// the room it needs; a client flooding the socket is closed before it costs more than a few
/// queries a second.
pub const MESSAGES_PER_SECOND: f64 = 2.0;

pub fn router() -> Router<AppState> {
    Router::new().route("/live", get(live))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LiveParams {
    epoch: Option<String>,
    after: Option<u64>,
}

/// A browser's upgrade request from a page of this server's own origin, or a request from
/// no browser at all (no `Origin`: a field device with a bearer token).
///
/// Browsers send cookies with cross-origin WebSocket requests and WebSockets are not subject
/// to CORS, so without this a page elsewhere could read the feed as the signed-in user.
/// The page's origin must name the host (and port) the request was sent to; a reverse proxy
/// must pass the `Host` header on.
struct SameOrigin;

impl<S: Send + Sync> FromRequestParts<S> for SameOrigin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(origin) = parts.headers.get(header::ORIGIN) else {
            return Ok(Self);
        };
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let origin = origin.to_str().unwrap_or_default();
        if same_origin(origin, host) {
            Ok(Self)
        } else {
            Err(ApiError::CrossOrigin(format!("{origin} is not {host}")))
        }
    }
}

/// Whether `origin` (scheme://host[:port]) names `host` (host[:port]); a missing port is
/// the scheme's default on both sides.
fn same_origin(origin: &str, host: &str) -> bool {
    let (Ok(origin), Ok(host)) = (origin.parse::<Uri>(), host.parse::<Authority>()) else {
        return false;
    };
    let default_port = match origin.scheme_str() {
        Some("https") => 443,
        Some("http") => 80,
        _ => return false,
    };
    origin.authority().is_some_and(|o| {
        o.host().eq_ignore_ascii_case(host.host())
            && o.port_u16().unwrap_or(default_port) == host.port_u16().unwrap_or(default_port)
    })
}

async fn live(
    State(state): State<AppState>,
    _: SameOrigin,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
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
    let scope = scope_of(&state, &caller).await?;
    Ok(upgrade
        .max_message_size(MAX_BODY_BYTES)
        .max_frame_size(MAX_BODY_BYTES)
        .on_upgrade(move |socket| serve(socket, state, caller, scope, meta, resume_from)))
}

/// What `caller` may see of each batch.
async fn scope_of(state: &AppState, caller: &Caller) -> Result<Scope, ApiError> {
    let area = &caller.area;
    let city = area.level == "city";
    let bbox = if city {
        None
    } else {
        map::area_bbox(&state.pool, area).await?
    };
    Ok(Scope {
        prefix: area.prefix.clone(),
        grid_cell_id: area.grid_cell_id,
        city,
        bbox,
        alerted: alerts::is_alerted(caller.role),
        planner: caller.role == Role::Planner,
    })
}

async fn send(socket: &mut WebSocket, text: impl Into<Utf8Bytes>) -> bool {
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
            let stored = wangge_domain::dispatch::positions::store(
                &state.pool,
                &state.dispatch,
                caller,
                meta,
                &batch,
            )
            .await
            .map_err(ApiError::from);
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

/// Whether the socket's session still holds as it was when the socket opened: not ended,
/// and the same user, name, role and area. Served from the session cache when it holds the
/// session (dropped the moment any notice ends or changes it), else read without touching
/// the idle clock.
async fn session_holds(state: &AppState, caller: &Caller) -> Result<bool, ApiError> {
    let auth = &state.config.auth;
    let now = match state.sessions.get(
        &caller.token_hash,
        cache::MAX_AGE.min(auth.idle_timeout / 4),
    ) {
        Some(now) => Some(now),
        None => {
            let ticket = state.sessions.ticket();
            let mut conn = state.pool.acquire().await?;
            let now = session::look_up(&mut conn, &caller.token_hash, auth).await?;
            if let Some(now) = &now {
                state.sessions.put(ticket, now);
            }
            now
        }
    };
    Ok(now.is_some_and(|now| {
        now.user_id == caller.user_id
            && now.username == caller.username
            && now.role == caller.role
            && now.area == caller.area
    }))
}

/// Checks the session; closes the socket (and says so) when it is over or cannot be checked.
async fn session_over(socket: &mut WebSocket, state: &AppState, caller: &Caller) -> bool {
    match session_holds(state, caller).await {
        Ok(true) => false,
        Ok(false) => {
            close(socket, SESSION_ENDED, "session ended").await;
            true
        }
        Err(error) => {
            tracing::warn!(%error, "checking a live socket's session failed; closing it");
            close(socket, INTERNAL, "cannot check the session: reconnect").await;
            true
        }
    }
}

/// A token bucket: [`MESSAGE_BURST`] messages at once, refilled at [`MESSAGES_PER_SECOND`].
struct Allowance {
    tokens: f64,
    at: tokio::time::Instant,
}

impl Allowance {
    fn new() -> Self {
        Self {
            tokens: MESSAGE_BURST,
            at: tokio::time::Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = tokio::time::Instant::now();
        let earned = now.duration_since(self.at).as_secs_f64() * MESSAGES_PER_SECOND;
        self.tokens = (self.tokens + earned).min(MESSAGE_BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Whether a read failed because the message (or a frame of it) was over the limit.
fn too_big(error: axum::Error) -> bool {
    matches!(
        error.into_inner().downcast_ref::<tungstenite::Error>(),
        Some(tungstenite::Error::Capacity(_))
    )
}

async fn serve(
    mut socket: WebSocket,
    state: AppState,
    caller: Caller,
    scope: Scope,
    meta: RequestMeta,
    resume_from: Option<(String, u64)>,
) {
    let hub = Arc::clone(&state.live);
    let epoch = hub.epoch().to_owned();
    // Before the session is checked again below: an end announced from here on is heard.
    let mut news = state.sessions.subscribe();
    if session_over(&mut socket, &state, &caller).await {
        return;
    }
    let (current, resume, mut receiver) = hub.subscribe(
        resume_from
            .as_ref()
            .map(|(epoch, after)| (epoch.as_str(), *after)),
    );
    let hello = json!({ "type": "hello", "epoch": epoch, "seq": current }).to_string();
    if !send(&mut socket, hello).await {
        return;
    }
    let shared = Arc::clone(&state.live_messages);
    // The batches not yet sent, and when they may be: at once, unless a message went out
    // less than FLUSH_EVERY ago.
    let mut window: Vec<Arc<Batch>> = Vec::new();
    let mut flush_at: Option<tokio::time::Instant> = None;
    let mut seq = current;
    match resume {
        Resume::Resync => {
            let text = json!({ "type": "resync", "epoch": epoch, "seq": current }).to_string();
            if !send(&mut socket, text).await {
                return;
            }
        }
        Resume::Replay(batches) => {
            if let Some(text) = shared.of(&scope, &batches, &epoch)
                && !send(&mut socket, text).await
            {
                return;
            }
        }
    }
    let mut sent_seq = seq;
    let mut last_sent = tokio::time::Instant::now();
    let mut heartbeat = tokio::time::interval(HEARTBEAT_EVERY);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.reset();
    let session_end = (caller.expires_at - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    let session_end = tokio::time::sleep(session_end);
    tokio::pin!(session_end);
    let mut recheck = tokio::time::interval(RECHECK_EVERY.min(state.config.auth.idle_timeout / 4));
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    recheck.reset();
    let mut allowance = Allowance::new();
    loop {
        // Batches waiting in the channel are taken before a due message goes: one message
        // for a burst.
        tokio::select! {
            biased;
            received = receiver.recv() => match received {
                Ok(batch) => {
                    if batch.seq <= seq {
                        continue;
                    }
                    seq = batch.seq;
                    if batch.resync {
                        window.clear();
                        flush_at = None;
                        let text = json!({ "type": "resync", "epoch": epoch, "seq": seq }).to_string();
                        if !send(&mut socket, text).await {
                            return;
                        }
                        sent_seq = seq;
                        last_sent = tokio::time::Instant::now();
                    } else {
                        window.push(batch);
                        flush_at.get_or_insert(last_sent + FLUSH_EVERY);
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    close(&mut socket, 1013, "too slow: reconnect with epoch and after").await;
                    return;
                }
                Err(RecvError::Closed) => return,
            },
            () = tokio::time::sleep_until(flush_at.unwrap_or_else(tokio::time::Instant::now)), if flush_at.is_some() => {
                flush_at = None;
                let message = shared.of(&scope, &window, &epoch);
                window.clear();
                if let Some(text) = message {
                    if !send(&mut socket, text).await {
                        return;
                    }
                    sent_seq = seq;
                    last_sent = tokio::time::Instant::now();
                }
            },
            _ = heartbeat.tick() => {
                if seq > sent_seq && window.is_empty() && last_sent.elapsed() >= HEARTBEAT_EVERY {
                    let text = json!({ "type": "heartbeat", "epoch": epoch, "seq": seq }).to_string();
                    if !send(&mut socket, text).await {
                        return;
                    }
                    sent_seq = seq;
                    last_sent = tokio::time::Instant::now();
                }
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None => return,
                Some(Err(error)) => {
                    if too_big(error) {
                        close(&mut socket, TOO_BIG, "message too big").await;
                    }
                    return;
                }
                Some(Ok(message)) => {
                    if !allowance.take() {
                        close(&mut socket, POLICY, "too many messages").await;
                        return;
                    }
                    // Pings are answered by the library; other messages carry nothing to do.
                    let Message::Text(text) = message else { continue };
                    // What a client sends is acted on only while its session holds, whatever
                    // news of its end is still on the way.
                    if session_over(&mut socket, &state, &caller).await {
                        return;
                    }
                    let answer = answer_message(&state, &caller, &meta, text.as_str()).await;
                    if !send(&mut socket, answer).await {
                        return;
                    }
                }
            },
            heard = news.recv() => {
                let concerns_us = match heard {
                    Ok(SessionNews::User(user)) => user == caller.user_id,
                    Ok(SessionNews::Token(hash)) => hash == caller.token_hash,
                    Ok(SessionNews::All) | Err(RecvError::Lagged(_)) => true,
                    // The cache outlives every socket; never reached.
                    Err(RecvError::Closed) => return,
                };
                if concerns_us && session_over(&mut socket, &state, &caller).await {
                    return;
                }
            },
            _ = recheck.tick() => {
                if session_over(&mut socket, &state, &caller).await {
                    return;
                }
            },
            () = &mut session_end => {
                close(&mut socket, SESSION_ENDED, "session ended").await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::same_origin;

    #[test]
    fn an_origin_must_name_the_requests_host_and_port() {
        assert!(same_origin("http://127.0.0.1:8080", "127.0.0.1:8080"));
        assert!(same_origin("https://Wangge.example", "wangge.example"));
        assert!(same_origin("https://wangge.example", "wangge.example:443"));
        assert!(!same_origin("http://wangge.example:8080", "wangge.example"));
        assert!(!same_origin("https://evil.example", "wangge.example"));
        assert!(!same_origin(
            "http://wangge.example.evil.example",
            "wangge.example"
        ));
        assert!(!same_origin("null", "wangge.example"));
        assert!(!same_origin("http://wangge.example", ""));
    }
}
