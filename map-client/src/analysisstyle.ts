// How the analysis layers look: their sources, MapLibre layers, colours and
// the classes their legends show. The panel (analysis.ts) adds and removes
// them as they are switched on and off.
//
// - 热力图 (heat map): a `heatmap` layer on the `incidents` tiles below zoom
//   13, where the server sends one point per H3 hexagon with its `count`;
//   its own source (`analysis-heat`), whose tile URLs carry the analysis
//   filter (the incident panel's filter stays on the `incidents` source).
// - 六边形计数 (hexagons): the `hexagons` tiles, filled by count.
// - the area analyses (choropleth, Gi* hot spots, local Moran's I clusters,
//   emerging hot spots): GeoJSON from the analysis endpoints, one source each.
// Colours: the hot spot bins are those of ArcGIS's Hot Spot Analysis; the
// emerging categories follow its Emerging Hot Spot Analysis (hot in reds and
// oranges, cold in blues, new and oscillating ones outlined with dashes).

import type { ExpressionSpecification, LayerSpecification, Map as MapLibreMap, VectorSourceSpecification } from 'maplibre-gl';

import { filterParams, type AnalysisFilter, type Analysis } from './analysisapi';
import { LAYER_ORDER, COLORS } from './layers';

export const HEAT_SOURCE = 'analysis-heat';
export const HEXAGONS_SOURCE = 'hexagons';
export const HIGHLIGHT_SOURCE = 'analysis-highlight';

/** The heat map is drawn below this zoom (the incidents tiles count per hexagon below 13). */
export const HEAT_MAX_ZOOM = 13;
/** The hexagon fill is drawn from this zoom. */
export const HEXAGONS_MIN_ZOOM = 11;

/** The analysis layers a user switches on and off. */
export const ANALYSIS_LAYERS = ['heat', 'hexagons', 'choropleth', 'hotspots', 'moran', 'emerging'] as const;
export type AnalysisLayer = (typeof ANALYSIS_LAYERS)[number];
/** The area analyses: one at a time (they colour the same areas). */
export const AREA_LAYERS = ['choropleth', 'hotspots', 'moran', 'emerging'] as const;
export type AreaLayer = (typeof AREA_LAYERS)[number];

export const ENDPOINT: Record<AreaLayer, Analysis> = {
  choropleth: 'aggregates',
  hotspots: 'hotspots',
  moran: 'local-moran',
  emerging: 'emerging',
};

export const areaSource = (layer: AreaLayer): string => `analysis-${layer}`;

/** Source ids of the analysis layers, by layer. */
export const SOURCE_OF: Record<AnalysisLayer, string> = {
  heat: HEAT_SOURCE,
  hexagons: HEXAGONS_SOURCE,
  choropleth: areaSource('choropleth'),
  hotspots: areaSource('hotspots'),
  moran: areaSource('moran'),
  emerging: areaSource('emerging'),
};

/** Every source the analysis may add (removed on sign-out). */
export const ANALYSIS_SOURCES: readonly string[] = [...Object.values(SOURCE_OF), HIGHLIGHT_SOURCE];

/** Tile layers the live feed names whose tiles an analysis source also draws. */
export const LIVE_TILE_SOURCES: Record<string, readonly string[]> = {
  incidents: [HEAT_SOURCE],
  hexagons: [HEXAGONS_SOURCE],
};

// ---------------------------------------------------------------- colours

/** Heat ramp, transparent to dark red (YlOrRd). */
export const HEAT_RAMP: readonly [number, string][] = [
  [0, 'rgba(255,255,178,0)'],
  [0.1, 'rgba(255,237,160,0.55)'],
  [0.3, '#fed976'],
  [0.5, '#feb24c'],
  [0.7, '#fd8d3c'],
  [0.85, '#f03b20'],
  [1, '#bd0026'],
];

/** Hexagon classes by count (a sequential palette): the colour of the highest `min` reached. */
export const HEXAGON_CLASSES: readonly { min: number; color: string }[] = [
  { min: 1, color: '#ffffcc' },
  { min: 2, color: '#ffeda0' },
  { min: 5, color: '#fed976' },
  { min: 10, color: '#feb24c' },
  { min: 20, color: '#fd8d3c' },
  { min: 50, color: '#f03b20' },
  { min: 100, color: '#bd0026' },
];

/** Choropleth classes (YlGnBu): five, at the quantiles of the values shown. */
export const CHOROPLETH_COLORS = ['#ffffcc', '#a1dab4', '#41b6c4', '#2c7fb8', '#253494'] as const;
export const NO_DATA_COLOR = '#d9d9d9';

/** Gi* bins, ArcGIS's Hot Spot Analysis colours. */
export const BIN_COLORS: Record<string, string> = {
  '3': '#d62f27',
  '2': '#ed7551',
  '1': '#fab984',
  '0': '#f7f7f2',
  '-1': '#c0ccbe',
  '-2': '#849eba',
  '-3': '#4575b5',
};
export const BINS = [3, 2, 1, 0, -1, -2, -3] as const;

/** Local Moran's I quadrants (significant only; the others are left clear). */
export const QUADRANT_COLORS: Record<string, string> = {
  HH: '#d7191c',
  HL: '#fdae61',
  LH: '#abd9e9',
  LL: '#2c7bb6',
};

/** Emerging hot spot categories: fill, outline, and whether the outline is dashed. */
export const EMERGING_STYLE: Record<string, { fill: string; line: string; dashed?: boolean }> = {
  'new-hot-spot': { fill: '#fdd0c0', line: '#b2182b', dashed: true },
  'consecutive-hot-spot': { fill: '#fc9272', line: '#b2182b' },
  'intensifying-hot-spot': { fill: '#de2d26', line: '#67000d' },
  'persistent-hot-spot': { fill: '#a50f15', line: '#67000d' },
  'diminishing-hot-spot': { fill: '#fcbba1', line: '#cb181d' },
  'sporadic-hot-spot': { fill: '#fdd49e', line: '#d94801' },
  'oscillating-hot-spot': { fill: '#fdae6b', line: '#d94801', dashed: true },
  'historical-hot-spot': { fill: '#e6550d', line: '#7f2704' },
  'new-cold-spot': { fill: '#d4e4f4', line: '#2166ac', dashed: true },
  'consecutive-cold-spot': { fill: '#9ecae1', line: '#2166ac' },
  'intensifying-cold-spot': { fill: '#3182bd', line: '#08306b' },
  'persistent-cold-spot': { fill: '#08519c', line: '#08306b' },
  'diminishing-cold-spot': { fill: '#c6dbef', line: '#2171b5' },
  'sporadic-cold-spot': { fill: '#deebf7', line: '#4292c6' },
  'oscillating-cold-spot': { fill: '#a6bddb', line: '#4292c6', dashed: true },
  'historical-cold-spot': { fill: '#6baed6', line: '#08519c' },
  'no-pattern': { fill: 'rgba(0,0,0,0)', line: '#9aa5ad' },
};

// ---------------------------------------------------------------- sources

/** Vector tiles of `layer` with the analysis filter in their URL (a new filter: new URLs). */
export function filteredTiles(layer: 'incidents' | 'hexagons', filter: AnalysisFilter, origin: string = window.location.origin): string {
  const query = filterParams(filter).toString();
  return `${origin}/tiles/${layer}/{z}/{x}/{y}${query ? `?${query}` : ''}`;
}

export function heatSource(filter: AnalysisFilter): VectorSourceSpecification {
  // Below zoom 13 only: from 13 the incidents tiles hold single cases.
  return { type: 'vector', tiles: [filteredTiles('incidents', filter)], minzoom: 0, maxzoom: HEAT_MAX_ZOOM - 1, promoteId: 'h3' };
}

export function hexagonsSource(filter: AnalysisFilter): VectorSourceSpecification {
  return { type: 'vector', tiles: [filteredTiles('hexagons', filter)], minzoom: 0, maxzoom: 18, promoteId: 'h3' };
}

// ---------------------------------------------------------------- layers

const FONT = ['Noto Sans CJK SC', 'Noto Sans SC', 'Source Han Sans SC', 'sans-serif'];

/** Average area of an H3 hexagon (km²) by resolution. */
const H3_AREA_KM2: Record<number, number> = { 3: 12393, 4: 1770, 5: 252.9, 6: 36.13, 7: 5.161, 8: 0.7373, 9: 0.1053, 10: 0.01504, 11: 0.00215, 12: 0.000307 };

/** A hexagon's cases per km². */
const casesPerKm2: ExpressionSpecification = [
  '/',
  ['coalesce', ['get', 'count'], 0],
  ['match', ['get', 'resolution'], ...Object.entries(H3_AREA_KM2).flatMap(([r, a]) => [Number(r), a]), 1],
] as unknown as ExpressionSpecification;

const highlighted: ExpressionSpecification = ['boolean', ['feature-state', 'highlight'], false];

function stepColor(value: ExpressionSpecification, classes: readonly { min: number; color: string }[], below: string): ExpressionSpecification {
  return ['step', value, below, ...classes.flatMap((c) => [c.min, c.color])] as unknown as ExpressionSpecification;
}

/** Layer ids per analysis layer, bottom to top. */
export const LAYER_IDS: Record<AnalysisLayer, string[]> = {
  heat: ['analysis-heat'],
  hexagons: ['analysis-hexagons-fill', 'analysis-hexagons-line', 'analysis-hexagons-count'],
  choropleth: ['analysis-choropleth-fill', 'analysis-choropleth-line'],
  hotspots: ['analysis-hotspots-fill', 'analysis-hotspots-line'],
  moran: ['analysis-moran-fill', 'analysis-moran-line'],
  emerging: ['analysis-emerging-fill', 'analysis-emerging-line', 'analysis-emerging-dashed'],
};

/** The layers of the heat map, hexagons or an area analysis. `choropleth` takes the classed expression. */
export function layersFor(layer: AnalysisLayer, choroplethColor?: ExpressionSpecification): LayerSpecification[] {
  const area = (id: AreaLayer, fill: ExpressionSpecification | string, opacity: number, line: ExpressionSpecification | string): LayerSpecification[] => [
    {
      id: `analysis-${id}-fill`,
      type: 'fill',
      source: areaSource(id),
      paint: { 'fill-color': fill, 'fill-opacity': opacity },
    },
    {
      id: `analysis-${id}-line`,
      type: 'line',
      source: areaSource(id),
      paint: { 'line-color': line, 'line-width': ['interpolate', ['linear'], ['zoom'], 8, 0.3, 13, 1] },
    },
  ];
  switch (layer) {
    case 'heat':
      return [
        {
          id: 'analysis-heat',
          type: 'heatmap',
          source: HEAT_SOURCE,
          'source-layer': 'incidents',
          maxzoom: HEAT_MAX_ZOOM,
          filter: ['has', 'count'],
          paint: {
            // By cases per km² (the hexagons shrink as the zoom grows), on a ramp that
            // still shows the sparse places next to the dense ones.
            'heatmap-weight': ['interpolate', ['linear'], casesPerKm2, 0, 0, 0.2, 0.08, 1, 0.25, 5, 0.5, 20, 0.75, 80, 1],
            'heatmap-intensity': ['interpolate', ['linear'], ['zoom'], 6, 2.2, 9, 2.6, 12, 3],
            'heatmap-radius': ['interpolate', ['linear'], ['zoom'], 6, 10, 9, 24, 12, 36],
            'heatmap-color': ['interpolate', ['linear'], ['heatmap-density'], ...HEAT_RAMP.flat()] as unknown as ExpressionSpecification,
            'heatmap-opacity': ['interpolate', ['linear'], ['zoom'], 11.5, 0.85, HEAT_MAX_ZOOM, 0.3],
          },
        },
      ];
    case 'hexagons':
      return [
        {
          id: 'analysis-hexagons-fill',
          type: 'fill',
          source: HEXAGONS_SOURCE,
          'source-layer': 'hexagons',
          minzoom: HEXAGONS_MIN_ZOOM,
          paint: {
            'fill-color': stepColor(['coalesce', ['get', 'count'], 0], HEXAGON_CLASSES, 'rgba(0,0,0,0)'),
            'fill-opacity': 0.72,
          },
        },
        {
          id: 'analysis-hexagons-line',
          type: 'line',
          source: HEXAGONS_SOURCE,
          'source-layer': 'hexagons',
          minzoom: HEXAGONS_MIN_ZOOM,
          paint: { 'line-color': 'rgba(120,60,20,0.35)', 'line-width': 0.6 },
        },
        {
          id: 'analysis-hexagons-count',
          type: 'symbol',
          source: HEXAGONS_SOURCE,
          'source-layer': 'hexagons',
          minzoom: 14,
          layout: { 'text-field': ['to-string', ['get', 'count']], 'text-font': FONT, 'text-size': 11, 'text-padding': 1 },
          paint: { 'text-color': '#3b1d06', 'text-halo-color': 'rgba(255,255,255,0.85)', 'text-halo-width': 1.2 },
        },
      ];
    case 'choropleth':
      return area('choropleth', choroplethColor ?? CHOROPLETH_COLORS[0], 0.75, ['case', highlighted, COLORS.selected, 'rgba(40,60,90,0.45)']);
    case 'hotspots':
      return area(
        'hotspots',
        ['match', ['to-string', ['get', 'bin']], ...Object.entries(BIN_COLORS).flat(), BIN_COLORS['0'] ?? '#f7f7f2'] as unknown as ExpressionSpecification,
        0.78,
        'rgba(60,60,60,0.4)',
      );
    case 'moran':
      return area(
        'moran',
        [
          'case',
          ['==', ['get', 'significant'], true],
          ['match', ['get', 'quadrant'], ...Object.entries(QUADRANT_COLORS).flat(), 'rgba(0,0,0,0)'],
          'rgba(0,0,0,0)',
        ] as unknown as ExpressionSpecification,
        0.75,
        'rgba(60,60,60,0.35)',
      );
    case 'emerging': {
      const match = (pick: 'fill' | 'line'): ExpressionSpecification =>
        ['match', ['get', 'category'], ...Object.entries(EMERGING_STYLE).flatMap(([k, s]) => [k, s[pick]]), pick === 'fill' ? 'rgba(0,0,0,0)' : '#9aa5ad'] as unknown as ExpressionSpecification;
      const dashed = Object.entries(EMERGING_STYLE)
        .filter(([, s]) => s.dashed)
        .map(([k]) => k);
      const [fill, line] = area('emerging', match('fill'), 0.8, match('line'));
      return [
        fill as LayerSpecification,
        {
          ...(line as LayerSpecification & { type: 'line' }),
          filter: ['!', ['in', ['get', 'category'], ['literal', dashed]]],
          paint: {
            'line-color': match('line'),
            'line-width': ['case', ['==', ['get', 'category'], 'no-pattern'], 0.3, 1.4],
          },
        },
        {
          id: 'analysis-emerging-dashed',
          type: 'line',
          source: areaSource('emerging'),
          filter: ['in', ['get', 'category'], ['literal', dashed]],
          paint: { 'line-color': match('line'), 'line-width': 2, 'line-dasharray': [2, 1.5] },
        },
      ];
    }
  }
}

/** The selected place of the table: a thick outline over every analysis layer. */
export function highlightLayers(): LayerSpecification[] {
  return [
    {
      id: 'analysis-highlight-halo',
      type: 'line',
      source: HIGHLIGHT_SOURCE,
      paint: { 'line-color': '#ffffff', 'line-width': 6, 'line-opacity': 0.9 },
    },
    {
      id: 'analysis-highlight',
      type: 'line',
      source: HIGHLIGHT_SOURCE,
      paint: { 'line-color': COLORS.selected, 'line-width': 3 },
    },
  ];
}

/**
 * Where an analysis layer goes: area fills and hexagons above the grid load
 * fill and below the boundary lines, the heat map above the areas and below
 * the points, the highlight above everything but the labels.
 */
export function beforeId(map: MapLibreMap, layer: AnalysisLayer | 'highlight'): string | undefined {
  const anchor = layer === 'heat' ? 'households-circle' : layer === 'highlight' ? 'incidents-overdue' : 'grid-cells-line';
  const index = LAYER_ORDER.indexOf(anchor);
  return LAYER_ORDER.slice(Math.max(0, index)).find((id) => map.getLayer(id));
}

/** Quantile class breaks (up to five classes) of `values`, ascending, without repeats. */
export function quantileBreaks(values: readonly number[], classes = CHOROPLETH_COLORS.length): number[] {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return [];
  const breaks: number[] = [];
  for (let k = 1; k < classes; k++) {
    const v = sorted[Math.min(sorted.length - 1, Math.floor((k * sorted.length) / classes))] ?? 0;
    if (v > (breaks[breaks.length - 1] ?? sorted[0] ?? 0)) breaks.push(v);
  }
  return breaks;
}

/** The choropleth's fill: no data grey, then a colour per class (a value ≥ break k is in class k+1). */
export function choroplethColor(property: 'count' | 'per_1000_households', breaks: readonly number[]): ExpressionSpecification {
  const value: ExpressionSpecification = ['get', property];
  const steps = breaks.flatMap((b, i) => [b, CHOROPLETH_COLORS[i + 1] ?? CHOROPLETH_COLORS[CHOROPLETH_COLORS.length - 1] ?? '#253494']);
  return ['case', ['==', value, null], NO_DATA_COLOR, ['step', ['to-number', value], CHOROPLETH_COLORS[0], ...steps]] as unknown as ExpressionSpecification;
}
