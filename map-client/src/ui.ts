// Panels around the map: title + signed-in user + sign-out + language switch,
// layer legend/toggles, the statistics panel, the error banner and popup
// contents. All text comes from i18n.ts; elements carrying `data-i18n` are
// re-labelled on a language switch.

import type { AdminUnitProperties, FacilityProperties, GridCellProperties, Session, StatsSummary } from './api';
import { FACILITY_KINDS } from './api';
import { el, relabel, text } from './dom';
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
import { COLORS, FACILITY_COLORS, LAYER_GROUPS, type LayerGroup } from './layers';

const GROUP_LABEL: Record<LayerGroup, MessageKey> = {
  county: 'layer.county',
  township: 'layer.township',
  village: 'layer.village',
  grid: 'layer.grid',
  facility: 'layer.facility',
};

function swatch(group: LayerGroup): HTMLElement {
  const node = el('span', { class: `swatch swatch-${group}`, 'aria-hidden': 'true' });
  const color: Record<Exclude<LayerGroup, 'facility'>, string> = {
    county: COLORS.county,
    township: COLORS.township,
    village: COLORS.village,
    grid: COLORS.grid,
  };
  if (group !== 'facility') node.style.setProperty('--swatch-color', color[group]);
  return node;
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
}

export interface Ui {
  /** The element holding the panels. */
  readonly root: HTMLElement;
  /** Shows who is signed in (username, role, area) in the header. */
  setSession(session: Session): void;
  setStats(stats: StatsSummary, loadedAt: Date): void;
  /** The summary could not be loaded (the error itself goes to the banner). */
  setStatsUnavailable(): void;
  showError(message: string): void;
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
  const header = el(
    'header',
    { class: 'panel title-panel', id: 'title-panel' },
    el('div', { class: 'titles' }, text('h1', 'app.title'), text('p', 'app.subtitle', { class: 'subtitle' })),
    user,
    signOutButton,
    langSwitch('lang-switch'),
  );

  // Layer legend with toggles.
  const list = el('ul', { class: 'layer-list' });
  for (const group of LAYER_GROUPS) {
    const input = el('input', { type: 'checkbox', id: `toggle-${group}`, 'data-group': group });
    input.checked = true;
    input.addEventListener('change', () => options.onToggleGroup(group, input.checked));
    const labelNode = el('label', { for: `toggle-${group}` }, input, swatch(group), text('span', GROUP_LABEL[group]));
    const item = el('li', { class: `layer-item layer-${group}` }, labelNode);
    if (group === 'facility') {
      const kinds = el('ul', { class: 'facility-kinds' });
      for (const kind of FACILITY_KINDS) {
        const dot = el('span', { class: 'dot', 'aria-hidden': 'true' });
        dot.style.background = FACILITY_COLORS[kind];
        kinds.append(el('li', {}, dot, text('span', `kind.${kind}` as MessageKey)));
      }
      item.append(text('p', 'layers.facility.hint', { class: 'hint' }), kinds);
    }
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

  root.append(header, el('div', { class: 'side' }, legend, stats), banner);
  relabel(root);

  onLangChange(() => {
    relabel(root);
    renderUser();
    renderStats();
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
  | { kind: 'facility'; properties: FacilityProperties };

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
      if (typeof p.households === 'number') rows.push(['field.households', formatNumber(p.households)]);
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
  }
  const table = el('dl', { class: 'popup-fields' });
  for (const [key, value] of rows) {
    table.append(el('div', { class: `field field-${key.slice('field.'.length)}` }, text('dt', key), el('dd', {}, value)));
  }
  return el('div', { class: 'popup', 'data-kind': selection.kind }, el('h3', {}, title), table);
}
