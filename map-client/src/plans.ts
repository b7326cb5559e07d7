// The planner's screen (网格规划), opened from the header by planners only:
// the plan list (new draft, open, archive, delete), the open plan's cells on
// the map shaded by workload with its figures and table (workload.ts), the
// draft editor (planeditor.ts) with undo/redo and the history, the issues of a
// refused edit or of a check drawn where they are, a 409's cells as they are
// now, rebalancing, the diff against the published plan, and publishing.
//
// Every edit carries the revision the planner saw; its answer's revision is
// the next one to send. After any change the plan's tiles, workload and
// history are fetched again (the edit answers only what it changed, and the
// workload of neighbours depends on it).

import type { Map as MapLibreMap } from 'maplibre-gl';

import { ApiError, isUnauthenticated } from './api';
import { el, relabel, text } from './dom';
import { formatApiTime, formatDecimal, formatNumber, formatPercent, onLangChange, t, tDynamic, tf, type MessageKey } from './i18n';
import {
  archivePlan,
  conflictCurrent,
  createPlan,
  deletePlan,
  fetchDiff,
  fetchHistory,
  fetchIssues,
  fetchPlan,
  fetchPlanCells,
  fetchPlans,
  fetchWorkload,
  publishPlan,
  rebalance,
  redoEdit,
  refusedIssues,
  undoEdit,
  type EditOutcome,
  type HistoryEntry,
  type PlanDiff,
  type PlanIssue,
  type PlanSummary,
  type Published,
  type RebalanceOutcome,
  type RebalanceRequest,
  type Shortfall,
  type Workload,
} from './planapi';
import { createPlanEditor, type PlanEditor, type Tool } from './planeditor';
import { CHANGE_COLORS, createPlanLayers } from './planlayers';
import { createWorkloadView, formatDeviation, summaryFigures } from './workload';

export interface PlansPanelOptions {
  map: MapLibreMap;
  /** Resolves once the map's style has loaded (the plan layers go on it). */
  styleLoaded(): Promise<void>;
  fitBounds(bbox: [number, number, number, number]): void;
  /** A load failed for want of a session (the caller decides what it means). */
  onError(what: MessageKey, err: unknown): void;
  /** A plan was published: the map's (published) grid changed. */
  onPublished(answer: Published): void;
  onOpenChange?(open: boolean): void;
}

export type PlanBusy = 'idle' | 'loading' | 'failed';

export interface PlansHook {
  /** The plans listed. */
  plans(): PlanSummary[];
  /** The plan open (null: none), at the revision the client holds. */
  open(): PlanSummary | null;
  workload(): Workload | null;
  /** Issues drawn on the map (a refused edit's or a check's). */
  issues(): PlanIssue[];
  /** The message line under the tools (an error's detail, a conflict, an outcome). */
  message(): string;
  tool(): Tool;
  /** What the editor draws now: linestring, polygon, static (nothing), null (not loaded yet). */
  drawing(): string | null;
  selected(): string[];
  select(codes: string[]): void;
  vertices(): [number, number][];
  diff(): PlanDiff | null;
  rebalanced(): RebalanceOutcome | null;
  /** Resolves once no request of the panel is under way. */
  idle(): Promise<void>;
}

export interface PlansPanel {
  readonly root: HTMLElement;
  readonly toggle: HTMLButtonElement;
  setRole(role: string | null): void;
  reset(): void;
  /** The live feed says these draft plans changed (null: anything may have, after a resync). */
  heard(versions: readonly number[] | null): void;
  readonly hook: PlansHook;
}

/** A shortfall as a sentence in the current language. */
function shortfallText(s: Shortfall): string {
  switch (s.kind) {
    case 'heavy_unit':
      return tf('plans.sf.heavy', { village: s.village_name, code: s.village_code, load: formatDecimal(s.load) });
    case 'village_share':
      return tf('plans.sf.share', { village: s.village_name, code: s.village_code, cells: s.cells, deviation: formatDeviation(s.mean_deviation) });
    case 'coarse_units': {
      const params = { typical: formatDecimal(s.typical_load), band: formatDecimal(s.band_width) };
      return s.village_code === null
        ? tf('plans.sf.coarse.any', params)
        : tf('plans.sf.coarse', { ...params, village: s.village_name ?? '', code: s.village_code });
    }
    case 'stalled':
      return s.village_code === null ? t('plans.sf.stalled.any') : tf('plans.sf.stalled', { village: s.village_name ?? '', code: s.village_code });
  }
}

function featureBbox(coords: unknown, b: [number, number, number, number] | null = null): [number, number, number, number] | null {
  if (!Array.isArray(coords)) return b;
  if (typeof coords[0] === 'number' && typeof coords[1] === 'number') {
    const [x, y] = coords as [number, number];
    return b ? [Math.min(b[0], x), Math.min(b[1], y), Math.max(b[2], x), Math.max(b[3], y)] : [x, y, x, y];
  }
  for (const c of coords) b = featureBbox(c, b);
  return b;
}

export function createPlansPanel(options: PlansPanelOptions): PlansPanel {
  const { map } = options;
  const layers = createPlanLayers(map, options.styleLoaded);
  let role: string | null = null;
  let plans: PlanSummary[] = [];
  let open: PlanSummary | null = null;
  let workload: Workload | null = null;
  let diff: PlanDiff | null = null;
  let rebalanced: RebalanceOutcome | null = null;
  let pending = 0;
  let waiters: (() => void)[] = [];
  // This panel's own edits under way, and whether the feed spoke of the open plan meanwhile:
  // its own edit is news only once the answer (with the new revision) is in.
  let writing = 0;
  let heardWhileWriting = false;
  let messageKey: { key: MessageKey; params: Record<string, string | number> } | null = null;
  let messageDetail = '';

  // ------------------------------------------------------------ busy tracking

  async function busy<T>(run: () => Promise<T>): Promise<T> {
    pending++;
    root.setAttribute('aria-busy', 'true');
    try {
      return await run();
    } finally {
      pending--;
      // a step often chains requests (an edit, then the workload): idle only if none follows at once
      if (pending === 0) window.setTimeout(settle, 0);
    }
  }

  function settle(): void {
    if (pending !== 0) return;
    root.removeAttribute('aria-busy');
    const w = waiters;
    waiters = [];
    for (const resolve of w) resolve();
  }

  function fail(what: MessageKey, err: unknown): void {
    if (isUnauthenticated(err)) {
      options.onError(what, err);
      return;
    }
    const status = err instanceof ApiError && err.status ? ` (${err.status})` : '';
    const detail = err instanceof ApiError ? (err.status === null ? t('error.network') : err.message) : String(err);
    setMessage(null, `${t(what)}${status}: ${detail}`, 'error');
  }

  // ------------------------------------------------------------ elements

  const toggle = el('button', { type: 'button', id: 'plans-toggle', class: 'view-button plans-toggle', 'aria-pressed': 'false', 'aria-controls': 'plans-panel', hidden: '' });
  toggle.append(text('span', 'plans.open'));
  const closeButton = el('button', { type: 'button', class: 'detail-close', id: 'plans-close', 'data-i18n-title': 'plans.close' }, '×');

  const listStatus = el('p', { class: 'plan-status', id: 'plans-list-status', role: 'status' });
  const listBody = el('tbody', {});
  const listTable = el(
    'table',
    { class: 'report-table plan-list', id: 'plans-list' },
    el('thead', {}, el('tr', {}, ...(['plans.col.version', 'plans.col.plan', 'plans.col.status', 'plans.col.revision', 'plans.col.based', 'plans.col.author', 'plans.col.actions'] as MessageKey[]).map((k) => text('th', k, { scope: 'col' })))),
    listBody,
  );
  const newName = el('input', { type: 'text', id: 'plans-new-name', maxlength: '60' });
  newName.placeholder = t('plans.new.placeholder');
  const newButton = text('button', 'plans.new', { type: 'button', id: 'plans-new' });

  const openTitle = el('h3', { id: 'plan-open-title' });
  const openMeta = el('p', { class: 'plan-meta', id: 'plan-open-meta' });
  const message = el('p', { class: 'plan-message', id: 'plan-message', role: 'status', 'aria-live': 'polite' });
  const hint = el('p', { class: 'plan-hint', id: 'plan-hint' });
  const selectionLine = el('p', { class: 'plan-selection', id: 'plan-selection' });
  const workloadView = createWorkloadView((code) => void flyToCell(code));

  const editor: PlanEditor = createPlanEditor({
    map,
    layers,
    plan: () => (open ? { version: open.version, revision: open.revision, editable: open.editable && open.status === 'draft' } : null),
    submit,
    onUndo: () => void step('undo'),
    onRedo: () => void step('redo'),
    onHint(key) {
      hint.textContent = key ? t(key) : '';
      hint.dataset['key'] = key ?? '';
    },
    onError: fail,
    onSelectionChange(codes) {
      selectionLine.textContent = codes.length ? tf('plans.selected', { codes: codes.join('、') }) : t('plans.selected.none');
    },
  });

  const checkButton = text('button', 'plans.check', { type: 'button', id: 'plan-check' });
  const rebalanceButton = text('button', 'plans.rebalance', { type: 'button', id: 'plan-rebalance-open' });
  const diffButton = text('button', 'plans.diff', { type: 'button', id: 'plan-diff-open' });
  const publishButton = text('button', 'plans.publish', { type: 'button', id: 'plan-publish', class: 'primary' });
  const closePlanButton = text('button', 'plans.closeplan', { type: 'button', id: 'plan-close' });

  // rebalance dialog
  const scopeSelect = el('select', { id: 'plan-rebalance-scope' });
  for (const [value, key] of [['cells', 'plans.scope.cells'], ['villages', 'plans.scope.villages'], ['township', 'plans.scope.township']] as [string, MessageKey][]) {
    scopeSelect.append(text('option', key, { value }));
  }
  const townshipInput = el('input', { type: 'text', id: 'plan-rebalance-township', maxlength: '20' });
  const targetKind = el('select', { id: 'plan-rebalance-target-kind' });
  for (const [value, key] of [['cells', 'plans.target.cells'], ['load', 'plans.target.load']] as [string, MessageKey][]) {
    targetKind.append(text('option', key, { value }));
  }
  const targetValue = el('input', { type: 'number', id: 'plan-rebalance-target', min: '0', step: 'any' });
  const toleranceInput = el('input', { type: 'number', id: 'plan-rebalance-tolerance', min: '0', max: '100', step: '0.5', value: '5' });
  const rebalanceRun = text('button', 'plans.rebalance.run', { type: 'button', id: 'plan-rebalance-run', class: 'primary' });
  const rebalanceOut = el('div', { class: 'plan-outcome', id: 'plan-rebalance-outcome' });
  const rebalanceDialog = el(
    'fieldset',
    { class: 'analysis-group plan-dialog', id: 'plan-rebalance', hidden: '' },
    text('legend', 'plans.rebalance'),
    el('label', {}, text('span', 'plans.scope'), scopeSelect),
    el('label', {}, text('span', 'plans.scope.township.code'), townshipInput),
    el('label', {}, text('span', 'plans.target'), targetKind, targetValue),
    el('label', {}, text('span', 'plans.tolerance'), toleranceInput),
    rebalanceRun,
    rebalanceOut,
  );

  const diffView = el('div', { class: 'plan-diff', id: 'plan-diff', hidden: '' });
  const historyList = el('ol', { class: 'plan-history', id: 'plan-history', reversed: '' });

  const openSection = el(
    'section',
    { class: 'plan-open', id: 'plan-open', hidden: '' },
    openTitle,
    openMeta,
    el('div', { class: 'plan-actions' }, checkButton, rebalanceButton, diffButton, publishButton, closePlanButton),
    message,
    selectionLine,
    editor.toolbar,
    hint,
    rebalanceDialog,
    diffView,
    workloadView.root,
    el('details', { class: 'plan-history-box' }, text('summary', 'plans.history'), historyList),
  );

  const root = el(
    'section',
    { class: 'panel analysis-panel plans-panel', id: 'plans-panel', 'aria-labelledby': 'plans-heading', hidden: '' },
    el('div', { class: 'analysis-header' }, text('h2', 'plans.title', { id: 'plans-heading' }), closeButton),
    listStatus,
    el('div', { class: 'plan-table-scroll short' }, listTable),
    el('div', { class: 'plan-new' }, newName, newButton),
    openSection,
  );

  // ------------------------------------------------------------ messages

  function setMessage(key: MessageKey | null, detail: string, kind: 'error' | 'ok' | 'warn' | '' = '', params: Record<string, string | number> = {}): void {
    messageKey = key ? { key, params } : null;
    messageDetail = detail;
    message.dataset['kind'] = kind;
    renderMessage();
  }
  function renderMessage(): void {
    const head = messageKey ? tf(messageKey.key, messageKey.params) : '';
    message.textContent = [head, messageDetail].filter(Boolean).join(' ');
  }

  // ------------------------------------------------------------ list

  function statusName(status: string): string {
    return tDynamic(`plans.status.${status}`, status);
  }

  function renderList(): void {
    listBody.replaceChildren(
      ...plans.map((p) => {
        const actions = el('td', { class: 'plan-row-actions' });
        const openB = text('button', 'plans.action.open', { type: 'button', 'data-action': 'open' });
        openB.addEventListener('click', () => void openPlan(p.version));
        actions.append(openB);
        if (p.status === 'draft' && p.editable) {
          const archiveB = text('button', 'plans.action.archive', { type: 'button', 'data-action': 'archive' });
          archiveB.addEventListener('click', () => void archive(p));
          const deleteB = text('button', 'plans.action.delete', { type: 'button', 'data-action': 'delete' });
          deleteB.addEventListener('click', () => void remove(p));
          actions.append(archiveB, deleteB);
        }
        return el(
          'tr',
          { 'data-version': String(p.version), 'data-status': p.status, class: open?.version === p.version ? 'current' : '' },
          el('td', { class: 'num' }, String(p.version)),
          el('td', { title: p.area_name ?? '' }, p.name),
          el('td', { 'data-status': p.status }, statusName(p.status)),
          el('td', { class: 'num' }, String(p.revision)),
          el('td', {}, p.based_on === null ? '—' : `v${p.based_on}`),
          el('td', {}, p.created_by ?? '—'),
          actions,
        );
      }),
    );
  }

  async function loadList(): Promise<void> {
    listStatus.textContent = t('plans.loading');
    listStatus.dataset['state'] = 'loading';
    try {
      plans = await busy(() => fetchPlans());
      listStatus.textContent = plans.length ? '' : t('plans.none');
      listStatus.dataset['state'] = 'ready';
      renderList();
    } catch (err) {
      listStatus.dataset['state'] = 'failed';
      const status = err instanceof ApiError && err.status ? ` (${err.status})` : '';
      listStatus.textContent = `${t('plans.error.list')}${status}: ${err instanceof Error ? err.message : String(err)}`;
      if (isUnauthenticated(err)) options.onError('plans.error.list', err);
    }
  }

  const published = (): PlanSummary | undefined => plans.find((p) => p.status === 'published');

  async function create(): Promise<void> {
    const name = newName.value.trim() || tf('plans.new.default', { date: formatApiTime(new Date().toISOString(), true) });
    try {
      const plan = await busy(() => createPlan(name));
      newName.value = '';
      await loadList();
      await openPlan(plan.version);
    } catch (err) {
      fail('plans.error.create', err);
    }
  }

  async function archive(p: PlanSummary): Promise<void> {
    if (!window.confirm(tf('plans.archive.confirm', { name: p.name, version: p.version }))) return;
    try {
      await own(() => archivePlan(p.version));
      if (open?.version === p.version) closePlan();
      await loadList();
    } catch (err) {
      fail('plans.error.archive', err);
    }
  }

  async function remove(p: PlanSummary): Promise<void> {
    if (!window.confirm(tf('plans.delete.confirm', { name: p.name, version: p.version }))) return;
    try {
      await own(() => deletePlan(p.version));
      if (open?.version === p.version) closePlan();
      await loadList();
    } catch (err) {
      fail('plans.error.delete', err);
    }
  }

  // ------------------------------------------------------------ open plan

  function renderOpen(): void {
    openSection.hidden = open === null;
    if (!open) return;
    openTitle.textContent = `${open.name} · v${open.version}`;
    openMeta.textContent = tf('plans.meta', {
      status: statusName(open.status),
      revision: open.revision,
      based: open.based_on === null ? '—' : `v${open.based_on}`,
      author: open.created_by ?? '—',
      cells: formatNumber(open.cells),
    });
    openMeta.dataset['revision'] = String(open.revision);
    const draft = open.status === 'draft' && open.editable;
    editor.setEditable(draft);
    rebalanceButton.hidden = !draft;
    publishButton.hidden = !draft;
    diffButton.hidden = open.status !== 'draft';
    renderList();
  }

  async function openPlan(version: number): Promise<void> {
    try {
      const plan = await busy(() => fetchPlan(version));
      await options.styleLoaded();
      open = plan;
      diff = null;
      rebalanced = null;
      diffView.hidden = true;
      rebalanceDialog.hidden = true;
      rebalanceOut.replaceChildren();
      layers.setIssues(null);
      layers.setCurrent(null);
      layers.show(plan.version, published()?.version ?? null);
      editor.reset();
      setMessage(null, '');
      renderOpen();
      await Promise.all([loadWorkload(), loadHistory()]);
    } catch (err) {
      fail('plans.error.open', err);
    }
  }

  function closePlan(): void {
    open = null;
    workload = null;
    diff = null;
    rebalanced = null;
    editor.reset();
    layers.setIssues(null);
    layers.setCurrent(null);
    layers.setVertices([]);
    layers.show(null, null);
    workloadView.show(null, []);
    historyList.replaceChildren();
    setMessage(null, '');
    renderOpen();
    renderList();
  }

  async function loadWorkload(): Promise<void> {
    if (!open) return;
    const version = open.version;
    try {
      const answer = await busy(() => fetchWorkload(version));
      if (open?.version !== version) return;
      workload = answer;
      workloadView.show(answer.summary, answer.cells);
      layers.setWorkload(answer.cells);
    } catch (err) {
      fail('plans.error.workload', err);
    }
  }

  async function loadHistory(): Promise<void> {
    if (!open) return;
    const version = open.version;
    try {
      const entries = await busy(() => fetchHistory(version));
      if (open?.version !== version) return;
      renderHistory(entries);
    } catch (err) {
      fail('plans.error.history', err);
    }
  }

  function renderHistory(entries: HistoryEntry[]): void {
    historyList.replaceChildren(
      ...entries.map((e) =>
        el(
          'li',
          { 'data-revision': String(e.revision), class: e.undone ? 'undone' : '' },
          el('span', { class: 'plan-history-summary' }, e.summary),
          el('span', { class: 'plan-history-meta' }, ` · ${e.username ?? '—'} · ${formatApiTime(e.at, true)}${e.undone ? ` · ${t('plans.history.undone')}` : ''}`),
        ),
      ),
    );
  }

  async function flyToCell(code: string): Promise<void> {
    if (!open) return;
    try {
      const cells = await busy(() => fetchPlanCells(open?.version ?? 0, [code]));
      const bbox = featureBbox(cells.features.map((f) => f.geometry.coordinates));
      if (bbox) options.fitBounds(bbox);
      editor.select([code]);
    } catch (err) {
      fail('plans.error.cells', err);
    }
  }

  // ------------------------------------------------------------ edits

  /** After any change: the tiles, workload and history again (and the diff, if shown). */
  async function afterChange(outcome: EditOutcome): Promise<void> {
    if (!open) return;
    open = { ...open, revision: outcome.revision };
    renderOpen();
    layers.refresh();
    editor.afterEdit(outcome.removed);
    await Promise.all([loadWorkload(), loadHistory(), diffView.hidden ? Promise.resolve() : showDiff()]);
  }

  function explain(err: unknown): void {
    const issues = refusedIssues(err);
    if (issues) {
      layers.setIssues(issues);
      setMessage('plans.refused', err instanceof ApiError ? err.message : '', 'error', { count: issues.length });
      return;
    }
    const current = conflictCurrent(err);
    if (current && open) {
      open = { ...open, revision: current.revision };
      renderOpen();
      layers.setCurrent(current.cells);
      layers.refresh();
      setMessage('plans.conflict', err instanceof ApiError ? err.message : '', 'warn');
      void loadWorkload();
      void loadHistory();
      return;
    }
    if (err instanceof ApiError && err.status === 409 && open) {
      // a stale undo/redo: catch up with the plan as it is
      setMessage('plans.conflict', err.message, 'warn');
      void refreshOpen();
      return;
    }
    fail('plans.error.edit', err);
  }

  async function refreshOpen(): Promise<void> {
    if (!open) return;
    try {
      const plan = await busy(() => fetchPlan(open?.version ?? 0));
      if (open?.version !== plan.version) return;
      open = plan;
      renderOpen();
      layers.refresh();
      await Promise.all([loadWorkload(), loadHistory()]);
    } catch (err) {
      fail('plans.error.open', err);
    }
  }

  /** Runs one of this panel's own writes; what the feed said of the plan meanwhile is followed after it. */
  async function own<T>(run: () => Promise<T>): Promise<T> {
    writing++;
    try {
      return await busy(run);
    } finally {
      writing--;
      if (writing === 0 && heardWhileWriting) {
        heardWhileWriting = false;
        window.setTimeout(() => void followOpen(), 0);
      }
    }
  }

  /** The open plan changed on the server (another planner, another tab): show it as it is now. */
  async function followOpen(): Promise<void> {
    if (!open) return;
    if (writing > 0) {
      heardWhileWriting = true;
      return;
    }
    const { version, revision, status } = open;
    try {
      const plan = await busy(() => fetchPlan(version));
      if (open?.version !== version || writing > 0) return;
      if (plan.revision === revision && plan.status === status) return;
      open = plan;
      renderOpen();
      layers.refresh();
      setMessage('plans.changed.elsewhere', '', 'warn', { revision: plan.revision });
      await Promise.all([loadWorkload(), loadHistory()]);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && open?.version === version) {
        closePlan();
        setMessage('plans.gone', '', 'warn', { version });
        return;
      }
      fail('plans.error.open', err);
    }
  }

  async function submit(request: (version: number, revision: number) => Promise<EditOutcome>): Promise<boolean> {
    if (!open) return false;
    const { version, revision } = open;
    layers.setCurrent(null);
    setMessage('plans.saving', '');
    try {
      const outcome = await own(() => request(version, revision));
      layers.setIssues(outcome.warnings.length ? outcome.warnings : null);
      setMessage(outcome.warnings.length ? 'plans.saved.warnings' : 'plans.saved', outcome.summary, outcome.warnings.length ? 'warn' : 'ok', { count: outcome.warnings.length });
      await afterChange(outcome);
      return true;
    } catch (err) {
      explain(err);
      return false;
    }
  }

  async function step(which: 'undo' | 'redo'): Promise<void> {
    if (!open || open.status !== 'draft') return;
    const done = await submit((v, r) => (which === 'undo' ? undoEdit(v, r) : redoEdit(v, r)));
    if (done) layers.setIssues(null);
  }

  // ------------------------------------------------------------ check, rebalance, diff, publish

  async function check(): Promise<void> {
    if (!open) return;
    try {
      const answer = await busy(() => fetchIssues(open?.version ?? 0));
      layers.setIssues(answer.issues);
      setMessage('plans.checked', '', answer.errors ? 'error' : answer.warnings ? 'warn' : 'ok', { errors: answer.errors, warnings: answer.warnings });
    } catch (err) {
      fail('plans.error.issues', err);
    }
  }

  function rebalanceRequest(): RebalanceRequest | null {
    const selected = editor.selected();
    const request: RebalanceRequest = {};
    const scope = scopeSelect.value;
    if (scope === 'township') {
      const code = townshipInput.value.trim();
      if (!code) return null;
      request.township = code;
    } else if (scope === 'villages') {
      const villages = [...new Set(selected.map((c) => workload?.cells.find((w) => w.code === c)?.village_code).filter((v): v is string => !!v))];
      if (!villages.length) return null;
      request.villages = villages;
    } else {
      if (!selected.length) return null;
      request.cells = [...selected];
    }
    const value = Number(targetValue.value);
    if (targetKind.value === 'load') {
      if (!(value > 0)) return null;
      request.target_load = value;
    } else if (value > 0) request.target_cells = Math.round(value);
    else {
      // by default as many cells as the scope has now: the same cells, evened out
      const inScope = (workload?.cells ?? []).filter((c) =>
        request.township ? c.village_code.startsWith(request.township) : request.villages ? request.villages.includes(c.village_code) : selected.includes(c.code),
      );
      if (!inScope.length) return null;
      request.target_cells = inScope.length;
    }
    const tolerance = Number(toleranceInput.value);
    if (Number.isFinite(tolerance) && tolerance > 0) request.tolerance = tolerance / 100;
    return request;
  }

  function renderRebalance(): void {
    if (!rebalanced) return;
    const r = rebalanced;
    const rows: [MessageKey, string][] = [
      ['plans.rb.cells', formatNumber(r.cells)],
      ['plans.rb.target', formatDecimal(r.target_load)],
      ['plans.rb.maxdev', formatPercent(r.max_deviation)],
      ['plans.rb.met', r.tolerance_met ? t('plans.yes') : t('plans.no')],
      ['plans.rb.pp', formatDecimal(r.mean_polsby_popper, 2)],
      ['plans.rb.contiguous', formatPercent(r.contiguous_share)],
      ['plans.rb.households', formatNumber(r.households)],
      ['plans.rb.moved', formatNumber(r.households_moved)],
    ];
    rebalanceOut.replaceChildren(
      el('dl', { class: 'plan-figures' }, ...rows.flatMap(([k, v]) => [text('dt', k), el('dd', { 'data-figure': k }, v)])),
      ...(r.shortfalls.length ? [text('h4', 'plans.rb.shortfalls'), el('ul', { class: 'plan-shortfalls' }, ...r.shortfalls.map((s) => el('li', { 'data-kind': s.kind }, shortfallText(s))))] : []),
    );
  }

  async function runRebalance(): Promise<void> {
    const request = rebalanceRequest();
    if (!request) {
      setMessage('plans.hint.scope', '', 'error');
      return;
    }
    if (!open) return;
    const { version, revision } = open;
    setMessage('plans.rebalancing', '');
    try {
      const outcome = await own(() => rebalance(version, revision, request));
      rebalanced = outcome;
      renderRebalance();
      layers.setIssues(outcome.edit.warnings.length ? outcome.edit.warnings : null);
      setMessage('plans.saved', outcome.edit.summary, 'ok', { count: 0 });
      await afterChange(outcome.edit);
    } catch (err) {
      explain(err);
    }
  }

  function renderDiff(): void {
    if (!diff) return;
    const d = diff;
    const before = summaryFigures(d.before);
    const after = summaryFigures(d.after);
    const kinds = (['added', 'removed', 'reshaped', 'renamed'] as const).map((k) =>
      el('li', { 'data-change': k }, el('span', { class: 'swatch', style: `background:${CHANGE_COLORS[k]}` }), `${t(`plans.change.${k}` as MessageKey)}: ${formatNumber(d[k].length)}`, d[k].length ? el('span', { class: 'plan-codes' }, ` (${d[k].slice(0, 12).join('、')}${d[k].length > 12 ? '…' : ''})`) : ''),
    );
    diffView.replaceChildren(
      el('h4', {}, tf('plans.diff.title', { draft: d.draft_version, published: d.published_version })),
      el('ul', { class: 'plan-changes' }, ...kinds),
      el('p', { id: 'plan-diff-moving' }, tf('plans.diff.moving', { households: formatNumber(d.households_moving), workers: formatNumber(d.workers_moving.length) })),
      el(
        'table',
        { class: 'report-table plan-table', id: 'plan-diff-figures' },
        el('thead', {}, el('tr', {}, el('th', {}), text('th', 'plans.before', { class: 'num' }), text('th', 'plans.after', { class: 'num' }))),
        el('tbody', {}, ...before.map(([k, v], i) => el('tr', { 'data-figure': k }, text('th', k, { scope: 'row' }), el('td', { class: 'num' }, v), el('td', { class: 'num' }, after[i]?.[1] ?? '')))),
      ),
      text('h4', 'plans.diff.flows'),
      el(
        'div',
        { class: 'plan-table-scroll short' },
        el(
          'table',
          { class: 'report-table plan-table', id: 'plan-diff-flows' },
          el('thead', {}, el('tr', {}, text('th', 'plans.flow.from'), text('th', 'plans.flow.to'), text('th', 'plans.col.households', { class: 'num' }))),
          el('tbody', {}, ...d.flows.map((f) => el('tr', {}, el('td', {}, f.from ?? '—'), el('td', {}, f.to ?? '—'), el('td', { class: 'num' }, formatNumber(f.households))))),
        ),
      ),
      ...(d.workers_moving.length
        ? [text('h4', 'plans.diff.workers'), el('ul', { class: 'plan-workers-moving' }, ...d.workers_moving.map((w) => el('li', {}, `#${w.worker_id}: ${w.from} → ${w.to ?? '—'}`)))]
        : []),
      el(
        'div',
        { class: 'plan-table-scroll short' },
        el(
          'table',
          { class: 'report-table plan-table', id: 'plan-diff-cells' },
          el('thead', {}, el('tr', {}, text('th', 'plans.col.code'), text('th', 'plans.col.change'), text('th', 'plans.col.deviation', { class: 'num' }))),
          el('tbody', {}, ...d.cells.map((c) => el('tr', { 'data-code': c.code, 'data-change': c.change }, el('td', {}, c.code), el('td', {}, t(`plans.change.${c.change}` as MessageKey)), el('td', { class: 'num' }, `${c.deviation_before === null ? '—' : formatDeviation(c.deviation_before)} → ${c.deviation_after === null ? '—' : formatDeviation(c.deviation_after)}`)))),
        ),
      ),
    );
  }

  async function showDiff(): Promise<void> {
    if (!open) return;
    try {
      const answer = await busy(() => fetchDiff(open?.version ?? 0));
      diff = answer;
      diffView.hidden = false;
      renderDiff();
      layers.setChanges(answer.cells.map((c) => ({ code: c.code, change: c.change })));
    } catch (err) {
      fail('plans.error.diff', err);
    }
  }

  async function publish(): Promise<void> {
    if (!open) return;
    const version = open.version;
    let d: PlanDiff;
    try {
      d = await busy(() => fetchDiff(version));
    } catch (err) {
      fail('plans.error.diff', err);
      return;
    }
    const question = tf('plans.publish.confirm', {
      version,
      published: d.published_version,
      added: d.added.length,
      removed: d.removed.length,
      reshaped: d.reshaped.length,
      renamed: d.renamed.length,
      households: d.households_moving,
      workers: d.workers_moving.length,
    });
    if (!window.confirm(question)) return;
    try {
      const answer = await own(() => publishPlan(version));
      closePlan();
      await loadList();
      setMessage('plans.published', '', 'ok', { version: answer.version, archived: answer.archived_version, cells: answer.changed_cells, cases: answer.open_cases });
      listStatus.textContent = tf('plans.published', { version: answer.version, archived: answer.archived_version, cells: answer.changed_cells, cases: answer.open_cases });
      options.onPublished(answer);
    } catch (err) {
      fail('plans.error.publish', err);
    }
  }

  // ------------------------------------------------------------ wiring

  function setOpen(visible: boolean): void {
    root.hidden = !visible;
    toggle.setAttribute('aria-pressed', String(visible));
    document.body.dataset['plans'] = visible ? 'open' : '';
    if (visible) void loadList();
    // the plan's layers and its hold on map clicks go with the panel
    else if (open) closePlan();
    options.onOpenChange?.(visible);
  }

  toggle.addEventListener('click', () => setOpen(root.hidden !== false));
  closeButton.addEventListener('click', () => setOpen(false));
  newButton.addEventListener('click', () => void create());
  newName.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') void create();
  });
  closePlanButton.addEventListener('click', closePlan);
  checkButton.addEventListener('click', () => void check());
  rebalanceButton.addEventListener('click', () => {
    rebalanceDialog.hidden = !rebalanceDialog.hidden;
  });
  rebalanceRun.addEventListener('click', () => void runRebalance());
  diffButton.addEventListener('click', () => {
    if (!diffView.hidden) {
      diffView.hidden = true;
      layers.setChanges([]);
    } else void showDiff();
  });
  publishButton.addEventListener('click', () => void publish());

  document.addEventListener('keydown', (e) => {
    if (root.hidden || !open || open.status !== 'draft') return;
    if (!(e.ctrlKey || e.metaKey) || e.key.toLowerCase() !== 'z') return;
    const target = e.target as HTMLElement | null;
    if (target && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA' || target.tagName === 'SELECT')) return;
    e.preventDefault();
    void step(e.shiftKey ? 'redo' : 'undo');
  });

  onLangChange(() => {
    relabel(root);
    relabel(toggle);
    newName.placeholder = t('plans.new.placeholder');
    editor.relabel();
    workloadView.relabel();
    renderList();
    renderOpen();
    renderMessage();
    renderRebalance();
    renderDiff();
    layers.relabel();
  });

  return {
    root,
    toggle,
    setRole(next) {
      role = next;
      toggle.hidden = role !== 'planner';
      if (role !== 'planner') setOpen(false);
    },
    heard(versions) {
      if (role !== 'planner' || root.hidden) return;
      void loadList();
      if (open && (versions === null || versions.includes(open.version))) void followOpen();
    },
    reset() {
      closePlan();
      plans = [];
      renderList();
      root.hidden = true;
      toggle.hidden = true;
      toggle.setAttribute('aria-pressed', 'false');
      document.body.dataset['plans'] = '';
    },
    hook: {
      plans: () => plans,
      open: () => open,
      workload: () => workload,
      issues: () => layers.issuesShown(),
      message: () => message.textContent ?? '',
      tool: () => editor.tool(),
      drawing: () => editor.drawing(),
      selected: () => editor.selected(),
      select: (codes) => editor.select(codes),
      vertices: () => editor.vertices(),
      diff: () => diff,
      rebalanced: () => rebalanced,
      idle: () => (pending === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
    },
  };
}
