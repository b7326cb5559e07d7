// The analysis panel (热力与热点分析), opened from the header: the heat map
// and hexagon counts (vector tiles), and one area analysis at a time (a
// choropleth of counts, Getis-Ord Gi* hot spots, local Moran's I clusters or
// emerging hot spots: GeoJSON from /api/v1/analysis/…), each with a legend;
// the incidents they count (category, severity, status, and a time slider of
// the last 24 months in CST, by month, with "play"); the unit and spatial
// weights of the area analyses; and the table of the most significant places
// (hotspots.ts).
//
// A new filter gives the tile layers new URLs (`setTiles`) and fetches the
// area analysis again. The tiles follow the live feed like the incidents'
// (TileRefresher); an area analysis is a snapshot, marked out of date when
// cases change, fetched again by 刷新 (Refresh).

import type { FeatureCollection } from 'geojson';
import type { ExpressionSpecification, GeoJSONSource, Map as MapLibreMap, VectorTileSource } from 'maplibre-gl';

import { ApiError, INCIDENT_STATUSES, SEVERITIES, isUnauthenticated, type IncidentCategory } from './api';
import {
  UNITS,
  analysisUrl,
  fetchAnalysis,
  weightsFor,
  type AggregateProperties,
  type AnalysisCollection,
  type AnalysisFilter,
  type AnalysisQuery,
} from './analysisapi';
import {
  AREA_LAYERS,
  BINS,
  BIN_COLORS,
  CHOROPLETH_COLORS,
  EMERGING_STYLE,
  ENDPOINT,
  HEAT_RAMP,
  HEXAGON_CLASSES,
  HIGHLIGHT_SOURCE,
  LAYER_IDS,
  NO_DATA_COLOR,
  QUADRANT_COLORS,
  SOURCE_OF,
  ANALYSIS_SOURCES,
  beforeId,
  choroplethColor,
  heatSource,
  hexagonsSource,
  highlightLayers,
  layersFor,
  quantileBreaks,
  filteredTiles,
  type AnalysisLayer,
  type AreaLayer,
} from './analysisstyle';
import { el, relabel, text } from './dom';
import { cstDay, formatDecimal, formatNumber, formatTime, getLang, onLangChange, t, tDynamic, tf, type MessageKey } from './i18n';
import { createHotspotTable, type HotspotTable } from './hotspots';
import { EMPTY } from './sources';

/** The time slider: this many months, the current one last. */
export const MONTHS = 24;
/** The default period: the last 12 months (the current one included). */
const DEFAULT_MONTHS = 12;
/** "Play": one month on per this many ms. */
const PLAY_STEP_MS = 1500;
const PERMUTATIONS = [0, 99, 499, 999] as const;
const DEFAULT_PERMUTATIONS = 999;
/** A fixed seed: the same query gives the same pseudo p-values (p_sim). */
const SEED = 18;

export type LayerState = 'off' | 'loading' | 'ready' | 'failed';

export interface Month {
  /** YYYY-MM (CST) */
  ym: string;
  /** RFC 3339: the first instant of the month in CST. */
  start: string;
}

/** The last `count` calendar months in CST, oldest first (the current one last). */
export function lastMonths(count: number = MONTHS, now: Date = new Date()): Month[] {
  const [year = 1970, month = 1] = cstDay(now).split('-').map(Number);
  const current = year * 12 + (month - 1);
  const out: Month[] = [];
  for (let m = current - count + 1; m <= current; m++) {
    const ym = `${Math.floor(m / 12)}-${String((m % 12) + 1).padStart(2, '0')}`;
    out.push({ ym, start: `${ym}-01T00:00:00+08:00` });
  }
  return out;
}

/** The start of the month after `month` (YYYY-MM), RFC 3339 in CST. */
function nextMonthStart(ym: string): string {
  const [year = 1970, month = 1] = ym.split('-').map(Number);
  const m = year * 12 + month; // the next month, 0-based
  return `${Math.floor(m / 12)}-${String((m % 12) + 1).padStart(2, '0')}-01T00:00:00+08:00`;
}

export interface AnalysisPanelOptions {
  map: MapLibreMap;
  /** Fits the map to a place (the part of it between the side panels). */
  fitBounds(bbox: [number, number, number, number]): void;
  /** A load failed for want of a session (the caller decides what it means). */
  onError(what: MessageKey, err: unknown): void;
  /** The panel was opened or closed. */
  onOpenChange?(open: boolean): void;
}

export interface AnalysisPanel {
  readonly root: HTMLElement;
  /** The header's button that opens and closes the panel. */
  readonly toggle: HTMLButtonElement;
  setCategories(categories: IncidentCategory[]): void;
  /** Cases changed (live feed): the area analysis shown is out of date. */
  incidentsChanged(): void;
  /** Everything may have changed (resync): the area analysis fetched again. */
  refresh(): void;
  /** A place outlined on the map (an alert's grid cell, a table row); null: none. */
  highlight(feature: GeoJSON.Feature | null): void;
  /** Back to the state before any data (sign-out): layers off, default filters. */
  reset(): void;
  /** For the browser tests (window.__wangge.analysis). */
  readonly hook: AnalysisHook;
}

export interface AnalysisHook {
  /** Each layer's state: off, loading, ready (drawn) or failed. */
  state(layer: AnalysisLayer): LayerState;
  /** Resolves with the layer's state once it is no longer loading and the map has drawn its data for the current view. */
  drawn(layer: AnalysisLayer): Promise<LayerState>;
  /** The area analysis shown and the URL it came from (null: none). */
  data(): { layer: AreaLayer; url: string; collection: AnalysisCollection } | null;
  /** The tile URL template of the heat map or the hexagons (null: off). */
  tiles(layer: 'heat' | 'hexagons'): string | null;
  /** The code of the place outlined (null: none). */
  highlighted(): string | null;
}

function option(value: string, key: MessageKey): HTMLOptionElement {
  return text('option', key, { value });
}

function swatch(color: string, extra: Record<string, string> = {}): HTMLElement {
  const node = el('span', { class: 'legend-swatch', 'aria-hidden': 'true', ...extra });
  node.style.background = color;
  return node;
}

/** The bbox of a polygon feature, [minLon, minLat, maxLon, maxLat]. */
export function featureBounds(feature: GeoJSON.Feature): [number, number, number, number] | null {
  let b: [number, number, number, number] | null = null;
  const visit = (c: unknown): void => {
    if (!Array.isArray(c)) return;
    if (typeof c[0] === 'number' && typeof c[1] === 'number') {
      const [x, y] = c as [number, number];
      b = b ? [Math.min(b[0], x), Math.min(b[1], y), Math.max(b[2], x), Math.max(b[3], y)] : [x, y, x, y];
      return;
    }
    for (const inner of c) visit(inner);
  };
  const g = feature.geometry;
  if (g && 'coordinates' in g) visit(g.coordinates);
  return b;
}

export function unitName(unit: string): string {
  return tDynamic(`unit.${unit}`, unit);
}

export function weightsName(weights: string): string {
  return tDynamic(`weights.${weights}`, weights);
}

export function binName(bin: number): string {
  return tDynamic(`bin.${bin}`, String(bin));
}

export function emergingName(category: string): string {
  return tDynamic(`emerging.${category}`, category);
}

/**
 * Resolves once source `id` has its data for the current view and a frame
 * has been drawn with it (or the source is gone, or `signal` aborts).
 */
async function sourceDrawn(map: MapLibreMap, id: string, signal: AbortSignal): Promise<void> {
  for (;;) {
    if (signal.aborted || !map.getSource(id)) return;
    if (map.isSourceLoaded(id) && !map.isMoving()) {
      await new Promise<void>((resolve) => {
        map.once('render', () => resolve());
        map.triggerRepaint();
      });
      if (!map.getSource(id) || (map.isSourceLoaded(id) && !map.isMoving())) return;
    }
    await new Promise<void>((resolve) => {
      const done = (): void => {
        map.off('idle', done);
        map.off('sourcedata', done);
        resolve();
      };
      map.on('idle', done);
      map.on('sourcedata', done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

export function createAnalysisPanel(options: AnalysisPanelOptions): AnalysisPanel {
  const { map } = options;
  let categories: IncidentCategory[] = [];
  const categoryName = (code: string): string => {
    const c = categories.find((x) => x.code === code);
    if (!c) return code;
    return getLang() === 'en' ? c.name_en || c.name_zh : c.name_zh || c.name_en;
  };

  // ------------------------------------------------------------ filters

  const statusSelect = el('select', { id: 'analysis-status', name: 'status' });
  statusSelect.append(
    option('', 'filter.all'),
    option('open', 'filter.status.open'),
    ...INCIDENT_STATUSES.map((s) => option(s, `status.${s}` as MessageKey)),
  );
  const severitySelect = el('select', { id: 'analysis-severity', name: 'severity' });
  severitySelect.append(option('', 'filter.all'), ...SEVERITIES.map((s) => option(s, `severity.${s}` as MessageKey)));
  const categorySelect = el('select', { id: 'analysis-category', name: 'category' });
  const renderCategories = (): void => {
    const value = categorySelect.value;
    categorySelect.replaceChildren(option('', 'filter.all'), ...categories.map((c) => el('option', { value: c.code }, categoryName(c.code))));
    categorySelect.value = categories.some((c) => c.code === value) ? value : '';
  };
  renderCategories();

  // the time slider: two thumbs (from, to) over the last MONTHS months
  let months = lastMonths();
  const fromInput = el('input', { type: 'range', id: 'analysis-from', min: '0', max: String(MONTHS - 1), step: '1' });
  const toInput = el('input', { type: 'range', id: 'analysis-to', min: '0', max: String(MONTHS - 1), step: '1' });
  fromInput.value = String(MONTHS - DEFAULT_MONTHS);
  toInput.value = String(MONTHS - 1);
  const periodLabel = el('output', { id: 'analysis-period', for: 'analysis-from analysis-to', 'aria-live': 'polite' });
  const playButton = el('button', { type: 'button', id: 'analysis-play', class: 'analysis-button', 'aria-pressed': 'false' });
  const playLabel = el('span', {});
  playButton.append(playLabel);

  const field = (key: MessageKey, control: HTMLElement, attrs: Record<string, string> = {}): HTMLElement =>
    el('label', { class: 'analysis-field', ...attrs }, text('span', key, { class: 'analysis-label' }), control);

  const range = (): [number, number] => {
    const a = Number(fromInput.value);
    const b = Number(toInput.value);
    return a <= b ? [a, b] : [b, a];
  };

  const filter = (): AnalysisFilter => {
    const [a, b] = range();
    const first = months[a] ?? months[0];
    const last = months[b];
    return {
      status: statusSelect.value,
      category: categorySelect.value,
      severity: severitySelect.value,
      since: first?.start ?? '',
      // up to now when the current month is in the range: new cases count
      until: last && b < months.length - 1 ? nextMonthStart(last.ym) : '',
    };
  };

  const renderPeriod = (): void => {
    const [a, b] = range();
    const from = months[a]?.ym ?? '';
    const to = months[b]?.ym ?? '';
    periodLabel.textContent = from === to ? tf('analysis.period.one', { month: from }) : tf('analysis.period', { from, to });
    periodLabel.dataset['since'] = filter().since;
    periodLabel.dataset['until'] = filter().until;
    fromInput.setAttribute('aria-valuetext', from);
    toInput.setAttribute('aria-valuetext', to);
    fromInput.setAttribute('aria-label', t('analysis.from'));
    toInput.setAttribute('aria-label', t('analysis.to'));
  };

  // ------------------------------------------------------------ unit and weights

  const unitSelect = el('select', { id: 'analysis-unit', name: 'unit' });
  const renderUnits = (): void => {
    const value = unitSelect.value || 'grid-cell';
    unitSelect.replaceChildren(...UNITS.map((u) => el('option', { value: u }, unitName(u))));
    unitSelect.value = value;
  };
  renderUnits();
  const weightsSelect = el('select', { id: 'analysis-weights', name: 'weights' });
  const renderWeights = (keep: boolean): void => {
    const value = weightsSelect.value;
    const offered = weightsFor(unitSelect.value);
    weightsSelect.replaceChildren(...offered.map((w) => el('option', { value: w }, weightsName(w))));
    weightsSelect.value = keep && offered.includes(value) ? value : (offered[0] ?? '');
  };
  renderWeights(false);
  const permutationsSelect = el('select', { id: 'analysis-permutations', name: 'permutations' });
  permutationsSelect.append(...PERMUTATIONS.map((n) => el('option', { value: String(n) }, String(n))));
  permutationsSelect.value = String(DEFAULT_PERMUTATIONS);
  const fdrInput = el('input', { type: 'checkbox', id: 'analysis-fdr', name: 'fdr' });
  fdrInput.checked = true;

  const query = (): AnalysisQuery => {
    const [a, b] = range();
    return {
      unit: unitSelect.value,
      weights: weightsSelect.value,
      permutations: Number(permutationsSelect.value),
      seed: SEED,
      fdr: fdrInput.checked,
      step: 'month',
      steps: Math.max(2, b - a + 1),
    };
  };

  // ------------------------------------------------------------ layer switches and legends

  const states: Record<AnalysisLayer, LayerState> = { heat: 'off', hexagons: 'off', choropleth: 'off', hotspots: 'off', moran: 'off', emerging: 'off' };
  const items = new Map<AnalysisLayer, HTMLElement>();
  const waiting = new Set<() => void>();

  const heatInput = el('input', { type: 'checkbox', id: 'analysis-heat', 'data-layer': 'heat' });
  const hexagonsInput = el('input', { type: 'checkbox', id: 'analysis-hexagons', 'data-layer': 'hexagons' });
  const areaInputs = new Map<AreaLayer | 'none', HTMLInputElement>();
  for (const value of ['none', ...AREA_LAYERS] as const) {
    const input = el('input', { type: 'radio', name: 'analysis-area', id: `analysis-area-${value}`, value, 'data-layer': value });
    input.checked = value === 'none';
    areaInputs.set(value, input);
  }
  const measureSelect = el('select', { id: 'analysis-measure', name: 'measure' });
  measureSelect.append(option('count', 'analysis.measure.count'), option('per_1000_households', 'analysis.measure.per1000'));

  const heatLegend = (): HTMLElement => {
    const bar = el('span', { class: 'heat-bar', 'aria-hidden': 'true' });
    bar.style.background = `linear-gradient(to right, ${HEAT_RAMP.map(([stop, color]) => `${color} ${stop * 100}%`).join(', ')})`;
    return el(
      'div',
      { class: 'analysis-legend', 'data-legend': 'heat' },
      el('div', { class: 'heat-scale' }, text('span', 'analysis.legend.few'), bar, text('span', 'analysis.legend.many')),
      text('p', 'analysis.heat.hint', { class: 'hint' }),
    );
  };

  const classLabel = (min: number, next: number | undefined): string =>
    next === undefined ? `≥ ${formatNumber(min)}` : next - min > 1 ? `${formatNumber(min)}–${formatNumber(next - 1)}` : formatNumber(min);

  const hexagonsLegend = (): HTMLElement => {
    const list = el('ul', { class: 'legend-grid analysis-classes' });
    HEXAGON_CLASSES.forEach((c, i) => list.append(el('li', { 'data-min': String(c.min) }, swatch(c.color), el('span', {}, classLabel(c.min, HEXAGON_CLASSES[i + 1]?.min)))));
    return el('div', { class: 'analysis-legend', 'data-legend': 'hexagons' }, text('span', 'analysis.legend.cases', { class: 'legend-title' }), list, text('p', 'analysis.hexagons.hint', { class: 'hint' }));
  };

  const choroplethClasses = el('ul', { class: 'legend-grid analysis-classes', id: 'choropleth-classes' });
  const choroplethLegend = el(
    'div',
    { class: 'analysis-legend', 'data-legend': 'choropleth' },
    field('analysis.measure', measureSelect),
    choroplethClasses,
  );

  const hotspotsLegend = (): HTMLElement => {
    const list = el('ul', { class: 'legend-grid analysis-bins' });
    for (const bin of BINS) list.append(el('li', { 'data-bin': String(bin) }, swatch(BIN_COLORS[String(bin)] ?? '#fff'), text('span', `bin.${bin}` as MessageKey)));
    return el('div', { class: 'analysis-legend', 'data-legend': 'hotspots' }, list, text('p', 'analysis.hotspots.hint', { class: 'hint' }));
  };

  const moranLegend = (): HTMLElement => {
    const list = el('ul', { class: 'legend-grid analysis-quadrants' });
    for (const [q, color] of Object.entries(QUADRANT_COLORS)) list.append(el('li', { 'data-quadrant': q }, swatch(color), text('span', `quadrant.${q}` as MessageKey)));
    list.append(el('li', { 'data-quadrant': 'none' }, swatch('transparent', { class: 'legend-swatch clear' }), text('span', 'quadrant.none')));
    return el('div', { class: 'analysis-legend', 'data-legend': 'moran' }, list);
  };

  const emergingLegend = (): HTMLElement => {
    const list = el('ul', { class: 'legend-grid analysis-emerging', id: 'emerging-legend' });
    for (const [category, style] of Object.entries(EMERGING_STYLE)) {
      const box = swatch(style.fill);
      box.style.border = `2px ${style.dashed ? 'dashed' : 'solid'} ${style.line}`;
      list.append(el('li', { 'data-category': category }, box, text('span', `emerging.${category}` as MessageKey)));
    }
    return el('div', { class: 'analysis-legend', 'data-legend': 'emerging' }, list, text('p', 'analysis.emerging.hint', { class: 'hint' }));
  };

  const legends: Record<AnalysisLayer, HTMLElement> = {
    heat: heatLegend(),
    hexagons: hexagonsLegend(),
    choropleth: choroplethLegend,
    hotspots: hotspotsLegend(),
    moran: moranLegend(),
    emerging: emergingLegend(),
  };

  const switchItem = (layer: AnalysisLayer, input: HTMLInputElement): HTMLElement => {
    const item = el(
      'li',
      { class: 'analysis-layer', 'data-layer': layer, 'data-state': 'off' },
      el('label', { for: input.id }, input, text('span', `analysis.layer.${layer}` as MessageKey), el('span', { class: 'layer-state', 'aria-hidden': 'true' })),
      legends[layer],
    );
    legends[layer].hidden = true;
    items.set(layer, item);
    return item;
  };

  const tileSwitches = el('ul', { class: 'analysis-layers' }, switchItem('heat', heatInput), switchItem('hexagons', hexagonsInput));
  const noneItem = el('li', { class: 'analysis-layer', 'data-layer': 'none' }, el('label', { for: 'analysis-area-none' }, areaInputs.get('none') as HTMLInputElement, text('span', 'analysis.layer.none')));
  const areaSwitches = el(
    'ul',
    { class: 'analysis-layers', role: 'radiogroup' },
    noneItem,
    ...AREA_LAYERS.map((layer) => switchItem(layer, areaInputs.get(layer) as HTMLInputElement)),
  );

  // ------------------------------------------------------------ status, table

  const statusLine = el('p', { class: 'analysis-status', id: 'analysis-state', 'data-state': 'idle', role: 'status', 'aria-live': 'polite' });
  const errorLine = el('p', { class: 'analysis-error', id: 'analysis-error', role: 'alert' });
  errorLine.hidden = true;
  const refreshButton = el('button', { type: 'button', id: 'analysis-refresh', class: 'analysis-button' });
  refreshButton.append(text('span', 'analysis.refresh'));
  const staleNote = text('span', 'analysis.stale', { class: 'analysis-stale', id: 'analysis-stale' });
  staleNote.hidden = true;

  const table: HotspotTable = createHotspotTable({
    onPick(feature) {
      panel.highlight(feature);
      const b = featureBounds(feature);
      if (b) options.fitBounds(b);
    },
  });

  // ------------------------------------------------------------ panel

  const toggle = el('button', { type: 'button', id: 'analysis-toggle', class: 'view-button analysis-toggle', 'aria-pressed': 'false', 'aria-controls': 'analysis-panel' });
  toggle.append(text('span', 'analysis.open'));
  const closeButton = el('button', { type: 'button', class: 'detail-close', id: 'analysis-close', 'data-i18n-title': 'analysis.close' }, '×');

  const root = el(
    'section',
    { class: 'panel analysis-panel', id: 'analysis-panel', 'aria-labelledby': 'analysis-heading' },
    el('div', { class: 'analysis-header' }, text('h2', 'analysis.title', { id: 'analysis-heading' }), closeButton),
    el(
      'fieldset',
      { class: 'analysis-group', id: 'analysis-filters' },
      text('legend', 'analysis.filters'),
      el('div', { class: 'analysis-row' }, field('filter.category', categorySelect), field('field.severity', severitySelect), field('filter.status', statusSelect)),
      el(
        'div',
        { class: 'analysis-time' },
        el('div', { class: 'analysis-time-head' }, text('span', 'analysis.time', { class: 'analysis-label' }), periodLabel, playButton),
        el('div', { class: 'analysis-sliders' }, fromInput, toInput),
      ),
    ),
    el('fieldset', { class: 'analysis-group' }, text('legend', 'analysis.tiles'), tileSwitches),
    el(
      'fieldset',
      { class: 'analysis-group' },
      text('legend', 'analysis.areas'),
      el(
        'div',
        { class: 'analysis-row' },
        field('analysis.unit', unitSelect),
        field('analysis.weights', weightsSelect),
      ),
      el(
        'details',
        { class: 'analysis-advanced' },
        text('summary', 'analysis.advanced'),
        el('div', { class: 'analysis-row' }, field('analysis.permutations', permutationsSelect), el('label', { class: 'analysis-check', for: 'analysis-fdr' }, fdrInput, text('span', 'analysis.fdr'))),
      ),
      areaSwitches,
    ),
    el('div', { class: 'analysis-footer' }, statusLine, staleNote, refreshButton),
    errorLine,
    table.root,
  );
  root.hidden = true;

  // ------------------------------------------------------------ state

  let areaLayer: AreaLayer | null = null;
  let areaShown: { layer: AreaLayer; url: string; collection: AnalysisCollection } | null = null;
  let areaController: AbortController | null = null;
  let loadedAt: Date | null = null;
  let highlightedCode: string | null = null;
  const tileControllers = new Map<AnalysisLayer, AbortController>();

  const notify = (): void => {
    for (const resolve of [...waiting]) resolve();
  };

  const setState = (layer: AnalysisLayer, state: LayerState): void => {
    states[layer] = state;
    const item = items.get(layer);
    if (item) item.dataset['state'] = state;
    legends[layer].hidden = state === 'off';
    renderStatus();
    notify();
  };

  let lastError: { layer: AnalysisLayer; err: unknown } | null = null;

  const renderStatus = (): void => {
    const loading = (Object.keys(states) as AnalysisLayer[]).filter((l) => states[l] === 'loading');
    const failed = (Object.keys(states) as AnalysisLayer[]).filter((l) => states[l] === 'failed');
    const state = loading.length ? 'loading' : failed.length ? 'failed' : Object.values(states).some((s) => s === 'ready') ? 'ready' : 'idle';
    statusLine.dataset['state'] = state;
    root.setAttribute('aria-busy', String(state === 'loading'));
    if (state === 'loading') statusLine.textContent = t('analysis.loading');
    else if (state === 'failed') statusLine.textContent = t('analysis.failed');
    else if (areaShown && loadedAt) {
      const total = areaShown.collection.features.reduce((s, f) => s + (Number(f.properties?.count) || 0), 0);
      statusLine.textContent = tf('analysis.summary', {
        units: formatNumber(areaShown.collection.features.length),
        unit: unitName(areaShown.collection.unit ?? query().unit),
        cases: formatNumber(total),
        time: formatTime(loadedAt),
      });
      statusLine.dataset['total'] = String(total);
    } else statusLine.textContent = state === 'ready' ? t('analysis.ready') : t('analysis.idle');
    if (lastError && states[lastError.layer] === 'failed') {
      const err = lastError.err;
      const detail = err instanceof ApiError ? (err.status === null ? t('error.network') : err.message) : err instanceof Error ? err.message : String(err);
      const status = err instanceof ApiError && err.status ? ` (${err.status})` : '';
      errorLine.textContent = `${t(`analysis.layer.${lastError.layer}` as MessageKey)}${status}: ${detail}`;
      errorLine.hidden = false;
    } else {
      errorLine.textContent = '';
      errorLine.hidden = true;
    }
  };

  const fail = (layer: AnalysisLayer, err: unknown): void => {
    lastError = { layer, err };
    setState(layer, 'failed');
    if (isUnauthenticated(err)) options.onError('analysis.title', err);
  };

  /** Waits for a tile layer's source to be drawn, then marks it ready (unless it was switched off or failed meanwhile). */
  const watchTiles = (layer: 'heat' | 'hexagons'): void => {
    tileControllers.get(layer)?.abort();
    const controller = new AbortController();
    tileControllers.set(layer, controller);
    setState(layer, 'loading');
    void sourceDrawn(map, SOURCE_OF[layer], controller.signal).then(() => {
      if (controller.signal.aborted || states[layer] !== 'loading') return;
      setState(layer, 'ready');
    });
  };

  // tile errors of the analysis sources: the layer failed (the map's own handler shows them too)
  map.on('error', (e: { sourceId?: string; error?: unknown }) => {
    const layer = (['heat', 'hexagons'] as const).find((l) => SOURCE_OF[l] === e.sourceId);
    if (!layer || states[layer] === 'off') return;
    tileControllers.get(layer)?.abort();
    const raw = e.error as { status?: number; message?: string } | undefined;
    fail(layer, new ApiError('', raw?.status ?? null, null, raw?.message ?? String(e.error)));
  });

  const removeLayers = (layer: AnalysisLayer): void => {
    for (const id of LAYER_IDS[layer]) if (map.getLayer(id)) map.removeLayer(id);
    const source = SOURCE_OF[layer];
    if (map.getSource(source)) map.removeSource(source);
  };

  const addLayers = (layer: AnalysisLayer, color?: ExpressionSpecification): void => {
    for (const spec of layersFor(layer, color)) if (!map.getLayer(spec.id)) map.addLayer(spec, beforeId(map, layer));
  };

  const ensureHighlight = (): void => {
    if (!map.getSource(HIGHLIGHT_SOURCE)) map.addSource(HIGHLIGHT_SOURCE, { type: 'geojson', data: EMPTY });
    for (const spec of highlightLayers()) if (!map.getLayer(spec.id)) map.addLayer(spec, beforeId(map, 'highlight'));
  };

  const setTileLayer = (layer: 'heat' | 'hexagons', on: boolean): void => {
    if (!on) {
      tileControllers.get(layer)?.abort();
      removeLayers(layer);
      if (lastError?.layer === layer) lastError = null;
      setState(layer, 'off');
      return;
    }
    const f = filter();
    if (!map.getSource(SOURCE_OF[layer])) map.addSource(SOURCE_OF[layer], layer === 'heat' ? heatSource(f) : hexagonsSource(f));
    addLayers(layer);
    if (lastError?.layer === layer) lastError = null;
    watchTiles(layer);
  };

  /** New filter: the tile layers shown get new URLs (and so new tiles). */
  const refilterTiles = (): void => {
    const f = filter();
    for (const layer of ['heat', 'hexagons'] as const) {
      if (states[layer] === 'off') continue;
      const source = map.getSource<VectorTileSource>(SOURCE_OF[layer]);
      if (!source) continue;
      source.setTiles([filteredTiles(layer === 'heat' ? 'incidents' : 'hexagons', f)]);
      if (lastError?.layer === layer) lastError = null;
      watchTiles(layer);
    }
  };

  const measure = (): 'count' | 'per_1000_households' => (measureSelect.value === 'per_1000_households' ? 'per_1000_households' : 'count');

  /** The choropleth's classes for the measure shown, on the map and in the legend. */
  const applyChoropleth = (collection: FeatureCollection | null): ExpressionSpecification => {
    const m = measure();
    const values = (collection?.features ?? []).map((f) => f.properties?.[m]).filter((v): v is number => typeof v === 'number');
    const breaks = quantileBreaks(values);
    const expression = choroplethColor(m, breaks);
    const bounds = [values.length ? Math.min(...values) : 0, ...breaks];
    const max = values.length ? Math.max(...values) : 0;
    const digits = m === 'count' ? 0 : 1;
    choroplethClasses.replaceChildren(
      ...bounds.map((lo, i) => {
        const hi = breaks[i];
        const label = hi === undefined ? `${formatDecimal(lo, digits)}–${formatDecimal(max, digits)}` : `${formatDecimal(lo, digits)}–<${formatDecimal(hi, digits)}`;
        return el('li', { 'data-class': String(i) }, swatch(CHOROPLETH_COLORS[i] ?? '#253494'), el('span', {}, label));
      }),
      el('li', { 'data-class': 'none' }, swatch(NO_DATA_COLOR), text('span', 'analysis.legend.noHouseholds')),
    );
    if (map.getLayer('analysis-choropleth-fill')) map.setPaintProperty('analysis-choropleth-fill', 'fill-color', expression);
    return expression;
  };

  const loadArea = async (): Promise<void> => {
    areaController?.abort();
    const layer = areaLayer;
    if (!layer) return;
    const controller = new AbortController();
    areaController = controller;
    const url = analysisUrl(ENDPOINT[layer], query(), filter());
    if (lastError?.layer === layer) lastError = null;
    setState(layer, 'loading');
    try {
      const collection = await fetchAnalysis<AggregateProperties>(url, controller.signal);
      if (controller.signal.aborted || areaLayer !== layer) return;
      const color = layer === 'choropleth' ? applyChoropleth(collection) : undefined;
      if (!map.getSource(SOURCE_OF[layer])) map.addSource(SOURCE_OF[layer], { type: 'geojson', data: EMPTY, promoteId: 'code' });
      addLayers(layer, color);
      ensureHighlight();
      await map.getSource<GeoJSONSource>(SOURCE_OF[layer])?.setData(collection);
      if (controller.signal.aborted || areaLayer !== layer) return;
      areaShown = { layer, url, collection };
      loadedAt = new Date();
      staleNote.hidden = true;
      table.show(layer === 'hotspots' ? collection : null, query().unit);
      await sourceDrawn(map, SOURCE_OF[layer], controller.signal);
      if (controller.signal.aborted || areaLayer !== layer) return;
      setState(layer, 'ready');
    } catch (err) {
      if (controller.signal.aborted || (err instanceof DOMException && err.name === 'AbortError')) return;
      // nothing of an older query stays shown as if it answered this one
      areaShown = null;
      if (map.getSource(SOURCE_OF[layer])) await map.getSource<GeoJSONSource>(SOURCE_OF[layer])?.setData(EMPTY);
      table.show(null, query().unit);
      fail(layer, err);
    } finally {
      if (areaController === controller) areaController = null;
    }
  };

  const setAreaLayer = (layer: AreaLayer | null): void => {
    if (areaLayer === layer) return;
    areaController?.abort();
    if (areaLayer) {
      removeLayers(areaLayer);
      if (lastError?.layer === areaLayer) lastError = null;
      setState(areaLayer, 'off');
    }
    areaLayer = layer;
    areaShown = null;
    loadedAt = null;
    staleNote.hidden = true;
    table.show(null, query().unit);
    panel.highlight(null);
    if (layer) void loadArea();
    else renderStatus();
  };

  const filtersChanged = (): void => {
    renderPeriod();
    refilterTiles();
    if (areaLayer) void loadArea();
  };

  // ------------------------------------------------------------ events

  for (const select of [statusSelect, severitySelect, categorySelect]) select.addEventListener('change', filtersChanged);
  for (const input of [fromInput, toInput]) {
    input.addEventListener('input', renderPeriod);
    input.addEventListener('change', () => {
      stopPlay();
      filtersChanged();
    });
  }
  unitSelect.addEventListener('change', () => {
    renderWeights(false);
    if (areaLayer) void loadArea();
  });
  for (const control of [weightsSelect, permutationsSelect, fdrInput]) control.addEventListener('change', () => void (areaLayer && loadArea()));
  measureSelect.addEventListener('change', () => {
    if (areaLayer === 'choropleth') applyChoropleth(areaShown?.collection ?? null);
  });
  heatInput.addEventListener('change', () => setTileLayer('heat', heatInput.checked));
  hexagonsInput.addEventListener('change', () => setTileLayer('hexagons', hexagonsInput.checked));
  for (const [value, input] of areaInputs) {
    input.addEventListener('change', () => {
      if (input.checked) setAreaLayer(value === 'none' ? null : value);
    });
  }
  refreshButton.addEventListener('click', () => {
    if (areaLayer) void loadArea();
    for (const layer of ['heat', 'hexagons'] as const) if (states[layer] !== 'off' && map.getSource(SOURCE_OF[layer])) {
      map.refreshTiles(SOURCE_OF[layer]);
      watchTiles(layer);
    }
  });

  // play: the period moves on a month at a time, to the current month
  let playTimer = 0;
  const renderPlay = (): void => {
    const playing = playTimer !== 0;
    playButton.setAttribute('aria-pressed', String(playing));
    playLabel.textContent = playing ? t('analysis.pause') : t('analysis.play');
  };
  function stopPlay(): void {
    window.clearInterval(playTimer);
    playTimer = 0;
    renderPlay();
  }
  const step = (): void => {
    const [a, b] = range();
    if (b >= MONTHS - 1) {
      stopPlay();
      return;
    }
    fromInput.value = String(a + 1);
    toInput.value = String(b + 1);
    filtersChanged();
    if (b + 1 >= MONTHS - 1) stopPlay();
  };
  playButton.addEventListener('click', () => {
    if (playTimer) {
      stopPlay();
      return;
    }
    const [a, b] = range();
    if (b >= MONTHS - 1) {
      // from the start again, with the same width
      fromInput.value = '0';
      toInput.value = String(b - a);
      filtersChanged();
    }
    playTimer = window.setInterval(step, PLAY_STEP_MS);
    renderPlay();
  });

  const setOpen = (open: boolean): void => {
    root.hidden = !open;
    toggle.setAttribute('aria-pressed', String(open));
    document.body.dataset['analysis'] = open ? 'open' : 'closed';
    options.onOpenChange?.(open);
  };
  toggle.addEventListener('click', () => setOpen(root.hidden !== false));
  closeButton.addEventListener('click', () => {
    setOpen(false);
    toggle.focus();
  });

  renderPeriod();
  renderPlay();
  renderStatus();
  relabel(root);

  onLangChange(() => {
    relabel(root);
    relabel(toggle);
    renderCategories();
    renderUnits();
    renderWeights(true);
    renderPeriod();
    renderPlay();
    if (areaLayer === 'choropleth') applyChoropleth(areaShown?.collection ?? null);
    table.relabel();
    renderStatus();
  });

  const panel: AnalysisPanel = {
    root,
    toggle,
    setCategories(c) {
      categories = c;
      renderCategories();
    },
    incidentsChanged() {
      if (areaShown) staleNote.hidden = false;
    },
    refresh() {
      months = lastMonths();
      renderPeriod();
      if (areaLayer) void loadArea();
    },
    highlight(feature) {
      const code = feature ? String(feature.properties?.['code'] ?? '') : null;
      highlightedCode = code || null;
      table.setCurrent(highlightedCode);
      if (feature) ensureHighlight();
      const source = map.getSource<GeoJSONSource>(HIGHLIGHT_SOURCE);
      if (source) void source.setData(feature ? { type: 'FeatureCollection', features: [feature] } : EMPTY);
    },
    reset() {
      stopPlay();
      areaController?.abort();
      for (const c of tileControllers.values()) c.abort();
      for (const layer of Object.keys(states) as AnalysisLayer[]) removeLayers(layer);
      for (const id of ['analysis-highlight', 'analysis-highlight-halo']) if (map.getLayer(id)) map.removeLayer(id);
      for (const id of ANALYSIS_SOURCES) if (map.getSource(id)) map.removeSource(id);
      heatInput.checked = false;
      hexagonsInput.checked = false;
      for (const [value, input] of areaInputs) input.checked = value === 'none';
      areaLayer = null;
      areaShown = null;
      loadedAt = null;
      lastError = null;
      highlightedCode = null;
      statusSelect.value = '';
      severitySelect.value = '';
      categorySelect.value = '';
      months = lastMonths();
      fromInput.value = String(MONTHS - DEFAULT_MONTHS);
      toInput.value = String(MONTHS - 1);
      unitSelect.value = 'grid-cell';
      renderWeights(false);
      permutationsSelect.value = String(DEFAULT_PERMUTATIONS);
      fdrInput.checked = true;
      measureSelect.value = 'count';
      staleNote.hidden = true;
      table.show(null, 'grid-cell');
      for (const layer of Object.keys(states) as AnalysisLayer[]) setState(layer, 'off');
      renderPeriod();
      setOpen(false);
    },
    hook: {
      state: (layer) => states[layer],
      drawn(layer) {
        const settledNow = async (): Promise<LayerState> => {
          while (states[layer] === 'loading') {
            await new Promise<void>((resolve) => {
              const done = (): void => {
                waiting.delete(done);
                resolve();
              };
              waiting.add(done);
            });
          }
          if (states[layer] === 'ready') await sourceDrawn(map, SOURCE_OF[layer], new AbortController().signal);
          return states[layer];
        };
        return settledNow();
      },
      data: () => areaShown,
      tiles(layer) {
        const source = map.getSource<VectorTileSource>(SOURCE_OF[layer]);
        return source?.tiles?.[0] ?? null;
      },
      highlighted: () => highlightedCode,
    },
  };
  return panel;
}
