// The dispatcher's worker list: a tab beside the incident list in the
// right-hand column (事件 / 网格员), shown to dispatchers only.
//
//   GET /api/v1/workers → GeoJSON, one feature per grid worker of the area:
//     {id, name, status, stale, last_seen_at, cell_codes, caseload[, capacity]}
//
// Name, status, open cases (and capacity, when the server sends it), when the
// worker last reported a position (relative; the CST time in the tooltip) and
// whether that position is stale. Kept live from the live feed: a worker's
// status, staleness and last position are patched in as they come; the list
// is fetched again (never more often than every 30 s, and only while it is
// shown) when a worker it does not know appears, or when incidents changed
// (caseloads may have).

import {
  fetchWorkers,
  isUnauthenticated,
  toDate,
  type WorkerListProperties,
} from './api';
import { el, relabel, text } from './dom';
import { formatAgo, formatNumber, formatTime, onLangChange, t, tDynamic, tf, type MessageKey } from './i18n';
import type { LiveWorker } from './live';

/** The list is fetched again at most this often (live changes patch it in between). */
export const REFETCH_MS = 30_000;
/** Rows drawn at most (searching narrows the list). */
const MAX_ROWS = 300;
/** How often the relative times are brought up to date while the list is shown. */
const TICK_MS = 30_000;

export type SideTab = 'incidents' | 'workers';

export interface WorkerListOptions {
  /** The panel the list shares the right-hand column's top slot with (the incident list). */
  incidents: HTMLElement;
  /** A load failed (401s included: the caller decides what they mean). */
  onError(what: MessageKey, err: unknown): void;
}

export interface WorkerList {
  /** The tab switch (事件 / 网格员), hidden unless enabled. */
  readonly tabs: HTMLElement;
  /** The list panel. */
  readonly root: HTMLElement;
  /** Shown to dispatchers only: disabled, the incident list is shown and the tabs hidden. */
  setEnabled(enabled: boolean): void;
  /** Workers from the live feed: patched in. */
  apply(workers: readonly LiveWorker[]): void;
  /** Workers gone from the area. */
  remove(ids: readonly (number | string)[]): void;
  /** Caseloads may have changed (incidents changed): fetched again, throttled. */
  changed(): void;
  /** Everything may have changed (resync). */
  refresh(): void;
  /** The workers known, in the order shown (before the search filter). */
  workers(): WorkerListProperties[];
  name(id: number): string | null;
  tab(): SideTab;
  setTab(tab: SideTab): void;
  /** Back to the state before any data (sign-out). */
  reset(): void;
}

const STATUS_ORDER: Record<string, number> = { available: 0, busy: 1, off_duty: 2 };

function compare(a: WorkerListProperties, b: WorkerListProperties): number {
  return (
    Number(a.stale) - Number(b.stale) ||
    (STATUS_ORDER[a.status] ?? 3) - (STATUS_ORDER[b.status] ?? 3) ||
    a.name.localeCompare(b.name, 'zh-CN') ||
    a.id - b.id
  );
}

export function createWorkerList(options: WorkerListOptions): WorkerList {
  // ------------------------------------------------------------ tabs

  const tabButtons = new Map<SideTab, HTMLButtonElement>();
  const tabs = el('div', { class: 'panel side-tabs', id: 'side-tabs', role: 'group' });
  for (const tab of ['incidents', 'workers'] as const) {
    const button = el('button', { type: 'button', class: 'side-tab', id: `side-tab-${tab}`, 'data-tab': tab, 'aria-pressed': String(tab === 'incidents') });
    button.append(text('span', `side.${tab}`));
    button.addEventListener('click', () => setTab(tab));
    tabButtons.set(tab, button);
    tabs.append(button);
  }
  const labelTabs = (): void => tabs.setAttribute('aria-label', t('side.tabs'));
  labelTabs();
  tabs.hidden = true;

  // ------------------------------------------------------------ list

  const count = el('span', { class: 'count', id: 'worker-count', 'aria-live': 'polite' });
  const summary = el('p', { class: 'worker-summary', id: 'worker-summary' });
  const search = el('input', { type: 'search', id: 'worker-q', name: 'worker-q', autocomplete: 'off', enterkeyhint: 'search' });
  const setPlaceholder = (): void => {
    search.placeholder = t('workers.search.placeholder');
    search.setAttribute('aria-label', t('workers.search'));
  };
  setPlaceholder();
  const message = el('p', { class: 'list-message', id: 'worker-list-message' });
  const items = el('ol', { class: 'worker-list', id: 'worker-list' });
  const capped = el('p', { class: 'list-message worker-capped' });
  const root = el(
    'section',
    { class: 'panel workers-panel', id: 'workers-panel', 'aria-labelledby': 'workers-heading' },
    el('h2', {}, text('span', 'workers.title', { id: 'workers-heading' }), count),
    summary,
    el('div', { class: 'filter-search worker-search' }, search),
    message,
    items,
    capped,
  );
  root.hidden = true;

  let enabled = false;
  let current: SideTab = 'incidents';
  let rows = new Map<number, WorkerListProperties>();
  let state: 'idle' | 'loading' | 'ready' | 'failed' = 'idle';
  let lastFetch = 0;
  let refetchTimer = 0;
  let renderFrame = 0;
  let tickTimer = 0;
  let dirty = true;
  let controller: AbortController | null = null;

  const visible = (): boolean => enabled && current === 'workers';

  const sorted = (): WorkerListProperties[] => [...rows.values()].sort(compare);

  const renderRow = (w: WorkerListProperties, now: number): HTMLElement => {
    const seen = toDate(w.last_seen_at);
    const time = el('time', { class: 'worker-seen' }, formatAgo(seen, now));
    if (seen) {
      time.setAttribute('datetime', seen.toISOString());
      time.title = `${t('field.last_seen')} ${formatTime(seen)}`;
    }
    const status = el('span', { class: 'badge worker-status', 'data-status': w.status }, tDynamic(`worker.${w.status}`, w.status));
    const top = el('span', { class: 'worker-top' }, el('span', { class: 'worker-icon', 'data-icon': w.stale ? 'stale' : w.status, 'aria-hidden': 'true' }), el('span', { class: 'worker-name' }, w.name), status);
    if (w.stale) top.append(el('span', { class: 'badge worker-stale' }, t('worker.stale')));
    const load = typeof w.capacity === 'number' ? `${formatNumber(w.caseload)}/${formatNumber(w.capacity)}` : formatNumber(w.caseload);
    const meta = el(
      'span',
      { class: 'worker-meta' },
      el('span', { class: 'worker-load', title: t(typeof w.capacity === 'number' ? 'dispatch.caseload' : 'workers.caseload') }, `${t('workers.caseload')} ${load}`),
      el('span', { class: 'worker-cells' }, (w.cell_codes ?? []).join(' ')),
      time,
    );
    return el(
      'li',
      {
        class: 'worker-row',
        'data-id': String(w.id),
        'data-status': w.status,
        'data-stale': String(w.stale),
        'data-caseload': String(w.caseload),
      },
      top,
      meta,
    );
  };

  const render = (): void => {
    root.dataset['state'] = state;
    if (rows.size === 0) {
      items.replaceChildren();
      count.textContent = '';
      summary.textContent = '';
      capped.hidden = true;
      message.textContent = t(state === 'failed' ? 'workers.unavailable' : state === 'ready' ? 'workers.empty' : 'workers.loading');
      message.hidden = false;
      return;
    }
    const all = sorted();
    const q = search.value.trim().toLowerCase();
    const matching = q ? all.filter((w) => w.name.toLowerCase().includes(q) || (w.cell_codes ?? []).some((c) => c.toLowerCase().includes(q))) : all;
    const shown = matching.slice(0, MAX_ROWS);
    const now = Date.now();
    items.replaceChildren(...shown.map((w) => renderRow(w, now)));
    count.textContent = tf('workers.total', { n: formatNumber(all.length) });
    count.dataset['total'] = String(all.length);
    const tally = { available: 0, busy: 0, off_duty: 0, stale: 0 };
    for (const w of all) {
      if (w.status === 'available' || w.status === 'busy' || w.status === 'off_duty') tally[w.status] += 1;
      if (w.stale) tally.stale += 1;
    }
    summary.textContent = tf('workers.summary', {
      available: formatNumber(tally.available),
      busy: formatNumber(tally.busy),
      off_duty: formatNumber(tally.off_duty),
      stale: formatNumber(tally.stale),
    });
    message.textContent = t('workers.empty');
    message.hidden = matching.length > 0;
    capped.textContent = tf('workers.capped', { n: formatNumber(MAX_ROWS), total: formatNumber(matching.length) });
    capped.hidden = matching.length <= MAX_ROWS;
  };

  /** Renders at the next frame (live patches come in bursts), only while shown. */
  const scheduleRender = (): void => {
    if (!visible() || renderFrame) return;
    renderFrame = requestAnimationFrame(() => {
      renderFrame = 0;
      if (visible()) render();
    });
  };

  const fetchNow = async (): Promise<void> => {
    controller?.abort();
    const c = new AbortController();
    controller = c;
    lastFetch = Date.now();
    dirty = false;
    if (rows.size === 0) state = 'loading';
    render();
    try {
      const answer = await fetchWorkers(c.signal);
      if (c.signal.aborted) return;
      rows = new Map(answer.features.map((f) => [f.properties.id, f.properties]));
      state = 'ready';
      render();
    } catch (err) {
      if (c.signal.aborted || (err instanceof DOMException && err.name === 'AbortError')) return;
      state = 'failed';
      render();
      options.onError('workers.title', err);
      if (!isUnauthenticated(err)) dirty = true; // tried again with the next change
    } finally {
      if (controller === c) controller = null;
    }
  };

  /** Fetches the list again, at most every REFETCH_MS; while it is hidden, only marks it out of date. */
  const scheduleRefetch = (): void => {
    dirty = true;
    if (!visible() || refetchTimer) return;
    refetchTimer = window.setTimeout(
      () => {
        refetchTimer = 0;
        if (visible() && dirty) void fetchNow();
      },
      Math.max(0, lastFetch + REFETCH_MS - Date.now()),
    );
  };

  const startTicking = (): void => {
    window.clearInterval(tickTimer);
    tickTimer = window.setInterval(() => {
      if (visible()) render();
    }, TICK_MS);
  };

  const setTab = (tab: SideTab): void => {
    current = enabled ? tab : 'incidents';
    for (const [id, button] of tabButtons) button.setAttribute('aria-pressed', String(id === current));
    options.incidents.hidden = current !== 'incidents';
    root.hidden = current !== 'workers';
    if (current === 'workers') {
      render();
      if (dirty) scheduleRefetch();
      startTicking();
    } else {
      window.clearInterval(tickTimer);
      tickTimer = 0;
    }
  };

  let searchTimer = 0;
  search.addEventListener('input', () => {
    window.clearTimeout(searchTimer);
    searchTimer = window.setTimeout(render, 200);
  });

  onLangChange(() => {
    relabel(tabs);
    relabel(root);
    labelTabs();
    setPlaceholder();
    if (visible()) render();
  });
  relabel(tabs);
  relabel(root);

  return {
    tabs,
    root,
    setEnabled(on) {
      enabled = on;
      tabs.hidden = !on;
      setTab(on ? current : 'incidents');
    },
    apply(workers) {
      let unknown = false;
      for (const w of workers) {
        const id = Number(w.id);
        const row = rows.get(id);
        if (!row) {
          unknown = true;
          continue;
        }
        const seen = toDate(w.last_seen);
        rows.set(id, { ...row, status: w.status, stale: w.stale === true, last_seen_at: seen ? seen.toISOString() : row.last_seen_at });
      }
      if (unknown && rows.size > 0) scheduleRefetch();
      scheduleRender();
    },
    remove(ids) {
      for (const id of ids) rows.delete(Number(id));
      scheduleRender();
    },
    changed() {
      scheduleRefetch();
    },
    refresh() {
      scheduleRefetch();
    },
    workers: sorted,
    name: (id) => rows.get(id)?.name ?? null,
    tab: () => current,
    setTab,
    reset() {
      controller?.abort();
      controller = null;
      window.clearTimeout(refetchTimer);
      window.clearTimeout(searchTimer);
      window.clearInterval(tickTimer);
      cancelAnimationFrame(renderFrame);
      refetchTimer = 0;
      tickTimer = 0;
      renderFrame = 0;
      rows = new Map();
      state = 'idle';
      lastFetch = 0;
      dirty = true;
      search.value = '';
      enabled = false;
      tabs.hidden = true;
      setTab('incidents');
      render();
    },
  };
}
