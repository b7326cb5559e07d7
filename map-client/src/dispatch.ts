// The dispatcher's "指派 / Assign" section of the incident details: the grid
// workers ranked for an open incident, with why, and one-click assignment.
//
//   GET  /api/v1/incidents/{id}/candidates?limit=10
//     → {incident: {id, lon, lat, status, assignee_id, skill, …}, stale_after_s,
//        candidates: [{rank, worker_id, name, group, status, distance_m, lon, lat,
//                      last_seen, stale, caseload, capacity, skills, reasons}]}
//   POST /api/v1/incidents/{id}/assignment  {worker_id, replaces}
//     → the case's new state; 409 (problem+json, `current`) when someone else
//       assigned it first, or the worker is off duty or at capacity
//   GET  /api/v1/worker-skills → [{code, name_zh, name_en}]
//
// Dispatchers, operators and administrators see the ranking; only dispatchers
// assign. `replaces` is the assignee the ranking was made for (what the
// dispatcher saw): if that changed meanwhile the server refuses with 409, whose
// `detail` is shown, and the ranking is fetched again. After an assignment the
// details and the ranking are fetched again (`onAssigned`).
//
// The map shows a line from the incident to each of the top candidates with a
// position, labelled with the distance (`candidateLines`, drawn by main.ts).

import type { Feature, FeatureCollection, LineString, Point } from 'geojson';
import {
  ApiError,
  OPEN_STATUSES,
  assignIncident,
  fetchCandidates,
  fetchWorkerSkills,
  isUnauthenticated,
  toDate,
  type Candidate,
  type CandidateReason,
  type Candidates,
  type IncidentDetail,
  type WorkerSkill,
} from './api';
import { el, relabel, text } from './dom';
import { formatAge, formatAgo, formatDistance, formatNumber, formatTime, getLang, onLangChange, t, tDynamic, tf, type MessageKey } from './i18n';

/** How many candidates are asked for. */
export const CANDIDATE_LIMIT = 10;
/** How many of them get a line on the map. */
export const LINE_COUNT = 5;

/** Roles that may see the ranking (GET …/candidates). */
const VIEWERS = new Set(['dispatcher', 'operator', 'admin']);
/** Roles that may assign. */
const ASSIGNERS = new Set(['dispatcher']);

/** Groups drawn dimmed: where the worker is is a guess, or they cannot take the case now. */
const DIMMED_GROUPS = new Set(['stale', 'unavailable']);

export type DispatchState = 'idle' | 'loading' | 'ready' | 'failed';

export interface DispatchOptions {
  /** The ranking shown changed (null: none shown): the map's lines follow. */
  onCandidates(answer: Candidates | null): void;
  /** An assignment went through, or was refused because the case changed: fetch the details again. */
  onAssigned(incidentId: number | string): void;
  /** A load failed (401s included: the caller decides what they mean). */
  onError(what: MessageKey, err: unknown): void;
  /** A worker's name, when the ranking does not have it (e.g. the one a cover stands in for). */
  workerName?(id: number): string | null;
}

export interface DispatchSection {
  /** The section, placed in the incident details by the panel. */
  readonly root: HTMLElement;
  /** The signed-in role (null: signed out). */
  setRole(role: string | null): void;
  /** The incident whose details are shown (null: none); its candidates are fetched when needed. */
  show(detail: IncidentDetail | null): void;
  /** Fetches the ranking again (if one is shown). */
  refresh(): void;
  /**
   * Workers changed on the live feed: ranks again without a loading state, and holds the new
   * order back while the pointer is over the list, so a row never moves under a click.
   */
  followLive(): void;
  /** The ranking shown, if any. */
  candidates(): Candidates | null;
  state(): DispatchState;
  /** Back to the state before any data (sign-out). */
  reset(): void;
}

type Message = { kind: 'assigned'; name: string } | { kind: 'conflict'; detail: string } | { kind: 'error'; error: unknown };

const sameId = (a: number | string | null | undefined, b: number | string | null | undefined): boolean =>
  a !== null && a !== undefined && b !== null && b !== undefined && String(a) === String(b);

const isAbort = (err: unknown, signal: AbortSignal): boolean =>
  signal.aborted || (err instanceof DOMException && err.name === 'AbortError');

const hasPosition = (c: Candidate): c is Candidate & { lon: number; lat: number } =>
  typeof c.lon === 'number' && typeof c.lat === 'number' && Number.isFinite(c.lon) && Number.isFinite(c.lat);

export function groupName(group: string): string {
  return tDynamic(`group.${group}`, group);
}

export function workerStatusName(status: string): string {
  return tDynamic(`worker.${status}`, status);
}

export function isDimmed(candidate: Candidate): boolean {
  return DIMMED_GROUPS.has(candidate.group);
}

/** Why the server would refuse to assign this worker, if it would (off duty, at capacity). */
function refusal(candidate: Candidate): MessageKey | null {
  if (candidate.status === 'off_duty') return 'dispatch.refused.off_duty';
  if (candidate.caseload >= candidate.capacity) return 'dispatch.refused.at_capacity';
  return null;
}

/** The candidates a line is drawn to: the first `LINE_COUNT` that have a position, best first. */
export function lineTargets(answer: Candidates): (Candidate & { lon: number; lat: number })[] {
  return answer.candidates.filter(hasPosition).slice(0, LINE_COUNT);
}

/**
 * The map's dispatch lines: from the incident to each of the first
 * `LINE_COUNT` candidates that have a position (best first; the first one
 * `top`), and a point in the middle of each carrying its distance as `label`.
 */
export function candidateLines(answer: Candidates | null): FeatureCollection<LineString | Point> {
  const features: Feature<LineString | Point>[] = [];
  if (answer) {
    const from: [number, number] = [answer.incident.lon, answer.incident.lat];
    lineTargets(answer).forEach((c, i) => {
      const properties = {
        worker_id: c.worker_id,
        rank: c.rank,
        top: i === 0,
        dimmed: isDimmed(c),
        label: c.distance_m === null ? '' : formatDistance(c.distance_m),
      };
      features.push({
        type: 'Feature',
        geometry: { type: 'LineString', coordinates: [from, [c.lon, c.lat]] },
        properties: { ...properties, id: `line-${c.worker_id}` },
      });
      features.push({
        type: 'Feature',
        geometry: { type: 'Point', coordinates: [(from[0] + c.lon) / 2, (from[1] + c.lat) / 2] },
        properties: { ...properties, id: `label-${c.worker_id}` },
      });
    });
  }
  return { type: 'FeatureCollection', features };
}

export function createDispatchSection(options: DispatchOptions): DispatchSection {
  const refreshButton = el('button', { type: 'button', class: 'dispatch-refresh', id: 'dispatch-refresh', 'data-i18n-title': 'dispatch.refresh.title' });
  refreshButton.append(text('span', 'dispatch.refresh'));
  const hint = el('p', { class: 'dispatch-hint', id: 'dispatch-hint' });
  const message = el('p', { class: 'dispatch-message', id: 'dispatch-message', role: 'status' });
  message.hidden = true;
  const list = el('ol', { class: 'candidate-list', id: 'candidate-list' });
  const body = el('div', { class: 'dispatch-body' });
  const root = el(
    'section',
    { class: 'dispatch-section', id: 'dispatch-section', 'aria-labelledby': 'dispatch-heading' },
    el('header', { class: 'dispatch-header' }, text('h4', 'dispatch.title', { id: 'dispatch-heading' }), refreshButton),
    hint,
    message,
    body,
  );
  root.hidden = true;
  root.dataset['state'] = 'idle';

  let role: string | null = null;
  let shown: IncidentDetail | null = null;
  let answer: Candidates | null = null;
  let state: DispatchState = 'idle';
  let note: Message | null = null;
  let controller: AbortController | null = null;
  /** The worker being assigned, while the request runs. */
  let assigning: number | null = null;
  /** A live re-ranking in flight, and one that arrived while the pointer was on the list. */
  let following: AbortController | null = null;
  let heldBack: Candidates | null = null;
  let pointerOnList = false;
  let skills: WorkerSkill[] = [];
  let skillsAsked = false;

  const canSee = (): boolean => role !== null && VIEWERS.has(role);
  const canAssign = (): boolean => role !== null && ASSIGNERS.has(role);

  const skillName = (code: string): string => {
    const s = skills.find((x) => x.code === code);
    if (!s) return code;
    return getLang() === 'en' ? s.name_en || s.name_zh : s.name_zh || s.name_en;
  };

  const workerName = (id: number): string =>
    answer?.candidates.find((c) => c.worker_id === id)?.name ?? options.workerName?.(id) ?? `#${id}`;

  const reasonText = (reason: CandidateReason): string => {
    switch (reason.code) {
      case 'cover_for':
        return tf('reason.cover_for', { name: reason.worker_id === undefined ? '—' : workerName(reason.worker_id) });
      case 'has_skill':
      case 'lacks_skill':
        return tf(`reason.${reason.code}`, { skill: reason.skill ? skillName(reason.skill) : '—' });
      case 'stale':
        return reason.age_s === undefined || reason.age_s === null ? t('reason.stale.never') : tf('reason.stale', { age: formatAge(reason.age_s) });
      default:
        return tDynamic(`reason.${reason.code}`, reason.code);
    }
  };

  const chip = (reason: CandidateReason): HTMLElement => {
    const node = el('li', { class: 'chip', 'data-code': reason.code }, reasonText(reason));
    if (reason.grid_cell_id !== undefined) node.dataset['gridCellId'] = String(reason.grid_cell_id);
    if (reason.worker_id !== undefined) node.dataset['workerId'] = String(reason.worker_id);
    return node;
  };

  const renderCandidate = (c: Candidate, assigneeId: number | null): HTMLElement => {
    const current = assigneeId !== null && c.worker_id === assigneeId;
    const item = el('li', {
      class: 'candidate',
      'data-worker-id': String(c.worker_id),
      'data-rank': String(c.rank),
      'data-group': c.group,
      'data-status': c.status,
      'data-stale': String(c.stale),
      'data-dimmed': String(isDimmed(c)),
    });
    if (current) item.dataset['current'] = 'true';
    const rank = el('span', { class: 'candidate-rank', title: tf('dispatch.rank', { n: c.rank }) }, String(c.rank));
    const name = el('span', { class: 'candidate-name' }, c.name);
    const group = el('span', { class: 'badge candidate-group', 'data-group': c.group }, groupName(c.group));
    const head = el('div', { class: 'candidate-head' }, rank, name, group);
    if (current) {
      head.append(el('span', { class: 'badge candidate-current' }, t('dispatch.current')));
    } else if (canAssign()) {
      const refused = refusal(c);
      const button = el('button', {
        type: 'button',
        class: 'candidate-assign',
        'data-worker-id': String(c.worker_id),
        title: refused ? t(refused) : tf('dispatch.assign.title', { name: c.name }),
        'aria-label': tf('dispatch.assign.title', { name: c.name }),
      });
      button.textContent = assigning === c.worker_id ? t('dispatch.assigning') : t('dispatch.assign');
      button.disabled = assigning !== null || refused !== null;
      button.addEventListener('click', () => void assign(c));
      head.append(button);
    }
    const seen = toDate(c.last_seen);
    const time = el('time', { class: 'candidate-seen' }, formatAgo(seen));
    if (seen) {
      time.setAttribute('datetime', seen.toISOString());
      time.title = `${t('dispatch.lastSeen')} ${formatTime(seen)}`;
    } else {
      time.title = t('dispatch.lastSeen');
    }
    const distance = el(
      'span',
      { class: 'candidate-distance', title: t('dispatch.distance') },
      c.distance_m === null ? t('dispatch.noPosition') : formatDistance(c.distance_m),
    );
    if (c.distance_m !== null) distance.dataset['metres'] = String(c.distance_m);
    const meta = el(
      'div',
      { class: 'candidate-meta' },
      distance,
      el('span', { class: 'candidate-load', title: t('dispatch.caseload') }, `${formatNumber(c.caseload)}/${formatNumber(c.capacity)}`),
      el('span', { class: 'candidate-status', 'data-status': c.status }, workerStatusName(c.status)),
      time,
    );
    item.append(head, meta);
    if (c.reasons.length) item.append(el('ul', { class: 'chips' }, ...c.reasons.map(chip)));
    return item;
  };

  const renderMessage = (): void => {
    if (!note) {
      message.hidden = true;
      message.textContent = '';
      delete message.dataset['kind'];
      return;
    }
    let body: string;
    switch (note.kind) {
      case 'assigned':
        body = tf('dispatch.assigned', { name: note.name });
        break;
      case 'conflict':
        body = tf('dispatch.conflict', { detail: note.detail });
        break;
      case 'error': {
        const err = note.error;
        if (err instanceof ApiError) {
          const detail = err.status === null ? t('error.network') : err.message;
          body = `${t('dispatch.failed')}${err.status ? ` (${err.status})` : ''}: ${detail}`;
        } else {
          body = `${t('dispatch.failed')}: ${err instanceof Error ? err.message : String(err)}`;
        }
        break;
      }
    }
    message.textContent = body;
    message.dataset['kind'] = note.kind;
    message.setAttribute('role', note.kind === 'assigned' ? 'status' : 'alert');
    message.hidden = false;
  };

  const render = (): void => {
    root.dataset['state'] = state;
    if (shown) root.dataset['incident'] = String(shown.id);
    else delete root.dataset['incident'];
    root.dataset['mode'] = canAssign() ? 'assign' : 'view';
    if (assigning !== null) root.setAttribute('aria-busy', 'true');
    else root.removeAttribute('aria-busy');
    refreshButton.disabled = state === 'loading' || assigning !== null;
    const hints: string[] = [];
    if (answer?.incident.skill) hints.push(tf('dispatch.skill', { skill: skillName(answer.incident.skill) }));
    if (answer) hints.push(tf('dispatch.staleAfter', { n: formatAge(answer.stale_after_s) }));
    if (!canAssign()) hints.push(t('dispatch.readOnly'));
    hint.textContent = hints.join(' · ');
    hint.hidden = hints.length === 0;
    renderMessage();
    if (!answer) {
      const key: MessageKey = state === 'failed' ? 'dispatch.unavailable' : 'dispatch.loading';
      body.replaceChildren(el('p', { class: 'list-message' }, t(key)));
      return;
    }
    if (answer.candidates.length === 0) {
      body.replaceChildren(el('p', { class: 'list-message' }, t('dispatch.empty')));
      return;
    }
    list.setAttribute('aria-label', t('dispatch.list'));
    const assigneeId = answer.incident.assignee_id ?? null;
    list.replaceChildren(...answer.candidates.map((c) => renderCandidate(c, assigneeId)));
    body.replaceChildren(list);
  };

  const loadSkills = (): void => {
    if (skillsAsked) return;
    skillsAsked = true;
    fetchWorkerSkills().then(
      (s) => {
        if (!canSee()) return;
        skills = s;
        render();
      },
      (err: unknown) => {
        skillsAsked = false; // asked again with the next ranking
        if (isUnauthenticated(err)) options.onError('dispatch.title', err);
        // otherwise the codes are shown as they are
      },
    );
  };

  /** Fetches the ranking for the incident shown; the newest request wins. */
  const load = (): void => {
    if (!shown) return;
    const id = shown.id;
    controller?.abort();
    following?.abort();
    following = null;
    heldBack = null;
    const c = new AbortController();
    controller = c;
    state = 'loading';
    render();
    loadSkills();
    fetchCandidates(id, CANDIDATE_LIMIT, c.signal).then(
      (next) => {
        if (c.signal.aborted || !shown || !sameId(shown.id, id)) return;
        answer = next;
        state = 'ready';
        render();
        options.onCandidates(answer);
      },
      (err: unknown) => {
        if (isAbort(err, c.signal) || !shown || !sameId(shown.id, id)) return;
        state = 'failed';
        render();
        options.onError('dispatch.title', err);
      },
    ).finally(() => {
      if (controller === c) controller = null;
    });
  };

  const showAnswer = (next: Candidates): void => {
    answer = next;
    render();
    options.onCandidates(answer);
  };

  /** Ranks the shown incident again quietly (see `followLive`). */
  const follow = (): void => {
    if (!shown || !answer || state !== 'ready' || controller !== null || assigning !== null || following !== null) return;
    const id = shown.id;
    const c = new AbortController();
    following = c;
    fetchCandidates(id, CANDIDATE_LIMIT, c.signal).then(
      (next) => {
        if (c.signal.aborted || !shown || !sameId(shown.id, id) || controller !== null || assigning !== null) return;
        if (pointerOnList) heldBack = next;
        else showAnswer(next);
      },
      (err: unknown) => {
        // The next change tries again; a signed-out session is the shell's to handle.
        if (!isAbort(err, c.signal) && isUnauthenticated(err)) options.onError('dispatch.title', err);
      },
    ).finally(() => {
      if (following === c) following = null;
    });
  };

  list.addEventListener('pointerenter', () => {
    pointerOnList = true;
  });
  list.addEventListener('pointerleave', () => {
    pointerOnList = false;
    if (heldBack && state === 'ready' && assigning === null) {
      const next = heldBack;
      heldBack = null;
      if (shown && sameId(shown.id, next.incident.id)) showAnswer(next);
    }
  });

  const assign = async (candidate: Candidate): Promise<void> => {
    if (!answer || !shown || assigning !== null || !canAssign()) return;
    const id = shown.id;
    const replaces = answer.incident.assignee_id ?? null;
    assigning = candidate.worker_id;
    note = null;
    render();
    try {
      const done = await assignIncident(id, candidate.worker_id, replaces);
      if (!shown || !sameId(shown.id, id)) return;
      note = { kind: 'assigned', name: done.assignee_name ?? candidate.name };
    } catch (err) {
      if (!shown || !sameId(shown.id, id)) return;
      if (isUnauthenticated(err)) {
        options.onError('dispatch.title', err);
        return;
      }
      if (err instanceof ApiError && err.status === 409) {
        note = { kind: 'conflict', detail: err.problem?.detail ?? err.message };
      } else {
        note = { kind: 'error', error: err };
      }
    } finally {
      assigning = null;
    }
    // Whatever happened, the case and the workers may have changed: show them as they are.
    load();
    options.onAssigned(id);
  };

  const clear = (): void => {
    controller?.abort();
    controller = null;
    following?.abort();
    following = null;
    heldBack = null;
    const had = answer !== null || shown !== null;
    shown = null;
    answer = null;
    note = null;
    state = 'idle';
    assigning = null;
    root.hidden = true;
    render();
    if (had) options.onCandidates(null);
  };

  refreshButton.addEventListener('click', () => {
    note = null;
    load();
  });

  onLangChange(() => {
    relabel(root);
    render();
    // the distances on the map are in the language too
    if (answer) options.onCandidates(answer);
  });
  relabel(root);

  return {
    root,
    setRole(next) {
      role = next;
      if (!canSee()) clear();
      else render();
    },
    show(detail) {
      const open = detail !== null && (OPEN_STATUSES as readonly string[]).includes(detail.status);
      if (!detail || !open || !canSee()) {
        clear();
        return;
      }
      root.hidden = false;
      if (!shown || !sameId(shown.id, detail.id)) {
        // another incident: start afresh
        controller?.abort();
        if (answer) options.onCandidates(null);
        answer = null;
        note = null;
        shown = detail;
        load();
        return;
      }
      shown = detail;
      // the same incident, fetched again: rank again if it changed in a way that matters
      const changed =
        answer !== null &&
        (answer.incident.status !== detail.status || (answer.incident.assignee_id ?? null) !== (detail.assignee_id ?? null));
      if (changed && assigning === null && state !== 'loading') load();
      else render();
    },
    refresh() {
      if (shown && canSee() && assigning === null) load();
    },
    followLive() {
      if (canSee()) follow();
    },
    candidates: () => answer,
    state: () => state,
    reset() {
      clear();
      role = null;
      skills = [];
      skillsAsked = false;
    },
  };
}
