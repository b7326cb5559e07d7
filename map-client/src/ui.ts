// Panels around the map: title + live indicator + signed-in user + sign-out +
// language switch, the layer legend with toggles, the statistics panel, the
// error banner and popup contents; the headline strip and the incident panels
// (headline.ts, incidents.ts) are placed by `createUi` too. All text comes
// from i18n.ts; elements carrying `data-i18n` are re-labelled on a language
// switch.

import type {
  AdminUnitProperties,
  FacilityProperties,
  GridCellProperties,
  HouseholdProperties,
  Session,
  StatsSummary,
  WorkerProperties,
} from './api';
import { FACILITY_KINDS, INCIDENT_STATUSES, TIERS, toDate } from './api';
import { el, relabel, text } from './dom';
import { WORKER_ICONS, workerSwatch } from './icons';
import {
  formatNumber,
  formatTime,
  getLang,
  onLangChange,
  setLang,
  t,
  tDynamic,
  type MessageKey,
} from './i18n';
import {
  COLORS,
  FACILITY_COLORS,
  LAYER_GROUPS,
  LOAD_CLASSES,
  STATUS_COLORS,
  TIER_STYLE,
  type LayerGroup,
} from './layers';
import type { LiveStatus } from './live';

const groupLabel = (group: LayerGroup): MessageKey => `layer.${group}` as MessageKey;

function swatch(group: LayerGroup): HTMLElement {
  const node = el('span', { class: `swatch swatch-${group}`, 'aria-hidden': 'true' });
  const color: Partial<Record<LayerGroup, string>> = {
    counties: COLORS.county,
    townships: COLORS.township,
    villages: COLORS.village,
    'grid-cells': COLORS.grid,
    households: COLORS.household,
  };
  const c = color[group];
  if (c) node.style.setProperty('--swatch-color', c);
  return node;
}

function dot(color: string, size = 9, stroke?: { width: number; color: string }): HTMLElement {
  const node = el('span', { class: 'dot', 'aria-hidden': 'true' });
  node.style.background = color;
  node.style.width = `${size}px`;
  node.style.height = `${size}px`;
  if (stroke) node.style.boxShadow = `0 0 0 ${stroke.width}px ${stroke.color}, 0 0 0 ${stroke.width + 0.5}px rgba(0,0,0,0.25)`;
  return node;
}

/** The legend under a layer's toggle, if it has one. */
function legendFor(group: LayerGroup): HTMLElement[] {
  switch (group) {
    case 'grid-cells': {
      const scale = el('ol', { class: 'load-scale', 'aria-label': '' });
      LOAD_CLASSES.forEach((c, i) => {
        const nextMin = LOAD_CLASSES[i + 1]?.min;
        const label = nextMin === undefined ? `≥${c.min}` : nextMin - c.min > 1 ? `${c.min}–${nextMin - 1}` : String(c.min);
        const box = el('span', { class: 'load-box', 'aria-hidden': 'true' });
        box.style.background = c.min === 0 ? COLORS.land : c.color;
        scale.append(el('li', { 'data-min': String(c.min) }, box, el('span', {}, label)));
      });
      return [text('p', 'layers.grid-cells.hint', { class: 'hint' }), el('div', { class: 'legend-block' }, text('span', 'legend.load', { class: 'legend-title' }), scale)];
    }
    case 'households':
      return [text('p', 'layers.households.hint', { class: 'hint' })];
    case 'facilities': {
      const kinds = el('ul', { class: 'facility-kinds legend-grid' });
      for (const kind of FACILITY_KINDS) kinds.append(el('li', {}, dot(FACILITY_COLORS[kind]), text('span', `kind.${kind}` as MessageKey)));
      const details = el('details', { class: 'legend-details' }, el('summary', {}, text('span', 'legend.kinds')), kinds);
      return [text('p', 'layers.facilities.hint', { class: 'hint' }), details];
    }
    case 'incidents': {
      const statuses = el('ul', { class: 'legend-grid incident-statuses' });
      for (const status of INCIDENT_STATUSES) {
        statuses.append(el('li', { 'data-status': status }, dot(STATUS_COLORS[status]), text('span', `status.${status}` as MessageKey)));
      }
      const tiers = el('ul', { class: 'legend-grid incident-tiers' });
      for (const tier of TIERS) {
        const s = TIER_STYLE[tier];
        tiers.append(
          el('li', { 'data-tier': tier }, dot('#9aa5ad', s.radius * 2.2, { width: s.stroke, color: s.strokeColor === '#ffffff' ? '#ffffff' : s.strokeColor }), text('span', `tier.${tier}` as MessageKey)),
        );
      }
      const overdue = el('li', { class: 'legend-overdue' }, el('span', { class: 'overdue-ring', 'aria-hidden': 'true' }), text('span', 'legend.overdue'));
      return [
        text('p', 'layers.incidents.hint', { class: 'hint' }),
        el('div', { class: 'legend-block' }, text('span', 'legend.status', { class: 'legend-title' }), statuses),
        el('div', { class: 'legend-block' }, text('span', 'legend.tier', { class: 'legend-title' }), tiers, el('ul', { class: 'legend-grid' }, overdue)),
      ];
    }
    case 'workers': {
      const list = el('ul', { class: 'legend-grid worker-statuses' });
      for (const icon of WORKER_ICONS) list.append(el('li', { 'data-worker': icon }, workerSwatch(icon), text('span', `worker.${icon}` as MessageKey)));
      return [text('p', 'layers.workers.hint', { class: 'hint' }), list];
    }
    default:
      return [];
  }
}

/** Stats rows, in display order, with the path into StatsSummary. */
const STAT_ROWS: { key: string; label: MessageKey; get: (s: StatsSummary) => number | undefined }[] = [
  { key: 'county', label: 'stats.county', get: (s) => s.admin_units.county },
  { key: 'township', label: 'stats.township', get: (s) => s.admin_units.township },
  { key: 'village', label: 'stats.village', get: (s) => s.admin_units.village },
  { key: 'grid_cells', label: 'stats.grid_cells', get: (s) => s.grid_cells },
  { key: 'households', label: 'stats.households', get: (s) => s.households },
  { key: 'residents', label: 'stats.residents', get: (s) => s.residents },
  { key: 'grid_workers', label: 'stats.grid_workers', get: (s) => s.grid_workers },
  { key: 'facilities', label: 'stats.facilities', get: (s) => s.facilities },
  { key: 'incidents', label: 'stats.incidents', get: (s) => s.incidents },
  { key: 'incident_events', label: 'stats.incident_events', get: (s) => s.incident_events },
  { key: 'grid_plans', label: 'stats.grid_plans', get: (s) => s.grid_plans },
];

export interface UiOptions {
  /** Called when a layer group is switched on or off in the legend. */
  onToggleGroup: (group: LayerGroup, visible: boolean) => void;
  /** Called when the sign-out button is pressed (the button stays disabled until it settles). */
  onSignOut: () => Promise<void>;
  /** The headline strip, beside the title. */
  headline: HTMLElement;
  /** Panels of the right-hand column (the incident list and details). */
  right: HTMLElement[];
  /** The statistics view, shown instead of the map's panels when chosen in the header. */
  statsView: HTMLElement;
  /** The rules view (deadlines, duplicate reach), likewise. */
  rulesView: HTMLElement;
  /** Called when the map, statistics or rules view is chosen in the header. */
  onViewChange: (view: View) => void;
  /** Buttons of the header beside the view switch (the analysis panel's, the alerts' bell). */
  headerButtons?: HTMLElement[];
  /** Panels at the top of the left-hand column (the analysis panel). */
  left?: HTMLElement[];
  /** Overlays over the map (alert toasts, the alerts list). */
  overlays?: HTMLElement[];
}

/** What the page shows under the header: the map with its panels, the statistics view or the rules view. */
export type View = 'map' | 'stats' | 'rules';

export interface Ui {
  /** The element holding the panels. */
  readonly root: HTMLElement;
  /** Shows who is signed in (username, role, area) in the header. */
  setSession(session: Session): void;
  setStats(stats: StatsSummary, loadedAt: Date): void;
  /** The summary could not be loaded (the error itself goes to the banner). */
  setStatsUnavailable(): void;
  showError(message: string): void;
  /** The live feed's state, and when its last message came. */
  setLive(status: LiveStatus, lastMessageAt: Date | null): void;
  /** Layer groups switched off in the legend. */
  hiddenGroups(): Set<LayerGroup>;
  /** Marks `view` as the one shown in the header's switch (the caller shows it). */
  setView(view: View): void;
  /** Back to the state before any data: stats "loading", no error lines (on sign-out). */
  reset(): void;
}

/** A role's name in the current language (the role itself if unknown). */
export function roleName(role: string): string {
  return tDynamic(`role.${role}`, role);
}

/** A language switch button; `id` tells the header's from the sign-in form's. */
export function langSwitch(id: string): HTMLButtonElement {
  const button = el('button', { type: 'button', id, class: 'lang-switch', 'data-i18n-title': 'lang.switch.title' });
  button.append(text('span', 'lang.switch'));
  button.addEventListener('click', () => setLang(getLang() === 'en' ? 'zh-CN' : 'en'));
  return button;
}

export function createUi(root: HTMLElement, options: UiOptions): Ui {
  // Title, signed-in user, sign-out and language switch.
  let session: Session | null = null;
  const userName = el('span', { class: 'user-name', 'data-user': 'username' });
  const userRole = el('span', { class: 'user-role', 'data-user': 'role' });
  const userArea = el('span', { class: 'user-area', 'data-user': 'area' });
  const user = el(
    'div',
    { class: 'user', id: 'user-info' },
    text('span', 'user.label', { class: 'visually-hidden' }),
    userName,
    el('span', { class: 'user-details' }, userRole, el('span', { class: 'sep', 'aria-hidden': 'true' }, ' · '), userArea),
  );
  const renderUser = (): void => {
    if (!session) return;
    userName.textContent = session.username;
    userRole.textContent = roleName(session.role);
    userRole.dataset['role'] = session.role;
    userArea.textContent = session.area.name;
    userArea.dataset['code'] = session.area.code;
    userArea.title = `${t('user.area')}: ${tDynamic(`level.${session.area.level}`, session.area.level)} ${session.area.code}`;
  };
  const signOutButton = el('button', { type: 'button', id: 'sign-out', class: 'sign-out' });
  signOutButton.append(text('span', 'user.signOut'));
  signOutButton.addEventListener('click', () => {
    signOutButton.disabled = true;
    options.onSignOut().finally(() => {
      signOutButton.disabled = false;
    });
  });
  const liveLabel = el('span', { class: 'live-label' });
  const live = el(
    'span',
    { class: 'live-status', id: 'live-status', role: 'status', 'data-status': 'idle' },
    el('span', { class: 'live-dot', 'aria-hidden': 'true' }),
    liveLabel,
  );
  let liveState: { status: LiveStatus; at: Date | null } = { status: 'idle', at: null };
  const renderLive = (): void => {
    live.dataset['status'] = liveState.status;
    liveLabel.textContent = t(`live.${liveState.status}` as MessageKey);
    live.title = `${t('live.title')}${liveState.at ? ` · ${t('live.last')} ${formatTime(liveState.at)}` : ''}`;
  };
  renderLive();
  // Map, statistics or rules view: toggle buttons, the shown one pressed.
  const viewButtons = new Map<View, HTMLButtonElement>();
  const viewSwitch = el('div', { class: 'view-switch', id: 'view-switch', role: 'group' });
  for (const view of ['map', 'stats', 'rules'] as const) {
    const button = el('button', { type: 'button', id: `view-${view}`, class: 'view-button', 'data-view': view, 'aria-pressed': String(view === 'map') });
    button.append(text('span', `view.${view}`));
    button.addEventListener('click', () => {
      if (button.getAttribute('aria-pressed') !== 'true') options.onViewChange(view);
    });
    viewButtons.set(view, button);
    viewSwitch.append(button);
  }
  const labelViewSwitch = (): void => viewSwitch.setAttribute('aria-label', t('view.switch'));
  labelViewSwitch();
  const header = el(
    'header',
    { class: 'panel title-panel', id: 'title-panel' },
    el('div', { class: 'titles' }, text('h1', 'app.title'), el('div', { class: 'subtitle' }, text('span', 'app.subtitle'), live, viewSwitch, ...(options.headerButtons ?? []))),
    user,
    signOutButton,
    langSwitch('lang-switch'),
  );

  // Layer legend with toggles.
  const list = el('ul', { class: 'layer-list' });
  const toggles = new Map<LayerGroup, HTMLInputElement>();
  for (const group of LAYER_GROUPS) {
    const input = el('input', { type: 'checkbox', id: `toggle-${group}`, 'data-group': group });
    input.checked = true;
    input.addEventListener('change', () => options.onToggleGroup(group, input.checked));
    toggles.set(group, input);
    const labelNode = el('label', { for: `toggle-${group}` }, input, swatch(group), text('span', groupLabel(group)));
    const item = el('li', { class: `layer-item layer-${group}` }, labelNode, ...legendFor(group));
    list.append(item);
  }
  const legend = el('section', { class: 'panel layers-panel', id: 'layers-panel' }, text('h2', 'layers.title'), list);

  // Statistics.
  const statsBody = el('div', { class: 'stats-body' }, text('p', 'stats.loading', { class: 'loading' }));
  const stats = el('section', { class: 'panel stats-panel', id: 'stats-panel' }, text('h2', 'stats.title'), statsBody);
  let lastStats: { stats: StatsSummary; loadedAt: Date } | null = null;

  const renderStats = (): void => {
    if (!lastStats) return;
    const { stats: s, loadedAt } = lastStats;
    const rows = el('dl', { class: 'stats-list' });
    for (const row of STAT_ROWS) {
      const value = row.get(s);
      if (value === undefined || value === null) continue;
      rows.append(
        el(
          'div',
          { class: 'stat', 'data-stat': row.key, 'data-value': String(value) },
          text('dt', row.label),
          el('dd', {}, formatNumber(value)),
        ),
      );
    }
    const updated = el(
      'p',
      { class: 'updated' },
      text('span', 'stats.updated'),
      ' ',
      el('time', { datetime: loadedAt.toISOString() }, formatTime(loadedAt)),
      ' (',
      text('span', 'stats.tz'),
      ')',
    );
    statsBody.replaceChildren(rows, updated);
  };

  // Error banner: non-blocking, one line per distinct message, dismissible.
  const banner = el('div', { class: 'error-banner', id: 'error-banner', role: 'alert', 'aria-live': 'assertive' });
  banner.hidden = true;
  const shown = new Set<string>();
  const showError = (message: string): void => {
    if (shown.has(message)) return;
    shown.add(message);
    const close = el('button', { type: 'button', class: 'dismiss', 'data-i18n-title': 'error.dismiss' }, '×');
    const line = el('div', { class: 'error-line' }, text('strong', 'error.load'), el('span', { class: 'detail' }, message), close);
    close.addEventListener('click', () => {
      line.remove();
      shown.delete(message);
      banner.hidden = banner.childElementCount === 0;
    });
    banner.append(line);
    relabel(line);
    banner.hidden = false;
  };

  const topbar = el('div', { class: 'topbar' }, header, options.headline);
  // The left column starts below the top bar, whose height depends on the
  // language (the headline may wrap).
  new ResizeObserver(() => {
    if (topbar.offsetHeight > 0) root.style.setProperty('--side-top', `${topbar.offsetTop + topbar.offsetHeight + 8}px`);
  }).observe(topbar);
  root.append(
    topbar,
    el('div', { class: 'side' }, ...(options.left ?? []), legend, stats),
    el('div', { class: 'side-right', id: 'side-right' }, ...options.right),
    ...(options.overlays ?? []),
    options.statsView,
    options.rulesView,
    banner,
  );
  relabel(root);

  onLangChange(() => {
    relabel(header);
    relabel(legend);
    relabel(stats);
    relabel(banner);
    renderUser();
    renderStats();
    renderLive();
    labelViewSwitch();
  });

  return {
    root,
    setSession(s) {
      session = s;
      renderUser();
    },
    setStats(s, loadedAt) {
      lastStats = { stats: s, loadedAt };
      renderStats();
    },
    setStatsUnavailable() {
      lastStats = null;
      statsBody.replaceChildren(text('p', 'stats.unavailable', { class: 'loading' }));
    },
    showError,
    setLive(status, at) {
      liveState = { status, at };
      renderLive();
    },
    hiddenGroups() {
      return new Set([...toggles].filter(([, input]) => !input.checked).map(([group]) => group));
    },
    setView(view) {
      for (const [v, button] of viewButtons) button.setAttribute('aria-pressed', String(v === view));
    },
    reset() {
      lastStats = null;
      statsBody.replaceChildren(text('p', 'stats.loading', { class: 'loading' }));
      banner.replaceChildren();
      shown.clear();
      banner.hidden = true;
    },
  };
}

/** What a click selected, for the popup. */
export type Selection =
  | { kind: 'admin'; properties: AdminUnitProperties }
  | { kind: 'grid'; properties: GridCellProperties }
  | { kind: 'facility'; properties: FacilityProperties }
  | { kind: 'household'; properties: HouseholdProperties }
  | { kind: 'worker'; properties: WorkerProperties };

export function popupContent(selection: Selection): HTMLElement {
  const rows: [MessageKey, string][] = [];
  let title: string;
  switch (selection.kind) {
    case 'admin': {
      const p = selection.properties;
      title = p.name;
      rows.push(['field.name', p.name], ['field.code', p.code], ['field.level', tDynamic(`level.${p.level}`, p.level)]);
      if (p.parent_code) rows.push(['field.parent_code', p.parent_code]);
      break;
    }
    case 'grid': {
      const p = selection.properties;
      title = p.name;
      rows.push(['field.name', p.name], ['field.code', p.code], ['field.level', t('level.grid')]);
      if (p.village_code) rows.push(['field.village_code', p.village_code]);
      if (typeof p.open_incidents === 'number') rows.push(['field.open_incidents', formatNumber(p.open_incidents)]);
      if (typeof p.workers === 'number') rows.push(['field.workers', formatNumber(p.workers)]);
      if (p.plan_version !== undefined && p.plan_version !== null) rows.push(['field.plan_version', String(p.plan_version)]);
      break;
    }
    case 'facility': {
      const p = selection.properties;
      title = p.name;
      rows.push(
        ['field.name', p.name],
        ['field.id', String(p.id)],
        ['field.level', t('level.facility')],
        ['field.kind', tDynamic(`kind.${p.kind}`, p.kind)],
      );
      break;
    }
    case 'household': {
      const p = selection.properties;
      title = `${t('level.household')} ${p.id}`;
      rows.push(['field.id', String(p.id)], ['field.level', t('level.household')]);
      if (p.grid_cell_code) rows.push(['field.cell_code', p.grid_cell_code]);
      break;
    }
    case 'worker': {
      const p = selection.properties;
      title = `${t('level.worker')} ${p.id}`;
      const seen = toDate(p.last_seen);
      rows.push(
        ['field.id', String(p.id)],
        ['field.level', t('level.worker')],
        ['field.status', tDynamic(`worker.${p.status}`, p.status) + (p.stale ? ` · ${t('worker.stale')}` : '')],
      );
      if (p.cell_code) rows.push(['field.cell_code', p.cell_code]);
      if (seen) rows.push(['field.last_seen', formatTime(seen)]);
      break;
    }
  }
  const table = el('dl', { class: 'popup-fields' });
  for (const [key, value] of rows) {
    table.append(el('div', { class: `field field-${key.slice('field.'.length)}` }, text('dt', key), el('dd', {}, value)));
  }
  return el('div', { class: 'popup', 'data-kind': selection.kind }, el('h3', {}, title), table);
}
