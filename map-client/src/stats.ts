// The statistics view (统计), beside the map: how cases were resolved in a
// period, for leaders.
//
//   GET /api/v1/stats/resolution?by=&from=&to=&category=  → {by, from, to, rows, total}
//   GET /api/v1/stats/mediators?from=&to=&category=        → [{worker_id, worker_name, …, resolved}]
//   GET /api/v1/stats/mediated?level=&from=&to=&category=  → [{code, name, resolved}]
//   (each also as a CSV download with `format=csv`)
//
// The headline is the share resolved at township level or below (小事不出村、
// 大事不出乡镇: the target is over 80%), with reported, resolved, open,
// overdue and the median hours to resolve. Below it: resolutions by tier per
// group (stacked bars), reported vs resolved over time for the time
// groupings (lines), the rows as a table, cases per mediator (一案一补) and
// cases per unit. Periods are China Standard Time days, both ends included;
// the default is the last 12 calendar months (the current one included).
//
// The figures are a snapshot: fetched when the view is opened, when the query
// changes and on 刷新 (Refresh); the time of the answer is shown.

import {
  RESOLUTION_GROUPINGS,
  TIERS,
  fetchJson,
  isTimeGrouping,
  mediatedUrl,
  mediatorsUrl,
  resolutionUrl,
  type FiguresQuery,
  type IncidentCategory,
  type MediatedRow,
  type MediatorRow,
  type Resolution,
  type ResolutionFigures,
  type ResolutionGrouping,
  type ResolutionRow,
  type Tier,
} from './api';
import { legend, lineChart, stackedBars, type Datum, type Series } from './charts';
import { el, relabel, text } from './dom';
import { cstDay, formatDecimal, formatNumber, formatPercent, formatTime, getLang, onLangChange, t, tf, type MessageKey } from './i18n';

/** The domain's target: over 80% resolved at township level or below. */
export const TARGET_SHARE = 0.8;

/** Four distinct colours (Okabe–Ito, safe for colour-blind readers): the lower tiers cool, the higher warm. */
export const TIER_COLORS: Record<Tier, string> = {
  village: '#009E73',
  township: '#56B4E9',
  county: '#E69F00',
  city: '#D55E00',
};

const TREND_COLORS = { reported: '#5b6770', resolved: '#0072B2' } as const;

/** At most this many groups in the bar chart of a unit or category grouping (the table lists all). */
const CHART_CAP = 50;

/** Choices for how many mediators to list (0: all). */
const TOP_CHOICES = [10, 20, 50, 0] as const;
const DEFAULT_TOP = 20;

export interface StatsViewOptions {
  /** A load failed (401s included: the caller decides what they mean). */
  onError(what: MessageKey, err: unknown): void;
}

export interface StatsView {
  readonly root: HTMLElement;
  /** The view is shown: fetches the figures for the current query. */
  show(): void;
  setCategories(categories: IncidentCategory[]): void;
  /** Back to the state before any data (sign-out): default query, nothing shown. */
  reset(): void;
}

/** The last 12 calendar months in CST, the current one included: the 1st of the month 11 months back to today. */
export function defaultPeriod(now: Date = new Date()): { from: string; to: string } {
  const to = cstDay(now);
  const [year = 1970, month = 1] = to.split('-').map(Number);
  const start = year * 12 + (month - 1) - 11;
  return { from: `${Math.floor(start / 12)}-${String((start % 12) + 1).padStart(2, '0')}-01`, to };
}

type LoadState = 'idle' | 'loading' | 'ready' | 'failed';

/**
 * One fetched table: its section's `data-state`, and once answered, the
 * answer with the URL it came from (`data-url`) and the CSV link of the same
 * query. The newest request wins.
 */
class Loaded<T> {
  state: LoadState = 'idle';
  data: T | null = null;
  at: Date | null = null;
  private controller: AbortController | null = null;

  constructor(
    private readonly section: HTMLElement,
    private readonly csvLink: HTMLAnchorElement,
    private readonly what: MessageKey,
    private readonly render: () => void,
    private readonly onError: (what: MessageKey, err: unknown) => void,
  ) {
    this.mark();
  }

  async load(url: string, csv: string): Promise<void> {
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.state = 'loading';
    this.mark();
    try {
      const answer = await fetchJson<T>(url, controller.signal);
      if (controller.signal.aborted) return;
      this.data = answer;
      this.at = new Date();
      this.state = 'ready';
      this.section.dataset['url'] = url;
      this.csvLink.href = csv;
      this.csvLink.hidden = false;
    } catch (err) {
      if (controller.signal.aborted || (err instanceof DOMException && err.name === 'AbortError')) return;
      // nothing of an older query stays shown as if it answered this one
      this.state = 'failed';
      this.data = null;
      delete this.section.dataset['url'];
      this.csvLink.removeAttribute('href');
      this.csvLink.hidden = true;
      this.onError(this.what, err);
    } finally {
      if (this.controller === controller) this.controller = null;
    }
    this.mark();
    this.render();
  }

  reset(): void {
    this.controller?.abort();
    this.controller = null;
    this.state = 'idle';
    this.data = null;
    this.at = null;
    delete this.section.dataset['url'];
    this.csvLink.removeAttribute('href');
    this.csvLink.hidden = true;
    this.mark();
  }

  private mark(): void {
    this.section.dataset['state'] = this.state;
    this.section.setAttribute('aria-busy', String(this.state === 'loading'));
  }
}

function csvLink(id: string): HTMLAnchorElement {
  const link = el('a', { id, class: 'csv-link', download: '', 'data-i18n-title': 'report.csv.title' });
  link.append(text('span', 'report.csv'));
  link.hidden = true;
  return link;
}

function field(key: MessageKey, control: HTMLElement): HTMLElement {
  return el('label', { class: 'report-field' }, text('span', key, { class: 'report-label' }), control);
}

/** Options labelled by message keys (re-labelled on a language switch). */
function keyedOptions<V extends string>(values: readonly V[], key: (v: V) => string): HTMLOptionElement[] {
  return values.map((v) => text('option', key(v) as MessageKey, { value: v }));
}

const nothing = '—';
const count = (n: number): string => formatNumber(n);
const share = (v: number | null): string => (v === null ? nothing : formatPercent(v));
const hours = (v: number | null): string => (v === null ? nothing : formatDecimal(v, 1));

/** The figures of a resolution row, in table order. */
const FIGURES: { field: keyof ResolutionFigures; label: () => string; format: (row: ResolutionFigures) => string }[] = [
  { field: 'reported', label: () => t('report.col.reported'), format: (r) => count(r.reported) },
  { field: 'resolved', label: () => t('report.col.resolved'), format: (r) => count(r.resolved) },
  { field: 'resolved_village', label: () => t('tier.village'), format: (r) => count(r.resolved_village) },
  { field: 'resolved_township', label: () => t('tier.township'), format: (r) => count(r.resolved_township) },
  { field: 'resolved_county', label: () => t('tier.county'), format: (r) => count(r.resolved_county) },
  { field: 'resolved_city', label: () => t('tier.city'), format: (r) => count(r.resolved_city) },
  { field: 'share_township_or_below', label: () => t('report.col.share'), format: (r) => share(r.share_township_or_below) },
  { field: 'open', label: () => t('report.col.open'), format: (r) => count(r.open) },
  { field: 'overdue', label: () => t('report.col.overdue'), format: (r) => count(r.overdue) },
  { field: 'median_hours_to_resolve', label: () => t('report.col.median'), format: (r) => hours(r.median_hours_to_resolve) },
];

const tierValues = (r: ResolutionFigures): number[] => [r.resolved_village, r.resolved_township, r.resolved_county, r.resolved_city];

function th(scope: 'col' | 'row', content: string, attrs: Record<string, string> = {}): HTMLTableCellElement {
  return el('th', { scope, ...attrs }, content);
}

function td(fieldName: string, raw: string, shown: string, numeric = true): HTMLTableCellElement {
  return el('td', { 'data-field': fieldName, 'data-value': raw, class: numeric ? 'num' : '' }, shown);
}

export function createStatsView(options: StatsViewOptions): StatsView {
  let categories: IncidentCategory[] = [];
  const categoryName = (code: string): string => {
    const c = categories.find((x) => x.code === code);
    if (!c) return code;
    return getLang() === 'en' ? c.name_en || c.name_zh : c.name_zh || c.name_en;
  };

  // ------------------------------------------------------------ query

  const bySelect = el('select', { id: 'stats-by', name: 'by' });
  bySelect.append(...keyedOptions(RESOLUTION_GROUPINGS, (g) => `report.by.${g}`));
  const fromInput = el('input', { type: 'date', id: 'stats-from', name: 'from' });
  const toInput = el('input', { type: 'date', id: 'stats-to', name: 'to' });
  const categorySelect = el('select', { id: 'stats-category', name: 'category' });
  const renderCategories = (): void => {
    const value = categorySelect.value;
    categorySelect.replaceChildren(
      text('option', 'report.category.all', { value: '' }),
      ...categories.map((c) => el('option', { value: c.code }, categoryName(c.code))),
    );
    categorySelect.value = categories.some((c) => c.code === value) ? value : '';
  };
  renderCategories();
  const last12 = el('button', { type: 'button', id: 'stats-last12', class: 'report-button' });
  last12.append(text('span', 'report.last12'));
  const allTime = el('button', { type: 'button', id: 'stats-all-time', class: 'report-button' });
  allTime.append(text('span', 'report.allTime'));
  const refresh = el('button', { type: 'submit', id: 'stats-refresh', class: 'report-button primary' });
  refresh.append(text('span', 'report.refresh'));
  const controls = el(
    'form',
    { class: 'report-controls', id: 'stats-controls', 'aria-labelledby': 'stats-controls-heading' },
    text('h3', 'report.controls', { id: 'stats-controls-heading', class: 'visually-hidden' }),
    field('report.by', bySelect),
    field('report.from', fromInput),
    field('report.to', toInput),
    field('report.category', categorySelect),
    el('div', { class: 'report-buttons' }, last12, allTime, refresh),
  );
  const period = el('p', { class: 'report-period', id: 'stats-period' });
  const message = el('p', { class: 'report-message', id: 'stats-message', role: 'alert' });
  message.hidden = true;

  const setDefaultPeriod = (): void => {
    const { from, to } = defaultPeriod();
    fromInput.value = from;
    toInput.value = to;
  };
  setDefaultPeriod();

  const query = (): FiguresQuery => ({
    from: fromInput.value || undefined,
    to: toInput.value || undefined,
    category: categorySelect.value || undefined,
  });
  const by = (): ResolutionGrouping => bySelect.value as ResolutionGrouping;

  /** The query that produced what is shown (for the period line). */
  let shownQuery: FiguresQuery | null = null;

  // ------------------------------------------------------------ sections

  const headline = el('div', { class: 'report-headline', id: 'stats-headline', 'aria-labelledby': 'stats-headline-heading', role: 'group' });
  const charts = el('div', { class: 'report-charts', id: 'stats-charts' });
  const resolutionCsv = csvLink('stats-csv-resolution');
  const resolutionTable = el('table', { class: 'report-table', id: 'stats-table' });
  const resolutionSection = el(
    'section',
    { class: 'report-section', id: 'stats-resolution', 'aria-labelledby': 'stats-headline-heading' },
    text('h3', 'report.headline', { id: 'stats-headline-heading' }),
    headline,
    charts,
    el('div', { class: 'table-head' }, resolutionCsv),
    el('div', { class: 'table-scroll' }, resolutionTable),
  );

  const topSelect = el('select', { id: 'stats-mediators-top', name: 'top' });
  const renderTopOptions = (): void => {
    const value = topSelect.value || String(DEFAULT_TOP);
    topSelect.replaceChildren(
      ...TOP_CHOICES.map((n) => el('option', { value: String(n) }, n === 0 ? t('report.top.all') : tf('report.top', { n }))),
    );
    topSelect.value = value;
  };
  renderTopOptions();
  const mediatorsCsv = csvLink('stats-csv-mediators');
  const mediatorsTable = el('table', { class: 'report-table', id: 'stats-mediators-table' });
  const mediatorsSection = el(
    'section',
    { class: 'report-section', id: 'stats-mediators', 'aria-labelledby': 'stats-mediators-heading' },
    text('h3', 'report.mediators', { id: 'stats-mediators-heading' }),
    el('div', { class: 'table-head' }, field('report.mediators.show', topSelect), mediatorsCsv),
    el('div', { class: 'table-scroll' }, mediatorsTable),
  );

  const levelSelect = el('select', { id: 'stats-mediated-level', name: 'level' });
  levelSelect.append(...keyedOptions(TIERS, (x) => `report.mediated.level.${x}`));
  const mediatedCsv = csvLink('stats-csv-mediated');
  const mediatedTable = el('table', { class: 'report-table', id: 'stats-mediated-table' });
  const mediatedSection = el(
    'section',
    { class: 'report-section', id: 'stats-mediated', 'aria-labelledby': 'stats-mediated-heading' },
    text('h3', 'report.mediated', { id: 'stats-mediated-heading' }),
    el('div', { class: 'table-head' }, field('report.mediated.level', levelSelect), mediatedCsv),
    el('div', { class: 'table-scroll' }, mediatedTable),
  );

  const root = el(
    'section',
    { class: 'panel report', id: 'stats-view', 'aria-labelledby': 'stats-view-heading' },
    el('header', { class: 'report-header' }, text('h2', 'report.title', { id: 'stats-view-heading' }), controls, period, message),
    resolutionSection,
    el('div', { class: 'report-columns' }, mediatorsSection, mediatedSection),
  );
  root.hidden = true;

  // ------------------------------------------------------------ rendering

  const byLabel = (g: ResolutionGrouping): string => t(`report.by.${g}` as MessageKey);
  /** The grouping inside a sentence ("by month"). */
  const bySentence = (g: ResolutionGrouping): string => (getLang() === 'en' ? byLabel(g).toLowerCase() : byLabel(g));

  /** What a row is called in the current language. */
  const rowLabel = (grouping: ResolutionGrouping, row: ResolutionRow): string => {
    if (row.key === null) return t('report.notPlaced');
    if (grouping === 'category') return categories.some((c) => c.code === row.key) ? categoryName(row.key) : (row.name ?? row.key);
    if (grouping === 'week') {
      const m = /^(\d{4})-W(\d{2})$/.exec(row.key);
      return m ? tf('report.week', { year: m[1] ?? '', week: Number(m[2]) }) : row.key;
    }
    if (isTimeGrouping(grouping)) return row.key;
    return row.name ?? row.key;
  };

  const renderPeriod = (): void => {
    const q = shownQuery ?? query();
    const range =
      q.from && q.to
        ? tf('report.period.range', { from: q.from, to: q.to })
        : q.from
          ? tf('report.period.from', { from: q.from })
          : q.to
            ? tf('report.period.to', { to: q.to })
            : t('report.period.all');
    const times = [resolution.at, mediators.at, mediated.at].filter((d): d is Date => d !== null);
    const at = times.length ? new Date(Math.max(...times.map((d) => d.getTime()))) : null;
    period.replaceChildren(el('span', { class: 'range' }, tf('report.period', { period: range })));
    if (at) period.append(' · ', el('time', { datetime: at.toISOString() }, tf('report.asOf', { time: formatTime(at) })));
    if (q.category) period.append(' · ', el('span', { class: 'category' }, categoryName(q.category)));
  };

  const stateMessage = (state: LoadState): HTMLElement =>
    el('p', { class: 'list-message' }, t(state === 'failed' ? 'report.unavailable' : 'report.loading'));

  const figure = (id: string, label: string, value: string, raw: string, ...extra: HTMLElement[]): HTMLElement =>
    el('div', { class: `figure figure-${id}`, 'data-figure': id, 'data-value': raw }, el('span', { class: 'label' }, label), el('span', { class: 'value' }, value), ...extra);

  const renderHeadline = (total: ResolutionFigures): void => {
    const s = total.share_township_or_below;
    const met = s !== null && s >= TARGET_SHARE;
    const target = el(
      'span',
      { class: `target ${s === null ? '' : met ? 'met' : 'not-met'}`, 'data-met': s === null ? '' : String(met) },
      tf('report.share.target', { target: formatPercent(TARGET_SHARE) }),
      s === null ? '' : ` · ${t(met ? 'report.share.met' : 'report.share.notMet')}`,
    );
    const shareFigure = figure(
      'share',
      t('report.share'),
      share(s),
      s === null ? '' : String(s),
      el('span', { class: 'sub' }, tf('report.share.of', { n: count(total.resolved_village + total.resolved_township), total: count(total.resolved) })),
      target,
    );
    shareFigure.title = t('report.share.slogan');
    shareFigure.dataset['met'] = s === null ? '' : String(met);
    const medianValue = total.median_hours_to_resolve === null ? nothing : tf('report.hours', { n: hours(total.median_hours_to_resolve) });
    const overdue = figure('overdue', t('report.overdue'), count(total.overdue), String(total.overdue));
    if (total.overdue > 0) overdue.classList.add('alert');
    headline.replaceChildren(
      shareFigure,
      figure('reported', t('report.reported'), count(total.reported), String(total.reported)),
      figure('resolved', t('report.resolved'), count(total.resolved), String(total.resolved)),
      figure('open', t('report.open'), count(total.open), String(total.open)),
      overdue,
      figure('median', t('report.median'), medianValue, total.median_hours_to_resolve === null ? '' : String(total.median_hours_to_resolve)),
      el('p', { class: 'hint report-note' }, t('report.periodNote')),
    );
  };

  const tierSeries = (): Series[] => TIERS.map((x) => ({ key: x, label: t(`tier.${x}` as MessageKey), color: TIER_COLORS[x] }));

  const renderCharts = (answer: Resolution, grouping: ResolutionGrouping): void => {
    const rows = answer.rows;
    if (rows.length === 0) {
      charts.replaceChildren(el('p', { class: 'list-message' }, t('report.empty')));
      return;
    }
    const time = isTimeGrouping(grouping);
    const series = tierSeries();
    const ordered = time ? rows : [...rows].sort((a, b) => b.resolved - a.resolved || String(a.key).localeCompare(String(b.key)));
    const shown = time ? ordered : ordered.slice(0, CHART_CAP);
    const data: Datum[] = shown.map((row) => {
      const label = rowLabel(grouping, row);
      const parts = series.map((one, i) => `${one.label} ${count(tierValues(row)[i] ?? 0)}`).join(', ');
      return {
        key: row.key ?? '',
        label,
        values: tierValues(row),
        title: `${label}: ${parts}; ${t('report.col.share')} ${share(row.share_township_or_below)}`,
        note: share(row.share_township_or_below),
      };
    });
    const tierTitle = tf('report.tierChart', { by: bySentence(grouping) });
    const tierFigure = el(
      'figure',
      { class: 'chart-figure', id: 'stats-tier-chart' },
      el('figcaption', {}, el('span', { class: 'chart-title' }, tierTitle), legend(series, t('report.legend'))),
      stackedBars(time ? 'vertical' : 'horizontal', series, data, { title: tierTitle, description: t('report.tierChart.desc') }),
    );
    if (shown.length < ordered.length) {
      tierFigure.append(el('p', { class: 'hint' }, tf('report.tierChart.capped', { n: shown.length, total: ordered.length })));
    }
    const figures: HTMLElement[] = [tierFigure];
    if (time) {
      const trend: Series[] = [
        { key: 'reported', label: t('report.reported'), color: TREND_COLORS.reported },
        { key: 'resolved', label: t('report.resolved'), color: TREND_COLORS.resolved },
      ];
      const points: Datum[] = rows.map((row) => {
        const label = rowLabel(grouping, row);
        return {
          key: row.key ?? '',
          label,
          values: [row.reported, row.resolved],
          title: `${label}: ${t('report.reported')} ${count(row.reported)}, ${t('report.resolved')} ${count(row.resolved)}`,
        };
      });
      const trendTitle = tf('report.trendChart', { by: bySentence(grouping) });
      figures.push(
        el(
          'figure',
          { class: 'chart-figure', id: 'stats-trend-chart' },
          el('figcaption', {}, el('span', { class: 'chart-title' }, trendTitle), legend(trend, t('report.legend'))),
          lineChart(trend, points, { title: trendTitle, description: t('report.trendChart.desc') }),
        ),
      );
    }
    charts.replaceChildren(...figures);
  };

  const renderResolutionTable = (answer: Resolution, grouping: ResolutionGrouping): void => {
    const time = isTimeGrouping(grouping);
    const head = el('tr', {}, th('col', byLabel(grouping)));
    if (!time) head.append(th('col', t('report.col.code')));
    for (const f of FIGURES) head.append(th('col', f.label(), { 'data-field': f.field }));
    const line = (row: ResolutionRow, label: string, attrs: Record<string, string>): HTMLTableRowElement => {
      const tr = el('tr', attrs, th('row', label));
      if (!time) tr.append(td('key', row.key ?? '', row.key ?? nothing, false));
      for (const f of FIGURES) {
        const v = row[f.field];
        tr.append(td(f.field, v === null ? '' : String(v), f.format(row)));
      }
      return tr;
    };
    const body = el('tbody', {}, ...answer.rows.map((row) => line(row, rowLabel(grouping, row), { 'data-key': row.key ?? '', class: row.key === null ? 'not-placed' : '' })));
    if (answer.rows.length === 0) {
      body.append(el('tr', {}, el('td', { colspan: String(FIGURES.length + (time ? 1 : 2)), class: 'empty' }, t('report.empty'))));
    }
    const foot = el('tfoot', {});
    if (answer.total) foot.append(line(answer.total, t('report.total'), { class: 'total-row', 'data-total': 'true' }));
    resolutionTable.replaceChildren(el('caption', {}, tf('report.table', { by: bySentence(grouping) })), el('thead', {}, head), body, foot);
  };

  /** The grouping of the answer shown (the select may have moved on while it loads). */
  const shownGrouping = (answer: Resolution): ResolutionGrouping =>
    (RESOLUTION_GROUPINGS as readonly string[]).includes(answer.by) ? (answer.by as ResolutionGrouping) : by();

  const renderResolution = (): void => {
    const answer = resolution.data;
    if (!answer) {
      headline.replaceChildren(stateMessage(resolution.state));
      charts.replaceChildren();
      resolutionTable.replaceChildren();
      return;
    }
    const grouping = shownGrouping(answer);
    if (answer.total) renderHeadline(answer.total);
    else headline.replaceChildren(el('p', { class: 'list-message' }, t('report.empty')));
    renderCharts(answer, grouping);
    renderResolutionTable(answer, grouping);
  };

  /** Standard competition ranking (1, 2, 2, 4) by cases resolved, most first. */
  const ranks = (rows: MediatorRow[]): number[] => {
    const out: number[] = [];
    rows.forEach((row, i) => {
      const prev = rows[i - 1];
      out.push(prev && prev.resolved === row.resolved ? (out[i - 1] ?? i + 1) : i + 1);
    });
    return out;
  };

  const renderMediators = (): void => {
    const rows = mediators.data;
    if (!rows) {
      mediatorsTable.replaceChildren(el('caption', {}, t('report.mediators')), el('tbody', {}, el('tr', {}, el('td', {}, stateMessage(mediators.state)))));
      return;
    }
    const sorted = [...rows].sort((a, b) => b.resolved - a.resolved || a.worker_id - b.worker_id);
    const top = Number(topSelect.value);
    const shown = top > 0 ? sorted.slice(0, top) : sorted;
    const rank = ranks(sorted);
    const head = el(
      'tr',
      {},
      th('col', t('report.col.rank')),
      th('col', t('report.col.worker')),
      th('col', t('report.col.village')),
      th('col', t('report.col.cells')),
      th('col', t('report.col.resolved'), { 'data-field': 'resolved' }),
      th('col', t('report.col.resolvedAtVillage'), { 'data-field': 'resolved_at_village' }),
    );
    const body = el(
      'tbody',
      {},
      ...shown.map((row, i) =>
        el(
          'tr',
          { 'data-worker-id': String(row.worker_id) },
          td('rank', String(rank[i]), count(rank[i] ?? i + 1)),
          th('row', row.worker_name),
          td('village_name', row.village_name ?? '', row.village_name ?? nothing, false),
          td('grid_cell_codes', row.grid_cell_codes, row.grid_cell_codes || nothing, false),
          td('resolved', String(row.resolved), count(row.resolved)),
          td('resolved_at_village', String(row.resolved_at_village), count(row.resolved_at_village)),
        ),
      ),
    );
    if (rows.length === 0) body.append(el('tr', {}, el('td', { colspan: '6', class: 'empty' }, t('report.empty'))));
    mediatorsTable.dataset['total'] = String(rows.length);
    mediatorsTable.replaceChildren(el('caption', {}, tf('report.mediators.count', { n: count(rows.length) })), el('thead', {}, head), body);
  };

  const renderMediated = (): void => {
    const rows = mediated.data;
    if (!rows) {
      mediatedTable.replaceChildren(el('caption', {}, t('report.mediated')), el('tbody', {}, el('tr', {}, el('td', {}, stateMessage(mediated.state)))));
      return;
    }
    const level = (mediatedSection.dataset['level'] ?? 'village') as Tier;
    const sorted = [...rows].sort((a, b) => b.resolved - a.resolved || a.code.localeCompare(b.code));
    const head = el('tr', {}, th('col', t('report.col.name')), th('col', t('report.col.code')), th('col', t('report.col.resolved'), { 'data-field': 'resolved' }));
    const body = el(
      'tbody',
      {},
      ...sorted.map((row) =>
        el('tr', { 'data-code': row.code }, th('row', row.name), td('code', row.code, row.code, false), td('resolved', String(row.resolved), count(row.resolved))),
      ),
    );
    if (rows.length === 0) body.append(el('tr', {}, el('td', { colspan: '3', class: 'empty' }, t('report.empty'))));
    mediatedTable.replaceChildren(
      el('caption', {}, t(`report.mediated.caption.${level}` as MessageKey)),
      el('thead', {}, head),
      body,
    );
  };

  const rendered = (section: () => void) => (): void => {
    section();
    renderPeriod();
  };

  const resolution = new Loaded<Resolution>(resolutionSection, resolutionCsv, 'report.title', rendered(renderResolution), options.onError);
  const mediators = new Loaded<MediatorRow[]>(mediatorsSection, mediatorsCsv, 'report.mediators', rendered(renderMediators), options.onError);
  const mediated = new Loaded<MediatedRow[]>(mediatedSection, mediatedCsv, 'report.mediated', rendered(renderMediated), options.onError);

  const renderAll = (): void => {
    renderResolution();
    renderMediators();
    renderMediated();
    renderPeriod();
  };

  // ------------------------------------------------------------ loading

  /** The query, unless its dates are the wrong way round (then says so and gives null). */
  const validQuery = (): FiguresQuery | null => {
    const q = query();
    const bad = !!(q.from && q.to && q.to < q.from);
    message.hidden = !bad;
    message.textContent = bad ? t('report.badRange') : '';
    fromInput.setAttribute('aria-invalid', String(bad));
    toInput.setAttribute('aria-invalid', String(bad));
    return bad ? null : q;
  };

  const loadResolution = (q: FiguresQuery): void => {
    const grouping = by();
    void resolution.load(resolutionUrl(grouping, q), resolutionUrl(grouping, q, true));
  };
  const loadMediated = (q: FiguresQuery): void => {
    const level = levelSelect.value as Tier;
    mediatedSection.dataset['level'] = level;
    void mediated.load(mediatedUrl(level, q), mediatedUrl(level, q, true));
  };
  const loadAll = (): void => {
    const q = validQuery();
    if (!q) return;
    shownQuery = q;
    loadResolution(q);
    void mediators.load(mediatorsUrl(q), mediatorsUrl(q, true));
    loadMediated(q);
    renderPeriod();
  };

  bySelect.addEventListener('change', () => {
    const q = validQuery();
    if (q) loadResolution(q);
  });
  levelSelect.addEventListener('change', () => {
    const q = validQuery();
    if (q) loadMediated(q);
  });
  for (const input of [fromInput, toInput, categorySelect]) input.addEventListener('change', loadAll);
  topSelect.addEventListener('change', renderMediators);
  last12.addEventListener('click', () => {
    setDefaultPeriod();
    loadAll();
  });
  allTime.addEventListener('click', () => {
    fromInput.value = '';
    toInput.value = '';
    loadAll();
  });
  controls.addEventListener('submit', (event) => {
    event.preventDefault();
    loadAll();
  });

  onLangChange(() => {
    relabel(root);
    renderCategories();
    renderTopOptions();
    if (!message.hidden) message.textContent = t('report.badRange');
    renderAll();
  });
  relabel(root);
  renderAll();

  return {
    root,
    show() {
      loadAll();
    },
    setCategories(next) {
      categories = next;
      renderCategories();
      renderAll();
    },
    reset() {
      resolution.reset();
      mediators.reset();
      mediated.reset();
      shownQuery = null;
      categories = [];
      renderCategories();
      bySelect.value = 'county';
      levelSelect.value = 'village';
      topSelect.value = String(DEFAULT_TOP);
      setDefaultPeriod();
      validQuery();
      renderAll();
    },
  };
}
