// Emerging hot spot alerts: a grid cell became a new or intensifying hot
// spot. The live feed's `changes` carry new ones (`alerts`, each once, for
// the operators and dispatchers of the cell's area); `GET
// /api/v1/analysis/alerts` lists those already raised (most recent first).
//
// Each new alert pops up as a toast over the map; all are in the list under
// the header's bell, whose count is of the alerts not yet seen (remembered
// per user in localStorage). The server words the reason (Chinese); the time
// is shown in CST. A click on a toast or a row flies to the grid cell.

import { isUnauthenticated } from './api';
import { fetchAlerts, type AnalysisAlert } from './analysisapi';
import { el, relabel, text } from './dom';
import { formatApiTime, formatNumber, onLangChange, t, tDynamic, tf, type MessageKey } from './i18n';

/** The roles the server tells of hot spot alerts. */
export const ALERTED_ROLES: readonly string[] = ['operator', 'dispatcher'];

/** Toasts shown at once (older ones go when more come). */
const MAX_TOASTS = 3;
/** A toast goes by itself after this long (the list keeps the alert). */
const TOAST_MS = 30_000;
const SEEN_KEY = 'wangge.alerts.seen.';

export interface AlertsOptions {
  /** An alert was clicked: show its grid cell. */
  onPick(alert: AnalysisAlert): void;
  /** A load failed for want of a session (the caller decides what it means). */
  onError(what: MessageKey, err: unknown): void;
}

export interface Alerts {
  /** The header's bell (with the count of unseen alerts). */
  readonly bell: HTMLElement;
  /** The list, opened by the bell. */
  readonly list: HTMLElement;
  /** Where toasts appear, over the map. */
  readonly toasts: HTMLElement;
  /**
   * Signed in as `username` with `role`: for the roles alerted (operators
   * and dispatchers) the bell is shown and the alerts raised so far fetched;
   * for the others the bell is hidden (the server refuses them the list).
   */
  start(username: string, role: string, signal?: AbortSignal): Promise<void>;
  /** Everything may have changed (resync): the alerts raised so far fetched again. */
  refresh(): void;
  /** New alerts from the live feed: a toast each, and into the list. */
  add(alerts: readonly AnalysisAlert[]): void;
  /** The alerts listed, most recent first. */
  items(): AnalysisAlert[];
  reset(): void;
}

/** A bell (inline SVG: no icon font, no emoji font needed). */
function bellIcon(): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '15');
  svg.setAttribute('height', '15');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'bell-icon');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', 'M12 2a6 6 0 0 0-6 6v4.5L4 16v1h16v-1l-2-3.5V8a6 6 0 0 0-6-6zm-2 16a2 2 0 0 0 4 0z');
  path.setAttribute('fill', 'currentColor');
  svg.append(path);
  return svg;
}

export function alertCategoryName(category: string): string {
  return tDynamic(`alert.${category}`, tDynamic(`emerging.${category}`, category));
}

export function createAlerts(options: AlertsOptions): Alerts {
  let items: AnalysisAlert[] = [];
  let username: string | null = null;
  let seen = 0;
  let state: 'idle' | 'loading' | 'ready' | 'failed' = 'idle';

  const count = el('span', { class: 'alerts-count', id: 'alerts-count', 'data-count': '0', 'aria-hidden': 'true' });
  const bellButton = el('button', { type: 'button', class: 'alerts-bell', id: 'alerts-bell', 'aria-expanded': 'false', 'aria-controls': 'alerts-panel' });
  bellButton.append(bellIcon(), count);

  const listBody = el('ol', { class: 'alerts-list', id: 'alerts-list' });
  const message = el('p', { class: 'list-message', id: 'alerts-message' });
  const total = el('span', { class: 'count', id: 'alerts-total' });
  const closeButton = el('button', { type: 'button', class: 'detail-close', id: 'alerts-close', 'data-i18n-title': 'alerts.close' }, '×');
  const list = el(
    'section',
    { class: 'panel alerts-panel', id: 'alerts-panel', 'aria-labelledby': 'alerts-heading' },
    el('div', { class: 'analysis-header' }, el('h2', {}, text('span', 'alerts.title', { id: 'alerts-heading' }), total), closeButton),
    message,
    listBody,
  );
  list.hidden = true;
  const toasts = el('div', { class: 'alerts-toasts', id: 'alerts-toasts', 'aria-live': 'polite' });

  const seenKey = (): string | null => (username ? `${SEEN_KEY}${username}` : null);
  const readSeen = (): number => {
    const key = seenKey();
    try {
      return key ? Number(window.localStorage.getItem(key) ?? '0') || 0 : 0;
    } catch {
      return 0;
    }
  };
  const markSeen = (): void => {
    seen = Math.max(seen, ...items.map((a) => a.id));
    const key = seenKey();
    try {
      if (key) window.localStorage.setItem(key, String(seen));
    } catch {
      // not remembered beyond this page
    }
    renderCount();
  };

  const renderCount = (): void => {
    const unseen = items.filter((a) => a.id > seen).length;
    count.dataset['count'] = String(unseen);
    count.textContent = unseen > 99 ? '99+' : unseen > 0 ? formatNumber(unseen) : '';
    count.hidden = unseen === 0;
    const label = unseen > 0 ? tf('alerts.bell.unseen', { n: unseen }) : t('alerts.bell');
    bellButton.title = label;
    bellButton.setAttribute('aria-label', label);
    bellButton.dataset['unseen'] = String(unseen > 0);
  };

  const where = (a: AnalysisAlert): string => [a.grid_cell_name || a.grid_cell_code, a.village_name].filter((x): x is string => !!x).join(' · ');

  const alertBody = (a: AnalysisAlert): HTMLElement[] => [
    el('span', { class: 'alert-top' }, el('span', { class: `alert-category alert-${a.category}` }, alertCategoryName(a.category)), el('time', { datetime: a.at }, formatApiTime(a.at))),
    el('span', { class: 'alert-where' }, where(a)),
    el('span', { class: 'alert-reason' }, a.reason),
  ];

  const renderList = (): void => {
    total.textContent = items.length ? tf('alerts.total', { n: formatNumber(items.length) }) : '';
    message.hidden = items.length > 0 && state !== 'failed';
    message.textContent = state === 'loading' ? t('alerts.loading') : state === 'failed' ? t('alerts.unavailable') : t('alerts.empty');
    list.dataset['state'] = state;
    listBody.replaceChildren(
      ...items.map((a) => {
        const button = el('button', { type: 'button', class: 'alert-item', 'data-id': String(a.id), 'data-cell': a.grid_cell_code, 'data-category': a.category }, ...alertBody(a));
        if (a.id > seen) button.dataset['new'] = 'true';
        button.addEventListener('click', () => options.onPick(a));
        return el('li', {}, button);
      }),
    );
  };

  const toast = (a: AnalysisAlert): void => {
    const close = el('button', { type: 'button', class: 'dismiss', 'data-i18n-title': 'error.dismiss' }, '×');
    const body = el('button', { type: 'button', class: 'toast-body' }, text('strong', 'alerts.toast'), ...alertBody(a));
    const node = el('div', { class: 'alert-toast', role: 'alert', 'data-id': String(a.id), 'data-cell': a.grid_cell_code, 'data-category': a.category }, body, close);
    relabel(node);
    const remove = (): void => {
      window.clearTimeout(timer);
      node.remove();
    };
    const timer = window.setTimeout(remove, TOAST_MS);
    close.addEventListener('click', remove);
    body.addEventListener('click', () => {
      options.onPick(a);
      remove();
    });
    toasts.prepend(node);
    while (toasts.childElementCount > MAX_TOASTS) toasts.lastElementChild?.remove();
  };

  const merge = (incoming: readonly AnalysisAlert[]): AnalysisAlert[] => {
    const known = new Set(items.map((a) => a.id));
    const fresh = incoming.filter((a) => !known.has(a.id));
    items = [...fresh, ...items].sort((a, b) => Date.parse(b.at) - Date.parse(a.at) || b.id - a.id);
    return fresh;
  };

  const setOpen = (open: boolean): void => {
    list.hidden = !open;
    bellButton.setAttribute('aria-expanded', String(open));
    if (open) {
      renderList();
      markSeen();
    }
  };
  bellButton.addEventListener('click', () => setOpen(list.hidden !== false));
  closeButton.addEventListener('click', () => {
    setOpen(false);
    bellButton.focus();
  });

  relabel(list);
  renderCount();
  renderList();
  onLangChange(() => {
    relabel(list);
    relabel(toasts);
    renderCount();
    renderList();
  });

  async function load(user: string, signal?: AbortSignal): Promise<void> {
    username = user;
    seen = readSeen();

    state = 'loading';
    renderList();
    try {
      const page = await fetchAlerts(signal);
      if (signal?.aborted) return;
      merge(page.items);
      state = 'ready';
    } catch (err) {
      if (signal?.aborted) return;
      state = 'failed';
      if (isUnauthenticated(err)) options.onError('alerts.title', err);
    }
    renderCount();
    renderList();
  }

  return {
    bell: bellButton,
    list,
    toasts,
    start(user, role, signal) {
      const alerted = ALERTED_ROLES.includes(role);
      bellButton.hidden = !alerted;
      if (!alerted) {
        username = null;
        return Promise.resolve();
      }
      return load(user, signal);
    },
    refresh() {
      if (username) void load(username);
    },
    add(incoming) {
      if (!username) return;
      const fresh = merge(incoming);
      for (const a of [...fresh].reverse()) toast(a);
      if (!list.hidden) markSeen();
      renderCount();
      renderList();
    },
    items: () => [...items],
    reset() {
      items = [];
      username = null;
      seen = 0;
      state = 'idle';
      toasts.replaceChildren();
      setOpen(false);
      renderCount();
      renderList();
    },
  };
}
