// The grid worker's own panel (我的网格), first in the case column and on a
// phone the top of the bottom sheet: who they are, on duty or off, where the
// browser last placed them, and the open cases they hold, most urgent first.
//
//   PUT /api/v1/workers/{id}/status  {status: available | off_duty}  (上岗 / 下岗)
//   GET /api/v1/incidents?status=open  (the worker's area is their cell: their cases are among these)
//
// While on duty the browser's Geolocation fixes are sent over the live socket
// (`{"type":"positions","id":N,"positions":[{worker_id, at, lon, lat, accuracy_m}]}`,
// answered `positions_stored` or `error`): at most one every SEND_EVERY_MS, the
// latest fix winning, held while the socket is down and sent when it is back.
// Off duty, or signed out, nothing is watched and nothing is sent.

import { fetchIncidents, setWorkerStatus, type IncidentSummary, type OwnWorker, type Session } from './api';
import { el, relabel, text } from './dom';
import { formatApiTime, formatNumber, formatTime, onLangChange, t, tf, type MessageKey } from './i18n';
import { severityName, statusName } from './incidents';
import type { LiveAnswer, LiveClient, ChangesMessage } from './live';

/** At most one position a this often: enough for dispatch, light on a phone's battery. */
export const SEND_EVERY_MS = 10_000;
const CASE_LIMIT = 200;
const SEVERITY_RANK: Record<string, number> = { critical: 0, high: 1, medium: 2, low: 3 };

export interface FieldPanelOptions {
  /** Open a case in the details. */
  onOpenCase(id: number | string, at: [number, number] | null): void;
  /** Open the report form at a place (null: the form without a place). */
  onReportAt(at: [number, number] | null): void;
  /** A failure the panel does not explain itself (401s: the caller decides). */
  onError(what: MessageKey, err: unknown): void;
}

export interface FieldPanel {
  readonly root: HTMLElement;
  /** Sends positions over `live` and follows its changes (once, when the feed exists). */
  connect(live: LiveClient): void;
  /** Shows the panel for a grid worker's session (hidden for any other). */
  setSession(session: Session): void;
  /** The cases may have changed (an action, a report): fetch them again. */
  refresh(): void;
  /** Back to nothing, the position watch stopped (sign-out). */
  reset(): void;
  /** For tests: the worker, the last fix sent and the server's answer to it. */
  readonly hook: FieldHook;
}

export interface FieldHook {
  worker(): OwnWorker | null;
  /** Fixes the server said it received, since sign-in. */
  sent(): number;
  /** The last position the server stored, [lon, lat]. */
  lastStored(): [number, number] | null;
}

type Fix = { at: string; lon: number; lat: number; accuracy_m: number | null };
type PositionState =
  | { kind: 'off' }
  | { kind: 'locating' }
  | { kind: 'stored'; at: Date; accuracy: number | null }
  | { kind: 'held' }
  | { kind: 'denied' }
  | { kind: 'unavailable' }
  | { kind: 'refused'; detail: string };

function onDuty(status: string): boolean {
  return status !== 'off_duty';
}

/** Overdue first, then by severity, then the earliest deadline. */
function urgency(a: IncidentSummary, b: IncidentSummary): number {
  if (a.overdue !== b.overdue) return a.overdue ? -1 : 1;
  const s = (SEVERITY_RANK[a.severity] ?? 9) - (SEVERITY_RANK[b.severity] ?? 9);
  if (s !== 0) return s;
  const due = (x: IncidentSummary): number => (x.due_at ? Date.parse(x.due_at) : Number.POSITIVE_INFINITY);
  return due(a) - due(b);
}

export function createFieldPanel(options: FieldPanelOptions): FieldPanel {
  const who = el('p', { class: 'field-who', id: 'field-who' });
  const dutyState = el('span', { class: 'field-duty-state', id: 'field-duty-state' });
  const dutyButton = el('button', { type: 'button', id: 'field-duty', class: 'field-button field-duty', 'aria-pressed': 'false' });
  const position = el('p', { class: 'field-position', id: 'field-position', role: 'status', 'aria-live': 'polite' });
  const reportHere = text('button', 'field.reportHere', { type: 'button', id: 'field-report', class: 'field-button field-report' });
  const casesCount = el('span', { class: 'count', id: 'field-cases-count' });
  const cases = el('ol', { class: 'field-cases', id: 'field-cases' });
  const message = el('p', { class: 'field-message', id: 'field-message', role: 'alert', hidden: '' });
  const root = el(
    'section',
    { class: 'panel field-panel', id: 'field-panel', 'aria-labelledby': 'field-heading', hidden: '' },
    el('h2', { id: 'field-heading' }, text('span', 'field.title'), who),
    el('div', { class: 'field-duty-row' }, dutyState, dutyButton),
    position,
    reportHere,
    el('h3', { class: 'field-cases-heading' }, text('span', 'field.cases'), casesCount),
    cases,
    message,
  );

  let live: LiveClient | null = null;
  let session: Session | null = null;
  let worker: OwnWorker | null = null;
  let watch: number | null = null;
  /** The fix waiting to be sent. */
  let latest: Fix | null = null;
  /** The browser's last fix (where 在我的位置上报 places a report). */
  let lastFix: Fix | null = null;
  let lastSentAt = 0;
  let sendTimer = 0;
  let tag = 0;
  let sentCount = 0;
  let lastStored: [number, number] | null = null;
  let inFlight: Map<number, Fix> = new Map();
  let state: PositionState = { kind: 'off' };
  let items: IncidentSummary[] = [];
  let fetching: AbortController | null = null;
  let busy = false;

  function renderWho(): void {
    if (!session || !worker) return;
    who.textContent = `${worker.name} · ${session.area.name}`;
  }

  function renderDuty(): void {
    if (!worker) return;
    const on = onDuty(worker.status);
    dutyState.textContent = t(on ? 'field.onDuty' : 'field.offDuty');
    dutyState.dataset['status'] = worker.status;
    dutyButton.textContent = t(on ? 'field.goOff' : 'field.goOn');
    dutyButton.setAttribute('aria-pressed', String(on));
    dutyButton.disabled = busy;
    root.dataset['duty'] = on ? 'on' : 'off';
  }

  function renderPosition(): void {
    position.dataset['state'] = state.kind;
    if (state.kind === 'stored') {
      const time = formatTime(state.at);
      position.textContent =
        state.accuracy === null
          ? tf('field.position.stored', { time })
          : tf('field.position.storedWithin', { time, metres: formatNumber(Math.round(state.accuracy)) });
    } else if (state.kind === 'refused') {
      position.textContent = tf('field.position.refused', { detail: state.detail });
    } else {
      // the states without details are named by their message key
      position.textContent = t(`field.position.${state.kind}`);
    }
    reportHere.disabled = lastFix === null;
  }

  function renderCases(): void {
    casesCount.textContent = tf('field.casesCount', { n: formatNumber(items.length) });
    if (items.length === 0) {
      cases.replaceChildren(text('li', 'field.noCases', { class: 'field-empty' }));
      return;
    }
    cases.replaceChildren(
      ...items.map((item) => {
        const button = el(
          'button',
          { type: 'button', class: 'field-case', 'data-id': String(item.id), 'data-status': String(item.status), 'data-overdue': String(item.overdue) },
          el('span', { class: 'field-case-title' }, item.title),
          el(
            'span',
            { class: 'field-case-meta' },
            el('span', { class: 'badge', 'data-status': String(item.status) }, statusName(String(item.status))),
            el('span', { class: 'badge badge-severity', 'data-severity': String(item.severity) }, severityName(String(item.severity))),
            item.overdue ? text('span', 'field.overdue', { class: 'badge field-overdue' }) : '',
            item.due_at ? el('span', { class: 'field-due' }, tf('field.due', { time: formatApiTime(item.due_at, true) })) : '',
          ),
        );
        button.addEventListener('click', () => {
          const at: [number, number] | null = Number.isFinite(item.lon) && Number.isFinite(item.lat) ? [item.lon, item.lat] : null;
          options.onOpenCase(item.id, at);
        });
        return el('li', {}, button);
      }),
    );
  }

  function showMessage(key: MessageKey | null, detail = ''): void {
    message.hidden = key === null;
    message.textContent = key === null ? '' : `${t(key)}${detail ? `: ${detail}` : ''}`;
  }

  // ------------------------------------------------------------ the cases

  function refresh(): void {
    if (!worker) return;
    fetching?.abort();
    const controller = new AbortController();
    fetching = controller;
    fetchIncidents({ status: 'open', tier: '', category: '', q: '' }, CASE_LIMIT, 0, controller.signal).then(
      (page) => {
        if (fetching !== controller || !worker) return;
        fetching = null;
        const me = worker.id;
        items = page.items.filter((i) => i.assignee_id === me).sort(urgency);
        renderCases();
      },
      (err: unknown) => {
        if (controller.signal.aborted) return;
        if (fetching === controller) fetching = null;
        options.onError('field.title', err);
      },
    );
  }

  let refreshTimer = 0;
  function refreshSoon(): void {
    if (refreshTimer) return;
    refreshTimer = window.setTimeout(() => {
      refreshTimer = 0;
      refresh();
    }, 1000);
  }

  // ------------------------------------------------------------ positions

  function send(): void {
    window.clearTimeout(sendTimer);
    sendTimer = 0;
    if (!worker || !latest || !onDuty(worker.status)) return;
    const wait = lastSentAt + SEND_EVERY_MS - Date.now();
    if (wait > 0) {
      sendTimer = window.setTimeout(send, wait);
      return;
    }
    const fix = latest;
    tag += 1;
    const sent = live?.send({
      type: 'positions',
      id: tag,
      positions: [{ worker_id: worker.id, at: fix.at, lon: fix.lon, lat: fix.lat, ...(fix.accuracy_m === null ? {} : { accuracy_m: fix.accuracy_m }) }],
    });
    if (sent !== true) {
      // the socket is down: the fix waits for it (the `status` listener sends it)
      state = { kind: 'held' };
      renderPosition();
      return;
    }
    lastSentAt = Date.now();
    latest = null;
    inFlight.set(tag, fix);
  }

  function onAnswer(answer: LiveAnswer): void {
    if (typeof answer.id !== 'number') return;
    const fix = inFlight.get(answer.id);
    if (!fix) return;
    inFlight.delete(answer.id);
    if (answer.type === 'positions_stored') {
      sentCount += 1;
      lastStored = [fix.lon, fix.lat];
      state = { kind: 'stored', at: new Date(), accuracy: fix.accuracy_m };
    } else {
      state = { kind: 'refused', detail: answer.problem.detail ?? answer.problem.title ?? '' };
    }
    renderPosition();
  }

  function startWatch(): void {
    if (watch !== null || !worker || !onDuty(worker.status)) return;
    if (!('geolocation' in navigator)) {
      state = { kind: 'unavailable' };
      renderPosition();
      return;
    }
    state = { kind: 'locating' };
    renderPosition();
    watch = navigator.geolocation.watchPosition(
      (p) => {
        const fix: Fix = {
          at: new Date(p.timestamp || Date.now()).toISOString(),
          lon: p.coords.longitude,
          lat: p.coords.latitude,
          accuracy_m: Number.isFinite(p.coords.accuracy) ? p.coords.accuracy : null,
        };
        latest = fix;
        lastFix = fix;
        reportHere.disabled = false;
        send();
      },
      (err) => {
        state = { kind: err.code === err.PERMISSION_DENIED ? 'denied' : 'unavailable' };
        renderPosition();
      },
      { enableHighAccuracy: true, maximumAge: 5000, timeout: 60_000 },
    );
  }

  function stopWatch(): void {
    if (watch !== null) navigator.geolocation.clearWatch(watch);
    watch = null;
    window.clearTimeout(sendTimer);
    sendTimer = 0;
    latest = null;
    inFlight = new Map();
    state = { kind: 'off' };
    renderPosition();
  }

  function followDuty(): void {
    if (worker && onDuty(worker.status)) startWatch();
    else stopWatch();
    renderDuty();
  }

  dutyButton.addEventListener('click', () => {
    if (!worker || busy) return;
    const want = onDuty(worker.status) ? 'off_duty' : 'available';
    busy = true;
    showMessage(null);
    renderDuty();
    setWorkerStatus(worker.id, want).then(
      (row) => {
        busy = false;
        if (!worker) return;
        worker = { ...worker, status: row.status };
        followDuty();
      },
      (err: unknown) => {
        busy = false;
        renderDuty();
        showMessage('field.dutyFailed', err instanceof Error ? err.message : '');
        options.onError('field.title', err);
      },
    );
  });

  reportHere.addEventListener('click', () => options.onReportAt(lastFix ? [lastFix.lon, lastFix.lat] : null));

  onLangChange(() => {
    relabel(root);
    renderWho();
    renderDuty();
    renderPosition();
    renderCases();
  });

  return {
    root,
    setSession(s) {
      session = s;
      worker = s.role === 'worker' ? (s.worker ?? null) : null;
      root.hidden = worker === null;
      document.body.dataset['field'] = worker ? 'worker' : '';
      if (!worker) return;
      renderWho();
      showMessage(null);
      followDuty();
      renderPosition();
      items = [];
      renderCases();
      refresh();
    },
    connect(feed) {
      live = feed;
      feed.addEventListener('answer', (e) => onAnswer((e as CustomEvent<LiveAnswer>).detail));
      feed.addEventListener('status', () => {
        if (feed.status === 'live' && latest && worker && onDuty(worker.status)) send();
      });
      feed.addEventListener('changes', (e) => {
        if (!worker) return;
        const message = (e as CustomEvent<ChangesMessage>).detail;
        const me = message.workers?.find((w) => Number(w.id) === worker?.id);
        // a dispatcher (or the server: busy with a case) may change the status too
        if (me && me.status !== worker.status) {
          worker = { ...worker, status: String(me.status) };
          followDuty();
        }
        if ((message.incidents?.length ?? 0) > 0 || (message.removed_incidents?.length ?? 0) > 0) refreshSoon();
      });
      feed.addEventListener('resync', () => refreshSoon());
    },
    refresh,
    reset() {
      stopWatch();
      fetching?.abort();
      fetching = null;
      window.clearTimeout(refreshTimer);
      refreshTimer = 0;
      session = null;
      worker = null;
      lastFix = null;
      sentCount = 0;
      lastStored = null;
      items = [];
      root.hidden = true;
      document.body.dataset['field'] = '';
      showMessage(null);
    },
    hook: {
      worker: () => worker,
      sent: () => sentCount,
      lastStored: () => lastStored,
    },
  };
}
