// The open plan's workload: its summary figures, the deviation legend, and a
// sortable table of the cells (a click on a row flies the map to the cell).
// The table shows the first ROWS rows of the chosen order: the worst cells are
// what a planner looks for, and a thousand rows would make the panel crawl.

import { el, relabel, text } from './dom';
import { formatDecimal, formatNumber, formatPercent, t, tf, type MessageKey } from './i18n';
import type { CellLoad, WorkloadSummary } from './planapi';
import { DEVIATION_BREAKS, DEVIATION_COLORS, UNSTAFFED_COLOR, deviationClass } from './planlayers';

const ROWS = 100;

type Column = 'code' | 'name' | 'households' | 'cases' | 'workers' | 'load' | 'deviation';
const COLUMNS: { key: Column; label: MessageKey; numeric: boolean }[] = [
  { key: 'code', label: 'plans.col.code', numeric: false },
  { key: 'name', label: 'plans.col.name', numeric: false },
  { key: 'households', label: 'plans.col.households', numeric: true },
  { key: 'cases', label: 'plans.col.cases', numeric: true },
  { key: 'workers', label: 'plans.col.workers', numeric: true },
  { key: 'load', label: 'plans.col.load', numeric: true },
  { key: 'deviation', label: 'plans.col.deviation', numeric: true },
];

export function formatDeviation(d: number | null): string {
  if (d === null) return t('plans.unstaffed');
  return `${d > 0 ? '+' : ''}${formatPercent(d)}`;
}

/** The figures of a workload summary, as [label, value] pairs (the diff view shows them before/after). */
export function summaryFigures(s: WorkloadSummary): [MessageKey, string][] {
  return [
    ['plans.sum.cells', formatNumber(s.cells)],
    ['plans.sum.households', formatNumber(s.households)],
    ['plans.sum.cases', formatNumber(s.cases)],
    ['plans.sum.workers', formatNumber(s.workers)],
    ['plans.sum.target', s.target_per_worker === null ? '—' : formatDecimal(s.target_per_worker)],
    ['plans.sum.maxdev', s.max_abs_deviation === null ? '—' : formatPercent(s.max_abs_deviation)],
    ['plans.sum.within5', formatNumber(s.within_5_percent)],
    ['plans.sum.within20', formatNumber(s.within_20_percent)],
    ['plans.sum.unstaffed', formatNumber(s.unstaffed)],
    ['plans.sum.pp', formatDecimal(s.mean_polsby_popper, 2)],
    ['plans.sum.noncontiguous', formatNumber(s.non_contiguous)],
    ['plans.sum.crossing', formatNumber(s.crossing_village)],
  ];
}

export interface WorkloadView {
  readonly root: HTMLElement;
  show(summary: WorkloadSummary | null, cells: CellLoad[]): void;
  relabel(): void;
}

export function createWorkloadView(onPick: (code: string) => void): WorkloadView {
  let cells: CellLoad[] = [];
  let summary: WorkloadSummary | null = null;
  let sortKey: Column = 'deviation';
  let descending = true;

  const figures = el('dl', { class: 'plan-figures', id: 'plan-summary' });
  const legend = el('div', { class: 'plan-legend', id: 'plan-legend' });
  const caption = el('caption', {});
  const body = el('tbody', {});
  const headRow = el('tr', {});
  const table = el('table', { class: 'report-table plan-table', id: 'plan-workload-table' }, caption, el('thead', {}, headRow), body);
  const root = el('div', { class: 'plan-workload' }, figures, legend, el('div', { class: 'plan-table-scroll' }, table));

  function sortValue(c: CellLoad, key: Column): number | string {
    // a cell without a worker is the worst off: it sorts above any deviation
    if (key === 'deviation') return c.deviation ?? Number.POSITIVE_INFINITY;
    return c[key];
  }

  function renderHead(): void {
    headRow.replaceChildren(
      ...COLUMNS.map(({ key, label, numeric }) => {
        const button = el('button', { type: 'button', class: 'plan-sort', 'data-sort': key });
        button.textContent = t(label) + (key === sortKey ? (descending ? ' ▼' : ' ▲') : '');
        button.addEventListener('click', () => {
          if (sortKey === key) descending = !descending;
          else {
            sortKey = key;
            descending = numeric;
          }
          render();
        });
        const th = el('th', { scope: 'col', 'aria-sort': key === sortKey ? (descending ? 'descending' : 'ascending') : 'none' }, button);
        if (numeric) th.classList.add('num');
        return th;
      }),
    );
  }

  function renderLegend(): void {
    const items = DEVIATION_COLORS.map((color, i) => {
      const lo = DEVIATION_BREAKS[i - 1];
      const hi = DEVIATION_BREAKS[i];
      const label = lo === undefined ? `< ${formatPercent(hi ?? 0)}` : hi === undefined ? `≥ ${formatPercent(lo)}` : `${formatPercent(lo)} – ${formatPercent(hi)}`;
      return el('span', { class: 'plan-legend-item' }, el('span', { class: 'swatch', style: `background:${color}` }), label);
    });
    items.push(el('span', { class: 'plan-legend-item' }, el('span', { class: 'swatch hatch', style: `background:${UNSTAFFED_COLOR}` }), t('plans.unstaffed')));
    legend.replaceChildren(text('span', 'plans.legend', { class: 'plan-legend-title' }), ...items);
  }

  function render(): void {
    renderHead();
    renderLegend();
    figures.replaceChildren(...(summary ? summaryFigures(summary).flatMap(([k, v]) => [text('dt', k), el('dd', { 'data-figure': k }, v)]) : []));
    const sorted = [...cells].sort((a, b) => {
      const x = sortValue(a, sortKey);
      const y = sortValue(b, sortKey);
      const cmp = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return (descending ? -cmp : cmp) || a.code.localeCompare(b.code);
    });
    caption.textContent = tf('plans.table.caption', { shown: Math.min(ROWS, sorted.length), total: sorted.length });
    body.replaceChildren(
      ...sorted.slice(0, ROWS).map((c) => {
        const cls = deviationClass(c.deviation);
        const swatch = el('span', { class: 'swatch', style: `background:${cls < 0 ? UNSTAFFED_COLOR : DEVIATION_COLORS[cls]}` });
        const row = el(
          'tr',
          { 'data-code': c.code, tabindex: '0', class: 'plan-row' },
          el('td', {}, c.code),
          el('td', { title: c.village_name }, c.name),
          el('td', { class: 'num' }, formatNumber(c.households)),
          el('td', { class: 'num' }, formatNumber(c.cases)),
          el('td', { class: 'num' }, formatNumber(c.workers)),
          el('td', { class: 'num' }, formatDecimal(c.load)),
          el('td', { class: 'num', 'data-deviation': c.deviation === null ? '' : String(c.deviation) }, swatch, formatDeviation(c.deviation)),
        );
        row.addEventListener('click', () => onPick(c.code));
        row.addEventListener('keydown', (e) => {
          if (e.key === 'Enter') onPick(c.code);
        });
        return row;
      }),
    );
  }

  return {
    root,
    show(s, c) {
      summary = s;
      cells = c;
      root.hidden = s === null;
      render();
    },
    relabel() {
      relabel(root);
      render();
    },
  };
}
