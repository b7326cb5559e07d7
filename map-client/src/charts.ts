// Small SVG charts for the statistics view, drawn by hand (no chart library):
// stacked bars (one row per unit, or one column per period) and lines over
// periods. Each chart is an <svg role="img"> named by its <title> and
// described by its <desc>; every bar group and period carries a <title> with
// its figures (a tooltip). The tables beside the charts hold the same figures
// for screen readers.

import { el } from './dom';
import { formatNumber } from './i18n';

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  ...children: (Node | string)[]
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  node.append(...children);
  return node;
}

/** One series: a tier of the stacked bars, or a line. */
export interface Series {
  key: string;
  label: string;
  color: string;
}

/** One group (bar, column or period): a value per series, in the series' order. */
export interface Datum {
  key: string;
  label: string;
  values: number[];
  /** Tooltip: the group's figures in words. */
  title: string;
  /** Text after a horizontal bar (e.g. a share). */
  note?: string;
}

interface ChartText {
  title: string;
  description: string;
}

/** Drawing width (viewBox units); the chart scales to its box. */
const WIDTH = 960;

let chartCount = 0;

function frame(className: string, text: ChartText, height: number): SVGSVGElement {
  const id = `chart-${++chartCount}`;
  return svg(
    'svg',
    {
      class: `chart ${className}`,
      viewBox: `0 0 ${WIDTH} ${height}`,
      width: WIDTH,
      height,
      role: 'img',
      'aria-labelledby': `${id}-title ${id}-desc`,
    },
    svg('title', { id: `${id}-title` }, text.title),
    svg('desc', { id: `${id}-desc` }, text.description),
  );
}

/** A round top for the value axis and its step (1, 2 or 5 × 10^n; whole numbers: these are counts). */
export function niceScale(max: number, ticks = 4): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 1 };
  const rough = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? 10 * magnitude);
  return { top: Math.ceil(max / step) * step, step };
}

/** `text` cut to about `room` half-width characters (a CJK character counts two), with an ellipsis. */
function fit(text: string, room: number): string {
  let used = 0;
  const chars = Array.from(text);
  for (let i = 0; i < chars.length; i++) {
    used += /[\u2E80-\uFFEF]/.test(chars[i] ?? '') ? 2 : 1;
    if (used > room) return `${chars.slice(0, Math.max(1, i - 1)).join('')}…`;
  }
  return text;
}

function groupTitle(d: Datum): SVGTitleElement {
  return svg('title', {}, d.title);
}

/** Stacked bars, one row per group (names on the left, `note` after each bar). */
function horizontalBars(series: Series[], data: Datum[], text: ChartText): SVGSVGElement {
  const label = 176;
  const note = 64;
  const top = 22;
  const row = 20;
  const bar = 14;
  const plot = WIDTH - label - note;
  const height = top + data.length * row + 6;
  const root = frame('chart-bars chart-horizontal', text, height);
  const { top: max, step } = niceScale(Math.max(0, ...data.map((d) => d.values.reduce((a, b) => a + b, 0))));
  const x = (v: number): number => label + (v / max) * plot;
  const axis = svg('g', { class: 'axis', 'aria-hidden': 'true' });
  for (let v = 0; v <= max; v += step) {
    axis.append(
      svg('line', { x1: x(v), x2: x(v), y1: top - 4, y2: height - 6, class: 'grid-line' }),
      svg('text', { x: x(v), y: top - 8, 'text-anchor': 'middle', class: 'tick' }, formatNumber(v)),
    );
  }
  root.append(axis);
  data.forEach((d, i) => {
    const y = top + i * row + (row - bar) / 2;
    const g = svg('g', { class: 'bar-group', 'data-key': d.key }, groupTitle(d));
    g.append(svg('text', { x: label - 6, y: y + bar / 2, 'text-anchor': 'end', 'dominant-baseline': 'central', class: 'bar-label' }, fit(d.label, 26)));
    let at = 0;
    d.values.forEach((v, s) => {
      const one = series[s];
      if (!one || v <= 0) return;
      g.append(svg('rect', { x: x(at), y, width: x(at + v) - x(at), height: bar, fill: one.color, class: `bar bar-${one.key}`, 'data-series': one.key, 'data-value': v }));
      at += v;
    });
    if (d.note) g.append(svg('text', { x: x(at) + 4, y: y + bar / 2, 'dominant-baseline': 'central', class: 'bar-note' }, d.note));
    root.append(g);
  });
  return root;
}

/** Geometry shared by the charts over periods: columns left to right, values up. */
function periodAxes(data: Datum[], maxValue: number, root: SVGSVGElement, height: number) {
  const left = 52;
  const right = 10;
  const top = 12;
  const bottom = 34;
  const plotW = WIDTH - left - right;
  const plotH = height - top - bottom;
  const band = plotW / Math.max(1, data.length);
  const { top: max, step } = niceScale(maxValue);
  const y = (v: number): number => top + plotH - (v / max) * plotH;
  const center = (i: number): number => left + band * (i + 0.5);
  const axis = svg('g', { class: 'axis', 'aria-hidden': 'true' });
  for (let v = 0; v <= max; v += step) {
    axis.append(
      svg('line', { x1: left, x2: WIDTH - right, y1: y(v), y2: y(v), class: 'grid-line' }),
      svg('text', { x: left - 6, y: y(v), 'text-anchor': 'end', 'dominant-baseline': 'central', class: 'tick' }, formatNumber(v)),
    );
  }
  // a label every `every` periods, so that they do not overlap
  const every = Math.max(1, Math.ceil(72 / band));
  data.forEach((d, i) => {
    if (i % every === 0) {
      axis.append(svg('text', { x: center(i), y: top + plotH + 18, 'text-anchor': 'middle', class: 'tick' }, d.label));
    }
  });
  root.append(axis);
  return { y, center, band, top, plotH };
}

/** Stacked columns, one per period, in the order given. */
function verticalBars(series: Series[], data: Datum[], text: ChartText): SVGSVGElement {
  const height = 260;
  const root = frame('chart-bars chart-vertical', text, height);
  const { y, center, band } = periodAxes(data, Math.max(0, ...data.map((d) => d.values.reduce((a, b) => a + b, 0))), root, height);
  const width = band >= 4 ? band * 0.75 : band;
  data.forEach((d, i) => {
    const g = svg('g', { class: 'bar-group', 'data-key': d.key }, groupTitle(d));
    let at = 0;
    d.values.forEach((v, s) => {
      const one = series[s];
      if (!one || v <= 0) return;
      g.append(
        svg('rect', { x: center(i) - width / 2, y: y(at + v), width, height: y(at) - y(at + v), fill: one.color, class: `bar bar-${one.key}`, 'data-series': one.key, 'data-value': v }),
      );
      at += v;
    });
    root.append(g);
  });
  return root;
}

/** Stacked bars: rows for units (`horizontal`), columns for periods (`vertical`). */
export function stackedBars(orientation: 'horizontal' | 'vertical', series: Series[], data: Datum[], text: ChartText): SVGSVGElement {
  return orientation === 'horizontal' ? horizontalBars(series, data, text) : verticalBars(series, data, text);
}

/** One line per series over the periods, with a tooltip per period. */
export function lineChart(series: Series[], data: Datum[], text: ChartText): SVGSVGElement {
  const height = 220;
  const root = frame('chart-lines', text, height);
  const { y, center, band, top, plotH } = periodAxes(data, Math.max(0, ...data.flatMap((d) => d.values)), root, height);
  series.forEach((one, s) => {
    const points = data.map((d, i) => `${center(i).toFixed(1)},${y(d.values[s] ?? 0).toFixed(1)}`).join(' ');
    root.append(svg('polyline', { points, fill: 'none', stroke: one.color, 'stroke-width': 2, class: `line line-${one.key}`, 'data-series': one.key }));
    if (data.length <= 62) {
      data.forEach((d, i) => root.append(svg('circle', { cx: center(i), cy: y(d.values[s] ?? 0), r: 2.5, fill: one.color, class: `point point-${one.key}` })));
    }
  });
  // a transparent column per period carries its tooltip
  data.forEach((d, i) => {
    root.append(
      svg('rect', { x: center(i) - band / 2, y: top, width: band, height: plotH, class: 'period-hit', 'data-key': d.key, fill: 'transparent' }, groupTitle(d)),
    );
  });
  return root;
}

/** The colour key of a chart. */
export function legend(series: Series[], label: string): HTMLElement {
  const list = el('ul', { class: 'chart-legend', 'aria-label': label });
  for (const one of series) {
    const swatch = el('span', { class: 'legend-swatch', 'aria-hidden': 'true' });
    swatch.style.background = one.color;
    list.append(el('li', { 'data-series': one.key }, swatch, el('span', {}, one.label)));
  }
  return list;
}
