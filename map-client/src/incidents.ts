// The incident side panel: the list (filters, search, pages) and the details
// and timeline of the selected incident.
//
//   GET /api/v1/incidents?status=open&tier=&category=&q=&limit=50&offset=0
//     → {total, items: [{id, title, category, severity, status, tier, overdue,
//        reported_at, due_at, lon, lat, grid_cell_code, village_code,
//        village_name, township_name, county_name, assignee_name}]}
//   GET /api/v1/incidents/{id} → the same plus description, reporter
//     ({name, phone}, masked; absent for roles that may not see it), timeline,
//     and how it came in and was placed: location_method (device, geocoded,
//     manual, or area: only its unit known, waiting to be placed: flagged
//     待定位 in the list and the details), location_precision_m, address,
//     channel, leader (包案领导), duplicate_of, possible_duplicates
//   GET /api/v1/incident-categories → [{code, name_zh, name_en, duplicate_radius_m, duplicate_window_hours}]
//
// The status, tier and category filters also apply to the map's incident
// tiles (`onFilterChange`); the text search only to the list. Times are
// shown in China Standard Time. The details of an open incident also hold the
// dispatch section (dispatch.ts: ranked workers, assignment), handed in as
// `detailSection` and told of each detail shown through `onDetail`.

import {
  ApiError,
  DEFAULT_FILTER,
  INCIDENT_STATUSES,
  TIERS,
  fetchIncident,
  fetchIncidents,
  type IncidentCategory,
  type IncidentDetail,
  type IncidentFilter,
  type IncidentPage,
  type IncidentSummary,
  type TimelineEntry,
} from './api';
import { el, relabel, text } from './dom';
import { formatApiTime, formatDecimal, formatNumber, getLang, onLangChange, t, tDynamic, tf, type MessageKey } from './i18n';
import { STATUS_COLORS } from './layers';
import { pickIncident } from './picker';

export const PAGE_SIZE = 50;

export type IncidentId = number | string;

export interface IncidentPanelOptions {
  /** The status/tier/category filter changed (the map's incident tiles follow it). */
  onFilterChange(filter: IncidentFilter): void;
  /** An incident was chosen in the list: fly to it. */
  onPick(incident: { id: IncidentId; lon: number; lat: number }): void;
  /** The selection changed (null: none); `at` is where it is, when known. */
  onSelectionChange(id: IncidentId | null, at: [number, number] | null): void;
  /** A load failed (401s included: the caller decides what they mean). */
  onError(what: MessageKey, err: unknown): void;
  /** Sections shown in the details after the fields (the case's actions, the dispatch section), in order. */
  detailSections?: HTMLElement[];
  /** The details shown changed or were fetched again (null: none shown, or another incident is loading). */
  onDetail?(detail: IncidentDetail | null): void;
}

export interface IncidentPanel {
  /** The list panel. */
  readonly list: HTMLElement;
  /** The details panel (hidden while nothing is selected). */
  readonly detail: HTMLElement;
  filter(): IncidentFilter;
  setCategories(categories: IncidentCategory[]): void;
  /** Loads the first page for the current filter; rejects on failure. */
  load(signal?: AbortSignal): Promise<void>;
  /** Fetches the current page again (live changes); failures go to onError. */
  refresh(): void;
  /** Selects an incident (or none) and loads its details. */
  select(id: IncidentId | null, at?: [number, number] | null): Promise<void>;
  selected(): IncidentId | null;
  /** Fetches the selected incident's details again (it changed). */
  refreshSelected(): void;
  /** Back to the state before any data (sign-out). */
  reset(): void;
}

const sameId = (a: IncidentId | null, b: IncidentId | null): boolean => a !== null && b !== null && String(a) === String(b);

const isAbort = (err: unknown, signal: AbortSignal): boolean =>
  signal.aborted || (err instanceof DOMException && err.name === 'AbortError') || (err instanceof ApiError && err.status === null && signal.aborted);

export function statusName(status: string): string {
  return tDynamic(`status.${status}`, status);
}

export function tierName(tier: string): string {
  return tDynamic(`tier.${tier}`, tier);
}

export function severityName(severity: string): string {
  return tDynamic(`severity.${severity}`, severity);
}

export function locationMethodName(method: string): string {
  return tDynamic(`location.${method}`, method);
}

export function channelName(channel: string): string {
  return tDynamic(`channel.${channel}`, channel);
}

/** What an actor of the timeline is: a user's role, a grid worker, the public, the system. */
export function actorRoleName(role: string): string {
  return tDynamic(`actor.${role}`, tDynamic(`role.${role}`, role));
}

/** Who did it: their name and what they are (`张三 · 网格员`), or the raw actor when the server named nobody. */
export function actorLabel(entry: TimelineEntry): string {
  const name = entry.actor_name?.trim();
  const role = entry.actor_role ? actorRoleName(entry.actor_role) : '';
  if (name && role && name !== role) return `${name} · ${role}`;
  if (name) return name;
  if (role) return role;
  return entry.actor ?? '';
}

/** Only its unit is known: it waits for a dispatcher to place it (待定位). */
const unplaced = (item: IncidentSummary): boolean => item.location_method === 'area';

function unplacedBadge(): HTMLElement {
  return el('span', { class: 'badge badge-unplaced', 'data-location': 'area' }, t('location.area'));
}

function statusColor(status: string): string {
  return (STATUS_COLORS as Record<string, string>)[status] ?? '#888888';
}

function badge(kind: string, value: string, label: string): HTMLElement {
  const node = el('span', { class: `badge badge-${kind}`, [`data-${kind}`]: value }, label);
  if (kind === 'status') node.style.setProperty('--badge-color', statusColor(value));
  return node;
}

function place(item: IncidentSummary): string {
  return [item.county_name, item.township_name, item.village_name].filter((p): p is string => !!p).join(' ');
}

export function createIncidentPanel(options: IncidentPanelOptions): IncidentPanel {
  let categories: IncidentCategory[] = [];
  const categoryName = (code: string): string => {
    const c = categories.find((x) => x.code === code);
    if (!c) return code;
    return getLang() === 'en' ? c.name_en || c.name_zh : c.name_zh || c.name_en;
  };

  // ------------------------------------------------------------ filters

  const statusSelect = el('select', { id: 'filter-status', name: 'status' });
  statusSelect.append(
    text('option', 'filter.status.open', { value: 'open' }),
    text('option', 'filter.all', { value: '' }),
    ...INCIDENT_STATUSES.map((s) => text('option', `status.${s}` as MessageKey, { value: s })),
  );
  statusSelect.value = DEFAULT_FILTER.status;
  const tierSelect = el('select', { id: 'filter-tier', name: 'tier' });
  tierSelect.append(text('option', 'filter.all', { value: '' }), ...TIERS.map((x) => text('option', `tier.${x}` as MessageKey, { value: x })));
  const categorySelect = el('select', { id: 'filter-category', name: 'category' });
  const renderCategories = (): void => {
    const value = categorySelect.value;
    categorySelect.replaceChildren(
      text('option', 'filter.all', { value: '' }),
      ...categories.map((c) => el('option', { value: c.code }, categoryName(c.code))),
    );
    categorySelect.value = categories.some((c) => c.code === value) ? value : '';
  };
  renderCategories();
  const search = el('input', { type: 'search', id: 'filter-q', name: 'q', autocomplete: 'off', enterkeyhint: 'search' });
  const setPlaceholder = (): void => {
    search.placeholder = t('filter.search.placeholder');
    search.setAttribute('aria-label', t('filter.search'));
  };
  setPlaceholder();

  const field = (key: MessageKey, control: HTMLElement): HTMLElement =>
    el('label', { class: 'filter-field' }, text('span', key, { class: 'filter-label' }), control);
  const filters = el(
    'form',
    { class: 'filters', id: 'incident-filters', role: 'search' },
    field('filter.status', statusSelect),
    field('filter.tier', tierSelect),
    field('filter.category', categorySelect),
    el('div', { class: 'filter-search' }, search),
  );

  let filter: IncidentFilter = { ...DEFAULT_FILTER };
  const readFilter = (): IncidentFilter => ({
    status: statusSelect.value,
    tier: tierSelect.value,
    category: categorySelect.value,
    q: search.value.trim(),
  });

  // ------------------------------------------------------------ list

  const count = el('span', { class: 'count', id: 'incident-count', 'aria-live': 'polite' });
  const items = el('ol', { class: 'incident-list', id: 'incident-list' });
  const message = el('p', { class: 'list-message', id: 'incident-list-message' });
  const prev = el('button', { type: 'button', class: 'pager-button', id: 'incidents-prev' });
  prev.append(text('span', 'incidents.prev'));
  const next = el('button', { type: 'button', class: 'pager-button', id: 'incidents-next' });
  next.append(text('span', 'incidents.next'));
  const range = el('span', { class: 'range', id: 'incident-range' });
  const pager = el('div', { class: 'pager' }, prev, range, next);
  const list = el(
    'section',
    { class: 'panel incidents-panel', id: 'incidents-panel', 'aria-labelledby': 'incidents-heading' },
    el('h2', {}, text('span', 'incidents.title', { id: 'incidents-heading' }), count),
    filters,
    message,
    items,
    pager,
  );

  let page: IncidentPage | null = null;
  let offset = 0;
  let state: 'loading' | 'ready' | 'failed' = 'loading';
  let listController: AbortController | null = null;
  let selectedId: IncidentId | null = null;

  const renderItem = (item: IncidentSummary): HTMLElement => {
    const button = el('button', {
      type: 'button',
      class: 'incident-item',
      'data-id': String(item.id),
      'data-status': item.status,
      'data-tier': item.tier,
      'data-overdue': String(item.overdue === true),
    });
    if (sameId(item.id, selectedId)) button.setAttribute('aria-current', 'true');
    const dot = el('span', { class: 'status-dot', 'aria-hidden': 'true' });
    dot.style.background = statusColor(item.status);
    const title = el('span', { class: 'incident-title' }, item.title || `#${item.id}`);
    const top = el('span', { class: 'incident-top' }, dot, title);
    if (item.overdue) top.append(el('span', { class: 'badge badge-overdue' }, t('incidents.overdue')));
    if (unplaced(item)) top.append(unplacedBadge());
    const meta = el(
      'span',
      { class: 'incident-meta' },
      el('span', { class: 'category' }, categoryName(item.category)),
      el('span', { class: 'status' }, statusName(item.status)),
      el('span', { class: `tier tier-${item.tier}` }, tierName(item.tier)),
      el('time', { datetime: item.reported_at }, formatApiTime(item.reported_at, true)),
    );
    const where = el(
      'span',
      { class: 'incident-where' },
      el('span', { class: 'place' }, place(item) || item.grid_cell_code || ''),
      el('span', { class: 'assignee' }, item.assignee_name ?? t('incidents.unassigned')),
    );
    button.append(top, meta, where);
    button.addEventListener('click', () => {
      // a case being picked for a form or an action (the original of a duplicate)
      if (pickIncident(item.id)) return;
      void select(item.id, [item.lon, item.lat]);
      if (Number.isFinite(item.lon) && Number.isFinite(item.lat)) options.onPick({ id: item.id, lon: item.lon, lat: item.lat });
    });
    return el('li', {}, button);
  };

  /**
   * The rows shown, by id, with the summary each was drawn from. Live changes
   * refresh the list every few seconds: a row whose case did not change is
   * kept as it is, so it is not pulled from under the pointer or the focus.
   */
  let rows = new Map<string, { drawn: string; row: HTMLElement }>();

  const showRows = (summaries: readonly IncidentSummary[]): void => {
    const next = new Map<string, { drawn: string; row: HTMLElement }>();
    const wanted = summaries.map((item) => {
      const id = String(item.id);
      const drawn = JSON.stringify(item);
      const had = rows.get(id);
      const row = had && had.drawn === drawn ? had.row : renderItem(item);
      next.set(id, { drawn, row });
      return row;
    });
    rows = next;
    // only rows out of place are moved
    wanted.forEach((row, i) => {
      const there = items.children[i] ?? null;
      if (there !== row) items.insertBefore(row, there);
    });
    while (items.children.length > wanted.length) items.lastElementChild?.remove();
    markSelectedItem();
  };

  /** Rows are drawn again (names and times change with the language and the categories). */
  const redrawRows = (): void => {
    rows = new Map();
    renderList();
  };

  const renderList = (): void => {
    if (state === 'loading' && !page) {
      message.textContent = t('incidents.loading');
      message.hidden = false;
    } else if (state === 'failed' && !page) {
      message.textContent = t('incidents.unavailable');
      message.hidden = false;
    } else if (page && page.items.length === 0) {
      message.textContent = t('incidents.empty');
      message.hidden = false;
    } else {
      message.hidden = true;
    }
    list.dataset['state'] = state;
    if (!page) {
      rows = new Map();
      items.replaceChildren();
      count.textContent = '';
      range.textContent = '';
      prev.disabled = true;
      next.disabled = true;
      return;
    }
    showRows(page.items);
    count.textContent = tf('incidents.total', { n: formatNumber(page.total) });
    count.dataset['total'] = String(page.total);
    const from = page.items.length ? offset + 1 : 0;
    range.textContent = tf('incidents.range', {
      from: formatNumber(from),
      to: formatNumber(offset + page.items.length),
      total: formatNumber(page.total),
    });
    prev.disabled = offset === 0;
    next.disabled = offset + page.items.length >= page.total;
  };

  /** Fetches the page at `at` for the current filter; the newest request wins. */
  const fetchPage = async (at: number, signal?: AbortSignal): Promise<void> => {
    listController?.abort();
    const controller = new AbortController();
    listController = controller;
    signal?.addEventListener('abort', () => controller.abort(), { once: true });
    const wanted = { ...filter };
    try {
      const answer = await fetchIncidents(wanted, PAGE_SIZE, at, controller.signal);
      if (controller.signal.aborted) return;
      page = answer;
      offset = at;
      state = 'ready';
      renderList();
    } catch (err) {
      if (isAbort(err, controller.signal)) return;
      state = 'failed';
      renderList();
      throw err;
    } finally {
      if (listController === controller) listController = null;
    }
  };

  const reportingFetch = (at: number): void => {
    fetchPage(at).catch((err: unknown) => options.onError('incidents.title', err));
  };

  const applyFilter = (): void => {
    const nextFilter = readFilter();
    const tilesChanged =
      nextFilter.status !== filter.status || nextFilter.tier !== filter.tier || nextFilter.category !== filter.category;
    if (!tilesChanged && nextFilter.q === filter.q) return;
    filter = nextFilter;
    if (tilesChanged) options.onFilterChange({ ...filter });
    reportingFetch(0);
  };

  for (const select of [statusSelect, tierSelect, categorySelect]) select.addEventListener('change', applyFilter);
  let searchTimer = 0;
  search.addEventListener('input', () => {
    window.clearTimeout(searchTimer);
    searchTimer = window.setTimeout(applyFilter, 350);
  });
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    window.clearTimeout(searchTimer);
    applyFilter();
  });
  prev.addEventListener('click', () => reportingFetch(Math.max(0, offset - PAGE_SIZE)));
  next.addEventListener('click', () => reportingFetch(offset + PAGE_SIZE));

  // ------------------------------------------------------------ details

  const closeButton = el('button', { type: 'button', class: 'dismiss detail-close', id: 'incident-detail-close', 'data-i18n-title': 'detail.close' }, '×');
  const detailBody = el('div', { class: 'detail-body' });
  const detail = el(
    'section',
    { class: 'panel incident-detail', id: 'incident-detail', 'aria-labelledby': 'incident-detail-heading' },
    el('header', { class: 'detail-header' }, text('h2', 'detail.title', { id: 'incident-detail-heading' }), closeButton),
    detailBody,
  );
  detail.hidden = true;
  closeButton.addEventListener('click', () => void select(null));

  let shown: IncidentDetail | null = null;
  let detailState: 'loading' | 'ready' | 'failed' = 'loading';
  let detailController: AbortController | null = null;

  const timelineEntry = (entry: TimelineEntry): HTMLElement => {
    const li = el('li', { class: 'timeline-entry', 'data-kind': entry.kind });
    const head = el(
      'div',
      { class: 'timeline-head' },
      el('time', { datetime: entry.at }, formatApiTime(entry.at)),
      el('span', { class: 'timeline-kind' }, tDynamic(`event.${entry.kind}`, entry.kind)),
    );
    if (entry.status) head.append(badge('status', entry.status, statusName(entry.status)));
    if (entry.tier) head.append(el('span', { class: `tier tier-${entry.tier}` }, tierName(entry.tier)));
    li.append(head);
    const who = actorLabel(entry);
    if (who) {
      const actor = el('div', { class: 'timeline-actor' }, who);
      if (entry.actor) actor.dataset['actor'] = entry.actor;
      if (entry.actor_role) actor.dataset['role'] = entry.actor_role;
      li.append(actor);
    }
    if (entry.note) li.append(el('p', { class: 'timeline-note' }, entry.note));
    return li;
  };

  /** A button that selects another incident (a duplicate) and flies there. */
  const incidentLink = (id: IncidentId): HTMLElement => {
    const label = tf('detail.show', { id: String(id) });
    const button = el('button', { type: 'button', class: 'incident-link', 'data-id': String(id), title: label, 'aria-label': label }, `#${id}`);
    button.addEventListener('click', () => {
      void select(id).then(() => {
        if (shown && sameId(shown.id, id) && Number.isFinite(shown.lon) && Number.isFinite(shown.lat)) {
          options.onPick({ id, lon: shown.lon, lat: shown.lat });
        }
      });
    });
    return button;
  };

  const renderDetail = (): void => {
    detail.hidden = selectedId === null;
    if (selectedId === null) {
      detailBody.replaceChildren();
      delete detail.dataset['id'];
      return;
    }
    detail.dataset['id'] = String(selectedId);
    detail.dataset['state'] = detailState;
    if (!shown || !sameId(shown.id, selectedId)) {
      detailBody.replaceChildren(
        el('p', { class: 'list-message' }, t(detailState === 'failed' ? 'detail.unavailable' : 'detail.loading')),
      );
      return;
    }
    const d = shown;
    const badges = el(
      'div',
      { class: 'badges' },
      badge('status', d.status, statusName(d.status)),
      badge('tier', d.tier, tierName(d.tier)),
      badge('severity', d.severity, severityName(d.severity)),
    );
    if (d.overdue) badges.append(el('span', { class: 'badge badge-overdue' }, t('incidents.overdue')));
    if (unplaced(d)) badges.append(unplacedBadge());
    const rows: [MessageKey, string | Node][] = [
      ['field.id', String(d.id)],
      ['field.category', categoryName(d.category)],
      ['field.location', place(d) || '—'],
    ];
    if (d.location_method) {
      const precision = d.location_precision_m;
      const located = el('span', { 'data-method': d.location_method }, locationMethodName(d.location_method));
      if (typeof precision === 'number' && Number.isFinite(precision)) {
        const within =
          precision >= 1000
            ? tf('location.precisionKm', { n: formatDecimal(precision / 1000, 1) })
            : tf('location.precision', { n: formatNumber(Math.round(precision)) });
        located.append(' ', el('span', { class: 'precision' }, within));
      }
      rows.push(['field.location_method', located]);
    }
    if (d.address) rows.push(['field.address', d.address]);
    rows.push(
      ['field.grid_cell', d.grid_cell_code ?? '—'],
      ['field.reported_at', formatApiTime(d.reported_at)],
      ['field.due_at', formatApiTime(d.due_at)],
    );
    if (d.resolved_at) rows.push(['field.resolved_at', formatApiTime(d.resolved_at)]);
    rows.push(['field.assignee', d.assignee_name ?? t('incidents.unassigned')]);
    if (d.leader) rows.push(['field.leader', d.leader]);
    if (d.channel) rows.push(['field.channel', el('span', { 'data-channel': d.channel }, channelName(d.channel))]);
    if (d.duplicate_of !== null && d.duplicate_of !== undefined) rows.push(['field.duplicate_of', incidentLink(d.duplicate_of)]);
    if (d.possible_duplicates?.length) {
      rows.push(['field.possible_duplicates', el('span', { class: 'incident-links' }, ...d.possible_duplicates.map(incidentLink))]);
    }
    if (d.reporter) {
      rows.push(['field.reporter', [d.reporter.name, d.reporter.phone].filter((x): x is string => !!x).join(' ') || '—']);
    }
    const fields = el('dl', { class: 'detail-fields' });
    for (const [key, value] of rows) {
      fields.append(el('div', { class: `field field-${key.slice('field.'.length)}` }, text('dt', key), el('dd', {}, value)));
    }
    const body: HTMLElement[] = [el('h3', { class: 'detail-title', id: 'incident-title' }, d.title || `#${d.id}`), badges];
    if (unplaced(d)) body.push(el('p', { class: 'detail-hint unplaced-hint', role: 'note' }, t('location.area.hint')));
    body.push(fields);
    body.push(...(options.detailSections ?? []));
    if (d.description) {
      body.push(el('div', { class: 'detail-description' }, text('h4', 'field.description'), el('p', {}, d.description)));
    }
    const timeline = el('ol', { class: 'timeline', id: 'incident-timeline' });
    const entries = [...(d.timeline ?? [])];
    entries.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    timeline.append(...entries.map(timelineEntry));
    body.push(text('h4', 'detail.timeline'));
    body.push(entries.length ? timeline : text('p', 'detail.timeline.empty', { class: 'list-message' }));
    detailBody.replaceChildren(...body);
  };

  const loadDetail = async (id: IncidentId): Promise<void> => {
    detailController?.abort();
    const controller = new AbortController();
    detailController = controller;
    try {
      const answer = await fetchIncident(id, controller.signal);
      if (controller.signal.aborted || !sameId(id, selectedId)) return;
      const first = !shown || !sameId(shown.id, id);
      shown = answer;
      detailState = 'ready';
      renderDetail();
      options.onDetail?.(answer);
      if (first && Number.isFinite(answer.lon) && Number.isFinite(answer.lat)) {
        options.onSelectionChange(id, [answer.lon, answer.lat]);
      }
    } catch (err) {
      if (isAbort(err, controller.signal)) return;
      if (!sameId(id, selectedId)) return;
      detailState = 'failed';
      renderDetail();
      options.onError('detail.title', err);
    } finally {
      if (detailController === controller) detailController = null;
    }
  };

  const markSelectedItem = (): void => {
    for (const node of items.querySelectorAll<HTMLElement>('.incident-item')) {
      if (sameId(node.dataset['id'] ?? null, selectedId)) node.setAttribute('aria-current', 'true');
      else node.removeAttribute('aria-current');
    }
  };

  const select = async (id: IncidentId | null, at: [number, number] | null = null): Promise<void> => {
    if (sameId(id, selectedId)) {
      if (at) options.onSelectionChange(id, at);
      return;
    }
    selectedId = id;
    markSelectedItem();
    options.onDetail?.(null);
    if (id === null) {
      detailController?.abort();
      shown = null;
      renderDetail();
      options.onSelectionChange(null, null);
      return;
    }
    detailState = 'loading';
    renderDetail();
    options.onSelectionChange(id, at && Number.isFinite(at[0]) && Number.isFinite(at[1]) ? at : null);
    await loadDetail(id);
  };

  onLangChange(() => {
    relabel(list);
    relabel(detail);
    setPlaceholder();
    renderCategories();
    redrawRows();
    renderDetail();
  });
  relabel(detail);
  renderList();

  return {
    list,
    detail,
    filter: () => ({ ...filter }),
    setCategories(next) {
      categories = next;
      renderCategories();
      redrawRows();
      renderDetail();
    },
    async load(signal) {
      filter = readFilter();
      state = page ? state : 'loading';
      renderList();
      await fetchPage(0, signal);
    },
    refresh() {
      if (state === 'loading' && !page) return;
      reportingFetch(offset);
    },
    select,
    selected: () => selectedId,
    refreshSelected() {
      if (selectedId !== null) void loadDetail(selectedId);
    },
    reset() {
      listController?.abort();
      detailController?.abort();
      window.clearTimeout(searchTimer);
      page = null;
      offset = 0;
      state = 'loading';
      selectedId = null;
      shown = null;
      categories = [];
      statusSelect.value = DEFAULT_FILTER.status;
      tierSelect.value = DEFAULT_FILTER.tier;
      search.value = '';
      renderCategories();
      categorySelect.value = '';
      filter = { ...DEFAULT_FILTER };
      renderList();
      renderDetail();
    },
  };
}
