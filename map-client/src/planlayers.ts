// The grid plan screen's map layers: the open plan's cells (the grid-cells
// tiles with `plan=`), shaded by workload deviation through feature state (the
// workload comes from its own endpoint, not the tiles), the published plan
// faintly beneath a draft, the selection, a diff's outlines, the selected
// cell's vertices, and the issues of a refused edit or a check (outlines here,
// messages as DOM markers: the map has no glyphs to draw text with).

import type { FeatureCollection, Geometry } from 'geojson';
import { Marker, type ExpressionSpecification, type GeoJSONSource, type Map as MapLibreMap } from 'maplibre-gl';

import { el } from './dom';
import { getLang } from './i18n';
import { planTiles, type CellLoad, type PlanCellCollection, type PlanIssue } from './planapi';
import { EMPTY } from './sources';

export const PLAN_SOURCE = 'plan-cells';
export const BASE_SOURCE = 'plan-base';
const ISSUES_SOURCE = 'plan-issues';
const CURRENT_SOURCE = 'plan-current';
export const VERTICES_SOURCE = 'plan-vertices';
const SOURCE_LAYER = 'grid-cells';

/** The standard grid layers, hidden while a plan is shown (the plan's own layers replace them). */
const GRID_LAYERS = ['grid-cells-fill', 'grid-cells-line', 'grid-cells-label'];

/** Deviation classes (load per worker over the target, minus 1): under-loaded blue, over-loaded red, ±5 % neutral. */
export const DEVIATION_BREAKS = [-0.5, -0.2, -0.05, 0.05, 0.2, 0.5] as const;
export const DEVIATION_COLORS = ['#2166ac', '#67a9cf', '#d1e5f0', '#f7f7f7', '#fddbc7', '#ef8a62', '#b2182b'] as const;
export const UNSTAFFED_COLOR = '#9e9e9e';
export const CHANGE_COLORS: Record<string, string> = {
  added: '#1a9850',
  removed: '#d73027',
  reshaped: '#7b3294',
  renamed: '#f4a300',
};

export function deviationClass(deviation: number | null): number {
  if (deviation === null) return -1;
  let i = 0;
  while (i < DEVIATION_BREAKS.length && deviation >= (DEVIATION_BREAKS[i] ?? Infinity)) i++;
  return i;
}

const deviationColor: ExpressionSpecification = [
  'case',
  ['==', ['feature-state', 'staffed'], true],
  ['step', ['to-number', ['feature-state', 'deviation'], 0], DEVIATION_COLORS[0], ...DEVIATION_BREAKS.flatMap((b, i) => [b, DEVIATION_COLORS[i + 1] ?? '#000'])],
  UNSTAFFED_COLOR,
] as unknown as ExpressionSpecification;

const changeColor: ExpressionSpecification = [
  'match',
  ['to-string', ['feature-state', 'change']],
  ...Object.entries(CHANGE_COLORS).flat(),
  'rgba(0,0,0,0)',
] as unknown as ExpressionSpecification;

/** An 8×8 diagonal hatch for cells without a worker. */
function hatchImage(): { width: number; height: number; data: Uint8Array } {
  const size = 8;
  const data = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const on = (x + y) % size < 2;
      const i = (y * size + x) * 4;
      data.set(on ? [80, 80, 80, 200] : [0, 0, 0, 0], i);
    }
  }
  return { width: size, height: size, data };
}

export interface PlanLayers {
  /** Shows plan `version` (and `base`, the published one, faintly beneath when it differs); null hides all. */
  show(version: number | null, base: number | null): void;
  /** Reloads the plan's tiles (after an edit) and, with `base`, the published plan's. */
  refresh(base?: boolean): void;
  /** Shades the cells by their workload (replaces the previous shading). */
  setWorkload(cells: CellLoad[]): void;
  setSelected(codes: string[]): void;
  /** Outlines a diff's cells by kind of change (empty: none). */
  setChanges(changes: { code: string; change: string }[]): void;
  setVertices(points: [number, number][], dragged?: { index: number; at: [number, number] } | null): void;
  /** Issues as outlines and markers with their message; null clears. */
  setIssues(issues: PlanIssue[] | null): void;
  /** Cells as they are now after a conflict (dashed outlines); null clears. */
  setCurrent(cells: PlanCellCollection | null): void;
  /** Re-words the issue markers after a language switch. */
  relabel(): void;
  readonly fillLayer: string;
  readonly verticesLayer: string;
  /** The issue markers shown (for the tests). */
  issuesShown(): PlanIssue[];
}

export function createPlanLayers(map: MapLibreMap, styleLoaded: () => Promise<void>): PlanLayers {
  let version: number | null = null;
  let base: number | null = null;
  let hiddenGrid: Map<string, string> | null = null;
  let stateCodes: string[] = [];
  let changeCodes: { code: string; source: string }[] = [];
  let markers: Marker[] = [];
  let issues: PlanIssue[] = [];

  function ensureStatic(): void {
    if (!map.hasImage('plan-hatch')) map.addImage('plan-hatch', hatchImage());
    for (const id of [ISSUES_SOURCE, CURRENT_SOURCE, VERTICES_SOURCE]) {
      if (!map.getSource(id)) map.addSource(id, { type: 'geojson', data: EMPTY });
    }
  }

  function removeLayers(): void {
    for (const id of ['plan-base-line', 'plan-base-diff', 'plan-cells-fill', 'plan-cells-hatch', 'plan-cells-line', 'plan-cells-diff', 'plan-cells-selected', 'plan-issues-fill', 'plan-issues-line', 'plan-issues-point', 'plan-current-line', 'plan-vertices-circle']) {
      if (map.getLayer(id)) map.removeLayer(id);
    }
    for (const id of [PLAN_SOURCE, BASE_SOURCE]) if (map.getSource(id)) map.removeSource(id);
  }

  function hideGrid(hide: boolean): void {
    if (hide && !hiddenGrid) {
      hiddenGrid = new Map();
      for (const id of GRID_LAYERS) {
        if (!map.getLayer(id)) continue;
        hiddenGrid.set(id, String(map.getLayoutProperty(id, 'visibility') ?? 'visible'));
        map.setLayoutProperty(id, 'visibility', 'none');
      }
    } else if (!hide && hiddenGrid) {
      for (const [id, visibility] of hiddenGrid) if (map.getLayer(id)) map.setLayoutProperty(id, 'visibility', visibility === 'none' ? 'none' : 'visible');
      hiddenGrid = null;
    }
  }

  function addLayers(): void {
    if (version === null) return;
    ensureStatic();
    const tileSource = (v: number) => ({ type: 'vector' as const, tiles: [planTiles(v)], minzoom: 8, maxzoom: 15, promoteId: 'code' });
    if (base !== null) {
      map.addSource(BASE_SOURCE, tileSource(base));
      map.addLayer({ id: 'plan-base-line', type: 'line', source: BASE_SOURCE, 'source-layer': SOURCE_LAYER, paint: { 'line-color': '#37474f', 'line-width': 1, 'line-opacity': 0.35, 'line-dasharray': [2, 2] } });
      map.addLayer({ id: 'plan-base-diff', type: 'line', source: BASE_SOURCE, 'source-layer': SOURCE_LAYER, paint: { 'line-color': changeColor, 'line-width': 3, 'line-dasharray': [1, 1] } });
    }
    map.addSource(PLAN_SOURCE, tileSource(version));
    const v = { source: PLAN_SOURCE, 'source-layer': SOURCE_LAYER };
    map.addLayer({ id: 'plan-cells-fill', type: 'fill', ...v, paint: { 'fill-color': deviationColor, 'fill-opacity': 0.55 } });
    map.addLayer({ id: 'plan-cells-hatch', type: 'fill', ...v, paint: { 'fill-pattern': 'plan-hatch', 'fill-opacity': ['case', ['==', ['feature-state', 'staffed'], false], 1, 0] } });
    map.addLayer({ id: 'plan-cells-line', type: 'line', ...v, paint: { 'line-color': '#263238', 'line-width': ['interpolate', ['linear'], ['zoom'], 10, 0.4, 14, 1.2] } });
    map.addLayer({ id: 'plan-cells-diff', type: 'line', ...v, paint: { 'line-color': changeColor, 'line-width': 3 } });
    map.addLayer({ id: 'plan-cells-selected', type: 'line', ...v, filter: ['in', ['get', 'code'], ['literal', []]], paint: { 'line-color': '#00bcd4', 'line-width': 4 } });
    map.addLayer({ id: 'plan-current-line', type: 'line', source: CURRENT_SOURCE, paint: { 'line-color': '#ff6f00', 'line-width': 3, 'line-dasharray': [2, 1] } });
    map.addLayer({ id: 'plan-issues-fill', type: 'fill', source: ISSUES_SOURCE, filter: ['in', ['geometry-type'], ['literal', ['Polygon', 'MultiPolygon']]], paint: { 'fill-color': ['match', ['get', 'severity'], 'error', '#d50000', '#ffab00'], 'fill-opacity': 0.35 } });
    map.addLayer({ id: 'plan-issues-line', type: 'line', source: ISSUES_SOURCE, paint: { 'line-color': ['match', ['get', 'severity'], 'error', '#d50000', '#ff8f00'], 'line-width': 3 } });
    map.addLayer({ id: 'plan-issues-point', type: 'circle', source: ISSUES_SOURCE, filter: ['in', ['geometry-type'], ['literal', ['Point', 'MultiPoint']]], paint: { 'circle-radius': 6, 'circle-color': ['match', ['get', 'severity'], 'error', '#d50000', '#ff8f00'], 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 } });
    map.addLayer({ id: 'plan-vertices-circle', type: 'circle', source: VERTICES_SOURCE, paint: { 'circle-radius': ['case', ['get', 'dragged'], 7, 5], 'circle-color': ['case', ['get', 'dragged'], '#ff6f00', '#fff'], 'circle-stroke-color': '#00838f', 'circle-stroke-width': 2 } });
  }

  function setGeojson(id: string, data: FeatureCollection): void {
    void styleLoaded().then(() => {
      ensureStatic();
      void map.getSource<GeoJSONSource>(id)?.setData(data);
    });
  }

  function drawMarkers(): void {
    for (const m of markers) m.remove();
    markers = issues.map((issue) => {
      const node = el('div', { class: `plan-issue-marker ${issue.severity}`, 'data-kind': issue.kind, 'data-cells': issue.cells.join(',') });
      node.textContent = getLang() === 'en' ? issue.message_en : issue.message;
      return new Marker({ element: node, anchor: 'bottom', offset: [0, -8] }).setLngLat(issue.location).addTo(map);
    });
  }

  return {
    fillLayer: 'plan-cells-fill',
    verticesLayer: 'plan-vertices-circle',
    // (called once the style has loaded: plans are opened signed in)
    show(next, nextBase) {
      removeLayers();
      stateCodes = [];
      changeCodes = [];
      version = next;
      base = next !== null && nextBase !== null && nextBase !== next ? nextBase : null;
      hideGrid(next !== null);
      addLayers();
    },
    refresh(withBase = false) {
      if (map.getSource(PLAN_SOURCE)) map.refreshTiles(PLAN_SOURCE);
      if (withBase && map.getSource(BASE_SOURCE)) map.refreshTiles(BASE_SOURCE);
    },
    setWorkload(cells) {
      if (!map.getSource(PLAN_SOURCE)) return;
      const current = new Set(cells.map((c) => c.code));
      for (const code of stateCodes) {
        if (!current.has(code)) map.removeFeatureState({ source: PLAN_SOURCE, sourceLayer: SOURCE_LAYER, id: code });
      }
      for (const c of cells) {
        map.setFeatureState({ source: PLAN_SOURCE, sourceLayer: SOURCE_LAYER, id: c.code }, { staffed: c.deviation !== null, deviation: c.deviation ?? 0 });
      }
      stateCodes = [...current];
    },
    setSelected(codes) {
      if (map.getLayer('plan-cells-selected')) map.setFilter('plan-cells-selected', ['in', ['get', 'code'], ['literal', codes]]);
    },
    setChanges(changes) {
      for (const { code, source } of changeCodes) {
        if (map.getSource(source)) map.setFeatureState({ source, sourceLayer: SOURCE_LAYER, id: code }, { change: null });
      }
      changeCodes = [];
      for (const { code, change } of changes) {
        const source = change === 'removed' ? BASE_SOURCE : PLAN_SOURCE;
        if (!map.getSource(source)) continue;
        map.setFeatureState({ source, sourceLayer: SOURCE_LAYER, id: code }, { change });
        changeCodes.push({ code, source });
      }
    },
    setVertices(points, dragged = null) {
      const features = points.map((p, i) => ({
        type: 'Feature' as const,
        properties: { index: i, dragged: dragged?.index === i },
        geometry: { type: 'Point' as const, coordinates: dragged?.index === i ? dragged.at : p },
      }));
      setGeojson(VERTICES_SOURCE, { type: 'FeatureCollection', features });
    },
    setIssues(next) {
      issues = next ?? [];
      const features = issues.flatMap((issue) => {
        const props = { severity: issue.severity, kind: issue.kind };
        const point = { type: 'Feature' as const, properties: props, geometry: { type: 'Point' as const, coordinates: issue.location } };
        const shape = issue.geometry ? [{ type: 'Feature' as const, properties: props, geometry: issue.geometry as Geometry }] : [];
        return [...shape, point];
      });
      setGeojson(ISSUES_SOURCE, { type: 'FeatureCollection', features });
      void styleLoaded().then(drawMarkers);
    },
    setCurrent(cells) {
      setGeojson(CURRENT_SOURCE, cells ?? EMPTY);
    },
    relabel() {
      if (issues.length) drawMarkers();
    },
    issuesShown: () => issues,
  };
}
