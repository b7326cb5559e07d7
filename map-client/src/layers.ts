// The map style: sources (filled from the API by main.ts) and layers.
//
// No external basemap, fonts, glyphs or sprites: the page works offline.
//
// Text: with no `glyphs` URL in the style, maplibre-gl 6 draws every glyph in
// the browser (TinySDF, reading `text-font` as CSS font families; see the
// `glyphs` doc in @maplibre/maplibre-gl-style-spec and
// GlyphManager._getAndCacheGlyphsPromise, `!this.url`). So no font files are
// needed, and digits and Latin letters in names come out in the same font as
// the Chinese around them.

import type {
  DataDrivenPropertyValueSpecification,
  ExpressionSpecification,
  LayerSpecification,
  SourceSpecification,
  StyleSpecification,
  SymbolLayerSpecification,
} from 'maplibre-gl';
import type { FeatureCollection } from 'geojson';
import { FACILITY_KINDS, type FacilityKind } from './api';

/** CSS font families for labels; "Bold" in the first name makes MapLibre draw at weight 700. */
const FONT_REGULAR = [
  'Noto Sans CJK SC',
  'Noto Sans SC',
  'Source Han Sans SC',
  'PingFang SC',
  'Microsoft YaHei',
  'sans-serif',
];
const FONT_BOLD = ['Noto Sans CJK SC Bold', ...FONT_REGULAR];

/** Layer groups the legend panel switches on and off. */
export type LayerGroup = 'county' | 'township' | 'village' | 'grid' | 'facility';

export const LAYER_GROUPS: readonly LayerGroup[] = ['county', 'township', 'village', 'grid', 'facility'];

/** Area sources (polygons from the API) and the point sources holding their label anchors. */
export const AREA_SOURCES = ['county', 'township', 'village', 'grid'] as const;
export type AreaSource = (typeof AREA_SOURCES)[number];
export const labelSourceId = (source: AreaSource): string => `${source}-label`;
export const FACILITY_SOURCE = 'facility';

/** Every source the API fills; `ready` waits for all of them. */
export const DATA_SOURCES: readonly string[] = [...AREA_SOURCES, ...AREA_SOURCES.map(labelSourceId), FACILITY_SOURCE];

export const COLORS = {
  background: '#d8dde2',
  land: '#fbfaf5',
  county: '#8c2d19',
  township: '#c0661c',
  village: '#4f7f36',
  grid: '#2f6fd0',
  selected: '#e0218a',
  halo: 'rgba(255,255,255,0.92)',
} as const;

export const FACILITY_COLORS: Record<FacilityKind, string> = {
  governance_centre: '#d62728',
  service_station: '#1f77b4',
  migrant_service_station: '#17becf',
  mediation_organisation: '#9467bd',
  police_station: '#1a237e',
  school: '#ff9f1c',
  hospital: '#2ca02c',
  resettlement_base: '#8c564b',
};

/** Zoom ranges (MapLibre zoom levels, 512 px tiles). */
export const ZOOM = {
  townshipLines: 8.5,
  townshipLabels: 9,
  villageLines: 10.5,
  villageLabels: 11,
  grid: 10,
  gridLabels: 13,
  facilities: 11,
  facilityLabels: 15,
} as const;

export const GROUP_LAYERS: Record<LayerGroup, string[]> = {
  county: ['county-fill', 'county-line', 'county-label'],
  township: ['township-fill', 'township-line', 'township-label'],
  village: ['village-fill', 'village-line', 'village-label'],
  grid: ['grid-fill', 'grid-line', 'grid-label'],
  facility: ['facility-circle', 'facility-label'],
};

/**
 * Layers a click can select, most specific first. The township and village
 * fills are invisible (opacity 0) except for the selected feature: they are
 * there so that a click anywhere inside an area finds it.
 */
export const CLICKABLE_LAYERS = ['facility-circle', 'grid-fill', 'village-fill', 'township-fill', 'county-fill'];

const EMPTY: FeatureCollection = { type: 'FeatureCollection', features: [] };

function geojsonSource(promoteId: string, maxzoom = 15): SourceSpecification {
  return { type: 'geojson', data: EMPTY, promoteId, maxzoom, tolerance: 0.45 };
}

const selected: ExpressionSpecification = ['boolean', ['feature-state', 'selected'], false];

/**
 * A zoom ramp whose values switch on the selected feature state (a zoom
 * expression must be the top-level one, so `case` goes inside each stop).
 */
function zoomRamp(stops: [number, number][], selectedValue: number): DataDrivenPropertyValueSpecification<number> {
  const flat = stops.flatMap(([z, v]) => [z, ['case', selected, selectedValue, v]]);
  return ['interpolate', ['linear'], ['zoom'], ...flat] as unknown as ExpressionSpecification;
}

function lineWidth(stops: [number, number][], selectedWidth: number): DataDrivenPropertyValueSpecification<number> {
  return zoomRamp(stops, selectedWidth);
}

function lineColor(color: string): DataDrivenPropertyValueSpecification<string> {
  return ['case', selected, COLORS.selected, color];
}

function label(
  id: string,
  source: string,
  opts: {
    minzoom?: number;
    maxzoom?: number;
    size: [number, number][];
    color: string;
    bold?: boolean;
    sortKey?: number;
    offset?: [number, number];
  },
): SymbolLayerSpecification {
  const layer: SymbolLayerSpecification = {
    id,
    type: 'symbol',
    source,
    layout: {
      'text-field': ['get', 'name'],
      'text-font': opts.bold ? FONT_BOLD : FONT_REGULAR,
      'text-size': ['interpolate', ['linear'], ['zoom'], ...opts.size.flat()],
      'text-max-width': 8,
      'text-padding': 4,
      'text-allow-overlap': false,
      ...(opts.offset ? { 'text-offset': opts.offset, 'text-anchor': 'top' as const } : {}),
    },
    paint: {
      'text-color': opts.color,
      'text-halo-color': COLORS.halo,
      'text-halo-width': 1.6,
      'text-halo-blur': 0.4,
    },
  };
  if (opts.minzoom !== undefined) layer.minzoom = opts.minzoom;
  if (opts.maxzoom !== undefined) layer.maxzoom = opts.maxzoom;
  return layer;
}

function facilityColor(): ExpressionSpecification {
  const pairs = FACILITY_KINDS.flatMap((kind) => [kind, FACILITY_COLORS[kind]]);
  // ['match', input, label1, colour1, label2, colour2, ..., fallback]
  return ['match', ['get', 'kind'], ...pairs, '#666666'] as unknown as ExpressionSpecification;
}

export function buildLayers(): LayerSpecification[] {
  return [
    { id: 'background', type: 'background', paint: { 'background-color': COLORS.background } },

    {
      id: 'county-fill',
      type: 'fill',
      source: 'county',
      paint: { 'fill-color': ['case', selected, '#fde3ef', COLORS.land], 'fill-opacity': 1 },
    },

    {
      id: 'township-fill',
      type: 'fill',
      source: 'township',
      minzoom: ZOOM.townshipLines,
      paint: { 'fill-color': COLORS.township, 'fill-opacity': ['case', selected, 0.14, 0] },
    },
    {
      id: 'village-fill',
      type: 'fill',
      source: 'village',
      minzoom: ZOOM.villageLines,
      paint: { 'fill-color': COLORS.village, 'fill-opacity': ['case', selected, 0.14, 0] },
    },

    {
      id: 'grid-fill',
      type: 'fill',
      source: 'grid',
      minzoom: ZOOM.grid,
      paint: {
        'fill-color': ['case', selected, COLORS.selected, COLORS.grid],
        'fill-opacity': zoomRamp([[ZOOM.grid, 0.025], [14, 0.06]], 0.18),
      },
    },
    {
      id: 'grid-line',
      type: 'line',
      source: 'grid',
      minzoom: ZOOM.grid,
      layout: { 'line-join': 'round' },
      paint: {
        'line-color': lineColor(COLORS.grid),
        'line-width': lineWidth([[ZOOM.grid, 0.3], [13, 0.8], [16, 1.5]], 2.5),
        'line-opacity': ['interpolate', ['linear'], ['zoom'], ZOOM.grid, 0.35, 12, 0.7],
      },
    },

    {
      id: 'village-line',
      type: 'line',
      source: 'village',
      minzoom: ZOOM.villageLines,
      layout: { 'line-join': 'round' },
      paint: {
        'line-color': lineColor(COLORS.village),
        'line-width': lineWidth([[ZOOM.villageLines, 0.6], [14, 1.4]], 3),
        'line-dasharray': [3, 2],
      },
    },
    {
      id: 'township-line',
      type: 'line',
      source: 'township',
      minzoom: ZOOM.townshipLines,
      layout: { 'line-join': 'round' },
      paint: {
        'line-color': lineColor(COLORS.township),
        'line-width': lineWidth([[ZOOM.townshipLines, 0.8], [12, 1.8], [15, 2.5]], 3.5),
        'line-dasharray': [4, 2],
      },
    },
    {
      id: 'county-line',
      type: 'line',
      source: 'county',
      layout: { 'line-join': 'round', 'line-cap': 'round' },
      paint: {
        'line-color': lineColor(COLORS.county),
        'line-width': lineWidth([[6, 1.5], [9, 2.8], [13, 4]], 5),
      },
    },

    {
      id: 'facility-circle',
      type: 'circle',
      source: FACILITY_SOURCE,
      minzoom: ZOOM.facilities,
      paint: {
        'circle-color': facilityColor(),
        'circle-radius': zoomRamp([[ZOOM.facilities, 3], [15, 6]], 8),
        'circle-stroke-color': '#ffffff',
        'circle-stroke-width': 1,
      },
    },

    label(
      'grid-label',
      labelSourceId('grid'),
      { minzoom: ZOOM.gridLabels, size: [[13, 10], [16, 13]], color: '#1d4f99' },
    ),
    label(
      'village-label',
      labelSourceId('village'),
      { minzoom: ZOOM.villageLabels, maxzoom: 16, size: [[11, 11], [14, 14]], color: '#2f5a1c' },
    ),
    label(
      'township-label',
      labelSourceId('township'),
      { minzoom: ZOOM.townshipLabels, maxzoom: 14, size: [[9, 12], [12, 15]], color: '#8a4510', bold: true },
    ),
    label(
      'county-label',
      labelSourceId('county'),
      { maxzoom: 12, size: [[7, 14], [10, 19]], color: COLORS.county, bold: true },
    ),
    label(
      'facility-label',
      FACILITY_SOURCE,
      { minzoom: ZOOM.facilityLabels, size: [[15, 11], [18, 13]], color: '#333333', offset: [0, 0.7] },
    ),
  ];
}

export function buildStyle(): StyleSpecification {
  const sources: Record<string, SourceSpecification> = {};
  for (const source of AREA_SOURCES) {
    sources[source] = geojsonSource('code');
    sources[labelSourceId(source)] = geojsonSource('code');
  }
  sources[FACILITY_SOURCE] = geojsonSource('id', 16);

  return { version: 8, name: 'wangge', sources, layers: buildLayers() };
}
