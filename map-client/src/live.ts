// The live feed: `GET /api/v1/live`, a WebSocket on the page's own origin
// (the session cookie goes with the upgrade request).
//
// Messages are JSON text:
//   {"type":"hello","epoch":E,"seq":N}            on connect
//   {"type":"changes","epoch":E,"seq":N,"incidents":[…],"workers":[…],"layers":[…]}
//   {"type":"resync","epoch":E,"seq":N}           reload everything
//   {"type":"heartbeat","epoch":E,"seq":N}        nothing for us changed; the resume point moves
//
// `changes` may also carry `removed_incidents` and `removed_workers` (ids of
// records deleted or moved out of the caller's area), and `alerts` (hot spot
// alerts raised for the caller's area: analysisapi.ts, alerts.ts).
//
// The client remembers the epoch and the last seq it has seen and reconnects
// with `?epoch=E&after=S`, with exponential backoff (1 s doubling to 30 s,
// jittered), so the server can replay what was missed. A message whose seq is
// not above the last seen one (same epoch) is a repeat and is dropped. A hello
// from another epoch (the server restarted and cannot replay) counts as a
// resync.
//
// The server closes the socket with code 4401 (SESSION_ENDED) when the session
// is over (signed out here or in another tab, revoked, idle too long, expired,
// or the user's role or area changed): the client then stops instead of
// reconnecting and tells `onSessionEnded`, which shows the sign-in page.
//
// `LiveClient` is an EventTarget: `status` (detail: LiveStatus), `changes`
// (detail: ChangesMessage) and `resync` events; the browser tests listen to
// them through `window.__wangge.live`.

import type { AnalysisAlert } from './analysisapi';
import type { IncidentTileProperties, WorkerStatus } from './api';

export type LiveStatus = 'idle' | 'connecting' | 'live' | 'reconnecting';

/** An incident as the feed sends it: the tile's properties plus where it is. */
export interface LiveIncident extends Omit<IncidentTileProperties, 'reported_at'> {
  lon: number;
  lat: number;
  reported_at: number | string | null;
  updated_at: number | string | null;
  grid_cell_code: string | null;
  village_code: string | null;
}

export interface LiveWorker {
  id: number | string;
  /** null when the worker has no position yet */
  lon: number | null;
  lat: number | null;
  status: WorkerStatus | string;
  stale: boolean;
  last_seen: number | string | null;
  cell_code: string | null;
}

export interface HelloMessage {
  type: 'hello';
  epoch: string;
  seq: number;
}

export interface ChangesMessage {
  type: 'changes';
  epoch: string;
  seq: number;
  incidents?: LiveIncident[];
  workers?: LiveWorker[];
  removed_incidents?: (number | string)[];
  removed_workers?: (number | string)[];
  /** Other tile layers whose tiles changed (e.g. "grid-cells", "hexagons"). */
  layers?: string[];
  /** Draft grid plans (versions) whose cells changed; sent to planners only. */
  plans?: number[];
  /** Hot spot alerts raised for the caller's area, each sent once. */
  alerts?: AnalysisAlert[];
}

export interface HeartbeatMessage {
  type: 'heartbeat';
  epoch: string;
  seq: number;
}

export interface ResyncMessage {
  type: 'resync';
  epoch: string;
  seq: number;
}

export type LiveMessage = HelloMessage | ChangesMessage | ResyncMessage | HeartbeatMessage;

/** The server's answer to a message this client sent (positions): stored, or its problem. */
export type LiveAnswer =
  | { type: 'positions_stored'; id: unknown; received: number; stored: number; latest: number }
  | { type: 'error'; id: unknown; problem: { type?: string; title?: string; detail?: string; status?: number } };

export interface LiveHandlers {
  onChanges(message: ChangesMessage): void;
  /** Everything may have changed: reload all data. */
  onResync(reason: 'server' | 'epoch'): void;
  /** A connection attempt failed before the server said hello (e.g. the session is gone). */
  onConnectFailed?(attempt: number): void;
  /** The server closed the socket because the session is over: sign in again. */
  onSessionEnded(): void;
}

/** The close code of a socket whose session is over (http/src/routes/live.rs). */
export const SESSION_ENDED = 4401;

const MIN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;

export function liveUrl(epoch: string | null, after: number | null, base: string = window.location.href): string {
  const url = new URL('/api/v1/live', base);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.hash = '';
  url.search = '';
  if (epoch !== null && after !== null) {
    url.searchParams.set('epoch', epoch);
    url.searchParams.set('after', String(after));
  }
  return url.toString();
}

/** The delay before reconnect attempt `attempt` (0-based): 1 s, 2 s, 4 s … 30 s, times 0.5–1. */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** Math.min(attempt, 10));
  return Math.round(base * (0.5 + random() / 2));
}

function parse(data: unknown): LiveMessage | LiveAnswer | null {
  if (typeof data !== 'string') return null;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const m = value as { type?: unknown; epoch?: unknown; seq?: unknown };
  if (m.type === 'positions_stored' || m.type === 'error') return value as LiveAnswer;
  if (m.type !== 'hello' && m.type !== 'changes' && m.type !== 'resync' && m.type !== 'heartbeat') return null;
  if (typeof m.epoch !== 'string' || typeof m.seq !== 'number') return null;
  return value as LiveMessage;
}

export class LiveClient extends EventTarget {
  #handlers: LiveHandlers;
  #socket: WebSocket | null = null;
  #status: LiveStatus = 'idle';
  #epoch: string | null = null;
  #seq: number | null = null;
  #attempt = 0;
  #timer = 0;
  #running = false;
  #received = 0;
  #lastMessageAt: Date | null = null;

  constructor(handlers: LiveHandlers) {
    super();
    this.#handlers = handlers;
    window.addEventListener('online', () => this.#reconnectNow());
  }

  get status(): LiveStatus {
    return this.#status;
  }

  get epoch(): string | null {
    return this.#epoch;
  }

  /** The last seq seen (the `after` of the next reconnect). */
  get seq(): number | null {
    return this.#seq;
  }

  /** Messages received since start (hello, changes and resync). */
  get received(): number {
    return this.#received;
  }

  get lastMessageAt(): Date | null {
    return this.#lastMessageAt;
  }

  /**
   * Sends a message to the server (a field device's positions) if the socket is open;
   * false if it is not (the caller keeps what it meant to send for later). The answer
   * comes as an `answer` event (detail: LiveAnswer).
   */
  send(message: unknown): boolean {
    const socket = this.#socket;
    if (!socket || socket.readyState !== WebSocket.OPEN || this.#status !== 'live') return false;
    socket.send(JSON.stringify(message));
    return true;
  }

  /** Connects (once signed in). Idempotent. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#attempt = 0;
    this.#connect();
  }

  /** Disconnects and forgets the epoch and seq (on sign-out). */
  stop(): void {
    this.#running = false;
    window.clearTimeout(this.#timer);
    this.#timer = 0;
    const socket = this.#socket;
    this.#socket = null;
    if (socket) this.#close(socket);
    this.#epoch = null;
    this.#seq = null;
    this.#received = 0;
    this.#lastMessageAt = null;
    this.#setStatus('idle');
  }

  /**
   * Closing a socket that is still connecting makes Chromium log "WebSocket is
   * closed before the connection is established"; such a socket is closed as
   * soon as it opens instead.
   */
  #close(socket: WebSocket): void {
    socket.onmessage = null;
    socket.onclose = null;
    socket.onerror = null;
    if (socket.readyState === WebSocket.CONNECTING) {
      socket.onopen = () => socket.close(1000);
    } else {
      socket.onopen = null;
      if (socket.readyState === WebSocket.OPEN) socket.close(1000);
    }
  }

  #setStatus(status: LiveStatus): void {
    if (status === this.#status) return;
    this.#status = status;
    this.dispatchEvent(new CustomEvent('status', { detail: status }));
  }

  #reconnectNow(): void {
    if (!this.#running || this.#socket) return;
    window.clearTimeout(this.#timer);
    this.#timer = 0;
    this.#connect();
  }

  #connect(): void {
    this.#setStatus(this.#epoch === null && this.#attempt === 0 ? 'connecting' : 'reconnecting');
    let socket: WebSocket;
    try {
      socket = new WebSocket(liveUrl(this.#epoch, this.#seq));
    } catch {
      this.#scheduleReconnect(false);
      return;
    }
    this.#socket = socket;
    let greeted = false;
    socket.onmessage = (event: MessageEvent) => {
      const message = parse(event.data);
      if (!message) return;
      if (message.type === 'positions_stored' || message.type === 'error') {
        this.dispatchEvent(new CustomEvent('answer', { detail: message }));
        return;
      }
      this.#received += 1;
      this.#lastMessageAt = new Date();
      if (message.type === 'hello') greeted = true;
      this.#handle(message);
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      if (event.code === SESSION_ENDED) {
        // Reconnecting would be refused: the session is gone.
        this.stop();
        this.#handlers.onSessionEnded();
        return;
      }
      this.#scheduleReconnect(greeted);
    };
    socket.onerror = () => {
      // a close event follows
    };
  }

  #scheduleReconnect(wasGreeted: boolean): void {
    if (!this.#running) return;
    if (wasGreeted) this.#attempt = 0;
    this.#setStatus('reconnecting');
    if (!wasGreeted) this.#handlers.onConnectFailed?.(this.#attempt);
    const delay = backoffDelay(this.#attempt);
    this.#attempt += 1;
    window.clearTimeout(this.#timer);
    this.#timer = window.setTimeout(() => {
      this.#timer = 0;
      if (this.#running && !this.#socket) this.#connect();
    }, delay);
  }

  #handle(message: LiveMessage): void {
    switch (message.type) {
      case 'hello': {
        const changedEpoch = this.#epoch !== null && this.#epoch !== message.epoch;
        // First connection: everything up to the hello's seq is in what the
        // page loads. Reconnecting within the same epoch: keep our seq, the
        // server replays what came after it.
        if (this.#epoch === null || changedEpoch) this.#seq = message.seq;
        this.#epoch = message.epoch;
        this.#attempt = 0;
        this.#setStatus('live');
        if (changedEpoch) this.#resync('epoch');
        break;
      }
      case 'changes': {
        if (this.#epoch !== null && message.epoch !== this.#epoch) {
          // another epoch without a hello: start again from it
          this.#epoch = message.epoch;
          this.#seq = message.seq;
          this.#resync('epoch');
          break;
        }
        if (this.#seq !== null && message.seq <= this.#seq) break; // a repeat
        this.#epoch = message.epoch;
        this.#seq = message.seq;
        this.#handlers.onChanges(message);
        this.dispatchEvent(new CustomEvent('changes', { detail: message }));
        break;
      }
      case 'resync': {
        this.#epoch = message.epoch;
        this.#seq = message.seq;
        this.#resync('server');
        break;
      }
      case 'heartbeat': {
        if (message.epoch === this.#epoch && (this.#seq === null || message.seq > this.#seq)) this.#seq = message.seq;
        break;
      }
    }
  }

  #resync(reason: 'server' | 'epoch'): void {
    this.#handlers.onResync(reason);
    this.dispatchEvent(new CustomEvent('resync', { detail: reason }));
  }
}
