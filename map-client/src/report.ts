// The report form (上报事件): operators, dispatchers and grid workers file a
// case from the map. Opened from the header's button, or from 在此上报 in the
// popup of a place clicked on the map (selection.ts), which places the point
// there; or an address typed with live suggestions (debounced) from
//
//   GET /api/v1/geocode?q=…&limit=5 → {candidates: [{address, lon, lat, score, village_name}], accepted}
//
// of which one is picked to place the point (which may also be dragged, or
// placed again with 在地图上选点). Before it is sent, the form shows the open
// cases it would be told are possible duplicates, refreshed when the place or
// the category changes:
//
//   GET /api/v1/incidents/possible-duplicates?category=&lon=&lat= → {items: [{…summary, distance_m}]}
//
// each of which opens that case. Sending:
//
//   POST /api/v1/incidents  Idempotency-Key: …  {category, severity, description, reporter?, location}
//
// One key per form instance (a new one only when what is sent changed after
// a failed attempt, which the server would refuse as a reused key), so a
// double click or a retry after a lost answer files one case; the button is
// disabled while sending. On success the form closes and the new case opens.
//
// Photos (photos.ts) are chosen with the form and checked as they are chosen;
// they are sent once the case exists, one by one, by the case's photo section
// (`onFiled`'s batch), which says there which one failed and why: the case is
// filed whatever happens to them, and photos can be added to it again.

import { Marker, type Map as MapLibreMap } from 'maplibre-gl';

import {
  ApiError,
  SEVERITIES,
  fetchGeocode,
  fetchPossibleDuplicates,
  isUnauthenticated,
  reportIncident,
  type GeocodeCandidate,
  type IncidentCategory,
  type IncidentDetail,
  type NearbyIncident,
  type NewReport,
  type Severity,
} from './api';
import { el, relabel, text } from './dom';
import { formatDistance, formatNumber, getLang, onLangChange, t, tDynamic, tf, type MessageKey } from './i18n';
import { createPhotoPicker, type PhotoBatch } from './photos';
import { cancelPick, startPick, type Pick } from './picker';

/** Roles the server takes reports from. */
export const REPORTERS = new Set(['operator', 'dispatcher', 'worker']);

const GEOCODE_DELAY_MS = 300;
const MIN_ADDRESS_CHARS = 2;
const MAX_DESCRIPTION_CHARS = 4000;

export interface ReportFormOptions {
  map: MapLibreMap;
  /** Fly the map to a place (a suggestion picked). */
  flyTo(lon: number, lat: number): void;
  /** Open a case in the details (a possible duplicate). */
  onOpenCase(id: number | string, at: [number, number] | null): void;
  /** A case was filed: open it, refresh the list, and send its photos (null: none chosen). */
  onFiled(incident: IncidentDetail, photos: PhotoBatch | null): void;
  /** A failure the form does not explain itself (401s: the caller decides). */
  onError(what: MessageKey, err: unknown): void;
}

export interface ReportHook {
  open(): boolean;
  /** The point chosen, if any. */
  point(): [number, number] | null;
  /** The possible duplicates shown, and whether a fetch of them is under way. */
  duplicates(): NearbyIncident[];
  duplicatesState(): string;
  /** The key the next send uses. */
  idempotencyKey(): string;
  /** Resolves once no request of the form is under way. */
  idle(): Promise<void>;
}

export interface ReportForm {
  readonly root: HTMLElement;
  readonly toggle: HTMLButtonElement;
  setRole(role: string | null): void;
  setCategories(categories: IncidentCategory[]): void;
  /** Whether the signed-in user may report. */
  allowed(): boolean;
  /** Opens the form with the point at `at` (在此上报), or as it was. */
  openAt(at: [number, number] | null): void;
  reset(): void;
  hook: ReportHook;
}

function newKey(): string {
  if (typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}

const round6 = (n: number): number => Math.round(n * 1e6) / 1e6;

export function createReportForm(options: ReportFormOptions): ReportForm {
  let role: string | null = null;
  let categories: IncidentCategory[] = [];
  let point: [number, number] | null = null;
  /** The address of the suggestion picked (kept with the point), or typed. */
  let key = newKey();
  /** What was last sent under `key` (a different body needs a new key). */
  let sentWithKey: string | null = null;
  let sending = false;
  let duplicates: NearbyIncident[] = [];
  let duplicatesState: 'idle' | 'loading' | 'ready' | 'failed' = 'idle';
  let suggestions: GeocodeCandidate[] = [];
  let messageState: { key: MessageKey; params: Record<string, string>; kind: string } | null = null;
  let pending = 0;
  let waiters: (() => void)[] = [];
  const track = async <T>(p: Promise<T>): Promise<T> => {
    pending += 1;
    try {
      return await p;
    } finally {
      pending -= 1;
      if (pending === 0) {
        const w = waiters;
        waiters = [];
        for (const resolve of w) resolve();
      }
    }
  };

  const categoryName = (c: IncidentCategory): string => (getLang() === 'en' ? c.name_en || c.name_zh : c.name_zh || c.name_en);

  // ------------------------------------------------------------ elements

  const toggle = el('button', { type: 'button', id: 'report-toggle', class: 'view-button report-toggle', 'aria-pressed': 'false', 'aria-controls': 'report-panel', hidden: '' });
  toggle.append(text('span', 'intake.open'));
  const closeButton = el('button', { type: 'button', class: 'detail-close', id: 'report-close', 'data-i18n-title': 'intake.close' }, '×');

  const address = el('input', { type: 'text', id: 'report-address', name: 'address', autocomplete: 'off', maxlength: '300', role: 'combobox', 'aria-autocomplete': 'list', 'aria-controls': 'report-suggestions', 'aria-expanded': 'false' });
  const suggestionList = el('ul', { class: 'report-suggestions', id: 'report-suggestions', role: 'listbox', hidden: '' });
  const placeLine = el('p', { class: 'report-place', id: 'report-place', 'aria-live': 'polite' });
  const pickButton = text('button', 'intake.pick', { type: 'button', id: 'report-pick' });
  const category = el('select', { id: 'report-category', name: 'category', required: '' });
  const severity = el('select', { id: 'report-severity', name: 'severity' });
  const description = el('textarea', { id: 'report-description', name: 'description', rows: '3', maxlength: String(MAX_DESCRIPTION_CHARS), required: '' });
  const reporterName = el('input', { type: 'text', id: 'report-reporter-name', name: 'reporter-name', autocomplete: 'off', maxlength: '50' });
  const reporterPhone = el('input', { type: 'tel', id: 'report-reporter-phone', name: 'reporter-phone', autocomplete: 'off', maxlength: '30' });
  const duplicateList = el('ul', { class: 'report-duplicate-list', id: 'report-duplicate-list' });
  const duplicateNote = el('p', { class: 'report-duplicate-note', id: 'report-duplicate-note' });
  const duplicateBox = el(
    'section',
    { class: 'report-duplicates', id: 'report-duplicates', 'aria-labelledby': 'report-duplicates-heading', hidden: '' },
    text('h4', 'intake.duplicates', { id: 'report-duplicates-heading' }),
    duplicateNote,
    duplicateList,
  );
  const photos = createPhotoPicker('report-photos');
  const message = el('p', { class: 'report-message', id: 'report-message', role: 'status', 'aria-live': 'polite', hidden: '' });
  const submit = text('button', 'intake.submit', { type: 'submit', id: 'report-submit', class: 'primary' });

  const field = (label: MessageKey, control: HTMLElement, extra: HTMLElement[] = [], optional = false): HTMLElement =>
    el(
      'label',
      { class: 'report-field' },
      el('span', { class: 'report-label' }, text('span', label), ...(optional ? [text('span', 'intake.optional', { class: 'report-optional' })] : [])),
      control,
      ...extra,
    );

  const form = el(
    'form',
    { class: 'report-form', id: 'report-form', novalidate: '' },
    el(
      'div',
      { class: 'report-field report-where' },
      el('label', { class: 'report-label', for: 'report-address' }, text('span', 'intake.address')),
      address,
      suggestionList,
      el('div', { class: 'report-place-row' }, placeLine, pickButton),
    ),
    el('div', { class: 'report-row' }, field('intake.category', category), field('intake.severity', severity)),
    field('intake.description', description),
    el('div', { class: 'report-row' }, field('intake.reporterName', reporterName, [], true), field('intake.reporterPhone', reporterPhone, [], true)),
    duplicateBox,
    photos.root,
    message,
    el('div', { class: 'report-buttons' }, submit),
  );

  const root = el(
    'section',
    { class: 'panel analysis-panel report-panel', id: 'report-panel', 'aria-labelledby': 'report-heading', hidden: '' },
    el('div', { class: 'analysis-header' }, text('h2', 'intake.title', { id: 'report-heading' }), closeButton),
    form,
  );

  // ------------------------------------------------------------ rendering

  const renderCategories = (): void => {
    const value = category.value;
    category.replaceChildren(
      text('option', 'intake.category.choose', { value: '' }),
      ...categories.map((c) => el('option', { value: c.code }, categoryName(c))),
    );
    category.value = categories.some((c) => c.code === value) ? value : '';
  };
  const renderSeverities = (): void => {
    const value = severity.value || 'moderate';
    severity.replaceChildren(...SEVERITIES.map((s) => el('option', { value: s }, tDynamic(`severity.${s}`, s))));
    severity.value = value;
  };
  const renderPlace = (): void => {
    placeLine.dataset['placed'] = String(point !== null);
    placeLine.textContent = point
      ? tf('intake.place', { lon: point[0].toFixed(5), lat: point[1].toFixed(5) })
      : t(address.value.trim() ? 'intake.place.address' : 'intake.place.none');
  };
  const renderMessage = (): void => {
    message.hidden = messageState === null;
    message.dataset['kind'] = messageState?.kind ?? '';
    message.textContent = messageState ? tf(messageState.key, messageState.params) : '';
  };
  const setMessage = (k: MessageKey | null, kind = '', params: Record<string, string> = {}): void => {
    messageState = k ? { key: k, params, kind } : null;
    renderMessage();
  };

  const categoryLabel = (code: string): string => {
    const c = categories.find((x) => x.code === code);
    return c ? categoryName(c) : code;
  };

  const renderDuplicates = (): void => {
    duplicateBox.dataset['state'] = duplicatesState;
    duplicateBox.hidden = duplicatesState === 'idle' || (duplicatesState === 'ready' && duplicates.length === 0);
    duplicateBox.dataset['count'] = String(duplicates.length);
    if (duplicatesState === 'loading' && duplicates.length === 0) duplicateNote.textContent = t('intake.duplicates.loading');
    else if (duplicatesState === 'failed') duplicateNote.textContent = t('intake.duplicates.failed');
    else duplicateNote.textContent = tf('intake.duplicates.hint', { n: formatNumber(duplicates.length) });
    duplicateList.replaceChildren(
      ...duplicates.map((d) => {
        const button = el(
          'button',
          { type: 'button', class: 'report-duplicate', 'data-id': String(d.id) },
          el('span', { class: 'report-duplicate-title' }, `#${d.id} ${d.title || ''}`.trim()),
          el(
            'span',
            { class: 'report-duplicate-meta' },
            [categoryLabel(d.category), tDynamic(`status.${d.status}`, d.status), formatDistance(d.distance_m)].join(' · '),
          ),
        );
        button.title = tf('detail.show', { id: String(d.id) });
        button.addEventListener('click', () => options.onOpenCase(d.id, Number.isFinite(d.lon) && Number.isFinite(d.lat) ? [d.lon, d.lat] : null));
        return el('li', {}, button);
      }),
    );
  };

  const renderSuggestions = (): void => {
    suggestionList.hidden = suggestions.length === 0;
    address.setAttribute('aria-expanded', String(suggestions.length > 0));
    suggestionList.replaceChildren(
      ...suggestions.map((c, i) => {
        const button = el(
          'button',
          { type: 'button', class: 'report-suggestion', role: 'option', 'data-index': String(i), 'data-lon': String(c.lon), 'data-lat': String(c.lat) },
          el('span', { class: 'report-suggestion-address' }, c.address),
          el('span', { class: 'report-suggestion-score' }, `${Math.round(c.score * 100)}%`),
        );
        button.addEventListener('click', () => chooseSuggestion(c));
        return el('li', {}, button);
      }),
    );
  };

  // ------------------------------------------------------------ the point

  const markerElement = el('div', { class: 'report-marker', id: 'report-marker', 'aria-hidden': 'true' });
  const marker = new Marker({ element: markerElement, draggable: true, anchor: 'bottom' });
  let markerShown = false;
  marker.on('dragend', () => {
    const at = marker.getLngLat();
    setPoint([round6(at.lng), round6(at.lat)], false);
  });

  const setPoint = (at: [number, number] | null, moveMarker = true): void => {
    point = at;
    if (at && !root.hidden) {
      if (moveMarker || !markerShown) marker.setLngLat(at);
      if (!markerShown) {
        marker.addTo(options.map);
        markerShown = true;
      }
    } else if (markerShown) {
      marker.remove();
      markerShown = false;
    }
    renderPlace();
    void refreshDuplicates();
  };

  let pointPick: Pick | null = null;
  const stopPointPick = (): void => {
    if (pointPick) cancelPick(pointPick);
    pointPick = null;
    pickButton.setAttribute('aria-pressed', 'false');
  };
  pickButton.addEventListener('click', () => {
    if (pointPick) {
      stopPointPick();
      return;
    }
    const pick: Pick = {
      kind: 'point',
      onPoint: (at) => {
        pointPick = null;
        pickButton.setAttribute('aria-pressed', 'false');
        setPoint([round6(at[0]), round6(at[1])]);
      },
      onCancel: () => {
        if (pointPick === pick) {
          pointPick = null;
          pickButton.setAttribute('aria-pressed', 'false');
        }
      },
    };
    pointPick = pick;
    pickButton.setAttribute('aria-pressed', 'true');
    startPick(pick);
  });

  // ------------------------------------------------------------ possible duplicates

  let duplicatesController: AbortController | null = null;
  const refreshDuplicates = async (): Promise<void> => {
    duplicatesController?.abort();
    duplicatesController = null;
    const code = category.value;
    if (!point || !code || root.hidden) {
      duplicates = [];
      duplicatesState = 'idle';
      renderDuplicates();
      return;
    }
    const controller = new AbortController();
    duplicatesController = controller;
    duplicatesState = 'loading';
    renderDuplicates();
    try {
      const items = await track(fetchPossibleDuplicates(code, point[0], point[1], controller.signal));
      if (controller.signal.aborted) return;
      duplicates = items;
      duplicatesState = 'ready';
    } catch (err) {
      if (controller.signal.aborted) return;
      duplicates = [];
      duplicatesState = 'failed';
      if (isUnauthenticated(err)) options.onError('intake.title', err);
    } finally {
      if (duplicatesController === controller) duplicatesController = null;
    }
    renderDuplicates();
  };

  // ------------------------------------------------------------ address suggestions

  let geocodeTimer = 0;
  let geocodeController: AbortController | null = null;
  const clearSuggestions = (): void => {
    window.clearTimeout(geocodeTimer);
    geocodeController?.abort();
    geocodeController = null;
    suggestions = [];
    renderSuggestions();
  };
  const geocode = async (q: string): Promise<void> => {
    geocodeController?.abort();
    const controller = new AbortController();
    geocodeController = controller;
    try {
      const answer = await track(fetchGeocode(q, 5, controller.signal));
      if (controller.signal.aborted || address.value.trim() !== q) return;
      suggestions = answer.candidates;
      renderSuggestions();
      if (suggestions.length === 0) setMessage('intake.address.none', 'hint');
      else if (messageState?.key === 'intake.address.none') setMessage(null);
    } catch (err) {
      if (controller.signal.aborted) return;
      if (isUnauthenticated(err)) options.onError('intake.title', err);
      suggestions = [];
      renderSuggestions();
    } finally {
      if (geocodeController === controller) geocodeController = null;
    }
  };
  address.addEventListener('input', () => {
    window.clearTimeout(geocodeTimer);
    const q = address.value.trim();
    renderPlace();
    if (q.length < MIN_ADDRESS_CHARS) {
      clearSuggestions();
      return;
    }
    geocodeTimer = window.setTimeout(() => void geocode(q), GEOCODE_DELAY_MS);
  });
  address.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && suggestions.length) {
      e.stopPropagation();
      clearSuggestions();
    } else if (e.key === 'ArrowDown' && suggestions.length) {
      e.preventDefault();
      suggestionList.querySelector<HTMLButtonElement>('button')?.focus();
    } else if (e.key === 'Enter' && suggestions.length) {
      e.preventDefault();
      const best = suggestions[0];
      if (best) chooseSuggestion(best);
    }
  });
  const chooseSuggestion = (c: GeocodeCandidate): void => {
    address.value = c.address;
    clearSuggestions();
    if (messageState?.key === 'intake.address.none') setMessage(null);
    setPoint([c.lon, c.lat]);
    options.flyTo(c.lon, c.lat);
  };

  // ------------------------------------------------------------ sending

  const body = (): NewReport | null => {
    const code = category.value;
    const text_ = description.value.trim();
    const where = address.value.trim();
    const problems: [MessageKey, HTMLElement][] = [];
    if (!point && !where) problems.push(['intake.missing.place', address]);
    if (!code) problems.push(['intake.missing.category', category]);
    if (!text_) problems.push(['intake.missing.description', description]);
    for (const control of [address, category, description]) control.removeAttribute('aria-invalid');
    const first = problems[0];
    if (first) {
      for (const [, control] of problems) control.setAttribute('aria-invalid', 'true');
      setMessage(first[0], 'error');
      first[1].focus();
      return null;
    }
    const report: NewReport = {
      category: code,
      severity: (severity.value || 'moderate') as Severity,
      description: text_,
      location: {},
    };
    if (point) {
      report.location.lon = point[0];
      report.location.lat = point[1];
    }
    if (where) report.location.address = where;
    const name = reporterName.value.trim();
    const phone = reporterPhone.value.trim();
    if (name || phone) report.reporter = { ...(name ? { name } : {}), ...(phone ? { phone } : {}) };
    return report;
  };

  const send = async (): Promise<void> => {
    if (sending) return;
    const report = body();
    if (!report) return;
    const json = JSON.stringify(report);
    // the same form sent again (a double click, a retry) keeps its key; an edited one gets a new one
    if (sentWithKey !== null && sentWithKey !== json) key = newKey();
    sentWithKey = json;
    sending = true;
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    setMessage('intake.sending', 'hint');
    try {
      const answer = await track(reportIncident(report, key));
      const files = photos.files();
      const batch: PhotoBatch | null = files.length ? { files, stage: 'report', keepLocation: photos.keepLocation() } : null;
      clearForm();
      setOpen(false);
      options.onFiled(answer, batch);
    } catch (err) {
      if (isUnauthenticated(err)) {
        setMessage(null);
        options.onError('intake.title', err);
      } else {
        const status = err instanceof ApiError && err.status ? ` (${err.status})` : '';
        const detail = err instanceof ApiError ? (err.status === null ? t('error.network') : err.message) : String(err);
        setMessage('intake.failed', 'error', { detail: `${detail}${status}` });
      }
    } finally {
      sending = false;
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    }
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void send();
  });
  category.addEventListener('change', () => {
    category.removeAttribute('aria-invalid');
    void refreshDuplicates();
  });

  /** A new form instance: empty, with a new key. */
  const clearForm = (): void => {
    stopPointPick();
    clearSuggestions();
    address.value = '';
    description.value = '';
    reporterName.value = '';
    reporterPhone.value = '';
    photos.clear();
    category.value = '';
    severity.value = 'moderate';
    for (const control of [address, category, description]) control.removeAttribute('aria-invalid');
    key = newKey();
    sentWithKey = null;
    setMessage(null);
    setPoint(null);
  };

  // ------------------------------------------------------------ open / close

  const setOpen = (visible: boolean): void => {
    root.hidden = !visible;
    toggle.setAttribute('aria-pressed', String(visible));
    document.body.dataset['report'] = visible ? 'open' : '';
    if (!visible) {
      stopPointPick();
      clearSuggestions();
      duplicatesController?.abort();
      if (markerShown) {
        marker.remove();
        markerShown = false;
      }
    } else {
      // the point comes back on the map with the form
      setPoint(point);
    }
  };

  toggle.addEventListener('click', () => setOpen(root.hidden !== false));
  closeButton.addEventListener('click', () => setOpen(false));

  onLangChange(() => {
    relabel(root);
    relabel(toggle);
    renderCategories();
    renderSeverities();
    renderPlace();
    renderDuplicates();
    renderMessage();
    address.placeholder = t('intake.address.placeholder');
  });

  renderCategories();
  renderSeverities();
  renderPlace();
  address.placeholder = t('intake.address.placeholder');

  return {
    root,
    toggle,
    setRole(next) {
      role = next;
      toggle.hidden = !REPORTERS.has(role ?? '');
      if (toggle.hidden) setOpen(false);
    },
    setCategories(next) {
      categories = next;
      renderCategories();
      renderDuplicates();
    },
    allowed: () => REPORTERS.has(role ?? ''),
    openAt(at) {
      if (!REPORTERS.has(role ?? '')) return;
      if (root.hidden) setOpen(true);
      if (at) setPoint([round6(at[0]), round6(at[1])]);
      (category.value ? description : category).focus();
    },
    reset() {
      clearForm();
      setOpen(false);
      categories = [];
      renderCategories();
      role = null;
      toggle.hidden = true;
    },
    hook: {
      open: () => !root.hidden,
      point: () => point,
      duplicates: () => duplicates,
      duplicatesState: () => duplicatesState,
      idempotencyKey: () => key,
      idle: () => (pending === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
    },
  };
}
