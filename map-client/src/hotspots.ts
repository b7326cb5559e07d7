// The table of the most significant places of a Gi* hot spot analysis: the
// top 20 by |z| (name, where it is, cases, z, confidence), most significant
// first. A click on a row flies the map to the place and outlines it
// (`onPick`; the panel does both).

import type { Feature } from 'geojson';

import type { AnalysisCollection, HotspotProperties } from './analysisapi';
import { BIN_COLORS } from './analysisstyle';
import { el, relabel, text } from './dom';
import { formatDecimal, formatNumber, t, tDynamic } from './i18n';

export const TOP_PLACES = 20;

export interface HotspotTableOptions {
  onPick(feature: Feature): void;
}

export interface HotspotTable {
  readonly root: HTMLElement;
  /** The places of an answer (null: none, the table hidden). */
  show(collection: AnalysisCollection | null, unit: string): void;
  /** Marks the row of `code` as the one outlined on the map. */
  setCurrent(code: string | null): void;
  relabel(): void;
}

/** The places of an answer, most significant first: by |z|, then by count, then by code. */
export function topPlaces(collection: AnalysisCollection, n: number = TOP_PLACES): Feature[] {
  return [...collection.features]
    .filter((f) => typeof (f.properties as Partial<HotspotProperties> | null)?.z === 'number')
    .sort((a, b) => {
      const pa = a.properties as unknown as HotspotProperties;
      const pb = b.properties as unknown as HotspotProperties;
      return Math.abs(pb.z) - Math.abs(pa.z) || pb.count - pa.count || String(pa.code).localeCompare(String(pb.code));
    })
    .slice(0, n);
}

/** Where a place lies: its village for a grid cell or hexagon, its township for a village. */
function placeOf(p: HotspotProperties): string {
  if (p.unit === 'village' || p.unit === 'township') return p.township_name ?? '';
  return [p.village_name, p.township_name].filter((x): x is string => !!x).join(' · ');
}

export function createHotspotTable(options: HotspotTableOptions): HotspotTable {
  const body = el('tbody', {});
  const caption = el('caption', {});
  const table = el(
    'table',
    { class: 'hotspot-table', id: 'hotspot-table' },
    caption,
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        text('th', 'hotspots.col.rank', { scope: 'col' }),
        text('th', 'hotspots.col.name', { scope: 'col' }),
        text('th', 'hotspots.col.place', { scope: 'col' }),
        text('th', 'hotspots.col.count', { scope: 'col', class: 'num' }),
        text('th', 'hotspots.col.z', { scope: 'col', class: 'num' }),
        text('th', 'hotspots.col.confidence', { scope: 'col' }),
      ),
    ),
    body,
  );
  const root = el('section', { class: 'hotspot-places', id: 'hotspot-places', 'aria-labelledby': 'hotspot-heading' }, text('h3', 'hotspots.title', { id: 'hotspot-heading' }), text('p', 'hotspots.hint', { class: 'hint' }), table);
  root.hidden = true;
  let shown: { features: Feature[]; unit: string } | null = null;
  let current: string | null = null;

  const render = (): void => {
    caption.textContent = t('hotspots.caption');
    if (!shown) {
      body.replaceChildren();
      root.hidden = true;
      return;
    }
    root.hidden = false;
    body.replaceChildren(
      ...shown.features.map((feature, i) => {
        const p = feature.properties as unknown as HotspotProperties;
        const code = String(p.code);
        const bin = String(p.bin);
        const dot = el('span', { class: 'bin-dot', 'aria-hidden': 'true' });
        dot.style.background = BIN_COLORS[bin] ?? '#fff';
        const name = el('button', { type: 'button', class: 'place-link', 'data-code': code }, p.name || code);
        const row = el(
          'tr',
          { 'data-code': code, 'data-z': String(p.z), 'data-bin': bin, 'data-count': String(p.count), ...(current === code ? { 'aria-current': 'true' } : {}) },
          el('td', { class: 'num' }, String(i + 1)),
          el('td', {}, name),
          el('td', { class: 'place' }, placeOf(p)),
          el('td', { class: 'num' }, formatNumber(p.count)),
          el('td', { class: 'num' }, formatDecimal(p.z, 2)),
          el('td', { class: 'confidence', title: tDynamic(`bin.${bin}`, bin) }, dot, tDynamic(`bin.short.${bin}`, bin)),
        );
        const pick = (): void => options.onPick(feature);
        row.addEventListener('click', pick);
        return row;
      }),
    );
  };

  return {
    root,
    show(collection, unit) {
      shown = collection ? { features: topPlaces(collection), unit } : null;
      render();
    },
    setCurrent(code) {
      current = code;
      for (const row of body.querySelectorAll<HTMLElement>('tr')) {
        if (row.dataset['code'] === code) row.setAttribute('aria-current', 'true');
        else row.removeAttribute('aria-current');
      }
    },
    relabel() {
      relabel(root);
      render();
    },
  };
}
