// The rules view (规则): how long each tier has to settle a case, and how
// near in space and time another report must be to be suggested as its
// duplicate.
//
//   GET    /api/v1/incident-deadlines                        → [{category, severity, tier, hours}]
//   PUT    /api/v1/incident-deadlines                        {category, severity, tier, hours}
//   DELETE /api/v1/incident-deadlines?category=&severity=&tier=
//   GET    /api/v1/incident-categories                       → [{code, …, duplicate_radius_m, duplicate_window_hours}]
//   PATCH  /api/v1/incident-categories/{code}                {duplicate_radius_m, duplicate_window_hours}
//
// Every signed-in user reads the rules; only an administrator of the whole
// city changes them (the server decides; the view offers inputs to no one
// else). A deadline row with `category` null is the default; a category's
// own rule takes precedence, and an emptied one is dropped so the default
// applies again. Changes are checked here before anything is sent, and the
// view is loaded again after a save, so it always shows what the server
// holds. A changed deadline applies from the next time a case is given one:
// open cases keep theirs.

import {
  ApiError,
  MAX_DEADLINE_HOURS,
  MAX_DUPLICATE_RADIUS_M,
  MAX_DUPLICATE_WINDOW_HOURS,
  SEVERITIES,
  TIERS,
  dropDeadline,
  fetchCategories,
  fetchDeadlines,
  isUnauthenticated,
  setDeadline,
  setDuplicateReach,
  type DeadlineRule,
  type IncidentCategory,
  type Session,
  type Severity,
  type Tier,
} from './api';
import { el, relabel, text } from './dom';
import { formatNumber, getLang, onLangChange, t, tf, type MessageKey } from './i18n';

export interface RulesViewOptions {
  /** A load failed (401s included: the caller decides what they mean). */
  onError(what: MessageKey, err: unknown): void;
  /** Categories were saved with a new duplicate reach (the other views keep a copy). */
  onCategories(categories: IncidentCategory[]): void;
}

export interface RulesView {
  readonly root: HTMLElement;
  /** The view is shown: fetches the rules. */
  show(): void;
  /** Who is signed in decides whether the rules can be changed here. */
  setSession(session: Session): void;
  /** Back to the state before any data (sign-out). */
  reset(): void;
}

/** Only an administrator of the whole city changes the rules (the server's own test). */
function keepsRules(session: Session | null): boolean {
  return session?.role === 'admin' && session.area.level === 'city';
}

type LoadState = 'idle' | 'loading' | 'ready' | 'failed';

/** A whole number in 1..=max, or null for an empty field; NaN when the text is neither. */
function parseWhole(value: string, max: number): number | null {
  const s = value.trim();
  if (s === '') return null;
  const n = Number(s);
  return Number.isInteger(n) && n >= 1 && n <= max ? n : Number.NaN;
}

/**
 * A field differs from what was saved. Text a number field cannot read ("12h") reads as an
 * empty value, so it counts as an edit too, and is refused on saving.
 */
const edited = (input: HTMLInputElement): boolean => input.validity.badInput || input.value.trim() !== input.dataset['saved'];

/** One change of the deadline table, as sent. */
type DeadlineChange = { kind: 'set'; rule: DeadlineRule } | { kind: 'drop'; category: string; severity: Severity; tier: Tier };

/** Why a save failed, in the current language. */
function failureText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === null) return t('error.network');
    const detail = err.problem?.detail ?? err.problem?.title ?? err.message;
    return `${t('rules.failed')} (${err.status}): ${detail}`;
  }
  return `${t('rules.failed')}: ${err instanceof Error ? err.message : String(err)}`;
}

/**
 * A section of the view: heading, hint, `above` the table, the table, 保存 and 还原, and the
 * line saying how the last save went. Ids and message keys follow `name` (`rules-${name}…`).
 */
function editableTable(
  name: 'deadlines' | 'reach',
  ...above: HTMLElement[]
): { form: HTMLFormElement; table: HTMLTableElement; save: HTMLButtonElement; revert: HTMLButtonElement; message: HTMLElement } {
  const table = el('table', { class: 'report-table rules-table', id: `rules-${name}` });
  const save = el('button', { type: 'submit', id: `rules-${name}-save`, class: 'report-button primary' });
  save.append(text('span', 'rules.save'));
  const revert = el('button', { type: 'button', id: `rules-${name}-revert`, class: 'report-button' });
  revert.append(text('span', 'rules.revert'));
  const message = el('p', { class: 'report-message', id: `rules-${name}-message` });
  message.hidden = true;
  const form = el(
    'form',
    { class: 'report-section rules-section', id: `rules-${name}-form`, 'aria-labelledby': `rules-${name}-heading`, novalidate: '' },
    text('h3', `rules.${name}`, { id: `rules-${name}-heading` }),
    text('p', `rules.${name}.hint`, { class: 'hint' }),
    ...above,
    el('div', { class: 'table-scroll' }, table),
    el('div', { class: 'report-buttons rules-buttons' }, save, revert),
    message,
  );
  return { form, table, save, revert, message };
}

export function createRulesView(options: RulesViewOptions): RulesView {
  let session: Session | null = null;
  let state: LoadState = 'idle';
  let deadlines: DeadlineRule[] = [];
  let categories: IncidentCategory[] = [];
  let controller: AbortController | null = null;
  let saving = false;
  const editable = (): boolean => keepsRules(session) && state === 'ready' && !saving;

  const categoryName = (c: IncidentCategory): string => (getLang() === 'en' ? c.name_en || c.name_zh : c.name_zh || c.name_en);

  // ------------------------------------------------------------ deadlines

  const scopeSelect = el('select', { id: 'rules-scope', name: 'scope' });
  const {
    form: deadlineForm,
    table: deadlineTable,
    save: deadlineSave,
    revert: deadlineRevert,
    message: deadlineMessage,
  } = editableTable(
    'deadlines',
    el('div', { class: 'table-head' }, el('label', { class: 'report-field' }, text('span', 'rules.scope', { class: 'report-label' }), scopeSelect)),
    el('p', { class: 'hint', id: 'rules-scope-hint' }),
  );
  const scopeHint = deadlineForm.querySelector<HTMLElement>('#rules-scope-hint') as HTMLElement;

  /** The hours a rule gives, for `category` (null: the default). */
  const ruleHours = (category: string | null, severity: Severity, tier: Tier): number | null =>
    deadlines.find((r) => r.category === category && r.severity === severity && r.tier === tier)?.hours ?? null;

  const renderScopes = (): void => {
    const value = scopeSelect.value;
    scopeSelect.replaceChildren(
      text('option', 'rules.scope.default', { value: '' }),
      ...categories.map((c) => {
        const own = deadlines.filter((r) => r.category === c.code).length;
        return el('option', { value: c.code }, own ? tf('rules.scope.own', { name: categoryName(c), n: own }) : categoryName(c));
      }),
    );
    scopeSelect.value = categories.some((c) => c.code === value) ? value : '';
  };

  const deadlineInputs = (): HTMLInputElement[] => [...deadlineTable.querySelectorAll<HTMLInputElement>('input[data-severity]')];

  const renderDeadlines = (): void => {
    const scope = scopeSelect.value || null;
    scopeHint.textContent = t(!scope ? 'rules.scope.defaultHint' : keepsRules(session) ? 'rules.scope.categoryHint' : 'rules.scope.categoryHint.view');
    const head = el(
      'tr',
      {},
      el('th', { scope: 'col' }, t('rules.col.severity')),
      ...TIERS.map((tier) => el('th', { scope: 'col', 'data-field': tier }, t(`tier.${tier}` as MessageKey))),
    );
    const body = SEVERITIES.map((severity) => {
      const cells = TIERS.map((tier) => {
        const fallback = ruleHours(null, severity, tier);
        const own = scope ? ruleHours(scope, severity, tier) : fallback;
        const shown = own ?? fallback;
        const cell = el('td', { class: 'num', 'data-severity': severity, 'data-tier': tier, 'data-hours': shown === null ? '' : String(shown) });
        cell.dataset['source'] = own !== null ? 'own' : 'default';
        if (keepsRules(session)) {
          const input = el('input', {
            type: 'number',
            inputmode: 'numeric',
            min: '1',
            max: String(MAX_DEADLINE_HOURS),
            step: '1',
            'data-severity': severity,
            'data-tier': tier,
            'aria-label': `${t(`severity.${severity}` as MessageKey)} · ${t(`tier.${tier}` as MessageKey)} · ${t('rules.hours')}`,
          });
          input.value = own === null ? '' : String(own);
          input.dataset['saved'] = input.value;
          if (scope && fallback !== null) input.placeholder = tf('rules.inherits', { n: formatNumber(fallback) });
          cell.append(input);
        } else {
          cell.append(shown === null ? '—' : formatNumber(shown));
          if (scope && own === null && shown !== null) cell.append(' ', el('span', { class: 'rules-inherited' }, t('rules.inherited')));
        }
        return cell;
      });
      return el('tr', { 'data-severity': severity }, el('th', { scope: 'row' }, t(`severity.${severity}` as MessageKey)), ...cells);
    });
    deadlineTable.replaceChildren(
      el('caption', {}, t('rules.deadlines.caption')),
      el('thead', {}, head),
      el('tbody', {}, ...body),
    );
    markDirty();
  };

  /** Unsaved edits hold the scope: it cannot change until they are saved or reverted. */
  const deadlinesDirty = (): boolean => deadlineInputs().some(edited);

  // ------------------------------------------------------------ duplicate reach

  const { form: reachForm, table: reachTable, save: reachSave, revert: reachRevert, message: reachMessage } = editableTable('reach');

  const reachInputs = (): HTMLInputElement[] => [...reachTable.querySelectorAll<HTMLInputElement>('input[data-code]')];
  const reachDirty = (): boolean => reachInputs().some(edited);

  const renderReach = (): void => {
    const head = el(
      'tr',
      {},
      el('th', { scope: 'col' }, t('rules.col.category')),
      el('th', { scope: 'col', 'data-field': 'duplicate_radius_m' }, t('rules.col.radius')),
      el('th', { scope: 'col', 'data-field': 'duplicate_window_hours' }, t('rules.col.window')),
    );
    const body = categories.map((c) => {
      const cell = (field: 'duplicate_radius_m' | 'duplicate_window_hours', max: number, unit: MessageKey): HTMLTableCellElement => {
        const value = c[field];
        const td = el('td', { class: 'num', 'data-field': field, 'data-value': String(value) });
        if (keepsRules(session)) {
          const input = el('input', {
            type: 'number',
            inputmode: 'numeric',
            min: '1',
            max: String(max),
            step: '1',
            'data-code': c.code,
            'data-field': field,
            'aria-label': `${categoryName(c)} · ${t(unit)}`,
          });
          input.value = String(value);
          input.dataset['saved'] = input.value;
          td.append(input);
        } else {
          td.append(formatNumber(value));
        }
        return td;
      };
      return el(
        'tr',
        { 'data-code': c.code },
        el('th', { scope: 'row' }, categoryName(c)),
        cell('duplicate_radius_m', MAX_DUPLICATE_RADIUS_M, 'rules.col.radius'),
        cell('duplicate_window_hours', MAX_DUPLICATE_WINDOW_HOURS, 'rules.col.window'),
      );
    });
    reachTable.replaceChildren(el('caption', {}, t('rules.reach.caption')), el('thead', {}, head), el('tbody', {}, ...body));
    markDirty();
  };

  // ------------------------------------------------------------ the view

  const access = el('p', { class: 'hint', id: 'rules-access' });
  const status = el('p', { class: 'report-message', id: 'rules-status', role: 'alert' });
  status.hidden = true;
  const root = el(
    'section',
    { class: 'panel report rules', id: 'rules-view', 'aria-labelledby': 'rules-view-heading' },
    el('header', { class: 'report-header' }, text('h2', 'rules.title', { id: 'rules-view-heading' }), text('p', 'rules.intro', { class: 'hint' }), access, status),
    deadlineForm,
    reachForm,
  );
  root.hidden = true;

  const showMessage = (node: HTMLElement, message: string | null, kind: 'saved' | 'invalid' | 'error' = 'error'): void => {
    node.textContent = message ?? '';
    node.hidden = message === null;
    node.dataset['kind'] = kind;
    node.setAttribute('role', kind === 'saved' ? 'status' : 'alert');
  };

  function markDirty(): void {
    const canEdit = editable();
    const dDirty = deadlinesDirty();
    const rDirty = reachDirty();
    scopeSelect.disabled = state !== 'ready' || saving || dDirty;
    scopeSelect.title = dDirty ? t('rules.scope.held') : '';
    deadlineSave.disabled = !canEdit || !dDirty;
    deadlineRevert.disabled = !canEdit || !dDirty;
    reachSave.disabled = !canEdit || !rDirty;
    reachRevert.disabled = !canEdit || !rDirty;
    for (const input of [...deadlineInputs(), ...reachInputs()]) input.disabled = !canEdit;
    deadlineForm.dataset['dirty'] = String(dDirty);
    reachForm.dataset['dirty'] = String(rDirty);
    root.setAttribute('aria-busy', String(state === 'loading' || saving));
    for (const form of [deadlineForm, reachForm]) form.querySelector('.rules-buttons')?.toggleAttribute('hidden', !keepsRules(session));
  }

  const render = (): void => {
    root.dataset['state'] = state;
    root.dataset['mode'] = keepsRules(session) ? 'edit' : 'view';
    access.textContent = t(keepsRules(session) ? 'rules.access.edit' : 'rules.access.view');
    if (state === 'failed' || (state === 'loading' && deadlines.length === 0)) {
      status.textContent = t(state === 'failed' ? 'rules.unavailable' : 'rules.loading');
      status.hidden = false;
    } else {
      status.hidden = true;
    }
    renderScopes();
    renderDeadlines();
    renderReach();
  };

  const load = async (): Promise<void> => {
    controller?.abort();
    const mine = new AbortController();
    controller = mine;
    state = 'loading';
    render();
    try {
      const [d, c] = await Promise.all([fetchDeadlines(mine.signal), fetchCategories(mine.signal)]);
      if (mine.signal.aborted) return;
      deadlines = d;
      categories = c;
      state = 'ready';
      options.onCategories(c);
    } catch (err) {
      if (mine.signal.aborted || (err instanceof DOMException && err.name === 'AbortError')) return;
      state = 'failed';
      deadlines = [];
      categories = [];
      options.onError('rules.title', err);
    } finally {
      if (controller === mine) controller = null;
    }
    render();
  };

  /** Sends `changes` one by one; stops at the first refusal. Answers how many were saved, and the error if any. */
  const send = async <C>(changes: C[], one: (change: C) => Promise<unknown>): Promise<{ saved: number; error: unknown }> => {
    let saved = 0;
    for (const change of changes) {
      try {
        await one(change);
        saved += 1;
      } catch (error) {
        return { saved, error };
      }
    }
    return { saved, error: null };
  };

  /** After a save, the view is loaded again and the outcome shown under the form. */
  const finishSave = async (node: HTMLElement, outcome: { saved: number; error: unknown }): Promise<void> => {
    saving = false;
    if (outcome.error !== null && isUnauthenticated(outcome.error)) {
      options.onError('rules.title', outcome.error);
      return;
    }
    await load();
    if (outcome.error !== null) {
      const partial = outcome.saved > 0 ? ` ${tf('rules.partlySaved', { n: outcome.saved })}` : '';
      showMessage(node, `${failureText(outcome.error)}${partial}`, 'error');
    } else {
      showMessage(node, tf('rules.saved', { n: outcome.saved }), 'saved');
    }
  };

  // An edit clears the last save's message; 还原 (and, for deadlines, another scope) draws
  // the table again as saved.
  const sections = [
    { form: deadlineForm, message: deadlineMessage, redraw: renderDeadlines, redrawOn: [deadlineRevert, scopeSelect] },
    { form: reachForm, message: reachMessage, redraw: renderReach, redrawOn: [reachRevert] },
  ];
  for (const { form, message, redraw, redrawOn } of sections) {
    form.addEventListener('input', () => {
      showMessage(message, null);
      markDirty();
    });
    for (const control of redrawOn) {
      control.addEventListener(control instanceof HTMLSelectElement ? 'change' : 'click', () => {
        showMessage(message, null);
        redraw();
      });
    }
  }

  deadlineForm.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!editable()) return;
    const scope = scopeSelect.value || null;
    const changes: DeadlineChange[] = [];
    let invalid = 0;
    for (const input of deadlineInputs()) {
      const severity = input.dataset['severity'] as Severity;
      const tier = input.dataset['tier'] as Tier;
      const hours = parseWhole(input.value, MAX_DEADLINE_HOURS);
      // the default cannot be emptied: every case needs a deadline
      const bad = input.validity.badInput || Number.isNaN(hours) || (scope === null && hours === null);
      input.setAttribute('aria-invalid', String(bad));
      if (bad) {
        invalid += 1;
        continue;
      }
      if (!edited(input)) continue;
      if (hours === null) changes.push({ kind: 'drop', category: scope as string, severity, tier });
      else changes.push({ kind: 'set', rule: { category: scope, severity, tier, hours } });
    }
    if (invalid > 0) {
      showMessage(deadlineMessage, tf(scope ? 'rules.invalid.own' : 'rules.invalid.default', { max: formatNumber(MAX_DEADLINE_HOURS) }), 'invalid');
      deadlineInputs().find((i) => i.getAttribute('aria-invalid') === 'true')?.focus();
      return;
    }
    saving = true;
    markDirty();
    void send(changes, (c) => (c.kind === 'set' ? setDeadline(c.rule) : dropDeadline(c.category, c.severity, c.tier))).then((outcome) =>
      finishSave(deadlineMessage, outcome),
    );
  });

  reachForm.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!editable()) return;
    const byCode = new Map<string, { duplicate_radius_m?: number; duplicate_window_hours?: number }>();
    let invalid = 0;
    for (const input of reachInputs()) {
      const field = input.dataset['field'] as 'duplicate_radius_m' | 'duplicate_window_hours';
      const value = parseWhole(input.value, field === 'duplicate_radius_m' ? MAX_DUPLICATE_RADIUS_M : MAX_DUPLICATE_WINDOW_HOURS);
      const bad = input.validity.badInput || value === null || Number.isNaN(value);
      input.setAttribute('aria-invalid', String(bad));
      if (bad) {
        invalid += 1;
        continue;
      }
      if (!edited(input)) continue;
      const code = input.dataset['code'] as string;
      byCode.set(code, { ...byCode.get(code), [field]: value });
    }
    if (invalid > 0) {
      showMessage(
        reachMessage,
        tf('rules.invalid.reach', { radius: formatNumber(MAX_DUPLICATE_RADIUS_M), hours: formatNumber(MAX_DUPLICATE_WINDOW_HOURS) }),
        'invalid',
      );
      reachInputs().find((i) => i.getAttribute('aria-invalid') === 'true')?.focus();
      return;
    }
    saving = true;
    markDirty();
    void send([...byCode], ([code, change]) => setDuplicateReach(code, change)).then((outcome) => finishSave(reachMessage, outcome));
  });

  // Drawn again in the new language, with the edits not yet saved kept.
  const inputKey = (input: HTMLInputElement): string =>
    `${input.dataset['severity'] ?? input.dataset['code']}/${input.dataset['tier'] ?? input.dataset['field']}`;
  onLangChange(() => {
    const edits = new Map([...deadlineInputs(), ...reachInputs()].map((input) => [inputKey(input), input.value]));
    relabel(root);
    render();
    for (const input of [...deadlineInputs(), ...reachInputs()]) input.value = edits.get(inputKey(input)) ?? input.value;
    markDirty();
  });

  return {
    root,
    show() {
      if (!deadlinesDirty() && !reachDirty()) void load();
    },
    setSession(next) {
      session = next;
      render();
    },
    reset() {
      controller?.abort();
      controller = null;
      session = null;
      state = 'idle';
      saving = false;
      deadlines = [];
      categories = [];
      scopeSelect.value = '';
      showMessage(deadlineMessage, null);
      showMessage(reachMessage, null);
      render();
    },
  };
}
